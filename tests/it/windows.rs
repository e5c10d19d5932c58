//! The Windows agent in a mixed office: a Linux `serve`, two Linux agents
//! and one `p2pd.exe` agent (cross-built for x86_64-pc-windows-gnu, run
//! under Wine) on the same loopback office, 127.1.1.0/24. Also the
//! `p2pd-agent` Windows service under Wine's service control manager.
//!
//! The Wine tests need the cross-built exe: `.ci/windows` builds it, builds
//! the Wine-only ProcessPrng shim next to it (tests/wine/), and sets
//! `P2PD_WINE_EXE`, and runs them with `--include-ignored`: a plain
//! `cargo test` lists them as ignored. When run, anything wrong (variable
//! unset, exe missing, Wine failing) is a failure, never a skip. The last
//! tests run the same commands on Linux, always.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// The cross-built p2pd.exe; the test fails when this machine was not set
/// up for it (these tests are ignored unless asked for).
fn wine_exe() -> PathBuf {
    let exe = std::env::var_os("P2PD_WINE_EXE").unwrap_or_else(|| {
        panic!("P2PD_WINE_EXE is not set: the Windows tests need `bash .ci/windows` (cross build + Wine)")
    });
    let exe = PathBuf::from(exe);
    assert!(
        exe.is_file(),
        "P2PD_WINE_EXE={} does not exist; run `bash .ci/windows`",
        exe.display()
    );
    let shim = exe.with_file_name("bcryptprimitives.dll");
    assert!(
        shim.is_file(),
        "{} is missing: Wine 8 needs the ProcessPrng shim next to the exe (tests/wine/processprng_shim.c)",
        shim.display()
    );
    let out = output(wine(&exe).arg("--version"));
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).starts_with("p2pd "),
        "`wine p2pd.exe --version` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// Runs `cmd` to completion and collects its output through files, not
/// pipes: the first Wine command of a session starts Wine's own daemons
/// (services.exe, winedevice.exe), which inherit its stdout and stderr and
/// would keep a pipe open, so reading it to the end would never finish.
fn output(cmd: &mut Command) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let (o, e) = (dir.path().join("out"), dir.path().join("err"));
    let status = cmd
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap())
        .status()
        .expect("run wine");
    Output {
        status,
        stdout: std::fs::read(&o).unwrap(),
        stderr: std::fs::read(&e).unwrap(),
    }
}

/// `wine EXE`, quiet. WINEPREFIX comes from the environment.
fn wine(exe: &Path) -> Command {
    let mut c = Command::new(std::env::var_os("P2PD_WINE").unwrap_or_else(|| "wine".into()));
    c.arg(exe).env("WINEDEBUG", "-all").stdin(Stdio::null());
    c
}

/// A Linux path as the Windows program sees it (Wine maps `Z:` to `/`).
fn win_path(p: &Path) -> String {
    format!("Z:{}", p.display().to_string().replace('/', "\\"))
}

fn run_wine(exe: &Path, args: &[&str]) -> Output {
    let out = output(wine(exe).args(args));
    eprintln!(
        "wine p2pd.exe {}: {}\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Starts the Windows agent under Wine as one of the office's agents.
fn add_windows_agent(net: &mut Net, exe: &Path, name: &str, ip: &str, extra: &[String]) -> usize {
    let dir = net.root.path().join("agents").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let key_file = net.server_dir.join("shared.key");
    let log = std::fs::File::create(dir.join("agent.log")).unwrap();
    let child = wine(exe)
        .args(agent_args(
            &net.url(),
            &win_path(&net.server_dir.join("ca.pem")),
            "g",
            &format!("{ip}:0"),
        ))
        .args(["--key-file", &win_path(&key_file)])
        .args(["--data-dir", &win_path(&dir)])
        .args(extra)
        .env("P2PD_LOG", "info")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start the Windows agent under wine");
    let mut agent = Agent::new(name, ip, dir, "g", key_file);
    agent.child = Some(child);
    agent.args = extra.to_vec();
    net.agents.push(agent);
    net.agents.len() - 1
}

/// The office's leader as the report names it ("ADDR:PORT (id8)").
fn leader(net: &Net) -> Option<String> {
    let r = net.report();
    r[0]["offices"][0]["leader"].as_str().map(str::to_string)
}

/// Bytes `receiver` logged as received from `sender` (the receiver's log)
/// and as sent to `receiver` (the sender's log).
fn exchanged(net: &Net, sender: usize, receiver: usize) -> (u64, u64) {
    let s_id = net.agents[sender].device_id().unwrap();
    let r_id = net.agents[receiver].device_id().unwrap();
    let got = net.agents[receiver]
        .log()
        .iter()
        .filter(|v| v["dir"] == "in" && v["ok"] == true && v["source"] == s_id.as_str())
        .map(|v| v["bytes"].as_u64().unwrap())
        .sum();
    let sent = net.agents[sender]
        .log()
        .iter()
        .filter(|v| v["dir"] == "out" && v["to"] == r_id.as_str())
        .map(|v| v["bytes"].as_u64().unwrap())
        .sum();
    (got, sent)
}

/// One run of the mixed office. `windows_leads`: the Windows agent starts
/// first and is the office's preferred device; else the two Linux agents
/// start first, one leads, and the Windows agent follows.
fn mixed_office(exe: &Path, windows_leads: bool) {
    // 24 Mbit/s on the office's WAN link: the leader's download lasts a few
    // seconds, so followers fetch from it piece by piece as pieces arrive.
    let mut net = Net::new(&[("Office", "", "default", "127.1.1.0/24", "24000")]);
    net.start_serve();
    let size = 8 * MIB + 4321;
    let (id, _) = net.publish("app", size, 17);
    let installed = net.root.path().join("installed-by-on-complete.bin");
    // The Windows way: no Unix shell, `%1` is the delivered file.
    let on_complete = vec![
        "--on-complete".to_string(),
        format!("copy /Y \"%1\" \"{}\"", win_path(&installed)),
    ];
    let win_ip = "127.1.1.13";
    let (win, linux) = if windows_leads {
        let w = add_windows_agent(&mut net, exe, "windows", win_ip, &on_complete);
        eventually("the Windows agent leads", Duration::from_secs(60), || {
            leader(&net).is_some_and(|l| l.contains(win_ip))
        });
        let a = net.add_agent("linux-a", "127.1.1.11", "g", &[]);
        let b = net.add_agent("linux-b", "127.1.1.12", "g", &[]);
        (w, [a, b])
    } else {
        let a = net.add_agent("linux-a", "127.1.1.11", "g", &[]);
        let b = net.add_agent("linux-b", "127.1.1.12", "g", &[]);
        eventually("a Linux agent leads", Duration::from_secs(30), || {
            leader(&net).is_some_and(|l| l.contains("127.1.1.11") || l.contains("127.1.1.12"))
        });
        let w = add_windows_agent(&mut net, exe, "windows", win_ip, &on_complete);
        (w, [a, b])
    };
    let all = net.all();
    if !net.wait_delivered(&all, "app.bin", Duration::from_secs(180)) {
        let log =
            std::fs::read_to_string(net.agents[win].dir.join("agent.log")).unwrap_or_default();
        panic!("not every device got the package; Windows agent log:\n{log}");
    }
    net.assert_all_hold("app.bin", &id);
    eventually(
        "--on-complete ran on Windows",
        Duration::from_secs(30),
        || std::fs::read(&installed).is_ok_and(|b| sha256_hex(&b) == id),
    );
    // Let the last reports arrive.
    std::thread::sleep(Duration::from_millis(2500));
    let report = net.report();
    let office = &report[0]["offices"][0];
    assert_eq!(office["devices_done"], 3, "{office}");
    let wan = office["wan_copies"].as_f64().unwrap();
    assert!((0.99..=1.05).contains(&wan), "WAN copies {wan}: {office}");
    let lead = office["leader"].as_str().unwrap();
    assert_eq!(
        lead.contains(win_ip),
        windows_leads,
        "leader {lead}, expected the Windows agent to {}",
        if windows_leads { "lead" } else { "follow" }
    );
    // Only the leader pulled from outside the office: the others' logs
    // show LAN pieces only.
    for (i, a) in net.agents.iter().enumerate() {
        let outside: u64 = a
            .log()
            .iter()
            .filter(|v| v["dir"] == "in" && v["ok"] == true && v["tier"] != "lan")
            .map(|v| v["bytes"].as_u64().unwrap())
            .sum();
        let leads = lead.contains(&a.ip);
        assert!(
            leads || outside == 0,
            "{} ({i}) is not the leader but took {outside} bytes from outside",
            a.name
        );
    }
    if windows_leads {
        for l in linux {
            let (got, sent) = exchanged(&net, win, l);
            assert!(
                got > 0 && sent >= got,
                "{} got {got} bytes from the Windows agent, which logged {sent} sent",
                net.agents[l].name
            );
        }
    } else {
        let (got, sent) = linux
            .iter()
            .map(|&l| exchanged(&net, l, win))
            .fold((0, 0), |(g, s), (a, b)| (g + a, s + b));
        assert!(
            got >= size as u64 && sent >= got,
            "the Windows agent got {got} bytes from the Linux agents ({sent} logged sent); expected the whole package"
        );
    }
    for a in &mut net.agents {
        a.kill();
    }
}

#[test]
#[ignore = "needs p2pd.exe and Wine: `bash .ci/windows` runs it"]
fn mixed_office_windows_agent_leads() {
    let exe = wine_exe();
    mixed_office(&exe, true);
}

#[test]
#[ignore = "needs p2pd.exe and Wine: `bash .ci/windows` runs it"]
fn mixed_office_windows_agent_follows() {
    let exe = wine_exe();
    mixed_office(&exe, false);
}

/// `sc.exe query NAME` under Wine: its output, or `None` if the service
/// does not exist.
fn sc_query(name: &str) -> Option<String> {
    let out = sc(&["query", name]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success() && text.contains("STATE")).then_some(text)
}

fn sc(args: &[&str]) -> Output {
    output(
        Command::new(std::env::var_os("P2PD_WINE").unwrap_or_else(|| "wine".into()))
            .arg("sc.exe")
            .args(args)
            .env("WINEDEBUG", "-all")
            .stdin(Stdio::null()),
    )
}

/// Install, start, stop and uninstall the `p2pd-agent` service under
/// Wine's service control manager; the service really runs the agent (it
/// enrolls and receives a package) and stops cleanly.
#[test]
#[ignore = "needs p2pd.exe and Wine: `bash .ci/windows` runs it"]
fn windows_service_installs_runs_stops_and_uninstalls() {
    let exe = wine_exe();
    // The installed service connects from wherever the kernel picks
    // (127.0.0.1): no source address is fixed on a real device.
    let mut net = Net::new(&[("Office", "", "default", "127.0.0.0/8", "")]);
    net.start_serve();
    let (id, _) = net.publish("svc", 2 * MIB, 23);
    let dir = net.root.path().join("service-agent");
    let key = net.server_dir.join("shared.key");
    let server = net.url();
    let listen = "127.1.1.21:0".to_string();
    let install = |force: bool| {
        let mut args = vec![
            "--data-dir".to_string(),
            win_path(&dir),
            "agent".into(),
            "install".into(),
            "--server".into(),
            server.clone(),
            "--ca".into(),
            win_path(&net.server_dir.join("ca.pem")),
            "--key-file".into(),
            win_path(&key),
            "--group".into(),
            "g".into(),
            "--listen".into(),
            listen.clone(),
        ];
        if force {
            args.push("--force".into());
        }
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        run_wine(&exe, &a)
    };
    // A leftover from an earlier, interrupted run would make this a lie.
    let _ = run_wine(&exe, &["--data-dir", &win_path(&dir), "agent", "uninstall"]);
    let out = install(false);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "install failed");
    assert!(text.contains("created   service p2pd-agent"), "{text}");
    // Owner-only: Wine keeps a file's DACL as its Unix mode (the owner's
    // ACE becomes the user bits, the Administrators ACE the group bits,
    // Everyone the other bits), so the DACL `agent install` set shows here
    // as no access for others. A default file here is 0644 or 0664.
    for f in ["service.json", "agent.key"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join(f)).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o007,
            0,
            "{f} is mode {mode:o}: readable by everyone"
        );
        assert_eq!(mode & 0o700, 0o700, "{f} is mode {mode:o}: not the owner's");
    }
    // Idempotent: the same install again changes nothing.
    let out = install(false);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("nothing changed"),
        "{text}"
    );
    let q = sc_query("p2pd-agent").expect("the service is registered");
    if q.contains("RUNNING") {
        // The service starts automatically (like Windows at boot, Wine's
        // SCM starts auto-start services when a Wine session begins, e.g.
        // if the wineserver restarted between two commands; .ci/windows
        // keeps it running with `wineserver -p` so that this is rare).
        eprintln!("the SCM already started the auto-start service");
    } else {
        assert!(q.contains("STOPPED"), "{q}");
        let out = sc(&["start", "p2pd-agent"]);
        assert!(
            out.status.success(),
            "sc start: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let svc_log = dir.join("agent-service.log");
    let deadline = Instant::now() + Duration::from_secs(90);
    let delivered = loop {
        if let Some(p) = find_delivered(&dir, "svc.bin") {
            break p;
        }
        if Instant::now() > deadline {
            panic!(
                "the service did not deliver the package; its log:\n{}",
                std::fs::read_to_string(&svc_log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(sha256_hex(&std::fs::read(&delivered).unwrap()), id);
    assert!(sc_query("p2pd-agent").unwrap().contains("RUNNING"));

    let out = sc(&["stop", "p2pd-agent"]);
    assert!(
        out.status.success(),
        "sc stop: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    eventually("the service stops", Duration::from_secs(30), || {
        sc_query("p2pd-agent").is_some_and(|q| q.contains("STOPPED"))
    });
    let log = std::fs::read_to_string(&svc_log).unwrap_or_default();
    assert!(
        log.contains("shutting down"),
        "no clean shutdown in the service log:\n{log}"
    );

    let out = run_wine(&exe, &["--data-dir", &win_path(&dir), "agent", "uninstall"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "uninstall failed");
    assert!(text.contains("removed   service p2pd-agent"), "{text}");
    assert!(
        sc_query("p2pd-agent").is_none(),
        "the service is still registered"
    );
    assert!(!dir.join("service.json").exists() && !dir.join("agent.key").exists());
    assert!(delivered.exists(), "uninstall keeps the data dir");
}

// The same commands on Linux (no Wine needed): uninstall undoes the
// systemd install, and the Windows service entry point refuses clearly.

#[test]
fn agent_uninstall_removes_what_install_wrote_and_keeps_the_data_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let server = tmp.path().join("server");
    ok(&server, &["install"]);
    let data = tmp.path().join("agent-data");
    std::fs::create_dir_all(data.join("delivered")).unwrap();
    std::fs::write(data.join("delivered/app.msi"), b"kept").unwrap();
    let key = server.join("shared.key");
    let base = agent_install_args(&key, "g", &root);
    let base: Vec<&str> = base.iter().map(String::as_str).collect();
    let out = ok(&data, &base);
    let created = out.matches("created").count();
    assert!(created >= 3, "{out}");
    let uninstall = ["agent", "uninstall", "--root", root.to_str().unwrap()];
    let out = ok(&data, &uninstall);
    // Everything but the installed binary, which `install --systemd` (the
    // server's unit) may run too: it is kept, and the output says so.
    assert_eq!(out.matches("removed").count(), created - 1, "{out}");
    let left: Vec<String> = files_under(&root).into_iter().map(|f| f.0).collect();
    assert_eq!(left, vec!["usr/local/bin/p2pd".to_string()], "left behind");
    assert!(
        out.contains("usr/local/bin/p2pd (a server unit may run it too"),
        "{out}"
    );
    assert_eq!(
        std::fs::read(data.join("delivered/app.msi")).unwrap(),
        b"kept"
    );
    assert!(
        out.contains(&format!("kept      {}", data.display())),
        "{out}"
    );
    // Again: nothing there, still success.
    let out = ok(&data, &uninstall);
    assert_eq!(out.matches("absent").count(), created - 1, "{out}");
}

#[test]
fn agent_service_outside_windows_says_what_to_run_instead() {
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("service.json");
    std::fs::write(
        &conf,
        serde_json::json!({
            "server": "http://127.0.0.1:9",
            "group": "g",
            "listen": "127.1.1.40:7651",
            "advertise": "127.1.1.40:7651",
            "data_dir": tmp.path().join("data"),
            "key_file": tmp.path().join("agent.key"),
        })
        .to_string(),
    )
    .unwrap();
    let (code, _, err) = p2pd(
        tmp.path(),
        &["agent", "service", "--config", conf.to_str().unwrap()],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("only available on Windows") && err.contains("systemd"),
        "{err}"
    );
    std::fs::write(&conf, "{\"server\": 1}").unwrap();
    let (code, _, err) = p2pd(
        tmp.path(),
        &["agent", "service", "--config", conf.to_str().unwrap()],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("service.json") && err.contains("--force"),
        "{err}"
    );
}

//! Operations end to end (design note `operations`): the licenses report, `devices list`,
//! `health` against a real server, and the scripted installs.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::*;

use p2pd::VERSION;

fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(dir, args)).unwrap_or_else(|e| panic!("{args:?}: not JSON: {e}"))
}

/// Polls `p2pd licenses --format json` until it lists `n` devices.
fn wait_licenses(net: &Net, n: usize) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = json(&net.server_dir, &["licenses", "--format", "json"]);
        if v.as_array().unwrap().len() == n {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "expected {n} licenses, have {v:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The checks that did not pass, as "name=status".
fn not_passing(report: &serde_json::Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "pass")
        .map(|c| {
            format!(
                "{}={}",
                c["check"].as_str().unwrap(),
                c["status"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn licenses_list_enrolled_devices_in_assigned_groups_and_unassign_releases_them() {
    let mut net = Net::new(&[("Central", "", "default", "127.1.1.0/24", "")]);
    ok(&net.server_dir, &["groups", "assign", "h"]);
    net.start_serve();
    net.add_agent("a1", "127.1.1.11", "g", &[]);
    net.add_agent("a2", "127.1.1.12", "g", &[]);
    net.add_agent("b1", "127.1.1.13", "h", &[]);
    // A device in a group that is not assigned is refused: no license.
    let x = net.add_agent("x1", "127.1.1.14", "unassigned", &[]);
    let v = wait_licenses(&net, 3);
    assert!(
        net.agents[x].wait_exit(Duration::from_secs(20)).is_some(),
        "x1 should be refused"
    );
    let ids = |v: &serde_json::Value| -> Vec<String> {
        let mut ids: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["device_id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let mut want: Vec<String> = net.agents[..3]
        .iter()
        .map(|a| a.device_id().unwrap())
        .collect();
    want.sort();
    assert_eq!(ids(&v), want);
    for r in v.as_array().unwrap() {
        assert_eq!(r["office"], "Central");
        assert_eq!(r["client_version"], VERSION);
        assert!(r["address"].as_str().unwrap().starts_with("127.1.1.1"));
        assert!(r["activated_at"].as_str().unwrap().ends_with('Z'));
        assert!(r["last_seen"].as_str().unwrap().ends_with('Z'));
        assert!(!r["hostname"].as_str().unwrap().is_empty());
    }

    // CSV: a header and one line per licensed device, to a file with -o.
    let csv_file = net.root.path().join("licenses.csv");
    ok(
        &net.server_dir,
        &[
            "licenses",
            "--format",
            "csv",
            "-o",
            csv_file.to_str().unwrap(),
        ],
    );
    let csv = std::fs::read_to_string(&csv_file).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "device_id,hostname,address,office,group,client_version,activated_at,last_seen"
    );
    assert_eq!(lines.len(), 4, "{csv}");
    for id in &want {
        assert_eq!(
            lines.iter().filter(|l| l.starts_with(id.as_str())).count(),
            1,
            "{csv}"
        );
    }
    assert!(!csv.contains("127.1.1.14"), "refused device listed: {csv}");

    // Table: every device by its short id (whole with --wide), no
    // refused one.
    let table = ok(&net.server_dir, &["licenses"]);
    let wide = ok(&net.server_dir, &["licenses", "--wide"]);
    for id in &want {
        assert!(table.contains(&format!("| {} ", &id[..8])), "{table}");
        assert!(!table.contains(id.as_str()), "{table}");
        assert!(wide.contains(id.as_str()), "{wide}");
    }
    // `--json` is what every other command takes (design note `real-site`).
    let by_flag = json(&net.server_dir, &["licenses", "--json"]);
    assert_eq!(ids(&by_flag), want);
    assert!(
        table.contains("activated_at") && !table.contains("127.1.1.14"),
        "{table}"
    );

    // Unassigning h releases b1's license; the report shows it at once.
    let out = ok(&net.server_dir, &["groups", "unassign", "h"]);
    // "1 license", not "1 licenses" or "1 license(s)" (design note `real-site`).
    assert!(
        out.contains("1 device affected (1 license released), 1 content target removed")
            || out.contains("1 device affected (1 license released), 0 content targets removed"),
        "{out}"
    );
    let v = json(&net.server_dir, &["licenses", "--format", "json"]);
    let b1 = net.agents[2].device_id().unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2, "{v:#}");
    assert!(!ids(&v).contains(&b1));
    let csv = ok(&net.server_dir, &["licenses", "--format", "csv"]);
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(!csv.contains(&b1));
}

#[test]
fn health_passes_then_names_each_broken_check() {
    let mut net = Net::new(&[("Central", "", "default", "127.1.1.0/24", "")]);
    net.start_serve();
    let (_, data) = net.publish("app", 200_000, 7);
    net.add_agent("in", "127.1.1.10", "g", &[]);
    wait_licenses(&net, 1);

    // A good system: every check passes, exit 0; the table says "healthy".
    let (code, r) = health(&net.server_dir, &["--deep"]);
    assert_eq!((code, not_passing(&r)), (0, vec![]), "{r:#}");
    assert_eq!(r["healthy"], true);
    let (code, table, _) = p2pd(&net.server_dir, &["health"]);
    assert_eq!(code, 0);
    assert!(
        table.contains("healthy") && table.contains("file_storage"),
        "{table}"
    );
    // Counts in words, singular or plural, never "device(s)".
    assert!(
        table.contains("| 1 device, all within") && table.contains("1 package present"),
        "{table}"
    );
    assert!(!table.contains("(s)"), "{table}");

    // devices list: the device, its office, online, with a score.
    let d = json(&net.server_dir, &["devices", "list", "--json"]);
    assert_eq!(d[0]["office"], "Central", "{d:#}");
    assert_eq!(d[0]["state"], "online");
    assert!(d[0]["score"].as_f64().unwrap() > 0.0);
    let csv = ok(&net.server_dir, &["devices", "list", "--format", "csv"]);
    assert!(csv.starts_with("hostname,address,office,group,version,last_seen,score,state"));
    assert!(csv.contains(",online,"), "{csv}");

    // A no-office client: a warning (exit 0), a failure with --strict.
    net.add_agent("lost", "127.1.9.10", "g", &[]);
    wait_licenses(&net, 2);
    let (code, r) = health(&net.server_dir, &[]);
    assert_eq!(
        (code, not_passing(&r)),
        (0, vec!["topology=warn".to_string()]),
        "{r:#}"
    );
    let t = check(&r, "topology");
    assert!(
        t["detail"]
            .as_str()
            .unwrap()
            .contains("1 no-office client,"),
        "{t}"
    );
    assert!(
        t["detail"].as_str().unwrap().contains("127.1.9.0/24"),
        "{t}"
    );
    assert!(
        t["fix"].as_str().unwrap().contains("topology import"),
        "{t}"
    );
    let (code, out, _) = p2pd(&net.server_dir, &["health", "--strict"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("unhealthy: failed: topology"), "{out}");
    assert!(
        out.contains("fix topology: add these subnets to an office"),
        "{out}"
    );
    net.agents[1].kill();

    // Enrolled agents outside the supported range are listed by address.
    ok(
        &net.server_dir,
        &["settings", "set", "max_client_version", "9.9.9"],
    );
    ok(
        &net.server_dir,
        &["settings", "set", "min_client_version", "9.9.9"],
    );
    let (code, r) = health(&net.server_dir, &[]);
    assert_eq!(code, 1, "{r:#}");
    let c = check(&r, "client_versions");
    assert_eq!(c["status"], "fail", "{c}");
    let detail = c["detail"].as_str().unwrap();
    assert!(
        detail.contains("2 devices outside the supported 9.9.9 to 9.9.9"),
        "{detail}"
    );
    assert!(
        detail.contains("(127.1.1.10) runs 0.1.0") && detail.contains("(127.1.9.10)"),
        "{detail}"
    );
    assert!(c["fix"].as_str().unwrap().contains("min_client_version"));
    ok(
        &net.server_dir,
        &["settings", "set", "min_client_version", VERSION],
    );
    ok(
        &net.server_dir,
        &["settings", "set", "max_client_version", VERSION],
    );

    // Storage: same size but other bytes only --deep notices; a wrong size
    // and a missing file every run does.
    let file = net.storage.join("app/1.0/app.bin");
    let mut other = data.clone();
    other[1000] ^= 0xff;
    std::fs::write(&file, &other).unwrap();
    let (_, r) = health(&net.server_dir, &[]);
    assert_eq!(check(&r, "file_storage")["status"], "pass");
    let (code, r) = health(&net.server_dir, &["--deep"]);
    let c = check(&r, "file_storage");
    assert_eq!((code, c["status"].as_str()), (1, Some("fail")), "{r:#}");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("app/1.0/app.bin: content changed"),
        "{c}"
    );
    std::fs::write(&file, &data[..1000]).unwrap();
    let (code, r) = health(&net.server_dir, &[]);
    let c = check(&r, "file_storage");
    assert_eq!(code, 1);
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("app/1.0/app.bin: 1000 bytes, but 200000 were published"),
        "{c}"
    );
    assert!(c["fix"].as_str().unwrap().contains("publish --all"));
    std::fs::remove_file(&file).unwrap();
    let (code, out, _) = p2pd(&net.server_dir, &["health"]);
    assert_eq!(code, 1);
    assert!(out.contains("app/1.0/app.bin: missing"), "{out}");
    assert!(
        out.contains("fix file_storage: put the published files back"),
        "{out}"
    );
    assert!(out.contains("unhealthy: failed: file_storage"), "{out}");
}

#[test]
fn health_reports_key_mismatch_server_down_and_could_not_run() {
    let mut net = Net::new(&[]);
    net.start_serve();
    let (code, r) = health(&net.server_dir, &[]);
    assert_eq!((code, not_passing(&r)), (0, vec![]), "{r:#}");

    // Design note `real-site` items 3/4: a running server takes a regenerated key within
    // seconds, with no restart; a request signed with the old key is then
    // refused. (A second install holding the old key signs like a device
    // that has not got the new one yet.)
    let old_key = std::fs::read(net.server_dir.join("shared.key")).unwrap();
    let stale = net.root.path().join("stale");
    ok(&stale, &["install"]);
    std::fs::write(stale.join("shared.key"), &old_key).unwrap();
    // It trusts the running server's CA, as a device would.
    std::fs::copy(net.server_dir.join("ca.pem"), stale.join("ca.pem")).unwrap();
    let url = net.url();
    let (_, r) = health(&stale, &["--server", &url]);
    assert_eq!(check(&r, "key")["status"], "pass", "{r:#}");
    let regenerated = std::time::Instant::now();
    ok(&net.server_dir, &["key", "regenerate"]);
    let new_fp = ok(&net.server_dir, &["key", "fingerprint"]);
    let new_fp = new_fp.split_whitespace().next().unwrap();
    loop {
        let (code, r) = health(&net.server_dir, &[]);
        if code == 0 {
            break;
        }
        assert!(
            regenerated.elapsed() < Duration::from_secs(5),
            "the running server still refuses the regenerated key: {r:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, r) = health(&stale, &["--server", &url]);
    assert_eq!(code, 1, "{r:#}");
    let detail = check(&r, "key")["detail"].as_str().unwrap().to_string();
    assert!(
        detail.contains("key mismatch") && detail.contains(new_fp),
        "the old key is refused, naming the current one: {detail}"
    );
    let status: serde_json::Value =
        serde_json::from_str(&ok(&net.server_dir, &["status", "--json"])).unwrap();
    assert_eq!(status["key_version"], 2, "{status:#}");

    // Restarted, it still has the new key.
    net.stop_serve();
    net.start_serve();
    assert_eq!(health(&net.server_dir, &[]).0, 0);

    // Design note `real-site` item 14: each fix names the actual cause.
    // A replaced key file: the file is to blame, not the server.
    let kp = net.server_dir.join("shared.key");
    let good = std::fs::read(&kp).unwrap();
    let other = net.root.path().join("other");
    ok(&other, &["install"]);
    std::fs::copy(other.join("shared.key"), &kp).unwrap();
    let (code, r) = health(&net.server_dir, &[]);
    assert_eq!(code, 1);
    let fix = check(&r, "key")["fix"].as_str().unwrap().to_string();
    assert!(fix.contains("key file was replaced"), "{fix}");
    assert!(!fix.contains("restart"), "{fix}");
    // A corrupt key file: the key check says so, and the checks it keeps
    // from running blame the key file, not the server.
    std::fs::write(&kp, "garbage").unwrap();
    let (code, r) = health(&net.server_dir, &[]);
    assert_eq!(code, 1);
    assert_eq!(check(&r, "server")["status"], "pass", "{r:#}");
    assert!(
        check(&r, "key")["detail"]
            .as_str()
            .unwrap()
            .contains("corrupt"),
        "{r:#}"
    );
    for c in ["server_version", "clock"] {
        let d = check(&r, c)["detail"].as_str().unwrap();
        assert!(
            d.contains("key file") && !d.contains("server did not"),
            "{c}: {d}"
        );
    }
    std::fs::write(&kp, good).unwrap();
    // A bad --server is a usage error (2), not an unhealthy system.
    let (code, _, err) = p2pd(&net.server_dir, &["health", "--server", "notaurl"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--server notaurl"), "{err}");
    assert_eq!(health(&net.server_dir, &[]).0, 0);
    net.stop_serve();
    let (code, out, _) = p2pd(&net.server_dir, &["health", "--timeout", "2"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("cannot reach https://127.0.0.1:"), "{out}");
    assert!(out.contains("fix server: start the server"), "{out}");
    assert!(out.contains("unhealthy: failed: server"), "{out}");
    let (_, r) = health(&net.server_dir, &[]);
    assert_eq!(check(&r, "key")["status"], "skip");
    assert_eq!(check(&r, "database")["status"], "pass");

    // Nothing installed: could not run.
    let empty = net.root.path().join("nothing");
    let (code, _, err) = p2pd(&empty, &["health"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("p2pd install"), "{err}");
}

/// `systemd-analyze verify` on the units, where it exists.
fn verify_units(units: &[&Path]) {
    let probe = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("skipping systemd-analyze verify: systemd-analyze is not installed");
        return;
    }
    // --man=no: the man pages are not installed on a build host.
    let out = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(units)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && err.trim().is_empty(),
        "systemd-analyze verify: {err}"
    );
}

#[test]
fn scripted_installs_write_units_and_rerun_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let server = tmp.path().join("server");
    let root_s = root.to_str().unwrap();

    // Server: install + unit; again: install kept, unit unchanged.
    let out = ok(&server, &["install", "--systemd", "--root", root_s]);
    assert!(
        out.contains("created") && out.contains("p2pd.service"),
        "{out}"
    );
    let unit = root.join("etc/systemd/system/p2pd.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    for want in [
        "ExecStart=/usr/local/bin/p2pd serve --data-dir ",
        server.to_str().unwrap(),
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        &format!("ReadWritePaths={}", server.display()),
    ] {
        assert!(text.contains(want), "p2pd.service lacks {want}:\n{text}");
    }
    // Design note `real-site` item 4: a stable installed path, not the build tree's binary.
    assert!(
        !text.contains("target/debug"),
        "the server unit must not run the build tree's binary:\n{text}"
    );
    assert_eq!(
        std::fs::read(root.join("usr/local/bin/p2pd")).unwrap(),
        std::fs::read(BIN).unwrap(),
        "install --systemd copies the binary to /usr/local/bin/p2pd"
    );
    let before = files_under(&root);
    let out = ok(&server, &["install", "--systemd", "--root", root_s]);
    assert!(
        out.contains("already installed") && out.contains("nothing changed"),
        "{out}"
    );
    assert_eq!(files_under(&root), before);

    // Agent: config, key copy 0600, unit; a re-run changes nothing.
    let key = server.join("shared.key");
    let ca = server.join("ca.pem");
    let agent = |extra: &[&str]| {
        let mut args = agent_install_args(&key, "Sales EMEA", &root);
        args.extend(extra.iter().map(|s| s.to_string()));
        let out = std::process::Command::new(BIN)
            .args(&args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = agent(&[]);
    assert_eq!(code, 0, "{err}");
    // Five files (env, key, unit, CA copy); the binary copy is already
    // there from the server's install.
    assert_eq!(out.matches("created").count(), 4, "{out}");
    assert_eq!(out.matches("unchanged").count(), 1, "{out}");
    let env = std::fs::read_to_string(root.join("etc/p2pd/agent.env")).unwrap();
    assert!(
        env.contains("P2PD_SERVER=\"https://127.0.0.1:7650\""),
        "{env}"
    );
    assert!(env.contains("P2PD_GROUP=\"Sales EMEA\""), "{env}");
    // No address: the agent follows whatever address the device has
    // (design note `devices-move`); it listens on every family.
    assert!(!env.contains("ADVERTISE"), "{env}");
    assert!(env.contains("P2PD_LISTEN=\"[::]:7651\""), "{env}");
    // The agent's own data dir, under its own variable.
    assert!(
        env.contains("P2PD_AGENT_DATA_DIR=\"/var/lib/p2pd-agent\""),
        "{env}"
    );
    // The unit runs a stable installed copy of the binary, not the build path.
    let installed = root.join("usr/local/bin/p2pd");
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(BIN).unwrap(),
        "the binary is copied to /usr/local/bin/p2pd"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&installed).unwrap().permissions().mode() & 0o777,
        0o755
    );
    let files = files_under(&root);
    let key_copy = files.iter().find(|f| f.0 == "etc/p2pd/agent.key").unwrap();
    assert_eq!(key_copy.1, std::fs::read(&key).unwrap());
    assert_eq!(key_copy.2, 0o600);
    let agent_unit = root.join("etc/systemd/system/p2pd-agent.service");
    let text = std::fs::read_to_string(&agent_unit).unwrap();
    for want in [
        "EnvironmentFile=/etc/p2pd/agent.env",
        "ExecStart=/usr/local/bin/p2pd agent --server ${P2PD_SERVER} --key-file /etc/p2pd/agent.key --group ${P2PD_GROUP}",
        "RestartPreventExitStatus=4",
        "StateDirectory=p2pd-agent",
        "ReadWritePaths=/var/lib/p2pd-agent",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
    ] {
        assert!(
            text.contains(want),
            "p2pd-agent.service lacks {want}:\n{text}"
        );
    }
    assert!(
        !text.contains("target/debug"),
        "the unit must not run the build tree's binary:\n{text}"
    );
    let (code, out, _) = agent(&[]);
    assert_eq!(code, 0);
    assert_eq!(out.matches("unchanged").count(), 5, "{out}");
    // Design note `real-site` item 8: --json for scripts.
    let (code, json_out, err) = agent(&["--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(v["files"].as_array().unwrap().len(), 5, "{v:#}");
    assert!(
        v["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["outcome"] == "unchanged"),
        "{v:#}"
    );
    assert_eq!(v["key_replaced"], false);
    assert!(out.contains("nothing changed"), "{out}");
    assert_eq!(files_under(&root), files);

    // An edited file is kept, and named, unless --force.
    std::fs::write(root.join("etc/p2pd/agent.env"), "P2PD_GROUP=\"mine\"\n").unwrap();
    let (code, _, err) = agent(&[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("etc/p2pd/agent.env exists and differs") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("etc/p2pd/agent.env")).unwrap(),
        "P2PD_GROUP=\"mine\"\n"
    );
    let (code, out, _) = agent(&["--force"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("replaced") && out.contains("agent.env"),
        "{out}"
    );
    assert_eq!(files_under(&root), files);

    // Key roll-out: a new key file is applied without --force, and the
    // command says what the running agent does about it.
    let new_key = tmp.path().join("new.key");
    std::fs::write(&new_key, format!("{}QUE=\n", "QUFB".repeat(10))).unwrap();
    let (code, out, err) = std::process::Command::new(BIN)
        .args([
            "agent",
            "install",
            "--server",
            "https://127.0.0.1:7650",
            "--ca",
            ca.to_str().unwrap(),
            "--key-file",
        ])
        .arg(&new_key)
        .args(["--group", "Sales EMEA", "--root", root_s])
        .output()
        .map(|o| {
            (
                o.status.code().unwrap(),
                String::from_utf8_lossy(&o.stdout).into_owned(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        })
        .unwrap();
    assert_eq!(code, 0, "a new key needs no --force: {err}");
    assert!(
        out.contains("replaced") && out.contains("agent.key"),
        "{out}"
    );
    assert!(out.contains("picks it up"), "{out}");
    assert_eq!(
        std::fs::read(root.join("etc/p2pd/agent.key")).unwrap(),
        std::fs::read(&new_key).unwrap()
    );

    // systemd-analyze checks that ExecStart= exists on this host, where
    // /usr/local/bin/p2pd may not: verify a copy that runs the test binary.
    // (A directory of its own: systemd-analyze also searches the
    // directories of the units it is given.)
    let vdir = tmp.path().join("verify");
    std::fs::create_dir_all(&vdir).unwrap();
    let checked = vdir.join("p2pd-agent.service");
    std::fs::write(
        &checked,
        std::fs::read_to_string(&agent_unit)
            .unwrap()
            .replace("/usr/local/bin/p2pd", BIN),
    )
    .unwrap();
    let server_copy = vdir.join("p2pd.service");
    std::fs::write(
        &server_copy,
        std::fs::read_to_string(&unit)
            .unwrap()
            .replace("/usr/local/bin/p2pd", BIN),
    )
    .unwrap();
    verify_units(&[&server_copy, &checked]);
}

/// Design note `real-site` item 15: a second `serve` on the same data dir is refused,
/// naming the first one's pid and address; a lock left by a killed server
/// does not block the next one.
#[test]
fn a_second_serve_on_the_same_data_dir_is_refused_naming_the_first() {
    let mut net = Net::new(&[]);
    net.start_serve();
    let first_pid = net.serve.as_ref().unwrap().id();
    let out = std::process::Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(&net.server_dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("pid {first_pid}")), "{err}");
    assert!(
        err.contains(&format!("https://127.0.0.1:{}", net.port)),
        "names the first one's address: {err}"
    );
    assert!(
        !err.contains("p2pd serve: listening on"),
        "the second serve must not listen: {err}"
    );
    // SIGKILL leaves the lock file behind; it must not block a restart.
    let mut c = net.serve.take().unwrap();
    c.kill().unwrap();
    c.wait().unwrap();
    assert!(net.server_dir.join("serve.lock").exists());
    net.start_serve();
    assert!(net.serve.as_mut().unwrap().try_wait().unwrap().is_none());
}

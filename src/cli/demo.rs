//! `p2pd demo`: a real local distribution on an embedded default.
//!
//! It makes a temporary install, a topology of three offices on loopback
//! ranges (a regional office under the central one, a branch under the
//! regional one), starts `serve` and twelve agents as real processes bound
//! to 127.1.N.x addresses, publishes a generated package, shows progress
//! per office and prints the report. Every step runs the real subcommands
//! of this same binary; nothing is simulated.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::Serialize;

use super::{fail, output};
use crate::exit::ExitCode;
use crate::report::ContentReport;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Package size, in MiB
    #[arg(long, default_value_t = 64)]
    pub size: u64,
    /// Devices per office
    #[arg(long, default_value_t = 4)]
    pub devices: u32,
    /// Give up after this many seconds
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// Keep the temporary directory (for inspection) instead of deleting it
    #[arg(long)]
    pub keep: bool,
    /// Print the final report as JSON
    #[arg(long)]
    pub json: bool,
    /// After the report, keep serve and the agents running until Ctrl-C, so
    /// the dashboard (whose address the demo prints) stays open
    #[arg(long)]
    pub stay: bool,
}

const OFFICES: &[(&str, &str, &str)] = &[
    ("Central Office", "", "127.1.1.0/24"),
    ("Regional East", "Central Office", "127.1.2.0/24"),
    ("Branch East-1", "Regional East", "127.1.3.0/24"),
];

#[derive(Serialize)]
struct DemoResult {
    devices: usize,
    devices_verified: usize,
    seconds: f64,
    max_wan_copies: f64,
    report: ContentReport,
}

/// Child processes and the temp dir, cleaned up on every exit path.
struct Cleanup {
    children: Vec<tokio::process::Child>,
    dir: Option<tempfile::TempDir>,
    /// --keep: leave the directory for inspection.
    keep: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for c in &mut self.children {
            crate::platform::request_stop(c);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for c in &mut self.children {
            while Instant::now() < deadline {
                match c.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
            let _ = c.start_kill();
        }
        if let Some(d) = self.dir.take()
            && self.keep
        {
            let _ = d.keep();
        }
    }
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    if !crate::platform::SERVER_SUPPORTED {
        return Err(fail(
            ExitCode::Usage,
            format!(
                "p2pd demo runs a local server, and `p2pd serve` runs on Linux only (this is {}); run the demo on a Linux host",
                crate::platform::OS
            ),
        ));
    }
    if a.size == 0 || a.devices == 0 {
        return Err(fail(
            ExitCode::Usage,
            "--size and --devices must be at least 1",
        ));
    }
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(demo(a))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Runs one subcommand of this binary to completion; fails with its stderr.
fn p2pd(exe: &Path, args: &[&str], data_dir: &Path) -> anyhow::Result<String> {
    let out = std::process::Command::new(exe)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", exe.display()))?;
    if !out.status.success() {
        bail!(
            "`p2pd {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Deterministic pseudo-random bytes (xorshift64*): incompressible, cheap.
fn write_package(path: &Path, size: u64) -> anyhow::Result<()> {
    std::fs::create_dir_all(path.parent().expect("package path has a parent"))?;
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for chunk in buf.chunks_exact_mut(8) {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            chunk.copy_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n])?;
        left -= n as u64;
    }
    f.flush()?;
    Ok(())
}

async fn demo(a: Args) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("cannot find the p2pd binary")?;
    let tmp = tempfile::Builder::new().prefix("p2pd-demo-").tempdir()?;
    let root = tmp.path().to_path_buf();
    let mut guard = Cleanup {
        children: Vec::new(),
        dir: Some(tmp),
        keep: a.keep,
    };
    let say = |s: &str| {
        if !a.json {
            println!("{s}");
        }
    };
    let server_dir = root.join("server");
    let storage = root.join("storage");
    let rel = "demo-app/1.0/demo-app-1.0.bin";
    say(&format!("p2pd demo in {}", root.display()));
    say(&format!("  generating a {} MiB package", a.size));
    write_package(&storage.join(rel), a.size << 20)?;

    let port = free_port()?;
    let peer_port = free_port()?;
    let installed = p2pd(
        &exe,
        &[
            "install",
            "--server-name",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--file-storage",
            &storage.display().to_string(),
            "--json",
        ],
        &server_dir,
    )?;
    p2pd(
        &exe,
        &["settings", "set", "heartbeat_secs", "1"],
        &server_dir,
    )?;
    let mut csv = String::from("office,parent,type,ranges,wan_kbps,description\n");
    for (name, parent, range) in OFFICES {
        csv.push_str(&format!("{name},{parent},default,{range},,demo office\n"));
    }
    let topo = root.join("topology.csv");
    std::fs::write(&topo, csv)?;
    p2pd(
        &exe,
        &["topology", "import", &topo.display().to_string()],
        &server_dir,
    )?;
    p2pd(&exe, &["groups", "assign", "demo"], &server_dir)?;
    say("  installed, 3 offices imported, group 'demo' assigned; publishing");
    p2pd(&exe, &["publish", "--all"], &server_dir)?;

    let logs = root.join("logs");
    std::fs::create_dir_all(&logs)?;
    let spawn = |args: Vec<String>, log: &str| -> anyhow::Result<tokio::process::Child> {
        let log = std::fs::File::create(logs.join(log))?;
        let mut cmd = tokio::process::Command::new(&exe);
        cmd.args(&args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .env("P2PD_LOG", "info")
            .kill_on_drop(true);
        // The child dies with us even if the demo itself is killed.
        Ok(crate::platform::spawn_tied_to_parent(&mut cmd)?)
    };
    guard.children.push(spawn(
        vec![
            "serve".into(),
            "--data-dir".into(),
            server_dir.display().to_string(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
        ],
        "serve.log",
    )?);
    wait_for_port(port).await?;
    let admin_token = serde_json::from_str::<serde_json::Value>(&installed)
        .ok()
        .and_then(|v| v["admin_token"].as_str().map(str::to_string))
        .ok_or_else(|| anyhow::anyhow!("install printed no admin token"))?;
    say(&format!(
        "  dashboard: https://127.0.0.1:{port}/ui/login?token={admin_token} \
         (the certificate is from the demo's own CA: your browser asks you to accept it)"
    ));
    say(&format!(
        "  metrics:   curl --cacert {} -H 'Authorization: Bearer {admin_token}' https://127.0.0.1:{port}/metrics",
        server_dir.join(crate::tls::CA_CERT_FILE).display()
    ));

    let key_file = server_dir.join(crate::key::KEY_FILE);
    let mut agents = Vec::new();
    let started = Instant::now();
    for (n, (office, _, _)) in OFFICES.iter().enumerate() {
        for j in 1..=a.devices {
            let ip = format!("127.1.{}.{}", n + 1, 10 + j);
            let dir = root
                .join("agents")
                .join(format!("office{}-device{j}", n + 1));
            guard.children.push(spawn(
                vec![
                    "agent".into(),
                    "--server".into(),
                    format!("https://127.0.0.1:{port}"),
                    "--ca".into(),
                    server_dir
                        .join(crate::tls::CA_CERT_FILE)
                        .display()
                        .to_string(),
                    "--key-file".into(),
                    key_file.display().to_string(),
                    "--group".into(),
                    "demo".into(),
                    "--data-dir".into(),
                    dir.display().to_string(),
                    "--listen".into(),
                    format!("{ip}:{peer_port}"),
                ],
                &format!("agent-{ip}.log"),
            )?);
            agents.push((office.to_string(), dir));
        }
    }
    say(&format!(
        "  serve and {} agents running; distributing",
        agents.len()
    ));

    let content_id = {
        let st = crate::store::Store::open(&server_dir)?;
        st.content_ids()?
            .into_iter()
            .next()
            .map(|(id, _, _)| id)
            .ok_or_else(|| anyhow::anyhow!("publish registered no content"))?
    };
    let bars = (!a.json && std::io::stdout().is_terminal()).then(MultiProgress::new);
    let mut office_bars: HashMap<String, ProgressBar> = HashMap::new();
    let mut finished: HashMap<String, f64> = HashMap::new();
    let deadline = started + Duration::from_secs(a.timeout);
    let mut interrupted = false;
    let report = loop {
        let st = crate::store::Store::open(&server_dir)?;
        let r = crate::report::content_report(&st, &content_id)?
            .ok_or_else(|| anyhow::anyhow!("content vanished"))?;
        let pieces: HashMap<String, u32> = st
            .progress(&content_id)?
            .into_iter()
            .map(|p| (p.device_id, p.pieces))
            .collect();
        let total_pieces = st
            .manifest(&content_id)?
            .map(|m| m.piece_count())
            .unwrap_or(1);
        let devices = st.targeted_devices(&content_id)?;
        let mut office_of: HashMap<&str, String> = HashMap::new();
        for d in &devices {
            if let Some(o) = d.office_id.map(|id| st.office(id)).transpose()?.flatten() {
                office_of.insert(d.id.as_str(), o.name);
            }
        }
        for (office, _, _) in OFFICES {
            let have: u64 = devices
                .iter()
                .filter(|d| office_of.get(d.id.as_str()).is_some_and(|o| o == office))
                .map(|d| pieces.get(&d.id).copied().unwrap_or(0) as u64)
                .sum();
            let want = a.devices as u64 * total_pieces as u64;
            let done = r
                .offices
                .iter()
                .find(|o| o.office == *office)
                .is_some_and(|o| o.devices_targeted == a.devices && o.devices_done == a.devices);
            if done && !finished.contains_key(*office) {
                let secs = started.elapsed().as_secs_f64();
                finished.insert(office.to_string(), secs);
                if bars.is_none() && !a.json {
                    println!(
                        "  {office}: all {} done in {secs:.1} s",
                        super::output::count(a.devices as usize, "device")
                    );
                }
            }
            if let Some(mp) = &bars {
                let bar = office_bars.entry(office.to_string()).or_insert_with(|| {
                    let b = mp.add(ProgressBar::new(want));
                    b.set_style(
                        ProgressStyle::with_template(
                            "  {prefix:<16} [{bar:40}] {percent:>3}% {msg}",
                        )
                        .expect("valid template")
                        .progress_chars("=> "),
                    );
                    b.set_prefix(office.to_string());
                    b
                });
                bar.set_position(have.min(want));
                bar.set_message(format!(
                    "{} of {} devices",
                    r.offices
                        .iter()
                        .find(|o| o.office == *office)
                        .map(|o| o.devices_done)
                        .unwrap_or(0),
                    a.devices
                ));
                if done {
                    bar.finish();
                }
            }
        }
        if finished.len() == OFFICES.len() {
            break r;
        }
        for c in &mut guard.children {
            if let Ok(Some(status)) = c.try_wait() {
                bail!(
                    "a p2pd process exited early ({status}); logs are in {} (run with --keep to inspect)",
                    logs.display()
                );
            }
        }
        if Instant::now() > deadline {
            bail!(
                "the distribution did not finish within {} s (see --timeout)",
                a.timeout
            );
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => { interrupted = true; break r; }
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    };
    if interrupted {
        eprintln!("p2pd demo: interrupted; cleaning up");
        return Ok(ExitCode::Failed);
    }
    let seconds = started.elapsed().as_secs_f64();
    // Let the last transfer reports reach the server before the final report.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let st = crate::store::Store::open(&server_dir)?;
    let report = crate::report::content_report(&st, &content_id)?.unwrap_or(report);

    let mut verified = 0;
    let manifest = st
        .manifest(&content_id)?
        .ok_or_else(|| anyhow::anyhow!("content {content_id} vanished from the database"))?;
    for (_, dir) in &agents {
        let f = crate::agent::delivered_path(&dir.join("delivered"), &manifest);
        if file_sha256(&f).ok().as_deref() == Some(content_id.as_str()) {
            verified += 1;
        }
    }
    let max_wan = report
        .offices
        .iter()
        .map(|o| o.wan_copies)
        .fold(0.0, f64::max);
    let result = DemoResult {
        devices: agents.len(),
        devices_verified: verified,
        seconds,
        max_wan_copies: max_wan,
        report,
    };
    if a.json {
        output::print_json(&result)?;
    } else {
        println!();
        super::report::print_report(&mut std::io::stdout().lock(), &result.report)?;
        println!(
            "{}/{} devices hold the verified file (SHA-256 {}…) after {:.1} s; \
             at most {:.2} WAN copies entered any office.",
            verified,
            agents.len(),
            &content_id[..12],
            seconds,
            max_wan
        );
        if a.keep {
            println!("kept {}", root.display());
        }
    }
    if a.stay {
        eprintln!(
            "p2pd demo: serve and the agents keep running for the dashboard at \
             https://127.0.0.1:{port}/ui; press Ctrl-C to stop"
        );
        tokio::signal::ctrl_c().await.ok();
    }
    drop(guard);
    Ok(if verified == agents.len() && max_wan <= 1.05 {
        ExitCode::Ok
    } else {
        ExitCode::Failed
    })
}

async fn wait_for_port(port: u16) -> anyhow::Result<()> {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("p2pd serve did not start listening on 127.0.0.1:{port} within 5 s")
}

fn file_sha256(p: &PathBuf) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut f = std::fs::File::open(p)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = std::io::Read::read(&mut f, &mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

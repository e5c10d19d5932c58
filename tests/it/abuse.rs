//! Design note `key-holders` findings, one test each: "a key holder must not be able to
//! ...". Every device holds the shared key, so each test talks to a real
//! `serve` as made-up devices (signed requests over mutual TLS, no agent),
//! the way a key holder would, and checks what an admin would notice.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
use p2pd::trust::key::SharedKey;

/// A made-up device: its id and a client holding its certificate.
#[derive(Clone)]
struct Device {
    id: String,
    /// The secret it was given at its first enrollment: its proof when it
    /// enrolls again without its certificate.
    secret: Option<String>,
    client: reqwest::blocking::Client,
}

/// An answer: status, `Retry-After`, body.
struct Answer {
    status: u16,
    retry_after: Option<u64>,
    body: String,
}

/// A signed POST to serve through `client`.
fn post(
    net: &Net,
    client: &reqwest::blocking::Client,
    path: &str,
    v: &serde_json::Value,
) -> Answer {
    let key = SharedKey::load(&net.server_dir.join("shared.key")).unwrap();
    let body = serde_json::to_vec(v).unwrap();
    let mut rb = client.post(format!("https://127.0.0.1:{}{path}", net.port));
    for (n, v) in key.sign("POST", path, &body) {
        rb = rb.header(n, v);
    }
    let r = rb
        .header("content-type", "application/json")
        .body(body)
        .timeout(Duration::from_secs(30))
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let retry_after = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    Answer {
        status,
        retry_after,
        body: r.text().unwrap_or_default(),
    }
}

/// Enrolls from `ip` (the claimed and the source address); `id` renews
/// that device. Returns the answer and, on success, the device.
fn try_enroll(net: &Net, ip: &str, again: Option<&Device>) -> (Answer, Option<Device>) {
    let local: std::net::IpAddr = ip.parse().unwrap();
    let (key, csr) = key_and_csr();
    let v = serde_json::json!({
        "device_id": again.map(|d| d.id.as_str()), "hostname": format!("h-{ip}"),
        "addrs": [{"ip": ip, "prefix": 24}],
        "version": env!("CARGO_PKG_VERSION"), "group": "g",
        "peer_url": format!("https://{ip}:7651"), "csr": csr,
        "device_secret": again.and_then(|d| d.secret.as_deref()),
    });
    let a = post(
        net,
        &tls_client(&net.server_dir, Some(local), None),
        "/v1/enroll",
        &v,
    );
    if a.status != 200 {
        return (a, None);
    }
    let r: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    let d = Device {
        id: r["device_id"].as_str().unwrap().to_string(),
        secret: r["device_secret"]
            .as_str()
            .map(str::to_string)
            .or_else(|| again.and_then(|d| d.secret.clone())),
        client: tls_client(
            &net.server_dir,
            Some(local),
            Some((r["certificate"].as_str().unwrap(), &key)),
        ),
    };
    (a, Some(d))
}

fn enroll(net: &Net, ip: &str) -> Device {
    let (a, d) = try_enroll(net, ip, None);
    assert_eq!(a.status, 200, "{}", a.body);
    d.unwrap()
}

fn heartbeat(net: &Net, d: &Device) -> Answer {
    let v = serde_json::json!({"device_id": d.id, "progress": [], "stuck": []});
    post(net, &d.client, "/v1/heartbeat", &v)
}

/// A report of `n` transfers of made-up contents: each one a row.
fn full_report(d: &Device, n: usize, seed: u64) -> serde_json::Value {
    let transfers: Vec<_> = (0..n)
        .map(|i| {
            serde_json::json!({"content_id": sha256_hex(&(seed * 100_000 + i as u64).to_le_bytes()),
                "tier": "server", "source_device": null, "bytes": 1_000_000, "pieces": 1, "ok": true})
        })
        .collect();
    serde_json::json!({"device_id": d.id, "transfers": transfers, "bad": [], "uploads": []})
}

fn wal_bytes(net: &Net) -> u64 {
    std::fs::metadata(net.server_dir.join("p2pd.db-wal"))
        .map(|m| m.len())
        .unwrap_or(0)
}

fn central() -> Net {
    Net::new(&[("Central", "", "default", "127.1.1.0/24", "")])
}

/// Finding 4: 1 GiB worth of reports (about 110,000 entries, ~9.7 KB of
/// WAL each before the fix), sent as fast as serve takes them by 22 made-up
/// devices within their default write budgets, leave the WAL under three
/// times `wal_limit_mb` (the documented bound), and heartbeats are still
/// answered meanwhile. Before the fix the WAL grew to ~1 GiB.
#[test]
fn a_report_flood_keeps_the_wal_under_its_bound_and_serve_answers() {
    let mut net = central();
    net.start_serve();
    let devices: Vec<Device> = (10..32)
        .map(|i| enroll(&net, &format!("127.1.1.{i}")))
        .collect();
    let limit = 64u64 << 20; // the default wal_limit_mb
    let stop = Arc::new(AtomicBool::new(false));
    let max_wal = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, max_wal, path) = (stop.clone(), max_wal.clone(), net.server_dir.clone());
        std::thread::spawn(move || {
            let p = path.join("p2pd.db-wal");
            for _ in 0..60_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let n = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
                max_wal.fetch_max(n, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let target = 110_000usize;
    let written = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(22);
    let net = Arc::new(net);
    let queue = Arc::new(Mutex::new(
        devices
            .iter()
            .flat_map(|d| (0..5u64).map(move |k| (d.clone(), k)))
            .collect::<Vec<_>>(),
    ));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (net, queue, written, refused) =
                (net.clone(), queue.clone(), written.clone(), refused.clone());
            std::thread::spawn(move || {
                while Instant::now() < deadline && written.load(Ordering::Relaxed) < target {
                    let Some((d, k)) = queue.lock().unwrap().pop() else {
                        return;
                    };
                    let body = full_report(
                        &d,
                        1024,
                        k * 100 + d.id.len() as u64 + d.id.as_bytes()[0] as u64 * 7,
                    );
                    // Refused for the WAL: a flooder comes straight back.
                    for _ in 0..2_000 {
                        let a = post(&net, &d.client, "/v1/report", &body);
                        if a.status == 204 {
                            written.fetch_add(1024, Ordering::Relaxed);
                            break;
                        }
                        assert_eq!(a.status, 429, "{}", a.body);
                        assert!(a.retry_after.is_some_and(|s| s >= 1), "{}", a.body);
                        refused.fetch_add(1, Ordering::Relaxed);
                        if Instant::now() > deadline {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            })
        })
        .collect();
    // Serve keeps answering while the flood runs.
    let t = Instant::now();
    let mut slowest = Duration::ZERO;
    while workers.iter().any(|w| !w.is_finished()) && t.elapsed() < Duration::from_secs(25) {
        let t = Instant::now();
        let a = heartbeat(&net, &devices[0]);
        assert_eq!(a.status, 200, "{}", a.body);
        slowest = slowest.max(t.elapsed());
        std::thread::sleep(Duration::from_millis(200));
    }
    for w in workers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let (written, refused) = (
        written.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed),
    );
    let max = max_wal.load(Ordering::Relaxed);
    let log = std::fs::read_to_string(net.root.path().join("serve.log")).unwrap_or_default();
    let truncations = log.matches("checkpointed and truncated").count();
    eprintln!(
        "written {written} entries, {refused} refusals, max WAL {} MiB, {truncations} truncations \
         over the limit, slowest heartbeat {slowest:?}",
        max >> 20
    );
    assert!(written >= 40_000, "the flood hardly ran: {written} entries");
    assert!(
        max < 3 * limit,
        "the WAL reached {} MiB, over 3 × wal_limit_mb",
        max >> 20
    );
    assert!(
        slowest < Duration::from_secs(5),
        "a heartbeat took {slowest:?}"
    );
    // And it is truncated once the flood is over.
    eventually("the WAL is truncated", Duration::from_secs(40), || {
        wal_bytes(&net) <= limit
    });
    let (code, h) = health(&net.server_dir, &[]);
    assert_eq!(check(&h, "wal")["status"], "pass", "{h:#} {code}");
}

/// Finding 4: one device past `device_writes_per_min` (6,000 by default;
/// a real agent sends tens a report) is refused with a clear 429 and
/// `Retry-After`, and other devices are not.
#[test]
fn a_device_over_its_write_budget_is_refused_with_429_and_retry_after() {
    let mut net = central();
    net.start_serve();
    let a = enroll(&net, "127.1.1.10");
    let b = enroll(&net, "127.1.1.11");
    let t = Instant::now();
    let mut accepted = 0;
    let mut refused = None;
    for k in 0..12 {
        let r = post(&net, &a.client, "/v1/report", &full_report(&a, 1024, k));
        if r.status != 204 {
            refused = Some(r);
            break;
        }
        accepted += 1024;
    }
    // A minute's worth (6,000) goes through at once, and no more than it
    // and what refilled meanwhile (100 a second) plus one report.
    let refill = (t.elapsed().as_secs_f64() * 100.0) as usize;
    assert!(
        (5 * 1024..=6000 + refill + 1024).contains(&accepted),
        "{accepted} entries accepted in {:?}",
        t.elapsed()
    );
    let r = refused.expect("a report refused");
    assert_eq!(r.status, 429, "{}", r.body);
    let secs = r.retry_after.expect("a Retry-After header");
    assert!((1..=60).contains(&secs), "Retry-After {secs}");
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["error"]["code"], "rate_limited", "{}", r.body);
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("device_writes_per_min") && msg.contains(&a.id),
        "{msg}"
    );
    // Another device is not held back by it.
    let r = post(&net, &b.client, "/v1/report", &full_report(&b, 100, 9));
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(heartbeat(&net, &b).status, 200);
}

/// `p2pd ARGS` with extra environment (a fault switch).
fn p2pd_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Finding 7: new devices are rate-limited per source address and by the
/// licence cap, each refusal naming its setting; a renewal of an existing
/// device from an exhausted address is not blocked; devices that enrolled
/// and never sent a heartbeat expire from `licenses`, `report` and the
/// cap. Before the fix one address enrolled 105,029 devices.
#[test]
fn enrollments_are_rate_limited_capped_and_ghosts_expire() {
    let mut net = central();
    ok(
        &net.server_dir,
        &["settings", "set", "enroll_per_address_per_min", "4"],
    );
    ok(&net.server_dir, &["settings", "set", "license_cap", "6"]);
    let (cid, _) = net.publish("app", MIB, 1);
    // Devices that never heartbeat stop counting after 3 s (10 min for real).
    let fault = [("P2PD_FAULT_UNCONFIRMED_SECS", "3")];
    net.serve_env.push((fault[0].0.into(), fault[0].1.into()));
    net.start_serve();
    let first: Vec<Device> = (0..4).map(|_| enroll(&net, "127.1.1.10")).collect();
    let (r, _) = try_enroll(&net, "127.1.1.10", None);
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.retry_after.is_some());
    assert!(
        r.body.contains("rate_limited") && r.body.contains("enroll_per_address_per_min"),
        "{}",
        r.body
    );
    // A renewal from the same, exhausted, address goes through.
    let (r, renewed) = try_enroll(&net, "127.1.1.10", Some(&first[0]));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(renewed.unwrap().id, first[0].id);
    // Two more from another address reach the cap of 6; the next is refused.
    let e = enroll(&net, "127.1.1.11");
    let f = enroll(&net, "127.1.1.11");
    let (r, _) = try_enroll(&net, "127.1.1.12", None);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body.contains("license_limit") && r.body.contains("license_cap"),
        "{}",
        r.body
    );
    // Only e and f heartbeat; the four others never do, and expire.
    for d in [&e, &f] {
        assert_eq!(heartbeat(&net, d).status, 200);
    }
    std::thread::sleep(Duration::from_secs(4));
    let licenses: serde_json::Value =
        serde_json::from_str(&p2pd_env(&net.server_dir, &["licenses", "--json"], &fault)).unwrap();
    let mut ids: Vec<&str> = licenses
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["device_id"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut want = vec![e.id.as_str(), f.id.as_str()];
    want.sort();
    assert_eq!(ids, want, "{licenses:#}");
    let report: serde_json::Value = serde_json::from_str(&p2pd_env(
        &net.server_dir,
        &["report", "--json", &cid],
        &fault,
    ))
    .unwrap();
    let targeted: u64 = report[0]["offices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["devices_targeted"].as_u64().unwrap())
        .sum();
    assert_eq!(targeted, 2, "{report:#}");
    // Under the cap again: a new device gets a licence.
    enroll(&net, "127.1.1.12");
}

/// Finding 7: `health` warns when enrollments spike (here 101 new devices
/// within the rates, in seconds), naming what to do.
#[test]
fn health_warns_when_enrollments_spike() {
    let mut net = central();
    net.start_serve();
    for i in 0..101 {
        enroll(&net, &format!("127.1.1.{}", 10 + i % 100));
    }
    let (_, h) = health(&net.server_dir, &[]);
    let c = check(&h, "enrollments");
    assert_eq!(c["status"], "warn", "{c:#}");
    assert!(
        c["detail"].as_str().unwrap().contains("101 new devices"),
        "{c:#}"
    );
    assert!(c["fix"].as_str().unwrap().contains("license_cap"), "{c:#}");
}

/// Finding 13: a distribution to three agents in one office (elections,
/// sources, reports) logs no "attempt to write a readonly database" errors
/// (serve's readers refused writes that it then ran on its writer, and
/// logged each as an internal error), and no agent is rate limited.
#[test]
fn a_normal_distribution_logs_no_readonly_errors() {
    let mut net = central();
    ok(
        &net.server_dir,
        &["settings", "set", "distribution_optimization", "on"],
    );
    net.start_serve();
    for i in 0..3 {
        let ip = format!("127.1.1.{}", 20 + i);
        let n = net.add_agent(&format!("a{i}"), &ip, "g", &[]);
        net.start_agent(n);
    }
    let (_, data) = net.publish("app", 4 * MIB, 7);
    assert!(
        net.wait_delivered(&net.all(), "app.bin", Duration::from_secs(60)),
        "not delivered"
    );
    for a in &net.agents {
        assert_eq!(a.delivered("app.bin").unwrap(), data);
    }
    net.stop_serve();
    let log = std::fs::read_to_string(net.root.path().join("serve.log")).unwrap();
    let bad: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("readonly") || l.contains("ERROR") || l.contains("rate_limited"))
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// Finding 13: after `kill -9` and a restart on SQLite, the former serve
/// process is not reported as a dead replica.
#[test]
fn a_killed_and_restarted_serve_is_not_a_dead_replica() {
    let mut net = central();
    net.start_serve();
    // Its replica row is written at start.
    eventually("serve records itself", Duration::from_secs(10), || {
        let (_, h) = health(&net.server_dir, &[]);
        check(&h, "replicas")["status"] == "pass"
    });
    let mut old = net.serve.take().unwrap();
    unsafe { libc::kill(old.id() as i32, libc::SIGKILL) };
    old.wait().unwrap();
    net.start_serve();
    // The old row would be stale after 3 beats (8 s).
    std::thread::sleep(Duration::from_secs(9));
    let (code, h) = health(&net.server_dir, &[]);
    let c = check(&h, "replicas");
    assert_eq!(c["status"], "pass", "{c:#} (exit {code})");
    assert!(c["detail"].as_str().unwrap().starts_with("1 up"), "{c:#}");
}

/// Finding 4: `health` warns when the WAL is over `wal_limit_mb` (here
/// another process holds 6 MiB of it while no serve truncates it).
#[test]
fn health_warns_when_the_wal_is_over_its_limit() {
    let net = central();
    ok(&net.server_dir, &["settings", "set", "wal_limit_mb", "4"]);
    let db = rusqlite::Connection::open(net.server_dir.join("p2pd.db")).unwrap();
    db.execute_batch(
        "PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = -1;
         CREATE TABLE junk (b BLOB);",
    )
    .unwrap();
    for _ in 0..6 {
        db.execute("INSERT INTO junk VALUES (zeroblob(1048576))", [])
            .unwrap();
    }
    assert!(wal_bytes(&net) > 5 << 20, "{}", wal_bytes(&net));
    let (_, h) = health(&net.server_dir, &[]);
    let c = check(&h, "wal");
    assert_eq!(c["status"], "warn", "{c:#}");
    assert!(
        c["detail"].as_str().unwrap().contains("over wal_limit_mb"),
        "{c:#}"
    );
    drop(db);
}

/// The store reads two settings itself, by names and a default of its own
/// (it is below `settings` in the layers): they must be the settings'.
#[test]
fn the_store_reads_the_settings_by_their_names() {
    use p2pd::domain::settings::Setting;
    assert_eq!(Setting::WalLimitMb.name(), p2pd::store::WAL_LIMIT_SETTING);
    assert_eq!(
        Setting::WalLimitMb.default_value(),
        p2pd::store::WAL_LIMIT_MB_DEFAULT.to_string()
    );
    assert_eq!(Setting::LicenseCap.name(), p2pd::store::LICENSE_CAP_SETTING);
}

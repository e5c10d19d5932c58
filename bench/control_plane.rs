//! Control-plane benchmark (issue 5): many simulated devices enrolling and
//! heartbeating against one `p2pd serve`.
//!
//! ```text
//! cargo bench --bench control_plane                       # 5,000 devices, 500 heartbeats/s, 20 s
//! cargo bench --bench control_plane -- --devices 1000 --rate 200 --secs 10
//! cargo bench --bench control_plane -- --devices 1000 --ranges 50000   # + a 10,000-office topology
//! cargo bench --bench control_plane -- --server http://127.0.0.1:7650 --key-file D/shared.key   # a `serve --insecure-plain-http`
//! cargo bench --bench control_plane -- --database postgres://… --replicas 2   # issue 15
//! ```
//!
//! With `--database URL` (an empty PostgreSQL database) the throw-away
//! install is moved there with `p2pd db copy` and `--replicas N` serve
//! processes run on it; devices are spread over them round-robin (device
//! `i` talks to replica `i % N`), and the server's CPU and memory are the
//! sum over the replicas.
//!
//! Without `--server` it installs a throw-away server in /tmp (20 offices,
//! 127.2.N.0/24, one published package of `--package-mib` MiB, default 1024,
//! a sparse file, targeted at group `g`), starts
//! the release `p2pd serve` on 127.0.0.1 and stops it at the end.
//!
//! Devices are simulated: each one enrolls with its own address 127.2.N.x
//! (nothing binds it); then heartbeats go out open-loop at `--rate` per
//! second in total, round-robin over the devices, each reporting progress on
//! the published content, over the keep-alive connections of one HTTP client
//! pool. Latency is measured two ways: from the moment the request was due
//! (so a stalled server or client shows up, no coordinated omission), and
//! from the moment it was actually sent.
//!
//! It prints p50/p99/max for enrollment and heartbeats, the server's VmRSS and
//! VmHWM, and its CPU time per heartbeat, then one JSON line (also appended
//! to `--out FILE` if given).
//!
//! Only loopback traffic. Every phase is bounded in count and time; the
//! server process is killed when the bench ends, also on error or panic.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::Method;
use p2pd::http::SignedClient;
use p2pd::key::SharedKey;
use p2pd::proto::{
    AddrInfo, EnrollRequest, EnrollResponse, HeartbeatRequest, HeartbeatResponse, Progress,
};

const OFFICES: usize = 20;

struct Opts {
    devices: usize,
    rate: u64,
    secs: u64,
    enroll_concurrency: usize,
    package_mib: u64,
    /// Extra ranges (in ranges/5 offices, from bench/topology/generate.py)
    /// imported besides the device offices: a realistic topology size for
    /// the enrollment lookup. 0 = none.
    ranges: usize,
    server: Option<String>,
    key_file: Option<PathBuf>,
    out: Option<PathBuf>,
    /// A PostgreSQL URL: run the server(s) on it (issue 15).
    database: Option<String>,
    /// How many serve replicas to run on `database`.
    replicas: usize,
}

fn opts() -> Opts {
    let mut o = Opts {
        devices: 5000,
        rate: 500,
        secs: 20,
        enroll_concurrency: 16,
        package_mib: 1024,
        ranges: 0,
        server: None,
        key_file: None,
        out: None,
        database: None,
        replicas: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--devices" => o.devices = val().parse().expect("--devices N"),
            "--rate" => o.rate = val().parse().expect("--rate N"),
            "--secs" => o.secs = val().parse().expect("--secs N"),
            "--enroll-concurrency" => o.enroll_concurrency = val().parse().expect("N"),
            "--package-mib" => o.package_mib = val().parse().expect("--package-mib N"),
            "--ranges" => o.ranges = val().parse().expect("--ranges N"),
            "--server" => o.server = Some(val()),
            "--key-file" => o.key_file = Some(val().into()),
            "--out" => o.out = Some(val().into()),
            "--database" => o.database = Some(val()),
            "--replicas" => o.replicas = val().parse().expect("--replicas N"),
            // `cargo bench` passes `--bench`; libtest-style filters are ignored too.
            _ => {}
        }
    }
    assert!(
        o.devices > 0 && o.devices <= OFFICES * 250,
        "--devices must be 1..=5000"
    );
    assert!(o.rate > 0 && o.rate <= 20_000 && o.secs > 0 && o.secs <= 600);
    o
}

/// Device `i`'s address: office `i / 250`, host `i % 250 + 1`.
fn device_ip(i: usize) -> IpAddr {
    IpAddr::from([127, 2, (i / 250) as u8, (i % 250 + 1) as u8])
}

/// The `p2pd serve` this bench started (and its other replicas); killed on
/// drop (error or panic too).
struct Server {
    child: Child,
    replicas: Vec<Child>,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        for c in &mut self.replicas {
            let _ = c.kill();
            let _ = c.wait();
        }
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bin() -> PathBuf {
    std::env::var_os("P2PD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_p2pd")))
}

fn p2pd(dir: &Path, args: &[&str]) {
    let out = Command::new(bin())
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .output()
        .expect("run p2pd");
    assert!(
        out.status.success(),
        "p2pd {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Installs and starts a throw-away server; returns it, its URL and key file.
fn start_server(
    package_mib: u64,
    ranges: usize,
    database: Option<&str>,
    replicas: usize,
) -> (Server, Vec<String>, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("p2pd-control-plane.")
        .tempdir_in("/tmp")
        .expect("temp dir");
    let server_dir = dir.path().join("server");
    let storage = dir.path().join("storage");
    let pkg = storage.join("pkg/1.0/pkg.bin");
    std::fs::create_dir_all(pkg.parent().expect("has parent")).expect("mkdir storage");
    // Sparse: no disk, but a manifest as big as a real package's (what the
    // heartbeat handler loads to check reported progress against).
    std::fs::File::create(&pkg)
        .and_then(|f| f.set_len(package_mib << 20))
        .expect("create package");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    p2pd(
        &server_dir,
        &[
            "install",
            "--server-name",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--file-storage",
            storage.to_str().expect("utf-8 path"),
        ],
    );
    let mut csv = String::from("office,parent,type,ranges,wan_kbps,description\n");
    let mut root = "Office0".to_string();
    if ranges > 0 {
        // The generated sheet brings its own root, "Central Office".
        let generated = Command::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/topology/generate.py"))
            .arg((ranges / 5).max(1).to_string())
            .arg(ranges.to_string())
            .output()
            .expect("run bench/topology/generate.py");
        assert!(generated.status.success(), "generate.py failed");
        csv = String::from_utf8(generated.stdout).expect("utf-8 topology");
        root = "Central Office".into();
        csv.push_str(&format!("Office0,{root},default,127.2.0.0/24,,\n"));
    } else {
        // One root (the Central Office); the others are its children.
        csv.push_str("Office0,,default,127.2.0.0/24,,\n");
    }
    for n in 1..OFFICES {
        csv.push_str(&format!("Office{n},{root},default,127.2.{n}.0/24,,\n"));
    }
    let topo = dir.path().join("topology.csv");
    std::fs::write(&topo, csv).expect("write topology");
    p2pd(
        &server_dir,
        &["topology", "import", topo.to_str().expect("utf-8")],
    );
    p2pd(&server_dir, &["groups", "assign", "g"]);
    p2pd(&server_dir, &["publish", "--all"]);
    // Simulated devices claim addresses in the offices' ranges but all
    // connect from 127.0.0.1, like devices behind NAT.
    p2pd(
        &server_dir,
        &["settings", "set", "trust_claimed_addresses", "on"],
    );
    if let Some(url) = database {
        p2pd(&server_dir, &["db", "copy", "--to", url]);
    }
    let spawn = |dir: &Path, port: u16, log: &Path| {
        let log = std::fs::File::create(log).expect("serve log");
        let mut cmd = Command::new(bin());
        // Plain HTTP: this measures the control plane (database,
        // scheduling), and thousands of simulated devices do not each
        // hold a certificate.
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--insecure-plain-http")
            .arg("--data-dir")
            .arg(dir)
            .env("P2PD_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(url) = database {
            cmd.env("P2PD_DATABASE_URL", url);
        }
        let child = cmd.spawn().expect("spawn serve");
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "serve did not start within 15 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        child
    };
    let child = spawn(&server_dir, port, &dir.path().join("serve.log"));
    let mut urls = vec![format!("http://127.0.0.1:{port}")];
    let mut others = Vec::new();
    for k in 1..replicas.max(1) {
        let rdir = dir.path().join(format!("replica-{k}"));
        std::fs::create_dir_all(&rdir).expect("replica dir");
        std::fs::copy(server_dir.join("db.key"), rdir.join("db.key")).expect("copy db.key");
        let p = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        others.push(spawn(&rdir, p, &rdir.join("serve.log")));
        urls.push(format!("http://127.0.0.1:{p}"));
    }
    let server = Server {
        child,
        replicas: others,
        _dir: dir,
    };
    let key = server_dir.join("shared.key");
    (server, urls, key)
}

/// (VmRSS, VmHWM) in KiB, and utime+stime in clock ticks, of a process.
fn proc_stats(pid: u32) -> Option<(u64, u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at ')'.
    let rest: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = rest.get(11)?.parse::<u64>().ok()? + rest.get(12)?.parse::<u64>().ok()?;
    Some((field("VmRSS:")?, field("VmHWM:")?, ticks))
}

struct Summary {
    n: usize,
    p50: f64,
    p99: f64,
    max: f64,
}

/// Milliseconds; nearest-rank percentiles.
fn summarize(mut v: Vec<f64>) -> Summary {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let rank = |q: f64| v[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
    Summary {
        n,
        p50: rank(0.50),
        p99: rank(0.99),
        max: v[n - 1],
    }
}

fn json(s: &Summary) -> serde_json::Value {
    serde_json::json!({"n": s.n, "p50_ms": round(s.p50), "p99_ms": round(s.p99), "max_ms": round(s.max)})
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    serde_json::json!({
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu": cpu,
        "loadavg": load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    })
}

fn main() {
    let o = opts();
    let (server, urls, key_file) = match (&o.server, &o.key_file) {
        (Some(u), Some(k)) => (
            None,
            u.split(',').map(str::to_string).collect::<Vec<_>>(),
            k.clone(),
        ),
        (Some(_), None) => panic!("--server needs --key-file"),
        _ => {
            let (s, u, k) =
                start_server(o.package_mib, o.ranges, o.database.as_deref(), o.replicas);
            (Some(s), u, k)
        }
    };
    let pids: Vec<u32> = server
        .as_ref()
        .map(|s| {
            std::iter::once(s.child.id())
                .chain(s.replicas.iter().map(|c| c.id()))
                .collect()
        })
        .unwrap_or_default();
    let key = SharedKey::load(&key_file).expect("load shared key");
    // Two worker threads: the machine has two cores, shared with the server.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let result = rt.block_on(bench(&o, &urls, key, &pids));
    let line = result.to_string();
    println!("{line}");
    if let Some(out) = &o.out {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(out)
            .expect("open --out");
        writeln!(f, "{line}").expect("write --out");
    }
    drop(server);
}

/// [`proc_stats`] summed over the server processes (replicas).
fn all_stats(pids: &[u32]) -> Option<(u64, u64, u64)> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().try_fold((0, 0, 0), |acc, &p| {
        let s = proc_stats(p)?;
        Some((acc.0 + s.0, acc.1 + s.1, acc.2 + s.2))
    })
}

async fn bench(o: &Opts, urls: &[String], key: SharedKey, pids: &[u32]) -> serde_json::Value {
    let client = SignedClient::new(key, None).expect("http client");
    let start_machine = machine();
    let stats0 = all_stats(pids);
    // Device i talks to replica i % N.
    let urls: Arc<Vec<String>> = Arc::new(urls.to_vec());

    // Phase 1: enrollment, `enroll_concurrency` at a time.
    eprintln!(
        "[control_plane] enrolling {} devices ({} at a time)",
        o.devices, o.enroll_concurrency
    );
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t_enroll = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..o.enroll_concurrency.max(1) {
        let (client, urls, next) = (client.clone(), urls.clone(), next.clone());
        let devices = o.devices;
        workers.spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= devices {
                    return done;
                }
                let req = EnrollRequest {
                    device_id: None,
                    hostname: format!("sim-{i}"),
                    addrs: vec![AddrInfo {
                        ip: device_ip(i),
                        prefix: 24,
                    }],
                    version: env!("CARGO_PKG_VERSION").to_string(),
                    group: "g".into(),
                    peer_url: format!("http://{}:7651", device_ip(i)),
                    csr: None,
                };
                let enroll_url = format!("{}/v1/enroll", urls[i % urls.len()]);
                let t = Instant::now();
                let r: Result<EnrollResponse, _> = client
                    .json(Method::POST, &enroll_url, &req, Duration::from_secs(30))
                    .await;
                let ms = t.elapsed().as_secs_f64() * 1e3;
                match r {
                    Ok(resp) => done.push((i, resp.device_id, ms)),
                    Err(e) => panic!("enroll of device {i} failed: {e}"),
                }
            }
        });
    }
    let mut ids = vec![String::new(); o.devices];
    let mut enroll_ms = Vec::with_capacity(o.devices);
    while let Some(r) = workers.join_next().await {
        for (i, id, ms) in r.expect("enroll worker") {
            ids[i] = id;
            enroll_ms.push(ms);
        }
    }
    let enroll_secs = t_enroll.elapsed().as_secs_f64();
    let enroll = summarize(enroll_ms);
    eprintln!(
        "[control_plane] enrolled in {enroll_secs:.1}s: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        enroll.p50, enroll.p99, enroll.max
    );
    let stats1 = all_stats(pids);

    // The content a heartbeat reports progress on, as real agents do.
    let hb_url = format!("{}/v1/heartbeat", urls[0]);
    let first: HeartbeatResponse = client
        .json(
            Method::POST,
            &hb_url,
            &HeartbeatRequest {
                device_id: ids[0].clone(),
                progress: vec![],
                stuck: vec![],
                clock_offset: None,
            },
            Duration::from_secs(10),
        )
        .await
        .expect("first heartbeat");
    let content = first.contents.first().map(|c| c.id.clone());
    let ids = Arc::new(ids);

    // Phase 2: heartbeats, open loop at `rate` per second for `secs`.
    let total = o.rate * o.secs;
    eprintln!("[control_plane] {total} heartbeats at {}/s", o.rate);
    let period = Duration::from_secs_f64(1.0 / o.rate as f64);
    let t_hb = tokio::time::Instant::now();
    let mut from_due = Vec::with_capacity(total as usize);
    let mut from_sent = Vec::with_capacity(total as usize);
    let mut errors = 0u64;
    let mut reap = |r: Result<(bool, f64, f64), tokio::task::JoinError>| match r {
        Ok((ok, due, sent)) => {
            if !ok {
                errors += 1;
            }
            from_due.push(due);
            from_sent.push(sent);
        }
        Err(_) => errors += 1,
    };
    let mut tasks = tokio::task::JoinSet::new();
    for k in 0..total {
        let due = t_hb + period * k as u32;
        tokio::time::sleep_until(due).await;
        let i = (k as usize) % ids.len();
        let (client, ids, content) = (client.clone(), ids.clone(), content.clone());
        let hb_url = format!("{}/v1/heartbeat", urls[i % urls.len()]);
        tasks.spawn(async move {
            let sent = tokio::time::Instant::now();
            let req = HeartbeatRequest {
                device_id: ids[i].clone(),
                progress: content
                    .into_iter()
                    .map(|c| Progress {
                        content_id: c,
                        pieces: (k % 2) as u32,
                        done: false,
                        done_at_ms: None,
                        bytes: k,
                        blocked: false,
                    })
                    .collect(),
                stuck: vec![],
                clock_offset: Some(0),
            };
            let r: Result<HeartbeatResponse, _> = client
                .json(Method::POST, &hb_url, &req, Duration::from_secs(10))
                .await;
            let end = tokio::time::Instant::now();
            if let Err(e) = &r {
                eprintln!("[control_plane] heartbeat {k} failed: {e}");
            }
            (
                r.is_ok(),
                (end - due).as_secs_f64() * 1e3,
                (end - sent).as_secs_f64() * 1e3,
            )
        });
        // Reap finished requests as we go so the set stays small.
        while let Some(r) = tasks.try_join_next() {
            reap(r);
        }
    }
    let sending_secs = t_hb.elapsed().as_secs_f64();
    // Every request has its own 10 s timeout; this bounds the drain.
    while let Ok(Some(r)) = tokio::time::timeout(Duration::from_secs(15), tasks.join_next()).await {
        reap(r);
    }
    let stats2 = all_stats(pids);
    let hb_due = summarize(from_due);
    let hb_sent = summarize(from_sent);
    let achieved = hb_due.n as f64 / sending_secs;
    eprintln!(
        "[control_plane] heartbeats: {} done ({errors} errors) at {achieved:.0}/s; \
         from due: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; from sent: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        hb_due.n, hb_due.p50, hb_due.p99, hb_due.max, hb_sent.p50, hb_sent.p99, hb_sent.max
    );
    let tick = 100.0; // USER_HZ on Linux
    let server = match (stats0, stats1, stats2) {
        (Some(s0), Some(s1), Some(s2)) => {
            eprintln!(
                "[control_plane] serve VmRSS {:.1} MiB, VmHWM {:.1} MiB (idle {:.1} MiB)",
                s2.0 as f64 / 1024.0,
                s2.1 as f64 / 1024.0,
                s0.0 as f64 / 1024.0
            );
            serde_json::json!({
                "vmrss_kib_idle": s0.0,
                "vmrss_kib_after_enroll": s1.0,
                "vmrss_kib_after_heartbeats": s2.0,
                "vmhwm_kib": s2.1,
                "cpu_s_enroll": (s1.2 - s0.2) as f64 / tick,
                "cpu_s_heartbeats": (s2.2 - s1.2) as f64 / tick,
                "cpu_ms_per_heartbeat": round((s2.2 - s1.2) as f64 / tick * 1e3 / hb_due.n as f64),
            })
        }
        _ => serde_json::Value::Null,
    };
    serde_json::json!({
        "bench": "control_plane",
        "devices": o.devices,
        "rate": o.rate,
        "secs": o.secs,
        "package_mib": o.package_mib,
        "backend": if o.database.is_some() { "postgresql" } else { "sqlite" },
        "replicas": urls.len(),
        "machine_start": start_machine,
        "machine_end": machine(),
        "enroll": {
            "concurrency": o.enroll_concurrency,
            "secs": round(enroll_secs),
            "per_sec": round(o.devices as f64 / enroll_secs),
            "latency": json(&enroll),
        },
        "heartbeat": {
            "errors": errors,
            "achieved_per_sec": round(achieved),
            "latency_from_due": json(&hb_due),
            "latency_from_sent": json(&hb_sent),
        },
        "server": server,
    })
}

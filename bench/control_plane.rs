//! Control-plane benchmark (design note `distribution-core` and `fleet-scale`): many simulated devices
//! enrolling, heartbeating and asking for sources against one `p2pd serve`,
//! with a `topology import` in the middle of the load.
//!
//! ```text
//! cargo bench --bench control_plane                       # 5,000 devices, 500 heartbeats/s, 20 s
//! cargo bench --bench control_plane -- --devices 1000 --rate 200 --secs 10
//! # design note `fleet-scale`'s acceptance run:
//! cargo bench --bench control_plane -- --devices 100000 --offices 5000 --ranges 50000 \
//!     --rate 10000 --sources-rate 1000 --secs 30 --json
//! cargo bench --bench control_plane -- --server http://127.0.0.1:7650 --key-file D/shared.key
//! cargo bench --bench control_plane -- --server https://127.0.0.1:7650 --key-file D/shared.key --ca D/ca.pem
//! # connection reuse for every device, and the same over plain HTTP (what TLS costs):
//! cargo bench --bench control_plane -- --devices 15000 --offices 1000 --connections 15000 --rate 2000
//! cargo bench --bench control_plane -- --devices 15000 --offices 1000 --connections 15000 --rate 2000 --plain
//! # design note `replicas`: serve on PostgreSQL (an empty database), one or more replicas
//! cargo bench --bench control_plane -- --database postgres://USER@/DB?host=/var/run/postgresql --replicas 2
//! ```
//!
//! With `--database URL` (an empty PostgreSQL database) the throw-away
//! install is moved there with `p2pd db copy` before serve starts, and
//! `--replicas N` serve processes run on it (each with its own data dir
//! holding only db.key); device `i` talks to replica `i % N`. The server's
//! CPU and memory are summed over the replicas, and PostgreSQL's own CPU
//! (the postmaster and its children, found from a backend's parent pid) is
//! reported next to it.
//!
//! Without `--server` it installs a throw-away server in /tmp and starts the
//! release `p2pd serve` on 127.0.0.1 (stopped at the end, also on panic):
//! `--offices` device offices (default 20), office `n` owning the /23 at
//! 127.64.0.0 + 512·n; with `--ranges R` also the R-range, R/5-office sheet
//! of bench/topology/generate.py (so `--ranges 50000` is the 10,000-office
//! sheet) under which the device offices hang; one published package of
//! `--package-mib` MiB (default 1024, a sparse file) targeted at group `g`.
//!
//! Devices: a tenth of them (in whole offices of 500) sit in "big" offices,
//! the rest spread evenly over the other offices. Each device has its own
//! address in its office (nothing binds it) and its own identity, and
//! speaks the protocol as the agent does (the agent's own client,
//! `p2pd::wire::http::SignedClient`): serve runs with TLS (its CA made by
//! `install`); a device makes a key pair and a CSR, enrolls with it over
//! TLS, installs the device certificate it gets back and from then on
//! talks over mutual TLS on its own keep-alive connection, signing every
//! request with the shared key, its device id and its counter. Devices
//! connect from 64 local addresses (127.3.0.1-64, device `i` from
//! `i % 64`), as serve caps connections per source address. `--plain`
//! runs serve with `--insecure-plain-http` instead (the same requests
//! without TLS), to measure what TLS costs.
//!
//! Connections: one per device, as agents keep theirs, but at most
//! `--connections` (default: every device's, as far as the open-file
//! limit allows, keeping a quarter of it for serve's other connections)
//! open at once: a device's client is
//! kept in a first-in first-out cache of that size, and a device whose
//! client was dropped makes a new one (a new TLS handshake) on its next
//! request. With more devices than kept connections most requests open a
//! new connection. The bench raises RLIMIT_NOFILE to 262,144 where it may
//! (as root; else to the hard limit), serve inherits it and fits its
//! connection cap to it (at most 131,072), so `--connections 100000` keeps
//! one connection per device for 100,000 devices. At most
//! `--in-flight` (default 4,096) requests are in flight at once; a request
//! waiting for its turn counts in its latency from due.
//!
//! Phases:
//! 1. enrollment storm: every device enrolls, `--enroll-concurrency` at a time,
//!    and then heartbeats once, as the agent does right after enrolling
//!    (with TLS this opens its mutual-TLS connection); `enroll.per_sec`
//!    counts both, `enroll.latency` the enrollment request alone and
//!    `enroll.first_heartbeat` the heartbeat;
//! 2. load for `--secs`: heartbeats open-loop at `--rate` per second, round
//!    robin over the devices, each reporting progress on the package as
//!    agents do; `/sources` open-loop at `--sources-rate` per second from
//!    devices of the big offices (all devices when there are none), mixed in;
//! 3. in the middle of the load (with `--ranges`), `p2pd topology import`
//!    of the whole sheet again (the device offices' descriptions changed, so
//!    it is a real replace), as an admin would run it on the same data dir.
//!
//! Latency is measured from the moment each request was due on the
//! open-loop schedule (a stalled server or client shows up: no coordinated
//! omission), and from the moment it was sent. `import_during_load` is the
//! worst from-due latency of any request that was due or in flight while
//! the import ran.
//!
//! Output: progress on stderr; on stdout a table, or with `--json` one JSON
//! line (also appended to `--out FILE` if given). Every non-2xx answer,
//! timeout or failed import counts in `errors`.
//!
//! Only loopback traffic. Every phase is bounded in count and time.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::http::Method;
use p2pd::trust::key::SharedKey;
use p2pd::wire::http::SignedClient;
use p2pd::wire::proto::{
    AddrInfo, EnrollRequest, EnrollResponse, HeartbeatRequest, HeartbeatResponse, Progress,
    SourcesRequest, SourcesResponse,
};

/// Most devices the bench simulates.
const MAX_DEVICES: usize = 200_000;
/// Device offices are /23s in 127.64.0.0/10: 8,192 of them fit.
const MAX_OFFICES: usize = 8192;
/// Devices per big office.
const BIG_OFFICE: usize = 500;
/// Usable hosts in a /23.
const HOSTS: usize = 510;
/// 127.64.0.0, the first device office's network.
const BASE: u32 = 0x7F40_0000;
/// Every request's own timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Local addresses ("lanes"): device `i` connects from 127.3.0.0 + 1 +
/// `i % LANES`. Real agents each come from their own address; from one
/// address the simulated devices would hit serve's per-address connection
/// cap, and one `Retry-After` would stall every one of them at once.
const LANES: usize = 64;

/// Devices whose client (and connection) is kept open at once by default:
/// 0, every device's (as agents keep theirs), as far as the open-file
/// limit allows.
const CONNECTIONS: usize = 0;
/// Requests in flight at once.
const IN_FLIGHT: usize = 4096;

struct Opts {
    devices: usize,
    connections: usize,
    in_flight: usize,
    /// serve with `--insecure-plain-http` (to measure what TLS costs).
    plain: bool,
    ca_file: Option<PathBuf>,
    offices: usize,
    rate: u64,
    sources_rate: u64,
    secs: u64,
    enroll_concurrency: usize,
    package_mib: u64,
    /// Ranges of the generated sheet imported besides the device offices
    /// (ranges/5 offices, bench/topology/generate.py). 0 = none.
    ranges: usize,
    /// Re-import the sheet in the middle of the load (default: with --ranges).
    import: bool,
    server: Option<String>,
    key_file: Option<PathBuf>,
    out: Option<PathBuf>,
    json: bool,
    /// `--database URL`: serve on this (empty) PostgreSQL database.
    database: Option<String>,
    /// `--replicas N`: serve processes on `database`.
    replicas: usize,
}

fn opts() -> Opts {
    let mut o = Opts {
        devices: 5000,
        connections: CONNECTIONS,
        in_flight: IN_FLIGHT,
        plain: false,
        ca_file: None,
        offices: 20,
        rate: 500,
        sources_rate: 0,
        secs: 20,
        enroll_concurrency: 32,
        package_mib: 1024,
        ranges: 0,
        import: true,
        server: None,
        key_file: None,
        out: None,
        json: false,
        database: None,
        replicas: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--devices" => o.devices = val().parse().expect("--devices N"),
            "--offices" => o.offices = val().parse().expect("--offices N"),
            "--rate" => o.rate = val().parse().expect("--rate N"),
            "--sources-rate" => o.sources_rate = val().parse().expect("--sources-rate N"),
            "--secs" => o.secs = val().parse().expect("--secs N"),
            "--enroll-concurrency" => o.enroll_concurrency = val().parse().expect("N"),
            "--package-mib" => o.package_mib = val().parse().expect("--package-mib N"),
            "--ranges" => o.ranges = val().parse().expect("--ranges N"),
            "--no-import" => o.import = false,
            "--server" => o.server = Some(val()),
            "--key-file" => o.key_file = Some(val().into()),
            "--out" => o.out = Some(val().into()),
            "--json" => o.json = true,
            "--connections" => o.connections = val().parse().expect("--connections N"),
            "--in-flight" => o.in_flight = val().parse().expect("--in-flight N"),
            "--plain" => o.plain = true,
            "--ca" => o.ca_file = Some(val().into()),
            "--database" => o.database = Some(val()),
            "--replicas" => o.replicas = val().parse().expect("--replicas N"),
            // `cargo bench` passes `--bench`; libtest-style filters are ignored too.
            _ => {}
        }
    }
    assert!(
        (1..=MAX_DEVICES).contains(&o.devices),
        "--devices must be 1..={MAX_DEVICES}"
    );
    assert!(
        (1..=MAX_OFFICES).contains(&o.offices),
        "--offices must be 1..={MAX_OFFICES}"
    );
    assert!(
        o.rate > 0 && o.rate <= 50_000 && o.sources_rate <= 10_000,
        "--rate must be 1..=50000 and --sources-rate 0..=10000"
    );
    assert!(o.secs > 0 && o.secs <= 600, "--secs must be 1..=600");
    assert!(
        (1..=8).contains(&o.replicas) && (o.replicas == 1 || o.database.is_some()),
        "--replicas must be 1..=8, and more than 1 needs --database"
    );
    o.import &= o.ranges > 0 && o.server.is_none();
    o
}

/// Where the simulated devices sit.
struct Layout {
    offices: usize,
    /// Offices holding [`BIG_OFFICE`] devices each: offices `0..big`,
    /// devices `0..big * BIG_OFFICE`.
    big: usize,
}

impl Layout {
    /// A tenth of the devices in big offices (never every office), the
    /// rest spread evenly over the others.
    fn new(devices: usize, offices: usize) -> Layout {
        let big = if offices >= 2 {
            (devices / 10 / BIG_OFFICE).min(offices - 1)
        } else {
            0
        };
        let rest = devices - big * BIG_OFFICE;
        assert!(
            rest.div_ceil(offices - big) <= HOSTS,
            "{devices} devices do not fit {offices} offices of at most {HOSTS}; add --offices"
        );
        Layout { offices, big }
    }

    /// Device `i`'s office and host number (0-based) in it.
    fn place(&self, i: usize) -> (usize, usize) {
        if i < self.big * BIG_OFFICE {
            (i / BIG_OFFICE, i % BIG_OFFICE)
        } else {
            let j = i - self.big * BIG_OFFICE;
            let small = self.offices - self.big;
            (self.big + j % small, j / small)
        }
    }

    fn ip(&self, i: usize) -> IpAddr {
        let (office, host) = self.place(i);
        IpAddr::V4(Ipv4Addr::from(BASE + (office * 512 + host + 1) as u32))
    }

    fn range(office: usize) -> String {
        format!("{}/23", Ipv4Addr::from(BASE + (office * 512) as u32))
    }

    /// The device that sends the `k`-th `/sources` request: the big
    /// offices in turn, each one's devices in turn (all devices when there
    /// is no big office).
    fn sources_device(&self, k: usize, devices: usize) -> usize {
        if self.big == 0 {
            return k % devices;
        }
        let office = k % self.big;
        let host = (k / self.big) % BIG_OFFICE;
        office * BIG_OFFICE + host
    }
}

/// The `p2pd serve` this bench started (and its other replicas); killed on
/// drop (error or panic too).
struct Server {
    child: Child,
    replicas: Vec<Child>,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        for c in &mut self.replicas {
            // SAFETY: plain kill(2) on our own child's pid.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let _ = c.wait();
        }
        // The server's log outlives the temp dir, for a look afterwards.
        std::fs::copy(
            self.dir.path().join("serve.log"),
            "/tmp/p2pd-control-plane-serve.log",
        )
        .ok();
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

/// The PostgreSQL postmaster serving `url`: the parent of the backend a
/// fresh connection gets (no privileges needed).
fn postmaster_pid(url: &str) -> u32 {
    let mut c = postgres::Client::connect(url, postgres::NoTls).expect("connect to --database");
    let backend: i32 = c
        .query_one("SELECT pg_backend_pid()", &[])
        .expect("pg_backend_pid")
        .get(0);
    let stat = std::fs::read_to_string(format!("/proc/{backend}/stat"))
        .expect("PostgreSQL on this machine (its CPU is measured from /proc)");
    let rest: Vec<&str> = stat
        .rsplit_once(')')
        .expect("stat")
        .1
        .split_whitespace()
        .collect();
    rest[1].parse().expect("ppid")
}

/// CPU clock ticks of a PostgreSQL cluster: the postmaster and its live
/// children (utime+stime), plus what its exited children used (the
/// postmaster's cutime+cstime).
fn postgres_ticks(postmaster: u32) -> Option<u64> {
    let fields = |pid: &str| -> Option<Vec<u64>> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = stat.rsplit_once(')')?.1;
        Some(
            rest.split_whitespace()
                .map(|f| f.parse().unwrap_or(0))
                .collect(),
        )
    };
    let pm = fields(&postmaster.to_string())?;
    // After ')': state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14).
    let mut total = pm[11] + pm[12] + pm[13] + pm[14];
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if let Some(f) = fields(pid)
            && f.get(1) == Some(&u64::from(postmaster))
        {
            total += f[11] + f[12];
        }
    }
    Some(total)
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

/// A server this bench installed and started.
struct Started {
    server: Server,
    /// Every replica's URL; the first is `server.child`'s.
    urls: Vec<String>,
    /// The server's CA, with TLS.
    ca_file: Option<PathBuf>,
    key_file: PathBuf,
    data_dir: PathBuf,
    /// The sheet re-imported during the load.
    reimport: PathBuf,
}

/// The topology sheet: the generated offices (if any) and the device
/// offices; `description` goes on every device office.
fn sheet(generated: Option<&str>, offices: usize, description: &str) -> String {
    let mut csv = String::from("office,parent,type,ranges,wan_kbps,description\n");
    let root = match generated {
        Some(g) => {
            // The generated sheet brings its own header and root.
            csv = g.to_string();
            "Central Office"
        }
        None => "Office0",
    };
    for n in 0..offices {
        let parent = if generated.is_none() && n == 0 {
            ""
        } else {
            root
        };
        csv.push_str(&format!(
            "Office{n},{parent},default,{},,{description}\n",
            Layout::range(n)
        ));
    }
    csv
}

/// Installs and starts a throw-away server.
fn start_server(o: &Opts) -> Started {
    let dir = tempfile::Builder::new()
        .prefix("p2pd-control-plane.")
        .tempdir_in("/tmp")
        .expect("temp dir");
    let server_dir = dir.path().join("server");
    let storage = dir.path().join("storage");
    let pkg = storage.join("pkg/1.0/pkg.bin");
    std::fs::create_dir_all(pkg.parent().expect("has parent")).expect("mkdir storage");
    // Sparse: no disk, but a manifest as big as a real package's.
    std::fs::File::create(&pkg)
        .and_then(|f| f.set_len(o.package_mib << 20))
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
    let generated = (o.ranges > 0).then(|| {
        let out = Command::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/topology/generate.py"))
            .arg((o.ranges / 5).max(1).to_string())
            .arg(o.ranges.to_string())
            .output()
            .expect("run bench/topology/generate.py");
        assert!(out.status.success(), "generate.py failed");
        String::from_utf8(out.stdout).expect("utf-8 topology")
    });
    let topo = dir.path().join("topology.csv");
    std::fs::write(&topo, sheet(generated.as_deref(), o.offices, "")).expect("write topology");
    let reimport = dir.path().join("topology-reimport.csv");
    std::fs::write(
        &reimport,
        sheet(generated.as_deref(), o.offices, "reimported"),
    )
    .expect("write topology");
    let t = Instant::now();
    p2pd(
        &server_dir,
        &["topology", "import", topo.to_str().expect("utf-8")],
    );
    eprintln!(
        "[control_plane] topology imported in {:.1}s",
        t.elapsed().as_secs_f64()
    );
    p2pd(&server_dir, &["groups", "assign", "g"]);
    p2pd(&server_dir, &["publish", "--all"]);
    // Simulated devices claim addresses in the offices' ranges but all
    // connect from loopback, like devices behind NAT.
    p2pd(
        &server_dir,
        &["settings", "set", "trust_claimed_addresses", "on"],
    );
    // The bench enrolls its whole fleet at once from one address: past
    // the enrollment rates a real server keeps (design note `key-holders`).
    for rate in ["enroll_per_min", "enroll_per_address_per_min"] {
        p2pd(&server_dir, &["settings", "set", rate, "1000000"]);
    }
    if let Some(url) = &o.database {
        p2pd(&server_dir, &["db", "copy", "--to", url]);
        // From here on every p2pd this bench runs (serve, the import) uses
        // the shared database. SAFETY: still single-threaded (the runtime
        // starts after start_server returns).
        unsafe { std::env::set_var("P2PD_DATABASE_URL", url) };
    }
    let log = std::fs::File::create(dir.path().join("serve.log")).expect("serve.log");
    // TLS as shipped, or with --plain the same requests over plain HTTP.
    let mut serve = Command::new(bin());
    serve.args(["serve", "--listen", &format!("127.0.0.1:{port}")]);
    if o.plain {
        serve.arg("--insecure-plain-http");
    }
    let child = serve
        .arg("--data-dir")
        .arg(&server_dir)
        .env("P2PD_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn serve");
    // More replicas on the shared database: each its own data dir with
    // only db.key (the key and the CA are in the database).
    let mut replicas = Vec::new();
    let mut ports = vec![port];
    for k in 1..o.replicas {
        let rdir = dir.path().join(format!("replica-{k}"));
        std::fs::create_dir_all(&rdir).expect("replica dir");
        std::fs::copy(server_dir.join("db.key"), rdir.join("db.key")).expect("copy db.key");
        let p = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let log = std::fs::File::create(rdir.join("serve.log")).expect("serve.log");
        let mut serve = Command::new(bin());
        serve.args(["serve", "--listen", &format!("127.0.0.1:{p}")]);
        if o.plain {
            serve.arg("--insecure-plain-http");
        }
        replicas.push(
            serve
                .arg("--data-dir")
                .arg(&rdir)
                .env("P2PD_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawn serve replica"),
        );
        ports.push(p);
    }
    let server = Server {
        child,
        replicas,
        dir,
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    for p in &ports {
        while std::net::TcpStream::connect(("127.0.0.1", *p)).is_err() {
            assert!(Instant::now() < deadline, "serve did not start within 15 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let scheme = if o.plain { "http" } else { "https" };
    Started {
        server,
        urls: ports
            .iter()
            .map(|p| format!("{scheme}://127.0.0.1:{p}"))
            .collect(),
        ca_file: (!o.plain).then(|| server_dir.join(p2pd::trust::tls::CA_CERT_FILE)),
        key_file: server_dir.join("shared.key"),
        data_dir: server_dir,
        reimport,
    }
}

/// Descriptors the bench asks for: one per simulated device's kept
/// connection here, and one per device in serve, for 100,000 devices.
const WANT_NOFILE: u64 = 262_144;

fn main() {
    let mut o = opts();
    // Serve, started from here, inherits the limit.
    let nofile = p2pd::platform::raise_open_files(WANT_NOFILE).unwrap_or(1024);
    eprintln!("[control_plane] open-file limit {nofile}");
    if o.connections == 0 {
        // A quarter of the descriptors left over: serve (which has the same
        // limit) also takes the connections of the devices that are not
        // kept, while they reconnect.
        let room = (nofile.saturating_sub(2048) * 3 / 4).max(1) as usize;
        o.connections = o.devices.min(room);
        if o.connections < o.devices {
            eprintln!(
                "[control_plane] only {} of {} devices keep a connection (open-file limit {nofile}): \
                 the others reconnect (a new mutual-TLS handshake) for each request, which agents \
                 do not do",
                o.connections, o.devices
            );
        }
    }
    let started = match (&o.server, &o.key_file) {
        (Some(_), None) => panic!("--server needs --key-file"),
        (Some(_), Some(_)) => None,
        _ => Some(start_server(&o)),
    };
    let (urls, key_file, ca_file) = match &started {
        Some(s) => (s.urls.clone(), s.key_file.clone(), s.ca_file.clone()),
        None => {
            let url = o.server.clone().expect("checked");
            let ca = o.ca_file.clone();
            assert!(
                url.starts_with("http://") || ca.is_some(),
                "--server https://… needs --ca FILE (the server's ca.pem)"
            );
            (vec![url], o.key_file.clone().expect("checked"), ca)
        }
    };
    let trust = ca_file.map(|p| p2pd::trust::tls::Trust::load(&p).expect("load the server's CA"));
    let pids: Vec<u32> = started
        .iter()
        .flat_map(|s| {
            std::iter::once(s.server.child.id()).chain(s.server.replicas.iter().map(Child::id))
        })
        .collect();
    let postmaster = o.database.as_deref().map(postmaster_pid);
    let import = started
        .as_ref()
        .filter(|_| o.import)
        .map(|s| (s.data_dir.clone(), s.reimport.clone()));
    let key = SharedKey::load(&key_file).expect("load shared key");
    // Two worker threads: the machine has two cores, shared with the server.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let result = rt.block_on(bench(&o, &urls, key, trust, &pids, postmaster, import));
    let line = result.to_string();
    if o.json {
        println!("{line}");
    } else {
        print_table(&result);
    }
    if let Some(out) = &o.out {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(out)
            .expect("open --out");
        writeln!(f, "{line}").expect("write --out");
    }
    drop(started);
}

/// The figures for people.
fn print_table(r: &serde_json::Value) {
    let f = |path: &str| {
        r.pointer(path)
            .map(|v| v.to_string())
            .unwrap_or_else(|| "-".into())
    };
    for (name, path) in [
        ("devices", "/devices"),
        ("enrollments per second", "/enroll/per_sec"),
        (
            "heartbeats per second (achieved)",
            "/heartbeat/achieved_per_sec",
        ),
        (
            "heartbeat p99 from due (ms)",
            "/heartbeat/latency_from_due/p99_ms",
        ),
        (
            "/sources per second (achieved)",
            "/sources/achieved_per_sec",
        ),
        (
            "/sources p99 from due (ms)",
            "/sources/latency_from_due/p99_ms",
        ),
        ("import during load (s)", "/import_during_load/secs"),
        (
            "max request during import (ms)",
            "/import_during_load/max_request_ms",
        ),
        ("errors", "/errors"),
        (
            "server CPU per heartbeat (ms)",
            "/server/cpu_ms_per_heartbeat",
        ),
        ("server VmHWM (KiB)", "/server/vmhwm_kib"),
        (
            "PostgreSQL CPU per heartbeat (ms)",
            "/postgres/cpu_ms_per_heartbeat",
        ),
    ] {
        println!("{name:<36} {}", f(path));
    }
}

/// One request of an open-loop schedule, in seconds since the load began.
#[derive(Clone, Copy)]
struct Sample {
    due: f64,
    sent: f64,
    end: f64,
    ok: bool,
}

impl Sample {
    fn ms_from_due(&self) -> f64 {
        (self.end - self.due) * 1e3
    }
    fn ms_from_sent(&self) -> f64 {
        (self.end - self.sent) * 1e3
    }
}

/// Sends `rate * secs` requests open-loop from `t0`: request `k` is due at
/// `t0 + k / rate` and is sent then (or as soon as the generator gets
/// there and one of the `in_flight` turns is free), whatever the earlier
/// ones are doing. `send(k)` sends one and
/// says whether it succeeded.
async fn open_loop<F, Fut>(
    rate: u64,
    secs: u64,
    t0: tokio::time::Instant,
    in_flight: Arc<tokio::sync::Semaphore>,
    send: F,
) -> Vec<Sample>
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = bool> + Send + 'static,
{
    let total = rate * secs;
    let period = Duration::from_secs_f64(1.0 / rate as f64);
    let mut out = Vec::with_capacity(total as usize);
    let mut tasks = tokio::task::JoinSet::new();
    let at = move |t: tokio::time::Instant| (t - t0).as_secs_f64();
    for k in 0..total {
        let due = t0 + period.mul_f64(k as f64);
        tokio::time::sleep_until(due).await;
        let fut = send(k);
        let in_flight = in_flight.clone();
        tasks.spawn(async move {
            // Waiting for a turn counts from due, not from sent.
            let _turn = in_flight.acquire_owned().await.expect("semaphore");
            let sent = tokio::time::Instant::now();
            let ok = fut.await;
            Sample {
                due: at(due),
                sent: at(sent),
                end: at(tokio::time::Instant::now()),
                ok,
            }
        });
        // Reap finished requests as we go so the set stays small.
        while let Some(r) = tasks.try_join_next() {
            out.push(r.expect("request task"));
        }
    }
    // Every request has its own timeout; this bounds the drain.
    while let Ok(Some(r)) =
        tokio::time::timeout(REQUEST_TIMEOUT + Duration::from_secs(5), tasks.join_next()).await
    {
        out.push(r.expect("request task"));
    }
    out
}

fn latency(samples: &[Sample], secs: f64) -> serde_json::Value {
    let errors = samples.iter().filter(|s| !s.ok).count();
    if samples.is_empty() {
        return serde_json::json!({"n": 0, "errors": 0});
    }
    let due = summarize(samples.iter().map(Sample::ms_from_due).collect());
    let sent = summarize(samples.iter().map(Sample::ms_from_sent).collect());
    serde_json::json!({
        "errors": errors,
        "achieved_per_sec": round(samples.len() as f64 / secs),
        "latency_from_due": json(&due),
        "latency_from_sent": json(&sent),
    })
}

/// Runs `p2pd topology import FILE` on the server's data dir; (ok, stderr).
fn run_import(data_dir: &Path, sheet: &Path) -> (bool, String) {
    match Command::new(bin())
        .args(["topology", "import"])
        .arg(sheet)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
    {
        Ok(out) => (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ),
        Err(e) => (false, e.to_string()),
    }
}

/// The simulated devices: each one's id and certificate, and a bounded
/// first-in first-out cache of their clients (each with its keep-alive
/// connection), built exactly as the agent builds its client.
struct Sim {
    key: SharedKey,
    /// The server's CA; `None` on plain HTTP.
    trust: Option<p2pd::trust::tls::Trust>,
    layout: Arc<Layout>,
    ids: std::sync::RwLock<Vec<String>>,
    certs: std::sync::RwLock<Vec<Option<Arc<p2pd::trust::tls::DeviceCert>>>>,
    cache: std::sync::Mutex<ClientCache>,
    /// Clients made after the first (a new connection, with TLS a handshake).
    reconnects: AtomicUsize,
}

struct ClientCache {
    clients: std::collections::HashMap<usize, SignedClient>,
    order: std::collections::VecDeque<usize>,
    capacity: usize,
}

impl Sim {
    fn local(i: usize) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x7F03_0000 + (i % LANES) as u32 + 1))
    }

    /// A new client for device `i`, presenting `cert` (the agent's).
    fn new_client(&self, i: usize, cert: Arc<p2pd::trust::tls::DeviceCert>) -> SignedClient {
        let tls = self
            .trust
            .clone()
            .map(|trust| p2pd::wire::http::ClientTls { trust, cert });
        SignedClient::with_tls(self.key.clone(), Some(Self::local(i)), tls).expect("http client")
    }

    fn keep(&self, i: usize, client: SignedClient) {
        let mut c = self.cache.lock().expect("cache");
        if c.clients.insert(i, client).is_none() {
            c.order.push_back(i);
        }
        while c.clients.len() > c.capacity {
            let Some(old) = c.order.pop_front() else {
                break;
            };
            c.clients.remove(&old);
        }
    }

    /// Device `i`'s client: the cached one, or a new one (a new connection).
    fn client(&self, i: usize) -> Option<SignedClient> {
        if let Some(c) = self.cache.lock().expect("cache").clients.get(&i) {
            return Some(c.clone());
        }
        let id = self.ids.read().expect("ids")[i].clone();
        if id.is_empty() {
            return None; // its enrollment failed
        }
        let cert = self.certs.read().expect("certs")[i]
            .clone()
            .unwrap_or_default();
        let client = self.new_client(i, cert);
        client.set_device(&id);
        self.reconnects.fetch_add(1, Ordering::Relaxed);
        self.keep(i, client.clone());
        Some(client)
    }

    /// Enrolls device `i` as the agent does: with TLS a new key pair and a
    /// CSR, the certificate installed and the client renewed to present it.
    async fn enroll(&self, i: usize, url: &str) -> Result<String, String> {
        let ip = self.layout.ip(i);
        let cert = Arc::new(p2pd::trust::tls::DeviceCert::default());
        let pending = match &self.trust {
            Some(_) => Some(p2pd::trust::tls::DeviceCert::request().map_err(|e| e.to_string())?),
            None => None,
        };
        let client = self.new_client(i, cert.clone());
        let scheme = if self.trust.is_some() {
            "https"
        } else {
            "http"
        };
        let req = EnrollRequest {
            peer_port: None,
            device_id: None,
            hostname: format!("sim-{i}"),
            addrs: vec![AddrInfo { ip, prefix: 23 }],
            version: env!("CARGO_PKG_VERSION").to_string(),
            group: "g".into(),
            peer_url: format!("{scheme}://{ip}:7651"),
            device_secret: None,
            csr: pending.as_ref().map(|p| p.csr_pem.clone()),
        };
        let resp: EnrollResponse = client
            .json(Method::POST, url, &req, REQUEST_TIMEOUT)
            .await
            .map_err(|e| e.to_string())?;
        if let (Some(trust), Some(pending)) = (&self.trust, &pending) {
            let pem = resp
                .certificate
                .as_deref()
                .ok_or("the server issued no device certificate")?;
            cert.install(pending, pem, trust, &resp.device_id)
                .map_err(|e| e.to_string())?;
            client.renew_tls().map_err(|e| e.to_string())?;
        }
        client.set_device(&resp.device_id);
        self.ids.write().expect("ids")[i] = resp.device_id.clone();
        self.certs.write().expect("certs")[i] = Some(cert);
        self.keep(i, client);
        Ok(resp.device_id)
    }
}

async fn bench(
    o: &Opts,
    urls: &[String],
    key: SharedKey,
    trust: Option<p2pd::trust::tls::Trust>,
    pids: &[u32],
    postmaster: Option<u32>,
    import: Option<(PathBuf, PathBuf)>,
) -> serde_json::Value {
    // Device `i` talks to replica `i % urls.len()`.
    let urls = Arc::new(urls.to_vec());
    let url_of = {
        let urls = urls.clone();
        move |i: usize| urls[i % urls.len()].clone()
    };
    let stats_of = |pids: &[u32]| -> Option<(u64, u64, u64)> {
        if pids.is_empty() {
            return None;
        }
        pids.iter()
            .map(|p| proc_stats(*p))
            .try_fold((0, 0, 0), |a, s| {
                s.map(|s| (a.0 + s.0, a.1 + s.1, a.2 + s.2))
            })
    };
    let pg0 = postmaster.and_then(postgres_ticks);
    let layout = Arc::new(Layout::new(o.devices, o.offices));
    let tls = trust.is_some();
    let sim = Arc::new(Sim {
        key,
        trust,
        layout: layout.clone(),
        ids: std::sync::RwLock::new(vec![String::new(); o.devices]),
        certs: std::sync::RwLock::new(vec![None; o.devices]),
        cache: std::sync::Mutex::new(ClientCache {
            clients: std::collections::HashMap::new(),
            order: std::collections::VecDeque::new(),
            capacity: o.connections.max(1),
        }),
        reconnects: AtomicUsize::new(0),
    });
    let in_flight = Arc::new(tokio::sync::Semaphore::new(o.in_flight.max(1)));
    let start_machine = machine();
    let stats0 = stats_of(pids);

    // Phase 1: the enrollment storm, `enroll_concurrency` at a time.
    eprintln!(
        "[control_plane] enrolling {} devices in {} offices ({} of {BIG_OFFICE}), {} at a time, {}",
        o.devices,
        o.offices,
        layout.big,
        o.enroll_concurrency,
        if tls {
            "TLS with a CSR each"
        } else {
            "plain HTTP"
        }
    );
    let next = Arc::new(AtomicUsize::new(0));
    let t_enroll = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..o.enroll_concurrency.max(1) {
        let (sim, url_of, next) = (sim.clone(), url_of.clone(), next.clone());
        let devices = o.devices;
        workers.spawn(async move {
            let mut done = Vec::new();
            let mut failed = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= devices {
                    return (done, failed);
                }
                let t = Instant::now();
                let r = sim.enroll(i, &format!("{}/v1/enroll", url_of(i))).await;
                let ms = t.elapsed().as_secs_f64() * 1e3;
                let id = match r {
                    Ok(id) => id,
                    Err(e) => {
                        if failed < 3 {
                            eprintln!("[control_plane] enroll of device {i} failed: {e}");
                        }
                        failed += 1;
                        continue;
                    }
                };
                // The agent's first heartbeat, right after enrolling.
                let t = Instant::now();
                let hb: Result<HeartbeatResponse, _> = match sim.client(i) {
                    Some(c) => {
                        c.json(
                            Method::POST,
                            &format!("{}/v1/heartbeat", url_of(i)),
                            &HeartbeatRequest {
                                addrs: Vec::new(),
                                peer_port: None,
                                peer_url: None,
                                device_id: id,
                                progress: vec![],
                                stuck: vec![],
                                clock_offset: Some(0),
                            },
                            REQUEST_TIMEOUT,
                        )
                        .await
                    }
                    None => continue,
                };
                match hb {
                    Ok(_) => done.push((ms, t.elapsed().as_secs_f64() * 1e3)),
                    Err(e) => {
                        if failed < 3 {
                            eprintln!("[control_plane] first heartbeat of device {i} failed: {e}");
                        }
                        failed += 1;
                    }
                }
            }
        });
    }
    let mut enroll_ms = Vec::with_capacity(o.devices);
    let mut first_hb_ms = Vec::with_capacity(o.devices);
    let mut enroll_errors = 0;
    while let Some(r) = workers.join_next().await {
        let (done, failed) = r.expect("enroll worker");
        enroll_errors += failed;
        for (e, h) in done {
            enroll_ms.push(e);
            first_hb_ms.push(h);
        }
    }
    let enroll_secs = t_enroll.elapsed().as_secs_f64();
    assert!(!enroll_ms.is_empty(), "no device enrolled");
    let enroll = summarize(enroll_ms);
    let first_hb = summarize(first_hb_ms);
    eprintln!(
        "[control_plane] enrolled {} in {enroll_secs:.1}s ({:.0}/s, {enroll_errors} errors): \
         p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        enroll.n,
        enroll.n as f64 / enroll_secs,
        enroll.p50,
        enroll.p99,
        enroll.max
    );
    let stats1 = stats_of(pids);
    let pg1 = postmaster.and_then(postgres_ticks);
    let reconnects0 = sim.reconnects.load(Ordering::Relaxed);

    // The content heartbeats report progress on, as real agents do.
    let enrolled = sim
        .ids
        .read()
        .expect("ids")
        .iter()
        .position(|id| !id.is_empty())
        .expect("one enrolled");
    let first_id = sim.ids.read().expect("ids")[enrolled].clone();
    let first: HeartbeatResponse = sim
        .client(enrolled)
        .expect("enrolled")
        .json(
            Method::POST,
            &format!("{}/v1/heartbeat", url_of(enrolled)),
            &HeartbeatRequest {
                addrs: Vec::new(),
                peer_port: None,
                peer_url: None,
                device_id: first_id,
                progress: vec![],
                stuck: vec![],
                clock_offset: None,
            },
            REQUEST_TIMEOUT,
        )
        .await
        .expect("first heartbeat");
    let content = first
        .contents
        .first()
        .map(|c| c.id)
        .expect("the published package is targeted at group g");
    let ids = Arc::new(sim.ids.read().expect("ids").clone());

    // Phase 2: heartbeats and /sources, open loop, and the import.
    eprintln!(
        "[control_plane] {} s of load: heartbeats at {}/s, /sources at {}/s{}",
        o.secs,
        o.rate,
        o.sources_rate,
        if import.is_some() {
            ", topology import in the middle"
        } else {
            ""
        }
    );
    let t0 = tokio::time::Instant::now() + Duration::from_millis(20);
    let heartbeats = {
        let (sim, ids, content) = (sim.clone(), ids.clone(), content);
        let url_of = url_of.clone();
        let devices = o.devices as u64;
        open_loop(o.rate, o.secs, t0, in_flight.clone(), move |k| {
            let i = (k % devices) as usize;
            let (sim, url) = (sim.clone(), format!("{}/v1/heartbeat", url_of(i)));
            let req = HeartbeatRequest {
                addrs: Vec::new(),
                peer_port: None,
                peer_url: None,
                device_id: ids[i].clone(),
                // Every device a little further along at each round.
                progress: vec![Progress {
                    content_id: content,
                    pieces: (k / devices * 4 + i as u64 % 64) as u32,
                    done: false,
                    done_at_ms: None,
                    bytes: (k / devices * 4 + i as u64 % 64) << 20,
                    blocked: false,
                }],
                stuck: vec![],
                clock_offset: Some(0),
            };
            async move {
                let Some(client) = sim.client(i) else {
                    return false;
                };
                let r: Result<HeartbeatResponse, _> =
                    client.json(Method::POST, &url, &req, REQUEST_TIMEOUT).await;
                if let Err(e) = &r {
                    eprintln!("[control_plane] heartbeat {k} failed: {e}");
                }
                r.is_ok()
            }
        })
    };
    let sources = {
        let (sim, ids, layout) = (sim.clone(), ids.clone(), layout.clone());
        let url_of = url_of.clone();
        let devices = o.devices;
        let rate = o.sources_rate.max(1);
        let secs = if o.sources_rate == 0 { 0 } else { o.secs };
        open_loop(rate, secs, t0, in_flight.clone(), move |k| {
            let i = layout.sources_device(k as usize, devices);
            let (sim, url) = (
                sim.clone(),
                format!("{}/v1/contents/{content}/sources", url_of(i)),
            );
            let req = SourcesRequest {
                unreachable: Vec::new(),
                device_id: ids[i].clone(),
                suspect: None,
            };
            async move {
                let Some(client) = sim.client(i) else {
                    return false;
                };
                let r: Result<SourcesResponse, _> =
                    client.json(Method::POST, &url, &req, REQUEST_TIMEOUT).await;
                if let Err(e) = &r {
                    eprintln!("[control_plane] sources {k} failed: {e}");
                }
                r.is_ok()
            }
        })
    };
    let importing = async {
        let (dir, sheet) = import.clone()?;
        tokio::time::sleep_until(t0 + Duration::from_secs_f64(o.secs as f64 / 2.0)).await;
        let start = (tokio::time::Instant::now() - t0).as_secs_f64();
        eprintln!(
            "[control_plane] importing {} during the load",
            sheet.display()
        );
        let (ok, err) = tokio::task::spawn_blocking(move || run_import(&dir, &sheet))
            .await
            .expect("import thread");
        let end = (tokio::time::Instant::now() - t0).as_secs_f64();
        eprintln!(
            "[control_plane] import {} in {:.2}s{}",
            if ok { "done" } else { "FAILED" },
            end - start,
            if ok {
                String::new()
            } else {
                format!(": {err}")
            }
        );
        Some((start, end, ok))
    };
    let (hb, src, imp) = tokio::join!(heartbeats, sources, importing);
    let new_connections = sim.reconnects.load(Ordering::Relaxed) - reconnects0;
    let load_secs = o.secs as f64;
    let stats2 = stats_of(pids);
    let pg2 = postmaster.and_then(postgres_ticks);
    let hb_json = latency(&hb, load_secs);
    let src_json = latency(&src, load_secs);
    eprintln!("[control_plane] heartbeats: {hb_json}");
    eprintln!("[control_plane] sources: {src_json}");

    let import_json = match imp {
        Some((start, end, ok)) => {
            let during: Vec<&Sample> = hb
                .iter()
                .chain(&src)
                .filter(|s| s.due <= end && s.end >= start)
                .collect();
            let max = during
                .iter()
                .map(|s| s.ms_from_due())
                .fold(0.0f64, f64::max);
            serde_json::json!({
                "ok": ok,
                "started_at_s": round(start),
                "secs": round(end - start),
                "requests": during.len(),
                "failed_requests": during.iter().filter(|s| !s.ok).count(),
                "max_request_ms": round(max),
            })
        }
        None => serde_json::Value::Null,
    };
    let errors = enroll_errors
        + hb.iter().chain(&src).filter(|s| !s.ok).count()
        + usize::from(imp.is_some_and(|(_, _, ok)| !ok));

    let tick = 100.0; // USER_HZ on Linux
    let server = match (stats0, stats1, stats2) {
        (Some(s0), Some(s1), Some(s2)) => {
            eprintln!(
                "[control_plane] serve VmRSS {:.1} MiB, VmHWM {:.1} MiB (idle {:.1} MiB)",
                s2.0 as f64 / 1024.0,
                s2.1 as f64 / 1024.0,
                s0.0 as f64 / 1024.0
            );
            let load_cpu = (s2.2 - s1.2) as f64 / tick;
            serde_json::json!({
                "vmrss_kib_idle": s0.0,
                "vmrss_kib_after_enroll": s1.0,
                "vmrss_kib_after_load": s2.0,
                "vmhwm_kib": s2.1,
                "cpu_s_enroll": (s1.2 - s0.2) as f64 / tick,
                "cpu_s_load": load_cpu,
                // All of the load phase's CPU (heartbeats, /sources, the
                // snapshot rebuild after the import) over the heartbeats.
                "cpu_ms_per_heartbeat": round(load_cpu * 1e3 / hb.len().max(1) as f64),
                "cpu_ms_per_request": round(load_cpu * 1e3 / (hb.len() + src.len()).max(1) as f64),
            })
        }
        _ => serde_json::Value::Null,
    };
    // PostgreSQL's own CPU (every process of its cluster), on --database.
    let postgres = match (pg0, pg1, pg2) {
        (Some(p0), Some(p1), Some(p2)) => {
            let load_cpu = p2.saturating_sub(p1) as f64 / tick;
            serde_json::json!({
                "cpu_s_enroll": p1.saturating_sub(p0) as f64 / tick,
                "cpu_s_load": load_cpu,
                "cpu_ms_per_heartbeat": round(load_cpu * 1e3 / hb.len().max(1) as f64),
            })
        }
        _ => serde_json::Value::Null,
    };
    serde_json::json!({
        "bench": "control_plane",
        "backend": if o.database.is_some() { "postgresql" } else { "sqlite" },
        "replicas": urls.len(),
        "devices": o.devices,
        "offices": o.offices,
        "big_offices": layout.big,
        "ranges": o.ranges,
        "rate": o.rate,
        "sources_rate": o.sources_rate,
        "secs": o.secs,
        "package_mib": o.package_mib,
        "tls": tls,
        "connections": o.connections,
        "in_flight": o.in_flight,
        // Requests of the load phase that needed a new client (a new
        // connection; with TLS a full handshake with the device certificate).
        "load_new_connections": new_connections,
        "machine_start": start_machine,
        "machine_end": machine(),
        "errors": errors,
        "enroll": {
            "concurrency": o.enroll_concurrency,
            "errors": enroll_errors,
            "secs": round(enroll_secs),
            "per_sec": round(enroll.n as f64 / enroll_secs),
            "latency": json(&enroll),
            "first_heartbeat": json(&first_hb),
        },
        "heartbeat": hb_json,
        "sources": src_json,
        "import_during_load": import_json,
        "server": server,
        "postgres": postgres,
    })
}

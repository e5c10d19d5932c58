//! A small harness for integration tests that run real `serve` and `agent`
//! processes on loopback. Offices are 127.1.N.0/24 ranges: every address in
//! 127.0.0.0/8 is local, so agents bound to 127.1.N.x form office N.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_p2pd");

/// One mebibyte, the unit of package sizes in the tests.
pub const MIB: usize = 1 << 20;

/// A loopback port where connecting is refused, for as long as the guard
/// lives: a socket bound to `127.0.0.1:0` that never listens. (Binding a
/// listener, closing it and reusing its port would race other tests.)
pub struct RefusedPort {
    fd: i32,
    pub port: u16,
}

impl RefusedPort {
    pub fn new() -> RefusedPort {
        // SAFETY: plain socket calls on a descriptor this struct owns.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
            let mut sa: libc::sockaddr_in = std::mem::zeroed();
            sa.sin_family = libc::AF_INET as libc::sa_family_t;
            sa.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let sp = &mut sa as *mut libc::sockaddr_in as *mut libc::sockaddr;
            assert_eq!(libc::bind(fd, sp, len), 0, "bind");
            let mut got = len;
            assert_eq!(libc::getsockname(fd, sp, &mut got), 0, "getsockname");
            RefusedPort {
                fd,
                port: u16::from_be(sa.sin_port),
            }
        }
    }
}

impl Drop for RefusedPort {
    fn drop(&mut self) {
        // SAFETY: `fd` is this guard's own socket, closed once.
        unsafe { libc::close(self.fd) };
    }
}

/// The address in the last "listening on http://ADDR" line of `log`,
/// which `serve` and `agent` print once bound (tests start them on port 0).
pub fn listening_on(log: &str) -> Option<std::net::SocketAddr> {
    log.lines().rev().find_map(|l| {
        let rest = &l[l.find("listening on ")? + "listening on ".len()..];
        let rest = rest
            .strip_prefix("https://")
            .or_else(|| rest.strip_prefix("http://"))?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// The last `lines` lines of the file at `path`, for a failing test's output.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Runs `p2pd ARGS --data-dir DIR` and returns (exit code, stdout, stderr).
pub fn p2pd(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .output()
        .expect("run p2pd");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn ok(dir: &Path, args: &[&str]) -> String {
    let (code, out, err) = p2pd(dir, args);
    assert_eq!(code, 0, "p2pd {args:?} failed: {err}");
    out
}

/// Deterministic incompressible bytes (the demo's generator, seeded).
pub fn package_bytes(size: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = vec![0u8; size];
    p2pd::ops::demo::pseudo_random(&mut x, &mut v);
    v
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

pub struct Agent {
    pub name: String,
    pub ip: String,
    pub dir: PathBuf,
    pub child: Option<Child>,
    pub group: String,
    pub env: Vec<(String, String)>,
    pub key_file: PathBuf,
    /// Extra command-line arguments (such as `--on-complete CMD`).
    pub args: Vec<String>,
    /// The peer port, 0 until the first run has bound one; a restart
    /// listens on the same port again, so peers keep its address.
    pub port: std::sync::atomic::AtomicU16,
    /// Start it in `dir`'s parent with `--data-dir` as the bare folder
    /// name (a relative data dir, as a person types one).
    pub relative_dir: bool,
    /// Listen on the wildcard (`0.0.0.0:PORT`), connecting from `ip`: a
    /// device whose address may change (`P2PD_FAULT_SOURCE_FILE`) stays
    /// reachable at any loopback address.
    pub wildcard: bool,
}

impl Agent {
    /// A new agent record (not started) for `name` at `ip` in `dir`.
    pub fn new(name: &str, ip: &str, dir: PathBuf, group: &str, key_file: PathBuf) -> Agent {
        Agent {
            name: name.to_string(),
            ip: ip.to_string(),
            dir,
            child: None,
            group: group.to_string(),
            env: Vec::new(),
            key_file,
            relative_dir: false,
            wildcard: false,
            args: Vec::new(),
            port: 0.into(),
        }
    }

    /// The address its peer server listens on, as the agent printed it
    /// (waits up to 15 s for it to start).
    pub fn addr(&self) -> std::net::SocketAddr {
        use std::sync::atomic::Ordering;
        let port = self.port.load(Ordering::Relaxed);
        if port != 0 {
            return format!("{}:{port}", self.ip).parse().unwrap();
        }
        let mut found = None;
        eventually(
            &format!("agent {} prints its address", self.name),
            Duration::from_secs(15),
            || {
                found = ["agent.err", "agent.log"].iter().find_map(|f| {
                    listening_on(&std::fs::read_to_string(self.dir.join(f)).unwrap_or_default())
                });
                found.is_some()
            },
        );
        let addr = found.expect("eventually returned");
        self.port.store(addr.port(), Ordering::Relaxed);
        addr
    }

    pub fn device_id(&self) -> Option<String> {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.dir.join("agent.json")).ok()?).ok()?;
        v["device_id"].as_str().map(str::to_string)
    }

    /// The bytes of the delivered file named `file`, wherever below
    /// `delivered/` (`<name>/<version>/<file>`) it landed.
    pub fn delivered(&self, file: &str) -> Option<Vec<u8>> {
        std::fs::read(find_delivered(&self.dir, file)?).ok()
    }

    /// The agent's own transfer log, parsed.
    pub fn log(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.join("transfers.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Prints the end of its logs (for a failing test).
    fn print_logs(&self) {
        for f in ["agent.err", "agent.log"] {
            let p = self.dir.join(f);
            if p.exists() {
                eprintln!("---- agent {} {f} (end) ----\n{}", self.name, tail(&p, 60));
            }
        }
    }

    /// Stops the agent with SIGTERM and returns its stderr.
    pub fn stop(&mut self) -> String {
        if let Some(c) = &self.child {
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        }
        match self.wait_exit(Duration::from_secs(15)) {
            Some((_, err)) => err,
            None => {
                self.kill();
                String::new()
            }
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Waits for the process to exit by itself; returns (code, stderr).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<(i32, String)> {
        let c = self.child.as_mut()?;
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = c.try_wait() {
                let err = std::fs::read_to_string(self.dir.join("agent.err")).unwrap_or_default();
                self.child = None;
                return Some((st.code().unwrap_or(-1), err));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

/// One server, its file storage, and agents.
pub struct Net {
    pub root: tempfile::TempDir,
    pub server_dir: PathBuf,
    pub storage: PathBuf,
    /// The server's port: 0 until `start_serve` has bound one (port 0,
    /// then the address it printed); a restart binds the same port again.
    pub port: u16,
    pub serve: Option<Child>,
    pub agents: Vec<Agent>,
    /// Extra environment of `serve` (test-only fault switches).
    pub serve_env: Vec<(String, String)>,
    /// Extra arguments of `serve`.
    pub serve_args: Vec<String>,
}

impl Net {
    /// Installs a server with a 1 s heartbeat, imports `offices`
    /// (name, parent, type, range, wan_kbps) and assigns group `g`.
    pub fn new(offices: &[(&str, &str, &str, &str, &str)]) -> Net {
        let root = tempfile::tempdir().unwrap();
        let server_dir = root.path().join("server");
        let storage = root.path().join("storage");
        std::fs::create_dir_all(&storage).unwrap();
        // The port setting is set to the bound port once serve runs.
        ok(
            &server_dir,
            &[
                "install",
                "--server-name",
                "127.0.0.1",
                "--file-storage",
                storage.to_str().unwrap(),
            ],
        );
        ok(&server_dir, &["settings", "set", "heartbeat_secs", "1"]);
        if !offices.is_empty() {
            let mut csv = String::from("office,parent,type,ranges,wan_kbps,description\n");
            for (name, parent, kind, range, kbps) in offices {
                csv.push_str(&format!("{name},{parent},{kind},{range},{kbps},\n"));
            }
            let f = root.path().join("topology.csv");
            std::fs::write(&f, csv).unwrap();
            ok(&server_dir, &["topology", "import", f.to_str().unwrap()]);
        }
        ok(&server_dir, &["groups", "assign", "g"]);
        Net {
            root,
            server_dir,
            storage,
            port: 0,
            serve: None,
            agents: Vec::new(),
            serve_env: Vec::new(),
            serve_args: Vec::new(),
        }
    }

    /// Writes a package into storage and publishes it; returns (id, bytes).
    pub fn publish(&self, name: &str, size: usize, seed: u64) -> (String, Vec<u8>) {
        let data = package_bytes(size, seed);
        let rel = format!("{name}/1.0/{name}.bin");
        let path = self.storage.join(&rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &data).unwrap();
        ok(&self.server_dir, &["publish", "--all"]);
        (sha256_hex(&data), data)
    }

    /// The server's URL (after `start_serve`).
    pub fn url(&self) -> String {
        assert_ne!(self.port, 0, "serve has not started");
        format!("https://127.0.0.1:{}", self.port)
    }

    /// Starts serve (on a free port the first time, then on the same one)
    /// and waits until it accepts connections.
    pub fn start_serve(&mut self) {
        let log_path = self.root.path().join("serve.log");
        let append = |p: &Path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .unwrap()
        };
        // Appended across restarts: a failing test prints all of it.
        let before = std::fs::metadata(&log_path).map(|m| m.len()).unwrap_or(0);
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
            .arg("--data-dir")
            .arg(&self.server_dir)
            .env("P2PD_LOG", "info")
            .args(&self.serve_args)
            .envs(self.serve_env.iter().map(|(k, v)| (k, v)))
            .stdout(append(&self.root.path().join("serve.out")))
            .stderr(append(&log_path))
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let addr = loop {
            let text = std::fs::read(&log_path).unwrap_or_default();
            let this_run = String::from_utf8_lossy(&text[before as usize..]).into_owned();
            if let Some(a) = listening_on(&this_run) {
                break a;
            }
            if let Ok(Some(st)) = child.try_wait() {
                panic!("serve exited ({st}) before listening:\n{this_run}");
            }
            assert!(
                Instant::now() < deadline,
                "serve did not start:\n{this_run}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        self.serve = Some(child);
        if self.port != addr.port() {
            self.port = addr.port();
            // `health`, `ui` and agents' defaults read the port setting.
            ok(
                &self.server_dir,
                &["settings", "set", "port", &self.port.to_string()],
            );
        }
    }

    /// Stops serve with SIGTERM (graceful) and waits for it.
    pub fn stop_serve(&mut self) {
        if let Some(mut c) = self.serve.take() {
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn add_agent(&mut self, name: &str, ip: &str, group: &str, env: &[(&str, &str)]) -> usize {
        self.add_agent_with_args(name, ip, group, env, &[])
    }

    /// Like [`Net::add_agent`], with extra `p2pd agent` arguments.
    pub fn add_agent_with_args(
        &mut self,
        name: &str,
        ip: &str,
        group: &str,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> usize {
        let mut agent = Agent::new(
            name,
            ip,
            self.root.path().join("agents").join(name),
            group,
            self.server_dir.join("shared.key"),
        );
        agent.env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        agent.args = args.iter().map(|a| a.to_string()).collect();
        self.agents.push(agent);
        let i = self.agents.len() - 1;
        self.start_agent(i);
        i
    }

    pub fn start_agent(&mut self, i: usize) {
        let server = self.url();
        let a = &mut self.agents[i];
        std::fs::create_dir_all(&a.dir).unwrap();
        // A restart listens where the last run did (its address, from the
        // log about to be truncated); the first run on a free port.
        let last_run = std::fs::read_to_string(a.dir.join("agent.err")).unwrap_or_default();
        if let Some(prev) = listening_on(&last_run) {
            a.port
                .store(prev.port(), std::sync::atomic::Ordering::Relaxed);
        }
        let port = a.port.load(std::sync::atomic::Ordering::Relaxed);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(a.dir.join("agent.log"))
            .unwrap();
        let mut cmd = Command::new(BIN);
        let ca = self.server_dir.join("ca.pem");
        let listen = match a.wildcard {
            true => format!("0.0.0.0:{port}"),
            false => format!("{}:{port}", a.ip),
        };
        cmd.args(agent_args(&server, ca.to_str().unwrap(), &a.group, &listen));
        if a.wildcard {
            cmd.args(["--source-address", &a.ip]);
        }
        cmd.arg("--key-file").arg(&a.key_file).arg("--data-dir");
        match (a.relative_dir, a.dir.parent(), a.dir.file_name()) {
            (true, Some(parent), Some(name)) => cmd.current_dir(parent).arg(name),
            _ => cmd.arg(&a.dir),
        }
        .args(&a.args)
        .env("P2PD_LOG", "info")
        .stdout(log);
        // Logs go to a file: a pipe nobody reads would stop the agent once
        // it filled up. Truncated at each start, so that `wait_exit` reads
        // this run's errors.
        let err = std::fs::File::create(a.dir.join("agent.err")).unwrap();
        cmd.stderr(err);
        for (k, v) in &a.env {
            cmd.env(k, v);
        }
        a.child = Some(cmd.spawn().unwrap());
    }

    /// Waits until the given agents hold `file`; false on timeout.
    pub fn wait_delivered(&self, which: &[usize], file: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if which
                .iter()
                .all(|&i| find_delivered(&self.agents[i].dir, file).is_some())
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Waits until the office's leader (of the first office in the
    /// report) holds some pieces of `content_id`; returns its index.
    pub fn leader_with_pieces(&self, content_id: &str, timeout: Duration) -> usize {
        let mut leader_idx = None;
        eventually("a leader with pieces", timeout, || {
            let r = self.report();
            let Some(l) = r[0]["offices"][0]["leader"].as_str() else {
                return false;
            };
            leader_idx = self
                .agents
                .iter()
                .position(|a| a.device_id().is_some_and(|d| l.contains(&d[..8])));
            leader_idx.is_some_and(|i| {
                std::fs::metadata(
                    self.agents[i]
                        .dir
                        .join("pieces")
                        .join(content_id)
                        .join("journal"),
                )
                .map(|m| m.len() >= 4 * 4)
                .unwrap_or(false)
            })
        });
        leader_idx.expect("eventually returned")
    }

    pub fn report(&self) -> serde_json::Value {
        let out = ok(&self.server_dir, &["report", "--json"]);
        serde_json::from_str(&out).unwrap()
    }

    /// Bytes the server says it served (its own log).
    pub fn server_served_bytes(&self) -> u64 {
        std::fs::read_to_string(self.server_dir.join("logs/served.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| v["bytes"].as_u64().unwrap_or(0))
            .sum()
    }

    pub fn all(&self) -> Vec<usize> {
        (0..self.agents.len()).collect()
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.root.path().join("serve.log");
            eprintln!("---- serve.log (end) ----\n{}", tail(&log, 80));
            for a in &self.agents {
                a.print_logs();
            }
        }
        for a in &mut self.agents {
            a.kill();
        }
        if let Some(mut c) = self.serve.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Every file under `root`: (relative path, bytes, mode), sorted. Two equal
/// snapshots mean nothing under `root` changed.
pub fn files_under(root: &Path) -> Vec<(String, Vec<u8>, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let m = std::fs::metadata(&p).unwrap();
                // Large files (an installed binary) by their hash, to keep
                // snapshots small.
                let bytes = std::fs::read(&p).unwrap();
                let bytes = if bytes.len() > 1 << 20 {
                    sha256_hex(&bytes).into_bytes()
                } else {
                    bytes
                };
                out.push((
                    p.strip_prefix(root).unwrap().display().to_string(),
                    bytes,
                    m.permissions().mode() & 0o7777,
                ));
            }
        }
    }
    out.sort();
    out
}

/// The path of a delivered file named `file` below `agent_dir/delivered`
/// (any depth: the agent delivers to `<name>/<version>/<file>`).
pub fn find_delivered(agent_dir: &Path, file: &str) -> Option<PathBuf> {
    let mut stack = vec![agent_dir.join("delivered")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).ok()?.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .file_name()
                .is_some_and(|n| n == std::ffi::OsStr::new(file))
            {
                return Some(p);
            }
        }
    }
    None
}

/// A blocking client that trusts the CA of the server installed in
/// `server_dir` (tests that talk to serve directly: dashboard, metrics).
pub fn https_client(server_dir: &Path) -> reqwest::blocking::Client {
    tls_client(server_dir, None, None)
}

/// A blocking client that trusts the CA in `server_dir`, connects from
/// `local`, and presents `identity` (certificate PEM, key PEM).
///
/// It checks that the other side's certificate chains to the CA, not the
/// name dialled: device certificates name no address (an agent checks a
/// peer by the device id it expects, serve by its identity URI), and these
/// test clients talk to serve and to agents' peer ports alike.
pub fn tls_client(
    server_dir: &Path,
    local: Option<std::net::IpAddr>,
    identity: Option<(&str, &str)>,
) -> reqwest::blocking::Client {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca =
        CertificateDer::from_pem_file(server_dir.join("ca.pem")).expect("the install's ca.pem");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).unwrap();
    let b = rustls::ClientConfig::builder()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ChainsToCa(Arc::new(roots))));
    let mut config = match identity {
        Some((cert, key)) => {
            let chain: Vec<CertificateDer<'static>> =
                CertificateDer::pem_slice_iter(cert.as_bytes())
                    .map(|c| c.unwrap())
                    .collect();
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
            b.with_client_auth_cert(chain, key).unwrap()
        }
        None => b.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::blocking::Client::builder()
        .use_preconfigured_tls(config)
        .local_address(local)
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

/// A test client's server check: the certificate chains to the CA.
#[derive(Debug)]
struct ChainsToCa(Arc<rustls::RootCertStore>);

impl rustls::client::danger::ServerCertVerifier for ChainsToCa {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let cert = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.0,
            intermediates,
            now,
            rustls::crypto::ring::default_provider()
                .signature_verification_algorithms
                .all,
        )?;
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &rustls::crypto::ring::default_provider().signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &rustls::crypto::ring::default_provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A request to serve at `path` through `client`, signed with the
/// server's shared key, as an agent sends it; returns (status, body).
pub fn signed_send(
    net: &Net,
    client: &reqwest::blocking::Client,
    method: &str,
    path: &str,
    body: Vec<u8>,
) -> reqwest::Result<(u16, String)> {
    let key = p2pd::trust::key::SharedKey::load(&net.server_dir.join("shared.key")).unwrap();
    let url = format!("https://127.0.0.1:{}{path}", net.port);
    let mut rb = client.request(method.parse().unwrap(), url);
    for (n, v) in key.sign(method, path, &body) {
        rb = rb.header(n, v);
    }
    let r = rb
        .header("content-type", "application/json")
        .body(body)
        .timeout(Duration::from_secs(20))
        .send()?;
    Ok((r.status().as_u16(), r.text().unwrap_or_default()))
}

/// A new key pair and a CSR for it (PEM each), as an agent makes them.
pub fn key_and_csr() -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let csr = rcgen::CertificateParams::default()
        .serialize_request(&key)
        .unwrap()
        .pem()
        .unwrap();
    (key.serialize_pem(), csr)
}

/// Waits until `f` holds, polling every 50 ms, and fails the test naming
/// `what` after `timeout`.
pub fn eventually(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out: {what}");
}

/// Runs `health ARGS --json`; returns (exit code, report).
pub fn health(dir: &Path, args: &[&str]) -> (i32, serde_json::Value) {
    let mut all = vec!["health", "--json"];
    all.extend_from_slice(args);
    let (code, out, err) = p2pd(dir, &all);
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("health: {e}: {out} {err}"));
    (code, v)
}

pub fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report:#}"))
}

/// `p2pd agent` arguments: the server URL, group and listen address (the
/// key file and data dir follow per caller). Many agents share this host,
/// each on its own loopback address, so each also connects from it
/// (`--source-address`): the server places a device by the address its
/// connections come from.
pub fn agent_args(server: &str, ca: &str, group: &str, listen: &str) -> Vec<String> {
    let mut v: Vec<String> = [
        "agent", "--server", server, "--ca", ca, "--group", group, "--listen", listen,
    ]
    .map(String::from)
    .to_vec();
    if let Some(ip) = source_of(listen) {
        v.extend(["--source-address".to_string(), ip]);
    }
    v
}

/// The IP of a `--listen ADDR:PORT` that names one address.
pub fn source_of(listen: &str) -> Option<String> {
    let a: std::net::SocketAddr = listen.parse().ok()?;
    (!a.ip().is_unspecified()).then(|| a.ip().to_string())
}

/// `p2pd agent install` arguments for a test install below `root`, for
/// the server at https://127.0.0.1:7650 whose key is `key` (and CA the
/// `ca.pem` next to it).
pub fn agent_install_args(key: &Path, group: &str, root: &Path) -> Vec<String> {
    let ca = key.with_file_name("ca.pem").display().to_string();
    let (key, root) = (key.display().to_string(), root.display().to_string());
    [
        "agent",
        "install",
        "--server",
        "https://127.0.0.1:7650",
        "--ca",
        &ca,
        "--key-file",
        &key,
        "--group",
        group,
        "--root",
        &root,
    ]
    .map(String::from)
    .to_vec()
}

impl Net {
    /// Asserts every agent holds `file` with the SHA-256 `id`.
    pub fn assert_all_hold(&self, file: &str, id: &str) {
        for a in &self.agents {
            let bytes = a
                .delivered(file)
                .unwrap_or_else(|| panic!("{} holds no {file}", a.name));
            assert_eq!(sha256_hex(&bytes), id, "{} holds a wrong file", a.name);
        }
    }
}

/// A fake server that does not know the key or the CA: it enrolls anyone,
/// answers every heartbeat with `hb` and every manifest request with
/// `manifest`, counting those in `manifest_asked`.
pub fn fake_server(
    hb: serde_json::Value,
    manifest: serde_json::Value,
    manifest_asked: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> axum::Router {
    use axum::routing::{get, post};
    axum::Router::new()
        .route(
            "/v1/enroll",
            post(|| async {
                axum::Json(serde_json::json!({
                    "device_id": uuid::Uuid::new_v4().to_string(), "office": null,
                    "office_kind": null, "heartbeat_secs": 1,
                    "license_activated_at": 0, "serve_peers": false,
                }))
            }),
        )
        .route("/v1/heartbeat", post(move || async move { axum::Json(hb) }))
        .route(
            "/v1/contents/{id}/manifest",
            get(move || async move {
                manifest_asked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                axum::Json(manifest)
            }),
        )
}

/// Runs a real agent (group `g`, the install's CA and key) against
/// `server` for 4 s, then kills it; returns its log and its data dir.
pub fn agent_against(net: &Net, name: &str, server: &str, listen: &str) -> (String, PathBuf) {
    let dir = net.root.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let log = std::fs::File::create(dir.join("agent.log")).unwrap();
    let mut child = std::process::Command::new(BIN)
        .args(["agent", "--server", server])
        .arg("--ca")
        .arg(net.server_dir.join("ca.pem"))
        .args(["--group", "g", "--listen", listen])
        .args(
            source_of(listen)
                .map(|ip| ["--source-address".to_string(), ip])
                .into_iter()
                .flatten(),
        )
        .arg("--key-file")
        .arg(net.server_dir.join("shared.key"))
        .arg("--data-dir")
        .arg(&dir)
        .args(["--on-complete", "touch"])
        .env("P2PD_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let _ = child.kill();
    let _ = child.wait();
    (std::fs::read_to_string(dir.join("agent.log")).unwrap(), dir)
}

/// Starts a fake p2pd server on `addr` (port 0) with `tls`, that lists and
/// serves `payload` as content and counts the requests that reach it.
/// Returns its runtime (keep it alive), port, request count and stop token.
pub fn fake_tls_server(
    addr: &str,
    tls: rustls::ServerConfig,
    payload: &[u8],
) -> (
    tokio::runtime::Runtime,
    u16,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    tokio_util::sync::CancellationToken,
) {
    let id = sha256_hex(payload);
    let manifest = serde_json::json!({
        "id": id, "name": "x", "version": "1", "file_name": "x.bin", "path": "x/1/x.bin",
        "size": payload.len(), "piece_size": 1048576, "pieces": [id],
    });
    let hb = serde_json::json!({
        "heartbeat_secs": 1, "serve_peers": false,
        "contents": [{"id": id, "name": "x", "version": "1", "size": payload.len()}],
    });
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = asked.clone();
    let app = fake_server(
        hb,
        manifest,
        std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0)),
    )
    .layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            next.run(req)
        },
    ));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(format!("{addr}:0")))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let stop = tokio_util::sync::CancellationToken::new();
    rt.spawn(p2pd::wire::listen::serve(
        listener,
        app,
        stop.clone(),
        p2pd::wire::listen::Limits::SERVER,
        Some(Arc::new(tls)),
    ));
    (rt, port, asked, stop)
}

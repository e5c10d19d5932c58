//! A small harness for integration tests that run real `serve` and `agent`
//! processes on loopback. Offices are 127.1.N.0/24 ranges: every address in
//! 127.0.0.0/8 is local, so agents bound to 127.1.N.x form office N.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_p2pd");

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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

/// Deterministic incompressible bytes.
pub fn package_bytes(size: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(size + 8);
    while v.len() < size {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        v.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    v.truncate(size);
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
}

impl Agent {
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
    pub port: u16,
    pub peer_port: u16,
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
        let port = free_port();
        ok(
            &server_dir,
            &[
                "install",
                "--server-name",
                "127.0.0.1",
                "--port",
                &port.to_string(),
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
            port,
            peer_port: free_port(),
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

    pub fn start_serve(&mut self) {
        let log = std::fs::File::create(self.root.path().join("serve.log")).unwrap();
        let child = Command::new(BIN)
            .args(["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
            .arg("--data-dir")
            .arg(&self.server_dir)
            .env("P2PD_LOG", "info")
            .args(&self.serve_args)
            .envs(self.serve_env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.serve = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "serve did not start");
            std::thread::sleep(Duration::from_millis(50));
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
        let agent = Agent {
            name: name.to_string(),
            ip: ip.to_string(),
            dir: self.root.path().join("agents").join(name),
            child: None,
            group: group.to_string(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            key_file: self.server_dir.join("shared.key"),
            args: args.iter().map(|a| a.to_string()).collect(),
        };
        self.agents.push(agent);
        let i = self.agents.len() - 1;
        self.start_agent(i);
        i
    }

    pub fn start_agent(&mut self, i: usize) {
        let a = &mut self.agents[i];
        std::fs::create_dir_all(&a.dir).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(a.dir.join("agent.log"))
            .unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args([
            "agent",
            "--server",
            &format!("https://127.0.0.1:{}", self.port),
            "--ca",
            self.server_dir.join("ca.pem").to_str().unwrap(),
            "--group",
            &a.group,
            "--listen",
            &format!("{}:{}", a.ip, self.peer_port),
        ])
        .arg("--key-file")
        .arg(&a.key_file)
        .arg("--data-dir")
        .arg(&a.dir)
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

    /// The server's base URL.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    pub fn all(&self) -> Vec<usize> {
        (0..self.agents.len()).collect()
    }
}

impl Drop for Net {
    fn drop(&mut self) {
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
pub fn tls_client(
    server_dir: &Path,
    local: Option<std::net::IpAddr>,
    identity: Option<(&str, &str)>,
) -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let pem = std::fs::read(server_dir.join("ca.pem")).expect("the install's ca.pem");
    let mut b = reqwest::blocking::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .local_address(local)
        .timeout(Duration::from_secs(120));
    if let Some((cert, key)) = identity {
        let both = format!("{cert}{key}");
        b = b.identity(reqwest::Identity::from_pem(both.as_bytes()).unwrap());
    }
    b.build().unwrap()
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

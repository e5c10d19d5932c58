//! `p2pd demo`: a real local distribution on an embedded default.
//!
//! [`prepare`] makes a temporary install, a topology of three offices on
//! loopback ranges (a regional office under the central one, a branch
//! under the regional one), a generated package, and publishes it, through
//! the same library calls the subcommands use (`install`, `settings set`,
//! `topology import`, `groups assign`, `publish`). [`Demo::start`] then
//! runs `serve` and the agents as real processes of this binary, bound to
//! 127.1.N.x addresses, and [`Demo::distribute`] follows the distribution
//! until every device holds the verified file. Nothing is simulated.
//! `cli/demo.rs` draws the progress and prints the report.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::ops::report::ContentReport;
use crate::store::{Store, StoreError};

/// The demo's offices: (name, parent, range).
pub const OFFICES: &[(&str, &str, &str)] = &[
    ("Central Office", "", "127.1.1.0/24"),
    ("Regional East", "Central Office", "127.1.2.0/24"),
    ("Branch East-1", "Regional East", "127.1.3.0/24"),
];

/// The published package, relative to file storage.
const PACKAGE: &str = "demo-app/1.0/demo-app-1.0.bin";

/// What the demo runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Package size in bytes.
    pub size: u64,
    /// Devices per office.
    pub devices: u32,
    /// Keep the temporary directory instead of deleting it.
    pub keep: bool,
}

/// Why the demo stopped before a result.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("install: {0}")]
    Install(#[from] crate::ops::install::InstallError),
    #[error("settings: {0}")]
    Setting(#[from] crate::ops::configure::ChangeError),
    #[error("topology import: {0}")]
    Topology(String),
    #[error("publish: {0}")]
    Publish(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("p2pd serve did not say where it listens within 5 s; its log: {0}")]
    ServeDidNotStart(String),
    #[error("a p2pd process exited early ({status}); logs are in {} (run with --keep to inspect)", .logs.display())]
    ExitedEarly { status: String, logs: PathBuf },
    #[error("the distribution did not finish within {0} s (see --timeout)")]
    Timeout(u64),
    #[error("{0}")]
    Vanished(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> DemoError {
    let what = what.into();
    move |source| DemoError::Io { what, source }
}

/// Fills `buf` with the xorshift64* stream continuing from `state`:
/// incompressible, cheap and repeatable test and demo data.
pub fn pseudo_random(state: &mut u64, buf: &mut [u8]) {
    for chunk in buf.chunks_mut(8) {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        let v = state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}

fn write_package(path: &Path, size: u64) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        pseudo_random(&mut x, &mut buf);
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n])?;
        left -= n as u64;
    }
    f.flush()
}

/// An install ready to run: data dir, storage, published content.
pub struct Prepared {
    /// The temporary directory; taken (kept) with `--keep`.
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
    keep: bool,
    devices: u32,
    server_dir: PathBuf,
    admin_token: String,
    content_id: String,
}

impl Prepared {
    /// The temporary directory everything lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// Makes the install, topology, group and published package (blocking:
/// call it before entering the runtime, or through `spawn_blocking`).
/// `say` hears what is done, step by step.
pub fn prepare(o: &Options, say: &mut dyn FnMut(&str)) -> Result<Prepared, DemoError> {
    let dir = tempfile::Builder::new()
        .prefix("p2pd-demo-")
        .tempdir()
        .map_err(io("cannot create a temporary directory"))?;
    let root = dir.path().to_path_buf();
    let server_dir = root.join("server");
    let storage = root.join("storage");
    say(&format!("p2pd demo in {}", root.display()));
    say(&format!("  generating a {} MiB package", o.size >> 20));
    let package = storage.join(PACKAGE);
    write_package(&package, o.size).map_err(io(package.display().to_string()))?;

    let installed = crate::ops::install::install(
        &server_dir,
        &crate::ops::install::Options {
            server_name: Some("127.0.0.1".into()),
            file_storage: Some(storage.display().to_string()),
            ..Default::default()
        },
    )?;
    let mut st = Store::open(&server_dir)?;
    crate::ops::configure::change(&mut st, "heartbeat_secs", "1", false)?;
    let mut csv = String::from("office,parent,type,ranges,wan_kbps,description\n");
    for (name, parent, range) in OFFICES {
        csv.push_str(&format!("{name},{parent},default,{range},,demo office\n"));
    }
    let parsed = crate::topology::import::parse(Path::new("topology.csv"), csv.as_bytes(), None)
        .map_err(|errors| {
            let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            DemoError::Topology(list.join("; "))
        })?;
    crate::topology::apply_import(&mut st, &parsed)
        .map_err(|e| DemoError::Topology(e.to_string()))?;
    st.assign_groups(&["demo".to_string()])?;
    say("  installed, 3 offices imported, group 'demo' assigned; publishing");
    let content_id = publish(&server_dir, &mut st, &storage)?;
    Ok(Prepared {
        dir: Some(dir),
        root,
        keep: o.keep,
        devices: o.devices,
        server_dir,
        admin_token: installed.admin_token.unwrap_or_default(),
        content_id,
    })
}

/// `publish --all`, as the subcommand runs it; the content id published.
fn publish(server_dir: &Path, st: &mut Store, storage: &Path) -> Result<String, DemoError> {
    use crate::content::publish;
    struct Quiet;
    impl publish::Observer for Quiet {}
    let storage = crate::content::storage::Storage::Dir(storage.to_path_buf());
    let _lock = publish::lock(server_dir).map_err(|e| DemoError::Publish(e.to_string()))?;
    let req = publish::Request {
        all: true,
        ..Default::default()
    };
    let report = publish::publish(st, &storage, &req, &mut Quiet)
        .map_err(|e| DemoError::Publish(e.to_string()))?;
    if report.summary.failed > 0 {
        return Err(DemoError::Publish(format!("{:?}", report.packages)));
    }
    st.content_ids()?
        .into_iter()
        .next()
        .map(|(id, _, _)| id)
        .ok_or_else(|| DemoError::Vanished("publish registered no content".into()))
}

/// Per office: pieces held of all wanted, devices done.
#[derive(Debug, Clone)]
pub struct OfficeProgress {
    pub office: &'static str,
    pub pieces: u64,
    pub pieces_wanted: u64,
    pub devices_done: u32,
    /// Every device of the office holds the file.
    pub done: bool,
}

/// The distribution as the server sees it, at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub report: ContentReport,
    pub offices: Vec<OfficeProgress>,
}

/// The outcome of a finished demo.
#[derive(Debug, Serialize)]
pub struct DemoResult {
    pub devices: usize,
    pub devices_verified: usize,
    pub seconds: f64,
    pub max_wan_copies: f64,
    pub report: ContentReport,
    /// The content distributed.
    #[serde(skip)]
    pub content_id: String,
}

impl DemoResult {
    /// Every device verified the file, and no office took in more than
    /// one WAN copy (5 % slack for retried pieces).
    pub fn passed(&self) -> bool {
        self.devices_verified == self.devices && self.max_wan_copies <= 1.05
    }
}

/// `serve` and the agents, running.
pub struct Demo {
    prepared: Prepared,
    children: Vec<tokio::process::Child>,
    logs: PathBuf,
    server: SocketAddr,
    /// (office, agent data dir) per agent.
    agents: Vec<(String, PathBuf)>,
}

impl Drop for Demo {
    /// The error paths: children are asked to stop and killed (the normal
    /// path is [`Demo::stop`], which waits for them).
    fn drop(&mut self) {
        for c in &mut self.children {
            crate::platform::request_stop(c);
            let _ = c.start_kill();
        }
        if self.prepared.keep
            && let Some(dir) = self.prepared.dir.take()
        {
            let _ = dir.keep();
        }
    }
}

impl Demo {
    /// Starts `serve` (on a free port: it prints the one it bound) and
    /// the agents.
    pub async fn start(prepared: Prepared) -> Result<Demo, DemoError> {
        let exe = std::env::current_exe().map_err(io("cannot find the p2pd binary"))?;
        let root = prepared.root().to_path_buf();
        let logs = root.join("logs");
        tokio::fs::create_dir_all(&logs)
            .await
            .map_err(io(logs.display().to_string()))?;
        let mut demo = Demo {
            prepared,
            children: Vec::new(),
            logs,
            server: SocketAddr::from(([127, 0, 0, 1], 0)),
            agents: Vec::new(),
        };
        let server_dir = demo.prepared.server_dir.display().to_string();
        demo.spawn(
            &exe,
            &[
                "serve",
                "--data-dir",
                &server_dir,
                "--listen",
                "127.0.0.1:0",
            ],
            "serve.log",
        )?;
        demo.server = demo.wait_listening("serve.log").await?;
        let key_file = demo.prepared.server_dir.join(crate::trust::key::KEY_FILE);
        let key_file = key_file.display().to_string();
        let server = format!("https://{}", demo.server);
        let ca = demo
            .prepared
            .server_dir
            .join(crate::trust::tls::CA_CERT_FILE)
            .display()
            .to_string();
        for (n, (office, _, _)) in OFFICES.iter().enumerate() {
            for j in 1..=demo.prepared.devices {
                let ip = format!("127.1.{}.{}", n + 1, 10 + j);
                let dir = root
                    .join("agents")
                    .join(format!("office{}-device{j}", n + 1));
                let d = dir.display().to_string();
                let listen = format!("{ip}:0");
                let args = [
                    "agent",
                    "--server",
                    &server,
                    "--ca",
                    &ca,
                    "--key-file",
                    &key_file,
                    "--group",
                    "demo",
                    "--data-dir",
                    &d,
                    "--listen",
                    &listen,
                    // Nine agents on one host: each connects from its own
                    // loopback address, which places it in its office.
                    "--source-address",
                    &ip,
                ];
                demo.spawn(&exe, &args, &format!("agent-{ip}.log"))?;
                demo.agents.push((office.to_string(), dir));
            }
        }
        Ok(demo)
    }

    fn spawn(&mut self, exe: &Path, args: &[&str], log: &str) -> Result<(), DemoError> {
        let path = self.logs.join(log);
        let file = std::fs::File::create(&path).map_err(io(path.display().to_string()))?;
        let err = file.try_clone().map_err(io(path.display().to_string()))?;
        let mut cmd = tokio::process::Command::new(exe);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .env("P2PD_LOG", "info")
            .kill_on_drop(true);
        // The child dies with us even if the demo itself is killed.
        let child = crate::platform::spawn_tied_to_parent(&mut cmd)
            .map_err(io(format!("cannot run {}", exe.display())))?;
        self.children.push(child);
        Ok(())
    }

    /// The address in the "listening on https://ADDR" line of `log`.
    async fn wait_listening(&self, log: &str) -> Result<SocketAddr, DemoError> {
        let path = self.logs.join(log);
        let mut text = String::new();
        for _ in 0..100 {
            text = tokio::fs::read_to_string(&path).await.unwrap_or_default();
            let found = text.lines().find_map(|l| {
                let at = l.find("listening on https://")? + "listening on https://".len();
                l[at..].split_whitespace().next()?.parse().ok()
            });
            if let Some(addr) = found {
                return Ok(addr);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(DemoError::ServeDidNotStart(text))
    }

    /// The demo server's CA certificate (agents and curl trust it).
    pub fn ca_file(&self) -> PathBuf {
        self.prepared
            .server_dir
            .join(crate::trust::tls::CA_CERT_FILE)
    }

    /// The server's address.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// The admin token (dashboard and `/metrics`).
    pub fn admin_token(&self) -> &str {
        &self.prepared.admin_token
    }

    /// How many agents run.
    pub fn agents(&self) -> usize {
        self.agents.len()
    }

    /// The temporary directory.
    pub fn root(&self) -> &Path {
        self.prepared.root()
    }

    /// Follows the distribution until every office is done, calling
    /// `progress` with each snapshot (every 200 ms). `None`: interrupted
    /// (Ctrl-C). Database reads go through `spawn_blocking`.
    pub async fn distribute(
        &mut self,
        timeout: Duration,
        mut progress: impl FnMut(&Snapshot),
    ) -> Result<Option<DemoResult>, DemoError> {
        let started = Instant::now();
        loop {
            let snap = self.snapshot().await?;
            progress(&snap);
            if snap.offices.iter().all(|o| o.done) {
                break;
            }
            for c in &mut self.children {
                if let Ok(Some(status)) = c.try_wait() {
                    return Err(DemoError::ExitedEarly {
                        status: status.to_string(),
                        logs: self.logs.clone(),
                    });
                }
            }
            if started.elapsed() > timeout {
                return Err(DemoError::Timeout(timeout.as_secs()));
            }
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return Ok(None),
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        // Let the last transfer reports reach the server before the final report.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let (dir, id) = self.db_args();
        let agents: Vec<PathBuf> = self.agents.iter().map(|(_, d)| d.clone()).collect();
        let (report, verified) = blocking(move || {
            let st = Store::open(&dir)?;
            let report = crate::ops::report::content_report(&st, &id)?
                .ok_or_else(|| DemoError::Vanished(format!("content {id} vanished")))?;
            let manifest = st.manifest(&id)?.ok_or_else(|| {
                DemoError::Vanished(format!("content {id} vanished from the database"))
            })?;
            let verified = agents
                .iter()
                .filter(|dir| {
                    let f = crate::agent::delivered_path(&dir.join("delivered"), &manifest);
                    file_sha256(&f).is_ok_and(|h| h == id)
                })
                .count();
            Ok((report, verified))
        })
        .await?;
        let max_wan_copies = report
            .offices
            .iter()
            .map(|o| o.wan_copies)
            .fold(0.0, f64::max);
        Ok(Some(DemoResult {
            devices: self.agents.len(),
            devices_verified: verified,
            seconds,
            max_wan_copies,
            report,
            content_id: self.prepared.content_id.clone(),
        }))
    }

    fn db_args(&self) -> (PathBuf, String) {
        (
            self.prepared.server_dir.clone(),
            self.prepared.content_id.clone(),
        )
    }

    async fn snapshot(&self) -> Result<Snapshot, DemoError> {
        let (dir, id) = self.db_args();
        let per_office = self.prepared.devices;
        blocking(move || snapshot(&dir, &id, per_office)).await
    }

    /// Stops the processes (SIGTERM, then a kill after 5 s) and removes
    /// the directory unless kept.
    pub async fn stop(mut self) {
        for c in &mut self.children {
            crate::platform::request_stop(c);
        }
        let children = std::mem::take(&mut self.children);
        for mut c in children {
            if tokio::time::timeout(Duration::from_secs(5), c.wait())
                .await
                .is_err()
            {
                let _ = c.start_kill();
            }
        }
    }
}

/// Runs blocking work (SQLite, file hashing) off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DemoError> + Send + 'static,
) -> Result<T, DemoError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| io("a blocking task failed")(std::io::Error::other(e)))?
}

/// The distribution of `content_id` per demo office, from the database.
fn snapshot(server_dir: &Path, content_id: &str, per_office: u32) -> Result<Snapshot, DemoError> {
    let st = Store::open(server_dir)?;
    let report = crate::ops::report::content_report(&st, content_id)?
        .ok_or_else(|| DemoError::Vanished("content vanished".into()))?;
    let pieces: HashMap<String, u32> = st
        .progress(content_id)?
        .into_iter()
        .map(|p| (p.device_id, p.pieces))
        .collect();
    let total_pieces = st
        .manifest(content_id)?
        .map(|m| m.piece_count())
        .unwrap_or(1);
    let devices = st.targeted_devices(content_id)?;
    let mut office_of: HashMap<&str, String> = HashMap::new();
    for d in &devices {
        if let Some(o) = d.office_id.map(|id| st.office(id)).transpose()?.flatten() {
            office_of.insert(d.id.as_str(), o.name);
        }
    }
    let offices = OFFICES
        .iter()
        .map(|(office, _, _)| {
            let row = report.offices.iter().find(|o| o.office == *office);
            OfficeProgress {
                office,
                pieces: devices
                    .iter()
                    .filter(|d| office_of.get(d.id.as_str()).is_some_and(|o| o == office))
                    .map(|d| pieces.get(&d.id).copied().unwrap_or(0) as u64)
                    .sum(),
                pieces_wanted: per_office as u64 * total_pieces as u64,
                devices_done: row.map_or(0, |o| o.devices_done),
                done: row.is_some_and(|o| {
                    o.devices_targeted == per_office && o.devices_done == per_office
                }),
            }
        })
        .collect();
    Ok(Snapshot { report, offices })
}

fn file_sha256(p: &Path) -> std::io::Result<String> {
    let f = std::fs::File::open(p)?;
    let size = f.metadata()?.len();
    let d = crate::content::hash::hash_reader(f, size, 1 << 20, &mut |_| {})
        .map_err(std::io::Error::other)?;
    Ok(crate::content::hex(&d.sha256))
}

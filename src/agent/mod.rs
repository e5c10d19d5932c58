//! `p2pd agent`: the peer client on each device.
//!
//! May use: domain metrics platform trust wire
//!
//! It enrolls (hostname, address and prefix, client version, group), sends
//! heartbeats at the interval the server sets, learns which content targets
//! its group, downloads each piece by piece from the sources the server
//! ranks for it, verifies every piece before storing or serving it, and
//! delivers the finished file atomically into `delivered/`.
//!
//! Data dir (its own, never the server's: [`default_data_dir`], or
//! `--data-dir` / `P2PD_AGENT_DATA_DIR`):
//!
//! ```text
//! agent.json       device id and server, kept across restarts
//! pieces/          the piece store (see pieces.rs)
//! delivered/       finished files: delivered/<name>/<version>/<file> (names.rs)
//! transfers.log    JSON lines: every piece in and out (the agent's own word)
//! reports.pending  JSON lines: what the server has not acknowledged yet (journal.rs)
//! ```
//!
//! A content the agent cannot make progress on — one source failing the
//! same way again and again, or a delivery error no retry can fix — is
//! logged once at WARN and reported as *stuck* (with the reason) in every
//! heartbeat until it moves again, so `report`, `devices list` and
//! `health` show it on the server.

use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::Method;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::domain::ContentId;
use crate::trust::key::{SharedKey, Verifier};
use crate::wire::http::{CallError, SignedClient};
use crate::wire::proto::*;

mod addrs;
mod beat;
pub mod ca;
pub mod download;
mod enroll;
#[cfg(feature = "fault-injection")]
mod faults;
pub mod havemap;
pub mod journal;
pub mod names;
pub mod peer;
pub mod pieces;
mod refused;
mod sha256x2;

pub use enroll::DEVICE_SECRET_FILE;
pub use names::delivered_path;

/// The agent's data dir when neither `--data-dir` nor
/// `P2PD_AGENT_DATA_DIR` names one. Separate from the server's, so an
/// agent on the server host never writes into the server's data dir.
pub fn default_data_dir() -> PathBuf {
    crate::platform::default_agent_data_dir()
}

/// Why a content is stuck on this device.
#[derive(Debug, Clone)]
pub struct StuckState {
    pub reason: String,
    /// True when retrying cannot help (a delivery error): the content is
    /// not attempted again until the agent restarts.
    pub permanent: bool,
}

/// Everything the agent is told on its command line.
#[derive(Debug, Clone)]
pub struct Config {
    /// Server base URLs, e.g. `http://10.0.0.5:7650`: one, or several
    /// replicas of one server (design note `replicas`). The agent starts on one picked by
    /// its host name (so a fleet spreads over them) and moves to the next
    /// when the one it uses fails; pieces are on disk, so nothing is lost.
    pub servers: Vec<String>,
    pub key: SharedKey,
    /// Where `key` came from. Re-read on every heartbeat and on a key
    /// mismatch, so a key roll-out (`agent install --key-file NEW`
    /// rewrites it) needs no restart.
    pub key_file: Option<PathBuf>,
    pub group: String,
    pub data_dir: PathBuf,
    /// Where the peer server listens (after start, with the port bound).
    pub listen: SocketAddr,
    /// A fixed address other devices reach this one at (`--advertise`,
    /// behind NAT). `None`, the usual case: the server names the address
    /// this device reaches it from, as that changes.
    pub advertise: Option<SocketAddr>,
    /// The source address of every outgoing connection (`--source-address`:
    /// tests, several agents on one host). `None`, always on a real
    /// device: the operating system picks it, so an address change does not
    /// break the agent.
    pub source: Option<IpAddr>,
    /// Prefix length of the advertised or source address's subnet
    /// (`--prefix-len`); interface addresses carry their own.
    pub prefix_len: Option<u8>,
    pub on_complete: Option<String>,
    /// Reported client version.
    pub version: String,
    pub hostname: String,
    /// Pieces in flight per content.
    pub parallel: usize,
    /// The server CA: with it, every connection is TLS 1.3 and the server
    /// and peers must prove a certificate from it. `None` only with
    /// `--insecure-plain-http`.
    pub tls: Option<crate::trust::tls::Trust>,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The server refused this agent for good (key mismatch, unassigned
    /// group, unsupported version): retrying would not help.
    #[error("the server refused this agent: {0}")]
    Refused(WireError),
    #[error(transparent)]
    Pieces(#[from] pieces::PieceError),
    /// The data dir or its transfer log cannot be set up.
    #[error("{what} {}: {source}", .path.display())]
    Io {
        what: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Client(crate::wire::http::ClientError),
    /// No `--server` URL to talk to.
    #[error("no server URL given; pass --server URL (several: comma-separated)")]
    NoServer,
    /// The peer server's TLS configuration cannot be built.
    #[error("peer server TLS: {0}")]
    Tls(#[from] crate::trust::tls::TlsError),
    /// A call failed in a way that ends the agent.
    #[error(transparent)]
    Call(CallError),
}

/// Shared state of a running agent.
pub struct Agent {
    pub cfg: Config,
    pub client: SignedClient,
    /// Verifies requests from peers.
    pub verifier: Verifier,
    pub pieces: pieces::PieceStore,
    /// The device certificate (from enrollment), presented to the server
    /// and to peers, and served by the peer server.
    pub cert: Arc<crate::trust::tls::DeviceCert>,
    pub device_id: RwLock<String>,
    /// False for VPN-office and no-office devices: the peer server refuses.
    pub serve_peers: AtomicBool,
    pub heartbeat_secs: AtomicU64,
    /// Transfers, uploads and bad pieces the server has not acknowledged:
    /// in memory, and journalled to `reports.pending` under this lock
    /// (journal.rs), so a crash loses none of them.
    pending: Mutex<journal::Journal>,
    /// Contents this device is stuck on, by content id; sent with every
    /// heartbeat.
    stuck: Mutex<HashMap<ContentId, StuckState>>,
    /// The last problem reading the key file, logged once.
    key_problem: Mutex<Option<String>>,
    /// `transfers.log`.
    log: Mutex<std::fs::File>,
    pub shutdown: CancellationToken,
    /// Bytes moving per content, reported with each heartbeat.
    flows: Mutex<HashMap<ContentId, Arc<Flow>>>,
    /// How far this host's clock is off (fault injection only; 0 otherwise):
    /// its "own clock" is the real one plus this.
    clock_skew: i64,
    /// Test-only fault switches, read from the environment at start.
    #[cfg(feature = "fault-injection")]
    pub(crate) faults: faults::Faults,
    /// Server time minus this host's clock, as last measured.
    clock_offset: AtomicI64,
    /// When each content was last used (a piece served or stored), for
    /// least-recently-used eviction. Contents not used since the start
    /// fall back to their journal's modification time.
    last_used: Mutex<HashMap<ContentId, std::time::SystemTime>>,
    /// Index into `cfg.servers` of the server in use.
    current_server: AtomicUsize,
    /// The device's addresses and office as last seen (`addrs.rs`).
    pub(crate) place: addrs::Place,
}

/// Whether a failed call says the server (not the request) is in trouble:
/// no connection, a timeout, a 5xx, or the server shedding load. Then
/// another replica may do better.
pub fn server_trouble(e: &CallError) -> bool {
    match e {
        CallError::Transport(_) => true,
        CallError::Status { status, .. } => *status >= 500,
        CallError::Wire(w) => matches!(w.code, ErrorCode::Overloaded | ErrorCode::Internal),
        // No usable device certificate from this one: another may issue one.
        CallError::Certificate(_) => true,
        // A peer's identity, not the server's trouble.
        CallError::WrongPeer(_) => false,
    }
}

/// Where an agent of `host` starts among `n` servers: spread by a hash of
/// its host name and address, the same on every restart.
fn first_server(host: &str, n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    let h = host.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    (h % n as u64) as usize
}

/// What a download tells the server through heartbeats: bytes received so
/// far (counted as they stream in) and whether every upstream source it may
/// use is failing.
#[derive(Debug, Default)]
pub struct Flow {
    pub bytes: AtomicU64,
    pub blocked: AtomicBool,
}

impl Agent {
    pub fn device_id(&self) -> String {
        self.device_id.read().clone()
    }

    /// Marks a content stuck. Returns true when this is news (the reason
    /// changed), so the caller logs it once rather than on every retry.
    pub fn set_stuck(&self, content: &ContentId, reason: String, permanent: bool) -> bool {
        let mut m = self.stuck.lock();
        let news = m.get(content).is_none_or(|s| s.reason != reason);
        m.insert(*content, StuckState { reason, permanent });
        news
    }

    /// The content moves again. Returns the old reason, if it was stuck.
    pub fn clear_stuck(&self, content: &ContentId) -> Option<String> {
        self.stuck.lock().remove(content).map(|s| s.reason)
    }

    /// Re-reads the key file. True when it now holds another key, which
    /// then signs and verifies everything from here on.
    pub fn reload_key(&self) -> bool {
        let Some(path) = &self.cfg.key_file else {
            return false;
        };
        match SharedKey::load(path) {
            Ok(k) if k.fingerprint() != self.client.key().fingerprint() => {
                tracing::info!(
                    key = %k.fingerprint(),
                    "key file {} changed: signing with the new key",
                    path.display()
                );
                self.client.set_key(k.clone());
                self.verifier.set_key(k);
                *self.key_problem.lock() = None;
                true
            }
            Ok(_) => false,
            Err(e) => {
                // Keep the key in use; say so once per distinct problem.
                let msg = match &e {
                    crate::trust::key::KeyError::Missing { path } => {
                        format!("key file {} is missing", path.display())
                    }
                    crate::trust::key::KeyError::Corrupt { path, why } => {
                        format!("key file {} is corrupt ({why})", path.display())
                    }
                    other => other.to_string(),
                };
                let mut last = self.key_problem.lock();
                if last.as_deref() != Some(msg.as_str()) {
                    tracing::warn!("{msg}; still signing with the key loaded before");
                    *last = Some(msg);
                }
                false
            }
        }
    }

    /// True for a content that retrying cannot help.
    pub fn stuck_for_good(&self, content: &ContentId) -> bool {
        self.stuck.lock().get(content).is_some_and(|s| s.permanent)
    }

    fn stuck_list(&self) -> Vec<Stuck> {
        let m = self.stuck.lock();
        let mut v: Vec<Stuck> = m
            .iter()
            .map(|(id, s)| Stuck {
                content_id: *id,
                reason: s.reason.clone(),
            })
            .collect();
        v.sort_by_key(|a| a.content_id);
        v
    }

    /// The flow counters of one content.
    pub fn flow(&self, content: &ContentId) -> Arc<Flow> {
        self.flows.lock().entry(*content).or_default().clone()
    }

    /// Learns the clock offset from a server answer and signs with server
    /// time from now on.
    fn learn_clock(&self, server_time: i64) {
        if server_time <= 0 {
            return; // an older server that does not say
        }
        let local = crate::domain::clock::now() + self.clock_skew;
        let offset = server_time - local;
        self.clock_offset.store(offset, Ordering::Relaxed);
        self.client.set_clock_offset(self.clock_skew + offset);
    }

    /// Tells the server this agent is stopping, so that whatever it leads
    /// gets a new leader now rather than after missed heartbeats.
    async fn leave(&self) {
        let req = LeaveRequest {
            device_id: self.device_id(),
        };
        if req.device_id.is_empty() {
            return;
        }
        let r = self
            .client
            .request(
                Method::POST,
                &self.url("/v1/leave"),
                serde_json::to_vec(&req).expect("leave serializes"),
            )
            .timeout(Duration::from_secs(1))
            .send()
            .await;
        match r {
            Ok(resp) => {
                if let Err(e) = crate::wire::http::check(resp).await {
                    tracing::warn!("leave: {e}");
                }
            }
            Err(e) => tracing::warn!("leave: {e}"),
        }
    }

    /// The server in use.
    pub fn server(&self) -> &str {
        let i = self.current_server.load(Ordering::Relaxed) % self.cfg.servers.len().max(1);
        self.cfg
            .servers
            .get(i)
            .map_or("", |s| s.trim_end_matches('/'))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.server(), path)
    }

    /// A call to `url` failed with `e`: if the server is in trouble and
    /// `url` was on the server still in use, move to the next one (once per
    /// failure, however many tasks saw it). Returns whether it moved.
    pub fn server_failed(&self, url: &str, e: &CallError) -> bool {
        let n = self.cfg.servers.len();
        if n <= 1 || !server_trouble(e) {
            return false;
        }
        let i = self.current_server.load(Ordering::Relaxed);
        let cur = self.cfg.servers[i % n].trim_end_matches('/');
        if !url.starts_with(cur) {
            return false;
        }
        let next = (i + 1) % n;
        if self
            .current_server
            .compare_exchange(i, next, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            tracing::warn!(
                failed = %cur, next = %self.cfg.servers[next], "server failing ({e}); moving to the next server"
            );
            return true;
        }
        false
    }

    /// Appends one line to `transfers.log`, in one `write`: a kill cannot
    /// leave half a line for the next one to be glued to.
    fn log_line(&self, v: serde_json::Value) {
        let line = format!("{v}\n");
        let _ = self.log.lock().write_all(line.as_bytes());
    }

    /// Records a piece received (or a failed attempt).
    pub fn record_transfer(&self, t: TransferReport, piece: u32) {
        self.record_transfer_then(t, piece, &mut || {});
    }

    /// Records a piece received, then runs `then` (the piece store
    /// journalling the piece: `Content::store_piece`) before the report can
    /// be sent: the report is durable before the piece is kept, and the
    /// piece is durable before the report reaches the server. A crash
    /// in between costs a second fetch of the piece, reported too: it
    /// crossed twice.
    pub fn record_transfer_then(&self, t: TransferReport, piece: u32, then: &mut dyn FnMut()) {
        crate::metrics::AGENT.received(t.tier.as_str(), t.bytes, t.ok);
        self.log_line(serde_json::json!({
            "dir": "in", "at": now_ms(), "content": t.content_id, "piece": piece,
            "tier": t.tier.as_str(), "source": t.source_device, "bytes": t.bytes, "ok": t.ok,
        }));
        // Held through `then`: a flush takes the report under this lock.
        let mut p = self.pending.lock();
        p.add(journal::Record::Transfer(t));
        then();
    }

    /// Marks a content as just used, for the cache's LRU order.
    pub fn touch(&self, content: &ContentId) {
        self.last_used
            .lock()
            .insert(*content, std::time::SystemTime::now());
    }

    /// Keeps the piece store within `limit` bytes: content no longer
    /// targeted goes first, least recently used first. Targeted content is
    /// never evicted, even over the limit (the office may need it from this
    /// device). Delivered files are the device's and stay. Blocking.
    fn evict_cache(&self, limit: u64, targeted: &std::collections::HashSet<ContentId>) {
        let all = self.pieces.all();
        let mut held: u64 = all.iter().map(|c| c.manifest.size).sum();
        if held <= limit {
            return;
        }
        let used = self.last_used.lock().clone();
        let mut candidates: Vec<_> = all
            .iter()
            .filter(|c| !targeted.contains(&c.manifest.id))
            .map(|c| {
                let at = used.get(&c.manifest.id).copied().unwrap_or_else(|| {
                    std::fs::metadata(
                        self.pieces_dir()
                            .join(c.manifest.id.to_string())
                            .join("journal"),
                    )
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH)
                });
                (at, c.manifest.id, c.manifest.size)
            })
            .collect();
        candidates.sort();
        for (_, id, size) in candidates {
            if held <= limit {
                break;
            }
            match self.pieces.evict(&id) {
                Ok(()) => {
                    held -= size;
                    self.last_used.lock().remove(&id);
                    tracing::info!(content = %id, bytes = size, limit, "evicted from the cache (no longer targeted)");
                }
                Err(e) => tracing::warn!(content = %id, "cannot evict: {e}"),
            }
        }
        if held > limit {
            tracing::warn!(
                held,
                limit,
                "cache over its limit, but all of it is still targeted"
            );
        }
    }

    fn pieces_dir(&self) -> PathBuf {
        self.cfg.data_dir.join("pieces")
    }

    pub fn record_upload(&self, content: &ContentId, to: &str, piece: u32, bytes: u64) {
        self.touch(content);
        crate::metrics::AGENT.served(bytes);
        self.log_line(serde_json::json!({
            "dir": "out", "at": now_ms(), "content": content, "piece": piece,
            "to": to, "bytes": bytes,
        }));
        self.pending
            .lock()
            .add(journal::Record::Upload(UploadReport {
                content_id: *content,
                pieces: 1,
                bytes,
            }));
    }

    pub fn record_bad(&self, content: &ContentId, from: &str, piece: u32) {
        self.log_line(serde_json::json!({
            "dir": "bad", "at": now_ms(), "content": content, "piece": piece, "source": from,
        }));
        self.pending.lock().add(journal::Record::Bad(BadPiece {
            content_id: *content,
            source_device: from.to_string(),
            piece,
        }));
    }
}

/// Unix time in seconds with millisecond precision, for the transfer log.
fn now_ms() -> f64 {
    crate::domain::clock::now_ms() as f64 / 1000.0
}

/// Runs the agent until `shutdown` is cancelled or the server refuses it.
pub async fn run(
    cfg: Config,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
) -> Result<(), AgentError> {
    let (agent, peer_tls) = setup(cfg, shutdown)?;
    let tracker = TaskTracker::new();
    serve_peers(&tracker, agent.clone(), listener, peer_tls);
    tracker.spawn(addrs::watch(agent.clone()));
    let mut refusals = refused::Refusals::default();
    let enrolled = match enroll::at_start(&agent, &mut refusals).await {
        Ok(Some(r)) => r,
        stopped => {
            agent.shutdown.cancel();
            tracker.close();
            tracker.wait().await;
            return stopped.map(|_| ());
        }
    };
    tracing::info!(
        device = %enrolled.device_id,
        office = enrolled.office.as_deref().unwrap_or("(no office)"),
        "enrolled"
    );
    agent.placed(enrolled.office.as_deref());
    let result = beat::heartbeats(&agent, &tracker, &mut refusals).await;
    drain(&agent, &tracker, result.is_ok()).await;
    result
}

/// The peer server's TLS configuration (`None` on plain HTTP).
type PeerTls = Option<Arc<rustls::ServerConfig>>;

/// Sets up the data dir, the transfer log, the client and the piece store
/// (resuming what is on disk), and the agent's shared state.
fn setup(cfg: Config, shutdown: CancellationToken) -> Result<(Arc<Agent>, PeerTls), AgentError> {
    std::fs::create_dir_all(&cfg.data_dir).map_err(|source| AgentError::Io {
        what: "cannot create",
        path: cfg.data_dir.clone(),
        source,
    })?;
    let log_path = cfg.data_dir.join("transfers.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|source| AgentError::Io {
            what: "cannot open",
            path: log_path.clone(),
            source,
        })?;
    let local: Option<IpAddr> = cfg.source.filter(|ip| !ip.is_unspecified());
    let cert = Arc::new(crate::trust::tls::DeviceCert::default());
    let client_tls = cfg.tls.clone().map(|trust| crate::wire::http::ClientTls {
        trust,
        cert: cert.clone(),
    });
    let peer_tls = match &cfg.tls {
        Some(t) => Some(Arc::new(t.server_config(cert.clone(), true)?)),
        None => None,
    };
    let client =
        SignedClient::with_tls(cfg.key.clone(), local, client_tls).map_err(AgentError::Client)?;
    // Test-only fault switches, read once here.
    #[cfg(feature = "fault-injection")]
    let faults = faults::Faults::from_env();
    // Test-only: pretend this host's clock is off by N seconds.
    #[cfg(feature = "fault-injection")]
    let clock_skew: i64 = faults.clock_skew_secs;
    #[cfg(not(feature = "fault-injection"))]
    let clock_skew: i64 = 0;
    // Until the server has told its time, sign with our own clock.
    client.set_clock_offset(clock_skew);
    let jpath = cfg.data_dir.join(journal::FILE);
    let pending = journal::Journal::open(jpath.clone()).map_err(|source| AgentError::Io {
        what: "cannot open the report journal",
        path: jpath,
        source,
    })?;
    let pieces = pieces::PieceStore::new(cfg.data_dir.join("pieces"))?;
    for r in pieces.open_existing() {
        if let Err(e) = r {
            tracing::warn!("cannot resume a content: {e}");
        }
    }
    // Host name and peer address: several agents on one host (tests, a
    // terminal server) spread too.
    let (first_host, n_servers) = (
        format!("{}/{}", cfg.hostname, cfg.listen),
        cfg.servers.len(),
    );
    if n_servers == 0 {
        return Err(AgentError::NoServer);
    }
    let agent = Arc::new(Agent {
        verifier: Verifier::new(cfg.key.clone()),
        cfg,
        client,
        pieces,
        cert,
        device_id: RwLock::new(String::new()),
        serve_peers: AtomicBool::new(false),
        heartbeat_secs: AtomicU64::new(10),
        pending: Mutex::new(pending),
        stuck: Mutex::new(HashMap::new()),
        key_problem: Mutex::new(None),
        log: Mutex::new(log),
        shutdown,
        flows: Mutex::new(HashMap::new()),
        clock_skew,
        #[cfg(feature = "fault-injection")]
        faults,
        clock_offset: AtomicI64::new(0),
        last_used: Mutex::new(HashMap::new()),
        current_server: AtomicUsize::new(first_server(&first_host, n_servers)),
        place: addrs::Place::new(local),
    });
    Ok((agent, peer_tls))
}

/// Serves pieces to peers on `listener` until shutdown.
fn serve_peers(
    tracker: &TaskTracker,
    agent: Arc<Agent>,
    listener: tokio::net::TcpListener,
    tls: PeerTls,
) {
    let s = agent.shutdown.clone();
    let app = peer::router(agent);
    tracker.spawn(async move {
        if let Err(e) =
            crate::wire::listen::serve(listener, app, s, crate::wire::listen::Limits::PEER, tls)
                .await
        {
            tracing::error!("peer server: {e}");
        }
    });
}

/// Stops: hands over leadership first (unless refused), so that followers
/// get a new leader while this agent drains, then waits for the downloads
/// and the peer server (at most 10 s) and sends the last reports.
async fn drain(agent: &Agent, tracker: &TaskTracker, leave: bool) {
    if leave {
        tracing::info!("shutting down");
        agent.leave().await;
    }
    agent.shutdown.cancel();
    tracker.close();
    if tokio::time::timeout(Duration::from_secs(10), tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("tasks did not stop within 10 s");
    }
    agent.flush_reports().await;
}

//! Downloading one content: pick a piece, pick a source, verify, store.
//!
//! The loop keeps up to `parallel` pieces in flight. For each missing piece
//! (in order, so that followers pipeline right behind their leader):
//!
//! 1. an office peer whose have-map shows the piece (least busy first);
//! 2. a leader or solo device then goes upstream: a parent-office peer that
//!    has it (or the parent's leader, waiting for it), else the server,
//!    else the CDN / file storage; each tier only while the previous one
//!    is failing;
//! 3. a follower asks its leader and waits for the piece to arrive there.
//!
//! Have-maps are polled from peers directly; the server only ranks sources.
//! A peer that sends a piece failing its hash is banned for this content at
//! once (and reported); the piece goes back to the queue.
//!
//! Faults and churn (design note `faults-and-churn`):
//!
//! - **Slow peers.** Each source's throughput is measured per piece. A
//!   piece from a peer that is far slower than the best source seen (or
//!   sends nothing for a few seconds after its headers) is raced at
//!   another source; the first verified copy wins and the other request is
//!   dropped. A peer abandoned twice, or one that claims pieces in its
//!   have-map and then does not have them three times, is dropped for this
//!   content.
//! - **Leader failures.** A follower whose leader refuses connections or
//!   stalls asks for sources again at once, naming the leader and its term
//!   (`Suspect`); the server confirms with a second signal and re-elects.
//! - **Hostile leaders** (design note `key-holders`). A follower with evidence against its
//!   leader goes around it without waiting for the server to act: a piece
//!   that failed its hash (the leader is banned here at once), an answer
//!   longer than the piece (refused at the piece's length), a transfer
//!   below [`MIN_PEER_RATE`], a stall, or three failures in a row. It names
//!   the leader in every `/sources` call while that device leads; the
//!   server then gives it the upstream sources too, and it fetches from
//!   the next tier up (parent-office peers, the server, the CDN) whatever
//!   no other office peer has. The first three drop the leader for this
//!   content (its requests are abandoned at once); after a stall or
//!   failures it is tried again when its back-off ends, and a piece it
//!   delivers clears the evidence. Bad and oversize pieces are reported,
//!   and the server re-checks them itself (`server/recheck.rs`). A
//!   follower without evidence never goes upstream.
//! - **Leader changes.** When a new plan names another leader, requests
//!   parked at the old one (waiting for pieces to arrive there) are
//!   dropped. A leader told it no longer leads stops its requests outside
//!   the office and answers its own waiting followers `not_scheduled`, so
//!   that they ask for sources again at once. Refreshes come at a jittered
//!   60–100 % of `refresh_secs`, so an office's devices do not ask in
//!   lockstep.
//! - **Pieces are hashed when stored** (`Content::store_piece`), checked and
//!   written on the blocking pool, one writer per file; buffers are reused.
//!   The piece next in file order is hashed once for its own check and the
//!   whole file's; one that arrives a few pieces early waits up to
//!   `TURN_WAIT` for its turn.
//! - **Lease.** A leader pulls from outside the office only while its last
//!   answer from the server is younger than `lease_secs`: cut off from the
//!   server, it stops pulling before a new leader can have been named.
//! - **Flow.** Bytes are counted as they stream in and reported with each
//!   heartbeat, with a flag saying every upstream source is failing; the
//!   server judges stalls by those (see `server/leader.rs`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::Method;
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;

use super::Agent;
use super::pieces::{Content, PieceBuf, PieceError};
use crate::domain::Bitmap;
use crate::wire::http::CallError;
use crate::wire::proto::*;

/// How long a follower's request may wait at the leader for a piece.
const WAIT_MS: u64 = 5_000;
/// At most this many requests in flight to one source outside the office
/// (parent office, server, CDN): the WAN link is the limit there, and
/// whatever is in flight when that source fails is lost to the WAN.
const PER_SOURCE: usize = 4;
/// At most this many to a peer in the office: on a LAN the two agents'
/// CPUs are the limit, and a deeper pipeline keeps both busy (8 against 4:
/// 0.84 against 0.78 of curl's throughput on loopback, bench/RESULTS.md).
const PER_LAN_SOURCE: usize = 8;
/// A received piece at most this many pieces ahead of the whole-file
/// hash waits for its turn, at most [`TURN_WAIT`]: pieces requested
/// together finish within a few ms of each other on a LAN, and one stored
/// in its turn costs one pass of SHA-256 instead of two.
const TURN_AHEAD: u32 = 2 * PER_LAN_SOURCE as u32;
const TURN_WAIT: Duration = Duration::from_millis(10);
/// A piece request is raced elsewhere when its rate is this many times
/// below the best rate another source shows...
const SLOW_FACTOR: f64 = 4.0;
/// ...and at least this long after its headers arrived.
const SLOW_MIN: Duration = Duration::from_secs(4);
/// A peer abandoned this many times for slowness is dropped for the content.
const SLOW_STRIKES: u32 = 2;
/// A peer whose have-map claimed a piece it then did not have this many
/// times is dropped for the content.
const LIE_STRIKES: u32 = 3;
/// A peer answers this long after the wait it was asked for, or it is
/// frozen.
const PEER_HEADERS: Duration = Duration::from_secs(4);
/// No body bytes for this long after the headers: the request has stalled.
const BODY_IDLE: Duration = Duration::from_secs(10);
/// A piece from an office peer moving slower than this (bytes/s),
/// [`SLOW_MIN`] after its headers, is slow whatever the other sources show:
/// a LAN peer sends from its disk (a follower's request waits at its leader
/// until the piece is there, and only then gets headers), so this is far
/// below any honest one, busy or on Wi-Fi. From the leader it is evidence.
/// Not for parent-office peers: a slow WAN link is not evidence.
const MIN_PEER_RATE: f64 = 16.0 * 1024.0;

pub async fn download_task(agent: Arc<Agent>, c: ContentRef) {
    let id = c.id.clone();
    if let Err(e) = download(agent.clone(), c).await {
        // The heartbeat loop starts it again; the same error is logged
        // (and reported as stuck) once, not on every heartbeat.
        let reason = format!("download stopped: {e}");
        if agent.set_stuck(&id, reason.clone(), false) {
            tracing::error!(content = %id, "{reason}");
        }
    }
}

async fn fetch_manifest(agent: &Agent, id: &str) -> Result<Manifest, CallError> {
    let url = agent.url(&format!(
        "/v1/contents/{id}/manifest?device={}",
        agent.device_id()
    ));
    agent
        .client
        .get_json(&url, Duration::from_secs(15))
        .await
        .inspect_err(|e| {
            agent.server_failed(&url, e);
        })
}

/// Why a download stopped (the heartbeat loop starts it again).
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The manifest cannot be had (the content is gone from the server).
    #[error("{0}")]
    Manifest(CallError),
    #[error("server sent a manifest refused as unsafe: {0}")]
    Unsafe(crate::wire::proto::Invalid),
    #[error("server sent manifest {got} for {want}")]
    WrongManifest { got: String, want: String },
    #[error(transparent)]
    Pieces(#[from] PieceError),
    /// A blocking task (piece store, delivery) panicked or was cancelled.
    #[error("{0}")]
    Task(#[from] tokio::task::JoinError),
}

async fn download(agent: Arc<Agent>, cref: ContentRef) -> Result<(), DownloadError> {
    let mut backoff = Duration::from_millis(200);
    let mut last_error = String::new();
    let manifest = loop {
        match fetch_manifest(&agent, &cref.id).await {
            Ok(m) => break m,
            Err(e) => {
                // Once per distinct error, not once per retry.
                let text = e.to_string();
                if text != last_error {
                    tracing::warn!(content = %cref.id, "manifest: {text}");
                    last_error = text;
                }
                if matches!(e.code(), Some(ErrorCode::NotFound)) {
                    return Err(DownloadError::Manifest(e));
                }
            }
        }
        tokio::select! {
            _ = agent.shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(crate::wire::http::jittered(backoff)) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    };
    // Everything below builds paths and buffers from the manifest.
    manifest.validate().map_err(DownloadError::Unsafe)?;
    if manifest.id != cref.id {
        return Err(DownloadError::WrongManifest {
            got: manifest.id.clone(),
            want: cref.id.clone(),
        });
    }
    let a = agent.clone();
    let m = manifest.clone();
    let content = tokio::task::spawn_blocking(move || a.pieces.open(&m)).await??;
    #[cfg(feature = "fault-injection")]
    if agent.faults.slow {
        // The fake slow peer holds the manifest (to claim its pieces) and
        // fetches nothing.
        agent.shutdown.cancelled().await;
        return Ok(());
    }
    if !content.complete() {
        let mut dl = Downloader::new(agent.clone(), content.clone());
        dl.run().await;
    }
    if !content.complete() {
        return Ok(()); // shut down
    }
    if !content.delivered() {
        let target = super::delivered_path(&agent.cfg.data_dir.join("delivered"), &manifest);
        let c = content.clone();
        let delivered = tokio::task::spawn_blocking(move || c.deliver(&target)).await?;
        let path = match delivered {
            Ok(p) => p,
            Err(e) if will_not_heal(&e) => {
                // Reported once, with the reason, and not retried until the
                // agent restarts: every retry would fail the same way.
                let reason = format!("cannot deliver {}: {e}", manifest.file_name);
                if agent.set_stuck(&cref.id, reason.clone(), true) {
                    tracing::warn!(content = %cref.id, "{reason}; fix that, then restart the agent");
                }
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        agent.clear_stuck(&cref.id);
        tracing::info!(file = %path.display(), "delivered");
        if let Some(cmd) = &agent.cfg.on_complete {
            // `sh -c` on Unix, `cmd /C` with `%1` on Windows.
            let status = crate::platform::on_complete_command(cmd, &path)
                .status()
                .await;
            match status {
                Ok(s) if s.success() => {}
                Ok(s) => tracing::warn!("--on-complete exited with {s}"),
                Err(e) => tracing::warn!("--on-complete could not run: {e}"),
            }
        }
    }
    Ok(())
}

/// Delivery errors that retrying cannot fix: the path cannot be created
/// (a file where a directory must be, a name the file system refuses,
/// no permission, a read-only file system), or the pieces verified but
/// the whole file does not (the manifest itself is inconsistent).
fn will_not_heal(e: &PieceError) -> bool {
    use std::io::ErrorKind as K;
    match e {
        PieceError::Io { source, .. } => matches!(
            source.kind(),
            K::NotADirectory
                | K::IsADirectory
                | K::AlreadyExists
                | K::PermissionDenied
                | K::ReadOnlyFilesystem
                | K::InvalidFilename
                | K::InvalidInput
        ),
        PieceError::BadPiece { .. } => false,
        PieceError::WholeFile { .. } => true,
        PieceError::DiskFull { .. } => false,
        PieceError::BadManifest(_) => true,
    }
}

/// How many times in a row one source may fail the same way, with nothing
/// arriving meanwhile, before the content counts as stuck.
const STUCK_AFTER: u32 = 3;

/// One source's current run of identical failures.
struct FailureRun {
    error: String,
    count: u32,
    since: Instant,
    /// Logged at WARN already (once per run).
    warned: bool,
}

/// What the downloader knows of one source of this content.
#[derive(Default)]
struct SourceStats {
    /// Requests in flight to it.
    busy: usize,
    /// Failed since it last delivered a piece: in back-off until the
    /// instant, after this many failures.
    backoff: Option<(Instant, u32)>,
    /// Measured throughput, bytes/s (moving average).
    rate: Option<f64>,
    /// Times it was abandoned for slowness.
    slow_strikes: u32,
    /// Times its have-map claimed a piece it then did not have.
    lie_strikes: u32,
    /// Its current run of identical failures.
    run: Option<FailureRun>,
}

/// [`SourceStats`] by source URL.
#[derive(Default)]
struct SourceTable(HashMap<String, SourceStats>);

impl SourceTable {
    fn get(&self, url: &str) -> Option<&SourceStats> {
        self.0.get(url)
    }

    fn entry(&mut self, url: &str) -> &mut SourceStats {
        self.0.entry(url.to_string()).or_default()
    }

    /// Requests in flight to `url`.
    fn busy(&self, url: &str) -> usize {
        self.get(url).map_or(0, |s| s.busy)
    }

    /// A request to `url` starts.
    fn started(&mut self, url: &str) {
        self.entry(url).busy += 1;
    }

    /// A request to `url` ended (finished or abandoned).
    fn ended(&mut self, url: &str) {
        if let Some(s) = self.0.get_mut(url) {
            s.busy = s.busy.saturating_sub(1);
        }
    }

    fn in_backoff(&self, url: &str) -> bool {
        self.get(url)
            .and_then(|s| s.backoff)
            .is_some_and(|(until, _)| Instant::now() < until)
    }

    /// Failed since it last delivered a piece (in back-off or not).
    fn has_failed(&self, url: &str) -> bool {
        self.get(url).is_some_and(|s| s.backoff.is_some())
    }

    /// `url` failed: it backs off for longer each time in a row (0.5 s,
    /// doubling, at most 5 s).
    fn back_off(&mut self, url: &str) {
        let b = self.entry(url).backoff.get_or_insert((Instant::now(), 0));
        b.1 += 1;
        let secs = (0.25 * 2f64.powi(b.1.min(5) as i32)).min(5.0);
        b.0 = Instant::now() + Duration::from_secs_f64(secs);
    }

    /// `url` delivered a piece of `bytes` in `took`: its failures are
    /// forgotten and its rate measured.
    fn delivered(&mut self, url: &str, bytes: u64, took: Duration) {
        let s = self.entry(url);
        s.backoff = None;
        s.run = None;
        let sample = bytes as f64 / took.as_secs_f64().max(0.001);
        let r = s.rate.get_or_insert(sample);
        *r = 0.7 * *r + 0.3 * sample;
    }

    fn rate(&self, url: &str) -> Option<f64> {
        self.get(url).and_then(|s| s.rate)
    }

    /// The best measured rate of any source but `url` (0 if none).
    fn best_rate_except(&self, url: &str) -> f64 {
        self.0
            .iter()
            .filter(|(u, _)| *u != url)
            .filter_map(|(_, s)| s.rate)
            .fold(0.0, f64::max)
    }

    /// `url` was abandoned for slowness: demoted below every measured
    /// source. Returns its strikes so far.
    fn slow_strike(&mut self, url: &str) -> u32 {
        let s = self.entry(url);
        s.slow_strikes += 1;
        s.rate = Some(1.0);
        s.slow_strikes
    }

    /// Abandoned for slowness before.
    fn struck_slow(&self, url: &str) -> bool {
        self.get(url).is_some_and(|s| s.slow_strikes > 0)
    }

    /// `url` did not have a piece its have-map claimed. Returns its
    /// strikes so far.
    fn lie_strike(&mut self, url: &str) -> u32 {
        let s = self.entry(url);
        s.lie_strikes += 1;
        s.lie_strikes
    }

    /// Counts a failure in `url`'s run of identical ones (a new run if
    /// the error differs).
    fn failed(&mut self, url: &str, error: String) -> &mut FailureRun {
        let now = Instant::now();
        let run = self.entry(url).run.get_or_insert_with(|| FailureRun {
            error: error.clone(),
            count: 0,
            since: now,
            warned: false,
        });
        if run.error != error {
            *run = FailureRun {
                error,
                count: 0,
                since: now,
                warned: false,
            };
        }
        run.count += 1;
        run
    }

    /// `url` failed the same way [`STUCK_AFTER`] times in a row or more.
    fn failing_repeatedly(&self, url: &str) -> bool {
        self.get(url)
            .and_then(|s| s.run.as_ref())
            .is_some_and(|r| r.count >= STUCK_AFTER)
    }
}

/// The result of one piece request.
struct Fetched {
    piece: u32,
    source: Source,
    /// Bytes received and what storing them gave (verified and written in
    /// the fetch task, off the download loop).
    result: Result<(u64, Result<bool, PieceError>), FetchError>,
    /// Time from headers to the last byte.
    took: Duration,
}

/// One request for one piece (a piece may have two when it is raced).
struct Attempt {
    url: String,
    device: Option<String>,
    tier: Tier,
    started: Instant,
    /// Milliseconds from `started` to the response headers (u64::MAX until
    /// then), written by the fetch task.
    headers_ms: Arc<AtomicU64>,
    /// Body bytes received so far, written by the fetch task.
    received: Arc<AtomicU64>,
    /// Set by the fetch task once it has every byte: from then on the task
    /// is storing the piece and is not aborted, so that what is logged is
    /// what was stored.
    complete: Arc<std::sync::atomic::AtomicBool>,
    abort: AbortHandle,
}

enum FetchError {
    /// The source does not have it (yet): try again later, not a failure.
    Unavailable,
    /// The server wants us to ask for sources again.
    Reschedule,
    /// Transport error or refusal: back off from this source.
    Failed(String),
    /// It sent (or declared) more bytes than the piece holds; refused at
    /// the piece's length. From a peer, that is evidence against it.
    Oversize(String),
}

enum Event {
    Piece(Fetched),
    Have(String, Option<Bitmap>),
}

struct Downloader {
    agent: Arc<Agent>,
    content: Arc<Content>,
    plan: Option<SourcesResponse>,
    plan_at: Option<Instant>,
    /// The next refresh comes after this share (0.6–1.0, drawn per plan)
    /// of `refresh_secs`: devices that started together do not ask in
    /// lockstep, so the server sees an office's state change soon after
    /// it happens, not up to a whole period later.
    refresh_jitter: f64,
    refresh_now: bool,
    /// Have-maps of peers by device id.
    haves: HashMap<String, Bitmap>,
    have_polled: HashMap<String, Instant>,
    have_inflight: HashSet<String>,
    banned: HashSet<String>,
    /// What is known of each source, by URL.
    sources: SourceTable,
    /// Requests in flight, by piece.
    in_flight: HashMap<u32, Vec<Attempt>>,
    /// Peers dropped for this content (slow or lying); unlike `banned` they
    /// are not reported as sending bad data.
    dropped: HashSet<String>,
    /// The leader failed us: named in the next `/sources` call.
    suspect: Option<Suspect>,
    /// What we hold against the current leader: named in every `/sources`
    /// call while it leads, and we go around it meanwhile.
    evidence: Option<Suspect>,
    /// Lasting evidence by device (it was dropped or banned for it): held
    /// again should that device lead again.
    lasting: HashMap<String, SuspectReason>,
    flow: Arc<super::Flow>,
    /// A piece nobody had: don't ask again before this instant.
    retry_at: HashMap<u32, Instant>,
    /// WAN cap: the earliest time the next upstream request may start.
    wan_next: Instant,
    /// When the last piece was stored.
    last_stored: Instant,
    tasks: JoinSet<Event>,
}

impl Downloader {
    fn new(agent: Arc<Agent>, content: Arc<Content>) -> Downloader {
        let flow = agent.flow(&content.manifest.id);
        Downloader {
            agent,
            content,
            plan: None,
            plan_at: None,
            refresh_jitter: 1.0,
            refresh_now: true,
            haves: HashMap::new(),
            have_polled: HashMap::new(),
            have_inflight: HashSet::new(),
            banned: HashSet::new(),
            sources: SourceTable::default(),
            in_flight: HashMap::new(),
            dropped: HashSet::new(),
            suspect: None,
            evidence: None,
            lasting: HashMap::new(),
            flow,
            retry_at: HashMap::new(),
            wan_next: Instant::now(),
            last_stored: Instant::now(),
            tasks: JoinSet::new(),
        }
    }

    fn id(&self) -> &str {
        &self.content.manifest.id
    }

    async fn run(&mut self) {
        let mut last_refresh_try = Instant::now() - Duration::from_secs(60);
        while !self.content.complete() {
            if self.agent.shutdown.is_cancelled() {
                return;
            }
            let due = match (&self.plan, self.plan_at) {
                (Some(p), Some(at)) => {
                    at.elapsed() >= Duration::from_secs(p.refresh_secs).mul_f64(self.refresh_jitter)
                }
                _ => true,
            };
            if (due || self.refresh_now) && last_refresh_try.elapsed() >= Duration::from_millis(500)
            {
                last_refresh_try = Instant::now();
                self.refresh().await;
            }
            self.poll_haves();
            self.race_slow();
            self.fill();
            self.flow.blocked.store(
                self.upstream_blocked(),
                std::sync::atomic::Ordering::Relaxed,
            );
            tokio::select! {
                _ = self.agent.shutdown.cancelled() => return,
                ev = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    if let Some(Ok(ev)) = ev {
                        self.handle(ev);
                    }
                }
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
        // Pieces are stored by their fetch task and reported by its event:
        // report the last ones, drop the requests still transferring.
        for a in self.in_flight.values().flatten() {
            if !a.complete.load(Ordering::Acquire) {
                a.abort.abort();
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while self
            .in_flight
            .values()
            .flatten()
            .any(|a| a.complete.load(Ordering::Acquire))
        {
            match tokio::time::timeout_at(deadline, self.tasks.join_next()).await {
                Ok(Some(Ok(ev))) => self.handle(ev),
                Ok(Some(Err(_))) => {}
                Ok(None) | Err(_) => break,
            }
        }
        self.tasks.abort_all();
        self.flow
            .blocked
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }

    async fn refresh(&mut self) {
        let url = self
            .agent
            .url(&format!("/v1/contents/{}/sources", self.id()));
        let body = SourcesRequest {
            device_id: self.agent.device_id(),
            suspect: self.suspect.clone().or_else(|| self.evidence.clone()),
        };
        match self
            .agent
            .client
            .json::<SourcesResponse>(Method::POST, &url, &body, Duration::from_secs(10))
            .await
            .inspect_err(|e| {
                self.agent.server_failed(&url, e);
            }) {
            Ok(p) => {
                if let Some(s) = self.suspect.take()
                    && p.leader.as_deref() != Some(s.leader.as_str())
                {
                    tracing::info!(content = %self.id(), old = %s.leader, new = ?p.leader, epoch = p.epoch, "leader replaced");
                }
                tracing::debug!(content = %self.id(), role = ?p.role, peers = p.peers.len(), upstream = p.upstream.len(), "sources");
                // Evidence is about the device leading: a new leader (or
                // leading ourselves) starts clean, unless we dropped that
                // one before.
                self.evidence = match (&p.leader, self.evidence.take()) {
                    (Some(l), _) if p.role != Role::Follower || l.is_empty() => None,
                    (Some(l), Some(e)) if e.leader == *l => Some(Suspect {
                        epoch: p.epoch,
                        ..e
                    }),
                    (Some(l), _) => self.lasting.get(l).map(|&reason| Suspect {
                        leader: l.clone(),
                        epoch: p.epoch,
                        reason,
                    }),
                    (None, _) => None,
                };
                let old_leader = self.plan.as_ref().and_then(|o| o.leader.clone());
                if old_leader.is_some() && old_leader != p.leader {
                    self.drop_waits_at(old_leader.as_deref());
                }
                if p.role == Role::Follower
                    && self.plan.as_ref().is_some_and(|o| o.role == Role::Leader)
                {
                    self.drop_upstream();
                    self.content.demoted.notify_waiters();
                }
                self.plan = Some(p);
                self.plan_at = Some(Instant::now());
                self.refresh_jitter = 0.6 + 0.4 * rand::random::<f64>();
                self.refresh_now = false;
            }
            Err(e) => {
                // Keep the old plan: the server may be restarting.
                tracing::warn!(content = %self.id(), "sources: {e}");
            }
        }
    }

    /// Cancels the requests parked at `device` waiting for pieces to arrive
    /// there (no headers yet): it no longer leads, so they would only hold
    /// their slots until the wait runs out. Requests already receiving a
    /// body go on (a slow one is raced as usual).
    fn drop_waits_at(&mut self, device: Option<&str>) {
        let mut dropped = 0;
        for v in self.in_flight.values_mut() {
            v.retain(|a| {
                let parked = a.device.as_deref() == device
                    && a.headers_ms.load(Ordering::Relaxed) == u64::MAX;
                if parked {
                    a.abort.abort();
                    self.sources.ended(&a.url);
                    dropped += 1;
                }
                !parked
            });
        }
        self.in_flight.retain(|_, v| !v.is_empty());
        if dropped > 0 {
            tracing::debug!(content = %self.id(), dropped, "leader changed: dropped the requests waiting at the old one");
        }
    }

    /// No longer the leader: stop pulling from outside the office at once
    /// (the new leader does), except for pieces already fully received.
    fn drop_upstream(&mut self) {
        let mut dropped = 0;
        for v in self.in_flight.values_mut() {
            v.retain(|a| {
                let outside = a.tier != Tier::Lan && !a.complete.load(Ordering::Acquire);
                if outside {
                    a.abort.abort();
                    self.sources.ended(&a.url);
                    dropped += 1;
                }
                !outside
            });
        }
        self.in_flight.retain(|_, v| !v.is_empty());
        if dropped > 0 {
            tracing::info!(content = %self.id(), dropped, "no longer the leader: stopped pulling from outside the office");
        }
    }

    /// Sources whose have-maps matter: office peers, and for a leader or
    /// solo device the parent-office peers.
    fn have_sources(&self) -> Vec<Source> {
        let Some(p) = &self.plan else { return vec![] };
        let mut v: Vec<Source> = p.peers.clone();
        if p.role != Role::Follower || self.going_around(p) {
            v.extend(
                p.upstream
                    .iter()
                    .filter(|s| s.tier == Tier::Parent)
                    .cloned(),
            );
        }
        v
    }

    fn poll_haves(&mut self) {
        let n = self.content.manifest.piece_count();
        for s in self.have_sources() {
            let Some(dev) = s.device_id.clone() else {
                continue;
            };
            if self.banned.contains(&dev) || self.have_inflight.contains(&dev) {
                continue;
            }
            if let Some(m) = self.haves.get(&dev)
                && (0..n).all(|i| m.has(i))
            {
                continue; // complete: nothing new to learn
            }
            if self
                .have_polled
                .get(&dev)
                .is_some_and(|t| t.elapsed() < super::havemap::MIN_SPACING)
            {
                continue;
            }
            self.have_polled.insert(dev.clone(), Instant::now());
            self.have_inflight.insert(dev.clone());
            let client = self.agent.client.clone();
            // A long poll: answered when the peer's pieces change.
            let since = self.haves.get(&dev).map(super::havemap::count);
            let url = super::havemap::url(&s.url, self.id(), &dev, since);
            self.tasks.spawn(async move {
                let r: Result<HaveMap, _> = client
                    .peer_get_json(&url, &dev, super::havemap::REQUEST_TIMEOUT)
                    .await;
                let map = r.ok().and_then(|h| h.bitmap());
                Event::Have(dev, map)
            });
        }
    }

    /// Banned, dropped or in back-off (not merely busy).
    fn failing(&self, s: &Source) -> bool {
        s.device_id
            .as_ref()
            .is_some_and(|d| self.banned.contains(d) || self.dropped.contains(d))
            || self.sources.in_backoff(&s.url)
    }

    /// A follower with evidence against the leader its plan names, and
    /// upstream sources from the server to go around it with.
    fn going_around(&self, p: &SourcesResponse) -> bool {
        p.role == Role::Follower
            && !p.upstream.is_empty()
            && self
                .evidence
                .as_ref()
                .is_some_and(|e| p.leader.as_deref() == Some(e.leader.as_str()))
    }

    /// `dev` failed us in a way that is evidence against it. If it is our
    /// leader, we hold it against it: named in every `/sources` call while
    /// it leads (at once: a refresh is due), and we go around it. `lasting`
    /// evidence (a bad, oversize or far too slow piece) drops it for this
    /// content and abandons its requests; otherwise it is tried again after
    /// its back-off.
    fn against_leader(&mut self, dev: &str, reason: SuspectReason, lasting: bool) {
        let Some(p) = &self.plan else { return };
        if p.role != Role::Follower || p.leader.as_deref() != Some(dev) {
            return;
        }
        if self
            .evidence
            .as_ref()
            .is_none_or(|e| e.leader != dev || e.reason != reason)
        {
            tracing::warn!(content = %self.id(), leader = %dev, ?reason, "going around the leader: fetching from the next tier up");
        }
        self.evidence = Some(Suspect {
            leader: dev.to_string(),
            epoch: p.epoch,
            reason,
        });
        self.refresh_now = true;
        if lasting {
            if !self.banned.contains(dev) {
                self.dropped.insert(dev.to_string());
            }
            self.lasting.insert(dev.to_string(), reason);
            self.abandon_device(dev);
        }
    }

    /// Aborts every request at `dev` still receiving (or waiting), each
    /// logged as a failed transfer; its pieces go back to the queue.
    fn abandon_device(&mut self, dev: &str) {
        let mut gone = Vec::new();
        for (&i, v) in self.in_flight.iter_mut() {
            v.retain(|a| {
                let drop = a.device.as_deref() == Some(dev) && !a.complete.load(Ordering::Acquire);
                if drop {
                    a.abort.abort();
                    gone.push((i, a.url.clone(), a.tier));
                }
                !drop
            });
        }
        self.in_flight.retain(|_, v| !v.is_empty());
        for (i, url, tier) in gone {
            self.sources.ended(&url);
            self.agent.record_transfer(
                TransferReport {
                    content_id: self.id().to_string(),
                    tier,
                    source_device: Some(dev.to_string()),
                    bytes: 0,
                    pieces: 0,
                    ok: false,
                },
                i,
            );
        }
    }

    fn usable(&self, s: &Source) -> bool {
        if let Some(d) = &s.device_id
            && (self.banned.contains(d) || self.dropped.contains(d))
        {
            return false;
        }
        if self.sources.in_backoff(&s.url) {
            return false;
        }
        let cap = if s.tier == Tier::Lan {
            PER_LAN_SOURCE
        } else {
            PER_SOURCE
        };
        self.sources.busy(&s.url) < cap
    }

    /// A peer that has piece `i` per its have-map: not the leader when
    /// another peer has it (the leader is busy bringing pieces in and
    /// feeding everyone else), then least busy first.
    fn holder<'a>(&self, sources: impl Iterator<Item = &'a Source>, i: u32) -> Option<Source> {
        let leader = self.plan.as_ref().and_then(|p| p.leader.clone());
        sources
            .filter(|s| self.usable(s))
            .filter(|s| {
                s.device_id
                    .as_ref()
                    .and_then(|d| self.haves.get(d))
                    .is_some_and(|m| m.has(i))
            })
            .min_by_key(|s| {
                (
                    leader.is_some() && s.device_id == leader,
                    // Demoted: abandoned once for slowness.
                    self.sources.struck_slow(&s.url),
                    self.sources.busy(&s.url),
                    // Slower sources last (rate in KiB/s, negated).
                    -(self.sources.rate(&s.url).unwrap_or(f64::MAX / 2.0) / 1024.0) as i64,
                )
            })
            .cloned()
    }

    /// Whether a leader (or a follower going around its leader) may pull
    /// from outside the office now: its last answer from the server is
    /// within the lease.
    fn lease_valid(&self, p: &SourcesResponse) -> bool {
        p.role == Role::Solo
            || p.lease_secs == 0
            || self
                .plan_at
                .is_some_and(|at| at.elapsed() < Duration::from_secs(p.lease_secs))
    }

    /// A leader or solo device whose every upstream source is failing.
    fn upstream_blocked(&self) -> bool {
        let Some(p) = &self.plan else { return false };
        p.role != Role::Follower
            && !p.upstream.is_empty()
            && p.upstream.iter().all(|s| {
                s.device_id
                    .as_ref()
                    .is_some_and(|d| self.banned.contains(d))
                    || self.sources.has_failed(&s.url)
            })
    }

    /// A source for piece `i` other than the URLs in `exclude`, and whether
    /// the request should wait for the piece to arrive there.
    fn source_for(
        &self,
        plan: &SourcesResponse,
        i: u32,
        exclude: &[&str],
    ) -> Option<(Source, bool)> {
        let ok = |s: &&Source| !exclude.contains(&s.url.as_str());
        if let Some(h) = self.holder(plan.peers.iter().filter(ok), i) {
            return Some((h, false));
        }
        if plan.role == Role::Follower {
            let leader = plan
                .peers
                .iter()
                .filter(ok)
                .find(|s| s.device_id.is_some() && s.device_id == plan.leader);
            match leader {
                // Busy (every slot in use) is not failing: wait for it.
                Some(l) if !self.failing(l) => return self.usable(l).then(|| (l.clone(), true)),
                // Banned, dropped or in back-off: around it, with evidence.
                _ if self.going_around(plan) => {}
                _ => return None,
            }
        }
        if !self.lease_valid(plan) {
            return None;
        }
        self.upstream_for(plan, i)
            .filter(|(s, _)| !exclude.contains(&s.url.as_str()))
    }

    /// Races pieces whose request is far slower than the best source seen:
    /// a second request goes elsewhere, the first verified copy wins.
    fn race_slow(&mut self) {
        let Some(plan) = self.plan.clone() else {
            return;
        };
        // The rate of each attempt now (bytes since its headers), and the
        // best any source shows: finished pieces, or requests in flight.
        let current: Vec<(u32, &Attempt, Duration, f64)> = self
            .in_flight
            .iter()
            .flat_map(|(&i, v)| v.iter().map(move |a| (i, a)))
            .filter_map(|(i, a)| {
                let h = a.headers_ms.load(Ordering::Relaxed);
                if h == u64::MAX {
                    return None; // still waiting for the piece to arrive there
                }
                let since = a.started.elapsed().saturating_sub(Duration::from_millis(h));
                let rate =
                    a.received.load(Ordering::Relaxed) as f64 / since.as_secs_f64().max(0.001);
                Some((i, a, since, rate))
            })
            .collect();
        let mut races = Vec::new();
        let mut crawls = Vec::new();
        let leader = plan.leader.clone().filter(|_| plan.role == Role::Follower);
        for &(i, a, since, rate) in &current {
            if a.device.is_none() || self.in_flight.get(&i).is_some_and(|v| v.len() != 1) {
                continue; // server and CDN are raced by back-off; one race per piece
            }
            if since < SLOW_MIN {
                continue;
            }
            let best = current
                .iter()
                .filter(|(_, b, _, _)| b.url != a.url)
                .map(|(_, _, _, r)| *r)
                .chain(std::iter::once(self.sources.best_rate_except(&a.url)))
                .fold(0.0, f64::max);
            // Far below the others, or (an office peer) below any honest
            // one's rate; with nothing to compare with, a parent-office
            // peer is ended by BODY_IDLE only.
            let crawling = a.tier == Tier::Lan && rate < MIN_PEER_RATE;
            if crawling && a.device.is_some() && a.device == leader {
                crawls.push((a.device.clone().unwrap_or_default(), rate));
            } else if crawling || (best > 0.0 && rate * SLOW_FACTOR < best) {
                races.push((i, a.url.clone(), a.device.clone()));
            }
        }
        // Our leader crawling is evidence: go around it (its requests are
        // abandoned and fetched again elsewhere).
        for (dev, rate) in crawls {
            tracing::info!(content = %self.id(), leader = %dev, rate, "leader sends far below any office peer's rate");
            self.against_leader(&dev, SuspectReason::Slow, true);
        }
        for (i, url, device) in races {
            let Some((source, wait)) = self.source_for(&plan, i, &[url.as_str()]) else {
                continue;
            };
            // Demoted: it now ranks below every measured source.
            let strikes = self.sources.slow_strike(&url);
            tracing::info!(content = %self.id(), piece = i, slow = %url, other = %source.url, strikes, "slow source: racing the piece elsewhere");
            if strikes >= SLOW_STRIKES
                && let Some(d) = device
            {
                tracing::warn!(content = %self.id(), peer = %d, "peer dropped for this content: too slow");
                self.dropped.insert(d);
            }
            self.spawn_fetch(i, source, wait);
        }
    }

    /// The first upstream tier not in back-off; within the parent tier, a
    /// holder of the piece or else the parent's first (leader) peer.
    fn upstream_for(&self, p: &SourcesResponse, i: u32) -> Option<(Source, bool)> {
        let parents: Vec<&Source> = p
            .upstream
            .iter()
            .filter(|s| s.tier == Tier::Parent)
            .collect();
        let parents_alive = parents.iter().any(|s| {
            !s.device_id
                .as_ref()
                .is_some_and(|d| self.banned.contains(d))
                && !self.sources.in_backoff(&s.url)
        });
        if parents_alive {
            if let Some(h) = self.holder(parents.iter().copied(), i) {
                return Some((h, false));
            }
            let first = parents.iter().find(|s| self.usable(s))?;
            return Some(((*first).clone(), true));
        }
        p.upstream
            .iter()
            .filter(|s| s.tier != Tier::Parent)
            .find(|s| !self.sources.in_backoff(&s.url))
            .filter(|s| self.usable(s))
            .map(|s| (s.clone(), false))
    }

    fn fill(&mut self) {
        let Some(plan) = self.plan.clone() else {
            return;
        };
        // Every source busy (or failing): no piece can start, so do not
        // walk all the pieces to find that out.
        if !plan
            .peers
            .iter()
            .chain(plan.upstream.iter())
            .any(|s| self.usable(s))
        {
            return;
        }
        let parallel = self.agent.cfg.parallel.max(1);
        let n = self.content.manifest.piece_count();
        let now = Instant::now();
        for i in 0..n {
            if self.in_flight.len() >= parallel {
                break;
            }
            if self.content.has(i) || self.in_flight.contains_key(&i) {
                continue;
            }
            if self.retry_at.get(&i).is_some_and(|t| now < *t) {
                continue;
            }
            let Some((source, wait)) = self.source_for(&plan, i, &[]) else {
                continue;
            };
            // A leader's request from outside the office, or a follower's
            // going around its leader.
            let upstream = source.tier != Tier::Lan;
            if upstream && let Some(kbps) = plan.wan_kbps.filter(|k| *k > 0) {
                // WAN cap: each upstream request reserves its share of the
                // link; nothing starts before its slot.
                if now < self.wan_next {
                    break;
                }
                let (a, b) = self.content.manifest.piece_range(i);
                let secs = (b - a) as f64 * 8.0 / (kbps as f64 * 1000.0);
                self.wan_next = self.wan_next.max(now) + Duration::from_secs_f64(secs);
            }
            self.spawn_fetch(i, source, wait);
        }
    }

    fn spawn_fetch(&mut self, i: u32, source: Source, wait: bool) {
        self.sources.started(&source.url);
        let agent = self.agent.clone();
        let m = self.content.manifest.clone();
        let headers_ms = Arc::new(AtomicU64::new(u64::MAX));
        let hm = headers_ms.clone();
        let received = Arc::new(AtomicU64::new(0));
        let rc = received.clone();
        let complete = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let cc = complete.clone();
        let flow = self.flow.clone();
        let url = source.url.clone();
        let device = source.device_id.clone();
        let tier = source.tier;
        let started = Instant::now();
        let content = self.content.clone();
        let abort = self.tasks.spawn(async move {
            let mut took = Duration::ZERO;
            let counters = Counters {
                headers_ms: &hm,
                received: &rc,
                flow: &flow,
            };
            let buf = content.piece_buf();
            let result = match fetch(&agent, &m, i, &source, wait, counters, buf, &mut took).await {
                Ok(piece) => {
                    cc.store(true, Ordering::Release);
                    // A piece just ahead of the whole-file hash waits a
                    // moment for its turn, to be hashed once for both
                    // checks (`Content::wait_turn`).
                    content.wait_turn(i, TURN_AHEAD, TURN_WAIT).await;
                    // Checked and written on the blocking pool, here rather
                    // than in the download loop, so that the loop keeps
                    // requests flowing.
                    let len = piece.len() as u64;
                    let stored = tokio::task::spawn_blocking(move || content.store_piece(i, piece))
                        .await
                        .unwrap_or_else(|e| {
                            Err(PieceError::Io {
                                path: "store task".into(),
                                source: std::io::Error::other(e.to_string()),
                            })
                        });
                    Ok((len, stored))
                }
                Err(e) => Err(e),
            };
            Event::Piece(Fetched {
                piece: i,
                source,
                result,
                took,
            })
        });
        self.in_flight.entry(i).or_default().push(Attempt {
            url,
            device,
            tier,
            started,
            headers_ms,
            received,
            complete,
            abort,
        });
    }

    /// Removes one finished attempt; returns the others still running.
    fn finish_attempt(&mut self, i: u32, url: &str) -> usize {
        let left = match self.in_flight.get_mut(&i) {
            Some(v) => {
                if let Some(pos) = v.iter().position(|a| a.url == url) {
                    v.remove(pos);
                }
                v.len()
            }
            None => 0,
        };
        if left == 0 {
            self.in_flight.remove(&i);
        }
        self.sources.ended(url);
        left
    }

    /// The piece is stored: drop the slower requests still racing for it.
    fn abandon_others(&mut self, i: u32) {
        let Some(rest) = self.in_flight.remove(&i) else {
            return;
        };
        for a in rest {
            if a.complete.load(Ordering::Acquire) {
                // It has every byte and is storing: let it report.
                self.in_flight.entry(i).or_default().push(a);
                continue;
            }
            a.abort.abort();
            self.sources.ended(&a.url);
            self.agent.record_transfer(
                TransferReport {
                    content_id: self.id().to_string(),
                    tier: a.tier,
                    source_device: a.device.clone(),
                    bytes: 0,
                    pieces: 0,
                    ok: false,
                },
                i,
            );
        }
    }

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Have(dev, map) => {
                self.have_inflight.remove(&dev);
                if let Some(m) = map {
                    self.haves.insert(dev, m);
                }
            }
            Event::Piece(f) => self.handle_piece(f),
        }
    }

    fn handle_piece(&mut self, f: Fetched) {
        self.finish_attempt(f.piece, &f.source.url);
        let id = self.id().to_string();
        match f.result {
            Ok((len, stored)) => {
                let report = |ok: bool| TransferReport {
                    content_id: id.clone(),
                    tier: f.source.tier,
                    source_device: f.source.device_id.clone(),
                    bytes: len,
                    pieces: 1,
                    ok,
                };
                match stored {
                    Ok(_) => {
                        self.agent.touch(&id);
                        self.sources.delivered(&f.source.url, len, f.took);
                        self.last_stored = Instant::now();
                        if let Some(was) = self.agent.clear_stuck(&id) {
                            tracing::info!(content = %id, "moving again (was stuck: {was})");
                        }
                        self.agent.record_transfer(report(true), f.piece);
                        // The leader delivers again: a stall held against
                        // it is forgiven (lasting evidence keeps it dropped).
                        if self.evidence.as_ref().is_some_and(|e| {
                            f.source.device_id.as_deref() == Some(e.leader.as_str())
                        }) {
                            self.evidence = None;
                        }
                        self.abandon_others(f.piece);
                    }
                    Err(PieceError::BadPiece { .. }) => {
                        self.agent.record_transfer(report(false), f.piece);
                        match &f.source.device_id {
                            Some(dev) => {
                                tracing::warn!(content = %id, piece = f.piece, peer = %dev, "bad piece: peer banned for this content");
                                self.banned.insert(dev.clone());
                                self.agent.record_bad(&id, dev, f.piece);
                                let dev = dev.clone();
                                self.against_leader(&dev, SuspectReason::Corrupt, true);
                            }
                            None => self.sources.back_off(&f.source.url),
                        }
                    }
                    Err(e) => {
                        tracing::error!(content = %id, "cannot store piece {}: {e}", f.piece);
                        self.retry_at
                            .insert(f.piece, Instant::now() + Duration::from_secs(2));
                    }
                }
            }
            Err(FetchError::Unavailable) => {
                // Its have-map claimed the piece: a peer that keeps doing
                // that is dropped for this content.
                if let Some(dev) = &f.source.device_id
                    && self.haves.get(dev).is_some_and(|m| m.has(f.piece))
                    && self.sources.lie_strike(&f.source.url) >= LIE_STRIKES
                    && self.dropped.insert(dev.clone())
                {
                    tracing::warn!(content = %id, peer = %dev, "peer dropped for this content: it advertises pieces it does not deliver");
                }
                self.retry_at
                    .insert(f.piece, Instant::now() + Duration::from_millis(150));
            }
            Err(FetchError::Reschedule) => {
                self.refresh_now = true;
            }
            Err(FetchError::Oversize(e)) if f.source.device_id.is_some() => {
                // Refused at the piece's length, so nothing is stored; the
                // peer is dropped for this content and reported as sending
                // a bad piece (the server re-checks it).
                let dev = f.source.device_id.clone().unwrap_or_default();
                tracing::warn!(content = %id, piece = f.piece, peer = %dev, "{e}: peer dropped for this content");
                self.note_failure(&f.source, e);
                self.agent.record_transfer(
                    TransferReport {
                        content_id: id.clone(),
                        tier: f.source.tier,
                        source_device: Some(dev.clone()),
                        bytes: 0,
                        pieces: 0,
                        ok: false,
                    },
                    f.piece,
                );
                self.dropped.insert(dev.clone());
                self.agent.record_bad(&id, &dev, f.piece);
                self.against_leader(&dev, SuspectReason::Oversize, true);
            }
            Err(FetchError::Failed(e) | FetchError::Oversize(e)) => {
                tracing::debug!(content = %id, piece = f.piece, source = %f.source.url, "fetch failed: {e}");
                self.note_failure(&f.source, e.clone());
                self.sources.back_off(&f.source.url);
                self.refresh_now = true;
                // Our leader failed us: say so at once, with its term.
                let term = self
                    .plan
                    .as_ref()
                    .filter(|p| {
                        p.role == Role::Follower
                            && f.source.device_id.is_some()
                            && f.source.device_id == p.leader
                    })
                    .map(|p| p.epoch);
                if let Some(epoch) = term {
                    let stalled = e.contains("stalled");
                    let reason = if stalled {
                        SuspectReason::Stalled
                    } else {
                        SuspectReason::Unreachable
                    };
                    let leader = f.source.device_id.clone().unwrap_or_default();
                    self.suspect = Some(Suspect {
                        leader: leader.clone(),
                        epoch,
                        reason,
                    });
                    // A stall, or the third failure in a row: go around it
                    // while it is in back-off.
                    let repeated = self.sources.failing_repeatedly(&f.source.url);
                    if stalled || repeated {
                        self.against_leader(&leader, reason, false);
                    }
                }
            }
        }
    }

    /// Counts a failure in its source's run of identical ones. The third
    /// in a row, with no piece stored since the run began, is logged once
    /// at WARN and marks the content stuck (reported to the server).
    fn note_failure(&mut self, source: &Source, error: String) {
        let run = self.sources.failed(&source.url, error);
        if run.count < STUCK_AFTER || self.last_stored > run.since {
            return;
        }
        let who = source.device_id.as_deref().map_or_else(
            || format!("{} source {}", source.tier.as_str(), source.url),
            |d| format!("{} peer {d}", source.tier.as_str()),
        );
        let reason = format!("{who} fails every time: {}", run.error);
        let id = self.content.manifest.id.clone();
        self.agent.set_stuck(&id, reason.clone(), false);
        if !run.warned {
            run.warned = true;
            tracing::warn!(content = %id, "{reason}");
        }
    }
}

/// Where a fetch reports its progress.
struct Counters<'a> {
    headers_ms: &'a AtomicU64,
    received: &'a AtomicU64,
    flow: &'a super::Flow,
}

/// Requests one piece from one source, counting bytes into `flow` as they
/// arrive; `headers_ms` gets the time to the response headers and `took`
/// the time from the headers to the last byte.
#[allow(clippy::too_many_arguments)]
async fn fetch(
    agent: &Agent,
    m: &Manifest,
    i: u32,
    s: &Source,
    wait: bool,
    counters: Counters<'_>,
    mut buf: PieceBuf,
    took: &mut Duration,
) -> Result<PieceBuf, FetchError> {
    let started = Instant::now();
    let device = agent.device_id();
    let base = if s.url.starts_with('/') {
        agent.server().to_string()
    } else {
        String::new()
    };
    let (a, b) = m.piece_range(i);
    let wait_ms = if wait { WAIT_MS } else { 0 };
    let req = match s.tier {
        Tier::Lan | Tier::Parent => agent.client.peer_request(
            Method::GET,
            // `peer=` binds the signature to the device asked: another
            // agent refuses the same signed request.
            &format!(
                "{}/v1/pieces/{}/{i}?device={device}&wait_ms={wait_ms}&peer={}",
                s.url.trim_end_matches('/'),
                m.id,
                s.device_id.as_deref().unwrap_or_default()
            ),
            Vec::new(),
        ),
        Tier::Server => agent.client.request(
            Method::GET,
            &format!("{base}/v1/contents/{}/pieces/{i}?device={device}", m.id),
            Vec::new(),
        ),
        Tier::Cdn if s.plain => agent
            .client
            .public()
            .get(&s.url)
            .header("range", format!("bytes={a}-{}", b - 1)),
        Tier::Cdn => agent
            .client
            .request(
                Method::GET,
                &format!("{base}{}?device={device}", s.url),
                Vec::new(),
            )
            .header("range", format!("bytes={a}-{}", b - 1)),
    };
    // A peer answers as soon as it has the piece: silence well past the
    // wait means it is frozen (a closed laptop lid), not slow. The server
    // and the CDN may read from slow storage first, so they get longer.
    let headers_within = match s.tier {
        Tier::Lan | Tier::Parent => Duration::from_millis(wait_ms) + PEER_HEADERS,
        Tier::Server | Tier::Cdn => Duration::from_secs(120),
    };
    let resp = match tokio::time::timeout(
        headers_within,
        req.timeout(Duration::from_millis(120_000 + wait_ms)).send(),
    )
    .await
    {
        Err(_) => {
            return Err(FetchError::Failed(format!(
                "stalled: no answer within {headers_within:?}"
            )));
        }
        Ok(r) => {
            r.map_err(|e| FetchError::Failed(crate::wire::http::error_chain(&e.without_url())))?
        }
    };
    // A peer must be the device the scheduler named, not any device that
    // answers at that address.
    let resp = match (s.tier, s.device_id.as_deref()) {
        (Tier::Lan | Tier::Parent, Some(d)) => crate::wire::http::peer_checked(resp, d)
            .map_err(|e| FetchError::Failed(e.to_string()))?,
        (Tier::Lan | Tier::Parent, None) => {
            return Err(FetchError::Failed(
                "the server named no device for this peer source".into(),
            ));
        }
        _ => resp,
    };
    let resp = match crate::wire::http::check(resp).await {
        Ok(r) => r,
        Err(e) => {
            return Err(match e.code() {
                Some(ErrorCode::PieceUnavailable) => FetchError::Unavailable,
                Some(ErrorCode::NotScheduled) => FetchError::Reschedule,
                _ => FetchError::Failed(e.to_string()),
            });
        }
    };
    let at_headers = Instant::now();
    let Counters {
        headers_ms,
        received,
        flow,
    } = counters;
    headers_ms.store(
        at_headers.duration_since(started).as_millis() as u64,
        Ordering::Relaxed,
    );
    // A source that declares more than one piece is refused before a byte
    // is read: a hostile one cannot make the agent buffer more than a piece.
    if let Some(n) = resp.content_length().filter(|n| *n > b - a) {
        return Err(FetchError::Oversize(format!(
            "the source sent {n} bytes for a piece of {}",
            b - a
        )));
    }
    let mut resp = resp;
    loop {
        match tokio::time::timeout(BODY_IDLE, resp.chunk()).await {
            Err(_) => return Err(FetchError::Failed("stalled: no bytes for 10 s".into())),
            Ok(Err(e)) => {
                return Err(FetchError::Failed(crate::wire::http::error_chain(
                    &e.without_url(),
                )));
            }
            Ok(Ok(None)) => break,
            Ok(Ok(Some(chunk))) => {
                if buf.len() + chunk.len() > (b - a) as usize {
                    return Err(FetchError::Oversize(format!(
                        "sent more than the {} bytes of piece {i}",
                        b - a
                    )));
                }
                flow.bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                received.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                buf.push(&chunk);
            }
        }
    }
    *took = at_headers.elapsed();
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_table_keeps_each_source_s_stats_apart() {
        let mut t = SourceTable::default();
        let (a, b) = ("https://a:1", "https://b:1");
        t.started(a);
        t.started(a);
        t.ended(a);
        t.ended(b); // never started: stays at 0
        assert_eq!((t.busy(a), t.busy(b)), (1, 0));

        t.back_off(a);
        assert!(t.in_backoff(a) && t.has_failed(a) && !t.has_failed(b));
        t.delivered(a, 1000, Duration::from_secs(1));
        assert!(!t.in_backoff(a) && !t.has_failed(a));
        assert_eq!(t.rate(a), Some(1000.0));
        t.delivered(a, 2000, Duration::from_secs(1));
        assert_eq!(t.rate(a), Some(0.7 * 1000.0 + 0.3 * 2000.0));
        assert_eq!(t.best_rate_except(b), t.rate(a).unwrap());
        assert_eq!(t.best_rate_except(a), 0.0);

        assert!(!t.struck_slow(b));
        assert_eq!(t.slow_strike(b), 1);
        assert!(t.struck_slow(b));
        assert_eq!(t.rate(b), Some(1.0), "demoted below every measured source");
        assert_eq!((t.lie_strike(b), t.lie_strike(b)), (1, 2));

        for n in 1..=STUCK_AFTER {
            assert_eq!(t.failed(b, "refused".into()).count, n);
        }
        assert!(t.failing_repeatedly(b));
        assert_eq!(t.failed(b, "timed out".into()).count, 1, "a new run");
        assert!(!t.failing_repeatedly(b));
    }
}

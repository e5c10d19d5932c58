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
//!   below [`MIN_PEER_RATE`](piece::MIN_PEER_RATE), a stall, or three failures in a row. It names
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

//!
//! Files: this one the download of one content (manifest, the loop,
//! delivery); `sources` what is known of each source and which may serve
//! which piece; `leader` the plan and going around a failing leader;
//! `wan` pulling from outside the office; `piece` starting, racing and
//! ending piece requests; `outcome` what a finished request means;
//! `fetch` the HTTP request for one piece.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use super::Agent;
use super::pieces::{Content, PieceError};
use crate::domain::Bitmap;
use crate::domain::ContentId;
use crate::wire::http::CallError;
use crate::wire::proto::*;

mod fetch;
mod leader;
mod outcome;
mod piece;
mod sources;
mod wan;

use piece::{Attempt, Fetched};
use sources::SourceTable;

pub async fn download_task(agent: Arc<Agent>, c: ContentRef) {
    let id = c.id;
    if let Err(e) = download(agent.clone(), c).await {
        // The heartbeat loop starts it again; the same error is logged
        // (and reported as stuck) once, not on every heartbeat.
        let reason = format!("download stopped: {e}");
        if agent.set_stuck(&id, reason.clone(), false) {
            tracing::error!(content = %id, "{reason}");
        }
    }
}

async fn fetch_manifest(agent: &Agent, id: &ContentId) -> Result<Manifest, CallError> {
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

/// Downloads one content and delivers it. `Ok` also when shut down first.
async fn download(agent: Arc<Agent>, cref: ContentRef) -> Result<(), DownloadError> {
    let Some(manifest) = manifest(&agent, &cref.id).await? else {
        return Ok(()); // shut down
    };
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
        deliver(&agent, &content, &manifest).await?;
    }
    Ok(())
}

/// The manifest of content `id`, fetched until the server gives it (or
/// says the content is gone), and checked: everything after it builds
/// paths and buffers from it. `None`: shut down first.
async fn manifest(agent: &Agent, id: &ContentId) -> Result<Option<Manifest>, DownloadError> {
    let mut backoff = Duration::from_millis(200);
    let mut last_error = String::new();
    let manifest = loop {
        match fetch_manifest(agent, id).await {
            Ok(m) => break m,
            Err(e) => {
                // Once per distinct error, not once per retry.
                let text = e.to_string();
                if text != last_error {
                    tracing::warn!(content = %id, "manifest: {text}");
                    last_error = text;
                }
                if matches!(e.code(), Some(ErrorCode::NotFound)) {
                    return Err(DownloadError::Manifest(e));
                }
            }
        }
        tokio::select! {
            _ = agent.shutdown.cancelled() => return Ok(None),
            _ = tokio::time::sleep(crate::wire::http::jittered(backoff)) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    };
    manifest.validate().map_err(DownloadError::Unsafe)?;
    if manifest.id != *id {
        return Err(DownloadError::WrongManifest {
            got: manifest.id.to_string(),
            want: id.to_string(),
        });
    }
    Ok(Some(manifest))
}

/// Delivers a complete content into `delivered/` at the path `manifest`
/// (as fetched for this download) gives, and runs `--on-complete`. A
/// delivery error no retry can fix is reported once and the content is
/// not tried again until the agent restarts.
async fn deliver(
    agent: &Agent,
    content: &Arc<Content>,
    manifest: &Manifest,
) -> Result<(), DownloadError> {
    let id = &manifest.id;
    let target = super::delivered_path(&agent.cfg.data_dir.join("delivered"), manifest);
    let c = content.clone();
    let delivered = tokio::task::spawn_blocking(move || c.deliver(&target)).await?;
    let path = match delivered {
        Ok(p) => p,
        Err(e) if will_not_heal(&e) => {
            // Reported once, with the reason, and not retried until the
            // agent restarts: every retry would fail the same way.
            let reason = format!("cannot deliver {}: {e}", manifest.file_name);
            if agent.set_stuck(id, reason.clone(), true) {
                tracing::warn!(content = %id, "{reason}; fix that, then restart the agent");
            }
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    agent.clear_stuck(id);
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

/// What a task of the download loop reports back to it.
enum Event {
    Piece(Fetched),
    /// A peer's have-map (`None`: none came), and whether no connection
    /// to it could be made at all.
    Have(String, Option<Bitmap>, bool),
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
    /// The agent's placement (`Agent::placement`) the plan came under: a
    /// move asks for sources again at once.
    placement: u64,
    /// The device's address changes: requests out from an old address are
    /// given up at once.
    readdressed: tokio::sync::watch::Receiver<u64>,
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
    /// Peers no connection could be made to, named in the next `/sources`
    /// call (the server learns which devices peers cannot reach).
    unreachable: HashSet<String>,
    tasks: JoinSet<Event>,
}

impl Downloader {
    fn new(agent: Arc<Agent>, content: Arc<Content>) -> Downloader {
        let flow = agent.flow(&content.manifest.id);
        let placement = agent.placement();
        let readdressed = agent.place.readdressed();
        Downloader {
            agent,
            content,
            plan: None,
            plan_at: None,
            refresh_jitter: 1.0,
            refresh_now: true,
            placement,
            readdressed,
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
            unreachable: HashSet::new(),
            tasks: JoinSet::new(),
        }
    }

    fn id(&self) -> &ContentId {
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
            if self.agent.placement() != self.placement {
                self.refresh_now = true;
            }
            if self.readdressed.has_changed().unwrap_or(false) {
                self.readdressed.mark_unchanged();
                self.give_up_requests("this device's addresses changed");
                self.refresh_now = true;
            }
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
}

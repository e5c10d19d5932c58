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

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use base64::Engine;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::Agent;
use super::pieces::{Content, PieceError};
use crate::http::CallError;
use crate::proto::*;

/// How long a follower's request may wait at the leader for a piece.
const WAIT_MS: u64 = 5_000;
/// How often peers' have-maps are refreshed.
const HAVE_POLL: Duration = Duration::from_millis(300);
/// At most this many requests in flight to one source.
const PER_SOURCE: usize = 4;

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
    agent.client.get_json(&url, Duration::from_secs(15)).await
}

async fn download(agent: Arc<Agent>, cref: ContentRef) -> Result<(), String> {
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
                    return Err(e.to_string());
                }
            }
        }
        tokio::select! {
            _ = agent.shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    };
    // Everything below builds paths and buffers from the manifest.
    manifest
        .validate()
        .map_err(|e| format!("server sent a manifest refused as unsafe: {e}"))?;
    if manifest.id != cref.id {
        return Err(format!(
            "server sent manifest {} for {}",
            manifest.id, cref.id
        ));
    }
    let a = agent.clone();
    let m = manifest.clone();
    let content = tokio::task::spawn_blocking(move || a.pieces.open(&m))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
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
        let delivered = tokio::task::spawn_blocking(move || c.deliver(&target))
            .await
            .map_err(|e| e.to_string())?;
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
            Err(e) => return Err(e.to_string()),
        };
        agent.clear_stuck(&cref.id);
        tracing::info!(file = %path.display(), "delivered");
        if let Some(cmd) = &agent.cfg.on_complete {
            let status = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(format!("{cmd} \"$1\""))
                .arg("p2pd-on-complete")
                .arg(&path)
                .env("P2PD_DELIVERED", &path)
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
        PieceError::BadPiece { piece, .. } => *piece == u32::MAX,
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

/// The result of one piece request.
struct Fetched {
    piece: u32,
    source: Source,
    result: Result<axum::body::Bytes, FetchError>,
}

enum FetchError {
    /// The source does not have it (yet): try again later, not a failure.
    Unavailable,
    /// The server wants us to ask for sources again.
    Reschedule,
    /// Transport error or refusal: back off from this source.
    Failed(String),
}

enum Event {
    Piece(Fetched),
    Have(String, Option<Vec<u8>>),
}

struct Downloader {
    agent: Arc<Agent>,
    content: Arc<Content>,
    plan: Option<SourcesResponse>,
    plan_at: Option<Instant>,
    refresh_now: bool,
    /// Have-maps of peers by device id.
    haves: HashMap<String, Vec<u8>>,
    have_polled: HashMap<String, Instant>,
    have_inflight: HashSet<String>,
    banned: HashSet<String>,
    /// Sources (by URL) in back-off until the given instant.
    failing: HashMap<String, (Instant, u32)>,
    in_flight: HashSet<u32>,
    per_source: HashMap<String, usize>,
    /// A piece nobody had: don't ask again before this instant.
    retry_at: HashMap<u32, Instant>,
    /// WAN cap: the earliest time the next upstream request may start.
    wan_next: Instant,
    /// Identical failures in a row, by source URL.
    runs: HashMap<String, FailureRun>,
    /// When the last piece was stored.
    last_stored: Instant,
    tasks: JoinSet<Event>,
}

fn bit(map: &[u8], i: u32) -> bool {
    map.get(i as usize / 8)
        .is_some_and(|b| b & (1 << (i % 8)) != 0)
}

impl Downloader {
    fn new(agent: Arc<Agent>, content: Arc<Content>) -> Downloader {
        Downloader {
            agent,
            content,
            plan: None,
            plan_at: None,
            refresh_now: true,
            haves: HashMap::new(),
            have_polled: HashMap::new(),
            have_inflight: HashSet::new(),
            banned: HashSet::new(),
            failing: HashMap::new(),
            in_flight: HashSet::new(),
            per_source: HashMap::new(),
            retry_at: HashMap::new(),
            wan_next: Instant::now(),
            runs: HashMap::new(),
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
                (Some(p), Some(at)) => at.elapsed() >= Duration::from_secs(p.refresh_secs),
                _ => true,
            };
            if (due || self.refresh_now) && last_refresh_try.elapsed() >= Duration::from_millis(500)
            {
                last_refresh_try = Instant::now();
                self.refresh().await;
            }
            self.poll_haves();
            self.fill();
            tokio::select! {
                _ = self.agent.shutdown.cancelled() => return,
                ev = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    if let Some(Ok(ev)) = ev {
                        self.handle(ev).await;
                    }
                }
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
        // Let in-flight requests finish quietly; their pieces are not needed.
        self.tasks.abort_all();
    }

    async fn refresh(&mut self) {
        let url = self
            .agent
            .url(&format!("/v1/contents/{}/sources", self.id()));
        let body = serde_json::json!({"device_id": self.agent.device_id()});
        match self
            .agent
            .client
            .json::<SourcesResponse>(Method::POST, &url, &body, Duration::from_secs(10))
            .await
        {
            Ok(p) => {
                tracing::debug!(content = %self.id(), role = ?p.role, peers = p.peers.len(), upstream = p.upstream.len(), "sources");
                self.plan = Some(p);
                self.plan_at = Some(Instant::now());
                self.refresh_now = false;
            }
            Err(e) => {
                // Keep the old plan: the server may be restarting.
                tracing::warn!(content = %self.id(), "sources: {e}");
            }
        }
    }

    /// Sources whose have-maps matter: office peers, and for a leader or
    /// solo device the parent-office peers.
    fn have_sources(&self) -> Vec<Source> {
        let Some(p) = &self.plan else { return vec![] };
        let mut v: Vec<Source> = p.peers.clone();
        if p.role != Role::Follower {
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
                && (0..n).all(|i| bit(m, i))
            {
                continue; // complete: nothing new to learn
            }
            if self
                .have_polled
                .get(&dev)
                .is_some_and(|t| t.elapsed() < HAVE_POLL)
            {
                continue;
            }
            self.have_polled.insert(dev.clone(), Instant::now());
            self.have_inflight.insert(dev.clone());
            let client = self.agent.client.clone();
            // `peer=` binds the signature to the device asked: another
            // agent refuses the same signed request.
            let url = format!(
                "{}/v1/pieces/{}/have?peer={dev}",
                s.url.trim_end_matches('/'),
                self.id()
            );
            self.tasks.spawn(async move {
                let r: Result<HaveMap, _> = client.get_json(&url, Duration::from_secs(3)).await;
                let map = r.ok().and_then(|h| {
                    base64::engine::general_purpose::STANDARD
                        .decode(h.bitmap)
                        .ok()
                });
                Event::Have(dev, map)
            });
        }
    }

    fn in_backoff(&self, url: &str) -> bool {
        self.failing
            .get(url)
            .is_some_and(|(until, _)| Instant::now() < *until)
    }

    fn usable(&self, s: &Source) -> bool {
        if let Some(d) = &s.device_id
            && self.banned.contains(d)
        {
            return false;
        }
        if self.in_backoff(&s.url) {
            return false;
        }
        self.per_source.get(&s.url).copied().unwrap_or(0) < PER_SOURCE
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
                    .is_some_and(|m| bit(m, i))
            })
            .min_by_key(|s| {
                (
                    leader.is_some() && s.device_id == leader,
                    self.per_source.get(&s.url).copied().unwrap_or(0),
                )
            })
            .cloned()
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
                && !self.in_backoff(&s.url)
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
            .find(|s| !self.in_backoff(&s.url))
            .filter(|s| self.usable(s))
            .map(|s| (s.clone(), false))
    }

    fn fill(&mut self) {
        let Some(plan) = self.plan.clone() else {
            return;
        };
        let parallel = self.agent.cfg.parallel.max(1);
        let n = self.content.manifest.piece_count();
        let now = Instant::now();
        for i in 0..n {
            if self.in_flight.len() >= parallel {
                break;
            }
            if self.content.has(i) || self.in_flight.contains(&i) {
                continue;
            }
            if self.retry_at.get(&i).is_some_and(|t| now < *t) {
                continue;
            }
            let (source, wait) = if let Some(h) = self.holder(plan.peers.iter(), i) {
                (h, false)
            } else if plan.role == Role::Follower {
                let leader = plan
                    .peers
                    .iter()
                    .find(|s| s.device_id.is_some() && s.device_id == plan.leader);
                match leader {
                    Some(l) if self.usable(l) => (l.clone(), true),
                    _ => continue,
                }
            } else {
                match self.upstream_for(&plan, i) {
                    Some(x) => x,
                    None => continue,
                }
            };
            let upstream = plan.role != Role::Follower && source.tier != Tier::Lan;
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
        self.in_flight.insert(i);
        *self.per_source.entry(source.url.clone()).or_default() += 1;
        let agent = self.agent.clone();
        let m = self.content.manifest.clone();
        self.tasks.spawn(async move {
            let result = fetch(&agent, &m, i, &source, wait).await;
            Event::Piece(Fetched {
                piece: i,
                source,
                result,
            })
        });
    }

    async fn handle(&mut self, ev: Event) {
        match ev {
            Event::Have(dev, map) => {
                self.have_inflight.remove(&dev);
                if let Some(m) = map {
                    self.haves.insert(dev, m);
                }
            }
            Event::Piece(f) => self.handle_piece(f).await,
        }
    }

    async fn handle_piece(&mut self, f: Fetched) {
        self.in_flight.remove(&f.piece);
        if let Some(c) = self.per_source.get_mut(&f.source.url) {
            *c = c.saturating_sub(1);
        }
        let id = self.id().to_string();
        match f.result {
            Ok(bytes) => {
                let len = bytes.len() as u64;
                let c = self.content.clone();
                let piece = f.piece;
                let stored =
                    tokio::task::spawn_blocking(move || c.write_piece(piece, &bytes)).await;
                let report = |ok: bool| TransferReport {
                    content_id: id.clone(),
                    tier: f.source.tier,
                    source_device: f.source.device_id.clone(),
                    bytes: len,
                    pieces: 1,
                    ok,
                };
                match stored {
                    Ok(Ok(_)) => {
                        self.failing.remove(&f.source.url);
                        self.runs.remove(&f.source.url);
                        self.last_stored = Instant::now();
                        if let Some(was) = self.agent.clear_stuck(&id) {
                            tracing::info!(content = %id, "moving again (was stuck: {was})");
                        }
                        self.agent.record_transfer(report(true), f.piece);
                    }
                    Ok(Err(PieceError::BadPiece { .. })) => {
                        self.agent.record_transfer(report(false), f.piece);
                        match &f.source.device_id {
                            Some(dev) => {
                                tracing::warn!(content = %id, piece = f.piece, peer = %dev, "bad piece: peer banned for this content");
                                self.banned.insert(dev.clone());
                                self.agent.record_bad(&id, dev, f.piece);
                            }
                            None => self.back_off(&f.source.url),
                        }
                    }
                    Ok(Err(e)) => {
                        tracing::error!(content = %id, "cannot store piece {}: {e}", f.piece);
                        self.retry_at
                            .insert(f.piece, Instant::now() + Duration::from_secs(2));
                    }
                    Err(e) => tracing::error!("store task: {e}"),
                }
            }
            Err(FetchError::Unavailable) => {
                self.retry_at
                    .insert(f.piece, Instant::now() + Duration::from_millis(150));
            }
            Err(FetchError::Reschedule) => {
                self.refresh_now = true;
            }
            Err(FetchError::Failed(e)) => {
                tracing::debug!(content = %id, piece = f.piece, source = %f.source.url, "fetch failed: {e}");
                self.note_failure(&f.source, e);
                self.back_off(&f.source.url);
                self.refresh_now = true;
            }
        }
    }

    /// Counts a failure in its source's run of identical ones. The third
    /// in a row, with no piece stored since the run began, is logged once
    /// at WARN and marks the content stuck (reported to the server).
    fn note_failure(&mut self, source: &Source, error: String) {
        let now = Instant::now();
        let run = self
            .runs
            .entry(source.url.clone())
            .or_insert_with(|| FailureRun {
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

    fn back_off(&mut self, url: &str) {
        let e = self
            .failing
            .entry(url.to_string())
            .or_insert((Instant::now(), 0));
        e.1 += 1;
        let secs = (0.25 * 2f64.powi(e.1.min(5) as i32)).min(5.0);
        e.0 = Instant::now() + Duration::from_secs_f64(secs);
    }
}

/// Requests one piece from one source.
async fn fetch(
    agent: &Agent,
    m: &Manifest,
    i: u32,
    s: &Source,
    wait: bool,
) -> Result<axum::body::Bytes, FetchError> {
    let device = agent.device_id();
    let base = if s.url.starts_with('/') {
        agent.cfg.server.trim_end_matches('/').to_string()
    } else {
        String::new()
    };
    let (a, b) = m.piece_range(i);
    let wait_ms = if wait { WAIT_MS } else { 0 };
    let req = match s.tier {
        Tier::Lan | Tier::Parent => agent.client.request(
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
            .http
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
    let resp = req
        .timeout(Duration::from_millis(120_000 + wait_ms))
        .send()
        .await
        .map_err(|e| FetchError::Failed(crate::http::error_chain(&e.without_url())))?;
    let resp = match crate::http::check(resp).await {
        Ok(r) => r,
        Err(e) => {
            return Err(match e.code() {
                Some(ErrorCode::PieceUnavailable) => FetchError::Unavailable,
                Some(ErrorCode::NotScheduled) => FetchError::Reschedule,
                _ => FetchError::Failed(e.to_string()),
            });
        }
    };
    read_capped(resp, b - a).await
}

/// Reads a piece response of exactly `want` bytes, streaming: a response
/// that declares or sends more is refused as soon as it does, so a hostile
/// source cannot make the agent buffer more than one piece.
async fn read_capped(
    mut resp: reqwest::Response,
    want: u64,
) -> Result<axum::body::Bytes, FetchError> {
    if let Some(n) = resp.content_length().filter(|n| *n > want) {
        return Err(FetchError::Failed(format!(
            "the source sent {n} bytes for a piece of {want}"
        )));
    }
    let mut buf = bytes::BytesMut::with_capacity(want as usize);
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| FetchError::Failed(crate::http::error_chain(&e.without_url())))?
    {
        if buf.len() as u64 + chunk.len() as u64 > want {
            return Err(FetchError::Failed(format!(
                "the source sent more than {want} bytes for one piece"
            )));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

//! Heartbeats at fleet scale (design note `fleet-scale`): group commit and the adaptive
//! interval.
//!
//! # Group commit
//!
//! A heartbeat is answered from a read connection (is the device
//! enrolled, what is targeted at its group: [`super::StorePool::read`]); what it
//! reports (last seen, progress, stuck contents) is soft state, queued on a
//! bounded channel ([`QUEUE`] entries) for one writer task ([`run`]). The
//! writer takes everything queued, up to [`MAX_BATCH`], and commits the
//! whole batch on the writing connection inside one transaction
//! ([`Store::batch`]): one commit for hundreds of devices instead of
//! several commits per device. While one batch commits, the next one
//! fills, so the batch size follows the load by itself: one heartbeat per
//! commit on a quiet server, hundreds at 10,000/s, and no timer adds
//! latency when it is quiet.
//!
//! The handler waits for its batch's commit at most [`COMMIT_WAIT`], then
//! answers anyway: while another process holds the write lock (a
//! `topology import` holds it for seconds) heartbeats are still answered
//! within that bound, and their soft state is committed late, when the
//! lock is free (a batch that could not get it is tried again, [`TRIES`]
//! times). On a quiet server the commit takes a few milliseconds, so a
//! device that heartbeats and then asks for sources finds its progress
//! recorded.
//!
//! Rejected: a second writing connection owned by the writer. Two writing
//! connections wait on each other in SQLite's busy handler, which sleeps
//! (up to 100 ms a time); sharing serve's one writer through
//! [`super::StorePool::call`] queues them in order instead.
//!
//! Backpressure: a full queue is refused at once with `overloaded` (503
//! and `Retry-After`); nothing piles up behind it.
//!
//! # Adaptive interval
//!
//! Each answer tells the device when to come back ([`interval`]): the
//! configured `heartbeat_secs`, stretched so that the whole fleet stays
//! within `heartbeat_budget` heartbeats per second, and stretched further
//! while the writer's queue is filling. A stretched interval is spread by
//! ±10 % per answer so that devices that enrolled together drift apart.

use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::ServerState;
use super::fleet::Snapshot;
use crate::domain::clock::now;
use crate::store::Store;
use crate::store::distribution::ProgressUpdate;
use crate::wire::http::ApiError;
use crate::wire::proto::{ErrorCode, HeartbeatRequest, HeartbeatResponse};

/// Heartbeats waiting for the writer; one more is refused with `overloaded`.
/// At 10,000 heartbeats/s, 6.5 s of writes held up by a lock taken
/// elsewhere; each entry is a few hundred bytes.
pub const QUEUE: usize = 65_536;

/// How long a heartbeat waits for its commit before it is answered anyway:
/// on a quiet server a commit takes a few milliseconds, so the answer
/// still follows the commit; under load (a batch of hundreds at
/// 10,000 heartbeats/s, a checkpoint beside it) the answer does not wait
/// for the batch, and the heartbeat's tail latency stays within this.
pub const COMMIT_WAIT: std::time::Duration = std::time::Duration::from_millis(20);

/// How many times the writer tries a batch whose transaction could not
/// start or commit (the write lock held elsewhere past the busy timeout).
pub const TRIES: usize = 3;

/// Most heartbeats committed in one transaction.
pub const MAX_BATCH: usize = 1024;

/// A batch that takes this long is logged.
const SLOW_BATCH: std::time::Duration = std::time::Duration::from_millis(250);

/// Longest interval a device is told, however large the fleet.
pub const MAX_INTERVAL_SECS: u64 = 3600;

/// One queued heartbeat and where its answer goes.
struct Beat {
    req: HeartbeatRequest,
    reply: oneshot::Sender<Result<(), ApiError>>,
}

/// The handlers' end of the queue.
pub struct Beats {
    tx: mpsc::Sender<Beat>,
    /// The writer's end, taken once by [`run`].
    rx: Mutex<Option<mpsc::Receiver<Beat>>>,
    /// The writer is started by the first heartbeat, so that a router
    /// used without `server::run` (in-process tests) writes too.
    started: std::sync::atomic::AtomicBool,
}

impl Default for Beats {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        Beats {
            tx,
            rx: Mutex::new(Some(rx)),
            started: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl Beats {
    /// Answers a heartbeat from a read connection and queues what it
    /// reports for the next group commit; waits for that commit at most
    /// [`COMMIT_WAIT`].
    pub async fn submit(
        &self,
        state: &Arc<ServerState>,
        req: HeartbeatRequest,
        source: Option<std::net::IpAddr>,
    ) -> Result<HeartbeatResponse, ApiError> {
        // Without `server::run` (a router alone, in-process tests): a
        // writer of its own, which ends with the state.
        if !self.started.swap(true, std::sync::atomic::Ordering::AcqRel) {
            tokio::spawn(run(Arc::downgrade(state), CancellationToken::new()));
        }
        // What this device may write (design note `key-holders`): one item per heartbeat
        // and per progress or stuck entry it carries.
        super::quota::device_writes(
            state,
            &req.device_id,
            1 + req.progress.len() + req.stuck.len(),
        )?;
        let fleet = state.fleet.current();
        let (base, budget) = (
            fleet.settings.heartbeat_secs,
            fleet.settings.heartbeat_budget,
        );
        let cache_limit = fleet.settings.cache_limit_bytes;
        let secs = interval(
            base,
            state.fleet.device_count(),
            budget,
            self.backlog(),
            rand::random::<f64>(),
        );
        let (board, device) = (state.board.clone(), req.device_id.clone());
        let seen = super::relocate::seen(&fleet, source, &req, state.tls.is_some());
        let f = fleet.clone();
        let (mut answer, listed) = state
            .db
            .read_quick(move |st| answer(st, &f, &board, &device, secs, cache_limit))
            .await?;
        if let Some(seen) = seen.filter(|s| s.differs(&listed)) {
            relocated(state, &fleet, &req.device_id, seen, &mut answer).await?;
        }
        let (reply, committed) = oneshot::channel();
        self.tx.try_send(Beat { req, reply }).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => super::pool::overloaded_because(&format!(
                "{QUEUE} heartbeats are waiting to be written"
            )),
            mpsc::error::TrySendError::Closed(_) => {
                ApiError::new(ErrorCode::Internal, "the server is shutting down")
            }
        })?;
        match tokio::time::timeout(COMMIT_WAIT, committed).await {
            // Committed, or committed later: answered either way.
            Ok(Ok(Ok(()))) | Err(_) => Ok(answer),
            Ok(Ok(Err(e))) => Err(e),
            Ok(Err(_)) => Err(ApiError::new(
                ErrorCode::Internal,
                "the server is shutting down",
            )),
        }
    }

    /// Starts the writer in `tasks` (`server::run`'s): once `stop` is
    /// cancelled it takes no more heartbeats, commits those queued, and
    /// ends.
    pub fn start(&self, state: &Arc<ServerState>, tasks: &TaskTracker, stop: CancellationToken) {
        if !self.started.swap(true, std::sync::atomic::Ordering::AcqRel) {
            tasks.spawn(run(Arc::downgrade(state), stop));
        }
    }

    /// How full the queue is, 0 to 1.
    pub fn backlog(&self) -> f64 {
        1.0 - self.tx.capacity() as f64 / self.tx.max_capacity() as f64
    }
}

/// The interval (seconds) a device is told to heartbeat at.
///
/// - `base`: the configured `heartbeat_secs`;
/// - `devices`: enrolled devices; the interval is at least
///   `devices / budget`, so the fleet as a whole stays within `budget`
///   heartbeats per second;
/// - `backlog`: how full the writer's queue is (0 to 1); a filling queue
///   stretches the interval up to twice more;
/// - `jitter`: a random number in [0, 1); a stretched interval is spread
///   by ±10 % with it. An interval that is not stretched is told exactly as
///   configured (an admin who sets 7 s sees 7 s).
pub fn interval(base: u64, devices: u64, budget: u64, backlog: f64, jitter: f64) -> u64 {
    let base = base.max(1) as f64;
    let needed = devices as f64 / budget.max(1) as f64;
    let stretched = needed.max(base) * (1.0 + backlog.clamp(0.0, 1.0));
    if stretched <= base {
        return (base as u64).min(MAX_INTERVAL_SECS);
    }
    let spread = stretched * (0.9 + 0.2 * jitter.clamp(0.0, 1.0));
    (spread.round() as u64).clamp(base as u64, MAX_INTERVAL_SECS)
}

/// The writer: commits queued heartbeats in batches until `stop` is
/// cancelled (then it closes the queue and commits what is in it) or the
/// server state is gone (it holds only a weak reference, so the queue's
/// sender, which lives in the state, closes the queue when the state is
/// dropped). Runs on the runtime; the database work goes through
/// [`super::StorePool::call`] like every other write.
async fn run(weak: std::sync::Weak<ServerState>, stop: CancellationToken) {
    let Some(mut rx) = weak.upgrade().and_then(|s| s.beats.rx.lock().take()) else {
        return;
    };
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut stopping = false;
    loop {
        let n = tokio::select! {
            n = rx.recv_many(&mut batch, MAX_BATCH) => n,
            _ = stop.cancelled(), if !stopping => {
                rx.close();
                stopping = true;
                continue;
            }
        };
        if n == 0 {
            return;
        }
        let Some(state) = weak.upgrade() else {
            return;
        };
        let (reqs, replies): (Vec<_>, Vec<_>) = batch.drain(..).map(|b| (b.req, b.reply)).unzip();
        let reqs = Arc::new(reqs);
        let mut outcome = Err(ApiError::new(ErrorCode::Internal, "not written"));
        for attempt in 1..=TRIES {
            outcome = commit(&state, reqs.clone()).await;
            match &outcome {
                Ok(_) => break,
                Err(e) => tracing::warn!(
                    heartbeats = reqs.len(),
                    attempt,
                    "heartbeat batch not committed: {}",
                    e.message
                ),
            }
        }
        match outcome {
            Ok(answers) => {
                for (reply, a) in replies.into_iter().zip(answers) {
                    let _ = reply.send(a);
                }
            }
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Err(ApiError::new(e.code, e.message.clone())));
                }
            }
        }
    }
}

/// One batch in one transaction; an outcome per heartbeat, in order.
async fn commit(
    state: &Arc<ServerState>,
    reqs: Arc<Vec<HeartbeatRequest>>,
) -> Result<Vec<Result<(), ApiError>>, ApiError> {
    let s = state.clone();
    state
        .db
        .call(move |st| {
            let t = Instant::now();
            let n = reqs.len();
            // A savepoint each: one failing device never takes the
            // batch's others with it (PostgreSQL).
            let outcomes = st.batch(|st| {
                reqs.iter()
                    .map(|req| st.item(|st| record(st, req)))
                    .collect()
            })?;
            let took = t.elapsed();
            s.metrics.observe_write("heartbeat", n, took);
            if took >= SLOW_BATCH {
                tracing::warn!(
                    heartbeats = n,
                    took_ms = took.as_millis() as u64,
                    "slow heartbeat commit"
                );
            }
            Ok(outcomes)
        })
        .await
}

/// What one heartbeat reports, inside the batch's transaction. A device
/// removed since it was answered is skipped.
fn record(st: &Store, req: &HeartbeatRequest) -> Result<(), ApiError> {
    let stuck: Vec<(String, String)> = req
        .stuck
        .iter()
        .map(|s| (s.content_id.to_string(), s.reason.clone()))
        .collect();
    let ids: Vec<String> = req
        .progress
        .iter()
        .map(|p| p.content_id.to_string())
        .collect();
    let progress: Vec<(&str, ProgressUpdate, Option<i64>)> = req
        .progress
        .iter()
        .zip(&ids)
        .map(|(p, id)| {
            let update = ProgressUpdate {
                pieces: p.pieces,
                done: p.done,
                bytes: p.bytes,
                blocked: p.blocked,
            };
            (id.as_str(), update, p.done_at_ms)
        })
        .collect();
    st.record_heartbeat(&req.device_id, req.clock_offset, &stuck, &progress)?;
    Ok(())
}

/// The device's address or peer URL changed: written now, on the writing
/// connection (a move is rare next to heartbeats, and its answer must
/// already name the new office), and the answer and directory follow.
async fn relocated(
    state: &Arc<ServerState>,
    fleet: &Arc<Snapshot>,
    device: &str,
    seen: super::relocate::Seen,
    answer: &mut HeartbeatResponse,
) -> Result<(), ApiError> {
    let (s, f, id) = (state.clone(), fleet.clone(), device.to_string());
    let r = state
        .db
        .call(move |st| {
            let mut board = s.board.lock();
            let r = super::relocate::relocate(st, &f, &s.roster, &mut board, &id, &seen)?;
            let office = match r.listed.office_id {
                Some(o) => match f.office(o) {
                    Some(o) => Some(o.clone()),
                    None => st.office(o)?,
                },
                None => None,
            };
            Ok((r, office))
        })
        .await?;
    let (r, office) = r;
    if r.handed_over > 0 {
        state.seed.forget_device(device);
    }
    // A new address: whether its peers can reach it is learnt again.
    if r.readdressed {
        super::reachability::check(state, device, r.listed.office_id, r.listed.peer_url.clone());
    }
    answer.serve_peers = office.as_ref().is_some_and(|o| o.kind.serves_peers());
    answer.office = office.map(|o| o.name);
    fleet.directory.insert(device, r.listed);
    Ok(())
}

/// The answer to one heartbeat, from a read connection, and where the
/// device is listed.
fn answer(
    st: &Store,
    fleet: &Snapshot,
    board: &Mutex<super::leader::Board>,
    device_id: &str,
    heartbeat_secs: u64,
    cache_limit_bytes: Option<u64>,
) -> Result<(HeartbeatResponse, super::fleet::Listed), ApiError> {
    // From the snapshot's directory when this device was seen under it:
    // the database is read only on a device's first heartbeat after a
    // change (a read per heartbeat cost more than the rest of the answer).
    let d = match fleet.directory.get(device_id) {
        Some(d) if fleet.group_assigned(&d.group_name) => d,
        _ => {
            let row = super::api::enrolled(st, fleet, device_id)?;
            let d = super::fleet::Listed {
                group_name: row.group_name,
                office_id: row.office_id,
                addr: row.addr,
                peer_url: row.peer_url,
            };
            fleet.directory.insert(device_id, d.clone());
            d
        }
    };
    board.lock().seen(device_id);
    let office = match d.office_id {
        Some(o) => match fleet.office(o) {
            Some(o) => Some(o.clone()),
            None => st.office(o)?,
        },
        None => None,
    };
    let serve_peers = office.as_ref().is_some_and(|o| o.kind.serves_peers());
    let resp = HeartbeatResponse {
        heartbeat_secs,
        serve_peers,
        office: office.map(|o| o.name),
        contents: match fleet.targets.get(&d.group_name) {
            Some(c) => c.to_vec(),
            None => {
                let c = st.targeted_contents(&d.group_name)?;
                fleet.targets.insert(&d.group_name, Arc::new(c.clone()));
                c
            }
        },
        server_time: now(),
        cache_limit_bytes,
    };
    Ok((resp, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configured_interval_holds_while_the_fleet_fits_the_budget() {
        // 50,000 devices every 10 s = 5,000/s, within 10,000/s: exactly 10 s.
        for j in [0.0, 0.5, 0.999] {
            assert_eq!(interval(10, 50_000, 10_000, 0.0, j), 10);
        }
        assert_eq!(interval(7, 0, 10_000, 0.0, 0.3), 7);
    }

    #[test]
    fn a_large_fleet_stretches_the_interval_to_stay_within_the_budget() {
        // 200,000 devices at 10,000/s need 20 s; ±10 % jitter.
        let all: Vec<u64> = (0..100)
            .map(|i| interval(10, 200_000, 10_000, 0.0, i as f64 / 100.0))
            .collect();
        assert!(all.iter().all(|&s| (18..=22).contains(&s)), "{all:?}");
        assert!(all.iter().min() < all.iter().max(), "no spread: {all:?}");
        // On average the fleet sends no more than the budget.
        let mean = all.iter().sum::<u64>() as f64 / all.len() as f64;
        assert!(200_000.0 / mean <= 10_000.0 * 1.01, "mean {mean}");
    }

    #[test]
    fn a_filling_queue_stretches_the_interval_up_to_twice() {
        assert_eq!(interval(10, 1_000, 10_000, 1.0, 0.5), 20);
        assert_eq!(interval(10, 1_000, 10_000, 0.5, 0.5), 15);
        assert_eq!(interval(10, 10_000_000, 1, 1.0, 0.5), MAX_INTERVAL_SECS);
    }
}

//! The heartbeat loop: a heartbeat at the interval the server sets (the
//! key file re-read and the device certificate renewed first), a download
//! started for each content the answer targets at this device, the cache
//! kept within its limit, and the transfer reports sent.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::Method;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

use super::refused::{KeyRefused, Next, Refusals};
use super::{Agent, AgentError, download};
use crate::domain::ContentId;
use crate::wire::http::CallError;
use crate::wire::proto::*;

/// Heartbeats until `shutdown` is cancelled (`Ok`) or the server refuses
/// this agent for good. Downloads run on `tracker`.
pub(super) async fn heartbeats(
    agent: &Arc<Agent>,
    tracker: &TaskTracker,
    refusals: &mut Refusals,
) -> Result<(), AgentError> {
    let mut running: HashMap<ContentId, JoinHandle<()>> = HashMap::new();
    let mut last_error = String::new();
    let mut readdressed = false;
    let mut addr_changes = agent.place.readdressed();
    loop {
        agent.reload_key();
        agent.renew_certificate_if_due().await;
        if std::mem::take(&mut readdressed) {
            // What came in before the move counts for the office it came
            // into: reported before the heartbeat that re-places us.
            agent.flush_reports().await;
        }
        // A heartbeat out on a connection from an address the device no
        // longer has would time out: given up, and sent again at once.
        let sent = tokio::select! {
            r = agent.heartbeat() => Some(r),
            _ = addr_changes.changed() => None,
        };
        let Some(sent) = sent else {
            readdressed = true;
            continue;
        };
        match sent {
            Ok(hb) => {
                if !std::mem::take(&mut last_error).is_empty() {
                    tracing::info!("the server answers heartbeats again");
                }
                refusals.accepted();
                answered(agent, hb, &mut running, tracker).await;
            }
            Err(e) => match refusals.next(agent, e, KeyRefused::ReloadOrWait) {
                Next::Retry => continue,
                Next::WaitForKey => {}
                Next::Stop(e) => return Err(e),
                Next::Transient(CallError::Wire(w)) if w.code == ErrorCode::NotEnrolled => {
                    reenroll(agent, refusals).await?;
                }
                Next::Transient(e) => {
                    let text = e.to_string();
                    if text != last_error {
                        tracing::warn!("heartbeat: {text}");
                        last_error = text;
                    }
                }
            },
        }
        agent.flush_reports().await;
        let every = Duration::from_secs(agent.heartbeat_secs.load(Ordering::Relaxed));
        tokio::select! {
            _ = agent.shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(every) => {}
            // The device's addresses changed: the server re-places it now,
            // not a heartbeat interval later.
            _ = agent.place.changed.notified() => readdressed = true,
        }
    }
}

/// The server forgot this device: enroll again. Retired by the admin:
/// stop, and never come back as a new device on our own.
async fn reenroll(agent: &Agent, refusals: &mut Refusals) -> Result<(), AgentError> {
    if let Err(e) = agent.enroll().await {
        match refusals.next(agent, e, KeyRefused::Stop) {
            Next::Stop(e) => return Err(e),
            Next::Transient(e) => tracing::warn!("re-enroll: {e}"),
            // Not for KeyRefused::Stop.
            Next::Retry | Next::WaitForKey => {}
        }
    }
    Ok(())
}

/// Acts on a heartbeat's answer: forgets what is no longer targeted,
/// evicts from the cache, and starts a download for each targeted content
/// not delivered, not downloading and not stuck for good.
async fn answered(
    agent: &Arc<Agent>,
    hb: HeartbeatResponse,
    running: &mut HashMap<ContentId, JoinHandle<()>>,
    tracker: &TaskTracker,
) {
    // Content no longer targeted is nothing to be stuck on.
    agent
        .stuck
        .lock()
        .retain(|id, _| hb.contents.iter().any(|c| &c.id == id));
    if let Some(limit) = hb.cache_limit_bytes {
        let targeted: HashSet<ContentId> = hb.contents.iter().map(|c| c.id).collect();
        let a = agent.clone();
        let _ = tokio::task::spawn_blocking(move || a.evict_cache(limit, &targeted)).await;
    }
    for c in hb.contents {
        // The id names a directory under pieces/: it is a ContentId, 64
        // hex digits, or the heartbeat did not deserialize.
        let done = agent.pieces.get(&c.id).is_some_and(|x| x.delivered());
        let alive = running.get(&c.id).is_some_and(|h| !h.is_finished());
        if !done && !alive && !agent.stuck_for_good(&c.id) {
            let id = c.id;
            running.insert(id, tracker.spawn(download::download_task(agent.clone(), c)));
        }
    }
}

impl Agent {
    async fn heartbeat(&self) -> Result<HeartbeatResponse, CallError> {
        let progress = self
            .pieces
            .all()
            .iter()
            .map(|c| {
                let flow = self.flow(&c.manifest.id);
                Progress {
                    content_id: c.manifest.id,
                    pieces: c.count(),
                    done: c.delivered(),
                    done_at_ms: c.delivered_at_ms(),
                    bytes: flow.bytes.load(Ordering::Relaxed),
                    blocked: flow.blocked.load(Ordering::Relaxed),
                }
            })
            .collect();
        let req = HeartbeatRequest {
            device_id: self.device_id(),
            progress,
            addrs: self.addrs(),
            peer_port: Some(self.peer_port()),
            peer_url: self.fixed_peer_url(),
            stuck: self.stuck_list(),
            clock_offset: Some(self.clock_offset.load(Ordering::Relaxed)),
        };
        let url = self.url("/v1/heartbeat");
        let resp: HeartbeatResponse = self
            .client
            .json(Method::POST, &url, &req, Duration::from_secs(10))
            .await
            .inspect_err(|e| {
                self.server_failed(&url, e);
            })?;
        self.learn_clock(resp.server_time);
        self.placed(resp.office.as_deref());
        self.serve_peers.store(resp.serve_peers, Ordering::Relaxed);
        self.heartbeat_secs
            .store(resp.heartbeat_secs.max(1), Ordering::Relaxed);
        Ok(resp)
    }

    /// Sends what the journal holds, a report at a time, oldest first;
    /// each acknowledged one leaves the journal. A failed one stays and is
    /// sent again next time with the same number and records, so the
    /// server counts it once whether or not it was counted before
    /// (`journal.rs`). At most two wait: the one sent before, and the rest.
    pub(super) async fn flush_reports(&self) {
        for _ in 0..2 {
            let Some(mut req) = self.pending.lock().next_report() else {
                return;
            };
            req.device_id = self.device_id();
            let url = self.url("/v1/report");
            let rb = self
                .client
                .request(
                    Method::POST,
                    &url,
                    serde_json::to_vec(&req).expect("report serializes"),
                )
                .timeout(Duration::from_secs(10));
            let answer = match self.client.send(&url, rb).await {
                Ok(resp) => crate::wire::http::check(resp).await.map(|_| ()),
                Err(e) => Err(e),
            };
            match answer {
                Ok(()) if self.answer_lost(req.seq) => return,
                Ok(()) => {}
                // Refused as malformed: sending it again cannot help, and
                // it would hold back every report after it.
                Err(CallError::Wire(w)) if w.code == ErrorCode::BadRequest => {
                    tracing::warn!(
                        seq = req.seq,
                        "the server refused a transfer report for good ({}); dropped",
                        w.message
                    );
                }
                Err(e) => {
                    self.server_failed(&url, &e);
                    return;
                }
            }
            self.pending.lock().acked(req.seq);
        }
    }

    /// Fault injection (`P2PD_FAULT_LOSE_REPORT_ANSWERS`): whether to take
    /// the server's acceptance of report `seq` as lost on the way.
    fn answer_lost(&self, seq: u64) -> bool {
        #[cfg(feature = "fault-injection")]
        if self.faults.lose_report_answer() {
            tracing::info!(seq, "fault injection: report answer dropped");
            return true;
        }
        let _ = seq;
        false
    }
}

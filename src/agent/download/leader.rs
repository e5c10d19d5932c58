//! The plan and the leader: asking the server for sources (naming a
//! leader that failed us), what a new plan changes (requests parked at an
//! old leader dropped, evidence carried or cleared), and going around a
//! leader we hold evidence against.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::Method;
use tokio::time::Instant;

use super::Downloader;
use crate::wire::proto::*;

impl Downloader {
    pub(super) async fn refresh(&mut self) {
        let placement = self.agent.placement();
        let url = self
            .agent
            .url(&format!("/v1/contents/{}/sources", self.id()));
        let body = SourcesRequest {
            device_id: self.agent.device_id(),
            suspect: self.suspect.clone().or_else(|| self.evidence.clone()),
            unreachable: self.unreachable.drain().collect(),
        };
        let call = self.agent.client.json::<SourcesResponse>(
            Method::POST,
            &url,
            &body,
            Duration::from_secs(10),
        );
        // Out on a connection from an address the device no longer has,
        // it would only time out: given up, and asked again at once.
        let mut readdressed = self.readdressed.clone();
        let answer = tokio::select! {
            r = call => r,
            _ = readdressed.changed() => {
                self.refresh_now = true;
                return;
            }
        };
        match answer.inspect_err(|e| {
            self.agent.server_failed(&url, e);
        }) {
            // Placed in another office while the call was out: this plan is
            // the old office's. Ask again.
            Ok(_) if self.agent.placement() != placement => {
                self.refresh_now = true;
            }
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
                // Moved to another office: what is still coming from the
                // old office's devices (or from outside, unless we lead
                // here too) now crosses a WAN link; the new office's
                // sources take over.
                if self.placement != placement {
                    self.placement = placement;
                    self.drop_outside(&p);
                }
                let old_leader = self.plan.as_ref().and_then(|o| o.leader.clone());
                if old_leader.is_some() && old_leader != p.leader {
                    self.drop_waits_at(old_leader.as_deref());
                }
                self.drop_readdressed(&p, old_leader.as_deref());
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
    /// After a move: drops the requests (not yet complete) at sources the
    /// new plan does not list: the old office's devices, and upstream
    /// unless this device leads in its new office.
    pub(super) fn drop_outside(&mut self, plan: &SourcesResponse) {
        let listed: HashSet<&str> = plan
            .peers
            .iter()
            .chain(&plan.upstream)
            .map(|s| s.url.as_str())
            .collect();
        let mut dropped = 0;
        for v in self.in_flight.values_mut() {
            v.retain(|a| {
                let stale = !a.complete.load(Ordering::Acquire) && !listed.contains(a.url.as_str());
                if stale {
                    a.abort.abort();
                    self.sources.ended(&a.url);
                    dropped += 1;
                }
                !stale
            });
        }
        self.in_flight.retain(|_, v| !v.is_empty());
        tracing::info!(content = %self.id(), dropped, office = ?plan.office, role = ?plan.role,
            "placed in another office: dropped the requests at the old office's sources");
    }

    /// Requests at a device the new plan lists at another URL (its
    /// address changed), or at the old leader when the plan no longer
    /// lists it at all (it moved away): they would wait for an address
    /// that is gone. Given up at once, not after their timeouts.
    pub(super) fn drop_readdressed(&mut self, plan: &SourcesResponse, old_leader: Option<&str>) {
        let now_at: HashMap<&str, &str> = plan
            .peers
            .iter()
            .chain(&plan.upstream)
            .filter_map(|s| Some((s.device_id.as_deref()?, s.url.as_str())))
            .collect();
        let stale = |a: &super::piece::Attempt| match a.device.as_deref() {
            Some(d) => match now_at.get(d) {
                Some(url) => *url != a.url,
                None => Some(d) == old_leader,
            },
            None => false,
        };
        let mut dropped = 0;
        for v in self.in_flight.values_mut() {
            v.retain(|a| {
                let drop = !a.complete.load(Ordering::Acquire) && stale(a);
                if drop {
                    a.abort.abort();
                    self.sources.ended(&a.url);
                    dropped += 1;
                }
                !drop
            });
        }
        self.in_flight.retain(|_, v| !v.is_empty());
        if dropped > 0 {
            tracing::info!(content = %self.id(), dropped, "peers moved or changed address: gave up the requests at their old addresses");
        }
    }

    /// This device's addresses changed: every request not yet complete
    /// goes out on a connection from an address it may no longer have.
    pub(super) fn give_up_requests(&mut self, why: &str) {
        let mut dropped = 0;
        for v in self.in_flight.values_mut() {
            v.retain(|a| {
                let drop = !a.complete.load(Ordering::Acquire);
                if drop {
                    a.abort.abort();
                    self.sources.ended(&a.url);
                    dropped += 1;
                }
                !drop
            });
        }
        self.in_flight.retain(|_, v| !v.is_empty());
        self.have_inflight.clear();
        if dropped > 0 {
            tracing::info!(content = %self.id(), dropped, "{why}: gave up the requests in flight");
        }
    }

    pub(super) fn drop_waits_at(&mut self, device: Option<&str>) {
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

    /// A follower with evidence against the leader its plan names, and
    /// upstream sources from the server to go around it with.
    pub(super) fn going_around(&self, p: &SourcesResponse) -> bool {
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
    pub(super) fn against_leader(&mut self, dev: &str, reason: SuspectReason, lasting: bool) {
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
    pub(super) fn abandon_device(&mut self, dev: &str) {
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
                    content_id: *self.id(),
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
}

//! Pulling from outside the office (the parent office, the server, the
//! CDN): the first upstream tier not failing, the lease a leader pulls
//! under, the WAN cap, and stopping at once when no longer the leader.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use super::Downloader;
use crate::wire::proto::*;

impl Downloader {
    /// Whether a leader (or a follower going around its leader) may pull
    /// from outside the office now: its last answer from the server is
    /// within the lease.
    pub(super) fn lease_valid(&self, p: &SourcesResponse) -> bool {
        p.role == Role::Solo
            || p.lease_secs == 0
            || self
                .plan_at
                .is_some_and(|at| at.elapsed() < Duration::from_secs(p.lease_secs))
    }

    /// A leader or solo device whose every upstream source is failing.
    pub(super) fn upstream_blocked(&self) -> bool {
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

    /// The first upstream tier not in back-off; within the parent tier, a
    /// holder of the piece or else the parent's first (leader) peer.
    pub(super) fn upstream_for(&self, p: &SourcesResponse, i: u32) -> Option<(Source, bool)> {
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

    /// WAN cap: each upstream request (a leader's from outside the office,
    /// or a follower's going around its leader) reserves its share of the
    /// link, and nothing starts before its slot. Reserves piece `i`'s from
    /// `source`, or returns false: not yet.
    pub(super) fn wan_slot(
        &mut self,
        plan: &SourcesResponse,
        source: &Source,
        i: u32,
        now: Instant,
    ) -> bool {
        let upstream = source.tier != Tier::Lan;
        let Some(kbps) = plan.wan_kbps.filter(|k| *k > 0 && upstream) else {
            return true;
        };
        if now < self.wan_next {
            return false;
        }
        let (a, b) = self.content.manifest.piece_range(i);
        let secs = (b - a) as f64 * 8.0 / (kbps as f64 * 1000.0);
        self.wan_next = self.wan_next.max(now) + Duration::from_secs_f64(secs);
        true
    }

    /// No longer the leader: stop pulling from outside the office at once
    /// (the new leader does), except for pieces already fully received.
    pub(super) fn drop_upstream(&mut self) {
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
}

//! What the downloader knows of each source of its content (requests in
//! flight, back-off, rate, strikes, the current run of identical
//! failures: [`SourceTable`], by URL), and which source may serve which
//! piece: have-maps polled from the peers, usable sources, holders, the
//! tier order.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use super::{Downloader, Event};
use crate::wire::proto::*;

/// At most this many requests in flight to one source outside the office
/// (parent office, server, CDN): the WAN link is the limit there, and
/// whatever is in flight when that source fails is lost to the WAN.
const PER_SOURCE: usize = 4;

/// At most this many to a peer in the office: on a LAN the two agents'
/// CPUs are the limit, and a deeper pipeline keeps both busy (8 against 4:
/// 0.84 against 0.78 of curl's throughput on loopback, bench/RESULTS.md).
pub(super) const PER_LAN_SOURCE: usize = 8;

/// How many times in a row one source may fail the same way, with nothing
/// arriving meanwhile, before the content counts as stuck.
pub(super) const STUCK_AFTER: u32 = 3;

/// One source's current run of identical failures.
pub(super) struct FailureRun {
    pub(super) error: String,
    pub(super) count: u32,
    pub(super) since: Instant,
    /// Logged at WARN already (once per run).
    pub(super) warned: bool,
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
pub(super) struct SourceTable(HashMap<String, SourceStats>);

impl SourceTable {
    fn get(&self, url: &str) -> Option<&SourceStats> {
        self.0.get(url)
    }

    fn entry(&mut self, url: &str) -> &mut SourceStats {
        self.0.entry(url.to_string()).or_default()
    }

    /// Requests in flight to `url`.
    pub(super) fn busy(&self, url: &str) -> usize {
        self.get(url).map_or(0, |s| s.busy)
    }

    /// A request to `url` starts.
    pub(super) fn started(&mut self, url: &str) {
        self.entry(url).busy += 1;
    }

    /// A request to `url` ended (finished or abandoned).
    pub(super) fn ended(&mut self, url: &str) {
        if let Some(s) = self.0.get_mut(url) {
            s.busy = s.busy.saturating_sub(1);
        }
    }

    pub(super) fn in_backoff(&self, url: &str) -> bool {
        self.get(url)
            .and_then(|s| s.backoff)
            .is_some_and(|(until, _)| Instant::now() < until)
    }

    /// Failed since it last delivered a piece (in back-off or not).
    pub(super) fn has_failed(&self, url: &str) -> bool {
        self.get(url).is_some_and(|s| s.backoff.is_some())
    }

    /// `url` failed: it backs off for longer each time in a row (0.5 s,
    /// doubling, at most 5 s).
    pub(super) fn back_off(&mut self, url: &str) {
        let b = self.entry(url).backoff.get_or_insert((Instant::now(), 0));
        b.1 += 1;
        let secs = (0.25 * 2f64.powi(b.1.min(5) as i32)).min(5.0);
        b.0 = Instant::now() + Duration::from_secs_f64(secs);
    }

    /// `url` delivered a piece of `bytes` in `took`: its failures are
    /// forgotten and its rate measured.
    pub(super) fn delivered(&mut self, url: &str, bytes: u64, took: Duration) {
        let s = self.entry(url);
        s.backoff = None;
        s.run = None;
        let sample = bytes as f64 / took.as_secs_f64().max(0.001);
        let r = s.rate.get_or_insert(sample);
        *r = 0.7 * *r + 0.3 * sample;
    }

    pub(super) fn rate(&self, url: &str) -> Option<f64> {
        self.get(url).and_then(|s| s.rate)
    }

    /// The best measured rate of any source but `url` (0 if none).
    pub(super) fn best_rate_except(&self, url: &str) -> f64 {
        self.0
            .iter()
            .filter(|(u, _)| *u != url)
            .filter_map(|(_, s)| s.rate)
            .fold(0.0, f64::max)
    }

    /// `url` was abandoned for slowness: demoted below every measured
    /// source. Returns its strikes so far.
    pub(super) fn slow_strike(&mut self, url: &str) -> u32 {
        let s = self.entry(url);
        s.slow_strikes += 1;
        s.rate = Some(1.0);
        s.slow_strikes
    }

    /// Abandoned for slowness before.
    pub(super) fn struck_slow(&self, url: &str) -> bool {
        self.get(url).is_some_and(|s| s.slow_strikes > 0)
    }

    /// `url` did not have a piece its have-map claimed. Returns its
    /// strikes so far.
    pub(super) fn lie_strike(&mut self, url: &str) -> u32 {
        let s = self.entry(url);
        s.lie_strikes += 1;
        s.lie_strikes
    }

    /// Counts a failure in `url`'s run of identical ones (a new run if
    /// the error differs).
    pub(super) fn failed(&mut self, url: &str, error: String) -> &mut FailureRun {
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
    pub(super) fn failing_repeatedly(&self, url: &str) -> bool {
        self.get(url)
            .and_then(|s| s.run.as_ref())
            .is_some_and(|r| r.count >= STUCK_AFTER)
    }
}

impl Downloader {
    /// Sources whose have-maps matter: office peers, and for a leader or
    /// solo device the parent-office peers.
    pub(super) fn have_sources(&self) -> Vec<Source> {
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

    pub(super) fn poll_haves(&mut self) {
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
                .is_some_and(|t| t.elapsed() < crate::agent::havemap::MIN_SPACING)
            {
                continue;
            }
            self.have_polled.insert(dev.clone(), Instant::now());
            self.have_inflight.insert(dev.clone());
            let client = self.agent.client.clone();
            // A long poll: answered when the peer's pieces change.
            let since = self.haves.get(&dev).map(crate::agent::havemap::count);
            let url = crate::agent::havemap::url(&s.url, &self.id().to_string(), &dev, since);
            self.tasks.spawn(async move {
                let r: Result<HaveMap, _> = client
                    .peer_get_json(&url, &dev, crate::agent::havemap::REQUEST_TIMEOUT)
                    .await;
                let no_connection = r.as_ref().is_err_and(|e| e.is_connect());
                let map = r.ok().and_then(|h| h.bitmap());
                Event::Have(dev, map, no_connection)
            });
        }
    }

    /// Banned, dropped or in back-off (not merely busy).
    pub(super) fn failing(&self, s: &Source) -> bool {
        s.device_id
            .as_ref()
            .is_some_and(|d| self.banned.contains(d) || self.dropped.contains(d))
            || self.sources.in_backoff(&s.url)
    }

    pub(super) fn usable(&self, s: &Source) -> bool {
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
    pub(super) fn holder<'a>(
        &self,
        sources: impl Iterator<Item = &'a Source>,
        i: u32,
    ) -> Option<Source> {
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

    /// A source for piece `i` other than the URLs in `exclude`, and whether
    /// the request should wait for the piece to arrive there.
    pub(super) fn source_for(
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

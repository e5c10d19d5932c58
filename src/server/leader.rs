//! Leadership of one (content, office): a small state machine with epochs,
//! judged with an injected clock so that every path is unit-tested.
//!
//! Pure: no store, no I/O, no clock of its own. The scheduler
//! (`scheduler.rs`) feeds it rows from the store and applies its
//! [`Decision`]; `Board` keeps what only lives in memory (follower reports,
//! devices that left, where each term's byte count started).
//!
//! # States
//!
//! - **Vacant**: no leader (no eligible device yet).
//! - **Leading(device, epoch, since)**: `device` alone pulls from outside
//!   the office. `since` starts its **grace period** (`stall_secs`): a new
//!   leader is never judged stalled before it has had time to move bytes.
//!   - *healthy*: it moved bytes within `stall_secs`, or it is done;
//!   - *blocked*: it reports every upstream source failing (storage gone,
//!     parent unreachable). It walks the tiers itself (parent peers →
//!     server → CDN, each while the one before fails) and keeps leading:
//!     another device would find the same sources failing;
//!   - *stalled*: past grace, no bytes for `stall_secs`, not blocked;
//!   - *suspect*: a follower reported it unreachable or stalled.
//!
//! # Events and what they do
//!
//! | event | effect |
//! |---|---|
//! | a `/sources` call, no leader | elect the best-scored online device → Leading(epoch + 1); the calling device wins a tie (it learns its role at once). Members are only the office's devices whose group the content is targeted at (the scheduler's `targeted`) |
//! | leader offline (3 heartbeats missed) or banned | elect another → Leading(epoch + 1) |
//! | leader stalled | elect another (one failure on its record, once per term); if nobody else is eligible, keep it and add nothing |
//! | leader blocked | keep it |
//! | leader slow: past `slow_secs` of its term, its bytes/s under 1/8 of the other offices' leaders' median (and of its WAN cap) | elect another (one failure); once per office and content, since a second slow leader means a slow link, not a slow device |
//! | follower report (unreachable / stalled) | remember the reporter; **confirmed** by a second signal: a second follower within `SUSPECT_WINDOW`, a missed heartbeat, or the server's own probe failing → elect another → Leading(epoch + 1) |
//! | leader leaves (SIGTERM, shutdown) | elect another at once → Leading(epoch + 1) |
//! | old leader returns | the current leader keeps its term; the old one is a follower, and its lease (`lease_secs`) has run out, so it stops pulling from outside before anyone else starts |
//!
//! # Timeouts
//!
//! - online: last heartbeat within `3 × heartbeat + 2` s;
//! - grace and stall: `stall_secs = max(6 × heartbeat, 10)` s (bytes are
//!   reported with every heartbeat, so a slow link still shows movement);
//! - a missed heartbeat, as a second signal: `2 × heartbeat + 1` s;
//! - a follower report stays valid for `SUSPECT_WINDOW`;
//! - slowness is judged after `slow_secs = max(2 × heartbeat, 2)` s of a
//!   term, from the bytes reported since it began, against the leaders of
//!   other offices whose terms have run at least one heartbeat. A
//!   `/sources` call reads only its own office's progress, so each call
//!   records its office's leader's rate on the `Board`
//!   (`Board::judge_rate`) and compares with the rates the other offices'
//!   calls recorded; bytes whose reports have not reached the server count
//!   as not moved;
//! - sources are refreshed every `2 × heartbeat` s (at most 10), and every
//!   heartbeat while the office's term is younger than `stall_secs`: a
//!   leader replaced early is followed within a heartbeat;
//! - a leader's lease: `3 × refresh` s after each `/sources` answer.
//!
//! No combination of these can livelock an office: a leader is only ever
//! replaced by a device that is not itself the stalled leader, each new
//! leader gets a full grace period before it can be judged, and a leader
//! whose upstream is down is kept instead of replaced, so after the
//! upstream comes back the device that keeps retrying it is still leading.

use std::collections::{HashMap, HashSet};

/// How long a follower's report that its leader fails it stays valid,
/// waiting for a second signal.
pub const SUSPECT_WINDOW: i64 = 10;

pub use crate::server::liveness::Timing;

/// The current term, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub device: String,
    pub epoch: i64,
    /// Start of the term (and of its grace period).
    pub since: i64,
}

/// What the machine needs to know about one office member.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: String,
    /// Online, serving peers, reachable, not banned for this content.
    pub eligible: bool,
    /// Its peers cannot reach it (two of them failed to connect): never
    /// elected, and a leader found so is replaced at once.
    pub unreachable: bool,
    /// The server's reachability check failed. Such a device leads only
    /// where no other can (an office the server cannot reach at all still
    /// gets leaders), and as leader it gives way to one that passed.
    pub unverified: bool,
    /// Its reachability check has not finished (it enrolled or moved just
    /// now): not elected meanwhile; a current leader keeps its term.
    pub checking: bool,
    /// The admin's say (`devices prefer|unprefer|exclude`): higher ranks
    /// lead first, before any score. Excluded devices are not eligible.
    pub rank: u8,
    /// The preferred-device score (history).
    pub score: f64,
    /// Pieces held: ties go to the device holding most, so a failover
    /// continues from what the office already has.
    pub pieces: u32,
    pub done: bool,
    /// Last time its bytes or pieces grew (None: never).
    pub moved_at: Option<i64>,
    /// It reports every upstream source failing, since then.
    pub blocked_since: Option<i64>,
    /// Last heartbeat.
    pub last_seen: i64,
}

/// Signals about the current leader gathered outside the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Signals {
    /// A follower's report, confirmed by a second signal.
    pub confirmed_down: bool,
    /// The leader said it is leaving.
    pub left: bool,
    /// Past `slow_secs` of its term, the leader moved bytes at less than
    /// 1/`SLOW_LEADER_FACTOR` of what the other offices' leaders move (or
    /// of its office's WAN cap, if that is lower): a throttled device.
    pub slow: bool,
    /// The leader moved to another office (its address now places it
    /// there): replaced at once, with no heartbeat-timeout wait.
    pub moved: bool,
}

/// A leader this many times slower than its peers in other offices is
/// replaced.
pub const SLOW_LEADER_FACTOR: f64 = 8.0;

/// A leader's rate during its term, from the bytes it reported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TermStart {
    pub epoch: i64,
    /// Its bytes received when the term began (or was first seen).
    pub bytes: u64,
    /// When, in ms since the epoch: terms a second apart are compared, so
    /// whole seconds would be far too coarse.
    pub at_ms: i64,
    /// The leader itself has been told it leads (its own `/sources`
    /// answer): `bytes` and `at_ms` were reset then, so its rate is judged
    /// from the moment it could start pulling, not from the election.
    pub informed: bool,
}

impl TermStart {
    /// A term of `epoch` seen at `at_ms` with `bytes` received, its leader
    /// not yet informed.
    pub fn at(epoch: i64, bytes: u64, at_ms: i64) -> TermStart {
        TermStart {
            epoch,
            bytes,
            at_ms,
            informed: false,
        }
    }

    /// Bytes/s since the term began, once `min_secs` have passed.
    pub fn rate(&self, bytes: u64, now_ms: i64, min_secs: i64) -> Option<f64> {
        let ms = now_ms - self.at_ms;
        (ms >= 1000 * min_secs.max(1))
            .then(|| bytes.saturating_sub(self.bytes) as f64 * 1000.0 / ms as f64)
    }
}

/// Whether a leader moving `rate` bytes/s is a throttled device, given the
/// other offices' leaders' rates and its office's WAN cap (bytes/s).
pub fn too_slow(rate: f64, others: &[f64], cap: Option<f64>) -> bool {
    let mut v: Vec<f64> = others.iter().copied().filter(|r| *r > 0.0).collect();
    if v.is_empty() {
        return false; // nothing to compare with
    }
    // Linear, not a sort: one rate per office, thousands of offices.
    let mid = v.len() / 2;
    let (_, median, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    let median = *median;
    let expected = match cap {
        Some(c) if c > 0.0 => median.min(c),
        _ => median,
    };
    rate * SLOW_LEADER_FACTOR < expected
}

/// Why a new leader was named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// There was none.
    First,
    /// The leader is offline, banned or no longer in the office.
    Gone,
    /// Followers reported it and a second signal confirmed.
    Reported,
    /// Past its grace period, no bytes moved, not blocked.
    Stalled,
    /// Far slower than the other offices' leaders.
    Slow,
    /// It handed over (stopping).
    Left,
    /// An eligible device the admin ranks higher is online.
    Outranked,
    /// It moved to another office.
    Moved,
    /// Its peers cannot reach it (a host firewall, NAT, client isolation).
    Unreachable,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::First => "first",
            Reason::Gone => "gone",
            Reason::Reported => "reported",
            Reason::Stalled => "stalled",
            Reason::Slow => "slow",
            Reason::Left => "left",
            Reason::Outranked => "outranked",
            Reason::Moved => "moved",
            Reason::Unreachable => "unreachable",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Nobody can lead.
    Vacant,
    /// The current leader keeps its term.
    Keep,
    /// Start a new term for `device`. `penalize` gets one failure on its
    /// record (a leader replaced for stalling).
    Elect {
        device: String,
        reason: Reason,
        replaced: Option<String>,
        penalize: Option<String>,
    },
}

/// The state of the current leader, as the machine judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Healthy,
    Blocked,
    Stalled,
}

/// Judges a leader that is still eligible.
pub fn health(t: &Timing, term: &Term, m: &Member, now: i64) -> Health {
    if m.done || now - term.since <= t.stall_secs {
        return Health::Healthy; // done, or in its grace period
    }
    if m.moved_at.is_some_and(|moved| now - moved <= t.stall_secs) {
        return Health::Healthy;
    }
    if m.blocked_since.is_some() {
        return Health::Blocked;
    }
    Health::Stalled
}

/// Scores this close count as a tie in an election (an availability
/// difference of about two heartbeats for a device a few seconds old).
pub const SCORE_TIE: f64 = 10.0;

/// The one transition function: given the current term, the office's
/// members and outside signals, keep the leader or name another.
/// `caller` is the device whose `/sources` call runs the election: it wins
/// a tie with the best candidate (same rank, score within [`SCORE_TIE`],
/// at least 9/10 of its pieces), because it learns its role in this very
/// answer instead of at its next refresh.
pub fn decide(
    t: &Timing,
    current: Option<&Term>,
    members: &[Member],
    signals: Signals,
    caller: Option<&str>,
    now: i64,
) -> Decision {
    let cur = current.and_then(|c| members.iter().find(|m| m.id == c.device).map(|m| (c, m)));
    let (reason, replaced, penalize) = match (current, cur) {
        (None, _) => (Reason::First, None, None),
        (Some(c), None) if signals.moved => (Reason::Moved, Some(c.device.clone()), None),
        (Some(c), None) => (Reason::Gone, Some(c.device.clone()), None),
        (Some(c), Some((term, m))) => {
            if signals.left {
                (Reason::Left, Some(c.device.clone()), None)
            } else if m.unreachable
                || m.unverified
                    && members
                        .iter()
                        .any(|o| o.eligible && !o.unverified && !o.checking)
            {
                (Reason::Unreachable, Some(c.device.clone()), None)
            } else if !m.eligible {
                (Reason::Gone, Some(c.device.clone()), None)
            } else if members.iter().any(|o| o.eligible && o.rank > m.rank) {
                (Reason::Outranked, Some(c.device.clone()), None)
            } else if signals.confirmed_down {
                (Reason::Reported, Some(c.device.clone()), None)
            } else if signals.slow && !m.done && m.blocked_since.is_none() {
                (Reason::Slow, Some(c.device.clone()), Some(c.device.clone()))
            } else {
                match health(t, term, m, now) {
                    Health::Healthy | Health::Blocked => return Decision::Keep,
                    Health::Stalled => (
                        Reason::Stalled,
                        Some(c.device.clone()),
                        Some(c.device.clone()),
                    ),
                }
            }
        }
    };
    let best = members
        .iter()
        .filter(|m| m.eligible && !m.checking && Some(&m.id) != replaced.as_ref())
        .max_by(|a, b| {
            a.rank
                .cmp(&b.rank)
                .then(b.unverified.cmp(&a.unverified))
                .then(a.score.total_cmp(&b.score))
                .then(a.pieces.cmp(&b.pieces))
                .then(b.id.cmp(&a.id))
        });
    let best = match (best, caller) {
        (Some(b), Some(c)) if b.id != c => members
            .iter()
            .find(|m| {
                m.id == c
                    && m.eligible
                    && !m.checking
                    && Some(&m.id) != replaced.as_ref()
                    && m.rank == b.rank
                    && m.unverified == b.unverified
                    && m.score >= b.score - SCORE_TIE
                    && m.pieces as u64 * 10 >= b.pieces as u64 * 9
            })
            .or(Some(b)),
        (b, _) => b,
    };
    match best {
        Some(b) => Decision::Elect {
            device: b.id.clone(),
            reason,
            replaced,
            penalize,
        },
        // Nobody else can take over: a stalled leader keeps leading (it
        // may recover) and is not penalized again and again.
        None if matches!(reason, Reason::Stalled | Reason::Slow) => Decision::Keep,
        None => Decision::Vacant,
    }
}

/// Follower reports waiting for a second signal, and devices that left.
/// In memory on purpose: after a restart of serve the heartbeat timeouts
/// cover both.
#[derive(Debug, Default)]
pub struct Board {
    /// (content, office) → the reported term and who reported it, when.
    suspects: HashMap<(String, i64), Suspicion>,
    /// Devices that said they are leaving, and when; cleared by their next
    /// heartbeat.
    left: HashMap<String, i64>,
    /// (content, office) → where the current term's byte count started.
    terms: HashMap<(String, i64), TermStart>,
    /// (content, office) pairs whose leader was already replaced for being
    /// slow. One swap per office: if the next leader is as slow, the cause
    /// is the office's link (a WAN cap nobody wrote into the topology), and
    /// swapping again would only churn.
    slow_swapped: HashSet<(String, i64)>,
    /// content → office → its current leader's bytes/s during its term, as
    /// last judged: the yardstick for the other offices' leaders. Kept
    /// here because a `/sources` call reads only its own office's
    /// progress (design note `fleet-scale`); each office's calls record their leader's rate
    /// for the others.
    rates: HashMap<String, HashMap<i64, f64>>,
    /// device → the peers that failed to connect to it, and when.
    unreachable: HashMap<String, HashMap<String, i64>>,
    /// Devices whose reachability check has not finished (enrolled or
    /// moved just now).
    unchecked: HashSet<String>,
    /// Devices whose address changed, and when: a follower's report that
    /// one fails it comes from a request to its old address for a while.
    readdressed: HashMap<String, i64>,
}

/// How long a peer's failed attempt counts, waiting for another's.
pub const UNREACHABLE_WINDOW: i64 = 60;

#[derive(Debug)]
struct Suspicion {
    epoch: i64,
    reporters: HashMap<String, i64>,
}

/// What a follower's report amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// About an older term, or about itself: nothing to do.
    Stale,
    /// Recorded; waiting for a second signal.
    Pending,
    /// A second follower reported the same term.
    Confirmed,
}

impl Board {
    /// Records that `reporter` finds the leader of term `epoch` failing.
    pub fn report(
        &mut self,
        content: &str,
        office: i64,
        term: &Term,
        epoch: i64,
        reporter: &str,
        now: i64,
    ) -> Report {
        if epoch != term.epoch || reporter == term.device {
            return Report::Stale;
        }
        let s = self
            .suspects
            .entry((content.to_string(), office))
            .or_insert_with(|| Suspicion {
                epoch,
                reporters: HashMap::new(),
            });
        if s.epoch != epoch {
            s.epoch = epoch;
            s.reporters.clear();
        }
        s.reporters.retain(|_, at| now - *at <= SUSPECT_WINDOW);
        s.reporters.insert(reporter.to_string(), now);
        if s.reporters.len() >= 2 {
            Report::Confirmed
        } else {
            Report::Pending
        }
    }

    /// Records that `reporter` could not connect to `device`; returns how
    /// many distinct peers did within [`UNREACHABLE_WINDOW`], and when the
    /// first of those did.
    pub fn unreachable_by(&mut self, device: &str, reporter: &str, now: i64) -> (usize, i64) {
        if device == reporter {
            return (0, now);
        }
        let r = self.unreachable.entry(device.to_string()).or_default();
        r.retain(|_, at| now - *at <= UNREACHABLE_WINDOW);
        r.entry(reporter.to_string()).or_insert(now);
        (r.len(), r.values().copied().min().unwrap_or(now))
    }

    /// A device whose reachability check starts (it enrolled or moved):
    /// earlier reports about it are void.
    pub fn check_started(&mut self, device: &str) {
        self.unreachable.remove(device);
        self.unchecked.insert(device.to_string());
    }

    /// `device`'s address changed at `now`.
    pub fn readdressed(&mut self, device: &str, now: i64) {
        self.readdressed.retain(|_, at| now - *at <= 600);
        self.readdressed.insert(device.to_string(), now);
    }

    /// Whether `device`'s address changed within the last `secs`.
    pub fn readdressed_within(&self, device: &str, now: i64, secs: i64) -> bool {
        self.readdressed
            .get(device)
            .is_some_and(|at| now - *at <= secs)
    }

    pub fn check_done(&mut self, device: &str) {
        self.unchecked.remove(device);
    }

    /// Whether `device`'s reachability check has not finished.
    pub fn unchecked(&self, device: &str) -> bool {
        self.unchecked.contains(device)
    }

    /// Forgets reports about a term that has ended.
    pub fn clear(&mut self, content: &str, office: i64) {
        self.suspects.remove(&(content.to_string(), office));
    }

    /// Whether an earlier report about this term is still pending.
    pub fn pending(&self, content: &str, office: i64, epoch: i64, now: i64) -> bool {
        self.suspects
            .get(&(content.to_string(), office))
            .is_some_and(|s| {
                s.epoch == epoch && s.reporters.values().any(|at| now - *at <= SUSPECT_WINDOW)
            })
    }

    /// The start of the current term's byte count, recorded the first time
    /// the term is seen (after a restart of serve: from then on); `seen`
    /// is the term's epoch, bytes and time now.
    pub fn term_start(&mut self, content: &str, office: i64, seen: TermStart) -> TermStart {
        self.record(content, office, seen)
    }

    /// The leader of `seen.epoch` got its own answer saying it leads: its
    /// rate is counted from now (once per term).
    pub fn leader_informed(&mut self, content: &str, office: i64, seen: TermStart) {
        let informed = TermStart {
            informed: true,
            ..seen
        };
        self.record(content, office, informed);
    }

    /// Keeps `start` for the office's term if none is known for its epoch,
    /// or if it is the first one after the leader was informed. A new
    /// epoch forgets the office's yardstick (it was the old leader's).
    fn record(&mut self, content: &str, office: i64, start: TermStart) -> TermStart {
        let e = self
            .terms
            .entry((content.to_string(), office))
            .or_insert(start);
        if e.epoch != start.epoch
            && let Some(r) = self.rates.get_mut(content)
        {
            r.remove(&office);
        }
        if e.epoch != start.epoch || (start.informed && !e.informed) {
            *e = start;
        }
        *e
    }

    /// Judges the rate of the leader of `office` (term `seen.epoch`, with
    /// `seen.bytes` received by `seen.at_ms` as the server last read them;
    /// `done_at_ms` if it holds the whole content) and records it as the
    /// yardstick of the other offices' leaders. Returns whether it is too
    /// slow: past `slow_secs` of its term (counted from when it was told
    /// it leads), under 1/[`SLOW_LEADER_FACTOR`] of the median of the
    /// other offices' recorded leaders (and of `cap`, its WAN cap in
    /// bytes/s). Bytes that do not reach the server count as bytes not
    /// moved: a leader whose reports stop is judged on what arrived.
    /// Never once the office had its slow swap.
    pub fn judge_rate(
        &mut self,
        t: &Timing,
        content: &str,
        office: i64,
        seen: TermStart,
        done_at_ms: Option<i64>,
        cap: Option<f64>,
    ) -> bool {
        let start = self.record(content, office, seen);
        // Judged from when it learned it leads; not before.
        if !start.informed {
            return false;
        }
        // A leader that finished is measured up to then.
        let until = done_at_ms.map_or(seen.at_ms, |d| d.min(seen.at_ms));
        if let Some(r) = start.rate(seen.bytes, until, t.yardstick_secs()) {
            self.rates
                .entry(content.to_string())
                .or_default()
                .insert(office, r);
        }
        if self.slow_swapped(content, office) {
            return false;
        }
        let Some(rate) = start.rate(seen.bytes, seen.at_ms, t.slow_secs()) else {
            return false;
        };
        let others: Vec<f64> = self.rates.get(content).map_or_else(Vec::new, |m| {
            m.iter()
                .filter(|(o, _)| **o != office)
                .map(|(_, r)| *r)
                .collect()
        });
        too_slow(rate, &others, cap)
    }

    /// Records that this office's leader was replaced for being slow.
    pub fn mark_slow_swap(&mut self, content: &str, office: i64) {
        self.slow_swapped.insert((content.to_string(), office));
    }

    /// Whether this office already had its one swap for slowness.
    pub fn slow_swapped(&self, content: &str, office: i64) -> bool {
        self.slow_swapped.contains(&(content.to_string(), office))
    }

    /// The term start of another office, if known.
    pub fn known_term(&self, content: &str, office: i64) -> Option<TermStart> {
        self.terms.get(&(content.to_string(), office)).copied()
    }

    pub fn leave(&mut self, device: &str, now: i64) {
        self.left.insert(device.to_string(), now);
    }

    /// A heartbeat: the device is back (or never left).
    pub fn seen(&mut self, device: &str) {
        self.left.remove(device);
    }

    pub fn has_left(&self, device: &str) -> bool {
        self.left.contains_key(device)
    }

    /// Devices that left: not eligible for anything.
    pub fn departed(&self) -> HashSet<String> {
        self.left.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-second heartbeat, as in the integration tests: stall 10 s.
    fn timing() -> Timing {
        Timing::new(1)
    }

    fn member(id: &str, score: f64) -> Member {
        Member {
            id: id.into(),
            eligible: true,
            unreachable: false,
            unverified: false,
            checking: false,
            rank: 1,
            score,
            pieces: 0,
            done: false,
            moved_at: None,
            blocked_since: None,
            last_seen: 0,
        }
    }

    fn term(device: &str, since: i64) -> Term {
        Term {
            device: device.into(),
            epoch: 1,
            since,
        }
    }

    /// A term's start, `bytes` moved by `at_ms`, its leader informed.
    fn started(bytes: u64, at_ms: i64) -> TermStart {
        TermStart {
            informed: true,
            ..TermStart::at(1, bytes, at_ms)
        }
    }

    /// The signals of a leader judged too slow.
    fn slow() -> Signals {
        Signals {
            slow: true,
            ..Default::default()
        }
    }

    /// Runs the machine the way the scheduler does: every call may start a
    /// new term. Returns the term after the call.
    fn step(cur: &mut Option<Term>, members: &[Member], s: Signals, now: i64) -> Decision {
        let d = decide(&timing(), cur.as_ref(), members, s, None, now);
        if let Decision::Elect { device, .. } = &d {
            *cur = Some(Term {
                device: device.clone(),
                epoch: cur.as_ref().map_or(1, |c| c.epoch + 1),
                since: now,
            });
        }
        d
    }

    #[test]
    fn every_device_stalled_does_not_flip_flop() {
        // The livelock of design note `faults-and-churn`: two devices, storage gone, nobody moves.
        // Every /sources call used to find the leader stalled and elect the
        // other, whose progress was just as old.
        let members = vec![member("a", 90.0), member("b", 80.0)];
        let mut cur = None;
        step(&mut cur, &members, Signals::default(), 0);
        assert_eq!(cur.as_ref().unwrap().device, "a");
        let mut changes = 0;
        let mut last = cur.clone();
        // Both devices ask every 500 ms for 60 s.
        for i in 0..240 {
            let now = i / 4;
            step(&mut cur, &members, Signals::default(), now);
            if cur != last {
                changes += 1;
                let prev = last.as_ref().unwrap();
                let held = now - prev.since;
                assert!(
                    held > timing().stall_secs,
                    "a new leader was replaced after {held} s, inside its grace period"
                );
                last = cur.clone();
            }
        }
        // At most one change per grace period, never one per call.
        assert!(changes <= 60 / timing().stall_secs, "{changes} changes");

        // The same, with the leader reporting its upstream down: it keeps
        // leading for the whole outage.
        let mut blocked = members.clone();
        blocked[0].blocked_since = Some(1);
        let mut cur = None;
        step(&mut cur, &blocked, Signals::default(), 0);
        for now in 0..120 {
            assert!(matches!(
                step(&mut cur, &blocked, Signals::default(), now),
                Decision::Keep | Decision::Elect { .. }
            ));
            assert_eq!(cur.as_ref().unwrap().epoch, 1, "replaced at {now}");
        }
    }

    #[test]
    fn a_single_device_office_keeps_its_leader_and_gathers_no_failures() {
        let members = vec![member("solo", 50.0)];
        let mut cur = None;
        step(&mut cur, &members, Signals::default(), 0);
        for now in 0..1000 {
            assert_eq!(
                step(&mut cur, &members, Signals::default(), now),
                Decision::Keep,
                "at {now}"
            );
        }
        assert_eq!(cur.unwrap().epoch, 1);
    }

    #[test]
    fn an_upstream_that_comes_back_keeps_the_leader() {
        let mut members = vec![member("a", 90.0), member("b", 80.0)];
        let mut cur = None;
        step(&mut cur, &members, Signals::default(), 0);
        members[0].moved_at = Some(3);
        // Storage disappears at 5: the leader reports blocked from 6 on.
        members[0].blocked_since = Some(6);
        for now in 5..70 {
            step(&mut cur, &members, Signals::default(), now);
        }
        assert_eq!(cur.as_ref().unwrap().device, "a");
        // Storage is back at 70: bytes move, it is no longer blocked.
        members[0].blocked_since = None;
        members[0].moved_at = Some(71);
        for now in 70..80 {
            assert_eq!(
                step(&mut cur, &members, Signals::default(), now),
                Decision::Keep
            );
        }
        // It then stops (neither moving nor blocked): replaced once, with
        // one failure, and the new leader gets its grace period.
        let d = step(&mut cur, &members, Signals::default(), 71 + 11);
        assert_eq!(
            d,
            Decision::Elect {
                device: "b".into(),
                reason: Reason::Stalled,
                replaced: Some("a".into()),
                penalize: Some("a".into()),
            }
        );
        assert_eq!(
            health(&timing(), cur.as_ref().unwrap(), &members[1], 82 + 5),
            Health::Healthy
        );
    }

    #[test]
    fn a_leader_that_returns_after_being_replaced_stays_a_follower() {
        let mut members = vec![member("old", 95.0), member("new", 80.0)];
        let mut cur = None;
        step(&mut cur, &members, Signals::default(), 0);
        assert_eq!(cur.as_ref().unwrap().device, "old");
        // It goes offline: replaced, with a new epoch.
        members[0].eligible = false;
        let d = step(&mut cur, &members, Signals::default(), 5);
        assert!(matches!(
            d,
            Decision::Elect {
                reason: Reason::Gone,
                ..
            }
        ));
        let term = cur.clone().unwrap();
        assert_eq!((term.device.as_str(), term.epoch), ("new", 2));
        // It comes back with its better score: the new leader keeps its term
        // while it is healthy, so nobody pulls from outside twice.
        members[0].eligible = true;
        members[1].moved_at = Some(6);
        for now in 6..16 {
            members[1].moved_at = Some(now);
            assert_eq!(
                step(&mut cur, &members, Signals::default(), now),
                Decision::Keep
            );
        }
        assert_eq!(cur.unwrap().epoch, 2);
    }

    #[test]
    fn a_follower_report_needs_a_second_signal() {
        let term = Term {
            device: "l".into(),
            epoch: 3,
            since: 0,
        };
        let mut b = Board::default();
        assert_eq!(b.report("c", 1, &term, 2, "f1", 10), Report::Stale);
        assert_eq!(b.report("c", 1, &term, 3, "l", 10), Report::Stale);
        assert_eq!(b.report("c", 1, &term, 3, "f1", 10), Report::Pending);
        assert_eq!(b.report("c", 1, &term, 3, "f1", 11), Report::Pending);
        assert!(b.pending("c", 1, 3, 12));
        // A second follower, inside the window: confirmed.
        assert_eq!(b.report("c", 1, &term, 3, "f2", 12), Report::Confirmed);
        // Too late: the first report has expired.
        let mut b = Board::default();
        b.report("c", 1, &term, 3, "f1", 10);
        assert_eq!(
            b.report("c", 1, &term, 3, "f2", 11 + SUSPECT_WINDOW),
            Report::Pending
        );
        let t = timing();
        assert!(!t.missed_heartbeat(100, 102));
        assert!(t.missed_heartbeat(100, 104));
    }

    #[test]
    fn a_throttled_leader_is_replaced_but_a_capped_office_is_not() {
        // Other leaders move 6 MB/s; this one 125 kB/s (1 Mbit/s).
        assert!(too_slow(125e3, &[6e6, 5.5e6], None));
        // Its office is capped at 1 Mbit/s: that is all it may move.
        assert!(!too_slow(125e3, &[6e6, 5.5e6], Some(125e3)));
        // Nothing to compare with: never judged.
        assert!(!too_slow(1.0, &[], None));
        let start = started(1000, 10_000);
        assert_eq!(start.rate(5000, 12_999, 3), None, "too early to judge");
        assert_eq!(start.rate(5000, 14_000, 3), Some(1000.0));
        let members = vec![member("slow", 90.0), member("b", 80.0)];
        let (term, s) = (term("slow", 0), slow());
        assert!(matches!(
            decide(&timing(), Some(&term), &members, s, None, 5),
            Decision::Elect {
                reason: Reason::Slow,
                ..
            }
        ));
        // One swap per office: the board remembers it.
        let mut b = Board::default();
        assert!(!b.slow_swapped("c", 1));
        b.mark_slow_swap("c", 1);
        assert!(b.slow_swapped("c", 1) && !b.slow_swapped("c", 2));
        // Alone in its office, it keeps leading.
        assert_eq!(
            decide(&timing(), Some(&term), &members[..1], s, None, 5),
            Decision::Keep
        );
    }

    /// The netsim slow-peer fault after design note `fleet-scale`: every `/sources` call
    /// reads only its own office's progress, so a slow leader can only be
    /// compared with rates the other offices' own calls recorded. Its
    /// reports stop growing (they arrive late, or not at all, behind its
    /// pieces on the 1 Mbit/s link): it is judged on what arrived.
    #[test]
    fn a_slow_leader_is_judged_against_the_rates_other_offices_recorded() {
        let t = timing();
        let mut b = Board::default();
        let judge = |b: &mut Board, office: i64, epoch: i64, bytes: u64, ms: i64| {
            b.judge_rate(&t, "c", office, TermStart::at(epoch, bytes, ms), None, None)
        };
        // Office 1's leader started 1 s before the others.
        b.leader_informed("c", 1, TermStart::at(1, 0, 0));
        b.leader_informed("c", 2, TermStart::at(1, 0, 1_000));
        b.leader_informed("c", 3, TermStart::at(1, 0, 1_000));
        assert!(!judge(&mut b, 1, 1, 98_000, 1_500), "before slow_secs");
        // Past slow_secs, but no other office has a rate yet: not judged.
        assert!(!judge(&mut b, 1, 1, 98_000, 2_100));
        // The other offices' calls record their leaders (6 MB/s); too
        // young themselves to be judged.
        assert!(!judge(&mut b, 2, 1, 6_600_000, 2_100));
        assert!(!judge(&mut b, 3, 1, 6_000_000, 2_200));
        // Office 1's next call: its leader's bytes have not grown since
        // 98 kB (39 kB/s over 2.5 s), 150 times slower: replaced.
        assert!(judge(&mut b, 1, 1, 98_000, 2_500));
        // A leader none of whose reports arrived (0 bytes) is as slow.
        b.leader_informed("c", 4, TermStart::at(1, 0, 0));
        assert!(judge(&mut b, 4, 1, 0, 2_500));
        // The fast leaders are not, judged against each other and office 1.
        assert!(!judge(&mut b, 2, 1, 12_000_000, 3_000));
        // One slow swap per office: its next leader is not judged, but
        // its rate still counts for the others.
        b.mark_slow_swap("c", 1);
        b.leader_informed("c", 1, TermStart::at(2, 98_000, 2_600));
        assert!(!judge(&mut b, 1, 2, 98_000, 5_000));
        // A new term forgets the old leader's rate: with offices 2 and 3
        // re-elected (and 1 and 4 as slow), office 4 has no fast yardstick.
        b.term_start("c", 2, TermStart::at(2, 0, 5_000));
        b.term_start("c", 3, TermStart::at(2, 0, 5_000));
        assert!(!judge(&mut b, 4, 1, 1_000, 5_500));
        // A capped office (125 kB/s) moving its cap is not slow.
        let mut b = Board::default();
        b.leader_informed("c", 1, TermStart::at(1, 0, 0));
        b.leader_informed("c", 2, TermStart::at(1, 0, 0));
        assert!(!b.judge_rate(&t, "c", 2, TermStart::at(1, 18e6 as u64, 3_000), None, None));
        let capped = Some(125e3);
        let s = TermStart::at(1, 375_000, 3_000);
        assert!(!b.judge_rate(&t, "c", 1, s, None, capped));
        assert!(b.judge_rate(&t, "c", 1, s, None, None));
    }

    #[test]
    fn a_leaving_or_confirmed_down_leader_is_replaced_at_once() {
        let members = vec![member("a", 90.0), member("b", 80.0)];
        let term = term("a", 100);
        // Inside its grace period, and still it goes.
        for (s, r) in [
            (
                Signals {
                    left: true,
                    ..Default::default()
                },
                Reason::Left,
            ),
            (
                Signals {
                    confirmed_down: true,
                    ..Default::default()
                },
                Reason::Reported,
            ),
        ] {
            assert_eq!(
                decide(&timing(), Some(&term), &members, s, None, 101),
                Decision::Elect {
                    device: "b".into(),
                    reason: r,
                    replaced: Some("a".into()),
                    penalize: None,
                }
            );
        }
    }

    #[test]
    fn the_caller_wins_a_tie_and_learns_its_role_at_once() {
        let mut members = vec![
            member("slow", 95.0),
            member("a", 90.0),
            member("b", 85.0),
            member("c", 60.0),
        ];
        let (term, s) = (term("slow", 0), slow());
        let elected = |members: &[Member], caller: &str| match decide(
            &timing(),
            Some(&term),
            members,
            s,
            Some(caller),
            3,
        ) {
            Decision::Elect { device, .. } => device,
            d => panic!("{d:?}"),
        };
        // b is within SCORE_TIE of a: b, asking, takes over.
        assert_eq!(elected(&members, "b"), "b");
        // c is far behind: the best device still wins.
        assert_eq!(elected(&members, "c"), "a");
        // The replaced leader never re-elects itself by asking.
        assert_eq!(elected(&members, "slow"), "a");
        // A caller holding far fewer pieces than the best does not win.
        members[1].pieces = 100;
        members[2].pieces = 50;
        assert_eq!(elected(&members, "b"), "a");
        members[2].pieces = 95;
        assert_eq!(elected(&members, "b"), "b");
        // Nor does one the admin ranks lower.
        members[2].rank = 0;
        assert_eq!(elected(&members, "b"), "a");
    }

    #[test]
    fn slowness_is_judged_within_two_heartbeats_and_young_terms_refresh_fast() {
        let t = timing();
        assert_eq!((t.slow_secs(), t.yardstick_secs()), (2, 1));
        // The slow leader's term began at 10.2 s, another office's at
        // 11.0 s: at 12.2 s both rates are known, not before (whole
        // seconds would have judged it at 12.0, 1.8 s in).
        let (slow, other) = (started(0, 10_200), started(0, 11_000));
        let r = slow.rate(250_000, 12_200, t.slow_secs()).unwrap();
        let o = other.rate(6_000_000, 12_200, t.yardstick_secs()).unwrap();
        assert!(too_slow(r, &[o], None));
        assert_eq!(slow.rate(250_000, 12_000, t.slow_secs()), None);
        assert_eq!(other.rate(6_000_000, 11_900, t.yardstick_secs()), None);
        // The clock of a term starts when its leader is told it leads.
        let mut b = Board::default();
        let e = b.term_start("c", 1, TermStart::at(4, 100, 20_000));
        assert!(!e.informed);
        b.leader_informed("c", 1, TermStart::at(4, 300, 22_000));
        b.leader_informed("c", 1, TermStart::at(4, 900, 23_000));
        let e = b.known_term("c", 1).unwrap();
        assert_eq!((e.bytes, e.at_ms, e.informed), (300, 22_000, true));
        // Refresh: every heartbeat while the term is young, then every two.
        assert_eq!(t.refresh_secs(Some(0)), 1);
        assert_eq!(t.refresh_secs(Some(t.stall_secs)), 1);
        assert_eq!(t.refresh_secs(Some(t.stall_secs + 1)), 2);
        assert_eq!(t.refresh_secs(None), 2);
        // A production heartbeat (60 s) stays at the 10 s ceiling.
        assert_eq!(Timing::new(60).refresh_secs(Some(0)), 10);
    }

    #[test]
    fn an_unreachable_or_unchecked_device_never_leads_where_a_checked_one_can() {
        let t = timing();
        let mut a = member("a", 90.0);
        a.unverified = true; // failed the server's check; the best score
        let b = member("b", 10.0);
        let now = 1_000;
        // The first election passes over it, even when it asks.
        match decide(
            &t,
            None,
            &[a.clone(), b.clone()],
            Signals::default(),
            Some("a"),
            now,
        ) {
            Decision::Elect { device, .. } => assert_eq!(device, "b"),
            d => panic!("{d:?}"),
        }
        // Leading anyway (it was alone), it gives way once b is there.
        let cur = term("a", now - 100);
        match decide(
            &t,
            Some(&cur),
            &[a.clone(), b.clone()],
            Signals::default(),
            None,
            now,
        ) {
            Decision::Elect { device, reason, .. } => {
                assert_eq!((device.as_str(), reason), ("b", Reason::Unreachable))
            }
            d => panic!("{d:?}"),
        }
        // Where the server reaches nobody, offices still get leaders (a
        // young term: no stall rule in the way).
        let mut b2 = b.clone();
        b2.unverified = true;
        let young = term("a", now - 1);
        assert_eq!(
            decide(
                &t,
                Some(&young),
                &[a.clone(), b2],
                Signals::default(),
                None,
                now
            ),
            Decision::Keep
        );
        // Its check not finished: not elected, even alone; as leader it
        // keeps its term (a DHCP renumbering starts a check).
        let mut d = member("d", 50.0);
        d.checking = true;
        assert_eq!(
            decide(
                &t,
                None,
                std::slice::from_ref(&d),
                Signals::default(),
                Some("d"),
                now
            ),
            Decision::Vacant
        );
        let lead_d = term("d", now - 1);
        assert_eq!(
            decide(
                &t,
                Some(&lead_d),
                &[d, b.clone()],
                Signals::default(),
                None,
                now
            ),
            Decision::Keep
        );
        // Two peers failed to connect to it: never elected, even alone.
        let mut c = member("c", 50.0);
        c.unreachable = true;
        c.eligible = false;
        assert_eq!(
            decide(&t, None, &[c], Signals::default(), Some("c"), now),
            Decision::Vacant
        );
        // Reports are counted per distinct peer, within the window.
        let mut board = Board::default();
        assert_eq!(board.unreachable_by("x", "p1", now), (1, now));
        assert_eq!(board.unreachable_by("x", "p1", now + 1), (1, now));
        assert_eq!(board.unreachable_by("x", "x", now + 1).0, 0);
        assert_eq!(board.unreachable_by("x", "p2", now + 2), (2, now));
        let later = now + 2 + UNREACHABLE_WINDOW + 1;
        assert_eq!(board.unreachable_by("x", "p3", later), (1, later));
    }
}

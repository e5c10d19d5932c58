//! Liveness and the preferred-device score: when a device counts as
//! online, how the scheduler ranks leader candidates, and the one state
//! word a device shows. Shared by `server::scheduler` (elections), the
//! dashboard and `p2pd devices list`, so all three agree.

use crate::domain::settings::Setting;
use crate::store::devices::DeviceRow;
use crate::store::{Store, StoreError};

/// Timing knobs, from settings.
#[derive(Debug, Clone)]
pub struct Timing {
    pub heartbeat_secs: i64,
    /// A leader past its grace period that moved no bytes for this long,
    /// while not done and not blocked, is replaced. Also the length of the
    /// grace period of each new leader.
    pub stall_secs: i64,
}

impl Timing {
    /// The timing of the `heartbeat_secs` setting as stored (default 10).
    pub fn load(st: &Store) -> Result<Timing, StoreError> {
        let hb = st
            .setting(Setting::HeartbeatSecs.name())?
            .and_then(|v| v.parse().ok())
            .unwrap_or(10);
        Ok(Timing::new(hb))
    }

    pub fn new(heartbeat_secs: i64) -> Timing {
        Timing {
            heartbeat_secs,
            stall_secs: (6 * heartbeat_secs).max(10),
        }
    }

    /// How long a term runs before its leader's rate is judged: two
    /// heartbeats, so that at least one report of its bytes is in.
    pub fn slow_secs(&self) -> i64 {
        (2 * self.heartbeat_secs).max(2)
    }

    /// How long another office's term must have run before its leader's
    /// rate is a yardstick: one heartbeat (a report of its bytes).
    pub fn yardstick_secs(&self) -> i64 {
        self.heartbeat_secs.max(1)
    }

    /// How often devices ask for sources again (`refresh_secs`): every two
    /// heartbeats, and every heartbeat while their office's term is young
    /// (within `stall_secs` of its start), so that a leader replaced early
    /// (slow, gone) is followed without waiting. At most 10 s either way.
    pub fn refresh_secs(&self, term_age: Option<i64>) -> u64 {
        let young = term_age.is_some_and(|a| a <= self.stall_secs);
        let every = if young { 1 } else { 2 };
        (every * self.heartbeat_secs).clamp(1, 10) as u64
    }

    /// A device is online when its last heartbeat is at most three
    /// intervals (plus two seconds of slack) old.
    pub fn online(&self, last_seen: i64, now: i64) -> bool {
        now - last_seen <= 3 * self.heartbeat_secs + 2
    }

    /// One heartbeat missed (with a second of slack): the second signal
    /// that confirms a follower's report.
    pub fn missed_heartbeat(&self, last_seen: i64, now: i64) -> bool {
        now - last_seen > 2 * self.heartbeat_secs + 1
    }
}

/// The preferred-device score: history, not arrival order.
///
/// - availability: heartbeats seen ÷ heartbeats expected since first seen,
///   smoothed with a prior of 10 out of 20 so that a newcomer with two
///   perfect heartbeats does not outrank a device with a month of them;
/// - successful uploads to peers, on a log scale (the first hundred count
///   for more than the next thousand);
/// - failures (bad pieces sent, stalls as leader) weigh against.
pub fn score(d: &DeviceRow, timing: &Timing, now: i64) -> f64 {
    let expected = ((now - d.first_seen) / timing.heartbeat_secs.max(1) + 1) as f64;
    let seen = (d.heartbeats as f64).min(expected);
    let availability = (seen + 10.0) / (expected + 20.0);
    100.0 * availability + 10.0 * (1.0 + d.uploads_ok as f64).ln() - 15.0 * d.failures as f64
}

/// A device's state as `devices list` and the dashboard show it; the first
/// that applies wins, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceState {
    /// Requests signed with a retired key were refused.
    StaleKey,
    /// No heartbeat within three intervals.
    Offline,
    /// Banned from serving at least one content after a bad piece.
    Banned,
    /// Reports a content it cannot make progress on.
    Stuck,
    Online,
}

impl DeviceState {
    /// The state from its inputs, in the order of precedence.
    pub fn of(stale_key: bool, online: bool, banned: bool, stuck: bool) -> DeviceState {
        if stale_key {
            DeviceState::StaleKey
        } else if !online {
            DeviceState::Offline
        } else if banned {
            DeviceState::Banned
        } else if stuck {
            DeviceState::Stuck
        } else {
            DeviceState::Online
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeviceState::StaleKey => "stale key",
            DeviceState::Offline => "offline",
            DeviceState::Banned => "banned",
            DeviceState::Stuck => "stuck",
            DeviceState::Online => "online",
        }
    }
}

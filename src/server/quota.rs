//! Quotas against a key holder (design note `key-holders`): every device holds the shared
//! key, so whatever one may send, an attacker may send as often as the
//! server lets it. These bounds make a flood cost the flooder, not the
//! server.
//!
//! - **Device writes**: report entries (transfers, uploads, bad pieces)
//!   plus heartbeat items (one per heartbeat and one per progress or stuck
//!   entry) per device, `device_writes_per_min` (default 6,000). A real
//!   agent sends one report and one heartbeat per interval (10 s by
//!   default), its report merged per content, tier, source and outcome:
//!   tens of entries, a few hundred at most for a device fetching many
//!   contents from many peers. A bucket holds one minute's worth, so a
//!   backlog that piled up while the server was away goes through at once.
//!   Beyond it: `rate_limited` (429) with `Retry-After`; the agent keeps
//!   its report and sends it with the next one.
//! - **WAL pressure**: on SQLite, while the write-ahead log is over twice
//!   `wal_limit_mb`, or while the reports admitted and not yet written
//!   would add more than `wal_limit_mb` to it ([`ENTRY_WAL_BYTES`] each
//!   entry), transfer reports are refused the same way, whoever sends
//!   them, until the checkpoints (`Store::checkpoint`, once a second,
//!   truncating past `wal_limit_mb`) bring it back. So the WAL stays under
//!   about three times `wal_limit_mb`. Heartbeats are not refused for it:
//!   they are what keeps a device online, and they are written in batches.
//! - **New devices**: per source address, `enroll_per_address_per_min`
//!   (default 120: a NAT address fronts many devices), and fleet-wide,
//!   `enroll_per_min` (default 600, 36,000 an hour). A renewal is not a
//!   new device and is not counted there: an enrollment that proves the
//!   device's certificate, or carries an existing device's secret (an
//!   agent restarting, or one whose certificate expired while it was off). Renewals have a per-device bound of their own,
//!   [`RENEWALS_PER_MIN`]; agents renew once per 12 hours, plus a restart.
//!
//! The licence cap (`license_cap`) is enforced in the store, inside the
//! enrollment's transaction (`Store::enroll_device`).
//!
//! Memory: one small bucket per key seen within a minute; the maps are
//! pruned of full (idle) buckets when they pass [`MAX_KEYS`].

use parking_lot::Mutex;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::ServerState;
use crate::wire::http::ApiError;
use crate::wire::proto::{EnrollRequest, ReportRequest};

/// Enrollments one existing device may make per minute (renewals,
/// restarts). Not a setting: a real agent makes a couple a day.
pub const RENEWALS_PER_MIN: u32 = 10;

/// Keys (devices, addresses) a map holds before idle ones are pruned.
pub const MAX_KEYS: usize = 200_000;

/// One token bucket: holds up to one minute's worth (`per_min`) and
/// refills at `per_min` a minute.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(per_min: f64, at: Instant) -> Bucket {
        Bucket {
            tokens: per_min,
            at,
        }
    }

    fn refill(&mut self, per_min: f64, now: Instant) {
        let secs = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + secs * per_min / 60.0).min(per_min);
        self.at = now;
    }

    /// Takes `n` tokens (at most a full bucket's worth, so that one
    /// request larger than the bucket passes when the bucket is full), or
    /// says how many seconds until they are there.
    fn take(&mut self, n: f64, per_min: f64, now: Instant) -> Result<(), u64> {
        self.refill(per_min, now);
        let n = n.min(per_min);
        if self.tokens >= n {
            self.tokens -= n;
            return Ok(());
        }
        let secs = (n - self.tokens) * 60.0 / per_min.max(1e-9);
        Err((secs.ceil() as u64).max(1))
    }
}

/// Buckets by key.
#[derive(Debug)]
struct Buckets<K> {
    map: HashMap<K, Bucket>,
}

impl<K> Default for Buckets<K> {
    fn default() -> Self {
        Buckets {
            map: HashMap::new(),
        }
    }
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    fn take(&mut self, key: &K, n: f64, per_min: f64, now: Instant) -> Result<(), u64> {
        if !self.map.contains_key(key) && self.map.len() >= MAX_KEYS {
            // Idle a minute: full again, the same as absent.
            self.map
                .retain(|_, b| now.saturating_duration_since(b.at).as_secs() < 60);
            if self.map.len() >= MAX_KEYS {
                self.map.clear();
            }
        }
        self.map
            .entry(key.clone())
            .or_insert_with(|| Bucket::full(per_min, now))
            .take(n, per_min, now)
    }

    /// Gives back what [`Buckets::take`] took (the request was refused by
    /// a later bound).
    fn refund(&mut self, key: &K, n: f64, per_min: f64) {
        if let Some(b) = self.map.get_mut(key) {
            b.tokens = (b.tokens + n.min(per_min)).min(per_min);
        }
    }
}

/// The server's quotas, in memory (a restart starts them full).
#[derive(Debug)]
pub struct Quota {
    writes: Mutex<Buckets<String>>,
    renewals: Mutex<Buckets<String>>,
    addresses: Mutex<Buckets<IpAddr>>,
    fleet: Mutex<Bucket>,
    /// Report entries admitted and not yet written.
    in_flight: AtomicUsize,
}

impl Default for Quota {
    fn default() -> Self {
        Quota {
            writes: Mutex::default(),
            renewals: Mutex::default(),
            addresses: Mutex::default(),
            // Filled to the setting on first use (see `enroll_new`).
            fleet: Mutex::new(Bucket {
                tokens: f64::INFINITY,
                at: Instant::now(),
            }),
            in_flight: AtomicUsize::new(0),
        }
    }
}

/// Charges `entries` writes to `device` (heartbeats and reports), or
/// refuses with `rate_limited`.
pub fn device_writes(s: &ServerState, device: &str, entries: usize) -> Result<(), ApiError> {
    let rate = s.fleet.current().settings.device_writes_per_min;
    let n = entries.max(1) as f64;
    s.quota.writes.lock()
        .take(&device.to_string(), n, rate, Instant::now())
        .map_err(|secs| {
            ApiError::rate_limited(
                format!(
                    "device {device} sent more than device_writes_per_min ({rate:.0} report entries \
                     and heartbeat items a minute); retry after {secs} s. A real agent stays far \
                     below it: an admin can raise it with `p2pd settings set device_writes_per_min N`"
                ),
                secs,
            )
        })
}

/// What one report entry adds to the SQLite WAL, measured (design note `key-holders`:
/// about 9.7 KB; each entry is written on its own).
pub const ENTRY_WAL_BYTES: u64 = 10 << 10;

/// A transfer report admitted for writing: while it lives, its entries
/// count as in flight (see [`report`]).
#[must_use]
pub struct Admitted<'a> {
    quota: &'a Quota,
    entries: usize,
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.quota
            .in_flight
            .fetch_sub(self.entries, Ordering::AcqRel);
    }
}

/// A transfer report, before it is written; keep the answer until the
/// report is written. It is refused (`rate_limited`, 429 and
/// `Retry-After`):
///
/// - on SQLite, while the WAL is over twice `wal_limit_mb`, or while
///   reports admitted and not yet written would add more than
///   `wal_limit_mb` to it (a few hundred full reports queue for the one
///   writer at once otherwise, each ~10 MB of WAL). So the WAL stays
///   under about three times `wal_limit_mb`, whoever floods it;
/// - beyond its device's `device_writes_per_min`.
pub fn report<'a>(s: &'a ServerState, req: &ReportRequest) -> Result<Admitted<'a>, ApiError> {
    let entries = req.transfers.len() + req.uploads.len() + req.bad.len();
    s.quota.in_flight.fetch_add(entries, Ordering::AcqRel);
    let admitted = Admitted {
        quota: &s.quota,
        entries,
    };
    if s.database.is_none() {
        let wal = crate::store::wal_file_bytes(&s.data_dir.join(crate::store::DB_FILE));
        let limit_mb = s.fleet.current().settings.wal_limit_mb as u64;
        let limit = limit_mb << 20;
        let queued = s.quota.in_flight.load(Ordering::Acquire) as u64;
        let first = queued == entries as u64;
        if wal > 2 * limit || (!first && queued * ENTRY_WAL_BYTES > limit) {
            return Err(ApiError::rate_limited(
                format!(
                    "the server's database log is {} MiB with {queued} report entries waiting to \
                     be written, against wal_limit_mb ({limit_mb} MiB); retry after 2 s",
                    wal >> 20
                ),
                2,
            ));
        }
    }
    device_writes(s, &req.device_id, entries)?;
    Ok(admitted)
}

/// An enrollment, before anything is written: a renewal is charged to its
/// device, a new device to its source address and to the fleet.
pub async fn enroll(
    s: &std::sync::Arc<ServerState>,
    source: Option<IpAddr>,
    proved: Option<&str>,
    req: &EnrollRequest,
) -> Result<(), ApiError> {
    if let Some(id) = renewal(s, proved, req).await? {
        let rate = f64::from(RENEWALS_PER_MIN);
        return s
            .quota
            .renewals
            .lock()
            .take(&id, 1.0, rate, Instant::now())
            .map_err(|secs| {
                ApiError::rate_limited(
                    format!(
                        "device {id} enrolled more than {RENEWALS_PER_MIN} times in a minute; \
                         retry after {secs} s"
                    ),
                    secs,
                )
            });
    }
    enroll_new(s, source.map(|ip| ip.to_canonical()), Instant::now())
}

/// The existing device an enrollment renews, if it is one: it proves that
/// device's certificate, or carries that device's secret (the same proofs
/// that let it keep its id; an enrollment without one becomes a new device,
/// and pays as one).
async fn renewal(
    s: &std::sync::Arc<ServerState>,
    proved: Option<&str>,
    req: &EnrollRequest,
) -> Result<Option<String>, ApiError> {
    let Some(id) = req.device_id.clone() else {
        return Ok(None);
    };
    if proved == Some(id.as_str()) {
        return Ok(Some(id));
    }
    let Some(secret) = req.device_secret.clone() else {
        return Ok(None);
    };
    let d = id.clone();
    let by_secret =
        s.db.read_quick(move |st| super::auth::secret_proves(st, &d, Some(&secret)))
            .await?;
    Ok(by_secret.then_some(id))
}

/// A new device from `source`: one token from its address, one from the
/// fleet.
fn enroll_new(s: &ServerState, source: Option<IpAddr>, now: Instant) -> Result<(), ApiError> {
    let per_address = s.fleet.current().settings.enroll_per_address_per_min;
    if let Some(ip) = source {
        s.quota
            .addresses
            .lock()
            .take(&ip, 1.0, per_address, now)
            .map_err(|secs| {
                ApiError::rate_limited(
                    format!(
                        "address {ip} enrolled more than enroll_per_address_per_min \
                         ({per_address:.0}) new devices in a minute; retry after {secs} s \
                         (many devices behind one NAT address: raise it with \
                         `p2pd settings set enroll_per_address_per_min N`)"
                    ),
                    secs,
                )
            })?;
    }
    let fleet = s.fleet.current().settings.enroll_per_min;
    let mut b = s.quota.fleet.lock();
    if !b.tokens.is_finite() {
        *b = Bucket::full(fleet, now);
    }
    b.take(1.0, fleet, now).map_err(|secs| {
        drop(b);
        if let Some(ip) = source {
            s.quota.addresses.lock().refund(&ip, 1.0, per_address);
        }
        ApiError::rate_limited(
            format!(
                "more than enroll_per_min ({fleet:.0}) new devices enrolled in the last minute; \
                 retry after {secs} s (a roll-out: raise it with `p2pd settings set enroll_per_min N`)"
            ),
            secs,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_holds_a_minute_and_refills_at_its_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::full(60.0, t0);
        for _ in 0..60 {
            b.take(1.0, 60.0, t0).unwrap();
        }
        // Empty: the next token is a second away.
        assert_eq!(b.take(1.0, 60.0, t0), Err(1));
        b.take(1.0, 60.0, t0 + Duration::from_secs(1)).unwrap();
        // Ten seconds refill ten tokens, not more.
        let t = t0 + Duration::from_secs(11);
        for _ in 0..10 {
            b.take(1.0, 60.0, t).unwrap();
        }
        assert!(b.take(1.0, 60.0, t).is_err());
        // A request larger than the bucket takes a full one.
        let mut b = Bucket::full(100.0, t0);
        b.take(3072.0, 100.0, t0).unwrap();
        assert_eq!(b.take(50.0, 100.0, t0), Err(30));
    }

    #[test]
    fn keys_are_independent_and_idle_ones_are_pruned() {
        let t0 = Instant::now();
        let mut m: Buckets<u32> = Buckets::default();
        m.take(&1, 10.0, 10.0, t0).unwrap();
        assert!(m.take(&1, 1.0, 10.0, t0).is_err());
        m.take(&2, 10.0, 10.0, t0).unwrap();
        m.refund(&1, 1.0, 10.0);
        m.take(&1, 1.0, 10.0, t0).unwrap();
        assert_eq!(m.map.len(), 2);
    }
}

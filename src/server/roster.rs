//! Office rosters in memory: the devices of an office and their progress
//! on a content, as `/sources` needs them for every call (the election and
//! the peer set).
//!
//! Why: reading a 500-device office's device rows was 40 % of a `/sources`
//! call's CPU, and its progress rows 28 % of what remained (measured with
//! perf, design note `fleet-scale`), while an office asks about 50 times a second at the
//! benchmark's 1,000/s. A roster is reused for at most
//! [`Roster::ttl`] — a quarter of the heartbeat interval, at most 1 s —
//! so `last_seen` and progress are never staler than that, against an
//! online window of three heartbeats. An enrollment forgets its office's roster at once, so
//! a device that just enrolled is a member on its first call.
//!
//! Rejected: keeping rosters current from every heartbeat. At 500 devices
//! and a 10 s interval a big office's roster would change 50 times a
//! second, as often as it is read.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::store::devices::DeviceRow;
use crate::store::distribution::ProgressRow;
use crate::store::{Store, StoreError};

/// Rosters kept before expired ones are swept.
const SWEEP_AT: usize = 4096;

/// Office id → (read at, its devices).
/// An office's progress on a content, by device id.
pub type OfficeProgress = HashMap<String, ProgressRow>;

/// Something read from the store, and when.
type Stamped<T> = (Instant, Arc<T>);

#[derive(Default)]
pub struct Roster {
    entries: Mutex<HashMap<i64, Stamped<Vec<DeviceRow>>>>,
    /// (content, office) → (read at, progress of the office's devices).
    progress: Mutex<HashMap<(String, i64), Stamped<OfficeProgress>>>,
}

impl Roster {
    /// How long a roster is reused at this heartbeat interval.
    pub fn ttl(heartbeat_secs: i64) -> Duration {
        Duration::from_millis(250 * heartbeat_secs.max(1) as u64).min(Duration::from_secs(1))
    }

    /// The office's devices, ordered by id: from memory if read within
    /// `ttl`, else from the store.
    pub fn members(
        &self,
        st: &Store,
        office_id: i64,
        ttl: Duration,
    ) -> Result<Arc<Vec<DeviceRow>>, StoreError> {
        self.members_at(st, office_id, ttl, Instant::now())
    }

    fn members_at(
        &self,
        st: &Store,
        office_id: i64,
        ttl: Duration,
        now: Instant,
    ) -> Result<Arc<Vec<DeviceRow>>, StoreError> {
        let mut entries = self.entries.lock();
        if let Some((at, m)) = entries.get(&office_id)
            && now.duration_since(*at) < ttl
        {
            return Ok(m.clone());
        }
        let m = Arc::new(st.office_devices(office_id)?);
        if entries.len() >= SWEEP_AT {
            entries.retain(|_, (at, _)| now.duration_since(*at) < ttl);
        }
        entries.insert(office_id, (now, m.clone()));
        Ok(m)
    }

    /// The office's devices' progress on `content_id`: from memory if read
    /// within `ttl`, else from the store.
    pub fn progress(
        &self,
        st: &Store,
        content_id: &str,
        office_id: i64,
        ttl: Duration,
    ) -> Result<Arc<OfficeProgress>, StoreError> {
        let now = Instant::now();
        let key = (content_id.to_string(), office_id);
        let mut entries = self.progress.lock();
        if let Some((at, p)) = entries.get(&key)
            && now.duration_since(*at) < ttl
        {
            return Ok(p.clone());
        }
        let p: Arc<OfficeProgress> = Arc::new(
            st.office_progress(content_id, office_id)?
                .into_iter()
                .map(|p| (p.device_id.clone(), p))
                .collect(),
        );
        if entries.len() >= SWEEP_AT {
            entries.retain(|_, (at, _)| now.duration_since(*at) < ttl);
        }
        entries.insert(key, (now, p.clone()));
        Ok(p)
    }

    /// Drops an office's roster (a device enrolled into it).
    pub fn forget(&self, office_id: i64) {
        self.entries.lock().remove(&office_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_roster_is_reused_within_its_ttl_and_forgotten_on_enrollment() {
        let dir = tempfile::tempdir().unwrap();
        let st = Store::create(dir.path()).unwrap();
        let roster = Roster::default();
        let ttl = Roster::ttl(10);
        assert_eq!(ttl, Duration::from_secs(1));
        assert_eq!(Roster::ttl(1), Duration::from_millis(250));
        let office = st
            .create_office(
                &crate::store::topology::NewOffice {
                    name: "A".into(),
                    parent: None,
                    kind: crate::domain::office::OfficeKind::Default,
                    wan_kbps: None,
                    description: String::new(),
                    source: "import".into(),
                    ranges: vec![],
                },
                None,
            )
            .unwrap();
        let t0 = Instant::now();
        assert!(roster.members_at(&st, office, ttl, t0).unwrap().is_empty());
        let enroll = |id: &str| {
            st.insert_test_device(id, "10.0.0.1", 24, Some(office))
                .unwrap()
        };
        enroll("a");
        // Within the ttl: the roster read before the enrollment.
        let half = t0 + ttl / 2;
        assert!(
            roster
                .members_at(&st, office, ttl, half)
                .unwrap()
                .is_empty()
        );
        // Past it: read again.
        assert_eq!(
            roster.members_at(&st, office, ttl, t0 + ttl).unwrap().len(),
            1
        );
        enroll("b");
        roster.forget(office);
        assert_eq!(
            roster.members_at(&st, office, ttl, t0 + ttl).unwrap().len(),
            2
        );
    }
}

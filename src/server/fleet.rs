//! The fleet snapshot: what nearly every request needs to know about the
//! fleet — the topology lookup, the settings, the offices and the assigned
//! groups — held in memory and rebuilt only when it changes.
//!
//! Why: rebuilding the topology index per enrollment (`Lookup::load`) under
//! the one database mutex made enrollment take 80 ms with 50,000 ranges and
//! stalled every heartbeat behind it (design note `fleet-scale`). These tables change only on
//! admin writes, so they are read once and swapped whole.
//!
//! Change detection: the store keeps a generation counter that triggers bump
//! on every write to settings, offices, ranges and groups, whoever writes
//! (serve itself creating an auto office, or `p2pd topology import` in
//! another process). A background thread ([`watch`]) polls that one row
//! every [`POLL`] on its own connection and rebuilds off the request path,
//! so a CLI change takes effect within about 200 ms plus the rebuild.
//! `PRAGMA data_version` was the alternative; it misses serve's own writes
//! and fires on every heartbeat commit of other processes.
//!
//! On a shared (PostgreSQL) database the same counter is bumped by the
//! triggers of every replica's and every admin command's writes, so each
//! replica's snapshot follows changes made anywhere within one poll.
//!
//! The same thread runs the WAL checkpoints (passive, every
//! [`CHECKPOINT_EVERY`]) so that the request connection never pays for one,
//! and records this replica's heartbeat row (every [`REPLICA_BEAT`]) for
//! `health`
//! and recounts the enrolled devices for the adaptive heartbeat interval.

use parking_lot::RwLock;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::settings::Settings;
use crate::domain::content::ContentRef;
use crate::domain::settings::Setting;
use crate::store::topology::OfficeRow;
use crate::store::{Store, StoreError};
use crate::topology::{Lookup, TopologyError};

/// How often the watcher looks at the generation counter.
pub const POLL: Duration = Duration::from_millis(200);

/// How often the watcher runs a passive WAL checkpoint.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

pub use crate::store::replicas::{REPLICA_BEAT, REPLICA_FORGET_SECS};

/// This serve as a replica: its row in `replicas`.
#[derive(Debug, Clone)]
pub struct Replica {
    pub id: String,
    pub url: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("cannot load the fleet snapshot: {0}")]
    Store(#[from] StoreError),
    #[error("cannot load the topology for the fleet snapshot: {0}")]
    Topology(#[from] TopologyError),
}

/// One consistent-enough view of the fleet's configuration. Never changes
/// once built; a change builds a new one.
#[derive(Debug)]
pub struct Snapshot {
    /// The store's generation when this was read (read first, so a write
    /// racing the load leaves the snapshot marked stale, never fresh).
    pub generation: i64,
    /// Address → office.
    pub lookup: Lookup,
    /// Settings as stored (defaults are applied by [`Snapshot::setting`]).
    stored: HashMap<String, String>,
    /// The settings request handlers read, parsed.
    pub settings: Settings,
    /// Offices by id.
    offices: HashMap<i64, OfficeRow>,
    /// Groups assigned to peer distribution.
    groups: HashSet<String>,
    /// Device id → where it is listed (group, office), filled by the
    /// heartbeats as they come; starts empty with every snapshot. A
    /// device that is removed or moves bumps the generation (triggers), so
    /// no entry outlives a change by more than one [`POLL`]; serve's own
    /// enrollments drop their entry at once.
    pub directory: Memo<Listed>,
    /// Group → the contents targeted at it, filled the same way; a publish
    /// or a change of targets bumps the generation (triggers).
    pub targets: Memo<Arc<Vec<ContentRef>>>,
}

/// Values read from the store on first use and kept for the life of one
/// snapshot, by name (device id, group).
#[derive(Debug)]
pub struct Memo<V>(RwLock<HashMap<String, V>>);

impl<V> Default for Memo<V> {
    fn default() -> Self {
        Memo(RwLock::default())
    }
}

impl<V: Clone> Memo<V> {
    pub fn get(&self, key: &str) -> Option<V> {
        self.0.read().get(key).cloned()
    }

    pub fn insert(&self, key: &str, value: V) {
        self.0.write().insert(key.to_string(), value);
    }

    pub fn remove(&self, key: &str) {
        self.0.write().remove(key);
    }
}

/// Where a device is listed: what a heartbeat's answer needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub group_name: String,
    pub office_id: Option<i64>,
    /// The address that placed it, and where its peers reach it: a
    /// heartbeat showing others re-places it (`relocate.rs`).
    pub addr: String,
    pub peer_url: Option<String>,
}

impl Snapshot {
    /// Reads everything from the store.
    pub fn load(st: &Store) -> Result<Snapshot, FleetError> {
        let generation = st.fleet_generation()?;
        let stored: HashMap<String, String> = st.settings()?.into_iter().collect();
        Ok(Snapshot {
            generation,
            lookup: Lookup::load(st)?,
            settings: Settings::parse(|name| stored.get(name).map(String::as_str)),
            stored,
            offices: st.offices()?.into_iter().map(|o| (o.id, o)).collect(),
            groups: st.assigned_groups()?.into_iter().collect(),
            directory: Memo::default(),
            targets: Memo::default(),
        })
    }

    /// A setting's value, or its default when unset.
    pub fn setting(&self, s: Setting) -> String {
        self.stored
            .get(s.name())
            .cloned()
            .unwrap_or_else(|| s.default_value())
    }

    pub fn group_assigned(&self, name: &str) -> bool {
        self.groups.contains(name)
    }

    /// The office with this id; `None` if it did not exist when the
    /// snapshot was read (callers that may have just created one ask the
    /// store instead).
    pub fn office(&self, id: i64) -> Option<&OfficeRow> {
        self.offices.get(&id)
    }

    /// Number of offices, for logs.
    pub fn office_count(&self) -> usize {
        self.offices.len()
    }
}

/// The current snapshot, swapped whole when the store changes.
#[derive(Debug)]
pub struct Fleet {
    current: RwLock<Arc<Snapshot>>,
    /// Enrolled devices, recounted by the watcher every
    /// [`CHECKPOINT_EVERY`]: what the adaptive heartbeat interval divides
    /// the budget by. Kept apart from the snapshot because it changes with
    /// every enrollment, not only on admin writes.
    devices: AtomicU64,
}

impl Fleet {
    pub fn new(snapshot: Snapshot) -> Fleet {
        Fleet {
            current: RwLock::new(Arc::new(snapshot)),
            devices: AtomicU64::new(0),
        }
    }

    /// Enrolled devices as last counted.
    pub fn device_count(&self) -> u64 {
        self.devices.load(Ordering::Relaxed)
    }

    pub fn set_device_count(&self, n: u64) {
        self.devices.store(n, Ordering::Relaxed);
    }

    /// The latest snapshot; cheap (one Arc clone under a read lock).
    pub fn current(&self) -> Arc<Snapshot> {
        self.current.read().clone()
    }

    /// Rebuilds the snapshot if the store's generation moved. Returns
    /// whether it did.
    pub fn refresh(&self, st: &Store) -> Result<bool, FleetError> {
        let generation = st.fleet_generation()?;
        if generation == self.current().generation {
            return Ok(false);
        }
        let snap = Snapshot::load(st)?;
        *self.current.write() = Arc::new(snap);
        Ok(true)
    }
}

/// The watcher: on its own connection to the data dir's database, refreshes
/// `fleet` every [`POLL`] and checkpoints the WAL every
/// [`CHECKPOINT_EVERY`], until `stop` is cancelled. Blocking; run it on a
/// thread of its own. Errors are logged and retried on the next tick.
pub fn watch(
    fleet: Arc<Fleet>,
    data_dir: &Path,
    database: Option<&str>,
    replica: Replica,
    stop: CancellationToken,
) {
    let st = match Store::open_at(data_dir, database) {
        Ok(st) => st,
        Err(e) => {
            tracing::error!(
                "fleet watcher: {e}; CLI changes need a serve restart, and the WAL is checkpointed only at exit"
            );
            return;
        }
    };
    let mut last_checkpoint = Instant::now();
    let mut last_beat: Option<Instant> = None;
    let started = crate::store::now();
    let host = crate::platform::hostname();
    let mut failing = false;
    while !stop.is_cancelled() {
        if last_beat.is_none_or(|t| t.elapsed() >= REPLICA_BEAT) {
            last_beat = Some(Instant::now());
            if let Err(e) = st.replica_heartbeat(&replica.id, &replica.url, &host, started) {
                tracing::debug!("replica heartbeat: {e}");
            }
        }
        std::thread::sleep(POLL);
        let t = Instant::now();
        match fleet.refresh(&st) {
            Ok(true) => {
                let snap = fleet.current();
                tracing::info!(
                    generation = snap.generation,
                    offices = snap.office_count(),
                    took_ms = t.elapsed().as_millis() as u64,
                    "fleet configuration changed; snapshot rebuilt"
                );
                failing = false;
            }
            Ok(false) => failing = false,
            Err(e) if !failing => {
                tracing::warn!("fleet watcher: {e}; retrying");
                failing = true;
            }
            Err(_) => {}
        }
        if last_checkpoint.elapsed() >= CHECKPOINT_EVERY {
            last_checkpoint = Instant::now();
            if let Err(e) = st.checkpoint() {
                tracing::debug!("WAL checkpoint: {e}");
            }
            match st.device_count() {
                Ok(n) => fleet.set_device_count(n),
                Err(e) => tracing::debug!("device count: {e}"),
            }
        }
    }
    // Gone from `health`'s list of replicas.
    st.remove_replica(&replica.id, REPLICA_FORGET_SECS).ok();
    // A last, passive checkpoint so the WAL does not outgrow a quiet server.
    st.checkpoint().ok();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_sees_writes_from_another_connection() {
        let dir = tempfile::tempdir().unwrap();
        let a = Store::create(dir.path()).unwrap();
        let b = Store::open(dir.path()).unwrap();
        let fleet = Fleet::new(Snapshot::load(&a).unwrap());
        assert!(!fleet.current().group_assigned("lab"));
        assert!(!fleet.refresh(&a).unwrap(), "nothing changed yet");
        b.set_setting("heartbeat_secs", "7").unwrap();
        assert!(fleet.refresh(&a).unwrap());
        assert_eq!(fleet.current().setting(Setting::HeartbeatSecs), "7");
        assert!(!fleet.refresh(&a).unwrap(), "rebuilt once per change");
    }

    /// Two replicas on one PostgreSQL: a topology or group change made
    /// through one connection (another replica, the CLI on another host)
    /// reaches the other's snapshot.
    #[test]
    fn refresh_sees_writes_of_another_replica_postgres() {
        use crate::store::Location;
        let loc = Location::Postgres(crate::store::testing::database_url());
        let mut a = Store::open_location(&loc, true).unwrap();
        let b = Store::open_location(&loc, false).unwrap();
        let fleet = Fleet::new(Snapshot::load(&b).unwrap());
        assert!(!fleet.refresh(&b).unwrap());
        a.assign_groups(&["lab".into()]).unwrap();
        a.atomically(|s| {
            s.replace_topology(&[crate::store::topology::NewOffice {
                name: "HQ".into(),
                parent: None,
                kind: crate::domain::OfficeKind::Default,
                wan_kbps: None,
                description: String::new(),
                source: "import".into(),
                ranges: vec!["10.0.0.0/8".into()],
            }])
        })
        .unwrap();
        assert!(fleet.refresh(&b).unwrap());
        let snap = fleet.current();
        assert!(snap.group_assigned("lab"));
        assert_eq!(snap.office_count(), 1);
        assert!(!fleet.refresh(&b).unwrap());
    }
}

//! The SQLite store: schema, migrations, and every SQL statement p2pd runs.
//!
//! One database file (`p2pd.db`) in the data dir, in WAL mode so that `serve`
//! and the admin commands (`status`, `publish`, `report`) can run at the same
//! time. Migrations are versioned with `PRAGMA user_version`; a database from
//! a newer p2pd is refused rather than silently downgraded.
//!
//! Submodules group the statements by domain; nothing outside `store` writes
//! SQL.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

pub mod content;
pub mod devices;
pub mod distribution;
pub mod observe;
pub mod ops;
pub mod topology;

/// Versioned migrations; index `i` takes the database from version `i` to
/// `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    include_str!("schema_v2.sql"),
    include_str!("site1_device_states.sql"),
    include_str!("migration_faults_leadership.sql"),
    // Issue 16: decisions (for `explain`) and the admin token.
    include_str!("observe.sql"),
    include_str!("trust_evidence.sql"),
    // Issue 14: the fleet generation counter and indexes for scale.
    include_str!("fleet_scale.sql"),
];

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// File name of the database inside the data dir.
pub const DB_FILE: &str = "p2pd.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "{path} is not a p2pd data dir (no {DB_FILE}); run `p2pd install --data-dir {path}` first"
    )]
    NotInstalled { path: PathBuf },
    #[error(
        "database {path} has schema version {found}, but this p2pd only knows up to {SCHEMA_VERSION}; \
         it was written by a newer p2pd. Run that newer version (p2pd never downgrades a database)"
    )]
    TooNew { path: PathBuf, found: i64 },
    #[error("database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Query(#[from] rusqlite::Error),
}

/// A handle on the database. Cheap to open; every command opens its own.
pub struct Store {
    /// The open connection. Public to the `store` submodules only.
    pub(crate) conn: Connection,
}

/// The server identity row.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ServerRow {
    pub server_id: String,
    pub created_at: i64,
    pub key_version: i64,
    pub key_fingerprint: String,
}

pub(crate) use crate::domain::clock::{now, now_ms};

impl Store {
    /// Opens the database of an installed data dir, migrating it forward if
    /// it is older than this binary.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        let path = data_dir.join(DB_FILE);
        if !path.is_file() {
            return Err(StoreError::NotInstalled {
                path: data_dir.to_path_buf(),
            });
        }
        Self::open_path(&path)
    }

    /// Creates a new database (used by `install`).
    pub fn create(data_dir: &Path) -> Result<Store, StoreError> {
        Self::open_path(&data_dir.join(DB_FILE))
    }

    fn open_path(path: &Path) -> Result<Store, StoreError> {
        let wrap = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(wrap)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(wrap)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        )
        .map_err(wrap)?;
        let mut store = Store { conn };
        store.migrate(path)?;
        Ok(store)
    }

    fn migrate(&mut self, path: &Path) -> Result<(), StoreError> {
        let found: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Runs `f` in one transaction: all of it lands, or none.
    ///
    /// `BEGIN IMMEDIATE`: the write lock is taken up front, so a busy
    /// database makes this wait (busy_timeout) instead of failing at once
    /// with "database is locked" when a read turns into a write while serve
    /// or an admin command holds the lock.
    pub fn transaction<T, E: From<rusqlite::Error>>(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs `f` inside one IMMEDIATE transaction and commits once: serve's
    /// group commit (many devices' heartbeats, one commit). `f` calls the
    /// ordinary methods and must not start a transaction of its own. Its
    /// own result is returned as is; only BEGIN and COMMIT failures are
    /// errors here (a failed COMMIT is rolled back).
    pub fn batch<T>(&mut self, f: impl FnOnce(&Store) -> T) -> Result<T, StoreError> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let out = f(self);
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            self.conn.execute_batch("ROLLBACK").ok();
            return Err(e.into());
        }
        Ok(out)
    }

    /// Number of enrolled devices.
    pub fn device_count(&self) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM devices", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    pub fn server(&self) -> Result<Option<ServerRow>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT server_id, created_at, key_version, key_fingerprint FROM server WHERE id = 1",
                [],
                |r| {
                    Ok(ServerRow {
                        server_id: r.get(0)?,
                        created_at: r.get(1)?,
                        key_version: r.get(2)?,
                        key_fingerprint: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    pub fn init_server(
        &mut self,
        server_id: &str,
        fingerprint: &str,
        settings: &[(&str, String)],
    ) -> Result<(), StoreError> {
        self.transaction(|tx| {
            tx.execute(
                "INSERT INTO server (id, server_id, created_at, key_version, key_fingerprint)
                 VALUES (1, ?1, ?2, 1, ?3)",
                params![server_id, now(), fingerprint],
            )?;
            for (name, value) in settings {
                tx.execute(
                    "INSERT INTO settings (name, value) VALUES (?1, ?2)",
                    params![name, value],
                )?;
            }
            Ok::<_, StoreError>(())
        })
    }

    /// Records a new key: retires the old fingerprint, bumps the version,
    /// and calls `persist` (which writes the key file) inside the
    /// transaction, so a failed write rolls the database back.
    /// Returns the new key version and the retired fingerprint.
    pub fn rotate_key<E: From<rusqlite::Error>>(
        &mut self,
        new_fingerprint: &str,
        persist: impl FnOnce() -> Result<(), E>,
    ) -> Result<(i64, String), E> {
        self.transaction(|tx| {
            let (version, old): (i64, String) = tx.query_row(
                "SELECT key_version, key_fingerprint FROM server WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            tx.execute(
                "INSERT INTO retired_keys (version, fingerprint, retired_at) VALUES (?1, ?2, ?3)",
                params![version, old, now()],
            )?;
            tx.execute(
                "UPDATE server SET key_version = ?1, key_fingerprint = ?2 WHERE id = 1",
                params![version + 1, new_fingerprint],
            )?;
            persist()?;
            Ok((version + 1, old))
        })
    }

    /// Fingerprints of retired keys, newest first.
    pub fn retired_fingerprints(&self) -> Result<Vec<(i64, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT version, fingerprint FROM retired_keys ORDER BY version DESC")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM settings WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn set_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO settings (name, value) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            params![name, value],
        )?;
        Ok(())
    }

    pub fn settings(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT name, value FROM settings ORDER BY name")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Row counts for `status`.
    pub fn counts(&self) -> Result<Counts, StoreError> {
        let one = |sql: &str| -> Result<i64, rusqlite::Error> {
            self.conn.query_row(sql, [], |r| r.get(0))
        };
        Ok(Counts {
            offices: one("SELECT COUNT(*) FROM offices")?,
            devices: one("SELECT COUNT(*) FROM devices")?,
            no_office_devices: one("SELECT COUNT(*) FROM devices WHERE office_id IS NULL")?,
            licenses: one("SELECT COUNT(*) FROM devices WHERE license_activated_at IS NOT NULL")?,
            contents: one("SELECT COUNT(*) FROM contents")?,
            groups: one("SELECT COUNT(*) FROM groups")?,
        })
    }

    /// The fleet generation: bumped (by trigger) on every write to settings,
    /// offices, ranges or groups, by any process. Serve polls it to know
    /// when its in-memory snapshot is stale.
    pub fn fleet_generation(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT n FROM fleet_generation WHERE id = 1", [], |r| {
                r.get(0)
            })?)
    }

    /// Turns off automatic WAL checkpoints on this connection: serve's
    /// request connection never pays for a checkpoint's fsync; a background
    /// task calls [`Store::checkpoint`] on its own connection instead.
    pub fn disable_autocheckpoint(&self) -> Result<(), StoreError> {
        self.conn.execute_batch("PRAGMA wal_autocheckpoint = 0")?;
        Ok(())
    }

    /// Sets this connection's page cache to `mib` MiB (SQLite's default is
    /// 2 MiB). Serve's connection looks up devices and progress by random
    /// ids across the whole fleet; at 100,000 devices those indexes alone
    /// are ~20 MiB, and every miss is a read system call on the request path.
    pub fn set_cache_mib(&self, mib: u32) -> Result<(), StoreError> {
        self.conn
            .execute_batch(&format!("PRAGMA cache_size = -{}", u64::from(mib) * 1024))?;
        Ok(())
    }

    /// A passive WAL checkpoint: copies what it can without waiting for
    /// readers or writers. Returns (log frames, frames checkpointed).
    pub fn checkpoint(&self) -> Result<(i64, i64), StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(1)?, r.get(2)?))
            })?)
    }

    /// `PRAGMA integrity_check`, for `health`.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Counts {
    pub offices: i64,
    pub devices: i64,
    pub no_office_devices: i64,
    pub licenses: i64,
    pub contents: i64,
    pub groups: i64,
}

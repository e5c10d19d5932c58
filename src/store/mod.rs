//! The store: schema, migrations, and every SQL statement p2pd runs.
//!
//! May use: domain
//!
//! Two backends (see [`db`]): by default one SQLite file (`p2pd.db`) in the
//! data dir, in WAL mode so that `serve` and the admin commands (`status`,
//! `publish`, `report`) can run at the same time; with `--database
//! postgres://…` a PostgreSQL database shared by several `serve` replicas
//! (design note `replicas`). Migrations are versioned with `PRAGMA user_version` on
//! SQLite and the `schema_version` table on PostgreSQL; a database from a
//! newer p2pd is refused rather than silently downgraded.
//!
//! Submodules group the statements by domain; nothing outside `store` writes
//! SQL.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

pub mod content;
pub mod copy;
pub mod db;
pub mod devices;
pub mod distribution;
pub mod moves;
pub mod observe;
pub mod ops;
pub mod replicas;
#[cfg(unix)]
pub mod testing;
#[cfg(test)]
mod tests;
pub mod topology;
pub mod value;

use db::params;
pub use db::{Backend, Db, DbError};

/// One step of the schema history, in both dialects.
struct Migration {
    /// Its folder under `store/migrations/` (`0007_fleet_scale`).
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// A migration from its folder: `sqlite.sql` and `postgres.sql` for the two
/// dialects, then `both.sql` (spelled the same in each), if the step has
/// them.
macro_rules! migration {
    ($name:literal, both) => {
        Migration {
            name: $name,
            sqlite: include_str!(concat!("migrations/", $name, "/both.sql")),
            postgres: include_str!(concat!("migrations/", $name, "/both.sql")),
        }
    };
    ($name:literal, dialects and both) => {
        Migration {
            name: $name,
            sqlite: concat!(
                include_str!(concat!("migrations/", $name, "/sqlite.sql")),
                include_str!(concat!("migrations/", $name, "/both.sql"))
            ),
            postgres: concat!(
                include_str!(concat!("migrations/", $name, "/postgres.sql")),
                include_str!(concat!("migrations/", $name, "/both.sql"))
            ),
        }
    };
    ($name:literal) => {
        Migration {
            name: $name,
            sqlite: include_str!(concat!("migrations/", $name, "/sqlite.sql")),
            postgres: include_str!(concat!("migrations/", $name, "/postgres.sql")),
        }
    };
}

/// Versioned migrations; the one numbered `N` in `store/migrations/` takes
/// the database from version `N - 1` to `N`. One history for both
/// backends: each step is written in each dialect (the PostgreSQL
/// spellings: BIGINT for INTEGER, BYTEA for BLOB, identity columns, a
/// trigger function, `COLLATE "C"` so that text sorts by bytes as in
/// SQLite).
const MIGRATIONS: &[Migration] = &[
    migration!("0001_schema"),
    migration!("0002_v2"),
    // Design note `real-site`: device states.
    migration!("0003_device_states"),
    // Design note `faults-and-churn`: leadership epochs and faults.
    migration!("0004_faults_leadership"),
    // Design note `observability`: decisions (for `explain`) and the admin
    // token; their indexes are spelled the same in both dialects.
    migration!("0005_observe", dialects and both),
    migration!("0006_trust_evidence"),
    // Design note `fleet-scale`: the fleet generation counter and indexes.
    migration!("0007_fleet_scale"),
    // Design note `replicas`: replicas (heartbeat rows) and the shared key
    // in the database.
    migration!("0008_replicas"),
    // Design note `replicas`: the server CA in the database (its key sealed
    // on PostgreSQL).
    migration!("0009_server_ca"),
    // Design note `fleet-scale`: covering indexes for what every heartbeat
    // reads.
    migration!("0010_request_path_indexes", both),
    // Design note `fleet-scale`: a moved or removed device bumps the fleet
    // generation (the heartbeat's in-memory device directory).
    migration!("0011_device_directory"),
    // Design note `key-holders`: per-device re-enrollment secrets, retired
    // device ids.
    migration!("0012_device_trust"),
    // Design note `devices-move`: moves (for `explain`) and devices peers
    // cannot reach.
    migration!("0013_device_moves"),
    // Design note `faults-and-churn`: reports numbered, counted once.
    migration!("0014_report_sequence"),
];

/// The names and defaults of the settings the store reads itself (it sits
/// below `settings`, whose test checks that they agree with it).
pub const WAL_LIMIT_SETTING: &str = "wal_limit_mb";
pub const WAL_LIMIT_MB_DEFAULT: u64 = 64;
pub const LICENSE_CAP_SETTING: &str = "license_cap";

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// File name of the database inside the data dir.
pub const DB_FILE: &str = "p2pd.db";

/// How long every SQLite connection waits for a lock held elsewhere.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// `journal_size_limit`: after a checkpoint resets the WAL, SQLite
/// truncates the file to at most this (it reuses the file otherwise).
pub const WAL_KEEP_BYTES: u64 = 16 << 20;

/// How often [`Store::checkpoint`] truncates a WAL over [`WAL_KEEP_BYTES`]
/// that is still under `wal_limit_mb`.
pub const TRUNCATE_EVERY: Duration = Duration::from_secs(30);

/// How long a TRUNCATE checkpoint waits for the writer and for readers
/// (the writer waits on it meanwhile, so it stays short).
pub const TRUNCATE_WAIT: Duration = Duration::from_millis(250);

/// The size of the WAL file of the SQLite database at `db` (0 when absent).
pub fn wal_file_bytes(db: &Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
}

/// Environment variable naming the database (`--database`).
pub const DATABASE_ENV: &str = "P2PD_DATABASE_URL";

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
    #[error(
        "cannot connect to PostgreSQL at {url}: {message}; check --database (or {DATABASE_ENV}), \
         that the server runs and that the role may log in"
    )]
    Connect { url: String, message: String },
    #[error(
        "the PostgreSQL database {url} holds no p2pd install; run `p2pd install --database URL` \
         or copy an existing install with `p2pd db copy --to URL`"
    )]
    NoSchema { url: String },
    #[error(
        "--database {url}: not a database URL; use postgres://USER@HOST[:PORT]/DB (or leave it out \
         for the SQLite database in the data dir)"
    )]
    BadUrl { url: String },
    #[error(
        "no licence left for a new device: {held} devices hold one and license_cap is {cap}; \
         raise it with `p2pd settings set license_cap N` (0: no cap), or retire devices that \
         are gone. Devices that enrolled and never sent a heartbeat stop counting after 10 minutes"
    )]
    LicenseCap { cap: i64, held: i64 },
    #[error(transparent)]
    Query(#[from] DbError),
}

impl StoreError {
    /// A write refused on a read-only connection (serve's readers): the
    /// work is run again on the writer, so it is no failure of its own.
    pub fn needs_writer(&self) -> bool {
        matches!(self, StoreError::Query(e) if e.is_read_only())
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Query(DbError::Sqlite(e))
    }
}

/// Where the database is: the SQLite file of a data dir, or a PostgreSQL
/// URL shared by several replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Location {
    /// `--database URL` if given (a `postgres://` or `postgresql://` URL;
    /// `sqlite:PATH` or a plain path names an SQLite file), else the
    /// SQLite database of `data_dir`.
    pub fn new(data_dir: &Path, database: Option<&str>) -> Result<Location, StoreError> {
        match database.map(str::trim).filter(|d| !d.is_empty()) {
            None => Ok(Location::Sqlite(data_dir.join(DB_FILE))),
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                Ok(Location::Postgres(u.to_string()))
            }
            Some(u) if u.starts_with("sqlite:") => {
                Ok(Location::Sqlite(PathBuf::from(&u["sqlite:".len()..])))
            }
            Some(u) if !u.contains("://") => Ok(Location::Sqlite(PathBuf::from(u))),
            Some(u) => Err(StoreError::BadUrl { url: u.to_string() }),
        }
    }

    /// For messages: the path, or the URL without its password.
    pub fn display(&self) -> String {
        match self {
            Location::Sqlite(p) => p.display().to_string(),
            Location::Postgres(u) => redact_url(u),
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Location::Sqlite(_) => Backend::Sqlite,
            Location::Postgres(_) => Backend::Postgres,
        }
    }
}

/// A URL with its password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((a, h)) => (a, h),
        None => return url.to_string(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// A handle on the database. Cheap to open; every command opens its own.
pub struct Store {
    /// The open connection (either backend). Public to the `store`
    /// submodules only: nothing outside `store` writes SQL.
    pub(crate) conn: Db,
    /// `None` outside [`Store::batch`]; inside, whether an [`Store::item`]
    /// savepoint is open. It is released together with the next item's
    /// SAVEPOINT (or by the COMMIT), so an item costs PostgreSQL one round
    /// trip, not two.
    item_open: std::cell::Cell<Option<bool>>,
    /// When [`Store::checkpoint`] last ran a TRUNCATE checkpoint.
    last_truncate: std::cell::Cell<Option<std::time::Instant>>,
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

    /// Opens an installed database wherever it is: `--database` if given,
    /// else the data dir's SQLite file.
    pub fn open_at(data_dir: &Path, database: Option<&str>) -> Result<Store, StoreError> {
        match Location::new(data_dir, database)? {
            Location::Sqlite(p) if database.is_none() => {
                if !p.is_file() {
                    return Err(StoreError::NotInstalled {
                        path: data_dir.to_path_buf(),
                    });
                }
                Self::open_path(&p)
            }
            loc => Self::open_location(&loc, false),
        }
    }

    /// Opens (`create`: creating the schema of) the database at `loc`.
    /// Without `create`, a PostgreSQL database without p2pd's schema is
    /// refused rather than silently initialized.
    pub fn open_location(loc: &Location, create: bool) -> Result<Store, StoreError> {
        match loc {
            Location::Sqlite(p) => {
                if !create && !p.is_file() {
                    return Err(StoreError::NotInstalled {
                        path: p.parent().unwrap_or(Path::new(".")).to_path_buf(),
                    });
                }
                Self::open_path(p)
            }
            Location::Postgres(url) => Self::open_postgres(url, create),
        }
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
        conn.busy_timeout(BUSY_TIMEOUT).map_err(wrap)?;
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;
             PRAGMA journal_size_limit = {WAL_KEEP_BYTES};"
        ))
        .map_err(wrap)?;
        let mut store = Store {
            conn: Db::sqlite(conn),
            item_open: Default::default(),
            last_truncate: Default::default(),
        };
        store.migrate(&path.display().to_string())?;
        Ok(store)
    }

    fn open_postgres(url: &str, create: bool) -> Result<Store, StoreError> {
        let shown = redact_url(url);
        let mut config: postgres::Config = url
            .parse()
            .map_err(|_| StoreError::BadUrl { url: shown.clone() })?;
        config.connect_timeout(Duration::from_secs(10));
        config.application_name("p2pd");
        let client = config
            .connect(postgres::NoTls)
            .map_err(|e| StoreError::Connect {
                url: shown.clone(),
                message: DbError::Postgres(e).to_string(),
            })?;
        let mut store = Store {
            conn: Db::postgres(client, config),
            item_open: Default::default(),
            last_truncate: Default::default(),
        };
        if !create && store.pg_schema_version()?.is_none() {
            return Err(StoreError::NoSchema { url: shown });
        }
        store.migrate(&shown)?;
        Ok(store)
    }

    /// Which engine this store runs on.
    pub fn backend(&self) -> Backend {
        self.conn.backend()
    }

    /// PostgreSQL: the schema version, or `None` when p2pd never wrote one.
    fn pg_schema_version(&self) -> Result<Option<i64>, StoreError> {
        let exists: bool = self.conn.query_one(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables
                            WHERE table_schema = current_schema() AND table_name = 'schema_version')",
            (),
        )?;
        if !exists {
            return Ok(None);
        }
        Ok(self
            .conn
            .query_opt("SELECT version FROM schema_version", (), |r| r.get(0))?)
    }

    fn schema_version(&self) -> Result<i64, StoreError> {
        match self.conn.backend() {
            Backend::Sqlite => Ok(self.conn.query_one("PRAGMA user_version", ())?),
            Backend::Postgres => Ok(self.pg_schema_version()?.unwrap_or(0)),
        }
    }

    fn migrate(&mut self, shown: &str) -> Result<(), StoreError> {
        // The common case, an up-to-date database, takes no write lock.
        let found = self.schema_version()?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: PathBuf::from(shown),
                found,
            });
        }
        if found == SCHEMA_VERSION {
            return Ok(());
        }
        let tx = self.conn.begin()?;
        if self.conn.is_postgres() {
            // Replicas starting together: one migrates, the others wait
            // here and then find nothing left to do.
            self.conn
                .execute_batch("SELECT pg_advisory_xact_lock(7251001)")?;
            self.conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_version (
                     id BIGINT PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL);
                 INSERT INTO schema_version (id, version) VALUES (1, 0) ON CONFLICT DO NOTHING;",
            )?;
        }
        let found = self.schema_version()?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: PathBuf::from(shown),
                found,
            });
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let version = (i + 1) as i64;
            tracing::debug!(migration = m.name, "applying a schema migration");
            match self.conn.backend() {
                Backend::Sqlite => {
                    self.conn.execute_batch(m.sqlite)?;
                    self.conn
                        .execute_batch(&format!("PRAGMA user_version = {version}"))?;
                }
                Backend::Postgres => {
                    self.conn.execute_batch(m.postgres)?;
                    self.conn.execute(
                        "UPDATE schema_version SET version = ?1 WHERE id = 1",
                        [version],
                    )?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Runs `f` in one transaction: all of it lands, or none.
    ///
    /// `BEGIN IMMEDIATE` on SQLite: the write lock is taken up front, so a
    /// busy database makes this wait (busy_timeout) instead of failing at
    /// once with "database is locked" when a read turns into a write while
    /// serve or an admin command holds the lock.
    pub fn transaction<T, E: From<DbError>>(
        &mut self,
        f: impl FnOnce(&Db) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self.conn.begin()?;
        let out = f(&self.conn)?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs `f` in one transaction, like [`Store::atomically`], for an `f`
    /// that needs the store mutably: the methods it calls that open a
    /// transaction of their own join this one. Commits when `f` returns
    /// `Ok`; rolls back when it fails or panics. Inside an open
    /// transaction it just runs `f` (the outer one decides).
    pub fn atomically_mut<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&mut Store) -> Result<T, E>,
    ) -> Result<T, E> {
        if self.conn.in_transaction() {
            return f(self);
        }
        self.conn.begin().map_err(StoreError::from)?.leave_open();
        // The guard cannot live across `f(self)` (it borrows the
        // connection), so a panic is caught to roll back, then resumed.
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self)));
        let ended = self.conn.end_open(matches!(out, Ok(Ok(_))));
        match out {
            Ok(Ok(v)) => {
                ended.map_err(StoreError::from)?;
                Ok(v)
            }
            Ok(Err(e)) => Err(e),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Runs `f` inside one IMMEDIATE transaction and commits once: serve's
    /// group commit (many devices' heartbeats, one commit). `f` calls the
    /// ordinary methods and must not start a transaction of its own. Its
    /// own result is returned as is; only BEGIN and COMMIT failures are
    /// errors here (a failed COMMIT is rolled back).
    pub fn batch<T>(&mut self, f: impl FnOnce(&Store) -> T) -> Result<T, StoreError> {
        let tx = self.conn.begin()?;
        self.item_open.set(Some(false));
        let out = f(self);
        // COMMIT releases the last item's savepoint.
        self.item_open.set(None);
        if let Err(e) = tx.commit() {
            self.conn.execute_batch("ROLLBACK").ok();
            return Err(e.into());
        }
        Ok(out)
    }

    /// One item of a [`Store::batch`] (one device's heartbeat): its writes
    /// land whole or not at all, and an item that fails leaves the batch's
    /// other items in place. A SAVEPOINT on both backends: on PostgreSQL a
    /// failed statement otherwise aborts the whole transaction (every later
    /// item fails, and the COMMIT rolls back the ones before); on SQLite a
    /// failed statement undoes only itself, so an item failing half-way
    /// would keep its first writes. Outside a batch it just runs `f`.
    pub fn item<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, E>,
    ) -> Result<T, E> {
        let Some(open) = self.item_open.get() else {
            return f(self);
        };
        let sql = |q: &str| self.conn.execute_batch(q).map_err(StoreError::from);
        if self.conn.is_postgres() {
            // The previous item's savepoint, if still open, goes in the
            // same round trip: its writes join the transaction.
            sql(if open {
                "RELEASE SAVEPOINT batch_item; SAVEPOINT batch_item"
            } else {
                "SAVEPOINT batch_item"
            })?;
        } else {
            // Cached statements: parsing these twice per heartbeat was a
            // tenth of a 10,000/s group commit.
            if open {
                self.conn
                    .execute("RELEASE SAVEPOINT batch_item", ())
                    .map_err(StoreError::from)?;
            }
            self.conn
                .execute("SAVEPOINT batch_item", ())
                .map_err(StoreError::from)?;
        }
        self.item_open.set(Some(true));
        match f(self) {
            Ok(v) => Ok(v),
            Err(e) => {
                self.item_open.set(Some(false));
                sql("ROLLBACK TO SAVEPOINT batch_item; RELEASE SAVEPOINT batch_item")?;
                Err(e)
            }
        }
    }

    /// Number of enrolled devices.
    pub fn device_count(&self) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .query_one::<i64>("SELECT COUNT(*) FROM devices", ())? as u64)
    }

    pub fn server(&self) -> Result<Option<ServerRow>, StoreError> {
        Ok(self.conn.query_opt(
            "SELECT server_id, created_at, key_version, key_fingerprint FROM server WHERE id = 1",
            (),
            |r| {
                Ok(ServerRow {
                    server_id: r.get(0)?,
                    created_at: r.get(1)?,
                    key_version: r.get(2)?,
                    key_fingerprint: r.get(3)?,
                })
            },
        )?)
    }

    pub fn init_server(
        &self,
        server_id: &str,
        fingerprint: &str,
        settings: &[(&str, String)],
    ) -> Result<(), StoreError> {
        let tx = self.conn.begin()?;
        {
            let tx = &self.conn;
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
        }
        tx.commit()?;
        Ok(())
    }

    /// Starts a transaction that [`db::Tx::commit`] ends; dropped
    /// uncommitted, it rolls back. Store calls made meanwhile join it.
    pub fn begin(&self) -> Result<db::Tx<'_>, StoreError> {
        Ok(self.conn.begin()?)
    }

    /// Records a new key: retires the old fingerprint, bumps the version,
    /// and calls `persist` (which writes the key file and, on a shared
    /// database, the sealed key) inside the transaction, so a failed write
    /// rolls the database back. Returns the new key version and the
    /// retired fingerprint.
    pub fn rotate_key<E: From<DbError>>(
        &mut self,
        new_fingerprint: &str,
        persist: impl FnOnce(&Store, i64) -> Result<(), E>,
    ) -> Result<(i64, String), E> {
        let tx = self.conn.begin()?;
        let (version, old): (i64, String) = self.conn.query_row(
            self.conn.pick(
                "SELECT key_version, key_fingerprint FROM server WHERE id = 1",
                // Two regenerates at once on two hosts: the second waits.
                "SELECT key_version, key_fingerprint FROM server WHERE id = 1 FOR UPDATE",
            ),
            (),
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        self.conn.execute(
            "INSERT INTO retired_keys (version, fingerprint, retired_at) VALUES (?1, ?2, ?3)",
            params![version, old, now()],
        )?;
        self.conn.execute(
            "UPDATE server SET key_version = ?1, key_fingerprint = ?2 WHERE id = 1",
            params![version + 1, new_fingerprint],
        )?;
        persist(self, version + 1)?;
        tx.commit()?;
        Ok((version + 1, old))
    }

    /// Fingerprints of retired keys, newest first.
    pub fn retired_fingerprints(&self) -> Result<Vec<(i64, String)>, StoreError> {
        Ok(self.conn.query_map(
            "SELECT version, fingerprint FROM retired_keys ORDER BY version DESC",
            (),
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    pub fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_opt("SELECT value FROM settings WHERE name = ?1", [name], |r| {
                r.get(0)
            })?)
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
        Ok(self
            .conn
            .query_map("SELECT name, value FROM settings ORDER BY name", (), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?)
    }

    /// Row counts for `status`.
    pub fn counts(&self) -> Result<Counts, StoreError> {
        let one = |sql: &str| -> Result<i64, DbError> { self.conn.query_one(sql, ()) };
        Ok(Counts {
            offices: one("SELECT COUNT(*) FROM offices")?,
            devices: one("SELECT COUNT(*) FROM devices")?,
            no_office_devices: one("SELECT COUNT(*) FROM devices WHERE office_id IS NULL")?,
            licenses: self.counted_licenses()?,
            contents: one("SELECT COUNT(*) FROM contents")?,
            groups: one("SELECT COUNT(*) FROM groups")?,
        })
    }

    /// The fleet generation: bumped (by trigger) on every write to settings,
    /// offices, ranges or groups, by any process — on PostgreSQL by any
    /// replica or admin command on any host. Serve polls it to know when
    /// its in-memory snapshot is stale.
    pub fn fleet_generation(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_one("SELECT n FROM fleet_generation WHERE id = 1", ())?)
    }

    /// Opens a read-only connection to an installed database (serve's
    /// readers, design note `fleet-scale`): every write on it is refused and remembered
    /// ([`Store::take_wanted_write`]). On SQLite in WAL mode it reads the
    /// last committed state while another connection holds the write lock
    /// (an admin command's `topology import`, serve's own writer), so
    /// reads never queue behind a write transaction.
    pub fn open_reader(data_dir: &Path, database: Option<&str>) -> Result<Store, StoreError> {
        let store = Self::open_at(data_dir, database)?;
        store.conn.set_read_only()?;
        Ok(store)
    }

    /// Whether work on this read-only store tried to write since the last
    /// call (and clears it): the caller runs it again on a writer.
    pub fn take_wanted_write(&self) -> bool {
        self.conn.take_wanted_write()
    }

    /// Turns off automatic WAL checkpoints on this connection: serve's
    /// request connection never pays for a checkpoint's fsync; a background
    /// task calls [`Store::checkpoint`] on its own connection instead.
    /// Nothing to do on PostgreSQL.
    pub fn disable_autocheckpoint(&self) -> Result<(), StoreError> {
        if let Some(c) = self.conn.sqlite_conn() {
            c.execute_batch("PRAGMA wal_autocheckpoint = 0")?;
        }
        Ok(())
    }

    /// Sets this connection's page cache to `mib` MiB (SQLite's default is
    /// 2 MiB). Serve's connection looks up devices and progress by random
    /// ids across the whole fleet; at 100,000 devices those indexes alone
    /// are ~20 MiB, and every miss is a read system call on the request path.
    /// Nothing to do on PostgreSQL (its shared buffers are the server's).
    pub fn set_cache_mib(&self, mib: u32) -> Result<(), StoreError> {
        if let Some(c) = self.conn.sqlite_conn() {
            c.execute_batch(&format!("PRAGMA cache_size = -{}", u64::from(mib) * 1024))?;
        }
        Ok(())
    }

    /// serve's WAL checkpoint, run once a second by its fleet watcher on
    /// a connection of its own (design note `key-holders`):
    ///
    /// - a passive checkpoint, which copies what it can without waiting;
    /// - then, when the WAL file is over `wal_limit_mb`, or over
    ///   [`WAL_KEEP_BYTES`] and the last truncation is [`TRUNCATE_EVERY`]
    ///   old, a TRUNCATE checkpoint: it waits (at most
    ///   [`TRUNCATE_WAIT`]) for the writer's transaction and for readers
    ///   still reading older frames, copies everything back and truncates
    ///   the file to zero. A passive checkpoint alone never shrinks the
    ///   file, and under a steady stream of writes with serve's readers
    ///   always holding a snapshot the WAL never restarts: it grew to
    ///   gigabytes. When the readers do not let go within the wait, the
    ///   next second tries again.
    ///
    /// Returns (log frames, frames checkpointed) of the last checkpoint
    /// run; (0, 0) on PostgreSQL, which checkpoints itself.
    pub fn checkpoint(&self) -> Result<(i64, i64), StoreError> {
        let Some(c) = self.conn.sqlite_conn() else {
            return Ok((0, 0));
        };
        let passive = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get(1)?, r.get(2)?))
        })?;
        let Some(size) = self.wal_bytes() else {
            return Ok(passive);
        };
        let limit = self.wal_limit_bytes()?;
        let due = self
            .last_truncate
            .get()
            .is_none_or(|t| t.elapsed() >= TRUNCATE_EVERY);
        if size <= limit && !(due && size > WAL_KEEP_BYTES) {
            return Ok(passive);
        }
        self.last_truncate.set(Some(std::time::Instant::now()));
        let (busy, frames, done) = self.checkpoint_truncate(TRUNCATE_WAIT)?;
        if busy {
            tracing::debug!(
                wal_mib = size >> 20,
                "WAL truncation postponed: readers or the writer were busy"
            );
        } else if size > limit {
            tracing::info!(
                wal_mib = size >> 20,
                limit_mib = limit >> 20,
                "WAL over wal_limit_mb: checkpointed and truncated"
            );
        }
        Ok((frames, done))
    }

    /// A TRUNCATE checkpoint that waits at most `wait` for the write lock
    /// and for readers: (busy, log frames, frames checkpointed). Busy means
    /// it could not finish (nothing is lost: the WAL stays as it was).
    pub fn checkpoint_truncate(&self, wait: Duration) -> Result<(bool, i64, i64), StoreError> {
        let Some(c) = self.conn.sqlite_conn() else {
            return Ok((false, 0, 0));
        };
        c.busy_timeout(wait)?;
        let r = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get::<_, i64>(0)? != 0, r.get(1)?, r.get(2)?))
        });
        c.busy_timeout(BUSY_TIMEOUT)?;
        Ok(r?)
    }

    /// The `wal_limit_mb` setting in bytes.
    pub fn wal_limit_bytes(&self) -> Result<u64, StoreError> {
        let mb = self
            .setting(WAL_LIMIT_SETTING)?
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(WAL_LIMIT_MB_DEFAULT);
        Ok(mb << 20)
    }

    /// The size of the SQLite WAL file beside the database, if any (`None`
    /// on PostgreSQL or an in-memory database).
    pub fn wal_bytes(&self) -> Option<u64> {
        let path = self.conn.sqlite_conn()?.path()?;
        if path.is_empty() {
            return None;
        }
        Some(wal_file_bytes(Path::new(path)))
    }

    /// `PRAGMA integrity_check` on SQLite, for `health`; on PostgreSQL,
    /// "ok" when the server answers and the schema is current.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        match self.conn.sqlite_conn() {
            Some(c) => Ok(c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?),
            None => {
                let v = self.pg_schema_version()?.unwrap_or(0);
                if v == SCHEMA_VERSION {
                    Ok("ok".to_string())
                } else {
                    Ok(format!(
                        "schema version {v}, this p2pd writes {SCHEMA_VERSION}"
                    ))
                }
            }
        }
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

//! Everything a handler needs ([`ServerState`]), and how it is built from
//! the data dir and `serve`'s flags ([`ServeOptions`]): the store and its
//! readers, the shared key checked against the database, the fleet
//! snapshot, and serve's certificate and probe client. Nothing in it is
//! changed by its caller once it is built.

use parking_lot::Mutex;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::content::storage::Storage;
use crate::store::Store;
use crate::trust::key::{SharedKey, Verifier};
use crate::trust::tls::ServerCerts;
use crate::vault::dbkey::DbKey;

use super::error::ServeError;
use super::faults::Faults;
use super::pool::{READER_CACHE_MIB, READERS, SERVE_CACHE_MIB, StorePool};
use super::{auth, beats, fleet, leader, quota, roster, seed, ui};

/// How `serve` runs: the data dir, and what its flags say.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// The data dir: the key file, `logs/`, and the SQLite database unless
    /// `database` names another.
    pub data_dir: PathBuf,
    /// `--database`, when not the data dir's SQLite.
    pub database: Option<String>,
    /// Serve TLS; `None`: plain HTTP (`--insecure-plain-http`).
    pub tls: Option<TlsOptions>,
    /// TLS-terminating proxies (`serve --trusted-proxy`).
    pub trusted_proxies: Vec<IpAddr>,
}

/// serve's TLS: its certificate is made at start from the server CA in
/// the database.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// The names the certificate holds (see `trust::tls::server_names`).
    pub names: Vec<String>,
}

impl ServeOptions {
    /// Plain HTTP from `data_dir`'s own database, no proxies.
    pub fn new(data_dir: &Path) -> ServeOptions {
        ServeOptions {
            data_dir: data_dir.to_path_buf(),
            ..ServeOptions::default()
        }
    }
}

/// Everything a handler needs.
pub struct ServerState {
    /// Database handle.
    pub db: StorePool,
    /// Heartbeats waiting for the next group commit (see [`beats`]).
    pub beats: beats::Beats,
    /// Office rosters for `/sources`, reused briefly (see [`roster`]).
    pub roster: roster::Roster,
    /// Per-device and per-address quotas (see [`quota`]).
    pub quota: quota::Quota,
    /// Settings, topology, offices and groups in memory (see [`fleet`]).
    pub fleet: Arc<fleet::Fleet>,
    /// The data dir, for the fleet watcher's own connection.
    pub data_dir: PathBuf,
    /// `--database`, when not the data dir's SQLite: the fleet watcher
    /// opens its own connection to it.
    pub database: Option<String>,
    /// On a shared (PostgreSQL) database: the data dir's `db.key`, which
    /// opens the sealed shared key; the key is then watched in the
    /// database rather than in the key file (see `keywatch.rs`).
    pub db_key: Option<Arc<DbKey>>,
    /// This replica's id in the `replicas` table (a new UUID per start).
    pub replica_id: String,
    /// Checks signatures against the current key.
    pub verifier: Verifier,
    pub server_id: String,
    /// The current key's version; changes with the key (see `keywatch.rs`).
    pub key_version: std::sync::atomic::AtomicI64,
    /// The key file, watched for a `key regenerate` while serving.
    pub key_file: PathBuf,
    /// The central seed: file storage, the devices it serves, the
    /// manifest cache and the log of bytes served (see [`seed`]).
    pub seed: seed::Seed,
    /// Live Prometheus metrics (request latency, refusals, write batches).
    pub metrics: crate::metrics::ServerMetrics,
    /// Requests refused for their key (see [`auth`]).
    pub refusals: auth::Refusals,
    /// Follower reports awaiting a second signal, and devices that left
    /// (see `leader.rs`). Locked inside the database call, after the store.
    pub board: Arc<Mutex<leader::Board>>,
    /// Probes a reported leader: the server's own second signal.
    pub probe: reqwest::Client,
    /// The CA and serve's own certificate; `None` when serving plain HTTP
    /// (`--insecure-plain-http`).
    pub tls: Option<Arc<ServerCerts>>,
    /// TLS-terminating proxies (`serve --trusted-proxy`), canonical:
    /// requests from these addresses may carry the client's certificate in
    /// [`super::FORWARDED_CERT_HEADER`].
    pub trusted_proxies: Vec<IpAddr>,
    /// Dashboard sessions (see [`ui`]).
    pub ui_sessions: ui::Sessions,
    /// The test-only fault switches (see [`super::faults`]).
    pub faults: Faults,
}

/// What handlers are given.
pub type AppState = Arc<ServerState>;

impl ServerState {
    /// Loads the server's state from its data dir. Refuses a key file that
    /// does not match the database (a half-done regenerate or a copied file).
    /// With TLS, serve's certificate is made from the server CA last, and
    /// is also the one the probe presents to agents.
    ///
    /// With `database` a PostgreSQL URL (several replicas), the shared key
    /// comes from the database, opened with the data dir's `db.key`, so
    /// that every replica verifies the same key.
    pub fn load(opts: ServeOptions) -> Result<ServerState, ServeError> {
        let (data_dir, database) = (opts.data_dir.as_path(), opts.database.as_deref());
        let store = Store::open_at(data_dir, database)?;
        let server = store.server()?.ok_or(ServeError::NoServerRow)?;
        let (key, db_key) = shared_key(&store, data_dir)?;
        if key.fingerprint() != server.key_fingerprint {
            return Err(ServeError::KeyMismatch {
                file: crate::trust::key::key_path(data_dir),
                found: key.fingerprint(),
                expected: server.key_fingerprint,
            });
        }
        let storage = store
            .setting("file_storage")?
            .and_then(|v| Storage::from_setting(&v).ok());
        let served_log = open_served_log(data_dir)?;
        let fleet = Arc::new(fleet::Fleet::new(fleet::Snapshot::load(&store)?));
        fleet.set_device_count(store.device_count()?);
        // Checkpoints run on the fleet watcher's connection, never here.
        store.disable_autocheckpoint()?;
        store.set_cache_mib(SERVE_CACHE_MIB)?;
        let readers = open_readers(data_dir, database)?;
        let tls = match opts.tls {
            Some(t) => Some(Arc::new(certificate(
                data_dir,
                &store,
                &server.server_id,
                t,
            )?)),
            None => None,
        };
        Ok(ServerState {
            db: StorePool::new(store).with_readers(readers),
            beats: beats::Beats::default(),
            roster: roster::Roster::default(),
            quota: quota::Quota::default(),
            fleet,
            data_dir: data_dir.to_path_buf(),
            database: opts.database.clone(),
            db_key,
            replica_id: uuid::Uuid::new_v4().to_string(),
            verifier: Verifier::new(key),
            server_id: server.server_id,
            key_version: server.key_version.into(),
            key_file: crate::trust::key::key_path(data_dir),
            seed: seed::Seed::new(storage, served_log),
            metrics: crate::metrics::ServerMetrics::new(),
            refusals: auth::Refusals::default(),
            board: Arc::new(Mutex::new(leader::Board::default())),
            probe: probe_client(tls.as_ref())?,
            tls,
            trusted_proxies: opts
                .trusted_proxies
                .iter()
                .map(|ip| ip.to_canonical())
                .collect(),
            ui_sessions: ui::Sessions::default(),
            faults: Faults::from_env(),
        })
    }
}

/// The current shared key, and on a shared database the `db.key` that
/// opens it there.
fn shared_key(
    store: &Store,
    data_dir: &Path,
) -> Result<(SharedKey, Option<Arc<DbKey>>), ServeError> {
    if store.backend() != crate::store::Backend::Postgres {
        let key = SharedKey::load(&crate::trust::key::key_path(data_dir))?;
        return Ok((key, None));
    }
    std::fs::create_dir_all(data_dir)?;
    let db_key = DbKey::load(data_dir).map_err(|error| ServeError::NoDbKey {
        error,
        dir: data_dir.to_path_buf(),
    })?;
    let key = crate::vault::dbkey::current_key(store, &db_key)?.0;
    Ok((key, Some(Arc::new(db_key))))
}

/// `logs/served.log`, opened to append.
fn open_served_log(data_dir: &Path) -> Result<std::fs::File, ServeError> {
    let logs = data_dir.join("logs");
    std::fs::create_dir_all(&logs)?;
    Ok(std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(logs.join("served.log"))?)
}

/// The read-only connections next to serve's writer.
fn open_readers(data_dir: &Path, database: Option<&str>) -> Result<Vec<Store>, ServeError> {
    let readers = (0..READERS)
        .map(|_| {
            let r = Store::open_reader(data_dir, database)?;
            r.set_cache_mib(READER_CACHE_MIB)?;
            Ok(r)
        })
        .collect::<Result<Vec<_>, crate::store::StoreError>>()?;
    Ok(readers)
}

/// serve's certificate for `tls.names`, from the server CA in the database
/// (every replica presents the same one; an older install's CA files are
/// moved into it here).
fn certificate(
    data_dir: &Path,
    store: &Store,
    server_id: &str,
    tls: TlsOptions,
) -> Result<ServerCerts, ServeError> {
    let ca = crate::vault::server_ca::load(data_dir, store).map_err(ServeError::Ca)?;
    ServerCerts::new(ca, server_id, tls.names).map_err(ServeError::Certificate)
}

/// The client that probes (and re-checks) agents: their peer servers. With
/// TLS it presents serve's own certificate.
fn probe_client(certs: Option<&Arc<ServerCerts>>) -> Result<reqwest::Client, ServeError> {
    crate::trust::tls::install_default_provider();
    let b = reqwest::Client::builder()
        .connect_timeout(PROBE_TIMEOUT)
        .timeout(PROBE_TIMEOUT)
        // The re-check (`recheck.rs`) checks which device answered.
        .tls_info(true);
    let b = match certs {
        Some(certs) => b.use_preconfigured_tls(
            certs
                .ca()
                .trust()
                .client_config(certs.clone(), crate::trust::tls::Expect::Device)?,
        ),
        None => b,
    };
    Ok(b.build()?)
}

/// How long the server waits for a reported leader to answer its probe.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

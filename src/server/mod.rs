//! `p2pd serve`: the control plane and the central seed.
//!
//! `run(listener, state, shutdown)` takes its shutdown trigger as an
//! argument: `main` passes SIGINT/SIGTERM, tests pass whatever they like.
//!
//! SQLite from async code: one connection behind a mutex, used only inside
//! `spawn_blocking` (see [`Db::call`]). SQLite serializes writers anyway, so
//! a pool would add nothing but lock contention, and keeping the blocking
//! calls off the runtime threads keeps piece serving responsive.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::content::storage::Storage;
use crate::http::{ApiError, Signed, Verifies};
use crate::key::Verifier;
use crate::proto::*;
use crate::store::{Store, now};

pub mod lock;
pub mod scheduler;

/// The database, shared by request handlers.
#[derive(Clone)]
pub struct Db(Arc<Mutex<Store>>);

impl Db {
    pub fn new(store: Store) -> Db {
        Db(Arc::new(Mutex::new(store)))
    }

    /// Runs `f` with the store on the blocking pool.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let db = self.0.clone();
        tokio::task::spawn_blocking(move || {
            let mut st = db.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut st)
        })
        .await
        .map_err(ApiError::internal)?
    }
}

/// Everything a handler needs.
pub struct ServerState {
    /// Database handle.
    pub db: Db,
    /// Checks signatures against the current key.
    pub verifier: Verifier,
    pub server_id: String,
    /// The key version in use; follows `key regenerate` (see
    /// [`watch_key`]).
    pub key_version: std::sync::atomic::AtomicI64,
    /// The key file, re-read when it changes (`None`: never).
    pub key_file: Option<std::path::PathBuf>,
    /// File storage, for seeding pieces and the storage gateway.
    pub storage: Option<Storage>,
    /// (content, device) pairs the scheduler sent to the server; the seed
    /// refuses everyone else. In memory on purpose: after a restart, agents
    /// get `not_scheduled`, ask for sources again and are re-admitted.
    pub seeding: Mutex<HashSet<(String, String)>>,
    /// Manifests by content id, for the seed's per-piece path. A content's
    /// manifest never changes (its id is its hash), so entries never go
    /// stale; the scheduler still checks targeting in the database before
    /// it admits a device to the seed.
    pub manifests: Mutex<HashMap<String, Arc<Manifest>>>,
    /// Append-only log of bytes served (`logs/served.log`, JSON lines), the
    /// server's own word for cross-checking agents' transfer reports.
    pub served_log: Mutex<Option<std::fs::File>>,
    /// Key-mismatch refusals not yet written, by (device, fingerprint):
    /// the time of the last write. Bounds the writes a device stuck on an
    /// old key causes to one per [`REFUSAL_WRITE_SECS`], and the log to one
    /// line per device.
    pub refusals: Mutex<HashMap<(String, String), i64>>,
}

/// A device refused for its key is recorded at most this often.
const REFUSAL_WRITE_SECS: i64 = 5;

type AppState = Arc<ServerState>;

impl Verifies for ServerState {
    fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// Records which device still signs with which old key, and says so in
    /// the log once per device (and once per unknown fingerprint).
    fn key_refused(&self, fingerprint: &str, device: Option<String>) {
        let t = now();
        let dev = device.unwrap_or_default();
        let first = {
            let mut m = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
            let key = (dev.clone(), fingerprint.to_string());
            match m.get(&key) {
                Some(at) if t - at < REFUSAL_WRITE_SECS => return,
                Some(_) => {
                    m.insert(key, t);
                    false
                }
                None => {
                    // Bounded: forget everything rather than grow without end
                    // under a flood of invented ids.
                    if m.len() >= 10_000 {
                        m.clear();
                    }
                    m.insert(key, t);
                    true
                }
            }
        };
        let db = self.db.clone();
        let fp = fingerprint.to_string();
        let current = self.verifier.fingerprint();
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        rt.spawn(async move {
            let d = dev.clone();
            let f = fp.clone();
            let known = db
                .call(move |st| {
                    if d.is_empty() || !st.record_key_refusal(&d, &f)? {
                        return Ok(None);
                    }
                    Ok(st.device(&d)?.map(|row| row.hostname))
                })
                .await;
            if !first {
                return;
            }
            match known {
                Ok(Some(host)) => tracing::warn!(
                    device = %dev, hostname = %host, key = %fp, current = %current,
                    "refused a device signing with an old key; it needs the current key \
                     (`p2pd agent install --key-file FILE` on that device)"
                ),
                _ => tracing::warn!(
                    key = %fp, current = %current,
                    "refused a request signed with an unknown key"
                ),
            }
        });
    }
}

impl ServerState {
    /// Loads the server's state from its data dir. Refuses a key file that
    /// does not match the database (a half-done regenerate or a copied file).
    pub fn load(data_dir: &std::path::Path) -> anyhow::Result<ServerState> {
        let store = Store::open(data_dir)?;
        let server = store
            .server()?
            .ok_or_else(|| anyhow::anyhow!("the database has no server row; reinstall"))?;
        let key = crate::key::SharedKey::load(&crate::key::key_path(data_dir))?;
        if key.fingerprint() != server.key_fingerprint {
            anyhow::bail!(
                "key file {} has fingerprint {}, but the database expects {}; run `p2pd key regenerate`",
                crate::key::key_path(data_dir).display(),
                key.fingerprint(),
                server.key_fingerprint
            );
        }
        let storage = store
            .setting("file_storage")?
            .and_then(|v| Storage::from_setting(&v).ok());
        let logs = data_dir.join("logs");
        std::fs::create_dir_all(&logs)?;
        let served_log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(logs.join("served.log"))?;
        Ok(ServerState {
            db: Db::new(store),
            verifier: Verifier::new(key),
            server_id: server.server_id,
            key_version: std::sync::atomic::AtomicI64::new(server.key_version),
            key_file: Some(crate::key::key_path(data_dir)),
            storage,
            seeding: Mutex::new(HashSet::new()),
            manifests: Mutex::new(HashMap::new()),
            served_log: Mutex::new(Some(served_log)),
            refusals: Mutex::new(HashMap::new()),
        })
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/enroll", post(enroll))
        .route("/v1/heartbeat", post(heartbeat))
        .route("/v1/report", post(report))
        .route("/v1/contents/{id}/manifest", get(manifest))
        .route("/v1/contents/{id}/sources", post(sources))
        .route("/v1/contents/{id}/pieces/{n}", get(piece))
        .route("/v1/storage/{*path}", get(storage_file))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then stops accepting and drains
/// in-flight requests for at most `drain` before returning.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: ServerState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> anyhow::Result<()> {
    let state = Arc::new(state);
    let token = CancellationToken::new();
    let t = token.clone();
    let app = router(state.clone());
    tokio::spawn(async move {
        shutdown.await;
        t.cancel();
    });
    tokio::spawn(watch_key(state.clone(), token.clone()));
    let server = crate::listen::serve(listener, app, token.clone(), crate::listen::Limits::SERVER);
    tokio::select! {
        r = server => r?,
        _ = async { token.cancelled().await; tokio::time::sleep(drain).await } => {
            tracing::warn!("drain timeout: closing remaining connections");
        }
    }
    // Close the database last: checkpoint the WAL by dropping the connection.
    state.db.call(|_| Ok(())).await.ok();
    Ok(())
}

/// How often serve looks at its key file.
const KEY_CHECK: Duration = Duration::from_secs(1);

/// Makes `key regenerate` take effect on a running serve: once a second,
/// if the key file changed (size or mtime), loads it, and switches to it
/// when the database names the same fingerprint (`regenerate` updates
/// both; a file that disagrees with the database is a half-done change or
/// a stray copy, and the current key stays).
async fn watch_key(s: AppState, stop: CancellationToken) {
    let Some(path) = s.key_file.clone() else {
        return;
    };
    let stamp = |p: &std::path::Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| (m.len(), m.modified().ok()))
    };
    let mut seen = stamp(&path);
    let mut warned = String::new();
    // `regenerate` writes the file just before it commits the database:
    // a mismatch is only worth a warning once it persists.
    let mut mismatches = 0u32;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(KEY_CHECK) => {}
        }
        let now_stamp = stamp(&path);
        if now_stamp == seen {
            continue;
        }
        let key = match crate::key::SharedKey::load(&path) {
            Ok(k) => k,
            // Mid-write or missing: look again next time.
            Err(_) => continue,
        };
        let fp = key.fingerprint();
        if fp == s.verifier.fingerprint() {
            seen = now_stamp;
            continue;
        }
        let row = s.db.call(|st| Ok(st.server()?)).await;
        match row {
            Ok(Some(row)) if row.key_fingerprint == fp => {
                s.verifier.set_key(key);
                s.key_version
                    .store(row.key_version, std::sync::atomic::Ordering::Relaxed);
                seen = now_stamp;
                mismatches = 0;
                tracing::info!(
                    key = %fp, version = row.key_version,
                    "the key file changed: now using the new key; the old one is refused"
                );
            }
            _ => {
                mismatches += 1;
                if mismatches >= 5 && warned != fp {
                    warned = fp.clone();
                    tracing::warn!(
                        key = %fp,
                        "the key file changed but the database does not name its fingerprint; \
                         keeping the current key (run `p2pd key regenerate` to change keys)"
                    );
                }
            }
        }
    }
}

async fn status(
    State(s): State<AppState>,
    _signed: Signed,
) -> Result<axum::Json<ServerStatus>, ApiError> {
    Ok(axum::Json(ServerStatus {
        server_id: s.server_id.clone(),
        version: crate::VERSION.to_string(),
        time: now(),
        key_fingerprint: s.verifier.fingerprint(),
        key_version: s.key_version.load(std::sync::atomic::Ordering::Relaxed),
    }))
}

async fn enroll(
    State(s): State<AppState>,
    signed: Signed,
) -> Result<axum::Json<EnrollResponse>, ApiError> {
    let req: EnrollRequest = signed.json()?;
    req.validate()?;
    s.db.call(move |st| enroll_impl(st, req))
        .await
        .map(axum::Json)
}

fn setting(st: &Store, s: crate::settings::Setting) -> Result<String, ApiError> {
    Ok(st.setting(s.name())?.unwrap_or_else(|| s.default_value()))
}

fn heartbeat_secs(st: &Store) -> Result<u64, ApiError> {
    Ok(setting(st, crate::settings::Setting::HeartbeatSecs)?
        .parse()
        .unwrap_or(10))
}

fn enroll_impl(st: &mut Store, req: EnrollRequest) -> Result<EnrollResponse, ApiError> {
    use crate::settings::{Setting, parse_version};
    let min = setting(st, Setting::MinClientVersion)?;
    let max = setting(st, Setting::MaxClientVersion)?;
    let v = parse_version(&req.version);
    if v.is_none() || v < parse_version(&min) || v > parse_version(&max) {
        return Err(ApiError::new(
            ErrorCode::UnsupportedVersion,
            format!(
                "client version {} is not supported; this server accepts {min} to {max}. \
                 Install a supported agent, or change min_client_version / max_client_version",
                req.version
            ),
        ));
    }
    if !st.group_assigned(&req.group)? {
        return Err(ApiError::new(
            ErrorCode::GroupNotAssigned,
            format!(
                "group '{}' is not assigned to peer distribution; an admin can assign it with `p2pd groups assign {}`",
                req.group, req.group
            ),
        ));
    }
    let addr = req
        .addrs
        .first()
        .ok_or_else(|| ApiError::new(ErrorCode::BadRequest, "enrollment lists no address"))?;
    let ip: IpAddr = addr.ip;
    let row = st.enroll_device(&crate::store::devices::Enrollment {
        device_id: req.device_id.as_deref(),
        hostname: &req.hostname,
        addr: &ip.to_string(),
        prefix_len: addr.prefix,
        group: &req.group,
        version: &req.version,
        peer_url: &req.peer_url,
    })?;
    let lookup = crate::topology::Lookup::load(st).map_err(ApiError::internal)?;
    let office_id =
        crate::topology::place_device(st, &lookup, ip, addr.prefix).map_err(ApiError::internal)?;
    st.set_device_office(&row.id, office_id)?;
    let office = match office_id {
        Some(id) => st.office(id)?,
        None => None,
    };
    let serve_peers = office.as_ref().is_some_and(|o| o.kind != "vpn");
    Ok(EnrollResponse {
        device_id: row.id,
        office: office.as_ref().map(|o| o.name.clone()),
        office_kind: office.map(|o| o.kind),
        heartbeat_secs: heartbeat_secs(st)?,
        license_activated_at: row.license_activated_at.unwrap_or_else(now),
        serve_peers,
    })
}

/// Loads an enrolled device whose group is still assigned.
fn enrolled(st: &Store, id: &str) -> Result<crate::store::devices::DeviceRow, ApiError> {
    let d = st.device(id)?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotEnrolled,
            format!("device {id} is not enrolled; enroll again"),
        )
    })?;
    if !st.group_assigned(&d.group_name)? {
        return Err(ApiError::new(
            ErrorCode::GroupNotAssigned,
            format!(
                "group '{}' is no longer assigned to peer distribution",
                d.group_name
            ),
        ));
    }
    Ok(d)
}

async fn heartbeat(
    State(s): State<AppState>,
    signed: Signed,
) -> Result<axum::Json<HeartbeatResponse>, ApiError> {
    let req: HeartbeatRequest = signed.json()?;
    req.validate()?;
    s.db.call(move |st| {
        let d = enrolled(st, &req.device_id)?;
        st.heartbeat(&d.id)?;
        st.set_stuck(&d.id, &req.stuck)?;
        for p in &req.progress {
            if st.content_exists(&p.content_id)? {
                st.record_progress(&p.content_id, &d.id, p.pieces, p.done)?;
                if p.done {
                    st.record_done_ms(&p.content_id, &d.id, p.done_at_ms)?;
                }
            }
        }
        let serve_peers = match d.office_id {
            Some(o) => st.office(o)?.is_some_and(|o| o.kind != "vpn"),
            None => false,
        };
        Ok(HeartbeatResponse {
            heartbeat_secs: heartbeat_secs(st)?,
            serve_peers,
            contents: st.targeted_contents(&d.group_name)?,
        })
    })
    .await
    .map(axum::Json)
}

#[derive(Deserialize)]
struct DeviceQuery {
    device: String,
}

async fn manifest(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<DeviceQuery>,
    _signed: Signed,
) -> Result<axum::Json<Manifest>, ApiError> {
    check_device_id("device", &q.device)?;
    check_content_id("content id", &id)?;
    s.db.call(move |st| {
        let d = enrolled(st, &q.device)?;
        let m = targeted_manifest(st, &id, &d.group_name)?;
        st.start_progress(&id, &d.id)?;
        Ok(m)
    })
    .await
    .map(axum::Json)
}

fn targeted_manifest(st: &Store, id: &str, group: &str) -> Result<Manifest, ApiError> {
    let m = st
        .manifest(id)?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no content {id}")))?;
    if !st.is_targeted(id, group)? {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("content {id} is not targeted at group '{group}'"),
        ));
    }
    Ok(m)
}

#[derive(Deserialize)]
struct SourcesRequest {
    device_id: String,
}

async fn sources(
    State(s): State<AppState>,
    Path(id): Path<String>,
    signed: Signed,
) -> Result<axum::Json<SourcesResponse>, ApiError> {
    let req: SourcesRequest = signed.json()?;
    check_device_id("device_id", &req.device_id)?;
    check_content_id("content id", &id)?;
    let storage_url = match &s.storage {
        Some(Storage::Http(u)) => Some(u.to_string()),
        _ => None,
    };
    let content = id.clone();
    let device = req.device_id.clone();
    let plan =
        s.db.call(move |st| {
            let d = enrolled(st, &req.device_id)?;
            let m = targeted_manifest(st, &id, &d.group_name)?;
            let hb = heartbeat_secs(st)? as i64;
            let cdn = setting(st, crate::settings::Setting::CdnUrl)?;
            let ends = scheduler::Endpoints {
                cdn: (!cdn.is_empty()).then_some(cdn),
                storage_url,
            };
            Ok(scheduler::plan(
                st,
                &scheduler::Timing::new(hb),
                &ends,
                &id,
                &m.path,
                &d,
                now(),
            )?)
        })
        .await?;
    let mut seeding = s.seeding.lock().unwrap_or_else(|p| p.into_inner());
    if plan.server_seeds {
        seeding.insert((content, device));
    } else {
        seeding.remove(&(content, device));
    }
    Ok(axum::Json(plan.response))
}

async fn report(State(s): State<AppState>, signed: Signed) -> Result<StatusCode, ApiError> {
    let req: ReportRequest = signed.json()?;
    req.validate()?;
    s.db.call(move |st| {
        let d = st.device(&req.device_id)?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotEnrolled,
                "device is not enrolled; enroll again",
            )
        })?;
        for t in &req.transfers {
            st.record_transfer(t, &d.id, d.office_id)?;
            // Upload credit comes from receivers: a verified transfer from
            // a peer confirms (part of) what that peer claims it sent.
            if let Some(src) = &t.source_device
                && t.ok
                && matches!(t.tier, Tier::Lan | Tier::Parent)
                && src != &d.id
            {
                st.receive_uploads(src, &t.content_id, t.pieces, t.bytes)?;
            }
        }
        for u in &req.uploads {
            st.claim_uploads(&d.id, &u.content_id, u.pieces, u.bytes)?;
        }
        for b in &req.bad {
            if st.ban(&b.content_id, &b.source_device, &d.id, b.piece)? {
                tracing::warn!(
                    sender = %b.source_device, reporter = %d.id, piece = b.piece,
                    content = %b.content_id,
                    "bad piece reported by a second device: sender banned for this content"
                );
                st.add_failure(&b.source_device)?;
            }
        }
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Central seed: a piece read from file storage, only for devices the
/// scheduler sent here.
async fn piece(
    State(s): State<AppState>,
    Path((id, n)): Path<(String, u32)>,
    Query(q): Query<DeviceQuery>,
    _signed: Signed,
) -> Result<Response, ApiError> {
    check_device_id("device", &q.device)?;
    check_content_id("content id", &id)?;
    let scheduled = s
        .seeding
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains(&(id.clone(), q.device.clone()));
    if !scheduled {
        return Err(ApiError::new(
            ErrorCode::NotScheduled,
            "the server seeds only to devices its scheduler sent here; ask for sources again",
        ));
    }
    let cached = s
        .manifests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&id)
        .cloned();
    let m = match cached {
        Some(m) => m,
        None => {
            let cid = id.clone();
            let m = Arc::new(
                s.db.call(move |st| {
                    st.manifest(&cid)?.ok_or_else(|| {
                        ApiError::new(ErrorCode::NotFound, format!("no content {cid}"))
                    })
                })
                .await?,
            );
            s.manifests
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id.clone(), m.clone());
            m
        }
    };
    if n >= m.piece_count() {
        return Err(ApiError::new(ErrorCode::NotFound, format!("no piece {n}")));
    }
    let (start, end) = m.piece_range(n);
    let bytes = read_storage(&s, &m.path, start, end).await?;
    log_served(&s, &id, &q.device, Some(n), bytes.len());
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

/// The storage gateway: directory storage, read-only, for the content paths
/// published for the asking device's group (nothing else under the
/// directory is reachable, and only enrolled devices get anything).
/// Supports `Range: bytes=A-B`, and streams from the file: memory stays
/// flat however large the file and however many requests run at once.
async fn storage_file(
    State(s): State<AppState>,
    Path(path): Path<String>,
    Query(q): Query<DeviceQuery>,
    headers: HeaderMap,
    _signed: Signed,
) -> Result<Response, ApiError> {
    check_device_id("device", &q.device)?;
    let p = path.clone();
    let device = q.device.clone();
    s.db.call(move |st| {
        let d = enrolled(st, &device)?;
        st.targeted_size_by_path(&p, &d.group_name)?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                format!(
                    "{p} is not a package published for group '{}'",
                    d.group_name
                ),
            )
        })
    })
    .await?;
    let Some(Storage::Dir(root)) = s.storage.clone() else {
        return Err(ApiError::new(
            ErrorCode::StorageUnavailable,
            "the storage gateway serves directory storage only; agents fetch http storage directly",
        ));
    };
    // The file as storage holds it now (after an in-place change and a
    // re-publish the path names the new content), every symlink resolved
    // and checked to stay inside storage.
    let p = path.clone();
    let full = tokio::task::spawn_blocking(move || crate::content::storage::resolve(&root, &p))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::new(ErrorCode::StorageUnavailable, e.to_string()))?;
    let unavailable =
        |e: std::io::Error| ApiError::new(ErrorCode::StorageUnavailable, format!("{path}: {e}"));
    let mut file = tokio::fs::File::open(&full).await.map_err(unavailable)?;
    let size = file.metadata().await.map_err(unavailable)?.len();
    let (start, end) = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(r) => parse_range(r, size)
            .ok_or_else(|| ApiError::new(ErrorCode::BadRequest, format!("bad range {r}")))?,
        None => (0, size),
    };
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    file.seek(std::io::SeekFrom::Start(start))
        .await
        .map_err(unavailable)?;
    let len = end - start;
    let stream = tokio_util::io::ReaderStream::with_capacity(file.take(len), 64 << 10);
    log_served(&s, &path, &q.device, None, len as usize);
    Ok((
        StatusCode::PARTIAL_CONTENT,
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, len.to_string()),
            (
                header::CONTENT_RANGE,
                format!("bytes {start}-{}/{size}", end.saturating_sub(1)),
            ),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}

/// `bytes=A-B` (inclusive) → [A, B+1), clamped to the size.
pub fn parse_range(r: &str, size: u64) -> Option<(u64, u64)> {
    let spec = r.strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let a: u64 = a.trim().parse().ok()?;
    let b: u64 = if b.trim().is_empty() {
        size.saturating_sub(1)
    } else {
        b.trim().parse().ok()?
    };
    (a <= b && a < size).then_some((a, (b + 1).min(size)))
}

fn log_served(s: &ServerState, content: &str, device: &str, piece: Option<u32>, bytes: usize) {
    if let Some(f) = s
        .served_log
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_mut()
    {
        let line = serde_json::json!({
            "at": now(), "content": content, "device": device, "piece": piece, "bytes": bytes,
        });
        let _ = writeln!(f, "{line}");
    }
}

async fn read_storage(
    s: &ServerState,
    path: &str,
    start: u64,
    end: u64,
) -> Result<Bytes, ApiError> {
    let Some(storage) = s.storage.clone() else {
        return Err(ApiError::new(
            ErrorCode::StorageUnavailable,
            "file_storage is not set on the server",
        ));
    };
    let path = path.to_string();
    tokio::task::spawn_blocking(move || storage.read_range(&path, start, end - start))
        .await
        .map_err(ApiError::internal)?
        .map(Bytes::from)
        .map_err(|e| ApiError::new(ErrorCode::StorageUnavailable, e.to_string()))
}

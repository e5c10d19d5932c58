//! `p2pd serve`: the control plane and the central seed.
//!
//! May use: content domain metrics platform store topology trust vault wire
//!
//! `run(listener, state, shutdown)` takes its shutdown trigger as an
//! argument: `main` passes SIGINT/SIGTERM, tests pass whatever they like.
//!
//! SQLite from async code: one writing connection behind a mutex and a few
//! read-only ones, used only inside `spawn_blocking` (see [`StorePool`]). SQLite
//! serializes writers anyway, so more writers would add nothing but lock
//! contention; the readers keep reads going while a write transaction
//! (serve's or an admin command's) holds the lock, and keeping the blocking
//! calls off the runtime threads keeps piece serving responsive.
//!
//! Submodules: [`scheduler`] (leaders and sources), [`decisions`] (why, in
//! words, for `explain`), [`ui`] (the dashboard, `/metrics` and the admin
//! token), [`lock`] (one serve per data dir).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use tokio_util::sync::CancellationToken;

use crate::content::storage::Storage;
use crate::domain::clock::now;
use crate::store::Store;
use crate::store::distribution::Transfer;
use crate::wire::http::{ApiError, Signed};
use crate::wire::proto::*;

pub mod auth;
pub mod beats;
pub mod decisions;
pub mod error;
pub mod fleet;
pub mod keywatch;
pub mod leader;
pub mod liveness;
pub mod lock;
pub mod peerset;
pub mod pool;
pub mod quota;
pub mod recheck;
pub mod roster;
pub mod scheduler;
pub mod seed;
pub mod state;
pub mod ui;

pub use auth::FORWARDED_CERT_HEADER;
use auth::{secret_proves, secret_sha256};
pub use error::ServeError;
pub use pool::StorePool;
pub use state::{AppState, ServeOptions, ServerState, TlsOptions};

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/enroll", post(enroll))
        .route("/v1/heartbeat", post(heartbeat))
        .route("/v1/report", post(report))
        .route("/v1/leave", post(leave))
        .route("/v1/contents/{id}/manifest", get(manifest))
        .route("/v1/contents/{id}/sources", post(sources))
        .route("/v1/contents/{id}/pieces/{n}", get(seed::piece))
        .route("/v1/storage/{*path}", get(seed::storage_file))
        .merge(ui::routes())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ui::track_request,
        ))
        .with_state(state)
}

/// Where this replica is reached, for the `replicas` table: the listening
/// address, or, when listening on all addresses, the server_name setting
/// with the port.
fn replica_url(listener: &tokio::net::TcpListener, fleet: &fleet::Snapshot, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    match listener.local_addr() {
        Ok(a) if !a.ip().is_unspecified() => format!("{scheme}://{a}"),
        Ok(a) => {
            let host = fleet.setting(crate::domain::settings::Setting::ServerName);
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host
            };
            format!("{scheme}://{host}:{}", a.port())
        }
        Err(_) => String::new(),
    }
}

/// Serves until `shutdown` resolves, then stops accepting and drains
/// in-flight requests for at most `drain` before returning.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: ServerState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> Result<(), ServeError> {
    let state = Arc::new(state);
    let token = CancellationToken::new();
    // The fleet watcher stops when this function returns, on any path.
    let watch_stop = CancellationToken::new();
    let _stop_watcher = watch_stop.clone().drop_guard();
    let watcher = {
        let replica = fleet::Replica {
            id: state.replica_id.clone(),
            url: replica_url(&listener, &state.fleet.current(), state.tls.is_some()),
        };
        let (fleet, dir, database, stop) = (
            state.fleet.clone(),
            state.data_dir.clone(),
            state.database.clone(),
            watch_stop.clone(),
        );
        tokio::task::spawn_blocking(move || {
            fleet::watch(fleet, &dir, database.as_deref(), replica, stop)
        })
    };
    let t = token.clone();
    let app = router(state.clone());
    tokio::spawn(async move {
        shutdown.await;
        t.cancel();
    });
    tokio::spawn(keywatch::watch(state.clone(), token.clone()));
    let tls = match &state.tls {
        Some(certs) => Some(Arc::new(
            certs.ca().trust().server_config(certs.clone(), false)?,
        )),
        None => None,
    };
    // One descriptor per connected device: as many as the system allows.
    let open_files = crate::platform::raise_open_files(crate::wire::listen::OPEN_FILES_WANTED);
    let limits = crate::wire::listen::Limits::SERVER.fitted(open_files);
    tracing::info!(max_connections = limits.total, "accepting connections");
    let server = crate::wire::listen::serve(listener, app, token.clone(), limits, tls);
    tokio::select! {
        r = server => r?,
        _ = async { token.cancelled().await; tokio::time::sleep(drain).await } => {
            tracing::warn!("drain timeout: closing remaining connections");
        }
    }
    watch_stop.cancel();
    watcher.await.ok();
    // Close the database last: checkpoint the WAL by dropping the connection.
    state.db.call(|_| Ok(())).await.ok();
    Ok(())
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
    conn: Option<axum::Extension<crate::wire::listen::Conn>>,
    signed: Signed,
) -> Result<axum::Json<EnrollResponse>, ApiError> {
    let req: EnrollRequest = signed.json()?;
    req.validate()?;
    // The device its certificate proves (directly, or through a trusted
    // proxy): `Signed` already refused a body naming another. On plain
    // HTTP nothing is proved.
    let proved = match (&signed.caller, &s.tls) {
        (crate::wire::http::Caller::Device(d), Some(_)) => Some(d.as_str()),
        _ => None,
    };
    let source = conn.as_ref().map(|c| c.0.addr.ip());
    quota::enroll(&s, source, proved, &req).await?;
    let fleet = s.fleet.current();
    if let Some(ip) = source {
        check_claimed_address(&fleet, &req, ip)?;
    }
    let csr = req.csr.clone();
    // Device ids are public (every peer port shows one in its
    // certificate), so naming one proves nothing. An existing id is kept
    // only with a proof that only that device has: its certificate (a
    // renewal), or the secret it was given at its first enrollment (a
    // device whose certificate expired while it was off, or that moved).
    // Without one the request enrolls a new device: holding the key, even
    // with the victim's address, is not enough to become another device.
    let proved_by_cert = proved.is_some() && proved == req.device_id.as_deref();
    let identities = s.tls.is_some();
    let state = s.clone();
    let (mut resp, secret) =
        s.db.call(move |st| {
            let mut req = req;
            if let Some(id) = req.device_id.clone() {
                if let Some(at) = st.retired(&id)? {
                    return Err(retired(&id, at));
                }
                if identities
                    && !proved_by_cert
                    && !secret_proves(st, &id, req.device_secret.as_deref())?
                {
                    if st.device(&id)?.is_some() {
                        tracing::warn!(
                            device = %id,
                            "enrollment under an existing device id without its certificate \
                             or its secret: enrolled as a new device"
                        );
                    }
                    req.device_id = None;
                }
            }
            let resp = enroll_impl(st, &fleet, &state.roster, req)?;
            st.forget_readmitted(&resp.device_id)?;
            // First enrollment (or a device from before secrets): give it
            // the secret it proves itself with from now on. Kept stable:
            // an agent that missed one answer still holds a valid one.
            let secret = match st.device_secret(&resp.device_id)? {
                Some(_) => None,
                None => {
                    let secret = hex::encode(rand::random::<[u8; 32]>());
                    st.set_device_secret(&resp.device_id, &secret_sha256(&secret))?;
                    Some(secret)
                }
            };
            Ok((resp, secret))
        })
        .await?;
    resp.device_secret = secret;
    // Its group or office may have changed: the next heartbeat reads them.
    s.fleet.current().directory.remove(&resp.device_id);
    if let (Some(certs), Some(csr)) = (&s.tls, csr) {
        let pem = certs
            .ca()
            .issue_device(&csr, &resp.device_id, device_cert_lifetime())
            .map_err(|e| match e {
                crate::trust::tls::TlsError::BadCsr(_) => {
                    ApiError::new(ErrorCode::BadRequest, e.to_string())
                }
                other => ApiError::internal(other),
            })?;
        resp.certificate = Some(pem);
    }
    Ok(axum::Json(resp))
}

/// The refusal of a retired device id.
fn retired(id: &str, at: i64) -> ApiError {
    ApiError::new(
        ErrorCode::DeviceRetired,
        format!(
            "device {id} was retired by the admin at {}; it stays refused until an admin \
             runs `p2pd devices readmit {id}` on the server",
            humantime::format_rfc3339_seconds(
                std::time::UNIX_EPOCH + Duration::from_secs(at.max(0) as u64)
            )
        ),
    )
}

/// How long the device certificates this server issues are valid.
fn device_cert_lifetime() -> Duration {
    // Test-only fault switch: short-lived certificates, to see agents renew.
    #[cfg(feature = "fault-injection")]
    if let Some(secs) = std::env::var("P2PD_FAULT_DEVICE_CERT_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return Duration::from_secs(secs);
    }
    crate::trust::tls::DEVICE_CERT_LIFETIME
}

/// Unless `trust_claimed_addresses` is on, the address an enrolling device
/// claims must be the one it connects from (an IPv4-mapped IPv6 source
/// counts as IPv4). A claim of the other family cannot be compared, so it
/// is refused too.
fn check_claimed_address(
    fleet: &fleet::Snapshot,
    req: &EnrollRequest,
    source: IpAddr,
) -> Result<(), ApiError> {
    if fleet.setting(crate::domain::settings::Setting::TrustClaimedAddresses) == "on" {
        return Ok(());
    }
    let source = source.to_canonical();
    let Some(claimed) = req.addrs.first().map(|a| a.ip.to_canonical()) else {
        return Ok(()); // validate() refuses an empty list
    };
    if claimed == source {
        return Ok(());
    }
    if claimed.is_ipv4() != source.is_ipv4() {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!(
                "this device claims address {claimed} but connects from {source}, an address \
                 of the other family, so the claim cannot be checked; an agent must connect \
                 from the address it advertises (--advertise). Behind NAT or a proxy, an admin \
                 can accept claimed addresses with \
                 `p2pd settings set trust_claimed_addresses on`"
            ),
        ));
    }
    Err(ApiError::new(
        ErrorCode::BadRequest,
        format!(
            "this device claims address {claimed} but connects from {source}; \
             an agent must connect from the address it advertises (--advertise). \
             Behind NAT or a proxy, an admin can accept claimed addresses with \
             `p2pd settings set trust_claimed_addresses on`"
        ),
    ))
}

fn setting(f: &fleet::Snapshot, s: crate::domain::settings::Setting) -> Result<String, ApiError> {
    Ok(f.setting(s))
}

fn heartbeat_secs(f: &fleet::Snapshot) -> Result<u64, ApiError> {
    Ok(setting(f, crate::domain::settings::Setting::HeartbeatSecs)?
        .parse()
        .unwrap_or(10))
}

fn enroll_impl(
    st: &mut Store,
    fleet: &fleet::Snapshot,
    roster: &roster::Roster,
    req: EnrollRequest,
) -> Result<EnrollResponse, ApiError> {
    use crate::domain::settings::{Setting, parse_version};
    let min = setting(fleet, Setting::MinClientVersion)?;
    let max = setting(fleet, Setting::MaxClientVersion)?;
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
    if !fleet.group_assigned(&req.group) {
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
    let office_id = crate::topology::place_device(st, &fleet.lookup, ip, addr.prefix)
        .map_err(ApiError::internal)?;
    st.set_device_office(&row.id, office_id)?;
    // Both offices' rosters changed: a new member is one on its first call.
    for o in [row.office_id, office_id].into_iter().flatten() {
        roster.forget(o);
    }
    let office = match office_id {
        // An auto office created just now is not in the snapshot yet.
        Some(id) => match fleet.office(id) {
            Some(o) => Some(o.clone()),
            None => st.office(id)?,
        },
        None => None,
    };
    let serve_peers = office.as_ref().is_some_and(|o| o.kind.serves_peers());
    Ok(EnrollResponse {
        device_id: row.id,
        office: office.as_ref().map(|o| o.name.clone()),
        office_kind: office.map(|o| o.kind.to_string()),
        heartbeat_secs: heartbeat_secs(fleet)?,
        license_activated_at: row.license_activated_at.unwrap_or_else(now),
        serve_peers,
        server_time: now(),
        certificate: None,
        device_secret: None,
    })
}

/// Loads an enrolled device whose group is still assigned.
fn enrolled(
    st: &Store,
    fleet: &fleet::Snapshot,
    id: &str,
) -> Result<crate::store::devices::DeviceRow, ApiError> {
    let d = st.device(id)?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotEnrolled,
            format!("device {id} is not enrolled; enroll again"),
        )
    })?;
    if !fleet.group_assigned(&d.group_name) {
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
    let mut req: HeartbeatRequest = signed.json()?;
    // The device is the certificate's, whatever the body says (a body that
    // names another was refused by `Signed`).
    req.device_id = signed.device()?.to_string();
    req.validate()?;
    // Written by the next group commit (see `beats`).
    s.beats.submit(&s, req).await.map(axum::Json)
}

async fn manifest(
    State(s): State<AppState>,
    Path(id): Path<String>,
    signed: Signed,
) -> Result<axum::Json<Manifest>, ApiError> {
    let device = signed.device()?.clone();
    check_device_id("device", &device)?;
    check_content_id("content id", &id)?;
    let fleet = s.fleet.current();
    s.db.call(move |st| {
        let d = enrolled(st, &fleet, &device)?;
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
    check_targeted(st, id, group)?;
    Ok(m)
}

/// Refuses a content not targeted at `group`.
fn check_targeted(st: &Store, id: &str, group: &str) -> Result<(), ApiError> {
    if !st.is_targeted(id, group)? {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("content {id} is not targeted at group '{group}'"),
        ));
    }
    Ok(())
}

/// [`targeted_manifest`] from the seed's manifest cache.
fn targeted_manifest_cached(
    s: &ServerState,
    st: &Store,
    id: &str,
    group: &str,
) -> Result<Arc<Manifest>, ApiError> {
    let m = s.seed.manifest(st, id)?;
    check_targeted(st, id, group)?;
    Ok(m)
}

/// `agent_cache_mb` in bytes; None when unset or 0 (no limit).
fn cache_limit(f: &fleet::Snapshot) -> Result<Option<u64>, ApiError> {
    Ok(f.setting_raw("agent_cache_mb")
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&mb| mb > 0)
        .map(|mb| mb << 20))
}

async fn sources(
    State(s): State<AppState>,
    Path(id): Path<String>,
    signed: Signed,
) -> Result<axum::Json<SourcesResponse>, ApiError> {
    let mut req: SourcesRequest = signed.json()?;
    req.device_id = signed.device()?.to_string();
    check_device_id("device_id", &req.device_id)?;
    check_content_id("content id", &id)?;
    let mut plan = plan_sources(&s, &id, &req, false).await?;
    // A follower reported its leader and nothing confirmed it yet: the
    // server's own probe is the second signal.
    if let Some(url) = plan.probe.take()
        && !probe_answers(&s.probe, &url).await
    {
        tracing::warn!(leader = %url, content = %id, "reported leader does not answer the server's probe");
        plan = plan_sources(&s, &id, &req, true).await?;
    }
    s.seed
        .decided(&id, &req.device_id, plan.server_seeds, plan.replaced.take());
    Ok(axum::Json(plan.response))
}

async fn plan_sources(
    s: &AppState,
    id: &str,
    req: &SourcesRequest,
    probe_failed: bool,
) -> Result<scheduler::Plan, ApiError> {
    let storage_url = match &s.seed.storage {
        Some(Storage::Http(u)) => Some(u.to_string()),
        _ => None,
    };
    let board = s.board.clone();
    let id = id.to_string();
    let req = req.clone();
    let fleet = s.fleet.current();
    let state = s.clone();
    // Usually only reads (a follower asking again, the same leader): on a
    // read connection, so that a write transaction held elsewhere (an
    // import) does not stall it. An election or a changed decision writes:
    // then again on the writer.
    s.db.read_or_write(move |st| {
        let d = enrolled(st, &fleet, &req.device_id)?;
        let m = targeted_manifest_cached(&state, st, &id, &d.group_name)?;
        let hb = heartbeat_secs(&fleet)? as i64;
        let cdn = setting(&fleet, crate::domain::settings::Setting::CdnUrl)?;
        let ends = scheduler::Endpoints {
            cdn: (!cdn.is_empty()).then_some(cdn),
            storage_url: storage_url.clone(),
        };
        let mut board = board.lock();
        let at_ms = crate::domain::clock::now_ms();
        let at = at_ms / 1000;
        // Replicas on one PostgreSQL: one election per content at a time.
        let plan = st.for_content_exclusively(&id, |st| {
            let plan = scheduler::plan(
                st,
                &mut board,
                &state.roster,
                &scheduler::Timing::new(hb),
                &ends,
                &id,
                &m.path,
                &d,
                req.suspect.as_ref().map(|suspect| scheduler::Complaint {
                    suspect,
                    probe_failed,
                }),
                at,
                at_ms,
            )?;
            decisions::record_sources(st, &d, &id, m.piece_count(), &plan.response, at)?;
            Ok(plan)
        })?;
        Ok(plan)
    })
    .await
}

/// Whether a peer answers at all: any HTTP response counts (an unsigned
/// request gets `unsigned` from a live agent); a refused connection or
/// silence past [`state::PROBE_TIMEOUT`] does not.
async fn probe_answers(client: &reqwest::Client, peer_url: &str) -> bool {
    let url = format!("{}/v1/status", peer_url.trim_end_matches('/'));
    client.get(url).send().await.is_ok()
}

/// An agent that is stopping hands over its leadership before it exits.
async fn leave(State(s): State<AppState>, signed: Signed) -> Result<StatusCode, ApiError> {
    let mut req: LeaveRequest = signed.json()?;
    req.device_id = signed.device()?.to_string();
    let board = s.board.clone();
    let dev = req.device_id.clone();
    let fleet = s.fleet.current();
    let handed =
        s.db.call(move |st| {
            let d = st
                .device(&req.device_id)?
                .ok_or_else(|| ApiError::new(ErrorCode::NotEnrolled, "device is not enrolled"))?;
            let hb = heartbeat_secs(&fleet)? as i64;
            let mut board = board.lock();
            Ok(scheduler::hand_over(
                st,
                &mut board,
                &scheduler::Timing::new(hb),
                &d,
                now(),
                crate::domain::clock::now_ms(),
            )?)
        })
        .await?;
    s.seed.forget_device(&dev);
    tracing::info!(device = %dev, handed_over = handed, "device leaving");
    Ok(StatusCode::NO_CONTENT)
}

async fn report(State(s): State<AppState>, signed: Signed) -> Result<StatusCode, ApiError> {
    let mut req: ReportRequest = signed.json()?;
    req.device_id = signed.device()?.to_string();
    let state = s.clone();
    req.validate()?;
    let _admitted = quota::report(&s, &req)?;
    s.db.call(move |st| {
        let t = std::time::Instant::now();
        let d = st.device(&req.device_id)?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotEnrolled,
                "device is not enrolled; enroll again",
            )
        })?;
        for t in &req.transfers {
            let transfer = Transfer {
                content_id: &t.content_id,
                tier: t.tier.as_str(),
                source_device: t.source_device.as_deref(),
                bytes: t.bytes,
                pieces: t.pieces,
                ok: t.ok,
            };
            st.record_transfer(&transfer, &d.id, d.office_id)?;
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
        recheck::reported(&state, st, &d.id, &req.bad)?;
        state.metrics.observe_write(
            "report",
            req.transfers.len() + req.uploads.len() + req.bad.len(),
            t.elapsed(),
        );
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

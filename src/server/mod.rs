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
//! Here: [`run`] (the listener and the background tasks) and [`router`].
//! Submodules: [`state`] (what handlers share, built from
//! [`ServeOptions`]), [`pool`] (the database), [`auth`] (who a request is
//! from, key refusals), [`api`] (the agents' routes), [`seed`] (pieces and
//! the storage gateway), [`beats`] (heartbeat group commit), [`fleet`] and
//! [`settings`] (the fleet's configuration in memory), [`keywatch`] (key
//! regenerates while serving), [`scheduler`] and [`leader`] (leaders and
//! sources), [`decisions`] (why, in words, for `explain`), [`quota`],
//! [`recheck`] (bad-piece reports), [`ui`] (the dashboard, `/metrics` and
//! the admin token), [`lock`] (one serve per data dir), [`error`],
//! [`faults`] (test-only switches).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub mod api;
pub mod auth;
pub mod beats;
pub mod decisions;
pub mod error;
pub mod faults;
pub mod fleet;
pub mod keywatch;
pub mod leader;
pub mod liveness;
pub mod lock;
pub mod peerset;
pub mod pool;
pub mod quota;
pub mod reachability;
pub mod recheck;
pub mod relocate;
pub mod roster;
pub mod scheduler;
pub mod seed;
pub mod settings;
pub mod state;
pub mod ui;

pub use auth::FORWARDED_CERT_HEADER;
pub use error::ServeError;
pub use pool::StorePool;
pub use state::{AppState, ServeOptions, ServerState, TlsOptions};

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/status", get(api::status))
        .route("/v1/enroll", post(api::enroll::enroll))
        .route("/v1/heartbeat", post(api::heartbeat::heartbeat))
        .route("/v1/report", post(api::report::report))
        .route("/v1/leave", post(api::leave::leave))
        .route("/v1/contents/{id}/manifest", get(api::content::manifest))
        .route("/v1/contents/{id}/sources", post(api::content::sources))
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
///
/// The background tasks (the fleet watcher, the key watcher and the
/// heartbeat writer) run in one [`TaskTracker`]: the key watcher stops at
/// `shutdown`, the other two once the requests have drained (the writer
/// commits what is queued first), and this returns only when all three
/// have ended.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: ServerState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> Result<(), ServeError> {
    let state = Arc::new(state);
    let tls = match &state.tls {
        Some(certs) => Some(Arc::new(
            certs.ca().trust().server_config(certs.clone(), false)?,
        )),
        None => None,
    };
    // `token`: stop accepting (at `shutdown`); `stop`: the background
    // tasks, once the server has stopped. Both on every path out of here.
    let (token, stop) = (CancellationToken::new(), CancellationToken::new());
    let _guards = (token.clone().drop_guard(), stop.clone().drop_guard());
    let tasks = TaskTracker::new();
    let replica = fleet::Replica {
        id: state.replica_id.clone(),
        url: replica_url(&listener, &state.fleet.current(), state.tls.is_some()),
    };
    let (fleet, dir, database, watch_stop) = (
        state.fleet.clone(),
        state.data_dir.clone(),
        state.database.clone(),
        stop.clone(),
    );
    tasks.spawn_blocking(move || {
        fleet::watch(fleet, &dir, database.as_deref(), replica, watch_stop)
    });
    tasks.spawn(keywatch::watch(state.clone(), token.clone()));
    state.beats.start(&state, &tasks, stop.clone());
    let t = token.clone();
    tokio::spawn(async move {
        shutdown.await;
        t.cancel();
    });
    // One descriptor per connected device: as many as the system allows.
    let open_files = crate::platform::raise_open_files(crate::wire::listen::OPEN_FILES_WANTED);
    let limits = crate::wire::listen::Limits::SERVER.fitted(open_files);
    tracing::info!(max_connections = limits.total, "accepting connections");
    let server =
        crate::wire::listen::serve(listener, router(state.clone()), token.clone(), limits, tls);
    let served = tokio::select! {
        r = server => r.map_err(ServeError::from),
        _ = async { token.cancelled().await; tokio::time::sleep(drain).await } => {
            tracing::warn!("drain timeout: closing remaining connections");
            Ok(())
        }
    };
    token.cancel();
    stop.cancel();
    tasks.close();
    tasks.wait().await;
    // Close the database last: checkpoint the WAL by dropping the connection.
    state.db.call(|_| Ok(())).await.ok();
    served
}

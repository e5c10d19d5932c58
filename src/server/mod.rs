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

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use tokio_util::sync::CancellationToken;

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
pub mod recheck;
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

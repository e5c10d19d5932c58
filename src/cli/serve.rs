//! `p2pd serve`: run the control plane and central seed until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;

use super::{Global, fail};
use crate::exit::ExitCode;
use crate::server;
use crate::settings::Setting;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (default: the server_name setting and port)
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    // The server is built and tested on Linux only (SQLite WAL on a local
    // file system, systemd hardening, the netns benchmark). Say so rather
    // than half-work.
    if !crate::platform::SERVER_SUPPORTED {
        return Err(fail(
            ExitCode::Usage,
            format!(
                "p2pd serve runs on Linux only (this is {}); run the server on a Linux host. \
                 On Windows, `p2pd agent` and admin commands such as `p2pd health --server URL` work",
                crate::platform::OS
            ),
        ));
    }
    let dir = g.data_dir();
    let state = server::ServerState::load(&dir)?;
    let listen = match a.listen {
        Some(l) => l,
        None => {
            let st = crate::store::Store::open(&dir)?;
            let get = |s: Setting| -> anyhow::Result<String> {
                Ok(st.setting(s.name())?.unwrap_or_else(|| s.default_value()))
            };
            let port: u16 = get(Setting::Port)?.parse().context("port setting")?;
            let host = get(Setting::ServerName)?;
            // A host name is not an address to bind: listen on all.
            let ip = host.parse().unwrap_or([0, 0, 0, 0].into());
            SocketAddr::new(ip, port)
        }
    };
    // Before binding, so a second serve is told who holds the data dir
    // rather than "address in use". Moved into the runtime's
    // task below and held until the server has stopped.
    let mut lock = server::lock::ServeLock::acquire(&dir, &format!("http://{listen}"))
        .map_err(|e| fail(ExitCode::Failed, e.to_string()))?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
            fail(
                ExitCode::Failed,
                format!("cannot listen on {listen}: {e}; pick another --listen or change the port setting"),
            )
        })?;
        // `--listen ADDR:0` binds a free port: name the one bound.
        let listen = listener.local_addr().unwrap_or(listen);
        lock.record(&format!("http://{listen}"))
            .map_err(|e| fail(ExitCode::Failed, e.to_string()))?;
        eprintln!("p2pd serve: listening on http://{listen} (data dir {})", dir.display());
        let shutdown = async {
            shutdown_signal().await;
            tracing::info!("shutting down");
        };
        server::run(listener, state, shutdown, Duration::from_secs(10)).await
    })?;
    Ok(ExitCode::Ok)
}

/// Resolves on SIGINT or SIGTERM (Ctrl-C, console close or a service stop
/// on Windows). Logs nothing: each daemon says it is stopping in its own
/// words (and log target).
pub async fn shutdown_signal() {
    crate::platform::shutdown_signal().await;
}

//! `p2pd serve`: run the control plane and central seed until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;

use super::{Global, fail};
use crate::cli::exit::ExitCode;
use crate::domain::settings::Setting;
use crate::server;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (default: the server_name setting and port)
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// A host name or address agents use to reach this server, put in the
    /// server certificate (repeat for several). The listen address, the
    /// server_name setting and, on a wildcard listen, localhost and
    /// 127.0.0.1 are always in it
    #[arg(long, value_name = "NAME")]
    pub tls_name: Vec<String>,
    /// Address of a TLS-terminating load balancer in front of this server
    /// (repeat for several): its requests may forward the client's device
    /// certificate in the X-P2PD-Client-Cert header, which is verified
    /// against the CA. Ignored from any other address
    #[arg(long, value_name = "IP", conflicts_with = "insecure_plain_http")]
    pub trusted_proxy: Vec<std::net::IpAddr>,
    /// Serve plain HTTP: no TLS, no device certificates. For benchmarks
    /// only, with agents started with --insecure-plain-http
    #[arg(long)]
    pub insecure_plain_http: bool,
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
    let st = crate::store::Store::open_at(&dir, g.database.as_deref())?;
    let get = |s: Setting| -> anyhow::Result<String> {
        Ok(st.setting(s.name())?.unwrap_or_else(|| s.default_value()))
    };
    let server_name = get(Setting::ServerName)?;
    let listen = match a.listen {
        Some(l) => l,
        None => {
            let port: u16 = get(Setting::Port)?.parse().context("port setting")?;
            // A host name is not an address to bind: listen on all.
            let ip = server_name.parse().unwrap_or([0, 0, 0, 0].into());
            SocketAddr::new(ip, port)
        }
    };
    drop(st);
    // With TLS, the certificate comes from the server CA in the database
    // (every replica presents the same one).
    let tls = (!a.insecure_plain_http).then(|| server::TlsOptions {
        names: crate::trust::tls::server_names(listen.ip(), &server_name, &a.tls_name),
    });
    let options = server::ServeOptions {
        data_dir: dir.clone(),
        database: g.database.clone(),
        tls,
        trusted_proxies: a.trusted_proxy.clone(),
    };
    let state = server::ServerState::load(options).map_err(serve_error)?;
    let scheme = if let Some(certs) = &state.tls {
        eprintln!(
            "p2pd serve: TLS certificate for {} (CA {})",
            certs.names().join(", "),
            certs.ca().fingerprint()
        );
        "https"
    } else {
        tracing::warn!("serving plain HTTP (--insecure-plain-http): no TLS, no device identities");
        "http"
    };
    // Before binding, so a second serve is told who holds the data dir
    // rather than "address in use". Moved into the runtime's
    // task below and held until the server has stopped.
    let mut lock = server::lock::ServeLock::acquire(&dir, &format!("{scheme}://{listen}"))
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
        lock.record(&format!("{scheme}://{listen}"))
            .map_err(|e| fail(ExitCode::Failed, e.to_string()))?;
        eprintln!("p2pd serve: listening on {scheme}://{listen} (data dir {})", dir.display());
        let shutdown = async {
            shutdown_signal().await;
            tracing::info!("shutting down");
        };
        server::run(listener, state, shutdown, Duration::from_secs(10))
            .await
            .map_err(serve_error)
    })?;
    Ok(ExitCode::Ok)
}

/// serve's error as the CLI reports it, in the same words: the store's and
/// I/O errors as themselves (so that `exit_code_of` finds a store that is
/// not installed), the CA's as a failure and the certificate's as a usage
/// error, each in one line.
fn serve_error(e: server::ServeError) -> anyhow::Error {
    use server::ServeError as E;
    match e {
        E::Store(e) => e.into(),
        E::Io(e) => e.into(),
        E::Ca(e) => fail(ExitCode::Failed, e.to_string()),
        E::Certificate(e) => fail(ExitCode::Usage, e.to_string()),
        e => e.into(),
    }
}

/// Resolves on SIGINT or SIGTERM (Ctrl-C, console close or a service stop
/// on Windows). Logs nothing: each daemon says it is stopping in its own
/// words (and log target).
pub async fn shutdown_signal() {
    crate::platform::shutdown_signal().await;
}

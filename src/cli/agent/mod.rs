//! `p2pd agent`: the peer client on a device.

pub mod connect;
pub mod install;
pub mod service;

use std::net::SocketAddr;
use std::path::PathBuf;

use super::fail;
use crate::agent;
use crate::cli::exit::ExitCode;
use crate::trust::key::SharedKey;

/// `p2pd agent [OPTIONS]` runs the agent; `p2pd agent install` deploys it.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Command {
    #[command(subcommand)]
    pub sub: Option<Sub>,
    #[command(flatten)]
    pub connect: Option<connect::Connect>,
    #[command(flatten)]
    pub run: Args,
    /// The agent's own data directory (piece store, delivered files,
    /// transfer log), never the server's; also P2PD_AGENT_DATA_DIR
    /// [default: /var/lib/p2pd-agent]
    // Same id as the global server --data-dir, so it replaces that one
    // (help, env) for `agent` and `agent install`.
    #[arg(
        long = "data-dir",
        id = "data_dir",
        global = true,
        env = "P2PD_AGENT_DATA_DIR",
        value_name = "DIR"
    )]
    pub data_dir: Option<PathBuf>,
}

impl Command {
    /// `--data-dir`, else `P2PD_AGENT_DATA_DIR`, else
    /// [`agent::default_data_dir`].
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(agent::default_data_dir)
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Deploy the agent on this device: write its configuration, a copy of
    /// the key and the p2pd-agent service (a systemd unit; on Windows a
    /// service of the service control manager)
    Install(Box<install::Args>),
    /// Remove what `agent install` wrote (and stop and delete the Windows
    /// service); the data dir is kept
    Uninstall(install::UninstallArgs),
    /// What the Windows service runs: the agent from the configuration
    /// `agent install` wrote, under the service control manager
    #[command(hide = true)]
    Service(service::ServiceArgs),
}

/// Runs the agent, or its subcommand.
pub fn command(g: &super::Global, c: Command) -> anyhow::Result<ExitCode> {
    let _ = g;
    let data_dir = c.data_dir();
    match (c.sub, c.connect) {
        (Some(Sub::Install(a)), _) => install::run(&data_dir, *a),
        (Some(Sub::Uninstall(a)), _) => install::uninstall(&data_dir, a),
        (Some(Sub::Service(a)), _) => service::service(a),
        (None, Some(connect)) => run(&data_dir, connect, c.run),
        // clap requires --server, --key-file and --group without a
        // subcommand, so this is only reached if that changes.
        (None, None) => Err(fail(
            ExitCode::Usage,
            "give --server, --key-file and --group to run the agent, or `p2pd agent install --help`",
        )),
    }
}

/// What only the running agent takes (next to [`Connect`]).
///
/// [`Connect`]: connect::Connect
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Prefix length of the subnet of --advertise or --source-address
    /// (default /24, /64 for IPv6); interface addresses carry their own
    #[arg(long, value_name = "BITS")]
    pub prefix_len: Option<u8>,
    /// Command to run after each delivery, with the delivered file's path
    /// as its argument (and in P2PD_DELIVERED). Files are delivered to
    /// DATA_DIR/delivered/NAME/VERSION/FILE, one directory per package
    /// name and version, so packages never overwrite each other
    #[arg(long, value_name = "CMD")]
    pub on_complete: Option<String>,
    /// Pieces in flight per content
    #[arg(long, default_value_t = 8)]
    pub parallel: usize,
    /// Serve this agent's Prometheus metrics at http://ADDR/metrics (off by
    /// default; no credentials, so bind it to a loopback or management address)
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics_listen: Option<SocketAddr>,
}

/// Loads a device's copy of the shared key (a usage error, with the
/// device's advice, if it is missing or corrupt).
pub fn load_device_key(path: &std::path::Path) -> anyhow::Result<SharedKey> {
    SharedKey::load_on_device(path).map_err(|e| fail(ExitCode::Usage, e.to_string()))
}

pub fn run(data_dir: &std::path::Path, c: connect::Connect, a: Args) -> anyhow::Result<ExitCode> {
    let key = load_device_key(&c.key_file)?;
    if let Some(ad) = c.advertise
        && (ad.ip().is_unspecified() || ad.port() == 0)
    {
        return Err(fail(
            ExitCode::Usage,
            format!(
                "--advertise {ad} is not an address other devices can reach; give the device's \
                 reachable ADDR:PORT (behind NAT: the forwarded one), or leave --advertise out \
                 and the server uses the address it sees"
            ),
        ));
    }
    let key_file = std::path::absolute(&c.key_file).unwrap_or_else(|_| c.key_file.clone());
    let (servers, _, ca) = c.servers_and_ca()?;
    let mut cfg = agent::Config {
        servers,
        key,
        key_file: Some(key_file.clone()),
        group: c.group,
        // Absolute: `--on-complete` gets the delivered file's full path
        // even from a relative --data-dir.
        data_dir: std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf()),
        listen: c.listen,
        advertise: c.advertise,
        source: c.source_address,
        prefix_len: a.prefix_len,
        on_complete: a.on_complete,
        // Tests impersonate old clients through this variable.
        version: std::env::var("P2PD_CLIENT_VERSION").unwrap_or_else(|_| crate::VERSION.into()),
        hostname: crate::platform::hostname(),
        parallel: a.parallel,
        tls: None,
    };
    let (metrics_listen, pin) = (a.metrics_listen, c.ca_fingerprint);
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        if let Some(src) = &ca {
            let trust = crate::agent::ca::pinned_agent_trust(
                src,
                pin.as_deref(),
                &cfg.servers,
                &cfg.data_dir,
            )
            .await
            .map_err(|e| fail(ExitCode::Usage, e.to_string()))?;
            tracing::info!(ca = %trust.fingerprint(), "trusting the server CA");
            cfg.tls = Some(trust);
        }
        let cannot = |e: std::io::Error| {
            fail(
                ExitCode::Failed,
                format!(
                    "cannot listen on {}: {e}; pick a free port with --listen ADDR:PORT",
                    cfg.listen
                ),
            )
        };
        let listener = crate::platform::net::bind_listener(cfg.listen)
            .and_then(tokio::net::TcpListener::from_std)
            .map_err(cannot)?;
        // `--listen ADDR:0` binds a free port: report and name the one
        // bound (tests start many agents this way, with no port race).
        if let Ok(bound) = listener.local_addr() {
            cfg.listen = bound;
            let scheme = if cfg.tls.is_some() { "https" } else { "http" };
            eprintln!("p2pd agent: listening on {scheme}://{bound}");
        }
        let token = tokio_util::sync::CancellationToken::new();
        if let Some(addr) = metrics_listen {
            crate::metrics::spawn_agent_metrics(addr, token.clone())
                .await
                .map_err(|e| {
                    fail(
                        ExitCode::Usage,
                        format!(
                            "cannot listen on --metrics-listen {addr}: {e}; pick a free address"
                        ),
                    )
                })?;
        }
        let t = token.clone();
        tokio::spawn(async move {
            super::serve::shutdown_signal().await;
            t.cancel();
        });
        agent::run(cfg, listener, token)
            .await
            .map_err(|e| match &e {
                agent::AgentError::Refused(w)
                    if w.code == crate::wire::proto::ErrorCode::KeyMismatch =>
                {
                    fail(
                        ExitCode::KeyMismatch,
                        format!("{e}\nThis agent's key file is {}.", key_file.display()),
                    )
                }
                _ => fail(ExitCode::Failed, e.to_string()),
            })
    })?;
    Ok(ExitCode::Ok)
}

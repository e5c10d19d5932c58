//! `p2pd agent`: the peer client on a device.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::fail;
use crate::agent;
use crate::exit::ExitCode;
use crate::key::SharedKey;

/// `p2pd agent [OPTIONS]` runs the agent; `p2pd agent install` deploys it.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Command {
    #[command(subcommand)]
    pub sub: Option<Sub>,
    #[command(flatten)]
    pub run: Option<Args>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Deploy the agent on this device: write its configuration, a copy of
    /// the key and the p2pd-agent service (a systemd unit; on Windows a
    /// service of the service control manager)
    Install(super::agent_install::Args),
    /// Remove what `agent install` wrote (and stop and delete the Windows
    /// service); the data dir is kept
    Uninstall(super::agent_install::UninstallArgs),
    /// What the Windows service runs: the agent from the configuration
    /// `agent install` wrote, under the service control manager
    #[command(hide = true)]
    Service(super::agent_install::ServiceArgs),
}

/// Runs the agent, or its subcommand.
pub fn command(g: &super::Global, c: Command) -> anyhow::Result<ExitCode> {
    match (c.sub, c.run) {
        (Some(Sub::Install(a)), _) => super::agent_install::run(g, a),
        (Some(Sub::Uninstall(a)), _) => super::agent_install::uninstall(g, a),
        (Some(Sub::Service(a)), _) => super::agent_install::service(g, a),
        (None, Some(a)) => run(g, a),
        // clap requires --server, --key-file and --group without a
        // subcommand, so this is only reached if that changes.
        (None, None) => Err(fail(
            ExitCode::Usage,
            "give --server, --key-file and --group to run the agent, or `p2pd agent install --help`",
        )),
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Server URL, e.g. http://10.0.0.5:7650
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// File holding the shared key (base64, as printed by install)
    #[arg(long, value_name = "FILE")]
    pub key_file: PathBuf,
    /// The device's group (must be assigned to peer distribution)
    #[arg(long, value_name = "GROUP")]
    pub group: String,
    /// Address the peer server listens on
    #[arg(long, default_value = "0.0.0.0:7651", value_name = "ADDR:PORT")]
    pub listen: SocketAddr,
    /// Address other devices reach this one at; also the source address
    /// of its connections (default: --listen)
    #[arg(long, value_name = "ADDR:PORT")]
    pub advertise: Option<SocketAddr>,
    /// Prefix length of the device's subnet (default /24, /64 for IPv6)
    #[arg(long, value_name = "BITS")]
    pub prefix_len: Option<u8>,
    /// Command to run with the delivered file's path as its argument
    #[arg(long, value_name = "CMD")]
    pub on_complete: Option<String>,
    /// Pieces in flight per content
    #[arg(long, default_value_t = 8)]
    pub parallel: usize,
}

pub fn run(g: &super::Global, a: Args) -> anyhow::Result<ExitCode> {
    let key = SharedKey::load(&a.key_file).map_err(|e| fail(ExitCode::Usage, e.to_string()))?;
    // --data-dir is the agent's own dir here: piece store, delivered files.
    // Without one, the agent's system dir (never the server's).
    let data_dir = g
        .data_dir
        .clone()
        .unwrap_or_else(crate::platform::default_agent_data_dir);
    let advertise = a.advertise.unwrap_or(a.listen);
    if advertise.ip().is_unspecified() {
        return Err(fail(
            ExitCode::Usage,
            format!(
                "--listen {} is a wildcard address; give --advertise ADDR:PORT, the address other devices reach this one at",
                a.listen
            ),
        ));
    }
    let prefix_len = a
        .prefix_len
        .unwrap_or(if advertise.is_ipv4() { 24 } else { 64 });
    let cfg = agent::Config {
        server: a.server.trim_end_matches('/').to_string(),
        key,
        group: a.group,
        data_dir,
        listen: a.listen,
        advertise,
        prefix_len,
        on_complete: a.on_complete,
        // Tests impersonate old clients through this variable.
        version: std::env::var("P2PD_CLIENT_VERSION").unwrap_or_else(|_| crate::VERSION.into()),
        hostname: hostname(),
        parallel: a.parallel,
    };
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|e| {
                fail(
                    ExitCode::Failed,
                    format!("cannot listen on {}: {e}", cfg.listen),
                )
            })?;
        let token = tokio_util::sync::CancellationToken::new();
        let t = token.clone();
        tokio::spawn(async move {
            super::serve::shutdown_signal().await;
            t.cancel();
        });
        agent::run(cfg, listener, token)
            .await
            .map_err(|e| match &e {
                agent::AgentError::Refused(w) if w.code == crate::proto::ErrorCode::KeyMismatch => {
                    fail(ExitCode::KeyMismatch, e.to_string())
                }
                _ => fail(ExitCode::Failed, e.to_string()),
            })
    })?;
    Ok(ExitCode::Ok)
}

fn hostname() -> String {
    crate::platform::hostname()
}

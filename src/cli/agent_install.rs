//! `p2pd agent install`: deploys the agent on a device — its configuration,
//! a copy of the shared key (0600) and the `p2pd-agent.service` unit.
//! This is what a device-management tool runs on each device of an
//! assigned group.

use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::fail;
use crate::deploy::{self, AgentConfig, Outcome};
use crate::exit::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Server URL, e.g. http://10.0.0.5:7650
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// File holding the shared key (base64, as printed by install); copied
    /// to /etc/p2pd/agent.key. Re-run with a new key file after `p2pd key
    /// regenerate`: the running agent picks the new key up
    #[arg(long, value_name = "FILE")]
    pub key_file: PathBuf,
    /// The device's group (must be assigned to peer distribution)
    #[arg(long, value_name = "GROUP")]
    pub group: String,
    /// Address the agent's peer server listens on
    #[arg(long, default_value = "0.0.0.0:7651", value_name = "ADDR:PORT")]
    pub listen: SocketAddr,
    /// Address other devices reach this one at (default: the address this
    /// host uses to reach the server, with the --listen port)
    #[arg(long, value_name = "ADDR:PORT")]
    pub advertise: Option<SocketAddr>,
    /// Write below DIR instead of / (DIR/etc/p2pd, DIR/etc/systemd/system)
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Overwrite files that differ from what would be written. Not needed
    /// for a new key (--key-file) or a new p2pd binary: those are replaced
    /// whenever they differ
    #[arg(long)]
    pub force: bool,
}

pub fn run(data_dir: &Path, a: Args) -> anyhow::Result<ExitCode> {
    let key = super::agent::load_device_key(&a.key_file)?;
    let server = a.server.trim_end_matches('/').to_string();
    let host_port = server
        .strip_prefix("http://")
        .or_else(|| server.strip_prefix("https://"))
        .filter(|r| !r.is_empty() && !r.contains('/'))
        .ok_or_else(|| {
            fail(
                ExitCode::Usage,
                format!(
                    "--server {}: expected a URL like http://10.0.0.5:7650",
                    a.server
                ),
            )
        })?;
    let group = crate::content::groups::validate_group_name(&a.group)
        .map_err(|e| fail(ExitCode::Usage, e.to_string()))?;
    let advertise = match a.advertise {
        Some(ad) => ad,
        None if !a.listen.ip().is_unspecified() => a.listen,
        None => SocketAddr::new(route_to(host_port)?, a.listen.port()),
    };
    // The agent's own state dir (--data-dir, P2PD_AGENT_DATA_DIR, or its
    // default), never the server's.
    let data_dir =
        std::path::absolute(data_dir).with_context(|| format!("{}", data_dir.display()))?;
    let exe = std::env::current_exe().context("cannot find the p2pd executable")?;
    let files = deploy::agent_files(
        &exe,
        &AgentConfig {
            server,
            group,
            listen: a.listen.to_string(),
            advertise: advertise.to_string(),
            data_dir,
            key_base64: key.to_base64(),
        },
    )
    .map_err(|e| fail(ExitCode::Usage, e.to_string()))?;
    let done = deploy::apply(&a.root, &files, a.force).map_err(|e| match e {
        deploy::DeployError::Changed(_) => fail(ExitCode::Failed, e.to_string()),
        _ => anyhow::Error::new(e),
    })?;
    report(&done, &a.root, "p2pd-agent")?;
    let key_replaced = done
        .iter()
        .any(|(p, o)| p.ends_with("etc/p2pd/agent.key") && *o == Outcome::Replaced);
    if key_replaced {
        println!(
            "key replaced: a running agent picks it up within one heartbeat, without a restart; \
             an agent that stopped on a key mismatch (exit 4) needs `systemctl restart p2pd-agent`"
        );
    }
    Ok(ExitCode::Ok)
}

/// Prints what happened to each file, and the next step.
pub fn report(done: &[(PathBuf, Outcome)], root: &Path, unit: &str) -> anyhow::Result<()> {
    for (path, outcome) in done {
        let what = match outcome {
            Outcome::Created => "created",
            Outcome::Unchanged => "unchanged",
            Outcome::Replaced => "replaced",
        };
        println!("{what:9} {}", path.display());
    }
    // A new key needs nothing from systemd (the agent re-reads it); a new
    // unit, configuration or binary needs the service (re)started.
    let needs = |o: Outcome| {
        done.iter()
            .any(|(p, x)| *x == o && !p.ends_with("etc/p2pd/agent.key"))
    };
    if done.iter().all(|(_, o)| *o == Outcome::Unchanged) {
        println!("nothing changed");
    } else if root == Path::new("/") {
        if needs(Outcome::Created) {
            println!("next: systemctl daemon-reload && systemctl enable --now {unit}");
        } else if needs(Outcome::Replaced) {
            println!("next: systemctl daemon-reload && systemctl restart {unit}");
        }
    }
    Ok(())
}

/// The local address this host uses to reach `host_port` (a connected UDP
/// socket sends nothing; it only asks the kernel for the route).
fn route_to(host_port: &str) -> anyhow::Result<std::net::IpAddr> {
    let with_port = if host_port.rsplit_once(':').is_some_and(|(h, p)| {
        !h.is_empty() && p.parse::<u16>().is_ok() && (!h.contains(':') || h.ends_with(']'))
    }) {
        host_port.to_string()
    } else {
        format!("{host_port}:80")
    };
    let no_route = |why: String| {
        fail(
            ExitCode::Usage,
            format!(
                "cannot tell which address this device reaches {host_port} from ({why}); give --advertise ADDR:PORT"
            ),
        )
    };
    let target = with_port
        .to_socket_addrs()
        .map_err(|e| no_route(e.to_string()))?
        .next()
        .ok_or_else(|| no_route("no address".into()))?;
    let bind: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    let s = UdpSocket::bind(bind).map_err(|e| no_route(e.to_string()))?;
    s.connect(target).map_err(|e| no_route(e.to_string()))?;
    Ok(s.local_addr().map_err(|e| no_route(e.to_string()))?.ip())
}

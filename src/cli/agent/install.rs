//! `p2pd agent install`: deploys the agent on a device — its configuration,
//! a copy of the shared key (owner-only) and the service that runs it:
//! the `p2pd-agent.service` systemd unit on Linux, the `p2pd-agent`
//! service of the service control manager on Windows. `agent uninstall`
//! removes them; `agent service` is what the Windows service starts.
//! This is what a device-management tool runs on each device of an
//! assigned group.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::exit::ExitCode;
use crate::cli::fail;
use crate::deploy::agent::AgentInstallError;
use crate::deploy::{self, AgentConfig, Outcome};
use crate::platform::{self, ServiceManager};

#[derive(Debug, clap::Args)]
// Here --ca and --ca-fingerprint are one choice: the configuration names
// one CA source. (`agent` itself takes both: the file, pinned.)
#[command(mut_arg("ca", |a| a.conflicts_with("ca_fingerprint")))]
pub struct Args {
    #[command(flatten)]
    pub connect: super::connect::Connect,
    /// Write below DIR instead of / (DIR/etc/p2pd, DIR/etc/systemd/system;
    /// systemd only)
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Overwrite files (and the Windows service's registration) that differ
    /// from what would be written. Not needed for a new key (--key-file) or
    /// a new p2pd binary: those are replaced whenever they differ
    #[arg(long)]
    pub force: bool,
    /// Print {"files": [{"path", "outcome"}], "key_replaced", "next"} as JSON
    #[arg(long)]
    pub json: bool,
}

/// What `agent install --json` prints.
#[derive(serde::Serialize)]
struct Installed {
    files: Vec<File>,
    /// The key file changed (a key roll-out): the running agent picks it up.
    key_replaced: bool,
    /// The command to run next, if any.
    next: Option<String>,
}

#[derive(serde::Serialize)]
struct File {
    path: String,
    outcome: Outcome,
}

#[derive(Debug, clap::Args)]
pub struct UninstallArgs {
    /// Remove below DIR instead of / (as given to `agent install --root`;
    /// systemd only)
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
}

pub fn run(data_dir: &Path, a: Args) -> anyhow::Result<ExitCode> {
    let c = &a.connect;
    let key = super::load_device_key(&c.key_file)?;
    let (servers, host_port, ca) = c.servers_and_ca()?;
    // One line in the service's configuration: the agent's --server takes
    // a comma-separated list.
    let server = servers.join(",");
    let ca = match ca {
        None => deploy::AgentCa::PlainHttp,
        Some(crate::agent::ca::CaSource::Fingerprint(fp)) => deploy::AgentCa::Fingerprint(fp),
        Some(crate::agent::ca::CaSource::File(path)) => {
            let trust = crate::trust::tls::Trust::load(&path)
                .map_err(|e| fail(ExitCode::Usage, format!("--ca: {e}")))?;
            deploy::AgentCa::Pem(trust.pem())
        }
    };
    let group = crate::content::groups::validate_group_name(&c.group)
        .map_err(|e| fail(ExitCode::Usage, e.to_string()))?;
    // No address is written unless --advertise is given: the agent listens
    // on --listen and the server learns where the device is from its
    // heartbeats, so the install survives DHCP, Wi-Fi and VPN changes.
    let _ = host_port;
    // The agent's own state dir (--data-dir, P2PD_AGENT_DATA_DIR, or its
    // default), never the server's.
    let data_dir =
        std::path::absolute(data_dir).with_context(|| format!("{}", data_dir.display()))?;
    let exe = std::env::current_exe().context("cannot find the p2pd executable")?;
    let cfg = AgentConfig {
        server,
        group,
        listen: c.listen.to_string(),
        advertise: c.advertise.map(|a| a.to_string()),
        data_dir,
        key_base64: key.to_base64(),
        ca,
    };
    if platform::SERVICE_MANAGER == ServiceManager::WindowsScm {
        return install_windows(&exe, &cfg, &a);
    }
    let files =
        deploy::agent_files(&exe, &cfg).map_err(|e| fail(ExitCode::Usage, e.to_string()))?;
    let done = deploy::apply(&a.root, &files, a.force)
        .map_err(|e| agent_error(AgentInstallError::Deploy(e)))?;
    let key_replaced = done
        .iter()
        .any(|(p, o)| p.ends_with("etc/p2pd/agent.key") && *o == Outcome::Replaced);
    if a.json {
        crate::cli::output::print_json(&Installed {
            files: done
                .iter()
                .map(|(p, o)| File {
                    path: p.display().to_string(),
                    outcome: *o,
                })
                .collect(),
            key_replaced,
            next: deploy::agent::next_step(&done, &a.root, "p2pd-agent"),
        })?;
        return Ok(ExitCode::Ok);
    }
    report(&done, &a.root, "p2pd-agent")?;
    if key_replaced {
        println!(
            "key replaced: a running agent picks it up within one heartbeat, without a restart; \
             an agent that stopped on a key mismatch (exit 4) needs `systemctl restart p2pd-agent`"
        );
    }
    Ok(ExitCode::Ok)
}

/// Windows: the files and the `p2pd-agent` service (see
/// [`deploy::agent::install_windows`]).
fn install_windows(exe: &Path, cfg: &AgentConfig, a: &Args) -> anyhow::Result<ExitCode> {
    let all = deploy::agent::install_windows(exe, cfg, &a.root, a.force).map_err(agent_error)?;
    for (path, outcome) in &all {
        println!("{:9} {}", outcome_word(*outcome), path.display());
    }
    if all.iter().all(|(_, o)| *o == Outcome::Unchanged) {
        println!("nothing changed");
    } else {
        println!("next: sc.exe start {}", deploy::AGENT_SERVICE);
    }
    Ok(ExitCode::Ok)
}

/// The exit code of each refusal: a usage mistake, or a differing file or
/// service (failed, nothing changed).
fn agent_error(e: AgentInstallError) -> anyhow::Error {
    match e {
        AgentInstallError::RootOnWindows => fail(ExitCode::Usage, e.to_string()),
        AgentInstallError::ServiceDiffers(_)
        | AgentInstallError::Deploy(deploy::DeployError::Changed(_)) => {
            fail(ExitCode::Failed, e.to_string())
        }
        e => anyhow::Error::new(e),
    }
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Created => "created",
        Outcome::Unchanged => "unchanged",
        Outcome::Replaced => "replaced",
    }
}

/// `p2pd agent uninstall`: removes what `agent install` wrote. Linux: the
/// unit, `agent.env` and `agent.key` below --root. Windows: stops and
/// deletes the `p2pd-agent` service, then removes `service.json` and
/// `agent.key`. The data dir (pieces, delivered files) is kept.
pub fn uninstall(data_dir: &Path, a: UninstallArgs) -> anyhow::Result<ExitCode> {
    let data_dir =
        std::path::absolute(data_dir).with_context(|| format!("{}", data_dir.display()))?;
    let done = deploy::agent::uninstall(&data_dir, &a.root).map_err(agent_error)?;
    let (root, removed) = (done.root, done.removed);
    if let Some(existed) = done.service {
        let what = if existed { "removed" } else { "absent" };
        println!("{what:9} service {}", deploy::AGENT_SERVICE);
    }
    for (p, was) in &removed {
        println!(
            "{:9} {}",
            if *was { "removed" } else { "absent" },
            p.display()
        );
    }
    if platform::SERVICE_MANAGER == ServiceManager::Systemd
        && root.as_path() == Path::new("/")
        && removed.iter().any(|(_, was)| *was)
    {
        println!("next: systemctl disable --now p2pd-agent; systemctl daemon-reload");
    }
    if platform::SERVICE_MANAGER == ServiceManager::Systemd {
        let bin = root.join(deploy::BIN_PATH);
        if bin.exists() {
            println!(
                "kept      {} (a server unit may run it too; remove it by hand if not)",
                bin.display()
            );
        }
    }
    println!(
        "kept      {} (pieces and delivered files; remove it by hand if no longer needed)",
        data_dir.display()
    );
    Ok(ExitCode::Ok)
}

/// Prints what happened to each file, and the next step.
pub fn report(done: &[(PathBuf, Outcome)], root: &Path, unit: &str) -> anyhow::Result<()> {
    for (path, outcome) in done {
        println!("{:9} {}", outcome_word(*outcome), path.display());
    }
    if done.iter().all(|(_, o)| *o == Outcome::Unchanged) {
        println!("nothing changed");
    } else if let Some(next) = deploy::agent::next_step(done, root, unit) {
        println!("next: {next}");
    }
    Ok(())
}

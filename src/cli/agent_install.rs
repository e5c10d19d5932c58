//! `p2pd agent install`: deploys the agent on a device — its configuration,
//! a copy of the shared key (owner-only) and the service that runs it:
//! the `p2pd-agent.service` systemd unit on Linux, the `p2pd-agent`
//! service of the service control manager on Windows. `agent uninstall`
//! removes them; `agent service` is what the Windows service starts.
//! This is what a device-management tool runs on each device of an
//! assigned group.

use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::fail;
use crate::deploy::{self, AgentConfig, Outcome};
use crate::exit::ExitCode;
use crate::platform::{self, ServiceManager, ServiceOutcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Server URL, e.g. https://10.0.0.5:7650
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// File holding the shared key (base64, as printed by install); copied
    /// to /etc/p2pd/agent.key (on Windows: agent.key in the data dir).
    /// Re-run with a new key file after `p2pd key regenerate`: the running
    /// agent picks the new key up
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
    /// The server CA's certificate (the server's DATA_DIR/ca.pem), copied
    /// next to the key; the agent trusts only this CA
    #[arg(long, value_name = "FILE", conflicts_with_all = ["ca_fingerprint", "insecure_plain_http"])]
    pub ca: Option<PathBuf>,
    /// The server CA's SHA-256 fingerprint (printed by `p2pd install`),
    /// instead of --ca: the agent learns the CA from the server at first
    /// contact and keeps it only if the fingerprint matches
    #[arg(long, value_name = "SHA256", conflicts_with = "insecure_plain_http")]
    pub ca_fingerprint: Option<String>,
    /// Plain HTTP to the server and peers (benchmarks only; never the default)
    #[arg(long)]
    pub insecure_plain_http: bool,
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

#[derive(Debug, clap::Args)]
pub struct ServiceArgs {
    /// The configuration `agent install` wrote (service.json in the data dir)
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Run in this console instead of under the service control manager,
    /// to see why the service does not start
    #[arg(long)]
    pub console: bool,
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
                    "--server {}: expected a URL like https://10.0.0.5:7650",
                    a.server
                ),
            )
        })?;
    let ca = match super::agent::ca_source(
        &server,
        a.ca.as_deref(),
        a.ca_fingerprint.as_deref(),
        a.insecure_plain_http,
    )? {
        None => deploy::AgentCa::PlainHttp,
        Some(crate::tls::CaSource::Fingerprint(fp)) => deploy::AgentCa::Fingerprint(fp),
        Some(crate::tls::CaSource::File(path)) => {
            let trust = crate::tls::Trust::load(&path)
                .map_err(|e| fail(ExitCode::Usage, format!("--ca: {e}")))?;
            deploy::AgentCa::Pem(trust.pem())
        }
    };
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
    let cfg = AgentConfig {
        server,
        group,
        listen: a.listen.to_string(),
        advertise: advertise.to_string(),
        data_dir,
        key_base64: key.to_base64(),
        ca,
    };
    if platform::SERVICE_MANAGER == ServiceManager::WindowsScm {
        return install_windows(&exe, &cfg, &a);
    }
    let files =
        deploy::agent_files(&exe, &cfg).map_err(|e| fail(ExitCode::Usage, e.to_string()))?;
    let done = deploy::apply(&a.root, &files, a.force).map_err(|e| match e {
        deploy::DeployError::Changed(_) => fail(ExitCode::Failed, e.to_string()),
        _ => anyhow::Error::new(e),
    })?;
    let key_replaced = done
        .iter()
        .any(|(p, o)| p.ends_with("etc/p2pd/agent.key") && *o == Outcome::Replaced);
    if a.json {
        super::output::print_json(&Installed {
            files: done
                .iter()
                .map(|(p, o)| File {
                    path: p.display().to_string(),
                    outcome: *o,
                })
                .collect(),
            key_replaced,
            next: next_step(&done, &a.root, "p2pd-agent"),
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

/// Windows: `service.json` and `agent.key` (owner-only) in the data dir,
/// and the `p2pd-agent` service. Everything is checked before anything is
/// written, so a refused run changes nothing.
fn install_windows(exe: &Path, cfg: &AgentConfig, a: &Args) -> anyhow::Result<ExitCode> {
    if a.root != Path::new("/") {
        return Err(fail(
            ExitCode::Usage,
            "--root is for systemd installs; on Windows give --data-dir DIR to choose where the configuration goes",
        ));
    }
    let files = deploy::windows_agent_files(cfg);
    let refused = |e: deploy::DeployError| match e {
        deploy::DeployError::Changed(_) => fail(ExitCode::Failed, e.to_string()),
        _ => anyhow::Error::new(e),
    };
    deploy::check(&cfg.data_dir, &files, a.force).map_err(refused)?;
    let spec = deploy::agent_service(exe, &cfg.data_dir);
    let service = platform::install_service(&spec, a.force)?;
    if service == ServiceOutcome::Differs {
        return Err(fail(
            ExitCode::Failed,
            format!(
                "the service {} is registered with another command line (installed from another place or with other options); \
                 nothing was changed. Review it with `sc.exe qc {}`, then re-run with --force to replace it",
                spec.name, spec.name
            ),
        ));
    }
    let done = deploy::apply(&cfg.data_dir, &files, a.force).map_err(refused)?;
    let svc_outcome = match service {
        ServiceOutcome::Created => Outcome::Created,
        ServiceOutcome::Replaced => Outcome::Replaced,
        _ => Outcome::Unchanged,
    };
    let mut all = done;
    all.push((PathBuf::from(format!("service {}", spec.name)), svc_outcome));
    for (path, outcome) in &all {
        println!("{:9} {}", outcome_word(*outcome), path.display());
    }
    if all.iter().all(|(_, o)| *o == Outcome::Unchanged) {
        println!("nothing changed");
    } else {
        println!("next: sc.exe start {}", spec.name);
    }
    Ok(ExitCode::Ok)
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
    let (root, paths, service) = match platform::SERVICE_MANAGER {
        ServiceManager::WindowsScm => {
            let existed = platform::uninstall_service(
                deploy::AGENT_SERVICE,
                std::time::Duration::from_secs(30),
            )?;
            let files = [
                PathBuf::from(deploy::AGENT_SERVICE_CONFIG),
                PathBuf::from(deploy::AGENT_KEY_FILE),
                PathBuf::from(crate::tls::CA_CERT_FILE),
            ];
            (data_dir.clone(), files.to_vec(), Some(existed))
        }
        ServiceManager::Systemd => {
            // The files agent_files writes; the bytes do not matter here.
            let files = deploy::agent_files(
                Path::new("p2pd"),
                &AgentConfig {
                    server: String::new(),
                    group: String::new(),
                    listen: String::new(),
                    advertise: String::new(),
                    data_dir: data_dir.clone(),
                    key_base64: String::new(),
                    // With a CA copy, so its file is removed too.
                    ca: deploy::AgentCa::Pem(String::new()),
                },
            )?;
            // The installed binary stays: `install --systemd` runs it too.
            (
                a.root.clone(),
                files
                    .into_iter()
                    .map(|f| f.path)
                    .filter(|p| p != Path::new(deploy::BIN_PATH))
                    .collect(),
                None,
            )
        }
    };
    if let Some(existed) = service {
        let what = if existed { "removed" } else { "absent" };
        println!("{what:9} service {}", deploy::AGENT_SERVICE);
    }
    let removed = deploy::remove_files(&root, &paths)?;
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

/// `p2pd agent service --config FILE`: what the Windows service runs. Reads
/// the configuration `agent install` wrote and runs the agent under the
/// service control manager, which stops it through the same shutdown path
/// as Ctrl-C. `--console` runs the same configuration in the foreground.
pub fn service(a: ServiceArgs) -> anyhow::Result<ExitCode> {
    let conf = deploy::load_agent_service_config(&a.config)
        .map_err(|e| fail(ExitCode::Usage, e.to_string()))?;
    let argv: Vec<std::ffi::OsString> = vec![
        "p2pd".into(),
        "agent".into(),
        "--data-dir".into(),
        conf.data_dir.clone().into_os_string(),
        "--server".into(),
        conf.server.clone().into(),
        "--key-file".into(),
        conf.key_file.clone().into_os_string(),
        "--group".into(),
        conf.group.clone().into(),
        "--listen".into(),
        conf.listen.clone().into(),
        "--advertise".into(),
        conf.advertise.clone().into(),
    ];
    let mut argv = argv;
    if let Some(f) = &conf.ca_file {
        argv.extend(["--ca".into(), f.clone().into_os_string()]);
    }
    if let Some(fp) = &conf.ca_fingerprint {
        argv.extend(["--ca-fingerprint".into(), fp.into()]);
    }
    if conf.insecure_plain_http {
        argv.push("--insecure-plain-http".into());
    }
    let cli = <super::Cli as clap::Parser>::try_parse_from(argv).map_err(|e| {
        fail(
            ExitCode::Usage,
            format!("{}: {}", a.config.display(), e.to_string().trim()),
        )
    })?;
    let super::Command::Agent(c) = cli.command else {
        unreachable!("the argv above names the agent subcommand");
    };
    // --data-dir comes from the configuration.
    let data_dir = c.data_dir();
    let Some(run_args) = c.run else {
        unreachable!("the argv above has no agent subcommand");
    };
    if a.console {
        return super::agent::run(&data_dir, run_args);
    }
    platform::run_service(
        deploy::AGENT_SERVICE,
        Box::new(move || match super::agent::run(&data_dir, run_args) {
            Ok(code) => code as u32,
            Err(e) => {
                tracing::error!("agent stopped: {e:#}");
                super::exit_code_of(&e) as u32
            }
        }),
    )?;
    Ok(ExitCode::Ok)
}

/// The log file of `agent service` under the SCM (not with --console):
/// `agent-service.log` next to its configuration, appended to.
pub fn service_log(c: &super::agent::Command) -> Option<std::fs::File> {
    match &c.sub {
        Some(super::agent::Sub::Service(a)) if !a.console => std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(a.config.with_file_name("agent-service.log"))
            .ok(),
        _ => None,
    }
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
    if done.iter().all(|(_, o)| *o == Outcome::Unchanged) {
        println!("nothing changed");
    } else if let Some(next) = next_step(done, root, unit) {
        println!("next: {next}");
    }
    Ok(())
}

/// The systemctl command the written files need, when written to `/`. A
/// new key needs nothing from systemd (the agent re-reads it); a new unit,
/// configuration or binary needs the service (re)started.
fn next_step(done: &[(PathBuf, Outcome)], root: &Path, unit: &str) -> Option<String> {
    let needs = |o: Outcome| {
        done.iter()
            .any(|(p, x)| *x == o && !p.ends_with("etc/p2pd/agent.key"))
    };
    if root != Path::new("/") {
        None
    } else if needs(Outcome::Created) {
        Some(format!(
            "systemctl daemon-reload && systemctl enable --now {unit}"
        ))
    } else if needs(Outcome::Replaced) {
        Some(format!(
            "systemctl daemon-reload && systemctl restart {unit}"
        ))
    } else {
        None
    }
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

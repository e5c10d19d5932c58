//! `p2pd agent service`: what the Windows service runs (the configuration
//! `agent install` wrote, turned back into `p2pd agent` arguments), and
//! the log file it writes under the service control manager.

use std::path::PathBuf;

use crate::cli::exit::ExitCode;
use crate::cli::fail;
use crate::deploy;
use crate::platform;

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
    ];
    let mut argv = argv;
    if let Some(a) = &conf.advertise {
        argv.extend(["--advertise".into(), a.into()]);
    }
    if let Some(f) = &conf.ca_file {
        argv.extend(["--ca".into(), f.clone().into_os_string()]);
    }
    if let Some(fp) = &conf.ca_fingerprint {
        argv.extend(["--ca-fingerprint".into(), fp.into()]);
    }
    if conf.insecure_plain_http {
        argv.push("--insecure-plain-http".into());
    }
    let cli = <crate::cli::Cli as clap::Parser>::try_parse_from(argv).map_err(|e| {
        fail(
            ExitCode::Usage,
            format!("{}: {}", a.config.display(), e.to_string().trim()),
        )
    })?;
    let crate::cli::Command::Agent(c) = cli.command else {
        unreachable!("the argv above names the agent subcommand");
    };
    // --data-dir comes from the configuration.
    let data_dir = c.data_dir();
    let Some(connect) = c.connect else {
        unreachable!("the argv above has no agent subcommand");
    };
    let run_args = c.run;
    if a.console {
        return super::run(&data_dir, connect, run_args);
    }
    platform::run_service(
        deploy::AGENT_SERVICE,
        Box::new(move || match super::run(&data_dir, connect, run_args) {
            Ok(code) => code as u32,
            Err(e) => {
                tracing::error!("agent stopped: {e:#}");
                crate::cli::exit_code_of(&e) as u32
            }
        }),
    )?;
    Ok(ExitCode::Ok)
}

/// The log file of `agent service` under the SCM (not with --console):
/// `agent-service.log` next to its configuration, appended to.
pub fn service_log(c: &super::Command) -> Option<std::fs::File> {
    match &c.sub {
        Some(super::Sub::Service(a)) if !a.console => std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(a.config.with_file_name("agent-service.log"))
            .ok(),
        _ => None,
    }
}

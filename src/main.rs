//! The `p2pd` binary: parse, set up logging, dispatch, map errors to exit codes.

use std::io::Write;

use clap::Parser;
use p2pd::cli::{Cli, Command};

fn main() {
    let cli = Cli::parse();
    init_tracing(&cli);
    // ring for every TLS client that does not name a provider (https file
    // storage, a CDN); p2pd's own connections name it themselves.
    p2pd::trust::tls::install_default_provider();
    let code = match p2pd::cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (`p2pd topology export | head`) is not an error.
            if let Some(io) = err.downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::BrokenPipe
            {
                std::process::exit(0);
            }
            let code = p2pd::cli::exit_code_of(&err);
            let _ = writeln!(std::io::stderr(), "p2pd: {err:#}");
            code
        }
    };
    std::process::exit(code as i32);
}

/// Logs to stderr (a Windows service: to a file next to its configuration),
/// at the level `-v` and `P2PD_LOG` ask for.
fn init_tracing(cli: &Cli) {
    // The long-running daemons say what they do by default; the admin
    // commands stay quiet unless asked.
    let daemon = matches!(cli.command, Command::Serve(_) | Command::Agent(_));
    let default = match cli.global.verbose {
        0 if daemon => "info",
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("P2PD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // A Windows service has no stderr: it logs next to its configuration.
    if let Command::Agent(c) = &cli.command
        && let Some(file) = p2pd::cli::agent::service::service_log(c)
    {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::sync::Mutex::new(file))
            .with_ansi(false)
            .try_init();
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

//! The `p2pd` binary: parse, set up logging, dispatch, map errors to exit codes.

use std::io::Write;

use clap::Parser;

fn main() {
    let cli = p2pd::cli::Cli::parse();
    p2pd::cli::init_tracing(&cli);
    // ring for every TLS client that does not name a provider (https file
    // storage, a CDN); p2pd's own connections name it themselves.
    p2pd::tls::install_default_provider();
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

//! Command-line interface: clap definitions and dispatch.
//!
//! May use: agent content deploy domain metrics ops platform server store topology trust vault wire
//!
//! Each subcommand lives in its own module with an `Args` struct and a
//! `run` function. Errors are `anyhow` here; [`Fail`] carries an explicit
//! exit code when the default (1) is wrong.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::cli::exit::ExitCode;

pub mod agent;
pub mod ca;
pub mod completions;
pub mod content;
pub mod db;
pub mod demo;
pub mod devices;
pub mod devices_list;
pub mod exit;
pub mod explain;
pub mod generate;
pub mod groups;
pub mod health;
pub mod install;
pub mod key;
pub mod licenses;
pub mod output;
pub mod publish;
pub mod publish_progress;
pub mod report;
pub mod serve;
pub mod settings;
pub mod status;
pub mod topology;
pub mod ui;

#[derive(Debug, Parser)]
#[command(
    name = "p2pd",
    version,
    about = "Topology-aware peer-to-peer distribution of application packages",
    long_about = "p2pd gets application packages from file storage to every targeted device \
                  while each package crosses each office's WAN link once: inside an office, \
                  devices share it over the LAN piece by piece, every piece verified.\n\n\
                  One binary is the server (serve), the admin toolkit and the peer client (agent).",
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Args)]
pub struct Global {
    /// Data directory of the server (database, key, logs); env
    /// P2PD_DATA_DIR; default /var/lib/p2pd for root, else
    /// ~/.local/share/p2pd. The agent has its own (see `p2pd agent --help`)
    // No clap `env` here: clap would hand P2PD_DATA_DIR down to `agent`,
    // whose own --data-dir (P2PD_AGENT_DATA_DIR) must not see the
    // server's. `data_dir()` reads the variable instead.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The database: postgres://USER@HOST[:PORT]/DB for several serve
    /// replicas sharing one PostgreSQL (see README "Scaling out"); default:
    /// the SQLite file in the data dir
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "P2PD_DATABASE_URL",
        hide_env_values = true
    )]
    pub database: Option<String>,
    /// More log output on stderr (-v info, -vv debug)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

impl Global {
    /// `--data-dir`, else `P2PD_DATA_DIR`, else /var/lib/p2pd for root and
    /// `$XDG_DATA_HOME/p2pd` (or `~/.local/share/p2pd`) for everyone else
    /// (`%ProgramData%\p2pd` elevated, `%LOCALAPPDATA%\p2pd` otherwise on
    /// Windows).
    pub fn data_dir(&self) -> PathBuf {
        if let Some(d) = &self.data_dir {
            return d.clone();
        }
        match std::env::var_os("P2PD_DATA_DIR").filter(|d| !d.is_empty()) {
            Some(d) => PathBuf::from(d),
            None => crate::platform::default_server_data_dir(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Install the server: data dir, database, server ID and shared key
    Install(install::Args),
    /// Show the key fingerprint or regenerate the shared key
    #[command(subcommand)]
    Key(key::Command),
    /// The server CA: its fingerprint, certificates for a load balancer
    #[command(subcommand)]
    Ca(ca::Command),
    /// Show or change server settings
    #[command(subcommand)]
    Settings(settings::Command),
    /// Show the server ID, key fingerprint, settings and counts
    Status(status::Args),
    /// Offices and their IP ranges: import, export, show, locate
    #[command(subcommand)]
    Topology(topology::Command),
    /// Run a real local distribution: server, 3 offices, 12 agents on loopback
    Demo(demo::Args),
    /// Run the server: control plane and central seed
    Serve(serve::Args),
    /// Run the peer client on a device, or install it (`agent install`)
    Agent(Box<agent::Command>),
    /// Per office and content: bytes from LAN, parent office, server and CDN; WAN copies
    Report(report::Args),
    /// Publish packages from file storage: hash, cut in pieces, target groups
    // `publish --version V` is the package's version, not p2pd's.
    #[command(disable_version_flag = true)]
    Publish(publish::Args),
    /// Show published content
    #[command(subcommand)]
    Content(content::Command),
    /// Move the database: copy an install into an empty PostgreSQL database
    #[command(subcommand)]
    Db(db::Command),
    /// Assign the groups whose devices receive content through peer distribution
    #[command(subcommand)]
    Groups(groups::Command),
    /// The Activated Licenses report: devices holding a license
    Licenses(licenses::Args),
    /// Check the whole system: database, server, key, versions, storage, topology, clock
    Health(health::Args),
    /// Enrolled devices: office, group, version, score, state
    #[command(subcommand)]
    Devices(devices::Command),
    /// Print the shell completion script for bash, zsh, fish, powershell or elvish
    Completions(completions::Args),
    /// Why a device got a content the way it did: office, role, leader, tiers, bans, failovers
    Explain(explain::Args),
    /// The read-only web dashboard: rotate its admin token
    #[command(subcommand)]
    Ui(ui::Command),
    /// Write man pages and shell completions (for packagers)
    #[command(hide = true)]
    Generate(generate::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = &cli.global;
    match cli.command {
        Command::Install(a) => install::run(g, a),
        Command::Key(c) => key::run(g, c),
        Command::Ca(c) => ca::run(g, c),
        Command::Settings(c) => settings::run(g, c),
        Command::Status(a) => status::run(g, a),
        Command::Topology(c) => topology::run(g, c),
        Command::Demo(a) => demo::run(a),
        Command::Serve(a) => serve::run(g, a),
        Command::Agent(c) => agent::command(g, *c),
        Command::Report(a) => report::run(g, a),
        Command::Publish(a) => publish::run(g, a),
        Command::Content(c) => content::run(g, c),
        Command::Db(c) => db::run(g, c),
        Command::Groups(c) => groups::run(g, c),
        Command::Licenses(a) => licenses::run(g, a),
        Command::Health(a) => health::run(g, a),
        Command::Devices(c) => devices::run(g, c),
        Command::Completions(a) => completions::run(a),
        Command::Explain(a) => explain::run(g, a),
        Command::Ui(c) => ui::run(g, c),
        Command::Generate(a) => generate::run(a),
    }
}

/// An error with a chosen exit code. Wrap it in anyhow; `exit_code_of`
/// finds it anywhere in the chain.
#[derive(Debug)]
pub struct Fail {
    pub code: ExitCode,
    pub message: String,
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Fail {}

pub fn fail(code: ExitCode, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Fail {
        code,
        message: message.into(),
    })
}

/// The exit code for an error: a [`Fail`]'s code, usage for "not installed"
/// and newer-schema errors, key mismatch for key errors, else 1.
pub fn exit_code_of(err: &anyhow::Error) -> ExitCode {
    for cause in err.chain() {
        if let Some(f) = cause.downcast_ref::<Fail>() {
            return f.code;
        }
        if let Some(crate::store::StoreError::NotInstalled { .. }) =
            cause.downcast_ref::<crate::store::StoreError>()
        {
            return ExitCode::Usage;
        }
        if let Some(crate::trust::key::VerifyError::KeyMismatch { .. }) =
            cause.downcast_ref::<crate::trust::key::VerifyError>()
        {
            return ExitCode::KeyMismatch;
        }
    }
    ExitCode::Failed
}

/// Opens the store of an installed data dir, or the `--database`.
pub fn open_store(g: &Global) -> anyhow::Result<crate::store::Store> {
    Ok(crate::store::Store::open_at(
        &g.data_dir(),
        g.database.as_deref(),
    )?)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}

//! `p2pd install`: the scripted, non-interactive install of the server
//! (the work is [`crate::ops::install`]; this parses and prints).

use std::io::Write;

use super::{Global, fail};
use crate::cli::exit::ExitCode;
use crate::deploy::DeployError;
use crate::ops::install::{InstallError, Options, Systemd};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Server name or IP address the agents will connect to
    #[arg(long, value_name = "HOST")]
    pub server_name: Option<String>,
    /// TCP port of the server
    #[arg(long)]
    pub port: Option<String>,
    /// Package storage: an absolute directory (which must exist) or an
    /// http(s) base URL
    #[arg(long, value_name = "DIR|URL")]
    pub file_storage: Option<String>,
    /// Accept a --file-storage directory that does not exist yet (storage
    /// mounted later)
    #[arg(long)]
    pub allow_missing_storage: bool,
    /// CDN base URL, the last-resort download source
    #[arg(long, value_name = "URL")]
    pub cdn_url: Option<String>,
    /// On an existing install: make a new shared key and keep everything else
    #[arg(long)]
    pub regenerate_key: bool,
    /// Print the result as JSON (server_id, key, key_fingerprint,
    /// key_version, data_dir). On an existing install with the same
    /// settings: the same without the key, and "already_installed": true
    #[arg(long)]
    pub json: bool,
    /// Also write the p2pd.service systemd unit that serves this data dir,
    /// running a copy of this binary installed at /usr/local/bin/p2pd.
    /// On an existing install, only these two are written (safe to re-run)
    #[arg(long)]
    pub systemd: bool,
    /// With --systemd: write the unit below DIR (DIR/etc/systemd/system)
    /// instead of /
    #[arg(long, value_name = "DIR", requires = "systemd")]
    pub root: Option<std::path::PathBuf>,
    /// With --systemd: overwrite a unit file that differs from what would
    /// be written
    #[arg(long, requires = "systemd")]
    pub force: bool,
}

impl Args {
    fn options(&self, database: Option<&str>) -> Options {
        Options {
            server_name: self.server_name.clone(),
            port: self.port.clone(),
            file_storage: self.file_storage.clone(),
            allow_missing_storage: self.allow_missing_storage,
            cdn_url: self.cdn_url.clone(),
            systemd: self.systemd.then(|| Systemd {
                root: self.root.clone().unwrap_or_else(|| "/".into()),
                force: self.force,
            }),
            database: database.map(str::to_string),
        }
    }
}

/// An install error as the command reports it: the ones `install` decides
/// carry their exit code; wrapped ones keep their own (a missing install
/// is a usage error, see [`super::exit_code_of`]).
pub fn install_error(e: InstallError) -> anyhow::Error {
    if let Some(code) = decided_exit_code(&e) {
        return fail(code, e.to_string());
    }
    match e {
        InstallError::Store(e) => e.into(),
        InstallError::Key(e) => e.into(),
        e => anyhow::Error::new(e),
    }
}

/// The exit code for the errors `install` decides; `None` for the wrapped
/// ones (their own rules apply).
fn decided_exit_code(e: &InstallError) -> Option<ExitCode> {
    match e {
        InstallError::BadOption { .. }
        | InstallError::NotEmpty(_)
        | InstallError::DataDirIsFile(_)
        | InstallError::Unreadable { .. }
        | InstallError::RegenerateWithSettings
        | InstallError::RegenerateNeedsInstall(_)
        | InstallError::SharedInstalled { .. } => Some(ExitCode::Usage),
        InstallError::Differs { .. } | InstallError::Deploy(DeployError::Changed(_)) => {
            Some(ExitCode::Failed)
        }
        _ => None,
    }
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let dir = g.data_dir();
    let o = a.options(g.database.as_deref());
    // On a shared (PostgreSQL) database the data dir holds db.key.
    let installed = crate::ops::install::is_installed(&dir, &o).map_err(install_error)?;
    if installed && a.regenerate_key {
        if o.settings_given() {
            return Err(install_error(InstallError::RegenerateWithSettings));
        }
        return super::key::regenerate(g, a.json);
    }
    if installed {
        let out = crate::ops::install::rerun(&dir, &o).map_err(install_error)?;
        if a.json {
            super::output::print_json(&out)?;
        } else {
            println!(
                "p2pd is already installed in {} with these settings; {} \
                 (server ID {}, key fingerprint {} version {}, CA fingerprint {}; the key is not shown again)",
                dir.display(),
                if out.ca_created {
                    "added the server CA (ca.pem): give it to every agent (--ca or --ca-fingerprint)"
                } else {
                    "nothing changed"
                },
                out.server_id,
                out.key_fingerprint,
                out.key_version,
                out.ca_fingerprint
            );
            if let Some(root) = &out.root {
                super::agent::install::report(&out.done, root, "p2pd")?;
            }
        }
        return Ok(ExitCode::Ok);
    }
    if a.regenerate_key {
        return Err(install_error(InstallError::RegenerateNeedsInstall(dir)));
    }
    let out = crate::ops::install::install(&dir, &o).map_err(install_error)?;
    if a.json {
        super::output::print_json(&out)?;
    } else {
        let mut o = std::io::stdout().lock();
        writeln!(o, "p2pd installed in {}", out.data_dir)?;
        writeln!(o, "  server ID        {}", out.server_id)?;
        writeln!(o, "  key fingerprint  {} (version 1)", out.key_fingerprint)?;
        writeln!(o, "  CA fingerprint   {}", out.ca_fingerprint)?;
        writeln!(
            o,
            "  CA certificate   {} (give agents this file with --ca, or the fingerprint with --ca-fingerprint)",
            out.ca_file
        )?;
        super::output::print_key_once(&mut o, out.key.as_deref().unwrap_or_default())?;
        writeln!(o)?;
        writeln!(
            o,
            "Admin token (dashboard at /ui and /metrics; `p2pd ui token` makes a new one):"
        )?;
        writeln!(o)?;
        writeln!(o, "    {}", out.admin_token.as_deref().unwrap_or_default())?;
        if let Some(root) = &out.root {
            drop(o);
            println!();
            super::agent::install::report(&out.done, root, "p2pd")?;
        }
    }
    Ok(ExitCode::Ok)
}

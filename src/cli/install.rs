//! `p2pd install`: the scripted, non-interactive install of the server.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use super::{Global, fail};
use crate::exit::ExitCode;
use crate::key::{SharedKey, key_path};
use crate::settings::{self, Setting};
use crate::store::{self, Store};

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

#[derive(Serialize)]
struct Installed<'a> {
    server_id: &'a str,
    key: String,
    key_fingerprint: String,
    key_version: i64,
    /// SHA-256 of the server CA certificate: agents take it with
    /// `--ca-fingerprint`, or a copy of `ca_file` with `--ca`.
    ca_fingerprint: String,
    /// The CA certificate to give agents (public; its key stays here).
    ca_file: String,
    /// Opens the dashboard (`/ui`) and `/metrics`; `p2pd ui token` rotates it.
    admin_token: String,
    data_dir: String,
    /// Files `--systemd` wrote or found unchanged.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    files: Vec<UnitFile>,
}

#[derive(Serialize)]
struct UnitFile {
    path: String,
    outcome: crate::deploy::Outcome,
}

/// The files `--systemd` writes (the installed binary and the unit), and
/// below which root.
fn planned_unit(
    dir: &Path,
    a: &Args,
) -> anyhow::Result<(std::path::PathBuf, Vec<crate::deploy::Planned>)> {
    let exe = std::env::current_exe().context("cannot find the p2pd executable")?;
    let abs = std::path::absolute(dir).with_context(|| format!("{}", dir.display()))?;
    let root = a.root.clone().unwrap_or_else(|| "/".into());
    Ok((
        root,
        crate::deploy::server_files(&exe, &abs).map_err(deploy_error)?,
    ))
}

fn deploy_error(e: crate::deploy::DeployError) -> anyhow::Error {
    match e {
        crate::deploy::DeployError::Changed(_) => fail(ExitCode::Failed, e.to_string()),
        _ => anyhow::Error::new(e),
    }
}

/// The settings given on the command line, validated, in [`settings::ALL`]
/// order. A bad one names its option and shows a good value.
fn given_settings(a: &Args) -> anyhow::Result<Vec<(Setting, String)>> {
    let mut out = Vec::new();
    for s in settings::ALL {
        let given = match s {
            Setting::ServerName => a.server_name.as_deref(),
            Setting::Port => a.port.as_deref(),
            Setting::FileStorage => a.file_storage.as_deref(),
            Setting::CdnUrl => a.cdn_url.as_deref(),
            _ => None,
        };
        if let Some(v) = given {
            let v = s.validate(v).map_err(|e| {
                fail(
                    ExitCode::Usage,
                    format!("--{}: {e}", s.name().replace('_', "-")),
                )
            })?;
            out.push((*s, v));
        }
    }
    Ok(out)
}

/// What an install re-run with the same settings prints: the install as it
/// is, never the key.
#[derive(Serialize)]
struct AlreadyInstalled {
    already_installed: bool,
    server_id: String,
    key_fingerprint: String,
    key_version: i64,
    ca_fingerprint: String,
    ca_file: String,
    /// True when this run added the server CA (an install made before TLS).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ca_created: bool,
    data_dir: String,
    /// Files `--systemd` wrote or found unchanged.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    files: Vec<UnitFile>,
}

/// `install` on an existing install: the same settings are a success that
/// changes nothing (scripts re-run their install step); a differing one
/// fails, naming every difference, and changes nothing either.
fn rerun(dir: &Path, a: &Args) -> anyhow::Result<ExitCode> {
    let given = given_settings(a)?;
    let (server, differences) = {
        let st = Store::open(dir)?;
        let server = st.server()?.ok_or_else(|| {
            anyhow::anyhow!(
                "{}: the install is incomplete (no server row); install into a new --data-dir",
                dir.display()
            )
        })?;
        let mut differences = Vec::new();
        for (s, want) in &given {
            let have = st.setting(s.name())?.unwrap_or_else(|| s.default_value());
            if &have != want {
                let show = |v: &str| {
                    if v.is_empty() {
                        "(none)".to_string()
                    } else {
                        format!("'{v}'")
                    }
                };
                differences.push(format!(
                    "--{} {} differs from the installed {} {}",
                    s.name().replace('_', "-"),
                    show(want),
                    s.name(),
                    show(&have)
                ));
            }
        }
        (server, differences)
    };
    if !differences.is_empty() {
        return Err(fail(
            ExitCode::Failed,
            format!(
                "p2pd is already installed in {} with other settings; nothing was changed: {}. \
                 To change a setting run `p2pd settings set NAME VALUE`; to replace a lost key run \
                 `p2pd key regenerate` (or `p2pd install --regenerate-key`)",
                dir.display(),
                differences.join("; ")
            ),
        ));
    }
    // An install made before TLS has no CA: add it (the one change a
    // re-run makes).
    let ca_created = !crate::tls::Ca::exists(dir);
    let ca = if ca_created {
        crate::tls::Ca::create(dir, &server.server_id)?
    } else {
        crate::tls::Ca::load(dir)?
    };
    let (root, done) = if a.systemd {
        let (root, unit) = planned_unit(dir, a)?;
        let done = crate::deploy::apply(&root, &unit, a.force).map_err(deploy_error)?;
        (Some(root), done)
    } else {
        (None, Vec::new())
    };
    if a.json {
        super::output::print_json(&AlreadyInstalled {
            already_installed: true,
            server_id: server.server_id,
            key_fingerprint: server.key_fingerprint,
            key_version: server.key_version,
            ca_fingerprint: ca.fingerprint(),
            ca_file: dir.join(crate::tls::CA_CERT_FILE).display().to_string(),
            ca_created,
            data_dir: dir.display().to_string(),
            files: done
                .iter()
                .map(|(p, o)| UnitFile {
                    path: p.display().to_string(),
                    outcome: *o,
                })
                .collect(),
        })?;
    } else {
        println!(
            "p2pd is already installed in {} with these settings; {} \
             (server ID {}, key fingerprint {} version {}, CA fingerprint {}; the key is not shown again)",
            dir.display(),
            if ca_created {
                "added the server CA (ca.pem): give it to every agent (--ca or --ca-fingerprint)"
            } else {
                "nothing changed"
            },
            server.server_id,
            server.key_fingerprint,
            server.key_version,
            ca.fingerprint()
        );
        if let Some(root) = &root {
            super::agent_install::report(&done, root, "p2pd")?;
        }
    }
    Ok(ExitCode::Ok)
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let dir = g.data_dir();
    let installed = dir.join(store::DB_FILE).exists();
    let settings_given = a.server_name.is_some()
        || a.port.is_some()
        || a.file_storage.is_some()
        || a.cdn_url.is_some();
    if installed && a.regenerate_key {
        if settings_given {
            return Err(fail(
                ExitCode::Usage,
                "--regenerate-key keeps the existing settings; change them with `p2pd settings set NAME VALUE`",
            ));
        }
        return super::key::regenerate(g, a.json);
    }
    if installed {
        return rerun(&dir, &a);
    }
    if a.regenerate_key {
        return Err(fail(
            ExitCode::Usage,
            format!(
                "--regenerate-key needs an existing install, but {} has none; run `p2pd install` without it",
                dir.display()
            ),
        ));
    }

    // Validate every option before touching the disk.
    let given = given_settings(&a)?;
    if !a.allow_missing_storage {
        for (s, v) in &given {
            s.check_exists(v).map_err(|e| {
                fail(
                    ExitCode::Usage,
                    format!("--{}: {e}", s.name().replace('_', "-")),
                )
            })?;
        }
    }
    let values: Vec<(&str, String)> = settings::ALL
        .iter()
        .map(|s| {
            let v = given
                .iter()
                .find(|(g, _)| g == s)
                .map_or_else(|| s.default_value(), |(_, v)| v.clone());
            (s.name(), v)
        })
        .collect();

    check_target_dir(&dir)?;
    // Refuse a changed unit before anything is installed.
    let unit = match a.systemd {
        true => {
            let (root, unit) = planned_unit(&dir, &a)?;
            crate::deploy::check(&root, &unit, a.force).map_err(deploy_error)?;
            Some((root, unit))
        }
        false => None,
    };
    let key = SharedKey::generate()?;
    let server_id = uuid::Uuid::new_v4().to_string();

    // Build the install in a staging dir next to the target and rename it
    // into place, so a failure half-way never leaves a half-installed dir.
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".p2pd-install-")
        .tempdir_in(parent)
        .with_context(|| {
            format!(
                "cannot write in {}; choose a writable --data-dir",
                parent.display()
            )
        })?;
    crate::platform::make_dir_owner_only(staging.path())
        .with_context(|| format!("cannot restrict {} to its owner", staging.path().display()))?;
    key.save(&key_path(staging.path()))?;
    let ca = crate::tls::Ca::create(staging.path(), &server_id)?;
    let admin_token = {
        let mut st = Store::create(staging.path())?;
        st.init_server(&server_id, &key.fingerprint(), &values)?;
        crate::server::ui::new_admin_token(&st)?
    };
    std::fs::create_dir(staging.path().join("logs"))?;
    let staged = staging.keep();
    // rename(2) replaces an empty directory; check_target_dir made sure it is.
    std::fs::rename(&staged, &dir).with_context(|| {
        let _ = std::fs::remove_dir_all(&staged);
        format!("cannot move the new install into {}", dir.display())
    })?;

    let done = match &unit {
        Some((root, unit)) => crate::deploy::apply(root, unit, a.force).map_err(deploy_error)?,
        None => Vec::new(),
    };
    let out = Installed {
        server_id: &server_id,
        key: key.to_base64(),
        key_fingerprint: key.fingerprint(),
        key_version: 1,
        ca_fingerprint: ca.fingerprint(),
        ca_file: dir.join(crate::tls::CA_CERT_FILE).display().to_string(),
        admin_token,
        data_dir: dir.display().to_string(),
        files: done
            .iter()
            .map(|(p, o)| UnitFile {
                path: p.display().to_string(),
                outcome: *o,
            })
            .collect(),
    };
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
        print_key_once(&mut o, &out.key)?;
        writeln!(o)?;
        writeln!(
            o,
            "Admin token (dashboard at /ui and /metrics; `p2pd ui token` makes a new one):"
        )?;
        writeln!(o)?;
        writeln!(o, "    {}", out.admin_token)?;
        if let Some((root, _)) = &unit {
            drop(o);
            println!();
            super::agent_install::report(&done, root, "p2pd")?;
        }
    }
    Ok(ExitCode::Ok)
}

/// The one and only time a key is shown.
pub fn print_key_once(o: &mut impl Write, key: &str) -> std::io::Result<()> {
    writeln!(o)?;
    writeln!(o, "Shared key:")?;
    writeln!(o)?;
    writeln!(o, "    {key}")?;
    writeln!(o)?;
    writeln!(
        o,
        "WARNING: copy this key now. It is shown only this once and cannot be shown again."
    )?;
    writeln!(
        o,
        "Every agent needs it (p2pd agent --key-file FILE). If it is lost, run"
    )?;
    writeln!(
        o,
        "`p2pd key regenerate`: the old key then gets a key mismatch error everywhere."
    )?;
    Ok(())
}

/// The data dir must be absent or empty, and its parent writable.
fn check_target_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(fail(
                    ExitCode::Usage,
                    format!(
                        "{} is not empty and holds no p2pd install; nothing was changed. \
                         Choose an empty or new --data-dir",
                        dir.display()
                    ),
                ));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => Err(fail(
            ExitCode::Usage,
            format!(
                "cannot use {} as the data dir: it, or a directory above it, is a file; choose another --data-dir",
                dir.display()
            ),
        )),
        Err(e) => Err(fail(
            ExitCode::Usage,
            format!(
                "cannot read {}: {e}; choose a --data-dir you can write",
                dir.display()
            ),
        )),
    }
}

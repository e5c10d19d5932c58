//! The server install and its key: the staged, all-or-nothing install of a
//! data dir, the idempotent re-run, and key rotation. `cli/install.rs` and
//! `cli/key.rs` parse options and print what these return.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::deploy::{DeployError, Outcome, Planned};
use crate::domain::settings::{self, Setting};
use crate::store::{Store, StoreError};
use crate::trust::key::{KeyError, SharedKey, key_path};

/// What `p2pd install` was given.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub server_name: Option<String>,
    pub port: Option<String>,
    pub file_storage: Option<String>,
    /// Accept a `file_storage` directory that does not exist yet.
    pub allow_missing_storage: bool,
    pub cdn_url: Option<String>,
    /// Also write the systemd unit: below this root, overwriting a
    /// differing unit when `force`.
    pub systemd: Option<Systemd>,
    /// `--database`: a PostgreSQL URL installs into that (empty) shared
    /// database; the data dir then holds db.key, the key file and logs.
    pub database: Option<String>,
}

/// Where `--systemd` writes, and whether it may overwrite.
#[derive(Debug, Clone)]
pub struct Systemd {
    pub root: PathBuf,
    pub force: bool,
}

impl Options {
    /// Whether any setting was given (a key regeneration takes none).
    pub fn settings_given(&self) -> bool {
        self.server_name.is_some()
            || self.port.is_some()
            || self.file_storage.is_some()
            || self.cdn_url.is_some()
    }
}

/// Why an install, re-run or key rotation failed. Each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// A bad option value: `--NAME: why`.
    #[error("--{option}: {reason}")]
    BadOption { option: String, reason: String },
    #[error(
        "{} is not empty and holds no p2pd install; nothing was changed. \
         Choose an empty or new --data-dir",
        .0.display()
    )]
    NotEmpty(PathBuf),
    #[error(
        "cannot use {} as the data dir: it, or a directory above it, is a file; choose another --data-dir",
        .0.display()
    )]
    DataDirIsFile(PathBuf),
    #[error("cannot read {}: {source}; choose a --data-dir you can write", .dir.display())]
    Unreadable {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "p2pd is already installed in {} with other settings; nothing was changed: {}. \
         To change a setting run `p2pd settings set NAME VALUE`; to replace a lost key run \
         `p2pd key regenerate` (or `p2pd install --regenerate-key`)",
        .dir.display(),
        .differences.join("; ")
    )]
    Differs {
        dir: PathBuf,
        differences: Vec<String>,
    },
    #[error("{}: the install is incomplete (no server row); install into a new --data-dir", .0.display())]
    Incomplete(PathBuf),
    #[error("database has no server row; reinstall")]
    NoServerRow,
    #[error(
        "--regenerate-key keeps the existing settings; change them with `p2pd settings set NAME VALUE`"
    )]
    RegenerateWithSettings,
    #[error(
        "--regenerate-key needs an existing install, but {} has none; run `p2pd install` without it",
        .0.display()
    )]
    RegenerateNeedsInstall(PathBuf),
    /// An I/O step failed; `what` names it and the path.
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Deploy(#[from] DeployError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Token(#[from] crate::server::ui::TokenError),
    /// `key regenerate` on a shared database without the data dir's db.key.
    #[error(
        "{0}; `key regenerate` on a shared database needs the database key db.key in the \
         data dir (--data-dir) to seal the new key"
    )]
    NoDbKey(KeyError),
    /// `install --database URL` on a database that already holds one.
    #[error(
        "{url} already holds a p2pd install (server {server_id}); nothing was changed. To run \
         another replica on it, copy db.key (the database key; the server CA is in the database) from a \
         replica's data dir into {dir} and run \
         `p2pd serve --database URL --data-dir {dir}`"
    )]
    SharedInstalled {
        url: String,
        server_id: String,
        dir: PathBuf,
    },
    /// The server CA cannot be created or read.
    #[error(transparent)]
    Tls(#[from] crate::trust::tls::TlsError),
    /// The server CA in the database cannot be stored or opened.
    #[error(transparent)]
    Ca(#[from] crate::vault::server_ca::CaError),
}

impl From<crate::store::DbError> for InstallError {
    fn from(e: crate::store::DbError) -> Self {
        InstallError::Store(e.into())
    }
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> InstallError {
    let what = what.into();
    move |source| InstallError::Io { what, source }
}

/// A unit file `--systemd` wrote or found unchanged.
#[derive(Debug, Serialize)]
pub struct UnitFile {
    pub path: String,
    pub outcome: Outcome,
}

fn unit_files(done: &[(PathBuf, Outcome)]) -> Vec<UnitFile> {
    done.iter()
        .map(|(p, o)| UnitFile {
            path: p.display().to_string(),
            outcome: *o,
        })
        .collect()
}

/// An install: a new one (with the key and admin token, shown once) or,
/// on a re-run with the same settings, the install as it is (never the
/// key; `already_installed` set).
#[derive(Debug, Serialize)]
pub struct Installed {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub already_installed: Option<bool>,
    pub server_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub key_fingerprint: String,
    pub key_version: i64,
    /// SHA-256 of the server CA certificate: agents take it with
    /// `--ca-fingerprint`, or a copy of `ca_file` with `--ca`.
    pub ca_fingerprint: String,
    /// The CA certificate to give agents (public; its key stays here).
    pub ca_file: String,
    /// True when this run added the server CA (an install made before TLS).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ca_created: bool,
    /// Opens the dashboard (`/ui`) and `/metrics`; `p2pd ui token` rotates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_token: Option<String>,
    pub data_dir: String,
    /// Files `--systemd` wrote or found unchanged.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<UnitFile>,
    /// The root the unit files went below (with `--systemd`).
    #[serde(skip)]
    pub root: Option<PathBuf>,
    /// The unit files as written, for the next-step advice.
    #[serde(skip)]
    pub done: Vec<(PathBuf, Outcome)>,
}

/// `--database` when it names PostgreSQL (a shared database).
fn shared_location(
    dir: &Path,
    o: &Options,
) -> Result<Option<crate::store::Location>, InstallError> {
    match o.database.as_deref() {
        Some(d) => match crate::store::Location::new(dir, Some(d))? {
            loc @ crate::store::Location::Postgres(_) => Ok(Some(loc)),
            crate::store::Location::Sqlite(_) => Ok(None),
        },
        None => Ok(None),
    }
}

/// Whether `dir` holds an install: its SQLite database, or on a shared
/// database its db.key.
pub fn is_installed(dir: &Path, o: &Options) -> Result<bool, InstallError> {
    Ok(match shared_location(dir, o)? {
        Some(_) => crate::vault::dbkey::DbKey::path(dir).exists(),
        None => dir.join(crate::store::DB_FILE).exists(),
    })
}

/// The current key's fingerprint and version, and the retired ones.
#[derive(Debug, Serialize)]
pub struct Fingerprint {
    pub key_fingerprint: String,
    pub key_version: i64,
    pub retired: Vec<Retired>,
    /// The server CA's fingerprint (agents' `--ca-fingerprint`); absent on
    /// an install made before TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_fingerprint: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Retired {
    pub version: i64,
    pub fingerprint: String,
}

/// A rotated key (shown once).
#[derive(Debug, Serialize)]
pub struct Regenerated {
    pub key: String,
    pub key_fingerprint: String,
    pub key_version: i64,
    pub retired_fingerprint: String,
}

/// The files `--systemd` writes (the installed binary and the unit).
fn planned_unit(dir: &Path) -> Result<Vec<Planned>, InstallError> {
    let exe = std::env::current_exe().map_err(io("cannot find the p2pd executable"))?;
    let abs = std::path::absolute(dir).map_err(io(dir.display().to_string()))?;
    Ok(crate::deploy::server_files(&exe, &abs)?)
}

/// The settings given, validated, in [`settings::ALL`] order. A bad one
/// names its option and shows a good value.
pub fn given_settings(o: &Options) -> Result<Vec<(Setting, String)>, InstallError> {
    let mut out = Vec::new();
    for s in settings::ALL {
        let given = match s {
            Setting::ServerName => o.server_name.as_deref(),
            Setting::Port => o.port.as_deref(),
            Setting::FileStorage => o.file_storage.as_deref(),
            Setting::CdnUrl => o.cdn_url.as_deref(),
            _ => None,
        };
        if let Some(v) = given {
            let v = s.validate(v).map_err(|e| InstallError::BadOption {
                option: s.name().replace('_', "-"),
                reason: e.to_string(),
            })?;
            out.push((*s, v));
        }
    }
    Ok(out)
}

/// `install` on an existing install: the same settings are a success that
/// changes nothing (scripts re-run their install step); a differing one
/// fails, naming every difference, and changes nothing either.
pub fn rerun(dir: &Path, o: &Options) -> Result<Installed, InstallError> {
    let given = given_settings(o)?;
    let st = Store::open_at(dir, o.database.as_deref())?;
    let server = st
        .server()?
        .ok_or_else(|| InstallError::Incomplete(dir.to_path_buf()))?;
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
    if !differences.is_empty() {
        return Err(InstallError::Differs {
            dir: dir.to_path_buf(),
            differences,
        });
    }
    // An install made before TLS has no CA: add it (the one change a
    // re-run makes). One made before the CA moved into the database has
    // its files moved in.
    let (ca, ca_created) = crate::vault::server_ca::load_or_create(dir, &st, &server.server_id)?;
    drop(st);
    let (root, done) = match &o.systemd {
        Some(sd) => {
            let unit = planned_unit(dir)?;
            let done = crate::deploy::apply(&sd.root, &unit, sd.force)?;
            (Some(sd.root.clone()), done)
        }
        None => (None, Vec::new()),
    };
    Ok(Installed {
        already_installed: Some(true),
        server_id: server.server_id,
        key: None,
        admin_token: None,
        key_fingerprint: server.key_fingerprint,
        key_version: server.key_version,
        ca_fingerprint: ca.fingerprint(),
        ca_file: dir
            .join(crate::trust::tls::CA_CERT_FILE)
            .display()
            .to_string(),
        ca_created,
        data_dir: dir.display().to_string(),
        files: unit_files(&done),
        root,
        done,
    })
}

/// A new install into `dir` (absent or empty). Every option is checked
/// before the disk is touched; the install is built in a staging dir next
/// to `dir` and renamed into place, so a failure half-way leaves nothing.
pub fn install(dir: &Path, o: &Options) -> Result<Installed, InstallError> {
    let values = setting_values(o)?;
    check_target_dir(dir)?;
    // A shared database must be empty of p2pd: a second host joins as a
    // replica with the first one's db.key, not by installing again.
    let shared_store = empty_shared_store(dir, o)?;
    // Refuse a changed unit before anything is installed.
    let unit = match &o.systemd {
        Some(sd) => {
            let unit = planned_unit(dir)?;
            crate::deploy::check(&sd.root, &unit, sd.force)?;
            Some((sd.clone(), unit))
        }
        None => None,
    };
    let key = SharedKey::generate()?;
    let server_id = uuid::Uuid::new_v4().to_string();

    let staging = staging_dir(dir)?;
    key.save(&key_path(staging.path()))?;
    // On a shared database its transaction commits only once the data
    // dir is in place.
    let mut shared_tx = None;
    // The server CA goes into the database (its key sealed with db.key on
    // PostgreSQL); `ca.pem`, its public copy, into the data dir.
    let (admin_token, ca) = match &shared_store {
        None => {
            let st = Store::create(staging.path())?;
            st.init_server(&server_id, &key.fingerprint(), &values)?;
            let (ca, _) = crate::vault::server_ca::load_or_create(staging.path(), &st, &server_id)?;
            (crate::server::ui::new_admin_token(&st)?, ca)
        }
        Some(st) => {
            let (db_key, _) = crate::vault::dbkey::DbKey::load_or_create(staging.path())?;
            let tx = st.begin()?;
            st.init_server(&server_id, &key.fingerprint(), &values)?;
            st.set_sealed_key(1, &db_key.seal(1, &key)?)?;
            let (ca, _) = crate::vault::server_ca::load_or_create(staging.path(), st, &server_id)?;
            let token = crate::server::ui::new_admin_token(st)?;
            shared_tx = Some(tx);
            (token, ca)
        }
    };
    let logs = staging.path().join("logs");
    std::fs::create_dir(&logs).map_err(io(logs.display().to_string()))?;
    let staged = staging.keep();
    // rename(2) replaces an empty directory; check_target_dir made sure it is.
    std::fs::rename(&staged, dir).map_err(|e| {
        let _ = std::fs::remove_dir_all(&staged);
        io(format!(
            "cannot move the new install into {}",
            dir.display()
        ))(e)
    })?;
    if let Some(tx) = shared_tx {
        tx.commit().map_err(StoreError::from)?;
    }

    let (root, done) = match &unit {
        Some((sd, unit)) => (
            Some(sd.root.clone()),
            crate::deploy::apply(&sd.root, unit, sd.force)?,
        ),
        None => (None, Vec::new()),
    };
    Ok(Installed {
        already_installed: None,
        server_id,
        key: Some(key.to_base64()),
        key_fingerprint: key.fingerprint(),
        key_version: 1,
        ca_fingerprint: ca.fingerprint(),
        ca_file: dir
            .join(crate::trust::tls::CA_CERT_FILE)
            .display()
            .to_string(),
        ca_created: false,
        admin_token: Some(admin_token),
        data_dir: dir.display().to_string(),
        files: unit_files(&done),
        root,
        done,
    })
}

/// Every setting's value for a new install: the given ones (checked), and
/// the defaults.
fn setting_values(o: &Options) -> Result<Vec<(&'static str, String)>, InstallError> {
    let given = given_settings(o)?;
    if !o.allow_missing_storage {
        for (s, v) in &given {
            s.check_exists(v).map_err(|e| InstallError::BadOption {
                option: s.name().replace('_', "-"),
                reason: e.to_string(),
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
    Ok(values)
}

/// The shared database of `--database`, if any, provided it holds no
/// p2pd install yet: a second host joins as a replica with the first
/// one's db.key, not by installing again.
fn empty_shared_store(dir: &Path, o: &Options) -> Result<Option<Store>, InstallError> {
    Ok(match shared_location(dir, o)? {
        Some(loc) => {
            let st = Store::open_location(&loc, true)?;
            if let Some(s) = st.server()? {
                return Err(InstallError::SharedInstalled {
                    url: loc.display(),
                    server_id: s.server_id,
                    dir: dir.to_path_buf(),
                });
            }
            Some(st)
        }
        None => None,
    })
}

/// An owner-only staging directory beside `dir`, renamed into place when
/// the install is complete.
fn staging_dir(dir: &Path) -> Result<tempfile::TempDir, InstallError> {
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io(format!("cannot create {}", parent.display())))?;
    let staging = tempfile::Builder::new()
        .prefix(".p2pd-install-")
        .tempdir_in(parent)
        .map_err(io(format!(
            "cannot write in {}; choose a writable --data-dir",
            parent.display()
        )))?;
    crate::platform::make_dir_owner_only(staging.path()).map_err(io(format!(
        "cannot restrict {} to its owner",
        staging.path().display()
    )))?;
    Ok(staging)
}

/// The data dir must be absent or empty, and its parent writable.
fn check_target_dir(dir: &Path) -> Result<(), InstallError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => match entries.next() {
            Some(_) => Err(InstallError::NotEmpty(dir.to_path_buf())),
            None => Ok(()),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            Err(InstallError::DataDirIsFile(dir.to_path_buf()))
        }
        Err(source) => Err(InstallError::Unreadable {
            dir: dir.to_path_buf(),
            source,
        }),
    }
}

/// The current key's fingerprint and version, the retired ones, and the
/// CA's fingerprint (from the database).
pub fn fingerprint(dir: &Path, st: &Store) -> Result<Fingerprint, InstallError> {
    let server = st.server()?.ok_or(InstallError::NoServerRow)?;
    Ok(Fingerprint {
        key_fingerprint: server.key_fingerprint,
        key_version: server.key_version,
        retired: st
            .retired_fingerprints()?
            .into_iter()
            .map(|(version, fingerprint)| Retired {
                version,
                fingerprint,
            })
            .collect(),
        ca_fingerprint: crate::vault::server_ca::trust(dir, st)
            .ok()
            .map(|ca| ca.fingerprint()),
    })
}

/// Makes a new key and key version; keeps settings, topology, devices and
/// content. The database change and the key file replacement happen in one
/// transaction: if the key file cannot be written, the database rolls back.
///
/// On a shared (PostgreSQL) database the new key is also stored sealed with
/// the data dir's db.key, in the same transaction: every replica loads it
/// from there within a second.
pub fn regenerate_key(dir: &Path, st: &mut Store) -> Result<Regenerated, InstallError> {
    let db_key = match st.backend() {
        crate::store::Backend::Postgres => {
            Some(crate::vault::dbkey::DbKey::load(dir).map_err(InstallError::NoDbKey)?)
        }
        crate::store::Backend::Sqlite => None,
    };
    let key = SharedKey::generate()?;
    let fp = key.fingerprint();
    let (version, retired) = st.rotate_key(&fp, |st, version| {
        if let Some(k) = &db_key {
            st.set_sealed_key(version, &k.seal(version, &key)?)?;
        }
        if db_key.is_none() || dir.is_dir() {
            key.save(&key_path(dir))?;
        }
        Ok::<_, InstallError>(())
    })?;
    Ok(Regenerated {
        key: key.to_base64(),
        key_fingerprint: fp,
        key_version: version,
        retired_fingerprint: retired,
    })
}

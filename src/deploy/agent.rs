//! The agent's own install on a device, beyond the files of
//! [`super::agent_files`]: the Windows service, the uninstall, and the next step an admin
//! runs. `cli/agent/install.rs` parses and prints.

use std::path::{Path, PathBuf};

use super::{AgentConfig, DeployError, Outcome};
use crate::platform::{self, PlatformError, ServiceManager, ServiceOutcome};

/// Why the agent install or uninstall changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum AgentInstallError {
    #[error(
        "--root is for systemd installs; on Windows give --data-dir DIR to choose where the configuration goes"
    )]
    RootOnWindows,
    #[error(
        "the service {0} is registered with another command line (installed from another place or with other options); \
         nothing was changed. Review it with `sc.exe qc {0}`, then re-run with --force to replace it"
    )]
    ServiceDiffers(String),
    #[error(transparent)]
    Deploy(#[from] DeployError),
    #[error(transparent)]
    Platform(#[from] PlatformError),
}

/// The systemctl command the written files need, when written to `/`. A
/// new key needs nothing from systemd (the agent re-reads it); a new unit,
/// configuration or binary needs the service (re)started.
pub fn next_step(done: &[(PathBuf, Outcome)], root: &Path, unit: &str) -> Option<String> {
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

/// Windows: `service.json` and `agent.key` (owner-only) in the data dir,
/// and the `p2pd-agent` service. Everything is checked before anything is
/// written, so a refused run changes nothing. Returns each file's outcome
/// and the service's (as `service NAME`).
pub fn install_windows(
    exe: &Path,
    cfg: &AgentConfig,
    root: &Path,
    force: bool,
) -> Result<Vec<(PathBuf, Outcome)>, AgentInstallError> {
    if root != Path::new("/") {
        return Err(AgentInstallError::RootOnWindows);
    }
    let files = super::windows_agent_files(cfg);
    super::check(&cfg.data_dir, &files, force)?;
    let spec = super::agent_service(exe, &cfg.data_dir);
    let service = platform::install_service(&spec, force)?;
    if service == ServiceOutcome::Differs {
        return Err(AgentInstallError::ServiceDiffers(spec.name));
    }
    let mut done = super::apply(&cfg.data_dir, &files, force)?;
    let svc_outcome = match service {
        ServiceOutcome::Created => Outcome::Created,
        ServiceOutcome::Replaced => Outcome::Replaced,
        _ => Outcome::Unchanged,
    };
    done.push((PathBuf::from(format!("service {}", spec.name)), svc_outcome));
    Ok(done)
}

/// What `agent uninstall` did.
#[derive(Debug)]
pub struct Uninstalled {
    /// Windows: whether the service existed (it is gone now).
    pub service: Option<bool>,
    /// Each file, and whether it existed (it is gone now).
    pub removed: Vec<(PathBuf, bool)>,
    /// The root the files were below.
    pub root: PathBuf,
}

/// Removes what `agent install` wrote. Linux: the unit, `agent.env` and
/// `agent.key` below `root` (the installed binary stays: `install
/// --systemd` runs it too). Windows: stops and deletes the `p2pd-agent`
/// service, then removes `service.json` and `agent.key` from `data_dir`.
/// The data dir itself (pieces, delivered files) is kept.
pub fn uninstall(data_dir: &Path, root: &Path) -> Result<Uninstalled, AgentInstallError> {
    let (root, paths, service) = match platform::SERVICE_MANAGER {
        ServiceManager::WindowsScm => {
            let existed = platform::uninstall_service(
                super::AGENT_SERVICE,
                std::time::Duration::from_secs(30),
            )?;
            let files = vec![
                PathBuf::from(super::AGENT_SERVICE_CONFIG),
                PathBuf::from(super::AGENT_KEY_FILE),
                PathBuf::from(crate::trust::tls::CA_CERT_FILE),
            ];
            (data_dir.to_path_buf(), files, Some(existed))
        }
        ServiceManager::Systemd => {
            // The files agent_files writes; the bytes do not matter here.
            let files = super::agent_files(
                Path::new("p2pd"),
                &AgentConfig {
                    server: String::new(),
                    group: String::new(),
                    listen: String::new(),
                    advertise: None,
                    data_dir: data_dir.to_path_buf(),
                    key_base64: String::new(),
                    // With a CA copy, so its file is removed too.
                    ca: super::AgentCa::Pem(String::new()),
                },
            )?;
            let paths = files
                .into_iter()
                .map(|f| f.path)
                .filter(|p| p != Path::new(super::BIN_PATH))
                .collect();
            (root.to_path_buf(), paths, None)
        }
    };
    let removed = super::remove_files(&root, &paths)?;
    Ok(Uninstalled {
        service,
        removed,
        root,
    })
}

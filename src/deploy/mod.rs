//! Scripted installs: the systemd units and agent configuration that
//! `p2pd install --systemd` and `p2pd agent install` write, the Windows
//! agent's configuration and service registration, and the idempotent way
//! they are written.
//!
//! May use: platform trust
//!
//! Rendering is pure (inputs → bytes), so a re-run with the same inputs
//! produces the same bytes and [`apply`] can tell "unchanged" from
//! "changed by someone". A file that differs from what would be written is
//! never replaced without `force`: it may hold an admin's edits. Two kinds
//! of file are the exception, because a change there is the normal case
//! and nobody edits them by hand: the agent's key copy (a key roll-out is
//! `agent install --key-file NEW`) and the installed binary (an upgrade).
//! All files are checked before any is written, so a refused run changes
//! nothing.
//!
//! Both units run a stable installed path, [`BIN_PATH`]: `install
//! --systemd` and `agent install` copy the running binary there. A unit pointing into a build
//! tree (`target/release/p2pd`) would break on the next `cargo clean` or
//! rebuild; copying was chosen over refusing such a path because it also
//! makes a one-line install work from a freshly built binary.

pub mod agent;

use std::io::Write;
use std::path::{Path, PathBuf};

/// Where unit files go, below the root.
pub const UNIT_DIR: &str = "etc/systemd/system";
/// Where the agent's configuration goes, below the root.
pub const AGENT_CONF_DIR: &str = "etc/p2pd";
/// Where `install --systemd` and `agent install` put the binary their
/// units run, below the root.
pub const BIN_PATH: &str = "usr/local/bin/p2pd";
/// The Windows service's key name (`sc.exe start p2pd-agent`).
pub const AGENT_SERVICE: &str = "p2pd-agent";
/// The Windows agent's configuration file, in its data dir.
pub const AGENT_SERVICE_CONFIG: &str = "service.json";
/// The agent's key file name next to its configuration.
pub const AGENT_KEY_FILE: &str = "agent.key";

/// One file to write: its path below the root, contents and mode.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Relative to the root (`etc/systemd/system/p2pd.service`).
    pub path: PathBuf,
    /// The contents, unless `copy_from` names a file to copy instead.
    pub bytes: Vec<u8>,
    /// Copy this file (streamed: a binary is large) instead of `bytes`.
    pub copy_from: Option<PathBuf>,
    pub mode: u32,
    /// Replace it when it differs, even without `force`: nobody edits it
    /// by hand, and a change is the normal case (a new key, an upgrade).
    pub replace_freely: bool,
}

impl Planned {
    fn new(path: PathBuf, bytes: Vec<u8>, mode: u32) -> Planned {
        Planned {
            path,
            bytes,
            copy_from: None,
            mode,
            replace_freely: false,
        }
    }

    /// True when the file at `full` already holds these contents.
    fn same_contents(&self, full: &Path) -> std::io::Result<bool> {
        match &self.copy_from {
            None => Ok(std::fs::read(full)? == self.bytes),
            Some(src) => same_file_contents(src, full),
        }
    }
}

/// Compares two files chunk by chunk (sizes first).
fn same_file_contents(a: &Path, b: &Path) -> std::io::Result<bool> {
    use std::io::Read;
    if std::fs::metadata(a)?.len() != std::fs::metadata(b)?.len() {
        return Ok(false);
    }
    let (mut fa, mut fb) = (std::fs::File::open(a)?, std::fs::File::open(b)?);
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = fa.read(&mut ba)?;
        if n == 0 {
            return Ok(true);
        }
        fb.read_exact(&mut bb[..n])?;
        if ba[..n] != bb[..n] {
            return Ok(false);
        }
    }
}

/// What [`apply`] did to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Created,
    Unchanged,
    /// It differed and `force` replaced it.
    Replaced,
}

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(
        "{0} exists and differs from what p2pd would write (edited by hand, or written with other options); \
         nothing was changed. Review it, then re-run with --force to overwrite it"
    )]
    Changed(PathBuf),
    #[error(
        "{what} {value:?} cannot be written into a systemd unit: it contains a control \
         character (newline, tab, ...); choose a value without one"
    )]
    BadValue { what: &'static str, value: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Writes `files` below `root`. Unchanged files are left alone (not even
/// touched); if any existing file differs and `force` is false, nothing is
/// written at all.
pub fn apply(
    root: &Path,
    files: &[Planned],
    force: bool,
) -> Result<Vec<(PathBuf, Outcome)>, DeployError> {
    let plan = check(root, files, force)?;
    for (f, (full, outcome)) in files.iter().zip(&plan) {
        if *outcome != Outcome::Unchanged {
            write_atomic(full, f, f.mode)?;
        }
    }
    Ok(plan)
}

/// What [`apply`] would do, without writing; the same refusal for a
/// changed file without `force`.
pub fn check(
    root: &Path,
    files: &[Planned],
    force: bool,
) -> Result<Vec<(PathBuf, Outcome)>, DeployError> {
    let mut plan = Vec::new();
    for f in files {
        let full = root.join(&f.path);
        let outcome = match f.same_contents(&full) {
            Ok(same) => {
                let meta = std::fs::metadata(&full).map_err(|source| DeployError::Io {
                    path: full.clone(),
                    source,
                })?;
                // Windows has no mode: the bytes, and for an owner-only
                // file its DACL, decide.
                let access_ok = match crate::platform::file_mode(&meta) {
                    Some(mode) => mode == f.mode,
                    None if f.mode & 0o077 == 0 => {
                        crate::platform::is_owner_only(&full).unwrap_or(false)
                    }
                    None => true,
                };
                if same && access_ok {
                    Outcome::Unchanged
                } else if force || f.replace_freely {
                    Outcome::Replaced
                } else {
                    return Err(DeployError::Changed(full));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Outcome::Created,
            Err(source) => return Err(DeployError::Io { path: full, source }),
        };
        plan.push((full, outcome));
    }
    Ok(plan)
}

/// Temp file in the same directory, mode set before the bytes go in,
/// fsync, rename: a reader never sees half a file or a key with loose
/// permissions.
fn write_atomic(path: &Path, f: &Planned, mode: u32) -> Result<(), DeployError> {
    let io = |source| DeployError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.p2pd-tmp"));
    let mut out = crate::platform::create_with_mode(&tmp, mode).map_err(io)?;
    match &f.copy_from {
        None => out.write_all(&f.bytes).map_err(io)?,
        Some(src) => {
            let mut input = std::fs::File::open(src).map_err(|source| DeployError::Io {
                path: src.clone(),
                source,
            })?;
            std::io::copy(&mut input, &mut out).map_err(io)?;
        }
    }
    out.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Quotes one word of an `ExecStart=` line: `%` and `$` are escaped
/// (systemd would expand them), and words with spaces or quotes are
/// double-quoted C-style.
pub fn exec_word(w: &str) -> String {
    let escaped = w.replace('%', "%%").replace('$', "$$");
    if !escaped.is_empty()
        && !escaped
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | ';'))
    {
        return escaped;
    }
    let mut s = String::from("\"");
    for c in escaped.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            _ => s.push(c),
        }
    }
    s.push('"');
    s
}

/// Refuses values that would change a unit's or an environment file's
/// structure: a newline in `--data-dir` would otherwise start a new
/// directive (`ExecStartPre=...`) in the unit.
pub fn check_unit_value(what: &'static str, value: &str) -> Result<(), DeployError> {
    if value.chars().any(char::is_control) {
        return Err(DeployError::BadValue {
            what,
            value: value.to_string(),
        });
    }
    Ok(())
}

/// A value in an `EnvironmentFile=`: always double-quoted, so spaces and
/// `#` survive.
fn env_value(v: &str) -> String {
    let mut s = String::from("\"");
    for c in v.chars() {
        match c {
            '"' | '\\' | '$' | '`' => {
                s.push('\\');
                s.push(c);
            }
            _ => s.push(c),
        }
    }
    s.push('"');
    s
}

/// The `StateDirectory=` name for a data dir under /var/lib, if it is one.
fn state_directory(data_dir: &Path) -> Option<String> {
    let rel = data_dir.strip_prefix("/var/lib").ok()?;
    let s = rel.to_str()?;
    (!s.is_empty()).then(|| s.to_string())
}

/// The hardening both units share. `ProtectSystem=strict` makes the whole
/// file system read-only for the service; `ReadWritePaths` opens the data
/// dir again. `ProtectHome=read-only` rather than `yes` so a data dir or
/// file storage under /home keeps working.
fn hardening(data_dir: &Path) -> String {
    let mut s = String::new();
    if let Some(sd) = state_directory(data_dir) {
        s.push_str(&format!("StateDirectory={sd}\nStateDirectoryMode=0700\n"));
    }
    s.push_str(&format!(
        "ReadWritePaths={}\n",
        exec_word(&data_dir.display().to_string())
    ));
    // A private /tmp would hide a data dir that lives in /tmp.
    if !data_dir.starts_with("/tmp") && !data_dir.starts_with("/var/tmp") {
        s.push_str("PrivateTmp=yes\n");
    }
    s.push_str(
        "UMask=0077\n\
         NoNewPrivileges=yes\n\
         ProtectSystem=strict\n\
         ProtectHome=read-only\n\
         PrivateDevices=yes\n\
         ProtectKernelTunables=yes\n\
         ProtectKernelModules=yes\n\
         ProtectKernelLogs=yes\n\
         ProtectControlGroups=yes\n\
         ProtectClock=yes\n\
         ProtectHostname=yes\n\
         RestrictSUIDSGID=yes\n\
         RestrictRealtime=yes\n\
         RestrictNamespaces=yes\n\
         LockPersonality=yes\n\
         RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX\n\
         SystemCallArchitectures=native\n",
    );
    s
}

/// A copy of `exe` at [`BIN_PATH`] and `p2pd.service`, which runs that
/// copy on the data dir.
pub fn server_files(exe: &Path, data_dir: &Path) -> Result<Vec<Planned>, DeployError> {
    Ok(vec![
        installed_binary(exe),
        server_unit(&Path::new("/").join(BIN_PATH), data_dir)?,
    ])
}

/// The copy of the running binary at [`BIN_PATH`]; an upgrade replaces it.
fn installed_binary(exe: &Path) -> Planned {
    Planned {
        copy_from: Some(exe.to_path_buf()),
        replace_freely: true,
        ..Planned::new(PathBuf::from(BIN_PATH), Vec::new(), 0o755)
    }
}

/// `p2pd.service`: runs `exe serve` on the data dir.
pub fn server_unit(exe: &Path, data_dir: &Path) -> Result<Planned, DeployError> {
    check_unit_value("executable path", &exe.display().to_string())?;
    check_unit_value("data dir", &data_dir.display().to_string())?;
    let text = format!(
        "# Written by `p2pd install --systemd`. Re-running it with the same options\n\
         # leaves this file as it is; it is never overwritten without --force.\n\
         [Unit]\n\
         Description=p2pd server: topology-aware peer-to-peer package distribution\n\
         Documentation=man:p2pd(1) man:p2pd-serve(1)\n\
         Wants=network-online.target\n\
         After=network-online.target\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart={exe} serve --data-dir {dir}\n\
         Restart=on-failure\n\
         RestartSec=5s\n\
         TimeoutStopSec=30s\n\
         LimitNOFILE=65536\n\
         # The server binds an unprivileged port and needs no capabilities.\n\
         CapabilityBoundingSet=\n\
         {hardening}\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        exe = exec_word(&exe.display().to_string()),
        dir = exec_word(&data_dir.display().to_string()),
        hardening = hardening(data_dir),
    );
    Ok(Planned::new(
        Path::new(UNIT_DIR).join("p2pd.service"),
        text.into_bytes(),
        0o644,
    ))
}

/// What the agent unit needs to know.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub server: String,
    pub group: String,
    pub listen: String,
    /// A fixed address peers reach the device at (`--advertise`); `None`,
    /// the usual case, writes no address at all.
    pub advertise: Option<String>,
    /// The agent's state dir (piece store, delivered files).
    pub data_dir: PathBuf,
    /// The shared key, base64, as stored in the key file.
    pub key_base64: String,
    /// Which CA the agent trusts.
    pub ca: AgentCa,
}

/// How an installed agent knows the server CA.
#[derive(Debug, Clone)]
pub enum AgentCa {
    /// A copy of the CA certificate (PEM), written next to the key.
    Pem(String),
    /// The CA's SHA-256 fingerprint: the agent learns the CA at first contact.
    Fingerprint(String),
    /// `--insecure-plain-http` (benchmarks only).
    PlainHttp,
}

/// The CA certificate an installed agent reads (Linux).
pub const AGENT_CA_FILE: &str = "agent-ca.pem";

/// `etc/p2pd/agent.env`, `etc/p2pd/agent.key` (0600), a copy of `exe`
/// at [`BIN_PATH`], and `p2pd-agent.service`, which runs that copy and
/// reads the first two.
pub fn agent_files(exe: &Path, c: &AgentConfig) -> Result<Vec<Planned>, DeployError> {
    check_unit_value("executable path", &exe.display().to_string())?;
    check_unit_value("server URL", &c.server)?;
    check_unit_value("group", &c.group)?;
    check_unit_value("listen address", &c.listen)?;
    if let Some(a) = &c.advertise {
        check_unit_value("advertised address", a)?;
    }
    check_unit_value("data dir", &c.data_dir.display().to_string())?;
    let conf = Path::new("/").join(AGENT_CONF_DIR);
    let installed = Path::new("/").join(BIN_PATH);
    let tls_args = match &c.ca {
        AgentCa::Pem(_) => format!("--ca {}", conf.join(AGENT_CA_FILE).display()),
        AgentCa::Fingerprint(fp) => {
            check_unit_value("CA fingerprint", fp)?;
            format!("--ca-fingerprint {fp}")
        }
        AgentCa::PlainHttp => "--insecure-plain-http".to_string(),
    };
    let env = format!(
        "# Written by `p2pd agent install`; read by p2pd-agent.service.\n\
         # Change it by re-running `p2pd agent install ... --force`.\n\
         # P2PD_AGENT_DATA_DIR is the agent's own data dir (pieces, delivered files).\n\
         P2PD_SERVER={}\n\
         P2PD_GROUP={}\n\
         P2PD_LISTEN={}\n\
         {}\
         P2PD_AGENT_DATA_DIR={}\n",
        env_value(&c.server),
        env_value(&c.group),
        env_value(&c.listen),
        c.advertise
            .as_ref()
            .map(|a| format!("P2PD_ADVERTISE={}\n", env_value(a)))
            .unwrap_or_default(),
        env_value(&c.data_dir.display().to_string()),
    );
    let advertise_arg = match &c.advertise {
        Some(_) => " --advertise ${P2PD_ADVERTISE}",
        None => "",
    };
    // `${VAR}` (braces) expands to exactly one argument even when the value
    // holds spaces, as a group name may.
    let unit = format!(
        "# Written by `p2pd agent install`. Re-running it with the same options\n\
         # leaves this file as it is; it is never overwritten without --force.\n\
         [Unit]\n\
         Description=p2pd agent: peer-to-peer package distribution client\n\
         Documentation=man:p2pd-agent(1)\n\
         Wants=network-online.target\n\
         After=network-online.target\n\
         \n\
         [Service]\n\
         Type=simple\n\
         EnvironmentFile={env}\n\
         ExecStart={exe} agent --server ${{P2PD_SERVER}} --key-file {key} --group ${{P2PD_GROUP}} \
         --listen ${{P2PD_LISTEN}}{advertise_arg} {tls_args}\n\
         Restart=on-failure\n\
         RestartSec=5s\n\
         # Exit 4 is a key mismatch at the first start: restarting cannot fix it.\n\
         # Install the current key (`p2pd agent install --key-file FILE ...`).\n\
         RestartPreventExitStatus=4\n\
         TimeoutStopSec=30s\n\
         # Room for peers and downloads; the peer server caps connections\n\
         # per address well below this.\n\
         LimitNOFILE=65536\n\
         {hardening}\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        env = conf.join("agent.env").display(),
        key = conf.join("agent.key").display(),
        exe = exec_word(&installed.display().to_string()),
        hardening = hardening(&c.data_dir),
    );
    let mut out = vec![
        Planned::new(
            Path::new(AGENT_CONF_DIR).join("agent.env"),
            env.into_bytes(),
            0o644,
        ),
        Planned {
            replace_freely: true,
            ..Planned::new(
                Path::new(AGENT_CONF_DIR).join("agent.key"),
                format!("{}\n", c.key_base64).into_bytes(),
                0o600,
            )
        },
        installed_binary(exe),
        Planned::new(
            Path::new(UNIT_DIR).join("p2pd-agent.service"),
            unit.into_bytes(),
            0o644,
        ),
    ];
    if let AgentCa::Pem(pem) = &c.ca {
        // Replaced freely like the key: a new CA is a roll-out, not a conflict.
        out.push(Planned {
            replace_freely: true,
            ..Planned::new(
                Path::new(AGENT_CONF_DIR).join(AGENT_CA_FILE),
                pem.clone().into_bytes(),
                0o644,
            )
        });
    }
    Ok(out)
}

/// What the Windows service runs: `service.json` in the agent's data dir,
/// read by `p2pd agent service --config FILE`. Owner-only like the key,
/// because it says where the key is and which group the device joins.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentServiceConfig {
    pub server: String,
    pub group: String,
    pub listen: String,
    /// `--advertise`, only when the admin gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertise: Option<String>,
    pub data_dir: PathBuf,
    pub key_file: PathBuf,
    /// The CA certificate file (`--ca`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The CA fingerprint (`--ca-fingerprint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_fingerprint: Option<String>,
    /// `--insecure-plain-http`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_plain_http: bool,
}

/// `service.json` and `agent.key` in the agent's data dir, both owner-only
/// (a DACL for the owner, SYSTEM and Administrators on Windows). Paths are
/// relative to `c.data_dir`, the root to [`apply`] them under.
pub fn windows_agent_files(c: &AgentConfig) -> Vec<Planned> {
    let conf = AgentServiceConfig {
        server: c.server.clone(),
        group: c.group.clone(),
        listen: c.listen.clone(),
        advertise: c.advertise.clone(),
        data_dir: c.data_dir.clone(),
        key_file: c.data_dir.join(AGENT_KEY_FILE),
        ca_file: matches!(c.ca, AgentCa::Pem(_))
            .then(|| c.data_dir.join(crate::trust::tls::CA_CERT_FILE)),
        ca_fingerprint: match &c.ca {
            AgentCa::Fingerprint(f) => Some(f.clone()),
            _ => None,
        },
        insecure_plain_http: matches!(c.ca, AgentCa::PlainHttp),
    };
    let mut json = serde_json::to_vec_pretty(&conf).expect("plain strings serialize");
    json.push(b'\n');
    let ca_pem = match &c.ca {
        AgentCa::Pem(pem) => Some(Planned {
            replace_freely: true,
            // Public, but owner-only like the rest of the service's files:
            // nobody else needs it, and a writable copy would be a new CA.
            ..Planned::new(
                PathBuf::from(crate::trust::tls::CA_CERT_FILE),
                pem.clone().into_bytes(),
                0o600,
            )
        }),
        _ => None,
    };
    let mut out = vec![
        Planned::new(PathBuf::from(AGENT_SERVICE_CONFIG), json, 0o600),
        Planned {
            replace_freely: true,
            ..Planned::new(
                PathBuf::from(AGENT_KEY_FILE),
                format!("{}\n", c.key_base64).into_bytes(),
                0o600,
            )
        },
    ];
    out.extend(ca_pem);
    out
}

/// The `p2pd-agent` service: `p2pd.exe agent service --config
/// <data dir>\service.json`, started automatically, as LocalSystem.
pub fn agent_service(exe: &Path, data_dir: &Path) -> crate::platform::ServiceSpec {
    crate::platform::ServiceSpec {
        name: AGENT_SERVICE.into(),
        display_name: "p2pd agent".into(),
        description: "p2pd peer-to-peer package distribution client (p2pd agent install)".into(),
        exe: exe.to_path_buf(),
        args: vec![
            "agent".into(),
            "service".into(),
            "--config".into(),
            data_dir.join(AGENT_SERVICE_CONFIG).into_os_string(),
        ],
    }
}

/// Reads a service configuration written by [`windows_agent_files`].
pub fn load_agent_service_config(path: &Path) -> Result<AgentServiceConfig, DeployError> {
    let bytes = std::fs::read(path).map_err(|source| DeployError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|e| DeployError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not an agent configuration ({e}); re-run `p2pd agent install ... --force`"),
        ),
    })
}

/// Removes what [`agent_files`] wrote below `root` (the unit, `agent.env`,
/// `agent.key`). Returns each path and whether it was there.
pub fn remove_files(root: &Path, paths: &[PathBuf]) -> Result<Vec<(PathBuf, bool)>, DeployError> {
    let mut out = Vec::new();
    for p in paths {
        let full = root.join(p);
        match std::fs::remove_file(&full) {
            Ok(()) => out.push((full, true)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => out.push((full, false)),
            Err(source) => return Err(DeployError::Io { path: full, source }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_words_are_quoted() {
        assert_eq!(exec_word("/usr/bin/p2pd"), "/usr/bin/p2pd");
        assert_eq!(exec_word("/srv/my dir"), "\"/srv/my dir\"");
        assert_eq!(exec_word("50%"), "50%%");
        assert_eq!(env_value("Sales \"EMEA\""), "\"Sales \\\"EMEA\\\"\"");
    }

    #[test]
    fn state_directory_only_under_var_lib() {
        assert_eq!(
            state_directory(Path::new("/var/lib/p2pd")).as_deref(),
            Some("p2pd")
        );
        assert_eq!(state_directory(Path::new("/srv/p2pd")), None);
    }

    #[test]
    fn a_newline_in_the_data_dir_is_refused_not_written_into_the_unit() {
        let e = server_unit(
            Path::new("/usr/bin/p2pd"),
            Path::new("/var/lib/p2pd\nExecStartPre=/bin/sh -c evil"),
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                DeployError::BadValue {
                    what: "data dir",
                    ..
                }
            ),
            "{e}"
        );
        let c = AgentConfig {
            server: "http://s:7650".into(),
            group: "g\r\nX=1".into(),
            listen: "0.0.0.0:7651".into(),
            advertise: Some("10.0.0.1:7651".into()),
            data_dir: "/var/lib/p2pd-agent".into(),
            key_base64: "k".into(),
            ca: AgentCa::Fingerprint("ab".repeat(32)),
        };
        assert!(matches!(
            agent_files(Path::new("/usr/bin/p2pd"), &c),
            Err(DeployError::BadValue { what: "group", .. })
        ));
    }

    #[test]
    fn apply_is_idempotent_and_refuses_edits() {
        let root = tempfile::tempdir().unwrap();
        let f = server_unit(Path::new("/usr/bin/p2pd"), Path::new("/var/lib/p2pd")).unwrap();
        let files = [f];
        assert_eq!(
            apply(root.path(), &files, false).unwrap()[0].1,
            Outcome::Created
        );
        assert_eq!(
            apply(root.path(), &files, false).unwrap()[0].1,
            Outcome::Unchanged
        );
        let path = root.path().join(&files[0].path);
        std::fs::write(&path, "edited").unwrap();
        assert!(matches!(
            apply(root.path(), &files, false),
            Err(DeployError::Changed(_))
        ));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "edited");
        assert_eq!(
            apply(root.path(), &files, true).unwrap()[0].1,
            Outcome::Replaced
        );
    }

    fn agent_config(data_dir: &str) -> AgentConfig {
        AgentConfig {
            server: "http://10.0.0.5:7650".into(),
            group: "Sales EMEA".into(),
            listen: "[::]:7651".into(),
            advertise: None,
            data_dir: PathBuf::from(data_dir),
            key_base64: "a2V5".into(),
            ca: AgentCa::Pem("-----BEGIN CERTIFICATE-----\n".into()),
        }
    }

    /// The Windows service's configuration is checked here, on any
    /// system; `tests/it/windows.rs` registers, starts, stops and removes the
    /// real service under Wine when `P2PD_WINE_EXE` is set.
    #[test]
    fn windows_agent_config_round_trips_and_service_points_at_it() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("p2pd-agent");
        let c = agent_config(dir.to_str().unwrap());
        let files = windows_agent_files(&c);
        assert!(
            files.iter().all(|f| f.mode == 0o600),
            "config and key are owner-only"
        );
        let done = apply(&dir, &files, false).unwrap();
        assert!(done.iter().all(|(_, o)| *o == Outcome::Created));
        for (p, _) in &done {
            assert!(
                crate::platform::is_owner_only(p).unwrap(),
                "{}",
                p.display()
            );
        }
        let again = apply(&dir, &files, false).unwrap();
        assert!(again.iter().all(|(_, o)| *o == Outcome::Unchanged));
        let conf = load_agent_service_config(&dir.join(AGENT_SERVICE_CONFIG)).unwrap();
        assert_eq!(conf.group, "Sales EMEA");
        assert_eq!(conf.key_file, dir.join(AGENT_KEY_FILE));
        assert_eq!(std::fs::read_to_string(&conf.key_file).unwrap(), "a2V5\n");
        assert_eq!(
            conf.ca_file,
            Some(dir.join(crate::trust::tls::CA_CERT_FILE))
        );
        let spec = agent_service(
            Path::new(r"C:\Program Files\p2pd\p2pd.exe"),
            Path::new(r"C:\ProgramData\p2pd-agent"),
        );
        assert_eq!(spec.name, "p2pd-agent");
        assert_eq!(
            spec.command_line(),
            r#""C:\Program Files\p2pd\p2pd.exe" agent service --config C:\ProgramData\p2pd-agent/service.json"#
                .replace('/', std::path::MAIN_SEPARATOR_STR)
        );
        std::fs::write(dir.join(AGENT_SERVICE_CONFIG), "{\"server\": 1}").unwrap();
        let e = load_agent_service_config(&dir.join(AGENT_SERVICE_CONFIG)).unwrap_err();
        assert!(e.to_string().contains("--force"), "{e}");
    }

    /// A laptop changes addresses: the service's configuration names none
    /// unless the admin gave --advertise, and then only that one.
    #[test]
    fn the_agent_service_names_no_address_unless_one_is_advertised() {
        let exe = Path::new("/usr/bin/p2pd");
        let text = |c: &AgentConfig| -> String {
            agent_files(exe, c)
                .unwrap()
                .iter()
                .filter(|f| !f.path.ends_with("agent.key"))
                .map(|f| String::from_utf8_lossy(&f.bytes).into_owned())
                .collect()
        };
        let c = agent_config("/var/lib/p2pd-agent");
        let all = text(&c);
        assert!(
            !all.contains("ADVERTISE") && !all.contains("--advertise"),
            "{all}"
        );
        assert!(!all.contains("10.1.2.3"), "{all}");
        assert!(all.contains("P2PD_LISTEN=\"[::]:7651\""), "{all}");
        let fixed = AgentConfig {
            advertise: Some("203.0.113.9:7651".into()),
            ..c.clone()
        };
        let all = text(&fixed);
        assert!(all.contains("P2PD_ADVERTISE=\"203.0.113.9:7651\""), "{all}");
        assert!(all.contains("--advertise ${P2PD_ADVERTISE}"), "{all}");
        // The Windows service's configuration the same way.
        let conf: Vec<u8> = windows_agent_files(&c)
            .into_iter()
            .find(|f| f.path.ends_with(AGENT_SERVICE_CONFIG))
            .unwrap()
            .bytes;
        let conf = String::from_utf8(conf).unwrap();
        assert!(!conf.contains("advertise"), "{conf}");
    }

    #[test]
    fn remove_files_reports_what_was_there() {
        let root = tempfile::tempdir().unwrap();
        let exe = root.path().join("built-p2pd");
        std::fs::write(&exe, b"binary").unwrap();
        let files = agent_files(&exe, &agent_config("/var/lib/p2pd-agent")).unwrap();
        apply(root.path(), &files, false).unwrap();
        let paths: Vec<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
        let removed = remove_files(root.path(), &paths).unwrap();
        assert!(removed.iter().all(|(p, was)| *was && !p.exists()));
        let again = remove_files(root.path(), &paths).unwrap();
        assert!(again.iter().all(|(_, was)| !was));
    }
}

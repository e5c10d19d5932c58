//! Every operating-system-specific call p2pd makes, behind one portable API.
//!
//! May use: (nothing else in the crate)
//!
//! The rest of the crate has no `cfg(unix)` or `cfg(windows)`: it calls the
//! functions here, and this module picks `unix.rs` or `windows.rs` (plus
//! `service.rs`, the Windows service control manager glue). What lives here:
//!
//! | concern | Unix | Windows |
//! |---|---|---|
//! | positional reads and writes | `pread`/`pwrite` (`FileExt`) | `ReadFile`/`WriteFile` with an offset (`seek_read`/`seek_write`) |
//! | preallocation | `posix_fallocate` | `SetFileInformationByHandle(FileAllocationInfo)` |
//! | durable flush | `sync_file_range` (start writeback), directory fsync | `FlushFileBuffers` is `sync_all`; NTFS journals renames, so no directory flush |
//! | read-ahead hints | `posix_fadvise(SEQUENTIAL)` | none needed (the cache manager detects sequential reads) |
//! | owner-only files | mode 0600 / 0700 | a protected DACL: the owner, SYSTEM and Administrators |
//! | shutdown signals | SIGINT, SIGTERM | Ctrl-C, console close, system shutdown, service stop |
//! | child processes | `sh -c`, `PR_SET_PDEATHSIG`, SIGTERM | `cmd /C` with `%1`, a kill-on-close job object, `TerminateProcess` |
//! | privileges | `geteuid() == 0` | an elevated token |
//! | default data dirs | `/var/lib/p2pd-agent` | `%ProgramData%\p2pd-agent` |
//! | own addresses, dual-stack listener | `getifaddrs` (the `if-addrs` crate), `IPV6_V6ONLY` off | `GetAdaptersAddresses`, `IPV6_V6ONLY` off (its default is on) |
//! | service manager | systemd units (written by [`crate::deploy`]) | the SCM, through the `windows-service` crate |
//!
//! This module uses nothing else from the crate: it is the bottom layer.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

pub mod net;
#[cfg(unix)]
mod unix;

#[cfg(unix)]
use unix as imp;

#[cfg(windows)]
mod service;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as imp;

/// The system's name, for messages ("linux", "windows", "macos").
pub const OS: &str = std::env::consts::OS;

/// True on Windows. For the few runtime choices that are plain data
/// (which install flow, which help text); code paths stay in this module.
pub const IS_WINDOWS: bool = cfg!(windows);

/// Whether `p2pd serve` (and so `demo`) runs on this system. The server is
/// built and tested on Linux only; see `cli::serve`.
pub const SERVER_SUPPORTED: bool = cfg!(unix);

/// The service manager `p2pd agent install` registers the agent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceManager {
    /// systemd unit files below a root directory.
    Systemd,
    /// The Windows service control manager.
    WindowsScm,
}

/// This system's service manager.
pub const SERVICE_MANAGER: ServiceManager = if cfg!(windows) {
    ServiceManager::WindowsScm
} else {
    ServiceManager::Systemd
};

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error("{what} is only available on {only}; this is {OS}")]
    Unsupported {
        what: &'static str,
        only: &'static str,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("the service control manager refused to {what}: {why}")]
    Service { what: String, why: String },
}

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

/// Reads exactly `buf.len()` bytes at `offset`, without moving any shared
/// cursor that another thread relies on. Safe to call from many threads on
/// one `File`.
pub fn read_exact_at(f: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    imp::read_exact_at(f, buf, offset)
}

/// Writes all of `buf` at `offset`; see [`read_exact_at`].
pub fn write_all_at(f: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    imp::write_all_at(f, buf, offset)
}

/// Reserves `len` bytes of disk for `f` (already `set_len` to `len`), so a
/// full disk is one clear error up front rather than a failed write
/// half-way. `Err` with [`io::ErrorKind::StorageFull`] when the disk is
/// full; other failures (a file system that cannot preallocate) are not
/// errors: the writes will tell.
pub fn preallocate(f: &File, len: u64) -> io::Result<()> {
    imp::preallocate(f, len)
}

/// Starts writing back what was written to `f` without waiting for it. A
/// hint that keeps dirty pages from piling up; errors are ignored.
pub fn start_writeback(f: &File) {
    imp::start_writeback(f)
}

/// Tells the OS that `f` is read front to back, so read-ahead is generous.
/// A hint; errors are ignored.
pub fn advise_sequential(f: &File) {
    imp::advise_sequential(f)
}

/// Creates a symbolic link at `link` to the file `target` (on Windows this
/// needs the right to create symlinks: developer mode or an elevated
/// process). File storage is where p2pd meets links, and its tests make them.
pub fn symlink_file(target: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    imp::symlink_file(target.as_ref(), link.as_ref())
}

/// Makes a rename or a new entry in `dir` durable (fsync of the directory
/// on Unix; nothing to do on NTFS, which journals metadata changes).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    imp::sync_dir(dir)
}

/// Creates (or truncates) `path` for writing with access for its owner
/// only: mode 0600 on Unix; on Windows a protected DACL granting full
/// control to the owner, SYSTEM and Administrators and nobody else. The
/// access is set before any byte is written.
pub fn create_owner_only(path: &Path) -> io::Result<File> {
    imp::create_with_mode(path, 0o600)
}

/// Creates (or truncates) `path` with Unix `mode`. On Windows a mode with
/// no group or other bits (like 0600) gets the owner-only DACL of
/// [`create_owner_only`]; any other mode keeps the inherited ACL.
pub fn create_with_mode(path: &Path, mode: u32) -> io::Result<File> {
    imp::create_with_mode(path, mode)
}

/// Restricts an existing directory to its owner (0700 on Unix; the
/// owner-only DACL, inherited by what is created in it, on Windows).
pub fn make_dir_owner_only(dir: &Path) -> io::Result<()> {
    imp::make_dir_owner_only(dir)
}

/// The Unix permission bits of a file (`mode & 0o7777`); `None` on Windows,
/// where access is an ACL and [`describe_access`] tells it.
pub fn file_mode(meta: &std::fs::Metadata) -> Option<u32> {
    imp::file_mode(meta)
}

/// A number that changes when a path is replaced by another file (the
/// inode on Unix). Windows' file index has no stable std API, so it is 0
/// there and callers also compare the modification time and length.
pub fn file_index(meta: &std::fs::Metadata) -> u64 {
    imp::file_index(meta)
}

/// The width of the terminal on stdout in columns, if the OS says
/// (TIOCGWINSZ on Unix; `None` on Windows, where callers fall back to
/// `$COLUMNS` or a default).
pub fn terminal_columns() -> Option<u16> {
    imp::terminal_columns().filter(|&c| c > 0)
}

/// Raises this process's open-file limit towards `want` (Unix:
/// RLIMIT_NOFILE; past the hard limit only where the process may raise it)
/// and returns the limit now in force; `None` where there is no such limit
/// (Windows). Serve keeps one descriptor per connected device.
pub fn raise_open_files(want: u64) -> Option<u64> {
    imp::raise_open_files(want)
}

/// Who may access `path`, for humans and tests: `0600` style on Unix, the
/// DACL in SDDL form (`D:P(A;;FA;;;SY)...`) on Windows.
pub fn describe_access(path: &Path) -> io::Result<String> {
    imp::describe_access(path)
}

/// True if `path` is readable and writable by its owner (and on Windows
/// SYSTEM and Administrators) only.
pub fn is_owner_only(path: &Path) -> io::Result<bool> {
    imp::is_owner_only(path)
}

// ---------------------------------------------------------------------------
// Delivered file names
// ---------------------------------------------------------------------------

/// The rules every system shares: separators and control characters become
/// `_`, leading dots go (no hidden files, no `..`), and an empty result
/// becomes `empty`. No length limit here: callers fit the result.
pub fn clean_file_name(name: &str, empty: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let s = s.trim_start_matches('.');
    if s.is_empty() {
        empty.to_string()
    } else {
        s.to_string()
    }
}

/// Windows' reserved device names: a file called `CON` or `nul.txt` opens
/// the device, not a file.
const WINDOWS_RESERVED: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// A name valid on Windows, whatever system computes it (so it is testable
/// on Linux): the characters `<>:"/\|?*` and controls become `_`, so does
/// `%` (it would be expanded by `cmd /C` in `--on-complete`), trailing
/// dots and spaces go (Windows strips them, so `a.msi.` would be another
/// name than the one we created), and a reserved device name (`CON`,
/// `nul.txt`, `COM1.msi`, also with superscript digits) gets a `_` prefix.
/// It also applies [`clean_file_name`]. No length limit: the caller fits
/// the result (`agent::names::fit_name`, which keeps long names distinct).
pub fn windows_file_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_control()
                || matches!(
                    c,
                    '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*' | '%'
                )
            {
                '_'
            } else {
                c
            }
        })
        .collect();
    let s = clean_file_name(&s, "package");
    let s = s.trim_end_matches(['.', ' ']);
    let mut s = if s.is_empty() {
        "package".to_string()
    } else {
        s.to_string()
    };
    let stem = s.split('.').next().unwrap_or("").trim_end_matches(' ');
    let stem_upper = stem.to_ascii_uppercase().replace(['¹', '²', '³'], "1");
    if WINDOWS_RESERVED.contains(&stem_upper.as_str()) {
        s.insert(0, '_');
    }
    s
}

/// Windows' classic path limit (`MAX_PATH`, 260 UTF-16 units including the
/// terminating NUL). Programs an `--on-complete` command starts (msiexec,
/// installers) often still refuse longer paths.
pub const WINDOWS_MAX_PATH: usize = 259;

/// Checks that `dir\name` stays within [`WINDOWS_MAX_PATH`] on Windows
/// (always `Ok` elsewhere). The error says how long it is and what to do.
pub fn check_path_length(dir: &Path, name: &str) -> Result<(), String> {
    if !IS_WINDOWS {
        return Ok(());
    }
    let full = dir.join(name);
    let units = full.as_os_str().to_string_lossy().encode_utf16().count();
    if units > WINDOWS_MAX_PATH {
        return Err(format!(
            "{} is {units} characters long, more than Windows' {WINDOWS_MAX_PATH}; use a shorter --data-dir",
            full.display()
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Processes and signals
// ---------------------------------------------------------------------------

/// Resolves when the process is asked to stop: SIGINT or SIGTERM on Unix;
/// Ctrl-C, Ctrl-Break, console close, system shutdown or a service stop
/// (see [`run_service`]) on Windows.
pub async fn shutdown_signal() {
    imp::shutdown_signal().await;
}

/// The command that runs `--on-complete CMD` for a delivered file.
///
/// - Unix: `sh -c 'CMD "$1"' p2pd-on-complete PATH`: the path is one
///   argument however it is spelled.
/// - Windows: `cmd /S /C "CMD"` with every `%1` in CMD replaced by PATH (so
///   `msiexec /i "%1" /qn` works as written); without `%1`, `"PATH"` is
///   appended. No Unix shell is needed.
///
/// Both also set `P2PD_DELIVERED=PATH`.
pub fn on_complete_command(cmd: &str, path: &Path) -> tokio::process::Command {
    let mut c = imp::on_complete_command(cmd, path);
    c.env("P2PD_DELIVERED", path);
    c
}

/// The `cmd /C` command line [`on_complete_command`] uses on Windows, as a
/// pure function (testable anywhere): `%1` → the path, else the quoted
/// path appended.
pub fn windows_on_complete_line(cmd: &str, path: &Path) -> String {
    let p = path.display().to_string();
    let line = if cmd.contains("%1") {
        cmd.replace("%1", &p)
    } else {
        format!("{cmd} \"{p}\"")
    };
    // /S: strip exactly the outer quotes and keep the rest verbatim.
    format!("/S /C \"{line}\"")
}

/// Opens (creating it if need be, keeping its contents) a lock file to
/// `try_lock`: the data dir's `serve.lock` and `publish.lock`.
pub fn open_lock_file(path: &Path) -> io::Result<std::fs::File> {
    std::fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

/// Spawns `cmd` so that it dies with this process even if this process is
/// killed (Linux: `PR_SET_PDEATHSIG`; Windows: a kill-on-close job object).
/// For the demo's servers and agents.
pub fn spawn_tied_to_parent(
    cmd: &mut tokio::process::Command,
) -> io::Result<tokio::process::Child> {
    imp::spawn_tied_to_parent(cmd)
}

/// Asks a child to stop: SIGTERM on Unix (it shuts down gracefully);
/// `TerminateProcess` on Windows, which has no such request for a process
/// without a console window.
pub fn request_stop(child: &mut tokio::process::Child) {
    imp::request_stop(child)
}

/// True if the process runs as root (Unix) or elevated (Windows).
pub fn is_privileged() -> bool {
    imp::is_privileged()
}

/// This host's name, or `unknown`.
pub fn hostname() -> String {
    imp::hostname()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

// ---------------------------------------------------------------------------
// Default directories
// ---------------------------------------------------------------------------

/// The agent's data dir when none is given: `/var/lib/p2pd-agent` on Unix,
/// `%ProgramData%\p2pd-agent` on Windows.
pub fn default_agent_data_dir() -> PathBuf {
    imp::system_data_root().join("p2pd-agent")
}

/// The server's (and admin tools') data dir when none is given: the system
/// one (`/var/lib/p2pd`, `%ProgramData%\p2pd`) when privileged, else the
/// user's (`$XDG_DATA_HOME/p2pd` or `~/.local/share/p2pd`;
/// `%LOCALAPPDATA%\p2pd`).
pub fn default_server_data_dir() -> PathBuf {
    if is_privileged() {
        imp::system_data_root().join("p2pd")
    } else {
        imp::user_data_root().join("p2pd")
    }
}

// ---------------------------------------------------------------------------
// Services
// ---------------------------------------------------------------------------

/// A service for the Windows service control manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    /// Key name (`p2pd-agent`): what `sc.exe` and `net start` take.
    pub name: String,
    pub display_name: String,
    pub description: String,
    /// The program the SCM starts.
    pub exe: PathBuf,
    /// Its arguments; the program must call [`run_service`] promptly.
    pub args: Vec<OsString>,
}

impl ServiceSpec {
    /// The command line the SCM runs (`ImagePath`): every word quoted the
    /// way `CommandLineToArgvW` reads it back.
    pub fn command_line(&self) -> String {
        let mut s = windows_quote(&self.exe.as_os_str().to_string_lossy());
        for a in &self.args {
            s.push(' ');
            s.push_str(&windows_quote(&a.to_string_lossy()));
        }
        s
    }
}

/// Quotes one argument for `CommandLineToArgvW` / the MSVC runtime:
/// quotes when it holds spaces, tabs, newlines or quotes; backslashes
/// before a quote are doubled. The same rule the `windows-service` crate
/// applies when it registers a service, so a registered command line can be
/// compared with [`ServiceSpec::command_line`].
pub fn windows_quote(arg: &str) -> String {
    if !arg.is_empty() && !arg.contains([' ', '\t', '\n', '\x0b', '"']) {
        return arg.to_string();
    }
    let mut s = String::from("\"");
    let mut backslashes = 0;
    for c in arg.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                s.push_str(&"\\".repeat(backslashes * 2 + 1));
                s.push('"');
                backslashes = 0;
                continue;
            }
            _ => {}
        }
        if c != '\\' {
            s.push_str(&"\\".repeat(backslashes));
            backslashes = 0;
            s.push(c);
        }
    }
    s.push_str(&"\\".repeat(backslashes * 2));
    s.push('"');
    s
}

/// What [`install_service`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceOutcome {
    Created,
    /// Registered with the same command line already.
    Unchanged,
    /// Registered differently; `force` updated it.
    Replaced,
    /// Registered differently and `force` was not given: nothing changed.
    Differs,
}

/// Registers `spec` with the SCM as an automatically started service
/// running as LocalSystem. Idempotent: the same spec again is
/// [`ServiceOutcome::Unchanged`]. Windows only.
pub fn install_service(spec: &ServiceSpec, force: bool) -> Result<ServiceOutcome, PlatformError> {
    imp::install_service(spec, force)
}

/// Stops the service `name` (waiting up to `timeout`) and deletes it.
/// `Ok(false)` if it was not registered. Windows only.
pub fn uninstall_service(name: &str, timeout: std::time::Duration) -> Result<bool, PlatformError> {
    imp::uninstall_service(name, timeout)
}

/// Runs `body` as the service `name` under the SCM: reports "running",
/// makes [`shutdown_signal`] resolve when the SCM says stop, and reports
/// "stopped" with `body`'s exit code when it returns. Blocks until then.
/// Windows only; fails at once when not started by the SCM.
pub fn run_service(name: &str, body: Box<dyn FnOnce() -> u32 + Send>) -> Result<(), PlatformError> {
    imp::run_service(name, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_names_are_valid_on_windows() {
        assert_eq!(windows_file_name("app.msi"), "app.msi");
        assert_eq!(windows_file_name("CON"), "_CON");
        assert_eq!(windows_file_name("nul.txt"), "_nul.txt");
        assert_eq!(windows_file_name("com1.tar.gz"), "_com1.tar.gz");
        assert_eq!(windows_file_name("Lpt9"), "_Lpt9");
        assert_eq!(windows_file_name("COM¹.msi"), "_COM¹.msi");
        assert_eq!(windows_file_name("CONSOLE.exe"), "CONSOLE.exe");
        assert_eq!(windows_file_name("setup.exe. . "), "setup.exe");
        assert_eq!(
            windows_file_name("a<b>c:d\"e|f?g*h.msi"),
            "a_b_c_d_e_f_g_h.msi"
        );
        assert_eq!(windows_file_name("50%.msi"), "50_.msi");
        assert_eq!(windows_file_name("..\\..\\evil.exe"), "_.._evil.exe");
        assert_eq!(windows_file_name("..."), "package");
        assert_eq!(windows_file_name(" . "), "package");
        assert_eq!(windows_file_name("tab\there"), "tab_here");
    }

    #[test]
    fn portable_names_have_no_separators() {
        assert_eq!(clean_file_name("a/b\\c", "package"), "a_b_c");
        assert_eq!(clean_file_name(".hidden", "package"), "hidden");
        assert_eq!(clean_file_name("", "unversioned"), "unversioned");
        assert_eq!(clean_file_name("CON", "package"), "CON");
    }

    #[test]
    fn on_complete_line_substitutes_the_path() {
        let p = Path::new(r"C:\ProgramData\p2pd-agent\delivered\My App.msi");
        assert_eq!(
            windows_on_complete_line(r#"msiexec /i "%1" /qn"#, p),
            r#"/S /C "msiexec /i "C:\ProgramData\p2pd-agent\delivered\My App.msi" /qn""#
        );
        assert_eq!(
            windows_on_complete_line("install.cmd", p),
            r#"/S /C "install.cmd "C:\ProgramData\p2pd-agent\delivered\My App.msi"""#
        );
    }

    #[test]
    fn service_command_line_quotes_like_windows() {
        assert_eq!(windows_quote("plain"), "plain");
        assert_eq!(windows_quote(""), "\"\"");
        assert_eq!(
            windows_quote(r"C:\Program Files\p2pd"),
            r#""C:\Program Files\p2pd""#
        );
        assert_eq!(
            windows_quote(r"C:\dir with space\"),
            r#""C:\dir with space\\""#
        );
        assert_eq!(windows_quote(r#"say "hi""#), r#""say \"hi\"""#);
        let spec = ServiceSpec {
            name: "p2pd-agent".into(),
            display_name: "p2pd agent".into(),
            description: "d".into(),
            exe: PathBuf::from(r"C:\Program Files\p2pd\p2pd.exe"),
            args: vec![
                "agent".into(),
                "service".into(),
                "--config".into(),
                r"C:\ProgramData\p2pd-agent\service.json".into(),
            ],
        };
        assert_eq!(
            spec.command_line(),
            r#""C:\Program Files\p2pd\p2pd.exe" agent service --config C:\ProgramData\p2pd-agent\service.json"#
        );
    }

    #[test]
    fn owner_only_files_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret");
        {
            use std::io::Write;
            let mut f = create_owner_only(&p).unwrap();
            f.write_all(b"s").unwrap();
        }
        assert!(
            is_owner_only(&p).unwrap(),
            "{}",
            describe_access(&p).unwrap()
        );
        let q = dir.path().join("public");
        drop(create_with_mode(&q, 0o644).unwrap());
        assert!(
            !is_owner_only(&q).unwrap(),
            "{}",
            describe_access(&q).unwrap()
        );
        // Truncating an existing, more open file tightens it too.
        drop(create_owner_only(&q).unwrap());
        assert!(
            is_owner_only(&q).unwrap(),
            "{}",
            describe_access(&q).unwrap()
        );
    }

    #[test]
    fn positional_io_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("data");
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&p)
            .unwrap();
        f.set_len(100).unwrap();
        preallocate(&f, 100).unwrap();
        write_all_at(&f, b"world", 50).unwrap();
        write_all_at(&f, b"hello", 0).unwrap();
        start_writeback(&f);
        let mut buf = [0u8; 5];
        read_exact_at(&f, &mut buf, 50).unwrap();
        assert_eq!(&buf, b"world");
        read_exact_at(&f, &mut buf, 0).unwrap();
        assert_eq!(&buf, b"hello");
        assert!(
            read_exact_at(&f, &mut buf, 98).is_err(),
            "reading past the end fails"
        );
        sync_dir(dir.path()).unwrap();
    }

    #[test]
    fn default_dirs_are_absolute() {
        assert!(default_agent_data_dir().is_absolute());
        assert!(default_agent_data_dir().ends_with("p2pd-agent"));
        if !IS_WINDOWS {
            assert_eq!(default_agent_data_dir(), Path::new("/var/lib/p2pd-agent"));
        }
    }
}

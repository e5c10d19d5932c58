//! The Unix side of [`crate::platform`]: libc and `std::os::unix`.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{PlatformError, ServiceOutcome, ServiceSpec};

pub(super) fn read_exact_at(f: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    f.read_exact_at(buf, offset)
}

pub(super) fn write_all_at(f: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    f.write_all_at(buf, offset)
}

#[cfg(target_os = "linux")]
pub(super) fn preallocate(f: &File, len: u64) -> io::Result<()> {
    let len = i64::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: a valid open fd; posix_fallocate has no memory effects.
    let rc = unsafe { libc::posix_fallocate(f.as_raw_fd(), 0, len) };
    if rc == libc::ENOSPC {
        return Err(io::Error::from(io::ErrorKind::StorageFull));
    }
    // EOPNOTSUPP (tmpfs on old kernels, some FUSE) and friends: the writes
    // will tell if space runs out.
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub fn preallocate(_f: &File, _len: u64) -> io::Result<()> {
    Ok(())
}

#[cfg(target_os = "linux")]
pub(super) fn start_writeback(f: &File) {
    // SAFETY: valid fd; SYNC_FILE_RANGE_WRITE only starts writeback (it
    // does not wait), so this costs the writer nothing.
    unsafe {
        libc::sync_file_range(f.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
pub fn start_writeback(_f: &File) {}

#[cfg(target_os = "linux")]
pub(super) fn advise_sequential(f: &File) {
    // SAFETY: the descriptor is open for the lifetime of `f`; the advice is
    // a hint and its result does not matter.
    unsafe {
        libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_SEQUENTIAL);
    }
}

#[cfg(not(target_os = "linux"))]
pub fn advise_sequential(_f: &File) {}

pub(super) fn symlink_file(target: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

pub(super) fn create_with_mode(path: &Path, mode: u32) -> io::Result<File> {
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)?;
    // The mode above only applies when the file is created.
    f.set_permissions(std::fs::Permissions::from_mode(mode))?;
    Ok(f)
}

pub(super) fn make_dir_owner_only(dir: &Path) -> io::Result<()> {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

pub(super) fn file_mode(meta: &std::fs::Metadata) -> Option<u32> {
    Some(meta.permissions().mode() & 0o7777)
}

pub(super) fn file_index(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

pub(super) fn raise_open_files(want: u64) -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the rlimits we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return None;
        }
        let want = want as libc::rlim_t;
        // Past the hard limit only with the privilege to raise it (root
        // with CAP_SYS_RESOURCE); otherwise the soft limit up to the hard.
        let raised = libc::rlimit {
            rlim_cur: want,
            rlim_max: want.max(lim.rlim_max),
        };
        if lim.rlim_cur < want && libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
            let soft = libc::rlimit {
                rlim_cur: want.min(lim.rlim_max),
                rlim_max: lim.rlim_max,
            };
            libc::setrlimit(libc::RLIMIT_NOFILE, &soft);
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
    Some(lim.rlim_cur as u64)
}

pub(super) fn terminal_columns() -> Option<u16> {
    // SAFETY: TIOCGWINSZ writes one winsize into the zeroed struct we own;
    // on failure it leaves it zero, which the caller treats as unknown.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    match unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) } {
        0 => Some(ws.ws_col),
        _ => None,
    }
}

pub(super) fn describe_access(path: &Path) -> io::Result<String> {
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o7777;
    Ok(format!("{mode:04o}"))
}

pub(super) fn is_owner_only(path: &Path) -> io::Result<bool> {
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o077 == 0)
}

pub(super) async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(e) => {
            tracing::warn!("cannot watch SIGTERM ({e}); only Ctrl-C stops this process");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

pub(super) fn on_complete_command(cmd: &str, path: &Path) -> tokio::process::Command {
    let mut c = tokio::process::Command::new("sh");
    c.arg("-c")
        .arg(format!("{cmd} \"$1\""))
        .arg("p2pd-on-complete")
        .arg(path);
    c
}

pub(super) fn spawn_tied_to_parent(
    cmd: &mut tokio::process::Command,
) -> io::Result<tokio::process::Child> {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl is async-signal-safe; it makes the child die with us
    // even if we are killed.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    cmd.spawn()
}

pub(super) fn request_stop(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id() {
        // SAFETY: plain kill(2) on our own child, which has not been reaped
        // (tokio reaps only through wait/try_wait, which set id() to None).
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    }
}

pub(super) fn is_privileged() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

pub(super) fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
}

pub(super) fn system_data_root() -> PathBuf {
    PathBuf::from("/var/lib")
}

pub(super) fn user_data_root() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    PathBuf::from(home).join(".local/share")
}

const SCM_ONLY: PlatformError = PlatformError::Unsupported {
    what: "the Windows service control manager",
    only: "Windows (on Linux, systemd runs `p2pd agent`; see `p2pd agent install`)",
};

pub(super) fn install_service(
    _spec: &ServiceSpec,
    _force: bool,
) -> Result<ServiceOutcome, PlatformError> {
    Err(SCM_ONLY)
}

pub(super) fn uninstall_service(
    _name: &str,
    _timeout: std::time::Duration,
) -> Result<bool, PlatformError> {
    Err(SCM_ONLY)
}

pub(super) fn run_service(
    _name: &str,
    _body: Box<dyn FnOnce() -> u32 + Send>,
) -> Result<(), PlatformError> {
    Err(SCM_ONLY)
}

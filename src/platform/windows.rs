//! The Windows side of [`crate::platform`]: `std::os::windows` and a few
//! Win32 calls through `windows-sys` (ACLs, preallocation, job objects,
//! the token). Every `unsafe` block says what it relies on.

use std::ffi::{OsStr, c_void};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::fs::FileExt;
use std::os::windows::io::AsRawHandle;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use windows_sys::Win32::Foundation::{CloseHandle, ERROR_SUCCESS, HANDLE, LocalFree};
use windows_sys::Win32::Security::Authorization::{
    ConvertSecurityDescriptorToStringSecurityDescriptorW, ConvertSidToStringSidW,
    ConvertStringSecurityDescriptorToSecurityDescriptorW, GetNamedSecurityInfoW, SDDL_REVISION_1,
    SE_FILE_OBJECT,
};
use windows_sys::Win32::Security::{
    DACL_SECURITY_INFORMATION, GetTokenInformation, PROTECTED_DACL_SECURITY_INFORMATION,
    PSECURITY_DESCRIPTOR, SetFileSecurityW, TOKEN_ELEVATION, TOKEN_QUERY, TOKEN_USER,
    TokenElevation, TokenUser,
};
use windows_sys::Win32::Storage::FileSystem::{
    FILE_ALLOCATION_INFO, FileAllocationInfo, SetFileInformationByHandle,
};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectExtendedLimitInformation,
    SetInformationJobObject,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

pub use super::service::{install_service, run_service, stop_token, uninstall_service};

pub fn read_exact_at(f: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    // seek_read is ReadFile with an OVERLAPPED offset: positional, so
    // concurrent readers of one handle do not disturb each other.
    while !buf.is_empty() {
        match f.seek_read(buf, offset) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

pub fn write_all_at(f: &File, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match f.seek_write(buf, offset) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(n) => {
                buf = &buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

pub fn preallocate(f: &File, len: u64) -> io::Result<()> {
    let info = FILE_ALLOCATION_INFO {
        AllocationSize: i64::try_from(len)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
    };
    // SAFETY: a valid open handle; `info` lives across the call and its size
    // is passed along.
    let ok = unsafe {
        SetFileInformationByHandle(
            f.as_raw_handle() as HANDLE,
            FileAllocationInfo,
            &info as *const FILE_ALLOCATION_INFO as *const c_void,
            std::mem::size_of::<FILE_ALLOCATION_INFO>() as u32,
        )
    };
    if ok == 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::StorageFull {
            return Err(e);
        }
        // Not supported here (a network share, Wine on some file systems):
        // the writes will tell if space runs out.
    }
    Ok(())
}

/// Windows' lazy writer already flushes dirty pages steadily; there is no
/// "start writeback without waiting" call, and FlushFileBuffers would wait.
pub fn start_writeback(_f: &File) {}

/// The cache manager detects sequential reads by itself; the explicit hint
/// (FILE_FLAG_SEQUENTIAL_SCAN) exists only at open time.
pub fn advise_sequential(_f: &File) {}

/// NTFS journals metadata: a completed rename survives a crash. A directory
/// can only be opened for flushing with backup semantics, which needs a
/// privilege a normal user lacks.
pub fn symlink_file(target: &Path, link: &Path) -> io::Result<()> {
    std::os::windows::fs::symlink_file(target, link)
}

pub fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

fn wide(s: &OsStr) -> Vec<u16> {
    s.encode_wide().chain(std::iter::once(0)).collect()
}

/// Reads a NUL-terminated UTF-16 string that Windows allocated with
/// LocalAlloc, and frees it.
///
/// # Safety
/// `p` is a valid NUL-terminated string from LocalAlloc, not used after.
unsafe fn take_local_wstr(p: *mut u16) -> String {
    let mut n = 0;
    // SAFETY: the caller promises a NUL-terminated string.
    while unsafe { *p.add(n) } != 0 {
        n += 1;
    }
    // SAFETY: `n` units were just read.
    let s = String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(p, n) });
    // SAFETY: allocated by LocalAlloc, freed once.
    unsafe { LocalFree(p as *mut c_void) };
    s
}

/// The current process's user SID in string form (`S-1-5-21-…`).
fn current_user_sid() -> io::Result<String> {
    static SID: OnceLock<String> = OnceLock::new();
    if let Some(s) = SID.get() {
        return Ok(s.clone());
    }
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: GetCurrentProcess is a pseudo-handle; `token` receives a handle
    // closed below.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buf = vec![0u64; 64]; // 512 bytes, 8-aligned: room for TOKEN_USER + SID
    let mut len = 0u32;
    // SAFETY: `buf` is writable for the size passed; `token` is valid.
    let ok = unsafe {
        GetTokenInformation(
            token,
            TokenUser,
            buf.as_mut_ptr() as *mut c_void,
            (buf.len() * 8) as u32,
            &mut len,
        )
    };
    let err = io::Error::last_os_error();
    // SAFETY: closing the handle OpenProcessToken gave us, once.
    unsafe { CloseHandle(token) };
    if ok == 0 {
        return Err(err);
    }
    // SAFETY: GetTokenInformation(TokenUser) filled a TOKEN_USER at the start.
    let user = unsafe { &*(buf.as_ptr() as *const TOKEN_USER) };
    let mut s: *mut u16 = std::ptr::null_mut();
    // SAFETY: the SID points into `buf`, alive here; `s` is LocalAlloc'd.
    if unsafe { ConvertSidToStringSidW(user.User.Sid, &mut s) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a NUL-terminated LocalAlloc'd string from the call above.
    let sid = unsafe { take_local_wstr(s) };
    Ok(SID.get_or_init(|| sid).clone())
}

/// The owner-only DACL: full control for this user, SYSTEM and the
/// Administrators group; protected, so nothing is inherited from the parent
/// directory. Directories pass it on to what is created in them (OICI).
fn owner_only_sddl(dir: bool) -> io::Result<String> {
    let user = current_user_sid()?;
    let inherit = if dir { "OICI" } else { "" };
    Ok(format!(
        "D:P(A;{inherit};FA;;;{user})(A;{inherit};FA;;;SY)(A;{inherit};FA;;;BA)"
    ))
}

/// Replaces the DACL of `path` with `sddl` (which carries the "protected"
/// flag). SetFileSecurityW rather than SetNamedSecurityInfoW: the latter
/// also rewrites inherited ACEs of children (not wanted here) and is a
/// silent no-op under Wine, where the tests run.
fn set_dacl(path: &Path, sddl: &str) -> io::Result<()> {
    let sddl_w = wide(OsStr::new(sddl));
    let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: a NUL-terminated string; `sd` receives a LocalAlloc'd
    // descriptor freed below.
    if unsafe {
        ConvertStringSecurityDescriptorToSecurityDescriptorW(
            sddl_w.as_ptr(),
            SDDL_REVISION_1,
            &mut sd,
            std::ptr::null_mut(),
        )
    } == 0
    {
        return Err(io::Error::last_os_error());
    }
    let path_w = wide(path.as_os_str());
    // SAFETY: NUL-terminated path; `sd` is a valid self-relative descriptor.
    let ok = unsafe {
        SetFileSecurityW(
            path_w.as_ptr(),
            DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
            sd,
        )
    };
    let result = if ok == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    };
    // SAFETY: freeing the descriptor ConvertString… allocated, once.
    unsafe { LocalFree(sd) };
    result
}

pub fn create_with_mode(path: &Path, mode: u32) -> io::Result<File> {
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    if mode & 0o077 == 0 {
        // Tightened before any byte is written through `f`.
        set_dacl(path, &owner_only_sddl(false)?)?;
    }
    Ok(f)
}

pub fn make_dir_owner_only(dir: &Path) -> io::Result<()> {
    set_dacl(dir, &owner_only_sddl(true)?)
}

pub fn file_mode(_meta: &std::fs::Metadata) -> Option<u32> {
    None
}

pub fn file_index(_meta: &std::fs::Metadata) -> u64 {
    0
}

pub fn terminal_columns() -> Option<u16> {
    None
}

pub fn raise_open_files(_want: u64) -> Option<u64> {
    None
}

pub fn describe_access(path: &Path) -> io::Result<String> {
    let path_w = wide(path.as_os_str());
    let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: NUL-terminated path; only the descriptor is requested and it
    // is LocalAlloc'd, freed below.
    let rc = unsafe {
        GetNamedSecurityInfoW(
            path_w.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut sd,
        )
    };
    if rc != ERROR_SUCCESS {
        return Err(io::Error::from_raw_os_error(rc as i32));
    }
    let mut s: *mut u16 = std::ptr::null_mut();
    // SAFETY: a valid descriptor; `s` is LocalAlloc'd.
    let ok = unsafe {
        ConvertSecurityDescriptorToStringSecurityDescriptorW(
            sd,
            SDDL_REVISION_1,
            DACL_SECURITY_INFORMATION,
            &mut s,
            std::ptr::null_mut(),
        )
    };
    let err = io::Error::last_os_error();
    // SAFETY: freeing the descriptor GetNamedSecurityInfoW allocated, once.
    unsafe { LocalFree(sd) };
    if ok == 0 {
        return Err(err);
    }
    // SAFETY: a NUL-terminated LocalAlloc'd string from the call above.
    Ok(unsafe { take_local_wstr(s) })
}

/// Owner-only means: every ACE that allows anything names this user,
/// SYSTEM or Administrators. (Inherited ACEs show up in the list too, so
/// the list alone tells who has access; Wine does not keep the "protected"
/// flag, so it is not required here.)
pub fn is_owner_only(path: &Path) -> io::Result<bool> {
    let sddl = describe_access(path)?;
    let user = current_user_sid()?;
    let Some(aces) = sddl.strip_prefix("D:") else {
        return Ok(false);
    };
    let Some(flags_end) = aces.find('(') else {
        return Ok(false); // no ACE at all: nobody has access, not even the owner
    };
    let trusted = ["SY", "BA", "OW", user.as_str()];
    Ok(aces[flags_end..]
        .split(')')
        .filter(|a| !a.is_empty())
        .all(|ace| {
            let sid = ace.rsplit(';').next().unwrap_or("");
            ace.starts_with("(A;") && trusted.contains(&sid) || ace.starts_with("(D;")
        }))
}

pub async fn shutdown_signal() {
    use tokio::signal::windows;
    let stop = stop_token();
    let (Ok(mut brk), Ok(mut close), Ok(mut shutdown)) = (
        windows::ctrl_break(),
        windows::ctrl_close(),
        windows::ctrl_shutdown(),
    ) else {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = stop.cancelled() => {}
        }
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = brk.recv() => {}
        _ = close.recv() => {}
        _ = shutdown.recv() => {}
        _ = stop.cancelled() => {}
    }
}

pub fn on_complete_command(cmd: &str, path: &Path) -> tokio::process::Command {
    let comspec = std::env::var_os("ComSpec").unwrap_or_else(|| "cmd.exe".into());
    let mut c = tokio::process::Command::new(comspec);
    // raw_arg: cmd.exe parses its own command line; the MSVC quoting that
    // `arg` applies would break `"%1"`.
    c.raw_arg(super::windows_on_complete_line(cmd, path));
    c
}

/// A job object that kills every process in it when its last handle
/// closes, which is when this process exits however it exits.
fn kill_on_close_job() -> io::Result<HANDLE> {
    struct Job(HANDLE);
    // SAFETY: a job handle may be used from any thread.
    unsafe impl Send for Job {}
    // SAFETY: as above; the handle is never closed while the process runs.
    unsafe impl Sync for Job {}
    static JOB: OnceLock<Result<Job, i32>> = OnceLock::new();
    let job = JOB.get_or_init(|| {
        // SAFETY: no attributes, no name: an anonymous job.
        let h = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
        if h.is_null() {
            return Err(io::Error::last_os_error().raw_os_error().unwrap_or(0));
        }
        // SAFETY: zeroed is a valid JOBOBJECT_EXTENDED_LIMIT_INFORMATION.
        let mut info: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
        info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
        // SAFETY: a valid job handle and a struct of the size passed.
        let ok = unsafe {
            SetInformationJobObject(
                h,
                JobObjectExtendedLimitInformation,
                &info as *const _ as *const c_void,
                std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error().raw_os_error().unwrap_or(0));
        }
        Ok(Job(h))
    });
    match job {
        Ok(j) => Ok(j.0),
        Err(code) => Err(io::Error::from_raw_os_error(*code)),
    }
}

pub fn spawn_tied_to_parent(
    cmd: &mut tokio::process::Command,
) -> io::Result<tokio::process::Child> {
    let child = cmd.spawn()?;
    if let Some(h) = child.raw_handle() {
        match kill_on_close_job() {
            // SAFETY: both handles are valid; the child's stays open while
            // `child` lives.
            Ok(job) => unsafe {
                if AssignProcessToJobObject(job, h as HANDLE) == 0 {
                    tracing::warn!(
                        "cannot tie child to this process: {}",
                        io::Error::last_os_error()
                    );
                }
            },
            Err(e) => tracing::warn!("cannot create a job object: {e}"),
        }
    }
    Ok(child)
}

pub fn request_stop(child: &mut tokio::process::Child) {
    let _ = child.start_kill();
}

pub fn is_privileged() -> bool {
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: pseudo-handle of this process; `token` is closed below.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return false;
    }
    let mut elevation = TOKEN_ELEVATION { TokenIsElevated: 0 };
    let mut len = 0u32;
    // SAFETY: a valid token and a struct of the size passed.
    let ok = unsafe {
        GetTokenInformation(
            token,
            TokenElevation,
            &mut elevation as *mut _ as *mut c_void,
            std::mem::size_of::<TOKEN_ELEVATION>() as u32,
            &mut len,
        )
    };
    // SAFETY: closing our token handle once.
    unsafe { CloseHandle(token) };
    ok != 0 && elevation.TokenIsElevated != 0
}

pub fn hostname() -> Option<String> {
    std::env::var("COMPUTERNAME").ok()
}

pub fn system_data_root() -> PathBuf {
    std::env::var_os("ProgramData")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"))
}

pub fn user_data_root() -> PathBuf {
    std::env::var_os("LOCALAPPDATA")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(system_data_root)
}

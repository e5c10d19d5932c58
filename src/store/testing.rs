//! PostgreSQL for tests: a fresh, empty database per call, on the server
//! named by `P2PD_TEST_DATABASE_URL` if set, else on a private throwaway
//! instance this process starts once (initdb into a temp dir, listening
//! only on a unix socket in that dir, trust auth, run as the `postgres`
//! user when the tests run as root, since PostgreSQL refuses root).
//!
//! Scratch databases made on an external server are left behind for
//! inspection (`p2pd_test_*`); the private instance goes with the process.
//!
//! Never silently skipped: when neither is possible, [`database_url`]
//! panics and says how to fix it (install PostgreSQL, or set the
//! variable). Unix only; not used by p2pd itself.

#![doc(hidden)]

use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Environment variable: an existing PostgreSQL server (a superuser or a
/// role that may `CREATE DATABASE`) for the tests; scratch databases are
/// created on it, one per test.
pub const TEST_DATABASE_ENV: &str = "P2PD_TEST_DATABASE_URL";

struct Instance {
    /// URL of the maintenance database (`postgres`) of the server.
    admin_url: String,
    /// The private instance's server process (None: an external server).
    child: Option<Child>,
    /// Its data and socket dir, removed at exit.
    dir: Option<PathBuf>,
}

static INSTANCE: Mutex<Option<Result<Instance, String>>> = Mutex::new(None);
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A URL of a fresh, empty database of its own. Panics, naming the fix,
/// when no PostgreSQL can be had.
pub fn database_url() -> String {
    let mut guard = INSTANCE.lock();
    if guard.is_none() {
        // Started on a thread that lives as long as the process: the
        // server gets SIGKILL when the thread that spawned it ends
        // (PR_SET_PDEATHSIG), and test threads end early.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("test-postgres".into())
            .spawn(move || {
                let _ = tx.send(start());
                loop {
                    std::thread::park();
                }
            })
            .expect("spawn the test-postgres thread");
        *guard = Some(
            rx.recv()
                .unwrap_or_else(|_| Err("the test-postgres thread died".into())),
        );
    }
    let inst = match guard.as_ref().expect("set above") {
        Ok(i) => i,
        Err(e) => panic!(
            "these tests need PostgreSQL and none is available: {e}. Install it \
             (`apt-get install -y postgresql`; `bash .ci/pg` does it in CI) or point \
             {TEST_DATABASE_ENV} at a server where this role may CREATE DATABASE"
        ),
    };
    let name = format!(
        "p2pd_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        crate::store::now_ms() % 1_000_000
    );
    let mut client = postgres::Client::connect(&inst.admin_url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL: {e}"));
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
    with_database(&inst.admin_url, &name)
}

/// `url` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

fn start() -> Result<Instance, String> {
    if let Ok(url) = std::env::var(TEST_DATABASE_ENV)
        && !url.trim().is_empty()
    {
        return Ok(Instance {
            admin_url: with_database(url.trim(), "postgres"),
            child: None,
            dir: None,
        });
    }
    start_private()
}

/// The directory holding initdb and postgres: PATH, else Debian's
/// /usr/lib/postgresql/VERSION/bin (newest first).
fn bin_dir() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            if d.join("initdb").is_file() && d.join("postgres").is_file() {
                return Some(d);
            }
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .filter(|d| d.join("initdb").is_file())
        .collect();
    found.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop()
}

/// uid and gid of the `postgres` user, when running as root.
#[cfg(unix)]
fn drop_to() -> Result<Option<(u32, u32)>, String> {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        return Ok(None);
    }
    let name = std::ffi::CString::new("postgres").expect("no NUL");
    // SAFETY: a valid C string; the result is read at once, before any
    // other getpw* call.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err("running as root and there is no `postgres` user to run initdb as".into());
    }
    // SAFETY: non-null pointer from getpwnam.
    Ok(Some(unsafe { ((*pw).pw_uid, (*pw).pw_gid) }))
}

#[cfg(unix)]
fn command(bin: &Path, ids: Option<(u32, u32)>) -> Command {
    use std::os::unix::process::CommandExt;
    let mut c = Command::new(bin);
    c.stdin(Stdio::null());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        c.pre_exec(move || {
            if let Some((uid, gid)) = ids
                && (libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(gid) != 0
                    || libc::setuid(uid) != 0)
            {
                return Err(std::io::Error::last_os_error());
            }
            // Dies with the test process (set after setuid, which clears it).
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    c
}

#[cfg(not(unix))]
fn start_private() -> Result<Instance, String> {
    Err("a private PostgreSQL instance is only started on Unix".into())
}

#[cfg(unix)]
fn start_private() -> Result<Instance, String> {
    use std::os::unix::fs::PermissionsExt;
    let bin = bin_dir().ok_or("no initdb found (PATH, /usr/lib/postgresql/*/bin)")?;
    let ids = drop_to()?;
    let dir = tempfile::Builder::new()
        .prefix("p2pd-pg-")
        .tempdir()
        .map_err(|e| format!("cannot make a temp dir: {e}"))?
        .keep();
    // The postgres user writes here when the tests run as root.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777))
        .map_err(|e| format!("cannot open {} to postgres: {e}", dir.display()))?;
    let data = dir.join("data");
    let out = command(&bin.join("initdb"), ids)
        .args(["-D"])
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        ])
        .output()
        .map_err(|e| format!("cannot run initdb: {e}"))?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let log = std::fs::File::create(dir.join("postgres.log"))
        .map_err(|e| format!("cannot create the server log: {e}"))?;
    let child = command(&bin.join("postgres"), ids)
        .arg("-D")
        .arg(&data)
        .args(["-c", "listen_addresses="])
        .arg("-c")
        .arg(format!("unix_socket_directories={}", dir.display()))
        .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
        .args(["-c", "full_page_writes=off", "-c", "max_connections=200"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start postgres: {e}"))?;
    let host: String = dir
        .display()
        .to_string()
        .bytes()
        .map(|b| match b {
            b'/' => "%2F".to_string(),
            b => (b as char).to_string(),
        })
        .collect();
    let admin_url = format!("postgres://postgres@{host}/postgres");
    let inst = Instance {
        admin_url,
        child: Some(child),
        dir: Some(dir.clone()),
    };
    // SAFETY: registers a plain extern "C" fn.
    unsafe { libc::atexit(stop_private) };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match postgres::Client::connect(&inst.admin_url, postgres::NoTls) {
            Ok(_) => return Ok(inst),
            Err(e) if Instant::now() > deadline => {
                let log = std::fs::read_to_string(dir.join("postgres.log")).unwrap_or_default();
                return Err(format!(
                    "the private postgres did not accept connections within 30 s: {e}; log: {log}"
                ));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// At exit: stops the private instance and removes its directory.
#[cfg(unix)]
extern "C" fn stop_private() {
    let mut guard = INSTANCE.lock();
    if let Some(Ok(inst)) = guard.as_mut() {
        if let Some(child) = inst.child.as_mut() {
            // SIGQUIT: immediate shutdown, no checkpoint of scratch data.
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child.id() as i32, libc::SIGQUIT) };
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(5) {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
        }
        if let Some(dir) = inst.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

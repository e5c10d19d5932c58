//! One `serve` per data dir: `serve.lock`, held with `flock` for the life
//! of the process and holding its pid and address.
//!
//! `flock` rather than "a pid file exists": the kernel drops the lock when
//! the process dies however it dies (SIGKILL, a crash, a power cut), so a
//! stale file from a killed server never blocks the next one; the
//! contents only serve to name the running server in the refusal.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// File name of the lock inside the data dir.
pub const LOCK_FILE: &str = "serve.lock";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another `p2pd serve` is running on data dir {dir} ({holder}); \
         stop it first (`systemctl stop p2pd`, or `kill {pid}`), or give this one another --data-dir"
    )]
    Held {
        dir: PathBuf,
        holder: String,
        pid: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The held lock; dropping it (or exiting) releases it.
#[derive(Debug)]
pub struct ServeLock {
    /// The lock file, named in I/O errors.
    path: PathBuf,
    /// The open file holding the `flock`; closing it releases the lock.
    file: File,
}

impl ServeLock {
    /// Takes the data dir's lock for this process, recording `address`.
    pub fn acquire(data_dir: &Path, address: &str) -> Result<ServeLock, LockError> {
        let path = data_dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let mut file = crate::platform::open_lock_file(&path).map_err(io)?;
        // std's try_lock is flock(LOCK_EX | LOCK_NB) on Unix.
        if let Err(e) = file.try_lock() {
            if let std::fs::TryLockError::Error(err) = e {
                return Err(io(err));
            }
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            let field = |name: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(|v| v.trim().to_string())
            };
            let pid = field("pid=").unwrap_or_else(|| "?".into());
            let addr = field("address=").unwrap_or_else(|| "an unknown address".into());
            return Err(LockError::Held {
                dir: data_dir.to_path_buf(),
                holder: format!("pid {pid}, listening on {addr}"),
                pid,
            });
        }
        let mut lock = ServeLock { path, file };
        lock.record(address)?;
        Ok(lock)
    }

    /// Records `address` as the one this server listens on: called again
    /// once the listener is bound, because `--listen ADDR:0` only then
    /// knows its port.
    pub fn record(&mut self, address: &str) -> Result<(), LockError> {
        let io = |source| LockError::Io {
            path: self.path.clone(),
            source,
        };
        self.file.set_len(0).map_err(io)?;
        self.file.rewind().map_err(io)?;
        write!(self.file, "pid={}\naddress={address}\n", std::process::id()).map_err(io)?;
        self.file.sync_all().map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_and_a_released_one_is_free() {
        let dir = tempfile::tempdir().unwrap();
        let first = ServeLock::acquire(dir.path(), "http://127.0.0.1:1").unwrap();
        // flock locks belong to the open file description: a second open
        // in the same process conflicts just as another process would.
        let err = ServeLock::acquire(dir.path(), "http://127.0.0.1:2").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        assert!(msg.contains("http://127.0.0.1:1"), "{msg}");
        drop(first);
        ServeLock::acquire(dir.path(), "http://127.0.0.1:2").unwrap();
    }
}

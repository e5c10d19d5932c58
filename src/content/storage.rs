//! File storage: where packages live. Either a directory, walked
//! recursively, or an http(s) base URL that publishes an index.
//!
//! Paths inside storage are relative and `/`-separated (`firefox/128/setup.msi`);
//! they are what `contents.path` records and what the server uses to read a
//! piece when it acts as the central seed.
//!
//! # Directory storage
//!
//! Every regular file under the directory is a package, except names
//! starting with `.` (partial uploads, editor and OS droppings), which are
//! skipped along with dot-directories.
//!
//! Symlinks: a symlink to a file is followed only when its target, with
//! every link resolved, lies inside the storage directory and not inside a
//! p2pd data dir; such a link publishes the same bytes as its target under
//! the link's path. A symlink that leads out of storage (`/etc/shadow`,
//! the server's `shared.key`) is listed as unreadable with the reason, so
//! `publish` reports it and nothing outside storage is ever published or
//! served. A symlink whose target is missing is listed as unreadable too.
//! Symlinks to directories are not followed (no loops). Reads (`open`,
//! `read_range`, the gateway) resolve the path the same way, so a link
//! swapped after publishing cannot leak a file either.
//!
//! A directory holding a p2pd data dir's `shared.key` or database is
//! skipped, and a storage directory inside a p2pd data dir is refused.
//!
//! # HTTP(S) storage: `index.json`
//!
//! `BASE/index.json` lists the packages; each is fetched from `BASE/PATH`
//! (each path segment percent-encoded):
//!
//! ```json
//! {
//!   "packages": [
//!     { "path": "firefox/128.0.3/Firefox Setup.msi", "size": 61440000,
//!       "mtime": 1719859200,
//!       "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" }
//!   ]
//! }
//! ```
//!
//! `path` and `size` are required. `mtime` (unix seconds) and `sha256`
//! (hex) are optional but make re-runs cheap: a package whose size and mtime
//! are unchanged is skipped, as is one whose listed `sha256` is already
//! published at that path; with neither, every run downloads it again.
//! A listed `sha256` is checked against what was downloaded.
//! The server reads pieces with HTTP `Range` requests.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

/// Name of the index an http(s) storage must serve at its base URL.
pub const INDEX_FILE: &str = "index.json";

/// A configured file storage (the `file_storage` setting).
#[derive(Debug, Clone)]
pub enum Storage {
    /// An absolute directory.
    Dir(PathBuf),
    /// An http(s) base URL; always ends with `/` so that joins stay under it.
    Http(reqwest::Url),
}

/// One package as storage lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative, `/`-separated path inside storage.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time in nanoseconds since the epoch (directory), or the
    /// index's `mtime` in seconds times 10⁹ (0 when the index has none).
    pub mtime: i64,
    /// SHA-256 the index declares (http storage only).
    pub sha256: Option<String>,
}

/// What storage holds: packages, and the paths it could not even stat.
#[derive(Debug, Default)]
pub struct Listing {
    pub entries: Vec<Entry>,
    /// Paths seen but not readable (dangling symlink, non-UTF-8 name,
    /// permission), with the reason.
    pub unreadable: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(
        "no file storage configured; set one with `p2pd settings set file_storage /srv/packages` \
         (a directory) or an http(s) URL that serves {INDEX_FILE}"
    )]
    NotConfigured,
    #[error("file storage '{0}' is neither an absolute directory nor an http(s) URL")]
    Invalid(String),
    #[error("file storage directory {path}: {source}")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{url}: {message}")]
    Http { url: String, message: String },
    #[error("{url}: not a valid index: {message} (see `p2pd publish --help` for the format)")]
    Index { url: String, message: String },
    #[error("'{0}' is not a path inside file storage (it must be relative, without '..')")]
    BadPath(String),
    #[error("{path}: {reason}; only files inside the storage directory are published")]
    Outside { path: String, reason: String },
}

#[derive(serde::Deserialize)]
struct Index {
    packages: Vec<IndexEntry>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct IndexEntry {
    path: String,
    size: u64,
    #[serde(default)]
    mtime: Option<i64>,
    #[serde(default)]
    sha256: Option<String>,
}

/// Timeout for one HTTP request to storage (connect and each read).
const HTTP_TIMEOUT: Duration = Duration::from_secs(60);

impl Storage {
    /// Parses the `file_storage` setting.
    pub fn from_setting(value: &str) -> Result<Storage, StorageError> {
        let v = value.trim();
        if v.is_empty() {
            return Err(StorageError::NotConfigured);
        }
        if v.starts_with("http://") || v.starts_with("https://") {
            let with_slash = if v.ends_with('/') {
                v.to_string()
            } else {
                format!("{v}/")
            };
            return reqwest::Url::parse(&with_slash)
                .map(Storage::Http)
                .map_err(|_| StorageError::Invalid(value.to_string()));
        }
        if v.starts_with('/') {
            return Ok(Storage::Dir(PathBuf::from(v)));
        }
        Err(StorageError::Invalid(value.to_string()))
    }

    /// What `file_storage` says, for messages.
    pub fn describe(&self) -> String {
        match self {
            Storage::Dir(d) => d.display().to_string(),
            Storage::Http(u) => u.to_string(),
        }
    }

    /// Lists every package in storage, sorted by path.
    pub fn list(&self) -> Result<Listing, StorageError> {
        let mut listing = match self {
            Storage::Dir(root) => {
                let mut l = Listing::default();
                std::fs::read_dir(root).map_err(|source| StorageError::Dir {
                    path: root.clone(),
                    source,
                })?;
                let canon = canonical_root(root)?;
                if let Some(d) = data_dir_at_or_above(&canon, Path::new("/")) {
                    return Err(StorageError::Outside {
                        path: root.display().to_string(),
                        reason: format!(
                            "the storage directory is inside the p2pd data dir {}, which holds the shared key",
                            d.display()
                        ),
                    });
                }
                walk(&canon, &canon, "", &mut l)?;
                l
            }
            Storage::Http(base) => self.list_http(base)?,
        };
        listing.entries.sort_by(|a, b| a.path.cmp(&b.path));
        listing.unreadable.sort();
        Ok(listing)
    }

    fn list_http(&self, base: &reqwest::Url) -> Result<Listing, StorageError> {
        let url = base
            .join(INDEX_FILE)
            .map_err(|e| StorageError::Invalid(e.to_string()))?;
        let body = http_get(&url, None)?;
        let bad = |message: String| StorageError::Index {
            url: url.to_string(),
            message,
        };
        let index: Index = serde_json::from_reader(body).map_err(|e| bad(e.to_string()))?;
        let mut l = Listing::default();
        for p in index.packages {
            check_path(&p.path).map_err(|e| bad(e.to_string()))?;
            if let Some(h) = &p.sha256
                && (h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                return Err(bad(format!("{}: sha256 must be 64 hex digits", p.path)));
            }
            l.entries.push(Entry {
                path: p.path,
                size: p.size,
                mtime: p.mtime.unwrap_or(0).saturating_mul(1_000_000_000),
                sha256: p.sha256.map(|h| h.to_ascii_lowercase()),
            });
        }
        Ok(l)
    }

    /// The current size and mtime of one package (directory storage), to
    /// notice a file that changed while it was hashed. `None` for http
    /// storage, where the downloaded length is the only check.
    pub fn stat(&self, path: &str) -> Result<Option<(u64, i64)>, StorageError> {
        match self {
            Storage::Dir(root) => {
                let full = resolve(root, path)?;
                let m = std::fs::metadata(&full).map_err(|source| StorageError::Io {
                    path: path.to_string(),
                    source,
                })?;
                Ok(Some((m.len(), mtime_ns(&m))))
            }
            Storage::Http(_) => Ok(None),
        }
    }

    /// Opens a package for reading from the start.
    pub fn open(&self, path: &str) -> Result<Box<dyn Read + Send>, StorageError> {
        match self {
            Storage::Dir(root) => {
                let full = resolve(root, path)?;
                let f = File::open(&full).map_err(|source| StorageError::Io {
                    path: path.to_string(),
                    source,
                })?;
                advise_sequential(&f);
                Ok(Box::new(f))
            }
            Storage::Http(base) => {
                let url = url_of(base, path)?;
                Ok(Box::new(http_get(&url, None)?))
            }
        }
    }

    /// Reads bytes `[offset, offset + len)` of a package: one piece, for the
    /// server acting as the central seed. Blocking; call it from
    /// `spawn_blocking` in async code. Fewer bytes than asked is an error
    /// (the file changed since it was published).
    pub fn read_range(&self, path: &str, offset: u64, len: u64) -> Result<Vec<u8>, StorageError> {
        let io = |source| StorageError::Io {
            path: path.to_string(),
            source,
        };
        let mut out = Vec::with_capacity(len as usize);
        match self {
            Storage::Dir(root) => {
                let mut f = File::open(resolve(root, path)?).map_err(io)?;
                f.seek(SeekFrom::Start(offset)).map_err(io)?;
                f.take(len).read_to_end(&mut out).map_err(io)?;
            }
            Storage::Http(base) => {
                if len == 0 {
                    return Ok(out);
                }
                let url = url_of(base, path)?;
                let range = format!("bytes={}-{}", offset, offset + len - 1);
                let resp = http_get(&url, Some(&range))?;
                if resp.status() != reqwest::StatusCode::PARTIAL_CONTENT {
                    return Err(StorageError::Http {
                        url: url.to_string(),
                        message: format!(
                            "asked for a byte range, got status {} (the server must support Range requests)",
                            resp.status()
                        ),
                    });
                }
                resp.take(len).read_to_end(&mut out).map_err(io)?;
            }
        }
        if out.len() as u64 != len {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "expected {len} bytes at offset {offset}, got {}; the file changed since it was published",
                    out.len()
                ),
            )));
        }
        Ok(out)
    }

    /// Turns what the admin typed for `publish PATH` into a storage path:
    /// relative paths are taken as they are; an absolute path must lie
    /// inside a directory storage.
    pub fn relative_path(&self, given: &str) -> Result<String, StorageError> {
        let trimmed = given.trim_end_matches('/');
        if let (Storage::Dir(root), true) = (self, trimmed.starts_with('/')) {
            let rel = Path::new(trimmed)
                .strip_prefix(root)
                .map_err(|_| StorageError::BadPath(given.to_string()))?;
            let rel = rel
                .to_str()
                .ok_or_else(|| StorageError::BadPath(given.to_string()))?;
            check_path(rel)?;
            return Ok(rel.to_string());
        }
        let rel = trimmed.trim_start_matches("./");
        check_path(rel)?;
        Ok(rel.to_string())
    }
}

/// Refuses absolute paths and `..`, so a path from the database or an index
/// never reads outside storage. The empty path (storage root) is allowed.
fn check_path(path: &str) -> Result<(), StorageError> {
    if path.is_empty() {
        return Ok(());
    }
    let ok = !path.starts_with('/')
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if ok {
        Ok(())
    } else {
        Err(StorageError::BadPath(path.to_string()))
    }
}

fn canonical_root(root: &Path) -> Result<PathBuf, StorageError> {
    std::fs::canonicalize(root).map_err(|source| StorageError::Dir {
        path: root.to_path_buf(),
        source,
    })
}

/// The first directory from `p`'s parent up to `stop` (inclusive) that is
/// a p2pd data dir (holds the shared key or the database).
fn data_dir_at_or_above(p: &Path, stop: &Path) -> Option<PathBuf> {
    let mut cur = if p.is_dir() { Some(p) } else { p.parent() };
    while let Some(d) = cur {
        if d.join(crate::trust::key::KEY_FILE).exists() || d.join(crate::store::DB_FILE).exists() {
            return Some(d.to_path_buf());
        }
        if d == stop {
            break;
        }
        cur = d.parent();
    }
    None
}

/// Where a storage path really leads, with every symlink resolved: inside
/// the storage directory and outside any p2pd data dir, or an error.
pub fn resolve(root: &Path, path: &str) -> Result<PathBuf, StorageError> {
    check_path(path)?;
    let root = canonical_root(root)?;
    let full = std::fs::canonicalize(root.join(path)).map_err(|source| StorageError::Io {
        path: path.to_string(),
        source,
    })?;
    let outside = |reason: String| StorageError::Outside {
        path: path.to_string(),
        reason,
    };
    if !full.starts_with(&root) {
        return Err(outside(format!(
            "a symlink leads out of storage to {}",
            full.display()
        )));
    }
    if let Some(d) = data_dir_at_or_above(&full, &root) {
        return Err(outside(format!(
            "it is inside the p2pd data dir {}",
            d.display()
        )));
    }
    Ok(full)
}

fn url_of(base: &reqwest::Url, path: &str) -> Result<reqwest::Url, StorageError> {
    check_path(path)?;
    let mut url = base.clone();
    {
        let mut segs = url
            .path_segments_mut()
            .map_err(|_| StorageError::Invalid(base.to_string()))?;
        segs.pop_if_empty();
        segs.extend(path.split('/'));
    }
    Ok(url)
}

fn http_get(
    url: &reqwest::Url,
    range: Option<&str>,
) -> Result<reqwest::blocking::Response, StorageError> {
    let err = |message: String| StorageError::Http {
        url: url.to_string(),
        message,
    };
    crate::trust::tls::install_default_provider();
    let client = reqwest::blocking::Client::builder()
        .connect_timeout(HTTP_TIMEOUT)
        .timeout(None)
        .build()
        .map_err(|e| err(e.to_string()))?;
    let mut req = client.get(url.clone());
    if let Some(r) = range {
        req = req.header(reqwest::header::RANGE, r);
    }
    let resp = req.send().map_err(|e| err(format!("{e:#}")))?;
    if !resp.status().is_success() {
        return Err(err(format!("HTTP status {}", resp.status())));
    }
    Ok(resp)
}

pub(crate) fn mtime_ns(m: &std::fs::Metadata) -> i64 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Tells the OS we read front to back, so read-ahead is generous.
fn advise_sequential(f: &File) {
    crate::platform::advise_sequential(f);
}

fn walk(root: &Path, dir: &Path, prefix: &str, out: &mut Listing) -> Result<(), StorageError> {
    let rd = std::fs::read_dir(dir).map_err(|source| StorageError::Dir {
        path: dir.to_path_buf(),
        source,
    })?;
    for item in rd {
        let item = item.map_err(|source| StorageError::Dir {
            path: dir.to_path_buf(),
            source,
        })?;
        let name = item.file_name();
        let Some(name) = name.to_str() else {
            out.unreadable.push((
                format!("{prefix}{}", name.to_string_lossy()),
                "file name is not valid UTF-8; rename it".into(),
            ));
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let rel = format!("{prefix}{name}");
        let ft = match item.file_type() {
            Ok(t) => t,
            Err(e) => {
                out.unreadable.push((rel, e.to_string()));
                continue;
            }
        };
        if ft.is_dir() {
            // A p2pd data dir inside file storage holds the shared key and
            // the database: never publish those to every device.
            let p = item.path();
            if p.join(crate::trust::key::KEY_FILE).exists()
                || p.join(crate::store::DB_FILE).exists()
            {
                tracing::warn!(
                    path = rel,
                    "skipped: a p2pd data dir (holds the shared key), not packages"
                );
                continue;
            }
            walk(root, &p, &format!("{rel}/"), out)?;
            continue;
        }
        if ft.is_symlink() {
            match resolve(root, &rel) {
                Ok(_) => {}
                Err(StorageError::Outside { reason, .. }) => {
                    tracing::warn!(path = rel, "not published: {reason}");
                    out.unreadable.push((rel, reason));
                    continue;
                }
                // Dangling: reported below.
                Err(_) => {}
            }
        }
        // Follows symlinks: a dangling one fails here.
        match std::fs::metadata(item.path()) {
            Ok(m) if m.is_file() => out.entries.push(Entry {
                path: rel,
                size: m.len(),
                mtime: mtime_ns(&m),
                sha256: None,
            }),
            Ok(m) if m.is_dir() => {
                tracing::debug!(path = rel, "symlink to a directory, not followed");
            }
            Ok(_) => tracing::debug!(path = rel, "not a regular file, skipped"),
            Err(e) if ft.is_symlink() && e.kind() == std::io::ErrorKind::NotFound => out
                .unreadable
                .push((rel, "dangling symlink: its target does not exist".into())),
            Err(e) => out.unreadable.push((rel, e.to_string())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_storage() {
        assert!(check_path("a/b.msi").is_ok());
        assert!(check_path("../etc/passwd").is_err());
        assert!(check_path("a/../../b").is_err());
        assert!(check_path("/etc/passwd").is_err());
        let s = Storage::Dir("/srv/pkg".into());
        assert_eq!(s.relative_path("/srv/pkg/a/b.msi").unwrap(), "a/b.msi");
        assert!(s.relative_path("/srv/other/b.msi").is_err());
        assert_eq!(s.relative_path("./a/").unwrap(), "a");
    }

    #[test]
    fn a_symlink_to_a_file_outside_the_root_is_not_published() {
        use crate::platform::symlink_file as symlink;
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("storage");
        let secret = t.path().join("secret.txt");
        std::fs::create_dir_all(root.join("app/1.0")).unwrap();
        std::fs::write(&secret, "top secret").unwrap();
        std::fs::write(root.join("app/1.0/app.bin"), "package").unwrap();
        symlink(&secret, root.join("app/1.0/shadow")).unwrap();
        symlink("../../../secret.txt", root.join("app/1.0/relative")).unwrap();
        // A link inside the root is published under its own path.
        symlink("app.bin", root.join("app/1.0/latest.bin")).unwrap();
        // A server data dir next to storage: its key is never reachable.
        let data = t.path().join("server");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join(crate::trust::key::KEY_FILE), "k").unwrap();
        symlink(data.join(crate::trust::key::KEY_FILE), root.join("key")).unwrap();
        let s = Storage::Dir(root.clone());
        let l = s.list().unwrap();
        let paths: Vec<_> = l.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["app/1.0/app.bin", "app/1.0/latest.bin"]);
        let bad: Vec<_> = l.unreadable.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(bad, ["app/1.0/relative", "app/1.0/shadow", "key"]);
        for p in ["app/1.0/shadow", "app/1.0/relative", "key"] {
            assert!(
                matches!(s.open(p), Err(StorageError::Outside { .. })),
                "{p}"
            );
            assert!(s.read_range(p, 0, 3).is_err(), "{p}");
        }
        assert_eq!(
            s.read_range("app/1.0/latest.bin", 0, 7).unwrap(),
            b"package"
        );
    }

    #[test]
    fn storage_inside_a_data_dir_is_refused() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join(crate::store::DB_FILE), "").unwrap();
        let root = t.path().join("pkgs");
        std::fs::create_dir_all(&root).unwrap();
        let err = Storage::Dir(root).list().unwrap_err();
        assert!(matches!(err, StorageError::Outside { .. }), "{err}");
    }

    #[test]
    fn urls_encode_segments() {
        let Storage::Http(base) = Storage::from_setting("https://h/pkgs").unwrap() else {
            panic!("http storage expected");
        };
        let u = url_of(&base, "fire fox/1.0/setup#1.msi").unwrap();
        assert_eq!(u.as_str(), "https://h/pkgs/fire%20fox/1.0/setup%231.msi");
    }
}

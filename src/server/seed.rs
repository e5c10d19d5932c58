//! The central seed: pieces read from file storage for the devices the
//! scheduler sent to the server (and only those), the read-only storage
//! gateway over directory storage, the manifest cache (a content's
//! manifest, written once: its id is its hash) and the log of bytes served.

use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::content::storage::Storage;
use crate::domain::clock::now;
use crate::store::Store;
use crate::wire::http::{ApiError, Signed};
use crate::wire::proto::{ErrorCode, Manifest, check_device_id, parse_content_id};

use super::AppState;
use super::api::enrolled;

/// What the seed holds.
pub struct Seed {
    /// File storage, for seeding pieces and the storage gateway.
    pub storage: Option<Storage>,
    /// (content, device) pairs the scheduler sent to the server; the seed
    /// refuses everyone else. In memory on purpose: after a restart, agents
    /// get `not_scheduled`, ask for sources again and are re-admitted.
    admitted: Mutex<HashSet<(String, String)>>,
    /// Manifests by content id, for the seed's per-piece path and
    /// `/sources`. A content's manifest never changes (its id is its
    /// hash), so entries never go stale; the scheduler still checks
    /// targeting in the database before it admits a device to the seed.
    manifests: Mutex<HashMap<String, Arc<Manifest>>>,
    /// Append-only log of bytes served (`logs/served.log`, JSON lines), the
    /// server's own word for cross-checking agents' transfer reports.
    served_log: Mutex<Option<std::fs::File>>,
}

impl Seed {
    pub fn new(storage: Option<Storage>, served_log: std::fs::File) -> Seed {
        Seed {
            storage,
            admitted: Mutex::new(HashSet::new()),
            manifests: Mutex::new(HashMap::new()),
            served_log: Mutex::new(Some(served_log)),
        }
    }

    /// Whether the scheduler sent `device` here for `content`.
    pub fn admits(&self, content: &str, device: &str) -> bool {
        self.admitted
            .lock()
            .contains(&(content.to_string(), device.to_string()))
    }

    /// What a `/sources` answer decided: `device` is served `content` by
    /// the seed or not, and a leader `replaced` in that call no longer is.
    pub fn decided(&self, content: &str, device: &str, seeds: bool, replaced: Option<String>) {
        let mut admitted = self.admitted.lock();
        if let Some(old) = replaced {
            admitted.remove(&(content.to_string(), old));
        }
        let pair = (content.to_string(), device.to_string());
        if seeds {
            admitted.insert(pair);
        } else {
            admitted.remove(&pair);
        }
    }

    /// A device that left is served nothing more.
    pub fn forget_device(&self, device: &str) {
        self.admitted.lock().retain(|(_, d)| d != device);
    }

    /// The manifest of `id` if it is cached.
    pub fn cached(&self, id: &str) -> Option<Arc<Manifest>> {
        self.manifests.lock().get(id).cloned()
    }

    /// The manifest of `id`, from the cache, else from `st` (and cached):
    /// decoding one from the database hex-encodes every piece hash, which
    /// `/sources` paid on every call.
    pub fn manifest(&self, st: &Store, id: &str) -> Result<Arc<Manifest>, ApiError> {
        if let Some(m) = self.cached(id) {
            return Ok(m);
        }
        let m = Arc::new(
            st.manifest(id)?
                .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no content {id}")))?,
        );
        self.manifests.lock().insert(id.to_string(), m.clone());
        Ok(m)
    }

    fn log_served(&self, content: &str, device: &str, piece: Option<u32>, bytes: usize) {
        if let Some(f) = self.served_log.lock().as_mut() {
            let line = serde_json::json!({
                "at": now(), "content": content, "device": device, "piece": piece, "bytes": bytes,
            });
            let _ = writeln!(f, "{line}");
        }
    }

    /// Bytes [start, end) of `path` in file storage.
    async fn read(&self, path: &str, start: u64, end: u64) -> Result<Bytes, ApiError> {
        let Some(storage) = self.storage.clone() else {
            return Err(ApiError::new(
                ErrorCode::StorageUnavailable,
                "file_storage is not set on the server",
            ));
        };
        let path = path.to_string();
        tokio::task::spawn_blocking(move || storage.read_range(&path, start, end - start))
            .await
            .map_err(ApiError::internal)?
            .map(Bytes::from)
            .map_err(|e| ApiError::new(ErrorCode::StorageUnavailable, e.to_string()))
    }
}

/// Central seed: a piece read from file storage, only for devices the
/// scheduler sent here.
pub async fn piece(
    State(s): State<AppState>,
    Path((id, n)): Path<(String, u32)>,
    signed: Signed,
) -> Result<Response, ApiError> {
    let device = signed.device()?.to_string();
    check_device_id("device", &device)?;
    let id = parse_content_id("content id", &id)?.to_string();
    if !s.seed.admits(&id, &device) {
        return Err(ApiError::new(
            ErrorCode::NotScheduled,
            "the server seeds only to devices its scheduler sent here; ask for sources again",
        ));
    }
    let m = match s.seed.cached(&id) {
        Some(m) => m,
        None => {
            let (state, cid) = (s.clone(), id.clone());
            s.db.call(move |st| state.seed.manifest(st, &cid)).await?
        }
    };
    if n >= m.piece_count() {
        return Err(ApiError::new(ErrorCode::NotFound, format!("no piece {n}")));
    }
    let (start, end) = m.piece_range(n);
    let bytes = s.seed.read(&m.path, start, end).await?;
    s.seed.log_served(&id, &device, Some(n), bytes.len());
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

/// The storage gateway: directory storage, read-only, for the content paths
/// published for the asking device's group (nothing else under the
/// directory is reachable, and only enrolled devices get anything).
/// Supports `Range: bytes=A-B`, and streams from the file: memory stays
/// flat however large the file and however many requests run at once.
pub async fn storage_file(
    State(s): State<AppState>,
    Path(path): Path<String>,
    headers: HeaderMap,
    signed: Signed,
) -> Result<Response, ApiError> {
    let device = signed.device()?.to_string();
    check_device_id("device", &device)?;
    let p = path.clone();
    let caller = device.clone();
    let fleet = s.fleet.current();
    s.db.call(move |st| {
        let d = enrolled(st, &fleet, &caller)?;
        st.targeted_size_by_path(&p, &d.group_name)?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                format!(
                    "{p} is not a package published for group '{}'",
                    d.group_name
                ),
            )
        })
    })
    .await?;
    let Some(Storage::Dir(root)) = s.seed.storage.clone() else {
        return Err(ApiError::new(
            ErrorCode::StorageUnavailable,
            "the storage gateway serves directory storage only; agents fetch http storage directly",
        ));
    };
    // The file as storage holds it now (after an in-place change and a
    // re-publish the path names the new content), every symlink resolved
    // and checked to stay inside storage.
    let p = path.clone();
    let full = tokio::task::spawn_blocking(move || crate::content::storage::resolve(&root, &p))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::new(ErrorCode::StorageUnavailable, e.to_string()))?;
    let unavailable =
        |e: std::io::Error| ApiError::new(ErrorCode::StorageUnavailable, format!("{path}: {e}"));
    let mut file = tokio::fs::File::open(&full).await.map_err(unavailable)?;
    let size = file.metadata().await.map_err(unavailable)?.len();
    let (start, end) = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(r) => parse_range(r, size)
            .ok_or_else(|| ApiError::new(ErrorCode::BadRequest, format!("bad range {r}")))?,
        None => (0, size),
    };
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    file.seek(std::io::SeekFrom::Start(start))
        .await
        .map_err(unavailable)?;
    let len = end - start;
    let stream = tokio_util::io::ReaderStream::with_capacity(file.take(len), 64 << 10);
    s.seed.log_served(&path, &device, None, len as usize);
    Ok((
        StatusCode::PARTIAL_CONTENT,
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, len.to_string()),
            (
                header::CONTENT_RANGE,
                format!("bytes {start}-{}/{size}", end.saturating_sub(1)),
            ),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}

/// `bytes=A-B` (inclusive) → [A, B+1), clamped to the size.
pub fn parse_range(r: &str, size: u64) -> Option<(u64, u64)> {
    let spec = r.strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let a: u64 = a.trim().parse().ok()?;
    let b: u64 = if b.trim().is_empty() {
        size.saturating_sub(1)
    } else {
        b.trim().parse().ok()?
    };
    (a <= b && a < size).then_some((a, (b + 1).min(size)))
}

//! The agent's piece store: one directory per content under `pieces/`.
//!
//! ```text
//! pieces/<content id>/manifest.json   the manifest from the server
//! pieces/<content id>/data            the file, preallocated, pieces written in place
//! pieces/<content id>/journal         4-byte LE piece numbers, appended after each verified write
//! pieces/<content id>/delivered       marker: the file was delivered
//! ```
//!
//! A piece is written, then journalled, then counts as held (offered to
//! peers, in the heartbeat's progress): a crash between the write and the
//! journal loses at most that piece. Both are plain `write`s, so once the
//! piece counts, a kill of the agent cannot lose it (the kernel has it).
//! Between the write and the journal, the caller records the piece's
//! transfer in the agent's report journal ([`OnVerified`]), so a piece
//! that is kept is always reported. On open, every journalled piece is
//! re-hashed before it counts, so a torn write or a bit flip on disk (a
//! power cut) is fetched again rather than served. Re-hashing is cheap
//! (SHA-256 runs at GB/s) and makes resume trustworthy without an fsync
//! per piece.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::sha256x2;
use crate::domain::{Bitmap, ContentId, PieceHash};
use crate::wire::proto::Manifest;

#[derive(Debug, thiserror::Error)]
pub enum PieceError {
    #[error("refused an unsafe manifest: {0}")]
    BadManifest(crate::wire::proto::Invalid),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "not enough disk space in {dir} for {name} ({size} bytes); free some space or use another --data-dir"
    )]
    DiskFull {
        dir: PathBuf,
        name: String,
        size: u64,
    },
    /// Every piece verified, but the whole file's SHA-256 is not the
    /// content id: the manifest itself is inconsistent.
    #[error(
        "content {content}: every piece verified, but the whole file's SHA-256 is {got}; the manifest is inconsistent"
    )]
    WholeFile { content: String, got: ContentId },
    #[error("piece {piece} of {content} failed verification (expected {expected}, got {got})")]
    BadPiece {
        content: String,
        piece: u32,
        expected: PieceHash,
        got: PieceHash,
    },
}

/// What storing a piece calls once the piece has verified and its bytes are
/// written, with the step that journals it (after which it counts as held
/// and is offered to peers): the caller records the piece's transfer
/// durably, then runs the step (`Agent::record_transfer_then`). Not called
/// for a piece that fails verification or was already there. Design note
/// `faults-and-churn`: a crash may then cost a second fetch of the piece,
/// reported too, but never a kept piece that no report counts.
pub type OnVerified<'a> = &'a mut dyn FnMut(&mut dyn FnMut());

/// The SHA-256 of a piece.
fn digest(bytes: &[u8]) -> PieceHash {
    PieceHash(Sha256::digest(bytes).into())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PieceError + '_ {
    move |source| PieceError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// All contents this agent holds.
pub struct PieceStore {
    root: PathBuf,
    contents: Mutex<HashMap<ContentId, Arc<Content>>>,
    /// Woken whenever a content is opened, for peers waiting on it
    /// ([`PieceStore::wait_open`]).
    opened: tokio::sync::Notify,
}

impl PieceStore {
    pub fn new(root: PathBuf) -> Result<PieceStore, PieceError> {
        std::fs::create_dir_all(&root).map_err(io(&root))?;
        Ok(PieceStore {
            root,
            contents: Mutex::new(HashMap::new()),
            opened: tokio::sync::Notify::new(),
        })
    }

    pub fn get(&self, id: &ContentId) -> Option<Arc<Content>> {
        self.contents.lock().get(id).cloned()
    }

    pub fn all(&self) -> Vec<Arc<Content>> {
        self.contents.lock().values().cloned().collect()
    }

    /// Waits until content `id` is open, at most until `deadline`: a
    /// follower may ask its brand-new leader before that has the manifest.
    pub async fn wait_open(
        &self,
        id: &ContentId,
        deadline: tokio::time::Instant,
    ) -> Option<Arc<Content>> {
        loop {
            // Registered before the look-up: a content opened in between
            // still wakes this wait.
            let opened = self.opened.notified();
            tokio::pin!(opened);
            opened.as_mut().enable();
            if let Some(c) = self.get(id) {
                return Some(c);
            }
            if tokio::time::timeout_at(deadline, opened).await.is_err() {
                return self.get(id);
            }
        }
    }

    /// Opens (or creates) the store of one content, re-verifying every
    /// journalled piece. Blocking: call from `spawn_blocking`.
    pub fn open(&self, m: &Manifest) -> Result<Arc<Content>, PieceError> {
        if let Some(c) = self.get(&m.id) {
            return Ok(c);
        }
        // The id becomes a directory name: it is typed (64 hex digits, or
        // the manifest did not deserialize); the sizes are checked here.
        m.validate().map_err(PieceError::BadManifest)?;
        let dir = self.root.join(m.id.to_string());
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let mpath = dir.join("manifest.json");
        std::fs::write(&mpath, serde_json::to_vec(m).expect("manifest serializes"))
            .map_err(io(&mpath))?;
        let data = open_data(&dir, m)?;
        let jpath = dir.join("journal");
        let (have, count) = verified_pieces(&data, m, &m.pieces, &jpath)?;
        let journal = rewrite_journal(&dir, &have, m.piece_count())?;
        let c = Arc::new(Content {
            manifest: m.clone(),
            dir,
            data,
            have: Mutex::new(have),
            count: AtomicU32::new(count),
            journal: Mutex::new(journal),
            arrived: tokio::sync::Notify::new(),
            demoted: tokio::sync::Notify::new(),
            whole: Mutex::new(Whole {
                hasher: sha256x2::Sha256::new(),
                next: 0,
                scratch: Vec::new(),
            }),
            whole_next: AtomicU32::new(0),
            whole_moved: tokio::sync::Notify::new(),
            unsynced: AtomicU64::new(0),
            writing: Mutex::new(()),
            spare: Mutex::new(Vec::new()),
            sending: Arc::new(Mutex::new(Vec::new())),
        });
        self.contents.lock().insert(m.id, c.clone());
        self.opened.notify_waiters();
        Ok(c)
    }

    /// Forgets a content and deletes its directory (cache eviction).
    /// Requests already serving from it finish from the open file. Blocking.
    pub fn evict(&self, id: &ContentId) -> Result<(), PieceError> {
        self.contents.lock().remove(id);
        let dir = self.root.join(id.to_string());
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&dir)(e)),
            _ => Ok(()),
        }
    }

    /// Re-opens every content found on disk (after a restart).
    pub fn open_existing(&self) -> Vec<Result<Arc<Content>, PieceError>> {
        let Ok(rd) = std::fs::read_dir(&self.root) else {
            return vec![];
        };
        rd.flatten()
            .filter_map(|e| {
                let bytes = std::fs::read(e.path().join("manifest.json")).ok()?;
                let m: Manifest = serde_json::from_slice(&bytes).ok()?;
                Some(self.open(&m))
            })
            .collect()
    }
}

/// Opens (or creates) `dir/data` at the content's size, its space
/// reserved.
fn open_data(dir: &Path, m: &Manifest) -> Result<File, PieceError> {
    let dpath = dir.join("data");
    let data = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&dpath)
        .map_err(io(&dpath))?;
    if data.metadata().map_err(io(&dpath))?.len() != m.size {
        data.set_len(m.size).map_err(io(&dpath))?;
    }
    // Reserve the space now, so a full disk is one clear error up front
    // rather than a failed write half-way.
    match crate::platform::preallocate(&data, m.size) {
        Err(e) if e.kind() == std::io::ErrorKind::StorageFull => Err(PieceError::DiskFull {
            dir: dir.to_path_buf(),
            name: m.file_name.clone(),
            size: m.size,
        }),
        Err(source) => Err(PieceError::Io {
            path: dpath.clone(),
            source,
        }),
        Ok(()) => Ok(data),
    }
}

/// The journalled pieces whose bytes in `data` still hash right, and how
/// many there are.
fn verified_pieces(
    data: &File,
    m: &Manifest,
    hashes: &[PieceHash],
    jpath: &Path,
) -> Result<(Bitmap, u32), PieceError> {
    let n = m.piece_count();
    let mut have = Bitmap::empty(n);
    let mut claimed = Vec::new();
    if let Ok(mut f) = File::open(jpath) {
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).map_err(io(jpath))?;
        // A torn trailing record (fewer than 4 bytes) is ignored.
        claimed = buf
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .filter(|&i| i < n)
            .collect();
    }
    let mut count = 0;
    let mut buf = vec![0u8; m.piece_size as usize];
    for i in claimed {
        if have.has(i) {
            continue;
        }
        let (a, b) = m.piece_range(i);
        let slice = &mut buf[..(b - a) as usize];
        if crate::platform::read_exact_at(data, slice, a).is_ok()
            && digest(slice) == hashes[i as usize]
            && have.set(i)
        {
            count += 1;
        }
    }
    Ok((have, count))
}

/// Rewrites `dir/journal` with exactly the verified pieces (of `n`), and
/// opens it for appending.
fn rewrite_journal(dir: &Path, have: &Bitmap, n: u32) -> Result<File, PieceError> {
    let jpath = dir.join("journal");
    let tmp = dir.join("journal.tmp");
    let mut j = File::create(&tmp).map_err(io(&tmp))?;
    for i in 0..n {
        if have.has(i) {
            j.write_all(&i.to_le_bytes()).map_err(io(&tmp))?;
        }
    }
    j.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, &jpath).map_err(io(&jpath))?;
    OpenOptions::new()
        .append(true)
        .open(&jpath)
        .map_err(io(&jpath))
}

/// One content's pieces.
pub struct Content {
    pub manifest: Manifest,
    dir: PathBuf,
    data: File,
    /// The verified pieces.
    have: Mutex<Bitmap>,
    count: AtomicU32,
    journal: Mutex<File>,
    /// Woken whenever a piece arrives, for peers waiting on it.
    arrived: tokio::sync::Notify,
    /// Woken when this device stops leading this content: followers
    /// waiting here for pieces are told to ask for sources again, which is
    /// how they (and the new leader) hear of the change at once.
    pub demoted: tokio::sync::Notify,
    /// Whole-file SHA-256 over the contiguous prefix of pieces that have
    /// arrived. Pieces mostly arrive in order, so on completion the
    /// whole-file check is nearly done instead of re-reading the file.
    whole: Mutex<Whole>,
    /// `whole.next`, readable without the lock, and woken when it moves:
    /// a piece that arrives just ahead of its turn waits a moment for it
    /// ([`Content::wait_turn`]), so that it is hashed once for both checks.
    whole_next: AtomicU32,
    whole_moved: tokio::sync::Notify,
    /// Bytes written since writeback was last started.
    unsynced: AtomicU64,
    /// One writer at a time: concurrent buffered writes to one file queue
    /// on its inode lock, where the kernel spins (burning the CPU the
    /// hashing needs); a mutex here makes the others sleep instead.
    writing: Mutex<()>,
    /// Piece buffers back from storing, reused by the next downloads so
    /// that a piece costs no allocation (at most [`SPARE_BUFS`] kept).
    spare: Mutex<Vec<Vec<u8>>>,
    /// Buffers of pieces being sent to peers, back from each response
    /// body when it is done ([`Sending`]): serving a piece allocates and
    /// zeroes nothing (at most [`SPARE_BUFS`] kept).
    sending: Arc<Mutex<Vec<Vec<u8>>>>,
}

/// Pieces are written to the page cache in parts of this size (order-3
/// folios, below the kernel's "costly" allocation order).
const WRITE_CHUNK: usize = 32 << 10;

/// Piece buffers kept for reuse per content (a few MiB at most).
const SPARE_BUFS: usize = 8;

/// A piece being received, in a reused buffer. It is hashed when stored
/// ([`Content::store_piece`]): the piece next in file order once, for its
/// own check and the whole file's together.
pub struct PieceBuf {
    bytes: Vec<u8>,
}

impl PieceBuf {
    pub fn push(&mut self, chunk: &[u8]) {
        self.bytes.extend_from_slice(chunk);
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// The bytes of a piece being sent ([`Content::read_piece_shared`]); the
/// buffer goes back to its content's pool when the response is done.
struct Sending {
    buf: Vec<u8>,
    pool: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl AsRef<[u8]> for Sending {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Sending {
    fn drop(&mut self) {
        let mut pool = self.pool.lock();
        if pool.len() < SPARE_BUFS {
            pool.push(std::mem::take(&mut self.buf));
        }
    }
}

/// The whole-file hash in progress.
struct Whole {
    hasher: sha256x2::Sha256,
    /// The next piece to feed it.
    next: u32,
    /// Reused for pieces that arrived out of order (read back from the
    /// page cache), so that feeding them allocates nothing.
    scratch: Vec<u8>,
}

/// Start writeback every this many bytes, so the fsync at delivery has
/// little left to flush.
const WRITEBACK_EVERY: u64 = 16 << 20;

impl Content {
    pub fn has(&self, i: u32) -> bool {
        self.have.lock().has(i)
    }

    pub fn count(&self) -> u32 {
        self.count.load(Ordering::Acquire)
    }

    pub fn complete(&self) -> bool {
        self.count() == self.manifest.piece_count()
    }

    pub fn bitmap(&self) -> Bitmap {
        self.have.lock().clone()
    }

    /// Resolves when a piece arrives (for [`super::havemap`]'s long polls).
    pub fn arrival(&self) -> tokio::sync::futures::Notified<'_> {
        self.arrived.notified()
    }

    pub fn have_map(&self) -> crate::wire::proto::HaveMap {
        crate::wire::proto::HaveMap::new(self.count(), &self.bitmap())
    }

    /// Reads a verified piece. Blocking.
    pub fn read_piece(&self, i: u32) -> std::io::Result<Vec<u8>> {
        let (a, b) = self.manifest.piece_range(i);
        let mut buf = vec![0u8; (b - a) as usize];
        crate::platform::read_exact_at(&self.data, &mut buf, a)?;
        Ok(buf)
    }

    /// Reads a verified piece for sending, into a reused buffer that goes
    /// back to this content when the returned bytes are dropped (the
    /// response sent). Blocking.
    pub fn read_piece_shared(&self, i: u32) -> std::io::Result<bytes::Bytes> {
        let (a, b) = self.manifest.piece_range(i);
        let n = (b - a) as usize;
        let mut buf = self.sending.lock().pop().unwrap_or_default();
        // A reused buffer keeps its length: only bytes past it are zeroed.
        buf.resize(n, 0);
        crate::platform::read_exact_at(&self.data, &mut buf, a)?;
        Ok(bytes::Bytes::from_owner(Sending {
            buf,
            pool: self.sending.clone(),
        }))
    }

    /// Verifies and stores a piece, reporting nothing. Blocking. Returns
    /// false if it was already there.
    pub fn write_piece(&self, i: u32, bytes: &[u8]) -> Result<bool, PieceError> {
        self.check_and_store(i, bytes, digest(bytes), &mut |journal| journal())
    }

    /// An empty buffer for receiving one piece (a reused one if any).
    pub fn piece_buf(&self) -> PieceBuf {
        let reused = self.spare.lock().pop();
        PieceBuf {
            bytes: reused.unwrap_or_else(|| Vec::with_capacity(self.manifest.piece_size as usize)),
        }
    }

    /// Waits (at most `timeout`) until piece `i` is the next one the
    /// whole-file hash needs, if it is only a few pieces ahead: pieces
    /// requested together finish together, and one stored in its turn is
    /// hashed once for both checks instead of twice.
    pub async fn wait_turn(&self, i: u32, ahead: u32, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let moved = self.whole_moved.notified();
            tokio::pin!(moved);
            moved.as_mut().enable();
            let next = self.whole_next.load(Ordering::Acquire);
            if next >= i || i - next > ahead {
                return;
            }
            if tokio::time::timeout_at(deadline, moved).await.is_err() {
                return;
            }
        }
    }

    /// Verifies and stores a received piece, calling `on_verified` before
    /// it counts as held ([`OnVerified`]). Blocking. Returns false if it
    /// was already there.
    pub fn store_piece(
        &self,
        i: u32,
        p: PieceBuf,
        on_verified: OnVerified,
    ) -> Result<bool, PieceError> {
        let PieceBuf { mut bytes } = p;
        let stored = match self.store_in_turn(i, &bytes, on_verified) {
            Ok(r) => r,
            Err(on_verified) => self.check_and_store(i, &bytes, digest(&bytes), on_verified),
        };
        let mut spare = self.spare.lock();
        if spare.len() < SPARE_BUFS && !self.complete() {
            bytes.clear();
            spare.push(bytes);
        } else if self.complete() {
            spare.clear();
        }
        stored
    }

    /// The piece the whole-file hash needs next: one pass of SHA-256
    /// gives both its own digest and the whole file's next state
    /// ([`sha256x2::update_pair`]). The whole-file state moves only if the
    /// piece verifies. `Err` (with `on_verified` back) if it is not this
    /// piece's turn: the caller hashes it alone.
    fn store_in_turn<'a>(
        &self,
        i: u32,
        bytes: &[u8],
        on_verified: OnVerified<'a>,
    ) -> Result<Result<bool, PieceError>, OnVerified<'a>> {
        if self.whole_next.load(Ordering::Acquire) != i {
            return Err(on_verified);
        }
        // Its turn: whoever holds the lock is storing the piece before it
        // (or feeding pieces stored ahead), and lets go in a moment.
        let mut w = self.whole.lock();
        let (a, b) = self.manifest.piece_range(i);
        if w.next != i || bytes.len() as u64 != b - a {
            return Err(on_verified);
        }
        let before = w.hasher.clone();
        let mut piece = sha256x2::Sha256::new();
        sha256x2::update_pair(&mut piece, &mut w.hasher, bytes);
        let got = PieceHash(piece.finalize());
        let expected = self.manifest.pieces[i as usize];
        if got != expected {
            w.hasher = before;
            return Ok(Err(PieceError::BadPiece {
                content: self.manifest.id.to_string(),
                piece: i,
                expected,
                got,
            }));
        }
        // Verified bytes: the whole-file hash has them, stored or not. The
        // next piece may be hashed while this one is written.
        self.set_whole_next(&mut w, i + 1);
        drop(w);
        let stored = self.store_verified(i, bytes, on_verified);
        // Pieces stored ahead of this one meanwhile.
        self.advance_whole(None);
        Ok(stored)
    }

    fn check_and_store(
        &self,
        i: u32,
        bytes: &[u8],
        got: PieceHash,
        on_verified: OnVerified,
    ) -> Result<bool, PieceError> {
        let expected = self.manifest.pieces[i as usize];
        let (a, b) = self.manifest.piece_range(i);
        if bytes.len() as u64 != b - a || got != expected {
            return Err(PieceError::BadPiece {
                content: self.manifest.id.to_string(),
                piece: i,
                expected,
                got,
            });
        }
        let stored = self.store_verified(i, bytes, on_verified)?;
        if stored {
            self.advance_whole(Some((i, bytes)));
        }
        Ok(stored)
    }

    /// Writes and journals a verified piece, `on_verified` between the
    /// two. Returns false if it was already there.
    fn store_verified(
        &self,
        i: u32,
        bytes: &[u8],
        on_verified: OnVerified,
    ) -> Result<bool, PieceError> {
        let (a, _) = self.manifest.piece_range(i);
        if self.has(i) {
            return Ok(false);
        }
        let dpath = self.dir.join("data");
        {
            let _one = self.writing.lock();
            // In small writes: the page cache sizes its folios by the write,
            // and a 1 MiB one often sends the kernel into direct compaction
            // (measured: 10-15 % of the receiver's CPU); 32 KiB ones do not.
            let mut at = a;
            for part in bytes.chunks(WRITE_CHUNK) {
                crate::platform::write_all_at(&self.data, part, at).map_err(io(&dpath))?;
                at += part.len() as u64;
            }
        }
        let mut journalled = None;
        on_verified(&mut || journalled = Some(self.journal_piece(i)));
        // A caller that did not run the step: journalled all the same.
        journalled.unwrap_or_else(|| self.journal_piece(i))?;
        let mut have = self.have.lock();
        if !have.set(i) {
            return Ok(false);
        }
        self.count.fetch_add(1, Ordering::AcqRel);
        drop(have);
        self.arrived.notify_waiters();
        if self
            .unsynced
            .fetch_add(bytes.len() as u64, Ordering::AcqRel)
            >= WRITEBACK_EVERY
        {
            self.unsynced.store(0, Ordering::Release);
            crate::platform::start_writeback(&self.data);
        }
        Ok(true)
    }

    /// Appends piece `i` to the piece journal.
    fn journal_piece(&self, i: u32) -> Result<(), PieceError> {
        let jpath = self.dir.join("journal");
        let mut j = self.journal.lock();
        j.write_all(&i.to_le_bytes()).map_err(io(&jpath))
    }

    fn set_whole_next(&self, w: &mut Whole, next: u32) {
        w.next = next;
        self.whole_next.store(next, Ordering::Release);
        self.whole_moved.notify_waiters();
    }

    /// Feeds the whole-file hasher every contiguous piece it can. Blocking.
    fn advance_whole(&self, fresh: Option<(u32, &[u8])>) {
        let Some(mut w) = self.whole.try_lock() else {
            return; // another writer is advancing it
        };
        self.feed_whole(&mut w, fresh);
    }

    fn feed_whole(&self, w: &mut Whole, fresh: Option<(u32, &[u8])>) {
        let n = self.manifest.piece_count();
        while w.next < n && self.has(w.next) {
            let i = w.next;
            match fresh {
                Some((j, bytes)) if j == i => w.hasher.update(bytes),
                _ => {
                    let (a, b) = self.manifest.piece_range(i);
                    w.scratch.resize((b - a) as usize, 0);
                    if crate::platform::read_exact_at(&self.data, &mut w.scratch, a).is_err() {
                        return;
                    }
                    w.hasher.update(&w.scratch);
                }
            }
            self.set_whole_next(w, i + 1);
        }
    }

    /// Waits up to `timeout` for piece `i` to arrive.
    pub async fn wait_for(&self, i: u32, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.arrived.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.has(i) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.has(i);
            }
        }
    }

    pub fn delivered(&self) -> bool {
        self.dir.join("delivered").exists()
    }

    /// When the file was delivered (the marker's mtime, ms since the
    /// epoch), for the report's times; `None` before delivery.
    pub fn delivered_at_ms(&self) -> Option<i64> {
        let m = std::fs::metadata(self.dir.join("delivered")).ok()?;
        let d = m
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?;
        Some(d.as_millis() as i64)
    }

    /// Verifies the whole file and delivers it to `target` atomically
    /// (link or copy to a short temp name beside it, fsync, rename, fsync
    /// the directory). `target` comes from [`super::delivered_path`].
    /// Blocking.
    pub fn deliver(&self, target: &Path) -> Result<PathBuf, PieceError> {
        let dpath = self.dir.join("data");
        self.advance_whole(None);
        let got = {
            let w = self.whole.lock();
            if w.next == self.manifest.piece_count() {
                ContentId(w.hasher.clone().finalize())
            } else {
                drop(w);
                // Not all pieces are fed (a read failed): hash from disk.
                let mut f = File::open(&dpath).map_err(io(&dpath))?;
                let mut h = Sha256::new();
                let mut buf = vec![0u8; 1 << 20];
                loop {
                    let n = f.read(&mut buf).map_err(io(&dpath))?;
                    if n == 0 {
                        break;
                    }
                    h.update(&buf[..n]);
                }
                ContentId(h.finalize().into())
            }
        };
        if got != self.manifest.id {
            // Every piece verified but the whole does not: the manifest
            // itself is inconsistent. Start over rather than deliver it.
            let _ = std::fs::remove_file(self.dir.join("journal"));
            return Err(PieceError::WholeFile {
                content: self.manifest.id.to_string(),
                got,
            });
        }
        let out_dir = target.parent().unwrap_or(Path::new("."));
        // On Windows, a path past MAX_PATH is refused here, with advice,
        // rather than by whatever `--on-complete` runs (a no-op elsewhere).
        let name = target.file_name().unwrap_or_default().to_string_lossy();
        crate::platform::check_path_length(out_dir, &name).map_err(|why| PieceError::Io {
            path: target.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidFilename, why),
        })?;
        std::fs::create_dir_all(out_dir).map_err(io(out_dir))?;
        let target = target.to_path_buf();
        let tmp = super::names::temp_path(&target, &self.manifest.id.to_string());
        let _ = std::fs::remove_file(&tmp);
        // A hard link delivers without copying; pieces keep being served
        // from the same inode and are re-verified on every restart. Another
        // file system (EXDEV) gets a copy instead.
        if std::fs::hard_link(&dpath, &tmp).is_err() {
            std::fs::copy(&dpath, &tmp).map_err(io(&tmp))?;
        }
        // Write access: Windows flushes only through a writable handle.
        OpenOptions::new()
            .write(true)
            .open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(io(&tmp))?;
        std::fs::rename(&tmp, &target).map_err(io(&target))?;
        crate::platform::sync_dir(out_dir).map_err(io(out_dir))?;
        let marker = self.dir.join("delivered");
        std::fs::write(&marker, target.display().to_string()).map_err(io(&marker))?;
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(data: &[u8], piece_size: u64) -> Manifest {
        Manifest {
            id: crate::domain::ContentId(Sha256::digest(data).into()),
            name: "t".into(),
            version: "1".into(),
            file_name: "t.bin".into(),
            path: "t/1/t.bin".into(),
            size: data.len() as u64,
            piece_size,
            pieces: data
                .chunks(piece_size as usize)
                .map(|c| crate::domain::PieceHash(Sha256::digest(c).into()))
                .collect(),
        }
    }

    #[test]
    fn manifest_with_traversal_id_writes_nothing_outside_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("a/b/c/d/pieces");
        let _ps = PieceStore::new(root.clone()).unwrap();
        // The id is typed: a manifest naming a path does not deserialize,
        // so no store ever sees it.
        let mut v = serde_json::to_value(manifest(b"attacker bytes", 1024)).unwrap();
        v["id"] = "../../../../../x".into();
        let e = serde_json::from_value::<Manifest>(v).unwrap_err();
        assert!(e.to_string().contains("is not a content id"), "{e}");
        assert!(!dir.path().join("x").exists());
        assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0);
    }

    /// Pieces stored in their turn (one pass for both hashes), ahead of it
    /// (hashed alone, fed to the whole-file hash later), and a bad piece in
    /// its turn (refused; the whole-file hash does not move): the file
    /// delivers, so the whole-file hash came out right. Piece sizes that
    /// are and are not a multiple of SHA-256's 64-byte block.
    #[test]
    fn pieces_in_turn_and_ahead_of_it_give_the_right_whole_file_hash() {
        for piece_size in [1024u64, 1000] {
            let dir = tempfile::tempdir().unwrap();
            let data: Vec<u8> = (0..10_000u32).map(|i| (i * 13 + i / 7) as u8).collect();
            let m = manifest(&data, piece_size);
            let ps = PieceStore::new(dir.path().to_path_buf()).unwrap();
            let c = ps.open(&m).unwrap();
            let piece = |i: u32| {
                let (a, b) = m.piece_range(i);
                let mut p = c.piece_buf();
                p.push(&data[a as usize..b as usize]);
                p
            };
            assert!(c.store_piece(0, piece(0), &mut |j| j()).unwrap());
            assert!(c.store_piece(1, piece(1), &mut |j| j()).unwrap());
            let mut bad = c.piece_buf();
            bad.push(&vec![0u8; piece_size as usize]);
            assert!(matches!(
                c.store_piece(2, bad, &mut |j| j()),
                Err(PieceError::BadPiece { piece: 2, .. })
            ));
            assert!(c.store_piece(4, piece(4), &mut |j| j()).unwrap());
            assert!(c.store_piece(2, piece(2), &mut |j| j()).unwrap());
            assert!(c.store_piece(3, piece(3), &mut |j| j()).unwrap());
            assert_eq!(c.whole_next.load(Ordering::Acquire), 5);
            assert!(
                !c.store_piece(3, piece(3), &mut |j| j()).unwrap(),
                "already there"
            );
            for i in (5..m.piece_count()).rev() {
                assert!(c.store_piece(i, piece(i), &mut |j| j()).unwrap());
            }
            assert!(c.complete());
            let out = c.deliver(&dir.path().join("out/t.bin")).unwrap();
            assert_eq!(std::fs::read(out).unwrap(), data, "piece size {piece_size}");
        }
    }

    /// The caller's record of a piece comes after it verified and before
    /// it is journalled or held; a bad piece or one already there is not
    /// recorded (design note `faults-and-churn`).
    #[test]
    fn a_piece_is_recorded_before_it_is_journalled_or_held() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..4096u32).map(|i| (i * 5) as u8).collect();
        let m = manifest(&data, 1024);
        let ps = PieceStore::new(dir.path().to_path_buf()).unwrap();
        let c = ps.open(&m).unwrap();
        let jlen = || {
            std::fs::metadata(dir.path().join(m.id.to_string()).join("journal"))
                .unwrap()
                .len()
        };
        let piece = |i: u32| {
            let mut p = c.piece_buf();
            p.push(&data[i as usize * 1024..(i as usize + 1) * 1024]);
            p
        };
        for i in [1u32, 0] {
            // 1 out of turn, 0 in its turn: both paths.
            let mut calls = 0;
            let stored = c.store_piece(i, piece(i), &mut |journal| {
                calls += 1;
                assert!(!c.has(i), "held before it was recorded");
                let before = jlen();
                journal();
                assert_eq!(jlen(), before + 4, "journalled by the step");
                assert!(!c.has(i), "held inside the record");
            });
            assert!(stored.unwrap() && c.has(i));
            assert_eq!(calls, 1);
        }
        let mut calls = 0;
        let mut count = |journal: &mut dyn FnMut()| {
            calls += 1;
            journal()
        };
        assert!(!c.store_piece(0, piece(0), &mut count).unwrap());
        let mut bad = c.piece_buf();
        bad.push(&[0u8; 1024]);
        assert!(c.store_piece(2, bad, &mut count).is_err());
        assert_eq!(calls, 0, "recorded a piece already there or a bad one");
    }

    #[test]
    fn resume_rehashes_and_drops_corrupt_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
        let m = manifest(&data, 1024);
        {
            let ps = PieceStore::new(dir.path().to_path_buf()).unwrap();
            let c = ps.open(&m).unwrap();
            for i in [0u32, 3, 9] {
                let (a, b) = m.piece_range(i);
                assert!(c.write_piece(i, &data[a as usize..b as usize]).unwrap());
            }
            let bad = vec![0u8; 1024];
            assert!(matches!(
                c.write_piece(1, &bad),
                Err(PieceError::BadPiece { .. })
            ));
            assert_eq!(c.count(), 3);
        }
        // Corrupt piece 3 on disk behind the store's back.
        let f = OpenOptions::new()
            .write(true)
            .open(dir.path().join(m.id.to_string()).join("data"))
            .unwrap();
        crate::platform::write_all_at(&f, b"XXXX", 3 * 1024).unwrap();
        let ps = PieceStore::new(dir.path().to_path_buf()).unwrap();
        let c = ps.open(&m).unwrap();
        assert_eq!(c.count(), 2);
        assert!(c.has(0) && !c.has(3) && c.has(9));
        for i in 0..m.piece_count() {
            let (a, b) = m.piece_range(i);
            c.write_piece(i, &data[a as usize..b as usize]).unwrap();
        }
        assert!(c.complete());
        let out = c.deliver(&dir.path().join("out/t.bin")).unwrap();
        assert_eq!(std::fs::read(out).unwrap(), data);
    }

    /// A peer waiting for a content to open is woken when it opens, and a
    /// wait whose deadline has passed ends at once.
    #[tokio::test(flavor = "current_thread")]
    async fn a_wait_for_a_content_ends_when_it_opens() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest(&[7u8; 3000], 1024);
        let ps = Arc::new(PieceStore::new(dir.path().to_path_buf()).unwrap());
        let now = tokio::time::Instant::now();
        assert!(ps.wait_open(&m.id, now).await.is_none());
        let waiting = {
            let (ps, id) = (ps.clone(), m.id);
            let deadline = now + Duration::from_secs(600);
            tokio::spawn(async move { ps.wait_open(&id, deadline).await.is_some() })
        };
        // On this one-thread runtime the wait runs until it parks.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!waiting.is_finished(), "the wait ended before the open");
        ps.open(&m).unwrap();
        assert!(waiting.await.unwrap());
    }
}

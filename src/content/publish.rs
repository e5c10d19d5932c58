//! A publish run: list storage, skip what is unchanged, hash the rest,
//! register each package in its own transaction, report, and prune.
//!
//! Goals: safe to run from cron (a lock, idempotent, an exit status that
//! says whether anything failed); a failing package never stops the others
//! and never leaves a half-registered entry (a package is registered only
//! after its bytes were read and hashed completely, and its size and mtime
//! were the same before and after).
//!
//! Changed packages: new bytes at a path are a new content; the old content
//! stays published until `--prune`. A path that vanished from storage is
//! reported as missing and withdrawn only with `--prune`.

use std::collections::{HashMap, HashSet};
use std::fs::{File, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::hash::{HashError, hash_reader};
use super::naming::{self, Overrides};
use super::piece_size_for;
use super::storage::{Entry, Listing, Storage, StorageError};
use crate::store::content::{ContentSummary, NewContent, Targets};
use crate::store::{Store, StoreError};

/// Name of the lock file in the data dir.
pub const LOCK_FILE: &str = "publish.lock";

/// Holds the publish lock until dropped.
#[derive(Debug)]
pub struct PublishLock {
    /// The locked file; the OS releases the lock when it is closed, also
    /// when the process dies, so a crashed run never blocks cron.
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another p2pd publish is running{holder} (it holds {path}); this run did nothing. \
         Try again when it has finished"
    )]
    Busy { path: PathBuf, holder: String },
    #[error("lock file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Takes the publish lock of a data dir without waiting.
pub fn lock(data_dir: &Path) -> Result<PublishLock, LockError> {
    let path = data_dir.join(LOCK_FILE);
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    let mut file = crate::platform::open_lock_file(&path).map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let pid = std::fs::read_to_string(&path).unwrap_or_default();
            let pid = pid.trim();
            let holder = if pid.is_empty() {
                String::new()
            } else {
                format!(" (pid {pid})")
            };
            return Err(LockError::Busy { path, holder });
        }
        Err(TryLockError::Error(e)) => return Err(io(e)),
    }
    // Who holds it, for the message another run prints. Best effort.
    let _ = file
        .set_len(0)
        .and_then(|()| writeln!(file, "{}", std::process::id()));
    Ok(PublishLock { _file: file })
}

/// What to publish.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Storage paths (files or directories); empty means everything.
    pub paths: Vec<String>,
    /// Whether this run covers all of storage (`--all`): only then can it
    /// tell which packages vanished.
    pub all: bool,
    /// Name and version override (one package only).
    pub name: Option<String>,
    pub version: Option<String>,
    /// Target exactly these (assigned) groups instead of all assigned ones.
    pub groups: Option<Vec<String>>,
    /// Hash unchanged-looking packages too and compare.
    pub verify: bool,
    /// Withdraw vanished packages and superseded versions.
    pub prune: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Registered (new content, or re-registered after a change).
    Published,
    /// Already published as it is; skipped.
    Unchanged,
    /// Could not be read or registered; nothing was registered for it.
    Failed,
    /// Published before, no longer in storage, kept (no `--prune`).
    Missing,
    /// Withdrawn by `--prune`.
    Pruned,
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct PackageReport {
    pub path: String,
    pub status: Status,
    pub name: String,
    pub version: String,
    /// Architecture from the file name (`x64`, `amd64`, …), or empty.
    pub arch: String,
    /// The content id (hex SHA-256), when known.
    pub id: Option<String>,
    pub size: Option<u64>,
    /// Why it failed, or a note (same bytes elsewhere, superseded, …).
    pub message: Option<String>,
}

impl PackageReport {
    /// A failed package at `path` named (name, version, arch), before
    /// anything is known about why; callers set the message.
    fn failed(
        path: &str,
        (name, version, arch): (String, String, String),
        size: Option<u64>,
    ) -> Self {
        PackageReport {
            path: path.to_string(),
            status: Status::Failed,
            name,
            version,
            arch,
            id: None,
            size,
            message: None,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub published: usize,
    pub unchanged: usize,
    pub failed: usize,
    pub missing: usize,
    pub pruned: usize,
    /// Bytes read and hashed in this run.
    pub bytes_hashed: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub summary: Summary,
    pub packages: Vec<PackageReport>,
}

/// Receives progress as the run goes.
pub trait Observer {
    /// Hashing is about to start: this many packages and bytes to hash.
    fn begin(&mut self, _packages: usize, _bytes: u64) {}
    /// Another `n` bytes were hashed.
    fn hashed(&mut self, _n: u64) {}
    /// A package is done (any status).
    fn package(&mut self, _report: &PackageReport) {}
}

/// A whole-run error: nothing was published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "group {0:?} is not assigned to peer distribution; assign it first: p2pd groups assign {0:?}"
    )]
    GroupNotAssigned(String),
    #[error("--name and --version apply to one package, but the paths given match {0}")]
    OverrideNeedsOnePackage(usize),
    /// The overrides table in storage cannot be read or is malformed.
    #[error("{0}; fix the file, or remove it to use the naming rules alone")]
    Overrides(String),
}

/// Loads [`naming::OVERRIDES_FILE`] from storage; none there is no
/// overrides.
fn load_overrides(storage: &Storage) -> Result<Overrides, PublishError> {
    let mut bytes = Vec::new();
    let read = storage.open(naming::OVERRIDES_FILE).and_then(|mut r| {
        std::io::Read::read_to_end(&mut r, &mut bytes).map_err(|source| StorageError::Io {
            path: naming::OVERRIDES_FILE.into(),
            source,
        })
    });
    match read {
        Ok(_) => Overrides::parse(&bytes).map_err(|e| PublishError::Overrides(e.to_string())),
        Err(StorageError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Ok(Overrides::default())
        }
        Err(StorageError::Http { message, .. }) if message.contains("404") => {
            Ok(Overrides::default())
        }
        Err(e) => Err(PublishError::Overrides(format!(
            "cannot read {}: {e}",
            naming::OVERRIDES_FILE
        ))),
    }
}

/// One package that needs hashing, and why it was picked.
struct Job {
    entry: Entry,
    /// The latest content at this path, if any.
    previous: Option<ContentSummary>,
}

/// Runs a publish. The caller holds the [`lock`].
pub fn publish(
    store: &mut Store,
    storage: &Storage,
    req: &Request,
    obs: &mut dyn Observer,
) -> Result<Report, PublishError> {
    let assigned = store.assigned_groups()?;
    if let Some(g) = req.groups.iter().flatten().find(|g| !assigned.contains(*g)) {
        return Err(PublishError::GroupNotAssigned(g.clone()));
    }
    let targets = match &req.groups {
        Some(g) => Targets::Only(g),
        None => Targets::AllAssigned,
    };
    let listing = storage.list()?;
    let mut report = Report::default();
    let (entries, unreadable) = select(storage, &listing, req, &mut report)?;
    if (req.name.is_some() || req.version.is_some()) && entries.len() + unreadable.len() != 1 {
        return Err(PublishError::OverrideNeedsOnePackage(
            entries.len() + unreadable.len(),
        ));
    }

    // Everything published so far, by path, newest first.
    let existing = store.content_summaries()?;
    let mut by_path: HashMap<&str, Vec<&ContentSummary>> = HashMap::new();
    for c in &existing {
        by_path.entry(c.path.as_str()).or_default().push(c);
    }
    for v in by_path.values_mut() {
        // Newest first; within one second, the later registration (rowid).
        v.sort_by_key(|c| std::cmp::Reverse((c.published_at, c.seq)));
    }
    let by_id: HashMap<&str, &ContentSummary> =
        existing.iter().map(|c| (c.id.as_str(), c)).collect();
    let listed: HashSet<&str> = listing
        .entries
        .iter()
        .map(|e| e.path.as_str())
        .chain(listing.unreadable.iter().map(|(p, _)| p.as_str()))
        .collect();

    let overrides = load_overrides(storage)?;
    let name_version = |path: &str| -> (String, String, String) {
        let n = overrides.naming(path);
        (
            req.name.clone().unwrap_or(n.name),
            req.version.clone().unwrap_or(n.version),
            n.arch,
        )
    };

    for (path, why) in &unreadable {
        let r = PackageReport {
            message: Some(why.clone()),
            ..PackageReport::failed(path, name_version(path), None)
        };
        obs.package(&r);
        report.packages.push(r);
    }

    // Skip what is unchanged; the rest is hashed.
    let jobs = unchanged_or_jobs(store, entries, &by_path, req, targets, &mut report, obs)?;

    obs.begin(jobs.len(), jobs.iter().map(|j| j.entry.size).sum());
    // Current content id per path after this run, for pruning superseded ones.
    let mut current: HashMap<String, String> = HashMap::new();
    for r in &report.packages {
        if let Some(id) = &r.id {
            current.insert(r.path.clone(), id.clone());
        }
    }
    for job in jobs {
        let path = job.entry.path.clone();
        let mut r = PackageReport::failed(&path, name_version(&path), Some(job.entry.size));
        match publish_one(store, storage, &job, &r, targets, &by_id, &listed, obs) {
            Ok((status, id, hashed, message)) => {
                report.summary.bytes_hashed += hashed;
                r.status = status;
                r.message = message;
                if status == Status::Unchanged
                    && let Some(p) = &job.previous
                    && p.id == id
                {
                    r.name = p.name.clone();
                    r.version = p.version.clone();
                    r.arch = p.arch.clone();
                }
                current.insert(path, id.clone());
                r.id = Some(id);
            }
            Err(msg) => {
                tracing::warn!(path = r.path, "publish failed: {msg}");
                r.message = Some(msg);
                // Keep whatever was published at this path before.
                if let Some(p) = &job.previous {
                    current.insert(path, p.id.clone());
                }
            }
        }
        obs.package(&r);
        report.packages.push(r);
    }

    if req.all {
        prune_or_report(store, req, &existing, &listed, &current, &mut report, obs)?;
    }
    tally(&mut report);
    Ok(report)
}

/// The summary's counts, from the packages' statuses.
fn tally(report: &mut Report) {
    for p in &report.packages {
        let s = &mut report.summary;
        match p.status {
            Status::Published => s.published += 1,
            Status::Unchanged => s.unchanged += 1,
            Status::Failed => s.failed += 1,
            Status::Missing => s.missing += 1,
            Status::Pruned => s.pruned += 1,
        }
    }
}

/// Reports each entry whose size and mtime (or digest) match what is
/// published at its path as unchanged (re-targeting it when the request
/// names groups); the rest are jobs to hash.
fn unchanged_or_jobs(
    store: &mut Store,
    entries: Vec<Entry>,
    by_path: &HashMap<&str, Vec<&ContentSummary>>,
    req: &Request,
    targets: Targets<'_>,
    report: &mut Report,
    obs: &mut dyn Observer,
) -> Result<Vec<Job>, PublishError> {
    let mut jobs = Vec::new();
    for entry in entries {
        let previous = by_path
            .get(entry.path.as_str())
            .and_then(|v| v.first())
            .copied();
        let same_meta = previous.is_some_and(|p| {
            p.size == entry.size
                && ((entry.mtime != 0 && p.mtime == entry.mtime)
                    || entry.sha256.as_deref() == Some(p.id.as_str()))
        });
        match previous {
            Some(p) if same_meta && !req.verify => {
                if req.groups.is_some() {
                    store.set_content_targets(&p.id, targets)?;
                }
                let r = PackageReport {
                    path: entry.path.clone(),
                    status: Status::Unchanged,
                    name: p.name.clone(),
                    version: p.version.clone(),
                    arch: p.arch.clone(),
                    id: Some(p.id.clone()),
                    size: Some(p.size),
                    message: None,
                };
                obs.package(&r);
                report.packages.push(r);
            }
            _ => jobs.push(Job {
                entry,
                previous: previous.cloned(),
            }),
        }
    }

    Ok(jobs)
}

type Selected = (Vec<Entry>, Vec<(String, String)>);

/// The entries (and unreadable paths) the request covers. A requested path
/// that matches nothing is reported as failed.
fn select(
    storage: &Storage,
    listing: &Listing,
    req: &Request,
    report: &mut Report,
) -> Result<Selected, PublishError> {
    if req.paths.is_empty() {
        return Ok((listing.entries.clone(), listing.unreadable.clone()));
    }
    let under = |p: &str, want: &str| {
        want.is_empty() || p == want || p.strip_prefix(want).is_some_and(|r| r.starts_with('/'))
    };
    let mut entries = Vec::new();
    let mut unreadable = Vec::new();
    let mut seen = HashSet::new();
    for given in &req.paths {
        let want = match storage.relative_path(given) {
            Ok(w) => w,
            Err(e) => {
                report.packages.push(not_found(given, e.to_string()));
                continue;
            }
        };
        let mut matched = false;
        for e in listing.entries.iter().filter(|e| under(&e.path, &want)) {
            matched = true;
            if seen.insert(e.path.clone()) {
                entries.push(e.clone());
            }
        }
        for (p, why) in listing.unreadable.iter().filter(|(p, _)| under(p, &want)) {
            matched = true;
            if seen.insert(p.clone()) {
                unreadable.push((p.clone(), why.clone()));
            }
        }
        if !matched {
            report.packages.push(not_found(
                given,
                format!("not found in file storage {}", storage.describe()),
            ));
        }
    }
    Ok((entries, unreadable))
}

fn not_found(given: &str, message: String) -> PackageReport {
    PackageReport {
        path: given.to_string(),
        status: Status::Failed,
        name: String::new(),
        version: String::new(),
        arch: String::new(),
        id: None,
        size: None,
        message: Some(message),
    }
}

/// Hashes and registers one package. Returns its status, id, bytes hashed
/// and a note; an `Err` is the message of a failure (nothing registered).
#[allow(clippy::too_many_arguments)]
fn publish_one(
    store: &mut Store,
    storage: &Storage,
    job: &Job,
    r: &PackageReport,
    targets: Targets,
    by_id: &HashMap<&str, &ContentSummary>,
    listed: &HashSet<&str>,
    obs: &mut dyn Observer,
) -> Result<(Status, String, u64, Option<String>), String> {
    let e = &job.entry;
    let piece_size = piece_size_for(e.size);
    let reader = storage.open(&e.path).map_err(|err| err.to_string())?;
    let mut hashed = 0u64;
    let digests = hash_reader(reader, e.size, piece_size, &mut |n| {
        hashed += n;
        obs.hashed(n);
    })
    .map_err(|err| match err {
        HashError::Read { .. } | HashError::SizeChanged { .. } => err.to_string(),
    })?;
    // A file rewritten in place while it was read may keep its size; its
    // mtime moves. Either way what was hashed is not what storage holds.
    if let Some((size, mtime)) = storage.stat(&e.path).map_err(|err| match err {
        StorageError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            "the file vanished while it was read; nothing was registered".to_string()
        }
        other => other.to_string(),
    })? && (size != e.size || mtime != e.mtime)
    {
        return Err(
            "the file changed while it was read; nothing was registered, publish it again"
                .to_string(),
        );
    }
    let id = super::hex(&digests.sha256);
    if let Some(want) = &e.sha256
        && *want != id
    {
        return Err(format!(
            "the index lists sha256 {want}, but the bytes hash to {id}; fix {} or the file",
            super::storage::INDEX_FILE
        ));
    }
    if let Some(p) = &job.previous
        && p.id == id
        && p.size == e.size
        && p.mtime == e.mtime
    {
        // --verify on an unchanged package: bytes confirmed.
        return Ok((Status::Unchanged, id, hashed, Some("verified".into())));
    }
    let mut note = None;
    if let Some(other) = by_id.get(id.as_str())
        && other.path != e.path
    {
        if listed.contains(other.path.as_str()) {
            return Ok((
                Status::Unchanged,
                id,
                hashed,
                Some(format!("same bytes as {}, already published", other.path)),
            ));
        }
        note = Some(format!("moved from {}", other.path));
    }
    if let Some(p) = &job.previous
        && p.id != id
    {
        note.get_or_insert_with(|| format!("new content; {} kept until --prune", short(&p.id)));
    }
    store
        .register_content(
            &NewContent {
                id: &id,
                name: &r.name,
                version: &r.version,
                arch: &r.arch,
                path: &e.path,
                size: e.size,
                mtime: e.mtime,
                piece_size,
                piece_hashes: &digests.piece_blob(),
            },
            targets,
        )
        .map_err(|err| format!("could not register: {err}"))?;
    Ok((Status::Published, id, hashed, note))
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// After an `--all` run: contents whose path is gone are missing (or pruned);
/// with `--prune`, contents superseded by newer bytes at their path go too.
fn prune_or_report(
    store: &mut Store,
    req: &Request,
    existing: &[ContentSummary],
    listed: &HashSet<&str>,
    current: &HashMap<String, String>,
    report: &mut Report,
    obs: &mut dyn Observer,
) -> Result<(), PublishError> {
    let current_ids: HashSet<&str> = current.values().map(String::as_str).collect();
    let mut doomed = Vec::new();
    for c in existing {
        let reason = if !listed.contains(c.path.as_str()) {
            // A content moved to another path this run is current there.
            if current_ids.contains(c.id.as_str()) {
                continue;
            }
            "no longer in file storage"
        } else if req.prune && current.get(&c.path).is_some_and(|id| *id != c.id) {
            "superseded by newer bytes at this path"
        } else {
            continue;
        };
        let r = PackageReport {
            path: c.path.clone(),
            status: if req.prune {
                Status::Pruned
            } else {
                Status::Missing
            },
            name: c.name.clone(),
            version: c.version.clone(),
            arch: c.arch.clone(),
            id: Some(c.id.clone()),
            size: Some(c.size),
            message: Some(if req.prune {
                reason.to_string()
            } else {
                format!("{reason}; kept until publish --all --prune")
            }),
        };
        if req.prune {
            doomed.push(c.id.clone());
        }
        obs.package(&r);
        report.packages.push(r);
    }
    if !doomed.is_empty() {
        store.delete_contents(&doomed)?;
    }
    Ok(())
}

//! `p2pd health`: checks the whole system and says how to fix what is
//! wrong, as a typed [`Report`] (`cli/health.rs` prints it).
//!
//! Local checks read the data dir (database, settings, file storage,
//! topology); the network checks talk to the running server the way an
//! agent does, with a signed `GET /v1/status`. The server is reached at the
//! configured `server_name` and `port`, not at whatever address it happens
//! to listen on, so a wrong setting shows up here before agents hit it.

mod server;

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::content::storage::{Storage, StorageError};
use crate::domain::clock::now;
use crate::domain::settings::{Setting, parse_version};
use crate::domain::words::{ago, count};
use crate::store::{Store, StoreError};

/// What to check, and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// Re-hash every published package against its content id.
    pub deep: bool,
    /// Warnings count as failures.
    pub strict: bool,
    /// The server URL to call (default: `https://SERVER_NAME:PORT`).
    pub server: Option<String>,
    /// How long to wait for the server's answer.
    pub timeout: Duration,
    /// `--database`, when not the data dir's SQLite.
    pub database: Option<String>,
}

/// Why the checks could not run at all (as opposed to a failing check).
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error("--timeout {0}: expected seconds from 0 to 3600, like 5")]
    BadTimeout(f64),
    #[error("--server {0}: expected a URL like https://10.0.0.5:7650")]
    BadServer(String),
    /// No install in the data dir.
    #[error(transparent)]
    NotInstalled(StoreError),
    #[error("cannot read the database, so nothing could be checked: {0}")]
    Unreadable(StoreError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Topology(#[from] crate::topology::TopologyError),
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    /// Works, but needs attention; a failure under `--strict`.
    Warn,
    Fail,
    /// Not checked because an earlier check failed (no server answer).
    Skip,
}

impl Status {
    /// The word the table shows.
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable name, for scripts: database, wal, replicas, server, key,
    /// server_version, client_versions, devices, enrollments, file_storage,
    /// topology, device_clocks, clock.
    pub check: &'static str,
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// One line saying how to fix it; present for warnings and failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

fn pass(check: &'static str, detail: impl Into<String>) -> Check {
    Check {
        check,
        status: Status::Pass,
        detail: detail.into(),
        fix: None,
    }
}

fn bad(
    check: &'static str,
    status: Status,
    detail: impl Into<String>,
    fix: impl Into<String>,
) -> Check {
    Check {
        check,
        status,
        detail: detail.into(),
        fix: Some(fix.into()),
    }
}

fn skip(check: &'static str, why: &str) -> Check {
    Check {
        check,
        status: Status::Skip,
        detail: why.into(),
        fix: None,
    }
}

/// Every check's outcome.
#[derive(Debug, Serialize)]
pub struct Report {
    /// No check failed (warnings allowed unless `strict`).
    pub healthy: bool,
    pub strict: bool,
    pub deep: bool,
    pub server_url: String,
    pub checks: Vec<Check>,
}

/// Checks `timeout` as given on the command line (seconds).
pub fn timeout_secs(secs: f64) -> Result<Duration, HealthError> {
    if !(secs > 0.0 && secs <= 3600.0) {
        return Err(HealthError::BadTimeout(secs));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Runs every check on the install in `dir`.
pub fn check(dir: &Path, o: &Options) -> Result<Report, HealthError> {
    // Not installed and unreadable are "could not run", not "unhealthy".
    let st = match Store::open_at(dir, o.database.as_deref()) {
        Ok(st) => st,
        Err(e @ StoreError::NotInstalled { .. }) => return Err(HealthError::NotInstalled(e)),
        Err(e) => return Err(HealthError::Unreadable(e)),
    };
    let get = |s: Setting| -> Result<String, StoreError> {
        Ok(st.setting(s.name())?.unwrap_or_else(|| s.default_value()))
    };
    let url = match &o.server {
        Some(u) => {
            let ok = reqwest::Url::parse(u)
                .is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some());
            if !ok {
                return Err(HealthError::BadServer(u.clone()));
            }
            u.trim_end_matches('/').to_string()
        }
        None => {
            let host = get(Setting::ServerName)?;
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host
            };
            format!("https://{host}:{}", get(Setting::Port)?)
        }
    };

    let mut checks = vec![database(&st), replicas(&st, dir, o.timeout)];
    checks.extend(server::server_checks(&st, dir, &url, o.timeout));
    checks.push(client_versions(
        &st,
        &get(Setting::MinClientVersion)?,
        &get(Setting::MaxClientVersion)?,
    )?);
    checks.push(devices(&st)?);
    checks.push(enrollments(&st)?);
    if let Some(c) = wal(&st)? {
        checks.insert(1, c);
    }
    checks.push(file_storage(&st, &get(Setting::FileStorage)?, o.deep)?);
    checks.push(topology(&st)?);
    checks.push(device_clocks(&st)?);
    // Keep the order people read in: database, network, clients, storage,
    // topology, then the clock (computed with the server call).
    if let Some(i) = checks.iter().position(|c| c.check == "clock") {
        let c = checks.remove(i);
        checks.push(c);
    }
    if o.strict {
        for c in &mut checks {
            if c.status == Status::Warn {
                c.status = Status::Fail;
            }
        }
    }
    Ok(Report {
        healthy: !checks.iter().any(|c| c.status == Status::Fail),
        strict: o.strict,
        deep: o.deep,
        server_url: url,
        checks,
    })
}

fn database(st: &Store) -> Check {
    let backend = st.backend();
    let fix = match backend {
        crate::store::Backend::Sqlite => {
            "restore p2pd.db from a backup, or reinstall and rebuild the content library with `p2pd publish --all`"
        }
        crate::store::Backend::Postgres => {
            "check the PostgreSQL server and that every replica runs the same p2pd version"
        }
    };
    match st.integrity_check() {
        Ok(r) if r == "ok" => pass(
            "database",
            match backend {
                crate::store::Backend::Sqlite => "sqlite: integrity check ok".to_string(),
                crate::store::Backend::Postgres => format!(
                    "postgresql: answers, schema version {}",
                    crate::store::SCHEMA_VERSION
                ),
            },
        ),
        Ok(r) => bad(
            "database",
            Status::Fail,
            format!("integrity check: {r}"),
            fix,
        ),
        Err(e) => bad(
            "database",
            Status::Fail,
            format!("integrity check could not run: {e}"),
            fix,
        ),
    }
}

/// Every serve replica that recorded itself in the database: seen within
/// a few of its heartbeats, and answering HTTP at its URL (any answer: a
/// live server refuses the unsigned probe). On SQLite there is at most
/// one, and none while serve is stopped.
/// How an admin tool on the server talks TLS to serve: it trusts the data
/// dir's `ca.pem` (the CA an admin put there), else the install's CA from
/// the database (a replica whose data dir holds only db.key), and has no
/// device certificate of its own.
fn admin_tls(
    st: &Store,
    dir: &Path,
) -> Result<crate::wire::http::ClientTls, crate::vault::server_ca::CaError> {
    let file = dir.join(crate::trust::tls::CA_CERT_FILE);
    let trust = if file.is_file() {
        crate::trust::tls::Trust::load(&file)?
    } else {
        crate::vault::server_ca::trust(dir, st)?
    };
    Ok(crate::wire::http::ClientTls {
        trust,
        cert: std::sync::Arc::new(crate::trust::tls::DeviceCert::default()),
    })
}

fn replicas(st: &Store, dir: &Path, timeout: Duration) -> Check {
    let rows = match st.replicas() {
        Ok(r) => r,
        Err(e) => {
            return bad(
                "replicas",
                Status::Fail,
                format!("cannot read the replicas table: {e}"),
                "check the database (see the database check)",
            );
        }
    };
    if rows.is_empty() {
        return skip("replicas", "no serve has recorded itself (none running)");
    }
    // One serve per data dir on SQLite (its lock): a row older than the
    // newest start is a former process of this data dir (killed and
    // restarted), not a replica that died (design note `key-holders`).
    let newest = rows.iter().map(|r| r.started_at).max().unwrap_or(0);
    let rows: Vec<_> = if st.backend() == crate::store::Backend::Sqlite {
        rows.into_iter()
            .filter(|r| r.started_at >= newest)
            .take(1)
            .collect()
    } else {
        rows
    };
    let fresh = 3 * crate::store::replicas::REPLICA_BEAT.as_secs() as i64 + 2;
    // Replicas on https prove a certificate from this data dir's CA (an
    // admin tool has no device certificate of its own).
    crate::trust::tls::install_default_provider();
    let mut builder = reqwest::blocking::Client::builder().timeout(timeout);
    if let Ok(t) = admin_tls(st, dir)
        && let Ok(cfg) = t
            .trust
            .client_config(t.cert, crate::trust::tls::Expect::Server)
    {
        builder = builder.use_preconfigured_tls(cfg);
    }
    let client = builder.build().ok();
    let mut up = Vec::new();
    let mut down = Vec::new();
    for r in &rows {
        let age = now() - r.last_seen;
        let answers = client
            .as_ref()
            .is_some_and(|c| c.get(format!("{}/v1/status", r.url)).send().is_ok());
        if age <= fresh && answers {
            up.push(format!("{} ({})", r.url, r.host));
        } else if age > fresh {
            down.push(format!("{} (last heartbeat {age} s ago)", r.url));
        } else {
            down.push(format!("{} (does not answer)", r.url));
        }
    }
    if down.is_empty() {
        return pass("replicas", format!("{} up: {}", up.len(), up.join(", ")));
    }
    bad(
        "replicas",
        if up.is_empty() {
            Status::Fail
        } else {
            Status::Warn
        },
        format!(
            "{} up{}{}; not answering: {}",
            up.len(),
            if up.is_empty() { "" } else { ": " },
            up.join(", "),
            down.join(", ")
        ),
        "start or restart `p2pd serve` on those hosts; a replica stopped for good \
         leaves the list within a day (or when another replica stops cleanly)",
    )
}

/// Devices whose own clocks are far off (they still sign with server time).
fn device_clocks(st: &Store) -> Result<Check, HealthError> {
    Ok(match crate::ops::report::far_clocks(st)? {
        None => pass("device_clocks", "no device clock is far off the server's"),
        Some(detail) => bad(
            "device_clocks",
            Status::Warn,
            detail,
            "synchronize those devices' clocks (NTP); p2pd keeps working meanwhile",
        ),
    })
}

/// Skew between the server's clock and ours. Signed requests are refused
/// beyond ±300 s, so a skew is a warning long before that.
fn clock(skew: i64, rtt: i64) -> Check {
    let fix =
        "synchronize the clocks of this host and the server (NTP: `timedatectl set-ntp true`)";
    let detail = format!("server clock is {skew:+} s from this host's");
    match skew.unsigned_abs() {
        s if s <= 2 + rtt as u64 => pass("clock", detail),
        s if s <= 60 => bad(
            "clock",
            Status::Warn,
            format!("{detail}; signed requests fail beyond 300 s"),
            fix,
        ),
        _ => bad(
            "clock",
            Status::Fail,
            format!("{detail}; signed requests fail beyond 300 s"),
            fix,
        ),
    }
}

fn client_versions(st: &Store, min: &str, max: &str) -> Result<Check, HealthError> {
    let (lo, hi) = (parse_version(min), parse_version(max));
    let devices = st.devices()?;
    let outside: Vec<String> = devices
        .iter()
        .filter(|d| {
            let v = parse_version(&d.version);
            v.is_none() || v < lo || v > hi
        })
        .map(|d| format!("{} ({}) runs {}", d.hostname, d.addr, d.version))
        .collect();
    if outside.is_empty() {
        return Ok(pass(
            "client_versions",
            format!(
                "{}, all within {min} to {max}",
                count(devices.len(), "device")
            ),
        ));
    }
    const SHOWN: usize = 10;
    let mut list = outside
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if outside.len() > SHOWN {
        list.push_str(&format!(
            "; and {} more (`p2pd devices list`)",
            outside.len() - SHOWN
        ));
    }
    Ok(bad(
        "client_versions",
        Status::Fail,
        format!(
            "{} outside the supported {min} to {max}: {list}",
            count(outside.len(), "device")
        ),
        format!(
            "upgrade those agents to a version from {min} to {max}, or change the range \
             (`p2pd settings set min_client_version V` / `max_client_version V`)"
        ),
    ))
}

/// Devices that need the admin: refused for an old key, or stuck on a
/// content. Both are warnings: the rest of the fleet is fine.
/// The SQLite write-ahead log's size against `wal_limit_mb` (design note `key-holders`: a
/// key holder's reports grew it to gigabytes while serve ran). serve
/// truncates it past the limit within a second or two, so a WAL above it
/// means the checkpoints cannot finish (a reader held open elsewhere) or
/// serve is not running. `None` on PostgreSQL.
fn wal(st: &Store) -> Result<Option<Check>, HealthError> {
    const NAME: &str = "wal";
    let Some(size) = st.wal_bytes() else {
        return Ok(None);
    };
    let limit = st.wal_limit_bytes()?;
    let mib = |b: u64| format!("{:.1} MiB", b as f64 / (1 << 20) as f64);
    if size <= limit {
        return Ok(Some(pass(
            NAME,
            format!("write-ahead log {} (limit {})", mib(size), mib(limit)),
        )));
    }
    Ok(Some(bad(
        NAME,
        Status::Warn,
        format!(
            "write-ahead log {}, over wal_limit_mb ({}); transfer reports are refused past twice the limit",
            mib(size),
            mib(limit)
        ),
        "check that `p2pd serve` runs (it truncates the log) and that no other process holds the \
         database open in a long transaction; a flood of reports from one device shows as \
         rate_limited refusals in serve's log",
    )))
}

/// New devices enrolled in the last hour against the fleet they joined,
/// and devices that enrolled and never came back (design note `key-holders`: one key
/// holder enrolled 105,029 devices, each taking a licence).
fn enrollments(st: &Store) -> Result<Check, HealthError> {
    const NAME: &str = "enrollments";
    let (expired, recent) = st.enrollment_counts(3600)?;
    let before = (st.device_count()? as i64 - recent).max(0);
    // A spike: more than a tenth of the fleet new within the hour (and at
    // least SPIKE_MIN), or SPIKE_MIN devices that never sent a heartbeat.
    let spike = recent > (before / 10).max(SPIKE_MIN);
    let ghosts = expired >= SPIKE_MIN;
    let detail = format!(
        "{} in the last hour (fleet before: {}); {} enrolled and never sent a heartbeat (not counted)",
        count(recent as usize, "new device"),
        before,
        count(expired as usize, "device"),
    );
    if !spike && !ghosts {
        return Ok(pass(NAME, detail));
    }
    Ok(bad(
        NAME,
        Status::Warn,
        format!("enrollment spike: {detail}"),
        "expected during a roll-out; otherwise a key holder may be enrolling made-up devices: \
         `p2pd devices list` shows them; lower enroll_per_min / enroll_per_address_per_min, \
         set license_cap, retire them with `p2pd devices retire`, and `p2pd key regenerate` \
         if the key leaked",
    ))
}

/// Fewest new (or never-seen-again) devices that make a spike.
const SPIKE_MIN: i64 = 100;

fn devices(st: &Store) -> Result<Check, HealthError> {
    const NAME: &str = "devices";
    let all = st.devices()?;
    let host = |id: &str| {
        all.iter()
            .find(|d| d.id == id)
            .map_or_else(|| id.to_string(), |d| d.hostname.clone())
    };
    let stale = st.stale_key_devices()?;
    let stuck = st.stuck()?;
    let mut stuck_devices: Vec<&str> = stuck.iter().map(|s| s.device_id.as_str()).collect();
    stuck_devices.sort();
    stuck_devices.dedup();
    if stale.is_empty() && stuck.is_empty() {
        return Ok(pass(
            NAME,
            format!(
                "{}, none stuck, none on an old key",
                count(all.len(), "device")
            ),
        ));
    }
    let mut detail = Vec::new();
    let mut fix = Vec::new();
    if !stale.is_empty() {
        let names: Vec<String> = stale
            .iter()
            .take(10)
            .map(|k| {
                // Which device: its name, id and address, and when it was
                // last seen with the current key (several may share a name).
                // stale_key_devices joins devices, so the row is there.
                match all.iter().find(|d| d.id == k.device_id) {
                    Some(d) => format!(
                        "{} (device {}, {}, last seen {}; key {})",
                        d.hostname,
                        d.id,
                        d.addr,
                        ago(now() - d.last_seen),
                        k.fingerprint
                    ),
                    None => format!("device {} (key {})", k.device_id, k.fingerprint),
                }
            })
            .collect();
        detail.push(format!(
            "{} refused for a stale key: {}",
            count(stale.len(), "device"),
            names.join(", ")
        ));
        fix.push(
            "give those devices the current key: `p2pd agent install --key-file FILE ...` on each (never `p2pd key regenerate`: that cuts off every device)",
        );
    }
    if !stuck.is_empty() {
        let names: Vec<String> = stuck
            .iter()
            .take(10)
            .map(|s| format!("{}: {}", host(&s.device_id), s.reason))
            .collect();
        detail.push(format!(
            "{} stuck: {}",
            count(stuck_devices.len(), "device"),
            names.join("; ")
        ));
        fix.push("fix what each stuck device names (`p2pd devices list` shows the reasons)");
    }
    Ok(bad(NAME, Status::Warn, detail.join("; "), fix.join("; ")))
}

fn file_storage(st: &Store, setting: &str, deep: bool) -> Result<Check, HealthError> {
    const NAME: &str = "file_storage";
    let contents = st.content_summaries()?;
    let storage = match Storage::from_setting(setting) {
        Ok(s) => s,
        Err(e) => {
            let fix =
                "set it with `p2pd settings set file_storage /srv/packages` (or an http(s) URL)";
            let status = if contents.is_empty() {
                Status::Warn
            } else {
                Status::Fail
            };
            return Ok(bad(NAME, status, e.to_string(), fix));
        }
    };
    let unreachable_fix = "make file storage readable from this host (mount, permissions, URL), \
                           or correct it with `p2pd settings set file_storage ...`";
    // Sizes as storage lists them: one index fetch for http(s) storage,
    // one stat per package for a directory (cheaper than walking it all).
    let listed: Option<std::collections::HashMap<String, u64>> = match &storage {
        Storage::Dir(root) => {
            if let Err(e) = std::fs::read_dir(root) {
                return Ok(bad(
                    NAME,
                    Status::Fail,
                    format!("cannot read {}: {e}", root.display()),
                    unreachable_fix,
                ));
            }
            None
        }
        Storage::Http(_) => match storage.list() {
            Ok(l) => Some(l.entries.into_iter().map(|e| (e.path, e.size)).collect()),
            Err(e) => {
                return Ok(bad(
                    NAME,
                    Status::Fail,
                    format!("cannot list: {e}"),
                    unreachable_fix,
                ));
            }
        },
    };
    let mut problems = Vec::new();
    for c in &contents {
        let found = match &listed {
            Some(m) => Ok(m.get(&c.path).copied()),
            None => match storage.stat(&c.path) {
                Ok(s) => Ok(s.map(|(size, _)| size)),
                Err(StorageError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    Ok(None)
                }
                Err(e) => Err(e),
            },
        };
        match found {
            Err(e) => problems.push(format!("{}: {e}", c.path)),
            Ok(None) => problems.push(format!("{}: missing", c.path)),
            Ok(Some(size)) if size != c.size => problems.push(format!(
                "{}: {size} bytes, but {} were published",
                c.path, c.size
            )),
            Ok(Some(_)) if deep => {
                if let Some(p) = rehash(&storage, c) {
                    problems.push(p);
                }
            }
            Ok(Some(_)) => {}
        }
    }
    if problems.is_empty() {
        return Ok(pass(
            NAME,
            format!(
                "{} present at their published size{} in {}",
                count(contents.len(), "package"),
                if deep { " and hash" } else { "" },
                storage.describe()
            ),
        ));
    }
    Ok(bad(
        NAME,
        Status::Fail,
        format!(
            "{} of {} not as published: {}",
            problems.len(),
            count(contents.len(), "package"),
            problems.join("; ")
        ),
        "put the published files back in file storage, or publish what storage holds now (`p2pd publish --all`)",
    ))
}

/// Re-hashes one package; `Some(problem)` when it is not the published one.
fn rehash(storage: &Storage, c: &crate::store::content::ContentSummary) -> Option<String> {
    let reader = match storage.open(&c.path) {
        Ok(r) => r,
        Err(e) => return Some(format!("{}: {e}", c.path)),
    };
    match crate::content::hash::hash_reader(reader, c.size, c.piece_size, &mut |_| {}) {
        Ok(d) if crate::content::hex(&d.sha256) == c.id => None,
        Ok(d) => Some(format!(
            "{}: content changed (SHA-256 {}, published {})",
            c.path,
            crate::content::hex(&d.sha256),
            c.id
        )),
        Err(e) => Some(format!("{}: {e}", c.path)),
    }
}

fn topology(st: &Store) -> Result<Check, HealthError> {
    const NAME: &str = "topology";
    let names = st.office_names()?;
    // The importer's own check on what export would write: health and
    // export → import can never disagree (overlaps, cycles, a second root).
    let problems = crate::topology::check_recorded(st)?;
    if !problems.is_empty() {
        return Ok(bad(
            NAME,
            Status::Fail,
            format!(
                "the recorded topology would not import: {}",
                problems
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            "give every address one office: `p2pd topology export > t.csv`, fix the ranges, `p2pd topology import t.csv`",
        ));
    }
    let rec = crate::topology::export::recorded(st)?;
    if rec.no_office.devices > 0 {
        let subnets = rec
            .no_office
            .subnets
            .iter()
            .map(|s| format!("{} ({})", s.subnet, s.devices))
            .collect::<Vec<_>>()
            .join(", ");
        return Ok(bad(
            NAME,
            Status::Warn,
            format!(
                "{}, by subnet: {subnets}; they get no peer or server downloads",
                count(rec.no_office.devices as usize, "no-office client")
            ),
            "add these subnets to an office: `p2pd topology export > t.csv`, add the ranges, `p2pd topology import t.csv`",
        ));
    }
    Ok(pass(
        NAME,
        format!(
            "{}, no overlapping ranges, no no-office clients",
            count(names.len(), "office")
        ),
    ))
}

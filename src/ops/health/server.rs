//! The checks that call the running server: `server`, `key`,
//! `server_version` and `clock`, from one signed `GET /v1/status`, and the
//! fix each failure needs.

use std::path::Path;
use std::time::Duration;

use super::{Check, Status, admin_tls, bad, clock, pass, skip};
use crate::domain::clock::now;
use crate::store::Store;
use crate::trust::key::{SharedKey, key_path};
use crate::wire::http::{CallError, SignedClient};
use crate::wire::proto::{ErrorCode, ServerStatus, WireError};

/// The key `health` signs its probe with: on a shared database the
/// current sealed key (another host may have regenerated it), opened with
/// the data dir's db.key; else the key file.
fn local_key(st: &Store, dir: &Path) -> Result<SharedKey, crate::trust::key::KeyError> {
    if st.backend() == crate::store::Backend::Postgres
        && let Ok(k) = crate::vault::dbkey::DbKey::load(dir)
        && let Ok((key, _)) = crate::vault::dbkey::current_key(st, &k)
    {
        return Ok(key);
    }
    SharedKey::load(&key_path(dir))
}

/// `server`, `key`, `server_version` and `clock`, from one signed call.
pub(super) fn server_checks(st: &Store, dir: &Path, url: &str, timeout: Duration) -> Vec<Check> {
    let kp = key_path(dir);
    let (key, key_problem) = match local_key(st, dir) {
        Ok(k) => (k, None),
        // Without the key the server can still be probed: any answer, even
        // a key mismatch, proves it is up.
        Err(e) => match SharedKey::generate() {
            Ok(k) => (k, Some(e.to_string())),
            Err(g) => {
                return vec![
                    skip("server", "no key to sign the request with"),
                    bad(
                        "key",
                        Status::Fail,
                        e.to_string(),
                        "restore the key file or run `p2pd key regenerate`",
                    ),
                    skip("server_version", &g.to_string()),
                    skip("clock", "no answer from the server"),
                ];
            }
        },
    };
    let probe = Probe {
        st,
        url,
        kp,
        local_fp: key.fingerprint(),
        key_problem,
    };
    let t0 = now();
    let answer = call_status(st, dir, url, key, timeout);
    let t1 = now();
    match answer {
        Err(e) => probe.unreachable(format!("cannot call {url}: {e}"), DOWN_FIX),
        Ok(Ok(s)) => probe.answered(&s, t0, t1),
        Ok(Err(CallError::Wire(w))) => probe.refused(&w),
        Ok(Err(e)) => {
            let (detail, fix) = match &e {
                CallError::Transport(t) if t.is_timeout() => (
                    format!("no answer from {url} within {} s", timeout.as_secs_f64()),
                    DOWN_FIX,
                ),
                CallError::Transport(t) => {
                    (format!("cannot reach {url}: {}", root_cause(t)), DOWN_FIX)
                }
                _ => (
                    format!("{url} answered, but not as a p2pd server: {e}"),
                    "check server_name and port (`p2pd settings show`): another service answers there",
                ),
            };
            probe.unreachable(detail, fix)
        }
    }
}

const NO_ANSWER: &str = "no answer from the server";
const DOWN_FIX: &str = "start the server (`systemctl start p2pd` or `p2pd serve`), and check that \
                        server_name and port (`p2pd settings show`) point at it";

/// One signed `GET /v1/status`. The outer error is one that kept the call
/// from being made at all.
fn call_status(
    st: &Store,
    dir: &Path,
    url: &str,
    key: SharedKey,
    timeout: Duration,
) -> Result<Result<ServerStatus, CallError>, String> {
    let status_url = format!("{url}/v1/status");
    // On https, the server must prove a certificate from the install's
    // CA (an admin tool has no device certificate). Read before the
    // runtime starts: the store is synchronous.
    let tls = if status_url.starts_with("https://") {
        Some(admin_tls(st, dir).map_err(|e| e.to_string())?)
    } else {
        None
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let client = SignedClient::with_tls(key, None, tls).map_err(|e| e.to_string())?;
        Ok(client.get_json::<ServerStatus>(&status_url, timeout).await)
    })
}

/// What the four checks are judged against.
struct Probe<'a> {
    st: &'a Store,
    url: &'a str,
    kp: std::path::PathBuf,
    local_fp: String,
    /// Why the local key could not be used (the probe then signed with a
    /// random one).
    key_problem: Option<String>,
}

impl Probe<'_> {
    /// No answer: the server fails, the rest cannot be checked (but a key
    /// file that cannot even be read is a failure of its own).
    fn unreachable(&self, detail: String, fix: &str) -> Vec<Check> {
        let key = match &self.key_problem {
            Some(p) => bad(
                "key",
                Status::Fail,
                p.clone(),
                format!(
                    "restore {} from a backup; if the key is lost, `p2pd key regenerate` makes a new one",
                    self.kp.display()
                ),
            ),
            None => skip("key", NO_ANSWER),
        };
        vec![
            bad("server", Status::Fail, detail, fix),
            key,
            skip("server_version", NO_ANSWER),
            skip("clock", NO_ANSWER),
        ]
    }

    /// The server answered with its status: the call was accepted.
    fn answered(&self, s: &ServerStatus, t0: i64, t1: i64) -> Vec<Check> {
        let url = self.url;
        let mut out = Vec::new();
        let local_server_id = self.st.server().ok().flatten().map(|s| s.server_id);
        match &local_server_id {
            Some(id) if *id != s.server_id => out.push(bad(
                "server",
                Status::Warn,
                format!(
                    "{url} answered, but as server {}, not this install's {id}",
                    s.server_id
                ),
                "point server_name/port (or --server) at the server of this data dir",
            )),
            _ => out.push(pass(
                "server",
                format!("{url} answered (server {})", s.server_id),
            )),
        }
        match &self.key_problem {
            // Only reachable if a random key matched, i.e. never; kept
            // for completeness rather than unwrap.
            Some(p) => out.push(bad(
                "key",
                Status::Fail,
                p.clone(),
                "restore the key file or run `p2pd key regenerate`",
            )),
            None => out.push(pass(
                "key",
                format!(
                    "accepted (fingerprint {}, version {})",
                    s.key_fingerprint, s.key_version
                ),
            )),
        }
        if s.version == crate::VERSION {
            out.push(pass(
                "server_version",
                format!("{} (same as this p2pd)", s.version),
            ));
        } else {
            out.push(bad(
                "server_version",
                Status::Fail,
                format!("server runs {}, this p2pd is {}", s.version, crate::VERSION),
                "install the same p2pd version on the server and restart it (`systemctl restart p2pd`)",
            ));
        }
        out.push(clock(s.time - (t0 + t1) / 2, t1 - t0));
        out
    }

    /// The server answered with a wire error: it is up, and the error says
    /// what is wrong with the key or the clock.
    fn refused(&self, w: &WireError) -> Vec<Check> {
        let kp = &self.kp;
        let mut out = vec![pass("server", format!("{} answered", self.url))];
        match w.code {
            ErrorCode::KeyMismatch if self.key_problem.is_some() => {
                // The key file itself is the problem; the server is fine.
                let p = self.key_problem.clone().unwrap_or_default();
                out.push(bad(
                    "key",
                    Status::Fail,
                    p,
                    format!(
                        "restore {} from a backup; if the key is lost, `p2pd key regenerate` makes a new \
                         one (then give it to every agent: `p2pd agent install --key-file FILE ...`)",
                        kp.display()
                    ),
                ));
                let why = format!("not checked: the key file {} cannot be used", kp.display());
                out.push(skip("server_version", &why));
                out.push(skip("clock", &why));
                return out;
            }
            ErrorCode::KeyMismatch => out.push(bad(
                "key",
                Status::Fail,
                mismatch_detail(&self.local_fp, w),
                mismatch_fix(
                    self.st,
                    &self.local_fp,
                    w.current_key.as_deref(),
                    kp,
                    self.url,
                ),
            )),
            ErrorCode::Expired | ErrorCode::Replay => {
                out.push(skip("key", "the request's timestamp was refused"));
                out.push(skip("server_version", NO_ANSWER));
                out.push(bad(
                    "clock",
                    Status::Fail,
                    format!("{}: {}", w.code.as_str(), w.message),
                    "synchronize the clocks of this host and the server (NTP: `timedatectl set-ntp true`)",
                ));
                return out;
            }
            _ => out.push(bad(
                "key",
                Status::Fail,
                format!("{}: {}", w.code.as_str(), w.message),
                "check that this data dir's key is the server's key (`p2pd key fingerprint` on both)",
            )),
        }
        let why = "not checked: the server did not accept the key";
        out.push(skip("server_version", why));
        out.push(skip("clock", why));
        out
    }
}

/// The fix for a key mismatch names its cause:
/// - the key file is not the one this install's database records (it was
///   replaced or copied): restore the right file;
/// - the server still uses a key this install retired (`key regenerate`
///   ran, the server was not restarted): restart it;
/// - the server's key is unknown here: it is another install's server.
fn mismatch_fix(
    st: &Store,
    local_fp: &str,
    server_fp: Option<&str>,
    kp: &std::path::Path,
    url: &str,
) -> String {
    let recorded = st.server().ok().flatten().map(|s| s.key_fingerprint);
    let retired: Vec<String> = st
        .retired_fingerprints()
        .unwrap_or_default()
        .into_iter()
        .map(|(_, f)| f)
        .collect();
    if recorded.as_deref().is_some_and(|r| r != local_fp) {
        return format!(
            "{} holds key {local_fp}, but this install's database records {}: the key file was replaced. \
             Restore the current key file (the one `p2pd key regenerate` or `p2pd install` wrote)",
            kp.display(),
            recorded.unwrap_or_default()
        );
    }
    match server_fp {
        Some(fp) if retired.iter().any(|r| r == fp) => {
            "the server still uses a retired key: restart it so it loads the current one \
             (`systemctl restart p2pd`)"
                .to_string()
        }
        Some(fp) => format!(
            "the server at {url} uses key {fp}, which this install never had: it is another install's \
             server. Point server_name/port (or --server) at this data dir's server"
        ),
        None => format!(
            "check that {} and the server's key are the same (`p2pd key fingerprint` on the server)",
            kp.display()
        ),
    }
}

/// "key mismatch: this data dir's key is A, the server's current key is B",
/// with B from the error's `current_key` when the server sent it.
fn mismatch_detail(local_fp: &str, w: &WireError) -> String {
    match &w.current_key {
        Some(c) => format!(
            "key mismatch: this data dir's key is {local_fp}, the server's current key is {c}"
        ),
        None => format!("key mismatch: {}", w.message),
    }
}

/// The innermost cause ("Connection refused (os error 111)"): reqwest's
/// outer layers repeat the URL the detail already names.
fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(c) = cur.source() {
        cur = c;
    }
    cur.to_string()
}

//! The server re-checks bad-piece reports itself (design note `key-holders`).
//!
//! Every device holds the shared key, so a report that a peer sent a bad
//! piece is only a claim. The server holds the piece hashes and can fetch
//! the piece from the accused device's peer URL (signed, over mutual TLS
//! with its own certificate, as its leader probe does), so it does, off the
//! request path:
//!
//! - the piece fails its hash, or the answer is longer than the piece:
//!   **confirmed**, the accused is banned for that content at once (one
//!   reporter is enough) and a failure goes on its record;
//! - the piece verifies: the report was **false**, it is withdrawn (a ban
//!   that rested on it is lifted) and the failure goes on the reporter's
//!   record instead;
//! - the piece cannot be had (refused, not there, too slow, gone):
//!   **inconclusive**, the two-witness rule of [`Store::ban`] decides, as
//!   without a re-check.
//!
//! Bounded: at most [`MAX_IN_FLIGHT`] re-checks at once and
//! [`PER_REPORTER`] per reporter per [`WINDOW`]; each takes at most
//! [`TIMEOUT`] and reads at most the piece's length (plus what arrives in
//! the chunk that goes over it), hashing as it reads. A report beyond those bounds is judged by the
//! two-witness rule at once. A report is recorded before its re-check, and
//! bans only once judged, so a false one bans no one even for a moment.
//!
//! Limit: an accused device sees that the server asks (its certificate is
//! the server's) and may answer it honestly while it sends others bad
//! pieces. Then the report counts against an honest reporter, and only the
//! reporters' own bans protect them: a follower goes around such a leader
//! on its own evidence (`agent/download/`).

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::AppState;
use crate::store::{Store, StoreError};
use crate::wire::proto::BadPiece;

/// Re-checks running at once, server-wide.
pub const MAX_IN_FLIGHT: usize = 8;
/// Re-checks one reporter may cause per [`WINDOW`].
pub const PER_REPORTER: u32 = 16;
pub const WINDOW: Duration = Duration::from_secs(60);
/// A re-check's whole fetch (connection, headers and body).
pub const TIMEOUT: Duration = Duration::from_secs(20);
/// Reporters remembered for [`PER_REPORTER`]; beyond this many (active in
/// the last [`WINDOW`]) a report is judged without a re-check.
const MAX_REPORTERS: usize = 10_000;

/// What the server's own fetch of a reported piece found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The piece failed its hash or was longer than the piece.
    Bad(String),
    /// The piece verified: the report was false.
    Good,
    /// No piece to judge (refused, not there, timed out).
    Inconclusive(String),
}

struct Budget {
    in_flight: usize,
    /// Reporter → (start of its window, re-checks started in it).
    reporters: HashMap<String, (Instant, u32)>,
}

/// Process-wide: every serve state in the process shares the bounds (one,
/// outside the tests), and the report handler needs no new state for it.
static BUDGET: LazyLock<Mutex<Budget>> = LazyLock::new(|| {
    Mutex::new(Budget {
        in_flight: 0,
        reporters: HashMap::new(),
    })
});

/// A re-check slot, given back when dropped.
struct Slot;

impl Drop for Slot {
    fn drop(&mut self) {
        let mut b = BUDGET.lock();
        b.in_flight = b.in_flight.saturating_sub(1);
    }
}

/// A slot for one re-check caused by `reporter`, if the bounds allow it.
fn reserve(reporter: &str) -> Option<Slot> {
    let mut b = BUDGET.lock();
    if b.in_flight >= MAX_IN_FLIGHT {
        return None;
    }
    let now = Instant::now();
    if b.reporters.len() >= MAX_REPORTERS {
        b.reporters
            .retain(|_, (at, _)| now.duration_since(*at) < WINDOW);
        if b.reporters.len() >= MAX_REPORTERS {
            return None;
        }
    }
    let (at, n) = b.reporters.entry(reporter.to_string()).or_insert((now, 0));
    if now.duration_since(*at) >= WINDOW {
        (*at, *n) = (now, 0);
    }
    if *n >= PER_REPORTER {
        return None;
    }
    *n += 1;
    b.in_flight += 1;
    Some(Slot)
}

/// The `report` handler's bad pieces from `reporter`: each is recorded and
/// re-checked in the background, or, beyond the bounds, judged at once by
/// the two-witness rule. Runs inside the handler's database call.
pub fn reported(
    s: &AppState,
    st: &mut Store,
    reporter: &str,
    bad: &[BadPiece],
) -> Result<(), StoreError> {
    for b in bad {
        if b.source_device == reporter {
            continue; // nobody accuses itself into anything
        }
        // Banned already (an earlier report confirmed): recorded, nothing
        // to fetch again.
        if st
            .banned(&b.content_id.to_string())?
            .contains(&b.source_device)
        {
            two_witnesses(st, b, reporter)?;
            continue;
        }
        let slot = match tokio::runtime::Handle::try_current() {
            Ok(rt) => reserve(reporter).map(|slot| (rt, slot)),
            Err(_) => None,
        };
        let Some((rt, slot)) = slot else {
            two_witnesses(st, b, reporter)?;
            continue;
        };
        st.record_bad_report(
            &b.content_id.to_string(),
            &b.source_device,
            reporter,
            b.piece,
        )?;
        let (s, b, reporter) = (s.clone(), b.clone(), reporter.to_string());
        rt.spawn(async move {
            let _slot = slot;
            let verdict = check(&s, &b).await;
            if let Err(e) = judge(&s, &b, &reporter, verdict).await {
                tracing::error!(content = %b.content_id, sender = %b.source_device, "bad-piece re-check: {}", e.message);
            }
        });
    }
    Ok(())
}

/// Without a re-check: banned once two distinct devices have reported it.
fn two_witnesses(st: &mut Store, b: &BadPiece, reporter: &str) -> Result<(), StoreError> {
    if st.ban(
        &b.content_id.to_string(),
        &b.source_device,
        reporter,
        b.piece,
    )? {
        tracing::warn!(
            sender = %b.source_device, reporter = %reporter, piece = b.piece,
            content = %b.content_id,
            "bad piece reported by a second device: sender banned for this content"
        );
        st.add_failure(&b.source_device)?;
    }
    Ok(())
}

/// Applies a verdict to the store.
async fn judge(
    s: &AppState,
    b: &BadPiece,
    reporter: &str,
    verdict: Verdict,
) -> Result<(), crate::wire::http::ApiError> {
    let (b, reporter) = (b.clone(), reporter.to_string());
    s.db.call(move |st| {
        match &verdict {
            Verdict::Bad(why) => {
                if st.ban_confirmed(&b.content_id.to_string(), &b.source_device, &reporter, b.piece)? {
                    st.add_failure(&b.source_device)?;
                }
                tracing::warn!(
                    sender = %b.source_device, reporter = %reporter, piece = b.piece,
                    content = %b.content_id,
                    "bad piece confirmed by the server's own fetch ({why}): sender banned for this content"
                );
            }
            Verdict::Good => {
                let lifted = st.withdraw_report(&b.content_id.to_string(), &b.source_device, &reporter)?;
                st.add_failure(&reporter)?;
                tracing::warn!(
                    sender = %b.source_device, reporter = %reporter, piece = b.piece,
                    content = %b.content_id, ban_lifted = lifted,
                    "false bad-piece report: the piece verified when the server fetched it; counted against the reporter"
                );
            }
            Verdict::Inconclusive(why) => {
                tracing::info!(
                    sender = %b.source_device, reporter = %reporter, piece = b.piece,
                    content = %b.content_id,
                    "bad-piece report not re-checked ({why}): two witnesses needed"
                );
                two_witnesses(st, &b, &reporter)?;
            }
        }
        Ok(())
    })
    .await
}

/// Fetches the reported piece from the accused and checks it against the
/// manifest.
pub async fn check(s: &AppState, b: &BadPiece) -> Verdict {
    let (content, accused) = (b.content_id, b.source_device.clone());
    let found =
        s.db.read(move |st| Ok((st.manifest(&content.to_string())?, st.device(&accused)?)))
            .await;
    let (manifest, device) = match found {
        Ok((Some(m), Some(d))) => (m, d),
        Ok(_) => return Verdict::Inconclusive("unknown content or device".into()),
        Err(e) => return Verdict::Inconclusive(format!("database: {}", e.message)),
    };
    let Some(want) = manifest.pieces.get(b.piece as usize) else {
        return Verdict::Inconclusive(format!("the content has no piece {}", b.piece));
    };
    let Some(peer_url) = device.peer_url else {
        return Verdict::Inconclusive("the device serves no peers".into());
    };
    let (lo, hi) = manifest.piece_range(b.piece);
    // serve asks as itself: its certificate says so (a `device=` naming
    // anything would be refused as a name the certificate does not carry).
    let path = format!(
        "/v1/pieces/{}/{}?wait_ms=0&peer={}",
        manifest.id, b.piece, device.id
    );
    let url = format!("{}{path}", peer_url.trim_end_matches('/'));
    let mut rb = s.probe.get(url).timeout(TIMEOUT);
    for (k, v) in s.verifier.key().sign("GET", &path, b"") {
        rb = rb.header(k, v);
    }
    let fetched = tokio::time::timeout(TIMEOUT, hash_capped(rb, &device.id, hi - lo)).await;
    match fetched {
        Err(_) => Verdict::Inconclusive(format!("no piece within {TIMEOUT:?}")),
        Ok(Err(v)) => v,
        Ok(Ok(got)) => {
            if got.eq_ignore_ascii_case(&want.to_string()) {
                Verdict::Good
            } else {
                Verdict::Bad(format!("piece {} failed its hash", b.piece))
            }
        }
    }
}

/// The hex SHA-256 of a successful answer's body, hashed as it streams in
/// (nothing is buffered); more than `len` bytes is a [`Verdict::Bad`],
/// anything but a 2xx answer is inconclusive.
async fn hash_capped(
    rb: reqwest::RequestBuilder,
    accused: &str,
    len: u64,
) -> Result<String, Verdict> {
    let resp = rb
        .send()
        .await
        .map_err(|e| Verdict::Inconclusive(crate::wire::http::error_chain(&e.without_url())))?;
    // Only the accused's own answer judges it: another device at its
    // address proves nothing either way.
    let mut resp = crate::wire::http::peer_checked(resp, accused)
        .map_err(|e| Verdict::Inconclusive(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(Verdict::Inconclusive(format!(
            "the device answered HTTP {}",
            resp.status().as_u16()
        )));
    }
    let oversize = |n: u64| Verdict::Bad(format!("{n} bytes or more sent for a piece of {len}"));
    if let Some(n) = resp.content_length().filter(|n| *n > len) {
        return Err(oversize(n));
    }
    let mut hasher = Sha256::new();
    let mut got = 0u64;
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| Verdict::Inconclusive(crate::wire::http::error_chain(&e.without_url())))?
    {
        got += chunk.len() as u64;
        if got > len {
            return Err(oversize(got));
        }
        hasher.update(&chunk);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_reporter_gets_a_bounded_number_of_rechecks() {
        let who = format!("reporter-{}", uuid::Uuid::new_v4());
        let mut held = Vec::new();
        let mut refused = 0;
        for _ in 0..PER_REPORTER + 4 {
            match reserve(&who) {
                Some(s) => held.push(s),
                None => refused += 1,
            }
            // Slots are given back as re-checks end; the per-reporter
            // count is not.
            held.clear();
        }
        assert_eq!(refused, 4);
        let other = format!("reporter-{}", uuid::Uuid::new_v4());
        assert!(reserve(&other).is_some());
    }
}

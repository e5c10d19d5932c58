//! One request for one piece from one source, over HTTP: the request for
//! its tier (office or parent-office peer, server, CDN), the answer's
//! headers checked (in time, from the device named, not more than the
//! piece), and the body read as it streams in, counted into the flow.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::Method;
use tokio::time::Instant;

use crate::agent::Agent;
use crate::agent::pieces::PieceBuf;
use crate::wire::proto::*;

/// How long a follower's request may wait at the leader for a piece.
const WAIT_MS: u64 = 5_000;

/// A peer answers this long after the wait it was asked for, or it is
/// frozen.
const PEER_HEADERS: Duration = Duration::from_secs(4);

/// No body bytes for this long after the headers: the request has stalled.
const BODY_IDLE: Duration = Duration::from_secs(10);

/// Why a piece request brought no piece.
pub(super) enum FetchError {
    /// The source does not have it (yet): try again later, not a failure.
    Unavailable,
    /// The server wants us to ask for sources again.
    Reschedule,
    /// Transport error or refusal: back off from this source.
    Failed(String),
    /// It sent (or declared) more bytes than the piece holds; refused at
    /// the piece's length. From a peer, that is evidence against it.
    Oversize(String),
}

/// Where a fetch reports its progress.
pub(super) struct Counters<'a> {
    pub(super) headers_ms: &'a AtomicU64,
    pub(super) received: &'a AtomicU64,
    pub(super) flow: &'a crate::agent::Flow,
}

/// Requests one piece from one source, counting bytes into `flow` as they
/// arrive; `headers_ms` gets the time to the response headers and `took`
/// the time from the headers to the last byte.
#[allow(clippy::too_many_arguments)]
pub(super) async fn fetch(
    agent: &Agent,
    m: &Manifest,
    i: u32,
    s: &Source,
    wait: bool,
    counters: Counters<'_>,
    buf: PieceBuf,
    took: &mut Duration,
) -> Result<PieceBuf, FetchError> {
    let started = Instant::now();
    let wait_ms = if wait { WAIT_MS } else { 0 };
    let resp = answer(request(agent, m, i, s, wait_ms), s, wait_ms).await?;
    // An office peer that has moved to another office since the plan: its
    // piece would cross a WAN link. Ask for sources again instead.
    if s.tier == Tier::Lan
        && let (Some(theirs), Some(ours)) = (resp.headers().get(H_OFFICE), agent.office_name())
        && theirs.as_bytes() != ours.as_bytes()
    {
        return Err(FetchError::Reschedule);
    }
    let at_headers = Instant::now();
    counters.headers_ms.store(
        at_headers.duration_since(started).as_millis() as u64,
        Ordering::Relaxed,
    );
    let (a, b) = m.piece_range(i);
    let buf = body(resp, i, b - a, &counters, buf).await?;
    *took = at_headers.elapsed();
    Ok(buf)
}

/// The request for piece `i` at `s`, as its tier takes it; a peer may
/// hold it `wait_ms` for the piece to arrive there.
fn request(
    agent: &Agent,
    m: &Manifest,
    i: u32,
    s: &Source,
    wait_ms: u64,
) -> reqwest::RequestBuilder {
    let device = agent.device_id();
    let base = if s.url.starts_with('/') {
        agent.server().to_string()
    } else {
        String::new()
    };
    let (a, b) = m.piece_range(i);
    match s.tier {
        Tier::Lan | Tier::Parent => agent.client.peer_request(
            Method::GET,
            // `peer=` binds the signature to the device asked: another
            // agent refuses the same signed request.
            &format!(
                "{}/v1/pieces/{}/{i}?device={device}&wait_ms={wait_ms}&peer={}",
                s.url.trim_end_matches('/'),
                m.id,
                s.device_id.as_deref().unwrap_or_default()
            ),
            Vec::new(),
        ),
        Tier::Server => agent.client.request(
            Method::GET,
            &format!("{base}/v1/contents/{}/pieces/{i}?device={device}", m.id),
            Vec::new(),
        ),
        Tier::Cdn if s.plain => agent
            .client
            .public()
            .get(&s.url)
            .header("range", format!("bytes={a}-{}", b - 1)),
        Tier::Cdn => agent
            .client
            .request(
                Method::GET,
                &format!("{base}{}?device={device}", s.url),
                Vec::new(),
            )
            .header("range", format!("bytes={a}-{}", b - 1)),
    }
}

/// Sends `req` and waits for the answer's headers: in time, from the
/// device named (for a peer), and a success.
async fn answer(
    req: reqwest::RequestBuilder,
    s: &Source,
    wait_ms: u64,
) -> Result<reqwest::Response, FetchError> {
    // A peer answers as soon as it has the piece: silence well past the
    // wait means it is frozen (a closed laptop lid), not slow. The server
    // and the CDN may read from slow storage first, so they get longer.
    let headers_within = match s.tier {
        Tier::Lan | Tier::Parent => Duration::from_millis(wait_ms) + PEER_HEADERS,
        Tier::Server | Tier::Cdn => Duration::from_secs(120),
    };
    let resp = match tokio::time::timeout(
        headers_within,
        req.timeout(Duration::from_millis(120_000 + wait_ms)).send(),
    )
    .await
    {
        Err(_) => {
            return Err(FetchError::Failed(format!(
                "stalled: no answer within {headers_within:?}"
            )));
        }
        Ok(r) => {
            r.map_err(|e| FetchError::Failed(crate::wire::http::error_chain(&e.without_url())))?
        }
    };
    // A peer must be the device the scheduler named, not any device that
    // answers at that address.
    let resp = match (s.tier, s.device_id.as_deref()) {
        (Tier::Lan | Tier::Parent, Some(d)) => crate::wire::http::peer_checked(resp, d)
            .map_err(|e| FetchError::Failed(e.to_string()))?,
        (Tier::Lan | Tier::Parent, None) => {
            return Err(FetchError::Failed(
                "the server named no device for this peer source".into(),
            ));
        }
        _ => resp,
    };
    crate::wire::http::check(resp)
        .await
        .map_err(|e| match e.code() {
            Some(ErrorCode::PieceUnavailable) => FetchError::Unavailable,
            Some(ErrorCode::NotScheduled) => FetchError::Reschedule,
            _ => FetchError::Failed(e.to_string()),
        })
}

/// Reads the body of piece `i`, `len` bytes, into `buf` as it streams in,
/// counting each chunk. More than `len` is refused: declared, before a
/// byte is read, or sent, at the byte past it.
async fn body(
    mut resp: reqwest::Response,
    i: u32,
    len: u64,
    counters: &Counters<'_>,
    mut buf: PieceBuf,
) -> Result<PieceBuf, FetchError> {
    // A hostile source cannot make the agent buffer more than a piece.
    if let Some(n) = resp.content_length().filter(|n| *n > len) {
        return Err(FetchError::Oversize(format!(
            "the source sent {n} bytes for a piece of {len}"
        )));
    }
    loop {
        match tokio::time::timeout(BODY_IDLE, resp.chunk()).await {
            Err(_) => return Err(FetchError::Failed("stalled: no bytes for 10 s".into())),
            Ok(Err(e)) => {
                return Err(FetchError::Failed(crate::wire::http::error_chain(
                    &e.without_url(),
                )));
            }
            Ok(Ok(None)) => return Ok(buf),
            Ok(Ok(Some(chunk))) => {
                if buf.len() + chunk.len() > len as usize {
                    return Err(FetchError::Oversize(format!(
                        "sent more than the {len} bytes of piece {i}"
                    )));
                }
                let n = chunk.len() as u64;
                counters.flow.bytes.fetch_add(n, Ordering::Relaxed);
                counters.received.fetch_add(n, Ordering::Relaxed);
                buf.push(&chunk);
            }
        }
    }
}

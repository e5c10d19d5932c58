//! The agent's peer server: verified pieces for other agents, signed like
//! every other request. On TLS only devices with a certificate from the
//! server CA connect (and serve, probing), and the requesting device is
//! the one its certificate names. A request for a piece the agent does not have yet
//! may wait (`wait_ms`, at most 10 s) for it to arrive: that is how
//! followers pipeline behind their leader.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::Agent;
use crate::wire::http::{ApiError, Signed, Verifies};
use crate::wire::proto::{ErrorCode, HaveMap, parse_content_id};

pub fn router(agent: Arc<Agent>) -> Router {
    let a = agent.clone();
    Router::new()
        .route("/v1/pieces/{id}/have", get(have))
        .route("/v1/pieces/{id}/{n}", get(piece))
        .with_state(agent)
        // Every answer says which office this device is in now: a peer
        // that still takes it for an office-mate after it moved learns at
        // once that its pieces would cross a WAN link (design note
        // `devices-move`).
        .layer(axum::middleware::map_response(
            move |mut r: axum::response::Response| {
                let office = a.office_name();
                async move {
                    if let Some(v) =
                        office.and_then(|o| axum::http::HeaderValue::from_bytes(o.as_bytes()).ok())
                    {
                        r.headers_mut().insert(crate::wire::proto::H_OFFICE, v);
                    }
                    r
                }
            },
        ))
}

impl Verifies for Agent {
    fn verifier(&self) -> &crate::trust::key::Verifier {
        &self.verifier
    }

    /// Server time as this agent learned it, whatever its own clock says.
    fn now(&self) -> i64 {
        self.client.now()
    }
}

/// Every peer request names the device it is for (`peer=ID`), inside the
/// signed path: a request captured on its way to one agent is refused by
/// every other.
fn addressed_here(a: &Agent, peer: Option<&str>) -> Result<(), ApiError> {
    let me = a.device_id();
    match peer {
        Some(p) if !me.is_empty() && p == me => Ok(()),
        Some(p) => Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("this request is for device {p}; this is device {me}"),
        )),
        None => Err(ApiError::new(
            ErrorCode::BadRequest,
            "peer requests must name the device they are for (peer=ID); upgrade the requesting agent",
        )),
    }
}

#[derive(Deserialize)]
struct HaveQuery {
    peer: Option<String>,
    /// Long poll ([`super::havemap`]): the pieces the asker knows of, and
    /// how long it may wait for a change.
    since: Option<u32>,
    wait_ms: Option<u64>,
}

fn serving(a: &Agent) -> Result<(), ApiError> {
    if a.serve_peers.load(Ordering::Relaxed) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::NotServing,
            "this device does not serve peers (VPN or no-office device)",
        ))
    }
}

async fn have(
    State(a): State<Arc<Agent>>,
    Path(id): Path<String>,
    Query(q): Query<HaveQuery>,
    _signed: Signed,
) -> Result<axum::Json<HaveMap>, ApiError> {
    let id = parse_content_id("content id", &id)?;
    addressed_here(&a, q.peer.as_deref())?;
    serving(&a)?;
    let c = a.pieces.get(&id).ok_or_else(|| {
        ApiError::new(ErrorCode::PieceUnavailable, "no pieces of this content yet")
    })?;
    #[cfg(feature = "fault-injection")]
    if a.faults.slow {
        // Test-only fault switch: claim every piece.
        let n = c.manifest.piece_count();
        return Ok(axum::Json(HaveMap::new(n, &crate::domain::Bitmap::full(n))));
    }
    Ok(axum::Json(
        super::havemap::answer(&c, q.since, q.wait_ms).await,
    ))
}

#[derive(Deserialize)]
struct PieceQuery {
    #[serde(default)]
    wait_ms: u64,
    peer: Option<String>,
}

async fn piece(
    State(a): State<Arc<Agent>>,
    Path((id, n)): Path<(String, u32)>,
    Query(q): Query<PieceQuery>,
    signed: Signed,
) -> Result<Response, ApiError> {
    let id = parse_content_id("content id", &id)?;
    // Who asks: the device its certificate names (`Signed` refused any
    // other name in the request); on plain HTTP, the signed claim. serve
    // (re-checking a reported piece) asks as itself.
    let requester = match &signed.caller {
        crate::wire::http::Caller::Device(d) => d.to_string(),
        crate::wire::http::Caller::Server(_) => "server".to_string(),
        crate::wire::http::Caller::Anonymous => signed.device()?.to_string(),
    };
    addressed_here(&a, q.peer.as_deref())?;
    serving(&a)?;
    let wait = Duration::from_millis(q.wait_ms.min(10_000));
    let deadline = tokio::time::Instant::now() + wait;
    // The content may not be open yet when a follower asks its brand-new
    // leader: wait for it like for a piece.
    let open = tokio::select! {
        biased;
        c = a.pieces.wait_open(&id, deadline) => c,
        _ = a.shutdown.cancelled() => None,
    };
    let Some(c) = open else {
        return Err(ApiError::new(
            ErrorCode::PieceUnavailable,
            "no pieces of this content yet",
        ));
    };
    if n >= c.manifest.piece_count() {
        return Err(ApiError::new(ErrorCode::NotFound, format!("no piece {n}")));
    }
    #[cfg(feature = "fault-injection")]
    if a.faults.slow {
        // Test-only fault switch: answer at once, then send 1 byte/s.
        let (lo, hi) = c.manifest.piece_range(n);
        return Ok(super::faults::trickle(hi - lo, 1));
    }
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    // A stopping agent answers its waiting followers at once: the piece
    // will not arrive here, and they should ask their new leader.
    // So does one that has just stopped leading: they should ask the
    // server, which names the new leader.
    let demoted = c.demoted.notified();
    let arrived = tokio::select! {
        ok = c.wait_for(n, left) => ok,
        _ = a.shutdown.cancelled() => false,
        _ = demoted => {
            return Err(ApiError::new(
                ErrorCode::NotScheduled,
                "this device no longer leads this content; ask for sources again",
            ));
        }
    };
    if !c.has(n) && !arrived {
        return Err(ApiError::new(
            ErrorCode::PieceUnavailable,
            format!("piece {n} not here yet"),
        ));
    }
    let c2 = c.clone();
    // A reused buffer, back to the content when the body is sent.
    #[allow(unused_mut)]
    let mut bytes = tokio::task::spawn_blocking(move || c2.read_piece_shared(n))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    #[cfg(feature = "fault-injection")]
    if a.faults.corrupt {
        // Test-only fault switch: serve corrupt bytes on purpose.
        bytes = super::faults::corrupt(bytes);
    }
    #[cfg(feature = "fault-injection")]
    if let Some(r) = a.faults.hostile(bytes.len() as u64) {
        return Ok(r);
    }
    // The server re-checking a reported piece (`server/recheck.rs`) is
    // not a download: no upload to claim.
    if !matches!(signed.caller, crate::wire::http::Caller::Server(_)) {
        a.record_upload(&id, &requester, n, bytes.len() as u64);
    }
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

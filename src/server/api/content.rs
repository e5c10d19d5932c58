//! A content's routes: `/v1/contents/{id}/manifest` and
//! `/v1/contents/{id}/sources` (the scheduler's answer, with the server's
//! own probe of a reported leader as the second signal).

use std::sync::Arc;

use axum::extract::{Path, State};

use crate::content::storage::Storage;
use crate::store::Store;
use crate::wire::http::{ApiError, Signed};
use crate::wire::proto::*;

use super::enrolled;
use crate::server::{AppState, ServerState, decisions, scheduler};

pub async fn manifest(
    State(s): State<AppState>,
    Path(id): Path<String>,
    signed: Signed,
) -> Result<axum::Json<Manifest>, ApiError> {
    let device = signed.device()?.clone();
    check_device_id("device", &device)?;
    let id = parse_content_id("content id", &id)?.to_string();
    let fleet = s.fleet.current();
    s.db.call(move |st| {
        let d = enrolled(st, &fleet, &device)?;
        let m = targeted_manifest(st, &id, &d.group_name)?;
        st.start_progress(&id, &d.id)?;
        Ok(m)
    })
    .await
    .map(axum::Json)
}

fn targeted_manifest(st: &Store, id: &str, group: &str) -> Result<Manifest, ApiError> {
    let m = st
        .manifest(id)?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no content {id}")))?;
    check_targeted(st, id, group)?;
    Ok(m)
}

/// Refuses a content not targeted at `group`.
fn check_targeted(st: &Store, id: &str, group: &str) -> Result<(), ApiError> {
    if !st.is_targeted(id, group)? {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("content {id} is not targeted at group '{group}'"),
        ));
    }
    Ok(())
}

/// [`targeted_manifest`] from the seed's manifest cache.
fn targeted_manifest_cached(
    s: &ServerState,
    st: &Store,
    id: &str,
    group: &str,
) -> Result<Arc<Manifest>, ApiError> {
    let m = s.seed.manifest(st, id)?;
    check_targeted(st, id, group)?;
    Ok(m)
}

pub async fn sources(
    State(s): State<AppState>,
    Path(id): Path<String>,
    signed: Signed,
) -> Result<axum::Json<SourcesResponse>, ApiError> {
    let mut req: SourcesRequest = signed.json()?;
    req.device_id = signed.device()?.to_string();
    check_device_id("device_id", &req.device_id)?;
    let id = parse_content_id("content id", &id)?.to_string();
    if req.unreachable.len() > crate::server::reachability::MAX_REPORTED {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!(
                "unreachable: {} peers named; at most {} per call",
                req.unreachable.len(),
                crate::server::reachability::MAX_REPORTED
            ),
        ));
    }
    for u in &req.unreachable {
        check_device_id("unreachable", u)?;
    }
    if !req.unreachable.is_empty() {
        crate::server::reachability::reported(&s, &req.device_id, &req.unreachable).await;
    }
    let mut plan = plan_sources(&s, &id, &req, false).await?;
    // A follower reported its leader and nothing confirmed it yet: the
    // server's own probe is the second signal.
    if let Some(url) = plan.probe.take()
        && !crate::server::reachability::answers(&s.probe, &url).await
    {
        tracing::warn!(leader = %url, content = %id, "reported leader does not answer the server's probe");
        plan = plan_sources(&s, &id, &req, true).await?;
    }
    s.seed
        .decided(&id, &req.device_id, plan.server_seeds, plan.replaced.take());
    Ok(axum::Json(plan.response))
}

async fn plan_sources(
    s: &AppState,
    id: &str,
    req: &SourcesRequest,
    probe_failed: bool,
) -> Result<scheduler::Plan, ApiError> {
    let storage_url = match &s.seed.storage {
        Some(Storage::Http(u)) => Some(u.to_string()),
        _ => None,
    };
    let board = s.board.clone();
    let id = id.to_string();
    let req = req.clone();
    let fleet = s.fleet.current();
    let state = s.clone();
    // Usually only reads (a follower asking again, the same leader): on a
    // read connection, so that a write transaction held elsewhere (an
    // import) does not stall it. An election or a changed decision writes:
    // then again on the writer.
    s.db.read_or_write(move |st| {
        let d = enrolled(st, &fleet, &req.device_id)?;
        let m = targeted_manifest_cached(&state, st, &id, &d.group_name)?;
        let hb = fleet.settings.heartbeat_secs as i64;
        let ends = scheduler::Endpoints {
            cdn: fleet.settings.cdn_url.clone(),
            storage_url: storage_url.clone(),
        };
        let mut board = board.lock();
        let at_ms = crate::domain::clock::now_ms();
        let at = at_ms / 1000;
        // Replicas on one PostgreSQL: one election per content at a time.
        let plan = st.for_content_exclusively(&id, |st| {
            let ask = scheduler::Ask {
                roster: &state.roster,
                timing: &scheduler::Timing::new(hb),
                ends: &ends,
                content_id: &id,
                path: &m.path,
                device: &d,
                complaint: req.suspect.as_ref().map(|suspect| scheduler::Complaint {
                    suspect,
                    probe_failed,
                }),
                now: at,
                now_ms: at_ms,
            };
            let plan = scheduler::plan(st, &mut board, ask)?;
            decisions::record_sources(st, &d, &id, m.piece_count(), &plan.response, at)?;
            Ok(plan)
        })?;
        Ok(plan)
    })
    .await
}

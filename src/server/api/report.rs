//! `/v1/report`: a device's transfers, uploads and bad pieces (re-checked
//! by the server, see `recheck.rs`), within its quota. Each report counts
//! once: its sequence number is applied in the same transaction as its
//! counts, and a report numbered at or below the device's highest applied
//! one (a retry after a lost answer) is acknowledged and not counted
//! again (`Store::report_once`; design note `faults-and-churn`).

use axum::extract::State;
use axum::http::StatusCode;

use crate::store::Store;
use crate::store::devices::DeviceRow;
use crate::store::distribution::Transfer;
use crate::wire::http::{ApiError, Signed};
use crate::wire::proto::*;

use crate::server::{AppState, quota, recheck};

pub async fn report(State(s): State<AppState>, signed: Signed) -> Result<StatusCode, ApiError> {
    let mut req: ReportRequest = signed.json()?;
    req.device_id = signed.device()?.to_string();
    let state = s.clone();
    req.validate()?;
    let _admitted = quota::report(&s, &req)?;
    s.db.call(move |st| {
        let d = st.device(&req.device_id)?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotEnrolled,
                "device is not enrolled; enroll again",
            )
        })?;
        let seq = req.seq;
        let counted = st.report_once(&d.id, seq, |st| count(&state, st, &d, &req))?;
        if !counted {
            tracing::debug!(device = %d.id, seq, "report already counted: acknowledged again");
        }
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Counts one report of device `d`: its transfers (with the upload credit
/// they confirm), its upload claims and its bad pieces. Runs inside the
/// report's transaction.
fn count(
    state: &AppState,
    st: &mut Store,
    d: &DeviceRow,
    req: &ReportRequest,
) -> Result<(), ApiError> {
    let started = std::time::Instant::now();
    for t in &req.transfers {
        let content_id = t.content_id.to_string();
        let transfer = Transfer {
            content_id: &content_id,
            tier: t.tier.as_str(),
            source_device: t.source_device.as_deref(),
            bytes: t.bytes,
            pieces: t.pieces,
            ok: t.ok,
        };
        st.record_transfer(&transfer, &d.id, d.office_id)?;
        // Upload credit comes from receivers: a verified transfer from
        // a peer confirms (part of) what that peer claims it sent.
        if let Some(src) = &t.source_device
            && t.ok
            && matches!(t.tier, Tier::Lan | Tier::Parent)
            && src != &d.id
        {
            st.receive_uploads(src, &content_id, t.pieces, t.bytes)?;
        }
    }
    for u in &req.uploads {
        st.claim_uploads(&d.id, &u.content_id.to_string(), u.pieces, u.bytes)?;
    }
    recheck::reported(state, st, &d.id, &req.bad)?;
    state.metrics.observe_write(
        "report",
        req.transfers.len() + req.uploads.len() + req.bad.len(),
        started.elapsed(),
    );
    Ok(())
}

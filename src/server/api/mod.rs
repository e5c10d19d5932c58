//! The agents' API, a file per route: [`enroll`], [`heartbeat`],
//! [`report`], [`leave`] and [`content`] (a content's manifest and
//! sources); `/v1/status` and what the handlers share are here. The
//! seed's routes (pieces, the storage gateway) are in `seed.rs`.

use axum::extract::State;

use crate::domain::clock::now;
use crate::store::Store;
use crate::wire::http::{ApiError, Signed};
use crate::wire::proto::*;

use super::{AppState, fleet};

pub mod content;
pub mod enroll;
pub mod heartbeat;
pub mod leave;
pub mod report;

pub async fn status(
    State(s): State<AppState>,
    _signed: Signed,
) -> Result<axum::Json<ServerStatus>, ApiError> {
    Ok(axum::Json(ServerStatus {
        server_id: s.server_id.clone(),
        version: crate::VERSION.to_string(),
        time: now(),
        key_fingerprint: s.verifier.fingerprint(),
        key_version: s.key_version.load(std::sync::atomic::Ordering::Relaxed),
    }))
}

/// Loads an enrolled device whose group is still assigned.
pub fn enrolled(
    st: &Store,
    fleet: &fleet::Snapshot,
    id: &str,
) -> Result<crate::store::devices::DeviceRow, ApiError> {
    let d = st.device(id)?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotEnrolled,
            format!("device {id} is not enrolled; enroll again"),
        )
    })?;
    if !fleet.group_assigned(&d.group_name) {
        return Err(ApiError::new(
            ErrorCode::GroupNotAssigned,
            format!(
                "group '{}' is no longer assigned to peer distribution",
                d.group_name
            ),
        ));
    }
    Ok(d)
}

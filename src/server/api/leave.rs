//! `/v1/leave`: a stopping agent hands over its leadership.

use axum::extract::State;
use axum::http::StatusCode;

use crate::domain::clock::now;
use crate::wire::http::{ApiError, Signed};
use crate::wire::proto::*;

use crate::server::{AppState, scheduler};

/// An agent that is stopping hands over its leadership before it exits.
pub async fn leave(State(s): State<AppState>, signed: Signed) -> Result<StatusCode, ApiError> {
    let mut req: LeaveRequest = signed.json()?;
    req.device_id = signed.device()?.to_string();
    let board = s.board.clone();
    let dev = req.device_id.clone();
    let fleet = s.fleet.current();
    let handed =
        s.db.call(move |st| {
            let d = st
                .device(&req.device_id)?
                .ok_or_else(|| ApiError::new(ErrorCode::NotEnrolled, "device is not enrolled"))?;
            let hb = fleet.settings.heartbeat_secs as i64;
            let mut board = board.lock();
            Ok(scheduler::hand_over(
                st,
                &mut board,
                &scheduler::Timing::new(hb),
                &d,
                now(),
                crate::domain::clock::now_ms(),
            )?)
        })
        .await?;
    s.seed.forget_device(&dev);
    tracing::info!(device = %dev, handed_over = handed, "device leaving");
    Ok(StatusCode::NO_CONTENT)
}

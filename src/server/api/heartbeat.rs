//! `/v1/heartbeat`: answered from a read connection, written by the next
//! group commit (see `beats.rs`).

use axum::extract::State;

use crate::wire::http::{ApiError, Signed};
use crate::wire::proto::*;

use crate::server::AppState;

pub async fn heartbeat(
    State(s): State<AppState>,
    conn: Option<axum::Extension<crate::wire::listen::Conn>>,
    signed: Signed,
) -> Result<axum::Json<HeartbeatResponse>, ApiError> {
    let mut req: HeartbeatRequest = signed.json()?;
    // The device is the certificate's, whatever the body says (a body that
    // names another was refused by `Signed`).
    req.device_id = signed.device()?.to_string();
    req.validate()?;
    // Where the device is now: the address its connection comes from
    // (see `relocate.rs`).
    let source = conn.map(|c| c.0.addr.ip());
    // Written by the next group commit (see `beats`).
    s.beats.submit(&s, req, source).await.map(axum::Json)
}

//! Test-only fault switches (the `fault-injection` feature): read from the
//! agent's environment once, when it starts ([`Faults::from_env`]), and
//! kept in [`super::Agent`]; and the hostile answers they turn the peer
//! server's replies into. With them a real agent plays a broken or hostile
//! device. It downloads like any agent (so it can lead an office) unless
//! told to be the slow peer.
//!
//! - `P2PD_FAULT_SLOW=1`: downloads nothing itself, claims every piece in
//!   its have-maps and serves 1 byte/s;
//! - `P2PD_FAULT_CORRUPT=1`: serves corrupt bytes;
//! - `P2PD_FAULT_SLOW_BPS=N`: answers piece requests at once, then sends
//!   N bytes/s;
//! - `P2PD_FAULT_OVERSIZE=K`: sends K times the piece's length (with no
//!   length declared, so only the receiver's count can stop it);
//! - `P2PD_FAULT_CLOCK_SKEW_SECS=N`: pretends this host's clock is off by
//!   N seconds;
//! - `P2PD_FAULT_SOURCE_FILE=PATH`: the device's address is the IP in that
//!   file, re-read every second: a device that changes address (DHCP, a
//!   walk to another office) on a loopback host, where a test cannot
//!   re-address an interface. It replaces `--source-address`;
//! - `P2PD_FAULT_LOSE_REPORT_ANSWERS=1`: drops every other answer to a
//!   transfer report that the server accepted, so the agent sends the
//!   report again as after an answer lost on the way.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The switches, as the environment set them at start.
#[derive(Debug, Clone, Default)]
pub(crate) struct Faults {
    /// `P2PD_FAULT_SLOW=1`.
    pub(crate) slow: bool,
    /// `P2PD_FAULT_CORRUPT=1`.
    pub(crate) corrupt: bool,
    /// `P2PD_FAULT_SLOW_BPS`, when above 0.
    pub(crate) slow_bps: Option<u64>,
    /// `P2PD_FAULT_OVERSIZE`, when above 0.
    pub(crate) oversize: Option<u64>,
    /// `P2PD_FAULT_CLOCK_SKEW_SECS` (0 when unset or not a number).
    pub(crate) clock_skew_secs: i64,
    /// `P2PD_FAULT_SOURCE_FILE`.
    pub(crate) source_file: Option<std::path::PathBuf>,
    /// `P2PD_FAULT_LOSE_REPORT_ANSWERS=1`.
    pub(crate) lose_report_answers: bool,
    /// Report answers seen, for dropping every other one.
    report_answers: Arc<AtomicU64>,
}

fn on(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| v == "1")
}

fn positive(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.parse().ok().filter(|n| *n > 0)
}

impl Faults {
    pub(crate) fn from_env() -> Faults {
        Faults {
            slow: on("P2PD_FAULT_SLOW"),
            corrupt: on("P2PD_FAULT_CORRUPT"),
            slow_bps: positive("P2PD_FAULT_SLOW_BPS"),
            oversize: positive("P2PD_FAULT_OVERSIZE"),
            clock_skew_secs: std::env::var("P2PD_FAULT_CLOCK_SKEW_SECS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            source_file: std::env::var_os("P2PD_FAULT_SOURCE_FILE").map(Into::into),
            lose_report_answers: on("P2PD_FAULT_LOSE_REPORT_ANSWERS"),
            report_answers: Arc::default(),
        }
    }

    /// The address `P2PD_FAULT_SOURCE_FILE` holds now, if it is set and
    /// holds one.
    pub(crate) fn source(&self) -> Option<std::net::IpAddr> {
        let f = self.source_file.as_ref()?;
        std::fs::read_to_string(f).ok()?.trim().parse().ok()
    }

    /// Whether to drop this accepted report's answer: every other one
    /// (the first included) when `P2PD_FAULT_LOSE_REPORT_ANSWERS=1`.
    pub(crate) fn lose_report_answer(&self) -> bool {
        self.lose_report_answers
            && self
                .report_answers
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(2)
    }

    /// The hostile answer for a piece of `len` bytes, if a switch is on.
    pub(crate) fn hostile(&self, len: u64) -> Option<Response> {
        if let Some(bps) = self.slow_bps {
            return Some(trickle(len, bps));
        }
        let k = self.oversize?;
        // 64 KiB chunks of junk, K times the piece.
        let chunk = Bytes::from(vec![0x5a; 64 << 10]);
        let chunks = (len * k).div_ceil(chunk.len() as u64);
        let stream = futures_util::stream::iter(
            (0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
        );
        Some(
            (
                [(header::CONTENT_TYPE, "application/octet-stream")],
                Body::from_stream(stream),
            )
                .into_response(),
        )
    }
}

/// Flips a byte in every 4 KiB of a piece being served.
pub(crate) fn corrupt(bytes: bytes::Bytes) -> bytes::Bytes {
    let mut bad = bytes.to_vec();
    for b in bad.iter_mut().step_by(4096) {
        *b ^= 0xff;
    }
    bad.into()
}

/// `len` zero bytes at `bps` bytes/s, a chunk a second.
pub(crate) fn trickle(len: u64, bps: u64) -> Response {
    let stream = futures_util::stream::unfold(len, move |left| async move {
        if left == 0 {
            return None;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let n = bps.min(left);
        Some((
            Ok::<_, std::io::Error>(Bytes::from(vec![0u8; n as usize])),
            left - n,
        ))
    });
    (
        [(header::CONTENT_TYPE, "application/octet-stream")],
        Body::from_stream(stream),
    )
        .into_response()
}

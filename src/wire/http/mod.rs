//! HTTP plumbing shared by the server and the agent: signed requests on
//! both sides, and JSON errors on the wire. [`server`] is the side that
//! answers (`ApiError`, the `Signed` extractor, `Verifies`); [`client`] the
//! side that asks (`SignedClient`, `CallError`, retries and `Retry-After`).

mod client;
mod server;

pub use client::*;
pub use server::*;

use std::net::IpAddr;
use std::time::Duration;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::domain::DeviceId;
use crate::trust::key::{SharedKey, Verifier, VerifyError};
use crate::wire::proto::{ErrorBody, ErrorCode, Invalid, WireError};

/// An error and its causes, outermost first, joined with ": ", skipping a
/// cause whose text the previous one already contains.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        cur = c.source();
    }
    out
}

/// Percent-encodes a storage path for a URL: every byte except unreserved
/// characters and `/` separators, so a file name with spaces, `#`, `?`,
/// `%` or non-ASCII letters names the same file on the other side (axum's
/// `Path` and any web server decode it back).
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_internal_error_reaches_the_client_as_a_request_id_only() {
        let resp = super::ApiError::internal(
            "database /var/lib/p2pd/p2pd.db is locked (SQLITE_BUSY at row 12)",
        )
        .into_response();
        assert_eq!(resp.status().as_u16(), 500);
        let body = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(axum::body::to_bytes(resp.into_body(), 1 << 16))
            .unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(
            !text.contains("/var/lib") && !text.contains("SQLITE"),
            "{text}"
        );
        assert!(text.contains("internal server error (request "), "{text}");
    }
    use super::*;

    #[test]
    fn encoded_paths_keep_separators_and_escape_the_rest() {
        assert_eq!(encode_path("a/b c/ü#?.msi"), "a/b%20c/%C3%BC%23%3F.msi");
        assert_eq!(encode_path("plain/1.0/x.bin"), "plain/1.0/x.bin");
    }

    #[test]
    fn retry_after_is_clamped_and_jittered() {
        let s = Duration::from_secs;
        assert_eq!(retry_after_wait(Some("5"), 0.0), s(5));
        assert_eq!(
            retry_after_wait(Some("5"), 1.0),
            Duration::from_millis(7500)
        );
        assert_eq!(retry_after_wait(None, 0.0), s(1));
        assert_eq!(retry_after_wait(Some("soon"), 0.0), s(1));
        assert_eq!(retry_after_wait(Some("0"), 0.0), s(1));
        assert_eq!(retry_after_wait(Some("999999"), 0.0), MAX_RETRY_AFTER);
        for _ in 0..100 {
            let j = jittered(s(2));
            assert!(j >= s(1) && j < s(3), "{j:?}");
        }
    }

    /// Design note `fleet-scale`: an agent told 503 + `Retry-After` waits at least that long
    /// before its next request to that server (a tiny fake server here).
    #[tokio::test]
    async fn every_error_code_crosses_the_wire_as_itself() {
        // `ErrorCode::ALL` is made from the same list as the enum (see
        // `error_codes!`), so this covers every code.
        let app = axum::Router::new().route(
            "/v1/code/{n}",
            axum::routing::get(
                |axum::extract::Path(n): axum::extract::Path<usize>| async move {
                    ApiError::new(ErrorCode::ALL[n], "as asked").into_response()
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let client = reqwest::Client::new();
        for (n, &code) in ErrorCode::ALL.iter().enumerate() {
            let resp = client
                .get(format!("{base}/v1/code/{n}"))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), code.http_status(), "{code:?}");
            let e = check(resp).await.unwrap_err();
            assert_eq!(e.code(), Some(code), "{e}");
        }
        server.abort();
    }

    #[tokio::test]
    async fn a_503_with_retry_after_holds_the_next_request_back() {
        use parking_lot::Mutex;
        use std::time::Instant;
        let hits: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let h = hits.clone();
        let app = axum::Router::new().route(
            "/v1/heartbeat",
            axum::routing::post(move || {
                let h = h.clone();
                async move {
                    let mut v = h.lock();
                    v.push(Instant::now());
                    if v.len() == 1 {
                        ApiError::new(ErrorCode::Overloaded, "busy").into_response()
                    } else {
                        axum::Json(serde_json::json!({"ok": true})).into_response()
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1/heartbeat", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let client = SignedClient::new(SharedKey::generate().unwrap(), None).unwrap();
        let body = serde_json::json!({});
        let t = Duration::from_secs(10);
        let first = client
            .json::<serde_json::Value>(Method::POST, &url, &body, t)
            .await
            .unwrap_err();
        assert_eq!(first.code(), Some(ErrorCode::Overloaded), "{first}");
        let second: serde_json::Value = client.json(Method::POST, &url, &body, t).await.unwrap();
        assert_eq!(second["ok"], true);
        let v = hits.lock().clone();
        assert_eq!(v.len(), 2);
        let gap = v[1] - v[0];
        let asked = Duration::from_secs(RETRY_AFTER_SECS);
        assert!(
            gap >= asked,
            "second request after {gap:?}, asked {asked:?}"
        );
        assert!(
            gap <= asked.mul_f64(1.5) + Duration::from_secs(1),
            "{gap:?}"
        );
        server.abort();
    }
}

//! In-process tests of the server's HTTP handlers: `server::router()` over
//! a fresh install, driven with signed requests through
//! `tower::ServiceExt::oneshot` (as axum's own testing example does), so
//! the protocol errors are checked without processes or sockets.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use p2pd::trust::key::{SharedKey, key_path};
use p2pd::wire::proto::{AddrInfo, EnrollRequest};
use tower::ServiceExt;

/// A fresh install (group `g` assigned) and its router.
struct Server {
    _dir: tempfile::TempDir,
    key: SharedKey,
    router: axum::Router,
}

fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let storage = dir.path().join("storage");
    std::fs::create_dir_all(&storage).unwrap();
    let options = p2pd::ops::install::Options {
        file_storage: Some(storage.display().to_string()),
        ..Default::default()
    };
    p2pd::ops::install::install(&data, &options).unwrap();
    let mut st = p2pd::store::Store::open(&data).unwrap();
    st.assign_groups(&["g".to_string()]).unwrap();
    drop(st);
    let state = p2pd::server::ServerState::load(p2pd::server::ServeOptions::new(&data)).unwrap();
    Server {
        key: SharedKey::load(&key_path(&data)).unwrap(),
        router: p2pd::server::router(Arc::new(state)),
        _dir: dir,
    }
}

/// A request, signed with `key` unless `None`.
fn request(method: &str, path: &str, body: &[u8], key: Option<&SharedKey>) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json");
    for (name, value) in key.map(|k| k.sign(method, path, body)).unwrap_or_default() {
        b = b.header(name, value);
    }
    b.body(Body::from(body.to_vec())).unwrap()
}

/// Sends `req`; returns the status and the JSON body (Null if none).
async fn send(s: &Server, req: Request<Body>) -> (StatusCode, serde_json::Value) {
    let resp = s.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, v)
}

fn enroll_body(group: &str, hostname: &str) -> Vec<u8> {
    serde_json::to_vec(&EnrollRequest {
        peer_port: None,
        device_id: None,
        hostname: hostname.into(),
        addrs: vec![AddrInfo {
            ip: "10.0.0.5".parse().unwrap(),
            prefix: 24,
        }],
        version: p2pd::VERSION.into(),
        group: group.into(),
        peer_url: "http://10.0.0.5:7651".into(),
        device_secret: None,
        csr: None,
    })
    .unwrap()
}

#[tokio::test]
async fn a_signed_status_answers_and_an_unsigned_one_is_refused() {
    let s = server();
    let (code, v) = send(&s, request("GET", "/v1/status", b"", Some(&s.key))).await;
    assert_eq!(code, StatusCode::OK, "{v}");
    assert_eq!(v["key_fingerprint"], s.key.fingerprint());
    let (code, v) = send(&s, request("GET", "/v1/status", b"", None)).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"]["code"], "unsigned", "{v}");
}

#[tokio::test]
async fn another_key_is_key_mismatch_naming_the_current_key() {
    let s = server();
    let other = SharedKey::generate().unwrap();
    let (code, v) = send(&s, request("GET", "/v1/status", b"", Some(&other))).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"]["code"], "key_mismatch", "{v}");
    // Typed, for clients: no need to parse the message.
    assert_eq!(v["error"]["current_key"], s.key.fingerprint(), "{v}");
    // Only key_mismatch carries it.
    let (_, v) = send(&s, request("GET", "/v1/status", b"", None)).await;
    assert!(v["error"].get("current_key").is_none(), "{v}");
}

#[tokio::test]
async fn a_replayed_request_is_refused() {
    let s = server();
    let signed = s.key.sign("GET", "/v1/status", b"");
    let with = |headers: &[(&str, String)]| {
        let mut b = Request::builder().method("GET").uri("/v1/status");
        for (n, v) in headers {
            b = b.header(*n, v);
        }
        b.body(Body::empty()).unwrap()
    };
    let (code, _) = send(&s, with(&signed)).await;
    assert_eq!(code, StatusCode::OK);
    let (code, v) = send(&s, with(&signed)).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"]["code"], "replay", "{v}");
}

#[tokio::test]
async fn enrollment_checks_the_group_and_hostile_fields() {
    let s = server();
    let body = enroll_body("g", "pc-1");
    let (code, v) = send(&s, request("POST", "/v1/enroll", &body, Some(&s.key))).await;
    assert_eq!(code, StatusCode::OK, "{v}");
    assert!(
        v["device_id"].as_str().is_some_and(|d| !d.is_empty()),
        "{v}"
    );

    let body = enroll_body("not-assigned", "pc-2");
    let (code, v) = send(&s, request("POST", "/v1/enroll", &body, Some(&s.key))).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "group_not_assigned", "{v}");

    let body = enroll_body("g", &"x".repeat(10_000));
    let (code, v) = send(&s, request("POST", "/v1/enroll", &body, Some(&s.key))).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["code"], "bad_request", "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("hostname"),
        "{v}"
    );
}

#[tokio::test]
async fn an_unknown_device_is_not_enrolled_and_a_huge_body_is_refused() {
    let s = server();
    let hb = serde_json::json!({"device_id": uuid::Uuid::new_v4().to_string(), "progress": []});
    let body = serde_json::to_vec(&hb).unwrap();
    let (code, v) = send(&s, request("POST", "/v1/heartbeat", &body, Some(&s.key))).await;
    assert_eq!(code, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(v["error"]["code"], "not_enrolled", "{v}");

    let big = vec![b' '; p2pd::wire::http::MAX_BODY + 1];
    let (code, v) = send(&s, request("POST", "/v1/heartbeat", &big, Some(&s.key))).await;
    assert_eq!(code, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(v["error"]["code"], "payload_too_large", "{v}");
}

//! Issue 14 (fleet scale): a running serve keeps the fleet's configuration
//! in memory and must still see admin CLI changes — topology, settings,
//! groups — within 1 s, without a restart.

use std::time::{Duration, Instant};

use crate::common::*;
use axum::http::Method;
use p2pd::http::SignedClient;
use p2pd::proto::{AddrInfo, EnrollRequest, EnrollResponse, HeartbeatRequest, HeartbeatResponse};

fn enroll_req(device_id: Option<String>, ip: &str, group: &str) -> EnrollRequest {
    EnrollRequest {
        device_id,
        hostname: "fleet-test".into(),
        addrs: vec![AddrInfo {
            ip: ip.parse().unwrap(),
            prefix: 24,
        }],
        version: p2pd::VERSION.into(),
        group: group.into(),
        peer_url: format!("http://{ip}:1"),
        csr: None,
    }
}

/// Polls `f` every 20 ms until it returns true; the time it took, or None
/// after `limit`.
async fn time_until(limit: Duration, mut f: impl AsyncFnMut() -> bool) -> Option<Duration> {
    let t = Instant::now();
    while t.elapsed() < limit {
        if f().await {
            return Some(t.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_changes_reach_a_running_serve_within_one_second() {
    let mut net = Net::new(&[("A", "", "default", "127.1.5.0/24", "")]);
    net.start_serve();
    let key = p2pd::key::SharedKey::load(&p2pd::key::key_path(&net.server_dir)).unwrap();
    let trust = p2pd::tls::Trust::load(&net.server_dir.join("ca.pem")).unwrap();
    let cert = std::sync::Arc::new(p2pd::tls::DeviceCert::default());
    let tls = p2pd::http::ClientTls {
        trust: trust.clone(),
        cert: cert.clone(),
    };
    let client =
        SignedClient::with_tls(key, Some("127.1.6.10".parse().unwrap()), Some(tls)).unwrap();
    let base = net.url();
    let t = Duration::from_secs(5);
    let enroll = |group: &'static str, id: Option<String>| {
        let (client, url) = (client.clone(), format!("{base}/v1/enroll"));
        async move {
            client
                .json::<EnrollResponse>(Method::POST, &url, &enroll_req(id, "127.1.6.10", group), t)
                .await
        }
    };

    // Before: 127.1.6.10 is in no office, heartbeats every second, group h
    // is not assigned.
    // The first enrollment sends a CSR, as an agent does: the heartbeats
    // below need the device certificate.
    let pending = p2pd::tls::DeviceCert::request().unwrap();
    let mut req = enroll_req(None, "127.1.6.10", "g");
    req.csr = Some(pending.csr_pem.clone());
    let first: EnrollResponse = client
        .json(Method::POST, &format!("{base}/v1/enroll"), &req, t)
        .await
        .expect("enroll");
    cert.install(
        &pending,
        first.certificate.as_deref().expect("a device certificate"),
        &trust,
        &first.device_id,
    )
    .unwrap();
    client.renew_tls().unwrap();
    assert_eq!(first.office, None);
    assert_eq!(first.heartbeat_secs, 1);
    let refused = enroll("h", None).await.unwrap_err();
    assert_eq!(
        refused.code(),
        Some(p2pd::proto::ErrorCode::GroupNotAssigned),
        "{refused}"
    );
    let id = first.device_id.clone();

    // Topology: a new office B holds 127.1.6.0/24.
    let csv = net.root.path().join("topology2.csv");
    std::fs::write(
        &csv,
        "office,parent,type,ranges,wan_kbps,description\n\
         A,,default,127.1.5.0/24,,\n\
         B,A,default,127.1.6.0/24,,\n",
    )
    .unwrap();
    ok(
        &net.server_dir,
        &["topology", "import", csv.to_str().unwrap()],
    );
    let took = time_until(Duration::from_secs(3), async || {
        enroll("g", Some(id.clone()))
            .await
            .is_ok_and(|r| r.office.as_deref() == Some("B"))
    })
    .await;
    assert!(
        took.is_some_and(|d| d < Duration::from_secs(1)),
        "topology change seen after {took:?}"
    );

    // Settings: the heartbeat interval the server hands out.
    ok(&net.server_dir, &["settings", "set", "heartbeat_secs", "7"]);
    let hb_url = format!("{base}/v1/heartbeat");
    let took = time_until(Duration::from_secs(3), async || {
        let req = HeartbeatRequest {
            device_id: id.clone(),
            progress: Vec::new(),
            clock_offset: None,
            stuck: Vec::new(),
        };
        client
            .json::<HeartbeatResponse>(Method::POST, &hb_url, &req, t)
            .await
            .is_ok_and(|r| r.heartbeat_secs == 7)
    })
    .await;
    assert!(
        took.is_some_and(|d| d < Duration::from_secs(1)),
        "settings change seen after {took:?}"
    );

    // Groups: h becomes assigned.
    ok(&net.server_dir, &["groups", "assign", "h"]);
    let took = time_until(Duration::from_secs(3), async || {
        enroll("h", None).await.is_ok()
    })
    .await;
    assert!(
        took.is_some_and(|d| d < Duration::from_secs(1)),
        "group assignment seen after {took:?}"
    );
    net.stop_serve();
}

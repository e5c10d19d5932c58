//! Design note `fleet-scale` (fleet scale): a running serve keeps the fleet's configuration
//! in memory and must still see admin CLI changes — topology, settings,
//! groups — within 1 s, without a restart.

use std::time::{Duration, Instant};

use crate::common::*;
use axum::http::Method;
use p2pd::wire::http::SignedClient;
use p2pd::wire::proto::{
    AddrInfo, EnrollRequest, EnrollResponse, HeartbeatRequest, HeartbeatResponse,
};

fn enroll_req(device_id: Option<String>, ip: &str, group: &str) -> EnrollRequest {
    EnrollRequest {
        peer_port: None,
        device_id,
        hostname: "fleet-test".into(),
        addrs: vec![AddrInfo {
            ip: ip.parse().unwrap(),
            prefix: 24,
        }],
        version: p2pd::VERSION.into(),
        group: group.into(),
        peer_url: format!("http://{ip}:1"),
        device_secret: None,
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
    let key =
        p2pd::trust::key::SharedKey::load(&p2pd::trust::key::key_path(&net.server_dir)).unwrap();
    let trust = p2pd::trust::tls::Trust::load(&net.server_dir.join("ca.pem")).unwrap();
    let cert = std::sync::Arc::new(p2pd::trust::tls::DeviceCert::default());
    let tls = p2pd::wire::http::ClientTls {
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
    let pending = p2pd::trust::tls::DeviceCert::request().unwrap();
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
        Some(p2pd::wire::proto::ErrorCode::GroupNotAssigned),
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
    let beat = async || {
        let req = HeartbeatRequest {
            addrs: Vec::new(),
            peer_port: None,
            peer_url: None,
            device_id: id.clone(),
            progress: Vec::new(),
            clock_offset: None,
            stuck: Vec::new(),
        };
        client
            .json::<HeartbeatResponse>(Method::POST, &hb_url, &req, t)
            .await
    };
    let took = time_until(Duration::from_secs(3), async || {
        beat().await.is_ok_and(|r| r.heartbeat_secs == 7)
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

    // Devices: the device is retired while it heartbeats (serve answered
    // it from memory until now); its next heartbeats are refused.
    // Once the changes above have all reached serve (its snapshot is
    // rebuilt at most every 200 ms), a heartbeat puts the device in the
    // directory of the snapshot that stays.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(beat().await.is_ok());
    assert!(beat().await.is_ok());
    ok(&net.server_dir, &["devices", "retire", &id, "--force"]);
    let took = time_until(Duration::from_secs(3), async || {
        beat()
            .await
            .is_err_and(|e| e.code() == Some(p2pd::wire::proto::ErrorCode::NotEnrolled))
    })
    .await;
    assert!(
        took.is_some_and(|d| d < Duration::from_secs(1)),
        "retired device still answered after {took:?}"
    );
    net.stop_serve();
}

/// Starts serve for simulated devices that share one client: plain HTTP
/// (signed requests, no device certificates) and claimed addresses
/// trusted, as behind NAT. Returns the shared key and serve's base URL.
fn start_plain_behind_nat(net: &mut Net) -> (p2pd::trust::key::SharedKey, String) {
    ok(
        &net.server_dir,
        &["settings", "set", "trust_claimed_addresses", "on"],
    );
    net.serve_args.push("--insecure-plain-http".into());
    net.start_serve();
    let key =
        p2pd::trust::key::SharedKey::load(&p2pd::trust::key::key_path(&net.server_dir)).unwrap();
    (key, format!("http://127.0.0.1:{}", net.port))
}

/// Design note `fleet-scale`: `topology import` of a 2,000-office sheet while devices
/// heartbeat and ask for sources fails no request, and the import itself
/// succeeds (it waits its turn for the database instead of failing with
/// "database is locked").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_during_load_fails_no_request() {
    let mut net = Net::new(&[("A", "", "default", "127.1.7.0/24", "")]);
    let (content, _) = net.publish("pkg", 256 << 10, 14);
    // 40 simulated devices on one client. What is under test is the
    // database during the import, not TLS.
    let (key, base) = start_plain_behind_nat(&mut net);
    let client = SignedClient::new(key, None).unwrap();
    let t = Duration::from_secs(10);
    let mut ids = Vec::new();
    for i in 0..40 {
        let ip = format!("127.1.7.{}", 10 + i);
        let r: EnrollResponse = client
            .json(
                Method::POST,
                &format!("{base}/v1/enroll"),
                &enroll_req(None, &ip, "g"),
                t,
            )
            .await
            .expect("enroll");
        assert_eq!(r.office.as_deref(), Some("A"));
        ids.push(r.device_id);
    }

    // The sheet: A as before, plus 2,000 offices elsewhere.
    let mut csv =
        String::from("office,parent,type,ranges,wan_kbps,description\nA,,default,127.1.7.0/24,,\n");
    for n in 0..2000 {
        csv.push_str(&format!(
            "Branch {n},A,default,10.{}.{}.0/24,,\n",
            n / 256,
            n % 256
        ));
    }
    let sheet = net.root.path().join("big.csv");
    std::fs::write(&sheet, csv).unwrap();

    // Load: 4 loops, each a heartbeat and every 4th time /sources, until
    // the import is done and 1 s more; bounded at 60 s in any case.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut loops = tokio::task::JoinSet::new();
    for w in 0..4 {
        let (client, base, ids, content, done) = (
            client.clone(),
            base.clone(),
            ids.clone(),
            content.clone(),
            done.clone(),
        );
        loops.spawn(async move {
            let (mut sent, mut failed, mut worst) = (0u32, Vec::new(), Duration::ZERO);
            let start = Instant::now();
            let mut k = w;
            while !done.load(std::sync::atomic::Ordering::Relaxed)
                && start.elapsed() < Duration::from_secs(60)
            {
                let id = ids[k % ids.len()].clone();
                let t0 = Instant::now();
                let r = if k % 4 == 0 {
                    client
                        .json::<p2pd::wire::proto::SourcesResponse>(
                            Method::POST,
                            &format!("{base}/v1/contents/{content}/sources"),
                            &p2pd::wire::proto::SourcesRequest {
                                unreachable: Vec::new(),
                                device_id: id,
                                suspect: None,
                            },
                            t,
                        )
                        .await
                        .map(|_| ())
                } else {
                    let req = HeartbeatRequest {
                        addrs: Vec::new(),
                        peer_port: None,
                        peer_url: None,
                        device_id: id,
                        progress: vec![p2pd::wire::proto::Progress {
                            content_id: content.parse().unwrap(),
                            pieces: (k % 2) as u32,
                            done: false,
                            done_at_ms: None,
                            bytes: k as u64,
                            blocked: false,
                        }],
                        clock_offset: Some(0),
                        stuck: Vec::new(),
                    };
                    client
                        .json::<HeartbeatResponse>(
                            Method::POST,
                            &format!("{base}/v1/heartbeat"),
                            &req,
                            t,
                        )
                        .await
                        .map(|_| ())
                };
                worst = worst.max(t0.elapsed());
                sent += 1;
                if let Err(e) = r {
                    failed.push(e.to_string());
                }
                k += 4;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            (sent, failed, worst)
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (dir, path) = (net.server_dir.clone(), sheet.clone());
    let imported = tokio::task::spawn_blocking(move || {
        ok(&dir, &["topology", "import", path.to_str().unwrap()])
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut sent, mut failed, mut worst) = (0, Vec::new(), Duration::ZERO);
    while let Some(r) = loops.join_next().await {
        let (s, f, w) = r.unwrap();
        sent += s;
        failed.extend(f);
        worst = worst.max(w);
    }
    assert!(imported.is_ok(), "the import failed");
    assert!(sent > 40, "only {sent} requests were sent");
    assert!(
        failed.is_empty(),
        "{} of {sent} requests failed during the import, first: {}",
        failed.len(),
        failed[0]
    );
    // Every request answered within its timeout; the worst is printed for
    // the record (the bench measures it against the 250 ms target).
    eprintln!("{sent} requests during the import, the slowest took {worst:?}");
    let offices = ok(&net.server_dir, &["topology", "show", "--json"]);
    assert!(offices.contains("Branch 1999"), "import did not land");
    net.stop_serve();
}

/// Design note `fleet-scale`: device requests carry a per-device counter. A replayed
/// heartbeat is refused with `replay` naming the device, the device keeps
/// working, a restarted agent (a new client, its counter starting from its
/// clock) is not locked out, and a device cannot sign another's requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_heartbeat_is_refused_and_the_device_keeps_working() {
    let mut net = Net::new(&[("A", "", "default", "127.1.8.0/24", "")]);
    let (key, base) = start_plain_behind_nat(&mut net);
    let client = SignedClient::new(key.clone(), None).unwrap();
    let t = Duration::from_secs(10);
    let mut ids = Vec::new();
    for ip in ["127.1.8.10", "127.1.8.11"] {
        let r: EnrollResponse = client
            .json(
                Method::POST,
                &format!("{base}/v1/enroll"),
                &enroll_req(None, ip, "g"),
                t,
            )
            .await
            .expect("enroll");
        ids.push(r.device_id);
    }
    let beat = |id: &str| HeartbeatRequest {
        addrs: Vec::new(),
        peer_port: None,
        peer_url: None,
        device_id: id.to_string(),
        progress: Vec::new(),
        clock_offset: Some(0),
        stuck: Vec::new(),
    };
    let url = format!("{base}/v1/heartbeat");
    client.set_device(&ids[0]);
    let body = serde_json::to_vec(&beat(&ids[0])).unwrap();
    let first = client.request(Method::POST, &url, body);
    let replayed = first.try_clone().unwrap();
    let r = first.send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = replayed.send().await.unwrap();
    assert_eq!(r.status(), 401);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "replay", "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("replayed request") && msg.contains(&ids[0]),
        "{msg}"
    );
    // The device keeps working.
    let _: HeartbeatResponse = client
        .json(Method::POST, &url, &beat(&ids[0]), t)
        .await
        .expect("a fresh heartbeat after the replay");
    // An agent restart: a new client for the same device.
    let restarted = SignedClient::new(key, None).unwrap();
    restarted.set_device(&ids[0]);
    for _ in 0..3 {
        let _: HeartbeatResponse = restarted
            .json(Method::POST, &url, &beat(&ids[0]), t)
            .await
            .expect("the restarted agent is not locked out");
    }
    // Signed as one device, for another: refused.
    let e = restarted
        .json::<HeartbeatResponse>(Method::POST, &url, &beat(&ids[1]), t)
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        Some(p2pd::wire::proto::ErrorCode::IdentityMismatch),
        "{e}"
    );
    assert!(e.to_string().contains("acts only for itself"), "{e}");
    net.stop_serve();
}

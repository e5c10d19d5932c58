//! Design note `transport-trust` findings, one test each: a device holding the shared key talks
//! to a real `serve` directly (signed requests, no agent), and nothing it
//! sends may break or fool the server.

use std::time::{Duration, Instant};

use crate::common::*;
use p2pd::trust::key::SharedKey;

/// The made-up devices enrolled so far: a client holding each one's
/// device certificate, by device id. Every request naming a device goes
/// through its client, as an agent's would.
static DEVICES: std::sync::Mutex<Vec<(String, reqwest::blocking::Client)>> =
    std::sync::Mutex::new(Vec::new());

/// The client for a request: the named device's, else one without a
/// certificate (enrollment) connecting from `local`.
fn client_for(
    net: &Net,
    device: Option<&str>,
    local: Option<std::net::IpAddr>,
) -> reqwest::blocking::Client {
    if let Some(d) = device
        && let Some((_, c)) = DEVICES.lock().unwrap().iter().find(|(id, _)| id == d)
    {
        return c.clone();
    }
    tls_client(&net.server_dir, local, None)
}

/// The device a request names: `device=` in the path or the body's `device_id`.
fn named_device(path: &str, body: &[u8]) -> Option<String> {
    if let Some(q) = path.split_once('?').map(|x| x.1)
        && let Some(d) = q.split('&').find_map(|kv| kv.strip_prefix("device="))
    {
        return Some(d.to_string());
    }
    serde_json::from_slice::<serde_json::Value>(body).ok()?["device_id"]
        .as_str()
        .map(str::to_string)
}

/// A signed GET to any URL (an agent's peer server: as the agent `from`); returns (status, body).
fn signed_get(net: &Net, base: &str, path: &str) -> (u16, String) {
    let key = SharedKey::load(&net.server_dir.join("shared.key")).unwrap();
    let mut rb = peer_client(net).get(format!("{base}{path}"));
    for (n, v) in key.sign("GET", path, b"") {
        rb = rb.header(n, v);
    }
    let r = rb.timeout(Duration::from_secs(10)).send().unwrap();
    (r.status().as_u16(), r.text().unwrap_or_default())
}

/// A signed request to serve at `path`; returns (status, body).
fn call(net: &Net, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    try_call(net, method, path, body).unwrap()
}

fn try_call(net: &Net, method: &str, path: &str, body: &[u8]) -> reqwest::Result<(u16, String)> {
    // Enrollment: with a CSR, from the claimed address (loopback ones).
    let mut body = body.to_vec();
    let mut local = None;
    let mut pending_key = None;
    if path == "/v1/enroll"
        && let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&body)
        && v.is_object()
    {
        local = v["addrs"][0]["ip"]
            .as_str()
            .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
            .filter(|ip| ip.is_loopback());
        let (k, csr) = key_and_csr();
        v["csr"] = csr.into();
        pending_key = Some(k);
        body = serde_json::to_vec(&v).unwrap();
    }
    let client = client_for(net, named_device(path, &body).as_deref(), local);
    let (code, text) = signed_send(net, &client, method, path, body)?;
    if let (200, Some(k)) = (code, pending_key)
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
        && let (Some(id), Some(cert)) = (v["device_id"].as_str(), v["certificate"].as_str())
    {
        let c = tls_client(&net.server_dir, local, Some((cert, &k)));
        DEVICES.lock().unwrap().push((id.to_string(), c));
    }
    Ok((code, text))
}

/// A client holding a device certificate of its own, for talking to an
/// agent's peer server (which admits only devices of the CA).
fn peer_client(net: &Net) -> reqwest::blocking::Client {
    let id = enroll(net, "prober", "127.1.1.250");
    client_for(net, Some(&id), None)
}

fn json(net: &Net, path: &str, v: serde_json::Value) -> (u16, String) {
    call(net, "POST", path, &serde_json::to_vec(&v).unwrap())
}

/// Enrolls a made-up device at `ip`; returns its id.
fn enroll(net: &Net, host: &str, ip: &str) -> String {
    let (code, body) = json(
        net,
        "/v1/enroll",
        serde_json::json!({
            "device_id": null, "hostname": host,
            "addrs": [{"ip": ip, "prefix": 24}],
            "version": env!("CARGO_PKG_VERSION"), "group": "g",
            "peer_url": format!("http://{ip}:7651"),
        }),
    );
    assert_eq!(code, 200, "{body}");
    serde_json::from_str::<serde_json::Value>(&body).unwrap()["device_id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn devices(net: &Net) -> Vec<serde_json::Value> {
    serde_json::from_str(&ok(&net.server_dir, &["devices", "list", "--json"])).unwrap()
}

fn device(net: &Net, id: &str) -> serde_json::Value {
    devices(net)
        .into_iter()
        .find(|d| d["device_id"] == id)
        .unwrap()
}

fn report(net: &Net, from: &str, v: serde_json::Value) -> (u16, String) {
    let mut v = v;
    v["device_id"] = from.into();
    for k in ["transfers", "bad", "uploads"] {
        if v.get(k).is_none() {
            v[k] = serde_json::json!([]);
        }
    }
    json(net, "/v1/report", v)
}

#[test]
fn a_device_that_reports_2_pow_63_bytes_breaks_nothing() {
    let mut net = Net::new(&[("Central", "", "default", "127.1.1.0/24", "")]);
    net.start_serve();
    let (cid, _) = net.publish("app", MIB, 1);
    let a = enroll(&net, "a", "127.1.1.10");
    let b = enroll(&net, "b", "127.1.1.11");
    let max = i64::MAX as u64;
    for _ in 0..2 {
        // Out-of-bounds values are refused outright...
        let (code, body) = report(
            &net,
            &a,
            serde_json::json!({"uploads": [{"content_id": cid, "pieces": 1, "bytes": max}]}),
        );
        assert_eq!(code, 400, "{body}");
        assert!(body.contains("uploads.bytes"), "{body}");
        let (code, _) = report(
            &net,
            &b,
            serde_json::json!({"transfers": [{"content_id": cid, "tier": "lan",
                "source_device": a, "bytes": max, "pieces": 1, "ok": true}]}),
        );
        assert_eq!(code, 400);
    }
    // ...and the largest accepted ones, many times over, only saturate.
    let big = p2pd::wire::proto::limits::MAX_REPORT_BYTES;
    for _ in 0..3 {
        let uploads: Vec<_> = (0..1000)
            .map(|_| serde_json::json!({"content_id": cid, "pieces": u32::MAX, "bytes": big}))
            .collect();
        let transfers: Vec<_> = (0..1000)
            .map(|_| {
                serde_json::json!({"content_id": cid, "tier": "lan", "source_device": a,
                "bytes": big, "pieces": u32::MAX, "ok": true})
            })
            .collect();
        let (code, body) = report(&net, &a, serde_json::json!({ "uploads": uploads }));
        assert_eq!(code, 204, "{body}");
        let (code, body) = report(&net, &b, serde_json::json!({ "transfers": transfers }));
        assert_eq!(code, 204, "{body}");
    }
    // Every reader of the device rows still works.
    let (code, body) = json(
        &net,
        &format!("/v1/contents/{cid}/sources"),
        serde_json::json!({ "device_id": b }),
    );
    assert_eq!(code, 200, "{body}");
    assert!(device(&net, &a)["score"].as_f64().unwrap().is_finite());
    ok(&net.server_dir, &["report"]);
    ok(&net.server_dir, &["report", "--json"]);
    let (code, _, err) = p2pd(&net.server_dir, &["health"]);
    assert!(code == 0 || !err.contains("Invalid column type"), "{err}");
    assert!(!err.contains("REAL"), "{err}");
}

#[test]
fn a_report_naming_innocent_devices_bans_no_one_and_bans_can_be_lifted() {
    let mut net = Net::new(&[("Central", "", "default", "127.1.1.0/24", "")]);
    net.start_serve();
    let (cid, _) = net.publish("app", MIB, 2);
    let liar = enroll(&net, "liar", "127.1.1.10");
    let innocent: Vec<String> = (0..3)
        .map(|i| enroll(&net, &format!("pc{i}"), &format!("127.1.1.{}", 20 + i)))
        .collect();
    let bad: Vec<_> = innocent
        .iter()
        .map(|d| serde_json::json!({"content_id": cid, "source_device": d, "piece": 0}))
        .collect();
    for _ in 0..3 {
        let (code, body) = report(&net, &liar, serde_json::json!({ "bad": bad }));
        assert_eq!(code, 204, "{body}");
    }
    for d in &innocent {
        assert_ne!(device(&net, d)["state"], "banned", "one accuser banned {d}");
    }
    // A device cannot accuse itself into a ban either.
    let (code, _) = report(
        &net,
        &innocent[0],
        serde_json::json!({"bad": [{"content_id": cid, "source_device": innocent[0], "piece": 0}]}),
    );
    assert_eq!(code, 204);
    assert_ne!(device(&net, &innocent[0])["state"], "banned");
    // A second, distinct witness is evidence: the sender is banned (once
    // the server's own re-check of the piece could not be made: nothing
    // listens at the made-up peer URL).
    let (code, _) = report(
        &net,
        &innocent[1],
        serde_json::json!({"bad": [{"content_id": cid, "source_device": innocent[0], "piece": 1}]}),
    );
    assert_eq!(code, 204);
    eventually("the sender banned", Duration::from_secs(10), || {
        device(&net, &innocent[0])["state"] == "banned"
    });
    let out = ok(&net.server_dir, &["devices", "unban", &innocent[0]]);
    assert!(out.contains("no longer banned"), "{out}");
    assert_ne!(device(&net, &innocent[0])["state"], "banned");
}

#[test]
fn a_device_claiming_4_billion_uploads_does_not_lead() {
    let mut net = Net::new(&[("Central", "", "default", "127.1.1.0/24", "")]);
    net.start_serve();
    let (cid, _) = net.publish("app", MIB, 3);
    let boaster = enroll(&net, "boaster", "127.1.1.10");
    let honest = enroll(&net, "honest", "127.1.1.11");
    let receiver = enroll(&net, "receiver", "127.1.1.12");
    let (code, body) = report(
        &net,
        &boaster,
        serde_json::json!({"uploads": [{"content_id": cid, "pieces": 4_000_000_000u32,
            "bytes": 1u64 << 39}]}),
    );
    assert_eq!(code, 204, "{body}");
    // The honest device served 3 pieces that the receiver confirms.
    report(
        &net,
        &honest,
        serde_json::json!({"uploads": [{"content_id": cid, "pieces": 3, "bytes": 3 * MIB}]}),
    );
    report(
        &net,
        &receiver,
        serde_json::json!({"transfers": [{"content_id": cid, "tier": "lan",
            "source_device": honest, "bytes": 3 * MIB, "pieces": 3, "ok": true}]}),
    );
    let s_boaster = device(&net, &boaster)["score"].as_f64().unwrap();
    let s_honest = device(&net, &honest)["score"].as_f64().unwrap();
    assert!(
        s_honest > s_boaster,
        "claimed uploads outranked confirmed ones: {s_boaster} vs {s_honest}"
    );
    // The scheduler picks the leader by the same score.
    let (code, body) = json(
        &net,
        &format!("/v1/contents/{cid}/sources"),
        serde_json::json!({ "device_id": receiver }),
    );
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_ne!(v["leader"], boaster.as_str(), "{body}");
}

#[test]
fn enrollment_refuses_hostile_fields() {
    let mut net = Net::new(&[]);
    net.start_serve();
    let base = serde_json::json!({
        "device_id": null, "hostname": "pc", "addrs": [{"ip": "127.1.1.10", "prefix": 24}],
        "version": env!("CARGO_PKG_VERSION"), "group": "g", "peer_url": "http://127.1.1.10:7651",
    });
    let cases = [
        ("device_id", serde_json::json!("../../etc/passwd")),
        ("device_id", serde_json::json!("x".repeat(MIB))),
        (
            "addrs",
            serde_json::json!([{"ip": "127.1.1.10", "prefix": 200}]),
        ),
        ("peer_url", serde_json::json!("file:///etc/passwd")),
        ("hostname", serde_json::json!("pc\nEVIL line")),
    ];
    for (field, value) in cases {
        let mut v = base.clone();
        v[field] = value;
        let r = try_call(&net, "POST", "/v1/enroll", &serde_json::to_vec(&v).unwrap());
        let (code, body) = match r {
            Ok(x) => x,
            // The 1 MiB body: serve answers 413 from the declared length
            // and closes; over TLS the client may still be writing then.
            Err(e) if e.is_request() => (413, e.to_string()),
            Err(e) => panic!("{field}: {e}"),
        };
        assert!(
            code == 400 || code == 413,
            "{field} accepted: {code} {body}"
        );
    }
    let out = ok(&net.server_dir, &["devices", "list", "--json"]);
    assert_eq!(out.trim(), "[]", "a hostile enrollment was stored: {out}");
}

#[test]
fn a_3_9_mib_heartbeat_is_refused_quickly() {
    let mut net = Net::new(&[("Central", "", "default", "127.1.1.0/24", "")]);
    net.start_serve();
    let a = enroll(&net, "a", "127.1.1.10");
    let progress: Vec<_> = (0..39_000)
        .map(|i| serde_json::json!({"content_id": format!("{i:064x}"), "pieces": 1, "done": false}))
        .collect();
    let body =
        serde_json::to_vec(&serde_json::json!({"device_id": a, "progress": progress})).unwrap();
    assert!(body.len() > 3 * MIB, "{}", body.len());
    let t = Instant::now();
    // Refused from its Content-Length: either the 413 arrives, or the
    // server closes the connection while the client is still sending.
    match try_call(&net, "POST", "/v1/heartbeat", &body) {
        Ok((code, text)) => {
            assert_eq!(code, 413, "{text}");
            assert!(text.contains("payload_too_large"), "{text}");
        }
        Err(e) => assert!(!e.is_timeout(), "{e}"),
    }
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    // The server still answers.
    let (code, _) = json(
        &net,
        "/v1/heartbeat",
        serde_json::json!({"device_id": a, "progress": []}),
    );
    assert_eq!(code, 200);
}

#[test]
fn a_signed_peer_request_is_not_accepted_by_other_agents() {
    let mut net = Net::new(&[("Central", "", "default", "127.1.1.0/24", "")]);
    net.start_serve();
    let (cid, _) = net.publish("app", MIB, 4);
    let a = net.add_agent("a", "127.1.1.10", "g", &[]);
    let b = net.add_agent("b", "127.1.1.11", "g", &[]);
    assert!(net.wait_delivered(&[a, b], "app.bin", Duration::from_secs(60)));
    let id_a = net.agents[a].device_id().unwrap();
    let id_b = net.agents[b].device_id().unwrap();
    let base_a = format!("https://{}", net.agents[a].addr());
    // Addressed to A: A answers.
    let (code, body) = signed_get(&net, &base_a, &format!("/v1/pieces/{cid}/have?peer={id_a}"));
    assert_eq!(code, 200, "{body}");
    // A request signed for B (or for no one), replayed to A: refused.
    let (code, body) = signed_get(&net, &base_a, &format!("/v1/pieces/{cid}/have?peer={id_b}"));
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("is for device"), "{body}");
    // A device cannot ask in another device's name: its certificate says
    // who it is.
    let path = format!("/v1/pieces/{cid}/0?device={id_b}&peer={id_a}");
    let (code, body) = signed_get(&net, &base_a, &path);
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("identity_mismatch"), "{body}");
    let (code, _) = signed_get(&net, &base_a, &format!("/v1/pieces/{cid}/have"));
    assert_eq!(code, 400);
}

fn vm_hwm_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// A signed GET to serve, reading the body in chunks; returns (status, bytes read).
fn gateway_get(net: &Net, path: &str, range: Option<&str>) -> (u16, Vec<u8>, u64) {
    use std::io::Read;
    let key = SharedKey::load(&net.server_dir.join("shared.key")).unwrap();
    let device = named_device(path, b"");
    let mut rb = client_for(net, device.as_deref(), None)
        .get(format!("https://127.0.0.1:{}{path}", net.port))
        .timeout(Duration::from_secs(120));
    for (n, v) in key.sign("GET", path, b"") {
        rb = rb.header(n, v);
    }
    if let Some(r) = range {
        rb = rb.header("range", r);
    }
    let mut r = rb.send().unwrap();
    let code = r.status().as_u16();
    let mut head = Vec::new();
    let mut total = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        if head.len() < 4096 {
            head.extend_from_slice(&buf[..n.min(4096 - head.len())]);
        }
        total += n as u64;
    }
    (code, head, total)
}

#[test]
fn the_storage_gateway_serves_only_targeted_devices_and_streams() {
    let mut net = Net::new(&[("Central", "", "default", "127.1.1.0/24", "")]);
    net.start_serve();
    let size = 80 * MIB;
    let (_, data) = net.publish("big", size, 5);
    // A package for group h only, which g's devices must not get.
    ok(&net.server_dir, &["groups", "assign", "h"]);
    let only_h = net.storage.join("onlyh/1.0/onlyh.bin");
    std::fs::create_dir_all(only_h.parent().unwrap()).unwrap();
    std::fs::write(&only_h, b"for h").unwrap();
    ok(&net.server_dir, &["publish", "onlyh", "--groups", "h"]);
    let dev = enroll(&net, "a", "127.1.1.10");
    // serve picks up `groups assign h` within a second (its fleet snapshot).
    let (mut code, mut body) = (0, String::new());
    eventually(
        "group h is assigned in serve",
        Duration::from_secs(3),
        || {
            (code, body) = json(
                &net,
                "/v1/enroll",
                serde_json::json!({
                    "device_id": null, "hostname": "other", "addrs": [{"ip": "127.1.1.11", "prefix": 24}],
                    "version": env!("CARGO_PKG_VERSION"), "group": "h",
                    "peer_url": "http://127.1.1.11:7651",
                }),
            );
            code == 200
        },
    );
    let other: serde_json::Value = serde_json::from_str(&body).unwrap();
    let other = other["device_id"].as_str().unwrap();
    let path = "/v1/storage/big/1.0/big.bin";
    // Not enrolled (so no device certificate), or enrolled in a group the
    // content does not target: nothing.
    let nobody = uuid::Uuid::new_v4().to_string();
    for (who, want) in [("nobody", 403), (nobody.as_str(), 403)] {
        let (code, _, n) = gateway_get(&net, &format!("{path}?device={who}"), None);
        assert_eq!(code, want, "device {who} got {n} bytes");
    }
    let h_path = "/v1/storage/onlyh/1.0/onlyh.bin";
    let (code, _, n) = gateway_get(&net, &format!("{h_path}?device={dev}"), None);
    assert_eq!(
        code, 404,
        "a device of group g got {n} bytes of h's package"
    );
    let (code, head, _) = gateway_get(&net, &format!("{h_path}?device={other}"), None);
    assert_eq!((code, head.as_slice()), (206, &b"for h"[..]));
    // Range works.
    let (code, head, n) = gateway_get(
        &net,
        &format!("{path}?device={dev}"),
        Some("bytes=1000-1999"),
    );
    assert_eq!((code, n), (206, 1000));
    assert_eq!(head, &data[1000..2000]);
    // 20 parallel whole-file requests: serve's peak RSS grows by far less
    // than the file.
    let pid = net.serve.as_ref().unwrap().id();
    let before = vm_hwm_kib(pid);
    let url = format!("{path}?device={dev}");
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..20)
            .map(|_| s.spawn(|| gateway_get(&net, &url, None)))
            .collect();
        for h in hs {
            let (code, _, n) = h.join().unwrap();
            assert_eq!((code, n), (206, size as u64));
        }
    });
    let grew = vm_hwm_kib(pid).saturating_sub(before);
    assert!(
        grew < 64 * 1024,
        "serve's peak RSS grew by {grew} KiB serving 20 x {size} bytes"
    );
}

#[test]
fn csv_exports_neutralise_formulas_and_the_topology_export_reads_back() {
    let mut net = Net::new(&[]);
    let dir = net.server_dir.clone();
    let csv = "office,parent,type,ranges,wan_kbps,description\n\
               HQ,,default,10.0.0.0/16,,=cmd|' /C calc'!A0\n\
               Branch,HQ,default,10.1.0.0/16,,@SUM(1+1)\n\
               Shop,HQ,default,10.2.0.0/16,,'=already quoted\n";
    let f = net.root.path().join("t.csv");
    std::fs::write(&f, csv).unwrap();
    ok(&dir, &["topology", "import", f.to_str().unwrap()]);
    let first = ok(&dir, &["topology", "export"]);
    for line in first.lines() {
        for cell in line.split(',') {
            assert!(
                !cell.starts_with(['=', '+', '@']),
                "formula cell {cell:?} in {first}"
            );
        }
    }
    assert!(first.contains(",'=cmd|' /C calc'!A0"), "{first}");
    let g = net.root.path().join("again.csv");
    std::fs::write(&g, &first).unwrap();
    ok(&dir, &["topology", "import", g.to_str().unwrap()]);
    assert_eq!(ok(&dir, &["topology", "export"]), first);
    // What was imported is the original text, not the quoted one.
    let j = ok(&dir, &["topology", "show", "--json"]);
    assert!(
        j.contains("=cmd|' /C calc'!A0") && !j.contains("'=cmd"),
        "{j}"
    );
    // A hand-written `'=` reads like Excel's text marker: the text after it.
    assert!(
        j.contains("\"=already quoted") && !j.contains("'=already"),
        "{j}"
    );

    // Devices and licenses CSV: a hostname that is a formula, from a
    // device claiming an address it does not connect from.
    ok(&dir, &["settings", "set", "trust_claimed_addresses", "on"]);
    net.start_serve();
    let (code, body) = json(
        &net,
        "/v1/enroll",
        serde_json::json!({
            "device_id": null, "hostname": "=HYPERLINK(\"http://x\")",
            "addrs": [{"ip": "10.0.0.5", "prefix": 24}],
            "version": env!("CARGO_PKG_VERSION"), "group": "g",
            "peer_url": "http://10.0.0.5:7651",
        }),
    );
    assert_eq!(code, 200, "{body}");
    for args in [
        &["devices", "list", "--format", "csv"][..],
        &["licenses", "--format", "csv"][..],
    ] {
        let out = ok(&dir, args);
        assert!(out.contains("'=HYPERLINK"), "{args:?}: {out}");
        for line in out.lines() {
            assert!(!line.starts_with('='), "{args:?}: {out}");
            assert!(
                !line.contains(",=") && !line.contains(",\"="),
                "{args:?}: {out}"
            );
        }
    }
}

#[test]
fn the_old_key_is_refused_by_a_running_serve_within_5_s_of_key_regenerate() {
    let mut net = Net::new(&[]);
    net.start_serve();
    let old = SharedKey::load(&net.server_dir.join("shared.key")).unwrap();
    let status = |key: &SharedKey| {
        let mut rb = https_client(&net.server_dir)
            .get(format!("https://127.0.0.1:{}/v1/status", net.port))
            .timeout(Duration::from_secs(5));
        for (n, v) in key.sign("GET", "/v1/status", b"") {
            rb = rb.header(n, v);
        }
        let r = rb.send().unwrap();
        (r.status().as_u16(), r.text().unwrap_or_default())
    };
    assert_eq!(status(&old).0, 200);
    ok(&net.server_dir, &["key", "regenerate"]);
    let new = SharedKey::load(&net.server_dir.join("shared.key")).unwrap();
    let t = Instant::now();
    loop {
        let (code, body) = status(&old);
        if code == 401 {
            assert!(body.contains("key_mismatch"), "{body}");
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the retired key still works after {:?}",
            t.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, body) = status(&new);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains(&new.fingerprint()), "{body}");
    assert!(body.contains("\"key_version\":2"), "{body}");
}

#[test]
fn a_manifest_with_a_traversal_id_from_a_fake_server_writes_nothing_outside() {
    use axum::routing::post;
    let root = tempfile::tempdir().unwrap();
    let agent_dir = root.path().join("agent");
    std::fs::create_dir_all(&agent_dir).unwrap();
    // pieces/<id>/ with this id would be <root>/escaped.
    let evil = "../../escaped".to_string();
    let manifest = serde_json::json!({
        "id": evil, "name": "x", "version": "1", "file_name": "x.bin", "path": "x/1/x.bin",
        "size": 4, "piece_size": 1048576,
        "pieces": ["0".repeat(64)],
    });
    let hb = serde_json::json!({
        "heartbeat_secs": 1, "serve_peers": false,
        "contents": [{"id": evil, "name": "x", "version": "1", "size": 4}],
    });
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = fake_server(hb, manifest, asked.clone())
        .route(
            "/v1/report",
            post(|| async { axum::http::StatusCode::NO_CONTENT }),
        )
        .route(
            "/v1/contents/{id}/sources",
            post(|| async { axum::http::StatusCode::NOT_FOUND }),
        );
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    let key = root.path().join("k");
    SharedKey::generate().unwrap().save(&key).unwrap();
    let log = std::fs::File::create(root.path().join("agent.log")).unwrap();
    let mut child = std::process::Command::new(BIN)
        // Plain HTTP on purpose: this is about the id check, which holds
        // whatever the transport (tests/tls.rs: a fake server without the
        // CA gets nothing at all).
        .args(["agent", "--server", &format!("http://127.0.0.1:{port}")])
        .arg("--insecure-plain-http")
        .args(["--group", "g", "--listen", "127.0.0.1:0"])
        .arg("--key-file")
        .arg(&key)
        .arg("--data-dir")
        .arg(&agent_dir)
        .env("P2PD_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(4) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();
    let logged = std::fs::read_to_string(root.path().join("agent.log")).unwrap();
    assert!(
        !root.path().join("escaped").exists(),
        "the agent wrote outside its data dir: {logged}"
    );
    assert!(logged.contains("refused as unsafe"), "{logged}");
}

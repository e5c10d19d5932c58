//! Design note `key-holders`: every device holds the shared key, so a key holder is the
//! attacker these tests play. It must not be able to act as another device
//! (whatever place it names the victim in), stand in for the server, take
//! over another device's id, come back after the admin retired it, or
//! change another device's state with forged refusals.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::*;
use p2pd::trust::key::SharedKey;

/// An enrolled made-up device: its id, its secret and a client presenting
/// its certificate.
struct Device {
    id: String,
    secret: String,
    client: reqwest::blocking::Client,
    cert: String,
    key: String,
}

fn enroll_body(ip: &str, csr: &str, device_id: Option<&str>, group: &str) -> serde_json::Value {
    serde_json::json!({
        "device_id": device_id, "hostname": format!("pc-{ip}"),
        "addrs": [{"ip": ip, "prefix": 24}],
        "version": env!("CARGO_PKG_VERSION"), "group": group,
        "peer_url": format!("https://{ip}:7651"), "csr": csr,
    })
}

/// A signed request to serve through `client` with extra headers; returns
/// (status, body).
fn send(
    net: &Net,
    client: &reqwest::blocking::Client,
    method: &str,
    path: &str,
    body: &[u8],
    signer: Option<&str>,
) -> (u16, String) {
    send_to(net, &net.url(), client, method, path, body, signer)
}

fn send_to(
    net: &Net,
    base: &str,
    client: &reqwest::blocking::Client,
    method: &str,
    path: &str,
    body: &[u8],
    signer: Option<&str>,
) -> (u16, String) {
    let key = SharedKey::load(&net.server_dir.join("shared.key")).unwrap();
    let headers = match signer {
        Some(d) => {
            static COUNTER: AtomicUsize = AtomicUsize::new(1);
            let c = p2pd::domain::clock::now_ms() as u64 * 1000
                + COUNTER.fetch_add(1, Ordering::Relaxed) as u64;
            key.sign_device_at(method, path, body, p2pd::domain::clock::now(), d, c)
        }
        None => key.sign(method, path, body),
    };
    let mut rb = client.request(method.parse().unwrap(), format!("{base}{path}"));
    for (n, v) in headers {
        rb = rb.header(n, v);
    }
    let r = rb
        .header("content-type", "application/json")
        .body(body.to_vec())
        .timeout(Duration::from_secs(20))
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap_or_default())
}

/// An enrollment with body `b` through `client`; returns (status, body).
fn post_enroll(
    net: &Net,
    client: &reqwest::blocking::Client,
    b: &serde_json::Value,
) -> (u16, String) {
    let body = serde_json::to_vec(b).unwrap();
    send(net, client, "POST", "/v1/enroll", &body, None)
}

fn enroll(net: &Net, ip: &str, group: &str) -> Device {
    let (key, csr) = key_and_csr();
    let anon = tls_client(&net.server_dir, Some(ip.parse().unwrap()), None);
    let body = serde_json::to_vec(&enroll_body(ip, &csr, None, group)).unwrap();
    let (code, text) = send(net, &anon, "POST", "/v1/enroll", &body, None);
    assert_eq!(code, 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cert = v["certificate"].as_str().unwrap().to_string();
    Device {
        id: v["device_id"].as_str().unwrap().to_string(),
        secret: v["device_secret"].as_str().unwrap().to_string(),
        client: tls_client(
            &net.server_dir,
            Some(ip.parse().unwrap()),
            Some((&cert, &key)),
        ),
        cert,
        key,
    }
}

/// Finding 1: the device a request acts for is its certificate's, and a
/// request that names another device anywhere (query, percent-encoded
/// query, `device_id` query, body, signer header) is refused on every
/// route, serve's and an agent's peer server's.
#[test]
fn every_route_refuses_a_request_that_names_another_device_anywhere() {
    let mut net = Net::new(&[("Central", "", "default", "127.1.1.0/24", "")]);
    ok(&net.server_dir, &["groups", "assign", "secret"]);
    net.start_serve();
    let (cid, _) = net.publish("app", MIB, 3);
    let peer = net.add_agent("peer", "127.1.1.9", "g", &[]);
    assert!(net.wait_delivered(&[peer], "app.bin", Duration::from_secs(60)));
    let peer_id = net.agents[peer].device_id().unwrap();
    let a = enroll(&net, "127.1.1.10", "g");
    let victim = enroll(&net, "127.1.1.11", "g");
    let v = victim.id.as_str();
    let storage = "app/1.0/app.bin";

    // (route, method, path without the device, body naming nobody)
    let hb = |d: Option<&str>| {
        let mut b = serde_json::json!({"progress": [], "stuck": []});
        if let Some(d) = d {
            b["device_id"] = d.into();
        }
        b
    };
    // POST bodies name A itself, as A's agent would send them.
    let me = a.id.as_str();
    let routes: Vec<(&str, &str, String, serde_json::Value)> = vec![
        ("heartbeat", "POST", "/v1/heartbeat".into(), hb(Some(me))),
        (
            "report",
            "POST",
            "/v1/report".into(),
            serde_json::json!({"device_id": me, "transfers": [], "bad": [], "uploads": []}),
        ),
        (
            "leave",
            "POST",
            "/v1/leave".into(),
            serde_json::json!({"device_id": me}),
        ),
        (
            "sources",
            "POST",
            format!("/v1/contents/{cid}/sources"),
            serde_json::json!({"device_id": me}),
        ),
        (
            "manifest",
            "GET",
            format!("/v1/contents/{cid}/manifest"),
            serde_json::Value::Null,
        ),
        (
            "piece",
            "GET",
            format!("/v1/contents/{cid}/pieces/0"),
            serde_json::Value::Null,
        ),
        (
            "storage",
            "GET",
            format!("/v1/storage/{storage}"),
            serde_json::Value::Null,
        ),
    ];
    let mut checked = 0;
    for (route, method, path, body) in &routes {
        let is_get = *method == "GET";
        let with_query = |q: &str| {
            let sep = if path.contains('?') { '&' } else { '?' };
            format!("{path}{sep}{q}")
        };
        let raw = |b: &serde_json::Value| {
            if b.is_null() {
                Vec::new()
            } else {
                serde_json::to_vec(b).unwrap()
            }
        };
        // Every place a name can go, with A's own certificate.
        let mut tries: Vec<(String, String, Vec<u8>, Option<&str>)> = vec![
            (
                "query".into(),
                with_query(&format!("device={v}")),
                raw(body),
                None,
            ),
            (
                "percent-encoded query".into(),
                with_query(&format!("%64evice={v}")),
                raw(body),
                None,
            ),
            (
                "second query".into(),
                with_query(&format!("device={}&device={v}", a.id)),
                raw(body),
                None,
            ),
            (
                "device_id query".into(),
                with_query(&format!("device_id={v}")),
                raw(body),
                None,
            ),
            ("signer header".into(), path.clone(), raw(body), Some(v)),
        ];
        if !is_get {
            let mut b = body.clone();
            b["device_id"] = v.into();
            tries.push((
                "body, own name in the query".into(),
                with_query(&format!("device={}", a.id)),
                serde_json::to_vec(&b).unwrap(),
                None,
            ));
            let mut b = body.clone();
            b["device"] = v.into();
            tries.push((
                "body `device`".into(),
                path.clone(),
                serde_json::to_vec(&b).unwrap(),
                None,
            ));
        }
        for (place, p, b, signer) in tries {
            let (code, text) = send(&net, &a.client, method, &p, &b, signer);
            assert_eq!(
                code, 403,
                "{route}, victim named in the {place} ({p}): {text}"
            );
            assert!(
                text.contains("identity_mismatch"),
                "{route} {place}: {text}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 7 * 5, "{checked}");

    // The peer data plane: an agent's piece and have routes.
    let peer_base = format!("https://{}", net.agents[peer].addr());
    for path in [
        format!("/v1/pieces/{cid}/0?peer={peer_id}&device={v}"),
        format!("/v1/pieces/{cid}/0?peer={peer_id}&%64evice={v}"),
        format!("/v1/pieces/{cid}/have?peer={peer_id}&device={v}"),
    ] {
        let (code, text) = send_to(&net, &peer_base, &a.client, "GET", &path, b"", None);
        assert_eq!(code, 403, "{path}: {text}");
    }
    // Not vacuous: A acting as itself is answered, by serve and the peer.
    let (code, text) = send(
        &net,
        &a.client,
        "POST",
        "/v1/heartbeat",
        &serde_json::to_vec(&hb(Some(&a.id))).unwrap(),
        None,
    );
    assert_eq!(code, 200, "{text}");
    let own = format!("/v1/pieces/{cid}/0?peer={peer_id}&device={}", a.id);
    let (code, text) = send_to(&net, &peer_base, &a.client, "GET", &own, b"", None);
    assert_eq!(code, 200, "{text}");
    drop(victim.secret);
}

/// Finding 2: a key holder gets a CA-signed device certificate while
/// claiming the server's address (from the server's own host with
/// `trust_claimed_addresses off`, from anywhere with it on) and runs a
/// rogue server there with it. A pinned agent sends it nothing, delivers
/// nothing and runs nothing (its `--on-complete` never sees a file).
#[test]
fn a_rogue_server_with_a_device_certificate_gets_nothing_from_an_agent() {
    let mut net = Net::new(&[("Central", "", "default", "127.1.1.0/24", "")]);
    net.start_serve();
    let trust = p2pd::trust::tls::Trust::load(&net.server_dir.join("ca.pem")).unwrap();
    for (trusted, claim, from) in [
        // Off: a key holder on the server's own host claims the address it
        // connects from, the server's. On: any claim from anywhere.
        (false, "127.0.0.1", "127.0.0.1"),
        (true, "127.0.0.1", "127.1.1.31"),
    ] {
        if trusted {
            ok(
                &net.server_dir,
                &["settings", "set", "trust_claimed_addresses", "on"],
            );
        }
        // The key holder enrolls claiming the address it will serve at.
        let pending = p2pd::trust::tls::DeviceCert::request().unwrap();
        let client = tls_client(&net.server_dir, Some(from.parse().unwrap()), None);
        let body = serde_json::to_vec(&enroll_body(claim, &pending.csr_pem, None, "g")).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let v: serde_json::Value = loop {
            let (code, text) = send(&net, &client, "POST", "/v1/enroll", &body, None);
            if code == 200 {
                break serde_json::from_str(&text).unwrap();
            }
            // The setting reaches serve within its poll.
            assert!(Instant::now() < deadline, "{text}");
            std::thread::sleep(Duration::from_millis(200));
        };
        let id = v["device_id"].as_str().unwrap();
        let pem = v["certificate"].as_str().unwrap();
        // The certificate names the device and nothing else: no address.
        let der = {
            use rustls::pki_types::pem::PemObject;
            rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
                .next()
                .unwrap()
                .unwrap()
        };
        let (_, x509) = x509_parser::parse_x509_certificate(&der).unwrap();
        let sans = x509.subject_alternative_name().unwrap().unwrap();
        assert_eq!(sans.value.general_names.len(), 1, "{:?}", sans.value);
        let cert = Arc::new(p2pd::trust::tls::DeviceCert::default());
        cert.install(&pending, pem, &trust, id).unwrap();
        let tls = trust.server_config(cert, false).unwrap();
        let (rt, port, asked, stop) = fake_tls_server(claim, tls, b"attacker");
        let (log, dir) = agent_against(
            &net,
            &format!("victim-{trusted}"),
            &format!("https://{claim}:{port}"),
            "127.1.1.60:0",
        );
        stop.cancel();
        drop(rt);
        assert_eq!(
            asked.load(Ordering::Relaxed),
            0,
            "trust_claimed_addresses {trusted}: a request reached the rogue server: {log}"
        );
        assert!(find_delivered(&dir, "x.bin").is_none(), "{log}");
        assert!(
            !dir.join("agent.json").exists(),
            "enrolled with the rogue: {log}"
        );
        assert!(
            log.contains("not the p2pd server"),
            "the refusal does not say why: {log}"
        );
    }
}

/// Finding 2, the other half: with `trust_claimed_addresses` off, a claim of
/// the other address family than the connection's is refused (it cannot be
/// checked); with it on, it is accepted.
#[test]
fn an_ipv6_claim_over_ipv4_is_refused_unless_claims_are_trusted() {
    let mut net = Net::new(&[("Central", "", "default", "127.1.1.0/24", "")]);
    net.start_serve();
    let from = tls_client(&net.server_dir, Some("127.1.1.32".parse().unwrap()), None);
    for claim in ["fd00::1", "2001:db8::5"] {
        let (_, csr) = key_and_csr();
        let mut b = enroll_body("127.1.1.32", &csr, None, "g");
        b["addrs"][0]["ip"] = claim.into();
        b["peer_url"] = format!("https://[{claim}]:7651").into();
        let (code, text) = post_enroll(&net, &from, &b);
        assert_eq!(code, 400, "{claim}: {text}");
        assert!(
            text.contains("other family") && text.contains("trust_claimed_addresses"),
            "{text}"
        );
    }
    // A peer URL on another host than the address claimed, and a hostname
    // with a right-to-left override.
    let (_, csr) = key_and_csr();
    for (field, value, says) in [
        ("peer_url", "https://127.1.1.99:7651", "peer_url"),
        ("hostname", "pc\u{202E}exe.txt", "bidirectional"),
    ] {
        let mut b = enroll_body("127.1.1.32", &csr, None, "g");
        b[field] = value.into();
        let body = serde_json::to_vec(&b).unwrap();
        let (code, text) = send(&net, &from, "POST", "/v1/enroll", &body, None);
        assert_eq!(code, 400, "{field}: {text}");
        assert!(text.contains(says), "{text}");
    }
}

/// Finding 3: device ids are public. With `trust_claimed_addresses on`, a
/// key holder claiming the victim's id and address from another host gets
/// a device of its own, not the victim's id; the victim, with its secret,
/// keeps it.
#[test]
fn a_key_holder_claiming_a_device_id_and_its_address_gets_a_new_device() {
    let mut net = Net::new(&[("Central", "", "default", "127.1.1.0/24", "")]);
    ok(
        &net.server_dir,
        &["settings", "set", "trust_claimed_addresses", "on"],
    );
    net.start_serve();
    let victim = enroll(&net, "127.1.1.40", "g");
    let attacker = tls_client(&net.server_dir, Some("127.1.1.41".parse().unwrap()), None);
    let (_, csr) = key_and_csr();
    let body = serde_json::to_vec(&enroll_body("127.1.1.40", &csr, Some(&victim.id), "g")).unwrap();
    let (code, text) = send(&net, &attacker, "POST", "/v1/enroll", &body, None);
    assert_eq!(code, 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_ne!(
        v["device_id"],
        victim.id.as_str(),
        "took the victim's id over: {text}"
    );
    let der = {
        use rustls::pki_types::pem::PemObject;
        rustls::pki_types::CertificateDer::pem_slice_iter(
            v["certificate"].as_str().unwrap().as_bytes(),
        )
        .next()
        .unwrap()
        .unwrap()
    };
    assert_ne!(
        p2pd::trust::tls::identity_of(&der),
        Some(p2pd::trust::tls::Identity::Device(victim.id.clone()))
    );
    // A wrong secret does no better.
    let mut b = enroll_body("127.1.1.40", &csr, Some(&victim.id), "g");
    b["device_secret"] = "0".repeat(64).into();
    let (_, text) = post_enroll(&net, &attacker, &b);
    assert!(
        !text.contains(&format!("\"device_id\":\"{}\"", victim.id)),
        "{text}"
    );
    // The victim, from anywhere, with its secret and no certificate.
    let mut b = enroll_body("127.1.1.42", &csr, Some(&victim.id), "g");
    b["device_secret"] = victim.secret.clone().into();
    let anywhere = tls_client(&net.server_dir, Some("127.1.1.42".parse().unwrap()), None);
    let (code, text) = post_enroll(&net, &anywhere, &b);
    assert_eq!(code, 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["device_id"], victim.id.as_str(), "{text}");
    drop((victim.cert, victim.key, victim.client));
}

/// Finding 9: `devices retire --force` keeps a device out. Its agent is
/// refused (and stops) though its certificate is valid and it holds the
/// key; a restart is refused too, and takes no licence, until
/// `devices readmit`.
#[test]
fn a_retired_device_stays_out_until_the_admin_readmits_it() {
    let mut net = Net::new(&[("Central", "", "default", "127.1.1.0/24", "")]);
    net.start_serve();
    net.publish("one", 100_000, 1);
    let i = net.add_agent("pc", "127.1.1.50", "g", &[]);
    assert!(net.wait_delivered(&[i], "one.bin", Duration::from_secs(60)));
    let id = net.agents[i].device_id().unwrap();
    ok(&net.server_dir, &["devices", "retire", "--force", &id]);
    let (code, err) = net.agents[i]
        .wait_exit(Duration::from_secs(30))
        .expect("the retired agent keeps running");
    assert_ne!(code, 0, "{err}");
    assert!(
        err.contains("retired") && err.contains("devices readmit"),
        "{err}"
    );
    // Restarted with its id and its secret: refused, no licence taken, and
    // the next package does not reach it.
    net.start_agent(i);
    let (code, err) = net.agents[i]
        .wait_exit(Duration::from_secs(30))
        .expect("the restarted retired agent keeps running");
    assert_ne!(code, 0, "{err}");
    let listed = ok(&net.server_dir, &["devices", "list", "--json"]);
    assert!(!listed.contains(&id), "{listed}");
    let retired = ok(&net.server_dir, &["devices", "readmit", "--json"]);
    assert!(retired.contains(&id), "{retired}");
    ok(&net.server_dir, &["devices", "readmit", &id]);
    net.publish("two", 100_000, 2);
    net.start_agent(i);
    assert!(net.wait_delivered(&[i], "two.bin", Duration::from_secs(60)));
    assert_eq!(net.agents[i].device_id().unwrap(), id);
}

/// Finding 8: requests with a made-up key that name real devices are
/// refused and change nothing about those devices.
#[test]
fn forged_refusals_naming_real_devices_change_nothing() {
    let mut net = Net::new(&[("Central", "", "default", "127.1.1.0/24", "")]);
    net.start_serve();
    let victim = enroll(&net, "127.1.1.70", "g");
    // After the victim's last accepted request, so a refusal recorded
    // against it would show (`stale key` means refused since last seen).
    std::thread::sleep(Duration::from_millis(1100));
    let forged = SharedKey::generate().unwrap();
    let anon = https_client(&net.server_dir);
    let log = net.root.path().join("serve.log");
    let logged_before = std::fs::metadata(&log).unwrap().len();
    for n in 0..50 {
        let path = format!(
            "/v1/contents/{}/manifest?device={}",
            "0".repeat(64),
            victim.id
        );
        let body =
            serde_json::to_vec(&serde_json::json!({"device_id": victim.id, "n": n})).unwrap();
        for (method, p, b) in [
            ("GET", path.as_str(), &b""[..]),
            ("POST", "/v1/heartbeat", &body[..]),
        ] {
            let mut rb = anon.request(method.parse().unwrap(), format!("{}{p}", net.url()));
            for (k, v) in forged.sign(method, p, b) {
                rb = rb.header(k, v);
            }
            let r = rb.body(b.to_vec()).send().unwrap();
            assert_eq!(r.status().as_u16(), 401);
        }
    }
    std::thread::sleep(Duration::from_millis(1500));
    // 100 refusals: aggregated in the log, not a line each.
    let grew = std::fs::metadata(&log).unwrap().len() - logged_before;
    assert!(
        grew < 2_000,
        "100 forged requests wrote {grew} bytes to serve's log: {}",
        tail(&log, 20)
    );
    let listed = ok(&net.server_dir, &["devices", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let row = v
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["device_id"] == victim.id.as_str())
        .unwrap();
    assert_ne!(row["state"], "stale key", "{row:#}");
    assert!(row["stale_key"].is_null(), "{row:#}");
    let (_, h) = health(&net.server_dir, &[]);
    let c = check(&h, "devices");
    assert!(
        !c["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("stale key"),
        "{c:#}"
    );
}

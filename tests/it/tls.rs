//! Design note `transport-trust` item 1: TLS with identities. The agent trusts only the CA it
//! was given; device certificates name their device; a device cannot act
//! in another's name; enrollment checks the claimed address.

use std::time::{Duration, Instant};

use crate::common::*;
use p2pd::trust::key::SharedKey;

/// A signed request to serve with `client`; returns (status, body).
fn call(
    net: &Net,
    client: &reqwest::blocking::Client,
    method: &str,
    path: &str,
    body: serde_json::Value,
) -> (u16, String) {
    let body = serde_json::to_vec(&body).unwrap();
    signed_send(net, client, method, path, body).unwrap()
}

/// Enrollment through `client` of a device claiming `ip` (and `device_id`,
/// if given); returns (status, body).
fn enroll_as(
    net: &Net,
    client: &reqwest::blocking::Client,
    ip: &str,
    csr: &str,
    device_id: Option<&str>,
) -> (u16, String) {
    let body = enroll_body(ip, csr, device_id);
    call(net, client, "POST", "/v1/enroll", body)
}

fn enroll_body(ip: &str, csr: &str, device_id: Option<&str>) -> serde_json::Value {
    serde_json::json!({
        "device_id": device_id, "hostname": "pc",
        "addrs": [{"ip": ip, "prefix": 24}],
        "version": env!("CARGO_PKG_VERSION"), "group": "g",
        "peer_url": format!("https://{ip}:7651"), "csr": csr,
    })
}

/// Enrolls a made-up device from `ip`; returns (id, certificate PEM, key PEM).
fn enroll(net: &Net, ip: &str) -> (String, String, String) {
    let (key, csr) = key_and_csr();
    let client = tls_client(&net.server_dir, Some(ip.parse().unwrap()), None);
    let (code, body) = enroll_as(net, &client, ip, &csr, None);
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    (
        v["device_id"].as_str().unwrap().to_string(),
        v["certificate"].as_str().unwrap().to_string(),
        key,
    )
}

fn first_der(pem: &str) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .unwrap()
        .unwrap()
        .to_vec()
}

#[test]
fn install_prints_the_ca_fingerprint_next_to_the_key_fingerprint() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("s");
    let out = ok(&dir, &["install", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let pem = std::fs::read_to_string(dir.join("ca.pem")).unwrap();
    assert_eq!(v["ca_fingerprint"], sha256_hex(&first_der(&pem)));
    assert_eq!(v["ca_file"], dir.join("ca.pem").display().to_string());
    // The CA's private key is in the database, not in a file beside it.
    assert!(!dir.join("ca.key").exists(), "ca.key left in the data dir");
    let out = ok(&dir, &["ca", "fingerprint", "--json"]);
    let c: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(c["ca_fingerprint"], v["ca_fingerprint"], "{out}");
    // The table says it too.
    let dir2 = root.path().join("t");
    let out = ok(&dir2, &["install"]);
    assert!(out.contains("CA fingerprint"), "{out}");
    assert!(out.contains("key fingerprint"), "{out}");
    // And `key fingerprint` shows both.
    let out = ok(&dir, &["key", "fingerprint", "--json"]);
    let k: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(k["ca_fingerprint"], v["ca_fingerprint"], "{out}");
    assert_eq!(k["key_fingerprint"], v["key_fingerprint"], "{out}");
}

/// An install made before the CA moved into the database (design note `replicas`) has
/// ca.pem and ca.key in its data dir: the first command that opens the CA
/// moves them in, keeping the very same CA (agents pinned to it go on
/// working), and removes the key file only once the database holds it.
#[test]
fn an_older_install_s_ca_files_move_into_the_database() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("s");
    ok(&dir, &["install"]);
    // Make it look like an install from before: the CA as files only.
    let db = rusqlite::Connection::open(dir.join("p2pd.db")).unwrap();
    db.execute("DELETE FROM server_ca", []).unwrap();
    drop(db);
    std::fs::remove_file(dir.join("ca.pem")).unwrap();
    let old = p2pd::trust::tls::Ca::create(&dir, "old").unwrap();
    let out = ok(&dir, &["install", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ca_fingerprint"], old.fingerprint(), "{out}");
    assert!(v.get("ca_created").is_none(), "the old CA is kept: {out}");
    assert!(
        !dir.join("ca.key").exists(),
        "ca.key moved into the database"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("ca.pem")).unwrap(),
        old.cert_pem()
    );
    let db = rusqlite::Connection::open(dir.join("p2pd.db")).unwrap();
    let (pem, key): (String, Vec<u8>) = db
        .query_row("SELECT cert_pem, key FROM server_ca", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(pem, old.cert_pem());
    assert_eq!(key, old.key_pem().into_bytes());
    // And later commands find it there.
    let out = ok(&dir, &["ca", "fingerprint"]);
    assert_eq!(out.trim(), old.fingerprint());
    // `ca regenerate` replaces it, in the database and in the public copy.
    let out = ok(&dir, &["ca", "regenerate", "--json"]);
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["retired_fingerprint"], old.fingerprint(), "{out}");
    let new = r["ca_fingerprint"].as_str().unwrap().to_string();
    assert_ne!(new, old.fingerprint());
    assert_eq!(ok(&dir, &["ca", "fingerprint"]).trim(), new);
    let pem = std::fs::read_to_string(dir.join("ca.pem")).unwrap();
    assert_eq!(sha256_hex(&first_der(&pem)), new);
}

#[test]
fn a_fake_server_without_the_ca_cannot_make_an_agent_deliver_anything() {
    // The real install gives the agent its CA; the fake server has a CA of
    // its own (valid certificates, for the right address, from the wrong
    // authority) and does not know the key.
    let net = Net::new(&[]);
    let fake_dir = tempfile::tempdir().unwrap();
    let fake_ca = p2pd::trust::tls::Ca::create(fake_dir.path(), "fake").unwrap();
    let certs =
        p2pd::trust::tls::ServerCerts::new(fake_ca, "fake", vec!["127.0.0.1".to_string()]).unwrap();
    let certs = std::sync::Arc::new(certs);
    let tls = certs
        .ca()
        .trust()
        .server_config(certs.clone(), false)
        .unwrap();
    let (rt, port, asked, stop) = fake_tls_server("127.0.0.1", tls, b"attacker");
    let (logged, agent_dir) = agent_against(
        &net,
        "victim",
        &format!("https://127.0.0.1:{port}"),
        "127.0.0.1:0",
    );
    stop.cancel();
    drop(rt);
    assert_eq!(
        asked.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "a request reached the fake server: {logged}"
    );
    assert!(find_delivered(&agent_dir, "x.bin").is_none(), "{logged}");
    assert!(!agent_dir.join("agent.json").exists(), "enrolled: {logged}");
    assert!(
        logged.to_lowercase().contains("certificate"),
        "the refusal does not say why: {logged}"
    );
}

#[test]
fn a_device_certificate_names_its_device_and_a_device_cannot_act_for_another() {
    let mut net = Net::new(&[("Central", "", "default", "127.1.1.0/24", "")]);
    net.start_serve();
    let (a, cert_a, key_a) = enroll(&net, "127.1.1.10");
    let (b, secret_b) = {
        let (_, csr) = key_and_csr();
        let client = tls_client(&net.server_dir, Some("127.1.1.11".parse().unwrap()), None);
        let (code, body) = enroll_as(&net, &client, "127.1.1.11", &csr, None);
        assert_eq!(code, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let secret = v["device_secret"]
            .as_str()
            .expect("a first enrollment gets a secret");
        (
            v["device_id"].as_str().unwrap().to_string(),
            secret.to_string(),
        )
    };
    assert_eq!(
        p2pd::trust::tls::identity_of(&first_der(&cert_a)),
        Some(p2pd::trust::tls::Identity::Device(a.clone()))
    );
    let as_a = tls_client(&net.server_dir, None, Some((&cert_a, &key_a)));
    let hb = |id: &str| serde_json::json!({"device_id": id, "progress": [], "stuck": []});
    // A speaks for itself.
    let (code, body) = call(&net, &as_a, "POST", "/v1/heartbeat", hb(&a));
    assert_eq!(code, 200, "{body}");
    // A cannot heartbeat, report or re-enroll as B, though it holds the key.
    let (code, body) = call(&net, &as_a, "POST", "/v1/heartbeat", hb(&b));
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("identity_mismatch"), "{body}");
    let report = serde_json::json!({"device_id": b, "transfers": [], "bad": [], "uploads": []});
    let (code, body) = call(&net, &as_a, "POST", "/v1/report", report);
    assert_eq!(code, 403, "{body}");
    let (_, csr) = key_and_csr();
    let (code, body) = enroll_as(
        &net,
        &tls_client(
            &net.server_dir,
            Some("127.1.1.10".parse().unwrap()),
            Some((&cert_a, &key_a)),
        ),
        "127.1.1.10",
        &csr,
        Some(&b),
    );
    assert_eq!(code, 403, "{body}");
    // Without any certificate, B's id is kept only with B's secret (a
    // device whose certificate expired while it was off); without it, even
    // from B's own address, the request makes a new device.
    let (_, csr) = key_and_csr();
    let from = |ip: &str| tls_client(&net.server_dir, Some(ip.parse().unwrap()), None);
    for ip in ["127.1.1.12", "127.1.1.11"] {
        let (code, body) = enroll_as(&net, &from(ip), ip, &csr, Some(&b));
        assert_eq!(code, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_ne!(
            v["device_id"],
            b.as_str(),
            "took another device's id over from {ip}: {body}"
        );
    }
    let mut with_secret = enroll_body("127.1.1.11", &csr, Some(&b));
    with_secret["device_secret"] = secret_b.clone().into();
    let (code, body) = call(&net, &from("127.1.1.11"), "POST", "/v1/enroll", with_secret);
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["device_id"], b.as_str(), "{body}");
    assert!(
        v["device_secret"].is_null(),
        "a proved device keeps its secret: {body}"
    );
    // Without a certificate, only enrollment and status are answered.
    let anon = https_client(&net.server_dir);
    let (code, body) = call(&net, &anon, "POST", "/v1/heartbeat", hb(&a));
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("needs a device certificate"), "{body}");
}

#[test]
fn a_peer_with_a_certificate_from_another_ca_is_refused() {
    let mut net = Net::new(&[("Central", "", "default", "127.1.1.0/24", "")]);
    net.start_serve();
    let (cid, _) = net.publish("app", MIB, 7);
    let a = net.add_agent("a", "127.1.1.10", "g", &[]);
    assert!(net.wait_delivered(&[a], "app.bin", Duration::from_secs(60)));
    let id_a = net.agents[a].device_id().unwrap();
    let key = SharedKey::load(&net.server_dir.join("shared.key")).unwrap();
    let ask = |client: &reqwest::blocking::Client, me: &str| {
        let path = format!("/v1/pieces/{cid}/have?device={me}&peer={id_a}");
        let mut rb = client.get(format!("https://{}{path}", net.agents[a].addr()));
        for (n, v) in key.sign("GET", &path, b"") {
            rb = rb.header(n, v);
        }
        rb.timeout(Duration::from_secs(10)).send()
    };
    // A device of this server's CA is answered.
    let (me, cert, k) = enroll(&net, "127.1.1.20");
    let r = ask(&tls_client(&net.server_dir, None, Some((&cert, &k))), &me).unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // The same request with a certificate from another CA (naming the same
    // device and address, and holding the key) gets no answer.
    let (rk, rogue_cert) = rogue_device_cert(&me);
    let rogue = tls_client(&net.server_dir, None, Some((&rogue_cert, &rk)));
    let r = ask(&rogue, &me);
    assert!(
        r.is_err(),
        "the peer answered a rogue certificate: {:?}",
        r.map(|r| r.status())
    );
    // And with no certificate at all.
    assert!(ask(&https_client(&net.server_dir), &me).is_err());
}

#[test]
fn enrollment_checks_the_claimed_address_unless_trust_claimed_addresses_is_on() {
    let mut net = Net::new(&[("Central", "", "default", "127.1.1.0/24", "")]);
    net.start_serve();
    let (_, csr) = key_and_csr();
    // Claims .50, connects from .60.
    let from_60 = tls_client(&net.server_dir, Some("127.1.1.60".parse().unwrap()), None);
    let (code, body) = enroll_as(&net, &from_60, "127.1.1.50", &csr, None);
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("127.1.1.50")
            && body.contains("127.1.1.60")
            && body.contains("trust_claimed_addresses"),
        "{body}"
    );
    let st = ok(&net.server_dir, &["settings", "show", "--json"]);
    assert!(st.contains("trust_claimed_addresses"), "{st}");
    ok(
        &net.server_dir,
        &["settings", "set", "trust_claimed_addresses", "on"],
    );
    let t = Instant::now();
    loop {
        let (code, body) = enroll_as(&net, &from_60, "127.1.1.50", &csr, None);
        if code == 200 {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "{body}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn plain_http_is_never_the_default() {
    let root = tempfile::tempdir().unwrap();
    let key = root.path().join("k");
    SharedKey::generate().unwrap().save(&key).unwrap();
    let k = key.to_str().unwrap();
    // An http:// server without --insecure-plain-http is refused; an
    // https:// one needs to be told the CA.
    let cases: [(&str, &[&str]); 2] = [
        ("http://127.0.0.1:9", &["--insecure-plain-http", "--ca"]),
        ("https://127.0.0.1:9", &["--ca-fingerprint"]),
    ];
    for (server, named) in cases {
        let args = [
            "agent",
            "--server",
            server,
            "--key-file",
            k,
            "--group",
            "g",
            "--listen",
            "127.0.0.1:9",
        ];
        let (code, _, err) = p2pd(root.path(), &args);
        assert_eq!(code, 2, "{err}");
        for flag in named {
            assert!(err.contains(flag), "{server}: {err}");
        }
    }
}

#[test]
fn an_agent_given_only_the_ca_fingerprint_learns_the_ca_and_refuses_another() {
    let mut net = Net::new(&[("Central", "", "default", "127.1.1.0/24", "")]);
    net.start_serve();
    net.publish("app", MIB, 9);
    let pem = std::fs::read_to_string(net.server_dir.join("ca.pem")).unwrap();
    let fp = sha256_hex(&first_der(&pem));
    let run = |name: &str, pin: &str| {
        let dir = net.root.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let log = std::fs::File::create(dir.join("agent.log")).unwrap();
        let child = std::process::Command::new(BIN)
            .args(["agent", "--server", &net.url(), "--ca-fingerprint", pin])
            .args(["--group", "g", "--listen"])
            .arg(format!(
                "127.1.1.{}:0",
                if name == "good" { 30 } else { 31 }
            ))
            .arg("--source-address")
            .arg(format!("127.1.1.{}", if name == "good" { 30 } else { 31 }))
            .arg("--key-file")
            .arg(net.server_dir.join("shared.key"))
            .arg("--data-dir")
            .arg(&dir)
            .env("P2PD_LOG", "info")
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        (dir, child)
    };
    let (good, mut c1) = run("good", &fp);
    let (bad, mut c2) = run("bad", &"ab".repeat(32));
    let t = Instant::now();
    while find_delivered(&good, "app.bin").is_none() && t.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let st = c2.wait_timeout_or_kill(Duration::from_secs(10));
    let _ = c1.kill();
    let _ = c1.wait();
    assert!(find_delivered(&good, "app.bin").is_some());
    assert_eq!(
        std::fs::read_to_string(good.join("ca.pem")).unwrap().trim(),
        pem.trim()
    );
    let err = std::fs::read_to_string(bad.join("agent.log")).unwrap();
    assert_eq!(st, Some(2), "{err}");
    assert!(err.contains("no CA with fingerprint"), "{err}");
    assert!(!bad.join("ca.pem").exists());
}

trait WaitTimeout {
    fn wait_timeout_or_kill(&mut self, t: Duration) -> Option<i32>;
}

impl WaitTimeout for std::process::Child {
    fn wait_timeout_or_kill(&mut self, t: Duration) -> Option<i32> {
        let deadline = Instant::now() + t;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.try_wait() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.kill();
        let _ = self.wait();
        None
    }
}

#[test]
fn an_agent_renews_its_device_certificate_before_it_expires() {
    let mut net = Net::new(&[("Central", "", "default", "127.1.1.0/24", "")]);
    // Certificates valid for 6 s: renewed after 3 s, long expired by the
    // time the second package is published unless renewed.
    net.serve_env = vec![("P2PD_FAULT_DEVICE_CERT_SECS".into(), "6".into())];
    net.start_serve();
    net.publish("one", 100_000, 1);
    let a = net.add_agent("a", "127.1.1.10", "g", &[]);
    assert!(net.wait_delivered(&[a], "one.bin", Duration::from_secs(30)));
    let log = || std::fs::read_to_string(net.agents[a].dir.join("agent.err")).unwrap_or_default();
    eventually("the agent renews", Duration::from_secs(15), || {
        log().contains("device certificate renewed")
    });
    std::thread::sleep(Duration::from_secs(7));
    net.publish("two", 100_000, 2);
    assert!(
        net.wait_delivered(&[a], "two.bin", Duration::from_secs(30)),
        "nothing delivered after the first certificate expired: {}",
        log()
    );
    // At half life, not at every heartbeat (once a second here).
    let renewals = log().matches("device certificate renewed").count();
    assert!((1..=7).contains(&renewals), "{renewals} renewals in ~15 s");
}

#[test]
fn behind_a_tls_terminating_proxy_serve_verifies_the_forwarded_certificate() {
    let mut net = Net::new(&[("Central", "", "default", "127.1.1.0/24", "")]);
    net.serve_args = vec!["--trusted-proxy".into(), "127.0.0.9".into()];
    net.start_serve();
    // The balancer's own certificate comes from the CA, so agents that
    // pin the CA accept it.
    let out_dir = net.root.path().join("lb");
    let out = ok(
        &net.server_dir,
        &[
            "ca",
            "issue-proxy",
            "--name",
            "lb.example.test",
            "--out",
            out_dir.to_str().unwrap(),
            "--json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let chain = std::fs::read_to_string(out_dir.join("proxy.pem")).unwrap();
    assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2, "{chain}");
    let ca = std::fs::read_to_string(net.server_dir.join("ca.pem")).unwrap();
    assert_eq!(v["ca_fingerprint"], sha256_hex(&first_der(&ca)));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(out_dir.join("proxy.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "{mode:o}");

    let (a, cert_a, _) = enroll(&net, "127.1.1.10");
    let escaped = forwarded(&cert_a);
    let hb = serde_json::json!({"device_id": a, "progress": [], "stuck": []});
    let key = SharedKey::load(&net.server_dir.join("shared.key")).unwrap();
    let send = |from: &str, cert: Option<&str>| {
        let body = serde_json::to_vec(&hb).unwrap();
        let client = tls_client(&net.server_dir, Some(from.parse().unwrap()), None);
        let mut rb = client.post(format!("{}/v1/heartbeat", net.url()));
        for (n, v) in key.sign("POST", "/v1/heartbeat", &body) {
            rb = rb.header(n, v);
        }
        if let Some(c) = cert {
            rb = rb.header("x-p2pd-client-cert", c);
        }
        let r = rb
            .header("content-type", "application/json")
            .body(body)
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap_or_default())
    };
    // From the balancer, with the device's certificate: A.
    let (code, body) = send("127.0.0.9", Some(&escaped));
    assert_eq!(code, 200, "{body}");
    // The same header from anyone else counts for nothing.
    let (code, body) = send("127.0.0.8", Some(&escaped));
    assert_eq!(code, 403, "{body}");
    // A certificate from another CA, even through the balancer: refused.
    let (_, rogue) = rogue_device_cert(&a);
    let rogue = forwarded(&rogue);
    let (code, body) = send("127.0.0.9", Some(&rogue));
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("identity_mismatch"), "{body}");
}

/// A key and a device certificate for `device` from a CA of its own
/// ("rogue"), not the server's.
fn rogue_device_cert(device: &str) -> (String, String) {
    let other = tempfile::tempdir().unwrap();
    let rogue_ca = p2pd::trust::tls::Ca::create(other.path(), "rogue").unwrap();
    let (key, csr) = key_and_csr();
    let cert = rogue_ca
        .issue_device(&csr, device, Duration::from_secs(3600))
        .unwrap();
    (key, cert)
}

/// A certificate as a TLS-terminating proxy forwards it: URL-encoded PEM.
fn forwarded(pem: &str) -> String {
    percent_encoding::utf8_percent_encode(pem, percent_encoding::NON_ALPHANUMERIC).to_string()
}

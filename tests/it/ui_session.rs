//! Design note `key-holders`, finding 11: the dashboard cookie is a session id with an
//! expiry, never the admin token; it is `Secure` on TLS; the dashboard's
//! responses say `nosniff` and `no-store`; an expired or rotated session
//! is refused and logging in again works.

use std::time::Duration;

use crate::common::*;

/// A client that trusts serve's CA and does not follow redirects (the
/// login's `Set-Cookie` is on the redirect).
fn client(net: &Net) -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let pem = std::fs::read(net.server_dir.join("ca.pem")).unwrap();
    reqwest::blocking::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

fn token(net: &Net) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&ok(&net.server_dir, &["ui", "token", "--json"])).unwrap();
    v["admin_token"].as_str().unwrap().to_string()
}

/// Logs in; returns the `Set-Cookie` header and the cookie's value.
fn login(net: &Net, c: &reqwest::blocking::Client, token: &str) -> (String, String) {
    let r = c
        .get(format!("{}/ui/login?token={token}", net.url()))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 303, "login");
    let set = r
        .headers()
        .get("set-cookie")
        .expect("a cookie")
        .to_str()
        .unwrap()
        .to_string();
    let value = set
        .split(';')
        .next()
        .unwrap()
        .strip_prefix("p2pd_ui=")
        .unwrap()
        .to_string();
    (set, value)
}

/// (status, nosniff, cache-control) of the overview with `cookie`.
fn overview(net: &Net, c: &reqwest::blocking::Client, cookie: &str) -> (u16, String, String) {
    let r = c
        .get(format!("{}/ui/api/overview", net.url()))
        .header("cookie", format!("p2pd_ui={cookie}"))
        .send()
        .unwrap();
    let h = |n: &str| {
        r.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    (
        r.status().as_u16(),
        h("x-content-type-options"),
        h("cache-control"),
    )
}

#[test]
fn the_dashboard_cookie_is_an_expiring_session_never_the_admin_token() {
    let mut net = Net::new(&[]);
    net.serve_env
        .push(("P2PD_FAULT_UI_SESSION_SECS".into(), "3".into()));
    net.start_serve();
    let c = client(&net);
    let token = token(&net);

    let (set, session) = login(&net, &c, &token);
    assert!(
        !set.contains(&token),
        "the cookie holds the admin token: {set}"
    );
    assert!(!token.contains(&session) && session.len() >= 32, "{set}");
    for attr in [
        "HttpOnly",
        "SameSite=Strict",
        "Secure",
        "Max-Age=3",
        "Path=/",
    ] {
        assert!(set.contains(attr), "the cookie lacks {attr}: {set}");
    }
    let (status, nosniff, cache) = overview(&net, &c, &session);
    assert_eq!(status, 200);
    assert_eq!(nosniff, "nosniff");
    assert_eq!(cache, "no-store");

    // The raw token is no cookie (older versions stored it there).
    let (status, nosniff, _) = overview(&net, &c, &token);
    assert_eq!(status, 401, "the raw admin token works as a cookie");
    assert_eq!(nosniff, "nosniff");

    // Expired: refused with a page that says to log in again; logging in
    // again works.
    std::thread::sleep(Duration::from_millis(3500));
    let r = c
        .get(format!("{}/ui/api/overview", net.url()))
        .header("cookie", format!("p2pd_ui={session}"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401, "an expired session was accepted");
    assert!(r.text().unwrap().contains("log in again"));
    let (_, again) = login(&net, &c, &token);
    assert_ne!(again, session);
    assert_eq!(
        overview(&net, &c, &again).0,
        200,
        "a new login did not work"
    );

    // A token rotation ends the sessions opened with the old token.
    let new_token = self::token(&net);
    assert_eq!(
        overview(&net, &c, &again).0,
        401,
        "a rotated session was accepted"
    );
    let (_, third) = login(&net, &c, &new_token);
    assert_eq!(overview(&net, &c, &third).0, 200);

    // Scripts keep sending the token itself.
    let r = c
        .get(format!("{}/ui/api/overview", net.url()))
        .bearer_auth(&new_token)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
}

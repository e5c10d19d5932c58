//! The dashboard's JSON views at 5,000 offices: one page at a time (tree
//! children, search, paging on the server), admin token required, the
//! token rotated live by `p2pd ui token`.

use std::time::{Duration, Instant};

use crate::common::*;

fn get(url: &str, token: Option<&str>) -> (u16, serde_json::Value) {
    let mut rb = reqwest::blocking::Client::new()
        .get(url)
        .timeout(Duration::from_secs(20));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    let r = rb.send().unwrap();
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

fn token(net: &Net) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&ok(&net.server_dir, &["ui", "token", "--json"])).unwrap();
    v["admin_token"].as_str().unwrap().to_string()
}

#[test]
fn five_thousand_offices_come_one_page_at_a_time() {
    let net0 = Net::new(&[]);
    // 1 root, 10 regions, 4,989 branches.
    let mut csv = String::from("office,parent,type,ranges,wan_kbps,description\n");
    csv.push_str("Central,,default,10.0.0.0/24,,\n");
    for r in 0..10 {
        csv.push_str(&format!(
            "Region {r},Central,default,10.{}.0.0/24,,\n",
            200 + r
        ));
    }
    for b in 0..4989u32 {
        csv.push_str(&format!(
            "Branch {b},Region {},default,10.{}.{}.0/24,,\n",
            b % 10,
            1 + b / 256,
            b % 256
        ));
    }
    let f = net0.root.path().join("big.csv");
    std::fs::write(&f, csv).unwrap();
    ok(
        &net0.server_dir,
        &["topology", "import", f.to_str().unwrap()],
    );
    let mut net = net0;
    net.start_serve();
    let base = format!("http://127.0.0.1:{}/ui/api", net.port);

    let (status, _) = get(&format!("{base}/offices"), None);
    assert_eq!(status, 401, "the JSON views need the admin token");
    let t = token(&net);

    let started = Instant::now();
    let (status, top) = get(&format!("{base}/offices"), Some(&t));
    assert_eq!(status, 200, "{top}");
    assert_eq!(top["total"], 1, "collapsed: only the root at the top");
    let central = &top["offices"][0];
    assert_eq!(central["name"], "Central");
    assert_eq!(central["children"], 10);

    let (_, regions) = get(
        &format!("{base}/offices?parent={}", central["id"]),
        Some(&t),
    );
    assert_eq!(regions["total"], 10);
    let region0 = regions["offices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "Region 0")
        .unwrap();
    assert_eq!(region0["children"], 499);

    // Paging on the server: page 9 of Region 0's 499 branches holds 49.
    let (_, p) = get(
        &format!("{base}/offices?parent={}&page=9&per=50", region0["id"]),
        Some(&t),
    );
    assert_eq!(p["total"], 499);
    assert_eq!(p["offices"].as_array().unwrap().len(), 49);
    // A page never exceeds 200 rows, whatever is asked.
    let (_, p) = get(
        &format!("{base}/offices?parent={}&per=100000", region0["id"]),
        Some(&t),
    );
    assert_eq!(p["offices"].as_array().unwrap().len(), 200);

    // Search: flat matches with their path from the top.
    let (_, s) = get(&format!("{base}/offices?q=branch%20432"), Some(&t));
    let names: Vec<&str> = s["offices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Branch 432") && names.contains(&"Branch 4321"),
        "{names:?}"
    );
    assert_eq!(s["total"].as_u64().unwrap() as usize, names.len());
    let b4321 = s["offices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "Branch 4321")
        .unwrap();
    assert_eq!(b4321["path"], serde_json::json!(["Central", "Region 1"]));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "five pages took {:?}",
        started.elapsed()
    );

    // /metrics at 5,000 offices: no office without devices or bytes adds a
    // series, so the exposition stays small.
    let r = reqwest::blocking::Client::new()
        .get(format!("http://127.0.0.1:{}/metrics", net.port))
        .bearer_auth(&t)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let text = r.text().unwrap();
    assert!(!text.contains("Branch 17"), "empty offices in /metrics");

    // Rotating the token locks the old one out at once, without a restart.
    let t2 = token(&net);
    assert_ne!(t, t2);
    assert_eq!(get(&format!("{base}/overview"), Some(&t)).0, 401);
    let (status, o) = get(&format!("{base}/overview"), Some(&t2));
    assert_eq!(status, 200);
    assert_eq!(o["offices"], 5000);
    // The overview shows the fingerprint, never the key or a token.
    let key = std::fs::read_to_string(net.server_dir.join("shared.key")).unwrap();
    let body = o.to_string();
    assert!(!body.contains(key.trim()) && !body.contains(&t2));
    assert_eq!(o["distribution_optimization"], true);
    assert_eq!(o["assigned_groups"], serde_json::json!(["g"]));
}

#[test]
fn install_prints_an_admin_token_separate_from_the_shared_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("s");
    let out = ok(&data, &["install", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let t = v["admin_token"].as_str().unwrap();
    assert!(t.starts_with("p2pd-admin-") && t.len() > 40, "{t}");
    assert_ne!(
        t,
        v["key"].as_str().unwrap(),
        "the admin token is not the shared key"
    );
    let text = ok(&dir.path().join("s2"), &["install"]);
    assert!(text.contains("Admin token"), "{text}");
}

#[test]
fn a_device_left_with_a_retired_key_shows_as_stale_key_and_is_counted() {
    let mut net = Net::new(&[("Central", "", "default", "127.1.1.0/24", "")]);
    net.start_serve();
    let i = net.add_agent("d1", "127.1.1.90", "g", &[]);
    let deadline = Instant::now() + Duration::from_secs(15);
    while net.agents[i].device_id().is_none() {
        assert!(Instant::now() < deadline, "the agent did not enroll");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The key is regenerated and serve restarted with the new one; the
    // device still holds the old key.
    net.stop_serve();
    let old_key = net.root.path().join("old.key");
    std::fs::copy(net.server_dir.join("shared.key"), &old_key).unwrap();
    ok(&net.server_dir, &["key", "regenerate"]);
    net.agents[i].key_file = old_key;
    net.agents[i].kill();
    net.start_serve();
    net.start_agent(i);

    // The agent keeps trying with its old key (and waits for a new one);
    // the dashboard shows it as holding a stale key.
    let t = token(&net);
    let url = format!("http://127.0.0.1:{}/ui/api/devices", net.port);
    let deadline = Instant::now() + Duration::from_secs(30);
    let d = loop {
        let (status, d) = get(&url, Some(&t));
        assert_eq!(status, 200);
        if d["devices"][0]["state"] == "stale key" {
            break d;
        }
        assert!(Instant::now() < deadline, "never shown as stale key: {d}");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(d["total"], 1);
    assert_eq!(d["devices"][0]["addr"], "127.1.1.90");

    let text = reqwest::blocking::Client::new()
        .get(format!("http://127.0.0.1:{}/metrics", net.port))
        .bearer_auth(&t)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let s = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let refusals = s
        .samples
        .iter()
        .find(|x| x.metric == "p2pd_key_mismatch_refusals_total")
        .expect("the refusal counter");
    match refusals.value {
        prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) => {
            assert!(v >= 1.0, "{text}")
        }
        ref v => panic!("{v:?}"),
    }
    assert!(
        s.samples
            .iter()
            .any(|x| x.metric == "p2pd_http_errors_total"
                && x.labels.get("code") == Some("key_mismatch")),
        "{text}"
    );
}

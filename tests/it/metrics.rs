//! `/metrics` (serve) and `--metrics-listen` (agent) after a real loopback
//! distribution: parsed by a Prometheus text parser, and checked against
//! `p2pd report --json` and the agents' own transfer logs.

use std::collections::HashMap;
use std::time::Duration;

use crate::common::*;

fn scrape(url: &str, token: Option<&str>) -> (u16, String) {
    let client = reqwest::blocking::Client::new();
    let mut rb = client.get(url).timeout(Duration::from_secs(10));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    let r = rb.send().expect("scrape");
    (r.status().as_u16(), r.text().unwrap())
}

fn parse(text: &str) -> prometheus_parse::Scrape {
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .expect("the exposition parses as Prometheus text")
}

fn value(v: &prometheus_parse::Value) -> f64 {
    use prometheus_parse::Value::*;
    match v {
        Counter(x) | Gauge(x) | Untyped(x) => *x,
        other => panic!("not a plain value: {other:?}"),
    }
}

/// Samples named `name`, as (labels, value).
fn samples<'a>(
    s: &'a prometheus_parse::Scrape,
    name: &str,
) -> Vec<(&'a prometheus_parse::Labels, f64)> {
    s.samples
        .iter()
        .filter(|x| x.metric == name)
        .map(|x| (&x.labels, value(&x.value)))
        .collect()
}

fn admin_token(net: &Net) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&ok(&net.server_dir, &["ui", "token", "--json"])).unwrap();
    v["admin_token"].as_str().unwrap().to_string()
}

#[test]
fn metrics_parse_and_agree_with_the_report_after_a_distribution() {
    let mut net = Net::new(&[
        ("Central", "", "default", "127.1.1.0/24", ""),
        ("Regional", "Central", "default", "127.1.2.0/24", ""),
        ("Branch", "Regional", "default", "127.1.3.0/24", ""),
    ]);
    net.start_serve();
    let token = admin_token(&net);
    let (id, _) = net.publish("app", 6 * MIB + 777, 21);
    for office in 1..=3 {
        for d in 1..=2 {
            let name = format!("o{office}d{d}");
            let ip = format!("127.1.{office}.{}", 20 + d);
            if office == 3 && d == 1 {
                net.add_agent_with_args(&name, &ip, "g", &[], &["--metrics-listen", "127.0.0.1:0"]);
            } else {
                net.add_agent(&name, &ip, "g", &[]);
            }
        }
    }
    assert!(
        net.wait_delivered(&net.all(), "app.bin", Duration::from_secs(90)),
        "not all delivered"
    );
    // Let the last reports arrive.
    std::thread::sleep(Duration::from_millis(3000));

    let url = format!("http://127.0.0.1:{}/metrics", net.port);
    let (status, body) = scrape(&url, None);
    assert_eq!(status, 401, "/metrics without the admin token: {body}");
    let (status, _) = scrape(&url, Some("p2pd-admin-wrong"));
    assert_eq!(status, 401, "/metrics with a wrong token");
    let (status, text) = scrape(&url, Some(&token));
    assert_eq!(status, 200, "{text}");
    let s = parse(&text);
    let report = net.report();

    // Bytes by office and tier: the same numbers as `report --json`.
    let mut want: HashMap<(String, String), f64> = HashMap::new();
    for c in report.as_array().unwrap() {
        for o in c["offices"].as_array().unwrap() {
            for tier in ["lan", "parent", "server", "cdn"] {
                let b = o[format!("bytes_{tier}")].as_u64().unwrap() as f64;
                if b > 0.0 {
                    *want
                        .entry((o["office"].as_str().unwrap().to_string(), tier.into()))
                        .or_default() += b;
                }
            }
        }
    }
    let got: HashMap<(String, String), f64> = samples(&s, "p2pd_received_bytes_total")
        .into_iter()
        .map(|(l, v)| {
            (
                (
                    l.get("office").unwrap().to_string(),
                    l.get("tier").unwrap().to_string(),
                ),
                v,
            )
        })
        .collect();
    assert!(!want.is_empty());
    assert_eq!(
        got, want,
        "p2pd_received_bytes_total disagrees with report --json"
    );

    // WAN copies of the (active) content by office.
    let wan = samples(&s, "p2pd_wan_copies");
    for o in report[0]["offices"].as_array().unwrap() {
        let name = o["office"].as_str().unwrap();
        let m = wan
            .iter()
            .find(|(l, _)| l.get("office") == Some(name))
            .unwrap_or_else(|| panic!("no p2pd_wan_copies for {name}:\n{text}"));
        assert!(m.0.get("content").unwrap().contains(&id[..12]));
        let r = o["wan_copies"].as_f64().unwrap();
        assert!(
            (m.1 - r).abs() < 1e-9,
            "{name}: metrics {} vs report {r}",
            m.1
        );
        assert!((0.99..=1.05).contains(&r), "{name}: {r} WAN copies");
    }

    // Devices: six enrolled and online, two per office, one version.
    let enrolled = samples(&s, "p2pd_devices_enrolled");
    assert_eq!(enrolled.iter().map(|x| x.1).sum::<f64>(), 6.0, "{text}");
    for (l, v) in &enrolled {
        assert_eq!(*v, 2.0, "{l:?}");
        assert_eq!(l.get("version"), Some(p2pd::VERSION));
    }
    let online: f64 = samples(&s, "p2pd_devices_online").iter().map(|x| x.1).sum();
    assert_eq!(online, 6.0);

    // One election per office, no failover, no ban, no refusal.
    let one = |name: &str| -> f64 {
        let v = samples(&s, name);
        assert_eq!(v.len(), 1, "{name} missing:\n{text}");
        v[0].1
    };
    assert_eq!(one("p2pd_leader_elections_total"), 3.0);
    assert_eq!(one("p2pd_leader_failovers_total"), 0.0);
    assert_eq!(one("p2pd_bans_total"), 0.0);
    assert_eq!(one("p2pd_key_mismatch_refusals_total"), 0.0);

    // Latency by route template (never a raw path with ids in it), and
    // write batches.
    let routes: Vec<&str> = s
        .samples
        .iter()
        .filter(|x| x.metric == "p2pd_http_request_duration_seconds")
        .filter_map(|x| x.labels.get("route"))
        .collect();
    assert!(routes.contains(&"/v1/heartbeat"), "{routes:?}");
    assert!(routes.contains(&"/v1/contents/:id/sources"), "{routes:?}");
    assert!(
        routes.iter().all(|r| !r.contains(&id[..12])),
        "a route label holds a content id: {routes:?}"
    );
    assert!(
        s.samples.iter().any(|x| x.metric == "p2pd_db_write_batch_rows"
            && x.labels.get("op") == Some("report")),
        "no write-batch histogram for reports"
    );
    // No device id in any label.
    for a in &net.agents {
        let d = a.device_id().unwrap();
        assert!(!text.contains(&d), "device id {d} appears in /metrics");
    }

    // The agent's own counters match its transfer log.
    let branch = net.agents.iter().find(|a| a.name == "o3d1").unwrap();
    let err = std::fs::read_to_string(branch.dir.join("agent.err")).unwrap();
    let at = err
        .find("metrics at http://")
        .expect("the agent names its metrics address");
    let url = err[at + "metrics at ".len()..]
        .split_whitespace()
        .next()
        .unwrap();
    let (status, text) = scrape(url, None);
    assert_eq!(status, 200);
    let s = parse(&text);
    let mut logged: HashMap<String, f64> = HashMap::new();
    for v in branch.log() {
        if v["dir"] == "in" && v["ok"] == serde_json::Value::Bool(true) {
            *logged
                .entry(v["tier"].as_str().unwrap().to_string())
                .or_default() += v["bytes"].as_f64().unwrap();
        }
    }
    let got: HashMap<String, f64> = samples(&s, "p2pd_agent_received_bytes_total")
        .into_iter()
        .map(|(l, v)| (l.get("tier").unwrap().to_string(), v))
        .collect();
    assert_eq!(got, logged, "agent metrics vs its transfers.log");
    assert!(got.values().sum::<f64>() >= (6 * MIB) as f64);
}

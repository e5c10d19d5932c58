//! `p2pd explain` after real loopback distributions: the no-office, VPN,
//! parent-office and failover cases name the right reasons.

use std::time::Duration;

use crate::common::*;

fn explain(net: &Net, device: &str) -> serde_json::Value {
    let out = ok(
        &net.server_dir,
        &["explain", "--device", device, "--content", "app", "--json"],
    );
    serde_json::from_str(&out).unwrap()
}

fn tier<'a>(e: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    e["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tier"] == name)
}

fn reasons(t: &serde_json::Value) -> String {
    t["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The address of an office's leader, from `report --json`.
fn leader_addr(net: &Net, office: &str) -> String {
    let r = net.report();
    let o = r[0]["offices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["office"] == office)
        .unwrap_or_else(|| panic!("no office {office} in {r}"));
    let l = o["leader"].as_str().expect("a leader");
    l.split(' ').next().unwrap().to_string()
}

#[test]
fn explain_names_the_no_office_and_vpn_reasons() {
    let mut net = Net::new(&[
        ("Central", "", "default", "127.1.1.0/24", ""),
        ("Remote", "Central", "vpn", "127.1.5.0/24", ""),
    ]);
    net.start_serve();
    net.add_agent("hq", "127.1.1.70", "g", &[]);
    net.add_agent("vpn1", "127.1.5.71", "g", &[]);
    net.add_agent("lost", "127.1.9.73", "g", &[]);
    net.publish("app", 3 * MIB, 31);
    assert!(net.wait_delivered(&net.all(), "app.bin", Duration::from_secs(60)));
    std::thread::sleep(Duration::from_millis(2500));

    // No office: the address matches no range, so CDN / storage only.
    let e = explain(&net, "127.1.9.73");
    assert!(e["office"]["office"].is_null(), "{e}");
    let why = e["office"]["reason"].as_str().unwrap();
    assert!(why.contains("127.1.9.73 is in no office's range"), "{why}");
    assert!(
        why.contains("127.1.5.0/24 (Remote)"),
        "nearest range: {why}"
    );
    let tiers: Vec<&str> = e["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tier"].as_str().unwrap())
        .collect();
    assert_eq!(tiers, ["cdn"], "{e}");
    let r = reasons(tier(&e, "cdn").unwrap());
    assert!(r.contains("no-office client"), "{r}");
    assert!(
        e["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["role"] == "solo"),
        "{e}"
    );

    // VPN: placed by its range, no peering, fetches from the parent office.
    let e = explain(&net, "127.1.5.71");
    assert_eq!(e["office"]["office"], "Remote");
    assert_eq!(e["office"]["range"], "127.1.5.0/24");
    let why = e["office"]["reason"].as_str().unwrap();
    assert!(
        why.contains("is in range 127.1.5.0/24 of office Remote"),
        "{why}"
    );
    assert!(why.contains("VPN office"), "{why}");
    assert!(tier(&e, "lan").is_none(), "a VPN device got LAN bytes: {e}");
    let used: Vec<String> = e["tiers"].as_array().unwrap().iter().map(reasons).collect();
    assert!(!used.is_empty());
    for r in &used {
        assert!(r.contains("office Remote is a VPN office"), "{r}");
        assert!(r.contains("parent office Central"), "{r}");
    }

    // People get the same in words.
    let text = ok(
        &net.server_dir,
        &["explain", "--device", "127.1.5.71", "--content", "app"],
    );
    assert!(
        text.contains("office   Remote: address 127.1.5.71"),
        "{text}"
    );
    assert!(text.contains("why: "), "{text}");

    // A hostname several devices share is refused, naming the matches.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    let (code, _, err) = p2pd(
        &net.server_dir,
        &["explain", "--device", &host, "--content", "app"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("matches 3 devices"), "{err}");
    let (code, _, err) = p2pd(
        &net.server_dir,
        &["explain", "--device", "nosuchhost", "--content", "app"],
    );
    assert_eq!(code, 2);
    assert!(err.contains("no device matches 'nosuchhost'"), "{err}");
}

#[test]
fn explain_says_the_parent_office_had_no_online_device_so_the_leader_went_to_the_server() {
    // Central has no devices: Regional's leader must go to the server, and
    // Branch's leader to Regional.
    let mut net = Net::new(&[
        ("Central", "", "default", "127.1.1.0/24", ""),
        ("Regional", "Central", "default", "127.1.2.0/24", ""),
        ("Branch", "Regional", "default", "127.1.3.0/24", ""),
    ]);
    net.start_serve();
    for office in 2..=3 {
        for d in 1..=2 {
            net.add_agent(
                &format!("o{office}d{d}"),
                &format!("127.1.{office}.{}", 40 + d),
                "g",
                &[],
            );
        }
    }
    net.publish("app", 4 * MIB, 32);
    assert!(net.wait_delivered(&net.all(), "app.bin", Duration::from_secs(60)));
    std::thread::sleep(Duration::from_millis(2500));

    let regional = leader_addr(&net, "Regional");
    let e = explain(&net, &regional);
    let server = tier(&e, "server").unwrap_or_else(|| panic!("no server bytes: {e}"));
    assert!(server["bytes"].as_u64().unwrap() >= (4 * MIB) as u64);
    let r = reasons(server);
    assert!(
        r.contains("parent office Central had no online device at")
            && r.contains("so the leader went to the server"),
        "{r}"
    );
    assert!(
        e["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["kind"] == "election" && t["reason"].as_str().unwrap().contains(&regional)),
        "the election of {regional} is not in the timeline: {e}"
    );

    let branch = leader_addr(&net, "Branch");
    let e = explain(&net, &branch);
    let parent = tier(&e, "parent").unwrap_or_else(|| panic!("no parent bytes: {e}"));
    let r = reasons(parent);
    assert!(r.contains("leader of Branch"), "{r}");
    assert!(r.contains("parent office Regional had"), "{r}");
    assert!(!parent["sources"].as_array().unwrap().is_empty());

    let follower = if branch == "127.1.3.41" {
        "127.1.3.42"
    } else {
        "127.1.3.41"
    };
    let e = explain(&net, follower);
    let r = reasons(tier(&e, "lan").unwrap_or_else(|| panic!("no LAN bytes: {e}")));
    assert!(r.contains("follower in Branch"), "{r}");
    assert!(r.contains(&branch), "the leader is named: {r}");
    assert!(
        tier(&e, "server").is_none() && tier(&e, "parent").is_none(),
        "{e}"
    );
}

#[test]
fn explain_names_the_failover_when_the_leader_dies() {
    let mut net = Net::new(&[("Central", "", "default", "127.1.1.0/24", "32000")]);
    net.start_serve();
    for d in 1..=3 {
        net.add_agent(&format!("d{d}"), &format!("127.1.1.{}", 50 + d), "g", &[]);
    }
    eventually("agents enrolled", Duration::from_secs(10), || {
        net.agents.iter().all(|a| a.device_id().is_some())
    });
    let (id, _) = net.publish("app", 16 * MIB, 33);
    let li = net.leader_with_pieces(&id, Duration::from_secs(30));
    let dead = net.agents[li].ip.clone();
    net.agents[li].kill();
    let rest: Vec<usize> = (0..3).filter(|&i| i != li).collect();
    assert!(net.wait_delivered(&rest, "app.bin", Duration::from_secs(90)));
    std::thread::sleep(Duration::from_millis(2500));

    let survivor = net.agents[rest[0]].ip.clone();
    let e = explain(&net, &survivor);
    let failovers = e["failovers"].as_array().unwrap();
    assert!(!failovers.is_empty(), "no failover recorded: {e}");
    let r = failovers[0]["reason"].as_str().unwrap();
    assert!(
        r.contains(&format!("({dead}, ")),
        "the dead leader is named: {r}"
    );
    assert!(
        r.contains("went offline")
            || r.contains("stalled")
            || r.contains("reported unreachable by its followers"),
        "the failover says why: {r}"
    );
    assert!(r.contains("took over Central"), "{r}");
    // The survivor's timeline shows the leader changing.
    let leaders: std::collections::HashSet<String> = e["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == "sources")
        .filter_map(|t| t["leader"].as_str().map(str::to_string))
        .collect();
    assert!(leaders.len() >= 2, "one leader only in the timeline: {e}");
    assert!(leaders.iter().any(|l| l.contains(&dead)), "{leaders:?}");
}

#[cfg(feature = "fault-injection")]
#[test]
fn explain_names_the_ban_and_the_failover_it_caused() {
    // 8 Mbit/s into the office: the followers, going around the corrupt
    // leader (design note `key-holders`), are still downloading when its ban lands, so they
    // ask for sources again and a new leader is named.
    let mut net = Net::new(&[("Central", "", "default", "127.1.1.0/24", "8000")]);
    net.start_serve();
    let bad = net.add_agent("corrupt", "127.1.1.80", "g", &[("P2PD_FAULT_CORRUPT", "1")]);
    net.publish("app", 6 * MIB, 34);
    // The corrupt device leads and gets the file first; it lies only when serving.
    assert!(net.wait_delivered(&[bad], "app.bin", Duration::from_secs(60)));
    let good1 = net.add_agent("good1", "127.1.1.81", "g", &[]);
    let good2 = net.add_agent("good2", "127.1.1.82", "g", &[]);
    assert!(net.wait_delivered(&[good1, good2], "app.bin", Duration::from_secs(90)));
    std::thread::sleep(Duration::from_millis(2500));

    let e = explain(&net, "127.1.1.80");
    let bans = e["bans"].as_array().unwrap();
    assert!(
        bans.iter().any(|b| b["kind"] == "banned"
            && b["reason"]
                .as_str()
                .unwrap()
                .contains("this device was banned from serving app")),
        "{e}"
    );
    let failovers = e["failovers"].as_array().unwrap();
    assert!(
        failovers.iter().any(|f| {
            let r = f["reason"].as_str().unwrap();
            r.contains("(127.1.1.80, ") && r.contains("was banned for sending a bad piece")
        }),
        "the failover names the ban: {e}"
    );

    // The device that reported it sees the same ban from its side.
    let reporters: Vec<serde_json::Value> = ["127.1.1.81", "127.1.1.82"]
        .iter()
        .map(|d| explain(&net, d))
        .collect();
    assert!(
        reporters
            .iter()
            .any(|e| e["bans"].as_array().unwrap().iter().any(|b| {
                b["kind"] == "reported" && b["reason"].as_str().unwrap().contains("(127.1.1.80, ")
            })),
        "no reporter's explain shows the ban: {reporters:?}"
    );
}

#[test]
fn explain_says_when_the_admin_excluded_the_leader() {
    let mut net = Net::new(&[("Central", "", "default", "127.1.1.0/24", "32000")]);
    net.start_serve();
    for d in 1..=3 {
        net.add_agent(&format!("d{d}"), &format!("127.1.1.{}", 100 + d), "g", &[]);
    }
    eventually("agents enrolled", Duration::from_secs(10), || {
        net.agents.iter().all(|a| a.device_id().is_some())
    });
    net.publish("app", 16 * MIB, 35);
    let mut leader = None;
    eventually("a leader", Duration::from_secs(30), || {
        let r = net.report();
        leader = r[0]["offices"][0]["leader"].as_str().and_then(|l| {
            net.agents
                .iter()
                .filter_map(|a| a.device_id())
                .find(|d| l.contains(&d[..8]))
        });
        leader.is_some()
    });
    let leader = leader.unwrap();
    ok(&net.server_dir, &["devices", "exclude", &leader]);
    assert!(net.wait_delivered(&net.all(), "app.bin", Duration::from_secs(90)));
    std::thread::sleep(Duration::from_millis(2500));

    let e = explain(&net, &leader);
    let failovers = e["failovers"].as_array().unwrap();
    assert!(
        failovers.iter().any(|f| {
            let r = f["reason"].as_str().unwrap();
            r.contains(&format!(", {})", &leader[..8]))
                && r.contains("was excluded from leading by the admin")
        }),
        "no failover names the exclusion: {e}"
    );
}

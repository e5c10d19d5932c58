//! Devices that move (design note `devices-move`), on loopback: a laptop
//! changes address mid-download (`P2PD_FAULT_SOURCE_FILE` stands in for
//! DHCP or a walk to another office, since a test cannot re-address an
//! interface here). Its office follows within a heartbeat, its leadership
//! of the old office is handed over at once, and in the new office it
//! takes from the LAN what the LAN already holds.

use std::time::{Duration, Instant};

use crate::common::*;

/// HQ (the server's office) with two branches: A, whose WAN is capped so
/// that a download lasts a few seconds, and B.
fn branches() -> Net {
    Net::new(&[
        ("HQ", "", "default", "127.1.9.0/24", ""),
        ("A", "HQ", "default", "127.1.1.0/24", "24000"),
        ("B", "HQ", "default", "127.1.2.0/24", ""),
    ])
}

/// A device at `ip` whose address is what `addr_file` says (starting as
/// `ip`), listening on the wildcard so that any loopback address reaches it.
fn moving_agent(net: &mut Net, name: &str, ip: &str) -> (usize, std::path::PathBuf) {
    let addr_file = net.root.path().join(format!("{name}.addr"));
    std::fs::write(&addr_file, ip).unwrap();
    let mut a = Agent::new(
        name,
        ip,
        net.root.path().join("agents").join(name),
        "g",
        net.server_dir.join("shared.key"),
    );
    a.wildcard = true;
    a.env = vec![(
        "P2PD_FAULT_SOURCE_FILE".into(),
        addr_file.display().to_string(),
    )];
    net.agents.push(a);
    let i = net.agents.len() - 1;
    net.start_agent(i);
    (i, addr_file)
}

/// The office `device` is placed in, from `devices list --json`.
fn office_of(net: &Net, device: &str) -> Option<String> {
    let out = ok(&net.server_dir, &["devices", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v.as_array()?
        .iter()
        .find(|d| d["device_id"] == device)
        .and_then(|d| d["office"].as_str().map(str::to_string))
}

/// Verified pieces `a` received from outside its office (any tier but the
/// LAN) after `since` (unix seconds).
fn wan_pieces_after(a: &Agent, since: f64) -> usize {
    a.log()
        .iter()
        .filter(|l| l["dir"] == "in" && l["ok"] == true && l["tier"] != "lan")
        .filter(|l| l["at"].as_f64().unwrap_or(0.0) > since)
        .count()
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The leader of office A walks to office B mid-download: it is re-placed
/// in B, A gets a new leader at once (reason "moved"), B's LAN gives it
/// what B holds (nothing more over a WAN), and both finish with the right
/// bytes. `explain` tells the move.
#[test]
fn a_leader_that_walks_to_another_office_is_replaced_and_fetches_from_its_new_lan() {
    let mut net = branches();
    net.start_serve();
    let (id, _) = net.publish("app", 16 * MIB, 41);
    // B has the package already.
    net.add_agent("b1", "127.1.2.11", "g", &[]);
    net.add_agent("b2", "127.1.2.12", "g", &[]);
    assert!(
        net.wait_delivered(&[0, 1], "app.bin", Duration::from_secs(60)),
        "office B did not get the package"
    );
    // A: the laptop leads (it starts first), a desktop follows.
    let (laptop, addr_file) = moving_agent(&mut net, "laptop", "127.1.1.11");
    eventually("the laptop leads A", Duration::from_secs(20), || {
        net.agents[laptop]
            .log()
            .iter()
            .any(|l| l["dir"] == "in" && l["ok"] == true && l["tier"] != "lan")
    });
    let desk = net.add_agent("desk", "127.1.1.12", "g", &[]);
    let laptop_id = net.agents[laptop].device_id().unwrap();
    assert_eq!(office_of(&net, &laptop_id).as_deref(), Some("A"));
    // Mid-download (the cap makes 16 MiB take over 5 s), it walks to B.
    eventually(
        "the laptop holds a few pieces",
        Duration::from_secs(30),
        || wan_pieces_after(&net.agents[laptop], 0.0) >= 3,
    );
    assert!(
        find_delivered(&net.agents[laptop].dir, "app.bin").is_none(),
        "the laptop finished before it could move; the test needs a slower WAN"
    );
    let moved_at = unix_now();
    let t = Instant::now();
    std::fs::write(&addr_file, "127.1.2.50").unwrap();
    eventually("the laptop is placed in B", Duration::from_secs(15), || {
        office_of(&net, &laptop_id).as_deref() == Some("B")
    });
    let placed_after = t.elapsed();
    let serve_log = || std::fs::read_to_string(net.root.path().join("serve.log")).unwrap();
    let handed_over = |log: &str| {
        log.lines().any(|l| {
            l.contains("new leader") && l.contains("reason=\"moved\"") && l.contains(&laptop_id)
        })
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while !handed_over(&serve_log()) {
        assert!(
            Instant::now() < deadline,
            "A got no new leader for the move: {}",
            serve_log()
                .lines()
                .filter(|l| l.contains("leader") || l.contains("moved"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        net.wait_delivered(&[laptop, desk], "app.bin", Duration::from_secs(90)),
        "a device did not finish after the move"
    );
    net.assert_all_hold("app.bin", &id);
    // In B it took what B holds from B's LAN: after its move was seen
    // (plus the requests already in flight), nothing from outside.
    let settle = moved_at + placed_after.as_secs_f64() + 2.0;
    let late: Vec<serde_json::Value> = net.agents[laptop]
        .log()
        .into_iter()
        .filter(|l| l["dir"] == "in" && l["ok"] == true && l["tier"] != "lan")
        .filter(|l| l["at"].as_f64().unwrap_or(0.0) > settle)
        .collect();
    assert!(
        late.is_empty(),
        "moved at {moved_at:.3}, placed within {placed_after:?}; the laptop then pulled \
         over a WAN what office B's LAN held: {late:?}\n{}",
        std::fs::read_to_string(net.agents[laptop].dir.join("agent.err")).unwrap()
    );
    // The desk led A after the laptop left; A took in about one copy.
    assert!(wan_pieces_after(&net.agents[desk], 0.0) > 0);
    // One device, one licence, whatever its addresses were.
    let lic: serde_json::Value =
        serde_json::from_str(&ok(&net.server_dir, &["licenses", "--format", "json"])).unwrap();
    assert_eq!(lic.as_array().unwrap().len(), 4, "{lic:#}");
    let out = ok(
        &net.server_dir,
        &["explain", "--device", &laptop_id, "--content", &id],
    );
    assert!(
        out.contains("moved from office A (127.1.1.11) to office B (127.1.2.50)")
            && out.contains("already held"),
        "{out}"
    );
}

/// DHCP gives a device a new address in the same office mid-download: it
/// stays in its office, peers are told its new address, it finishes, and
/// nothing restarts it.
#[test]
fn a_device_renumbered_by_dhcp_keeps_its_office_and_finishes() {
    let mut net = branches();
    net.start_serve();
    let (id, _) = net.publish("app", 12 * MIB, 42);
    let (a1, file1) = moving_agent(&mut net, "a1", "127.1.1.21");
    let (a2, _) = moving_agent(&mut net, "a2", "127.1.1.22");
    eventually("both enrolled", Duration::from_secs(20), || {
        net.agents.iter().all(|a| a.device_id().is_some())
    });
    let a1_id = net.agents[a1].device_id().unwrap();
    eventually("a download under way", Duration::from_secs(30), || {
        net.agents.iter().any(|a| wan_pieces_after(a, 0.0) >= 2)
    });
    std::fs::write(&file1, "127.1.1.121").unwrap();
    eventually("the new address is known", Duration::from_secs(15), || {
        let out = ok(&net.server_dir, &["devices", "list", "--json"]);
        out.contains("127.1.1.121")
    });
    assert_eq!(office_of(&net, &a1_id).as_deref(), Some("A"));
    assert!(
        net.wait_delivered(&[a1, a2], "app.bin", Duration::from_secs(90)),
        "a device did not finish after the renumbering"
    );
    net.assert_all_hold("app.bin", &id);
    let log = std::fs::read_to_string(net.agents[a1].dir.join("agent.err")).unwrap();
    assert!(log.contains("addresses changed"), "{log}");
    assert_eq!(
        log.matches("listening on").count(),
        1,
        "the agent restarted: {log}"
    );
}

/// A device whose peers cannot reach it (here its advertised peer port
/// refuses every connection, as a host firewall would) still gets the
/// package, is never elected leader although it starts first, and
/// `explain` and `devices list` say why.
#[test]
fn a_device_its_peers_cannot_reach_downloads_but_never_leads() {
    let mut net = Net::new(&[("A", "", "default", "127.1.1.0/24", "")]);
    net.start_serve();
    let (id, _) = net.publish("app", 6 * MIB, 43);
    let refused = RefusedPort::new();
    let advertise = format!("127.1.1.33:{}", refused.port);
    let walled = net.add_agent_with_args(
        "walled",
        "127.1.1.33",
        "g",
        &[],
        &["--advertise", &advertise],
    );
    let others: Vec<usize> = (1..=3)
        .map(|k| net.add_agent(&format!("d{k}"), &format!("127.1.1.{}", 40 + k), "g", &[]))
        .collect();
    let mut all = others.clone();
    all.push(walled);
    assert!(
        net.wait_delivered(&all, "app.bin", Duration::from_secs(60)),
        "not every device got the package"
    );
    net.assert_all_hold("app.bin", &id);
    let walled_id = net.agents[walled].device_id().unwrap();
    let serve_log = std::fs::read_to_string(net.root.path().join("serve.log")).unwrap();
    let led: Vec<&str> = serve_log
        .lines()
        .filter(|l| l.contains("new leader") && l.contains(&format!("device={walled_id}")))
        .collect();
    assert!(led.is_empty(), "the unreachable device led: {led:?}");
    let out = ok(
        &net.server_dir,
        &["explain", "--device", &walled_id, "--content", &id],
    );
    assert!(out.contains("unreachable by its peers since"), "{out}");
    let list = ok(&net.server_dir, &["devices", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&list).unwrap();
    let row = v
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["device_id"] == walled_id.as_str())
        .unwrap();
    assert!(row["unreachable"].is_string(), "{row}");
    // Its peers asked it for nothing they got: it served no piece.
    assert!(
        net.agents[walled].log().iter().all(|l| l["dir"] != "out"),
        "the unreachable device served pieces"
    );
}

/// The multi-homed rule, end to end (`topology/placing.rs` has it case by
/// case): with claimed addresses trusted, a laptop on the VPN that also
/// has an address in office A's range is placed in A, where its peers are;
/// one with only the VPN address is in the VPN office. Without trust, the
/// address a device connects from places it, whatever it claims.
#[test]
fn a_device_with_an_office_address_and_a_vpn_address_is_placed_in_the_office() {
    let mut net = Net::new(&[
        ("HQ", "", "default", "127.1.9.0/24", ""),
        ("A", "HQ", "default", "127.1.1.0/24", ""),
        ("VPN", "HQ", "vpn", "127.1.8.0/24", ""),
    ]);
    ok(
        &net.server_dir,
        &["settings", "set", "trust_claimed_addresses", "on"],
    );
    net.start_serve();
    let refused = RefusedPort::new();
    // Wi-Fi in A (listed first, as its advertised address), connecting
    // through the VPN adapter.
    let advertise = format!("127.1.1.60:{}", refused.port);
    let both =
        net.add_agent_with_args("both", "127.1.8.60", "g", &[], &["--advertise", &advertise]);
    let vpn_only = net.add_agent("vpn-only", "127.1.8.61", "g", &[]);
    eventually("both enrolled", Duration::from_secs(15), || {
        net.agents.iter().all(|a| a.device_id().is_some())
    });
    let both_id = net.agents[both].device_id().unwrap();
    let vpn_id = net.agents[vpn_only].device_id().unwrap();
    eventually("placed by the rule", Duration::from_secs(15), || {
        office_of(&net, &both_id).as_deref() == Some("A")
            && office_of(&net, &vpn_id).as_deref() == Some("VPN")
    });
    // Claims no longer trusted: the next heartbeat places it by the
    // address it connects from, the VPN's.
    ok(
        &net.server_dir,
        &["settings", "set", "trust_claimed_addresses", "off"],
    );
    eventually("placed by its source", Duration::from_secs(20), || {
        office_of(&net, &both_id).as_deref() == Some("VPN")
    });
}

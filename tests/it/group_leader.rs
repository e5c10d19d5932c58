//! Design note `key-holders`, finding 10, end to end: a package targeted at one group is
//! led by a device of that group, even when a device of another group in
//! the same office would win the election (the admin prefers it). It used
//! to lead, fetch nothing, and hold the office up until the stall rule
//! replaced it (65–70 s at a 10 s heartbeat; 10 s or more here).

use std::time::{Duration, Instant};

use crate::common::*;

#[test]
fn a_package_for_one_group_is_led_by_that_group_even_if_another_device_is_preferred() {
    let mut net = Net::new(&[("Office", "", "default", "127.1.31.0/24", "")]);
    ok(&net.server_dir, &["groups", "assign", "Laptops"]);
    ok(&net.server_dir, &["groups", "assign", "Secret"]);
    net.start_serve();
    let laptop = net.add_agent("laptop", "127.1.31.10", "Laptops", &[]);
    eventually("the laptop enrolled", Duration::from_secs(15), || {
        net.agents[laptop].device_id().is_some()
    });
    let id = net.agents[laptop].device_id().unwrap();
    ok(&net.server_dir, &["devices", "prefer", &id]);
    let secret = net.add_agent("secret", "127.1.31.11", "Secret", &[]);
    eventually(
        "the secret device enrolled",
        Duration::from_secs(15),
        || net.agents[secret].device_id().is_some(),
    );

    let data = package_bytes(MIB, 77);
    let path = net.storage.join("classified/1.0/classified.bin");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &data).unwrap();
    ok(&net.server_dir, &["publish", "--all", "--groups", "Secret"]);
    let t = Instant::now();
    // Well inside the 10 s a stalled leader is given at a 1 s heartbeat.
    assert!(
        net.wait_delivered(&[secret], "classified.bin", Duration::from_secs(8)),
        "the Secret device did not get its package within 8 s: was the Laptops device its leader?"
    );
    eprintln!("delivered after {:?}", t.elapsed());
    assert_eq!(
        sha256_hex(&net.agents[secret].delivered("classified.bin").unwrap()),
        sha256_hex(&data)
    );
    assert!(net.agents[laptop].delivered("classified.bin").is_none());
    // The laptop was never offered as a source of it: the Secret device
    // fetched nothing from it.
    let from_laptop = net.agents[secret]
        .log()
        .into_iter()
        .filter(|v| v["dir"] == "in" && v["source"].as_str() == Some(id.as_str()))
        .count();
    assert_eq!(from_laptop, 0);
}

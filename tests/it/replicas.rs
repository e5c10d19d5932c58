//! Scale-out (design note `replicas`), end to end: an SQLite install copied to
//! PostgreSQL with `db copy`, two `serve` replicas on that database, three
//! offices of agents given both URLs, one replica killed mid-distribution.
//! PostgreSQL is `P2PD_TEST_DATABASE_URL` or a private instance this test
//! starts (never skipped). Loopback only.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

const MIB: usize = 1 << 20;

/// A serve replica on the shared database; killed when dropped.
struct Replica {
    child: Option<Child>,
    /// The port it bound (it starts on port 0).
    port: u16,
}

impl Replica {
    fn start(dir: &Path, url: &str, log_path: &Path) -> Replica {
        let log = std::fs::File::create(log_path).unwrap();
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(dir)
            .env("P2PD_DATABASE_URL", url)
            .env("P2PD_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        let addr = loop {
            let text = std::fs::read_to_string(log_path).unwrap_or_default();
            if let Some(a) = listening_on(&text) {
                break a;
            }
            if let Ok(Some(st)) = child.try_wait() {
                panic!("replica exited ({st}) before listening:\n{text}");
            }
            assert!(Instant::now() < deadline, "replica did not start:\n{text}");
            std::thread::sleep(Duration::from_millis(20));
        };
        Replica {
            child: Some(child),
            port: addr.port(),
        }
    }

    /// SIGKILL: no clean shutdown, no goodbye to the database.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What a second replica's data dir needs from the first: the database
/// key only (it unseals the shared key and the server CA's private key,
/// both in the database).
fn copy_replica_files(from: &Path, to: &Path) {
    std::fs::copy(from.join("db.key"), to.join("db.key")).expect("copy db.key");
}

/// Both replicas present certificates from the same CA: a client that
/// trusts only the first replica's `ca.pem` completes a TLS handshake with
/// each (any HTTP answer will do), and serve wrote the same public
/// `ca.pem` into each data dir. No CA private key is left in either.
fn same_ca(dir_a: &Path, dir_b: &Path, ports: [u16; 2]) {
    let client = https_client(dir_a);
    for port in ports {
        let r = client
            .get(format!("https://127.0.0.1:{port}/v1/status"))
            .send();
        assert!(r.is_ok(), "replica on port {port}: {r:?}");
    }
    assert_eq!(
        std::fs::read_to_string(dir_a.join("ca.pem")).unwrap(),
        std::fs::read_to_string(dir_b.join("ca.pem")).unwrap(),
        "the replicas' CA certificates differ"
    );
    for d in [dir_a, dir_b] {
        assert!(!d.join("ca.key").exists(), "{} holds ca.key", d.display());
    }
}

/// `health --json` against `server`, whatever its verdict.
fn health(dir: &Path, url: &str, server: &str) -> serde_json::Value {
    let out = Command::new(BIN)
        .args(["health", "--json", "--database", url, "--server", server])
        .arg("--data-dir")
        .arg(dir)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "health printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn with_db(dir: &Path, url: &str, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .arg("--database")
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "p2pd {args:?} --database failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `p2pd install` of `dir` on the database `url`, with file storage in
/// `root/storage`.
fn install_on(dir: &Path, url: &str, root: &Path) {
    let storage = root.join("storage");
    std::fs::create_dir_all(&storage).unwrap();
    with_db(
        dir,
        url,
        &[
            "install",
            "--server-name",
            "127.0.0.1",
            "--port",
            "7650",
            "--file-storage",
            storage.to_str().unwrap(),
        ],
    );
}

#[test]
fn two_replicas_one_killed_every_device_completes_one_wan_copy_per_office() {
    let url = p2pd::store::testing::database_url();
    // WAN caps make the distribution last long enough to kill a replica in
    // the middle of it.
    let mut net = Net::new(&[
        ("Central", "", "default", "127.1.1.0/24", "40000"),
        ("Regional", "Central", "default", "127.1.2.0/24", "40000"),
        ("Branch", "Regional", "default", "127.1.3.0/24", "40000"),
    ]);
    let size = 12 * MIB + 4321;
    let (id, data) = net.publish("app", size, 15);

    // Move up: the SQLite install into the empty PostgreSQL database.
    let copied = ok(&net.server_dir, &["db", "copy", "--to", &url, "--json"]);
    let copied: serde_json::Value = serde_json::from_str(&copied).unwrap();
    let rows = |t: &str| {
        copied["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["table"] == t)
            .unwrap()["rows"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(
        (rows("offices"), rows("contents"), rows("groups")),
        (3, 1, 1)
    );
    // The server CA went along (sealed with the db.key the copy made).
    assert_eq!(rows("server_ca"), 1);

    // Replica B: its own data dir with the database key only (the CA is in
    // the database).
    let dir_b = net.root.path().join("replica-b");
    std::fs::create_dir_all(&dir_b).unwrap();
    copy_replica_files(&net.server_dir, &dir_b);
    let mut a = Replica::start(&net.server_dir, &url, &net.root.path().join("serve-a.log"));
    let b = Replica::start(&dir_b, &url, &net.root.path().join("serve-b.log"));
    let port_b = b.port;
    // Agents' first --server is replica A (the harness's URL).
    net.port = a.port;
    same_ca(&net.server_dir, &dir_b, [a.port, port_b]);
    eventually("both replicas recorded", Duration::from_secs(10), || {
        let h = health(
            &net.server_dir,
            &url,
            &format!("https://127.0.0.1:{}", net.port),
        )
        .to_string();
        h.contains(&format!("127.0.0.1:{}", net.port)) && h.contains(&format!("127.0.0.1:{port_b}"))
    });

    // Every agent gets both URLs (its --server A from the harness, plus B).
    let b_url = format!("https://127.0.0.1:{port_b}");
    for office in 1..=3 {
        for d in 1..=3 {
            net.add_agent_with_args(
                &format!("o{office}d{d}"),
                &format!("127.1.{office}.{}", 10 + d),
                "g",
                &[],
                &["--server", &b_url],
            );
        }
    }

    // The fleet spreads over both replicas (each agent records where it
    // enrolled).
    eventually("agents enrolled", Duration::from_secs(20), || {
        net.agents.iter().all(|a| a.device_id().is_some())
    });
    let enrolled_at: HashSet<String> = net
        .agents
        .iter()
        .map(|ag| {
            let v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(ag.dir.join("agent.json")).unwrap()).unwrap();
            v["server"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(enrolled_at.len(), 2, "agents enrolled at {enrolled_at:?}");

    // Leaders as the database sees them, sampled throughout.
    let st =
        p2pd::store::Store::open_location(&p2pd::store::Location::Postgres(url.clone()), false)
            .unwrap();
    let mut seen: HashMap<i64, HashSet<(String, i64)>> = HashMap::new();
    let sample = |seen: &mut HashMap<i64, HashSet<(String, i64)>>| {
        for (office, _) in st.leaders(&id).unwrap() {
            if let Some(l) = st.leader_lease(&id, office).unwrap() {
                seen.entry(office)
                    .or_default()
                    .insert((l.device_id, l.epoch));
            }
        }
    };

    // Kill replica A once the distribution is under way (some device
    // holds pieces, none is done).
    let started = Instant::now();
    loop {
        sample(&mut seen);
        let moving = net.agents.iter().any(|ag| {
            std::fs::metadata(ag.dir.join("pieces").join(&id).join("journal"))
                .is_ok_and(|m| m.len() >= 4 * 2)
        });
        if moving {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the distribution never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !net.agents
            .iter()
            .any(|ag| ag.delivered("app.bin").is_some()),
        "too late to kill a replica mid-distribution"
    );
    a.kill();

    let deadline = Instant::now() + Duration::from_secs(120);
    while !net.wait_delivered(&net.all(), "app.bin", Duration::from_millis(200)) {
        sample(&mut seen);
        assert!(Instant::now() < deadline, "not every device completed");
    }
    for ag in &net.agents {
        let got = ag.delivered("app.bin").unwrap();
        assert_eq!(got.len(), data.len());
        assert_eq!(sha256_hex(&got), id, "{} holds a wrong file", ag.name);
    }
    std::thread::sleep(Duration::from_millis(2500));

    // Bytes that entered each office from outside, from the agents' logs.
    let mut outside: HashMap<String, u64> = HashMap::new();
    let mut pullers: HashMap<String, HashSet<String>> = HashMap::new();
    for ag in &net.agents {
        let office = ag.ip.split('.').nth(2).unwrap().to_string();
        for v in ag.log() {
            if v["dir"] != "in" || v["ok"] != true || v["tier"] == "lan" {
                continue;
            }
            *outside.entry(office.clone()).or_default() += v["bytes"].as_u64().unwrap();
            pullers
                .entry(office.clone())
                .or_default()
                .insert(ag.name.clone());
        }
    }
    for office in ["1", "2", "3"] {
        let b = outside.get(office).copied().unwrap_or(0);
        let copies = b as f64 / size as f64;
        assert!(
            (1.0..=1.05).contains(&copies),
            "office {office}: {copies:.3} WAN copies ({b} bytes from outside for {size})"
        );
    }

    // Exactly one leader per office across both replicas: one election
    // each, no competing terms, and one device per office pulled from
    // outside. Without the election lock the two replicas, answering the
    // same office's devices at once, each elect their own.
    for office in st.offices().unwrap() {
        let elections = st.office_elections(&id, Some(office.id)).unwrap();
        assert_eq!(
            elections.len(),
            1,
            "office {}: elections {elections:?}",
            office.name
        );
        let terms = seen.get(&office.id).cloned().unwrap_or_default();
        assert_eq!(terms.len(), 1, "office {}: terms {terms:?}", office.name);
    }
    for (office, who) in &pullers {
        assert_eq!(who.len(), 1, "office {office}: {who:?} pulled from outside");
    }

    // The surviving replica is the only one `health` finds answering.
    let h = health(&net.server_dir, &url, &b_url);
    let rep = h["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "replicas")
        .unwrap()
        .clone();
    assert!(
        rep["detail"].as_str().unwrap().contains(&b_url),
        "health replicas: {rep}"
    );
    let db = h["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "database")
        .unwrap();
    assert!(
        db["detail"].as_str().unwrap().contains("postgresql"),
        "{db}"
    );
}

/// A new install straight on PostgreSQL; a second install on the same
/// database is refused; a `key regenerate` on one host reaches both
/// running replicas within seconds (health, signing with the new key,
/// gets a key match from each).
#[test]
fn install_on_postgres_and_key_regenerate_reaches_every_replica() {
    let url = p2pd::store::testing::database_url();
    let root = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (root.path().join("a"), root.path().join("b"));
    install_on(&dir_a, &url, root.path());
    assert!(dir_a.join("db.key").is_file() && dir_a.join("shared.key").is_file());
    let again = Command::new(BIN)
        .args(["install", "--database", &url, "--data-dir"])
        .arg(&dir_b)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a p2pd install"));
    assert!(!dir_b.exists(), "a refused install leaves nothing behind");
    std::fs::create_dir_all(&dir_b).unwrap();
    copy_replica_files(&dir_a, &dir_b);
    let a = Replica::start(&dir_a, &url, &root.path().join("a.log"));
    let b = Replica::start(&dir_b, &url, &root.path().join("b.log"));
    let (port_a, port_b) = (a.port, b.port);
    same_ca(&dir_a, &dir_b, [port_a, port_b]);
    let key_check = |port: u16| -> serde_json::Value {
        let h = health(&dir_a, &url, &format!("https://127.0.0.1:{port}"));
        h["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == "key")
            .unwrap()
            .clone()
    };
    assert_eq!(key_check(port_b)["status"], "pass", "{}", key_check(port_b));
    let out = with_db(&dir_a, &url, &["key", "regenerate", "--json"]);
    let fp = serde_json::from_str::<serde_json::Value>(&out).unwrap()["key_fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    for port in [port_a, port_b] {
        eventually(
            "the new key on every replica",
            Duration::from_secs(10),
            || {
                let c = key_check(port);
                c["status"] == "pass" && c["detail"].as_str().unwrap_or("").contains(&fp)
            },
        );
    }
}

/// `db copy` round trip: the topology export and the licenses report of
/// the SQLite install and of its PostgreSQL copy match byte for byte.
#[test]
fn db_copy_keeps_topology_export_and_licenses_byte_for_byte() {
    let url = p2pd::store::testing::database_url();
    let mut net = Net::new(&[
        ("HQ", "", "default", "127.1.1.0/24", "1000"),
        ("Zeta branch", "HQ", "wifi", "127.1.2.0/24", ""),
        ("alpha branch", "HQ", "vpn", "127.1.3.0/24", "64"),
    ]);
    net.start_serve();
    for (i, ip) in ["127.1.1.5", "127.1.2.5", "127.1.3.5"].iter().enumerate() {
        net.add_agent(&format!("Host{i}"), ip, "g", &[]);
    }
    eventually("agents enrolled", Duration::from_secs(20), || {
        net.agents.iter().all(|a| a.device_id().is_some())
    });
    net.stop_serve();
    for mut ag in std::mem::take(&mut net.agents) {
        ag.kill();
    }
    let export = |db: Option<&str>| -> (String, String) {
        let run = |args: &[&str]| match db {
            Some(u) => with_db(&net.server_dir, u, args),
            None => ok(&net.server_dir, args),
        };
        (
            run(&["topology", "export", "--format", "csv"]),
            run(&["licenses"]) + &run(&["licenses", "--json"]),
        )
    };
    let before = export(None);
    assert!(before.0.contains("Zeta branch") && before.1.contains("127.1.3.5"));
    ok(&net.server_dir, &["db", "copy", "--to", &url]);
    let after = export(Some(&url));
    assert_eq!(before.0, after.0, "topology export differs after the copy");
    assert_eq!(before.1, after.1, "licenses report differs after the copy");
    // A second copy into the same database refuses and changes nothing.
    let out = Command::new(BIN)
        .args(["db", "copy", "--to", &url])
        .arg("--data-dir")
        .arg(&net.server_dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already holds a p2pd install"));
    assert_eq!(export(Some(&url)), after);
}

/// `agent install` with two server URLs writes both into the service's
/// configuration (which the agent's --server reads as a list); a bad one
/// is refused by name and nothing is written.
#[test]
fn agent_install_writes_every_server_url() {
    let root = tempfile::tempdir().unwrap();
    let key = root.path().join("k.key");
    std::fs::write(&key, "RGh/H1iQbTlFjCWsWwDkQc/jE9dTi1k28qJFGEs22RY=\n").unwrap();
    let install = |servers: &[&str]| {
        let mut cmd = Command::new(BIN);
        cmd.args(["agent", "install"]);
        for s in servers {
            cmd.args(["--server", s]);
        }
        cmd.args(["--ca-fingerprint", &"ab".repeat(32)]);
        cmd.args(["--group", "g", "--root"])
            .arg(root.path().join("root"))
            .arg("--key-file")
            .arg(&key)
            .arg("--data-dir")
            .arg(root.path().join("agent"))
            .output()
            .unwrap()
    };
    let bad = install(&["https://127.0.0.1:7650", "ftp://nope"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--server ftp://nope"));
    assert!(!root.path().join("root/etc/p2pd/agent.env").exists());
    let out = install(&["https://127.0.0.1:7650,https://127.0.0.1:7651/"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let env = std::fs::read_to_string(root.path().join("root/etc/p2pd/agent.env")).unwrap();
    assert!(
        env.contains("P2PD_SERVER=\"https://127.0.0.1:7650,https://127.0.0.1:7651\""),
        "{env}"
    );
}

/// `systemctl stop` of a replica: SIGTERM makes serve on PostgreSQL drain
/// and exit 0, not abort in the database client's destructor.
#[test]
fn a_replica_on_postgres_stops_cleanly_on_sigterm() {
    let url = p2pd::store::testing::database_url();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("a");
    install_on(&dir, &url, root.path());
    let log_path = root.path().join("serve.log");
    let mut r = Replica::start(&dir, &url, &log_path);
    let mut child = r.child.take().unwrap();
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve did not stop within 20 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "serve on PostgreSQL exited {status}:\n{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
}

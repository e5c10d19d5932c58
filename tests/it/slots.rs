//! Design note `key-holders`, finding 6: connection slots cannot be exhausted without the
//! key. A flood of TLS connections, each with one unsigned request, from
//! several addresses (or from a device's own NAT address) is kept in the
//! strangers' pool, and a real device enrolls within 10 s while it lasts.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::common::*;

/// What the flood did.
#[derive(Default)]
struct Counts {
    /// TLS handshakes completed and answered (401) on an unsigned request.
    held: AtomicU64,
    /// Connections the server closed afterwards.
    closed: AtomicU64,
    /// Connections refused or cut before their answer.
    refused: AtomicU64,
    /// Connections tried.
    tried: AtomicU64,
}

/// Keeps `per_addr` connections open from each of `addrs` until `stop`:
/// each one a TLS handshake without a certificate and one unsigned
/// request, reopened when the server closes it. At most `budget`
/// connections in all, and never past `until`.
fn flood(
    net: &Net,
    addrs: &[IpAddr],
    per_addr: usize,
    budget: u64,
    until: Instant,
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
) -> std::thread::JoinHandle<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let pem = std::fs::read(net.server_dir.join("ca.pem")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let server: SocketAddr = format!("127.0.0.1:{}", net.port).parse().unwrap();
    let addrs = addrs.to_vec();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let mut tasks = Vec::new();
            for ip in addrs {
                for _ in 0..per_addr {
                    let (cfg, stop, counts) = (cfg.clone(), stop.clone(), counts.clone());
                    tasks.push(tokio::spawn(async move {
                        while !stop.load(Ordering::Relaxed)
                            && Instant::now() < until
                            && counts.tried.fetch_add(1, Ordering::Relaxed) < budget
                        {
                            if !hold_one(&cfg, ip, server, &stop, until, &counts).await {
                                counts.refused.fetch_add(1, Ordering::Relaxed);
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                        }
                    }));
                }
            }
            for t in tasks {
                let _ = t.await;
            }
        });
    })
}

/// One flood connection: handshake, an unsigned request, its answer, then
/// held open until the server closes it (true) or the flood ends. False if
/// it never got its answer.
async fn hold_one(
    cfg: &Arc<rustls::ClientConfig>,
    ip: IpAddr,
    server: SocketAddr,
    stop: &AtomicBool,
    until: Instant,
    counts: &Counts,
) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(sock) = tokio::net::TcpSocket::new_v4() else {
        return false;
    };
    if sock.bind(SocketAddr::new(ip, 0)).is_err() {
        return false;
    }
    let Ok(Ok(tcp)) = tokio::time::timeout(Duration::from_secs(5), sock.connect(server)).await
    else {
        return false;
    };
    let name = rustls::pki_types::ServerName::IpAddress(server.ip().into());
    let connector = tokio_rustls::TlsConnector::from(cfg.clone());
    let Ok(Ok(mut tls)) =
        tokio::time::timeout(Duration::from_secs(5), connector.connect(name, tcp)).await
    else {
        return false;
    };
    if tls
        .write_all(b"GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .is_err()
    {
        return false;
    }
    let mut buf = vec![0u8; 4096];
    match tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf)).await {
        Ok(Ok(n)) if n > 0 => {}
        _ => return false,
    }
    counts.held.fetch_add(1, Ordering::Relaxed);
    // Held until the server closes it, reading whatever comes.
    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
        match tokio::time::timeout(Duration::from_millis(200), tls.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                counts.closed.fetch_add(1, Ordering::Relaxed);
                return true;
            }
            _ => {}
        }
    }
    true
}

/// Starts serve like [`Net::start_serve`], with at most `open_files`
/// descriptors (soft and hard), so that its connection caps are small
/// enough for a test to fill.
fn start_serve_with_open_files(net: &mut Net, open_files: u64) {
    use std::os::unix::process::CommandExt;
    let log_path = net.root.path().join("serve.log");
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(&net.server_dir)
        .env("P2PD_LOG", "info")
        .stdout(std::fs::File::create(net.root.path().join("serve.out")).unwrap())
        .stderr(std::fs::File::create(&log_path).unwrap());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: open_files as libc::rlim_t,
                rlim_max: open_files as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let addr = loop {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if let Some(a) = listening_on(&log) {
            break a;
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("serve exited ({st}):\n{log}");
        }
        assert!(Instant::now() < deadline, "serve did not start:\n{log}");
        std::thread::sleep(Duration::from_millis(20));
    };
    net.serve = Some(child);
    net.port = addr.port();
    ok(
        &net.server_dir,
        &["settings", "set", "port", &net.port.to_string()],
    );
}

/// Floods from `addrs` until every flood connection had its first try
/// and at least 3 s passed (bounded: 60 s), then starts a real agent at
/// `agent_ip` and returns how long it took to enroll with the flood still
/// on; `None` if it did not enroll within 10 s.
fn enroll_during_flood(
    net: &mut Net,
    addrs: &[IpAddr],
    per_addr: usize,
    agent_ip: &str,
) -> (Option<Duration>, Arc<Counts>) {
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Counts::default());
    let until = Instant::now() + Duration::from_secs(90);
    let want = (addrs.len() * per_addr) as u64;
    let flooder = flood(
        net,
        addrs,
        per_addr,
        1_000_000,
        until,
        stop.clone(),
        counts.clone(),
    );
    let t0 = Instant::now();
    let tried = |c: &Counts| c.held.load(Ordering::Relaxed) + c.refused.load(Ordering::Relaxed);
    while (tried(&counts) < want || t0.elapsed() < Duration::from_secs(3))
        && t0.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let report = |when: &str| {
        eprintln!(
            "flood {when}: {} connections tried, {} answered (each then held), {} of those closed by serve, {} refused or cut before an answer",
            counts.tried.load(Ordering::Relaxed),
            counts.held.load(Ordering::Relaxed),
            counts.closed.load(Ordering::Relaxed),
            counts.refused.load(Ordering::Relaxed)
        )
    };
    report("before the agent starts");
    let tried_before = counts.tried.load(Ordering::Relaxed);
    let t = Instant::now();
    let i = net.add_agent("newcomer", agent_ip, "g", &[]);
    let mut enrolled = None;
    while t.elapsed() < Duration::from_secs(10) {
        if net.agents[i].device_id().is_some() {
            enrolled = Some(t.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let tried_during = counts.tried.load(Ordering::Relaxed) - tried_before;
    stop.store(true, Ordering::Relaxed);
    flooder.join().unwrap();
    report("at the end");
    eprintln!(
        "the agent enrolled after {enrolled:?}; {tried_during} flood connections were tried meanwhile"
    );
    assert!(
        tried_during > 0 && Instant::now() < until,
        "the flood was not on while the agent enrolled"
    );
    (enrolled, counts)
}

/// Thousands of keyless connections from several addresses, more than
/// serve's whole connection cap (its open-file limit is 2,000 here, so
/// 1,488 connections used to fill every slot for 120 s): a new device
/// still enrolls within 10 s, while the flood goes on.
#[test]
fn a_keyless_connection_flood_from_several_addresses_does_not_keep_a_device_out() {
    let mut net = Net::new(&[]);
    start_serve_with_open_files(&mut net, 2000);
    let addrs: Vec<IpAddr> = (1..=4)
        .map(|n| format!("127.23.0.{n}").parse().unwrap())
        .collect();
    let (enrolled, counts) = enroll_during_flood(&mut net, &addrs, 400, "127.23.1.1");
    assert!(
        enrolled.is_some(),
        "the new device did not enroll within 10 s during the flood"
    );
    // The flood was kept in its own pool, not ignored: serve closed the
    // strangers to make room.
    assert!(counts.closed.load(Ordering::Relaxed) > 0);
    let log = std::fs::read_to_string(net.root.path().join("serve.log")).unwrap();
    assert!(
        log.contains("closed the oldest unauthenticated connections"),
        "{}",
        tail(&net.root.path().join("serve.log"), 20)
    );
}

/// 1,100 keyless connections from one address (a NAT address shared with
/// devices; serve allowed 1,024 per address, and that locked the devices
/// behind it out): a device behind the same address still enrolls.
#[test]
fn a_keyless_flood_from_a_devices_own_address_does_not_lock_it_out() {
    let mut net = Net::new(&[]);
    net.start_serve();
    let nat: IpAddr = "127.23.2.1".parse().unwrap();
    let (enrolled, _) = enroll_during_flood(&mut net, &[nat], 1100, "127.23.2.1");
    assert!(
        enrolled.is_some(),
        "the device behind the flooded address did not enroll within 10 s"
    );
}

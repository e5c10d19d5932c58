//! The dashboard in a real browser: headless Chromium against a running
//! `serve` with a loopback distribution in progress.
//!
//! Needs Debian's `chromium` (`.ci/metrics`, called by `.ci/run`, installs
//! it); a missing or failing browser fails the test. `P2PD_CHROMIUM` names
//! the browser (default `chromium`), `P2PD_SCREENSHOT_DIR` where the
//! screenshot goes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

struct Browser {
    bin: String,
    scratch: PathBuf,
    runs: u32,
}

impl Browser {
    /// Runs headless Chromium with a fresh profile; returns stdout.
    fn run(&mut self, extra: &[&str], url: &str) -> String {
        self.runs += 1;
        let profile = self.scratch.join(format!("profile-{}", self.runs));
        let out = self.scratch.join(format!("stdout-{}", self.runs));
        let err = self.scratch.join(format!("stderr-{}", self.runs));
        let mut child = Command::new(&self.bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(url)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {}: {e}; install Debian's chromium or set P2PD_CHROMIUM",
                    self.bin
                )
            });
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                let stdout = std::fs::read_to_string(&out).unwrap_or_default();
                assert!(
                    st.success(),
                    "chromium exited with {st} on {url}:\n{}",
                    std::fs::read_to_string(&err).unwrap_or_default()
                );
                return stdout;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "chromium did not finish within 90 s on {url}:\n{}",
                    std::fs::read_to_string(&err).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The DOM after the page's scripts ran for `budget_ms` of virtual time.
    fn dom(&mut self, url: &str) -> String {
        self.run(&["--virtual-time-budget=5000", "--dump-dom"], url)
    }

    fn screenshot(&mut self, url: &str, to: &Path) {
        let arg = format!("--screenshot={}", to.display());
        self.run(
            &[
                "--virtual-time-budget=5000",
                "--window-size=1280,1500",
                &arg,
            ],
            url,
        );
    }
}

/// The text of the element with `id`.
fn text_of<'a>(dom: &'a str, id: &str) -> Option<&'a str> {
    let start = dom.find(&format!("id=\"{id}\""))?;
    let open = start + dom[start..].find('>')? + 1;
    let close = open + dom[open..].find('<')?;
    Some(dom[open..close].trim())
}

/// Fails the test, saying how to fix it, when the browser cannot start:
/// the test never passes without having looked (`.ci/run` installs
/// chromium through `.ci/metrics`).
fn require_browser() {
    let bin = std::env::var("P2PD_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let found = Command::new(&bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "{bin} cannot be started: the dashboard browser test needs Debian's chromium \
         (`apt-get install -y chromium`; `.ci/metrics` installs it) or P2PD_CHROMIUM naming one"
    );
}

#[test]
fn the_dashboard_shows_the_offices_and_live_progress_in_a_real_browser() {
    require_browser();
    let mut net = Net::new(&[
        ("Central", "", "default", "127.1.1.0/24", "8000"),
        ("Regional", "Central", "default", "127.1.2.0/24", "8000"),
        ("Branch", "Regional", "default", "127.1.3.0/24", "8000"),
    ]);
    net.start_serve();
    let token: serde_json::Value =
        serde_json::from_str(&ok(&net.server_dir, &["ui", "token", "--json"])).unwrap();
    let token = token["admin_token"].as_str().unwrap().to_string();
    let base = format!("http://127.0.0.1:{}", net.port);
    let mut browser = Browser {
        bin: std::env::var("P2PD_CHROMIUM").unwrap_or_else(|_| "chromium".into()),
        scratch: net.root.path().join("browser"),
        runs: 0,
    };
    std::fs::create_dir_all(&browser.scratch).unwrap();

    // Without the token the page is refused, and shows nothing of the fleet.
    let status = reqwest::blocking::get(format!("{base}/ui"))
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 401);
    let refused = browser.dom(&format!("{base}/ui"));
    assert!(refused.contains("Access refused"), "{refused}");
    assert!(!refused.contains("offices-card"), "{refused}");
    let wrong = browser.dom(&format!("{base}/ui/login?token=p2pd-admin-wrong"));
    assert!(wrong.contains("Access refused"), "{wrong}");

    // A distribution slow enough to watch: 1 MB/s into each office, about
    // half a minute in all.
    let (id, _) = net.publish("app", 24 * MIB, 41);
    for office in 1..=3 {
        for d in 1..=2 {
            net.add_agent(
                &format!("o{office}d{d}"),
                &format!("127.1.{office}.{}", 60 + d),
                "g",
                &[],
            );
        }
    }
    let login = format!("{base}/ui/login?token={token}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let first = loop {
        let dom = browser.dom(&login);
        let fig = text_of(&dom, "progress-figure").map(str::to_string);
        if let Some(f) = fig.filter(|f| f != "–" && f != "0.0%" && f != "100.0%") {
            break (dom, f);
        }
        assert!(
            Instant::now() < deadline,
            "the dashboard never showed progress under way:\n{dom}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let (dom, fig1) = first;
    for office in ["Central", "Regional", "Branch"] {
        assert!(
            dom.contains(&format!("data-office=\"{office}\"")),
            "office {office} is not on the page:\n{dom}"
        );
    }
    assert!(dom.contains(&id[..12]) || dom.contains("app 1.0"), "{dom}");
    assert!(!dom.contains(&token), "the page shows the admin token");
    let key = std::fs::read_to_string(net.server_dir.join("shared.key")).unwrap();
    assert!(!dom.contains(key.trim()), "the page shows the shared key");

    std::thread::sleep(Duration::from_secs(3));
    let dom2 = browser.dom(&login);
    let fig2 = text_of(&dom2, "progress-figure").unwrap().to_string();
    let num = |f: &str| f.trim_end_matches('%').parse::<f64>().unwrap();
    assert!(
        num(&fig2) > num(&fig1),
        "the progress figure did not move: {fig1} then {fig2}"
    );

    let dir = std::env::var_os("P2PD_SCREENSHOT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| browser.scratch.clone());
    std::fs::create_dir_all(&dir).unwrap();
    let shot = dir.join("dashboard.png");
    browser.screenshot(&login, &shot);
    let png = std::fs::read(&shot).expect("the screenshot was written");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    assert!(png.len() > 10_000, "suspiciously small screenshot");
    eprintln!(
        "dashboard: progress {fig1} then {fig2}; screenshot {}",
        shot.display()
    );
}

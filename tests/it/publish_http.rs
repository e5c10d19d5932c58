//! `publish --all` from an http(s) file storage described by `index.json`,
//! served by `python3 -m http.server` (python3 is required; `.ci/run`
//! installs it).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::BIN;

/// Kills the HTTP server when the test ends, pass or fail.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `python3 -m http.server` on a free port (port 0: it prints the
/// one it bound) serving `dir`; its output goes to `log`. Fails the test
/// when python3 is missing (`.ci/run` installs it).
fn serve(dir: &Path, log: &Path) -> (Server, u16) {
    let child = Command::new("python3")
        .args([
            "-u",
            "-m",
            "http.server",
            "0",
            "--bind",
            "127.0.0.1",
            "--directory",
        ])
        .arg(dir)
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("python3 -m http.server: {e}; install python3 (`.ci/run` does)")
        });
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // "Serving HTTP on 127.0.0.1 port 40321 (http://127.0.0.1:40321/) ..."
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let port = text
            .split_once(" port ")
            .and_then(|(_, rest)| rest.split_whitespace().next()?.parse::<u16>().ok());
        if let Some(port) = port {
            return (server, port);
        }
        assert!(
            Instant::now() < deadline,
            "python3 http.server did not start: {text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn p2pd(data: &Path, args: &[&str]) -> (i32, Value) {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), v)
}

#[test]
fn publish_all_from_an_http_index() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("www");
    std::fs::create_dir_all(root.join("app/2.0")).unwrap();
    let big: Vec<u8> = (0..700_000u32).map(|i| (i % 253) as u8).collect();
    let small = b"a small package".to_vec();
    std::fs::write(root.join("app/2.0/app setup.msi"), &big).unwrap();
    std::fs::write(root.join("tool-1.0.msi"), &small).unwrap();
    let index = json!({"packages": [
        {"path": "app/2.0/app setup.msi", "size": big.len(), "mtime": 1_700_000_000},
        {"path": "tool-1.0.msi", "size": small.len(), "mtime": 1_700_000_000,
         "sha256": hex::encode(Sha256::digest(&small))},
    ]});
    std::fs::write(root.join("index.json"), index.to_string()).unwrap();
    let (_server, port) = serve(&root, &dir.path().join("http.log"));
    let data = dir.path().join("d");
    let url = format!("http://127.0.0.1:{port}/");
    let ok = Command::new(BIN)
        .arg("install")
        .arg("--data-dir")
        .arg(&data)
        .args(["--file-storage", &url])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    let (code, v) = p2pd(&data, &["publish", "--all"]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["summary"]["published"], 2);
    let (_, list) = p2pd(&data, &["content", "list"]);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&hex::encode(Sha256::digest(&big)).as_str()));

    // mtime in the index: the re-run downloads nothing.
    let (code, v) = p2pd(&data, &["publish", "--all"]);
    assert_eq!(code, 0);
    assert_eq!(v["summary"]["unchanged"], 2);
    assert_eq!(v["summary"]["bytes_hashed"], 0);

    // A listed sha256 that does not match the bytes fails that package.
    let index = json!({"packages": [
        {"path": "tool-1.0.msi", "size": small.len(), "sha256": "00".repeat(32)},
    ]});
    std::fs::write(root.join("index.json"), index.to_string()).unwrap();
    let (code, v) = p2pd(&data, &["publish", "--all"]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["summary"]["failed"], 1);
    assert_eq!(v["summary"]["missing"], 1, "app is no longer listed");
}

//! `p2pd publish`, `content` and `groups`, driving the real binary against a
//! file storage built from fixtures/packages plus generated multi-piece files.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::prelude::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::BIN;

struct Env {
    _dir: tempfile::TempDir,
    data: PathBuf,
    storage: PathBuf,
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Deterministic bytes that differ per seed.
fn bytes(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Installed data dir, storage = fixtures + a 1.3 MiB package (6 pieces).
fn setup() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let storage = dir.path().join("storage");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/packages"),
        &storage,
    );
    std::fs::create_dir_all(storage.join("office/2024")).unwrap();
    std::fs::write(
        storage.join("office/2024/setup.exe"),
        bytes(1_300_000 + 123, 1),
    )
    .unwrap();
    Command::new(BIN)
        .args(["install", "--data-dir"])
        .arg(&data)
        .arg("--file-storage")
        .arg(&storage)
        .assert()
        .success();
    Env {
        _dir: dir,
        data,
        storage,
    }
}

impl Env {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--data-dir").arg(&self.data).args(args);
        c
    }

    /// Runs `args` plus `--json`; returns exit code and parsed stdout.
    fn json(&self, args: &[&str]) -> (i32, Value) {
        let out = self.cmd(args).arg("--json").output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let v = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "{args:?}: stdout is not JSON ({e}): {stdout}\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap(), v)
    }

    fn package_count(&self) -> usize {
        let mut n = 0;
        let mut stack = vec![self.storage.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(d).unwrap() {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else {
                    n += 1;
                }
            }
        }
        n
    }
}

fn summary(v: &Value, key: &str) -> u64 {
    v["summary"][key].as_u64().unwrap()
}

fn statuses<'a>(v: &'a Value, status: &str) -> Vec<&'a str> {
    v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"] == status)
        .map(|p| p["path"].as_str().unwrap())
        .collect()
}

fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

#[test]
fn publish_all_registers_every_package_with_the_hashes_sha256sum_gives() {
    let env = setup();
    let (code, v) = env.json(&["publish", "--all"]);
    assert_eq!(code, 0, "{v:#}");
    let n = env.package_count() as u64;
    assert_eq!(summary(&v, "published"), n);
    assert_eq!(summary(&v, "failed"), 0);

    let (_, list) = env.json(&["content", "list"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len() as u64, n);
    for c in list {
        let path = env.storage.join(c["path"].as_str().unwrap());
        let id = c["id"].as_str().unwrap();
        assert_eq!(id, sha256sum(&path), "{}", path.display());

        let (_, shown) = env.json(&["content", "show", &id[..10]]);
        let data = std::fs::read(&path).unwrap();
        let piece_size = shown["piece_size"].as_u64().unwrap() as usize;
        let want: Vec<String> = data
            .chunks(piece_size)
            .map(|p| hex::encode(Sha256::digest(p)))
            .collect();
        let got: Vec<String> = shown["piece_hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, want, "piece hashes of {}", path.display());
        assert_eq!(shown["pieces"].as_u64().unwrap() as usize, want.len());
    }
    let office = list
        .iter()
        .find(|c| c["path"] == "office/2024/setup.exe")
        .unwrap();
    assert_eq!(office["pieces"], 2, "1.3 MB in 1 MiB pieces");
    assert_eq!(
        (office["name"].as_str(), office["version"].as_str()),
        (Some("office"), Some("2024"))
    );
    let seven = list
        .iter()
        .find(|c| c["path"] == "tools/7zip-23.01-x64.msi")
        .unwrap();
    // Design note `real-site`: the arch is not part of the version.
    assert_eq!(
        (seven["name"].as_str(), seven["version"].as_str()),
        (Some("7zip"), Some("23.01"))
    );
    let report = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"] == "tools/7zip-23.01-x64.msi")
        .unwrap();
    assert_eq!(report["arch"], "x64");
    assert_eq!(seven["arch"], "x64", "content list keeps the arch");
    let table = String::from_utf8(env.cmd(&["content", "list"]).output().unwrap().stdout).unwrap();
    assert!(table.contains(" | 7zip    | 23.01   | x64  | "), "{table}");
    // Design note `real-site` item 12: short ids in the table, full ones with --wide.
    let full = seven["id"].as_str().unwrap();
    assert!(
        table.contains(&format!("| {} |", &full[..12])) && !table.contains(full),
        "{table}"
    );
    let wide = env.cmd(&["content", "list", "--wide"]).output().unwrap();
    assert!(wide.status.success());
    assert!(String::from_utf8(wide.stdout).unwrap().contains(full));
}

/// Design note `real-site`: `Firefox Setup 128.0.msi` had version "", and a file no rule
/// names right needs a per-file override.
#[test]
fn installer_names_give_name_version_arch_and_the_overrides_file_wins() {
    let env = setup();
    std::fs::write(env.storage.join("Firefox Setup 128.0.msi"), bytes(3000, 7)).unwrap();
    std::fs::write(
        env.storage.join("AcroRdrDC2400220759_en_US.exe"),
        bytes(3000, 8),
    )
    .unwrap();
    std::fs::write(
        env.storage.join(".p2pd-names.csv"),
        "path;name;version;arch\r\nAcroRdrDC2400220759_en_US.exe;Acrobat Reader;24.002.20759;x86\r\n",
    )
    .unwrap();
    let (code, v) = env.json(&["publish", "--all"]);
    assert_eq!(code, 0, "{v:#}");
    let get = |path: &str| {
        v["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["path"] == path)
            .unwrap_or_else(|| panic!("{path} not in {v:#}"))
            .clone()
    };
    let ff = get("Firefox Setup 128.0.msi");
    assert_eq!(
        (ff["name"].as_str(), ff["version"].as_str()),
        (Some("Firefox"), Some("128.0"))
    );
    let acro = get("AcroRdrDC2400220759_en_US.exe");
    assert_eq!(
        (
            acro["name"].as_str(),
            acro["version"].as_str(),
            acro["arch"].as_str()
        ),
        (Some("Acrobat Reader"), Some("24.002.20759"), Some("x86"))
    );
    // The overrides file is a dot-file: never published itself.
    assert!(
        !v["packages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["path"].as_str().unwrap().contains("p2pd-names")),
        "{v:#}"
    );
    let (_, list) = env.json(&["content", "list"]);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "Acrobat Reader" && c["version"] == "24.002.20759"),
        "{list:#}"
    );
    // A malformed overrides file stops the run with its line, before
    // anything is published.
    std::fs::write(
        env.storage.join(".p2pd-names.csv"),
        "path,name\na.msi,A\na.msi,B\n",
    )
    .unwrap();
    let out = env.cmd(&["publish", "--all"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(".p2pd-names.csv, line 3: 'a.msi' is listed twice"),
        "{err}"
    );
}

/// Design note `real-site`: under a pty that reports no width, the summary table was
/// wrapped at 0 columns, one character per line.
#[test]
fn the_summary_is_readable_on_a_terminal_that_reports_no_width() {
    use std::io::Read;
    use std::os::fd::FromRawFd;
    let env = setup();
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two fds; the null pointers ask for default
    // termios and no window size (0 x 0, the case under test).
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty failed");
    // SAFETY: both fds are fresh from openpty and owned here only.
    let (master, slave) = unsafe { (File::from_raw_fd(master), File::from_raw_fd(slave)) };
    let mut cmd = env.cmd(&["publish", "--all"]);
    cmd.env_remove("COLUMNS")
        .stdin(std::process::Stdio::null())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave.try_clone().unwrap());
    let mut child = cmd.spawn().unwrap();
    drop(cmd);
    drop(slave);
    let reader = std::thread::spawn(move || {
        let mut master = master;
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        // Ends with EIO once the child (the last holder of the slave) exits.
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    });
    let status = child.wait().unwrap();
    let out = String::from_utf8_lossy(&reader.join().unwrap()).into_owned();
    assert!(status.success(), "{out}");
    let row = |label: &str| {
        out.lines()
            .find(|l| l.contains(label) && l.contains('│'))
            .unwrap_or_else(|| panic!("no table row for {label:?} in:\n{out}"))
            .to_string()
    };
    assert!(
        row("published").contains(&format!(" {} ", env.package_count())),
        "{out}"
    );
    assert!(
        row("hashed").contains("MiB/s)") || row("hashed").contains("KiB/s)"),
        "{out}"
    );
}

#[test]
fn a_rerun_reports_everything_unchanged_and_exits_0() {
    let env = setup();
    assert_eq!(env.json(&["publish", "--all"]).0, 0);
    let (code, v) = env.json(&["publish", "--all"]);
    assert_eq!(code, 0);
    assert_eq!(summary(&v, "unchanged"), env.package_count() as u64);
    assert_eq!(summary(&v, "published"), 0);
    assert_eq!(summary(&v, "bytes_hashed"), 0, "nothing is read again");
    // --verify reads everything and still finds it unchanged.
    let (code, v) = env.json(&["publish", "--all", "--verify"]);
    assert_eq!(code, 0);
    assert_eq!(summary(&v, "unchanged"), env.package_count() as u64);
    assert!(summary(&v, "bytes_hashed") > 1_300_000);
}

#[test]
fn plain_output_is_one_line_per_package_and_a_summary() {
    let env = setup();
    let out = env.cmd(&["publish", "--all"]).output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines = stdout
        .lines()
        .filter(|l| l.starts_with("published "))
        .count();
    assert_eq!(lines, env.package_count(), "{stdout}");
    assert!(stdout.contains("| unchanged"), "{stdout}");
}

#[test]
fn changing_one_file_republishes_only_it_and_prune_drops_the_old_content() {
    let env = setup();
    assert_eq!(env.json(&["publish", "--all"]).0, 0);
    let changed = env.storage.join("office/2024/setup.exe");
    let old_id = sha256sum(&changed);
    // Same size, new bytes, new mtime: only the mtime gives it away.
    std::fs::write(&changed, bytes(1_300_000 + 123, 2)).unwrap();
    let (code, v) = env.json(&["publish", "--all"]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(statuses(&v, "published"), ["office/2024/setup.exe"]);
    assert_eq!(summary(&v, "unchanged"), env.package_count() as u64 - 1);

    // The old content stays until --prune.
    let (_, list) = env.json(&["content", "list"]);
    assert_eq!(list.as_array().unwrap().len(), env.package_count() + 1);
    let (code, v) = env.json(&["publish", "--all", "--prune"]);
    assert_eq!(code, 0);
    assert_eq!(statuses(&v, "pruned"), ["office/2024/setup.exe"]);
    let pruned = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["status"] == "pruned")
        .unwrap();
    assert_eq!(pruned["id"].as_str().unwrap(), old_id);
    let (_, list) = env.json(&["content", "list"]);
    assert_eq!(list.as_array().unwrap().len(), env.package_count());
}

#[test]
fn a_vanished_package_is_reported_and_withdrawn_only_with_prune() {
    let env = setup();
    assert_eq!(env.json(&["publish", "--all"]).0, 0);
    std::fs::remove_file(env.storage.join("agent_1.2.tar.gz")).unwrap();
    // Design note `real-site`: cron must notice. Exit 5 is "done, with warnings".
    let (code, v) = env.json(&["publish", "--all"]);
    assert_eq!(code, 5);
    assert_eq!(statuses(&v, "missing"), ["agent_1.2.tar.gz"]);
    let out = env.cmd(&["publish", "--all"]).output().unwrap();
    assert_eq!(out.status.code(), Some(5));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "done, with warnings: 1 published package missing from file storage (exit status 5)"
        ),
        "{text}"
    );
    let help = env.cmd(&["publish", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("5 done, with warnings"), "{help}");
    let (_, list) = env.json(&["content", "list"]);
    assert_eq!(list.as_array().unwrap().len(), env.package_count() + 1);
    let (_, v) = env.json(&["publish", "--all", "--prune"]);
    assert_eq!(statuses(&v, "pruned"), ["agent_1.2.tar.gz"]);
    let (_, list) = env.json(&["content", "list"]);
    assert_eq!(list.as_array().unwrap().len(), env.package_count());
}

#[test]
fn a_second_publish_exits_3_while_another_holds_the_lock() {
    let env = setup();
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(env.data.join("publish.lock"))
        .unwrap();
    lock.try_lock().unwrap();
    let out = env.cmd(&["publish", "--all"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("another p2pd publish is running"),
        "{stderr}"
    );
    let (_, list) = env.json(&["content", "list"]);
    assert!(
        list.as_array().unwrap().is_empty(),
        "the busy run published nothing"
    );
    drop(lock);
    env.cmd(&["publish", "--all"]).assert().success();
}

#[test]
fn an_unreadable_package_fails_alone() {
    let env = setup();
    std::os::unix::fs::symlink("/nonexistent/p2pd-test", env.storage.join("ghost-1.0.msi"))
        .unwrap();
    let (code, v) = env.json(&["publish", "--all"]);
    assert_eq!(code, 1);
    assert_eq!(statuses(&v, "failed"), ["ghost-1.0.msi"]);
    assert_eq!(summary(&v, "published"), env.package_count() as u64 - 1);
    let failed = &v["packages"].as_array().unwrap()[0];
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .contains("dangling symlink"),
        "{failed}"
    );
    let (_, list) = env.json(&["content", "list"]);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|c| c["path"] != "ghost-1.0.msi")
    );

    // The plain report names the package and why.
    let out = env.cmd(&["publish", "--all"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("ghost-1.0.msi: dangling symlink"),
        "{stdout}"
    );
}

#[test]
fn publish_paths_with_name_and_version_override() {
    let env = setup();
    let (code, v) = env.json(&[
        "publish",
        "office/2024/setup.exe",
        "--name",
        "Office",
        "--version",
        "16.0",
    ]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(statuses(&v, "published"), ["office/2024/setup.exe"]);
    let (_, list) = env.json(&["content", "list"]);
    assert_eq!(list[0]["name"], "Office");
    assert_eq!(list[0]["version"], "16.0");

    // A directory publishes what is under it; an unknown path fails.
    let (code, v) = env.json(&["publish", "firefox", "nope.msi"]);
    assert_eq!(code, 1);
    assert_eq!(
        statuses(&v, "published"),
        ["firefox/128.0.3/Firefox Setup.msi"]
    );
    assert_eq!(statuses(&v, "failed"), ["nope.msi"]);

    // The override needs exactly one package.
    let out = env
        .cmd(&["publish", "firefox", "tools", "--name", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn groups_assign_list_unassign_and_targets() {
    let env = setup();
    env.cmd(&["groups", "assign", "Sales", "EMEA"])
        .assert()
        .success();
    let (_, list) = env.json(&["groups", "list"]);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["EMEA", "Sales"]);
    let (_, status) = env.json(&["status"]);
    assert_eq!(status["groups"], serde_json::json!(["EMEA", "Sales"]));
    let out = env.cmd(&["status"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 (EMEA, Sales)"));

    // Default: every assigned group; --groups narrows.
    env.cmd(&["publish", "tools"]).assert().success();
    env.cmd(&["publish", "firefox", "--groups", "Sales"])
        .assert()
        .success();
    let (_, contents) = env.json(&["content", "list"]);
    let targets = |path: &str| {
        contents
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["path"] == path)
            .unwrap()["targets"]
            .clone()
    };
    assert_eq!(
        targets("tools/7zip-23.01-x64.msi"),
        serde_json::json!(["EMEA", "Sales"])
    );
    assert_eq!(
        targets("firefox/128.0.3/Firefox Setup.msi"),
        serde_json::json!(["Sales"])
    );
    // A group assigned later reaches content published for all groups.
    env.cmd(&["groups", "assign", "APAC"]).assert().success();
    let (_, contents) = env.json(&["content", "list"]);
    let c = contents.as_array().unwrap();
    let seven = c
        .iter()
        .find(|c| c["path"] == "tools/7zip-23.01-x64.msi")
        .unwrap();
    assert_eq!(
        seven["targets"],
        serde_json::json!(["APAC", "EMEA", "Sales"])
    );
    let ff = c
        .iter()
        .find(|c| c["path"] == "firefox/128.0.3/Firefox Setup.msi")
        .unwrap();
    assert_eq!(ff["targets"], serde_json::json!(["Sales"]));
    // --groups must name assigned groups.
    let out = env
        .cmd(&["publish", "tools", "--groups", "Nobody"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("groups assign"));

    // Two licensed devices in Sales: unassigning reports and releases them.
    let db = rusqlite::Connection::open(env.data.join("p2pd.db")).unwrap();
    for (id, lic) in [("d1", Some(1)), ("d2", Some(1)), ("d3", None::<i64>)] {
        db.execute(
            "INSERT INTO devices (id, hostname, addr, prefix_len, group_name, version, first_seen, last_seen, license_activated_at)
             VALUES (?1, ?1, '10.0.0.1', 24, 'Sales', '0.1.0', 0, 0, ?2)",
            rusqlite::params![id, lic],
        )
        .unwrap();
    }
    let (code, report) = env.json(&["groups", "unassign", "Sales"]);
    assert_eq!(code, 0);
    assert_eq!(report["devices"], 3);
    assert_eq!(report["licenses_released"], 2);
    assert_eq!(report["targets_removed"], 2);
    let licensed: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM devices WHERE license_activated_at IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(licensed, 0);
    let (_, contents) = env.json(&["content", "list"]);
    let ff = contents
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == "firefox/128.0.3/Firefox Setup.msi")
        .unwrap()
        .clone();
    assert_eq!(ff["targets"], serde_json::json!([]));

    // Unknown groups are a clear error and change nothing.
    let out = env
        .cmd(&["groups", "unassign", "EMEA", "Nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not assigned: \"Nope\""), "{stderr}");
    let (_, list) = env.json(&["groups", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 2, "EMEA is still assigned");

    // Names are validated.
    for bad in ["", "  ", "tab\there"] {
        let out = env.cmd(&["groups", "assign", bad]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
}

/// `publish --all | head -2` (as the README shows): a reader that stops
/// early must not crash the run or change its exit status.
#[test]
fn a_closed_stdout_does_not_crash_publish() {
    let env = setup();
    let mut child = env
        .cmd(&["publish", "--all"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
    let (_, list) = env.json(&["content", "list"]);
    assert_eq!(list.as_array().unwrap().len(), env.package_count());
}

//! Install, key, settings and status driven through the binary: what a user
//! sees, and that bad input changes nothing.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::{files_under, p2pd};

/// File storage for tests: a directory that exists (install refuses a
/// missing one).
const STORAGE: &str = "/tmp";

fn install(dir: &Path) -> serde_json::Value {
    let (code, out, err) = p2pd(
        dir,
        &[
            "install",
            "--server-name",
            "127.0.0.1",
            "--file-storage",
            STORAGE,
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn install_prints_the_key_once_with_a_warning_and_sets_modes() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("d");
    let (code, out, err) = p2pd(
        &d,
        &[
            "install",
            "--server-name",
            "127.0.0.1",
            "--file-storage",
            STORAGE,
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("cannot be shown again"), "{out}");
    assert!(out.contains("p2pd key regenerate"), "{out}");
    let key = std::fs::read_to_string(d.join("shared.key")).unwrap();
    assert!(
        out.contains(key.trim()),
        "the printed key is the stored key"
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&d), 0o700);
    assert_eq!(mode(&d.join("shared.key")), 0o600);
    // Nothing shows the key again.
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["key", "fingerprint"],
        &["settings", "show"],
    ] {
        let (_, out, _) = p2pd(&d, args);
        assert!(!out.contains(key.trim()), "{args:?} leaked the key");
    }
}

#[test]
fn a_second_install_refuses_and_changes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("d");
    install(&d);
    let before = files_under(&d);
    let (code, out, err) = p2pd(&d, &["install", "--server-name", "10.0.0.1", "--json"]);
    assert_eq!(code, 1);
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("already installed")
            && err.contains(
                "--server-name '10.0.0.1' differs from the installed server_name '127.0.0.1'"
            )
            && err.contains("p2pd settings set"),
        "{err}"
    );
    assert_eq!(before, files_under(&d), "the data dir changed");
}

/// Design note `real-site`: re-running the same scripted install exited 1 with no JSON.
#[test]
fn an_identical_install_rerun_succeeds_and_prints_json_without_the_key() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("d");
    let first = install(&d);
    let before = files_under(&d);
    let second = install(&d);
    assert_eq!(second["already_installed"], true, "{second}");
    assert_eq!(second["server_id"], first["server_id"]);
    assert_eq!(second["key_fingerprint"], first["key_fingerprint"]);
    assert_eq!(second["key_version"], 1);
    assert!(
        second.get("key").is_none(),
        "the key was shown again: {second}"
    );
    let (code, out, err) = p2pd(&d, &["install"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("already installed") && out.contains("nothing changed"),
        "{out}"
    );
    assert!(!out.contains(first["key"].as_str().unwrap()));
    assert_eq!(before, files_under(&d), "the data dir changed");
}

/// Design note `real-site`: a missing storage directory was accepted silently.
#[test]
fn a_missing_storage_directory_is_an_error_unless_allowed() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("d");
    let (code, _, err) = p2pd(
        &d,
        &["install", "--file-storage", "/nonexistent/p2pd-packages"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--file-storage")
            && err.contains("/nonexistent/p2pd-packages")
            && err.contains("mkdir -p")
            && err.contains("--allow-missing-storage"),
        "{err}"
    );
    assert!(!d.exists(), "the failed install created the data dir");
    install(&d);
    let (code, _, err) = p2pd(&d, &["settings", "set", "file_storage", "/nonexistent/x"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("file_storage") && err.contains("mkdir -p"),
        "{err}"
    );
    let (_, show, _) = p2pd(&d, &["settings", "show", "--json"]);
    assert!(show.contains("\"file_storage\": \"/tmp\""), "{show}");
    // Said explicitly, a storage mounted later is accepted.
    let (code, out, err) = p2pd(
        &d,
        &[
            "settings",
            "set",
            "file_storage",
            "/nonexistent/x",
            "--allow-missing-storage",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("file_storage = /nonexistent/x"), "{out}");
    let e = t.path().join("e");
    let (code, _, err) = p2pd(
        &e,
        &[
            "install",
            "--file-storage",
            "/nonexistent/y",
            "--allow-missing-storage",
        ],
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn regenerate_makes_a_new_key_version_and_keeps_the_rest() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("d");
    let first = install(&d);
    p2pd(&d, &["settings", "set", "port", "9000"]);
    let (code, out, err) = p2pd(&d, &["key", "regenerate", "--json"]);
    assert_eq!(code, 0, "{err}");
    let second: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_ne!(first["key"], second["key"]);
    assert_eq!(second["key_version"], 2);
    assert_eq!(second["retired_fingerprint"], first["key_fingerprint"]);
    let (_, out, _) = p2pd(&d, &["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["key_version"], 2);
    assert_eq!(status["key_fingerprint"], second["key_fingerprint"]);
    assert_eq!(status["server_id"], first["server_id"]);
    // Numbers are JSON numbers (design note `real-site`: they were strings).
    assert_eq!(status["settings"]["port"], 9000);
    assert_eq!(status["settings"]["heartbeat_secs"], 10);
    assert!(status["counts"]["offices"].is_number(), "{status}");
    let (code, out, _) = p2pd(&d, &["settings", "set", "heartbeat_secs", "5", "--json"]);
    assert_eq!(code, 0);
    let set: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        set,
        serde_json::json!({"name": "heartbeat_secs", "value": 5, "was": 10})
    );
    for k in [&first["key"], &second["key"]] {
        assert!(!out.contains(k.as_str().unwrap()), "status leaked a key");
    }
    // install --regenerate-key does the same.
    let (code, out, _) = p2pd(&d, &["install", "--regenerate-key", "--json"]);
    assert_eq!(code, 0);
    let third: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(third["key_version"], 3);
}

#[test]
fn a_non_empty_foreign_dir_or_an_unwritable_path_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let foreign = t.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let (code, _, err) = p2pd(&foreign, &["install"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("not empty") && err.contains("--data-dir"),
        "{err}"
    );
    assert_eq!(files_under(&foreign).len(), 1, "something was written");

    // A path below a regular file can never be created, even by root.
    let file = t.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let (code, _, err) = p2pd(&file.join("d"), &["install"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("cannot") && err.contains(&file.display().to_string()),
        "{err}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
}

#[test]
fn bad_options_name_themselves_and_change_nothing() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("d");
    for (args, needle) in [
        (
            &["install", "--server-name", "bad host!"][..],
            "--server-name",
        ),
        (&["install", "--server-name", "300.1.2.3"], "--server-name"),
        (&["install", "--port", "0"], "--port"),
        (
            &["install", "--file-storage", "relative/dir"],
            "--file-storage",
        ),
        (&["install", "--cdn-url", "ftp://cdn.example"], "--cdn-url"),
    ] {
        let (code, _, err) = p2pd(&d, args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains(needle) && err.contains("like"),
            "{args:?}: {err}"
        );
        assert!(!d.exists(), "{args:?} created the data dir");
    }
    install(&d);
    let before = files_under(&d);
    let (code, _, err) = p2pd(&d, &["settings", "set", "cdn_url", "not a url"]);
    assert_eq!(code, 2);
    assert!(err.contains("cdn_url"), "{err}");
    let (code, _, err) = p2pd(&d, &["settings", "set", "colour", "blue"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("unknown setting") && err.contains("server_name"),
        "{err}"
    );
    // WAL checkpoints may rewrite database pages; the settings must not change.
    let (_, show, _) = p2pd(&d, &["settings", "show", "--json"]);
    assert!(show.contains("\"cdn_url\": \"\""), "{show}");
    let key =
        |files: &[(String, Vec<u8>, u32)]| files.iter().find(|f| f.0 == "shared.key").cloned();
    assert_eq!(key(&before), key(&files_under(&d)));
}

#[test]
fn a_corrupt_or_missing_key_file_is_a_clear_error() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("d");
    install(&d);
    std::fs::write(d.join("shared.key"), "garbage\n").unwrap();
    let (code, _, err) = p2pd(&d, &["serve", "--listen", "127.0.0.1:0"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("corrupt") && err.contains("p2pd key regenerate"),
        "{err}"
    );
    std::fs::remove_file(d.join("shared.key")).unwrap();
    let (code, _, err) = p2pd(&d, &["serve", "--listen", "127.0.0.1:0"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("missing") && err.contains("p2pd key regenerate"),
        "{err}"
    );
}

#[test]
fn a_database_from_a_newer_p2pd_is_refused_not_downgraded() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("d");
    install(&d);
    {
        let c = rusqlite::Connection::open(d.join("p2pd.db")).unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
    }
    let (code, _, err) = p2pd(&d, &["status"]);
    assert_ne!(code, 0);
    assert!(err.contains("newer") && err.contains("99"), "{err}");
    let c = rusqlite::Connection::open(d.join("p2pd.db")).unwrap();
    let v: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 99, "the schema version was changed");
}

#[test]
fn commands_on_a_missing_install_say_how_to_install() {
    let t = tempfile::tempdir().unwrap();
    let (code, _, err) = p2pd(&t.path().join("none"), &["status"]);
    assert_eq!(code, 2);
    assert!(err.contains("p2pd install"), "{err}");
}

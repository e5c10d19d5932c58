//! A data dir placed inside file storage must never be published: it holds
//! the shared key.

use crate::common::{ok, p2pd};

#[test]
fn publish_all_skips_a_data_dir_inside_file_storage() {
    let t = tempfile::tempdir().unwrap();
    let storage = t.path();
    std::fs::create_dir_all(storage.join("app/1.0")).unwrap();
    std::fs::write(storage.join("app/1.0/app.msi"), b"package bytes").unwrap();
    let d = storage.join("p2pd-data");
    ok(
        &d,
        &["install", "--file-storage", storage.to_str().unwrap()],
    );
    ok(&d, &["groups", "assign", "g"]);
    let (code, _, err) = p2pd(&d, &["publish", "--all"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("p2pd-data"), "the skip is reported: {err}");
    let (_, list, _) = p2pd(&d, &["content", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let paths: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["app/1.0/app.msi"]);
}

//! The layering rule of `src/lib.rs` ("# Layers"): every `crate::` path in
//! a module of `src/` names a module its line of the map allows, and the
//! map itself has no cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The map: module → the modules it may use, in the order of the list.
type Map = Vec<(String, BTreeSet<String>)>;

/// Reads the ```text block under "# Layers" in lib.rs's docs.
fn parse_map(lib_rs: &str) -> Map {
    let docs: Vec<&str> = lib_rs
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(str::trim)
        .collect();
    let start = docs
        .iter()
        .position(|l| *l == "# Layers")
        .expect("src/lib.rs has a \"# Layers\" section");
    let block = &docs[start..];
    let open = block
        .iter()
        .position(|l| *l == "```text")
        .expect("a ```text block")
        + 1;
    let len = block[open..]
        .iter()
        .position(|l| *l == "```")
        .expect("the block ends");
    block[open..open + len]
        .iter()
        .map(|l| {
            let (name, deps) = l
                .split_once(':')
                .unwrap_or_else(|| panic!("'{l}': want NAME: DEPS"));
            let deps = deps.split_whitespace().map(str::to_string).collect();
            (name.trim().to_string(), deps)
        })
        .collect()
}

/// Problems with the map itself: a dependency not listed earlier (a cycle,
/// or a typo), a module listed twice.
fn map_problems(map: &Map) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (name, deps) in map {
        for d in deps {
            if !seen.contains(d) {
                out.push(format!("{name}: uses {d}, which is not listed above it"));
            }
        }
        if !seen.insert(name.clone()) {
            out.push(format!("{name} is listed twice"));
        }
    }
    out
}

/// The top-level modules a line of Rust names through `crate::` paths.
/// (The caller skips comment lines: a doc link is not a use.)
fn crate_paths(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        // `p2pd_crate::` or `some_crate::` are other names.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::c}`: each first segment.
            let inner = group.split('}').next().unwrap_or("");
            for item in inner.split(',') {
                let m: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !m.is_empty() {
                    out.push(m);
                }
            }
            continue;
        }
        let m: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        // Items of lib.rs itself (`crate::VERSION`) are no module.
        if !m.is_empty() && m.chars().next().is_some_and(|c| c.is_lowercase()) {
            out.push(m);
        }
    }
    out
}

/// Every `module file:line uses X` that the map does not allow. `files`
/// are (top-level module, path shown, text).
fn violations(map: &Map, files: &[(String, String, String)]) -> Vec<String> {
    let allowed: BTreeMap<&str, &BTreeSet<String>> =
        map.iter().map(|(n, d)| (n.as_str(), d)).collect();
    let mut out = Vec::new();
    for (module, shown, text) in files {
        let Some(ok) = allowed.get(module.as_str()) else {
            out.push(format!("{shown}: module {module} is not in the map"));
            continue;
        };
        let mut in_comment = false;
        for (n, line) in text.lines().enumerate() {
            let t = line.trim_start();
            if t.starts_with("/*") {
                in_comment = true;
            }
            if in_comment {
                in_comment = !t.contains("*/");
                continue;
            }
            if t.starts_with("//") {
                continue;
            }
            for used in crate_paths(line) {
                if used != *module && !ok.contains(&used) {
                    out.push(format!(
                        "{shown}:{}: {module} uses crate::{used}: {}",
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    out
}

/// Every `.rs` file below `dir`.
pub(crate) fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let map = parse_map(&lib);
    let problems = map_problems(&map);
    assert!(
        problems.is_empty(),
        "the map in src/lib.rs:\n{}",
        problems.join("\n")
    );

    // Every module lib.rs declares is in the map, and the other way round.
    let declared: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';').to_string())
        .collect();
    let mapped: BTreeSet<String> = map.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(
        declared, mapped,
        "`pub mod`s of src/lib.rs vs the # Layers map"
    );

    let mut paths = Vec::new();
    rs_files(&src, &mut paths);
    let files: Vec<(String, String, String)> = paths
        .iter()
        .filter_map(|p| {
            let rel = p.strip_prefix(&src).unwrap();
            let first = rel.components().next()?.as_os_str().to_str()?;
            let module = first.trim_end_matches(".rs").to_string();
            // The crate root and the binary are above every layer.
            (module != "lib" && module != "main").then(|| {
                let shown = format!("src/{}", rel.display());
                (module, shown, std::fs::read_to_string(p).unwrap())
            })
        })
        .collect();
    assert!(
        files.len() > 50,
        "found only {} files under src/",
        files.len()
    );
    let bad = violations(&map, &files);
    assert!(
        bad.is_empty(),
        "imports against the layers of src/lib.rs (# Layers):\n{}",
        bad.join("\n")
    );
}

/// The check finds an upward use (and a grouped one), and ignores comments.
#[test]
fn the_layer_check_names_an_upward_use() {
    let map = parse_map(
        "//! # Layers\n//!\n//! ```text\n//! domain:\n//! store: domain\n//! server: store domain\n//! ```\n",
    );
    assert!(map_problems(&map).is_empty());
    let files = vec![
        ("store".to_string(), "src/store/x.rs".to_string(), "use crate::domain::Clock;\n// crate::server in a comment\nuse crate::{domain, server::Thing};\n".to_string()),
        ("domain".to_string(), "src/domain/y.rs".to_string(), "fn f() { crate::store::now() }\n".to_string()),
    ];
    assert_eq!(
        violations(&map, &files),
        vec![
            "src/store/x.rs:3: store uses crate::server: use crate::{domain, server::Thing};"
                .to_string(),
            "src/domain/y.rs:1: domain uses crate::store: fn f() { crate::store::now() }"
                .to_string(),
        ]
    );
    let cyclic = parse_map("//! # Layers\n//! ```text\n//! a: b\n//! b: a\n//! ```\n");
    assert_eq!(
        map_problems(&cyclic),
        vec!["a: uses b, which is not listed above it"]
    );
}

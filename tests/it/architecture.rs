//! The architecture invariants of `ARCHITECTURE.md` that a test can check
//! by reading `src/`: only `store` writes SQL, only `cli` uses clap and
//! anyhow, `platform` uses nothing else in the crate, `server::leader` does
//! no I/O, and the size limits (900 lines of non-test code per file, 120
//! lines per function) that keep every file readable in one sitting.

use std::path::Path;

use super::layers::rs_files;

/// One source file: its path under `src/` (with `/`) and its non-test
/// lines (everything before its `#[cfg(test)]` module).
struct Source {
    rel: String,
    code: Vec<String>,
}

/// The non-test code of every file in `src/`. A file that is a test
/// module of its own (`tests.rs`) has none.
fn sources() -> Vec<Source> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    rs_files(&src, &mut paths);
    paths.sort();
    let out: Vec<Source> = paths
        .iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(p).unwrap();
            let code = if rel.ends_with("/tests.rs") {
                Vec::new()
            } else {
                non_test_lines(&text)
            };
            Source { rel, code }
        })
        .collect();
    assert!(out.len() > 50, "found only {} files under src/", out.len());
    out
}

/// The lines before the first top-level `#[cfg(test)]`.
fn non_test_lines(text: &str) -> Vec<String> {
    text.lines()
        .take_while(|l| *l != "#[cfg(test)]")
        .map(str::to_string)
        .collect()
}

/// A code line, with comments and string contents left in: the callers
/// look for things that are wrong in either. Comment lines are skipped.
fn code_lines(s: &Source) -> impl Iterator<Item = (usize, &str)> {
    s.code
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim_start();
            !t.starts_with("//") && !t.starts_with("/*") && !t.starts_with('*')
        })
        .map(|(n, l)| (n + 1, l.as_str()))
}

/// Every `file:line: text` of non-test code outside `allowed` (a path
/// prefix under src/) where `hit` holds.
fn hits_outside(allowed: &[&str], hit: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    for s in sources() {
        if allowed.iter().any(|a| s.rel.starts_with(a)) {
            continue;
        }
        for (n, l) in code_lines(&s) {
            if hit(l) {
                out.push(format!("src/{}:{n}: {}", s.rel, l.trim()));
            }
        }
    }
    out
}

/// SQL in a string literal: the statements p2pd runs.
fn names_sql(line: &str) -> bool {
    const STATEMENTS: [&str; 7] = [
        "SELECT ",
        "INSERT INTO",
        "DELETE FROM",
        "CREATE TABLE",
        "CREATE INDEX",
        "ALTER TABLE",
        "BEGIN IMMEDIATE",
    ];
    let in_string = line.split('"').skip(1).step_by(2);
    let update = |s: &str| s.starts_with("UPDATE ") && s.contains(" SET ");
    in_string
        .into_iter()
        .any(|s| STATEMENTS.iter().any(|k| s.contains(k)) || update(s))
        || line.contains("rusqlite::")
        || line.contains("postgres::")
}

#[test]
fn only_the_store_writes_sql() {
    let bad = hits_outside(&["store/"], names_sql);
    assert!(bad.is_empty(), "SQL outside src/store:\n{}", bad.join("\n"));
}

#[test]
fn only_the_cli_uses_clap_and_anyhow() {
    let bad = hits_outside(&["cli/", "main.rs"], |l| {
        l.contains("clap::")
            || l.contains("anyhow::")
            || l.contains("anyhow!")
            || l.contains("use anyhow")
            || l.contains("use clap")
            || l.contains("derive(Parser")
            || l.contains("derive(Args")
    });
    assert!(
        bad.is_empty(),
        "clap or anyhow outside src/cli (the library returns typed errors):\n{}",
        bad.join("\n")
    );
}

#[test]
fn platform_uses_nothing_else_in_the_crate() {
    let mut bad = Vec::new();
    for s in sources().iter().filter(|s| s.rel.starts_with("platform/")) {
        for (n, l) in code_lines(s) {
            if l.contains("crate::") && !l.contains("crate::platform::") {
                bad.push(format!("src/{}:{n}: {}", s.rel, l.trim()));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "platform uses the crate:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_leadership_state_machine_does_no_io() {
    const IO: [&str; 8] = [
        "tokio::",
        "std::fs",
        "std::net",
        "reqwest",
        "crate::store",
        "std::thread",
        "std::io",
        "Instant::now",
    ];
    let all = sources();
    let leader = all
        .iter()
        .find(|s| s.rel == "server/leader.rs")
        .expect("src/server/leader.rs");
    let bad: Vec<String> = code_lines(leader)
        .filter(|(_, l)| IO.iter().any(|k| l.contains(k)))
        .map(|(n, l)| format!("src/server/leader.rs:{n}: {}", l.trim()))
        .collect();
    assert!(
        bad.is_empty(),
        "server/leader.rs is a pure state machine (time comes in as an argument):\n{}",
        bad.join("\n")
    );
}

/// Every function of non-test code: (file, first line, length in lines,
/// name). A function runs from its `fn` line to the first line after it
/// that closes at the same indentation (rustfmt's layout).
fn functions(s: &Source) -> Vec<(String, usize, usize, String)> {
    let mut out = Vec::new();
    for (i, line) in s.code.iter().enumerate() {
        let t = line.trim_start();
        let indent = line.len() - t.len();
        let mut words = t.split_whitespace().peekable();
        let mut name = None;
        while let Some(w) = words.next() {
            match w {
                "pub" | "async" | "const" | "unsafe" | "extern" => continue,
                w if w.starts_with("pub(") => continue,
                "fn" => {
                    name = words
                        .next()
                        .map(|n| n.split(['(', '<']).next().unwrap_or(n).to_string());
                    break;
                }
                _ => break,
            }
        }
        let Some(name) = name else { continue };
        // The signature ends at the first line of this indentation that
        // ends with `{` (a body) or `;` (a declaration in a trait).
        let same_indent = |l: &String| l.len() - l.trim_start().len() == indent;
        let Some(sig) = s.code[i..].iter().position(|l| {
            let l = l.trim_end();
            (l.ends_with('{') || l.ends_with(';')) && same_indent(&l.to_string())
        }) else {
            continue;
        };
        if s.code[i + sig].trim_end().ends_with(';') {
            continue;
        }
        let close = format!("{}}}", " ".repeat(indent));
        if let Some(len) = s.code[i + sig..].iter().position(|l| l.trim_end() == close) {
            out.push((s.rel.clone(), i + 1, sig + len + 1, name));
        }
    }
    out
}

#[test]
fn no_file_has_over_900_lines_and_no_function_over_120() {
    let all = sources();
    let long_files: Vec<String> = all
        .iter()
        .filter(|s| s.code.len() > 900)
        .map(|s| format!("src/{}: {} lines of non-test code", s.rel, s.code.len()))
        .collect();
    let long_fns: Vec<String> = all
        .iter()
        .flat_map(functions)
        .filter(|f| f.2 > 120)
        .map(|(rel, line, len, name)| format!("src/{rel}:{line}: fn {name} is {len} lines"))
        .collect();
    assert!(
        long_files.is_empty() && long_fns.is_empty(),
        "split these along their seams:\n{}\n{}",
        long_files.join("\n"),
        long_fns.join("\n")
    );
}

/// The measure itself: a function's length is counted from its `fn` line
/// to its closing brace, nested functions and trait declarations apart.
#[test]
fn the_function_measure_counts_what_it_should() {
    let text = "fn a() {\n    let x = 1;\n}\n\nimpl T {\n    pub(crate) async fn b(\n        y: u8,\n    ) -> u8 {\n        y\n    }\n}\ntrait U {\n    fn c(&self);\n}\n#[cfg(test)]\nfn d() {\n}\n";
    let s = Source {
        rel: "x.rs".to_string(),
        code: non_test_lines(text),
    };
    let got: Vec<(usize, usize, String)> = functions(&s)
        .into_iter()
        .map(|(_, l, n, f)| (l, n, f))
        .collect();
    assert_eq!(got, vec![(1, 3, "a".to_string()), (6, 5, "b".to_string())]);
}

/// Every top-level folder of `src/` has a `mod.rs` that opens with what it
/// owns and says what it may use, in the words of lib.rs's layer map; and
/// at most three loose files sit beside lib.rs and main.rs.
#[test]
fn every_folder_says_what_it_owns_and_may_use() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let map: Vec<(String, String)> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("//! "))
        .skip_while(|l| *l != "```text")
        .skip(1)
        .take_while(|l| *l != "```")
        .filter_map(|l| l.split_once(':'))
        .map(|(m, d)| (m.trim().to_string(), d.trim().to_string()))
        .collect();
    assert!(map.len() > 8, "the layer map of src/lib.rs: {map:?}");
    let mut bad = Vec::new();
    let mut loose = Vec::new();
    for e in std::fs::read_dir(&src).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if e.path().is_file() {
            if name != "lib.rs" && name != "main.rs" {
                loose.push(name);
            }
            continue;
        }
        let text = std::fs::read_to_string(e.path().join("mod.rs")).unwrap_or_default();
        if !text.starts_with("//! ") {
            bad.push(format!("src/{name}/mod.rs does not open with what it owns"));
        }
        let Some((_, deps)) = map.iter().find(|(m, _)| *m == name) else {
            bad.push(format!("src/{name} is not in the layer map"));
            continue;
        };
        let want = if deps.is_empty() {
            "//! May use: (nothing else in the crate)".to_string()
        } else {
            format!("//! May use: {deps}")
        };
        if !text.lines().any(|l| l == want) {
            bad.push(format!("src/{name}/mod.rs lacks the line `{want}`"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert!(loose.len() <= 3, "loose files in src/: {loose:?}");
}

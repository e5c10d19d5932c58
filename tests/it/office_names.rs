//! Design note `key-holders`, finding 12 (topology): `topology import` refuses office
//! names with NUL, terminal escapes, bidi overrides, the `(no office)`
//! label, or that differ from another only in case, by line and column,
//! for CSV and XLSX, and imports nothing; its messages never carry the
//! raw characters to the terminal.

use std::path::Path;

use crate::common::*;

const GOOD: &str = "office,parent,type,ranges,wan_kbps,description\n\
                    HQ,,default,10.0.0.0/16,,\n\
                    Branch,HQ,default,10.1.0.0/24,,\n";

/// The hostile rows, each (office, parent, range); "Branch" is the good
/// file's, so "BRANCH" differs from it only in case.
const ROWS: &[(&str, &str, &str)] = &[
    ("HQ", "", "10.0.0.0/16"),
    ("Branch", "HQ", "10.1.0.0/24"),
    ("Null\0Office", "HQ", "10.2.0.0/24"),
    ("\u{1b}]0;pwned\u{7}\u{1b}[2JClear", "HQ", "10.3.0.0/24"),
    ("Finance\u{202E}xslx.exe", "HQ", "10.4.0.0/24"),
    ("(no office)", "HQ", "10.5.0.0/24"),
    ("BRANCH", "HQ", "10.6.0.0/24"),
];

fn import(dir: &Path, file: &Path) -> (i32, String, String) {
    p2pd(dir, &["topology", "import", file.to_str().unwrap()])
}

fn assert_refused(dir: &Path, file: &Path, before: &str) {
    let (code, out, err) = import(dir, file);
    assert_eq!(code, 1, "{}: {err}", file.display());
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("nothing was imported"), "{err}");
    for (line, what) in [
        ("line 4, column 1:", "U+0000 (NUL"),
        ("line 5, column 1:", "U+001B (ESC"),
        (
            "line 6, column 1:",
            "U+202E (a bidirectional formatting character",
        ),
        (
            "line 7, column 1:",
            "'(no office)' is how reports show devices that have no office",
        ),
        (
            "line 8, column 1:",
            "office 'BRANCH' differs from office 'Branch' (line 3) only in case",
        ),
    ] {
        assert!(
            err.lines().any(|l| l.contains(line) && l.contains(what)),
            "{}: expected {line} {what} in:\n{err}",
            file.display()
        );
    }
    for raw in ['\0', '\u{1b}', '\u{7}', '\u{202E}'] {
        assert!(!err.contains(raw), "the message carries {raw:?}:\n{err:?}");
    }
    assert_eq!(
        ok(dir, &["topology", "export"]),
        before,
        "the refused import changed the topology"
    );
}

#[test]
fn hostile_office_names_are_refused_by_line_and_column_and_nothing_is_imported() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    ok(&dir, &["install"]);
    let good = root.path().join("good.csv");
    std::fs::write(&good, GOOD).unwrap();
    ok(&dir, &["topology", "import", good.to_str().unwrap()]);
    let before = ok(&dir, &["topology", "export"]);

    let mut csv = String::from("office,parent,ranges\n");
    for (n, p, r) in ROWS {
        csv.push_str(&format!("\"{n}\",{p},{r}\n"));
    }
    let file = root.path().join("hostile.csv");
    std::fs::write(&file, csv).unwrap();
    assert_refused(&dir, &file, &before);

    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in ["office", "parent", "ranges"].iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for (r, (n, p, range)) in ROWS.iter().enumerate() {
        for (c, v) in [n, p, range].iter().enumerate() {
            ws.write_string(r as u32 + 1, c as u16, **v).unwrap();
        }
    }
    let file = root.path().join("hostile.xlsx");
    std::fs::write(&file, wb.save_to_buffer().unwrap()).unwrap();
    assert_refused(&dir, &file, &before);
}

//! `p2pd topology import`: the file's problems all at once, or the diff
//! (`--dry-run`), or the import applied.

use std::io::Write;

use anyhow::Context;
use serde::Serialize;

use super::ImportArgs;
use crate::cli::exit::ExitCode;
use crate::cli::{Global, fail, open_store, output};
use crate::topology::{self, export, import};

#[derive(Serialize)]
struct JsonProblem {
    line: usize,
    column: usize,
    message: String,
}

#[derive(Serialize)]
struct ImportReport<'a> {
    ok: bool,
    dry_run: bool,
    offices: usize,
    notes: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    devices_moved: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<&'a export::Diff>,
    errors: Vec<JsonProblem>,
}

pub(super) fn run(g: &Global, a: ImportArgs) -> anyhow::Result<ExitCode> {
    let mut st = open_store(g)?;
    let bytes = std::fs::read(&a.file).map_err(|e| {
        fail(
            ExitCode::Usage,
            format!("cannot read {}: {e}", a.file.display()),
        )
    })?;
    if a.sheet.is_some() && !import::is_workbook(&a.file, &bytes) {
        return Err(fail(
            ExitCode::Usage,
            format!(
                "--sheet only applies to .xlsx workbooks; {} is read as CSV",
                a.file.display()
            ),
        ));
    }
    let parsed = match import::parse(&a.file, &bytes, a.sheet.as_deref()) {
        Ok(p) => p,
        Err(errors) => {
            let file = a.file.display();
            if a.out.json {
                output::print_json(&ImportReport {
                    ok: false,
                    dry_run: a.dry_run,
                    offices: 0,
                    notes: &[],
                    devices_moved: None,
                    diff: None,
                    errors: errors
                        .iter()
                        .map(|e| JsonProblem {
                            line: e.line,
                            column: e.column,
                            message: e.kind.to_string(),
                        })
                        .collect(),
                })?;
            }
            let n = errors.len();
            let mut list: Vec<String> = errors.iter().map(|e| format!("  {file}: {e}")).collect();
            let header_missing = errors
                .iter()
                .any(|e| matches!(e.kind, import::ImportErrorKind::MissingColumn(_)));
            if header_missing && a.sheet.is_none() && import::is_workbook(&a.file, &bytes) {
                let sheets = import::sheet_names(&bytes);
                list.push(format!(
                    "  hint: this read the workbook's first sheet ('{}'); its sheets are: {}; choose the topology sheet with --sheet NAME",
                    sheets.first().map_or("", |s| s.as_str()),
                    sheets.join(", ")
                ));
            }
            return Err(fail(
                ExitCode::Failed,
                format!(
                    "{file}: {n} problem{s} found, nothing was imported:\n{}",
                    list.join("\n"),
                    s = if n == 1 { "" } else { "s" }
                ),
            ));
        }
    };
    for n in &parsed.notes {
        eprintln!("note: {}: {n}", a.file.display());
    }
    if a.dry_run {
        let d = export::diff(&st, &parsed)?;
        if a.out.json {
            output::print_json(&ImportReport {
                ok: true,
                dry_run: true,
                offices: parsed.offices.len(),
                notes: &parsed.notes,
                devices_moved: Some(d.moved.len()),
                diff: Some(&d),
                errors: Vec::new(),
            })?;
        } else {
            print_diff(&a.file, parsed.offices.len(), &d)?;
        }
        return Ok(ExitCode::Ok);
    }
    let moved = topology::apply_import(&mut st, &parsed)
        .with_context(|| format!("cannot import {}", a.file.display()))?;
    let no_office = st.counts()?.no_office_devices;
    if a.out.json {
        output::print_json(&ImportReport {
            ok: true,
            dry_run: false,
            offices: parsed.offices.len(),
            notes: &parsed.notes,
            devices_moved: Some(moved),
            diff: None,
            errors: Vec::new(),
        })?;
    } else {
        println!(
            "imported {} from {}; distribution_optimization is on; {} moved, {no_office} no-office",
            output::count(parsed.offices.len(), "office"),
            a.file.display(),
            output::count(moved, "device"),
        );
    }
    Ok(ExitCode::Ok)
}

fn print_diff(file: &std::path::Path, offices: usize, d: &export::Diff) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "dry run: {} is valid ({}); nothing was written",
        file.display(),
        output::count(offices, "office")
    )?;
    if d.added.is_empty() && d.removed.is_empty() && d.changed.is_empty() && d.moved.is_empty() {
        writeln!(out, "no changes")?;
        return Ok(());
    }
    if !d.added.is_empty() {
        writeln!(
            out,
            "offices added ({}): {}",
            d.added.len(),
            d.added.join(", ")
        )?;
    }
    if !d.removed.is_empty() {
        writeln!(
            out,
            "offices removed ({}): {}",
            d.removed.len(),
            d.removed.join(", ")
        )?;
    }
    if !d.changed.is_empty() {
        writeln!(out, "offices changed ({}):", d.changed.len())?;
        for c in &d.changed {
            writeln!(out, "  {}: {}", c.office, c.changes.join("; "))?;
        }
    }
    if !d.moved.is_empty() {
        writeln!(out, "devices that would move ({}):", d.moved.len())?;
        let name = |o: &Option<String>| o.clone().unwrap_or_else(|| "(no office)".into());
        for m in &d.moved {
            writeln!(
                out,
                "  {} {}: {} -> {}",
                m.device,
                m.addr,
                name(&m.from),
                name(&m.to)
            )?;
        }
    }
    Ok(())
}

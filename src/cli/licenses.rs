//! `p2pd licenses`: the Activated Licenses report — every device with the
//! client installed and holding a license, as a table, CSV or JSON.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{Global, open_store, output};
use crate::cli::exit::ExitCode;

use output::ListFormat as Format;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format (--json is the same as --format json)
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Print JSON for scripts, like every other command's --json
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Show whole device ids in the table (by default the first 8
    /// characters; CSV and JSON always have whole ids)
    #[arg(long)]
    pub wide: bool,
    /// Write the report to FILE instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

const HEADER: &[&str] = &[
    "device_id",
    "hostname",
    "address",
    "office",
    "group",
    "client_version",
    "activated_at",
    "last_seen",
];

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let format = if a.json { Format::Json } else { a.format };
    let st = open_store(g)?;
    let rows = st.licenses()?;
    let mut cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut cells = output::device_cells(&r.device, true);
            cells.push(output::time(Some(r.activated_at)));
            cells.push(output::time(Some(r.last_seen)));
            cells
        })
        .collect();
    let json: Vec<serde_json::Value> = rows
        .iter()
        .zip(&cells)
        .map(|(r, c)| {
            let d = &r.device;
            serde_json::json!({
                "device_id": d.device_id,
                "hostname": d.hostname,
                "address": d.address,
                "office": d.office,
                "group": d.group,
                "client_version": d.version,
                "activated_at": c[6],
                "last_seen": c[7],
            })
        })
        .collect();
    let empty = "no device holds a license; devices take one when they enroll in an assigned group \
                 (`p2pd groups assign GROUP`, then `p2pd agent install ... --group GROUP`)";
    if format == Format::Table {
        for row in &mut cells {
            row[0] = output::short_id(&row[0], a.wide);
        }
    }
    emit(format, a.output.as_deref(), HEADER, &cells, &json, empty)?;
    Ok(ExitCode::Ok)
}

/// Writes a report in `format` to `out` (or stdout). `json` is what the
/// JSON form prints; `cells` are the table and CSV rows, in `header` order.
/// An empty table prints `empty` as advice instead (CSV and JSON stay
/// well-formed and empty, since scripts read them).
pub fn emit(
    format: Format,
    out: Option<&Path>,
    header: &[&str],
    cells: &[Vec<String>],
    json: &impl serde::Serialize,
    empty: &str,
) -> anyhow::Result<()> {
    let bytes = match format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(json)?;
            s.push('\n');
            s.into_bytes()
        }
        Format::Csv => {
            let mut w = csv::WriterBuilder::new()
                .terminator(csv::Terminator::Any(b'\n'))
                .from_writer(Vec::new());
            w.write_record(header)?;
            for row in cells {
                w.write_record(
                    row.iter()
                        .map(|c| crate::domain::cells::neutralise(c).into_owned()),
                )?;
            }
            w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?
        }
        Format::Table if cells.is_empty() => format!("{empty}\n").into_bytes(),
        Format::Table => {
            let mut t = output::table(header);
            if out.is_some() {
                // A file is read later, maybe not on a terminal: plain ASCII.
                t.load_style(comfy_table::presets::ASCII_MARKDOWN);
            }
            for row in cells {
                t.add_row(row.clone());
            }
            format!("{t}\n").into_bytes()
        }
    };
    match out {
        Some(path) => {
            std::fs::write(path, &bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "wrote {} to {}",
                output::count(cells.len(), "row"),
                path.display()
            );
        }
        None => std::io::stdout().lock().write_all(&bytes)?,
    }
    Ok(())
}

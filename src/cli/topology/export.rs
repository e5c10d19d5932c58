//! `p2pd topology export`: CSV (in the remembered or a chosen dialect) or
//! an .xlsx workbook, to standard output or a file.

use std::io::{IsTerminal, Write};

use anyhow::Context;

use super::{ExportArgs, ExportFormat};
use crate::cli::exit::ExitCode;
use crate::cli::{Global, fail, open_store, output};
use crate::topology::{self, export};

pub(super) fn run(g: &Global, a: ExportArgs) -> anyhow::Result<ExitCode> {
    let st = open_store(g)?;
    let rec = export::recorded(&st)?;
    let xlsx_name = a.output.as_ref().is_some_and(|p| {
        p.extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"))
    });
    let format = a.format.unwrap_or(if xlsx_name {
        ExportFormat::Xlsx
    } else {
        ExportFormat::Csv
    });
    let bytes = match format {
        ExportFormat::Xlsx => {
            if a.excel || a.plain {
                return Err(fail(
                    ExitCode::Usage,
                    "--excel and --plain choose a CSV dialect; they do not apply to --format xlsx",
                ));
            }
            if a.output.is_none() && std::io::stdout().is_terminal() {
                return Err(fail(
                    ExitCode::Usage,
                    "an .xlsx workbook is binary; write it to a file with -o FILE.xlsx",
                ));
            }
            export::to_xlsx(&rec).context("cannot write the .xlsx workbook")?
        }
        ExportFormat::Csv => {
            let dialect = if a.excel {
                export::Dialect::EXCEL
            } else if a.plain {
                export::Dialect::PLAIN
            } else {
                topology::remembered_dialect(&st)?
            };
            export::to_csv(&rec, dialect)?
        }
    };
    match &a.output {
        Some(path) => std::fs::write(path, &bytes)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().lock().write_all(&bytes)?,
    }
    // Not in the CSV: a comment line would break other CSV readers and the
    // round trip. The admin still sees the split ranges to fix.
    if rec.no_office.devices > 0 {
        let list: Vec<String> = rec
            .no_office
            .subnets
            .iter()
            .map(|s| format!("{} ({})", s.subnet, s.devices))
            .collect();
        eprintln!(
            "note: {}, in no office's range, by subnet: {}",
            output::count(rec.no_office.devices as usize, "no-office device"),
            list.join(", ")
        );
    }
    Ok(ExitCode::Ok)
}

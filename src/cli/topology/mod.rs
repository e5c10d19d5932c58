//! `p2pd topology import | export | show | locate`.

mod export;
mod import;
mod show;

use std::net::IpAddr;
use std::path::PathBuf;

use super::{Global, fail, open_store, output};
use crate::cli::exit::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Import the network topology from a CSV or .xlsx file
    ///
    /// Columns (header row required, any order, case-insensitive): office,
    /// parent, type (default, wifi, vpn), ranges (CIDRs and/or start-end,
    /// separated by ';', ',' or spaces), wan_kbps, description. Exactly one
    /// office has an empty parent: the Central Office. Import replaces the
    /// whole topology in one transaction, turns distribution_optimization on
    /// and re-places every device. Every problem is reported with its line
    /// and column; on any problem nothing changes (exit 1).
    Import(ImportArgs),
    /// Write the topology as recorded, in the import format
    ///
    /// Imported and auto-created offices with a devices count and a source
    /// column (import or auto). Import of this output gives the same topology.
    /// No-office devices are summarised on stderr.
    Export(ExportArgs),
    /// Draw the office tree with types, ranges, WAN caps and device counts
    Show(output::JsonFlag),
    /// Show which office each address belongs to, or why it has none
    Locate(LocateArgs),
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The topology file (.csv, or .xlsx)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Sheet of an .xlsx workbook (default: the first)
    #[arg(long, value_name = "NAME")]
    pub sheet: Option<String>,
    /// Validate and print what would change, without writing anything
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub out: output::JsonFlag,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Write to FILE instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// csv, or xlsx for an Excel workbook (one sheet, "Topology") that
    /// imports back unchanged [default: xlsx when FILE ends in .xlsx, else csv]
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<ExportFormat>,
    /// CSV as Excel in European locales writes and reads it: ';' between
    /// fields, a UTF-8 BOM, CRLF line ends. Without --excel or --plain,
    /// export writes CSV as the last imported CSV file was written (its
    /// delimiter, BOM and line ends)
    #[arg(long, conflicts_with = "plain")]
    pub excel: bool,
    /// Plain CSV: ',' between fields, LF line ends, no BOM
    #[arg(long)]
    pub plain: bool,
}

/// What `topology export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

#[derive(Debug, clap::Args)]
pub struct LocateArgs {
    /// IP addresses to locate
    #[arg(value_name = "ADDR", required = true)]
    pub addrs: Vec<String>,
    #[command(flatten)]
    pub out: output::JsonFlag,
}

pub fn run(g: &Global, c: Command) -> anyhow::Result<ExitCode> {
    match c {
        Command::Import(a) => import::run(g, a),
        Command::Export(a) => export::run(g, a),
        Command::Show(j) => show::run(g, j),
        Command::Locate(a) => run_locate(g, a),
    }
}

fn run_locate(g: &Global, a: LocateArgs) -> anyhow::Result<ExitCode> {
    let st = open_store(g)?;
    let mut addrs = Vec::with_capacity(a.addrs.len());
    for s in &a.addrs {
        let ip: IpAddr = s.trim().parse().map_err(|_| {
            fail(
                ExitCode::Usage,
                format!("'{s}' is not an IP address (examples: 10.1.2.3, 2001:db8::5)"),
            )
        })?;
        addrs.push((s.trim().to_string(), ip));
    }
    let rows = crate::topology::locate::locate(&st, &addrs)?;
    if a.out.json {
        output::print_json(&rows)?;
    } else {
        let mut t = output::table(&["address", "office", "reason"]);
        for r in rows {
            t.add_row(vec![
                r.address,
                r.office.unwrap_or_else(|| "(no office)".into()),
                r.reason,
            ]);
        }
        println!("{t}");
    }
    Ok(ExitCode::Ok)
}

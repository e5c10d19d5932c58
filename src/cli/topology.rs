//! `p2pd topology import | export | show | locate`.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::Context;
use serde::Serialize;

use super::{Global, fail, open_store, output};
use crate::exit::ExitCode;
use crate::topology::{self, Hit, Lookup, export, import, range};

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
        Command::Import(a) => run_import(g, a),
        Command::Export(a) => run_export(g, a),
        Command::Show(j) => run_show(g, j),
        Command::Locate(a) => run_locate(g, a),
    }
}

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

fn run_import(g: &Global, a: ImportArgs) -> anyhow::Result<ExitCode> {
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

fn run_export(g: &Global, a: ExportArgs) -> anyhow::Result<ExitCode> {
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

fn run_show(g: &Global, j: output::JsonFlag) -> anyhow::Result<ExitCode> {
    let st = open_store(g)?;
    let rec = export::recorded(&st)?;
    if j.json {
        output::print_json(&tree_json(&rec))?;
        return Ok(ExitCode::Ok);
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "distribution_optimization: {}",
        if rec.distribution_optimization {
            "on (offices from the imported topology)"
        } else {
            "off (one auto office per client subnet)"
        }
    )?;
    if rec.offices.is_empty() {
        writeln!(
            out,
            "no offices yet; import a topology with `p2pd topology import FILE`"
        )?;
    }
    let children = children_of(&rec);
    for root in rec.offices.iter().filter(|o| o.parent.is_none()) {
        draw(&mut out, &rec, &children, root, "", None)?;
    }
    let n = &rec.no_office;
    writeln!(out, "no-office devices: {}", n.devices)?;
    for s in &n.subnets {
        writeln!(
            out,
            "  {}  {}",
            s.subnet,
            output::count(s.devices as usize, "device")
        )?;
    }
    Ok(ExitCode::Ok)
}

/// Index of each office's children (by position in `rec.offices`).
fn children_of(rec: &export::Recorded) -> HashMap<&str, Vec<usize>> {
    let mut m: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, o) in rec.offices.iter().enumerate() {
        if let Some(p) = &o.parent {
            m.entry(p.as_str()).or_default().push(i);
        }
    }
    m
}

fn describe(o: &export::OfficeView) -> String {
    let mut s = format!("{} [{}", o.name, o.kind);
    if o.source == "auto" {
        s.push_str(", auto");
    }
    s.push(']');
    if !o.ranges.is_empty() {
        s.push_str("  ");
        s.push_str(&o.ranges.join(" "));
    }
    if let Some(k) = o.wan_kbps {
        s.push_str(&format!("  WAN {k} kbit/s"));
    }
    s.push_str(&format!(
        "  {} device{}",
        o.devices,
        if o.devices == 1 { "" } else { "s" }
    ));
    s
}

/// Draws `o` and its subtree; `last` is None for a root.
fn draw(
    out: &mut impl Write,
    rec: &export::Recorded,
    children: &HashMap<&str, Vec<usize>>,
    o: &export::OfficeView,
    indent: &str,
    last: Option<bool>,
) -> anyhow::Result<()> {
    let (branch, next) = match last {
        None => ("", String::new()),
        Some(true) => ("└── ", format!("{indent}    ")),
        Some(false) => ("├── ", format!("{indent}│   ")),
    };
    writeln!(out, "{indent}{branch}{}", describe(o))?;
    if let Some(kids) = children.get(o.name.as_str()) {
        for (k, &i) in kids.iter().enumerate() {
            draw(
                out,
                rec,
                children,
                &rec.offices[i],
                &next,
                Some(k + 1 == kids.len()),
            )?;
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonNode<'a> {
    #[serde(flatten)]
    office: &'a export::OfficeView,
    children: Vec<JsonNode<'a>>,
}

#[derive(Serialize)]
struct JsonTree<'a> {
    distribution_optimization: bool,
    offices: Vec<JsonNode<'a>>,
    no_office: &'a export::NoOffice,
}

fn tree_json(rec: &export::Recorded) -> JsonTree<'_> {
    let children = children_of(rec);
    fn node<'a>(
        rec: &'a export::Recorded,
        children: &HashMap<&str, Vec<usize>>,
        o: &'a export::OfficeView,
    ) -> JsonNode<'a> {
        JsonNode {
            office: o,
            children: children
                .get(o.name.as_str())
                .map(|k| {
                    k.iter()
                        .map(|&i| node(rec, children, &rec.offices[i]))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
    JsonTree {
        distribution_optimization: rec.distribution_optimization,
        offices: rec
            .offices
            .iter()
            .filter(|o| o.parent.is_none())
            .map(|o| node(rec, &children, o))
            .collect(),
        no_office: &rec.no_office,
    }
}

#[derive(Serialize)]
struct Located {
    address: String,
    office: Option<String>,
    office_id: Option<i64>,
    range: Option<String>,
    reason: String,
}

fn run_locate(g: &Global, a: LocateArgs) -> anyhow::Result<ExitCode> {
    let st = open_store(g)?;
    let mut ips = Vec::with_capacity(a.addrs.len());
    for s in &a.addrs {
        let ip: IpAddr = s.trim().parse().map_err(|_| {
            fail(
                ExitCode::Usage,
                format!("'{s}' is not an IP address (examples: 10.1.2.3, 2001:db8::5)"),
            )
        })?;
        ips.push(ip);
    }
    let lookup = Lookup::load(&st)?;
    let names: HashMap<i64, String> = st.offices()?.into_iter().map(|o| (o.id, o.name)).collect();
    let name = |id: i64| names.get(&id).cloned().unwrap_or_else(|| format!("#{id}"));
    let mut rows = Vec::with_capacity(ips.len());
    for (s, ip) in a.addrs.iter().zip(ips) {
        let row = match lookup.hit(ip) {
            Hit::In(e) => Located {
                address: s.trim().to_string(),
                office: Some(name(e.office_id)),
                office_id: Some(e.office_id),
                range: Some(e.spec.clone()),
                reason: if lookup.optimization() {
                    format!("in range {}", e.spec)
                } else {
                    format!(
                        "in auto office subnet {} (distribution_optimization off)",
                        e.spec
                    )
                },
            },
            Hit::Gap { below, above } => {
                let reason = if lookup.optimization() {
                    let side = |e: Option<&topology::RangeEntry>| {
                        e.map(|e| format!("{} of '{}'", e.spec, name(e.office_id)))
                    };
                    let near = match (side(below), side(above)) {
                        (Some(b), Some(a)) => format!(" (it falls between {b} and {a})"),
                        (Some(b), None) => format!(" (the nearest range below is {b})"),
                        (None, Some(a)) => format!(" (the nearest range above is {a})"),
                        (None, None) => String::new(),
                    };
                    format!(
                        "no office: no office's range holds it{near}; add it to an office's ranges and re-import"
                    )
                } else {
                    let subnet = range::subnet_name(ip, range::auto_prefix(ip, 0));
                    format!(
                        "no office yet: distribution_optimization is off and subnet {subnet} has no auto office; one is created when a device there enrolls"
                    )
                };
                Located {
                    address: s.trim().to_string(),
                    office: None,
                    office_id: None,
                    range: None,
                    reason,
                }
            }
        };
        rows.push(row);
    }
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

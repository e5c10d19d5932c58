//! Output helpers: tables for people, JSON for scripts, time formatting.

use std::io::{IsTerminal, Write};

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

/// Output format of a list or report (`devices list`, `licenses`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    /// Aligned columns for people
    Table,
    /// Comma-separated values with a header row, for spreadsheets
    Csv,
    /// A JSON array of objects, for scripts (same as --json)
    Json,
}

/// `--json` for commands whose output is data.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct JsonFlag {
    /// Print machine-readable JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

/// Width for tables on a terminal that does not say how wide it is (a pty
/// whose size was never set reports 0 columns) and no usable `$COLUMNS`.
pub const FALLBACK_WIDTH: u16 = 100;

/// Narrower than this, a reported width is taken as unknown: no table fits
/// anyway, and wrapping at 0 or 1 columns printed one character per line.
const MIN_WIDTH: u16 = 20;

/// The width of the terminal on stdout: its reported size, else
/// `$COLUMNS`, else [`FALLBACK_WIDTH`]. `None` when stdout is no terminal
/// (then tables are not wrapped at all).
pub fn terminal_width() -> Option<u16> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    let cols = crate::platform::terminal_columns().unwrap_or(0);
    if cols >= MIN_WIDTH {
        return Some(cols);
    }
    let env = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|&c| c >= MIN_WIDTH);
    Some(env.unwrap_or(FALLBACK_WIDTH))
}

/// A table in the house style; plain ASCII when stdout is not a terminal.
/// On a terminal it is fitted to [`terminal_width`].
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    match terminal_width() {
        Some(w) => {
            t.load_style(UTF8_FULL_CONDENSED);
            t.set_width(w);
        }
        None => {
            t.load_style(comfy_table::presets::ASCII_MARKDOWN);
        }
    }
    t.set_content_arrangement(ContentArrangement::Dynamic);
    t.set_header(header.to_vec());
    t
}

/// Length of a shortened id in tables (`--wide` shows the whole id).
pub const SHORT_ID: usize = 8;

/// `id` cut to [`SHORT_ID`] characters unless `wide`, so a table of UUIDs
/// fits a narrow terminal; CSV and JSON always carry the full id.
pub fn short_id(id: &str, wide: bool) -> String {
    if wide {
        id.to_string()
    } else {
        id.chars().take(SHORT_ID).collect()
    }
}

/// The cells every device list starts with (device, hostname, address,
/// office, group, version); the id whole if `wide`, else short.
pub fn device_cells(d: &crate::store::ops::ListedDevice, wide: bool) -> Vec<String> {
    vec![
        short_id(&d.device_id, wide),
        d.hostname.clone(),
        d.address.clone(),
        d.office.clone().unwrap_or_else(|| "(no office)".into()),
        d.group.clone(),
        d.version.clone(),
    ]
}

pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = serde_json::to_string_pretty(value)?;
    out.push('\n');
    use std::io::Write;
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(())
}

/// Unix seconds as RFC 3339 (UTC), or "-" for none.
pub fn time(t: Option<i64>) -> String {
    match t {
        Some(t) if t >= 0 => humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(t as u64),
        )
        .to_string(),
        _ => "-".into(),
    }
}

/// Bytes in binary units, for people.
pub fn bytes(n: u64) -> String {
    const UNITS: &[&str] = &["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

pub use crate::domain::words::{count, plural};

/// The one and only time a key is shown.
pub fn print_key_once(o: &mut impl Write, key: &str) -> std::io::Result<()> {
    writeln!(o)?;
    writeln!(o, "Shared key:")?;
    writeln!(o)?;
    writeln!(o, "    {key}")?;
    writeln!(o)?;
    writeln!(
        o,
        "WARNING: copy this key now. It is shown only this once and cannot be shown again."
    )?;
    writeln!(
        o,
        "Every agent needs it (p2pd agent --key-file FILE). If it is lost, run"
    )?;
    writeln!(
        o,
        "`p2pd key regenerate`: the old key then gets a key mismatch error everywhere."
    )?;
    Ok(())
}

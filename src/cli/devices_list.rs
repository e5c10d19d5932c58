//! `p2pd devices list`: the device list of [`crate::ops::devices::list`] as a
//! table (with the reasons behind states that need the admin), CSV or
//! JSON, to standard output or a file.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use super::{Global, open_store, output};
use crate::cli::exit::ExitCode;
use crate::ops::devices::{self, DeviceView, short};

use output::ListFormat as Format;

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub out: output::JsonFlag,
    /// Output format: `csv` writes comma-separated values with a header
    /// row, for spreadsheets (`json` is the same as --json)
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Show full device ids and every column, however wide
    #[arg(long)]
    pub wide: bool,
    /// Write the list to FILE instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn list(g: &Global, a: ListArgs) -> anyhow::Result<ExitCode> {
    let views = devices::list(&open_store(g)?)?;
    let mut out: Box<dyn Write> = match &a.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot write {}", p.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    if a.out.json || a.format == Format::Json {
        let mut s = serde_json::to_string_pretty(&views)?;
        s.push('\n');
        out.write_all(s.as_bytes())?;
    } else if a.format == Format::Csv {
        devices::write_csv(&mut out, &views, |t| output::time(Some(t)))?;
    } else if views.is_empty() {
        writeln!(
            out,
            "no device has enrolled yet; start one with `p2pd agent install ...`"
        )?;
    } else {
        print_table(&mut out, &views, a.wide)?;
    }
    out.flush()?;
    Ok(ExitCode::Ok)
}

fn print_table(out: &mut dyn Write, views: &[DeviceView], wide: bool) -> anyhow::Result<()> {
    let mut t = output::table(&[
        "device",
        "hostname",
        "address",
        "office",
        "group",
        "version",
        "last seen",
        "score",
        "pref",
        "state",
    ]);
    if wide {
        t.set_content_arrangement(comfy_table::ContentArrangement::Disabled);
    }
    for v in views {
        let mut row = output::device_cells(&v.device, wide);
        row.extend([
            output::time(Some(v.last_seen)),
            format!("{:.1}", v.score),
            match v.preference {
                "normal" => "-".to_string(),
                p => p.to_string(),
            },
            v.state.to_string(),
        ]);
        t.add_row(row);
    }
    writeln!(out, "{t}")?;
    // The reasons behind the states that need the admin, one line each.
    for v in views {
        let who = format!("{} ({})", v.device.hostname, short(&v.device.device_id));
        if let Some(k) = &v.stale_key {
            writeln!(
                out,
                "stale key: {who} signs with key {} ({} refused, last {}); \
                 give it the current key: `p2pd agent install --key-file FILE ...` on that device",
                k.fingerprint,
                output::count(k.refused as usize, "request"),
                output::time(Some(k.last_refused_at))
            )?;
        }
        if let Some(why) = &v.unreachable {
            writeln!(
                out,
                "unreachable: {who}: {why}; it still downloads, but never leads and is never a source"
            )?;
        }
        for s in &v.stuck {
            writeln!(
                out,
                "stuck: {who} on {}: {}",
                short(&s.content_id),
                s.reason
            )?;
        }
    }
    Ok(())
}

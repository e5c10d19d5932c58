//! `p2pd report`: per office and per content, where the bytes came from.

use super::{Global, fail, open_store, output};
use crate::cli::exit::ExitCode;
use crate::ops::report::{ContentReport, content_report};

#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Columns: done is devices done / targeted; LAN, parent office, server and CDN/storage are the \
bytes the office's devices received from each source; WAN copies is what entered the office \
from outside divided by the package size (1.00 is ideal); time is from the office's first \
request for the content to its last device done (delivered the verified file), in seconds to \
0.1 s, shown once every targeted device in the office is done. --json gives the same per office \
(seconds as a number).")]
pub struct Args {
    /// Content id (or a unique prefix); default: every content
    pub content: Option<String>,
    #[command(flatten)]
    pub out: output::JsonFlag,
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let st = open_store(g)?;
    let ids: Vec<String> = st
        .content_ids()?
        .into_iter()
        .map(|(id, _, _)| id)
        .filter(|id| {
            a.content
                .as_ref()
                .is_none_or(|p| id.starts_with(p.as_str()))
        })
        .collect();
    if let Some(p) = &a.content {
        if ids.is_empty() {
            return Err(fail(
                ExitCode::Usage,
                format!("no content matches '{p}'; see `p2pd content list`"),
            ));
        }
        if ids.len() > 1 {
            return Err(fail(
                ExitCode::Usage,
                format!("'{p}' matches {} contents; give more of the id", ids.len()),
            ));
        }
    }
    let mut reports = Vec::new();
    for id in ids {
        if let Some(r) = content_report(&st, &id)? {
            reports.push(r);
        }
    }
    if a.out.json {
        output::print_json(&reports)?;
    } else if reports.is_empty() {
        println!("nothing published yet");
    } else {
        // Errors go up: a closed pipe (`p2pd report | head`) ends quietly.
        let mut out = std::io::stdout().lock();
        for r in &reports {
            print_report(&mut out, r)?;
        }
    }
    Ok(ExitCode::Ok)
}

/// The time column: what it measures, in the header itself.
pub const TIME_HEADER: &str = "time (1st request → last done)";

pub fn print_report(out: &mut impl std::io::Write, r: &ContentReport) -> std::io::Result<()> {
    writeln!(
        out,
        "{} {} ({}, {})",
        r.name,
        r.version,
        output::bytes(r.size),
        &r.content_id[..12.min(r.content_id.len())]
    )?;
    let mut t = output::table(&[
        "office",
        "parent",
        "done",
        "LAN",
        "parent office",
        "server",
        "CDN/storage",
        "WAN copies",
        TIME_HEADER,
    ]);
    for o in &r.offices {
        t.add_row(vec![
            if o.kind == "default" || o.kind == "-" {
                o.office.clone()
            } else {
                format!("{} [{}]", o.office, o.kind)
            },
            o.parent.clone().unwrap_or_else(|| "-".into()),
            if o.devices_stuck > 0 {
                format!(
                    "{}/{} ({} stuck)",
                    o.devices_done, o.devices_targeted, o.devices_stuck
                )
            } else {
                format!("{}/{}", o.devices_done, o.devices_targeted)
            },
            output::bytes(o.bytes_lan),
            output::bytes(o.bytes_parent),
            output::bytes(o.bytes_server),
            output::bytes(o.bytes_cdn),
            format!("{:.2}", o.wan_copies),
            o.seconds
                .map(|s| format!("{s:.1} s"))
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    writeln!(out, "{t}")?;
    for s in &r.stuck {
        writeln!(
            out,
            "stuck: {} ({}) in {}: {}",
            s.hostname,
            &s.device_id[..8.min(s.device_id.len())],
            s.office.as_deref().unwrap_or("(no office)"),
            s.reason
        )?;
    }
    Ok(())
}

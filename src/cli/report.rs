//! `p2pd report`: per office and per content, where the bytes came from.

use super::{Global, fail, open_store, output};
use crate::exit::ExitCode;
use crate::report::{ContentReport, content_report};

#[derive(Debug, clap::Args)]
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
        for r in &reports {
            print_report(r);
        }
    }
    Ok(ExitCode::Ok)
}

pub fn print_report(r: &ContentReport) {
    println!(
        "{} {} ({}, {})",
        r.name,
        r.version,
        output::bytes(r.size),
        &r.content_id[..12.min(r.content_id.len())]
    );
    let mut t = output::table(&[
        "office",
        "parent",
        "done",
        "LAN",
        "parent office",
        "server",
        "CDN/storage",
        "WAN copies",
        "time",
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
                .map(|s| format!("{s} s"))
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    println!("{t}");
    for s in &r.stuck {
        println!(
            "stuck: {} ({}) in {}: {}",
            s.hostname,
            &s.device_id[..8.min(s.device_id.len())],
            s.office.as_deref().unwrap_or("(no office)"),
            s.reason
        );
    }
}

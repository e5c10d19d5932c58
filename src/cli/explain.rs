//! `p2pd explain --device D --content C`: prints [`crate::ops::explain`]'s answer.

use std::io::Write;

use super::{Global, fail, open_store, output};
use crate::cli::exit::ExitCode;
use crate::ops::explain::{ExplainError, Explanation};
use crate::server::decisions::clock;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The device: its id (or a prefix of 4+ characters), hostname or address
    #[arg(long, value_name = "ID|HOSTNAME")]
    pub device: String,
    /// The content: its id (or a prefix of 4+ characters), NAME or "NAME VERSION"
    #[arg(long, value_name = "ID|NAME")]
    pub content: String,
    #[command(flatten)]
    pub out: output::JsonFlag,
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let st = open_store(g)?;
    let e = crate::ops::explain::explain(&st, &a.device, &a.content).map_err(|e| match e {
        ExplainError::Store(_) | ExplainError::Topology(_) => anyhow::Error::new(e),
        _ => fail(ExitCode::Usage, e.to_string()),
    })?;
    if a.out.json {
        output::print_json(&e)?;
    } else {
        print(&e)?;
    }
    Ok(ExitCode::Ok)
}

fn print(e: &Explanation) -> anyhow::Result<()> {
    let mut o = std::io::stdout().lock();
    let d = &e.device;
    let c = &e.content;
    writeln!(
        o,
        "device   {} ({}, {})  group {}  version {}",
        d.hostname, d.addr, d.id, d.group, d.version
    )?;
    writeln!(
        o,
        "content  {} {} ({})  {}, {}; holds {}/{}{}",
        c.name,
        c.version,
        &c.id[..12.min(c.id.len())],
        output::bytes(c.size),
        output::count(c.pieces as usize, "piece"),
        c.pieces_held,
        c.pieces,
        c.done_at
            .map(|t| format!(", done at {}", clock(t)))
            .unwrap_or_default()
    )?;
    writeln!(
        o,
        "office   {}: {}",
        e.office.office.as_deref().unwrap_or("(no office)"),
        e.office.reason
    )?;
    writeln!(o, "peers    {}", d.reachability)?;
    if let Some(m) = e.moves.first() {
        writeln!(o, "moved    {}", m.reason)?;
    }
    writeln!(o)?;
    writeln!(o, "role and leader over time (UTC):")?;
    if e.timeline.is_empty() {
        writeln!(
            o,
            "  nothing recorded: the device has not asked for sources for this content"
        )?;
    }
    for t in &e.timeline {
        let what = match t.kind.as_str() {
            "sources" => format!(
                "{:<8} leader {}",
                t.role.as_deref().unwrap_or("-"),
                t.leader.as_deref().unwrap_or("-")
            ),
            k => k.to_string(),
        };
        writeln!(o, "  {}  {what}", clock(t.at))?;
        writeln!(o, "            {}", t.reason)?;
    }
    writeln!(o)?;
    writeln!(o, "bytes by source tier:")?;
    if e.tiers.is_empty() {
        writeln!(o, "  none reported yet")?;
    }
    for t in &e.tiers {
        writeln!(
            o,
            "  {:<7} {} in {}{}",
            t.tier,
            output::bytes(t.bytes),
            output::count(t.pieces as usize, "piece"),
            if t.failed_bytes > 0 {
                format!(", {} failed verification", output::bytes(t.failed_bytes))
            } else {
                String::new()
            }
        )?;
        if !t.sources.is_empty() {
            let from: Vec<String> = t
                .sources
                .iter()
                .map(|s| format!("{}: {}", s.device, output::bytes(s.bytes)))
                .collect();
            writeln!(o, "          from {}", from.join("; "))?;
        }
        for r in &t.reasons {
            writeln!(o, "          why: {r}")?;
        }
    }
    writeln!(o)?;
    writeln!(o, "bans:")?;
    if e.bans.is_empty() {
        writeln!(o, "  none")?;
    }
    for b in &e.bans {
        writeln!(o, "  {}  {}", clock(b.at), b.reason)?;
    }
    writeln!(o, "failovers in its office:")?;
    if e.failovers.is_empty() {
        writeln!(o, "  none")?;
    }
    for f in &e.failovers {
        writeln!(o, "  {}  {}", clock(f.at), f.reason)?;
    }
    Ok(())
}

//! `p2pd devices list | retire | prefer | unprefer | exclude | unban`: every
//! enrolled device with its office, group, version, last heartbeat,
//! preferred-device score and state, and the admin's say over one device.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use super::{Global, fail, open_store, output};
use crate::devices::{self, DeviceError, DeviceView, short};
use crate::exit::ExitCode;
use crate::store::Store;
use crate::store::devices::{DeviceRow, Preference};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List devices: office, group, version, last seen, preferred-device
    /// score, the admin's preference and state (online, offline, banned,
    /// stuck, stale key)
    List(ListArgs),
    /// Retire a device for good: release its license and forget it (its
    /// past transfers stay in `report`). Stop its agent first: a running
    /// agent enrolls again and takes a new license
    Retire {
        /// Device id, a unique prefix of one, or a unique hostname
        id: String,
        /// Retire it even though it is online
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        out: output::JsonFlag,
    },
    /// Make a device lead its office whenever it is online (ranked before
    /// every device that is not preferred)
    Prefer {
        /// Device id, a unique prefix of one, or a unique hostname
        id: String,
        #[command(flatten)]
        out: output::JsonFlag,
    },
    /// Undo `prefer` or `exclude`: rank the device by its history alone
    Unprefer {
        /// Device id, a unique prefix of one, or a unique hostname
        id: String,
        #[command(flatten)]
        out: output::JsonFlag,
    },
    /// Never let a device lead its office (it still downloads and shares
    /// with its office's peers)
    Exclude {
        /// Device id, a unique prefix of one, or a unique hostname
        id: String,
        #[command(flatten)]
        out: output::JsonFlag,
    },
    /// Lift a device's bans and forget the bad-piece reports against it
    /// (bans also expire by themselves after a day)
    Unban {
        /// Device id, a unique prefix of one, or a unique hostname
        id: String,
    },
}

/// Output format of `devices list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people
    Table,
    /// Comma-separated values with a header row, for spreadsheets
    Csv,
    /// A JSON array of objects, for scripts (same as --json)
    Json,
}

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

pub fn run(g: &Global, c: Command) -> anyhow::Result<ExitCode> {
    match c {
        Command::List(a) => list(g, a),
        Command::Retire { id, force, out } => retire(g, &id, force, out.json),
        Command::Prefer { id, out } => prefer(g, &id, Preference::Preferred, out.json),
        Command::Unprefer { id, out } => prefer(g, &id, Preference::Normal, out.json),
        Command::Exclude { id, out } => prefer(g, &id, Preference::Excluded, out.json),
        Command::Unban { id } => unban(g, &id),
    }
}

/// The one device `id` names (see [`devices::resolve`]).
fn resolve(st: &Store, id: &str) -> anyhow::Result<DeviceRow> {
    devices::resolve(st, id).map_err(device_error)
}

fn device_error(e: DeviceError) -> anyhow::Error {
    match e {
        e if e.is_usage() => fail(ExitCode::Usage, e.to_string()),
        e @ DeviceError::Online { .. } => fail(ExitCode::Failed, e.to_string()),
        e => anyhow::Error::new(e),
    }
}

/// What `retire`, `prefer`, `unprefer` and `exclude` print with `--json`.
#[derive(serde::Serialize)]
struct Changed<'a> {
    device_id: &'a str,
    hostname: &'a str,
    /// `retired`, or the preference now set (`preferred`, `normal`,
    /// `excluded`).
    result: &'a str,
}

fn retire(g: &Global, id: &str, force: bool, json: bool) -> anyhow::Result<ExitCode> {
    let mut st = open_store(g)?;
    let d = devices::retire(&mut st, id, force, |t| output::time(Some(t))).map_err(device_error)?;
    if json {
        output::print_json(&Changed {
            device_id: &d.id,
            hostname: &d.hostname,
            result: "retired",
        })?;
        return Ok(ExitCode::Ok);
    }
    println!("retired {} ({}); its license is released", d.hostname, d.id);
    Ok(ExitCode::Ok)
}

fn unban(g: &Global, id: &str) -> anyhow::Result<ExitCode> {
    let mut st = open_store(g)?;
    let d = resolve(&st, id)?;
    match st.unban(&d.id)? {
        0 => println!(
            "{} ({}) was not banned; reports against it are forgotten",
            d.hostname, d.id
        ),
        n => println!(
            "{} ({}) is no longer banned ({n} content{} lifted)",
            d.hostname,
            d.id,
            if n == 1 { "" } else { "s" }
        ),
    }
    Ok(ExitCode::Ok)
}

fn prefer(g: &Global, id: &str, p: Preference, json: bool) -> anyhow::Result<ExitCode> {
    let st = open_store(g)?;
    let d = resolve(&st, id)?;
    st.set_preference(&d.id, p)?;
    if json {
        output::print_json(&Changed {
            device_id: &d.id,
            hostname: &d.hostname,
            result: p.as_str(),
        })?;
        return Ok(ExitCode::Ok);
    }
    let what = match p {
        Preference::Preferred => "preferred: it leads its office whenever it is online",
        Preference::Normal => "ranked by its history again",
        Preference::Excluded => "excluded: it never leads its office",
    };
    println!("{} ({}) is {what}", d.hostname, d.id);
    Ok(ExitCode::Ok)
}

fn list(g: &Global, a: ListArgs) -> anyhow::Result<ExitCode> {
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
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record([
            "hostname",
            "address",
            "office",
            "group",
            "version",
            "last_seen",
            "score",
            "state",
            "device_id",
            "preference",
        ])?;
        for v in &views {
            w.write_record(
                [
                    v.hostname.as_str(),
                    &v.address,
                    v.office.as_deref().unwrap_or(""),
                    &v.group,
                    &v.version,
                    &output::time(Some(v.last_seen)),
                    &format!("{:.1}", v.score),
                    v.state,
                    &v.device_id,
                    v.preference,
                ]
                .map(|c| crate::cells::neutralise(c).into_owned()),
            )?;
        }
        w.flush()?;
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
        t.add_row(vec![
            if wide {
                v.device_id.clone()
            } else {
                short(&v.device_id).to_string()
            },
            v.hostname.clone(),
            v.address.clone(),
            v.office.clone().unwrap_or_else(|| "(no office)".into()),
            v.group.clone(),
            v.version.clone(),
            output::time(Some(v.last_seen)),
            format!("{:.1}", v.score),
            match v.preference {
                "normal" => "-".to_string(),
                p => p.to_string(),
            },
            v.state.to_string(),
        ]);
    }
    writeln!(out, "{t}")?;
    // The reasons behind the states that need the admin, one line each.
    for v in views {
        let who = format!("{} ({})", v.hostname, short(&v.device_id));
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

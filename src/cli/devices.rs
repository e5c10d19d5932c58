//! `p2pd devices list | retire | prefer | unprefer | exclude | unban`: every
//! enrolled device with its office, group, version, last heartbeat,
//! preferred-device score and state, and the admin's say over one device.

use super::{Global, fail, open_store, output};
use crate::cli::exit::ExitCode;
use crate::ops::devices::{self, DeviceError};
use crate::store::Store;
use crate::store::devices::{DeviceRow, Preference};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List devices: office, group, version, last seen, preferred-device
    /// score, the admin's preference and state (online, offline, banned,
    /// stuck, stale key)
    List(super::devices_list::ListArgs),
    /// Retire a device for good: release its license and forget it (its
    /// past transfers stay in `report`). Its id stays refused, even with a
    /// valid certificate and the key, until `devices readmit`
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
    /// Let a retired device id enroll again (with no id: list the retired
    /// devices)
    Readmit {
        /// Retired device id, a unique prefix of one, or its hostname
        id: Option<String>,
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

pub fn run(g: &Global, c: Command) -> anyhow::Result<ExitCode> {
    match c {
        Command::List(a) => super::devices_list::list(g, a),
        Command::Retire { id, force, out } => retire(g, &id, force, out.json),
        Command::Prefer { id, out } => prefer(g, &id, Preference::Preferred, out.json),
        Command::Unprefer { id, out } => prefer(g, &id, Preference::Normal, out.json),
        Command::Exclude { id, out } => prefer(g, &id, Preference::Excluded, out.json),
        Command::Readmit { id, out } => readmit(g, id.as_deref(), out.json),
        Command::Unban { id } => unban(g, &id),
    }
}

fn readmit(g: &Global, id: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let mut st = open_store(g)?;
    let Some(id) = id else {
        let retired = st.retired_devices()?;
        if json {
            let rows: Vec<_> = retired
                .iter()
                .map(|(d, h, at)| serde_json::json!({"device_id": d, "hostname": h, "retired_at": at}))
                .collect();
            output::print_json(&rows)?;
        } else if retired.is_empty() {
            println!("no retired devices");
        } else {
            let mut t = output::table(&["device id", "hostname", "retired"]);
            for (d, h, at) in &retired {
                t.add_row(vec![d.clone(), h.clone(), output::time(Some(*at))]);
            }
            println!("{t}");
        }
        return Ok(ExitCode::Ok);
    };
    let (d, h) = devices::readmit(&mut st, id).map_err(device_error)?;
    if json {
        output::print_json(&Changed {
            device_id: &d,
            hostname: &h,
            result: "readmitted",
        })?;
        return Ok(ExitCode::Ok);
    }
    println!("readmitted {h} ({d}); its agent may enroll again (restart it if it stopped)");
    Ok(ExitCode::Ok)
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

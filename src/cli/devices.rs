//! `p2pd devices list`: every enrolled device with its office, group,
//! version, last heartbeat, preferred-device score and state.

use std::path::PathBuf;

use super::licenses::{Format, emit};
use super::{Global, open_store, output};
use crate::exit::ExitCode;
use crate::server::scheduler::{Timing, score};
use crate::settings::Setting;
use crate::store::now;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List devices: office, group, version, last seen, preferred-device
    /// score and state (online, offline, banned)
    List {
        /// Output format
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Write the list to FILE instead of standard output
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(serde::Serialize)]
struct DeviceView {
    device_id: String,
    hostname: String,
    address: String,
    office: Option<String>,
    group: String,
    version: String,
    last_seen: String,
    /// The score the scheduler ranks leaders by (higher leads first).
    score: f64,
    state: &'static str,
    license: bool,
}

pub fn run(g: &Global, c: Command) -> anyhow::Result<ExitCode> {
    let Command::List { format, output } = c;
    let st = open_store(g)?;
    let hb = st
        .setting(Setting::HeartbeatSecs.name())?
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let timing = Timing::new(hb);
    let t = now();
    let offices = st.office_names()?;
    let banned = st.banned_anywhere()?;
    let views: Vec<DeviceView> = st
        .devices()?
        .into_iter()
        .map(|d| DeviceView {
            state: if banned.contains(&d.id) {
                // Banned from serving at least one content after a bad piece.
                "banned"
            } else if timing.online(d.last_seen, t) {
                "online"
            } else {
                "offline"
            },
            score: (score(&d, &timing, t) * 10.0).round() / 10.0,
            office: d.office_id.and_then(|o| offices.get(&o).cloned()),
            last_seen: output::time(Some(d.last_seen)),
            license: d.license_activated_at.is_some(),
            device_id: d.id,
            hostname: d.hostname,
            address: d.addr,
            group: d.group_name,
            version: d.version,
        })
        .collect();
    let cells: Vec<Vec<String>> = views
        .iter()
        .map(|v| {
            vec![
                v.hostname.clone(),
                v.address.clone(),
                v.office.clone().unwrap_or_else(|| "(no office)".into()),
                v.group.clone(),
                v.version.clone(),
                v.last_seen.clone(),
                format!("{:.1}", v.score),
                v.state.to_string(),
                v.device_id.clone(),
            ]
        })
        .collect();
    emit(
        format,
        output.as_deref(),
        &[
            "hostname",
            "address",
            "office",
            "group",
            "version",
            "last_seen",
            "score",
            "state",
            "device_id",
        ],
        &cells,
        &views,
        "no device has enrolled yet; start one with `p2pd agent install ...`",
    )?;
    Ok(ExitCode::Ok)
}

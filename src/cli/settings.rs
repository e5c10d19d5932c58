//! `p2pd settings show | set NAME VALUE`.

use serde::Serialize;

use super::{Global, fail, open_store, output};
use crate::exit::ExitCode;
use crate::settings::{self, Setting};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Show every setting with its value
    Show(output::JsonFlag),
    /// Change one setting (validated; an unknown name lists the valid ones)
    Set {
        /// Setting name, e.g. server_name, port, distribution_optimization
        name: String,
        /// New value
        value: String,
    },
}

#[derive(Serialize)]
pub struct SettingRow {
    pub name: &'static str,
    pub value: String,
    pub description: &'static str,
}

/// Every setting with its stored value (or default).
pub fn rows(st: &crate::store::Store) -> anyhow::Result<Vec<SettingRow>> {
    settings::ALL
        .iter()
        .map(|s| {
            Ok(SettingRow {
                name: s.name(),
                value: st.setting(s.name())?.unwrap_or_else(|| s.default_value()),
                description: s.describe(),
            })
        })
        .collect()
}

pub fn run(g: &Global, c: Command) -> anyhow::Result<ExitCode> {
    let mut st = open_store(g)?;
    match c {
        Command::Show(j) => {
            let rows = rows(&st)?;
            if j.json {
                let map: serde_json::Map<String, serde_json::Value> = rows
                    .into_iter()
                    .map(|r| (r.name.to_string(), r.value.into()))
                    .collect();
                output::print_json(&map)?;
            } else {
                let mut t = output::table(&["setting", "value", "meaning"]);
                for r in rows {
                    let value = if r.value.is_empty() {
                        "(none)".into()
                    } else {
                        r.value
                    };
                    t.add_row(vec![r.name.to_string(), value, r.description.to_string()]);
                }
                println!("{t}");
            }
        }
        Command::Set { name, value } => {
            let s: Setting = name
                .parse()
                .map_err(|e: settings::SettingError| fail(ExitCode::Usage, e.to_string()))?;
            let v = s
                .validate(&value)
                .map_err(|e| fail(ExitCode::Usage, e.to_string()))?;
            check_version_range(&st, s, &v)?;
            let old = st.setting(s.name())?.unwrap_or_else(|| s.default_value());
            // Offices depend on this setting: the auto offices and every
            // device follow at once, in the same transaction.
            let toggled = if s == Setting::DistributionOptimization {
                Some(crate::topology::set_optimization(&mut st, v == "on")?)
            } else {
                st.set_setting(s.name(), &v)?;
                None
            };
            println!(
                "{} = {v} (was {})",
                s.name(),
                if old.is_empty() { "(none)" } else { &old }
            );
            if let Some(t) = toggled {
                if t.auto_offices_removed > 0 {
                    println!(
                        "removed {} auto office{} (they exist only while distribution_optimization is off)",
                        t.auto_offices_removed,
                        output::plural(t.auto_offices_removed)
                    );
                }
                println!("re-placed every device: {} moved", t.moved);
            }
        }
    }
    Ok(ExitCode::Ok)
}

/// min_client_version must not exceed max_client_version.
fn check_version_range(st: &crate::store::Store, s: Setting, v: &str) -> anyhow::Result<()> {
    let other = match s {
        Setting::MinClientVersion => Setting::MaxClientVersion,
        Setting::MaxClientVersion => Setting::MinClientVersion,
        _ => return Ok(()),
    };
    let o = st
        .setting(other.name())?
        .unwrap_or_else(|| other.default_value());
    let (lo, hi) = if s == Setting::MinClientVersion {
        (v, o.as_str())
    } else {
        (o.as_str(), v)
    };
    if settings::parse_version(lo) > settings::parse_version(hi) {
        return Err(fail(
            ExitCode::Usage,
            format!(
                "min_client_version {lo} would be above max_client_version {hi}; set the other bound first"
            ),
        ));
    }
    Ok(())
}

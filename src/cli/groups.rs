//! `p2pd groups assign | unassign | list`: the groups whose devices receive
//! applications through peer distribution.

use super::{Global, fail, open_store, output};
use crate::cli::exit::ExitCode;
use crate::content::groups::validate_group_name;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Assign groups: their devices enroll, take a license and receive
    /// content published for all assigned groups
    Assign {
        /// Group names, as the device-management console spells them
        #[arg(required = true, value_name = "GROUP")]
        groups: Vec<String>,
        #[command(flatten)]
        out: output::JsonFlag,
    },
    /// Unassign groups: their content targets go, their devices' licenses
    /// are released
    Unassign {
        #[arg(required = true, value_name = "GROUP")]
        groups: Vec<String>,
        #[command(flatten)]
        out: output::JsonFlag,
    },
    /// List assigned groups with their devices, licenses and contents
    List {
        #[command(flatten)]
        out: output::JsonFlag,
    },
}

fn validated(names: &[String]) -> anyhow::Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        let v = validate_group_name(n).map_err(|e| fail(ExitCode::Usage, e.to_string()))?;
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(out)
}

pub fn run(g: &Global, c: Command) -> anyhow::Result<ExitCode> {
    let mut store = open_store(g)?;
    match c {
        Command::Assign { groups, out } => {
            let names = validated(&groups)?;
            let added = store.assign_groups(&names)?;
            if out.json {
                output::print_json(&serde_json::json!({
                    "assigned": added,
                    "already_assigned": names.iter().filter(|n| !added.contains(n)).collect::<Vec<_>>(),
                }))?;
                return Ok(ExitCode::Ok);
            }
            for n in &names {
                if added.contains(n) {
                    println!("assigned {n}");
                } else {
                    println!("{n} was already assigned");
                }
            }
            Ok(ExitCode::Ok)
        }
        Command::Unassign { groups, out } => {
            let names = validated(&groups)?;
            let report = match store.unassign_groups(&names)? {
                Ok(r) => r,
                Err(unknown) => {
                    let assigned = store.assigned_groups()?;
                    return Err(fail(
                        ExitCode::Usage,
                        format!(
                            "not assigned: {}; nothing was changed. Assigned groups: {}",
                            quoted(&unknown),
                            if assigned.is_empty() {
                                "(none)".to_string()
                            } else {
                                quoted(&assigned)
                            }
                        ),
                    ));
                }
            };
            if out.json {
                output::print_json(&report)?;
                return Ok(ExitCode::Ok);
            }
            println!(
                "unassigned {}: {} affected ({} released), {} removed",
                quoted(&report.groups),
                output::count(report.devices as usize, "device"),
                output::count(report.licenses_released as usize, "license"),
                output::count(report.targets_removed as usize, "content target"),
            );
            Ok(ExitCode::Ok)
        }
        Command::List { out } => {
            let rows = store.groups()?;
            if out.json {
                output::print_json(&rows)?;
                return Ok(ExitCode::Ok);
            }
            if rows.is_empty() {
                println!("no groups assigned; assign one with `p2pd groups assign GROUP`");
                return Ok(ExitCode::Ok);
            }
            let mut t = output::table(&["group", "assigned", "devices", "licenses", "contents"]);
            for r in rows {
                t.add_row(vec![
                    r.name,
                    output::time(Some(r.assigned_at)),
                    r.devices.to_string(),
                    r.licenses.to_string(),
                    r.contents.to_string(),
                ]);
            }
            println!("{t}");
            Ok(ExitCode::Ok)
        }
    }
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

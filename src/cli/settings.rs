//! `p2pd settings show | set NAME VALUE`.

use super::{Global, fail, open_store, output};
use crate::cli::exit::ExitCode;
use crate::domain::settings;
use crate::ops::configure::rows;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Show every setting with its value
    Show(output::JsonFlag),
    /// Change one setting (validated; an unknown name lists the valid ones)
    Set {
        /// Setting name
        #[arg(value_parser = SettingName)]
        name: String,
        /// New value
        value: String,
        /// Accept a file_storage directory that does not exist yet (for
        /// storage mounted later); without it, a missing directory is an
        /// error
        #[arg(long)]
        allow_missing_storage: bool,
        #[command(flatten)]
        out: output::JsonFlag,
    },
}

/// The setting names for `--help` and shell completion (`p2pd settings
/// set <TAB>`). Parsing accepts any text, so that `run` answers an unknown
/// or hyphenated name with its own message (valid names, what to do).
#[derive(Clone)]
struct SettingName;

impl clap::builder::TypedValueParser for SettingName {
    type Value = String;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        Ok(value.to_string_lossy().into_owned())
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(settings::ALL.iter().map(|s| {
            clap::builder::PossibleValue::new(s.name()).help(s.describe())
        })))
    }
}

pub fn run(g: &Global, c: Command) -> anyhow::Result<ExitCode> {
    let mut st = open_store(g)?;
    match c {
        Command::Show(j) => {
            let rows = rows(&st)?;
            if j.json {
                let map: serde_json::Map<String, serde_json::Value> = rows
                    .into_iter()
                    .map(|r| (r.name.to_string(), r.setting.json_value(&r.value)))
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
        Command::Set {
            name,
            value,
            allow_missing_storage,
            out,
        } => {
            let c = crate::ops::configure::change(&mut st, &name, &value, allow_missing_storage)
                .map_err(|e| match e.is_usage() {
                    true => fail(ExitCode::Usage, e.to_string()),
                    false => anyhow::Error::new(e),
                })?;
            let (s, v, old, toggled) = (c.setting, c.value, c.was, c.toggled);
            if out.json {
                let mut j = serde_json::json!({
                    "name": s.name(),
                    "value": s.json_value(&v),
                    "was": s.json_value(&old),
                });
                if let Some(t) = toggled {
                    j["devices_moved"] = t.moved.into();
                    j["auto_offices_removed"] = t.auto_offices_removed.into();
                }
                output::print_json(&j)?;
                return Ok(ExitCode::Ok);
            }
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

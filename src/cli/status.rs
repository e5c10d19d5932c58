//! `p2pd status`: who this server is, its key, settings and counts.

use serde::Serialize;

use super::{Global, open_store, output};
use crate::cli::exit::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub out: output::JsonFlag,
}

#[derive(Serialize)]
struct Status {
    server_id: String,
    version: &'static str,
    key_fingerprint: String,
    key_version: i64,
    created_at: String,
    data_dir: String,
    /// The database: the SQLite file, or the PostgreSQL URL (password hidden).
    database: String,
    /// `sqlite` or `postgresql`.
    backend: crate::store::Backend,
    settings: serde_json::Map<String, serde_json::Value>,
    counts: crate::store::Counts,
    /// Groups assigned to peer distribution.
    groups: Vec<String>,
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let st = open_store(g)?;
    let server = st.server()?.ok_or_else(|| {
        anyhow::anyhow!("database has no server row; the install is incomplete, reinstall")
    })?;
    let settings = crate::ops::configure::rows(&st)?;
    let s = Status {
        server_id: server.server_id,
        version: crate::VERSION,
        key_fingerprint: server.key_fingerprint,
        key_version: server.key_version,
        created_at: output::time(Some(server.created_at)),
        data_dir: g.data_dir().display().to_string(),
        database: crate::store::Location::new(&g.data_dir(), g.database.as_deref())?.display(),
        backend: st.backend(),
        settings: settings
            .iter()
            .map(|r| (r.name.to_string(), r.setting.json_value(&r.value)))
            .collect(),
        counts: st.counts()?,
        groups: st.assigned_groups()?,
    };
    if a.out.json {
        output::print_json(&s)?;
        return Ok(ExitCode::Ok);
    }
    let mut t = output::table(&["", "value"]);
    let c = &s.counts;
    for (k, v) in [
        ("server ID", s.server_id.clone()),
        ("version", s.version.to_string()),
        (
            "key",
            format!("{} (version {})", s.key_fingerprint, s.key_version),
        ),
        ("installed", s.created_at.clone()),
        ("data dir", s.data_dir.clone()),
        (
            "database",
            format!("{} ({})", s.database, s.backend.as_str()),
        ),
        ("offices", c.offices.to_string()),
        (
            "devices",
            format!(
                "{} ({} no-office, {} licensed)",
                c.devices, c.no_office_devices, c.licenses
            ),
        ),
        (
            "groups assigned",
            if s.groups.is_empty() {
                "(none)".to_string()
            } else {
                format!("{} ({})", c.groups, s.groups.join(", "))
            },
        ),
        ("contents", c.contents.to_string()),
    ] {
        t.add_row(vec![k.to_string(), v]);
    }
    for r in &settings {
        let v = if r.value.is_empty() {
            "(none)".into()
        } else {
            r.value.clone()
        };
        t.add_row(vec![r.name.to_string(), v]);
    }
    println!("{t}");
    Ok(ExitCode::Ok)
}

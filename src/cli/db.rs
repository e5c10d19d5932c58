//! `p2pd db copy --to URL`: move an install's database, in practice from
//! the data dir's SQLite up to an empty PostgreSQL shared by several serve
//! replicas. The copy itself is `store::copy`; this file parses, seals the
//! shared key and the server CA's key for the destination (in the copy's
//! transaction), and prints.

use anyhow::Context;
use serde::Serialize;

use super::{Global, fail, open_store, output};
use crate::cli::exit::ExitCode;
use crate::store::{self, Backend, Location, Store};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Copy this install (offices, groups, content, devices, history, key,
    /// server CA) into an empty database, then compare every table's row count.
    /// Stop `serve` first: writes made during the copy are not carried
    Copy(CopyArgs),
}

#[derive(Debug, clap::Args)]
pub struct CopyArgs {
    /// The empty destination: postgres://USER@HOST[:PORT]/DB (the source is
    /// the data dir's database, or --database)
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// Print machine-readable JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Copied {
    from: String,
    to: String,
    tables: Vec<store::copy::CopiedTable>,
    /// Where the database key that seals the shared key is (a shared
    /// destination only): copy it to every replica's data dir.
    #[serde(skip_serializing_if = "Option::is_none")]
    db_key: Option<String>,
}

pub fn run(g: &Global, c: Command) -> anyhow::Result<ExitCode> {
    match c {
        Command::Copy(a) => copy(g, a),
    }
}

fn copy(g: &Global, a: CopyArgs) -> anyhow::Result<ExitCode> {
    let dir = g.data_dir();
    let to = Location::new(&dir, Some(&a.to))
        .map_err(|e| fail(ExitCode::Usage, format!("--to: {e}")))?;
    let from = open_store(g)?;
    let from_shown = Location::new(&dir, g.database.as_deref())?.display();
    if from_shown == to.display() {
        return Err(fail(
            ExitCode::Usage,
            "--to names the database being copied; give another, empty one",
        ));
    }
    let dest = Store::open_location(&to, true)?;
    // The server CA of the install (an older install's CA files move into
    // its database here), read before anything is written.
    let ca = crate::vault::server_ca::load(&dir, &from)
        .context("the server CA of the install being copied")?;
    // The destination's keys, sealed before the copy so that a missing key
    // file changes nothing.
    let db_key = match dest.backend() {
        Backend::Postgres => Some(crate::vault::dbkey::DbKey::load_or_create(&dir)?.0),
        Backend::Sqlite => None,
    };
    let sealed = match (from.backend(), &db_key) {
        (Backend::Sqlite, Some(db_key)) => {
            let key = crate::trust::key::SharedKey::load(&crate::trust::key::key_path(&dir))
                .context("the shared key of the install being copied")?;
            let server = from.server()?.ok_or(store::copy::CopyError::SourceEmpty)?;
            Some((server.key_version, db_key.seal(server.key_version, &key)?))
        }
        _ => None,
    };
    let ca_row = crate::vault::server_ca::row_of(&ca, db_key.as_ref())?;
    // One transaction: the rows, the sealed key and the CA land together.
    let tx = dest.begin()?;
    let mut tables = store::copy::copy(&from, &dest).map_err(|e| match e {
        store::copy::CopyError::NotEmpty { .. } => fail(ExitCode::Usage, e.to_string()),
        e => e.into(),
    })?;
    if let Some((version, sealed)) = &sealed {
        dest.set_sealed_key(*version, sealed)?;
    }
    dest.add_server_ca(&ca_row)?;
    tx.commit().map_err(store::StoreError::from)?;
    tables.push(store::copy::CopiedTable {
        table: "server_ca",
        rows: i64::from(dest.server_ca()?.is_some()),
    });
    let out = Copied {
        from: from_shown,
        to: to.display(),
        tables,
        db_key: db_key
            .is_some()
            .then(|| crate::vault::dbkey::DbKey::path(&dir).display().to_string()),
    };
    if a.json {
        output::print_json(&out)?;
        return Ok(ExitCode::Ok);
    }
    let mut t = output::table(&["table", "rows"]);
    for c in &out.tables {
        t.add_row(vec![c.table.to_string(), c.rows.to_string()]);
    }
    println!("{t}");
    println!(
        "Copied {} into {}; every table's row count matches.",
        out.from, out.to
    );
    if let Some(k) = &out.db_key {
        println!(
            "The shared key and the server CA's private key are stored sealed with the database \
             key {k}: copy that file (only that one) into the data dir of every replica, then run \
             `p2pd serve --database URL` on each."
        );
    }
    Ok(ExitCode::Ok)
}

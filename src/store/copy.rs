//! `p2pd db copy`: every row of one store into another, empty one — in
//! practice an SQLite install moving up to PostgreSQL (design note `replicas`), but
//! either direction works, since both sides go through [`super::db`].
//!
//! The copy is one transaction on the destination: it lands whole or not
//! at all. Ids are copied as they are (devices, reports and leaders point
//! at them), then PostgreSQL's identity sequences are moved past them.
//! Afterwards every table's row count is compared; a difference fails the
//! copy (and rolls it back).

use super::db::{Backend, Value};
use super::{Store, StoreError};

/// Every table that holds the install, parents before children, as `name
/// (columns)`: its columns in the final schema, in insert order. `#order`
/// is the registration order: rowid on SQLite, seq on PostgreSQL (see
/// `order_column`). Not copied: `fleet_generation` (the destination keeps
/// its own counter, bumped by the copy's writes), `replicas` (heartbeat
/// rows of the source's running servers) and `server_ca` (its key is sealed
/// for the destination by `db copy`, in the same transaction: see
/// `crate::vault::server_ca`).
const TABLES: &[&str] = &[
    "server (id, server_id, created_at, key_version, key_fingerprint)",
    "retired_keys (version, fingerprint, retired_at)",
    "shared_key (id, version, sealed)",
    "settings (name, value)",
    "admin_token (id, token_sha256, created_at)",
    "offices (id, name, parent_id, type, wan_kbps, description, source, position)",
    "office_ranges (office_id, spec, position)",
    "groups (name, assigned_at)",
    "devices (id, hostname, addr, prefix_len, group_name, version, peer_url, office_id, \
     first_seen, last_seen, heartbeats, uploads_ok, upload_bytes, failures, \
     license_activated_at, preference, clock_offset, secret_sha256)",
    "retired_devices (id, hostname, retired_at, secret_sha256, readmitted_at)",
    "contents (id, name, version, path, size, mtime, piece_size, piece_hashes, \
     published_at, all_groups, arch, #order)",
    "content_targets (content_id, group_name)",
    "progress (content_id, device_id, pieces, started_at, progressed_at, done_at, \
     started_ms, done_ms, bytes, moved_at, blocked_at)",
    "leaders (content_id, office_id, device_id, since, epoch)",
    "bans (content_id, device_id, reported_by, piece, at)",
    "bad_reports (content_id, device_id, reported_by, piece, at)",
    "upload_credit (device_id, content_id, claimed_pieces, claimed_bytes, received_pieces, \
     received_bytes)",
    "transfers (id, content_id, device_id, office_id, tier, source_device, bytes, pieces, ok, at)",
    "report_seqs (device_id, seq, at)",
    "stuck (device_id, content_id, reason, since)",
    "key_refusals (device_id, fingerprint, first_at, last_at, count)",
    "decisions (id, at, content_id, device_id, office_id, kind, role, leader, previous, \
     tiers, reason)",
];

/// A [`TABLES`] entry's table name and columns.
fn table(entry: &'static str) -> (&'static str, Vec<&'static str>) {
    // Every entry is a constant of this file, in this form, and the tests
    // copy every table: a malformed one cannot get past them.
    let (name, columns) = entry
        .split_once(" (")
        .expect("TABLES entries read `name (column, ...)`");
    (name, columns.trim_end_matches(')').split(", ").collect())
}

/// Identity columns whose PostgreSQL sequence must move past copied ids.
const IDENTITIES: &[(&str, &str)] = &[
    ("offices", "id"),
    ("transfers", "id"),
    ("decisions", "id"),
    ("contents", "seq"),
];

fn order_column(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "rowid",
        Backend::Postgres => "seq",
    }
}

fn column(c: &str, b: Backend) -> &str {
    if c == "#order" { order_column(b) } else { c }
}

/// Rows copied per table, source and destination counts agreeing.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CopiedTable {
    pub table: &'static str,
    pub rows: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(
        "the destination database already holds a p2pd install (server {server_id}); \
         `db copy` only fills an empty database. Nothing was changed"
    )]
    NotEmpty { server_id: String },
    #[error(
        "the source database holds no install (no server row); nothing was copied. \
         Check --data-dir / --database"
    )]
    SourceEmpty,
    #[error(
        "table {table}: the source has {source_rows} rows but the copy has {copied}; \
         the copy was rolled back"
    )]
    CountMismatch {
        table: &'static str,
        source_rows: i64,
        copied: i64,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<super::DbError> for CopyError {
    fn from(e: super::DbError) -> Self {
        CopyError::Store(e.into())
    }
}

fn count(st: &Store, table: &str) -> Result<i64, CopyError> {
    Ok(st
        .conn
        .query_one(&format!("SELECT COUNT(*) FROM {table}"), ())?)
}

/// Copies every row of `from` into the empty store `to`, in one
/// transaction on `to` (or the caller's, which it joins), and checks the
/// counts.
pub fn copy(from: &Store, to: &Store) -> Result<Vec<CopiedTable>, CopyError> {
    if from.server()?.is_none() {
        return Err(CopyError::SourceEmpty);
    }
    if let Some(s) = to.server()? {
        return Err(CopyError::NotEmpty {
            server_id: s.server_id,
        });
    }
    let (fb, tb) = (from.backend(), to.backend());
    let tx = to.conn.begin()?;
    let mut out = Vec::new();
    // The destination's install-time rows that the copy replaces.
    to.conn.execute("DELETE FROM settings", ())?;
    to.conn.execute("DELETE FROM admin_token", ())?;
    for entry in TABLES {
        let (name, columns) = table(entry);
        let src_cols: Vec<&str> = columns.iter().map(|c| column(c, fb)).collect();
        let dst_cols: Vec<&str> = columns.iter().map(|c| column(c, tb)).collect();
        let rows: Vec<Vec<Value>> = from.conn.query_map(
            &format!("SELECT {} FROM {name}", src_cols.join(", ")),
            (),
            |r| Ok(r.0.clone()),
        )?;
        let placeholders: Vec<String> = (1..=dst_cols.len()).map(|i| format!("?{i}")).collect();
        let insert = format!(
            "INSERT INTO {name} ({}) VALUES ({})",
            dst_cols.join(", "),
            placeholders.join(", ")
        );
        // Offices point at their parents, which may come later in id
        // order: insert without parents, then set them.
        let parent_at = (name == "offices").then(|| {
            columns
                .iter()
                .position(|c| *c == "parent_id")
                .expect("offices has parent_id")
        });
        for row in &rows {
            let mut values = row.clone();
            if let Some(i) = parent_at {
                values[i] = Value::Null;
            }
            to.conn.execute(&insert, values)?;
        }
        if let Some(i) = parent_at {
            for row in rows.iter().filter(|r| r[i] != Value::Null) {
                to.conn.execute(
                    "UPDATE offices SET parent_id = ?2 WHERE id = ?1",
                    vec![row[0].clone(), row[i].clone()],
                )?;
            }
        }
        let (source_rows, copied) = (count(from, name)?, count(to, name)?);
        if source_rows != copied {
            return Err(CopyError::CountMismatch {
                table: name,
                source_rows,
                copied,
            });
        }
        out.push(CopiedTable {
            table: name,
            rows: copied,
        });
    }
    if tb == Backend::Postgres {
        for (table, col) in IDENTITIES {
            to.conn.execute_batch(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', '{col}'),
                               COALESCE((SELECT MAX({col}) FROM {table}), 0) + 1, false)"
            ))?;
        }
    }
    tx.commit()?;
    Ok(out)
}

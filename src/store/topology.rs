//! SQL for topology: offices, their ranges, and where each device is placed.
//!
//! The rules (what an office is, where a device belongs) live in
//! `crate::topology`; this file only reads and writes rows.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};
use crate::domain::OfficeKind;

// Office kinds are stored by name (`default`, `wifi`, `vpn`).
impl rusqlite::types::ToSql for OfficeKind {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl rusqlite::types::FromSql for OfficeKind {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        v.as_str()?
            .parse()
            .map_err(|e| rusqlite::types::FromSqlError::Other(Box::new(e)))
    }
}

/// One office as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OfficeRow {
    pub id: i64,
    pub name: String,
    /// `None` for the root, the Central Office.
    pub parent_id: Option<i64>,
    pub kind: OfficeKind,
    /// Cap on what crosses this office's WAN link; `None` = no cap.
    pub wan_kbps: Option<i64>,
    /// `import` (from the admin's file) or `auto` (one per client subnet).
    pub source: String,
}

/// One office with everything export and show need besides the row.
#[derive(Debug, Clone)]
pub struct OfficeDetail {
    pub row: OfficeRow,
    pub description: String,
    /// Range entries exactly as written, in the admin's order.
    pub ranges: Vec<String>,
}

/// One office to write, as import produced it. Parents are by name because
/// the ids of new offices are not known yet.
#[derive(Debug, Clone)]
pub struct NewOffice {
    pub name: String,
    pub parent: Option<String>,
    pub kind: OfficeKind,
    pub wan_kbps: Option<i64>,
    pub description: String,
    pub source: String,
    pub ranges: Vec<String>,
}

/// What placement needs to know about a device.
#[derive(Debug, Clone)]
pub struct DevicePlacement {
    pub id: String,
    pub hostname: String,
    pub addr: String,
    pub prefix_len: i64,
    pub office_id: Option<i64>,
}

/// One range as loaded for the lookup index.
#[derive(Debug, Clone)]
pub struct RangeRow {
    pub office_id: i64,
    pub spec: String,
    pub source: String,
}

const OFFICE_COLS: &str = "id, name, parent_id, type, wan_kbps, source";

fn office_row(r: &rusqlite::Row) -> rusqlite::Result<OfficeRow> {
    Ok(OfficeRow {
        id: r.get(0)?,
        name: r.get(1)?,
        parent_id: r.get(2)?,
        kind: r.get(3)?,
        wan_kbps: r.get(4)?,
        source: r.get(5)?,
    })
}

impl Store {
    /// Runs `f` in one transaction on this store: either everything `f`
    /// wrote lands, or nothing. Unlike [`Store::transaction`], `f` gets the
    /// `Store`, so it can call the ordinary store methods.
    pub fn atomically<T, E: From<rusqlite::Error>>(
        &mut self,
        f: impl FnOnce(&Store) -> Result<T, E>,
    ) -> Result<T, E> {
        // Immediate, like [`Store::transaction`]: wait for the write lock
        // rather than fail mid-way when serve is writing.
        let tx = rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )?;
        let out = f(self)?;
        tx.commit()?;
        Ok(out)
    }

    pub fn office(&self, id: i64) -> Result<Option<OfficeRow>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {OFFICE_COLS} FROM offices WHERE id = ?1"),
                [id],
                office_row,
            )
            .optional()?)
    }

    pub fn office_by_name(&self, name: &str) -> Result<Option<OfficeRow>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {OFFICE_COLS} FROM offices WHERE name = ?1"),
                [name],
                office_row,
            )
            .optional()?)
    }

    /// Every office in the admin's order (auto offices after, by creation).
    pub fn offices(&self) -> Result<Vec<OfficeRow>, StoreError> {
        let mut st = self.conn.prepare(&format!(
            "SELECT {OFFICE_COLS} FROM offices ORDER BY position, id"
        ))?;
        let rows = st.query_map([], office_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The root office (no parent), if any. With several (only possible in
    /// a hand-edited database) the first in order.
    pub fn root_office(&self) -> Result<Option<OfficeRow>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT {OFFICE_COLS} FROM offices WHERE parent_id IS NULL
                     ORDER BY position, id LIMIT 1"
                ),
                [],
                office_row,
            )
            .optional()?)
    }

    /// Every office with description and ranges, in the admin's order.
    pub fn office_details(&self) -> Result<Vec<OfficeDetail>, StoreError> {
        let mut st = self.conn.prepare(&format!(
            "SELECT {OFFICE_COLS}, description FROM offices ORDER BY position, id"
        ))?;
        let mut out: Vec<OfficeDetail> = st
            .query_map([], |r| {
                Ok(OfficeDetail {
                    row: office_row(r)?,
                    description: r.get(6)?,
                    ranges: Vec::new(),
                })
            })?
            .collect::<Result<_, _>>()?;
        let at: HashMap<i64, usize> = out.iter().enumerate().map(|(i, o)| (o.row.id, i)).collect();
        let mut st = self
            .conn
            .prepare("SELECT office_id, spec FROM office_ranges ORDER BY office_id, position")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (office, spec) = row?;
            if let Some(&i) = at.get(&office) {
                out[i].ranges.push(spec);
            }
        }
        Ok(out)
    }

    /// Every range of every office, for the lookup index.
    pub fn office_ranges(&self) -> Result<Vec<RangeRow>, StoreError> {
        let mut st = self.conn.prepare(
            "SELECT r.office_id, r.spec, o.source FROM office_ranges r
             JOIN offices o ON o.id = r.office_id ORDER BY r.office_id, r.position",
        )?;
        let rows = st.query_map([], |r| {
            Ok(RangeRow {
                office_id: r.get(0)?,
                spec: r.get(1)?,
                source: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Creates one office with its ranges, placed after every other office.
    /// Returns its id.
    pub fn create_office(
        &self,
        office: &NewOffice,
        parent_id: Option<i64>,
    ) -> Result<i64, StoreError> {
        let position: i64 = self.conn.query_row(
            "SELECT COALESCE(MAX(position), -1) + 1 FROM offices",
            [],
            |r| r.get(0),
        )?;
        self.conn.execute(
            "INSERT INTO offices (name, parent_id, type, wan_kbps, description, source, position)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                office.name,
                parent_id,
                office.kind,
                office.wan_kbps,
                office.description,
                office.source,
                position
            ],
        )?;
        let id = self.conn.last_insert_rowid();
        self.write_ranges(id, &office.ranges)?;
        Ok(id)
    }

    fn write_ranges(&self, office_id: i64, ranges: &[String]) -> Result<(), StoreError> {
        self.conn.execute(
            "DELETE FROM office_ranges WHERE office_id = ?1",
            [office_id],
        )?;
        let mut st = self.conn.prepare_cached(
            "INSERT INTO office_ranges (office_id, spec, position) VALUES (?1, ?2, ?3)",
        )?;
        for (i, spec) in ranges.iter().enumerate() {
            st.execute(params![office_id, spec, i as i64])?;
        }
        Ok(())
    }

    /// Replaces the whole topology with `offices` (in file order): offices
    /// with a known name keep their id (so devices and reports keep pointing
    /// at them), new ones are added, the rest are deleted (their devices
    /// become unplaced until re-placed). Call inside [`Store::atomically`].
    /// Every `parent` must name an office of `offices`.
    pub fn replace_topology(&self, offices: &[NewOffice]) -> Result<(), StoreError> {
        let mut ids: HashMap<String, i64> = HashMap::new();
        {
            let mut st = self.conn.prepare("SELECT name, id FROM offices")?;
            for row in st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
                let (name, id) = row?;
                ids.insert(name, id);
            }
        }
        let keep: std::collections::HashSet<&str> =
            offices.iter().map(|o| o.name.as_str()).collect();
        // Detach everything first: parents are rewritten below, and removed
        // offices may be parents of each other.
        self.conn
            .execute("UPDATE offices SET parent_id = NULL", [])?;
        for (name, id) in &ids {
            if !keep.contains(name.as_str()) {
                self.conn
                    .execute("DELETE FROM offices WHERE id = ?1", [id])?;
            }
        }
        ids.retain(|name, _| keep.contains(name.as_str()));
        let mut new_ids: HashMap<&str, i64> = HashMap::with_capacity(offices.len());
        {
            let mut upd = self.conn.prepare_cached(
                "UPDATE offices SET type = ?2, wan_kbps = ?3, description = ?4, source = ?5,
                 position = ?6 WHERE id = ?1",
            )?;
            let mut ins = self.conn.prepare_cached(
                "INSERT INTO offices (name, type, wan_kbps, description, source, position)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for (pos, o) in offices.iter().enumerate() {
                let id = match ids.get(&o.name) {
                    Some(&id) => {
                        upd.execute(params![
                            id,
                            o.kind,
                            o.wan_kbps,
                            o.description,
                            o.source,
                            pos as i64
                        ])?;
                        id
                    }
                    None => {
                        ins.execute(params![
                            o.name,
                            o.kind,
                            o.wan_kbps,
                            o.description,
                            o.source,
                            pos as i64
                        ])?;
                        self.conn.last_insert_rowid()
                    }
                };
                new_ids.insert(&o.name, id);
            }
        }
        self.conn.execute("DELETE FROM office_ranges", [])?;
        {
            let mut par = self
                .conn
                .prepare_cached("UPDATE offices SET parent_id = ?2 WHERE id = ?1")?;
            let mut rng = self.conn.prepare_cached(
                "INSERT INTO office_ranges (office_id, spec, position) VALUES (?1, ?2, ?3)",
            )?;
            for o in offices {
                let id = new_ids[o.name.as_str()];
                if let Some(p) = &o.parent {
                    par.execute(params![id, new_ids.get(p.as_str())])?;
                }
                for (i, spec) in o.ranges.iter().enumerate() {
                    rng.execute(params![id, spec, i as i64])?;
                }
            }
        }
        Ok(())
    }

    /// Deletes every auto office below the root (the per-subnet offices
    /// made while distribution optimization is off); their devices become
    /// unplaced until re-placed. The root is kept even when p2pd made it:
    /// imported offices may hang below it. Returns how many were deleted.
    pub fn delete_auto_offices(&self) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "DELETE FROM offices WHERE source = 'auto' AND parent_id IS NOT NULL",
            [],
        )?)
    }

    /// Every device with what placement needs.
    pub fn device_placements(&self) -> Result<Vec<DevicePlacement>, StoreError> {
        let mut st = self.conn.prepare(
            "SELECT id, hostname, addr, prefix_len, office_id FROM devices ORDER BY addr, id",
        )?;
        let rows = st.query_map([], |r| {
            Ok(DevicePlacement {
                id: r.get(0)?,
                hostname: r.get(1)?,
                addr: r.get(2)?,
                prefix_len: r.get(3)?,
                office_id: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn set_device_office(
        &self,
        device_id: &str,
        office_id: Option<i64>,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE devices SET office_id = ?2 WHERE id = ?1")?
            .execute(params![device_id, office_id])?;
        Ok(())
    }

    /// Devices per office (offices without devices are absent).
    pub fn device_counts(&self) -> Result<HashMap<i64, i64>, StoreError> {
        let mut st = self.conn.prepare(
            "SELECT office_id, COUNT(*) FROM devices WHERE office_id IS NOT NULL GROUP BY office_id",
        )?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Inserts a device with only what topology needs, for tests and
    /// benchmarks; real enrollment is the server's.
    #[doc(hidden)]
    pub fn insert_test_device(
        &self,
        id: &str,
        addr: &str,
        prefix_len: u8,
        office_id: Option<i64>,
    ) -> Result<(), StoreError> {
        let now = super::now();
        self.conn.execute(
            "INSERT INTO devices (id, hostname, addr, prefix_len, group_name, version, office_id,
                                  first_seen, last_seen)
             VALUES (?1, ?1, ?2, ?3, 'test', ?4, ?5, ?6, ?6)",
            params![id, addr, prefix_len, crate::VERSION, office_id, now],
        )?;
        Ok(())
    }
}

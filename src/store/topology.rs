//! SQL for topology: offices, their ranges, and where each device is placed.
//!
//! The rules (what an office is, where a device belongs) live in
//! `crate::topology`; this file only reads and writes rows.

use std::collections::HashMap;

use super::db::{DbError, Row, params};
use super::{Store, StoreError};
use crate::domain::OfficeKind;

// Office kinds are stored by name (`default`, `wifi`, `vpn`).
impl super::db::ToValue for OfficeKind {
    fn to_value(&self) -> super::db::Value {
        super::db::Value::Text(self.as_str().to_string())
    }
}

impl super::db::FromValue for OfficeKind {
    fn from_value(v: &super::db::Value) -> Result<Self, &'static str> {
        match v {
            super::db::Value::Text(s) => {
                s.parse().map_err(|_| "an office type (default, wifi, vpn)")
            }
            _ => Err("an office type (default, wifi, vpn)"),
        }
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

/// What replacing the topology changes ([`Store::diff_topology`]), worked
/// out before the write transaction.
#[derive(Debug, Clone)]
pub struct TopologyDiff {
    /// The fleet generation the diff was made at: any admin write to
    /// offices, ranges or settings since makes it stale.
    generation: i64,
    /// The id of each office of the file that exists already.
    ids: Vec<Option<i64>>,
    /// Offices that go: (id, has a parent).
    delete: Vec<(i64, bool)>,
    /// Per office of the file, what to write.
    changes: Vec<OfficeChange>,
}

impl TopologyDiff {
    /// Offices added, changed (row, parent or ranges) and removed.
    pub fn counts(&self) -> (usize, usize, usize) {
        let added = self.ids.iter().filter(|i| i.is_none()).count();
        let changed = self
            .ids
            .iter()
            .zip(&self.changes)
            .filter(|(i, c)| i.is_some() && (c.row || c.parent_changed || c.ranges))
            .count();
        (added, changed, self.delete.len())
    }
}

#[derive(Debug, Clone)]
struct OfficeChange {
    /// Type, WAN cap, description, source or position differ (or new).
    row: bool,
    /// The parent's index in the file.
    parent: Option<usize>,
    parent_changed: bool,
    ranges: bool,
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

fn office_row(r: &Row) -> Result<OfficeRow, DbError> {
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
    pub fn atomically<T, E: From<DbError>>(
        &mut self,
        f: impl FnOnce(&Store) -> Result<T, E>,
    ) -> Result<T, E> {
        // Immediate, like [`Store::transaction`]: wait for the write lock
        // rather than fail mid-way when serve is writing.
        let tx = self.conn.begin()?;
        let out = f(self)?;
        tx.commit()?;
        Ok(out)
    }

    pub fn office(&self, id: i64) -> Result<Option<OfficeRow>, StoreError> {
        Ok(self.conn.query_opt(
            &format!("SELECT {OFFICE_COLS} FROM offices WHERE id = ?1"),
            [id],
            office_row,
        )?)
    }

    pub fn office_by_name(&self, name: &str) -> Result<Option<OfficeRow>, StoreError> {
        Ok(self.conn.query_opt(
            &format!("SELECT {OFFICE_COLS} FROM offices WHERE name = ?1"),
            [name],
            office_row,
        )?)
    }

    /// Every office in the admin's order (auto offices after, by creation).
    pub fn offices(&self) -> Result<Vec<OfficeRow>, StoreError> {
        Ok(self.conn.query_map(
            &format!("SELECT {OFFICE_COLS} FROM offices ORDER BY position, id"),
            (),
            office_row,
        )?)
    }

    /// The root office (no parent), if any. With several (only possible in
    /// a hand-edited database) the first in order.
    pub fn root_office(&self) -> Result<Option<OfficeRow>, StoreError> {
        Ok(self.conn.query_opt(
            &format!(
                "SELECT {OFFICE_COLS} FROM offices WHERE parent_id IS NULL
                 ORDER BY position, id LIMIT 1"
            ),
            (),
            office_row,
        )?)
    }

    /// Every office with description and ranges, in the admin's order.
    pub fn office_details(&self) -> Result<Vec<OfficeDetail>, StoreError> {
        let mut out: Vec<OfficeDetail> = self.conn.query_map(
            &format!("SELECT {OFFICE_COLS}, description FROM offices ORDER BY position, id"),
            (),
            |r| {
                Ok(OfficeDetail {
                    row: office_row(r)?,
                    description: r.get(6)?,
                    ranges: Vec::new(),
                })
            },
        )?;
        let at: HashMap<i64, usize> = out.iter().enumerate().map(|(i, o)| (o.row.id, i)).collect();
        let rows = self.conn.query_map(
            "SELECT office_id, spec FROM office_ranges ORDER BY office_id, position",
            (),
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
        )?;
        for (office, spec) in rows {
            if let Some(&i) = at.get(&office) {
                out[i].ranges.push(spec);
            }
        }
        Ok(out)
    }

    /// Every range of every office, for the lookup index.
    pub fn office_ranges(&self) -> Result<Vec<RangeRow>, StoreError> {
        Ok(self.conn.query_map(
            "SELECT r.office_id, r.spec, o.source FROM office_ranges r
             JOIN offices o ON o.id = r.office_id ORDER BY r.office_id, r.position",
            (),
            |r| {
                Ok(RangeRow {
                    office_id: r.get(0)?,
                    spec: r.get(1)?,
                    source: r.get(2)?,
                })
            },
        )?)
    }

    /// Creates one office with its ranges, placed after every other office.
    /// Returns its id.
    pub fn create_office(
        &self,
        office: &NewOffice,
        parent_id: Option<i64>,
    ) -> Result<i64, StoreError> {
        let position: i64 = self
            .conn
            .query_one("SELECT COALESCE(MAX(position), -1) + 1 FROM offices", ())?;
        let id: i64 = self.conn.query_one(
            "INSERT INTO offices (name, parent_id, type, wan_kbps, description, source, position)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
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
        self.write_ranges(id, &office.ranges)?;
        Ok(id)
    }

    fn write_ranges(&self, office_id: i64, ranges: &[String]) -> Result<(), StoreError> {
        self.conn.execute(
            "DELETE FROM office_ranges WHERE office_id = ?1",
            [office_id],
        )?;
        for (i, spec) in ranges.iter().enumerate() {
            self.conn.execute(
                "INSERT INTO office_ranges (office_id, spec, position) VALUES (?1, ?2, ?3)",
                params![office_id, spec, i as i64],
            )?;
        }
        Ok(())
    }

    /// Replaces the whole topology with `offices` (in file order): offices
    /// with a known name keep their id (so devices and reports keep pointing
    /// at them), new ones are added, the rest are deleted (their devices
    /// become unplaced until re-placed). Call inside [`Store::atomically`].
    /// Every `parent` must name an office of `offices`. Returns the id of
    /// each office, in file order.
    pub fn replace_topology(&self, offices: &[NewOffice]) -> Result<Vec<i64>, StoreError> {
        let diff = self.diff_topology(offices)?;
        Ok(self
            .apply_topology(offices, &diff)?
            .expect("nothing changes the topology between two statements of one transaction"))
    }

    /// Works out what replacing the topology with `offices` changes, by
    /// reading only: an import calls this before its write transaction, so
    /// that the transaction holds the write lock only for the writes
    /// ([`Store::apply_topology`]). Linear in offices and ranges.
    pub fn diff_topology(&self, offices: &[NewOffice]) -> Result<TopologyDiff, StoreError> {
        let generation = self.fleet_generation()?;
        let positions: HashMap<i64, i64> = self
            .conn
            .query_map("SELECT id, position FROM offices", (), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .into_iter()
            .collect();
        let existing: HashMap<String, OfficeDetail> = self
            .office_details()?
            .into_iter()
            .map(|d| (d.row.name.clone(), d))
            .collect();
        let index: HashMap<&str, usize> = offices
            .iter()
            .enumerate()
            .map(|(i, o)| (o.name.as_str(), i))
            .collect();
        let ids: Vec<Option<i64>> = offices
            .iter()
            .map(|o| existing.get(&o.name).map(|d| d.row.id))
            .collect();
        let mut delete: Vec<(i64, bool)> = existing
            .values()
            .filter(|d| !index.contains_key(d.row.name.as_str()))
            .map(|d| (d.row.id, d.row.parent_id.is_some()))
            .collect();
        delete.sort_unstable();
        let mut changes = Vec::with_capacity(offices.len());
        for (pos, o) in offices.iter().enumerate() {
            let parent = o.parent.as_deref().and_then(|p| index.get(p).copied());
            let Some(d) = existing.get(&o.name) else {
                changes.push(OfficeChange {
                    row: true,
                    parent,
                    parent_changed: parent.is_some(),
                    ranges: true,
                });
                continue;
            };
            let wanted_parent = parent.map(|p| ids[p]);
            let parent_changed = match wanted_parent {
                None => d.row.parent_id.is_some(),
                // A new parent: its id is known only once it is inserted.
                Some(None) => true,
                Some(Some(id)) => d.row.parent_id != Some(id),
            };
            changes.push(OfficeChange {
                row: d.row.kind != o.kind
                    || d.row.wan_kbps != o.wan_kbps
                    || d.description != o.description
                    || d.row.source != o.source
                    || positions.get(&d.row.id) != Some(&(pos as i64)),
                parent,
                parent_changed,
                ranges: d.ranges != o.ranges,
            });
        }
        Ok(TopologyDiff {
            generation,
            ids,
            delete,
            changes,
        })
    }

    /// Writes what [`Store::diff_topology`] worked out, inside the caller's
    /// transaction: only the offices, parents and ranges that change.
    /// `None` (and nothing written) when the topology changed since the
    /// diff was made (another admin command wrote it meanwhile): make the
    /// diff again inside the transaction. Returns the id of each office, in
    /// file order.
    pub fn apply_topology(
        &self,
        offices: &[NewOffice],
        diff: &TopologyDiff,
    ) -> Result<Option<Vec<i64>>, StoreError> {
        if self.fleet_generation()? != diff.generation || diff.changes.len() != offices.len() {
            return Ok(None);
        }
        let set_parent = "UPDATE offices SET parent_id = ?2 WHERE id = ?1";
        // Detach first what gets a new parent and what goes: removed
        // offices may be parents of each other or of kept ones.
        for (i, c) in diff.changes.iter().enumerate() {
            if let (Some(id), true) = (diff.ids[i], c.parent_changed) {
                self.conn.execute(set_parent, params![id, None::<i64>])?;
            }
        }
        for &(id, has_parent) in &diff.delete {
            if has_parent {
                self.conn.execute(set_parent, params![id, None::<i64>])?;
            }
        }
        for &(id, _) in &diff.delete {
            self.conn
                .execute("DELETE FROM offices WHERE id = ?1", [id])?;
        }
        let upd = "UPDATE offices SET type = ?2, wan_kbps = ?3, description = ?4, source = ?5,
                   position = ?6 WHERE id = ?1";
        let ins = "INSERT INTO offices (name, type, wan_kbps, description, source, position)
                   VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id";
        let mut ids = Vec::with_capacity(offices.len());
        for (pos, (o, c)) in offices.iter().zip(&diff.changes).enumerate() {
            let id = match diff.ids[pos] {
                Some(id) => {
                    if c.row {
                        self.conn.execute(
                            upd,
                            params![id, o.kind, o.wan_kbps, o.description, o.source, pos as i64],
                        )?;
                    }
                    id
                }
                None => self.conn.query_one(
                    ins,
                    params![
                        o.name,
                        o.kind,
                        o.wan_kbps,
                        o.description,
                        o.source,
                        pos as i64
                    ],
                )?,
            };
            ids.push(id);
        }
        for (i, c) in diff.changes.iter().enumerate() {
            if c.parent_changed
                && let Some(p) = c.parent
            {
                self.conn.execute(set_parent, params![ids[i], ids[p]])?;
            }
            if c.ranges {
                if diff.ids[i].is_some() {
                    self.conn
                        .execute("DELETE FROM office_ranges WHERE office_id = ?1", [ids[i]])?;
                }
                for (n, spec) in offices[i].ranges.iter().enumerate() {
                    self.conn.execute(
                        "INSERT INTO office_ranges (office_id, spec, position) VALUES (?1, ?2, ?3)",
                        params![ids[i], spec, n as i64],
                    )?;
                }
            }
        }
        Ok(Some(ids))
    }

    /// Deletes every auto office below the root (the per-subnet offices
    /// made while distribution optimization is off); their devices become
    /// unplaced until re-placed. The root is kept even when p2pd made it:
    /// imported offices may hang below it. Returns how many were deleted.
    pub fn delete_auto_offices(&self) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "DELETE FROM offices WHERE source = 'auto' AND parent_id IS NOT NULL",
            (),
        )?)
    }

    /// Every device with what placement needs.
    pub fn device_placements(&self) -> Result<Vec<DevicePlacement>, StoreError> {
        Ok(self.conn.query_map(
            "SELECT id, hostname, addr, prefix_len, office_id FROM devices ORDER BY addr, id",
            (),
            |r| {
                Ok(DevicePlacement {
                    id: r.get(0)?,
                    hostname: r.get(1)?,
                    addr: r.get(2)?,
                    prefix_len: r.get(3)?,
                    office_id: r.get(4)?,
                })
            },
        )?)
    }

    pub fn set_device_office(
        &self,
        device_id: &str,
        office_id: Option<i64>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE devices SET office_id = ?2 WHERE id = ?1",
            params![device_id, office_id],
        )?;
        Ok(())
    }

    /// Devices per office (offices without devices are absent).
    pub fn device_counts(&self) -> Result<HashMap<i64, i64>, StoreError> {
        Ok(self
            .conn
            .query_map(
                "SELECT office_id, COUNT(*) FROM devices WHERE office_id IS NOT NULL GROUP BY office_id",
                (),
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?
            .into_iter()
            .collect())
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

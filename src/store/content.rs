//! SQL for content (`contents`, `content_targets`) and the groups assigned
//! to peer distribution (`groups`, and the licenses of their devices).

use std::collections::HashMap;

use super::db::{Db, DbError, Row, params};
use super::{Store, StoreError, now};

/// A published content without its piece hashes (lists, idempotency checks).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ContentSummary {
    /// Hex SHA-256 of the whole file.
    pub id: String,
    pub name: String,
    pub version: String,
    /// Architecture (`x64`, `amd64`, …), or empty.
    pub arch: String,
    /// Relative path in file storage.
    pub path: String,
    pub size: u64,
    /// Storage mtime at publish (nanoseconds), to skip unchanged packages.
    #[serde(skip)]
    pub mtime: i64,
    pub piece_size: u64,
    pub pieces: u64,
    /// Unix seconds.
    pub published_at: i64,
    /// True: targets every assigned group, now and later; false: pinned by
    /// `publish --groups`.
    pub all_groups: bool,
    pub targets: Vec<String>,
    /// Registration order (SQLite rowid), to order contents published in
    /// the same second.
    #[serde(skip)]
    pub seq: i64,
}

/// A published content with its piece hashes.
#[derive(Debug, Clone)]
pub struct Content {
    pub summary: ContentSummary,
    /// 32 bytes per piece, in order.
    pub piece_hashes: Vec<u8>,
}

impl Content {
    /// The expected SHA-256 of piece `index`.
    pub fn piece_hash(&self, index: u64) -> Option<[u8; 32]> {
        let start = usize::try_from(index).ok()?.checked_mul(32)?;
        self.piece_hashes.get(start..start + 32)?.try_into().ok()
    }
}

/// A content about to be registered.
#[derive(Debug, Clone)]
pub struct NewContent<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub version: &'a str,
    pub arch: &'a str,
    pub path: &'a str,
    pub size: u64,
    pub mtime: i64,
    pub piece_size: u64,
    pub piece_hashes: &'a [u8],
}

/// Which groups a content targets.
#[derive(Debug, Clone, Copy)]
pub enum Targets<'a> {
    /// Every assigned group, including groups assigned later.
    AllAssigned,
    /// Exactly these groups (`publish --groups`).
    Only(&'a [String]),
}

/// An assigned group with what depends on it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GroupRow {
    pub name: String,
    /// Unix seconds.
    pub assigned_at: i64,
    pub devices: i64,
    pub licenses: i64,
    pub contents: i64,
}

/// What `groups unassign` changed.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct UnassignReport {
    pub groups: Vec<String>,
    /// Devices in those groups: they no longer receive content.
    pub devices: i64,
    /// Licenses released (devices that held one).
    pub licenses_released: i64,
    /// Content targets removed.
    pub targets_removed: i64,
}

/// The summary columns; registration order is SQLite's rowid and the
/// `seq` identity column on PostgreSQL.
fn summary_columns(db: &Db) -> &'static str {
    db.pick(
        "id, name, version, path, size, mtime, piece_size, published_at, all_groups, rowid, arch",
        "id, name, version, path, size, mtime, piece_size, published_at, all_groups, seq, arch",
    )
}

fn summary_of(r: &Row) -> Result<ContentSummary, DbError> {
    let size: i64 = r.get(4)?;
    let piece_size: i64 = r.get(6)?;
    Ok(ContentSummary {
        id: r.get(0)?,
        name: r.get(1)?,
        version: r.get(2)?,
        path: r.get(3)?,
        size: size as u64,
        mtime: r.get(5)?,
        piece_size: piece_size as u64,
        pieces: (size as u64).div_ceil((piece_size as u64).max(1)),
        published_at: r.get(7)?,
        all_groups: r.get(8)?,
        targets: Vec::new(),
        seq: r.get(9)?,
        arch: r.get(10)?,
    })
}

fn write_targets(tx: &Db, id: &str, targets: Targets) -> Result<(), DbError> {
    tx.execute("DELETE FROM content_targets WHERE content_id = ?1", [id])?;
    match targets {
        Targets::AllAssigned => {
            tx.execute(
                "INSERT INTO content_targets (content_id, group_name)
                 SELECT CAST(?1 AS TEXT), name FROM groups",
                [id],
            )?;
            tx.execute("UPDATE contents SET all_groups = 1 WHERE id = ?1", [id])?;
        }
        Targets::Only(groups) => {
            for g in groups {
                tx.execute(
                    "INSERT INTO content_targets (content_id, group_name) VALUES (?1, ?2)
                     ON CONFLICT DO NOTHING",
                    params![id, g],
                )?;
            }
            tx.execute("UPDATE contents SET all_groups = 0 WHERE id = ?1", [id])?;
        }
    }
    Ok(())
}

impl Store {
    /// Every published content, by name, version and publish time.
    pub fn content_summaries(&self) -> Result<Vec<ContentSummary>, StoreError> {
        let mut rows: Vec<ContentSummary> = self.conn.query_map(
            &format!(
                "SELECT {} FROM contents ORDER BY name, version, published_at, id",
                summary_columns(&self.conn)
            ),
            (),
            summary_of,
        )?;
        let mut targets: HashMap<String, Vec<String>> = HashMap::new();
        for (id, g) in self.conn.query_map(
            "SELECT content_id, group_name FROM content_targets ORDER BY group_name",
            (),
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
        )? {
            targets.entry(id).or_default().push(g);
        }
        for r in &mut rows {
            r.targets = targets.remove(&r.id).unwrap_or_default();
        }
        Ok(rows)
    }

    /// One content with its piece hashes.
    pub fn content(&self, id: &str) -> Result<Option<Content>, StoreError> {
        let row = self.conn.query_opt(
            &format!(
                "SELECT {}, piece_hashes FROM contents WHERE id = ?1",
                summary_columns(&self.conn)
            ),
            [id],
            |r| {
                Ok(Content {
                    summary: summary_of(r)?,
                    piece_hashes: r.get(11)?,
                })
            },
        )?;
        let Some(mut c) = row else {
            return Ok(None);
        };
        c.summary.targets = self.conn.query_map(
            "SELECT group_name FROM content_targets WHERE content_id = ?1 ORDER BY group_name",
            [id],
            |r| r.get(0),
        )?;
        Ok(Some(c))
    }

    /// Ids starting with `prefix` (lowercase hex), at most `limit`.
    pub fn content_ids_with_prefix(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        Ok(self.conn.query_map(
            "SELECT id FROM contents WHERE substr(id, 1, ?1) = ?2 ORDER BY id LIMIT ?3",
            params![prefix.len() as i64, prefix, limit as i64],
            |r| r.get(0),
        )?)
    }

    /// Registers a content and its targets in one transaction. If the id is
    /// already published (same bytes), its path, name, version and mtime are
    /// refreshed; its pieces are the same by construction.
    pub fn register_content(&mut self, c: &NewContent, targets: Targets) -> Result<(), StoreError> {
        self.transaction(|tx| {
            tx.execute(
                "INSERT INTO contents
                   (id, name, version, path, size, mtime, piece_size, piece_hashes, published_at, arch)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT(id) DO UPDATE SET name = excluded.name, version = excluded.version,
                   path = excluded.path, mtime = excluded.mtime, published_at = excluded.published_at,
                   arch = excluded.arch",
                params![
                    c.id,
                    c.name,
                    c.version,
                    c.path,
                    c.size as i64,
                    c.mtime,
                    c.piece_size as i64,
                    c.piece_hashes,
                    now(),
                    c.arch
                ],
            )?;
            write_targets(tx, c.id, targets)?;
            Ok::<_, StoreError>(())
        })
    }

    /// Replaces the targets of a published content.
    pub fn set_content_targets(&mut self, id: &str, targets: Targets) -> Result<(), StoreError> {
        self.transaction(|tx| {
            write_targets(tx, id, targets)?;
            Ok::<_, StoreError>(())
        })
    }

    /// Withdraws contents (their targets, progress and leaders go with them).
    pub fn delete_contents(&mut self, ids: &[String]) -> Result<usize, StoreError> {
        self.transaction(|tx| {
            let mut n = 0;
            for id in ids {
                n += tx.execute("DELETE FROM contents WHERE id = ?1", [id])?;
            }
            Ok::<_, StoreError>(n)
        })
    }

    /// Names of the assigned groups, sorted.
    pub fn assigned_groups(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .conn
            .query_map("SELECT name FROM groups ORDER BY name", (), |r| r.get(0))?)
    }

    /// Assigned groups with their device, license and content counts.
    pub fn groups(&self) -> Result<Vec<GroupRow>, StoreError> {
        Ok(self.conn.query_map(
            &format!(
                "SELECT g.name, g.assigned_at,
               (SELECT COUNT(*) FROM devices d WHERE d.group_name = g.name),
               (SELECT COUNT(*) FROM devices d WHERE d.group_name = g.name
                  AND d.license_activated_at IS NOT NULL AND {}),
               (SELECT COUNT(*) FROM content_targets t WHERE t.group_name = g.name)
             FROM groups g ORDER BY g.name",
                super::devices::counted_sql("d", 1)
            ),
            [super::devices::counted_since()],
            |r| {
                Ok(GroupRow {
                    name: r.get(0)?,
                    assigned_at: r.get(1)?,
                    devices: r.get(2)?,
                    licenses: r.get(3)?,
                    contents: r.get(4)?,
                })
            },
        )?)
    }

    /// Assigns groups (already validated). Each newly assigned group becomes
    /// a target of every content published for all assigned groups. Returns
    /// the names that were not assigned before.
    pub fn assign_groups(&mut self, names: &[String]) -> Result<Vec<String>, StoreError> {
        self.transaction(|tx| {
            let mut added = Vec::new();
            for name in names {
                let n = tx.execute(
                    "INSERT INTO groups (name, assigned_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    params![name, now()],
                )?;
                if n == 1 {
                    tx.execute(
                        "INSERT INTO content_targets (content_id, group_name)
                         SELECT id, CAST(?1 AS TEXT) FROM contents WHERE all_groups = 1
                         ON CONFLICT DO NOTHING",
                        [name],
                    )?;
                    added.push(name.clone());
                }
            }
            Ok::<_, StoreError>(added)
        })
    }

    /// Unassigns groups: removes their content targets and releases the
    /// licenses of their devices, all in one transaction. If any name is not
    /// assigned, nothing changes and the unknown names are returned.
    pub fn unassign_groups(
        &mut self,
        names: &[String],
    ) -> Result<Result<UnassignReport, Vec<String>>, StoreError> {
        self.transaction(|tx| {
            let mut unknown = Vec::new();
            for name in names {
                let found: Option<i64> =
                    tx.query_opt("SELECT 1 FROM groups WHERE name = ?1", [name], |r| r.get(0))?;
                if found.is_none() {
                    unknown.push(name.clone());
                }
            }
            if !unknown.is_empty() {
                return Ok::<_, StoreError>(Err(unknown));
            }
            let mut report = UnassignReport {
                groups: names.to_vec(),
                ..Default::default()
            };
            for name in names {
                report.devices += tx.query_row(
                    "SELECT COUNT(*) FROM devices WHERE group_name = ?1",
                    [name],
                    |r| r.get::<_, i64>(0),
                )?;
                report.licenses_released += tx.execute(
                    "UPDATE devices SET license_activated_at = NULL
                     WHERE group_name = ?1 AND license_activated_at IS NOT NULL",
                    [name],
                )? as i64;
                report.targets_removed +=
                    tx.execute("DELETE FROM content_targets WHERE group_name = ?1", [name])? as i64;
                tx.execute("DELETE FROM groups WHERE name = ?1", [name])?;
            }
            Ok(Ok(report))
        })
    }
}

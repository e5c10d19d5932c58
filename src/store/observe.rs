//! SQL for seeing what happened: scheduler decisions (for `explain`), the
//! admin token, and the aggregates `/metrics` and the dashboard read.
//!
//! Every query here is an aggregate or a page: none returns a row per
//! device of the whole fleet, so a scrape or a dashboard poll stays cheap at
//! 5,000 offices.

use super::db::{DbError, OptionalExtension, Row, params};

use super::{Store, StoreError, now};

/// One recorded scheduler decision.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DecisionRow {
    pub at: i64,
    pub content_id: String,
    pub device_id: String,
    pub office_id: Option<i64>,
    /// `sources`, `election` or `failover`.
    pub kind: String,
    /// `leader`, `follower`, `solo`; empty for elections.
    pub role: String,
    pub leader: Option<String>,
    /// Failover: the leader that was replaced.
    pub previous: Option<String>,
    /// Upstream tiers offered, in order (`parent-partial,server,cdn`).
    pub tiers: String,
    pub reason: String,
}

/// One transfer a device reported.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TransferRow {
    pub tier: String,
    pub source_device: Option<String>,
    pub bytes: u64,
    pub pieces: u32,
    pub ok: bool,
    pub at: i64,
}

/// One ban: `device_id` was banned from serving a content on `reported_by`'s word.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BanRow {
    pub content_id: String,
    pub device_id: String,
    pub reported_by: String,
    pub piece: u32,
    pub at: i64,
}

/// Devices of one office (None: no office) and version.
/// Targeted devices, finished devices and pieces held by targeted devices
/// for content ?1; [`Store::office_done_held`] adds an office filter.
const DONE_HELD: &str =
    "SELECT COUNT(*), COALESCE(SUM(CASE WHEN p.done_at IS NOT NULL THEN 1 ELSE 0 END), 0),
            COALESCE(SUM(p.pieces), 0)
     FROM devices d JOIN content_targets t ON t.group_name = d.group_name AND t.content_id = ?1
     LEFT JOIN progress p ON p.content_id = ?1 AND p.device_id = d.id";

fn done_held(r: &Row) -> Result<(u64, u64, u64), DbError> {
    Ok((
        r.get::<_, i64>(0)? as u64,
        r.get::<_, i64>(1)? as u64,
        r.get::<_, i64>(2)? as u64,
    ))
}

/// One device's history for one content, as `explain` reads it.
#[derive(Debug, Clone)]
pub struct DeviceTrail {
    /// Every `sources` decision about it, oldest first.
    pub decisions: Vec<DecisionRow>,
    /// Every transfer it reported, oldest first.
    pub transfers: Vec<TransferRow>,
    /// The bans in which it was the banned one or the reporter.
    pub bans: Vec<BanRow>,
}

#[derive(Debug, Clone)]
pub struct DeviceCount {
    pub office: Option<String>,
    pub version: String,
    pub enrolled: u64,
    pub online: u64,
}

/// Bytes of one office: (office id, office name; both None: no office, bytes).
pub type OfficeBytes = (Option<i64>, Option<String>, u64);

/// One office on a dashboard page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OfficeListRow {
    pub id: i64,
    pub name: String,
    pub parent_id: Option<i64>,
    pub kind: String,
    pub children: u64,
    pub devices: u64,
}

/// One device on a dashboard page.
#[derive(Debug, Clone)]
pub struct DeviceListRow {
    pub device: super::devices::DeviceRow,
    pub office: Option<String>,
    /// Banned from serving at least one content.
    pub banned: bool,
    /// Reports a content it cannot make progress on (`stuck` table).
    pub stuck: bool,
    /// Its latest contact was refused for a retired key (`key_refusals`).
    pub stale_key: bool,
}

const DECISION_COLS: &str =
    "at, content_id, device_id, office_id, kind, role, leader, previous, tiers, reason";

fn decision_row(r: &Row) -> Result<DecisionRow, DbError> {
    Ok(DecisionRow {
        at: r.get(0)?,
        content_id: r.get(1)?,
        device_id: r.get(2)?,
        office_id: r.get(3)?,
        kind: r.get(4)?,
        role: r.get(5)?,
        leader: r.get(6)?,
        previous: r.get(7)?,
        tiers: r.get(8)?,
        reason: r.get(9)?,
    })
}

impl Store {
    /// Appends a decision (its `at` is taken as given).
    pub fn record_decision(&self, d: &DecisionRow) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO decisions (at, content_id, device_id, office_id, kind, role, leader, previous, tiers, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                d.at,
                d.content_id,
                d.device_id,
                d.office_id,
                d.kind,
                d.role,
                d.leader,
                d.previous,
                d.tiers,
                d.reason
            ])?;
        Ok(())
    }

    /// The latest `sources` decision about a device for a content.
    pub fn last_decision(
        &self,
        device_id: &str,
        content_id: &str,
    ) -> Result<Option<DecisionRow>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {DECISION_COLS} FROM decisions
                 WHERE device_id = ?1 AND content_id = ?2 AND kind = 'sources'
                 ORDER BY id DESC LIMIT 1"
            ))?
            .query_row([device_id, content_id], decision_row)
            .optional()?)
    }

    /// What `explain` reads about one device and content.
    pub fn device_trail(
        &self,
        device_id: &str,
        content_id: &str,
    ) -> Result<DeviceTrail, StoreError> {
        let both = [device_id, content_id];
        let decisions = self.conn.query_map(
            &format!(
                "SELECT {DECISION_COLS} FROM decisions
                 WHERE device_id = ?1 AND content_id = ?2 AND kind = 'sources' ORDER BY id"
            ),
            both,
            decision_row,
        )?;
        let transfers = self.conn.query_map(
            "SELECT tier, source_device, bytes, pieces, ok, at FROM transfers
             WHERE device_id = ?1 AND content_id = ?2 ORDER BY id",
            both,
            |r| {
                Ok(TransferRow {
                    tier: r.get(0)?,
                    source_device: r.get(1)?,
                    bytes: r.get::<_, i64>(2)? as u64,
                    pieces: r.get(3)?,
                    ok: r.get(4)?,
                    at: r.get(5)?,
                })
            },
        )?;
        let bans = self.conn.query_map(
            "SELECT content_id, device_id, reported_by, piece, at FROM bans
             WHERE content_id = ?2 AND (device_id = ?1 OR reported_by = ?1) ORDER BY at",
            both,
            |r| {
                Ok(BanRow {
                    content_id: r.get(0)?,
                    device_id: r.get(1)?,
                    reported_by: r.get(2)?,
                    piece: r.get(3)?,
                    at: r.get(4)?,
                })
            },
        )?;
        Ok(DeviceTrail {
            decisions,
            transfers,
            bans,
        })
    }

    /// Elections and failovers of one office (None: no office) for a
    /// content, oldest first.
    pub fn office_elections(
        &self,
        content_id: &str,
        office_id: Option<i64>,
    ) -> Result<Vec<DecisionRow>, StoreError> {
        Ok(self.conn.query_map(&format!(
            "SELECT {DECISION_COLS} FROM decisions
             WHERE content_id = ?1 AND office_id IS NOT DISTINCT FROM ?2 AND kind IN ('election', 'failover') ORDER BY id"
        ), params![content_id, office_id], decision_row)?)
    }

    /// (elections, failovers) ever recorded.
    pub fn election_counts(&self) -> Result<(u64, u64), StoreError> {
        Ok(self.conn.query_row(
            "SELECT COALESCE(SUM(CASE WHEN kind = 'election' THEN 1 ELSE 0 END), 0),
                    COALESCE(SUM(CASE WHEN kind = 'failover' THEN 1 ELSE 0 END), 0)
             FROM decisions WHERE kind IN ('election', 'failover')",
            (),
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
        )?)
    }

    /// Bans ever recorded.
    pub fn ban_count(&self) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM bans", (), |r| r.get::<_, i64>(0))? as u64)
    }

    /// Devices whose id starts with `prefix` or whose hostname is `name`.
    pub fn find_devices(&self, needle: &str) -> Result<Vec<String>, StoreError> {
        Ok(self.conn.query_map(
            "SELECT id FROM devices WHERE id = ?1 OR hostname = ?1 OR addr = ?1
             OR (length(?1) >= 4 AND substr(id, 1, length(?1)) = ?1) ORDER BY id LIMIT 20",
            [needle],
            |r| r.get(0),
        )?)
    }

    /// Contents whose id starts with `needle`, or whose name (or
    /// "name version") is `needle`, newest first.
    pub fn find_contents(&self, needle: &str) -> Result<Vec<String>, StoreError> {
        Ok(self.conn.query_map(
            "SELECT id FROM contents WHERE name = ?1 OR name || ' ' || version = ?1
             OR (length(?1) >= 4 AND substr(id, 1, length(?1)) = ?1)
             ORDER BY published_at DESC, id LIMIT 20",
            [needle],
            |r| r.get(0),
        )?)
    }

    /// The SHA-256 (hex) of the admin token, if one was created.
    pub fn admin_token_sha256(&self) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT token_sha256 FROM admin_token WHERE id = 1",
                (),
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Replaces the admin token (by its SHA-256).
    pub fn set_admin_token_sha256(&self, sha256: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO admin_token (id, token_sha256, created_at) VALUES (1, ?1, ?2)
             ON CONFLICT(id) DO UPDATE SET token_sha256 = excluded.token_sha256, created_at = excluded.created_at",
            params![sha256, now()],
        )?;
        Ok(())
    }

    /// Devices by office and version; online = seen at or after `online_since`.
    pub fn devices_by_office_version(
        &self,
        online_since: i64,
    ) -> Result<Vec<DeviceCount>, StoreError> {
        Ok(self.conn.query_map(
            "SELECT o.name, d.version, COUNT(*),
                    COALESCE(SUM(CASE WHEN d.last_seen >= ?1 THEN 1 ELSE 0 END), 0)
             FROM devices d LEFT JOIN offices o ON o.id = d.office_id
             GROUP BY d.office_id, o.name, d.version ORDER BY 1 NULLS FIRST, 2",
            [online_since],
            |r| {
                Ok(DeviceCount {
                    office: r.get(0)?,
                    version: r.get(1)?,
                    enrolled: r.get::<_, i64>(2)? as u64,
                    online: r.get::<_, i64>(3)? as u64,
                })
            },
        )?)
    }

    /// Verified bytes received, by office name (None: no office) and tier,
    /// over every content.
    pub fn bytes_by_office_tier(&self) -> Result<Vec<(Option<String>, String, u64)>, StoreError> {
        Ok(self.conn.query_map(
            "SELECT o.name, t.tier, SUM(t.bytes) FROM transfers t
             LEFT JOIN offices o ON o.id = t.office_id
             WHERE t.ok = 1 GROUP BY t.office_id, o.name, t.tier ORDER BY 1 NULLS FIRST, 2",
            (),
            |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64)),
        )?)
    }

    /// Contents being distributed: some device has not finished, or one
    /// finished at or after `since`. (id, "name version", size), newest first.
    pub fn active_contents(&self, since: i64) -> Result<Vec<(String, String, u64)>, StoreError> {
        Ok(self.conn.query_map(
            "SELECT c.id, c.name || ' ' || c.version, c.size FROM contents c
             WHERE EXISTS (SELECT 1 FROM progress p WHERE p.content_id = c.id
                           AND (p.done_at IS NULL OR p.done_at >= ?1))
             ORDER BY c.published_at DESC, c.id",
            [since],
            |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64)),
        )?)
    }

    /// Verified bytes that entered each office from outside (parent,
    /// server, CDN) for a content: (office id, office name, bytes).
    pub fn wan_bytes(&self, content_id: &str) -> Result<Vec<OfficeBytes>, StoreError> {
        Ok(self.conn.query_map(
            "SELECT t.office_id, o.name, SUM(t.bytes) FROM transfers t
             LEFT JOIN offices o ON o.id = t.office_id
             WHERE t.content_id = ?1 AND t.ok = 1 AND t.tier IN ('parent', 'server', 'cdn')
             GROUP BY t.office_id, o.name",
            [content_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64)),
        )?)
    }

    /// One page of offices: the children of `parent` (`Some(None)`: the
    /// roots), or, with `search`, every office whose name contains it.
    /// Returns (total matching, page).
    pub fn offices_page(
        &self,
        parent: Option<Option<i64>>,
        search: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<(u64, Vec<OfficeListRow>), StoreError> {
        use super::db::Value;
        // The placeholder's type is spelled out (CAST) where PostgreSQL
        // could not infer it from a NULL.
        let (filter, arg): (&str, Value) = match (search, parent) {
            (Some(q), _) => (
                self.conn.pick(
                    "instr(lower(o.name), lower(?1)) > 0",
                    "strpos(lower(o.name), lower(?1)) > 0",
                ),
                Value::Text(q.to_string()),
            ),
            (None, Some(Some(p))) => ("o.parent_id = ?1", Value::Int(p)),
            (None, Some(None)) => (
                "o.parent_id IS NOT DISTINCT FROM CAST(?1 AS BIGINT)",
                Value::Null,
            ),
            (None, None) => ("CAST(?1 AS BIGINT) IS NULL", Value::Null),
        };
        let total: i64 = self.conn.query_row(
            &format!("SELECT COUNT(*) FROM offices o WHERE {filter}"),
            [&arg],
            |r| r.get(0),
        )?;
        let mut st = self.conn.prepare(&format!(
            "SELECT o.id, o.name, o.parent_id, o.type,
                 (SELECT COUNT(*) FROM offices c WHERE c.parent_id = o.id),
                 (SELECT COUNT(*) FROM devices d WHERE d.office_id = o.id)
             FROM offices o WHERE {filter} ORDER BY o.position, o.name LIMIT ?2 OFFSET ?3"
        ))?;
        let rows = st.query_map(params![arg, limit, offset], |r| {
            Ok(OfficeListRow {
                id: r.get(0)?,
                name: r.get(1)?,
                parent_id: r.get(2)?,
                kind: r.get(3)?,
                children: r.get::<_, i64>(4)? as u64,
                devices: r.get::<_, i64>(5)? as u64,
            })
        })?;
        Ok((total as u64, rows.collect::<Result<_, _>>()?))
    }

    /// Targeted devices, finished devices and pieces held by targeted
    /// devices, of one office (None: no office) for a content.
    pub fn office_done_held(
        &self,
        content_id: &str,
        office_id: Option<i64>,
    ) -> Result<(u64, u64, u64), StoreError> {
        let sql = format!("{DONE_HELD} WHERE d.office_id IS NOT DISTINCT FROM ?2");
        let row = self
            .conn
            .query_row(&sql, params![content_id, office_id], done_held)?;
        Ok(row)
    }

    /// The same over every office.
    pub fn content_done(&self, content_id: &str) -> Result<(u64, u64, u64), StoreError> {
        Ok(self
            .conn
            .query_row(DONE_HELD, params![content_id], done_held)?)
    }

    /// Verified bytes of a content by time bucket and tier:
    /// (bucket start, tier, bytes), buckets of `bucket_secs`.
    pub fn bytes_series(
        &self,
        content_id: &str,
        bucket_secs: i64,
    ) -> Result<Vec<(i64, String, u64)>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT (at / ?2) * ?2, tier, SUM(bytes) FROM transfers
             WHERE content_id = ?1 AND ok = 1 GROUP BY 1, 2 ORDER BY 1, 2",
        )?;
        let bucket = bucket_secs.max(1);
        let rows = st.query_map(params![content_id, bucket], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// First and last transfer time of a content.
    pub fn transfer_span(&self, content_id: &str) -> Result<Option<(i64, i64)>, StoreError> {
        Ok(self.conn.query_row(
            "SELECT MIN(at), MAX(at) FROM transfers WHERE content_id = ?1",
            [content_id],
            |r| Ok(r.get::<_, Option<i64>>(0)?.zip(r.get::<_, Option<i64>>(1)?)),
        )?)
    }

    /// One page of devices, optionally those whose hostname, address,
    /// id or office contains `search`. Returns (total matching, page).
    pub fn devices_page(
        &self,
        search: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<(u64, Vec<DeviceListRow>), StoreError> {
        let filter = self.conn.pick(
            "(CAST(?1 AS TEXT) IS NULL OR instr(lower(d.hostname), lower(?1)) > 0
             OR instr(d.addr, ?1) > 0 OR instr(d.id, lower(?1)) = 1
             OR instr(lower(COALESCE(o.name, '')), lower(?1)) > 0)",
            "(CAST(?1 AS TEXT) IS NULL OR strpos(lower(d.hostname), lower(?1)) > 0
             OR strpos(d.addr, ?1) > 0 OR strpos(d.id, lower(?1)) = 1
             OR strpos(lower(COALESCE(o.name, '')), lower(?1)) > 0)",
        );
        let total: i64 = self.conn.query_row(
            &format!(
                "SELECT COUNT(*) FROM devices d LEFT JOIN offices o ON o.id = d.office_id WHERE {filter}"
            ),
            [search],
            |r| r.get(0),
        )?;
        type Flags = (String, Option<String>, bool, bool, bool);
        let ids: Vec<Flags> = {
            let mut st = self.conn.prepare(&format!(
                "SELECT d.id, o.name,
                     EXISTS (SELECT 1 FROM bans b WHERE b.device_id = d.id),
                     EXISTS (SELECT 1 FROM stuck s WHERE s.device_id = d.id),
                     EXISTS (SELECT 1 FROM key_refusals k WHERE k.device_id = d.id AND k.last_at > d.last_seen)
                 FROM devices d LEFT JOIN offices o ON o.id = d.office_id
                 WHERE {filter} ORDER BY d.hostname, d.addr, d.id LIMIT ?2 OFFSET ?3"
            ))?;
            st.query_map(params![search, limit, offset], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<Result<_, _>>()?
        };
        let mut out = Vec::with_capacity(ids.len());
        for (id, office, banned, stuck, stale_key) in ids {
            if let Some(device) = self.device(&id)? {
                out.push(DeviceListRow {
                    device,
                    office,
                    banned,
                    stuck,
                    stale_key,
                });
            }
        }
        Ok((total as u64, out))
    }
}

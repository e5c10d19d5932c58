//! SQL for distribution: targeted content, manifests, progress, leaders,
//! bans, transfers, and the per-office report.

use std::collections::HashSet;

use super::db::{DbError, OptionalExtension, Row, params};

use super::{Store, StoreError, now, now_ms};
use crate::domain::content::{ContentRef, Manifest};

/// Distinct devices that must report bad pieces from a sender before it is
/// banned from serving that content.
pub const BAN_WITNESSES: i64 = 2;

/// The witness a ban confirmed by the server itself is recorded under in
/// `bad_reports` (never a device id: those are UUIDs or 64 hex digits).
pub const CONFIRMED_BY: &str = "server";

/// How long a ban (and a bad-piece report waiting for a second witness)
/// lasts: a day. `p2pd devices unban ID` lifts one sooner.
pub const BAN_SECS: i64 = 24 * 3600;

/// One device's progress on one content, as its heartbeat reported it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProgressUpdate {
    /// Verified pieces held.
    pub pieces: u32,
    /// The file is delivered.
    pub done: bool,
    /// Bytes received so far (a stall is judged by bytes flowing).
    pub bytes: u64,
    /// Every upstream source the device may use is failing.
    pub blocked: bool,
}

/// One transfer a device reported.
#[derive(Debug, Clone, Copy)]
pub struct Transfer<'a> {
    pub content_id: &'a str,
    /// The tier's name (`lan`, `wan`, `cdn`, ...).
    pub tier: &'a str,
    /// The device the bytes came from, if a device.
    pub source_device: Option<&'a str>,
    pub bytes: u64,
    pub pieces: u32,
    pub ok: bool,
}

/// Per device and content, as reported in heartbeats.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProgressRow {
    pub device_id: String,
    pub pieces: u32,
    pub started_at: i64,
    pub progressed_at: i64,
    pub done_at: Option<i64>,
    /// When the device first asked for the content, in ms (`None` on rows
    /// from before schema version 2).
    pub started_ms: Option<i64>,
    /// When it delivered the verified file, in ms.
    pub done_ms: Option<i64>,
    /// Bytes received so far, counted as they stream in.
    pub bytes: u64,
    /// Last time `bytes` or `pieces` grew (None: never reported).
    pub moved_at: Option<i64>,
    /// Set while the device reports every upstream source failing.
    pub blocked_at: Option<i64>,
}

/// The leader of one (content, office) and its term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderLease {
    pub device_id: String,
    /// Bumped on every change of leader.
    pub epoch: i64,
    /// When this term began (the start of its grace period).
    pub since: i64,
}

/// Bytes received by one office for one content, by tier.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TierBytes {
    pub lan: u64,
    pub parent: u64,
    pub server: u64,
    pub cdn: u64,
    pub failed: u64,
}

impl Store {
    /// Content targeted at a group, oldest first.
    pub fn targeted_contents(&self, group: &str) -> Result<Vec<ContentRef>, StoreError> {
        // On SQLite from the covering index alone: a contents row's
        // published_at sits behind its piece hashes, in overflow pages.
        let mut st = self.conn.prepare_cached(self.conn.pick(
            "SELECT c.id, c.name, c.version, c.size FROM contents c INDEXED BY contents_listing
             JOIN content_targets t ON t.content_id = c.id
             WHERE t.group_name = ?1 ORDER BY c.published_at, c.id",
            "SELECT c.id, c.name, c.version, c.size FROM contents c
             JOIN content_targets t ON t.content_id = c.id
             WHERE t.group_name = ?1 ORDER BY c.published_at, c.id",
        ))?;
        let rows = st.query_map([group], |r| {
            Ok(ContentRef {
                id: r.get(0)?,
                name: r.get(1)?,
                version: r.get(2)?,
                size: r.get::<_, i64>(3)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn is_targeted(&self, content_id: &str, group: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT 1 FROM content_targets WHERE content_id = ?1 AND group_name = ?2",
            )?
            .query_row([content_id, group], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Whether a content is published. Cheap, unlike [`Store::manifest`],
    /// which copies every piece hash (1,024 of them for 1 GiB): the
    /// heartbeat handler asks this for every progress entry of every device.
    pub fn content_exists(&self, content_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM contents WHERE id = ?1")?
            .query_row([content_id], |_| Ok(()))
            .optional()?
            .is_some())
    }

    pub fn manifest(&self, content_id: &str) -> Result<Option<Manifest>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id, name, version, path, size, piece_size, piece_hashes FROM contents WHERE id = ?1",
            )?
            .query_row([content_id], |r| {
                let path: String = r.get(3)?;
                let hashes: Vec<u8> = r.get(6)?;
                Ok(Manifest {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    version: r.get(2)?,
                    file_name: path.rsplit('/').next().unwrap_or(&path).to_string(),
                    path,
                    size: r.get::<_, i64>(4)? as u64,
                    piece_size: r.get::<_, i64>(5)? as u64,
                    pieces: hashes
                        .chunks_exact(32)
                        .map(|c| {
                            let mut h = [0u8; 32];
                            h.copy_from_slice(c);
                            crate::domain::PieceHash(h)
                        })
                        .collect(),
                })
            })
            .optional()?)
    }

    /// Records reported progress. `progressed_at` moves only when the
    /// piece count grows; `moved_at` when the piece count or the bytes
    /// received grow, which is what stall detection looks at. `blocked`
    /// says every upstream source the device may use is failing.
    pub fn record_progress(
        &self,
        content_id: &str,
        device_id: &str,
        p: &ProgressUpdate,
    ) -> Result<(), StoreError> {
        let t = now();
        // Scalar MAX is GREATEST on PostgreSQL; the rest is common SQL
        // (CAST: PostgreSQL types a bare placeholder in CASE as text).
        let max = self.conn.pick("MAX", "GREATEST");
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO progress (content_id, device_id, pieces, started_at, progressed_at, done_at,
                                       bytes, moved_at, blocked_at, started_ms)
                 VALUES (?1, ?2, ?3, ?4, ?4, CASE WHEN ?5 THEN CAST(?4 AS BIGINT) END, ?6, ?4,
                         CASE WHEN ?7 THEN CAST(?4 AS BIGINT) END, ?8)
                 ON CONFLICT(content_id, device_id) DO UPDATE SET
                     progressed_at = CASE WHEN excluded.pieces > progress.pieces THEN ?4 ELSE progress.progressed_at END,
                     moved_at = CASE WHEN excluded.pieces > progress.pieces OR excluded.bytes > progress.bytes
                                     THEN ?4 ELSE progress.moved_at END,
                     pieces = excluded.pieces,
                     bytes = {max}(progress.bytes, excluded.bytes),
                     blocked_at = CASE WHEN ?7 THEN COALESCE(progress.blocked_at, ?4) END,
                     done_at = COALESCE(progress.done_at, CASE WHEN ?5 THEN CAST(?4 AS BIGINT) END)",
            ))?
            .execute(params![
                content_id,
                device_id,
                p.pieces,
                t,
                p.done,
                p.bytes as i64,
                p.blocked,
                now_ms()
            ])?;
        Ok(())
    }

    /// Records when a device delivered a content, once: its claimed time
    /// (the delivery marker's mtime), bounded to the span the server saw
    /// (not before its first request, not after now); no claim = now. Call
    /// after [`Store::record_progress`] reported it done.
    pub fn record_done_ms(
        &self,
        content_id: &str,
        device_id: &str,
        claimed_ms: Option<i64>,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        self.conn
            .prepare_cached(self.conn.pick(
                "UPDATE progress SET done_ms = MAX(COALESCE(started_ms, 0), MIN(?3, ?4))
                 WHERE content_id = ?1 AND device_id = ?2 AND done_ms IS NULL",
                "UPDATE progress SET done_ms = GREATEST(COALESCE(started_ms, 0), LEAST(CAST(?3 AS BIGINT), ?4))
                 WHERE content_id = ?1 AND device_id = ?2 AND done_ms IS NULL",
            ))?
            .execute(params![
                content_id,
                device_id,
                claimed_ms.unwrap_or(now),
                now
            ])?;
        Ok(())
    }

    /// Marks that a device started on a content (no-op if already known).
    pub fn start_progress(&self, content_id: &str, device_id: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO progress (content_id, device_id, pieces, started_at, progressed_at, started_ms)
                 VALUES (?1, ?2, 0, ?3, ?3, ?4) ON CONFLICT DO NOTHING",
            )?
            .execute(params![content_id, device_id, now(), now_ms()])?;
        Ok(())
    }

    pub fn progress(&self, content_id: &str) -> Result<Vec<ProgressRow>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {PROGRESS_COLS} FROM progress WHERE content_id = ?1"
        ))?;
        let rows = st.query_map([content_id], progress_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Runs `f` (a leader election and what it writes) so that no other
    /// replica runs one for the same content at the same time: on
    /// PostgreSQL in one transaction holding an advisory lock on the
    /// content, so that between reading the current leader and writing the
    /// new one no other replica can elect another (exactly one leader per
    /// office, design note `replicas`). On SQLite there is one serve per database (the
    /// data dir lock) and its one connection is behind a mutex: `f` just runs.
    pub fn for_content_exclusively<T>(
        &self,
        content_id: &str,
        f: impl FnOnce(&Store) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if !self.conn.is_postgres() {
            return f(self);
        }
        let tx = self.conn.begin()?;
        self.conn.query_map(
            "SELECT pg_advisory_xact_lock(hashtextextended(?1, 7251))",
            [content_id],
            |_| Ok(()),
        )?;
        let out = f(self)?;
        tx.commit()?;
        Ok(out)
    }

    /// Progress on a content of one office's devices only: what the
    /// scheduler needs per `/sources` call, bounded by the office's size
    /// instead of the fleet's (design note `fleet-scale`: all 100,000 rows per call before).
    pub fn office_progress(
        &self,
        content_id: &str,
        office_id: i64,
    ) -> Result<Vec<ProgressRow>, StoreError> {
        let cols = PROGRESS_COLS
            .split(", ")
            .map(|c| format!("p.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        // CROSS JOIN fixes the loop order (SQLite's documented way): the
        // office's devices by `devices_office`, then one primary-key probe
        // each. Left to itself the planner walks every progress row of the
        // content instead (measured: 55 % of serve's CPU at 100 /sources/s
        // with 20,000 devices).
        // PostgreSQL has no CROSS JOIN ... ON, and its planner needs no hint.
        let join = self.conn.pick("CROSS JOIN", "JOIN");
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {cols} FROM devices d
             {join} progress p ON p.content_id = ?1 AND p.device_id = d.id
             WHERE d.office_id = ?2"
        ))?;
        let rows = st.query_map(params![content_id, office_id], progress_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One device's progress on a content.
    pub fn device_progress(
        &self,
        content_id: &str,
        device_id: &str,
    ) -> Result<Option<ProgressRow>, StoreError> {
        Ok(self.conn.query_opt(
            &format!(
                "SELECT {PROGRESS_COLS} FROM progress WHERE content_id = ?1 AND device_id = ?2"
            ),
            [content_id, device_id],
            progress_row,
        )?)
    }

    /// The leader of an office (-1: devices with no office) for a content.
    pub fn leader(&self, content_id: &str, office_id: i64) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT device_id FROM leaders WHERE content_id = ?1 AND office_id = ?2",
            )?
            .query_row(params![content_id, office_id], |r| r.get(0))
            .optional()?)
    }

    /// The current term of an office's leader for a content.
    pub fn leader_lease(
        &self,
        content_id: &str,
        office_id: i64,
    ) -> Result<Option<LeaderLease>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT device_id, epoch, since FROM leaders WHERE content_id = ?1 AND office_id = ?2",
            )?
            .query_row(params![content_id, office_id], |r| {
                Ok(LeaderLease {
                    device_id: r.get(0)?,
                    epoch: r.get(1)?,
                    since: r.get(2)?,
                })
            })
            .optional()?)
    }

    /// Names the leader of an office for a content, starting a new term:
    /// the epoch grows by one on every call. Returns the new term.
    pub fn set_leader(
        &self,
        content_id: &str,
        office_id: i64,
        device_id: &str,
    ) -> Result<LeaderLease, StoreError> {
        let t = now();
        let epoch: i64 = self.conn.query_row(
            "INSERT INTO leaders (content_id, office_id, device_id, since, epoch) VALUES (?1, ?2, ?3, ?4, 1)
             ON CONFLICT(content_id, office_id) DO UPDATE SET
                 device_id = excluded.device_id, since = excluded.since, epoch = leaders.epoch + 1
             RETURNING epoch",
            params![content_id, office_id, device_id, t],
            |r| r.get(0),
        )?;
        Ok(LeaderLease {
            device_id: device_id.to_string(),
            epoch,
            since: t,
        })
    }

    /// Every (content, office) a device leads.
    pub fn led_by(&self, device_id: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT content_id, office_id FROM leaders WHERE device_id = ?1")?;
        let rows = st.query_map([device_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// All leaders of a content: (office id, device id).
    pub fn leaders(&self, content_id: &str) -> Result<Vec<(i64, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT office_id, device_id FROM leaders WHERE content_id = ?1")?;
        let rows = st.query_map([content_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records that `reported_by` got a bad piece of a content from
    /// `device_id`, and bans the sender from serving that content once at
    /// least [`BAN_WITNESSES`] distinct devices (never the accused itself)
    /// have reported it. One device naming innocent devices bans no one.
    /// Returns true when this report made a new ban.
    pub fn ban(
        &mut self,
        content_id: &str,
        device_id: &str,
        reported_by: &str,
        piece: u32,
    ) -> Result<bool, StoreError> {
        if device_id == reported_by {
            return Ok(false);
        }
        let t = now();
        self.transaction(|tx| {
            put_report(tx, content_id, device_id, reported_by, piece, t)?;
            let witnesses: i64 = tx.query_row(
                "SELECT COUNT(DISTINCT reported_by) FROM bad_reports
                 WHERE content_id = ?1 AND device_id = ?2 AND at > ?3",
                params![content_id, device_id, t - BAN_SECS],
                |r| r.get(0),
            )?;
            if witnesses < BAN_WITNESSES {
                return Ok::<_, StoreError>(false);
            }
            put_ban(tx, content_id, device_id, reported_by, piece, t)
        })
    }

    /// Records a bad-piece report without judging it: the server re-checks
    /// the piece first (`server/recheck.rs`), then calls
    /// [`Store::ban_confirmed`], [`Store::withdraw_report`] or, when the
    /// check could not be made, [`Store::ban`] (the two-witness rule).
    pub fn record_bad_report(
        &mut self,
        content_id: &str,
        device_id: &str,
        reported_by: &str,
        piece: u32,
    ) -> Result<(), StoreError> {
        if device_id == reported_by {
            return Ok(());
        }
        put_report(&self.conn, content_id, device_id, reported_by, piece, now())
    }

    /// Bans `device_id` from serving a content on one report that the
    /// server confirmed by fetching the piece itself. The server counts as
    /// a witness ([`CONFIRMED_BY`]), so withdrawing another report later
    /// does not lift it. Returns true when this made a new ban.
    pub fn ban_confirmed(
        &mut self,
        content_id: &str,
        device_id: &str,
        reported_by: &str,
        piece: u32,
    ) -> Result<bool, StoreError> {
        let t = now();
        self.transaction(|tx| {
            put_report(tx, content_id, device_id, CONFIRMED_BY, piece, t)?;
            put_ban(tx, content_id, device_id, reported_by, piece, t)
        })
    }

    /// Forgets a report the server disproved (the piece verified when it
    /// fetched it), and lifts the sender's ban for that content if fewer
    /// than [`BAN_WITNESSES`] reports remain. Returns true when a ban was
    /// lifted.
    pub fn withdraw_report(
        &mut self,
        content_id: &str,
        device_id: &str,
        reported_by: &str,
    ) -> Result<bool, StoreError> {
        let t = now();
        self.transaction(|tx| {
            tx.execute(
                "DELETE FROM bad_reports WHERE content_id = ?1 AND device_id = ?2 AND reported_by = ?3",
                params![content_id, device_id, reported_by],
            )?;
            let witnesses: i64 = tx.query_row(
                "SELECT COUNT(DISTINCT reported_by) FROM bad_reports
                 WHERE content_id = ?1 AND device_id = ?2 AND at > ?3",
                params![content_id, device_id, t - BAN_SECS],
                |r| r.get(0),
            )?;
            if witnesses >= BAN_WITNESSES {
                return Ok::<_, StoreError>(false);
            }
            let n = tx.execute(
                "DELETE FROM bans WHERE content_id = ?1 AND device_id = ?2",
                params![content_id, device_id],
            )?;
            Ok(n > 0)
        })
    }

    /// Lifts every ban of a device and forgets the reports against it.
    /// Returns how many bans were lifted.
    pub fn unban(&mut self, device_id: &str) -> Result<usize, StoreError> {
        let t = now();
        self.transaction(|tx| {
            let n = tx.execute(
                "DELETE FROM bans WHERE device_id = ?1 AND at > ?2",
                params![device_id, t - BAN_SECS],
            )?;
            tx.execute("DELETE FROM bans WHERE device_id = ?1", [device_id])?;
            tx.execute("DELETE FROM bad_reports WHERE device_id = ?1", [device_id])?;
            Ok::<_, StoreError>(n)
        })
    }

    /// Devices banned (and not yet expired) from serving a content.
    pub fn banned(&self, content_id: &str) -> Result<HashSet<String>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT device_id FROM bans WHERE content_id = ?1 AND at > ?2")?;
        let since = now() - BAN_SECS;
        let rows = st.query_map(params![content_id, since], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Devices banned for any content, for `devices list`.
    pub fn banned_anywhere(&self) -> Result<HashSet<String>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT DISTINCT device_id FROM bans WHERE at > ?1")?;
        let rows = st.query_map([now() - BAN_SECS], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn record_transfer(
        &self,
        t: &Transfer,
        device_id: &str,
        office_id: Option<i64>,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO transfers (content_id, device_id, office_id, tier, source_device, bytes, pieces, ok, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                t.content_id,
                device_id,
                office_id,
                t.tier,
                t.source_device,
                t.bytes as i64,
                t.pieces,
                t.ok,
                now()
            ])?;
        Ok(())
    }

    /// Counts report `seq` of `device_id` once: runs `count` (the report's
    /// writes) in one transaction with the note that `seq` is applied,
    /// unless a report numbered `seq` or above was applied for the device
    /// already; then nothing runs and the answer is false (a retry after a
    /// lost answer, or a report overtaken by a later one). True when
    /// counted. `seq` 0 is an agent from before sequence numbers: counted
    /// every time, as it was.
    ///
    /// Keyed by device id. A device re-enrolled as a new device (a new id:
    /// its data dir, where `agent.json` lives, was wiped) starts with no
    /// row, so its first report counts whatever its number; its numbers
    /// come from its own new journal. The row stays when the device is
    /// retired, like its transfers: a re-admitted id retrying an old report
    /// does not count it twice.
    pub fn report_once<E: From<StoreError>>(
        &mut self,
        device_id: &str,
        seq: u64,
        count: impl FnOnce(&mut Store) -> Result<(), E>,
    ) -> Result<bool, E> {
        if seq == 0 {
            return self.atomically_mut(count).map(|()| true);
        }
        // At most i64::MAX: checked at the edge (`ReportRequest::validate`).
        let seq = seq.min(i64::MAX as u64) as i64;
        self.atomically_mut(|st| {
            // The number first, only if it is above the one applied: two
            // replicas given the same report at once (a retry after a
            // timeout) queue on this row, and the second finds it moved.
            let moved = st
                .conn
                .execute(
                    "INSERT INTO report_seqs (device_id, seq, at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (device_id) DO UPDATE SET seq = excluded.seq, at = excluded.at
                     WHERE report_seqs.seq < excluded.seq",
                    params![device_id, seq, now()],
                )
                .map_err(StoreError::from)?;
            if moved == 0 {
                return Ok(false);
            }
            count(st)?;
            Ok(true)
        })
    }

    /// The highest report sequence number applied for `device_id`, if any.
    pub fn report_seq(&self, device_id: &str) -> Result<Option<u64>, StoreError> {
        let seq: Option<i64> = self.conn.query_opt(
            "SELECT seq FROM report_seqs WHERE device_id = ?1",
            [device_id],
            |r| r.get(0),
        )?;
        Ok(seq.map(|s| s as u64))
    }

    /// Bytes received per office (None: no office) for a content.
    pub fn tier_bytes(
        &self,
        content_id: &str,
    ) -> Result<Vec<(Option<i64>, TierBytes)>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT office_id, tier, ok, SUM(bytes) FROM transfers WHERE content_id = ?1
             GROUP BY office_id, tier, ok",
        )?;
        let mut out: Vec<(Option<i64>, TierBytes)> = Vec::new();
        let rows = st.query_map([content_id], |r| {
            Ok((
                r.get::<_, Option<i64>>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, bool>(2)?,
                r.get::<_, i64>(3)? as u64,
            ))
        })?;
        for row in rows {
            let (office, tier, ok, bytes) = row?;
            let idx = match out.iter().position(|(o, _)| *o == office) {
                Some(i) => i,
                None => {
                    out.push((office, TierBytes::default()));
                    out.len() - 1
                }
            };
            let tb = &mut out[idx].1;
            if !ok {
                tb.failed += bytes;
                continue;
            }
            match tier.as_str() {
                "lan" => tb.lan += bytes,
                "parent" => tb.parent += bytes,
                "server" => tb.server += bytes,
                _ => tb.cdn += bytes,
            }
        }
        Ok(out)
    }

    /// Every published content id with its size and publish time, newest first.
    pub fn content_ids(&self) -> Result<Vec<(String, String, u64)>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, name || ' ' || version, size FROM contents ORDER BY published_at DESC, id",
        )?;
        let rows = st.query_map((), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Size of a package at a storage path published for `group`, if any:
    /// what the storage gateway may serve to a device of that group.
    pub fn targeted_size_by_path(
        &self,
        path: &str,
        group: &str,
    ) -> Result<Option<u64>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT c.size FROM contents c JOIN content_targets t ON t.content_id = c.id
                 WHERE c.path = ?1 AND t.group_name = ?2 LIMIT 1",
            )?
            .query_row([path, group], |r| r.get::<_, i64>(0))
            .optional()?
            .map(|s| s as u64))
    }

    /// Devices whose group a content targets.
    pub fn targeted_devices(
        &self,
        content_id: &str,
    ) -> Result<Vec<super::devices::DeviceRow>, StoreError> {
        // A device that enrolled and never sent a heartbeat no longer
        // counts after a while (design note `key-holders`: 105,024 of them made an office
        // read 5/105024 for ever).
        let ids: Vec<String> = {
            let mut st = self.conn.prepare_cached(&format!(
                "SELECT d.id FROM devices d JOIN content_targets t ON t.group_name = d.group_name
                 WHERE t.content_id = ?1 AND {} ORDER BY d.id",
                super::devices::counted_sql("d", 2)
            ))?;
            st.query_map(params![content_id, super::devices::counted_since()], |r| {
                r.get(0)
            })?
            .collect::<Result<_, _>>()?
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(d) = self.device(&id)? {
                out.push(d);
            }
        }
        Ok(out)
    }
}

const PROGRESS_COLS: &str = "device_id, pieces, started_at, progressed_at, done_at, started_ms, done_ms, bytes, moved_at, blocked_at";

fn progress_row(r: &Row) -> Result<ProgressRow, DbError> {
    Ok(ProgressRow {
        device_id: r.get(0)?,
        pieces: r.get(1)?,
        started_at: r.get(2)?,
        progressed_at: r.get(3)?,
        done_at: r.get(4)?,
        started_ms: r.get(5)?,
        done_ms: r.get(6)?,
        bytes: r.get::<_, i64>(7)? as u64,
        moved_at: r.get(8)?,
        blocked_at: r.get(9)?,
    })
}

/// Records (or refreshes) `reported_by`'s report of a bad piece from
/// `device_id`.
fn put_report(
    db: &super::db::Db,
    content_id: &str,
    device_id: &str,
    reported_by: &str,
    piece: u32,
    t: i64,
) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO bad_reports (content_id, device_id, reported_by, piece, at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (content_id, device_id, reported_by) DO UPDATE SET
             piece = excluded.piece, at = excluded.at",
        params![content_id, device_id, reported_by, piece, t],
    )?;
    Ok(())
}

/// Bans `device_id` from serving `content_id` as of `t` (a day); true when
/// it was not banned already.
fn put_ban(
    db: &super::db::Db,
    content_id: &str,
    device_id: &str,
    reported_by: &str,
    piece: u32,
    t: i64,
) -> Result<bool, StoreError> {
    let active = db
        .query_row(
            "SELECT 1 FROM bans WHERE content_id = ?1 AND device_id = ?2 AND at > ?3",
            params![content_id, device_id, t - BAN_SECS],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    db.execute(
        "INSERT INTO bans (content_id, device_id, reported_by, piece, at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (content_id, device_id) DO UPDATE SET
             reported_by = excluded.reported_by, piece = excluded.piece, at = excluded.at",
        params![content_id, device_id, reported_by, piece, t],
    )?;
    Ok(!active)
}

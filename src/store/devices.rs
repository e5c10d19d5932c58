//! SQL for devices: enrollment, heartbeats, history used to rank leaders,
//! and the states an admin sees and sets (stuck, stale key, preference,
//! retirement).

use super::db::{Db, DbError, Row, params};
use super::{Store, StoreError, now};

/// One enrolled device.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeviceRow {
    pub id: String,
    pub hostname: String,
    pub addr: String,
    pub prefix_len: u8,
    pub group_name: String,
    pub version: String,
    pub peer_url: Option<String>,
    pub office_id: Option<i64>,
    pub first_seen: i64,
    pub last_seen: i64,
    pub heartbeats: i64,
    pub uploads_ok: i64,
    pub upload_bytes: i64,
    pub failures: i64,
    pub license_activated_at: Option<i64>,
    /// The admin's say in the leader election.
    pub preference: Preference,
    /// Since when its peers cannot reach it (it then never leads and is
    /// never offered as a source), and how the server learnt it.
    pub unreachable_at: Option<i64>,
    pub unreachable_why: Option<String>,
}

/// How the admin ranks a device for leadership (`devices prefer|unprefer|exclude`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Preference {
    /// Ranked by its history alone.
    Normal,
    /// Ranks first among online devices.
    Preferred,
    /// Never leads (still downloads, and serves its office's peers).
    Excluded,
}

impl Preference {
    pub fn as_str(self) -> &'static str {
        match self {
            Preference::Normal => "normal",
            Preference::Preferred => "preferred",
            Preference::Excluded => "excluded",
        }
    }

    fn parse(s: &str) -> Preference {
        match s {
            "preferred" => Preference::Preferred,
            "excluded" => Preference::Excluded,
            _ => Preference::Normal,
        }
    }

    /// May this device lead at all?
    pub fn may_lead(self) -> bool {
        self != Preference::Excluded
    }

    /// Election rank: higher first, before any score.
    pub fn rank(self) -> u8 {
        match self {
            Preference::Preferred => 2,
            Preference::Normal => 1,
            Preference::Excluded => 0,
        }
    }
}

/// A content a device reported it is stuck on.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StuckRow {
    pub device_id: String,
    pub content_id: String,
    pub reason: String,
    pub since: i64,
}

/// Requests from one device refused for one stale key.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyRefusal {
    pub device_id: String,
    pub fingerprint: String,
    pub first_at: i64,
    pub last_at: i64,
    pub count: i64,
}

const DEVICE_COLS: &str = "id, hostname, addr, prefix_len, group_name, version, peer_url, office_id, \
     first_seen, last_seen, heartbeats, uploads_ok, upload_bytes, failures, license_activated_at, \
     preference, unreachable_at, unreachable_why";

fn device_row(r: &Row) -> Result<DeviceRow, DbError> {
    Ok(DeviceRow {
        id: r.get(0)?,
        hostname: r.get(1)?,
        addr: r.get(2)?,
        prefix_len: r.get(3)?,
        group_name: r.get(4)?,
        version: r.get(5)?,
        peer_url: r.get(6)?,
        office_id: r.get(7)?,
        first_seen: r.get(8)?,
        last_seen: r.get(9)?,
        heartbeats: r.get(10)?,
        uploads_ok: r.get(11)?,
        upload_bytes: r.get(12)?,
        failures: r.get(13)?,
        license_activated_at: r.get(14)?,
        preference: Preference::parse(&r.get::<_, String>(15)?),
        unreachable_at: r.get(16)?,
        unreachable_why: r.get(17)?,
    })
}

/// What an agent tells the server when it enrolls.
pub struct Enrollment<'a> {
    pub device_id: Option<&'a str>,
    pub hostname: &'a str,
    pub addr: &'a str,
    pub prefix_len: u8,
    pub group: &'a str,
    pub version: &'a str,
    pub peer_url: &'a str,
}

/// A device that enrolled once and sent no heartbeat since stops counting
/// (in `report`'s per-office totals, `licenses` and `license_cap`) this
/// many seconds after it enrolled (design note `key-holders`: a key holder enrolled 105,029
/// devices that never came back, and each took a licence). An agent sends
/// its first heartbeat right after it enrolls. It counts again from its
/// first heartbeat.
pub const UNCONFIRMED_SECS: i64 = 600;

/// The SQL condition "device `d` counts" (see [`UNCONFIRMED_SECS`]), with
/// `?N` bound to [`counted_since`]. The first enrollment counts as one
/// heartbeat (`heartbeats` starts at 1; enrolling again adds none), so
/// more than one means a heartbeat came.
pub fn counted_sql(d: &str, n: usize) -> String {
    format!("({d}.heartbeats > 1 OR {d}.first_seen >= ?{n})")
}

/// The bind value of [`counted_sql`]: devices enrolled since then count
/// even before their first heartbeat.
pub fn counted_since() -> i64 {
    // Test-only fault switch: a shorter window, to see devices expire.
    #[cfg(feature = "fault-injection")]
    if let Some(secs) = std::env::var("P2PD_FAULT_UNCONFIRMED_SECS")
        .ok()
        .and_then(|v| v.parse::<i64>().ok())
    {
        return now() - secs;
    }
    now() - UNCONFIRMED_SECS
}

impl Store {
    /// Devices holding a licence that count (see [`UNCONFIRMED_SECS`]),
    /// whose group is still assigned: what `license_cap` caps.
    pub fn counted_licenses(&self) -> Result<i64, StoreError> {
        Ok(count_licenses(&self.conn)?)
    }

    /// Devices that enrolled once, sent no heartbeat and no longer count,
    /// and devices enrolled within the last `secs` seconds: for `health`.
    pub fn enrollment_counts(&self, secs: i64) -> Result<(i64, i64), StoreError> {
        let expired = self.conn.query_one(
            "SELECT COUNT(*) FROM devices WHERE heartbeats <= 1 AND first_seen < ?1",
            [counted_since()],
        )?;
        let recent = self.conn.query_one(
            "SELECT COUNT(*) FROM devices WHERE first_seen >= ?1",
            [now() - secs],
        )?;
        Ok((expired, recent))
    }

    pub fn group_assigned(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_opt("SELECT 1 FROM groups WHERE name = ?1", [name], |_| Ok(()))?
            .is_some())
    }

    /// Inserts or refreshes a device and activates its license if it holds
    /// none. Returns the device row.
    pub fn enroll_device(&mut self, e: &Enrollment) -> Result<DeviceRow, StoreError> {
        let t = now();
        self.transaction(|tx| {
            let existing: Option<String> = match e.device_id {
                Some(id) => {
                    tx.query_opt("SELECT id FROM devices WHERE id = ?1", [id], |r| r.get(0))?
                }
                None => None,
            };
            let id = match existing {
                Some(id) => {
                    tx.execute(
                        "UPDATE devices SET hostname = ?2, addr = ?3, prefix_len = ?4, group_name = ?5,
                             version = ?6, peer_url = ?7, last_seen = ?8,
                             license_activated_at = COALESCE(license_activated_at, ?8)
                         WHERE id = ?1",
                        params![id, e.hostname, e.addr, e.prefix_len, e.group, e.version, e.peer_url, t],
                    )?;
                    id
                }
                None => {
                    check_license_cap(tx)?;
                    let id = e
                        .device_id
                        .map(str::to_string)
                        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                    tx.execute(
                        "INSERT INTO devices (id, hostname, addr, prefix_len, group_name, version, peer_url,
                             first_seen, last_seen, heartbeats, license_activated_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, 1, ?8)",
                        params![id, e.hostname, e.addr, e.prefix_len, e.group, e.version, e.peer_url, t],
                    )?;
                    id
                }
            };
            Ok::<_, StoreError>(tx.query_row(
                &format!("SELECT {DEVICE_COLS} FROM devices WHERE id = ?1"),
                [&id],
                device_row,
            )?)
        })
    }

    pub fn device(&self, id: &str) -> Result<Option<DeviceRow>, StoreError> {
        Ok(self.conn.query_opt(
            &format!("SELECT {DEVICE_COLS} FROM devices WHERE id = ?1"),
            [id],
            device_row,
        )?)
    }

    pub fn devices(&self) -> Result<Vec<DeviceRow>, StoreError> {
        Ok(self.conn.query_map(
            &format!("SELECT {DEVICE_COLS} FROM devices ORDER BY hostname, id"),
            (),
            device_row,
        )?)
    }

    pub fn office_devices(&self, office_id: i64) -> Result<Vec<DeviceRow>, StoreError> {
        Ok(self.conn.query_map(
            &format!("SELECT {DEVICE_COLS} FROM devices WHERE office_id = ?1 ORDER BY id"),
            [office_id],
            device_row,
        )?)
    }

    /// Records a heartbeat; false when the device is unknown.
    pub fn heartbeat(&self, id: &str) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE devices SET last_seen = ?2, heartbeats = heartbeats + 1 WHERE id = ?1",
            params![id, now()],
        )?;
        Ok(n == 1)
    }

    /// Records the clock offset a device measured (server time minus its
    /// own, in seconds).
    pub fn set_clock_offset(&self, id: &str, offset: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE devices SET clock_offset = ?2 WHERE id = ?1",
            params![id, offset],
        )?;
        Ok(())
    }

    /// Devices whose clock is more than `limit` seconds off the server's:
    /// (device id, hostname, offset).
    pub fn clock_offsets_over(&self, limit: i64) -> Result<Vec<(String, String, i64)>, StoreError> {
        Ok(self.conn.query_map(
            "SELECT id, hostname, clock_offset FROM devices
             WHERE clock_offset IS NOT NULL AND ABS(clock_offset) > ?1 ORDER BY id",
            [limit],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?)
    }

    pub fn add_failure(&self, id: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE devices SET failures = failures + 1 WHERE id = ?1",
            [id],
        )?;
        Ok(())
    }

    /// Replaces what a device reported it is stuck on, as (content id,
    /// reason) pairs. A content that stays stuck keeps its `since`.
    pub fn set_stuck(
        &mut self,
        device_id: &str,
        stuck: &[(String, String)],
    ) -> Result<(), StoreError> {
        let t = now();
        self.transaction(|tx| write_stuck(tx, device_id, stuck, t))
    }

    /// Everything one heartbeat writes: last seen, the clock offset, what
    /// the device is stuck on ((content, reason) pairs), its progress
    /// ((content, progress, claimed delivery time in ms) per content).
    /// Starts no transaction of its own: serve's heartbeat writer calls it
    /// for many devices inside one [`Store::batch`] (group commit, issue
    /// 14). False when the device is unknown (nothing is written then).
    pub fn record_heartbeat(
        &self,
        id: &str,
        clock_offset: Option<i64>,
        stuck: &[(String, String)],
        progress: &[(&str, super::distribution::ProgressUpdate, Option<i64>)],
    ) -> Result<bool, StoreError> {
        let t = now();
        let n = self
            .conn
            .prepare_cached(
                "UPDATE devices SET last_seen = ?2, heartbeats = heartbeats + 1,
                     clock_offset = COALESCE(?3, clock_offset)
                 WHERE id = ?1",
            )?
            .execute(params![id, t, clock_offset])?;
        if n == 0 {
            return Ok(false);
        }
        write_stuck(&self.conn, id, stuck, t)?;
        for (content_id, p, done_at_ms) in progress {
            if self.content_exists(content_id)? {
                self.record_progress(content_id, id, p)?;
                if p.done {
                    self.record_done_ms(content_id, id, *done_at_ms)?;
                }
            }
        }
        Ok(true)
    }

    /// Every stuck (device, content), oldest first.
    pub fn stuck(&self) -> Result<Vec<StuckRow>, StoreError> {
        Ok(self.conn.query_map(
            "SELECT device_id, content_id, reason, since FROM stuck ORDER BY since, device_id",
            (),
            |r| {
                Ok(StuckRow {
                    device_id: r.get(0)?,
                    content_id: r.get(1)?,
                    reason: r.get(2)?,
                    since: r.get(3)?,
                })
            },
        )?)
    }

    /// Counts a request refused for key mismatch. Returns false (and
    /// records nothing) when the id names no enrolled device: the id is
    /// the unverified request's claim.
    pub fn record_key_refusal(
        &self,
        device_id: &str,
        fingerprint: &str,
    ) -> Result<bool, StoreError> {
        let t = now();
        let n = self.conn.execute(
            "INSERT INTO key_refusals (device_id, fingerprint, first_at, last_at, count)
             SELECT id, CAST(?2 AS TEXT), CAST(?3 AS BIGINT), CAST(?3 AS BIGINT), 1
             FROM devices WHERE id = ?1
             ON CONFLICT(device_id, fingerprint) DO UPDATE SET
                 last_at = excluded.last_at, count = key_refusals.count + 1",
            params![device_id, fingerprint, t],
        )?;
        Ok(n == 1)
    }

    /// Devices whose latest contact was refused for a stale key: refused
    /// after their last accepted request. One row per device (its latest
    /// refused fingerprint).
    pub fn stale_key_devices(&self) -> Result<Vec<KeyRefusal>, StoreError> {
        let rows = self.conn.query_map(
            "SELECT k.device_id, k.fingerprint, k.first_at, k.last_at, k.count
             FROM key_refusals k JOIN devices d ON d.id = k.device_id
             WHERE k.last_at > d.last_seen
             ORDER BY k.device_id, k.last_at DESC",
            (),
            |r| {
                Ok(KeyRefusal {
                    device_id: r.get(0)?,
                    fingerprint: r.get(1)?,
                    first_at: r.get(2)?,
                    last_at: r.get(3)?,
                    count: r.get(4)?,
                })
            },
        )?;
        let mut out: Vec<KeyRefusal> = Vec::new();
        for r in rows {
            if out.last().is_none_or(|l| l.device_id != r.device_id) {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Sets the admin's preference; false when no such device.
    pub fn set_preference(&self, device_id: &str, p: Preference) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE devices SET preference = ?2 WHERE id = ?1",
            params![device_id, p.as_str()],
        )?;
        Ok(n == 1)
    }

    /// Retires a device: its row, license, progress, leaderships and
    /// reports go; its transfer history stays in the byte report. False
    /// when no such device.
    /// The id stays refused ([`Store::retired`]) until
    /// [`Store::readmit_device`].
    pub fn retire_device(&mut self, device_id: &str) -> Result<bool, StoreError> {
        let t = now();
        self.transaction(|tx| {
            tx.execute("DELETE FROM leaders WHERE device_id = ?1", [device_id])?;
            tx.execute(
                "INSERT INTO retired_devices (id, hostname, retired_at, secret_sha256)
                 SELECT id, hostname, ?2, secret_sha256 FROM devices WHERE id = ?1
                 ON CONFLICT (id) DO UPDATE SET retired_at = excluded.retired_at,
                     secret_sha256 = excluded.secret_sha256, readmitted_at = NULL",
                params![device_id, t],
            )?;
            let n = tx.execute("DELETE FROM devices WHERE id = ?1", [device_id])?;
            Ok::<_, StoreError>(n == 1)
        })
    }

    /// When `device_id` was retired (and is refused since), if it was.
    pub fn retired(&self, device_id: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.conn.query_opt(
            "SELECT retired_at FROM retired_devices WHERE id = ?1 AND readmitted_at IS NULL",
            [device_id],
            |r| r.get(0),
        )?)
    }

    /// Lets a retired device id enroll again (with the secret it had).
    /// False when it was not retired.
    pub fn readmit_device(&mut self, device_id: &str) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            "UPDATE retired_devices SET readmitted_at = ?2 WHERE id = ?1 AND readmitted_at IS NULL",
            params![device_id, now()],
        )? == 1)
    }

    /// Retired (not readmitted) device ids with their hostname and time,
    /// newest first.
    pub fn retired_devices(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        Ok(self.conn.query_map(
            "SELECT id, hostname, retired_at FROM retired_devices WHERE readmitted_at IS NULL
             ORDER BY retired_at DESC, id",
            (),
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?)
    }

    /// The SHA-256 (hex) of the secret `device_id` was given at enrollment:
    /// an enrolled device's, or a readmitted one's. `None` for a device
    /// enrolled before secrets, or an unknown id.
    pub fn device_secret(&self, device_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_opt(
                "SELECT secret_sha256 FROM devices WHERE id = ?1
                 UNION ALL
                 SELECT secret_sha256 FROM retired_devices
                     WHERE id = ?1 AND readmitted_at IS NOT NULL
                 LIMIT 1",
                [device_id],
                |r| r.get::<_, Option<String>>(0),
            )?
            .flatten())
    }

    /// Records the SHA-256 (hex) of the secret just given to `device_id`,
    /// and forgets a readmitted retirement of it (it is enrolled again).
    pub fn set_device_secret(&mut self, device_id: &str, sha256: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE devices SET secret_sha256 = ?2 WHERE id = ?1",
            params![device_id, sha256],
        )?;
        Ok(())
    }

    /// A readmitted device enrolled again: its enrolled row holds its
    /// secret now.
    pub fn forget_readmitted(&mut self, device_id: &str) -> Result<(), StoreError> {
        // Both statements match nothing for every device but a readmitted
        // one: an ordinary enrollment writes no row here.
        self.conn.execute(
            "UPDATE devices SET secret_sha256 =
                 (SELECT secret_sha256 FROM retired_devices WHERE id = ?1)
             WHERE id = ?1 AND secret_sha256 IS NULL AND EXISTS (
                 SELECT 1 FROM retired_devices WHERE id = ?1 AND readmitted_at IS NOT NULL)",
            [device_id],
        )?;
        self.conn.execute(
            "DELETE FROM retired_devices WHERE id = ?1 AND readmitted_at IS NOT NULL",
            [device_id],
        )?;
        Ok(())
    }

    /// Records what a sender claims it uploaded. Credits nothing by
    /// itself: see [`Store::credit_uploads`].
    pub fn claim_uploads(
        &mut self,
        id: &str,
        content_id: &str,
        pieces: u32,
        bytes: u64,
    ) -> Result<(), StoreError> {
        self.credit_uploads(id, content_id, pieces, bytes, true)
    }

    /// Records what a receiver verified from `sender`.
    pub fn receive_uploads(
        &mut self,
        sender: &str,
        content_id: &str,
        pieces: u32,
        bytes: u64,
    ) -> Result<(), StoreError> {
        self.credit_uploads(sender, content_id, pieces, bytes, false)
    }

    /// Adds a claim (the sender's word) or a receipt (a receiver's), then
    /// moves the sender's credited totals (`uploads_ok`, `upload_bytes`,
    /// which leadership ranks by) up to the smaller of claimed and
    /// received: a device reporting four billion uploads that no receiver
    /// confirms gains nothing. Every sum saturates at `i64::MAX` (SQLite
    /// would turn an overflowing integer into a REAL).
    fn credit_uploads(
        &mut self,
        sender: &str,
        content_id: &str,
        pieces: u32,
        bytes: u64,
        claim: bool,
    ) -> Result<(), StoreError> {
        let bytes = bytes.min(i64::MAX as u64) as i64;
        let pieces = pieces as i64;
        let (p_col, b_col) = if claim {
            ("claimed_pieces", "claimed_bytes")
        } else {
            ("received_pieces", "received_bytes")
        };
        self.transaction(|tx| {
            let known: bool = tx
                .query_opt("SELECT 1 FROM devices WHERE id = ?1", [sender], |_| Ok(()))?
                .is_some();
            if !known {
                return Ok::<_, StoreError>(());
            }
            let credited = |tx: &Db| -> Result<(i64, i64), DbError> {
                tx.query_opt(
                    tx.pick(
                        "SELECT MIN(claimed_pieces, received_pieces), MIN(claimed_bytes, received_bytes)
                         FROM upload_credit WHERE device_id = ?1 AND content_id = ?2",
                        "SELECT LEAST(claimed_pieces, received_pieces), LEAST(claimed_bytes, received_bytes)
                         FROM upload_credit WHERE device_id = ?1 AND content_id = ?2",
                    ),
                    params![sender, content_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map(|o| o.unwrap_or((0, 0)))
            };
            let before = credited(tx)?;
            tx.execute(
                "INSERT INTO upload_credit (device_id, content_id) VALUES (?1, ?2)
                 ON CONFLICT DO NOTHING",
                params![sender, content_id],
            )?;
            // Scalar MIN is LEAST on PostgreSQL.
            let min = tx.pick("MIN", "LEAST");
            tx.execute(
                &format!(
                    "UPDATE upload_credit SET
                       {p_col} = {min}({p_col}, 9223372036854775807 - ?3) + ?3,
                       {b_col} = {min}({b_col}, 9223372036854775807 - ?4) + ?4
                     WHERE device_id = ?1 AND content_id = ?2"
                ),
                params![sender, content_id, pieces, bytes],
            )?;
            let after = credited(tx)?;
            let dp = (after.0 - before.0).max(0);
            let db = (after.1 - before.1).max(0);
            if dp > 0 || db > 0 {
                tx.execute(
                    &format!(
                        "UPDATE devices SET
                           uploads_ok = {min}(uploads_ok, 9223372036854775807 - ?2) + ?2,
                           upload_bytes = {min}(upload_bytes, 9223372036854775807 - ?3) + ?3
                         WHERE id = ?1"
                    ),
                    params![sender, dp, db],
                )?;
            }
            Ok(())
        })
    }
}

/// Replaces a device's stuck rows; the caller holds the transaction.
fn write_stuck(
    tx: &Db,
    device_id: &str,
    stuck: &[(String, String)],
    t: i64,
) -> Result<(), StoreError> {
    let keep: Vec<&str> = stuck.iter().map(|(c, _)| c.as_str()).collect();
    let existing: Vec<String> = tx.query_map(
        "SELECT content_id FROM stuck WHERE device_id = ?1",
        [device_id],
        |r| r.get(0),
    )?;
    for c in existing.iter().filter(|c| !keep.contains(&c.as_str())) {
        tx.execute(
            "DELETE FROM stuck WHERE device_id = ?1 AND content_id = ?2",
            params![device_id, c],
        )?;
    }
    for (content_id, reason) in stuck {
        let known: bool = tx
            .query_opt("SELECT 1 FROM contents WHERE id = ?1", [content_id], |_| {
                Ok(())
            })?
            .is_some();
        if !known {
            continue;
        }
        tx.execute(
            "INSERT INTO stuck (device_id, content_id, reason, since) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(device_id, content_id) DO UPDATE SET
                 since = CASE WHEN stuck.reason = excluded.reason THEN stuck.since
                              ELSE excluded.since END,
                 reason = excluded.reason",
            params![device_id, content_id, reason, t],
        )?;
    }
    Ok(())
}

/// Counted licence holders (see [`Store::counted_licenses`]).
fn count_licenses(db: &Db) -> Result<i64, DbError> {
    db.query_one(
        &format!(
            "SELECT COUNT(*) FROM devices d WHERE d.license_activated_at IS NOT NULL
               AND d.group_name IN (SELECT name FROM groups) AND {}",
            counted_sql("d", 1)
        ),
        [counted_since()],
    )
}

/// Refuses a new device when `license_cap` (not 0) licences are held.
fn check_license_cap(db: &Db) -> Result<(), StoreError> {
    let cap: i64 = db
        .query_opt(
            "SELECT value FROM settings WHERE name = ?1",
            [super::LICENSE_CAP_SETTING],
            |r| r.get::<_, String>(0),
        )?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if cap <= 0 {
        return Ok(());
    }
    let held = count_licenses(db)?;
    if held >= cap {
        return Err(StoreError::LicenseCap { cap, held });
    }
    Ok(())
}

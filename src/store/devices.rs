//! SQL for devices: enrollment, heartbeats, history used to rank leaders.

use rusqlite::{OptionalExtension, params};

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
}

const DEVICE_COLS: &str = "id, hostname, addr, prefix_len, group_name, version, peer_url, office_id, \
     first_seen, last_seen, heartbeats, uploads_ok, upload_bytes, failures, license_activated_at";

fn device_row(r: &rusqlite::Row) -> rusqlite::Result<DeviceRow> {
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

impl Store {
    pub fn group_assigned(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT 1 FROM groups WHERE name = ?1", [name], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Inserts or refreshes a device and activates its license if it holds
    /// none. Returns the device row.
    pub fn enroll_device(&mut self, e: &Enrollment) -> Result<DeviceRow, StoreError> {
        let t = now();
        self.transaction(|tx| {
            let existing: Option<String> = match e.device_id {
                Some(id) => tx
                    .query_row("SELECT id FROM devices WHERE id = ?1", [id], |r| r.get(0))
                    .optional()?,
                None => None,
            };
            let id = match existing {
                Some(id) => {
                    tx.execute(
                        "UPDATE devices SET hostname = ?2, addr = ?3, prefix_len = ?4, group_name = ?5,
                             version = ?6, peer_url = ?7, last_seen = ?8, heartbeats = heartbeats + 1,
                             license_activated_at = COALESCE(license_activated_at, ?8)
                         WHERE id = ?1",
                        params![id, e.hostname, e.addr, e.prefix_len, e.group, e.version, e.peer_url, t],
                    )?;
                    id
                }
                None => {
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
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {DEVICE_COLS} FROM devices WHERE id = ?1"),
                [id],
                device_row,
            )
            .optional()?)
    }

    pub fn devices(&self) -> Result<Vec<DeviceRow>, StoreError> {
        let mut st = self.conn.prepare(&format!(
            "SELECT {DEVICE_COLS} FROM devices ORDER BY hostname, id"
        ))?;
        let rows = st.query_map([], device_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn office_devices(&self, office_id: i64) -> Result<Vec<DeviceRow>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {DEVICE_COLS} FROM devices WHERE office_id = ?1 ORDER BY id"
        ))?;
        let rows = st.query_map([office_id], device_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
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
        let mut st = self.conn.prepare_cached(
            "SELECT id, hostname, clock_offset FROM devices
             WHERE clock_offset IS NOT NULL AND ABS(clock_offset) > ?1 ORDER BY id",
        )?;
        let rows = st.query_map([limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn add_failure(&self, id: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE devices SET failures = failures + 1 WHERE id = ?1",
            [id],
        )?;
        Ok(())
    }

    pub fn add_uploads(&self, id: &str, pieces: u32, bytes: u64) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE devices SET uploads_ok = uploads_ok + ?2, upload_bytes = upload_bytes + ?3 WHERE id = ?1",
            params![id, pieces, bytes as i64],
        )?;
        Ok(())
    }
}

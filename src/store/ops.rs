//! SQL for the operations commands: the Activated Licenses report, the
//! device list and the facts `health` checks.

use std::collections::HashMap;

use super::{Store, StoreError};

/// A device as the admin's lists name it (`licenses`, `devices list`):
/// the columns they share, in the order they show them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ListedDevice {
    pub device_id: String,
    pub hostname: String,
    pub address: String,
    /// `None`: a no-office client.
    pub office: Option<String>,
    pub group: String,
    /// Client version the device last enrolled with.
    pub version: String,
}

/// One device holding a license, as `p2pd licenses` reports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LicenseRow {
    #[serde(flatten)]
    pub device: ListedDevice,
    /// Unix seconds.
    pub activated_at: i64,
    /// Unix seconds of the last enrollment or heartbeat.
    pub last_seen: i64,
}

impl Store {
    /// Every device with the client installed and holding a license: it
    /// enrolled, and its group is still assigned. A device whose group was
    /// unassigned had its license released by `groups unassign`; the group
    /// filter also covers a database edited by hand.
    ///
    /// A device that enrolled and never sent a heartbeat is left out once
    /// [`super::devices::UNCONFIRMED_SECS`] have passed (design note `key-holders`).
    pub fn licenses(&self) -> Result<Vec<LicenseRow>, StoreError> {
        let mut st = self.conn.prepare(&format!(
            "SELECT d.id, d.hostname, d.addr, o.name, d.group_name, d.version,
                    d.license_activated_at, d.last_seen
             FROM devices d
             LEFT JOIN offices o ON o.id = d.office_id
             WHERE d.license_activated_at IS NOT NULL
               AND d.group_name IN (SELECT name FROM groups)
               AND {}
             ORDER BY d.hostname, d.id",
            super::devices::counted_sql("d", 1)
        ))?;
        let rows = st.query_map([super::devices::counted_since()], |r| {
            Ok(LicenseRow {
                device: ListedDevice {
                    device_id: r.get(0)?,
                    hostname: r.get(1)?,
                    address: r.get(2)?,
                    office: r.get(3)?,
                    group: r.get(4)?,
                    version: r.get(5)?,
                },
                activated_at: r.get(6)?,
                last_seen: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Office names by id, for lists that show a device's office.
    pub fn office_names(&self) -> Result<HashMap<i64, String>, StoreError> {
        let mut st = self.conn.prepare("SELECT id, name FROM offices")?;
        let rows = st.query_map((), |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

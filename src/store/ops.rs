//! SQL for the operations commands: the Activated Licenses report, the
//! device list and the facts `health` checks.

use std::collections::HashMap;

use super::{Store, StoreError};

/// One device holding a license, as `p2pd licenses` reports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LicenseRow {
    pub device_id: String,
    pub hostname: String,
    pub address: String,
    /// `None`: a no-office client.
    pub office: Option<String>,
    pub group: String,
    /// Client version the device last enrolled with.
    pub version: String,
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
    pub fn licenses(&self) -> Result<Vec<LicenseRow>, StoreError> {
        let mut st = self.conn.prepare(
            "SELECT d.id, d.hostname, d.addr, o.name, d.group_name, d.version,
                    d.license_activated_at, d.last_seen
             FROM devices d
             LEFT JOIN offices o ON o.id = d.office_id
             WHERE d.license_activated_at IS NOT NULL
               AND d.group_name IN (SELECT name FROM groups)
             ORDER BY d.hostname, d.id",
        )?;
        let rows = st.query_map((), |r| {
            Ok(LicenseRow {
                device_id: r.get(0)?,
                hostname: r.get(1)?,
                address: r.get(2)?,
                office: r.get(3)?,
                group: r.get(4)?,
                version: r.get(5)?,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::devices::Enrollment;

    fn enroll(st: &mut Store, host: &str, group: &str) -> String {
        st.enroll_device(&Enrollment {
            device_id: None,
            hostname: host,
            addr: "10.0.0.1",
            prefix_len: 24,
            group,
            version: "0.1.0",
            peer_url: "http://10.0.0.1:7651",
        })
        .unwrap()
        .id
    }

    #[test]
    fn licenses_follow_assigned_groups() {
        let dir = tempfile::tempdir().unwrap();
        let mut st = Store::create(dir.path()).unwrap();
        st.assign_groups(&["a".into(), "b".into()]).unwrap();
        enroll(&mut st, "h1", "a");
        enroll(&mut st, "h2", "b");
        let hosts = |st: &Store| -> Vec<String> {
            st.licenses()
                .unwrap()
                .into_iter()
                .map(|l| l.hostname)
                .collect()
        };
        assert_eq!(hosts(&st), ["h1", "h2"]);
        st.unassign_groups(&["b".into()]).unwrap().unwrap();
        assert_eq!(hosts(&st), ["h1"]);
    }
}

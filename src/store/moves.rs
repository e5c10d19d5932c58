//! SQL for devices that move (design note `devices-move`): a device's
//! address, peer URL and office as its heartbeats show them now, the moves
//! kept for `explain`, and devices peers cannot reach.

use super::db::params;
use super::{Store, StoreError};

/// How many moves are kept per device (the oldest go first).
pub const MOVES_KEPT: i64 = 20;

/// One move of a device to another office.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MoveRow {
    pub device_id: String,
    pub at: i64,
    pub from_office: Option<i64>,
    pub to_office: Option<i64>,
    pub from_addr: String,
    pub to_addr: String,
    /// Verified pieces the device held when it moved (all contents).
    pub pieces_held: i64,
}

impl Store {
    /// Where a device is now: its address, prefix length, peer URL and office.
    pub fn relocate_device(
        &self,
        device_id: &str,
        addr: &str,
        prefix_len: u8,
        peer_url: Option<&str>,
        office_id: Option<i64>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE devices SET addr = ?2, prefix_len = ?3, peer_url = ?4, office_id = ?5
             WHERE id = ?1",
            params![device_id, addr, prefix_len, peer_url, office_id],
        )?;
        Ok(())
    }

    /// Records a move and keeps the last [`MOVES_KEPT`] of the device.
    pub fn record_move(&self, m: &MoveRow) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO device_moves (device_id, at, from_office, to_office, from_addr, to_addr, pieces_held)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![m.device_id, m.at, m.from_office, m.to_office, m.from_addr, m.to_addr, m.pieces_held],
        )?;
        self.conn.execute(
            "DELETE FROM device_moves WHERE device_id = ?1 AND at < (
                 SELECT MIN(at) FROM (SELECT at FROM device_moves WHERE device_id = ?1
                                      ORDER BY at DESC LIMIT ?2) AS kept)",
            params![m.device_id, MOVES_KEPT],
        )?;
        Ok(())
    }

    /// A device's moves, newest first.
    pub fn moves(&self, device_id: &str) -> Result<Vec<MoveRow>, StoreError> {
        Ok(self.conn.query_map(
            "SELECT device_id, at, from_office, to_office, from_addr, to_addr, pieces_held
             FROM device_moves WHERE device_id = ?1 ORDER BY at DESC",
            [device_id],
            |r| {
                Ok(MoveRow {
                    device_id: r.get(0)?,
                    at: r.get(1)?,
                    from_office: r.get(2)?,
                    to_office: r.get(3)?,
                    from_addr: r.get(4)?,
                    to_addr: r.get(5)?,
                    pieces_held: r.get(6)?,
                })
            },
        )?)
    }

    /// Verified pieces a device holds, over every content it reported.
    pub fn pieces_held(&self, device_id: &str) -> Result<i64, StoreError> {
        Ok(self.conn.query_one(
            "SELECT COALESCE(SUM(pieces), 0) FROM progress WHERE device_id = ?1",
            [device_id],
        )?)
    }

    /// Marks a device unreachable (`why`: how the server learnt it), or
    /// reachable again (`None`). A mark stands until cleared; `peers`
    /// (its peers failed to connect) replaces `probe` (the server's own
    /// check failed), not the other way round. Returns whether it changed.
    pub fn set_unreachable(&self, device_id: &str, why: Option<&str>) -> Result<bool, StoreError> {
        let n = match why {
            Some(w) => self.conn.execute(
                "UPDATE devices SET unreachable_at = ?2, unreachable_why = ?3
                 WHERE id = ?1 AND (unreachable_at IS NULL OR (unreachable_why = 'probe' AND ?3 = 'peers'))",
                params![device_id, super::now(), w],
            )?,
            None => self.conn.execute(
                "UPDATE devices SET unreachable_at = NULL, unreachable_why = NULL
                 WHERE id = ?1 AND unreachable_at IS NOT NULL",
                [device_id],
            )?,
        };
        Ok(n > 0)
    }

    /// The server's own check reached the device: a `probe` mark goes (a
    /// `peers` one stands: its peers may not reach it where the server can).
    pub fn clear_probe_mark(&self, device_id: &str) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE devices SET unreachable_at = NULL, unreachable_why = NULL
             WHERE id = ?1 AND unreachable_why = 'probe'",
            [device_id],
        )?;
        Ok(n > 0)
    }
}

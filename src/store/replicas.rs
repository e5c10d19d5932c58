//! SQL for serve replicas sharing one database (design note `replicas`): each replica's
//! heartbeat row, which `health` lists and checks, the sealed shared
//! key that every replica loads so that they all verify the same key, and
//! the server CA, so that they all present the same CA.

use std::time::Duration;

use super::db::params;
use super::{Store, StoreError, now};

/// How often a serve replica refreshes its row in `replicas`.
pub const REPLICA_BEAT: Duration = Duration::from_secs(2);

/// A replica not seen for this long (seconds) is dropped from `replicas`
/// by the next one that starts or stops.
pub const REPLICA_FORGET_SECS: i64 = 24 * 3600;

/// The server CA as stored: the certificate, and the private key as
/// `crate::vault::server_ca` wrote it (PEM, or sealed with db.key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaRow {
    pub cert_pem: String,
    pub key: Vec<u8>,
    /// Whether `key` is sealed with db.key (PostgreSQL) or PEM (SQLite).
    pub sealed: bool,
}

/// One `serve` replica as it last recorded itself.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReplicaRow {
    pub id: String,
    /// Where it listens, as agents reach it.
    pub url: String,
    pub host: String,
    pub version: String,
    pub started_at: i64,
    /// Unix seconds of its last heartbeat.
    pub last_seen: i64,
}

impl Store {
    /// Records (or refreshes) a replica's heartbeat row, and drops the
    /// rows of former serve processes at the same host and URL: only one
    /// process can listen there, so one that did is gone (killed, or
    /// crashed, and restarted), not a dead replica (design note `key-holders`: after a
    /// `kill -9` and a restart, `health` warned about it for a day).
    pub fn replica_heartbeat(
        &self,
        id: &str,
        url: &str,
        host: &str,
        started_at: i64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "DELETE FROM replicas WHERE id <> ?1 AND host = ?2 AND url = ?3 AND started_at <= ?4",
            params![id, host, url, started_at],
        )?;
        self.conn.execute(
            "INSERT INTO replicas (id, url, host, version, started_at, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (id) DO UPDATE SET url = excluded.url, host = excluded.host,
                 version = excluded.version, last_seen = excluded.last_seen",
            params![id, url, host, crate::VERSION, started_at, now()],
        )?;
        Ok(())
    }

    /// Every replica that recorded itself, most recently seen first.
    pub fn replicas(&self) -> Result<Vec<ReplicaRow>, StoreError> {
        Ok(self.conn.query_map(
            "SELECT id, url, host, version, started_at, last_seen FROM replicas
             ORDER BY last_seen DESC, id",
            (),
            |r| {
                Ok(ReplicaRow {
                    id: r.get(0)?,
                    url: r.get(1)?,
                    host: r.get(2)?,
                    version: r.get(3)?,
                    started_at: r.get(4)?,
                    last_seen: r.get(5)?,
                })
            },
        )?)
    }

    /// Removes a replica's row (a clean shutdown), and rows of replicas
    /// not seen for `forget_after` seconds.
    pub fn remove_replica(&self, id: &str, forget_after: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "DELETE FROM replicas WHERE id = ?1 OR last_seen < ?2",
            params![id, now() - forget_after],
        )?;
        Ok(())
    }

    /// The sealed shared key and its version, if one is stored.
    pub fn sealed_key(&self) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
        Ok(self.conn.query_opt(
            "SELECT version, sealed FROM shared_key WHERE id = 1",
            (),
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// Stores the sealed shared key of `version`.
    pub fn set_sealed_key(&self, version: i64, sealed: &[u8]) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO shared_key (id, version, sealed) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, sealed = excluded.sealed",
            params![version, sealed],
        )?;
        Ok(())
    }

    /// The server CA, if the database holds one.
    pub fn server_ca(&self) -> Result<Option<CaRow>, StoreError> {
        Ok(self.conn.query_opt(
            "SELECT cert_pem, key, sealed FROM server_ca WHERE id = 1",
            (),
            |r| {
                Ok(CaRow {
                    cert_pem: r.get(0)?,
                    key: r.get(1)?,
                    sealed: r.get(2)?,
                })
            },
        )?)
    }

    /// Stores the server CA unless the database already holds one (two
    /// replicas moving their files at once: the first wins). Returns
    /// whether this call stored it.
    pub fn add_server_ca(&self, ca: &CaRow) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "INSERT INTO server_ca (id, cert_pem, key, sealed, created_at)
             VALUES (1, ?1, ?2, ?3, ?4) ON CONFLICT (id) DO NOTHING",
            params![ca.cert_pem, ca.key, i64::from(ca.sealed), now()],
        )?;
        Ok(n == 1)
    }

    /// Replaces the server CA (`ca regenerate`).
    pub fn replace_server_ca(&self, ca: &CaRow) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO server_ca (id, cert_pem, key, sealed, created_at)
             VALUES (1, ?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET cert_pem = excluded.cert_pem, key = excluded.key,
                 sealed = excluded.sealed, created_at = excluded.created_at",
            params![ca.cert_pem, ca.key, i64::from(ca.sealed), now()],
        )?;
        Ok(())
    }
}

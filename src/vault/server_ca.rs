//! The server CA at rest in the database (design note `replicas`): the certificate and
//! its private key live in the `server_ca` table, so every `serve`
//! replica on a shared database presents the same CA, and a replica needs
//! only `--database URL` and the data dir's `db.key`.
//!
//! - On PostgreSQL the private key is sealed with `db.key`
//!   ([`crate::vault::dbkey`], [`Secret::CaKey`]), like the shared key: a dump or
//!   backup of the database alone does not give the CA away.
//! - On SQLite it is stored as PEM: the database file sits in the
//!   owner-only data dir next to the key file, and sealing it with a key
//!   kept beside it would protect nothing.
//! - The data dir keeps a public copy of the certificate, `ca.pem`, to
//!   hand to agents (`--ca`); serve, `install` and `ca regenerate` rewrite
//!   it from the database when it is missing or differs (after a `ca
//!   regenerate` on another host). The database is the record.
//! - An install made before the CA moved into the database has `ca.pem`
//!   and `ca.key` in its data dir. The first command that opens the CA
//!   ([`load`]: serve, `install`, `ca`, `health`, `db copy`) stores them
//!   in the database (schema migration 9 made the table), reads them back,
//!   and only then deletes `ca.key`: nothing is lost if it stops half-way.
//!   Two replicas doing this at once store one CA (the first wins).
//!
//! Uses `dbkey`, `key` (its error), `store` and `tls`.

use std::path::{Path, PathBuf};

use crate::store::replicas::CaRow;
use crate::store::{Backend, Store, StoreError};
use crate::trust::tls::{CA_CERT_FILE, CA_KEY_FILE, Ca, TlsError, Trust};
use crate::vault::dbkey::{DbKey, SealError, Secret};

/// The version bound into a sealed CA key (there is one CA at a time).
const CA_KEY_VERSION: i64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Seal(#[from] SealError),
    /// On a shared database the CA key is sealed: this replica's data dir
    /// needs db.key.
    #[error(
        "{0}; the server CA's private key in a shared database is sealed with the database key: \
         copy db.key from the host that ran `p2pd install --database` or `p2pd db copy` into \
         the data dir"
    )]
    NoDbKey(crate::trust::key::KeyError),
    #[error(
        "the server CA's private key in the database is not text ({0}): the row is damaged; \
         restore the database from a backup, or make a new CA with `p2pd ca regenerate` \
         (every agent then needs the new ca.pem or fingerprint)"
    )]
    NotText(std::string::FromUtf8Error),
    #[error("cannot remove {}: {source}; it is in the database now, remove it by hand", .path.display())]
    Remove {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl From<crate::store::DbError> for CaError {
    fn from(e: crate::store::DbError) -> Self {
        CaError::Store(e.into())
    }
}

/// The database key of `dir`, when `backend` seals (PostgreSQL).
fn db_key_for(dir: &Path, backend: Backend) -> Result<Option<DbKey>, CaError> {
    match backend {
        Backend::Postgres => Ok(Some(DbKey::load(dir).map_err(CaError::NoDbKey)?)),
        Backend::Sqlite => Ok(None),
    }
}

/// The row that stores `ca`: its key sealed with `db_key` if one is given
/// (a PostgreSQL destination), else as PEM.
pub fn row_of(ca: &Ca, db_key: Option<&DbKey>) -> Result<CaRow, CaError> {
    let pem = ca.key_pem();
    Ok(match db_key {
        Some(k) => CaRow {
            cert_pem: ca.cert_pem().to_string(),
            key: k
                .seal_secret(Secret::CaKey, CA_KEY_VERSION, pem.as_bytes())
                .map_err(CaError::NoDbKey)?,
            sealed: true,
        },
        None => CaRow {
            cert_pem: ca.cert_pem().to_string(),
            key: pem.into_bytes(),
            sealed: false,
        },
    })
}

/// The CA a stored row holds (the key unsealed with `dir`'s db.key when
/// it is sealed).
fn open_row(dir: &Path, row: &CaRow) -> Result<Ca, CaError> {
    let key = if row.sealed {
        let k = DbKey::load(dir).map_err(CaError::NoDbKey)?;
        k.open_secret(Secret::CaKey, CA_KEY_VERSION, &row.key)?
    } else {
        row.key.clone()
    };
    let key = String::from_utf8(key).map_err(CaError::NotText)?;
    Ok(Ca::from_pem(
        &row.cert_pem,
        &key,
        "the server CA in the database",
    )?)
}

/// Writes the public copy `ca.pem` when it is missing or differs. Best
/// effort: the database is the record, so a read-only data dir only loses
/// the convenience copy (logged).
fn export_cert(dir: &Path, cert_pem: &str) {
    let path = dir.join(CA_CERT_FILE);
    if std::fs::read_to_string(&path).is_ok_and(|have| have == cert_pem) {
        return;
    }
    if let Err(e) = crate::trust::tls::write_pem(&path, cert_pem, false) {
        tracing::warn!("cannot write the CA certificate copy: {e}");
    }
}

/// Moves an older install's `ca.pem` and `ca.key` into the database (see
/// the module docs). `None` when `dir` has no CA files.
fn import_files(dir: &Path, st: &Store) -> Result<Option<CaRow>, CaError> {
    if !Ca::files_exist(dir) {
        return Ok(None);
    }
    let (ca, _) = Ca::read_files(dir)?;
    let db_key = db_key_for(dir, st.backend())?;
    let row = row_of(&ca, db_key.as_ref())?;
    let stored_now = st.add_server_ca(&row)?;
    let stored = st.server_ca()?.ok_or_else(|| TlsError::NoCa {
        dir: dir.to_path_buf(),
    })?;
    // The key file goes only once the database holds this very CA (a
    // replica that lost the race keeps its files: they are another CA's,
    // or the same and then harmless until removed by hand).
    if stored.cert_pem == row.cert_pem && open_row(dir, &stored).is_ok() {
        let key_path = dir.join(CA_KEY_FILE);
        std::fs::remove_file(&key_path).map_err(|source| CaError::Remove {
            path: key_path.clone(),
            source,
        })?;
        if stored_now {
            tracing::info!(
                "moved the server CA ({} and {}) into the database",
                dir.join(CA_CERT_FILE).display(),
                key_path.display()
            );
        }
    } else {
        tracing::warn!(
            "the database already holds another server CA than {}: using the database's",
            dir.join(CA_CERT_FILE).display()
        );
    }
    Ok(Some(stored))
}

/// The stored CA row, moving `dir`'s CA files into the database first if
/// it holds none.
fn stored_row(dir: &Path, st: &Store) -> Result<CaRow, CaError> {
    if let Some(row) = st.server_ca()? {
        return Ok(row);
    }
    import_files(dir, st)?.ok_or_else(|| {
        TlsError::NoCa {
            dir: dir.to_path_buf(),
        }
        .into()
    })
}

/// The server CA with its private key (serve, `ca issue-proxy`), from the
/// database; refreshes `dir`'s public `ca.pem`.
pub fn load(dir: &Path, st: &Store) -> Result<Ca, CaError> {
    let row = stored_row(dir, st)?;
    let ca = open_row(dir, &row)?;
    export_cert(dir, &row.cert_pem);
    Ok(ca)
}

/// The CA certificate alone, from the database (no db.key needed).
pub fn trust(dir: &Path, st: &Store) -> Result<Trust, CaError> {
    let row = stored_row(dir, st)?;
    Ok(Trust::from_pem(
        &row.cert_pem,
        "the server CA in the database",
    )?)
}

/// The server CA, created (and stored) when the database has none and
/// `dir` no CA files to move in: `install` and its re-run. Returns it and
/// whether it was created. Inside the caller's transaction if it has one.
pub fn load_or_create(dir: &Path, st: &Store, server_id: &str) -> Result<(Ca, bool), CaError> {
    match load(dir, st) {
        Ok(ca) => Ok((ca, false)),
        Err(CaError::Tls(TlsError::NoCa { .. })) => {
            let db_key = db_key_for(dir, st.backend())?;
            let ca = Ca::generate(server_id)?;
            let created = st.add_server_ca(&row_of(&ca, db_key.as_ref())?)?;
            // Whatever is stored now (another replica may have won).
            Ok((load(dir, st)?, created))
        }
        Err(e) => Err(e),
    }
}

/// A new server CA in place of the current one (`p2pd ca regenerate`):
/// every replica presents it from its next start; agents need the new
/// `ca.pem` (or fingerprint).
pub fn regenerate(dir: &Path, st: &Store) -> Result<Ca, CaError> {
    let server_id = st
        .server()?
        .map(|s| s.server_id)
        .ok_or_else(|| TlsError::NoCa {
            dir: dir.to_path_buf(),
        })?;
    let db_key = db_key_for(dir, st.backend())?;
    let ca = Ca::generate(&server_id)?;
    st.replace_server_ca(&row_of(&ca, db_key.as_ref())?)?;
    export_cert(dir, ca.cert_pem());
    Ok(ca)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Location;

    /// A fresh store of each backend, with the data dir that goes with it
    /// (holding db.key on PostgreSQL, as after `install --database`).
    fn stores() -> Vec<(Store, tempfile::TempDir)> {
        let sqlite_dir = tempfile::tempdir().unwrap();
        let sqlite = Store::create(sqlite_dir.path()).unwrap();
        let pg_dir = tempfile::tempdir().unwrap();
        DbKey::load_or_create(pg_dir.path()).unwrap();
        let url = crate::store::testing::database_url();
        let pg = Store::open_location(&Location::Postgres(url), true).unwrap();
        vec![(sqlite, sqlite_dir), (pg, pg_dir)]
    }

    #[test]
    fn created_once_sealed_on_postgres_and_the_same_for_every_replica() {
        for (st, dir) in stores() {
            let backend = st.backend();
            let (ca, created) = load_or_create(dir.path(), &st, "srv").unwrap();
            assert!(created, "{backend:?}");
            let (again, created) = load_or_create(dir.path(), &st, "srv").unwrap();
            assert!(!created);
            assert_eq!(again.fingerprint(), ca.fingerprint());
            // The public copy for agents; never the key.
            assert_eq!(
                std::fs::read_to_string(dir.path().join(CA_CERT_FILE)).unwrap(),
                ca.cert_pem()
            );
            assert!(!dir.path().join(CA_KEY_FILE).exists());
            let row = st.server_ca().unwrap().unwrap();
            let in_clear = row.key.windows(11).any(|w| w == b"PRIVATE KEY");
            assert_eq!(row.sealed, backend == Backend::Postgres, "{backend:?}");
            assert_eq!(in_clear, !row.sealed, "{backend:?}");
            if backend == Backend::Postgres {
                // A second replica: an empty data dir but for db.key.
                let other = tempfile::tempdir().unwrap();
                let err = load(other.path(), &st).unwrap_err();
                assert!(matches!(err, CaError::NoDbKey(_)), "{err}");
                assert!(err.to_string().contains("copy db.key"), "{err}");
                // The certificate alone needs no db.key.
                assert_eq!(
                    trust(other.path(), &st).unwrap().fingerprint(),
                    ca.fingerprint()
                );
                std::fs::copy(DbKey::path(dir.path()), DbKey::path(other.path())).unwrap();
                assert_eq!(
                    load(other.path(), &st).unwrap().fingerprint(),
                    ca.fingerprint()
                );
                // Another install's db.key does not open it.
                let stranger = tempfile::tempdir().unwrap();
                DbKey::load_or_create(stranger.path()).unwrap();
                let err = load(stranger.path(), &st).unwrap_err();
                assert!(matches!(err, CaError::Seal(_)), "{err}");
            }
        }
    }

    #[test]
    fn an_older_install_s_ca_files_move_into_the_database() {
        for (st, dir) in stores() {
            let backend = st.backend();
            let files = Ca::create(dir.path(), "old").unwrap();
            let ca = load(dir.path(), &st).unwrap();
            assert_eq!(ca.fingerprint(), files.fingerprint(), "{backend:?}");
            assert!(!dir.path().join(CA_KEY_FILE).exists(), "the key file went");
            assert!(
                dir.path().join(CA_CERT_FILE).exists(),
                "the public copy stays"
            );
            let row = st.server_ca().unwrap().unwrap();
            assert_eq!(row.cert_pem, files.cert_pem());
            assert_eq!(row.sealed, backend == Backend::Postgres);
            // The moved key signs: it is the same CA.
            assert_eq!(
                load(dir.path(), &st).unwrap().key_pem(),
                files.key_pem(),
                "{backend:?}"
            );
            // No CA anywhere: a clear error, nothing created.
            let empty = tempfile::tempdir().unwrap();
            let fresh = Store::create(empty.path()).unwrap();
            let err = load(empty.path(), &fresh).unwrap_err();
            assert!(err.to_string().contains("p2pd install"), "{err}");
            assert_eq!(fresh.server_ca().unwrap(), None);
        }
    }
}

//! What keeps `serve` from starting or serving: [`ServeError`], in the
//! words the admin reads. `src/cli/serve.rs` turns it into the CLI's
//! error (and exit code).

use std::path::PathBuf;

use crate::store::StoreError;
use crate::trust::key::KeyError;
use crate::trust::tls::TlsError;
use crate::vault::dbkey::CurrentKeyError;
use crate::vault::server_ca::CaError;

use super::fleet::FleetError;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("the database has no server row; reinstall")]
    NoServerRow,
    /// A replica on a shared database whose data dir has no (usable)
    /// `db.key`.
    #[error(
        "{error}; every replica on a shared database needs the database key: copy db.key \
         from the host that ran `p2pd install --database` or `p2pd db copy` into {}",
        dir.display()
    )]
    NoDbKey { error: KeyError, dir: PathBuf },
    /// The key file is not the key the database names (a half-done
    /// regenerate or a copied file).
    #[error(
        "key file {} has fingerprint {found}, but the database expects {expected}; run `p2pd key regenerate`",
        file.display()
    )]
    KeyMismatch {
        file: PathBuf,
        found: String,
        expected: String,
    },
    /// The server CA in the database could not be loaded.
    #[error(transparent)]
    Ca(CaError),
    /// serve's own certificate could not be made from the CA.
    #[error(transparent)]
    Certificate(TlsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    CurrentKey(#[from] CurrentKeyError),
    #[error(transparent)]
    Fleet(#[from] FleetError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Http(#[from] reqwest::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

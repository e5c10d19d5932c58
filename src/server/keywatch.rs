//! The key watcher: applies a `key regenerate` to the running server,
//! from the key file ([`watch`]) or, on a shared database, from the
//! database, on every replica; [`adopt_key`] is where the key changes.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::trust::key::SharedKey;
use crate::wire::http::ApiError;
use crate::wire::proto::ErrorCode;

use super::{AppState, ServerState};

/// How often a running server checks its key file.
const KEY_CHECK: Duration = Duration::from_secs(1);

/// Applies a `key regenerate` to the running server: once per
/// [`KEY_CHECK`], one `stat` of the key file; when it changed, the new key
/// is loaded and, once the database names it as the current key (the
/// regenerate's transaction commits just after the file is renamed into
/// place), requests signed with the old one are refused from then on.
/// A key file the database does not know (a copied file) is not used and
/// is logged once; the server keeps its key.
pub async fn watch(s: AppState, stop: CancellationToken) {
    if let Some(db_key) = s.db_key.clone() {
        return watch_shared_key(s, db_key, stop).await;
    }
    let mut seen = crate::trust::key::FileStamp::of(&s.key_file);
    let mut warned = None;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(KEY_CHECK) => {}
        }
        let stamp = crate::trust::key::FileStamp::of(&s.key_file);
        if stamp.is_none() || stamp == seen {
            continue;
        }
        let key = match SharedKey::load(&s.key_file) {
            Ok(k) => k,
            Err(e) => {
                if warned != stamp {
                    tracing::warn!(
                        "the key file changed but cannot be used; keeping the current key: {e}"
                    );
                    warned = stamp;
                }
                continue;
            }
        };
        let fp = key.fingerprint();
        if fp == s.verifier.fingerprint() {
            seen = stamp;
            continue;
        }
        let Ok(Some(row)) = s.db.call(|st| Ok(st.server()?)).await else {
            continue;
        };
        if row.key_fingerprint != fp {
            if warned != stamp {
                tracing::warn!(
                    file = %s.key_file.display(), key = %fp, expected = %row.key_fingerprint,
                    "the key file changed to a key the database does not know; keeping the current key \
                     (use `p2pd key regenerate` to change it)"
                );
                warned = stamp;
            }
            continue;
        }
        adopt_key(&s, key, row.key_version, KeySource::File);
        seen = stamp;
    }
}

/// [`watch`] on a shared database: once per [`KEY_CHECK`], the key
/// version in the server row (one indexed read); when another host ran
/// `key regenerate`, the new sealed key is opened with `db.key` and used
/// from then on, on every replica within about a second.
async fn watch_shared_key(
    s: AppState,
    db_key: Arc<crate::vault::dbkey::DbKey>,
    stop: CancellationToken,
) {
    let mut warned = 0;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(KEY_CHECK) => {}
        }
        let Ok(Some(row)) = s.db.call(|st| Ok(st.server()?)).await else {
            continue;
        };
        let current = s.key_version.load(Ordering::Relaxed);
        if row.key_version == current {
            continue;
        }
        let k = db_key.clone();
        let got =
            s.db.call(move |st| {
                crate::vault::dbkey::current_key(st, &k)
                    .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
            })
            .await;
        match got {
            Ok((key, version)) => adopt_key(&s, key, version, KeySource::Database),
            Err(e) if warned != row.key_version => {
                tracing::warn!(
                    version = row.key_version,
                    "the database names a new key that cannot be opened; keeping the current key: {}",
                    e.message
                );
                warned = row.key_version;
            }
            Err(_) => {}
        }
    }
}

/// Where a new key came from, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeySource {
    File,
    Database,
}

/// Verifies with `key` (the database's key `version`) from now on:
/// requests signed with the old one are refused.
fn adopt_key(s: &ServerState, key: SharedKey, version: i64, from: KeySource) {
    let old = s.verifier.fingerprint();
    let fp = key.fingerprint();
    s.verifier.set_key(key);
    s.key_version.store(version, Ordering::Relaxed);
    match from {
        KeySource::File => tracing::warn!(
            key = %fp, version, retired = %old,
            "new shared key in use; devices still signing with the retired key are refused \
             until they get the new one (`p2pd agent install --key-file FILE`)"
        ),
        KeySource::Database => tracing::warn!(
            key = %fp, version, retired = %old,
            "new shared key from the database in use; devices still signing with the \
             retired key are refused until they get the new one"
        ),
    }
}

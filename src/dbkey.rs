//! The database key: how the shared key is kept at rest in a shared
//! (PostgreSQL) database, so that every `serve` replica verifies the same
//! key and a `key regenerate` reaches them all (issue 15).
//!
//! Each replica holds the same database key file, `db.key` in its data dir
//! (32 random bytes, base64, mode 0600: made by `install --database` or
//! `db copy --to`, copied by the admin to each replica like any secret).
//! The database holds only the shared key *sealed* with it, so a dump or
//! backup of the database alone does not give away the key that admits
//! devices.
//!
//! Sealing is encrypt-then-MAC with HMAC-SHA256 as the PRF (the primitives
//! p2pd already uses for request signatures): a random 16-byte nonce; the
//! 32-byte key XORed with HMAC(db key, "p2pd-seal-stream" ‖ version ‖
//! nonce); a tag HMAC(db key, "p2pd-seal-tag" ‖ version ‖ nonce ‖
//! ciphertext), checked in constant time before anything is decrypted.
//! The key version is bound in, so an old sealed key cannot be replayed
//! as the current one. Rejected: a new AEAD dependency for one 32-byte
//! message.
//!
//! On SQLite nothing is sealed: the key file in the data dir is the key.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use rand::TryRng;

use crate::key::{KEY_LEN, KeyError, SharedKey};

/// File name of the database key inside a data dir.
pub const DB_KEY_FILE: &str = "db.key";

const NONCE_LEN: usize = 16;
const TAG_LEN: usize = 32;

/// Length of a sealed key: nonce, ciphertext, tag.
pub const SEALED_LEN: usize = NONCE_LEN + KEY_LEN + TAG_LEN;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(
        "the shared key in the database does not open with the database key {path} \
         (a db.key from another install, or the database was tampered with); copy db.key \
         from a replica of this database into the data dir"
    )]
    WrongKey { path: PathBuf },
    #[error(
        "the database holds no sealed shared key; run `p2pd key regenerate --database URL` \
         on a host that has the data dir with db.key"
    )]
    Missing,
}

/// The key that seals the shared key in a shared database.
pub struct DbKey {
    bytes: [u8; KEY_LEN],
    /// Where it was read from, for messages.
    path: PathBuf,
}

fn bytes_of(k: &SharedKey) -> [u8; KEY_LEN] {
    // The base64 form is the key's only public encoding; decoding our own
    // encoding of 32 bytes cannot fail.
    let raw = B64.decode(k.to_base64()).expect("own base64");
    raw.try_into().expect("32 bytes")
}

impl DbKey {
    /// Path of the database key inside a data dir.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(DB_KEY_FILE)
    }

    /// Loads `db.key` from a data dir.
    pub fn load(data_dir: &Path) -> Result<DbKey, KeyError> {
        let path = Self::path(data_dir);
        let k = SharedKey::load(&path)?;
        Ok(DbKey {
            bytes: bytes_of(&k),
            path,
        })
    }

    /// Loads `db.key`, creating it (owner-only) when the data dir has none.
    /// Returns the key and whether it was created.
    pub fn load_or_create(data_dir: &Path) -> Result<(DbKey, bool), KeyError> {
        match Self::load(data_dir) {
            Ok(k) => Ok((k, false)),
            Err(KeyError::Missing { .. }) => {
                let path = Self::path(data_dir);
                let k = SharedKey::generate()?;
                k.save(&path)?;
                Ok((
                    DbKey {
                        bytes: bytes_of(&k),
                        path,
                    },
                    true,
                ))
            }
            Err(e) => Err(e),
        }
    }

    fn prf(&self, label: &[u8], version: i64, parts: &[&[u8]]) -> Hmac<sha2::Sha256> {
        let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&self.bytes)
            .expect("HMAC accepts any key length");
        mac.update(label);
        mac.update(&version.to_be_bytes());
        for p in parts {
            mac.update(p);
        }
        mac
    }

    /// Seals `key` (of key version `version`) for the database.
    pub fn seal(&self, version: i64, key: &SharedKey) -> Result<Vec<u8>, KeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::SysRng
            .try_fill_bytes(&mut nonce)
            .map_err(|e| KeyError::Random(e.to_string()))?;
        let stream = self
            .prf(b"p2pd-seal-stream", version, &[&nonce])
            .finalize()
            .into_bytes();
        let plain = bytes_of(key);
        let ct: Vec<u8> = plain
            .iter()
            .zip(stream.iter())
            .map(|(a, b)| a ^ b)
            .collect();
        let tag = self
            .prf(b"p2pd-seal-tag", version, &[&nonce, &ct])
            .finalize()
            .into_bytes();
        let mut out = Vec::with_capacity(SEALED_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Opens a sealed key of `version`; refuses one that was sealed with
    /// another database key, for another version, or altered.
    pub fn unseal(&self, version: i64, sealed: &[u8]) -> Result<SharedKey, SealError> {
        let wrong = || SealError::WrongKey {
            path: self.path.clone(),
        };
        if sealed.len() != SEALED_LEN {
            return Err(wrong());
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let (ct, tag) = rest.split_at(KEY_LEN);
        self.prf(b"p2pd-seal-tag", version, &[nonce, ct])
            .verify_slice(tag)
            .map_err(|_| wrong())?;
        let stream = self
            .prf(b"p2pd-seal-stream", version, &[nonce])
            .finalize()
            .into_bytes();
        let mut plain = [0u8; KEY_LEN];
        for (i, b) in plain.iter_mut().enumerate() {
            *b = ct[i] ^ stream[i];
        }
        Ok(SharedKey::from_bytes(plain))
    }
}

/// The current shared key of a shared database: the sealed key, opened
/// with the data dir's `db.key`, checked against the server row's version
/// and fingerprint.
pub fn current_key(
    st: &crate::store::Store,
    db_key: &DbKey,
) -> Result<(SharedKey, i64), CurrentKeyError> {
    let server = st.server()?.ok_or(CurrentKeyError::NoServer)?;
    let (version, sealed) = st.sealed_key()?.ok_or(SealError::Missing)?;
    if version != server.key_version {
        return Err(CurrentKeyError::Stale {
            sealed: version,
            current: server.key_version,
        });
    }
    let key = db_key.unseal(version, &sealed)?;
    if key.fingerprint() != server.key_fingerprint {
        return Err(SealError::WrongKey {
            path: db_key.path.clone(),
        }
        .into());
    }
    Ok((key, version))
}

#[derive(Debug, thiserror::Error)]
pub enum CurrentKeyError {
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("the database has no server row; install with `p2pd install --database URL`")]
    NoServer,
    #[error(
        "the sealed shared key is version {sealed} but the database says {current}; \
         run `p2pd key regenerate --database URL` from a host with db.key"
    )]
    Stale { sealed: i64, current: i64 },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let (k, created) = DbKey::load_or_create(dir.path()).unwrap();
        assert!(created);
        assert!(!DbKey::load_or_create(dir.path()).unwrap().1);
        let shared = SharedKey::generate().unwrap();
        let sealed = k.seal(3, &shared).unwrap();
        assert_eq!(sealed.len(), SEALED_LEN);
        assert_ne!(
            &sealed[NONCE_LEN..NONCE_LEN + KEY_LEN],
            &bytes_of(&shared)[..]
        );
        assert_eq!(
            k.unseal(3, &sealed).unwrap().fingerprint(),
            shared.fingerprint()
        );
        assert!(k.unseal(2, &sealed).is_err(), "version is bound in");
        let mut bad = sealed.clone();
        bad[NONCE_LEN] ^= 1;
        assert!(k.unseal(3, &bad).is_err(), "tampering is caught");
        let other = tempfile::tempdir().unwrap();
        let (k2, _) = DbKey::load_or_create(other.path()).unwrap();
        assert!(k2.unseal(3, &sealed).is_err(), "another db.key");
    }
}

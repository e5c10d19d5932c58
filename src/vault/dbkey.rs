//! The database key: how secrets are kept at rest in a shared
//! (PostgreSQL) database, so that every `serve` replica verifies the same
//! shared key (and a `key regenerate` reaches them all) and presents the
//! same CA (design note `replicas`).
//!
//! Each replica holds the same database key file, `db.key` in its data dir
//! (32 random bytes, base64, mode 0600: made by `install --database` or
//! `db copy --to`, copied by the admin to each replica like any secret).
//! The database holds only the shared key *sealed* with it, so a dump or
//! backup of the database alone does not give away the key that admits
//! devices.
//!
//! Secrets sealed with it: the shared key (`shared_key` table) and the
//! server CA's private key (`server_ca` table, see `crate::vault::server_ca`).
//!
//! # The sealed format
//!
//! Version 2 (written now) is ChaCha20-Poly1305 from `ring::aead`, keyed
//! with the 32 bytes of `db.key`:
//!
//! ```text
//! 0x02 ‖ nonce (12 random bytes) ‖ ciphertext ‖ Poly1305 tag (16 bytes)
//! associated data: "p2pd-sealed" ‖ 0 ‖ what ("shared-key" | "ca-key") ‖ 0 ‖ version (i64 BE)
//! ```
//!
//! The associated data binds what the value is and its version (the key
//! version for the shared key; 1 for the CA key), so an old sealed key
//! cannot be replayed as the current one, nor a sealed CA key passed off
//! as a shared key. Random 96-bit nonces are safe here: a database sees a
//! handful of seals (one per `key regenerate`), far below the 2^32 at
//! which they would be a concern.
//!
//! Version 1, written by the first PostgreSQL release, was a hand-built
//! encrypt-then-MAC with HMAC-SHA256 (nonce(16) ‖ key XOR
//! HMAC(db key, "p2pd-seal-stream" ‖ version ‖ nonce) ‖
//! HMAC(db key, "p2pd-seal-tag" ‖ version ‖ nonce ‖ ciphertext)), always
//! 80 bytes long and only ever used for the shared key. It is still
//! opened (so an existing database keeps working) and replaced by a
//! version 2 value at the next `key regenerate`. A version 2 shared key
//! is 61 bytes, so the length alone tells the two apart.
//!
//! On SQLite nothing is sealed: the key file in the data dir is the key,
//! and the CA's private key sits in the database file next to it, in the
//! same owner-only data dir.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use rand::TryRng;

use crate::trust::key::{KEY_LEN, KeyError, SharedKey};

/// File name of the database key inside a data dir.
pub const DB_KEY_FILE: &str = "db.key";

/// The first byte of a version 2 sealed value.
const FORMAT_V2: u8 = 2;
const NONCE_LEN: usize = ring::aead::NONCE_LEN;

/// Version 1 (HMAC-SHA256 encrypt-then-MAC) lengths: nonce, key, tag.
const V1_NONCE_LEN: usize = 16;
const V1_TAG_LEN: usize = 32;
const V1_LEN: usize = V1_NONCE_LEN + KEY_LEN + V1_TAG_LEN;

/// What a sealed value holds; bound into its associated data, so one
/// cannot be opened as the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    /// The shared key (its version: the key version).
    SharedKey,
    /// The server CA's private key, PEM (its version: 1).
    CaKey,
}

impl Secret {
    fn label(self) -> &'static str {
        match self {
            Secret::SharedKey => "shared-key",
            Secret::CaKey => "ca-key",
        }
    }

    /// For messages.
    fn name(self) -> &'static str {
        match self {
            Secret::SharedKey => "shared key",
            Secret::CaKey => "server CA's private key",
        }
    }
}

fn aad(what: Secret, version: i64) -> Vec<u8> {
    let mut a = b"p2pd-sealed\0".to_vec();
    a.extend_from_slice(what.label().as_bytes());
    a.push(0);
    a.extend_from_slice(&version.to_be_bytes());
    a
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(
        "the {what} in the database does not open with the database key {path} \
         (a db.key from another install, or the database was tampered with); copy db.key \
         from a replica of this database into the data dir"
    )]
    WrongKey { what: &'static str, path: PathBuf },
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

    fn aead(&self) -> ring::aead::LessSafeKey {
        // A 32-byte key is what CHACHA20_POLY1305 takes; db.key always is.
        let unbound = ring::aead::UnboundKey::new(&ring::aead::CHACHA20_POLY1305, &self.bytes)
            .expect("a 32-byte ChaCha20-Poly1305 key");
        ring::aead::LessSafeKey::new(unbound)
    }

    fn wrong(&self, what: Secret) -> SealError {
        SealError::WrongKey {
            what: what.name(),
            path: self.path.clone(),
        }
    }

    /// Seals `plain` (a `what` of `version`) for the database: the
    /// version 2 format of the module docs.
    pub fn seal_secret(
        &self,
        what: Secret,
        version: i64,
        plain: &[u8],
    ) -> Result<Vec<u8>, KeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::SysRng
            .try_fill_bytes(&mut nonce)
            .map_err(|e| KeyError::Random(e.to_string()))?;
        let mut in_out = plain.to_vec();
        self.aead()
            .seal_in_place_append_tag(
                ring::aead::Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::from(aad(what, version)),
                &mut in_out,
            )
            .map_err(|_| KeyError::Random("sealing failed".into()))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + in_out.len());
        out.push(FORMAT_V2);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&in_out);
        Ok(out)
    }

    /// Opens a version 2 sealed `what` of `version`; refuses one sealed
    /// with another database key, as another secret or version, or altered.
    pub fn open_secret(
        &self,
        what: Secret,
        version: i64,
        sealed: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        let Some((&FORMAT_V2, rest)) = sealed.split_first() else {
            return Err(self.wrong(what));
        };
        if rest.len() < NONCE_LEN + ring::aead::CHACHA20_POLY1305.tag_len() {
            return Err(self.wrong(what));
        }
        let (nonce, ct) = rest.split_at(NONCE_LEN);
        let nonce =
            ring::aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| self.wrong(what))?;
        let mut in_out = ct.to_vec();
        let plain = self
            .aead()
            .open_in_place(
                nonce,
                ring::aead::Aad::from(aad(what, version)),
                &mut in_out,
            )
            .map_err(|_| self.wrong(what))?;
        Ok(plain.to_vec())
    }

    /// Seals `key` (of key version `version`) for the database.
    pub fn seal(&self, version: i64, key: &SharedKey) -> Result<Vec<u8>, KeyError> {
        self.seal_secret(Secret::SharedKey, version, &bytes_of(key))
    }

    /// Opens a sealed shared key of `version`, in either format.
    pub fn unseal(&self, version: i64, sealed: &[u8]) -> Result<SharedKey, SealError> {
        let plain = if sealed.len() == V1_LEN {
            self.open_v1(version, sealed)?
        } else {
            self.open_secret(Secret::SharedKey, version, sealed)?
        };
        let bytes: [u8; KEY_LEN] = plain
            .try_into()
            .map_err(|_| self.wrong(Secret::SharedKey))?;
        Ok(SharedKey::from_bytes(bytes))
    }

    fn v1_prf(&self, label: &[u8], version: i64, parts: &[&[u8]]) -> Hmac<sha2::Sha256> {
        let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&self.bytes)
            .expect("HMAC accepts any key length");
        mac.update(label);
        mac.update(&version.to_be_bytes());
        for p in parts {
            mac.update(p);
        }
        mac
    }

    /// Opens a version 1 sealed shared key (see the module docs): the tag
    /// is checked in constant time before anything is decrypted.
    fn open_v1(&self, version: i64, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let (nonce, rest) = sealed.split_at(V1_NONCE_LEN);
        let (ct, tag) = rest.split_at(KEY_LEN);
        self.v1_prf(b"p2pd-seal-tag", version, &[nonce, ct])
            .verify_slice(tag)
            .map_err(|_| self.wrong(Secret::SharedKey))?;
        let stream = self
            .v1_prf(b"p2pd-seal-stream", version, &[nonce])
            .finalize()
            .into_bytes();
        Ok(ct.iter().zip(stream.iter()).map(|(a, b)| a ^ b).collect())
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
        return Err(db_key.wrong(Secret::SharedKey).into());
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

    /// The version 1 construction, as the first PostgreSQL release wrote it.
    fn seal_v1(k: &DbKey, version: i64, key: &SharedKey) -> Vec<u8> {
        let nonce = [7u8; V1_NONCE_LEN];
        let stream = k
            .v1_prf(b"p2pd-seal-stream", version, &[&nonce])
            .finalize()
            .into_bytes();
        let ct: Vec<u8> = bytes_of(key)
            .iter()
            .zip(stream.iter())
            .map(|(a, b)| a ^ b)
            .collect();
        let tag = k
            .v1_prf(b"p2pd-seal-tag", version, &[&nonce, &ct])
            .finalize()
            .into_bytes();
        [&nonce[..], &ct, &tag].concat()
    }

    #[test]
    fn seal_round_trip_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let (k, created) = DbKey::load_or_create(dir.path()).unwrap();
        assert!(created);
        assert!(!DbKey::load_or_create(dir.path()).unwrap().1);
        let shared = SharedKey::generate().unwrap();
        let sealed = k.seal(3, &shared).unwrap();
        assert_eq!(sealed.len(), 1 + NONCE_LEN + KEY_LEN + 16);
        assert_eq!(sealed[0], FORMAT_V2);
        assert!(
            !sealed.windows(KEY_LEN).any(|w| w == &bytes_of(&shared)[..]),
            "the key is not in the clear"
        );
        assert_eq!(
            k.unseal(3, &sealed).unwrap().fingerprint(),
            shared.fingerprint()
        );
        assert!(k.unseal(2, &sealed).is_err(), "version is bound in");
        let mut bad = sealed.clone();
        bad[1 + NONCE_LEN] ^= 1;
        assert!(k.unseal(3, &bad).is_err(), "tampering is caught");
        let other = tempfile::tempdir().unwrap();
        let (k2, _) = DbKey::load_or_create(other.path()).unwrap();
        assert!(k2.unseal(3, &sealed).is_err(), "another db.key");
    }

    #[test]
    fn a_version_1_sealed_key_still_opens() {
        let dir = tempfile::tempdir().unwrap();
        let (k, _) = DbKey::load_or_create(dir.path()).unwrap();
        let shared = SharedKey::generate().unwrap();
        let v1 = seal_v1(&k, 4, &shared);
        assert_eq!(v1.len(), V1_LEN);
        assert_eq!(
            k.unseal(4, &v1).unwrap().fingerprint(),
            shared.fingerprint()
        );
        assert!(k.unseal(5, &v1).is_err(), "version is bound in");
        let mut bad = v1.clone();
        bad[V1_LEN - 1] ^= 1;
        assert!(k.unseal(4, &bad).is_err(), "tampering is caught");
    }

    #[test]
    fn a_sealed_ca_key_is_not_a_shared_key() {
        let dir = tempfile::tempdir().unwrap();
        let (k, _) = DbKey::load_or_create(dir.path()).unwrap();
        let pem = b"-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n";
        let sealed = k.seal_secret(Secret::CaKey, 1, pem).unwrap();
        assert_eq!(k.open_secret(Secret::CaKey, 1, &sealed).unwrap(), pem);
        assert!(k.open_secret(Secret::SharedKey, 1, &sealed).is_err());
        assert!(k.open_secret(Secret::CaKey, 1, &sealed[..10]).is_err());
        let err = k.open_secret(Secret::CaKey, 2, &sealed).unwrap_err();
        assert!(err.to_string().contains("server CA's private key"), "{err}");
    }
}

//! The shared key: creation, storage, fingerprint, and request signing.
//!
//! Every request between server, admin toolkit and agents (and between two
//! agents) carries four headers:
//!
//! | header           | value                                              |
//! |------------------|----------------------------------------------------|
//! | `x-p2pd-key`     | fingerprint of the signing key                     |
//! | `x-p2pd-time`    | unix seconds                                       |
//! | `x-p2pd-nonce`   | 16 random bytes, hex                               |
//! | `x-p2pd-sig`     | HMAC-SHA256(key, method \n path \n time \n nonce \n hex(sha256(body))), hex |
//!
//! An enrolled device adds two more, and the MAC then also covers them
//! (`… \n hex(sha256(body)) \n device \n counter`):
//!
//! | header           | value                                              |
//! |------------------|----------------------------------------------------|
//! | `x-p2pd-device`  | the device's id                                    |
//! | `x-p2pd-counter` | a per-device counter, strictly increasing (see [`crate::trust::replay`]) |
//!
//! The receiver checks the fingerprint first, so a stale key is told
//! `key_mismatch` (and which fingerprint is current) instead of a vague
//! "bad signature". Then the time window, then the MAC (constant-time, via
//! `hmac`'s `verify_slice`), then replay: a device's counter against the
//! highest it sent ([`crate::trust::replay::Counters`], any request rate), or,
//! for a request with no device (enrollment, the admin CLI), the nonce
//! against a bounded replay cache.

use parking_lot::Mutex;
use std::collections::{HashSet, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use rand::TryRng;
use sha2::{Digest, Sha256};

/// Length of the shared key in bytes (256 bits).
pub const KEY_LEN: usize = 32;
/// Accepted clock difference between signer and verifier, in seconds.
pub const MAX_SKEW_SECS: i64 = 300;
/// File name of the server's key inside its data dir.
pub const KEY_FILE: &str = "shared.key";

pub const H_KEY: &str = "x-p2pd-key";
pub const H_TIME: &str = "x-p2pd-time";
pub const H_NONCE: &str = "x-p2pd-nonce";
/// Length of a nonce on the wire: 16 random bytes in hex.
pub const NONCE_HEX_LEN: usize = 32;
pub const H_SIG: &str = "x-p2pd-sig";
/// The signing device (enrolled devices only).
pub const H_DEVICE: &str = "x-p2pd-device";
/// The device's request counter, decimal.
pub const H_COUNTER: &str = "x-p2pd-counter";
/// Longest device id accepted in [`H_DEVICE`].
const MAX_DEVICE_LEN: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key file {path} is missing; if the key is lost, run `p2pd key regenerate`")]
    Missing { path: PathBuf },
    #[error(
        "key file {path} is corrupt ({why}); it must hold the base64 key printed by `p2pd install`. \
         If the key is lost, run `p2pd key regenerate`"
    )]
    Corrupt { path: PathBuf, why: String },
    #[error("key file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the operating system's random source failed: {0}")]
    Random(String),
}

/// A device's copy of the key did not load (`agent`, `agent install`).
/// Its advice differs from the server's: on a device the fix is to get the
/// current key from the server's admin — never `key regenerate`, which
/// would cut off every other device.
#[derive(Debug)]
pub struct DeviceKeyError(pub KeyError);

impl std::fmt::Display for DeviceKeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let get = "get the current key from the server's admin (`p2pd install` or \
                   `p2pd key regenerate` printed it on the server) and save it there";
        match &self.0 {
            KeyError::Missing { path } => {
                write!(f, "key file {} is missing; {get}", path.display())
            }
            KeyError::Corrupt { path, why } => write!(
                f,
                "key file {} is corrupt ({why}); it must hold the base64 shared key: {get}",
                path.display()
            ),
            other => other.fmt(f),
        }
    }
}

impl std::error::Error for DeviceKeyError {}

/// A 256-bit shared key. Debug never shows the bytes.
#[derive(Clone)]
pub struct SharedKey([u8; KEY_LEN]);

impl std::fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedKey(fingerprint {})", self.fingerprint())
    }
}

impl SharedKey {
    /// 32 bytes from the OS random source.
    pub fn generate() -> Result<SharedKey, KeyError> {
        let mut bytes = [0u8; KEY_LEN];
        rand::rngs::SysRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(SharedKey(bytes))
    }

    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> SharedKey {
        SharedKey(bytes)
    }

    /// Parses the base64 form printed at install.
    pub fn from_base64(text: &str) -> Result<SharedKey, String> {
        let raw = B64
            .decode(text.trim())
            .map_err(|e| format!("not base64: {e}"))?;
        let bytes: [u8; KEY_LEN] = raw
            .try_into()
            .map_err(|v: Vec<u8>| format!("{} bytes, expected {KEY_LEN}", v.len()))?;
        Ok(SharedKey(bytes))
    }

    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }

    /// A short public name for the key: the first 16 hex digits of
    /// SHA-256("p2pd-key-fingerprint" || key). Safe to print and log.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"p2pd-key-fingerprint");
        h.update(self.0);
        hex::encode(&h.finalize()[..8])
    }

    /// Loads a key file (base64 text).
    /// A device's copy of the key, with the device's advice on failure.
    pub fn load_on_device(path: &Path) -> Result<SharedKey, DeviceKeyError> {
        SharedKey::load(path).map_err(DeviceKeyError)
    }

    pub fn load(path: &Path) -> Result<SharedKey, KeyError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(KeyError::Missing {
                    path: path.to_path_buf(),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(KeyError::Corrupt {
                    path: path.to_path_buf(),
                    why: "not text".into(),
                });
            }
            Err(source) => {
                return Err(KeyError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        SharedKey::from_base64(&text).map_err(|why| KeyError::Corrupt {
            path: path.to_path_buf(),
            why,
        })
    }

    /// Writes the key to `path` owner-only (mode 0600; a DACL on Windows), atomically (temp file,
    /// fsync, rename), so a crash never leaves a half-written key.
    pub fn save(&self, path: &Path) -> Result<(), KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let tmp = path.with_extension("key.tmp");
        // 0600 on Unix, an owner-only DACL on Windows, before the key goes in.
        let mut f = crate::platform::create_owner_only(&tmp).map_err(io)?;
        writeln!(f, "{}", self.to_base64()).map_err(io)?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)?;
        Ok(())
    }

    fn mac(
        &self,
        method: &str,
        path: &str,
        time: i64,
        nonce: &str,
        body: &[u8],
        device: Option<(&str, u64)>,
    ) -> Hmac<Sha256> {
        // A 32-byte key is always a valid HMAC key.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC accepts any key length");
        let body_hash = hex::encode(Sha256::digest(body));
        mac.update(format!("{method}\n{path}\n{time}\n{nonce}\n{body_hash}").as_bytes());
        if let Some((device, counter)) = device {
            mac.update(format!("\n{device}\n{counter}").as_bytes());
        }
        mac
    }

    /// Signs a device's request: the four headers plus the device id and
    /// its counter ([`crate::trust::replay`]), all covered by the MAC.
    pub fn sign_device_at(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        time: i64,
        device: &str,
        counter: u64,
    ) -> Vec<(&'static str, String)> {
        self.headers(method, path, body, time, Some((device, counter)))
    }

    /// Signs a request; returns the four headers to send.
    pub fn sign(&self, method: &str, path: &str, body: &[u8]) -> Vec<(&'static str, String)> {
        self.sign_at(method, path, body, crate::domain::clock::now())
    }

    pub fn sign_at(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        time: i64,
    ) -> Vec<(&'static str, String)> {
        self.headers(method, path, body, time, None)
    }

    /// The signature headers: a fresh nonce, and with `device` the device
    /// id and counter the MAC also covers.
    fn headers(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        time: i64,
        device: Option<(&str, u64)>,
    ) -> Vec<(&'static str, String)> {
        let nonce = hex::encode(rand::random::<[u8; 16]>());
        let sig = hex::encode(
            self.mac(method, path, time, &nonce, body, device)
                .finalize()
                .into_bytes(),
        );
        let mut h = vec![
            (H_KEY, self.fingerprint()),
            (H_TIME, time.to_string()),
            (H_NONCE, nonce),
            (H_SIG, sig),
        ];
        if let Some((device, counter)) = device {
            h.push((H_DEVICE, device.to_string()));
            h.push((H_COUNTER, counter.to_string()));
        }
        h
    }
}

/// Why a signed request was refused. Each maps to one wire error code
/// (in `http`, where every error meets its code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("request is not signed: header {0} is missing")]
    Unsigned(&'static str),
    // Read on devices as often as on the server: the advice is to fetch the
    // current key, never to regenerate (which, run anywhere, would cut off
    // every other device too).
    #[error(
        "key mismatch: the request was signed with key {presented}, but the current key is {current}. \
         Get the current key from the server's admin (`p2pd key fingerprint` on the server shows which it is) \
         and install it: `p2pd agent install --key-file FILE ...` on a device, or replace the key file \
         this command uses"
    )]
    KeyMismatch { presented: String, current: String },
    #[error("bad signature: the request was altered or signed with a different key")]
    BadSignature,
    #[error(
        "request timestamp {time} is {skew}s away from this host's clock (limit {MAX_SKEW_SECS}s); fix the clock (NTP)"
    )]
    Expired { time: i64, skew: i64 },
    #[error("replayed request: nonce {0} was already used")]
    Replay(String),
    /// A device's counter refused ([`crate::trust::replay`]).
    #[error("{0}")]
    Counter(#[from] crate::trust::replay::CounterError),
}

/// Verifies signed requests against the current key and remembers nonces.
/// The key can be replaced in place ([`Verifier::set_key`]), so an agent
/// that re-reads its key file needs no restart.
pub struct Verifier {
    /// The key and its fingerprint, swapped together.
    key: parking_lot::RwLock<(SharedKey, String)>,
    replay: Mutex<ReplayCache>,
    counters: Mutex<crate::trust::replay::Counters>,
}

/// Nonces seen within the time window. Bounded: when full, the oldest entry
/// is dropped. Entries older than the window need no memory at all, because
/// their timestamps are refused as `Expired` anyway.
struct ReplayCache {
    order: VecDeque<(i64, String)>,
    seen: HashSet<String>,
    capacity: usize,
}

impl ReplayCache {
    fn check_and_insert(&mut self, now: i64, time: i64, nonce: &str) -> bool {
        while let Some((t, _)) = self.order.front() {
            if *t < now - MAX_SKEW_SECS || self.order.len() >= self.capacity {
                let (_, n) = self.order.pop_front().expect("front exists");
                self.seen.remove(&n);
            } else {
                break;
            }
        }
        if self.seen.contains(nonce) {
            return false;
        }
        self.seen.insert(nonce.to_string());
        self.order
            .push_back((time.max(now - MAX_SKEW_SECS), nonce.to_string()));
        true
    }
}

impl Verifier {
    pub fn new(key: SharedKey) -> Verifier {
        Self::with_capacity(key, 200_000)
    }

    pub fn with_capacity(key: SharedKey, capacity: usize) -> Verifier {
        Verifier {
            key: parking_lot::RwLock::new((key.clone(), key.fingerprint())),
            replay: Mutex::new(ReplayCache {
                order: VecDeque::new(),
                seen: HashSet::new(),
                capacity: capacity.max(1),
            }),
            counters: Mutex::new(crate::trust::replay::Counters::new(MAX_SKEW_SECS)),
        }
    }

    pub fn fingerprint(&self) -> String {
        self.key.read().1.clone()
    }

    pub fn key(&self) -> SharedKey {
        self.key.read().0.clone()
    }

    /// Verifies with `key` from now on.
    pub fn set_key(&self, key: SharedKey) {
        let fp = key.fingerprint();
        *self.key.write() = (key, fp);
    }

    /// Checks one request. `header` looks a header up by name.
    pub fn verify<'a>(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        header: impl Fn(&'static str) -> Option<&'a str>,
    ) -> Result<(), VerifyError> {
        self.verify_at(method, path, body, header, crate::domain::clock::now())
    }

    pub fn verify_at<'a>(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
        header: impl Fn(&'static str) -> Option<&'a str>,
        now: i64,
    ) -> Result<(), VerifyError> {
        let get = |h| header(h).ok_or(VerifyError::Unsigned(h));
        let presented = get(H_KEY)?;
        let (key, fingerprint) = self.key.read().clone();
        if presented != fingerprint {
            return Err(VerifyError::KeyMismatch {
                presented: presented.to_string(),
                current: fingerprint,
            });
        }
        let time: i64 = get(H_TIME)?
            .parse()
            .map_err(|_| VerifyError::BadSignature)?;
        let skew = (now - time).abs();
        if skew > MAX_SKEW_SECS {
            return Err(VerifyError::Expired { time, skew });
        }
        let nonce = get(H_NONCE)?;
        // Fixed sizes: 16 bytes of nonce and 32 of HMAC, in hex. Anything
        // else is refused before it can reach the replay cache.
        if nonce.len() != NONCE_HEX_LEN || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(VerifyError::BadSignature);
        }
        let sig = get(H_SIG)?;
        if sig.len() != 64 {
            return Err(VerifyError::BadSignature);
        }
        let sig = hex::decode(sig).map_err(|_| VerifyError::BadSignature)?;
        let device = match (header(H_DEVICE), header(H_COUNTER)) {
            (None, None) => None,
            (Some(d), Some(c)) => {
                let counter: u64 = c.parse().map_err(|_| VerifyError::BadSignature)?;
                if d.is_empty() || d.len() > MAX_DEVICE_LEN {
                    return Err(VerifyError::BadSignature);
                }
                Some((d, counter))
            }
            (None, Some(_)) => return Err(VerifyError::Unsigned(H_DEVICE)),
            (Some(_), None) => return Err(VerifyError::Unsigned(H_COUNTER)),
        };
        key.mac(method, path, time, nonce, body, device)
            .verify_slice(&sig)
            .map_err(|_| VerifyError::BadSignature)?;
        if let Some((device, counter)) = device {
            self.counters.lock().check(device, counter, now)?;
            return Ok(());
        }
        let fresh = self.replay.lock().check_and_insert(now, time, nonce);
        if !fresh {
            return Err(VerifyError::Replay(nonce.to_string()));
        }
        Ok(())
    }
}

/// What identifies one version of a key file on disk: [`SharedKey::save`]
/// replaces the file by rename, so a new key means a new inode, and an
/// edit in place a new mtime or size. Cheap to take (one `stat`), so a
/// running server can poll it to notice a `key regenerate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    ino: u64,
    mtime: i64,
    mtime_nsec: i64,
    len: u64,
}

impl FileStamp {
    /// The stamp of the file at `path`, or `None` when it cannot be read.
    pub fn of(path: &Path) -> Option<FileStamp> {
        let m = std::fs::metadata(path).ok()?;
        let since = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .unwrap_or_default();
        Some(FileStamp {
            ino: crate::platform::file_index(&m),
            mtime: since.as_secs() as i64,
            mtime_nsec: i64::from(since.subsec_nanos()),
            len: m.len(),
        })
    }
}

/// Path of the server key inside a data dir.
pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        v: &Verifier,
        headers: &[(&'static str, String)],
        method: &str,
        path: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        v.verify_at(
            method,
            path,
            body,
            |name| {
                headers
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.as_str())
            },
            now,
        )
    }

    #[test]
    fn good_signature_verifies_once() {
        let key = SharedKey::generate().unwrap();
        let v = Verifier::new(key.clone());
        let h = key.sign_at("POST", "/v1/enroll", b"{}", 1000);
        assert_eq!(check(&v, &h, "POST", "/v1/enroll", b"{}", 1001), Ok(()));
        assert!(matches!(
            check(&v, &h, "POST", "/v1/enroll", b"{}", 1002),
            Err(VerifyError::Replay(_))
        ));
    }

    #[test]
    fn regenerated_away_key_is_key_mismatch() {
        let old = SharedKey::generate().unwrap();
        let new = SharedKey::generate().unwrap();
        let v = Verifier::new(new.clone());
        let h = old.sign_at("GET", "/v1/x", b"", 50);
        let err = check(&v, &h, "GET", "/v1/x", b"", 50).unwrap_err();
        assert!(matches!(err, VerifyError::KeyMismatch { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(&new.fingerprint()), "{msg}");
        assert!(msg.contains("--key-file"), "{msg}");
        assert!(!msg.contains("regenerate"), "{msg}");
    }

    #[test]
    fn tampering_is_bad_signature() {
        let key = SharedKey::generate().unwrap();
        let v = Verifier::new(key.clone());
        let h = key.sign_at("POST", "/v1/a", b"body", 10);
        assert_eq!(
            check(&v, &h, "POST", "/v1/a", b"bodx", 10),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            check(&v, &h, "POST", "/v1/b", b"body", 10),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            check(&v, &h, "GET", "/v1/a", b"body", 10),
            Err(VerifyError::BadSignature)
        );
        let mut forged = h.clone();
        forged[3].1 = "00".repeat(32);
        assert_eq!(
            check(&v, &forged, "POST", "/v1/a", b"body", 10),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn old_and_future_timestamps_expire() {
        let key = SharedKey::generate().unwrap();
        let v = Verifier::new(key.clone());
        let h = key.sign_at("GET", "/", b"", 1000);
        assert!(matches!(
            check(&v, &h, "GET", "/", b"", 1000 + MAX_SKEW_SECS + 1),
            Err(VerifyError::Expired { .. })
        ));
        assert!(matches!(
            check(&v, &h, "GET", "/", b"", 1000 - MAX_SKEW_SECS - 1),
            Err(VerifyError::Expired { .. })
        ));
        assert_eq!(check(&v, &h, "GET", "/", b"", 1000 + MAX_SKEW_SECS), Ok(()));
    }

    #[test]
    fn missing_header_is_unsigned() {
        let key = SharedKey::generate().unwrap();
        let v = Verifier::new(key.clone());
        let mut h = key.sign_at("GET", "/", b"", 5);
        h.retain(|(n, _)| *n != H_NONCE);
        assert_eq!(
            check(&v, &h, "GET", "/", b"", 5),
            Err(VerifyError::Unsigned(H_NONCE))
        );
    }

    #[test]
    fn nonces_of_any_other_length_are_refused() {
        let key = SharedKey::generate().unwrap();
        let v = Verifier::new(key.clone());
        let sig_with = |nonce: &str| {
            let mac = key.mac("GET", "/", 100, nonce, b"", None);
            hex::encode(mac.finalize().into_bytes())
        };
        for nonce in ["a".repeat(300_000), "ab".into(), "z".repeat(32)] {
            let h = vec![
                (H_KEY, key.fingerprint()),
                (H_TIME, "100".to_string()),
                (H_SIG, sig_with(&nonce)),
                (H_NONCE, nonce.clone()),
            ];
            assert_eq!(
                check(&v, &h, "GET", "/", b"", 100),
                Err(VerifyError::BadSignature),
                "nonce of {} chars accepted",
                nonce.len()
            );
        }
        assert!(v.replay.lock().seen.is_empty());
    }

    #[test]
    fn replay_cache_is_bounded() {
        let key = SharedKey::generate().unwrap();
        let v = Verifier::with_capacity(key.clone(), 4);
        for _ in 0..10 {
            let h = key.sign_at("GET", "/", b"", 100);
            assert_eq!(check(&v, &h, "GET", "/", b"", 100), Ok(()));
        }
        let cache = v.replay.lock();
        assert!(cache.order.len() <= 4 && cache.seen.len() <= 4);
    }

    /// Design note `fleet-scale`: a device's requests carry its counter instead of relying
    /// on the nonce cache; the counter is under the MAC, a repeat is
    /// refused, and the nonce cache stays empty whatever the rate.
    #[test]
    fn device_requests_are_checked_by_counter_under_the_mac() {
        let key = SharedKey::generate().unwrap();
        let v = Verifier::with_capacity(key.clone(), 4);
        let now = 1_800_000_000;
        let us = now as u64 * 1_000_000;
        for i in 0..100 {
            let h = key.sign_device_at("POST", "/v1/heartbeat", b"{}", now, "dev-1", us + i);
            assert_eq!(check(&v, &h, "POST", "/v1/heartbeat", b"{}", now), Ok(()));
        }
        assert!(v.replay.lock().seen.is_empty());
        let h = key.sign_device_at("POST", "/v1/heartbeat", b"{}", now, "dev-1", us + 100);
        assert_eq!(check(&v, &h, "POST", "/v1/heartbeat", b"{}", now), Ok(()));
        let e = check(&v, &h, "POST", "/v1/heartbeat", b"{}", now).unwrap_err();
        assert!(
            matches!(
                &e,
                VerifyError::Counter(crate::trust::replay::CounterError::Replayed { .. })
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("dev-1"), "{e}");
        // Another counter or device in the headers breaks the MAC.
        for (name, value) in [
            (H_COUNTER, (us + 500).to_string()),
            (H_DEVICE, "dev-2".into()),
        ] {
            let mut forged = h.clone();
            forged.iter_mut().find(|(n, _)| *n == name).unwrap().1 = value;
            assert_eq!(
                check(&v, &forged, "POST", "/v1/heartbeat", b"{}", now),
                Err(VerifyError::BadSignature)
            );
        }
        // Dropping them does too (the MAC covered them).
        let stripped: Vec<_> = h
            .iter()
            .filter(|(n, _)| *n != H_COUNTER && *n != H_DEVICE)
            .cloned()
            .collect();
        assert_eq!(
            check(&v, &stripped, "POST", "/v1/heartbeat", b"{}", now),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn key_file_round_trips_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let key = SharedKey::generate().unwrap();
        key.save(&path).unwrap();
        if let Some(mode) = crate::platform::file_mode(&std::fs::metadata(&path).unwrap()) {
            assert_eq!(mode, 0o600);
        }
        assert!(crate::platform::is_owner_only(&path).unwrap());
        assert_eq!(
            SharedKey::load(&path).unwrap().fingerprint(),
            key.fingerprint()
        );
        std::fs::write(&path, "not-a-key").unwrap();
        assert!(matches!(
            SharedKey::load(&path),
            Err(KeyError::Corrupt { .. })
        ));
    }
}

//! Who a request is from, as the server sees it: which paths need a
//! device's certificate, a certificate forwarded by a trusted proxy, the
//! bookkeeping of requests refused for their key ([`Refusals`]: recorded
//! per device at most once per [`REFUSAL_WRITE_SECS`], and refusals that
//! prove no device logged as one line a minute), and device secrets.

use parking_lot::Mutex;
use std::collections::HashMap;

use crate::domain::clock::now;
use crate::store::Store;
use crate::trust::key::Verifier;
use crate::wire::http::{ApiError, RefusedBy, Verifies};
use crate::wire::proto::ErrorCode;

use super::ServerState;
use super::pool::StorePool;

/// The header a trusted proxy forwards the client's certificate in: the
/// PEM, URL-encoded (nginx: `proxy_set_header X-P2PD-Client-Cert
/// $ssl_client_escaped_cert;`).
pub const FORWARDED_CERT_HEADER: &str = "x-p2pd-client-cert";

/// A device refused for its key is recorded at most this often.
pub const REFUSAL_WRITE_SECS: i64 = 5;
/// Refusals of requests from no proven device are logged at most this
/// often, aggregated.
pub const ANON_REFUSAL_LOG_SECS: i64 = 60;

/// Most (device, fingerprint) pairs remembered; past it all are forgotten
/// rather than grow without end under a flood of invented ids.
const MAX_REMEMBERED: usize = 10_000;

/// Requests refused for the key they were signed with.
#[derive(Debug, Default)]
pub struct Refusals {
    /// Key-mismatch refusals not yet written, by (device, fingerprint):
    /// the time of the last write. Bounds the writes a device stuck on an
    /// old key causes to one per [`REFUSAL_WRITE_SECS`], and the log to one
    /// line per device.
    by_device: Mutex<HashMap<(String, String), i64>>,
    /// Refusals that prove nothing about a device (an unknown key, no
    /// certificate naming a device): when they were last logged, and how
    /// many since. Logged as one line per [`ANON_REFUSAL_LOG_SECS`] with
    /// the count, so a flood of forged requests costs no log volume.
    unproven: Mutex<(i64, u64)>,
}

impl Refusals {
    /// Counts a refusal from no proven device; logs the count once per
    /// [`ANON_REFUSAL_LOG_SECS`].
    fn unproven(&self, t: i64, current: &str) {
        let mut a = self.unproven.lock();
        a.1 += 1;
        if t - a.0 >= ANON_REFUSAL_LOG_SECS {
            tracing::warn!(
                refused = a.1,
                current = %current,
                "refused requests signed with another key than the current one, from no \
                 proven device (counted since the last such line); a device on an old key \
                 shows in `p2pd devices list` once it asks over its certificate"
            );
            *a = (t, 0);
        }
    }

    /// Whether a refusal of `dev` signing with `fingerprint` is to be
    /// written now (`None`: written less than [`REFUSAL_WRITE_SECS`] ago),
    /// and if so whether it is the first of that pair (then it is logged).
    fn due(&self, dev: &str, fingerprint: &str, t: i64) -> Option<bool> {
        let mut m = self.by_device.lock();
        let key = (dev.to_string(), fingerprint.to_string());
        match m.get(&key) {
            Some(at) if t - at < REFUSAL_WRITE_SECS => None,
            Some(_) => {
                m.insert(key, t);
                Some(false)
            }
            None => {
                if m.len() >= MAX_REMEMBERED {
                    m.clear();
                }
                m.insert(key, t);
                Some(true)
            }
        }
    }
}

impl Verifies for ServerState {
    fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// Enrollment comes before the device has a certificate; `status` is
    /// asked by admin tools. Everything else names a device and must come
    /// with its certificate.
    fn needs_identity(&self, path: &str) -> bool {
        !matches!(path, "/v1/enroll" | "/v1/status")
    }

    fn forwarded_identity(
        &self,
        conn: &crate::wire::listen::Conn,
        headers: &axum::http::HeaderMap,
    ) -> Result<Option<crate::trust::tls::Identity>, ApiError> {
        let Some(certs) = &self.tls else {
            return Ok(None);
        };
        if !self
            .trusted_proxies
            .contains(&conn.addr.ip().to_canonical())
        {
            return Ok(None); // anyone else's header is ignored
        }
        let Some(v) = headers.get(FORWARDED_CERT_HEADER) else {
            return Ok(None);
        };
        let pem = percent_encoding::percent_decode(v.as_bytes())
            .decode_utf8()
            .ok()
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::BadRequest,
                    format!("{FORWARDED_CERT_HEADER} is not a URL-encoded PEM certificate"),
                )
            })?;
        certs
            .ca()
            .trust()
            .verify_forwarded(&pem)
            .map(Some)
            .map_err(|e| ApiError::new(ErrorCode::IdentityMismatch, e.to_string()))
    }

    /// Records which device still signs with which old key, and says so in
    /// the log once per device (and once per unknown fingerprint).
    fn key_refused(&self, fingerprint: &str, by: RefusedBy) {
        let t = now();
        let (dev, secret) = match by {
            RefusedBy::Certificate(d) => (d, None),
            RefusedBy::Secret { device, secret } => (device, Some(secret)),
            RefusedBy::Nobody => {
                // Nobody proven: anyone can sign with any key and name any
                // device. Nothing is recorded; the log gets a count.
                self.refusals.unproven(t, &self.verifier.fingerprint());
                return;
            }
        };
        let Some(first) = self.refusals.due(&dev, fingerprint, t) else {
            return;
        };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let refused = Refused {
            dev,
            secret,
            fingerprint: fingerprint.to_string(),
            current: self.verifier.fingerprint(),
            first,
        };
        rt.spawn(refused.record(self.db.clone()));
    }
}

/// A refusal of a device for its key, to be written.
struct Refused {
    dev: String,
    /// The secret it claimed to be `dev` with, unless its certificate
    /// proved it.
    secret: Option<String>,
    fingerprint: String,
    current: String,
    /// The first refusal of this (device, key): logged.
    first: bool,
}

impl Refused {
    /// Writes the refusal if the device is proven (and enrolled), and logs
    /// the first one.
    async fn record(self, db: StorePool) {
        let (d, f, secret) = (self.dev.clone(), self.fingerprint.clone(), self.secret);
        let known = db
            .call(move |st| {
                // A claimed device counts only with the secret it was given.
                let proven = match &secret {
                    None => true,
                    Some(s) => st
                        .device_secret(&d)?
                        .is_some_and(|stored| stored == secret_sha256(s)),
                };
                if d.is_empty() || !proven || !st.record_key_refusal(&d, &f)? {
                    return Ok(None);
                }
                Ok(st.device(&d)?.map(|row| row.hostname))
            })
            .await;
        if !self.first {
            return;
        }
        let (dev, fp, current) = (self.dev, self.fingerprint, self.current);
        match known {
            Ok(Some(host)) => tracing::warn!(
                device = %dev, hostname = %host, key = %fp, current = %current,
                "refused a device signing with an old key; it needs the current key \
                 (`p2pd agent install --key-file FILE` on that device)"
            ),
            _ => tracing::warn!(
                key = %fp, current = %current,
                "refused a request signed with an unknown key"
            ),
        }
    }
}

/// SHA-256 (hex) of a device secret, as the database keeps it.
pub fn secret_sha256(secret: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}

/// Whether the enrollment carries the secret `id` was given.
pub fn secret_proves(st: &Store, id: &str, given: Option<&str>) -> Result<bool, ApiError> {
    let (Some(stored), Some(given)) = (st.device_secret(id)?, given) else {
        return Ok(false);
    };
    // Digests compared: how long the comparison takes says something
    // about the stored digest at most, nothing about the secret.
    Ok(stored == secret_sha256(given))
}

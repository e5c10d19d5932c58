//! TLS identities: the server CA, the certificates it issues, and the
//! rustls configurations and verifiers both sides use.
//!
//! - `p2pd install` creates the **server CA** ([`Ca::generate`]): an ECDSA
//!   P-256 key and a self-signed certificate, kept in the database (see
//!   `crate::vault::server_ca`: the key sealed with `db.key` on PostgreSQL, so
//!   every replica presents the same CA), with a public copy of the
//!   certificate (`ca.pem`) in the data dir for agents. Its fingerprint
//!   ([`fingerprint`]: SHA-256 of the certificate's DER) is printed next to
//!   the key's.
//! - `serve` issues itself a **server certificate** from the CA at start
//!   ([`ServerCerts`]), for the names it serves (its listen address and
//!   every `--tls-name`), and re-issues it before it expires. The same
//!   certificate is its client certificate when it probes an agent.
//! - An agent is given the CA ([`Trust`]: the CA file, or its fingerprint
//!   and the server sends the CA). At enrollment it sends a CSR and gets a
//!   short-lived **device certificate** ([`Ca::issue_device`]) that names
//!   its device id (`urn:p2pd:device:<id>`) and the address it serves
//!   peers at. It keeps the key in memory only ([`DeviceCert`]) and
//!   renews by enrolling again before half the lifetime is gone.
//! - Every connection is TLS 1.3 with the ring provider (not aws-lc-rs:
//!   the Windows agent is cross-built with mingw). The server verifies a
//!   client certificate when one is sent (enrollment comes before the
//!   device has one); an agent's peer server requires one.
//!
//! The parts: [`ca`] the CA and what it issues, [`identity`] the identity a
//! certificate names, [`config`] the rustls configurations and verifiers,
//! [`resolve`] the certificates a running serve or agent presents.
//!
//! Uses only `platform` (owner-only files).

mod ca;
mod config;
mod identity;
mod resolve;

pub use ca::*;
pub use config::*;
pub use identity::*;
pub use resolve::*;

use parking_lot::RwLock;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};

/// The CA certificate in the server's data dir (public: agents get a copy).
pub const CA_CERT_FILE: &str = "ca.pem";
/// The CA's private key as installs before design note `replicas` kept it in the data
/// dir (owner-only); now it is in the database, and `crate::vault::server_ca`
/// moves a file it finds there.
pub const CA_KEY_FILE: &str = "ca.key";

/// How long a device certificate is valid. Agents renew at half. The
/// server does not rely on expiry to keep a device out: it refuses a
/// retired device id at once, whatever certificate comes with it (see
/// `Store::retired`). Peers cannot ask the server, so they accept a
/// retired device's certificate until it expires: at most this long.
pub const DEVICE_CERT_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// How long serve's own certificate is valid; re-issued at half.
pub const SERVER_CERT_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
/// Certificates start this long before they are issued, so a device whose
/// clock is somewhat behind the server's still accepts them.
const BACKDATE: Duration = Duration::from_secs(3600);

/// The URI SAN prefix naming a device in its certificate.
const DEVICE_URI: &str = "urn:p2pd:device:";
/// The URI SAN prefix naming the server in its certificate.
const SERVER_URI: &str = "urn:p2pd:server:";

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(
        "no server CA in the database (nor ca.pem and ca.key in {dir} to move into it): \
         `p2pd install` creates one (it is missing on installs made before TLS: run \
         `p2pd install` again on this data dir, with the same --database if any, to add it)"
    )]
    NoCa { dir: PathBuf },
    #[error("cannot read {path}: {why}")]
    Read { path: PathBuf, why: String },
    #[error("cannot write {path}: {why}")]
    Write { path: PathBuf, why: String },
    #[error("{path} is not a usable PEM certificate: {why}")]
    BadCert { path: String, why: String },
    #[error("the CA certificate's fingerprint is {found}, but {expected} was pinned")]
    FingerprintMismatch { found: String, expected: String },
    #[error("bad certificate signing request: {0}")]
    BadCsr(String),
    #[error("certificate: {0}")]
    Issue(String),
    #[error("TLS configuration: {0}")]
    Config(String),
    /// The agent's options name no usable CA or scheme (`--ca`,
    /// `--ca-fingerprint`, `--insecure-plain-http`, `--server`).
    #[error("{0}")]
    Options(String),
}

fn issue_err(e: impl std::fmt::Display) -> TlsError {
    TlsError::Issue(e.to_string())
}

/// The crypto provider every configuration uses: ring, with
/// TLS13_AES_128_GCM_SHA256 preferred (ring's default order puts AES-256
/// first; AES-128 does 10 rounds to its 14). AES-256-GCM and
/// ChaCha20-Poly1305 stay available, in that order.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    let mut p = rustls::crypto::ring::default_provider();
    p.cipher_suites.sort_by_key(|s| match s.suite() {
        rustls::CipherSuite::TLS13_AES_128_GCM_SHA256 => 0,
        rustls::CipherSuite::TLS13_AES_256_GCM_SHA384 => 1,
        rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 => 2,
        _ => 3,
    });
    Arc::new(p)
}

/// Installs ring as the process-wide default provider, for clients that do
/// not name one (reqwest's client for public https URLs: file storage, CDN).
/// Idempotent.
pub fn install_default_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The fingerprint of a certificate: SHA-256 of its DER, hex.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// A fingerprint as typed by a person: hex, with or without `:` or a
/// `sha256:` prefix, any case. None if it is not 32 bytes of hex.
pub fn parse_fingerprint(s: &str) -> Option<String> {
    let s = s.trim();
    let s = s
        .strip_prefix("sha256:")
        .or_else(|| s.strip_prefix("SHA256:"))
        .unwrap_or(s);
    let hex: String = s.chars().filter(|c| *c != ':').collect();
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit())).then(|| hex.to_lowercase())
}

/// The first certificate in a PEM text.
fn first_cert(pem: &str, what: &str) -> Result<CertificateDer<'static>, TlsError> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .ok_or_else(|| TlsError::BadCert {
            path: what.to_string(),
            why: "no CERTIFICATE block".to_string(),
        })?
        .map_err(|e| TlsError::BadCert {
            path: what.to_string(),
            why: e.to_string(),
        })
}

fn read_file(path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(|e| TlsError::Read {
        path: path.to_path_buf(),
        why: e.to_string(),
    })
}

fn write_file(path: &Path, bytes: &[u8], owner_only: bool) -> Result<(), TlsError> {
    use std::io::Write;
    let err = |e: std::io::Error| TlsError::Write {
        path: path.to_path_buf(),
        why: e.to_string(),
    };
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = if owner_only {
        crate::platform::create_owner_only(&tmp).map_err(err)?
    } else {
        std::fs::File::create(&tmp).map_err(err)?
    };
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(err)
}

/// Writes PEM text atomically (owner-only for keys).
pub fn write_pem(path: &Path, pem: &str, owner_only: bool) -> Result<(), TlsError> {
    write_file(path, pem.as_bytes(), owner_only)
}

/// Writes a CA certificate (PEM) an agent was given or learned into its
/// data dir.
pub fn save_trust(path: &Path, trust: &Trust) -> Result<(), TlsError> {
    write_file(path, trust.pem().as_bytes(), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_certificate_names_its_device_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::create(dir.path(), "srv").unwrap();
        let (again, key_pem) = Ca::read_files(dir.path()).unwrap();
        assert_eq!(ca.fingerprint(), again.fingerprint());
        assert_eq!(key_pem, ca.key_pem());
        let from_pem = Ca::from_pem(ca.cert_pem(), &ca.key_pem(), "t").unwrap();
        assert_eq!(from_pem.fingerprint(), ca.fingerprint());
        assert!(crate::platform::is_owner_only(&dir.path().join(CA_KEY_FILE)).unwrap());
        let pending = DeviceCert::request().unwrap();
        let id = "0b1c2d3e-0000-4000-8000-000000000001";
        let pem = again
            .issue_device(&pending.csr_pem, id, DEVICE_CERT_LIFETIME)
            .unwrap();
        let der = first_cert(&pem, "t").unwrap();
        assert_eq!(identity_of(&der), Some(Identity::Device(id.to_string())));
        let slot = DeviceCert::default();
        assert!(slot.due());
        slot.install(&pending, &pem, &ca.trust(), id).unwrap();
        assert!(!slot.due());
        // A certificate naming another device is refused by the agent.
        let other = DeviceCert::default();
        let err = other
            .install(&pending, &pem, &ca.trust(), "another-id")
            .unwrap_err();
        assert!(err.to_string().contains("not device another-id"), "{err}");
        // A CSR signed by another key than the one it carries is refused.
        let mut bad = pending.csr_pem.clone();
        bad.replace_range(100..104, "AAAA");
        assert!(again.issue_device(&bad, id, DEVICE_CERT_LIFETIME).is_err());
    }

    /// Two devices' TLS: AES-128-GCM is negotiated; AES-256 and ChaCha20
    /// stay available.
    #[test]
    fn devices_prefer_aes_128_gcm() {
        use rustls::CipherSuite as S;
        let order: Vec<S> = provider().cipher_suites.iter().map(|s| s.suite()).collect();
        assert_eq!(order[0], S::TLS13_AES_128_GCM_SHA256);
        assert!(order.contains(&S::TLS13_AES_256_GCM_SHA384));
        assert!(order.contains(&S::TLS13_CHACHA20_POLY1305_SHA256));

        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::create(dir.path(), "srv").unwrap();
        let trust = ca.trust();
        let device = |id: &str| {
            let pending = DeviceCert::request().unwrap();
            let pem = ca
                .issue_device(&pending.csr_pem, id, DEVICE_CERT_LIFETIME)
                .unwrap();
            let cert = Arc::new(DeviceCert::default());
            cert.install(&pending, &pem, &trust, id).unwrap();
            cert
        };
        let a = device("0b1c2d3e-0000-4000-8000-00000000000a");
        let b = device("0b1c2d3e-0000-4000-8000-00000000000b");
        let server = Arc::new(trust.server_config(a, true).unwrap());
        let client = Arc::new(trust.client_config(b, Expect::Device).unwrap());
        let name =
            rustls::pki_types::ServerName::IpAddress("127.1.1.5".parse::<IpAddr>().unwrap().into());
        let mut c = rustls::ClientConnection::new(client, name).unwrap();
        let mut s = rustls::ServerConnection::new(server).unwrap();
        for _ in 0..10 {
            let mut buf = Vec::new();
            c.write_tls(&mut buf).unwrap();
            s.read_tls(&mut buf.as_slice()).unwrap();
            s.process_new_packets().unwrap();
            let mut buf = Vec::new();
            s.write_tls(&mut buf).unwrap();
            c.read_tls(&mut buf.as_slice()).unwrap();
            c.process_new_packets().unwrap();
            if !c.is_handshaking() && !s.is_handshaking() {
                break;
            }
        }
        assert!(!c.is_handshaking() && !s.is_handshaking());
        let suite = |x: Option<rustls::SupportedCipherSuite>| x.map(|s| s.suite());
        assert_eq!(
            suite(c.negotiated_cipher_suite()),
            Some(S::TLS13_AES_128_GCM_SHA256)
        );
        assert_eq!(
            suite(s.negotiated_cipher_suite()),
            Some(S::TLS13_AES_128_GCM_SHA256)
        );
    }

    /// Design note `key-holders` finding 2: a client expecting the server refuses a device
    /// certificate from the same CA (even dialled by a name it might
    /// carry), and a client expecting a peer refuses the server's; each
    /// accepts what it expects. `peer_is` tells one device from another.
    #[test]
    fn clients_accept_only_the_identity_they_expect() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::create(dir.path(), "srv").unwrap();
        let trust = ca.trust();
        let id = "0b1c2d3e-0000-4000-8000-00000000000c";
        let pending = DeviceCert::request().unwrap();
        let pem = ca
            .issue_device(&pending.csr_pem, id, DEVICE_CERT_LIFETIME)
            .unwrap();
        let device = Arc::new(DeviceCert::default());
        device.install(&pending, &pem, &trust, id).unwrap();
        let server = Arc::new(
            ServerCerts::new(
                Ca::from_pem(ca.cert_pem(), &ca.key_pem(), "t").unwrap(),
                "srv",
                vec!["127.0.0.1".into()],
            )
            .unwrap(),
        );
        let handshake = |cert: Arc<dyn rustls::server::ResolvesServerCert>,
                         expect: Expect|
         -> Result<Vec<u8>, String> {
            let s_cfg = Arc::new(trust.server_config(cert, false).unwrap());
            let c_cfg = Arc::new(
                trust
                    .client_config(Arc::new(DeviceCert::default()), expect)
                    .unwrap(),
            );
            let name = rustls::pki_types::ServerName::IpAddress(
                "127.0.0.1".parse::<IpAddr>().unwrap().into(),
            );
            let mut c = rustls::ClientConnection::new(c_cfg, name).unwrap();
            let mut s = rustls::ServerConnection::new(s_cfg).unwrap();
            for _ in 0..10 {
                let mut buf = Vec::new();
                c.write_tls(&mut buf).unwrap();
                s.read_tls(&mut buf.as_slice()).unwrap();
                s.process_new_packets().map_err(|e| e.to_string())?;
                let mut buf = Vec::new();
                s.write_tls(&mut buf).unwrap();
                c.read_tls(&mut buf.as_slice()).unwrap();
                c.process_new_packets().map_err(|e| e.to_string())?;
                if !c.is_handshaking() && !s.is_handshaking() {
                    let peer = c.peer_certificates().unwrap()[0].to_vec();
                    return Ok(peer);
                }
            }
            Err("no handshake".into())
        };
        let err = handshake(device.clone(), Expect::Server).unwrap_err();
        assert!(err.contains(&format!("device {id}")), "{err}");
        let err = handshake(server.clone(), Expect::Device).unwrap_err();
        assert!(err.contains("server's certificate"), "{err}");
        handshake(server, Expect::Server).unwrap();
        let peer = handshake(device, Expect::Device).unwrap();
        peer_is(Some(&peer), id).unwrap();
        let err = peer_is(Some(&peer), "0b1c2d3e-0000-4000-8000-00000000000d").unwrap_err();
        assert!(err.contains(&format!("device {id}")), "{err}");
    }

    #[test]
    fn fingerprints_are_read_in_the_usual_spellings() {
        let hex = "ab".repeat(32);
        assert_eq!(parse_fingerprint(&hex).as_deref(), Some(hex.as_str()));
        let colons = vec!["AB"; 32].join(":");
        assert_eq!(parse_fingerprint(&format!("SHA256:{colons}")), Some(hex));
        assert_eq!(parse_fingerprint("abcd"), None);
    }
}

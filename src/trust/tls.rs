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
//! Uses only `platform` (owner-only files).

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

/// The server CA: its certificate and signing key.
pub struct Ca {
    cert_der: CertificateDer<'static>,
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl Ca {
    /// True when `dir` holds the CA files of an install made before the
    /// CA moved into the database.
    pub fn files_exist(dir: &Path) -> bool {
        dir.join(CA_CERT_FILE).exists() && dir.join(CA_KEY_FILE).exists()
    }

    /// A new CA, in memory: the caller stores it (`crate::vault::server_ca`).
    pub fn generate(server_id: &str) -> Result<Ca, TlsError> {
        let key = KeyPair::generate().map_err(issue_err)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, format!("p2pd server CA {server_id}"));
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - BACKDATE;
        params.not_after = now + Duration::from_secs(20 * 365 * 24 * 3600);
        let cert = params.self_signed(&key).map_err(issue_err)?;
        Ok(Ca {
            cert_der: cert.der().clone(),
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// Creates a CA and writes it into `dir` as files (`ca.pem`, and
    /// `ca.key` owner-only), as installs before design note `replicas` did. Tests use it
    /// for a CA of their own (a fake server's).
    pub fn create(dir: &Path, server_id: &str) -> Result<Ca, TlsError> {
        let ca = Ca::generate(server_id)?;
        // The key first: a crash in between leaves no `ca.pem`.
        write_file(&dir.join(CA_KEY_FILE), ca.key_pem().as_bytes(), true)?;
        write_file(&dir.join(CA_CERT_FILE), ca.cert_pem.as_bytes(), false)?;
        Ok(ca)
    }

    /// A CA from its certificate and private key, both PEM; `what` names
    /// where they came from, for messages.
    pub fn from_pem(cert_pem: &str, key_pem: &str, what: &str) -> Result<Ca, TlsError> {
        let key = KeyPair::from_pem(key_pem).map_err(|e| TlsError::BadCert {
            path: what.to_string(),
            why: format!("the CA's private key: {e}"),
        })?;
        let cert_der = first_cert(cert_pem, what)?;
        let issuer = Issuer::from_ca_cert_der(&cert_der, key).map_err(|e| TlsError::BadCert {
            path: what.to_string(),
            why: e.to_string(),
        })?;
        Ok(Ca {
            cert_der,
            cert_pem: cert_pem.to_string(),
            issuer,
        })
    }

    /// Reads the CA files of `dir` (`ca.pem`, `ca.key`): their text, as
    /// checked by [`Ca::from_pem`].
    pub fn read_files(dir: &Path) -> Result<(Ca, String), TlsError> {
        if !Ca::files_exist(dir) {
            return Err(TlsError::NoCa {
                dir: dir.to_path_buf(),
            });
        }
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let cert_pem = read_file(&cert_path)?;
        let key_pem = read_file(&key_path)?;
        let ca = Ca::from_pem(
            &cert_pem,
            &key_pem,
            &format!("{} and {}", cert_path.display(), key_path.display()),
        )?;
        Ok((ca, key_pem))
    }

    /// The CA's private key, PEM (PKCS#8): what the database stores.
    pub fn key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }

    pub fn fingerprint(&self) -> String {
        fingerprint(&self.cert_der)
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// What a client of this CA trusts.
    pub fn trust(&self) -> Trust {
        Trust::from_der(self.cert_der.clone())
    }

    /// A certificate for serve: every name in `names` (DNS names or IP
    /// addresses) as a SAN, usable for server and client authentication.
    pub fn issue_server(&self, server_id: &str, names: &[String]) -> Result<Issued, TlsError> {
        let key = KeyPair::generate().map_err(issue_err)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, format!("p2pd server {server_id}"));
        params.distinguished_name = dn;
        for n in names {
            params.subject_alt_names.push(san_for(n)?);
        }
        params
            .subject_alt_names
            .push(SanType::URI(uri(SERVER_URI, server_id)?));
        leaf(&mut params, SERVER_CERT_LIFETIME);
        let cert = params.signed_by(&key, &self.issuer).map_err(issue_err)?;
        Issued::new(cert.der().clone(), self.cert_der.clone(), &key)
    }

    /// A certificate and key (PEM each) for a TLS-terminating load
    /// balancer in front of serve: agents accept it because it is from the
    /// CA. Valid for `lifetime`.
    pub fn issue_proxy(
        &self,
        server_id: &str,
        names: &[String],
        lifetime: Duration,
    ) -> Result<(String, String), TlsError> {
        let key = KeyPair::generate().map_err(issue_err)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            format!("p2pd proxy {}", names.join(" ")),
        );
        params.distinguished_name = dn;
        for n in names {
            params.subject_alt_names.push(san_for(n)?);
        }
        // Agents accept only the server's identity at the server's address:
        // the proxy answers for serve, so it carries serve's.
        params
            .subject_alt_names
            .push(SanType::URI(uri(SERVER_URI, server_id)?));
        leaf(&mut params, lifetime);
        let cert = params.signed_by(&key, &self.issuer).map_err(issue_err)?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// A device certificate for the public key of `csr_pem` (its requested
    /// names are ignored): the device id as the only SAN (a URI) and the
    /// common name. No IP or DNS name: a peer is verified by the device id
    /// it is expected to be ([`Expect::Device`]), never by the address
    /// dialled, so a device certificate can never pass for the server at
    /// an address, whatever address the device claimed. PEM.
    pub fn issue_device(
        &self,
        csr_pem: &str,
        device_id: &str,
        lifetime: Duration,
    ) -> Result<String, TlsError> {
        let csr = CertificateSigningRequestParams::from_pem(csr_pem)
            .map_err(|e| TlsError::BadCsr(e.to_string()))?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, device_id);
        params.distinguished_name = dn;
        params.subject_alt_names = vec![SanType::URI(uri(DEVICE_URI, device_id)?)];
        leaf(&mut params, lifetime);
        let cert = params
            .signed_by(&csr.public_key, &self.issuer)
            .map_err(issue_err)?;
        Ok(cert.pem())
    }
}

fn uri(prefix: &str, id: &str) -> Result<rcgen::string::Ia5String, TlsError> {
    format!("{prefix}{id}").try_into().map_err(issue_err)
}

fn san_for(name: &str) -> Result<SanType, TlsError> {
    Ok(match name.parse::<IpAddr>() {
        Ok(ip) => SanType::IpAddress(ip),
        Err(_) => SanType::DnsName(name.to_string().try_into().map_err(|_| {
            TlsError::Issue(format!(
                "'{name}' is neither an IP address nor a DNS name; give --tls-name a host name or address"
            ))
        })?),
    })
}

/// Leaf settings shared by server and device certificates.
fn leaf(params: &mut CertificateParams, lifetime: Duration) {
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - BACKDATE;
    params.not_after = now + lifetime;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&rand::random::<[u8; 16]>()));
    params.use_authority_key_identifier_extension = true;
}

/// A certificate with its key, ready for rustls.
#[derive(Debug, Clone)]
pub struct Issued {
    pub key: Arc<CertifiedKey>,
    /// When it stops being valid.
    pub not_after: SystemTime,
    /// When it started being valid.
    pub not_before: SystemTime,
}

impl Issued {
    fn new(
        leaf: CertificateDer<'static>,
        ca: CertificateDer<'static>,
        key: &KeyPair,
    ) -> Result<Issued, TlsError> {
        let pk = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let signer = rustls::crypto::ring::sign::any_supported_type(&pk).map_err(issue_err)?;
        let (not_before, not_after) = validity(&leaf).ok_or_else(|| {
            TlsError::Issue("the certificate's validity cannot be read".to_string())
        })?;
        Ok(Issued {
            key: Arc::new(CertifiedKey::new(vec![leaf, ca], signer)),
            not_after,
            not_before,
        })
    }

    /// True when less than half its lifetime is left at `now`. The
    /// lifetime counts from issuance: `not_before` is backdated by an hour
    /// for clock skew, which does not count.
    pub fn due(&self, now: SystemTime) -> bool {
        let total = self
            .not_after
            .duration_since(self.not_before)
            .unwrap_or_default();
        let life = if total > BACKDATE {
            total - BACKDATE
        } else {
            total
        };
        let left = self.not_after.duration_since(now).unwrap_or_default();
        left < life / 2
    }
}

fn validity(der: &[u8]) -> Option<(SystemTime, SystemTime)> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let v = cert.validity();
    let t = |x: &x509_parser::time::ASN1Time| {
        let s = x.timestamp();
        (s >= 0).then(|| SystemTime::UNIX_EPOCH + Duration::from_secs(s as u64))
    };
    Some((t(&v.not_before)?, t(&v.not_after)?))
}

/// Who a certificate names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A device, by its device id.
    Device(String),
    /// serve, by its server id.
    Server(String),
}

/// The identity a (verified) certificate names in its URI SAN, if any.
pub fn identity_of(der: &[u8]) -> Option<Identity> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let san = cert.subject_alternative_name().ok()??;
    for name in &san.value.general_names {
        if let x509_parser::extensions::GeneralName::URI(u) = name {
            if let Some(id) = u.strip_prefix(DEVICE_URI) {
                return Some(Identity::Device(id.to_string()));
            }
            if let Some(id) = u.strip_prefix(SERVER_URI) {
                return Some(Identity::Server(id.to_string()));
            }
        }
    }
    None
}

/// What a client or server trusts: one CA certificate.
#[derive(Debug, Clone)]
pub struct Trust {
    ca: CertificateDer<'static>,
}

impl Trust {
    pub fn from_der(ca: CertificateDer<'static>) -> Trust {
        Trust { ca }
    }

    /// Parses a CA certificate in PEM; `what` names it in errors.
    pub fn from_pem(pem: &str, what: &str) -> Result<Trust, TlsError> {
        Ok(Trust {
            ca: first_cert(pem, what)?,
        })
    }

    /// Reads a CA certificate file (`--ca FILE`).
    pub fn load(path: &Path) -> Result<Trust, TlsError> {
        Trust::from_pem(&read_file(path)?, &path.display().to_string())
    }

    pub fn fingerprint(&self) -> String {
        fingerprint(&self.ca)
    }

    pub fn pem(&self) -> String {
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &self.ca);
        let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
        out
    }

    /// Verifies a client certificate (PEM) a trusted proxy forwarded: it
    /// must chain to this CA, be valid now and allow client
    /// authentication. Returns the identity it names.
    pub fn verify_forwarded(&self, pem: &str) -> Result<Identity, TlsError> {
        let leaf = first_cert(pem, "the forwarded client certificate")?;
        let v =
            rustls::server::WebPkiClientVerifier::builder_with_provider(self.roots()?, provider())
                .build()
                .map_err(|e| TlsError::Config(e.to_string()))?;
        v.verify_client_cert(&leaf, &[], rustls::pki_types::UnixTime::now())
            .map_err(|e| TlsError::BadCert {
                path: "the forwarded client certificate".into(),
                why: e.to_string(),
            })?;
        identity_of(&leaf).ok_or_else(|| TlsError::BadCert {
            path: "the forwarded client certificate".into(),
            why: "it names no p2pd device".into(),
        })
    }

    fn roots(&self) -> Result<Arc<rustls::RootCertStore>, TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(self.ca.clone())
            .map_err(|e| TlsError::Config(format!("the CA certificate is not usable: {e}")))?;
        Ok(Arc::new(roots))
    }

    /// A client configuration: TLS 1.3, the other side must prove a
    /// certificate from this CA with the identity `expect` names (see
    /// [`Expect`]), and `cert` (if it holds one) is sent as the client
    /// certificate. A new session cache each time, so a client built after
    /// enrollment never resumes a session that was opened without a
    /// certificate.
    pub fn client_config(
        &self,
        cert: Arc<dyn rustls::client::ResolvesClientCert>,
        expect: Expect,
    ) -> Result<rustls::ClientConfig, TlsError> {
        let roots = self.roots()?;
        let webpki =
            rustls::client::WebPkiServerVerifier::builder_with_provider(roots.clone(), provider())
                .build()
                .map_err(|e| TlsError::Config(e.to_string()))?;
        let verifier = Arc::new(IdentityVerifier {
            roots,
            webpki,
            expect,
        });
        let mut c = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| TlsError::Config(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_client_cert_resolver(cert);
        c.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(c)
    }

    /// A server configuration: TLS 1.3, `cert` as the server certificate,
    /// client certificates verified against this CA — required when
    /// `require_client` (an agent's peer server), optional otherwise
    /// (serve: enrollment comes before the device has a certificate; the
    /// handlers require one where they need an identity).
    pub fn server_config(
        &self,
        cert: Arc<dyn rustls::server::ResolvesServerCert>,
        require_client: bool,
    ) -> Result<rustls::ServerConfig, TlsError> {
        let b =
            rustls::server::WebPkiClientVerifier::builder_with_provider(self.roots()?, provider());
        let b = if require_client {
            b
        } else {
            b.allow_unauthenticated()
        };
        let verifier = b.build().map_err(|e| TlsError::Config(e.to_string()))?;
        let mut c = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(cert);
        c.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(c)
    }
}

/// Whom a client connection must reach: the identity the other side's
/// certificate must carry, besides chaining to the CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// serve (or a proxy answering for it): `urn:p2pd:server:`, for the
    /// name dialled. A device certificate is refused here whatever names
    /// it carries, so a key holder cannot stand in for the server.
    Server,
    /// A device's peer server: `urn:p2pd:device:`. Device certificates name
    /// no address, so the name dialled is not checked; which device it
    /// must be is checked per response against the device the scheduler
    /// named ([`peer_is`]). A server certificate is refused here.
    Device,
}

/// Chain verification plus the identity [`Expect`] names.
#[derive(Debug)]
struct IdentityVerifier {
    roots: Arc<rustls::RootCertStore>,
    webpki: Arc<rustls::client::WebPkiServerVerifier>,
    expect: Expect,
}

impl rustls::client::danger::ServerCertVerifier for IdentityVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let refused = |what: &str| {
            rustls::Error::General(format!(
                "{} presented {what}, not {}: refused",
                server_name.to_str(),
                match self.expect {
                    Expect::Server => "the p2pd server's certificate",
                    Expect::Device => "a p2pd device's certificate",
                }
            ))
        };
        // From the CA first (a stranger's certificate says so), then the
        // identity (a device's certificate says whose it is), then, for the
        // server, the name dialled.
        let cert = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            provider().signature_verification_algorithms.all,
        )?;
        match (self.expect, identity_of(end_entity)) {
            (Expect::Server, Some(Identity::Server(_)))
            | (Expect::Device, Some(Identity::Device(_))) => {}
            (_, Some(Identity::Device(id))) => {
                return Err(refused(&format!("device {id}'s certificate")));
            }
            (_, Some(Identity::Server(_))) => return Err(refused("the server's certificate")),
            (_, None) => return Err(refused("a certificate that names no p2pd identity")),
        }
        if self.expect == Expect::Server {
            self.webpki
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)?;
        }
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// Whether the certificate a peer presented (DER, as the connection saw
/// it) names `device`: the check that the peer dialled is the device the
/// scheduler named, not another device at that address.
pub fn peer_is(peer_cert: Option<&[u8]>, device: &str) -> Result<(), String> {
    match peer_cert.and_then(identity_of) {
        Some(Identity::Device(id)) if id == device => Ok(()),
        Some(Identity::Device(id)) => Err(format!(
            "the peer is device {id}, not device {device} as the server said: refused"
        )),
        Some(Identity::Server(_)) => Err(format!(
            "the peer presented the server's certificate, not device {device}'s"
        )),
        None => Err(format!(
            "the peer's certificate does not name device {device}: refused"
        )),
    }
}

/// The names in serve's certificate: the listen address (or, listening on
/// a wildcard, localhost and the loopback addresses), the server_name
/// setting, and every `--tls-name`; no duplicates.
pub fn server_names(listen: IpAddr, server_name: &str, extra: &[String]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut add = |n: String| {
        let n = n.trim().to_ascii_lowercase();
        if !n.is_empty() && !names.contains(&n) {
            names.push(n);
        }
    };
    if listen.is_unspecified() {
        add("localhost".into());
        add("127.0.0.1".into());
        add("::1".into());
    } else {
        add(listen.to_string());
    }
    add(server_name.to_string());
    for n in extra {
        add(n.clone());
    }
    names
}

/// serve's own certificate, issued from the CA at start and again when
/// half its lifetime is gone (checked at each handshake: issuing takes a
/// fraction of a millisecond).
pub struct ServerCerts {
    ca: Ca,
    server_id: String,
    names: Vec<String>,
    current: RwLock<Issued>,
}

impl std::fmt::Debug for ServerCerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCerts")
            .field("names", &self.names)
            .finish()
    }
}

impl ServerCerts {
    pub fn new(ca: Ca, server_id: &str, names: Vec<String>) -> Result<ServerCerts, TlsError> {
        let first = ca.issue_server(server_id, &names)?;
        Ok(ServerCerts {
            ca,
            server_id: server_id.to_string(),
            names,
            current: RwLock::new(first),
        })
    }

    pub fn ca(&self) -> &Ca {
        &self.ca
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    fn current(&self) -> Arc<CertifiedKey> {
        let cur = self.current.read().clone();
        if !cur.due(SystemTime::now()) {
            return cur.key;
        }
        match self.ca.issue_server(&self.server_id, &self.names) {
            Ok(new) => {
                let key = new.key.clone();
                *self.current.write() = new;
                tracing::info!("re-issued the server certificate (half its lifetime was gone)");
                key
            }
            Err(e) => {
                tracing::error!("cannot re-issue the server certificate: {e}");
                cur.key
            }
        }
    }
}

impl rustls::server::ResolvesServerCert for ServerCerts {
    fn resolve(&self, _: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

impl rustls::client::ResolvesClientCert for ServerCerts {
    fn resolve(&self, _: &[&[u8]], _: &[rustls::SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
    fn has_certs(&self) -> bool {
        true
    }
}

/// A device's certificate, once it has one: the key pair is made here and
/// never leaves memory; the certificate comes back from enrollment.
#[derive(Default)]
pub struct DeviceCert {
    current: RwLock<Option<Issued>>,
}

impl std::fmt::Debug for DeviceCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCert").finish()
    }
}

/// A key pair waiting for its certificate.
pub struct PendingKey {
    key: KeyPair,
    /// The CSR to send, PEM.
    pub csr_pem: String,
}

impl DeviceCert {
    /// A new key pair and its CSR.
    pub fn request() -> Result<PendingKey, TlsError> {
        let key = KeyPair::generate().map_err(issue_err)?;
        let params = CertificateParams::default();
        let csr = params.serialize_request(&key).map_err(issue_err)?;
        let csr_pem = csr.pem().map_err(issue_err)?;
        Ok(PendingKey { key, csr_pem })
    }

    /// Takes the certificate the server issued for `pending`. Checks that
    /// it is for that key, from `trust`'s CA, and names `device_id`.
    pub fn install(
        &self,
        pending: &PendingKey,
        cert_pem: &str,
        trust: &Trust,
        device_id: &str,
    ) -> Result<Identity, TlsError> {
        let leaf = first_cert(cert_pem, "the device certificate from the server")?;
        let ident = identity_of(&leaf);
        if ident != Some(Identity::Device(device_id.to_string())) {
            return Err(TlsError::Issue(format!(
                "the server issued a certificate for {ident:?}, not device {device_id}"
            )));
        }
        let issued = Issued::new(leaf, trust.ca.clone(), &pending.key)?;
        // The key must match the certificate (rustls checks the pair).
        issued
            .key
            .keys_match()
            .map_err(|e| TlsError::Issue(format!("certificate and key do not match: {e}")))?;
        *self.current.write() = Some(issued);
        Ok(Identity::Device(device_id.to_string()))
    }

    /// True when there is no certificate yet or half its lifetime is gone.
    pub fn due(&self) -> bool {
        self.current
            .read()
            .as_ref()
            .is_none_or(|c| c.due(SystemTime::now()))
    }

    /// When the current certificate expires.
    pub fn not_after(&self) -> Option<SystemTime> {
        self.current.read().as_ref().map(|c| c.not_after)
    }

    fn key(&self) -> Option<Arc<CertifiedKey>> {
        self.current.read().as_ref().map(|c| c.key.clone())
    }
}

impl rustls::server::ResolvesServerCert for DeviceCert {
    fn resolve(&self, _: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.key()
    }
}

impl rustls::client::ResolvesClientCert for DeviceCert {
    fn resolve(&self, _: &[&[u8]], _: &[rustls::SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        self.key()
    }
    fn has_certs(&self) -> bool {
        self.key().is_some()
    }
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

/// How an agent is told which CA to trust.
#[derive(Debug, Clone)]
pub enum CaSource {
    /// `--ca FILE`: the server's `ca.pem`.
    File(PathBuf),
    /// `--ca-fingerprint HEX`: the agent learns the CA from the server's
    /// certificate chain at first contact and keeps it only if its
    /// fingerprint is this one (then caches it in its data dir).
    Fingerprint(String),
}

/// Where an agent caches a CA it learned by fingerprint.
pub fn cached_ca_path(agent_dir: &Path) -> PathBuf {
    agent_dir.join(CA_CERT_FILE)
}

/// The CA an agent trusts: from its file, or by fingerprint (the cached
/// copy, else learned now from the first of `server_urls` (the replicas of
/// one server) that proves it).
pub async fn agent_trust(
    source: &CaSource,
    server_urls: &[String],
    agent_dir: &Path,
) -> Result<Trust, TlsError> {
    match source {
        CaSource::File(path) => Trust::load(path),
        CaSource::Fingerprint(pin) => {
            let cached = cached_ca_path(agent_dir);
            if let Ok(t) = Trust::load(&cached)
                && t.fingerprint() == *pin
            {
                return Ok(t);
            }
            let mut last = TlsError::Config("no server URL to learn the CA from".into());
            for url in server_urls {
                match fetch_pinned_ca(url, pin).await {
                    Ok(t) => {
                        save_trust(&cached, &t)?;
                        return Ok(t);
                    }
                    Err(e) => last = e,
                }
            }
            Err(last)
        }
    }
}

/// Connects to `server_url` and takes the CA certificate from the chain it
/// sends, provided its fingerprint is `pin` and the server's certificate
/// verifies against it for the name dialled.
pub async fn fetch_pinned_ca(server_url: &str, pin: &str) -> Result<Trust, TlsError> {
    let url = reqwest::Url::parse(server_url)
        .map_err(|e| TlsError::Config(format!("server URL {server_url}: {e}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| TlsError::Config(format!("server URL {server_url} has no host")))?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let name = match bare.parse::<IpAddr>() {
        Ok(ip) => rustls::pki_types::ServerName::IpAddress(ip.into()),
        Err(_) => rustls::pki_types::ServerName::try_from(bare.to_string())
            .map_err(|e| TlsError::Config(format!("server URL {server_url}: {e}")))?,
    };
    let addr = format!("{host}:{}", url.port_or_known_default().unwrap_or(443));
    let pinned = Arc::new(Pinned {
        pin: pin.to_string(),
        found: parking_lot::Mutex::new(None),
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TlsError::Config(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(pinned.clone())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connect = async {
        let tcp = tokio::net::TcpStream::connect(&addr).await?;
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
    };
    match tokio::time::timeout(Duration::from_secs(10), connect).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            return Err(TlsError::Config(format!(
                "cannot learn the CA from {server_url}: {e}"
            )));
        }
        Err(_) => {
            return Err(TlsError::Config(format!(
                "cannot learn the CA from {server_url}: no TLS answer within 10 s"
            )));
        }
    }
    let ca = pinned
        .found
        .lock()
        .take()
        .ok_or_else(|| TlsError::Config("the server sent no CA certificate".to_string()))?;
    Ok(Trust::from_der(ca))
}

/// Accepts a server whose chain holds a CA with the pinned fingerprint and
/// whose certificate verifies against that CA.
#[derive(Debug)]
struct Pinned {
    pin: String,
    found: parking_lot::Mutex<Option<CertificateDer<'static>>>,
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let ca = intermediates
            .iter()
            .find(|c| fingerprint(c) == self.pin)
            .ok_or_else(|| {
                rustls::Error::General(format!(
                    "the server's certificate chain holds no CA with fingerprint {}",
                    self.pin
                ))
            })?
            .clone()
            .into_owned();
        let trust = Trust::from_der(ca.clone());
        let roots = trust
            .roots()
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        let v = rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider())
            .build()
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        let ok = v.verify_server_cert(end_entity, &[], server_name, ocsp, now)?;
        if !matches!(identity_of(end_entity), Some(Identity::Server(_))) {
            return Err(rustls::Error::General(format!(
                "{} presented a certificate from the pinned CA that is not the p2pd server's \
                 (a device's?): refused",
                server_name.to_str()
            )));
        }
        *self.found.lock() = Some(ca);
        Ok(ok)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The `--server` list as given (repeated or comma-separated): trimmed,
/// trailing slashes dropped, each an `http(s)://HOST:PORT` URL. Returns the
/// URLs and the first one's `HOST:PORT`.
pub fn server_list(raw: &[String]) -> Result<(Vec<String>, String), TlsError> {
    let servers: Vec<String> = raw
        .iter()
        .map(|s| s.trim().trim_end_matches('/').to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let mut first = None;
    for server in &servers {
        let host_port = server
            .strip_prefix("http://")
            .or_else(|| server.strip_prefix("https://"))
            .filter(|r| !r.is_empty() && !r.contains('/'))
            .ok_or_else(|| {
                TlsError::Options(format!(
                    "--server {server}: expected a URL like https://10.0.0.5:7650"
                ))
            })?;
        first.get_or_insert_with(|| host_port.to_string());
    }
    let first = first.ok_or_else(|| {
        TlsError::Options("--server: expected a URL like https://10.0.0.5:7650".into())
    })?;
    Ok((servers, first))
}

/// Which CA the agent trusts, from its options; `None` on plain HTTP.
/// TLS is the default and needs a CA; plain HTTP must be asked for.
pub fn ca_source(
    servers: &[String],
    ca: Option<&Path>,
    fingerprint: Option<&str>,
    insecure_plain_http: bool,
) -> Result<Option<CaSource>, TlsError> {
    // Every replica speaks the same scheme: judge by the first that does
    // not match what the flags ask for.
    let server = servers
        .iter()
        .find(|s| s.starts_with("https://") == insecure_plain_http)
        .or(servers.first())
        .map(String::as_str)
        .unwrap_or_default();
    let https = server.starts_with("https://");
    if insecure_plain_http {
        if https {
            return Err(TlsError::Options(format!(
                "--insecure-plain-http needs an http:// --server URL, not {server}; \
                 drop --insecure-plain-http and give --ca or --ca-fingerprint for TLS"
            )));
        }
        return Ok(None);
    }
    if !https {
        return Err(TlsError::Options(format!(
            "--server {server} is not an https:// URL; agents talk TLS to the server \
             (https://HOST:PORT) and prove its certificate with --ca FILE or \
             --ca-fingerprint SHA256. Plain HTTP is for benchmarks only \
             (--insecure-plain-http, with `serve --insecure-plain-http`)"
        )));
    }
    let pin = match fingerprint {
        Some(f) => Some(parse_fingerprint(f).ok_or_else(|| {
            TlsError::Options(format!(
                "--ca-fingerprint '{f}' is not a SHA-256 fingerprint (64 hex digits, as \
                 `p2pd install` or `p2pd status` prints it)"
            ))
        })?),
        None => None,
    };
    match (ca, pin) {
        (Some(path), _) => Ok(Some(CaSource::File(path.to_path_buf()))),
        (None, Some(pin)) => Ok(Some(CaSource::Fingerprint(pin))),
        (None, None) => Err(TlsError::Options(
            "give --ca FILE (a copy of the server's DATA_DIR/ca.pem) or --ca-fingerprint \
             SHA256 (printed by `p2pd install`): the agent trusts only the server CA"
                .into(),
        )),
    }
}

/// [`agent_trust`], then the pinned fingerprint (`--ca-fingerprint`, also
/// when `--ca FILE` is given with it) checked against the CA found.
pub async fn pinned_agent_trust(
    source: &CaSource,
    pin: Option<&str>,
    server_urls: &[String],
    agent_dir: &Path,
) -> Result<Trust, TlsError> {
    let trust = agent_trust(source, server_urls, agent_dir).await?;
    if let Some(pin) = pin.and_then(parse_fingerprint)
        && trust.fingerprint() != pin
    {
        return Err(TlsError::FingerprintMismatch {
            found: trust.fingerprint(),
            expected: pin,
        });
    }
    Ok(trust)
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

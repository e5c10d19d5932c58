//! The server CA: created at install, loaded from the database, and the
//! device and server certificates it issues.

use super::*;

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
    pub(super) fn new(
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

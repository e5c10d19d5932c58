//! The rustls configurations both sides use, and the verifier that
//! checks the identity a peer must show.

use super::*;

/// What a client or server trusts: one CA certificate.
#[derive(Debug, Clone)]
pub struct Trust {
    pub(super) ca: CertificateDer<'static>,
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

    pub fn roots(&self) -> Result<Arc<rustls::RootCertStore>, TlsError> {
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
        let verifier = self.verifier(expect)?;
        let mut c = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| TlsError::Config(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_client_cert_resolver(cert);
        c.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(c)
    }

    /// The check a client makes of what the other end presents: a chain to
    /// this CA and the identity `expect` names (and, for the server, the
    /// name dialled).
    pub fn verifier(
        &self,
        expect: Expect,
    ) -> Result<Arc<dyn rustls::client::danger::ServerCertVerifier>, TlsError> {
        let roots = self.roots()?;
        let webpki =
            rustls::client::WebPkiServerVerifier::builder_with_provider(roots.clone(), provider())
                .build()
                .map_err(|e| TlsError::Config(e.to_string()))?;
        Ok(Arc::new(IdentityVerifier {
            roots,
            webpki,
            expect,
        }))
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

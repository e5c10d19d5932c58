//! The certificates a running process presents: serve's own (re-issued
//! before it expires) and a device's (renewed by enrolling again).

use super::*;

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

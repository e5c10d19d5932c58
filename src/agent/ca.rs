//! The agent's CA bootstrap: which CA it trusts ([`CaSource`]: the server's
//! `ca.pem`, or a fingerprint), and learning a pinned CA from the server's
//! certificate chain at first contact, cached in the data dir.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;

use crate::trust::tls::{
    self, TlsError, Trust, fingerprint, parse_fingerprint, provider, save_trust,
};

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
    agent_dir.join(tls::CA_CERT_FILE)
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
        // The same check as every later connection: chain, the server's
        // identity, the name dialled.
        let ok = Trust::from_der(ca.clone())
            .verifier(tls::Expect::Server)
            .map_err(|e| rustls::Error::General(e.to_string()))?
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)?;
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

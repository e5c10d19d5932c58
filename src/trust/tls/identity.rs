//! The identity a certificate names (`urn:p2pd:server:ID`,
//! `urn:p2pd:device:ID`), and the names a server certificate is for.

use super::*;

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

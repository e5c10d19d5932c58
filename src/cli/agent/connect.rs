//! The arguments `p2pd agent` and `p2pd agent install` share: how an
//! agent reaches its server and its peers, checked in one place.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::agent::ca::CaSource;
use crate::cli::exit::ExitCode;
use crate::cli::fail;
use crate::trust::tls::{TlsError, parse_fingerprint};

/// How an agent reaches its server and its peers: what `agent` runs with
/// and what `agent install` writes into the service's configuration.
#[derive(Debug, clap::Args)]
pub struct Connect {
    /// Server URL, e.g. https://10.0.0.5:7650. Several replicas of one
    /// server: repeat it or separate with commas; the agent spreads over
    /// them and moves to another when one fails
    #[arg(long, value_name = "URL", value_delimiter = ',', required = true)]
    pub server: Vec<String>,
    /// File holding the shared key (base64, as printed by install).
    /// `agent install` copies it to /etc/p2pd/agent.key (on Windows:
    /// agent.key in the data dir); re-run it with a new key file after
    /// `p2pd key regenerate`: the running agent picks the new key up
    #[arg(long, value_name = "FILE")]
    pub key_file: PathBuf,
    /// The device's group (must be assigned to peer distribution)
    #[arg(long, value_name = "GROUP")]
    pub group: String,
    /// Address the agent's peer server listens on. The default, `[::]:7651`,
    /// is port 7651 on every address of every family the device has (IPv4
    /// too; IPv4 alone on a host without IPv6), so it keeps listening when
    /// DHCP, Wi-Fi or a VPN change its addresses
    #[arg(long, default_value = "[::]:7651", value_name = "ADDR:PORT")]
    pub listen: SocketAddr,
    /// A fixed address other devices reach this one at, for a device behind
    /// NAT or a port forward. Without it (the usual case) the server tells
    /// peers the address this device reaches it from now, on the --listen
    /// port, and follows it when it changes. Never the source address of
    /// the agent's connections: the operating system picks that
    #[arg(long, value_name = "ADDR:PORT")]
    pub advertise: Option<SocketAddr>,
    /// Bind every outgoing connection to this source address. Only for
    /// tests and hosts that run several agents on one machine (each on its
    /// own loopback address): a real device changes addresses, and a fixed
    /// source stops working when it does
    #[arg(long, value_name = "IP")]
    pub source_address: Option<std::net::IpAddr>,
    /// The server CA's certificate (the server's DATA_DIR/ca.pem): the
    /// server and every peer must prove a certificate from it. `agent
    /// install` copies it next to the key
    #[arg(long, value_name = "FILE", conflicts_with = "insecure_plain_http")]
    pub ca: Option<PathBuf>,
    /// The server CA's SHA-256 fingerprint, as `p2pd install` printed it:
    /// the agent learns the CA from the server at first contact, keeps it
    /// only if it has this fingerprint, and caches it in its data dir
    #[arg(long, value_name = "SHA256", conflicts_with = "insecure_plain_http")]
    pub ca_fingerprint: Option<String>,
    /// Talk plain HTTP to the server and peers: no TLS, no certificates.
    /// For benchmarks against `serve --insecure-plain-http` only
    #[arg(long)]
    pub insecure_plain_http: bool,
}

impl Connect {
    /// The server URLs (checked), the first one's HOST:PORT, and where the
    /// server CA comes from (`None`: plain HTTP).
    pub fn servers_and_ca(&self) -> anyhow::Result<(Vec<String>, String, Option<CaSource>)> {
        let usage = |e: crate::trust::tls::TlsError| fail(ExitCode::Usage, e.to_string());
        let (servers, host_port) = server_list(&self.server).map_err(usage)?;
        let ca = ca_source(
            &servers,
            self.ca.as_deref(),
            self.ca_fingerprint.as_deref(),
            self.insecure_plain_http,
        )
        .map_err(usage)?;
        Ok((servers, host_port, ca))
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

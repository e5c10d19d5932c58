//! `p2pd ca fingerprint | issue-proxy | regenerate`: the server CA (see `crate::trust::tls`;
//! it is kept in the database, `crate::vault::server_ca`).

use std::path::PathBuf;

use serde::Serialize;

use super::{Global, fail, output};
use crate::cli::exit::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Show the server CA's SHA-256 fingerprint (agents' --ca-fingerprint)
    Fingerprint(output::JsonFlag),
    /// Issue a certificate and key from the CA for a TLS-terminating load
    /// balancer in front of serve: agents accept it because it is from the
    /// CA. Give serve the balancer's address with --trusted-proxy
    IssueProxy(IssueProxyArgs),
    /// Replace the server CA with a new one (when its key may have leaked).
    /// Restart serve on every replica, then give agents the new ca.pem (or
    /// fingerprint): agents pinned to the old CA refuse the server until then
    Regenerate(output::JsonFlag),
}

#[derive(Debug, clap::Args)]
pub struct IssueProxyArgs {
    /// Host name or address agents dial (repeat for several)
    #[arg(long, value_name = "NAME", required = true)]
    pub name: Vec<String>,
    /// Directory to write proxy.pem (certificate and the CA after it) and
    /// proxy.key (owner-only) into
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Days the certificate is valid
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub days: u32,
    #[command(flatten)]
    pub out_json: output::JsonFlag,
}

#[derive(Serialize)]
struct Issued {
    certificate: String,
    key: String,
    names: Vec<String>,
    days: u32,
    ca_fingerprint: String,
}

pub fn run(g: &Global, c: Command) -> anyhow::Result<ExitCode> {
    let dir = g.data_dir();
    let st = super::open_store(g)?;
    match c {
        Command::Fingerprint(j) => {
            let ca = crate::vault::server_ca::trust(&dir, &st)
                .map_err(|e| fail(ExitCode::Failed, e.to_string()))?;
            if j.json {
                output::print_json(&serde_json::json!({ "ca_fingerprint": ca.fingerprint() }))?;
            } else {
                println!("{}", ca.fingerprint());
            }
            Ok(ExitCode::Ok)
        }
        Command::Regenerate(j) => {
            let old = crate::vault::server_ca::trust(&dir, &st)
                .ok()
                .map(|t| t.fingerprint());
            let ca = crate::vault::server_ca::regenerate(&dir, &st)
                .map_err(|e| fail(ExitCode::Failed, e.to_string()))?;
            let file = dir
                .join(crate::trust::tls::CA_CERT_FILE)
                .display()
                .to_string();
            if j.json {
                output::print_json(&serde_json::json!({
                    "ca_fingerprint": ca.fingerprint(),
                    "retired_fingerprint": old,
                    "ca_file": file,
                }))?;
            } else {
                println!(
                    "new server CA {} (was {}), written to {file}: restart serve on every \
                     replica, then roll it out with `p2pd agent install --ca {file} ...` (or \
                     --ca-fingerprint; agents started with --ca-fingerprint also need their \
                     cached ca.pem removed)",
                    ca.fingerprint(),
                    old.as_deref().unwrap_or("none")
                );
            }
            Ok(ExitCode::Ok)
        }
        Command::IssueProxy(a) => {
            let ca = crate::vault::server_ca::load(&dir, &st)
                .map_err(|e| fail(ExitCode::Failed, e.to_string()))?;
            let server_id = st
                .server()
                .map_err(|e| fail(ExitCode::Failed, e.to_string()))?
                .map(|s| s.server_id)
                .ok_or_else(|| {
                    fail(
                        ExitCode::Failed,
                        "this data dir has no server: run `p2pd install` first".to_string(),
                    )
                })?;
            let (cert, key) = ca
                .issue_proxy(
                    &server_id,
                    &a.name,
                    std::time::Duration::from_secs(u64::from(a.days) * 24 * 3600),
                )
                .map_err(|e| fail(ExitCode::Usage, e.to_string()))?;
            std::fs::create_dir_all(&a.out)
                .map_err(|e| fail(ExitCode::Failed, format!("{}: {e}", a.out.display())))?;
            let cert_path = a.out.join("proxy.pem");
            let key_path = a.out.join("proxy.key");
            crate::trust::tls::write_pem(&cert_path, &format!("{cert}{}", ca.cert_pem()), false)?;
            crate::trust::tls::write_pem(&key_path, &key, true)?;
            let out = Issued {
                certificate: cert_path.display().to_string(),
                key: key_path.display().to_string(),
                names: a.name,
                days: a.days,
                ca_fingerprint: ca.fingerprint(),
            };
            if a.out_json.json {
                output::print_json(&out)?;
            } else {
                println!(
                    "wrote {} and {} (owner-only) for {}, valid {} days",
                    out.certificate,
                    out.key,
                    out.names.join(", "),
                    out.days
                );
                println!(
                    "The balancer serves them, asks clients for certificates from {} and \
                     forwards each as the {} header (URL-encoded PEM) to serve, which runs with \
                     --trusted-proxy BALANCER_IP",
                    dir.join(crate::trust::tls::CA_CERT_FILE).display(),
                    crate::server::FORWARDED_CERT_HEADER
                );
            }
            Ok(ExitCode::Ok)
        }
    }
}

//! `p2pd key fingerprint | regenerate`.

use serde::Serialize;

use super::{Global, open_store, output};
use crate::exit::ExitCode;
use crate::key::{SharedKey, key_path};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Show the current key's fingerprint and version (never the key)
    Fingerprint(output::JsonFlag),
    /// Make a new shared key; the old one stops working everywhere
    Regenerate(output::JsonFlag),
}

pub fn run(g: &Global, c: Command) -> anyhow::Result<ExitCode> {
    match c {
        Command::Fingerprint(j) => fingerprint(g, j.json),
        Command::Regenerate(j) => regenerate(g, j.json),
    }
}

#[derive(Serialize)]
struct Fingerprint {
    key_fingerprint: String,
    key_version: i64,
    retired: Vec<Retired>,
    /// The server CA's fingerprint (agents' `--ca-fingerprint`); absent on
    /// an install made before TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_fingerprint: Option<String>,
}

#[derive(Serialize)]
struct Retired {
    version: i64,
    fingerprint: String,
}

fn fingerprint(g: &Global, json: bool) -> anyhow::Result<ExitCode> {
    let st = open_store(g)?;
    let server = st
        .server()?
        .ok_or_else(|| anyhow::anyhow!("database has no server row; reinstall"))?;
    let out = Fingerprint {
        key_fingerprint: server.key_fingerprint,
        key_version: server.key_version,
        retired: st
            .retired_fingerprints()?
            .into_iter()
            .map(|(version, fingerprint)| Retired {
                version,
                fingerprint,
            })
            .collect(),
        ca_fingerprint: crate::tls::Trust::load(&g.data_dir().join(crate::tls::CA_CERT_FILE))
            .ok()
            .map(|ca| ca.fingerprint()),
    };
    if json {
        output::print_json(&out)?;
    } else {
        println!("{} (version {})", out.key_fingerprint, out.key_version);
        if let Some(ca) = &out.ca_fingerprint {
            println!("CA {ca}");
        }
    }
    Ok(ExitCode::Ok)
}

#[derive(Serialize)]
struct Regenerated {
    key: String,
    key_fingerprint: String,
    key_version: i64,
    retired_fingerprint: String,
}

/// Makes a new key and key version; keeps settings, topology, devices and
/// content. The database change and the key file replacement happen in one
/// transaction: if the key file cannot be written, the database rolls back.
pub fn regenerate(g: &Global, json: bool) -> anyhow::Result<ExitCode> {
    let dir = g.data_dir();
    let mut st = open_store(g)?;
    let key = SharedKey::generate()?;
    let fp = key.fingerprint();
    let (version, retired) = st.rotate_key(&fp, || {
        key.save(&key_path(&dir))?;
        Ok::<_, anyhow::Error>(())
    })?;
    let out = Regenerated {
        key: key.to_base64(),
        key_fingerprint: fp,
        key_version: version,
        retired_fingerprint: retired,
    };
    if json {
        output::print_json(&out)?;
    } else {
        println!(
            "New shared key, version {} (fingerprint {}); key {} is retired.",
            out.key_version, out.key_fingerprint, out.retired_fingerprint
        );
        super::install::print_key_once(&mut std::io::stdout().lock(), &out.key)?;
        println!(
            "A running `p2pd serve` switches to it within a second, no restart needed. \
             Give the new key to every device: `p2pd agent install --key-file NEW.key ...`."
        );
    }
    Ok(ExitCode::Ok)
}

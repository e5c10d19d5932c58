//! `p2pd key fingerprint | regenerate` (the work is [`crate::ops::install`]).

use super::install::install_error;
use super::{Global, open_store, output};
use crate::cli::exit::ExitCode;

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

fn fingerprint(g: &Global, json: bool) -> anyhow::Result<ExitCode> {
    let st = open_store(g)?;
    let out = crate::ops::install::fingerprint(&g.data_dir(), &st).map_err(install_error)?;
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

/// `key regenerate` and `install --regenerate-key`.
pub fn regenerate(g: &Global, json: bool) -> anyhow::Result<ExitCode> {
    let mut st = open_store(g)?;
    let out = crate::ops::install::regenerate_key(&g.data_dir(), &mut st).map_err(install_error)?;
    if json {
        output::print_json(&out)?;
    } else {
        println!(
            "New shared key, version {} (fingerprint {}); key {} is retired.",
            out.key_version, out.key_fingerprint, out.retired_fingerprint
        );
        output::print_key_once(&mut std::io::stdout().lock(), &out.key)?;
        println!(
            "A running `p2pd serve` (every replica, on a shared database) switches to it \
             within a second, no restart needed. \
             Give the new key to every device: `p2pd agent install --key-file NEW.key ...`."
        );
    }
    Ok(ExitCode::Ok)
}

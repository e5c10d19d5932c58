//! `p2pd ui token`: make a new admin token for the dashboard and `/metrics`.

use std::io::Write;

use super::Global;
use crate::cli::exit::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Make a new admin token (the old one stops working at once) and
    /// print it with the dashboard's address
    Token(TokenArgs),
}

#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// Print {"admin_token", "url"} as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(g: &Global, c: Command) -> anyhow::Result<ExitCode> {
    match c {
        Command::Token(a) => token(g, a),
    }
}

fn token(g: &Global, a: TokenArgs) -> anyhow::Result<ExitCode> {
    let st = super::open_store(g)?;
    let token = crate::server::ui::new_admin_token(&st)?;
    let get = |s: crate::domain::settings::Setting| -> anyhow::Result<String> {
        Ok(st.setting(s.name())?.unwrap_or_else(|| s.default_value()))
    };
    let url = format!(
        "https://{}:{}/ui/login",
        get(crate::domain::settings::Setting::ServerName)?,
        get(crate::domain::settings::Setting::Port)?
    );
    if a.json {
        super::output::print_json(&serde_json::json!({ "admin_token": token, "url": url }))?;
    } else {
        let mut o = std::io::stdout().lock();
        writeln!(o, "new admin token (the previous one no longer works):")?;
        writeln!(o)?;
        writeln!(o, "    {token}")?;
        writeln!(o)?;
        writeln!(
            o,
            "Dashboard: open {url}?token=TOKEN once in a browser (it sets a cookie and drops the token from the address)."
        )?;
        writeln!(
            o,
            "Prometheus: send it as `Authorization: Bearer TOKEN` to /metrics on the same listener."
        )?;
    }
    Ok(ExitCode::Ok)
}

//! `p2pd health`: parses the options, runs [`crate::ops::health::check`] and
//! prints its report.
//!
//! Exit codes: 0 healthy (warnings allowed, unless `--strict`), 1 a check
//! failed, 2 could not run at all (no install, unreadable database).

use super::{Global, fail, output};
use crate::cli::exit::ExitCode;
use crate::ops::health::{HealthError, Options, Report, Status};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also re-hash every published package in file storage against its
    /// content ID (reads every byte; slow on large libraries)
    #[arg(long)]
    pub deep: bool,
    /// Treat warnings (such as no-office clients) as failures
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub out: output::JsonFlag,
    /// Server URL to check (default: https://SERVER_NAME:PORT from the settings)
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Seconds to wait for the server's answer
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub timeout: f64,
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let usage = |e: HealthError| fail(ExitCode::Usage, e.to_string());
    let o = Options {
        deep: a.deep,
        strict: a.strict,
        server: a.server,
        timeout: crate::ops::health::timeout_secs(a.timeout).map_err(usage)?,
        database: g.database.as_deref().map(str::to_string),
    };
    let report = crate::ops::health::check(&g.data_dir(), &o).map_err(|e| match e {
        HealthError::NotInstalled(e) => e.into(),
        HealthError::Store(_) | HealthError::Topology(_) => anyhow::Error::new(e),
        e => usage(e),
    })?;
    if a.out.json {
        output::print_json(&report)?;
    } else {
        print_table(&report);
    }
    Ok(if report.healthy {
        ExitCode::Ok
    } else {
        ExitCode::Failed
    })
}

fn print_table(r: &Report) {
    let mut t = output::table(&["check", "status", "detail"]);
    for c in &r.checks {
        t.add_row(vec![c.check, c.status.label(), &c.detail]);
    }
    println!("{t}");
    for c in &r.checks {
        if let Some(fix) = &c.fix {
            println!("fix {}: {fix}", c.check);
        }
    }
    let named = |s: Status| -> Vec<&str> {
        r.checks
            .iter()
            .filter(|c| c.status == s)
            .map(|c| c.check)
            .collect()
    };
    let (failed, warned) = (named(Status::Fail), named(Status::Warn));
    let warn_note = if warned.is_empty() {
        String::new()
    } else {
        format!("; warnings: {}", warned.join(", "))
    };
    if r.healthy {
        println!("healthy{warn_note}");
    } else {
        println!("unhealthy: failed: {}{warn_note}", failed.join(", "));
    }
}

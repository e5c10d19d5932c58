//! `p2pd generate`: man pages and shell completions from the clap
//! definitions. The output is committed in `man/` and `completions/`; the
//! test `tests/it/generated.rs` fails when they are stale.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::exit::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write man/ and completions/
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub out_dir: PathBuf,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    for (rel, bytes) in render()? {
        let path = a.out_dir.join(&rel);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).with_context(|| format!("cannot create {}", p.display()))?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(ExitCode::Ok)
}

/// Every generated file: (path relative to the repo root, contents).
pub fn render() -> anyhow::Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut out = Vec::new();
    man_pages(&documented(), "p2pd", &mut out)?;
    for (shell, file) in [
        (Shell::Bash, "p2pd.bash"),
        (Shell::Zsh, "_p2pd"),
        (Shell::Fish, "p2pd.fish"),
        (Shell::PowerShell, "_p2pd.ps1"),
        (Shell::Elvish, "p2pd.elv"),
    ] {
        out.push((Path::new("completions").join(file), completion(shell)));
    }
    Ok(out)
}

/// The completion script for `shell`, as `p2pd completions SHELL` prints
/// it and `completions/` holds it.
pub fn completion(shell: Shell) -> Vec<u8> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut documented(), "p2pd", &mut buf);
    buf
}

/// The command tree as documented: hidden subcommands (`generate`, for
/// packagers) left out, since completion generators list them anyway; no
/// `help` subcommands, which would name man pages that are not shipped
/// (`p2pd-help(1)`); and global options (`--data-dir`, `-v`) shown on every
/// subcommand's page, where they work too.
pub fn documented() -> clap::Command {
    fn strip(cmd: clap::Command) -> clap::Command {
        let subs: Vec<clap::Command> = cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .cloned()
            .map(strip)
            .collect();
        // clap cannot remove a subcommand, so the command is rebuilt from
        // its parts with only the visible ones.
        let c = cmd;
        let mut rebuilt = clap::Command::new(c.get_name().to_string())
            .args(c.get_arguments().cloned())
            .groups(c.get_groups().cloned())
            .disable_help_subcommand(true)
            .subcommands(subs);
        if let Some(a) = c.get_about() {
            rebuilt = rebuilt.about(a.clone());
        }
        if let Some(a) = c.get_long_about() {
            rebuilt = rebuilt.long_about(a.clone());
        }
        if let Some(a) = c.get_after_help() {
            rebuilt = rebuilt.after_help(a.clone());
        }
        if let Some(a) = c.get_after_long_help() {
            rebuilt = rebuilt.after_long_help(a.clone());
        }
        if let Some(v) = c.get_version() {
            rebuilt = rebuilt.version(v.to_string());
        }
        if let Some(v) = c.get_long_version() {
            rebuilt = rebuilt.long_version(v.to_string());
        }
        if c.is_disable_version_flag_set() {
            rebuilt = rebuilt.disable_version_flag(true);
        }
        if c.is_subcommand_required_set() {
            rebuilt = rebuilt.subcommand_required(true);
        }
        if c.is_arg_required_else_help_set() {
            rebuilt = rebuilt.arg_required_else_help(true);
        }
        if c.is_propagate_version_set() {
            rebuilt = rebuilt.propagate_version(true);
        }
        rebuilt
    }
    let mut cmd = strip(super::Cli::command());
    // Propagates the global options into every subcommand.
    cmd.build();
    cmd
}

fn man_pages(
    cmd: &clap::Command,
    name: &str,
    out: &mut Vec<(PathBuf, Vec<u8>)>,
) -> anyhow::Result<()> {
    if cmd.is_hide_set() {
        return Ok(());
    }
    let cmd = cmd.clone().name(name.to_string());
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
    if name == "p2pd" {
        buf.extend_from_slice(top_page_extra().as_bytes());
    }
    out.push((Path::new("man").join(format!("{name}.1")), buf));
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        man_pages(sub, &format!("{name}-{}", sub.get_name()), out)?;
    }
    Ok(())
}

/// EXIT STATUS, FILES and ENVIRONMENT for `man p2pd`.
fn top_page_extra() -> String {
    let mut s = String::from(".SH \"EXIT STATUS\"\n");
    for (code, what) in crate::cli::exit::TABLE {
        s.push_str(&format!(".TP\n\\fB{code}\\fR\n{what}\n"));
    }
    s.push_str(".SH FILES\n");
    for (f, what) in [
        (
            "DATA_DIR/p2pd.db",
            "the SQLite database (WAL mode): settings, topology, devices, content",
        ),
        (
            "DATA_DIR/shared.key",
            "the shared key, base64, mode 0600; shown once at install",
        ),
        (
            "DATA_DIR/publish.lock",
            "held by a running publish so that cron runs never overlap",
        ),
        ("DATA_DIR/logs/", "log files"),
        ("/var/lib/p2pd", "the default DATA_DIR for root"),
    ] {
        s.push_str(&format!(".TP\n\\fI{f}\\fR\n{what}\n"));
    }
    s.push_str(".SH ENVIRONMENT\n.TP\n\\fBP2PD_DATA_DIR\\fR\nthe server's data dir, as --data-dir\n.TP\n\\fBP2PD_AGENT_DATA_DIR\\fR\nthe agent's own data dir, as --data-dir of agent (default /var/lib/p2pd-agent)\n.TP\n\\fBP2PD_LOG\\fR\nlog filter, e.g. info or p2pd=debug\n");
    s
}

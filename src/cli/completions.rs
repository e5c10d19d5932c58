//! `p2pd completions SHELL`: print the shell completion script, the same
//! one `completions/` ships (see `generate`).

use std::io::Write;

use clap_complete::Shell;

use crate::cli::exit::ExitCode;

#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Install, for example:
  bash:  p2pd completions bash > /etc/bash_completion.d/p2pd
  zsh:   p2pd completions zsh > \"${fpath[1]}/_p2pd\"
  fish:  p2pd completions fish > ~/.config/fish/completions/p2pd.fish")]
pub struct Args {
    /// The shell to complete for
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    std::io::stdout()
        .lock()
        .write_all(&super::generate::completion(a.shell))?;
    Ok(ExitCode::Ok)
}

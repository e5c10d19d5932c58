//! `p2pd publish` progress: a bar on a terminal, one line per package
//! otherwise.

use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::output;
use crate::content::publish::{Observer, PackageReport, Status};

/// Progress for people: a bar on a terminal, one plain line per package
/// otherwise (on stdout, or stderr when stdout carries `--json`).
pub struct Progress {
    /// The bar, once hashing starts on a terminal.
    bar: Option<ProgressBar>,
    /// Plain lines go to stderr, keeping stdout for the JSON report.
    json: bool,
    /// Packages hashed so far and to hash, for the bar's message.
    done: usize,
    total: usize,
}

impl Progress {
    pub fn new(json: bool) -> Progress {
        Progress {
            bar: None,
            json,
            done: 0,
            total: 0,
        }
    }

    fn interactive() -> bool {
        std::io::stderr().is_terminal()
    }

    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

fn line(p: &PackageReport) -> String {
    let status = match p.status {
        Status::Published => "published",
        Status::Unchanged => "unchanged",
        Status::Failed => "FAILED",
        Status::Missing => "missing",
        Status::Pruned => "pruned",
    };
    let mut s = format!("{status:<9} {}", p.path);
    if !p.name.is_empty() {
        s.push_str(&format!(
            "  {} {}",
            p.name,
            if p.version.is_empty() {
                "-"
            } else {
                &p.version
            }
        ));
        if !p.arch.is_empty() {
            s.push_str(&format!(" {}", p.arch));
        }
    }
    if let Some(size) = p.size {
        s.push_str(&format!("  {}", output::bytes(size)));
    }
    if let Some(id) = &p.id {
        s.push_str(&format!("  {}", &id[..id.len().min(12)]));
    }
    if let Some(m) = &p.message {
        s.push_str(&format!("  ({m})"));
    }
    s
}

impl Observer for Progress {
    fn begin(&mut self, packages: usize, bytes: u64) {
        self.total = packages;
        if !Self::interactive() || packages == 0 {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(bytes), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} hashing [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
            )
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(format!("0/{packages} packages"));
        self.bar = Some(bar);
    }

    fn hashed(&mut self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    fn package(&mut self, p: &PackageReport) {
        match &self.bar {
            Some(b) => {
                // Unchanged packages are only counted: on a terminal, a
                // re-run over thousands would bury what changed.
                if p.status != Status::Unchanged {
                    b.println(line(p));
                }
                if matches!(p.status, Status::Published | Status::Failed) {
                    self.done += 1;
                    b.set_message(format!("{}/{} packages", self.done, self.total));
                }
            }
            None if Self::interactive() => {
                if p.status != Status::Unchanged {
                    eprintln!("{}", line(p));
                }
            }
            None if self.json => eprintln!("{}", line(p)),
            // Ignored: a closed stdout (`| head`) must not stop the run.
            None => {
                let _ = writeln!(std::io::stdout().lock(), "{}", line(p));
            }
        }
    }
}

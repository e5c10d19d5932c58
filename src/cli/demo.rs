//! `p2pd demo`: parses the options, runs [`crate::ops::demo`] and shows its
//! progress (bars on a terminal, one line per office otherwise) and the
//! final report.

use std::collections::{HashMap, HashSet};
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::{fail, output};
use crate::cli::exit::ExitCode;
use crate::ops::demo::{Demo, DemoResult, Options, Snapshot};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Package size, in MiB
    #[arg(long, default_value_t = 64)]
    pub size: u64,
    /// Devices per office
    #[arg(long, default_value_t = 4)]
    pub devices: u32,
    /// Give up after this many seconds
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// Keep the temporary directory (for inspection) instead of deleting it
    #[arg(long)]
    pub keep: bool,
    /// Print the final report as JSON
    #[arg(long)]
    pub json: bool,
    /// After the report, keep serve and the agents running until Ctrl-C, so
    /// the dashboard (whose address the demo prints) stays open
    #[arg(long)]
    pub stay: bool,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    if !crate::platform::SERVER_SUPPORTED {
        return Err(fail(
            ExitCode::Usage,
            format!(
                "p2pd demo runs a local server, and `p2pd serve` runs on Linux only (this is {}); run the demo on a Linux host",
                crate::platform::OS
            ),
        ));
    }
    if a.size == 0 || a.devices == 0 {
        return Err(fail(
            ExitCode::Usage,
            "--size and --devices must be at least 1",
        ));
    }
    let o = Options {
        size: a.size << 20,
        devices: a.devices,
        keep: a.keep,
    };
    let json = a.json;
    let mut say = |s: &str| {
        if !json {
            println!("{s}");
        }
    };
    // Blocking setup (files, SQLite) before the runtime starts.
    let prepared = crate::ops::demo::prepare(&o, &mut say)?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let mut demo = Demo::start(prepared).await?;
        let (addr, token) = (demo.server(), demo.admin_token().to_string());
        say(&format!(
            "  dashboard: https://{addr}/ui/login?token={token} \
             (the certificate is from the demo's own CA: your browser asks you to accept it)"
        ));
        say(&format!(
            "  metrics:   curl --cacert {} -H 'Authorization: Bearer {token}' https://{addr}/metrics",
            demo.ca_file().display()
        ));
        say(&format!(
            "  serve and {} agents running; distributing",
            demo.agents()
        ));
        let mut view = ProgressView::new(!a.json && std::io::stdout().is_terminal(), a.devices);
        let result = demo
            .distribute(Duration::from_secs(a.timeout), |s| view.show(s, a.json))
            .await?;
        let Some(result) = result else {
            eprintln!("p2pd demo: interrupted; cleaning up");
            demo.stop().await;
            return Ok(ExitCode::Failed);
        };
        print_result(&result, a.json)?;
        if a.keep && !a.json {
            println!("kept {}", demo.root().display());
        }
        if a.stay {
            eprintln!(
                "p2pd demo: serve and the agents keep running for the dashboard at \
                 https://{addr}/ui; press Ctrl-C to stop"
            );
            tokio::signal::ctrl_c().await.ok();
        }
        demo.stop().await;
        Ok(if result.passed() {
            ExitCode::Ok
        } else {
            ExitCode::Failed
        })
    })
}

/// Progress per office: bars on a terminal, else one line per finished
/// office (nothing with `--json`).
struct ProgressView {
    bars: Option<MultiProgress>,
    office_bars: HashMap<&'static str, ProgressBar>,
    finished: HashSet<&'static str>,
    started: std::time::Instant,
    devices: u32,
}

impl ProgressView {
    fn new(tty: bool, devices: u32) -> ProgressView {
        ProgressView {
            bars: tty.then(MultiProgress::new),
            office_bars: HashMap::new(),
            finished: HashSet::new(),
            started: std::time::Instant::now(),
            devices,
        }
    }

    fn show(&mut self, s: &Snapshot, json: bool) {
        for o in &s.offices {
            if o.done && self.finished.insert(o.office) && self.bars.is_none() && !json {
                println!(
                    "  {}: all {} done in {:.1} s",
                    o.office,
                    output::count(self.devices as usize, "device"),
                    self.started.elapsed().as_secs_f64()
                );
            }
            let Some(mp) = &self.bars else { continue };
            let bar = self.office_bars.entry(o.office).or_insert_with(|| {
                let b = mp.add(ProgressBar::new(o.pieces_wanted));
                b.set_style(
                    ProgressStyle::with_template("  {prefix:<16} [{bar:40}] {percent:>3}% {msg}")
                        .expect("valid template")
                        .progress_chars("=> "),
                );
                b.set_prefix(o.office);
                b
            });
            bar.set_position(o.pieces.min(o.pieces_wanted));
            bar.set_message(format!("{} of {} devices", o.devices_done, self.devices));
            if o.done {
                bar.finish();
            }
        }
    }
}

fn print_result(r: &DemoResult, json: bool) -> anyhow::Result<()> {
    if json {
        return output::print_json(r);
    }
    println!();
    super::report::print_report(&mut std::io::stdout().lock(), &r.report)?;
    println!(
        "{}/{} devices hold the verified file (SHA-256 {}…) after {:.1} s; \
         at most {:.2} WAN copies entered any office.",
        r.devices_verified,
        r.devices,
        &r.content_id[..12],
        r.seconds,
        r.max_wan_copies
    );
    Ok(())
}

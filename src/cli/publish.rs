//! `p2pd publish`: publish packages from file storage (see `content::publish`).

use std::io::Write;
use std::time::Instant;

use super::publish_progress::Progress;
use super::{Global, fail, open_store, output};
use crate::cli::exit::ExitCode;
use crate::content::groups::validate_group_name;
use crate::content::publish::{self, LockError, PublishError, Request, Status};
use crate::content::storage::{INDEX_FILE, Storage};

#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Name, version and arch come from the path: NAME/VERSION/FILE (the two directories above the \
file, VERSION starting with a digit); else Debian's NAME_VERSION_ARCH.deb and RPM's \
NAME-VERSION-RELEASE.ARCH.rpm; else the file name's words: the first starting with a digit (or v \
and a digit) begins the version, an arch word (x64, amd64, arm64, x86_64, win64, 64-bit, ...) is \
the arch, installer noise (Setup, Installer, win, bin, ...) is dropped: \"Firefox Setup 128.0.msi\" \
is Firefox 128.0, \"7zip-23.01-x64.msi\" is 7zip 23.01 x64. --name/--version override them for \
one package.

An http(s) file storage must serve BASE/index.json:
  {\"packages\": [{\"path\": \"firefox/128.0/setup.msi\", \"size\": 61440000,
                 \"mtime\": 1719859200, \"sha256\": \"<64 hex digits>\"}]}
path and size are required; mtime (unix seconds) and sha256 are optional and let re-runs \
skip unchanged packages without downloading them.

A file that no rule names right gets its name, version and arch from FILE_STORAGE/.p2pd-names.csv \
(header path,name,version,arch; path relative to file storage; an empty cell keeps what the rules \
found). Being a dot-file, it is never published itself.

Exit status: 0 all packages published or unchanged; 1 a package failed (the others are \
still published); 2 bad usage; 3 another publish is running (cron runs overlapped); \
5 done, with warnings: nothing failed, but a published package is missing from file storage \
(put it back, or withdraw it with --prune). Cron can alert on any non-zero status.")]
pub struct Args {
    /// Publish every package in file storage
    #[arg(long, conflicts_with = "paths", required_unless_present = "paths")]
    pub all: bool,
    /// Packages or directories to publish, relative to file storage
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,
    /// Package name, instead of the one taken from the path (one package only)
    #[arg(long, requires = "paths")]
    pub name: Option<String>,
    /// Package version, instead of the one taken from the path (one package only)
    #[arg(long = "version", value_name = "VERSION", requires = "paths")]
    pub pkg_version: Option<String>,
    /// Target only these assigned groups (comma-separated) instead of all
    /// assigned groups
    #[arg(long, value_delimiter = ',', value_name = "G1,G2")]
    pub groups: Option<Vec<String>>,
    /// Hash packages whose size and mtime are unchanged too, and republish
    /// any whose bytes changed
    #[arg(long)]
    pub verify: bool,
    /// Withdraw packages no longer in storage and superseded versions
    #[arg(long, requires = "all")]
    pub prune: bool,
    #[command(flatten)]
    pub out: output::JsonFlag,
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let groups = match &a.groups {
        Some(gs) => Some(
            gs.iter()
                .map(|x| validate_group_name(x))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| fail(ExitCode::Usage, format!("--groups: {e}")))?,
        ),
        None => None,
    };
    let mut store = open_store(g)?;
    let setting = store.setting("file_storage")?.unwrap_or_default();
    let storage = Storage::from_setting(&setting)?;
    let _lock = publish::lock(&g.data_dir()).map_err(|e| match e {
        e @ LockError::Busy { .. } => fail(ExitCode::Busy, e.to_string()),
        e => anyhow::Error::new(e),
    })?;
    let req = Request {
        paths: a.paths.clone(),
        all: a.all,
        name: a.name.clone(),
        version: a.pkg_version.clone(),
        groups,
        verify: a.verify,
        prune: a.prune,
    };
    if store.assigned_groups()?.is_empty() {
        eprintln!(
            "p2pd: warning: no groups are assigned to peer distribution, so published content \
             reaches no device yet; assign some with `p2pd groups assign GROUP`"
        );
    }
    let started = Instant::now();
    let mut obs = Progress::new(a.out.json);
    let report = match publish::publish(&mut store, &storage, &req, &mut obs) {
        Ok(r) => r,
        Err(e @ (PublishError::GroupNotAssigned(_) | PublishError::OverrideNeedsOnePackage(_))) => {
            return Err(fail(ExitCode::Usage, e.to_string()));
        }
        Err(PublishError::Storage(e)) => {
            return Err(anyhow::Error::new(e).context(format!(
                "could not list file storage {} (for http storage: BASE/{INDEX_FILE})",
                storage.describe()
            )));
        }
        Err(e) => return Err(e.into()),
    };
    obs.finish();
    let code = if report.summary.failed > 0 {
        ExitCode::Failed
    } else if report.summary.missing > 0 {
        ExitCode::Warnings
    } else {
        ExitCode::Ok
    };
    if a.out.json {
        output::print_json(&report)?;
        return Ok(code);
    }
    let s = &report.summary;
    let secs = started.elapsed().as_secs_f64();
    let mut t = output::table(&["packages", "count"]);
    for (k, v) in [
        ("published", s.published),
        ("unchanged", s.unchanged),
        ("failed", s.failed),
        ("missing", s.missing),
        ("pruned", s.pruned),
    ] {
        t.add_row(vec![k.to_string(), v.to_string()]);
    }
    t.add_row(vec![
        "hashed".to_string(),
        format!(
            "{} in {secs:.1} s ({}/s)",
            output::bytes(s.bytes_hashed),
            output::bytes((s.bytes_hashed as f64 / secs.max(1e-9)) as u64)
        ),
    ]);
    // The work is done and the exit code says how it went; a reader that
    // stopped early (`publish --all | head -2`) must not change that.
    let _ = summary(&t, s, &report);
    Ok(code)
}

fn summary(
    t: &comfy_table::Table,
    s: &publish::Summary,
    report: &publish::Report,
) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{t}")?;
    if s.missing > 0 && s.failed == 0 {
        writeln!(
            out,
            "done, with warnings: {} missing from file storage (exit status 5); put {} back, \
             or withdraw {} with `p2pd publish --all --prune`",
            output::count(s.missing, "published package"),
            if s.missing == 1 { "it" } else { "them" },
            if s.missing == 1 { "it" } else { "them" },
        )?;
    }
    if s.failed > 0 {
        writeln!(out, "failed:")?;
        for p in report
            .packages
            .iter()
            .filter(|p| p.status == Status::Failed)
        {
            writeln!(
                out,
                "  {}: {}",
                p.path,
                p.message.as_deref().unwrap_or("failed")
            )?;
        }
    }
    Ok(())
}

//! `p2pd content list | show ID`: what is published.

use serde::Serialize;

use super::{Global, fail, open_store, output};
use crate::cli::exit::ExitCode;
use crate::store::content::ContentSummary;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List published content: name, version, size, pieces, targets, time
    List {
        #[command(flatten)]
        out: output::JsonFlag,
        /// Show full content ids (the table shows the first 12 hex digits)
        #[arg(long)]
        wide: bool,
    },
    /// Show one content, with its piece hashes in --json
    Show {
        /// Content ID (hex SHA-256), or a unique prefix of it
        id: String,
        #[command(flatten)]
        out: output::JsonFlag,
    },
}

#[derive(Serialize)]
struct Shown<'a> {
    #[serde(flatten)]
    summary: &'a ContentSummary,
    published: String,
    /// Hex SHA-256 of each piece, in order.
    piece_hashes: Vec<String>,
}

pub fn run(g: &Global, c: Command) -> anyhow::Result<ExitCode> {
    let store = open_store(g)?;
    match c {
        Command::List { out, wide } => {
            let rows = store.content_summaries()?;
            if out.json {
                output::print_json(&rows)?;
                return Ok(ExitCode::Ok);
            }
            if rows.is_empty() {
                println!("nothing published yet; run `p2pd publish --all`");
                return Ok(ExitCode::Ok);
            }
            let mut t = output::table(&[
                "id",
                "name",
                "version",
                "arch",
                "size",
                "pieces",
                "targets",
                "published",
            ]);
            for r in &rows {
                t.add_row(vec![
                    if wide {
                        r.id.clone()
                    } else {
                        r.id.chars().take(12).collect()
                    },
                    r.name.clone(),
                    dash(&r.version),
                    dash(&r.arch),
                    output::bytes(r.size),
                    r.pieces.to_string(),
                    targets(r),
                    output::time(Some(r.published_at)),
                ]);
            }
            println!("{t}");
            Ok(ExitCode::Ok)
        }
        Command::Show { id, out } => {
            let want = id.trim().to_ascii_lowercase();
            if want.is_empty() || !want.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(fail(
                    ExitCode::Usage,
                    format!("'{id}' is not a content ID; IDs are hex, see `p2pd content list`"),
                ));
            }
            let ids = store.content_ids_with_prefix(&want, 5)?;
            let full = match ids.as_slice() {
                [one] => one.clone(),
                [] => {
                    return Err(fail(
                        ExitCode::Failed,
                        format!(
                            "no published content has an ID starting with {want}; see `p2pd content list`"
                        ),
                    ));
                }
                many => {
                    return Err(fail(
                        ExitCode::Usage,
                        format!(
                            "ID prefix {want} matches several contents ({}…); give more digits",
                            many.join(", ")
                        ),
                    ));
                }
            };
            let c = store
                .content(&full)?
                .ok_or_else(|| anyhow::anyhow!("content {full} was withdrawn meanwhile"))?;
            let s = &c.summary;
            if out.json {
                output::print_json(&Shown {
                    summary: s,
                    published: output::time(Some(s.published_at)),
                    piece_hashes: c.piece_hashes.chunks(32).map(hex::encode).collect(),
                })?;
                return Ok(ExitCode::Ok);
            }
            let mut t = output::table(&["", ""]);
            for (k, v) in [
                ("id", s.id.clone()),
                ("name", s.name.clone()),
                ("version", dash(&s.version)),
                ("arch", dash(&s.arch)),
                ("path", s.path.clone()),
                (
                    "size",
                    format!("{} ({} bytes)", output::bytes(s.size), s.size),
                ),
                (
                    "pieces",
                    format!("{} of {}", s.pieces, output::bytes(s.piece_size)),
                ),
                ("targets", targets(s)),
                ("published", output::time(Some(s.published_at))),
            ] {
                t.add_row(vec![k.to_string(), v]);
            }
            println!("{t}");
            Ok(ExitCode::Ok)
        }
    }
}

fn dash(s: &str) -> String {
    if s.is_empty() { "-".into() } else { s.into() }
}

fn targets(c: &ContentSummary) -> String {
    let list = if c.targets.is_empty() {
        "(none)".to_string()
    } else {
        c.targets.join(", ")
    };
    if c.all_groups {
        format!("{list} [all assigned]")
    } else {
        list
    }
}

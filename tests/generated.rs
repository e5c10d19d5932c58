//! man/ and completions/ are generated from the clap definitions and
//! committed. This test renders them in memory and fails, with the command
//! that refreshes them, when the committed files are stale.

use std::path::Path;

#[test]
fn man_pages_and_completions_are_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stale = Vec::new();
    let rendered = p2pd::cli::generate::render().expect("render");
    for (rel, bytes) in &rendered {
        match std::fs::read(root.join(rel)) {
            Ok(on_disk) if &on_disk == bytes => {}
            Ok(_) => stale.push(format!("{} differs", rel.display())),
            Err(_) => stale.push(format!("{} is missing", rel.display())),
        }
    }
    // Pages of subcommands that no longer exist are stale too.
    for dir in ["man", "completions"] {
        for entry in std::fs::read_dir(root.join(dir))
            .expect("read dir")
            .flatten()
        {
            let rel = Path::new(dir).join(entry.file_name());
            if !rendered.iter().any(|(r, _)| *r == rel) {
                stale.push(format!("{} is not generated any more", rel.display()));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "generated files are stale:\n  {}\nrefresh them with: cargo run -- generate --out-dir .",
        stale.join("\n  ")
    );
}

#[test]
fn bash_completion_completes_subcommands() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bash =
        std::fs::read_to_string(root.join("completions/p2pd.bash")).expect("bash completion");
    for sub in ["install", "key", "settings", "status"] {
        assert!(bash.contains(sub), "bash completion lacks {sub}");
    }
    let man = std::fs::read_to_string(root.join("man/p2pd.1")).expect("man page");
    assert!(man.contains("EXIT STATUS") && man.contains("shared.key"));
}

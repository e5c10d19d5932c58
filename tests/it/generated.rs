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

/// Design note `real-site`: no `p2pd completions SHELL`, a hidden `generate` in bash
/// completion, no setting names for `settings set <TAB>`, man pages naming
/// `p2pd-help(1)` (not shipped), and an agent page without `--data-dir`.
#[test]
fn completions_and_man_pages_show_what_is_shipped() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_p2pd"))
        .args(["completions", "bash"])
        .output()
        .expect("run p2pd completions");
    assert!(out.status.success());
    let shipped = std::fs::read(root.join("completions/p2pd.bash")).unwrap();
    assert_eq!(
        out.stdout, shipped,
        "`p2pd completions bash` differs from completions/p2pd.bash"
    );
    let bash = String::from_utf8(shipped).unwrap();
    assert!(
        !bash.contains("p2pd__subcmd__generate"),
        "the hidden generate is completed"
    );
    assert!(bash.contains("p2pd__subcmd__completions"));
    let settings_set = bash
        .lines()
        .find(|l| {
            l.contains("opts=")
                && l.contains("--allow-missing-storage")
                && l.contains("heartbeat_secs")
        })
        .expect("settings set completes setting names");
    for name in [
        "server_name",
        "distribution_optimization",
        "file_storage",
        "cdn_url",
    ] {
        assert!(settings_set.contains(name), "{settings_set}");
    }
    for entry in std::fs::read_dir(root.join("man")).unwrap().flatten() {
        let page = std::fs::read_to_string(entry.path()).unwrap();
        assert!(
            !page.contains("help(1)"),
            "{} names a help page that is not shipped",
            entry.path().display()
        );
    }
    let agent = std::fs::read_to_string(root.join("man/p2pd-agent.1")).unwrap();
    assert!(
        agent.contains("\\fB\\-\\-data\\-dir\\fR"),
        "agent page lacks --data-dir"
    );
    assert!(
        agent.contains("[default: [::]:7651]"),
        "agent page lacks defaults"
    );
    assert!(root.join("man/p2pd-completions.1").exists());
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_p2pd"))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

//! Where a finished content lands on the device, and names that fit.
//!
//! Every content gets its own directory below `delivered/`:
//!
//! ```text
//! delivered/<name>/<version>/<file name>
//! ```
//!
//! `name`, `version` and `file name` are the manifest's (as `p2pd content
//! list` shows them), so `appA/1.0/setup.exe` and `appB/2.0/setup.exe`
//! never overwrite each other and a script can find a package without
//! knowing its content id. A re-published package with the same name and
//! version replaces the older file in place (atomically), which is what an
//! updated package means. This layout is a stable interface: the README
//! and `p2pd agent --help` document it and `--on-complete` receives the
//! full path.
//!
//! Each component is made safe to create (no separators, no leading dot,
//! not empty) and kept within `NAME_MAX` (255 bytes) — shortened, when it
//! must be, to a prefix, a `~` and 8 hex digits of the full name's hash,
//! keeping the extension so the file still opens with the right program.
//! Temporary names are short and fixed-length (`.p2pd-<id>.tmp`), so a
//! file name of any length has room for its temporary twin.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::wire::proto::Manifest;

/// Longest file name (one path component) Linux file systems accept, in bytes.
pub const NAME_MAX: usize = 255;

/// The one place that names a delivered file: `out_dir/<name>/<version>/<file>`.
pub fn delivered_path(out_dir: &Path, m: &Manifest) -> PathBuf {
    out_dir
        .join(component(&m.name, "package"))
        .join(component(&m.version, "unversioned"))
        .join(component(&m.file_name, "package"))
}

/// The temporary name a delivery is written under before its rename, in
/// the same directory: short whatever the final name's length.
pub fn temp_path(target: &Path, content_id: &str) -> PathBuf {
    let short = &content_id[..16.min(content_id.len())];
    target.with_file_name(format!(".p2pd-{short}.tmp"))
}

/// A safe, fitting path component; `empty` when nothing is left.
fn component(raw: &str, empty: &str) -> String {
    let s = crate::platform::clean_file_name(raw, empty);
    // Windows also refuses reserved device names, `<>:"|?*` and trailing
    // dots or spaces; its rules live with the other OS differences.
    let s = if crate::platform::IS_WINDOWS {
        crate::platform::windows_file_name(&s)
    } else {
        s
    };
    fit_name(&s, NAME_MAX)
}

/// `name` if it fits in `max` bytes, else a prefix of it (cut on a
/// character boundary), `~`, 8 hex digits of SHA-256(name), and the
/// extension (when it is short enough to keep).
pub fn fit_name(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    let ext = name
        .rfind('.')
        .map(|i| &name[i..])
        .filter(|e| e.len() <= 16 && e.len() > 1)
        .unwrap_or("");
    let tag = hex::encode(&Sha256::digest(name.as_bytes())[..4]);
    let room = max.saturating_sub(ext.len() + 1 + tag.len());
    let mut cut = room.min(name.len() - ext.len());
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}~{tag}{ext}", &name[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(name: &str, version: &str, file: &str) -> Manifest {
        Manifest {
            id: "ab".repeat(32).parse().unwrap(),
            name: name.into(),
            version: version.into(),
            file_name: file.into(),
            path: format!("{name}/{version}/{file}"),
            size: 1,
            piece_size: 1,
            pieces: vec![],
        }
    }

    #[test]
    fn same_file_name_in_two_packages_gets_two_paths() {
        let out = Path::new("/d");
        let a = delivered_path(out, &manifest("appA", "1.0", "setup.exe"));
        let b = delivered_path(out, &manifest("appB", "2.0", "setup.exe"));
        assert_eq!(a, Path::new("/d/appA/1.0/setup.exe"));
        assert_eq!(b, Path::new("/d/appB/2.0/setup.exe"));
    }

    #[test]
    fn hostile_components_stay_below_the_delivery_dir() {
        let p = delivered_path(Path::new("/d"), &manifest("../x", "", "a/b\\c"));
        assert_eq!(p, Path::new("/d/_x/unversioned/a_b_c"));
        let p = delivered_path(Path::new("/d"), &manifest("..", ".", ".."));
        assert_eq!(p, Path::new("/d/package/unversioned/package"));
    }

    #[test]
    fn long_names_are_shortened_within_name_max_and_keep_their_extension() {
        let long = format!("{}.msi", "ü".repeat(200)); // 404 bytes
        let f = fit_name(&long, NAME_MAX);
        assert!(f.len() <= NAME_MAX, "{}", f.len());
        assert!(f.ends_with(".msi") && f.contains('~'), "{f}");
        // Deterministic, and distinct for distinct names.
        assert_eq!(f, fit_name(&long, NAME_MAX));
        assert_ne!(f, fit_name(&format!("x{long}"), NAME_MAX));
        let exact = "a".repeat(NAME_MAX);
        assert_eq!(fit_name(&exact, NAME_MAX), exact);
        let t = temp_path(Path::new(&format!("/d/{exact}")), &"f".repeat(64));
        assert!(t.file_name().unwrap().len() < 40);
    }
}

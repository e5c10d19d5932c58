//! The content library: packages in file storage, their pieces and hashes,
//! and publishing them.
//!
//! A package's identity is the SHA-256 of the whole file (hex, lowercase).
//! It is split into pieces of [`piece_size_for`] bytes; piece `i` covers
//! `[i * piece_size, min((i + 1) * piece_size, size))` and has its own
//! SHA-256, so an agent can verify every piece before storing or serving it.
//! An empty file has no pieces.
//!
//! # Name and version from the path
//!
//! `p2pd publish PATH --name N --version V` sets them explicitly. Otherwise,
//! with `PATH` relative to file storage:
//!
//! 1. `…/NAME/VERSION/FILE` (three or more components): the two directories
//!    above the file, e.g. `firefox/128.0.3/Firefox Setup.msi`.
//! 2. `NAME-VERSION.EXT` or `NAME_VERSION.EXT` where `VERSION` starts with a
//!    digit: the file name is split at the first `-` or `_` followed by a
//!    digit, e.g. `7zip-23.01-x64.msi` → `7zip`, `23.01-x64`. The last
//!    extension is dropped when it contains a letter (`.msi`, `.exe`,
//!    `.gz`), and a `.tar` left before it too.
//! 3. Otherwise the name is the file name without its extension and the
//!    version is empty.
//!
//! # Layout
//!
//! - [`hash`]: whole-file and piece hashing in one pass over the bytes.
//! - [`storage`]: file storage (a directory or an http(s) URL with an
//!   `index.json`): list, open, read a piece.
//! - [`groups`]: group name validation.
//! - [`publish`]: the publish run: select, skip unchanged, hash, register,
//!   report, prune.

pub mod groups;
pub mod hash;
pub mod publish;
pub mod storage;

/// Smallest piece: below this the per-piece cost (one request, one hash
/// check, one bookkeeping entry per device) dominates the transfer itself.
pub const MIN_PIECE_SIZE: u64 = 256 * 1024;

/// Largest piece: bounds what is fetched again after a bad piece, and how
/// long an office's followers wait for the leader's first piece before
/// pipelining can start.
pub const MAX_PIECE_SIZE: u64 = 4 * 1024 * 1024;

/// Piece count the size rule aims to stay under.
pub const TARGET_PIECES: u64 = 2048;

/// The piece size of a package of `size` bytes.
///
/// The rule: the smallest power of two from [`MIN_PIECE_SIZE`] up to
/// [`MAX_PIECE_SIZE`] that keeps the package at [`TARGET_PIECES`] pieces or
/// fewer. Why: a fixed size either makes small packages one piece (no
/// pipelining inside an office) or makes big ones tens of thousands of
/// pieces (a piece hash list of megabytes sent to every device, and as many
/// requests and progress entries). Bounding the count keeps the hash list at
/// 64 KiB or less for packages up to 8 GiB; beyond that pieces stay at 4 MiB
/// and the count grows. Powers of two divide the hashing read buffer, so a
/// buffer always holds whole pieces.
pub fn piece_size_for(size: u64) -> u64 {
    let mut p = MIN_PIECE_SIZE;
    while p < MAX_PIECE_SIZE && size.div_ceil(p) > TARGET_PIECES {
        p *= 2;
    }
    p
}

/// Number of pieces of a package of `size` bytes cut in `piece_size` pieces.
pub fn piece_count(size: u64, piece_size: u64) -> u64 {
    size.div_ceil(piece_size)
}

/// Byte range `[start, end)` of piece `index`, or `None` past the end.
pub fn piece_range(index: u64, piece_size: u64, size: u64) -> Option<std::ops::Range<u64>> {
    let start = index.checked_mul(piece_size)?;
    if start >= size {
        return None;
    }
    Some(start..(start + piece_size).min(size))
}

/// Name and version of the package at `path` (relative, `/`-separated),
/// by the rules in the module documentation.
pub fn name_version_from_path(path: &str) -> (String, String) {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.len() >= 3 {
        let n = parts.len();
        return (parts[n - 3].to_string(), parts[n - 2].to_string());
    }
    let file = parts.last().copied().unwrap_or(path);
    let stem = strip_extension(file);
    let bytes = stem.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if (b == b'-' || b == b'_') && i > 0 && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            return (stem[..i].to_string(), stem[i + 1..].to_string());
        }
    }
    (stem.to_string(), String::new())
}

/// `name-1.2.3.msi` → `name-1.2.3`; `x-1.0.tar.gz` → `x-1.0`; `x-1.2` stays.
fn strip_extension(file: &str) -> &str {
    let strip_one = |s: &str| -> Option<usize> {
        let dot = s.rfind('.')?;
        let ext = &s[dot + 1..];
        (dot > 0 && ext.bytes().any(|b| b.is_ascii_alphabetic())).then_some(dot)
    };
    let Some(dot) = strip_one(file) else {
        return file;
    };
    let stem = &file[..dot];
    stem.strip_suffix(".tar").unwrap_or(stem)
}

/// Lowercase hex of a digest.
pub fn hex(digest: &[u8; 32]) -> String {
    hex::encode(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piece_size_rule() {
        assert_eq!(piece_size_for(0), MIN_PIECE_SIZE);
        assert_eq!(piece_size_for(64 * 1024), MIN_PIECE_SIZE);
        assert_eq!(piece_size_for(512 << 20), MIN_PIECE_SIZE);
        assert_eq!(piece_size_for((512 << 20) + 1), 512 * 1024);
        assert_eq!(piece_size_for(1 << 30), 512 * 1024);
        assert_eq!(piece_size_for(100 << 30), MAX_PIECE_SIZE);
        for size in [1u64, 1 << 20, 3 << 30, 8 << 30] {
            let p = piece_size_for(size);
            assert!(p.is_power_of_two());
            assert!(piece_count(size, p) <= TARGET_PIECES);
        }
    }

    #[test]
    fn piece_ranges_cover_the_file() {
        let (size, p) = (10, 4);
        assert_eq!(piece_range(0, p, size), Some(0..4));
        assert_eq!(piece_range(2, p, size), Some(8..10));
        assert_eq!(piece_range(3, p, size), None);
        assert_eq!(piece_count(size, p), 3);
        assert_eq!(piece_count(0, p), 0);
    }

    #[test]
    fn names_from_paths() {
        let nv = |p: &str| name_version_from_path(p);
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            nv("firefox/128.0.3/Firefox Setup.msi"),
            s("firefox", "128.0.3")
        );
        assert_eq!(nv("apps/firefox/128/x.exe"), s("firefox", "128"));
        assert_eq!(nv("7zip-23.01-x64.msi"), s("7zip", "23.01-x64"));
        assert_eq!(nv("vendor/tool_2.1.tar.gz"), s("tool", "2.1"));
        assert_eq!(nv("agent-1.2"), s("agent", "1.2"));
        assert_eq!(nv("readme.txt"), s("readme", ""));
        assert_eq!(nv("x-y.msi"), s("x-y", ""));
    }
}

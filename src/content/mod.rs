//! The content library: packages in file storage, their pieces and hashes,
//! and publishing them.
//!
//! May use: domain platform store topology trust
//!
//! A package's identity is the SHA-256 of the whole file (hex, lowercase).
//! It is split into pieces of [`piece_size_for`] bytes; piece `i` covers
//! `[i * piece_size, min((i + 1) * piece_size, size))` and has its own
//! SHA-256, so an agent can verify every piece before storing or serving it.
//! An empty file has no pieces.
//!
//! # Name, version and arch
//!
//! From the path in file storage, by the rules in [`naming`], with
//! `.p2pd-names.csv` in storage for files no rule gets right, and
//! `p2pd publish PATH --name N --version V` over both.
//!
//! # Layout
//!
//! - [`hash`]: whole-file and piece hashing in one pass over the bytes.
//! - [`storage`]: file storage (a directory or an http(s) URL with an
//!   `index.json`): list, open, read a piece.
//! - [`groups`]: group name validation.
//! - [`naming`]: name, version and arch from installer file names; overrides.
//! - [`publish`]: the publish run: select, skip unchanged, hash, register,
//!   report, prune.

pub mod groups;
pub mod hash;
pub mod naming;
pub mod publish;
pub mod storage;

/// Smallest piece: below this the per-piece cost (one signed request, one
/// hash check, one journal entry, per device and hop) dominates the transfer
/// itself. Measured on the network-namespace benchmark (K=3 offices × N=4
/// devices, 100 MiB): 256 KiB pieces cost the p2pd processes 35 CPU-seconds,
/// 1 MiB pieces 18, at the same WAN ratio. At 50 Mbit/s a 1 MiB piece takes
/// 0.17 s per hop, so pipelining inside an office stays tight.
pub const MIN_PIECE_SIZE: u64 = 1024 * 1024;

/// Largest piece: bounds what is fetched again after a bad piece, and how
/// long an office's followers wait for the leader's first piece before
/// pipelining can start.
pub const MAX_PIECE_SIZE: u64 = 4 * 1024 * 1024;

/// Piece count the size rule aims to stay under.
pub const TARGET_PIECES: u64 = 1024;

/// The piece size of a package of `size` bytes.
///
/// The rule: the smallest power of two from [`MIN_PIECE_SIZE`] up to
/// [`MAX_PIECE_SIZE`] that keeps the package at [`TARGET_PIECES`] pieces or
/// fewer. Why: a fixed size either makes small packages one piece (no
/// pipelining inside an office) or makes big ones tens of thousands of
/// pieces (a piece hash list of megabytes sent to every device, and as many
/// requests and progress entries). Bounding the count keeps the hash list at
/// 32 KiB or less for packages up to 4 GiB; beyond that pieces stay at 4 MiB
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
        assert_eq!(piece_size_for(1 << 30), MIN_PIECE_SIZE);
        assert_eq!(piece_size_for((1 << 30) + 1), 2 << 20);
        assert_eq!(piece_size_for(4 << 30), MAX_PIECE_SIZE);
        assert_eq!(piece_size_for(100 << 30), MAX_PIECE_SIZE);
        for size in [1u64, 1 << 20, 3 << 30, 4 << 30] {
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
}

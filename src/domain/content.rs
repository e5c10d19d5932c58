//! A content as the library knows it: its reference in a group's target
//! list, and its manifest (pieces and their hashes). The store returns
//! these; the wire carries them unchanged (`proto` re-exports them). Ids
//! and hashes are typed: a manifest whose id or piece hash is not 64 hex
//! digits does not deserialize, so none travels past the edge.

use serde::{Deserialize, Serialize};

use super::{ContentId, PieceHash};

/// A targeted content: enough to decide whether to fetch its manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContentRef {
    pub id: ContentId,
    pub name: String,
    pub version: String,
    pub size: u64,
}

/// What a device needs to fetch and verify a content piece by piece.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub id: ContentId,
    pub name: String,
    pub version: String,
    /// File name to deliver as.
    pub file_name: String,
    /// Path relative to file storage (for CDN / storage downloads).
    pub path: String,
    pub size: u64,
    pub piece_size: u64,
    /// The SHA-256 of each piece (hex on the wire).
    pub pieces: Vec<PieceHash>,
}

impl Manifest {
    pub fn piece_count(&self) -> u32 {
        self.pieces.len() as u32
    }

    /// Byte range of piece `i`.
    pub fn piece_range(&self, i: u32) -> (u64, u64) {
        let start = i as u64 * self.piece_size;
        (start, (start + self.piece_size).min(self.size))
    }
}

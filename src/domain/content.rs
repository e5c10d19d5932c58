//! A content as the library knows it: its reference in a group's target
//! list, and its manifest (pieces and their hashes). The store returns
//! these; the wire carries them unchanged (`proto` re-exports them).

use serde::{Deserialize, Serialize};

/// A targeted content: enough to decide whether to fetch its manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContentRef {
    pub id: String,
    pub name: String,
    pub version: String,
    pub size: u64,
}

/// What a device needs to fetch and verify a content piece by piece.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub id: String,
    pub name: String,
    pub version: String,
    /// File name to deliver as.
    pub file_name: String,
    /// Path relative to file storage (for CDN / storage downloads).
    pub path: String,
    pub size: u64,
    pub piece_size: u64,
    /// Hex SHA-256 of each piece.
    pub pieces: Vec<String>,
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

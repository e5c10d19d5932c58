//! Hashing a package: the whole-file SHA-256 and every piece's SHA-256 in one
//! pass over the bytes.
//!
//! The reader fills large buffers (at least 1 MiB: a few big reads cost less
//! than many small ones, and a buffer always holds whole pieces because piece
//! sizes are powers of two). The calling thread hashes the whole file; a
//! second thread hashes the pieces of the buffer before, so on two cores a
//! package is hashed about as fast as `openssl dgst -sha256` reads it. The
//! `sha2` crate picks the CPU's SHA extensions (SHA-NI, ARMv8 SHA2) at run
//! time, so this is not a software-only path.
//!
//! A package of one piece is hashed once: its piece hash is the whole-file
//! hash. That keeps publishing thousands of small packages cheap.

use std::io::{ErrorKind, Read};
use std::sync::mpsc;

use sha2::{Digest, Sha256};

/// Smallest read buffer.
const MIN_BUFFER: usize = 1024 * 1024;

/// Buffers in flight between the reader and the piece thread: one being
/// read, one being hashed by each thread.
const BUFFERS: usize = 3;

/// What hashing a package yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    /// SHA-256 of the whole file: the content's identity.
    pub sha256: [u8; 32],
    /// SHA-256 of each piece, in order.
    pub pieces: Vec<[u8; 32]>,
    /// Bytes read.
    pub size: u64,
}

impl Digests {
    /// Piece hashes concatenated, as stored (`contents.piece_hashes`).
    pub fn piece_blob(&self) -> Vec<u8> {
        self.pieces.concat()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("read failed after {offset} bytes: {source}")]
    Read {
        offset: u64,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the file changed while it was read: expected {expected} bytes, read {read}; \
         publish it again once it is complete"
    )]
    SizeChanged { expected: u64, read: u64 },
}

/// SHA-256 of one piece, as agents verify it.
pub fn piece_hash(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Hashes everything `reader` yields, cut in `piece_size` pieces.
///
/// `expected` is the size the storage listed; reading fewer or more bytes is
/// [`HashError::SizeChanged`] (a file truncated, replaced or still being
/// copied). `on_bytes` is called after every buffer with its length, for
/// progress.
pub fn hash_reader(
    mut reader: impl Read,
    expected: u64,
    piece_size: u64,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<Digests, HashError> {
    assert!(
        piece_size.is_power_of_two(),
        "piece sizes are powers of two"
    );
    let buf_len = (piece_size as usize).max(MIN_BUFFER);
    let digests = if expected <= piece_size {
        hash_inline(
            &mut reader,
            buf_len.min(expected as usize + 1),
            piece_size,
            on_bytes,
        )?
    } else {
        hash_pipelined(&mut reader, buf_len, piece_size, on_bytes)?
    };
    if digests.size != expected {
        return Err(HashError::SizeChanged {
            expected,
            read: digests.size,
        });
    }
    Ok(digests)
}

/// Bytes asked of one `read` call. The whole-file hash runs over each
/// chunk right after it is read, while it is still in the CPU cache: one
/// big read copies a megabyte through main memory first, which cost about
/// as much as the hashing itself on a busy machine.
const READ_CHUNK: usize = 128 * 1024;

/// Reads until `buf` is full or the input ends, passing each chunk read to
/// `on_chunk`; returns the bytes read.
fn fill(
    reader: &mut impl Read,
    buf: &mut [u8],
    offset: u64,
    on_chunk: &mut dyn FnMut(&[u8]),
) -> Result<usize, HashError> {
    let mut n = 0;
    while n < buf.len() {
        let end = buf.len().min(n + READ_CHUNK);
        match reader.read(&mut buf[n..end]) {
            Ok(0) => break,
            Ok(k) => {
                on_chunk(&buf[n..n + k]);
                n += k;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(HashError::Read {
                    offset: offset + n as u64,
                    source,
                });
            }
        }
    }
    Ok(n)
}

fn hash_chunks(buf: &[u8], piece_size: u64, out: &mut Vec<[u8; 32]>) {
    out.extend(buf.chunks(piece_size as usize).map(piece_hash));
}

/// One thread, for packages expected to be one piece. `buf_len` is one more
/// than the expected size (capped), so the first read also sees the end.
fn hash_inline(
    reader: &mut impl Read,
    buf_len: usize,
    piece_size: u64,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<Digests, HashError> {
    let mut buf = vec![0u8; buf_len.max(1)];
    let mut whole = Sha256::new();
    let mut pieces = Vec::new();
    let mut size = 0u64;
    // Bytes of the current piece not yet in `pieces` (pieces may span reads
    // here, since `buf_len` need not be a multiple of the piece size).
    let mut piece = Sha256::new();
    let mut in_piece = 0u64;
    let mut first_read_was_all = false;
    loop {
        let n = fill(reader, &mut buf, size, &mut |c| whole.update(c))?;
        if n == 0 {
            break;
        }
        if size == 0 && n < buf.len() && n as u64 <= piece_size {
            // The whole package in one read, one piece: hashed once below.
            size = n as u64;
            on_bytes(n as u64);
            first_read_was_all = true;
            break;
        }
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            let take = rest.len().min((piece_size - in_piece) as usize);
            piece.update(&rest[..take]);
            in_piece += take as u64;
            rest = &rest[take..];
            if in_piece == piece_size {
                pieces.push(std::mem::take(&mut piece).finalize().into());
                in_piece = 0;
            }
        }
        size += n as u64;
        on_bytes(n as u64);
    }
    let sha256: [u8; 32] = whole.finalize().into();
    if first_read_was_all {
        pieces = vec![sha256];
    } else if in_piece > 0 {
        pieces.push(piece.finalize().into());
    }
    Ok(Digests {
        sha256,
        pieces,
        size,
    })
}

/// Two threads: this one reads and hashes the whole file, a scoped one
/// hashes the pieces of the previous buffer. Buffers go round in a small
/// pool, so memory stays at `BUFFERS * buf_len`.
fn hash_pipelined(
    reader: &mut impl Read,
    buf_len: usize,
    piece_size: u64,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<Digests, HashError> {
    std::thread::scope(|s| {
        // A buffer travels with its filled length; it keeps its full length
        // so that reusing it never zeroes memory again.
        let (full_tx, full_rx) = mpsc::sync_channel::<(Vec<u8>, usize)>(BUFFERS);
        let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
        let pieces = s.spawn(move || {
            let mut pieces = Vec::new();
            for (buf, n) in full_rx {
                hash_chunks(&buf[..n], piece_size, &mut pieces);
                // The reader may have finished and dropped its end; then
                // the buffer is simply freed.
                let _ = empty_tx.send(buf);
            }
            pieces
        });
        let mut whole = Sha256::new();
        let mut size = 0u64;
        let mut allocated = 0;
        let result = loop {
            let mut buf = match empty_rx.try_recv() {
                Ok(b) => b,
                Err(_) if allocated < BUFFERS => {
                    allocated += 1;
                    vec![0u8; buf_len]
                }
                Err(_) => match empty_rx.recv() {
                    Ok(b) => b,
                    // The piece thread is gone: it panicked; join reports it.
                    Err(_) => break Ok(()),
                },
            };
            let n = match fill(reader, &mut buf, size, &mut |c| whole.update(c)) {
                Ok(n) => n,
                Err(e) => break Err(e),
            };
            if n == 0 {
                break Ok(());
            }
            size += n as u64;
            on_bytes(n as u64);
            if full_tx.send((buf, n)).is_err() || n < buf_len {
                break Ok(());
            }
        };
        drop(full_tx);
        let pieces = match pieces.join() {
            Ok(p) => p,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        result?;
        Ok(Digests {
            sha256: whole.finalize().into(),
            pieces,
            size,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(data: &[u8], piece_size: u64) -> Digests {
        Digests {
            sha256: Sha256::digest(data).into(),
            pieces: data.chunks(piece_size as usize).map(piece_hash).collect(),
            size: data.len() as u64,
        }
    }

    #[test]
    fn matches_a_plain_hash_at_every_boundary() {
        let data: Vec<u8> = (0..(3 * MIN_BUFFER + 17))
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        let p = 256 * 1024;
        for len in [
            0,
            1,
            p as usize - 1,
            p as usize,
            p as usize + 1,
            MIN_BUFFER,
            data.len(),
        ] {
            let got = hash_reader(&data[..len], len as u64, p, &mut |_| {}).unwrap();
            assert_eq!(got, reference(&data[..len], p), "len {len}");
        }
    }

    #[test]
    fn a_file_that_grew_still_gets_right_pieces_then_is_refused() {
        let data = vec![7u8; 300 * 1024];
        let err = hash_reader(&data[..], 10, 256 * 1024, &mut |_| {}).unwrap_err();
        assert!(matches!(err, HashError::SizeChanged { expected: 10, read } if read == 300 * 1024));
        // The inline path with a multi-piece input computes pieces correctly.
        let got = hash_inline(&mut &data[..], 11, 256 * 1024, &mut |_| {}).unwrap();
        assert_eq!(got, reference(&data, 256 * 1024));
    }

    #[test]
    fn a_short_file_is_refused() {
        let data = vec![1u8; 5 * MIN_BUFFER];
        let err =
            hash_reader(&data[..], 6 * MIN_BUFFER as u64, 256 * 1024, &mut |_| {}).unwrap_err();
        assert!(matches!(err, HashError::SizeChanged { .. }));
    }
}

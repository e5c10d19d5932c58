//! SHA-256 that can hash the same bytes into two states in one pass.
//!
//! A receiving agent hashes every byte twice: once for the piece's own
//! check and once for the whole file's (both required). With the x86 SHA
//! extensions one SHA-256 stream is bound by the latency of
//! `sha256rnds2`, not by its throughput, so two independent states fed the
//! same block share the message schedule and run their rounds interleaved,
//! at close to the cost of one ([`update_pair`]). Elsewhere, or when the
//! two states are not at the same block offset, it is simply two passes.
//!
//! [`Sha256`] is an ordinary streaming SHA-256 (tested against `sha2`).
//! Pure functions; no I/O.

/// SHA-256's initial chaining value.
const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// A streaming SHA-256.
#[derive(Clone)]
pub(super) struct Sha256 {
    h: [u32; 8],
    /// Bytes fed so far.
    len: u64,
    /// The partial block (the first `len % 64` bytes are valid).
    buf: [u8; 64],
}

impl Default for Sha256 {
    fn default() -> Self {
        Sha256::new()
    }
}

impl Sha256 {
    pub(super) fn new() -> Sha256 {
        Sha256 {
            h: H0,
            len: 0,
            buf: [0; 64],
        }
    }

    fn buffered(&self) -> usize {
        (self.len % 64) as usize
    }

    pub(super) fn update(&mut self, mut data: &[u8]) {
        let have = self.buffered();
        if have > 0 {
            let take = (64 - have).min(data.len());
            self.buf[have..have + take].copy_from_slice(&data[..take]);
            self.len += take as u64;
            data = &data[take..];
            if self.buffered() != 0 {
                return;
            }
            let block = self.buf;
            sha2::block_api::compress256(&mut self.h, &[block]);
        }
        let (blocks, rest) = data.as_chunks::<64>();
        sha2::block_api::compress256(&mut self.h, blocks);
        self.len += (blocks.len() * 64) as u64;
        self.buf[..rest.len()].copy_from_slice(rest);
        self.len += rest.len() as u64;
    }

    pub(super) fn finalize(mut self) -> [u8; 32] {
        let bits = self.len.wrapping_mul(8);
        let have = self.buffered();
        let mut tail = [0u8; 128];
        tail[..have].copy_from_slice(&self.buf[..have]);
        tail[have] = 0x80;
        let total = if have < 56 { 64 } else { 128 };
        tail[total - 8..total].copy_from_slice(&bits.to_be_bytes());
        let (blocks, _) = tail[..total].as_chunks::<64>();
        sha2::block_api::compress256(&mut self.h, blocks);
        let mut out = [0u8; 32];
        for (o, w) in out.chunks_exact_mut(4).zip(self.h) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        out
    }
}

/// Feeds `data` to both `a` and `b`, as `a.update(data); b.update(data)`
/// would, in one pass where the CPU allows it (both states at a block
/// boundary and x86 SHA extensions); two passes otherwise.
pub(super) fn update_pair(a: &mut Sha256, b: &mut Sha256, data: &[u8]) {
    if a.buffered() != 0 || b.buffered() != 0 || !pair_supported() {
        a.update(data);
        b.update(data);
        return;
    }
    let (blocks, rest) = data.as_chunks::<64>();
    compress_pair(&mut a.h, &mut b.h, blocks);
    let n = (blocks.len() * 64) as u64;
    a.len += n;
    b.len += n;
    a.update(rest);
    b.update(rest);
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn pair_supported() -> bool {
    std::arch::is_x86_feature_detected!("sha")
        && std::arch::is_x86_feature_detected!("sse4.1")
        && std::arch::is_x86_feature_detected!("ssse3")
}

#[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
fn pair_supported() -> bool {
    false
}

fn compress_pair(a: &mut [u32; 8], b: &mut [u32; 8], blocks: &[[u8; 64]]) {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    if pair_supported() {
        // SAFETY: the CPU has the features `shani::compress_pair` enables.
        unsafe { shani::compress_pair(a, b, blocks) };
        return;
    }
    sha2::block_api::compress256(a, blocks);
    sha2::block_api::compress256(b, blocks);
}

/// Two states, one message schedule: the single-stream SHA-NI code of the
/// `sha2` crate (x86_sha.rs), with each round step done for both states.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
mod shani {
    #[cfg(target_arch = "x86")]
    use std::arch::x86::*;
    #[cfg(target_arch = "x86_64")]
    use std::arch::x86_64::*;

    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];

    /// (abef, cdgh) of one state.
    type Lanes = (__m128i, __m128i);

    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn rounds4(r: usize, x: &mut Lanes, y: &mut Lanes, w: __m128i) {
        // SAFETY: K has 64 entries; r < 16.
        let rk = unsafe { _mm_loadu_si128(K.as_ptr().add(4 * r).cast()) };
        let t1 = _mm_add_epi32(w, rk);
        let t2 = _mm_shuffle_epi32(t1, 0x0E);
        x.1 = _mm_sha256rnds2_epu32(x.1, x.0, t1);
        y.1 = _mm_sha256rnds2_epu32(y.1, y.0, t1);
        x.0 = _mm_sha256rnds2_epu32(x.0, x.1, t2);
        y.0 = _mm_sha256rnds2_epu32(y.0, y.1, t2);
    }

    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn load(state: &[u32; 8]) -> Lanes {
        // SAFETY: 8 u32 are two 16-byte loads.
        let (dcba, hgfe) = unsafe {
            let p: *const __m128i = state.as_ptr().cast();
            (_mm_loadu_si128(p), _mm_loadu_si128(p.add(1)))
        };
        let cdab = _mm_shuffle_epi32(dcba, 0xB1);
        let efgh = _mm_shuffle_epi32(hgfe, 0x1B);
        (
            _mm_alignr_epi8(cdab, efgh, 8),
            _mm_blend_epi16(efgh, cdab, 0xF0),
        )
    }

    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn store(state: &mut [u32; 8], (abef, cdgh): Lanes) {
        let feba = _mm_shuffle_epi32(abef, 0x1B);
        let dchg = _mm_shuffle_epi32(cdgh, 0xB1);
        let dcba = _mm_blend_epi16(feba, dchg, 0xF0);
        let hgef = _mm_alignr_epi8(dchg, feba, 8);
        // SAFETY: 8 u32 are two 16-byte stores.
        unsafe {
            let p: *mut __m128i = state.as_mut_ptr().cast();
            _mm_storeu_si128(p, dcba);
            _mm_storeu_si128(p.add(1), hgef);
        }
    }

    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub(super) fn compress_pair(a: &mut [u32; 8], b: &mut [u32; 8], blocks: &[[u8; 64]]) {
        let mut x = load(a);
        let mut y = load(b);
        let mask = _mm_set_epi64x(0x0C0D_0E0F_0809_0A0B, 0x0405_0607_0001_0203);
        for block in blocks {
            let (x0, y0) = (x, y);
            let p: *const __m128i = block.as_ptr().cast();
            // SAFETY: a block is four 16-byte loads.
            let mut w: [__m128i; 4] = std::array::from_fn(|i| {
                _mm_shuffle_epi8(unsafe { _mm_loadu_si128(p.add(i)) }, mask)
            });
            for (r, wr) in w.iter().enumerate() {
                rounds4(r, &mut x, &mut y, *wr);
            }
            for r in (4..16).step_by(4) {
                for i in 0..4 {
                    let t1 = _mm_sha256msg1_epu32(w[i], w[(i + 1) % 4]);
                    let t2 = _mm_alignr_epi8(w[(i + 3) % 4], w[(i + 2) % 4], 4);
                    w[i] = _mm_sha256msg2_epu32(_mm_add_epi32(t1, t2), w[(i + 3) % 4]);
                    rounds4(r + i, &mut x, &mut y, w[i]);
                }
            }
            x = (_mm_add_epi32(x.0, x0.0), _mm_add_epi32(x.1, x0.1));
            y = (_mm_add_epi32(y.0, y0.0), _mm_add_epi32(y.1, y0.1));
        }
        store(a, x);
        store(b, y);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    fn reference(data: &[u8]) -> [u8; 32] {
        sha2::Sha256::digest(data).into()
    }

    fn bytes(n: usize, seed: u32) -> Vec<u8> {
        use rand::{Rng, SeedableRng};
        let mut v = vec![0u8; n];
        rand::rngs::StdRng::seed_from_u64(seed.into()).fill_bytes(&mut v);
        v
    }

    #[test]
    fn streaming_matches_sha2_for_every_split() {
        for n in [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 4096 + 3] {
            let data = bytes(n, n as u32);
            for split in [0, 1, 63, 64, n / 2, n] {
                let split = split.min(n);
                let mut h = Sha256::new();
                h.update(&data[..split]);
                h.update(&data[split..]);
                assert_eq!(h.finalize(), reference(&data), "n {n} split {split}");
            }
        }
    }

    /// The pair is what two separate updates give: a piece hash from
    /// scratch and a whole-file hash already some blocks (or bytes) in.
    #[test]
    fn pair_matches_two_passes() {
        for prefix in [0usize, 64, 640, 3, 100] {
            for n in [0usize, 63, 64, 65, 1 << 16, (1 << 16) + 17] {
                let head = bytes(prefix, 7);
                let data = bytes(n, n as u32 + 1);
                let mut piece = Sha256::new();
                let mut whole = Sha256::new();
                whole.update(&head);
                update_pair(&mut piece, &mut whole, &data);
                assert_eq!(
                    piece.finalize(),
                    reference(&data),
                    "piece, prefix {prefix} n {n}"
                );
                let all: Vec<u8> = head.iter().chain(&data).copied().collect();
                assert_eq!(
                    whole.finalize(),
                    reference(&all),
                    "whole, prefix {prefix} n {n}"
                );
            }
        }
    }
}

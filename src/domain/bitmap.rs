//! A have-map: which pieces of a content a device holds, one bit per
//! piece, least significant bit first (the layout on the wire, base64 in
//! `proto::HaveMap`).

/// One bit per piece; piece `i` is bit `i % 8` of byte `i / 8`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bitmap(Vec<u8>);

impl Bitmap {
    /// An empty map with room for `n` pieces.
    pub fn empty(n: u32) -> Bitmap {
        Bitmap(vec![0; (n as usize).div_ceil(8)])
    }

    /// A map claiming all `n` pieces (and the unused bits of the last byte).
    pub fn full(n: u32) -> Bitmap {
        Bitmap(vec![0xff; (n as usize).div_ceil(8)])
    }

    /// A map as received: bytes beyond what it covers read as absent.
    pub fn from_bytes(bytes: Vec<u8>) -> Bitmap {
        Bitmap(bytes)
    }

    /// The bytes, as sent on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether piece `i` is present (false beyond the map's end).
    pub fn has(&self, i: u32) -> bool {
        self.0
            .get(i as usize / 8)
            .is_some_and(|b| b & (1 << (i % 8)) != 0)
    }

    /// Marks piece `i` present; true if it was not already. A piece beyond
    /// the map's end is ignored (false): the map was sized for the content.
    pub fn set(&mut self, i: u32) -> bool {
        match self.0.get_mut(i as usize / 8) {
            Some(b) if *b & (1 << (i % 8)) == 0 => {
                *b |= 1 << (i % 8);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_lsb_first_and_out_of_range_is_absent() {
        let mut m = Bitmap::empty(10);
        assert_eq!(m.as_bytes().len(), 2);
        assert!(m.set(0) && m.set(9) && !m.set(9));
        assert_eq!(m.as_bytes(), &[0b1, 0b10]);
        assert!(m.has(9) && !m.has(8) && !m.has(100));
        assert!(!m.set(100));
        assert!(Bitmap::full(3).has(2));
        assert_eq!(Bitmap::from_bytes(vec![4]), {
            let mut b = Bitmap::empty(3);
            b.set(2);
            b
        });
    }
}

//! Address → office: a sorted array of disjoint intervals per family,
//! searched with a binary search.
//!
//! Why not a prefix trie: ranges may be `start-end` pairs that are not
//! CIDR-aligned, and a sorted interval array is smaller, cache-friendly and
//! needs no per-node allocation. 50,000 ranges are about 16 comparisons per
//! lookup.
//!
//! Imported ranges never overlap (import rejects that), but auto offices can
//! nest (a device reporting /16 next to one reporting /24) and can overlap
//! imported ones after the setting was toggled. The index is therefore built
//! "most specific wins": the smallest interval covering an address decides.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::range::{self, Family, Interval};

/// One range as loaded: its office and the text the admin wrote.
#[derive(Debug, Clone)]
pub struct RangeEntry {
    pub office_id: i64,
    pub spec: String,
}

/// Disjoint, sorted segments of one family.
#[derive(Debug, Default, Clone)]
struct Segments {
    /// Segment starts, ascending; searched with `partition_point`.
    starts: Vec<u128>,
    /// Inclusive ends, same index as `starts`.
    ends: Vec<u128>,
    /// Index into [`Index::entries`], same index as `starts`.
    entry: Vec<u32>,
}

/// The interval index itself, independent of the database so that import's
/// `--dry-run` can build one from a file.
#[derive(Debug, Default, Clone)]
pub struct Index {
    v4: Segments,
    v6: Segments,
    /// The ranges the segments point at.
    entries: Vec<RangeEntry>,
}

/// Where an address fell: the range holding it, or the nearest ranges on
/// either side (to show the admin the gap between split ranges).
#[derive(Debug, Clone)]
pub enum Hit<'a> {
    In(&'a RangeEntry),
    Gap {
        below: Option<&'a RangeEntry>,
        above: Option<&'a RangeEntry>,
    },
}

impl Index {
    /// Builds the index; ranges whose text does not parse are skipped (import
    /// validated them, so that only happens to hand-edited databases).
    pub fn build(entries: Vec<RangeEntry>) -> Index {
        let mut parsed: Vec<(Interval, u32)> = Vec::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            match range::parse(&e.spec) {
                Ok(iv) => parsed.push((iv, i as u32)),
                Err(err) => tracing::warn!(office = e.office_id, "skipping range: {err}"),
            }
        }
        let mut index = Index {
            entries,
            ..Index::default()
        };
        for family in [Family::V4, Family::V6] {
            let mut mine: Vec<(Interval, u32)> = parsed
                .iter()
                .filter(|(iv, _)| iv.family == family)
                .copied()
                .collect();
            let segs = paint(&mut mine);
            *index.segments_mut(family) = segs;
        }
        index
    }

    fn segments(&self, f: Family) -> &Segments {
        match f {
            Family::V4 => &self.v4,
            Family::V6 => &self.v6,
        }
    }

    fn segments_mut(&mut self, f: Family) -> &mut Segments {
        match f {
            Family::V4 => &mut self.v4,
            Family::V6 => &mut self.v6,
        }
    }

    /// The office whose range holds `ip`.
    #[inline]
    pub fn locate(&self, ip: IpAddr) -> Option<i64> {
        let (f, n) = range::key(ip);
        let s = self.segments(f);
        // The last segment starting at or below n is the only candidate.
        let i = s.starts.partition_point(|&st| st <= n);
        if i == 0 || s.ends[i - 1] < n {
            return None;
        }
        Some(self.entries[s.entry[i - 1] as usize].office_id)
    }

    /// Like [`Index::locate`], with the range that matched or the neighbours.
    pub fn hit(&self, ip: IpAddr) -> Hit<'_> {
        let (f, n) = range::key(ip);
        let s = self.segments(f);
        let i = s.starts.partition_point(|&st| st <= n);
        let at = |j: usize| &self.entries[s.entry[j] as usize];
        if i > 0 && s.ends[i - 1] >= n {
            return Hit::In(at(i - 1));
        }
        Hit::Gap {
            below: (i > 0).then(|| at(i - 1)),
            above: (i < s.starts.len()).then(|| at(i)),
        }
    }

    /// How many disjoint segments the index holds (for benchmarks).
    pub fn len(&self) -> usize {
        self.v4.starts.len() + self.v6.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Turns possibly nested or overlapping intervals into disjoint segments,
/// the smallest interval winning each address. Intervals are laid down
/// smallest first; each only fills the gaps the earlier ones left.
fn paint(ivs: &mut [(Interval, u32)]) -> Segments {
    ivs.sort_by_key(|(iv, i)| (iv.end - iv.start, iv.start, *i));
    // start -> (end, entry); disjoint at all times.
    let mut map: BTreeMap<u128, (u128, u32)> = BTreeMap::new();
    for &(iv, e) in ivs.iter() {
        let mut cursor = Some(iv.start);
        // A segment starting below iv.start may already cover the beginning.
        if let Some((_, &(end, _))) = map.range(..iv.start).next_back()
            && end >= iv.start
        {
            cursor = end.checked_add(1);
        }
        let inside: Vec<(u128, u128)> = map
            .range(iv.start..=iv.end)
            .map(|(&s, &(end, _))| (s, end))
            .collect();
        let mut gaps = Vec::new();
        for (s, end) in inside {
            if let Some(c) = cursor
                && c < s
            {
                gaps.push((c, s - 1));
            }
            cursor = match cursor {
                Some(c) => end.checked_add(1).map(|n| n.max(c)),
                None => None,
            };
        }
        if let Some(c) = cursor
            && c <= iv.end
        {
            gaps.push((c, iv.end));
        }
        for (s, end) in gaps {
            map.insert(s, (end, e));
        }
    }
    let mut segs = Segments::default();
    for (s, (end, e)) in map {
        // Merge neighbours from the same range (a range split by a nested one
        // stays two segments, which is correct).
        if let (Some(last_end), Some(&last_e)) = (segs.ends.last_mut(), segs.entry.last())
            && last_e == e
            && last_end.checked_add(1) == Some(s)
        {
            *last_end = end;
            continue;
        }
        segs.starts.push(s);
        segs.ends.push(end);
        segs.entry.push(e);
    }
    segs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(specs: &[(i64, &str)]) -> Index {
        Index::build(
            specs
                .iter()
                .map(|&(o, s)| RangeEntry {
                    office_id: o,
                    spec: s.into(),
                })
                .collect(),
        )
    }

    fn at(i: &Index, a: &str) -> Option<i64> {
        i.locate(a.parse().unwrap())
    }

    #[test]
    fn disjoint_ranges() {
        let i = idx(&[
            (1, "10.1.0.0/24"),
            (2, "10.1.2.0-10.1.2.99"),
            (3, "2001:db8::/48"),
        ]);
        assert_eq!(at(&i, "10.1.0.0"), Some(1));
        assert_eq!(at(&i, "10.1.0.255"), Some(1));
        assert_eq!(at(&i, "10.1.1.0"), None);
        assert_eq!(at(&i, "10.1.2.99"), Some(2));
        assert_eq!(at(&i, "10.1.2.100"), None);
        assert_eq!(at(&i, "2001:db8::1"), Some(3));
        assert_eq!(at(&i, "::ffff:10.1.0.7"), Some(1));
        assert_eq!(at(&i, "9.255.255.255"), None);
        match i.hit("10.1.1.5".parse().unwrap()) {
            Hit::Gap { below, above } => {
                assert_eq!(below.unwrap().office_id, 1);
                assert_eq!(above.unwrap().office_id, 2);
            }
            Hit::In(_) => panic!("should be a gap"),
        }
    }

    #[test]
    fn most_specific_wins() {
        let i = idx(&[
            (1, "10.0.0.0/8"),
            (2, "10.1.2.0/24"),
            (3, "::/0"),
            (4, "0.0.0.0/0"),
        ]);
        assert_eq!(at(&i, "10.1.2.3"), Some(2));
        assert_eq!(at(&i, "10.1.3.3"), Some(1));
        assert_eq!(at(&i, "10.255.255.255"), Some(1));
        assert_eq!(at(&i, "11.0.0.0"), Some(4));
        assert_eq!(at(&i, "255.255.255.255"), Some(4));
        assert_eq!(at(&i, "ffff::1"), Some(3));
        assert_eq!(i.len(), 5 + 1);
    }
}

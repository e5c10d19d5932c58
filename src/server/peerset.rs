//! The bounded peer set `/sources` hands a device: at most [`MAX_PEERS`]
//! of its office's servable members, so that the answer, and the have-map
//! polling each downloading device does over it, stay O(1) per device
//! instead of O(office) (design note `fleet-scale`: in a 500-device office every device
//! polled 499 have-maps).
//!
//! Chosen as: the leader first (followers wait on it for pieces nobody else
//! has yet), then the members with the most pieces (the likeliest to have
//! what this device lacks), then random others, so that pieces also flow
//! between devices that are equally far along and no one member is asked by
//! the whole office. A pure function with the randomness seeded by the
//! caller, so tests can pin it.

use std::collections::HashMap;

use crate::store::devices::DeviceRow;
use crate::store::distribution::ProgressRow;

/// Peers returned by default.
pub const MAX_PEERS: usize = 32;

/// Of [`MAX_PEERS`], how many go to the members with the most pieces; the
/// rest (after the leader) are random.
pub const BEST_PEERS: usize = 16;

/// Picks at most `max` of `candidates` (already filtered to servable
/// members other than the asker): the leader, then up to `best` by pieces
/// held (ties by id, for stable answers), then random ones drawn with
/// `seed`. Returns them in that order.
pub fn choose<'a>(
    candidates: &[&'a DeviceRow],
    leader: Option<&str>,
    progress: &HashMap<String, ProgressRow>,
    max: usize,
    best: usize,
    seed: u64,
) -> Vec<&'a DeviceRow> {
    if candidates.len() <= max {
        let mut all = candidates.to_vec();
        all.sort_by_key(|d| Some(d.id.as_str()) != leader);
        return all;
    }
    // Each member's pieces looked up once (not in every comparison: with
    // 500 members a full sort hashed an id some 9,000 times per request),
    // and only the best `best` put in order.
    let mut rest: Vec<(u32, &DeviceRow)> = Vec::with_capacity(candidates.len());
    let mut out: Vec<&DeviceRow> = Vec::with_capacity(max);
    for d in candidates {
        if Some(d.id.as_str()) == leader && out.is_empty() {
            out.push(d);
        } else {
            rest.push((progress.get(&d.id).map_or(0, |p| p.pieces), d));
        }
    }
    let most_first = |a: &(u32, &DeviceRow), b: &(u32, &DeviceRow)| {
        b.0.cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id))
    };
    let take_best = best.min(max - out.len()).min(rest.len());
    if take_best > 0 && take_best < rest.len() {
        rest.select_nth_unstable_by(take_best - 1, most_first);
    }
    rest[..take_best].sort_unstable_by(most_first);
    out.extend(rest.drain(..take_best).map(|(_, d)| d));
    let mut rest: Vec<&DeviceRow> = rest.into_iter().map(|(_, d)| d).collect();
    // Partial Fisher-Yates over what is left, with a xorshift seeded by
    // the caller.
    let mut x = seed | 1;
    let want = (max - out.len()).min(rest.len());
    for i in 0..want {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let j = i + (x % (rest.len() - i) as u64) as usize;
        rest.swap(i, j);
    }
    out.extend(rest.into_iter().take(want));
    out
}

/// A seed that differs per device and per refresh period, so that each
/// device sees a different random part and it rotates over time.
pub fn seed(device_id: &str, now: i64, refresh_secs: u64) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    device_id.hash(&mut h);
    (now / refresh_secs.max(1) as i64).hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(i: usize) -> DeviceRow {
        DeviceRow {
            id: format!("d{i:03}"),
            hostname: format!("h{i}"),
            addr: format!("10.0.{}.{}", i / 250, i % 250 + 1),
            prefix_len: 16,
            group_name: "g".into(),
            version: "0.1.0".into(),
            peer_url: Some(format!("http://10.0.0.1:{}", 7000 + i)),
            office_id: Some(1),
            first_seen: 0,
            last_seen: 1000,
            heartbeats: 100,
            uploads_ok: 0,
            upload_bytes: 0,
            failures: 0,
            license_activated_at: None,
            preference: crate::store::devices::Preference::Normal,
            unreachable_at: None,
            unreachable_why: None,
        }
    }

    fn prog(id: &str, pieces: u32) -> ProgressRow {
        ProgressRow {
            device_id: id.into(),
            pieces,
            started_at: 0,
            progressed_at: 0,
            done_at: None,
            started_ms: None,
            done_ms: None,
            bytes: 0,
            moved_at: None,
            blocked_at: None,
        }
    }

    #[test]
    fn a_500_device_office_gets_a_bounded_well_chosen_set() {
        let devices: Vec<DeviceRow> = (0..500).map(dev).collect();
        // Device 0 asks; the leader is d250; d400..d409 are furthest along.
        let candidates: Vec<&DeviceRow> = devices[1..].iter().collect();
        let mut progress = HashMap::new();
        for (i, d) in devices.iter().enumerate() {
            let p = if (400..410).contains(&i) {
                900 + i as u32
            } else {
                (i % 7) as u32
            };
            progress.insert(d.id.clone(), prog(&d.id, p));
        }
        let leader = Some("d250");
        let pick = || {
            choose(
                &candidates,
                leader,
                &progress,
                MAX_PEERS,
                BEST_PEERS,
                seed("d000", 100, 2),
            )
        };
        let a = pick();
        assert_eq!(a.len(), MAX_PEERS);
        assert_eq!(a[0].id, "d250", "leader first");
        // The ten most advanced come right after the leader, most first.
        let best: Vec<&str> = a[1..11].iter().map(|d| d.id.as_str()).collect();
        let want: Vec<String> = (400..410).rev().map(|i| format!("d{i}")).collect();
        assert_eq!(best, want);
        // No duplicates, never the asker.
        let mut ids: Vec<&str> = a.iter().map(|d| d.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), MAX_PEERS);
        assert!(!ids.contains(&"d000"));
        // The random part varies by device and period; the same inputs give
        // the same answer.
        let again = pick();
        assert_eq!(
            a.iter().map(|d| &d.id).collect::<Vec<_>>(),
            again.iter().map(|d| &d.id).collect::<Vec<_>>()
        );
        let later = choose(
            &candidates,
            leader,
            &progress,
            MAX_PEERS,
            BEST_PEERS,
            seed("d000", 110, 2),
        );
        assert_ne!(
            a[BEST_PEERS + 1..]
                .iter()
                .map(|d| &d.id)
                .collect::<Vec<_>>(),
            later[BEST_PEERS + 1..]
                .iter()
                .map(|d| &d.id)
                .collect::<Vec<_>>(),
            "the random part rotates"
        );
        // Over many askers the random part spreads load: no member is in
        // every set.
        let mut count: HashMap<&str, usize> = HashMap::new();
        for asker in 0..100 {
            let s = choose(
                &candidates,
                leader,
                &progress,
                MAX_PEERS,
                BEST_PEERS,
                seed(&format!("d{asker:03}"), 100, 2),
            );
            for d in &s[BEST_PEERS + 1..] {
                *count.entry(d.id.as_str()).or_default() += 1;
            }
        }
        assert!(
            count.len() > 200,
            "random peers spread over {} members",
            count.len()
        );
        assert!(count.values().all(|&n| n < 30));
    }

    #[test]
    fn a_small_office_gets_everyone_leader_first() {
        let devices: Vec<DeviceRow> = (0..5).map(dev).collect();
        let c: Vec<&DeviceRow> = devices.iter().collect();
        let out = choose(&c, Some("d003"), &HashMap::new(), MAX_PEERS, BEST_PEERS, 1);
        assert_eq!(out.len(), 5);
        assert_eq!(out[0].id, "d003");
    }
}

//! Property tests (design note `transport-trust`): the topology CSV parser, wire-type decoding
//! and validation, and the range-to-office lookup against a naive model.
//!
//! Also the piece store's journal against a model: writes, bad writes,
//! bit flips behind the store's back, crashes that tear the journal or
//! leave garbage records, and reopens.
//!
//! Deterministic by default: the seed is fixed unless `PROPTEST_RNG_SEED`
//! is set, and `P2PD_PROPTEST_CASES` (or proptest's own `PROPTEST_CASES`;
//! default 256) sets how many cases run — the knob for long runs, e.g.
//! `P2PD_PROPTEST_CASES=200000 cargo test --test properties`.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

use p2pd::topology::{Index, RangeEntry};
use p2pd::wire::proto::{self, EnrollRequest, HeartbeatRequest, Manifest, ReportRequest};

fn config() -> Config {
    let mut c = Config::default(); // reads PROPTEST_CASES / PROPTEST_RNG_SEED
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        c.rng_seed = RngSeed::Fixed(0x7275_7374);
    }
    if let Some(n) = std::env::var("P2PD_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        c.cases = n;
    } else if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = 256;
    }
    c.failure_persistence = None;
    c
}

/// Free text as admins type it, including CSV and formula characters.
fn text() -> impl Strategy<Value = String> {
    "[=+@'\\-a-zA-Z0-9,;\"| ]{0,24}".prop_map(|s| s.trim().to_string())
}

proptest! {
    #![proptest_config(config())]

    /// Offices written as CSV (cells neutralised, as p2pd writes them)
    /// parse back to the same names, parents, ranges and descriptions.
    #[test]
    fn topology_csv_round_trips(descs in prop::collection::vec(text(), 1..12)) {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["office", "parent", "type", "ranges", "wan_kbps", "description"]).unwrap();
        let names: Vec<String> = (0..descs.len()).map(|i| format!("Office {i}")).collect();
        for (i, d) in descs.iter().enumerate() {
            let parent = if i == 0 { String::new() } else { names[0].clone() };
            let range = format!("10.{i}.0.0/16");
            let row = [names[i].as_str(), &parent, "default", &range, "", d];
            w.write_record(row.map(|c| p2pd::domain::cells::neutralise(c).into_owned())).unwrap();
        }
        let bytes = w.into_inner().unwrap();
        let parsed = p2pd::topology::import::parse(Path::new("t.csv"), &bytes, None)
            .map_err(|e| TestCaseError::fail(format!("{e:?}\n{}", String::from_utf8_lossy(&bytes))))?;
        prop_assert_eq!(parsed.offices.len(), descs.len());
        for (i, o) in parsed.offices.iter().enumerate() {
            prop_assert_eq!(&o.name, &names[i]);
            prop_assert_eq!(&o.description, &descs[i]);
            prop_assert_eq!(&o.ranges, &vec![format!("10.{i}.0.0/16")]);
        }
    }

    /// The parser never panics, whatever the bytes.
    #[test]
    fn topology_parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = p2pd::topology::import::parse(Path::new("t.csv"), &bytes, None);
        let _ = p2pd::topology::import::parse(Path::new("t.xlsx"), &bytes, None);
    }

    /// Wire types: any bytes decode or fail cleanly, and validation of
    /// whatever decodes never panics.
    #[test]
    fn wire_decoding_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(r) = serde_json::from_slice::<EnrollRequest>(&bytes) { let _ = r.validate(); }
        if let Ok(r) = serde_json::from_slice::<HeartbeatRequest>(&bytes) { let _ = r.validate(); }
        if let Ok(r) = serde_json::from_slice::<ReportRequest>(&bytes) { let _ = r.validate(); }
        if let Ok(m) = serde_json::from_slice::<Manifest>(&bytes) { let _ = m.validate(); }
    }

    /// Ids: exactly 64 hex digits, or a UUID for devices; nothing else.
    #[test]
    fn ids_are_checked_exactly(s in "[0-9a-fA-F./\\-]{0,70}", u in any::<u128>()) {
        let hex64 = s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
        prop_assert_eq!(proto::parse_content_id("id", &s).is_ok(), hex64);
        prop_assert_eq!(s.parse::<p2pd::domain::ContentId>().is_ok(), hex64);
        let uuid = uuid::Uuid::from_u128(u).to_string();
        prop_assert!(proto::check_device_id("id", &uuid).is_ok());
        let is_uuid = s.len() == 36 && uuid::Uuid::parse_str(&s).is_ok();
        prop_assert_eq!(proto::check_device_id("id", &s).is_ok(), hex64 || is_uuid);
    }

    /// Manifests: validation accepts exactly the consistent ones.
    #[test]
    fn manifest_validation_matches_the_rule(
        size in 0u64..(1 << 34),
        shift in 0u32..40,
        extra in -1i64..2,
    ) {
        let piece_size = 1u64 << shift;
        let want = size.div_ceil(piece_size) as i64;
        let n = (want + extra).clamp(0, 5000) as usize;
        let m = Manifest {
            id: "a".repeat(64).parse().unwrap(), name: "n".into(), version: "1".into(),
            file_name: "f".into(), path: "p".into(), size, piece_size,
            pieces: vec!["b".repeat(64).parse().unwrap(); n],
        };
        let ok = piece_size <= proto::limits::MAX_PIECE_SIZE
            && (n as i64 == want || (size == 0 && n == 1));
        prop_assert_eq!(m.validate().is_ok(), ok);
    }

    /// The interval index answers like a linear scan over the ranges.
    #[test]
    fn range_lookup_matches_a_naive_model(
        blocks in prop::collection::btree_map(0u8..=255, (16u8..=32, any::<u16>()), 1..40),
        probes in prop::collection::vec((0u8..=255, any::<u16>()), 1..200),
    ) {
        // Disjoint ranges: each inside its own 10.B.0.0/16 block.
        let mut entries = Vec::new();
        let mut model: Vec<(u32, u32, i64)> = Vec::new();
        for (office, (b, (prefix, low))) in blocks.iter().enumerate() {
            let base = u32::from(Ipv4Addr::new(10, *b, 0, 0)) | u32::from(*low);
            let mask = if *prefix == 32 { u32::MAX } else { !(u32::MAX >> prefix) };
            let start = base & mask;
            let end = start | !mask;
            entries.push(RangeEntry {
                office_id: office as i64,
                spec: format!("{}/{prefix}", Ipv4Addr::from(start)),
            });
            model.push((start, end, office as i64));
        }
        let index = Index::build(entries);
        for (b, low) in probes {
            let ip = u32::from(Ipv4Addr::new(10, b, 0, 0)) | u32::from(low);
            let want = model.iter().find(|(s, e, _)| *s <= ip && ip <= *e).map(|m| m.2);
            prop_assert_eq!(index.locate(IpAddr::V4(Ipv4Addr::from(ip))), want);
        }
    }
}

/// One step against the piece store.
#[derive(Debug, Clone)]
enum JournalOp {
    /// Write piece i with its right bytes.
    Write(u32),
    /// Write piece i with wrong bytes (refused, changes nothing).
    WriteBad(u32),
    /// Flip a byte of piece i in the data file behind the store's back.
    Corrupt(u32, u16),
    /// Stop (as a crash would), append garbage records, cut `cut` bytes off
    /// the journal's end, and open again.
    Crash { garbage: Vec<u32>, cut: u8 },
}

fn journal_op(n: u32) -> impl Strategy<Value = JournalOp> {
    prop_oneof![
        6 => (0..n).prop_map(JournalOp::Write),
        1 => (0..n).prop_map(JournalOp::WriteBad),
        1 => (0..n, any::<u16>()).prop_map(|(i, o)| JournalOp::Corrupt(i, o)),
        2 => (prop::collection::vec(0..n + 3, 0..4), 0u8..9)
            .prop_map(|(garbage, cut)| JournalOp::Crash { garbage, cut }),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// After every step the store holds exactly the pieces the model says:
    /// written and journalled, and (once reopened) still intact on disk.
    /// A completed store delivers the original bytes.
    #[test]
    fn the_piece_journal_matches_a_model(
        (size, piece, ops) in (1usize..6000, prop::sample::select(vec![256u64, 1000, 1024]))
            .prop_flat_map(|(size, piece)| {
                let n = size.div_ceil(piece as usize) as u32;
                (Just(size), Just(piece), prop::collection::vec(journal_op(n), 1..40))
            }),
        seed in any::<u64>(),
    ) {
        use p2pd::agent::pieces::PieceStore;
        use sha2::{Digest, Sha256};
        use std::io::Write;
        let data: Vec<u8> = (0..size)
            .map(|i| (seed.wrapping_mul(i as u64 + 1) >> 7) as u8)
            .collect();
        let m = Manifest {
            id: p2pd::domain::ContentId(Sha256::digest(&data).into()),
            name: "t".into(),
            version: "1".into(),
            file_name: "t.bin".into(),
            path: "t/1/t.bin".into(),
            size: size as u64,
            piece_size: piece,
            pieces: data.chunks(piece as usize).map(|c| p2pd::domain::PieceHash(Sha256::digest(c).into())).collect(),
        };
        let n = m.piece_count();
        let bytes = |i: u32| {
            let (a, b) = m.piece_range(i);
            &data[a as usize..b as usize]
        };
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("pieces");
        let cdir = root.join(m.id.to_string());
        let mut store = PieceStore::new(root.clone()).unwrap();
        let mut c = store.open(&m).unwrap();
        // The model: journal records on disk, which pieces the store counts,
        // and which pieces' bytes on disk are intact.
        let mut records: Vec<u32> = Vec::new();
        let mut have = vec![false; n as usize];
        let mut intact = vec![false; n as usize];
        for op in ops {
            match op {
                JournalOp::Write(i) => {
                    let fresh = c.write_piece(i, bytes(i)).unwrap();
                    prop_assert_eq!(fresh, !have[i as usize]);
                    if fresh {
                        have[i as usize] = true;
                        intact[i as usize] = true;
                        records.push(i);
                    }
                }
                JournalOp::WriteBad(i) => {
                    let mut bad = bytes(i).to_vec();
                    bad[0] ^= 0x55;
                    prop_assert!(c.write_piece(i, &bad).is_err());
                }
                JournalOp::Corrupt(i, off) => {
                    let (a, b) = m.piece_range(i);
                    let at = a + u64::from(off) % (b - a);
                    let f = std::fs::OpenOptions::new().read(true).write(true)
                        .open(cdir.join("data")).unwrap();
                    let mut one = [0u8; 1];
                    p2pd::platform::read_exact_at(&f, &mut one, at).unwrap();
                    p2pd::platform::write_all_at(&f, &[one[0] ^ 0xff], at).unwrap();
                    // Flipping the same byte twice restores it: ask the disk.
                    let mut now = vec![0u8; (b - a) as usize];
                    p2pd::platform::read_exact_at(&f, &mut now, a).unwrap();
                    intact[i as usize] = now == bytes(i);
                }
                JournalOp::Crash { garbage, cut } => {
                    drop(c);
                    drop(store);
                    let jpath = cdir.join("journal");
                    let mut j = std::fs::OpenOptions::new().append(true).open(&jpath).unwrap();
                    for g in &garbage {
                        j.write_all(&g.to_le_bytes()).unwrap();
                    }
                    drop(j);
                    records.extend(garbage.iter().copied());
                    let len = std::fs::metadata(&jpath).unwrap().len();
                    let keep = len.saturating_sub(u64::from(cut));
                    std::fs::OpenOptions::new().write(true).open(&jpath).unwrap()
                        .set_len(keep).unwrap();
                    records.truncate((keep / 4) as usize);
                    // What reopening must find: journalled, in range, intact.
                    for (i, h) in have.iter_mut().enumerate() {
                        *h = records.contains(&(i as u32)) && intact[i];
                    }
                    // The journal is rewritten with exactly those pieces.
                    records = (0..n).filter(|i| have[*i as usize]).collect();
                    store = PieceStore::new(root.clone()).unwrap();
                    c = store.open(&m).unwrap();
                }
            }
            prop_assert_eq!(c.count(), have.iter().filter(|h| **h).count() as u32);
            for i in 0..n {
                prop_assert_eq!(c.has(i), have[i as usize], "piece {}", i);
                if have[i as usize] && intact[i as usize] {
                    prop_assert_eq!(c.read_piece(i).unwrap(), bytes(i).to_vec());
                }
            }
        }
        if c.complete() && intact.iter().all(|x| *x) {
            let out = c.deliver(&dir.path().join("out/t.bin")).unwrap();
            prop_assert_eq!(std::fs::read(out).unwrap(), data);
        }
    }
}

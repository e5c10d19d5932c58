//! Property tests (issue 11): the topology CSV parser, wire-type decoding
//! and validation, and the range-to-office lookup against a naive model.
//!
//! Deterministic by default: the seed is fixed unless `PROPTEST_RNG_SEED`
//! is set, and `PROPTEST_CASES` (default 256) sets how many cases run.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

use p2pd::proto::{self, EnrollRequest, HeartbeatRequest, Manifest, ReportRequest};
use p2pd::topology::{Index, RangeEntry};

fn config() -> Config {
    let mut c = Config::default(); // reads PROPTEST_CASES / PROPTEST_RNG_SEED
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        c.rng_seed = RngSeed::Fixed(0x7275_7374);
    }
    if std::env::var_os("PROPTEST_CASES").is_none() {
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
            w.write_record(row.map(|c| p2pd::cells::neutralise(c).into_owned())).unwrap();
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
        prop_assert_eq!(proto::check_content_id("id", &s).is_ok(), hex64);
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
            id: "a".repeat(64), name: "n".into(), version: "1".into(),
            file_name: "f".into(), path: "p".into(), size, piece_size,
            pieces: vec!["b".repeat(64); n],
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

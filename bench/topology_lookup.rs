//! Lookup throughput: random addresses against a large topology, one core.
//!
//!     python3 bench/topology/generate.py > /tmp/big.csv
//!     cargo bench --bench topology_lookup -- /tmp/big.csv
//!
//! Parses and validates the file with the real importer (timed too), builds
//! the interval index the server uses, then locates 10 million
//! pseudo-random addresses (90 % IPv4 in 10.0.0.0/8, hits and gaps, 10 %
//! IPv6) on this thread.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::Instant;

use p2pd::topology::{Index, RangeEntry, import};

fn main() {
    let path = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .unwrap_or_else(|| "/tmp/big.csv".into());
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!("cannot read {path}: {e}; generate it with bench/topology/generate.py")
    });
    let t = Instant::now();
    let parsed = import::parse(Path::new(&path), &bytes, None).expect("valid topology");
    let parse_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let entries: Vec<RangeEntry> = parsed
        .offices
        .iter()
        .enumerate()
        .flat_map(|(i, o)| {
            o.ranges.iter().map(move |s| RangeEntry {
                office_id: i as i64,
                spec: s.clone(),
            })
        })
        .collect();
    let n_ranges = entries.len();
    let index = Index::build(entries);
    let build_s = t.elapsed().as_secs_f64();

    let n = 10_000_000usize;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let addrs: Vec<IpAddr> = (0..n)
        .map(|_| {
            // xorshift64*: cheap, deterministic.
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
            if r.is_multiple_of(10) {
                IpAddr::V6(Ipv6Addr::from(
                    (0x2001_0db8u128 << 96) | (r as u128 & ((1 << 72) - 1)),
                ))
            } else {
                IpAddr::V4(Ipv4Addr::from(0x0A00_0000 | (r >> 40) as u32 & 0x00FF_FFFF))
            }
        })
        .collect();
    let t = Instant::now();
    let mut hits = 0usize;
    for a in &addrs {
        if black_box(index.locate(black_box(*a))).is_some() {
            hits += 1;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{} offices, {n_ranges} ranges ({} segments): parse+validate {:.3} s, index build {:.3} s",
        parsed.offices.len(),
        index.len(),
        parse_s,
        build_s
    );
    println!(
        "{n} lookups in {secs:.3} s on one thread: {:.2} million/s ({:.1} % in an office)",
        n as f64 / secs / 1e6,
        100.0 * hits as f64 / n as f64
    );
}

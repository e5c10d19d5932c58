//! Which of a device's addresses places it: the multi-homed rule (design
//! note `devices-move`). Pure: the office index and the office kinds come
//! in, the address comes out.
//!
//! A device has the address the server sees its connection come from, and
//! the addresses it lists (Wi-Fi, Ethernet, a VPN adapter, a docking
//! station). The rule:
//!
//! 1. **Candidates.** Where claimed addresses are not trusted (the
//!    default), the connection's source address alone: a key holder can
//!    claim any address, but not the one its packets come from. Where
//!    `trust_claimed_addresses` is on (devices behind NAT or a proxy, whose
//!    source means nothing), the addresses the device lists, in its
//!    order, then the source address.
//! 2. **An office's address wins.** The first candidate inside the ranges
//!    of an office that is not a VPN office places the device.
//! 3. **The VPN office only when nothing else matches.** Else the first
//!    candidate in a VPN office's ranges.
//! 4. **Else** the first candidate: no office (optimization on), or its
//!    subnet's auto office (optimization off, where only the first
//!    candidate counts).
//!
//! Peers reach the device on the address that placed it: the one in their
//! own office.

use std::net::IpAddr;

use super::Lookup;

/// One address of a device, with its subnet's prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub ip: IpAddr,
    pub prefix: u8,
}

/// The address that places a device (see the module's rule), or `None`
/// when it has none (no source known and no trusted claim).
///
/// `is_vpn` says whether an office id is a VPN office.
pub fn placing_address(
    lookup: &Lookup,
    is_vpn: impl Fn(i64) -> bool,
    source: Option<IpAddr>,
    claimed: &[Candidate],
    trust_claims: bool,
) -> Option<Candidate> {
    let source = source.map(|ip| {
        let ip = ip.to_canonical();
        Candidate {
            ip,
            prefix: claimed
                .iter()
                .find(|c| c.ip.to_canonical() == ip)
                .map_or(if ip.is_ipv4() { 24 } else { 64 }, |c| c.prefix),
        }
    });
    let candidates: Vec<Candidate> = if trust_claims {
        claimed
            .iter()
            .map(|c| Candidate {
                ip: c.ip.to_canonical(),
                prefix: c.prefix,
            })
            .chain(source)
            .collect()
    } else {
        source.into_iter().collect()
    };
    if !lookup.optimization() {
        return candidates.first().copied();
    }
    let office = |c: &Candidate| lookup.locate(c.ip);
    candidates
        .iter()
        .find(|c| office(c).is_some_and(|o| !is_vpn(o)))
        .or_else(|| candidates.iter().find(|c| office(c).is_some()))
        .or(candidates.first())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{Index, RangeEntry};

    /// Office 1: 10.1.0.0/16; office 2: 10.2.0.0/16; office 9, a VPN
    /// office: 10.9.0.0/16.
    fn lookup() -> Lookup {
        let e = |office_id: i64, r: &str| RangeEntry {
            office_id,
            spec: r.to_string(),
        };
        Lookup::from_index(
            Index::build(vec![
                e(1, "10.1.0.0/16"),
                e(2, "10.2.0.0/16"),
                e(9, "10.9.0.0/16"),
            ]),
            true,
        )
    }

    fn c(ip: &str, prefix: u8) -> Candidate {
        Candidate {
            ip: ip.parse().unwrap(),
            prefix,
        }
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    const VPN: fn(i64) -> bool = |o| o == 9;

    #[test]
    fn untrusted_claims_never_place_a_device_its_source_does() {
        let l = lookup();
        // Claims office 2, connects from office 1: office 1, with the
        // prefix the device gave for that address.
        let claimed = [c("10.2.0.5", 24), c("10.1.0.7", 20)];
        let got = placing_address(&l, VPN, ip("10.1.0.7"), &claimed, false).unwrap();
        assert_eq!(got, c("10.1.0.7", 20));
        // A source in the VPN office stays there: its claims are not proof.
        let got = placing_address(&l, VPN, ip("10.9.0.3"), &claimed, false).unwrap();
        assert_eq!(got.ip, "10.9.0.3".parse::<IpAddr>().unwrap());
        // An IPv4-mapped source is the IPv4 address.
        let got = placing_address(&l, VPN, ip("::ffff:10.1.0.7"), &[], false).unwrap();
        assert_eq!(got, c("10.1.0.7", 24));
        assert_eq!(placing_address(&l, VPN, None, &claimed, false), None);
    }

    #[test]
    fn trusted_an_office_address_beats_the_vpn_and_the_vpn_beats_nothing() {
        let l = lookup();
        // Wi-Fi in office 2, the VPN adapter, connecting through the VPN.
        let wifi_and_vpn = [c("10.9.0.3", 32), c("10.2.0.5", 24)];
        let got = placing_address(&l, VPN, ip("10.9.0.3"), &wifi_and_vpn, true).unwrap();
        assert_eq!(got, c("10.2.0.5", 24));
        // At home: the VPN address and a home network no office holds.
        let home = [c("192.168.1.20", 24), c("10.9.0.3", 32)];
        let got = placing_address(&l, VPN, ip("10.9.0.3"), &home, true).unwrap();
        assert_eq!(got, c("10.9.0.3", 32));
        // Nothing matches: the first address it listed (no office).
        let nowhere = [c("192.168.1.20", 24)];
        let got = placing_address(&l, VPN, ip("172.16.0.1"), &nowhere, true).unwrap();
        assert_eq!(got, c("192.168.1.20", 24));
    }

    #[test]
    fn trusted_two_offices_the_first_listed_wins() {
        let l = lookup();
        // Docked in office 1 (Ethernet listed first) with Wi-Fi in office 2.
        let docked = [c("10.1.0.8", 24), c("10.2.0.5", 24)];
        let got = placing_address(&l, VPN, ip("10.2.0.5"), &docked, true).unwrap();
        assert_eq!(got, c("10.1.0.8", 24));
        // Behind a proxy: the source is the proxy's, listed last.
        let got = placing_address(&l, VPN, ip("10.2.0.1"), &[c("10.1.0.8", 24)], true).unwrap();
        assert_eq!(got, c("10.1.0.8", 24));
    }

    #[test]
    fn auto_offices_use_the_first_candidate() {
        let l = Lookup::from_index(Index::build(vec![]), false);
        let got = placing_address(&l, VPN, ip("10.1.0.7"), &[c("10.2.0.5", 24)], false).unwrap();
        assert_eq!(got, c("10.1.0.7", 24));
        let got = placing_address(&l, VPN, ip("10.1.0.7"), &[c("10.2.0.5", 22)], true).unwrap();
        assert_eq!(got, c("10.2.0.5", 22));
    }
}

//! One entry of an office's `ranges` cell: a CIDR (`10.1.0.0/24`,
//! `2001:db8:1::/48`) or a `start-end` pair, as an inclusive interval.
//!
//! IPv4 and IPv6 live in separate spaces (an IPv6 `::/0` never covers an
//! IPv4 client), so an interval carries its family next to two `u128`s.

use std::net::IpAddr;

/// Address family of an interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

/// An inclusive address interval of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub family: Family,
    pub start: u128,
    pub end: u128,
}

/// Why a range entry could not be read; each reads as advice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error(
        "'{0}' is not an IP address, CIDR or start-end range (examples: 10.1.0.0/24, 2001:db8::/48, 10.2.0.1-10.2.0.99)"
    )]
    BadAddress(String),
    #[error("'{spec}': prefix /{prefix} is too long for {family} (at most /{max})")]
    BadPrefix {
        spec: String,
        prefix: String,
        family: &'static str,
        max: u8,
    },
    #[error("'{0}': the start is after the end; write the lower address first")]
    StartAfterEnd(String),
    #[error("'{0}' mixes IPv4 and IPv6; a start-end range must use one family")]
    MixedFamilies(String),
}

/// The canonical form of an address: IPv4-mapped IPv6 (`::ffff:10.1.2.3`,
/// what a dual-stack socket reports) becomes plain IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// An address as (family, number).
pub fn key(ip: IpAddr) -> (Family, u128) {
    match canonical(ip) {
        IpAddr::V4(a) => (Family::V4, u32::from(a) as u128),
        IpAddr::V6(a) => (Family::V6, u128::from(a)),
    }
}

fn bits(f: Family) -> u8 {
    match f {
        Family::V4 => 32,
        Family::V6 => 128,
    }
}

/// The address `n` of family `f`, for messages.
pub fn addr_of(f: Family, n: u128) -> IpAddr {
    match f {
        Family::V4 => IpAddr::from(std::net::Ipv4Addr::from(n as u32)),
        Family::V6 => IpAddr::from(std::net::Ipv6Addr::from(n)),
    }
}

/// The interval covered by `ip/prefix` (host bits ignored).
pub fn subnet(ip: IpAddr, prefix: u8) -> Interval {
    let (family, n) = key(ip);
    let width = bits(family);
    let prefix = prefix.min(width);
    let host_bits = (width - prefix) as u32;
    let host_mask: u128 = if host_bits == 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    };
    Interval {
        family,
        start: n & !host_mask,
        end: (n & !host_mask) | host_mask,
    }
}

/// Parses one entry, e.g. `10.1.0.0/24`, `2001:db8::/64` or
/// `10.2.0.1-10.2.0.99` (spaces around `-` allowed).
pub fn parse(spec: &str) -> Result<Interval, RangeError> {
    let s = spec.trim();
    let bad = || RangeError::BadAddress(s.to_string());
    if let Some((a, p)) = s.split_once('/') {
        let ip: IpAddr = a.trim().parse().map_err(|_| bad())?;
        let family = key(ip).0;
        let max = bits(family);
        let prefix: u8 = match p.trim().parse::<u8>() {
            Ok(n) if n <= max => n,
            _ => {
                return Err(RangeError::BadPrefix {
                    spec: s.to_string(),
                    prefix: p.trim().to_string(),
                    family: if family == Family::V4 { "IPv4" } else { "IPv6" },
                    max,
                });
            }
        };
        return Ok(subnet(ip, prefix));
    }
    // IPv6 addresses contain no '-', so the first '-' splits start and end.
    if let Some((a, b)) = s.split_once('-') {
        let a: IpAddr = a.trim().parse().map_err(|_| bad())?;
        let b: IpAddr = b.trim().parse().map_err(|_| bad())?;
        let (fa, na) = key(a);
        let (fb, nb) = key(b);
        if fa != fb {
            return Err(RangeError::MixedFamilies(s.to_string()));
        }
        if na > nb {
            return Err(RangeError::StartAfterEnd(s.to_string()));
        }
        return Ok(Interval {
            family: fa,
            start: na,
            end: nb,
        });
    }
    let ip: IpAddr = s.parse().map_err(|_| bad())?;
    let (family, n) = key(ip);
    Ok(Interval {
        family,
        start: n,
        end: n,
    })
}

/// Splits a `ranges` cell into entries: separated by `;`, `,` or
/// whitespace. A `start - end` written with spaces around the dash stays one
/// entry.
pub fn split_cell(cell: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let tokens: Vec<&str> = cell
        .split(|c: char| c == ';' || c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .collect();
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i];
        if t == "-" && !out.is_empty() && i + 1 < tokens.len() {
            let last = out.pop().unwrap_or_default();
            out.push(format!("{last}-{}", tokens[i + 1]));
            i += 2;
        } else if t.ends_with('-') && !t.contains('/') && i + 1 < tokens.len() {
            out.push(format!("{t}{}", tokens[i + 1]));
            i += 2;
        } else if t.starts_with('-') && !out.is_empty() {
            let last = out.pop().unwrap_or_default();
            out.push(format!("{last}{t}"));
            i += 1;
        } else {
            out.push(t.to_string());
            i += 1;
        }
    }
    out
}

/// The subnet name of an auto office, e.g. `10.1.2.0/24`.
pub fn subnet_name(ip: IpAddr, prefix: u8) -> String {
    let iv = subnet(ip, prefix);
    let p = prefix.min(bits(iv.family));
    format!("{}/{p}", addr_of(iv.family, iv.start))
}

/// The prefix to use for an auto office: the device's own, or /24 (IPv4)
/// and /64 (IPv6) when it reported none (0) or a nonsense one.
pub fn auto_prefix(ip: IpAddr, reported: u8) -> u8 {
    let (family, _) = key(ip);
    let default = match family {
        Family::V4 => 24,
        Family::V6 => 64,
    };
    if reported == 0 || reported > bits(family) {
        default
    } else {
        reported
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cidr_range_and_single() {
        let i = parse("10.1.0.0/24").unwrap();
        assert_eq!((i.start, i.end), (0x0a01_0000, 0x0a01_00ff));
        let i = parse(" 10.2.0.1 - 10.2.0.9 ").unwrap();
        assert_eq!(i.end - i.start, 8);
        assert_eq!(parse("2001:db8::/32").unwrap().family, Family::V6);
        assert_eq!(parse("::/0").unwrap().end, u128::MAX);
        assert_eq!(parse("0.0.0.0/0").unwrap().end, u32::MAX as u128);
        assert!(matches!(
            parse("10.0.0.9-10.0.0.1"),
            Err(RangeError::StartAfterEnd(_))
        ));
        assert!(matches!(
            parse("10.0.0.1-2001:db8::1"),
            Err(RangeError::MixedFamilies(_))
        ));
        assert!(matches!(
            parse("10.0.0.0/33"),
            Err(RangeError::BadPrefix { .. })
        ));
        assert!(matches!(
            parse("10.0.300.0/24"),
            Err(RangeError::BadAddress(_))
        ));
    }

    #[test]
    fn splits_cells() {
        assert_eq!(
            split_cell("10.1.0.0/24; 10.1.1.0/24,10.2.0.1 - 10.2.0.9\n2001:db8::/48"),
            vec![
                "10.1.0.0/24",
                "10.1.1.0/24",
                "10.2.0.1-10.2.0.9",
                "2001:db8::/48"
            ]
        );
        assert!(split_cell("  ").is_empty());
    }

    #[test]
    fn auto_subnets() {
        let ip: IpAddr = "10.1.2.77".parse().unwrap();
        assert_eq!(subnet_name(ip, auto_prefix(ip, 0)), "10.1.2.0/24");
        assert_eq!(subnet_name(ip, auto_prefix(ip, 16)), "10.1.0.0/16");
        let ip: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        assert_eq!(subnet_name(ip, auto_prefix(ip, 0)), "10.1.2.0/24");
        let ip: IpAddr = "2001:db8:1:2:3::4".parse().unwrap();
        assert_eq!(subnet_name(ip, auto_prefix(ip, 0)), "2001:db8:1:2::/64");
    }
}

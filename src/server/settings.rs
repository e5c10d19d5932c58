//! The settings request handlers read, typed: parsed once per fleet
//! snapshot (see [`super::fleet::Snapshot`]), never per request. A value
//! that does not parse falls back as it always has (its default, or the
//! number named on its field).

use crate::domain::settings::{Setting, parse_version};

/// The typed settings of one snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `heartbeat_secs` (10 when not a number).
    pub heartbeat_secs: u64,
    /// `heartbeat_budget`, heartbeats per second (10,000 when not a number).
    pub heartbeat_budget: u64,
    /// `agent_cache_mb` in bytes; `None` when unset or 0 (no limit).
    pub cache_limit_bytes: Option<u64>,
    /// `cdn_url`; `None` when empty.
    pub cdn_url: Option<String>,
    /// `trust_claimed_addresses` is on.
    pub trust_claimed_addresses: bool,
    /// The client versions accepted: as set, and as [`parse_version`]
    /// reads them.
    pub min_client_version: String,
    pub max_client_version: String,
    pub min_version: Option<(u64, u64, u64)>,
    pub max_version: Option<(u64, u64, u64)>,
    /// The quotas, each at least 1 (see `quota.rs`).
    pub device_writes_per_min: f64,
    pub wal_limit_mb: f64,
    pub enroll_per_min: f64,
    pub enroll_per_address_per_min: f64,
}

impl Settings {
    /// From the stored settings: `stored` is a setting's value as stored,
    /// `None` when unset.
    pub fn parse<'a>(stored: impl Fn(&str) -> Option<&'a str>) -> Settings {
        let value = |s: Setting| stored(s.name()).map_or_else(|| s.default_value(), str::to_string);
        let rate = |s: Setting| {
            value(s)
                .parse::<f64>()
                .ok()
                .or_else(|| s.default_value().parse().ok())
                .unwrap_or(1.0)
                .max(1.0)
        };
        let (min, max) = (
            value(Setting::MinClientVersion),
            value(Setting::MaxClientVersion),
        );
        let cdn = value(Setting::CdnUrl);
        Settings {
            heartbeat_secs: value(Setting::HeartbeatSecs).parse().unwrap_or(10),
            heartbeat_budget: value(Setting::HeartbeatBudget).parse().unwrap_or(10_000),
            cache_limit_bytes: stored(Setting::AgentCacheMb.name())
                .and_then(|v| v.parse::<u64>().ok())
                .filter(|&mb| mb > 0)
                .map(|mb| mb << 20),
            cdn_url: (!cdn.is_empty()).then_some(cdn),
            trust_claimed_addresses: value(Setting::TrustClaimedAddresses) == "on",
            min_version: parse_version(&min),
            max_version: parse_version(&max),
            min_client_version: min,
            max_client_version: max,
            device_writes_per_min: rate(Setting::DeviceWritesPerMin),
            wal_limit_mb: rate(Setting::WalLimitMb),
            enroll_per_min: rate(Setting::EnrollPerMin),
            enroll_per_address_per_min: rate(Setting::EnrollPerAddressPerMin),
        }
    }

    /// Whether this server accepts agents of `version`.
    pub fn accepts_version(&self, version: &str) -> bool {
        let v = parse_version(version);
        !(v.is_none() || v < self.min_version || v > self.max_version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Settings {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::parse(|name| m.get(name).map(String::as_str))
    }

    #[test]
    fn defaults_and_fallbacks_are_the_ones_handlers_used() {
        let d = parse(&[]);
        assert_eq!((d.heartbeat_secs, d.heartbeat_budget), (10, 10_000));
        assert_eq!((d.cache_limit_bytes, d.cdn_url.as_deref()), (None, None));
        assert!(!d.trust_claimed_addresses);
        assert_eq!(d.device_writes_per_min, 6000.0);
        assert_eq!(d.wal_limit_mb, 64.0);
        assert!(d.accepts_version(crate::VERSION));
        assert!(!d.accepts_version("nope"));
        let s = parse(&[
            ("heartbeat_secs", "x"),
            ("heartbeat_budget", "7"),
            ("agent_cache_mb", "2"),
            ("cdn_url", "https://cdn.example/"),
            ("trust_claimed_addresses", "on"),
            ("enroll_per_min", "bad"),
            ("enroll_per_address_per_min", "0"),
            ("min_client_version", "0.0.1"),
            ("max_client_version", "0.0.2"),
        ]);
        assert_eq!((s.heartbeat_secs, s.heartbeat_budget), (10, 7));
        assert_eq!(s.cache_limit_bytes, Some(2 << 20));
        assert_eq!(s.cdn_url.as_deref(), Some("https://cdn.example/"));
        assert!(s.trust_claimed_addresses);
        assert_eq!(s.enroll_per_min, 600.0, "the default when not a number");
        assert_eq!(s.enroll_per_address_per_min, 1.0, "at least 1");
        assert!(s.accepts_version("0.0.2") && !s.accepts_version("0.0.3"));
        assert_eq!(parse(&[("agent_cache_mb", "0")]).cache_limit_bytes, None);
    }
}

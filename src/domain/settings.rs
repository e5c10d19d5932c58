//! Server settings: the Peer Distribution page, one validated value each.
//!
//! Every setting has a name (as used by `p2pd settings set NAME VALUE`), a
//! default, and a validator that turns what the admin typed into the stored
//! form or says what a good value looks like.

use std::net::IpAddr;

/// Every setting, in the order `settings show` lists them.
pub const ALL: &[Setting] = &[
    Setting::ServerName,
    Setting::Port,
    Setting::DistributionOptimization,
    Setting::FileStorage,
    Setting::CdnUrl,
    Setting::MinClientVersion,
    Setting::MaxClientVersion,
    Setting::HeartbeatSecs,
    Setting::HeartbeatBudget,
    Setting::AgentCacheMb,
    Setting::TrustClaimedAddresses,
    Setting::WalLimitMb,
    Setting::DeviceWritesPerMin,
    Setting::EnrollPerMin,
    Setting::EnrollPerAddressPerMin,
    Setting::LicenseCap,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// Name or IP address the agents and `health` use to reach the server.
    ServerName,
    /// TCP port of `p2pd serve`.
    Port,
    /// on: offices come from the imported topology; off: one auto office per
    /// client subnet under the Central Office.
    DistributionOptimization,
    /// Where packages live: an absolute directory or an http(s) base URL.
    FileStorage,
    /// Last-resort download URL base (empty: none).
    CdnUrl,
    /// Oldest client version the server accepts.
    MinClientVersion,
    /// Newest client version the server accepts.
    MaxClientVersion,
    /// How often agents send heartbeats.
    HeartbeatSecs,
    /// Heartbeats per second the whole fleet may send: serve stretches
    /// each device's interval beyond `heartbeat_secs` when the fleet is
    /// too big for it (design note `fleet-scale`).
    HeartbeatBudget,
    /// Most MiB an agent's piece store may hold (0: no limit). Content no
    /// longer targeted is evicted, least recently used first.
    AgentCacheMb,
    /// off (the default): an enrolling device's claimed address must be
    /// the source address of its connection (when both are of one address
    /// family), so a device cannot place itself in another office or get
    /// a certificate for another device's address. on: the claim is taken
    /// as is, for devices behind NAT or a proxy.
    TrustClaimedAddresses,
    /// MiB the SQLite write-ahead log may reach before serve truncates it
    /// (a TRUNCATE checkpoint); past twice this, transfer reports are
    /// refused (429) until it is back under (design note `key-holders`).
    WalLimitMb,
    /// Report entries plus heartbeat items one device may send per minute
    /// (a token bucket holding one minute's worth); beyond it the request
    /// is refused with `rate_limited` (429 and `Retry-After`).
    DeviceWritesPerMin,
    /// New devices the whole fleet may enroll per minute (a token bucket
    /// holding one minute's worth). Renewals of existing devices are not
    /// counted.
    EnrollPerMin,
    /// New devices one source address may enroll per minute. Many devices
    /// behind one NAT address share it.
    EnrollPerAddressPerMin,
    /// Most devices holding a licence (0: no cap). A new device beyond it
    /// is refused with `license_limit`; existing devices keep theirs.
    LicenseCap,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingError {
    #[error("unknown setting '{0}'; valid settings: {names}", names = names())]
    Unknown(String),
    #[error("invalid {name} '{value}': {hint}")]
    Invalid {
        name: &'static str,
        value: String,
        hint: String,
    },
}

pub fn names() -> String {
    ALL.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")
}

impl std::str::FromStr for Setting {
    type Err = SettingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace('-', "_");
        ALL.iter()
            .copied()
            .find(|x| x.name() == norm)
            .ok_or_else(|| SettingError::Unknown(s.to_string()))
    }
}

impl Setting {
    pub fn name(self) -> &'static str {
        match self {
            Setting::ServerName => "server_name",
            Setting::Port => "port",
            Setting::DistributionOptimization => "distribution_optimization",
            Setting::FileStorage => "file_storage",
            Setting::CdnUrl => "cdn_url",
            Setting::MinClientVersion => "min_client_version",
            Setting::MaxClientVersion => "max_client_version",
            Setting::HeartbeatSecs => "heartbeat_secs",
            Setting::HeartbeatBudget => "heartbeat_budget",
            Setting::AgentCacheMb => "agent_cache_mb",
            Setting::TrustClaimedAddresses => "trust_claimed_addresses",
            Setting::WalLimitMb => "wal_limit_mb",
            Setting::DeviceWritesPerMin => "device_writes_per_min",
            Setting::EnrollPerMin => "enroll_per_min",
            Setting::EnrollPerAddressPerMin => "enroll_per_address_per_min",
            Setting::LicenseCap => "license_cap",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Setting::ServerName => "server name or IP the clients connect to",
            Setting::Port => "TCP port of the server",
            Setting::DistributionOptimization => {
                "on: use the imported topology; off: one office per client subnet"
            }
            Setting::FileStorage => "package storage: absolute directory or http(s) URL",
            Setting::CdnUrl => "CDN base URL, the last-resort source (empty: none)",
            Setting::MinClientVersion => "oldest supported client version",
            Setting::MaxClientVersion => "newest supported client version",
            Setting::HeartbeatSecs => "agent heartbeat interval in seconds",
            Setting::HeartbeatBudget => {
                "most heartbeats per second from the whole fleet; intervals stretch to stay within it"
            }
            Setting::AgentCacheMb => {
                "max MiB in each agent's cache; untargeted content is evicted first (0: no limit)"
            }
            Setting::TrustClaimedAddresses => {
                "on: take enrolling devices' claimed addresses as is (NAT, proxies); off: must match the connection's source"
            }
            Setting::WalLimitMb => {
                "MiB the SQLite write-ahead log may reach before serve truncates it; reports are refused past twice this"
            }
            Setting::DeviceWritesPerMin => {
                "most report entries and heartbeat items one device may send per minute (429 beyond)"
            }
            Setting::EnrollPerMin => "most new devices the whole fleet may enroll per minute",
            Setting::EnrollPerAddressPerMin => {
                "most new devices one source address (a NAT: many devices) may enroll per minute"
            }
            Setting::LicenseCap => {
                "most devices holding a licence; new devices beyond it are refused (0: no cap)"
            }
        }
    }

    pub fn default_value(self) -> String {
        match self {
            Setting::ServerName => "127.0.0.1".into(),
            Setting::Port => "7650".into(),
            Setting::DistributionOptimization => "off".into(),
            Setting::FileStorage => String::new(),
            Setting::CdnUrl => String::new(),
            Setting::MinClientVersion => env!("CARGO_PKG_VERSION").into(),
            Setting::MaxClientVersion => env!("CARGO_PKG_VERSION").into(),
            Setting::HeartbeatSecs => "10".into(),
            Setting::HeartbeatBudget => "10000".into(),
            Setting::AgentCacheMb => "0".into(),
            Setting::TrustClaimedAddresses => "off".into(),
            Setting::WalLimitMb => "64".into(),
            Setting::DeviceWritesPerMin => "6000".into(),
            Setting::EnrollPerMin => "600".into(),
            Setting::EnrollPerAddressPerMin => "120".into(),
            Setting::LicenseCap => "0".into(),
        }
    }

    /// Validates `value`; returns the form to store.
    pub fn validate(self, value: &str) -> Result<String, SettingError> {
        let v = value.trim();
        let bad = |hint: &str| SettingError::Invalid {
            name: self.name(),
            value: value.to_string(),
            hint: hint.to_string(),
        };
        match self {
            Setting::ServerName => {
                if v.parse::<IpAddr>().is_ok() || is_hostname(v) {
                    Ok(v.to_ascii_lowercase())
                } else {
                    Err(bad(
                        "expected a host name like p2p.corp.example or an IP address like 10.0.0.5",
                    ))
                }
            }
            Setting::Port => match v.parse::<u16>() {
                Ok(p) if p > 0 => Ok(p.to_string()),
                _ => Err(bad("expected a TCP port from 1 to 65535, like 7650")),
            },
            Setting::DistributionOptimization | Setting::TrustClaimedAddresses => {
                match v.to_ascii_lowercase().as_str() {
                    "on" | "true" | "yes" | "1" | "enabled" => Ok("on".into()),
                    "off" | "false" | "no" | "0" | "disabled" => Ok("off".into()),
                    _ => Err(bad("expected on or off")),
                }
            }
            Setting::FileStorage => {
                if v.starts_with("http://") || v.starts_with("https://") {
                    check_url(v).map_err(|h| bad(&h))
                } else if v.starts_with('/') {
                    Ok(v.trim_end_matches('/').to_string().max("/".into()))
                } else {
                    Err(bad(
                        "expected an absolute directory like /srv/packages or a URL like https://files.corp.example/packages/",
                    ))
                }
            }
            Setting::CdnUrl => {
                if v.is_empty() {
                    Ok(String::new())
                } else {
                    check_url(v).map_err(|h| bad(&h))
                }
            }
            Setting::MinClientVersion | Setting::MaxClientVersion => parse_version(v)
                .map(|_| v.to_string())
                .ok_or_else(|| bad("expected a version like 0.1.0")),
            Setting::HeartbeatSecs => match v.parse::<u32>() {
                Ok(s) if (1..=3600).contains(&s) => Ok(s.to_string()),
                _ => Err(bad("expected whole seconds from 1 to 3600, like 10")),
            },
            Setting::HeartbeatBudget => match v.parse::<u32>() {
                Ok(n) if (1..=1_000_000).contains(&n) => Ok(n.to_string()),
                _ => Err(bad(
                    "expected heartbeats per second from 1 to 1000000, like 10000",
                )),
            },
            Setting::AgentCacheMb => match v.parse::<u64>() {
                Ok(mb) if mb <= 1 << 30 => Ok(mb.to_string()),
                _ => Err(bad(
                    "expected whole MiB, like 10240 for 10 GiB, or 0 for no limit",
                )),
            },
            Setting::WalLimitMb => match v.parse::<u32>() {
                Ok(n) if (4..=65_536).contains(&n) => Ok(n.to_string()),
                _ => Err(bad("expected whole MiB from 4 to 65536, like 64")),
            },
            Setting::DeviceWritesPerMin => match v.parse::<u32>() {
                Ok(n) if (100..=100_000_000).contains(&n) => Ok(n.to_string()),
                _ => Err(bad(
                    "expected entries per minute from 100 to 100000000, like 6000",
                )),
            },
            Setting::EnrollPerMin | Setting::EnrollPerAddressPerMin => match v.parse::<u32>() {
                Ok(n) if (1..=1_000_000).contains(&n) => Ok(n.to_string()),
                _ => Err(bad(
                    "expected enrolments per minute from 1 to 1000000, like 600",
                )),
            },
            Setting::LicenseCap => match v.parse::<u64>() {
                Ok(n) if n <= 100_000_000 => Ok(n.to_string()),
                _ => Err(bad(
                    "expected a number of devices, like 5000, or 0 for no cap",
                )),
            },
        }
    }
}

impl Setting {
    /// Checks that a validated `file_storage` directory exists, so a typo
    /// is caught when it is set rather than at the first publish. URLs and
    /// the other settings are not checked here (no network at set time).
    pub fn check_exists(self, stored: &str) -> Result<(), SettingError> {
        if self != Setting::FileStorage || !stored.starts_with('/') {
            return Ok(());
        }
        let bad = |hint: String| SettingError::Invalid {
            name: self.name(),
            value: stored.to_string(),
            hint,
        };
        match std::fs::metadata(stored) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(bad(
                "it is a file, not a directory; give the directory that holds the packages".into(),
            )),
            Err(e) => Err(bad(format!(
                "{e}; create it first (mkdir -p {stored}), or pass --allow-missing-storage if it \
                 will be mounted later"
            ))),
        }
    }

    /// The stored value as JSON: numbers for numeric settings, so scripts
    /// reading `status --json` need no parsing.
    pub fn json_value(self, stored: &str) -> serde_json::Value {
        // A setting whose default is a count is a number in JSON: decided
        // by the default, not by a list kept by hand (heartbeat_budget was
        // once missing from that list and came out as a string).
        if self.default_value().parse::<u64>().is_ok()
            && let Ok(n) = stored.parse::<u64>()
        {
            return n.into();
        }
        stored.into()
    }
}

fn check_url(v: &str) -> Result<String, String> {
    let hint = "expected an http(s) URL like https://cdn.corp.example/packages/";
    let rest = v
        .strip_prefix("http://")
        .or_else(|| v.strip_prefix("https://"))
        .ok_or(hint)?;
    let host_port = rest.split('/').next().unwrap_or("");
    let host = match host_port.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
            if !p.is_empty() && p.parse::<u16>().is_err() {
                return Err(hint.into());
            }
            h
        }
        _ => host_port,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.parse::<IpAddr>().is_ok() || is_hostname(host) {
        Ok(v.to_string())
    } else {
        Err(hint.into())
    }
}

/// RFC 1123 host name: dot-separated labels of letters, digits and hyphens.
pub fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && !s.split('.').all(|l| l.bytes().all(|b| b.is_ascii_digit()))
}

/// Parses "MAJOR.MINOR.PATCH" into a comparable triple.
pub fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let mut it = v.split('.').map(|p| p.parse::<u64>().ok());
    let out = (it.next()??, it.next()??, it.next()??);
    it.next().is_none().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_each_kind() {
        assert_eq!(
            Setting::ServerName.validate("P2P.corp.example").unwrap(),
            "p2p.corp.example"
        );
        assert!(Setting::ServerName.validate("bad host!").is_err());
        assert!(Setting::ServerName.validate("300.1.1.1").is_err());
        assert!(Setting::Port.validate("0").is_err());
        assert!(Setting::Port.validate("70000").is_err());
        assert_eq!(
            Setting::DistributionOptimization.validate("ON").unwrap(),
            "on"
        );
        assert!(Setting::FileStorage.validate("relative/dir").is_err());
        assert!(Setting::FileStorage.validate("ftp://x").is_err());
        assert!(
            Setting::FileStorage
                .validate("https://files.example/p/")
                .is_ok()
        );
        assert!(Setting::CdnUrl.validate("https://exa mple").is_err());
        assert!(Setting::CdnUrl.validate("http://127.0.0.1:8080/x").is_ok());
        assert!(Setting::MinClientVersion.validate("1.2").is_err());
        assert!(
            Setting::FileStorage
                .check_exists("/nonexistent-p2pd")
                .is_err()
        );
        assert!(Setting::FileStorage.check_exists("/").is_ok());
        assert!(
            Setting::FileStorage
                .check_exists("https://x.example/")
                .is_ok()
        );
        assert_eq!(Setting::Port.json_value("7650"), serde_json::json!(7650));
        // Every numeric setting is a JSON number (design note `real-site` item 8).
        assert_eq!(
            Setting::AgentCacheMb.json_value("512"),
            serde_json::json!(512)
        );
        assert_eq!(
            Setting::HeartbeatSecs.json_value("10"),
            serde_json::json!(10)
        );
        let err = "nope".parse::<Setting>().unwrap_err().to_string();
        assert!(
            err.contains("server_name") && err.contains("cdn_url"),
            "{err}"
        );
    }

    #[test]
    fn every_count_setting_is_a_json_number() {
        for s in ALL {
            if s.default_value().parse::<u64>().is_ok() {
                assert!(s.json_value(&s.default_value()).is_u64(), "{}", s.name());
            }
        }
        assert_eq!(
            Setting::HeartbeatBudget.json_value("10000"),
            serde_json::json!(10000)
        );
        assert_eq!(
            Setting::ServerName.json_value("10.0.0.1"),
            serde_json::json!("10.0.0.1")
        );
        assert_eq!(
            Setting::DistributionOptimization.json_value("on"),
            serde_json::json!("on")
        );
    }
}

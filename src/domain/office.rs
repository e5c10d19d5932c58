//! What kind of network an office is: it decides whether its devices serve
//! each other. Stored and imported as `default`, `wifi` or `vpn`.

use std::fmt;
use std::str::FromStr;

/// An office's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OfficeKind {
    /// A wired LAN: devices serve each other.
    #[default]
    Default,
    /// A wireless LAN: devices serve each other.
    Wifi,
    /// Remote devices behind a VPN: each fetches for itself, none serves.
    Vpn,
}

impl OfficeKind {
    /// Every kind, in the order they are documented.
    pub const ALL: [OfficeKind; 3] = [OfficeKind::Default, OfficeKind::Wifi, OfficeKind::Vpn];

    /// The name in the database, topology files and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            OfficeKind::Default => "default",
            OfficeKind::Wifi => "wifi",
            OfficeKind::Vpn => "vpn",
        }
    }

    /// Whether devices in such an office serve pieces to each other.
    pub fn serves_peers(self) -> bool {
        self != OfficeKind::Vpn
    }
}

impl fmt::Display for OfficeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no office kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an office type (default, wifi or vpn)")]
pub struct BadOfficeKind(pub String);

impl FromStr for OfficeKind {
    type Err = BadOfficeKind;
    fn from_str(s: &str) -> Result<Self, BadOfficeKind> {
        OfficeKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| BadOfficeKind(s.to_string()))
    }
}

impl serde::Serialize for OfficeKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for OfficeKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_only_vpn_serves_no_one() {
        for k in OfficeKind::ALL {
            assert_eq!(k.as_str().parse::<OfficeKind>().unwrap(), k);
        }
        assert!(!OfficeKind::Vpn.serves_peers() && OfficeKind::Wifi.serves_peers());
        assert!("VPN".parse::<OfficeKind>().is_err());
    }
}

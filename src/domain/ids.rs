//! Content ids and piece hashes: SHA-256 digests, held as 32 bytes. Hex is
//! their text form only (`Display`, `FromStr`, serde), so a malformed id
//! cannot travel past the edge that parsed it.

use std::fmt;
use std::str::FromStr;

/// Why a text is not a SHA-256 hex digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{shown}' is not {what} (64 hex digits)")]
pub struct BadDigest {
    /// What was expected ("a content id", "a piece hash").
    pub what: &'static str,
    /// The refused text, shortened and escaped for messages.
    pub shown: String,
}

/// Parses 64 hex digits (either case) into 32 bytes.
fn parse_hex32(s: &str, what: &'static str) -> Result<[u8; 32], BadDigest> {
    let mut out = [0u8; 32];
    if s.len() == 64 && hex::decode_to_slice(s, &mut out).is_ok() {
        return Ok(out);
    }
    let t: String = s.chars().take(80).flat_map(char::escape_debug).collect();
    let shown = if s.chars().count() > 80 {
        format!("{t}…")
    } else {
        t
    };
    Err(BadDigest { what, shown })
}

/// A 32-byte digest type with hex text (one definition for both kinds).
macro_rules! digest {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// What the type is, in error messages.
            pub const WHAT: &'static str = $what;

            /// The 32 bytes.
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            /// The first `n` hex digits, for short display.
            pub fn short(&self, n: usize) -> String {
                let mut s = self.to_string();
                s.truncate(n);
                s
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut buf = [0u8; 64];
                // Cannot fail: the buffer is exactly twice the input.
                hex::encode_to_slice(self.0, &mut buf).map_err(|_| fmt::Error)?;
                // Hex digits are ASCII.
                f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }

        impl FromStr for $name {
            type Err = BadDigest;
            fn from_str(s: &str) -> Result<Self, BadDigest> {
                parse_hex32(s, $what).map($name)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

digest!(
    /// A content's id: the SHA-256 of its file.
    ContentId,
    "a content id"
);

digest!(
    /// The SHA-256 of one piece of a content.
    PieceHash,
    "a SHA-256 hex digest"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_bad_text_is_named() {
        let s = "00ff".repeat(16);
        let id: ContentId = s.parse().unwrap();
        assert_eq!(id.to_string(), s);
        assert_eq!(id.0[1], 0xff);
        assert_eq!(id.short(8), "00ff00ff");
        let upper: ContentId = s.to_uppercase().parse().unwrap();
        assert_eq!(upper, id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{s}\""));
        assert_eq!(serde_json::from_str::<ContentId>(&json).unwrap(), id);
        let e = "../etc".parse::<ContentId>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "'../etc' is not a content id (64 hex digits)"
        );
        assert!(serde_json::from_str::<PieceHash>("\"zz\"").is_err());
    }
}

/// A device id as a request proved it: the id in the client certificate
/// the connection presented (or, on plain HTTP with no identities, the id
/// the signed request names). Handlers get one only from
/// `crate::wire::http::Signed`, never from a query or a body, so a device cannot
/// act for another by naming it.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct DeviceId(String);

impl DeviceId {
    /// Wraps an id that was authenticated (or, on plain HTTP, signed).
    pub fn proved(id: impl Into<String>) -> DeviceId {
        DeviceId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::ops::Deref for DeviceId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

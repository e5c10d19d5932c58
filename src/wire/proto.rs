//! Wire types shared by the server and the agent, and the wire error codes
//! (errors meet their codes in one place: `http`).
//!
//! Goals: a small JSON control plane (`/v1/...`) that the server can answer
//! from SQLite in well under a millisecond, and a data plane where pieces
//! travel as raw bytes with no framing, so that an agent serves a piece with
//! one `pread` and the receiver verifies it with one SHA-256.
//!
//! Non-goals: streaming partial pieces, or piece availability through the
//! server. Agents ask each other for their have-maps (`/v1/pieces/C/have`);
//! the server only hands out a small ranked source list.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::domain::{Bitmap, ContentId};

/// Defines [`ErrorCode`] from one list: each code's name on the wire and
/// its HTTP status sit beside it, and [`ErrorCode::ALL`] is made from the
/// same list, so no code can be missing from parsing (as
/// `IdentityMismatch` once was).
macro_rules! error_codes {
    ($( $(#[$doc:meta])* $code:ident = $wire:literal, $status:literal; )*) => {
        /// Error codes on the wire: `{"error": {"code": ..., "message": ...}}`.
        /// Spelled once, in [`ErrorCode::as_str`]; serde and metrics use it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode {
            $( $(#[$doc])* $code, )*
        }

        impl ErrorCode {
            /// Every code, for parsing.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$code),*];

            /// The code's name on the wire and in metrics labels.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( ErrorCode::$code => $wire, )*
                }
            }

            pub fn http_status(self) -> u16 {
                match self {
                    $( ErrorCode::$code => $status, )*
                }
            }
        }
    };
}

error_codes! {
    /// The request was signed with a key that is not the current one.
    KeyMismatch = "key_mismatch", 401;
    BadSignature = "bad_signature", 401;
    Expired = "expired", 401;
    Replay = "replay", 401;
    Unsigned = "unsigned", 401;
    /// The device id is unknown: enroll again.
    NotEnrolled = "not_enrolled", 404;
    /// The device's group is not assigned to peer distribution.
    GroupNotAssigned = "group_not_assigned", 403;
    /// The client version is outside the supported range.
    UnsupportedVersion = "unsupported_version", 403;
    NotFound = "not_found", 404;
    /// The server seeds only to devices its scheduler sent to it.
    NotScheduled = "not_scheduled", 403;
    /// The peer does not have the piece (yet).
    PieceUnavailable = "piece_unavailable", 404;
    /// This device does not serve peers (VPN office).
    NotServing = "not_serving", 403;
    BadRequest = "bad_request", 400;
    /// The request body is larger than the server accepts.
    PayloadTooLarge = "payload_too_large", 413;
    /// File storage could not be read.
    StorageUnavailable = "storage_unavailable", 502;
    Internal = "internal", 500;
    /// Too many requests in flight: retry after the `Retry-After` header.
    Overloaded = "overloaded", 503;
    /// The request names another device than the client's certificate
    /// does, or needs a device certificate and came without one.
    IdentityMismatch = "identity_mismatch", 403;
    /// The admin retired this device id: it stays refused, whatever it
    /// proves, until `p2pd devices readmit ID`.
    DeviceRetired = "device_retired", 403;
    /// This device, or this address, sent more than the server allows
    /// per interval (`device_writes_per_min`, the enrollment rates):
    /// retry after the `Retry-After` header (design note `key-holders`).
    RateLimited = "rate_limited", 429;
    /// Every licence under `license_cap` is taken: a new device is refused.
    LicenseLimit = "license_limit", 403;
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        ErrorCode::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown error code '{s}'")))
    }
}

/// An error as carried on the wire.
#[derive(Debug, Clone, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct WireError {
    pub code: ErrorCode,
    pub message: String,
    /// With `key_mismatch`: the server's current key fingerprint (absent
    /// from older servers, and with every other code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_key: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: WireError,
}

/// Header naming the requesting device on piece requests.
pub const H_DEVICE: &str = "x-p2pd-device";
/// On a peer's answers: the office it is placed in now.
pub const H_OFFICE: &str = "x-p2pd-office";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddrInfo {
    pub ip: IpAddr,
    pub prefix: u8,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// Set when re-enrolling after a restart.
    pub device_id: Option<String>,
    pub hostname: String,
    pub addrs: Vec<AddrInfo>,
    pub version: String,
    pub group: String,
    /// A fixed address this agent serves pieces at (`--advertise`), e.g.
    /// `https://203.0.113.9:7651`; empty, the usual case: the server names
    /// the address it sees this device at, on `peer_port`.
    #[serde(default)]
    pub peer_url: String,
    /// The port this agent's peer server listens on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_port: Option<u16>,
    /// A certificate signing request (PEM) for the device certificate the
    /// server issues in return; absent on plain HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csr: Option<String>,
    /// The secret this device was given at its first enrollment: the proof,
    /// besides a valid certificate, that it is `device_id` (whose id any
    /// peer can read off its certificate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_secret: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrollResponse {
    pub device_id: String,
    pub office: Option<String>,
    pub office_kind: Option<String>,
    pub heartbeat_secs: u64,
    pub license_activated_at: i64,
    /// False for VPN-office and no-office devices.
    pub serve_peers: bool,
    /// The server's clock (Unix seconds) when it answered: the agent signs
    /// with server time, whatever its own clock says.
    #[serde(default)]
    pub server_time: i64,
    /// The device certificate issued for the request's CSR (PEM): it names
    /// `device_id` and nothing else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// A new secret for this device, given at its first enrollment (and to
    /// a device enrolled before secrets existed): the agent keeps it
    /// (owner-only) and sends it when it enrolls again without a valid
    /// certificate. Absent when the device proved itself with its secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_secret: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Progress {
    pub content_id: ContentId,
    pub pieces: u32,
    pub done: bool,
    /// When the device delivered the verified file (ms since the epoch),
    /// for the report's times; absent from older agents. A claim: the
    /// server bounds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_at_ms: Option<i64>,
    /// Bytes received so far for this content, counted as they stream in
    /// (the server judges a stall by bytes flowing, not pieces completed).
    #[serde(default)]
    pub bytes: u64,
    /// Every upstream source this device may use is failing: it is walking
    /// the tiers, and replacing it as leader would not help.
    #[serde(default)]
    pub blocked: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeartbeatRequest {
    pub device_id: String,
    pub progress: Vec<Progress>,
    /// The device's addresses now: the server re-places it when the
    /// address it sees (or, where claims are trusted, one of these) is in
    /// another office. Empty from agents that predate moving devices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addrs: Vec<AddrInfo>,
    /// The port its peer server listens on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_port: Option<u16>,
    /// A fixed peer URL (`--advertise`), as at enrollment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_url: Option<String>,
    /// Server time minus the device's own clock, in seconds, as the agent
    /// last measured it (`health` lists devices whose clock is far off).
    #[serde(default)]
    pub clock_offset: Option<i64>,
    /// Contents this device cannot make progress on, and why. The server
    /// keeps exactly this list, so an empty one clears earlier reports.
    #[serde(default)]
    pub stuck: Vec<Stuck>,
}

/// A content a device is stuck on: the same failure keeps repeating, or a
/// delivery error that retrying will not fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stuck {
    pub content_id: ContentId,
    /// One line for people: what fails, and where.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    pub heartbeat_secs: u64,
    pub serve_peers: bool,
    /// The office the device is placed in now (after this heartbeat);
    /// `None`: no office. A change makes the agent ask for sources again.
    #[serde(default)]
    pub office: Option<String>,
    /// Content targeted at the device's group. An entry that is not a
    /// content reference (its id would name a directory on the agent, so
    /// only 64 hex digits may) is dropped and logged; the others stand.
    #[serde(deserialize_with = "safe_contents")]
    pub contents: Vec<ContentRef>,
    /// The server's clock (Unix seconds) when it answered.
    #[serde(default)]
    pub server_time: i64,
    /// Most bytes the agent's piece store may hold (`agent_cache_mb`);
    /// None: no limit. Content no longer targeted is evicted, least
    /// recently used first; targeted content is never evicted.
    #[serde(default)]
    pub cache_limit_bytes: Option<u64>,
}

pub use crate::domain::content::{ContentRef, Manifest};

/// The contents of a heartbeat answer, without the entries that do not
/// deserialize as a [`ContentRef`] (a malformed id among them).
fn safe_contents<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ContentRef>, D::Error> {
    let raw = Vec::<serde_json::Value>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .filter_map(|v| match serde_json::from_value::<ContentRef>(v) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!("the server listed a content refused as unsafe: {e}");
                None
            }
        })
        .collect())
}

/// What a device is for one content in its office.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The preferred device: the only one that pulls from outside the office.
    Leader,
    /// Fetches from the leader and the other office peers only.
    Follower,
    /// Has no office peers (VPN or no-office): fetches from upstream alone.
    Solo,
}

/// Where a byte came from, seen from the receiving device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Lan,
    Parent,
    Server,
    Cdn,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Lan => "lan",
            Tier::Parent => "parent",
            Tier::Server => "server",
            Tier::Cdn => "cdn",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Source {
    pub tier: Tier,
    /// The device behind a lan/parent source.
    pub device_id: Option<String>,
    /// Base URL: a peer (`http://ip:port`), the server, or a storage/CDN
    /// base that the content's `path` is appended to.
    pub url: String,
    /// True for a CDN / storage URL outside p2pd: requests are not signed and
    /// use HTTP Range.
    pub plain: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourcesResponse {
    pub role: Role,
    pub office: Option<String>,
    /// The office's leader for this content, if any.
    pub leader: Option<String>,
    /// Office peers (LAN), leader first. Empty for solo devices.
    pub peers: Vec<Source>,
    /// Outside the office, in order of preference: parent office peers,
    /// then the server, then the CDN. Empty for followers, but for one
    /// that named its leader as failing it (`SourcesRequest::suspect`).
    pub upstream: Vec<Source>,
    /// Cap on what enters the office over its WAN link, in kbit/s.
    pub wan_kbps: Option<u64>,
    /// Ask again after this many seconds (or at once when a source fails).
    pub refresh_secs: u64,
    /// The leader's term for this (content, office): it grows on every
    /// change of leader. A follower names it when it reports its leader.
    #[serde(default)]
    pub epoch: i64,
    /// A leader may pull from outside the office for this many seconds
    /// after this answer; then it must hear again that it still leads. A
    /// leader cut off from the server thus stops pulling before another
    /// could be named in its place.
    #[serde(default)]
    pub lease_secs: u64,
}

/// Why a follower reports its leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuspectReason {
    /// Connection refused, reset or timed out.
    Unreachable,
    /// It answers but sends nothing.
    Stalled,
    /// It sends far slower than any LAN peer should.
    Slow,
    /// A piece from it failed its hash.
    Corrupt,
    /// It sent more bytes than the piece holds.
    Oversize,
}

impl SuspectReason {
    /// Whether the report says the leader is down (it counts towards
    /// replacing it, with a second signal). A bad or oversize piece does
    /// not: the server re-checks the piece, and a confirmed one bans.
    pub fn says_down(self) -> bool {
        matches!(self, Self::Unreachable | Self::Stalled | Self::Slow)
    }
}

/// A follower's report that its leader fails it. Until the leader
/// changes, a follower holding evidence (a bad or oversize piece, a slow
/// or stalled transfer) names it in every `/sources` call, and gets the
/// upstream sources so that it can go around the leader.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Suspect {
    pub leader: String,
    pub epoch: i64,
    pub reason: SuspectReason,
}

/// `POST /v1/contents/C/sources`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourcesRequest {
    pub device_id: String,
    /// Set when the leader the device was given failed it just now.
    #[serde(default)]
    pub suspect: Option<Suspect>,
    /// Peers (device ids) this device could not connect to since its last
    /// call: two such reports make a device one that is never leader and
    /// never offered as a source.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreachable: Vec<String>,
}

/// `POST /v1/leave`: an agent that is stopping hands over what it leads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaveRequest {
    pub device_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransferReport {
    pub content_id: ContentId,
    pub tier: Tier,
    pub source_device: Option<String>,
    pub bytes: u64,
    pub pieces: u32,
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BadPiece {
    pub content_id: ContentId,
    pub source_device: String,
    pub piece: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadReport {
    pub content_id: ContentId,
    pub pieces: u32,
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReportRequest {
    pub device_id: String,
    pub transfers: Vec<TransferReport>,
    pub bad: Vec<BadPiece>,
    pub uploads: Vec<UploadReport>,
    /// The report's sequence number, monotonic per device across restarts
    /// (the agent's report journal, `agent/journal.rs`): the server counts
    /// a report only if its number is above the highest it has applied for
    /// the device, so a retry after a lost answer counts once. 0 (absent:
    /// an agent from before sequence numbers) is counted every time.
    #[serde(default)]
    pub seq: u64,
}

/// `GET /v1/status`: used by `health` and by agents to check the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerStatus {
    pub server_id: String,
    pub version: String,
    pub time: i64,
    pub key_fingerprint: String,
    pub key_version: i64,
}

/// `GET /v1/pieces/C/have` on an agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HaveMap {
    pub pieces: u32,
    /// Bitmap, bit i (LSB first in byte i/8) set when piece i is verified; base64.
    pub bitmap: String,
}

impl HaveMap {
    /// The wire form of `count` verified pieces in `map`.
    pub fn new(count: u32, map: &Bitmap) -> HaveMap {
        use base64::Engine;
        HaveMap {
            pieces: count,
            bitmap: base64::engine::general_purpose::STANDARD.encode(map.as_bytes()),
        }
    }

    /// The bitmap, or `None` when it is not base64.
    pub fn bitmap(&self) -> Option<Bitmap> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.bitmap)
            .ok()?;
        Some(Bitmap::from_bytes(bytes))
    }
}

/// Limits on what crosses the wire, checked at the edge (the server's
/// handlers and the agent's client) before anything reaches a path, the
/// database or a counter.
pub mod limits {
    /// Longest hostname, group name or version string accepted.
    pub const MAX_NAME: usize = 255;
    /// Longest `peer_url`.
    pub const MAX_URL: usize = 2048;
    /// Longest certificate signing request (PEM); a P-256 CSR is ~400 bytes.
    pub const MAX_CSR: usize = 8192;
    /// Most addresses in one enrollment.
    pub const MAX_ADDRS: usize = 64;
    /// Most entries in any one JSON array of a heartbeat or a report.
    pub const MAX_ITEMS: usize = 1024;
    /// Longest `stuck` reason kept.
    pub const MAX_REASON: usize = 4096;
    /// Largest piece size a manifest may name (64 MiB).
    pub const MAX_PIECE_SIZE: u64 = 64 << 20;
    /// Largest byte count one report entry may claim (1 TiB): bigger than
    /// any package, far below where a sum of them could overflow.
    pub const MAX_REPORT_BYTES: u64 = 1 << 40;
}

/// Why a value from the wire was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    pub field: &'static str,
    pub reason: String,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> Invalid {
    Invalid {
        field,
        reason: reason.into(),
    }
}

/// A shortened, printable copy of a hostile value for error messages.
pub(crate) fn shown(s: &str) -> String {
    let t: String = s.chars().take(80).flat_map(char::escape_debug).collect();
    if s.chars().count() > 80 {
        format!("{t}…")
    } else {
        t
    }
}

/// True for 64 lowercase or uppercase hex digits (a SHA-256).
pub fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A content id from a path or a query: 64 hex digits (the SHA-256 of the
/// file), parsed once at the edge. Content ids name directories on
/// agents, so nothing else may pass.
pub fn parse_content_id(field: &'static str, s: &str) -> Result<ContentId, Invalid> {
    s.parse().map_err(|_| {
        invalid(
            field,
            format!("'{}' is not a content id (64 hex digits)", shown(s)),
        )
    })
}

/// A device id: 64 hex digits or a UUID (what the server hands out).
pub fn check_device_id(field: &'static str, s: &str) -> Result<(), Invalid> {
    if is_hex64(s) || (s.len() == 36 && uuid::Uuid::parse_str(s).is_ok()) {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!(
                "'{}' is not a device id (a UUID or 64 hex digits)",
                shown(s)
            ),
        ))
    }
}

/// A short printable name: non-empty, at most [`limits::MAX_NAME`] bytes,
/// no control characters (newlines would forge log and CSV lines).
pub fn check_name(field: &'static str, s: &str) -> Result<(), Invalid> {
    if s.is_empty() {
        return Err(invalid(field, "is empty"));
    }
    if s.len() > limits::MAX_NAME {
        return Err(invalid(
            field,
            format!(
                "is {} bytes; at most {} are accepted",
                s.len(),
                limits::MAX_NAME
            ),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(invalid(
            field,
            format!("'{}' contains control characters", shown(s)),
        ));
    }
    if s.chars().any(is_bidi_control) {
        return Err(invalid(
            field,
            format!(
                "'{}' contains a bidirectional-text control (U+202A-U+202E, U+2066-U+2069, \
                 U+200E, U+200F or U+061C), which makes a name read differently from what it is",
                shown(s)
            ),
        ));
    }
    Ok(())
}

/// Unicode's bidirectional formatting characters: invisible, they reorder
/// the text around them (a "right-to-left override" spoof).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

fn check_len<T>(field: &'static str, v: &[T], max: usize) -> Result<(), Invalid> {
    if v.len() > max {
        return Err(invalid(
            field,
            format!("has {} entries; at most {max} are accepted", v.len()),
        ));
    }
    Ok(())
}

impl EnrollRequest {
    /// Checks every field an enrolling device sends.
    pub fn validate(&self) -> Result<(), Invalid> {
        if let Some(id) = &self.device_id {
            check_device_id("device_id", id)?;
        }
        check_name("hostname", &self.hostname)?;
        check_name("version", &self.version)?;
        check_name("group", &self.group)?;
        check_addrs(&self.addrs)?;
        if !self.peer_url.is_empty() {
            check_peer_url(&self.peer_url, &self.addrs)?;
        }
        if let Some(secret) = &self.device_secret
            && (secret.is_empty() || secret.len() > 128)
        {
            return Err(invalid("device_secret", "must be 1 to 128 characters"));
        }
        if let Some(csr) = &self.csr
            && csr.len() > limits::MAX_CSR
        {
            return Err(invalid(
                "csr",
                format!(
                    "is {} bytes; at most {} are accepted",
                    csr.len(),
                    limits::MAX_CSR
                ),
            ));
        }
        Ok(())
    }
}

/// The addresses a device reports: at most [`limits::MAX_ADDRS`], each
/// prefix length within its family.
fn check_addrs(addrs: &[AddrInfo]) -> Result<(), Invalid> {
    check_len("addrs", addrs, limits::MAX_ADDRS)?;
    for a in addrs {
        let max = if a.ip.is_ipv4() { 32 } else { 128 };
        if a.prefix > max {
            return Err(invalid(
                "addrs",
                format!(
                    "prefix length /{} is longer than {max} for {}",
                    a.prefix, a.ip
                ),
            ));
        }
    }
    Ok(())
}

/// A fixed peer URL (`--advertise`): an http(s) URL at the first address
/// the device lists, nowhere else (another host's URL would send its
/// office's peers to that host).
fn check_peer_url(url: &str, addrs: &[AddrInfo]) -> Result<(), Invalid> {
    if url.len() > limits::MAX_URL {
        return Err(invalid("peer_url", "is too long"));
    }
    let u = reqwest::Url::parse(url)
        .map_err(|e| invalid("peer_url", format!("'{}' is not a URL: {e}", shown(url))))?;
    if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
        return Err(invalid(
            "peer_url",
            format!(
                "'{}' must be an http:// or https:// URL with a host",
                shown(url)
            ),
        ));
    }
    let claimed = addrs.first().map(|a| a.ip.to_canonical());
    let host_ip = u
        .host_str()
        .and_then(|h| {
            h.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .ok()
        })
        .map(|ip| ip.to_canonical());
    if let Some(claimed) = claimed
        && host_ip != Some(claimed)
    {
        return Err(invalid(
            "peer_url",
            format!(
                "'{}' is not at the address this device claims ({claimed}); \
                 the peer URL must be http(s)://{}:PORT",
                shown(url),
                match claimed {
                    IpAddr::V6(v6) => format!("[{v6}]"),
                    v4 => v4.to_string(),
                }
            ),
        ));
    }
    Ok(())
}

impl HeartbeatRequest {
    pub fn validate(&self) -> Result<(), Invalid> {
        check_device_id("device_id", &self.device_id)?;
        check_addrs(&self.addrs)?;
        if let Some(url) = &self.peer_url {
            check_peer_url(url, &self.addrs)?;
        }
        check_len("progress", &self.progress, limits::MAX_ITEMS)?;
        check_len("stuck", &self.stuck, limits::MAX_ITEMS)?;
        for s in &self.stuck {
            if s.reason.len() > limits::MAX_REASON {
                return Err(invalid("stuck.reason", "is too long"));
            }
        }
        Ok(())
    }
}

impl ReportRequest {
    pub fn validate(&self) -> Result<(), Invalid> {
        check_device_id("device_id", &self.device_id)?;
        // Stored as a signed 64-bit integer.
        if self.seq > i64::MAX as u64 {
            return Err(invalid(
                "seq",
                format!("{} is above the limit {}", self.seq, i64::MAX),
            ));
        }
        check_len("transfers", &self.transfers, limits::MAX_ITEMS)?;
        check_len("bad", &self.bad, limits::MAX_ITEMS)?;
        check_len("uploads", &self.uploads, limits::MAX_ITEMS)?;
        for t in &self.transfers {
            if let Some(d) = &t.source_device {
                check_device_id("transfers.source_device", d)?;
            }
            if t.bytes > limits::MAX_REPORT_BYTES {
                return Err(invalid(
                    "transfers.bytes",
                    format!(
                        "{} is above the limit {}",
                        t.bytes,
                        limits::MAX_REPORT_BYTES
                    ),
                ));
            }
        }
        for b in &self.bad {
            check_device_id("bad.source_device", &b.source_device)?;
        }
        for u in &self.uploads {
            if u.bytes > limits::MAX_REPORT_BYTES {
                return Err(invalid(
                    "uploads.bytes",
                    format!(
                        "{} is above the limit {}",
                        u.bytes,
                        limits::MAX_REPORT_BYTES
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl Manifest {
    /// Checks a manifest from the server before an agent builds any path
    /// or buffer from it: the piece size is bounded, and the piece count
    /// matches the size. (The id and the piece hashes are typed: a
    /// manifest with a malformed one does not deserialize.)
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.piece_size == 0 || self.piece_size > limits::MAX_PIECE_SIZE {
            return Err(invalid(
                "manifest.piece_size",
                format!(
                    "{} is outside 1..={}",
                    self.piece_size,
                    limits::MAX_PIECE_SIZE
                ),
            ));
        }
        let want = self.size.div_ceil(self.piece_size);
        // An empty file may be listed with one piece (the empty hash).
        let n = self.pieces.len() as u64;
        if n != want && !(self.size == 0 && n == 1) {
            return Err(invalid(
                "manifest.pieces",
                format!(
                    "lists {} pieces, but {} bytes in pieces of {} make {want}",
                    self.pieces.len(),
                    self.size,
                    self.piece_size
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod validation_tests {
    use super::*;

    fn enroll() -> EnrollRequest {
        EnrollRequest {
            peer_port: None,
            device_id: None,
            hostname: "pc-1".into(),
            addrs: vec![AddrInfo {
                ip: "10.0.0.5".parse().unwrap(),
                prefix: 24,
            }],
            version: "0.1.0".into(),
            group: "g".into(),
            peer_url: "http://10.0.0.5:7651".into(),
            csr: None,
            device_secret: None,
        }
    }

    #[test]
    fn enrollment_with_hostile_fields_is_refused() {
        assert!(enroll().validate().is_ok());
        let mut r = enroll();
        r.device_id = Some("../../etc/passwd".into());
        assert_eq!(r.validate().unwrap_err().field, "device_id");
        r.device_id = Some("a".repeat(1 << 20));
        assert_eq!(r.validate().unwrap_err().field, "device_id");
        r.device_id = Some(uuid::Uuid::new_v4().to_string());
        assert!(r.validate().is_ok());
        let mut r = enroll();
        r.addrs[0].prefix = 200;
        assert_eq!(r.validate().unwrap_err().field, "addrs");
        r.addrs[0].prefix = 33;
        assert!(r.validate().is_err());
        r.addrs[0] = AddrInfo {
            ip: "fd00::1".parse().unwrap(),
            prefix: 64,
        };
        // The peer URL must be at the claimed address.
        assert_eq!(r.validate().unwrap_err().field, "peer_url");
        r.peer_url = "https://[fd00::1]:7651".into();
        assert!(r.validate().is_ok());
        let mut r = enroll();
        r.peer_url = "http://10.0.0.6:7651".into();
        assert_eq!(r.validate().unwrap_err().field, "peer_url");
        r.peer_url = "http://pc.example:7651".into();
        assert_eq!(r.validate().unwrap_err().field, "peer_url");
        let mut r = enroll();
        r.peer_url = "file:///etc/passwd".into();
        assert_eq!(r.validate().unwrap_err().field, "peer_url");
        let mut r = enroll();
        r.hostname = "pc\ninjected".into();
        assert_eq!(r.validate().unwrap_err().field, "hostname");
        r.hostname = "invoice\u{202E}fdp.exe".into();
        assert_eq!(r.validate().unwrap_err().field, "hostname");
        r.hostname = "pc\u{2066}x".into();
        assert_eq!(r.validate().unwrap_err().field, "hostname");
    }

    #[test]
    fn manifest_with_traversal_id_is_refused() {
        let json = |id: &str, piece: &str| {
            serde_json::json!({
                "id": id, "name": "x", "version": "1", "file_name": "x", "path": "x",
                "size": 1, "piece_size": 1, "pieces": [piece],
            })
        };
        let zero = "0".repeat(64);
        let e =
            serde_json::from_value::<Manifest>(json("../../../../../tmp/x", &zero)).unwrap_err();
        assert!(e.to_string().contains("is not a content id"), "{e}");
        let e = serde_json::from_value::<Manifest>(json(&"a".repeat(64), "../x")).unwrap_err();
        assert!(e.to_string().contains("is not a SHA-256 hex digest"), "{e}");
        let ok: Manifest = serde_json::from_value(json(&"a".repeat(64), &zero)).unwrap();
        assert!(ok.validate().is_ok());
        let big = Manifest {
            piece_size: 1 << 40,
            ..ok.clone()
        };
        assert!(big.validate().is_err());
    }

    #[test]
    fn report_with_huge_counters_is_refused() {
        let r = ReportRequest {
            device_id: uuid::Uuid::new_v4().to_string(),
            uploads: vec![UploadReport {
                content_id: "b".repeat(64).parse().unwrap(),
                pieces: 1,
                bytes: i64::MAX as u64,
            }],
            ..Default::default()
        };
        assert_eq!(r.validate().unwrap_err().field, "uploads.bytes");
    }

    /// A report from an agent before sequence numbers has none (0: counted
    /// every time); one past what the store keeps is refused.
    #[test]
    fn report_seq_defaults_to_zero_and_is_bounded() {
        let device = uuid::Uuid::new_v4().to_string();
        let old = format!(r#"{{"device_id":"{device}","transfers":[],"bad":[],"uploads":[]}}"#);
        let r: ReportRequest = serde_json::from_str(&old).unwrap();
        assert_eq!(r.seq, 0);
        assert!(r.validate().is_ok());
        let r = ReportRequest {
            seq: i64::MAX as u64 + 1,
            ..r
        };
        assert_eq!(r.validate().unwrap_err().field, "seq");
    }
}

//! Wire types shared by the server and the agent, and the one place that
//! maps errors to wire codes.
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

/// Error codes on the wire: `{"error": {"code": ..., "message": ...}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request was signed with a key that is not the current one.
    KeyMismatch,
    BadSignature,
    Expired,
    Replay,
    Unsigned,
    /// The device id is unknown: enroll again.
    NotEnrolled,
    /// The device's group is not assigned to peer distribution.
    GroupNotAssigned,
    /// The client version is outside the supported range.
    UnsupportedVersion,
    NotFound,
    /// The server seeds only to devices its scheduler sent to it.
    NotScheduled,
    /// The peer does not have the piece (yet).
    PieceUnavailable,
    /// This device does not serve peers (VPN office).
    NotServing,
    BadRequest,
    /// File storage could not be read.
    StorageUnavailable,
    Internal,
}

impl ErrorCode {
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::KeyMismatch
            | ErrorCode::BadSignature
            | ErrorCode::Expired
            | ErrorCode::Replay
            | ErrorCode::Unsigned => 401,
            ErrorCode::GroupNotAssigned
            | ErrorCode::UnsupportedVersion
            | ErrorCode::NotScheduled
            | ErrorCode::NotServing => 403,
            ErrorCode::NotEnrolled | ErrorCode::NotFound | ErrorCode::PieceUnavailable => 404,
            ErrorCode::BadRequest => 400,
            ErrorCode::StorageUnavailable => 502,
            ErrorCode::Internal => 500,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::KeyMismatch => "key_mismatch",
            ErrorCode::BadSignature => "bad_signature",
            ErrorCode::Expired => "expired",
            ErrorCode::Replay => "replay",
            ErrorCode::Unsigned => "unsigned",
            ErrorCode::NotEnrolled => "not_enrolled",
            ErrorCode::GroupNotAssigned => "group_not_assigned",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::NotFound => "not_found",
            ErrorCode::NotScheduled => "not_scheduled",
            ErrorCode::PieceUnavailable => "piece_unavailable",
            ErrorCode::NotServing => "not_serving",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::StorageUnavailable => "storage_unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

impl From<&crate::key::VerifyError> for ErrorCode {
    fn from(e: &crate::key::VerifyError) -> Self {
        use crate::key::VerifyError as V;
        match e {
            V::Unsigned(_) => ErrorCode::Unsigned,
            V::KeyMismatch { .. } => ErrorCode::KeyMismatch,
            V::BadSignature => ErrorCode::BadSignature,
            V::Expired { .. } => ErrorCode::Expired,
            V::Replay(_) => ErrorCode::Replay,
        }
    }
}

/// An error as carried on the wire.
#[derive(Debug, Clone, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct WireError {
    pub code: ErrorCode,
    pub message: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: WireError,
}

/// Header naming the requesting device on piece requests.
pub const H_DEVICE: &str = "x-p2pd-device";

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
    /// Where this agent serves pieces, e.g. `http://10.1.2.3:7651`.
    pub peer_url: String,
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
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Progress {
    pub content_id: String,
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
    pub content_id: String,
    /// One line for people: what fails, and where.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContentRef {
    pub id: String,
    pub name: String,
    pub version: String,
    pub size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    pub heartbeat_secs: u64,
    pub serve_peers: bool,
    /// Content targeted at the device's group.
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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub id: String,
    pub name: String,
    pub version: String,
    /// File name to deliver as.
    pub file_name: String,
    /// Path relative to file storage (for CDN / storage downloads).
    pub path: String,
    pub size: u64,
    pub piece_size: u64,
    /// Hex SHA-256 of each piece.
    pub pieces: Vec<String>,
}

impl Manifest {
    pub fn piece_count(&self) -> u32 {
        self.pieces.len() as u32
    }

    /// Byte range of piece `i`.
    pub fn piece_range(&self, i: u32) -> (u64, u64) {
        let start = i as u64 * self.piece_size;
        (start, (start + self.piece_size).min(self.size))
    }
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
    /// then the server, then the CDN. Empty for followers.
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
}

/// A follower's report that its leader fails it.
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
}

/// `POST /v1/leave`: an agent that is stopping hands over what it leads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaveRequest {
    pub device_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransferReport {
    pub content_id: String,
    pub tier: Tier,
    pub source_device: Option<String>,
    pub bytes: u64,
    pub pieces: u32,
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BadPiece {
    pub content_id: String,
    pub source_device: String,
    pub piece: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadReport {
    pub content_id: String,
    pub pieces: u32,
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReportRequest {
    pub device_id: String,
    pub transfers: Vec<TransferReport>,
    pub bad: Vec<BadPiece>,
    pub uploads: Vec<UploadReport>,
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

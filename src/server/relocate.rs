//! Devices that move (design note `devices-move`): every heartbeat says
//! where the device is now, and the server re-places it then.
//!
//! A heartbeat carries the device's addresses and its peer port; the
//! connection carries its source address. [`seen`] applies the
//! multi-homed rule (`topology::placing`) to them. When the address that
//! places the device, or its peer URL, differs from what the server holds,
//! [`relocate`] writes the new ones, on the writing connection:
//!
//! - its office is decided again (`topology::place_device`);
//! - in another office, it leaves the old office's swarm: every term it
//!   held there ends at once ([`super::scheduler::moved_away`]: no
//!   heartbeat-timeout wait), both offices' rosters are dropped, and the
//!   move is kept for `explain` with the pieces it already held. Its
//!   verified pieces stay on its disk; in its new office it is a member
//!   like any other, so what that office already holds comes over its LAN;
//! - its peer URL follows its address (unless fixed with `--advertise`),
//!   and whether its peers can reach it is learnt again.
//!
//! The answer to that same heartbeat names the new office, and the agent
//! asks for sources for every content at once.

use std::net::{IpAddr, SocketAddr};

use crate::domain::OfficeKind;
use crate::store::Store;
use crate::store::moves::MoveRow;
use crate::topology::placing::{Candidate, placing_address};
use crate::wire::http::ApiError;
use crate::wire::proto::HeartbeatRequest;

use super::fleet::{Listed, Snapshot};
use super::leader::Board;
use super::roster::Roster;
use super::scheduler::{self, Timing};

/// Where a heartbeat shows a device now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The address that places it.
    pub addr: Candidate,
    /// Where its peers reach it; `None`: the heartbeat does not say (an
    /// agent from before moving devices), so the stored one stands.
    pub peer_url: Option<String>,
    /// Verified pieces it holds, as this heartbeat reports (its progress
    /// is written after the move).
    pub pieces_held: i64,
}

impl Seen {
    /// Whether the server holds something else for the device.
    pub fn differs(&self, listed: &Listed) -> bool {
        self.addr.ip.to_string() != listed.addr
            || self.peer_url.is_some() && self.peer_url != listed.peer_url
    }
}

/// Where `req` (from `source`) shows its device, or `None` when it says
/// nothing of where it is (an agent from before moving devices).
pub fn seen(
    fleet: &Snapshot,
    source: Option<IpAddr>,
    req: &HeartbeatRequest,
    tls: bool,
) -> Option<Seen> {
    if req.addrs.is_empty() && req.peer_port.is_none() {
        return None;
    }
    // Without a connection (a router driven in-process) there is no
    // source to prefer: the claims are all there is.
    let trust = fleet.settings.trust_claimed_addresses || source.is_none();
    let claimed: Vec<Candidate> = req
        .addrs
        .iter()
        .map(|a| Candidate {
            ip: a.ip,
            prefix: a.prefix,
        })
        .collect();
    let is_vpn = |o: i64| fleet.office(o).is_some_and(|o| o.kind == OfficeKind::Vpn);
    let addr = placing_address(&fleet.lookup, is_vpn, source, &claimed, trust)?;
    let scheme = if tls { "https" } else { "http" };
    let peer_url = match (&req.peer_url, req.peer_port) {
        // A fixed address (`--advertise`) where claims are trusted, or
        // where it is the address the device connects from.
        (Some(fixed), _) if trust || url_host(fixed) == source.map(|s| s.to_canonical()) => {
            Some(fixed.clone())
        }
        (_, Some(port)) => Some(format!("{scheme}://{}", SocketAddr::new(addr.ip, port))),
        (_, None) => None,
    };
    let pieces_held = req.progress.iter().map(|p| p.pieces as i64).sum();
    Some(Seen {
        addr,
        peer_url,
        pieces_held,
    })
}

/// The IP address a URL's host names, if it is one.
fn url_host(url: &str) -> Option<IpAddr> {
    let u = reqwest::Url::parse(url).ok()?;
    let h = u.host_str()?;
    h.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok()
        .map(|ip| ip.to_canonical())
}

/// What [`relocate`] decided.
#[derive(Debug, Clone)]
pub struct Relocated {
    /// What the heartbeat's answer and the directory need now.
    pub listed: Listed,
    /// The device changed office (`from`, `to`).
    pub moved: Option<(Option<i64>, Option<i64>)>,
    /// Terms it held in its old office, now someone else's.
    pub handed_over: usize,
    /// Its address or peer URL changed (its reachability is checked again).
    pub readdressed: bool,
}

/// Writes where `device_id` is now (see the module), inside the caller's
/// transaction-free writing connection.
pub fn relocate(
    st: &Store,
    fleet: &Snapshot,
    roster: &Roster,
    board: &mut Board,
    device_id: &str,
    seen: &Seen,
) -> Result<Relocated, ApiError> {
    let (now, now_ms) = (crate::domain::clock::now(), crate::domain::clock::now_ms());
    let row = super::api::enrolled(st, fleet, device_id)?;
    let office = crate::topology::place_device(st, &fleet.lookup, seen.addr.ip, seen.addr.prefix)
        .map_err(ApiError::internal)?;
    let addr = seen.addr.ip.to_string();
    let peer_url = seen.peer_url.clone().or(row.peer_url.clone());
    let listed = Listed {
        group_name: row.group_name.clone(),
        office_id: office,
        addr: addr.clone(),
        peer_url: peer_url.clone(),
    };
    let same = row.addr == addr && row.peer_url == peer_url && row.office_id == office;
    if same {
        return Ok(Relocated {
            listed,
            moved: None,
            handed_over: 0,
            readdressed: false,
        });
    }
    st.relocate_device(
        device_id,
        &addr,
        seen.addr.prefix,
        peer_url.as_deref(),
        office,
    )?;
    // A new address is a new network path: whether peers reach it is
    // learnt again.
    st.set_unreachable(device_id, None)?;
    board.readdressed(device_id, now);
    if row.office_id == office {
        tracing::info!(device = %device_id, from = %row.addr, to = %addr, "device address changed");
        return Ok(Relocated {
            listed,
            moved: None,
            handed_over: 0,
            readdressed: true,
        });
    }
    let held = seen.pieces_held.max(st.pieces_held(device_id)?);
    st.record_move(&MoveRow {
        device_id: device_id.to_string(),
        at: now,
        from_office: row.office_id,
        to_office: office,
        from_addr: row.addr.clone(),
        to_addr: addr.clone(),
        pieces_held: held,
    })?;
    for o in [row.office_id, office].into_iter().flatten() {
        roster.forget(o);
    }
    let timing = Timing::new(fleet.settings.heartbeat_secs as i64);
    let handed_over = match row.office_id {
        Some(old) => {
            let mut moved_row = row.clone();
            moved_row.office_id = office;
            scheduler::moved_away(st, board, &timing, &moved_row, old, now, now_ms)?
        }
        None => 0,
    };
    tracing::info!(
        device = %device_id, from_office = ?row.office_id, to_office = ?office,
        from = %row.addr, to = %addr, pieces_held = held, handed_over,
        "device moved to another office"
    );
    Ok(Relocated {
        listed,
        moved: Some((row.office_id, office)),
        handed_over,
        readdressed: true,
    })
}

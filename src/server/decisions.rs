//! The scheduler's decisions, recorded in words for `p2pd explain`, the
//! dashboard and the election/failover counters of `/metrics`.
//!
//! Two kinds of records:
//!
//! - **sources**: what a device was told for a content (role, leader, the
//!   upstream tiers in order) and why. Written only when that answer
//!   changes, so a device asking every few seconds costs nothing. The
//!   parent tier is written `parent-partial` while no online parent device
//!   holds every piece: the leader then goes to the server for what the
//!   parent office lacks, and that change of state is itself a decision.
//! - **election / failover**: an office got its first leader for a
//!   content, or its leader was replaced (offline, stalled, banned).
//!
//! Uses: `store`. Used by: `server` (sources handler) and `server::scheduler`.

use std::collections::HashSet;

use crate::domain::OfficeKind;
use crate::store::devices::DeviceRow;
use crate::store::observe::DecisionRow;
use crate::store::{Store, StoreError};
use crate::wire::proto::{Role, SourcesResponse, Tier};

use super::leader::Reason;
use super::scheduler::Timing;

/// `hh:mm:ss` (UTC) of a unix time, as explain and the reasons print it.
pub fn clock(t: i64) -> String {
    let s = t.rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn role_str(r: Role) -> &'static str {
    match r {
        Role::Leader => "leader",
        Role::Follower => "follower",
        Role::Solo => "solo",
    }
}

/// A device's name in a reason: hostname and address.
fn who(st: &Store, id: &str) -> Result<String, StoreError> {
    Ok(match st.device(id)? {
        Some(d) => format!("{} ({}, {})", d.hostname, d.addr, &id[..8.min(id.len())]),
        None => id.to_string(),
    })
}

/// The office a leader goes to for peers: the parent, skipping VPN
/// offices (they serve nobody), as the scheduler does.
fn parent_office(
    st: &Store,
    mut parent_id: Option<i64>,
) -> Result<Option<crate::store::topology::OfficeRow>, StoreError> {
    while let Some(pid) = parent_id {
        let Some(p) = st.office(pid)? else {
            break;
        };
        if p.kind.serves_peers() {
            return Ok(Some(p));
        }
        parent_id = p.parent_id;
    }
    Ok(None)
}

/// Records what `device` was told for `content_id`, if it differs from
/// what it was told last time.
pub fn record_sources(
    st: &Store,
    device: &DeviceRow,
    content_id: &str,
    piece_count: u32,
    resp: &SourcesResponse,
    now: i64,
) -> Result<(), StoreError> {
    let office = match device.office_id {
        Some(o) => st.office(o)?,
        None => None,
    };
    let parents = Parents::of(st, content_id, piece_count, resp)?;
    let tiers = tiers(resp, &parents);
    let role = role_str(resp.role);
    if let Some(last) = st.last_decision(&device.id, content_id)?
        && last.office_id == device.office_id
        && last.role == role
        && last.leader == resp.leader
        && last.tiers == tiers
    {
        return Ok(());
    }
    let told = Told {
        device,
        office: office.as_ref(),
        resp,
        parents: &parents,
        piece_count,
        at: clock(now),
        tiers: &tiers,
    };
    let reason = told.reason(st)?;
    st.record_decision(&DecisionRow {
        at: now,
        content_id: content_id.to_string(),
        device_id: device.id.clone(),
        office_id: device.office_id,
        kind: "sources".into(),
        role: role.into(),
        leader: resp.leader.clone(),
        previous: None,
        tiers,
        reason,
    })
}

/// The parent-tier peers of an answer and how much of the content they
/// hold.
struct Parents<'a> {
    ids: HashSet<&'a str>,
    /// How many hold every piece.
    full: usize,
    /// The most pieces any holds.
    most: u32,
}

impl<'a> Parents<'a> {
    fn of(
        st: &Store,
        content_id: &str,
        piece_count: u32,
        resp: &'a SourcesResponse,
    ) -> Result<Parents<'a>, StoreError> {
        let ids: HashSet<&str> = resp
            .upstream
            .iter()
            .filter(|s| s.tier == Tier::Parent)
            .filter_map(|s| s.device_id.as_deref())
            .collect();
        // One keyed lookup per parent peer, not the whole fleet's progress.
        let mut held: Vec<u32> = Vec::with_capacity(ids.len());
        for id in &ids {
            if let Some(p) = st.device_progress(content_id, id)? {
                held.push(p.pieces);
            }
        }
        Ok(Parents {
            full: held.iter().filter(|&&p| p >= piece_count).count(),
            most: held.iter().copied().max().unwrap_or(0),
            ids,
        })
    }
}

/// The upstream tiers in order, the parent tier written `parent-partial`
/// while no parent peer holds every piece.
fn tiers(resp: &SourcesResponse, parents: &Parents) -> String {
    let mut tiers: Vec<&str> = Vec::new();
    for s in &resp.upstream {
        let t = match s.tier {
            Tier::Parent if parents.full == 0 => "parent-partial",
            t => t.as_str(),
        };
        if !tiers.contains(&t) {
            tiers.push(t);
        }
    }
    tiers.join(",")
}

/// What a device was told, to be put in words.
struct Told<'a> {
    device: &'a DeviceRow,
    office: Option<&'a crate::store::topology::OfficeRow>,
    resp: &'a SourcesResponse,
    parents: &'a Parents<'a>,
    piece_count: u32,
    /// The time, as [`clock`] prints it.
    at: String,
    tiers: &'a str,
}

impl Told<'_> {
    /// Why the device was told what it was told.
    fn reason(&self, st: &Store) -> Result<String, StoreError> {
        let resp = self.resp;
        Ok(match (self.office, resp.role) {
            (None, _) => format!(
                "address {} is in no office's range: a no-office client gets no peer or server \
                 downloads, only the CDN / file storage",
                self.device.addr
            ),
            (Some(o), Role::Solo) if o.kind == OfficeKind::Vpn => format!(
                "office {} is a VPN office: no peering inside it; {}",
                o.name,
                self.parent_words(st)?
            ),
            (Some(o), Role::Solo) => format!(
                "{}: fetches upstream alone; {}",
                o.name,
                self.parent_words(st)?
            ),
            (Some(o), Role::Leader) => format!(
                "leader of {}: the only device that goes outside the office; {}",
                o.name,
                self.parent_words(st)?
            ),
            (Some(o), Role::Follower) => {
                let leader = match &resp.leader {
                    Some(l) => who(st, l)?,
                    None => "no leader yet".into(),
                };
                if resp.upstream.is_empty() {
                    format!(
                        "follower in {}: fetches from the leader {leader} and the office's other {} peer{} \
                         over the LAN; only the leader goes outside the office",
                        o.name,
                        resp.peers.len().saturating_sub(1),
                        if resp.peers.len() == 2 { "" } else { "s" }
                    )
                } else {
                    // Design note `key-holders`: a follower with evidence against its leader.
                    format!(
                        "follower in {}: it reported the leader {leader} as failing it, so it goes \
                         around that leader: from the office's other peers over the LAN, and from \
                         outside the office ({}) for what they do not have",
                        o.name, self.tiers
                    )
                }
            }
        })
    }

    /// Where the office's leader goes outside the office, and why.
    fn parent_words(&self, st: &Store) -> Result<String, StoreError> {
        let Some(o) = self.office else {
            return Ok(String::new());
        };
        let (at, piece_count) = (&self.at, self.piece_count);
        let Parents { ids, full, most } = self.parents;
        let devices = |n: usize| if n == 1 { "" } else { "s" };
        Ok(match parent_office(st, o.parent_id)? {
            None => format!(
                "{} has no parent office, so the server is its first source outside the office",
                o.name
            ),
            Some(p) if ids.is_empty() => format!(
                "parent office {} had no online device at {at}, so the leader went to the server",
                p.name
            ),
            Some(p) if *full == 0 => format!(
                "parent office {} had {} online device{} at {at}, none holding all {piece_count} pieces yet \
                 (the most any held: {most}), so the leader fetches from them as pieces arrive there, \
                 and goes to the server only while they fail",
                p.name,
                ids.len(),
                devices(ids.len())
            ),
            Some(p) => format!(
                "parent office {} had {} online device{} at {at}, {full} holding all {piece_count} pieces, \
                 so the leader fetches from the parent office, and goes to the server only while they fail",
                p.name,
                ids.len(),
                devices(ids.len())
            ),
        })
    }
}

/// Records that `office_id` got `new` as its leader for a content;
/// `current` is the leader it had (None: its first); `reason` is why the
/// leader state machine replaced it.
#[allow(clippy::too_many_arguments)]
pub fn record_election(
    st: &Store,
    timing: &Timing,
    content_id: &str,
    office_id: i64,
    new: &str,
    current: Option<&str>,
    reason: Reason,
    members: &[DeviceRow],
    banned: &HashSet<String>,
    now: i64,
) -> Result<(), StoreError> {
    let office = st
        .office(office_id)?
        .map(|o| o.name)
        .unwrap_or_else(|| format!("office {office_id}"));
    let new_who = who(st, new)?;
    let (kind, text) = match current {
        None => (
            "election",
            format!("{new_who} became the first leader of {office}: the best-scored online device"),
        ),
        Some(cur) => {
            let cur_who = who(st, cur)?;
            let why = match members.iter().find(|d| d.id == cur) {
                _ if banned.contains(cur) => "was banned for sending a bad piece".to_string(),
                None if reason == Reason::Moved => {
                    "moved to another office (its address now places it there)".to_string()
                }
                None => "left the office".to_string(),
                Some(d) if reason == Reason::Unreachable => format!(
                    "cannot be reached by its peers ({})",
                    unreachable_words(d.unreachable_why.as_deref())
                ),
                Some(_) if reason == Reason::Stalled => format!(
                    "stalled: no bytes moved for more than {} s",
                    timing.stall_secs
                ),
                Some(_) if reason == Reason::Slow => {
                    "pulled far slower than the other offices' leaders".to_string()
                }
                Some(_) if reason == Reason::Left => {
                    "handed over its leadership while stopping".to_string()
                }
                Some(_) if reason == Reason::Reported => {
                    "was reported unreachable by its followers, and a second signal confirmed it \
                     (another follower's report, a missed heartbeat or the server's own probe)"
                        .to_string()
                }
                Some(d) if !timing.online(d.last_seen, now) => {
                    format!("went offline (last heartbeat at {})", clock(d.last_seen))
                }
                Some(d) if !d.preference.may_lead() => {
                    "was excluded from leading by the admin (`p2pd devices exclude`)".to_string()
                }
                Some(d)
                    if members
                        .iter()
                        .find(|m| m.id == new)
                        .is_some_and(|n| n.preference.rank() > d.preference.rank()) =>
                {
                    "was outranked by a device the admin prefers (`p2pd devices prefer`)"
                        .to_string()
                }
                Some(_) => "stopped serving peers".to_string(),
            };
            (
                "failover",
                format!("leader {cur_who} {why}, so {new_who} took over {office}"),
            )
        }
    };
    st.record_decision(&DecisionRow {
        at: now,
        content_id: content_id.to_string(),
        device_id: new.to_string(),
        office_id: Some(office_id),
        kind: kind.into(),
        role: String::new(),
        leader: Some(new.to_string()),
        previous: current.map(str::to_string),
        tiers: String::new(),
        reason: text,
    })
}

/// How the server learnt that a device's peers cannot reach it, in words.
pub fn unreachable_words(why: Option<&str>) -> &'static str {
    match why {
        Some(UNREACHABLE_BY_PEERS) => "two of its peers failed to connect to it",
        Some(UNREACHABLE_BY_PROBE) => "the server's own connection to its peer port failed",
        _ => "reported unreachable",
    }
}

/// `devices.unreachable_why`: peers' failed attempts confirmed.
pub const UNREACHABLE_BY_PEERS: &str = "peers";
/// `devices.unreachable_why`: the server's reachability check failed.
pub const UNREACHABLE_BY_PROBE: &str = "probe";

#[cfg(test)]
mod tests {
    #[test]
    fn clock_prints_utc_time_of_day() {
        assert_eq!(super::clock(0), "00:00:00");
        assert_eq!(super::clock(86_400 + 10 * 3600 + 2 * 60 + 11), "10:02:11");
    }
}

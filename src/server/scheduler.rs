//! Scheduling: who leads each office for each content, and the short ranked
//! source list each device gets.
//!
//! The server hands out sources and stays off the per-piece path. For each
//! (content, office) it names a leader, the preferred device; only the
//! leader pulls from outside the office, in this order:
//!
//! parent office peers → the server (central seed) → CDN / file storage.
//!
//! Followers fetch from the leader and from each other as pieces arrive.
//! VPN devices fetch from the parent office alone and serve nobody;
//! no-office devices get only the CDN / file storage.

use std::collections::{HashMap, HashSet};

use crate::proto::{Role, Source, SourcesResponse, Tier};
use crate::store::devices::DeviceRow;
use crate::store::distribution::ProgressRow;
use crate::store::{Store, StoreError};

/// Office id used in the `leaders` table for devices with no office.
pub const NO_OFFICE: i64 = -1;

/// Timing knobs, from settings.
#[derive(Debug, Clone)]
pub struct Timing {
    pub heartbeat_secs: i64,
    /// A leader whose piece count has not grown for this long, while not
    /// done, is replaced. Long enough for one large piece on a slow,
    /// capped WAN link.
    pub stall_secs: i64,
}

impl Timing {
    pub fn new(heartbeat_secs: i64) -> Timing {
        Timing {
            heartbeat_secs,
            stall_secs: (6 * heartbeat_secs).max(30),
        }
    }

    /// A device is online when its last heartbeat is at most three
    /// intervals (plus two seconds of slack) old.
    pub fn online(&self, d: &DeviceRow, now: i64) -> bool {
        now - d.last_seen <= 3 * self.heartbeat_secs + 2
    }
}

/// The preferred-device score: history, not arrival order.
///
/// - availability: heartbeats seen ÷ heartbeats expected since first seen,
///   smoothed with a prior of 10 out of 20 so that a newcomer with two
///   perfect heartbeats does not outrank a device with a month of them;
/// - successful uploads to peers, on a log scale (the first hundred count
///   for more than the next thousand);
/// - failures (bad pieces sent, stalls as leader) weigh against.
pub fn score(d: &DeviceRow, timing: &Timing, now: i64) -> f64 {
    let expected = ((now - d.first_seen) / timing.heartbeat_secs.max(1) + 1) as f64;
    let seen = (d.heartbeats as f64).min(expected);
    let availability = (seen + 10.0) / (expected + 20.0);
    100.0 * availability + 10.0 * (1.0 + d.uploads_ok as f64).ln() - 15.0 * d.failures as f64
}

/// Where a device may fetch a content from, and what else the server must
/// remember about the answer.
pub struct Plan {
    pub response: SourcesResponse,
    /// True when the server itself is among the sources (it then seeds to
    /// this device).
    pub server_seeds: bool,
}

/// How the server's own sources are written in a source list: URLs that
/// start with `/` are relative to the server URL the agent already uses.
pub struct Endpoints {
    /// Plain CDN base URL (`cdn_url` setting), if any.
    pub cdn: Option<String>,
    /// Plain http(s) file storage base URL, if storage is a URL.
    pub storage_url: Option<String>,
}

pub fn plan(
    st: &Store,
    timing: &Timing,
    ends: &Endpoints,
    content_id: &str,
    path: &str,
    device: &DeviceRow,
    now: i64,
) -> Result<Plan, StoreError> {
    let banned = st.banned(content_id)?;
    let cdn = cdn_source(ends, path);
    let Some(office_id) = device.office_id else {
        // No-office clients: no peer or server downloads, CDN / storage only.
        return Ok(Plan {
            response: SourcesResponse {
                role: Role::Solo,
                office: None,
                leader: None,
                peers: vec![],
                upstream: vec![cdn],
                wan_kbps: None,
                refresh_secs: 10,
            },
            server_seeds: false,
        });
    };
    let office = st.office(office_id)?;
    let (kind, parent_id, wan_kbps, office_name) = match &office {
        Some(o) => (
            o.kind.as_str(),
            o.parent_id,
            o.wan_kbps,
            Some(o.name.clone()),
        ),
        None => ("default", None, None, None),
    };
    let progress: HashMap<String, ProgressRow> = st
        .progress(content_id)?
        .into_iter()
        .map(|p| (p.device_id.clone(), p))
        .collect();

    let mut upstream = parent_sources(st, timing, content_id, parent_id, &banned, now)?;
    upstream.push(Source {
        tier: Tier::Server,
        device_id: None,
        url: "/".into(),
        plain: false,
    });
    upstream.push(cdn);
    let refresh_secs = (2 * timing.heartbeat_secs).clamp(1, 10) as u64;

    if kind == "vpn" {
        return Ok(Plan {
            response: SourcesResponse {
                role: Role::Solo,
                office: office_name,
                leader: None,
                peers: vec![],
                upstream,
                wan_kbps: wan_kbps.map(|k| k as u64),
                refresh_secs,
            },
            server_seeds: true,
        });
    }

    let members = st.office_devices(office_id)?;
    let leader = elect(
        st, timing, content_id, office_id, &members, &banned, &progress, now,
    )?;
    let mut peers: Vec<Source> = members
        .iter()
        .filter(|d| d.id != device.id && servable(d, &banned, timing, now))
        .map(|d| peer_source(d, Tier::Lan))
        .collect();
    // Leader first: followers wait on it for pieces nobody else has yet.
    if let Some(l) = &leader {
        peers.sort_by_key(|s| s.device_id.as_deref() != Some(l.as_str()));
    }
    let is_leader = leader.as_deref() == Some(device.id.as_str());
    Ok(Plan {
        response: SourcesResponse {
            role: if is_leader {
                Role::Leader
            } else {
                Role::Follower
            },
            office: office_name,
            leader: leader.clone(),
            peers,
            upstream: if is_leader { upstream } else { vec![] },
            wan_kbps: wan_kbps.map(|k| k as u64),
            refresh_secs,
        },
        server_seeds: is_leader,
    })
}

fn cdn_source(ends: &Endpoints, path: &str) -> Source {
    use crate::http::encode_path;
    let (url, plain) = match (&ends.cdn, &ends.storage_url) {
        (Some(cdn), _) => (join_url(cdn, &encode_path(path)), true),
        (None, Some(storage)) => (join_url(storage, &encode_path(path)), true),
        // Directory storage: the server's read-only storage gateway.
        (None, None) => (format!("/v1/storage/{}", encode_path(path)), false),
    };
    Source {
        tier: Tier::Cdn,
        device_id: None,
        url,
        plain,
    }
}

pub fn join_url(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

fn servable(d: &DeviceRow, banned: &HashSet<String>, timing: &Timing, now: i64) -> bool {
    d.peer_url.is_some() && !banned.contains(&d.id) && timing.online(d, now)
}

fn peer_source(d: &DeviceRow, tier: Tier) -> Source {
    Source {
        tier,
        device_id: Some(d.id.clone()),
        url: d.peer_url.clone().unwrap_or_default(),
        plain: false,
    }
}

/// Online, unbanned devices of the parent office, its leader first. A VPN
/// parent serves nobody, so the search climbs to the next office up.
fn parent_sources(
    st: &Store,
    timing: &Timing,
    content_id: &str,
    mut parent_id: Option<i64>,
    banned: &HashSet<String>,
    now: i64,
) -> Result<Vec<Source>, StoreError> {
    while let Some(pid) = parent_id {
        let Some(parent) = st.office(pid)? else {
            break;
        };
        if parent.kind != "vpn" {
            let leader = st.leader(content_id, pid)?;
            let mut out: Vec<Source> = st
                .office_devices(pid)?
                .iter()
                .filter(|d| servable(d, banned, timing, now))
                .map(|d| peer_source(d, Tier::Parent))
                .collect();
            out.sort_by_key(|s| s.device_id != leader);
            return Ok(out);
        }
        parent_id = parent.parent_id;
    }
    Ok(vec![])
}

/// Keeps the current leader while it is online, unbanned and making
/// progress; otherwise names the best-scored online device (ties go to
/// the one holding most pieces, so a failover continues from what the
/// office already has).
#[allow(clippy::too_many_arguments)]
fn elect(
    st: &Store,
    timing: &Timing,
    content_id: &str,
    office_id: i64,
    members: &[DeviceRow],
    banned: &HashSet<String>,
    progress: &HashMap<String, ProgressRow>,
    now: i64,
) -> Result<Option<String>, StoreError> {
    let current = st.leader(content_id, office_id)?;
    let mut stalled_current = false;
    // The admin's say comes first: an excluded device never leads, and a
    // preferred one online outranks any leader that is not.
    let top_rank = members
        .iter()
        .filter(|d| servable(d, banned, timing, now) && d.preference.may_lead())
        .map(|d| d.preference.rank())
        .max();
    if let Some(cur) = &current
        && let Some(d) = members.iter().find(|d| &d.id == cur)
        && servable(d, banned, timing, now)
        && d.preference.may_lead()
        && Some(d.preference.rank()) >= top_rank
    {
        let stalled = progress
            .get(cur)
            .map(|p| p.done_at.is_none() && now - p.progressed_at > timing.stall_secs)
            .unwrap_or(false);
        if !stalled {
            return Ok(current);
        }
        tracing::warn!(device = %cur, content = %content_id, "leader stalled; electing another");
        st.add_failure(cur)?;
        stalled_current = true;
    }
    let best = members
        .iter()
        .filter(|d| servable(d, banned, timing, now) && Some(&d.id) != current.as_ref())
        .filter(|d| d.preference.may_lead())
        .map(|d| {
            (
                (d.preference.rank(), score(d, timing, now)),
                progress.get(&d.id).map_or(0, |p| p.pieces),
                d,
            )
        })
        .max_by(|a, b| {
            (a.0.0.cmp(&b.0.0))
                .then(a.0.1.total_cmp(&b.0.1))
                .then(a.1.cmp(&b.1))
                .then(b.2.id.cmp(&a.2.id))
        })
        .map(|(_, _, d)| d.id.clone());
    match &best {
        Some(id) => {
            tracing::info!(device = %id, content = %content_id, office = office_id, "new leader");
            st.set_leader(content_id, office_id, id)?;
            // For `explain` and the election/failover counters.
            super::decisions::record_election(
                st,
                timing,
                content_id,
                office_id,
                id,
                current.as_deref(),
                stalled_current,
                members,
                banned,
                now,
            )?;
        }
        None => {
            // Nobody else is eligible: keep whoever it was (it may recover).
            return Ok(current.filter(|c| {
                members.iter().any(|d| {
                    &d.id == c && servable(d, banned, timing, now) && d.preference.may_lead()
                })
            }));
        }
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(first_seen: i64, heartbeats: i64, uploads_ok: i64, failures: i64) -> DeviceRow {
        DeviceRow {
            id: "d".into(),
            hostname: "h".into(),
            addr: "127.0.0.1".into(),
            prefix_len: 24,
            group_name: "g".into(),
            version: "0.1.0".into(),
            peer_url: Some("http://127.0.0.1:1".into()),
            office_id: Some(1),
            first_seen,
            last_seen: 1000,
            heartbeats,
            uploads_ok,
            upload_bytes: 0,
            failures,
            license_activated_at: None,
            preference: crate::store::devices::Preference::Normal,
        }
    }

    #[test]
    fn history_outranks_a_newcomer() {
        let t = Timing::new(1);
        let veteran = dev(0, 990, 50, 0);
        let newcomer = dev(998, 3, 0, 0);
        assert!(score(&veteran, &t, 1000) > score(&newcomer, &t, 1000));
        let flaky = dev(0, 300, 0, 0);
        assert!(score(&newcomer, &t, 1000) > score(&flaky, &t, 1000) - 20.0);
        let cheater = dev(0, 990, 50, 3);
        assert!(score(&veteran, &t, 1000) > score(&cheater, &t, 1000));
    }
}

//! `p2pd explain`: why a device got a content the way it did.
//!
//! It reads only what serve records: the device row and its office (and
//! the topology that placed it there), the scheduler's decisions
//! (`decisions` table, written by `server::decisions`), the transfers the
//! device reported, bans and leader elections/failovers. From those it
//! tells, in words:
//!
//! - the device's office and why (the range that matched, or none);
//! - its role and leader for the content over time;
//! - for each source tier, the bytes and the reason that tier was used;
//! - the bans and failovers that touched it.
//!
//! Uses: `store`, `topology`, `server::decisions` (time format). The CLI
//! (`cli/explain.rs`) only parses arguments and prints an [`Explanation`].

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;

use crate::domain::OfficeKind;
use crate::server::decisions::clock;
use crate::store::observe::{DecisionRow, TransferRow};
use crate::store::{Store, StoreError};
use crate::topology::lookup::Hit;

#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error(
        "no device matches '{0}'; `p2pd devices list` shows every device's id, hostname and address"
    )]
    NoDevice(String),
    #[error("'{needle}' matches {} devices ({}); give a device id (or a longer prefix of one)", .ids.len(), .ids.join(", "))]
    AmbiguousDevice { needle: String, ids: Vec<String> },
    #[error(
        "no content matches '{0}'; `p2pd content list` shows every content's id, name and version"
    )]
    NoContent(String),
    #[error("'{needle}' matches {} contents ({}); give a content id (or a longer prefix of one), or NAME VERSION", .ids.len(), .ids.join(", "))]
    AmbiguousContent { needle: String, ids: Vec<String> },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Topology(#[from] crate::topology::TopologyError),
}

/// The whole answer, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub device: DeviceInfo,
    pub content: ContentInfo,
    pub office: OfficeWhy,
    /// Role, leader and upstream tiers over time, with elections and
    /// failovers of its office, oldest first.
    pub timeline: Vec<Event>,
    /// One entry per tier the device received bytes from.
    pub tiers: Vec<TierUse>,
    pub bans: Vec<Event>,
    pub failovers: Vec<Event>,
    /// Its moves to other offices (also in the timeline), newest first.
    pub moves: Vec<Event>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeviceInfo {
    pub id: String,
    pub hostname: String,
    pub addr: String,
    pub group: String,
    pub version: String,
    /// Whether its peers can reach it, and how the server learnt it if
    /// not (it then never leads and is never offered as a source).
    pub reachability: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContentInfo {
    pub id: String,
    pub name: String,
    pub version: String,
    pub size: u64,
    pub pieces: u32,
    /// Pieces the device holds, as it last reported.
    pub pieces_held: u32,
    /// When it finished (unix seconds), if it did.
    pub done_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OfficeWhy {
    /// Office name; None: a no-office client.
    pub office: Option<String>,
    /// `default`, `wifi`, `vpn`; None without an office.
    pub kind: Option<String>,
    /// The range (as the admin wrote it) that holds the device's address.
    pub range: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Unix seconds.
    pub at: i64,
    /// `sources`, `election`, `failover`, `banned`, `reported`.
    pub kind: String,
    /// Role for `sources` events: leader, follower, solo.
    pub role: Option<String>,
    /// The office's leader then (hostname and address).
    pub leader: Option<String>,
    /// Upstream tiers offered, in order.
    pub tiers: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceBytes {
    /// Hostname (address, id prefix).
    pub device: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TierUse {
    /// `lan`, `parent`, `server`, `cdn`.
    pub tier: String,
    /// Verified bytes received from this tier.
    pub bytes: u64,
    pub pieces: u32,
    /// Bytes received from it that failed verification.
    pub failed_bytes: u64,
    /// Sending devices (lan/parent), with the bytes each sent.
    pub sources: Vec<SourceBytes>,
    /// Why this tier was used, from the decisions in force at the time.
    pub reasons: Vec<String>,
}

/// Finds one device by id, id prefix (4+ characters), hostname or address.
pub fn resolve_device(st: &Store, needle: &str) -> Result<String, ExplainError> {
    let ids = st.find_devices(needle.trim())?;
    match ids.len() {
        0 => Err(ExplainError::NoDevice(needle.into())),
        1 => Ok(ids.into_iter().next().expect("one id")),
        _ => Err(ExplainError::AmbiguousDevice {
            needle: needle.into(),
            ids,
        }),
    }
}

/// Finds one content by id, id prefix, name (the newest wins only if it
/// is the only one) or "name version".
pub fn resolve_content(st: &Store, needle: &str) -> Result<String, ExplainError> {
    let ids = st.find_contents(needle.trim())?;
    match ids.len() {
        0 => Err(ExplainError::NoContent(needle.into())),
        1 => Ok(ids.into_iter().next().expect("one id")),
        _ => Err(ExplainError::AmbiguousContent {
            needle: needle.into(),
            ids,
        }),
    }
}

/// A device as people name it: hostname (address, id prefix).
fn name_of(st: &Store, id: &str) -> Result<String, StoreError> {
    Ok(match st.device(id)? {
        Some(d) => format!("{} ({}, {})", d.hostname, d.addr, &id[..8.min(id.len())]),
        None => id.to_string(),
    })
}

/// Builds the explanation for a device (by id, prefix, hostname or
/// address) and a content (by id, prefix, name or "name version").
pub fn explain(st: &Store, device: &str, content: &str) -> Result<Explanation, ExplainError> {
    let device_id = resolve_device(st, device)?;
    let content_id = resolve_content(st, content)?;
    let d = st
        .device(&device_id)?
        .ok_or_else(|| ExplainError::NoDevice(device.into()))?;
    let m = st
        .manifest(&content_id)?
        .ok_or_else(|| ExplainError::NoContent(content.into()))?;
    let progress = st
        .progress(&content_id)?
        .into_iter()
        .find(|p| p.device_id == d.id);

    let office_row = match d.office_id {
        Some(o) => st.office(o)?,
        None => None,
    };
    let office = office_why(st, &d, office_row.as_ref())?;

    let trail = st.device_trail(&d.id, &content_id)?;
    let decisions = trail.decisions;
    let elections = st.office_elections(&content_id, d.office_id)?;
    let mut timeline: Vec<Event> = Vec::new();
    for x in &decisions {
        timeline.push(Event {
            at: x.at,
            kind: x.kind.clone(),
            role: Some(x.role.clone()),
            leader: match &x.leader {
                Some(l) => Some(name_of(st, l)?),
                None => None,
            },
            tiers: Some(x.tiers.clone()),
            reason: x.reason.clone(),
        });
    }
    let mut failovers = Vec::new();
    for x in &elections {
        let e = Event {
            at: x.at,
            kind: x.kind.clone(),
            role: None,
            leader: match &x.leader {
                Some(l) => Some(name_of(st, l)?),
                None => None,
            },
            tiers: None,
            reason: x.reason.clone(),
        };
        if x.kind == "failover" {
            failovers.push(e.clone());
        }
        timeline.push(e);
    }
    let moves = moves(st, &d.id)?;
    timeline.extend(moves.iter().cloned());
    // Stable: a device's own decision before the election recorded in the
    // same second is fine either way; keep insertion order within a second.
    timeline.sort_by_key(|e| e.at);

    let transfers = trail.transfers;
    let tiers = tier_uses(st, &transfers, &decisions)?;

    let bans = bans(st, trail.bans, &d.id, &m.name)?;

    Ok(Explanation {
        device: DeviceInfo {
            id: d.id.clone(),
            hostname: d.hostname.clone(),
            addr: d.addr.clone(),
            group: d.group_name.clone(),
            version: d.version.clone(),
            reachability: reachability(&d),
        },
        content: ContentInfo {
            id: m.id.to_string(),
            name: m.name.clone(),
            version: m.version.clone(),
            size: m.size,
            pieces: m.piece_count(),
            pieces_held: progress.as_ref().map_or(0, |p| p.pieces),
            done_at: progress.and_then(|p| p.done_at),
        },
        office,
        timeline,
        tiers,
        bans,
        failovers,
        moves,
    })
}

/// Bans that touched the device: it was banned, or it reported another.
fn bans(
    st: &Store,
    all: Vec<crate::store::observe::BanRow>,
    device_id: &str,
    content_name: &str,
) -> Result<Vec<Event>, StoreError> {
    let mut bans = Vec::new();
    for b in all {
        if b.device_id == device_id {
            bans.push(Event {
                at: b.at,
                kind: "banned".into(),
                role: None,
                leader: None,
                tiers: None,
                reason: format!(
                    "this device was banned from serving {} after {} reported piece {} from it failed its hash",
                    content_name,
                    name_of(st, &b.reported_by)?,
                    b.piece
                ),
            });
        } else {
            bans.push(Event {
                at: b.at,
                kind: "reported".into(),
                role: None,
                leader: None,
                tiers: None,
                reason: format!(
                    "this device received piece {} from {} and it failed its hash; the sender was banned \
                     for this content and the piece was fetched elsewhere",
                    b.piece,
                    name_of(st, &b.device_id)?
                ),
            });
        }
    }
    Ok(bans)
}

/// The device's moves to other offices, newest first, in words: "moved
/// from office A (10.1.0.7) to office B (10.2.0.9); 37 pieces already held".
fn moves(st: &Store, device_id: &str) -> Result<Vec<Event>, StoreError> {
    let names = st.office_names()?;
    let office = |o: Option<i64>| match o {
        Some(id) => format!(
            "office {}",
            names.get(&id).cloned().unwrap_or_else(|| id.to_string())
        ),
        None => "no office".to_string(),
    };
    Ok(st
        .moves(device_id)?
        .into_iter()
        .map(|m| Event {
            at: m.at,
            kind: "moved".into(),
            role: None,
            leader: None,
            tiers: None,
            reason: format!(
                "moved from {} ({}) to {} ({}) at {}; {} already held, kept and shared in its new office",
                office(m.from_office),
                m.from_addr,
                office(m.to_office),
                m.to_addr,
                clock(m.at),
                crate::domain::words::count(m.pieces_held.max(0) as usize, "piece"),
            ),
        })
        .collect())
}

/// Whether the device's peers can reach it, in words.
fn reachability(d: &crate::store::devices::DeviceRow) -> String {
    match d.unreachable_at {
        None => "reachable by its peers (as far as the server knows)".to_string(),
        Some(at) => format!(
            "unreachable by its peers since {}: {}; it still downloads, but never leads and is \
             never offered as a source",
            clock(at),
            crate::server::decisions::unreachable_words(d.unreachable_why.as_deref())
        ),
    }
}

fn office_why(
    st: &Store,
    d: &crate::store::devices::DeviceRow,
    office: Option<&crate::store::topology::OfficeRow>,
) -> Result<OfficeWhy, ExplainError> {
    let lookup = crate::topology::Lookup::load(st)?;
    let ip: Option<IpAddr> = d.addr.parse().ok().map(crate::topology::range::canonical);
    let names = st.office_names()?;
    let office_name = |id: i64| names.get(&id).cloned().unwrap_or_else(|| id.to_string());
    let hit = ip.map(|ip| lookup.hit(ip));
    let (range, mut reason) = match (&hit, office) {
        (Some(Hit::In(e)), Some(o)) if e.office_id == o.id => (
            Some(e.spec.clone()),
            if lookup.optimization() {
                format!(
                    "address {} is in range {} of office {}",
                    d.addr, e.spec, o.name
                )
            } else {
                format!(
                    "distribution optimization is off: the server made one office per client subnet, \
                     and address {} is in subnet {} ({})",
                    d.addr, e.spec, o.name
                )
            },
        ),
        (Some(Hit::In(e)), _) => (
            Some(e.spec.clone()),
            format!(
                "address {} is in range {} of office {}, but the device is recorded in {}; \
                 it moves there when it next enrolls (or after `p2pd topology import`)",
                d.addr,
                e.spec,
                office_name(e.office_id),
                office.map_or("no office".to_string(), |o| o.name.clone())
            ),
        ),
        (Some(Hit::Gap { below, above }), None) => {
            let near = |e: &Option<&crate::topology::lookup::RangeEntry>| {
                e.map(|e| format!("{} ({})", e.spec, office_name(e.office_id)))
            };
            let mut s = format!(
                "address {} is in no office's range, so it is a no-office client: it gets no peer or \
                 server downloads, only the CDN / file storage",
                d.addr
            );
            match (near(below), near(above)) {
                (None, None) => s.push_str("; no office has a range in its address family"),
                (b, a) => s.push_str(&format!(
                    "; the nearest ranges are {} below and {} above",
                    b.unwrap_or_else(|| "none".into()),
                    a.unwrap_or_else(|| "none".into())
                )),
            }
            s.push_str(". To fix: add its subnet to an office (`p2pd topology export`, edit, `p2pd topology import`)");
            (None, s)
        }
        (Some(Hit::Gap { .. }), Some(o)) => (
            None,
            format!(
                "the device is recorded in {}, but its address {} is in none of the current ranges; \
                 it becomes a no-office client when it next enrolls",
                o.name, d.addr
            ),
        ),
        (None, o) => (
            None,
            format!(
                "address '{}' does not parse; recorded office: {}",
                d.addr,
                o.map_or("none".to_string(), |o| o.name.clone())
            ),
        ),
    };
    if let Some(o) = office
        && o.kind == OfficeKind::Vpn
    {
        let parent = o
            .parent_id
            .map(office_name)
            .unwrap_or_else(|| "none".into());
        reason.push_str(&format!(
            "; {} is a VPN office: its devices do not share with each other or anyone, each fetches \
             from the parent office ({parent}), then the server, then the CDN",
            o.name
        ));
    }
    Ok(OfficeWhy {
        office: office.map(|o| o.name.clone()),
        kind: office.map(|o| o.kind.to_string()),
        range,
        reason,
    })
}

/// The decisions in force at some time within [from, to]: the last one
/// at or before `from`, and every one up to `to`. (A transfer's time is
/// when its report reached the server, up to a heartbeat after the bytes
/// moved, so the window starts one decision early.)
fn in_force(decisions: &[DecisionRow], from: i64, to: i64) -> Vec<&DecisionRow> {
    let first = decisions.iter().rposition(|x| x.at <= from).unwrap_or(0);
    decisions
        .iter()
        .enumerate()
        .filter(|(i, x)| *i >= first && x.at <= to)
        .map(|(_, x)| x)
        .collect()
}

fn tier_uses(
    st: &Store,
    transfers: &[TransferRow],
    decisions: &[DecisionRow],
) -> Result<Vec<TierUse>, StoreError> {
    let order = ["lan", "parent", "server", "cdn"];
    let mut out = Vec::new();
    for tier in order {
        let rows: Vec<&TransferRow> = transfers.iter().filter(|t| t.tier == tier).collect();
        if rows.is_empty() {
            continue;
        }
        let bytes: u64 = rows.iter().filter(|t| t.ok).map(|t| t.bytes).sum();
        let pieces: u32 = rows.iter().filter(|t| t.ok).map(|t| t.pieces).sum();
        let failed_bytes: u64 = rows.iter().filter(|t| !t.ok).map(|t| t.bytes).sum();
        let mut by_source: BTreeMap<String, u64> = BTreeMap::new();
        for t in rows.iter().filter(|t| t.ok) {
            if let Some(s) = &t.source_device {
                *by_source.entry(s.clone()).or_default() += t.bytes;
            }
        }
        let mut sources = Vec::new();
        for (s, b) in by_source {
            sources.push(SourceBytes {
                device: name_of(st, &s)?,
                bytes: b,
            });
        }
        let from = rows.iter().map(|t| t.at).min().unwrap_or(0);
        let to = rows.iter().map(|t| t.at).max().unwrap_or(0);
        let mut reasons: Vec<String> = Vec::new();
        let relevant = in_force(decisions, from, to);
        for x in &relevant {
            let offered: Vec<&str> = x.tiers.split(',').filter(|t| !t.is_empty()).collect();
            let at = clock(x.at);
            match tier {
                "lan" if x.role == "follower" || x.role == "leader" => {
                    push_unique(&mut reasons, format!("{at}: {}", x.reason))
                }
                "lan" => {}
                "parent" if offered.iter().any(|t| t.starts_with("parent")) => {
                    push_unique(&mut reasons, format!("{at}: {}", x.reason))
                }
                "server" if offered.first() == Some(&"server") => {
                    push_unique(&mut reasons, format!("{at}: {}", x.reason))
                }
                "server" if offered.contains(&"server") => push_unique(
                    &mut reasons,
                    format!(
                        "{at}: {}; the pieces that came from the server came while the parent \
                         office's devices failed or timed out (an agent goes down its list only \
                         while the source before fails)",
                        x.reason
                    ),
                ),
                "cdn" if offered == ["cdn"] => {
                    push_unique(&mut reasons, format!("{at}: {}", x.reason))
                }
                "cdn" if offered.contains(&"cdn") => push_unique(
                    &mut reasons,
                    format!(
                        "{at}: the CDN / file storage is the last source in the list ({}); it was used for \
                     pieces that every source before it failed to deliver",
                        x.tiers
                    ),
                ),
                _ => {}
            }
        }
        if reasons.is_empty() {
            push_unique(
                &mut reasons,
                if decisions.is_empty() {
                    "no scheduler decision is recorded for this device and content \
                 (decisions are recorded from this p2pd version on)"
                        .to_string()
                } else {
                    format!(
                        "no decision in force between {} and {} offered this tier; the bytes were \
                     reported after the device's sources changed",
                        clock(from),
                        clock(to)
                    )
                },
            );
        }
        out.push(TierUse {
            tier: tier.to_string(),
            bytes,
            pieces,
            failed_bytes,
            sources,
            reasons,
        });
    }
    Ok(out)
}

fn push_unique(v: &mut Vec<String>, r: String) {
    if !v.contains(&r) {
        v.push(r);
    }
}

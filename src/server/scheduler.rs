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
//! A follower that names its leader as failing it (a bad or oversize piece,
//! a slow or stalled transfer: see `agent/download/`) also gets the
//! upstream sources, to go around that leader; its word alone is enough
//! for that, since it only costs WAN bytes, while replacing or banning the
//! leader needs a second signal.
//! VPN devices fetch from the parent office alone and serve nobody;
//! no-office devices get only the CDN / file storage.
//!
//! Who leads is decided by the state machine in [`super::leader`]; this
//! module feeds it rows from the store and applies its decision
//! ([`elect`] is the one place where leaders change).
//!
//! Only devices whose group the content is targeted at take part
//! ([`targeted`]): they alone may lead it, be offered as its LAN or
//! parent-office peers, or take over from its leader. A device of another
//! group never fetches that content, so as a leader it would only stall
//! the office until the stall rule replaced it (design note `key-holders`: 65–70 s), and
//! as a peer it has nothing to give.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use super::leader::{self, Board, Decision, Member, Report, Signals, Term};
use super::roster::Roster;
use crate::domain::OfficeKind;
use crate::store::devices::DeviceRow;
use crate::store::distribution::ProgressRow;
use crate::store::{Store, StoreError};
use crate::wire::proto::{Role, Source, SourcesResponse, Suspect, SuspectReason, Tier};

use super::decisions::{UNREACHABLE_BY_PEERS, UNREACHABLE_BY_PROBE};

pub use crate::server::liveness::{Timing, score};

/// Office id used in the `leaders` table for devices with no office.
pub const NO_OFFICE: i64 = -1;

/// Where a device may fetch a content from, and what else the server must
/// remember about the answer.
pub struct Plan {
    pub response: SourcesResponse,
    /// True when the server itself is among the sources (it then seeds to
    /// this device).
    pub server_seeds: bool,
    /// A leader that lost its term in this call: the seed stops serving it.
    pub replaced: Option<String>,
    /// A follower reported its leader and no second signal confirmed it
    /// yet: the server should probe this peer URL itself and, if it does
    /// not answer, plan again with `probe_failed`.
    pub probe: Option<String>,
}

/// A follower's report about its leader, with what the server found.
pub struct Complaint<'a> {
    pub suspect: &'a Suspect,
    /// The server's own probe of the leader failed.
    pub probe_failed: bool,
}

/// How the server's own sources are written in a source list: URLs that
/// start with `/` are relative to the server URL the agent already uses.
pub struct Endpoints {
    /// Plain CDN base URL (`cdn_url` setting), if any.
    pub cdn: Option<String>,
    /// Plain http(s) file storage base URL, if storage is a URL.
    pub storage_url: Option<String>,
}

/// What one `/sources` call asks the scheduler, and what it asks with.
pub struct Ask<'a> {
    /// Office rosters, reused briefly (see `roster.rs`).
    pub roster: &'a Roster,
    pub timing: &'a Timing,
    pub ends: &'a Endpoints,
    pub content_id: &'a str,
    /// The content's path in file storage.
    pub path: &'a str,
    /// The asking device.
    pub device: &'a DeviceRow,
    /// Its report about the leader it was given, if any.
    pub complaint: Option<Complaint<'a>>,
    pub now: i64,
    /// The time in ms, for the leaders' rates.
    pub now_ms: i64,
}

/// The sources `ask.device` gets for `ask.content_id`: CDN / storage only
/// without an office; upstream alone in a VPN office; else from the
/// office's leader (elected here if need be) and peers, and upstream for
/// the leader (or a follower going around it).
pub fn plan(st: &Store, board: &mut Board, ask: Ask) -> Result<Plan, StoreError> {
    let mut banned = st.banned(ask.content_id)?;
    // Devices that said they are leaving serve nobody.
    banned.extend(board.departed());
    let cdn = cdn_source(ask.ends, ask.path);
    let Some(office_id) = ask.device.office_id else {
        // No-office clients: no peer or server downloads, CDN / storage only.
        return Ok(solo(None, vec![cdn], None, 10, false));
    };
    let office = st.office(office_id)?;
    let (kind, parent_id, wan_kbps, office_name) = match &office {
        Some(o) => (o.kind, o.parent_id, o.wan_kbps, Some(o.name.clone())),
        None => (OfficeKind::Default, None, None, None),
    };
    let (roster, timing) = (ask.roster, ask.timing);
    let ttl = Roster::ttl(timing.heartbeat_secs);
    let progress = roster.progress(st, ask.content_id, office_id, ttl)?;
    let mut upstream = parent_sources(
        st,
        roster,
        timing,
        ask.content_id,
        parent_id,
        &banned,
        ask.now,
    )?;
    upstream.push(Source {
        tier: Tier::Server,
        device_id: None,
        url: "/".into(),
        plain: false,
    });
    upstream.push(cdn);
    if kind == OfficeKind::Vpn {
        let refresh_secs = timing.refresh_secs(None);
        return Ok(solo(office_name, upstream, wan_kbps, refresh_secs, true));
    }
    let members = roster.members(st, office_id, ttl)?;
    let members = targeted(st, ask.content_id, &members)?;
    let office = OfficeView {
        content_id: ask.content_id,
        office_id,
        members: &members,
        banned: &banned,
        progress: &progress,
        wan_cap: wan_kbps.map(|k| k as f64 * 1000.0 / 8.0),
        now_ms: ask.now_ms,
        moved_out: None,
    };
    let placed = Placed {
        name: office_name,
        wan_kbps,
        upstream,
    };
    in_office(st, board, ask, &office, placed)
}

/// What a device fetching alone is told: `upstream` only, no leader, no
/// peers.
fn solo(
    office: Option<String>,
    upstream: Vec<Source>,
    wan_kbps: Option<i64>,
    refresh_secs: u64,
    server_seeds: bool,
) -> Plan {
    Plan {
        response: SourcesResponse {
            role: Role::Solo,
            office,
            leader: None,
            peers: vec![],
            upstream,
            wan_kbps: wan_kbps.map(|k| k as u64),
            refresh_secs,
            epoch: 0,
            lease_secs: 0,
        },
        server_seeds,
        replaced: None,
        probe: None,
    }
}

/// The asking device's office, as its answer names it.
struct Placed {
    name: Option<String>,
    wan_kbps: Option<i64>,
    /// The sources outside the office, in order.
    upstream: Vec<Source>,
}

/// A device in an office that peers: the election, then its role, its
/// LAN peers (bounded), and upstream for the leader or a follower going
/// around it.
fn in_office(
    st: &Store,
    board: &mut Board,
    ask: Ask,
    o: &OfficeView,
    placed: Placed,
) -> Result<Plan, StoreError> {
    let (timing, device, now) = (ask.timing, ask.device, ask.now);
    let accused = ask.complaint.as_ref().map(|c| c.suspect.leader.clone());
    let outcome = elect(st, board, timing, o, device, ask.complaint, now)?;
    let leader = outcome.term.as_ref().map(|t| t.device.clone());
    // Every heartbeat while the term is young; the lease stays at three
    // ordinary refreshes, so a busy server does not cut a leader off.
    let refresh_secs = match &outcome.term {
        // No leader only while a member's reachability check runs (it
        // takes milliseconds, or two seconds for a silent device): ask
        // again within a second.
        None if o.members.iter().any(|d| board.unchecked(&d.id)) => 1,
        t => timing.refresh_secs(t.as_ref().map(|t| now - t.since)),
    };
    let lease_secs = 3 * timing.refresh_secs(None);
    let peers = lan_peers(o, timing, device, leader.as_deref(), now, refresh_secs);
    let is_leader = leader.as_deref() == Some(device.id.as_str());
    // A follower holding evidence against the leader still in office.
    let around = !is_leader && accused.is_some() && accused == leader;
    if let (true, Some(t)) = (is_leader, &outcome.term) {
        let bytes = o.progress.get(&device.id).map_or(0, |p| p.bytes);
        board.leader_informed(
            o.content_id,
            o.office_id,
            leader::TermStart::at(t.epoch, bytes, ask.now_ms),
        );
    }
    Ok(Plan {
        response: SourcesResponse {
            role: if is_leader {
                Role::Leader
            } else {
                Role::Follower
            },
            office: placed.name,
            leader: leader.clone(),
            peers,
            upstream: if is_leader || around {
                placed.upstream
            } else {
                vec![]
            },
            wan_kbps: placed.wan_kbps.map(|k| k as u64),
            refresh_secs,
            epoch: outcome.term.as_ref().map_or(0, |t| t.epoch),
            lease_secs,
        },
        server_seeds: is_leader || around,
        replaced: outcome.replaced,
        probe: outcome.probe,
    })
}

/// The office's peers `device` is offered, bounded (design note
/// `fleet-scale`): the leader first, the furthest along, some random.
fn lan_peers(
    o: &OfficeView,
    timing: &Timing,
    device: &DeviceRow,
    leader: Option<&str>,
    now: i64,
    refresh_secs: u64,
) -> Vec<Source> {
    let candidates: Vec<&DeviceRow> = o
        .members
        .iter()
        .filter(|d| d.id != device.id && servable(d, o.banned, timing, now))
        .collect();
    super::peerset::choose(
        &candidates,
        leader,
        o.progress,
        super::peerset::MAX_PEERS,
        super::peerset::BEST_PEERS,
        super::peerset::seed(&device.id, now, refresh_secs),
    )
    .into_iter()
    .map(|d| peer_source(d, Tier::Lan))
    .collect()
}

fn cdn_source(ends: &Endpoints, path: &str) -> Source {
    use crate::wire::http::encode_path;
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

/// Whether `d` may be offered as a source (and lead): it serves peers
/// (has a peer URL), its peers have not found it unreachable, it is not
/// banned and it is online. (A device that only failed the server's own
/// check is still offered: its office's peers may reach it where the
/// server cannot.)
fn servable(d: &DeviceRow, banned: &HashSet<String>, timing: &Timing, now: i64) -> bool {
    d.peer_url.is_some()
        && d.unreachable_why.as_deref() != Some(UNREACHABLE_BY_PEERS)
        && !banned.contains(&d.id)
        && timing.online(d.last_seen, now)
}

fn peer_source(d: &DeviceRow, tier: Tier) -> Source {
    Source {
        tier,
        device_id: Some(d.id.clone()),
        url: d.peer_url.clone().unwrap_or_default(),
        plain: false,
    }
}

/// The devices among `members` whose group `content_id` is targeted at:
/// the only ones that may lead it or be offered as its peers. Asks the
/// store once per distinct group (an office has a few); borrows `members`
/// when every one of them is targeted, the usual case.
pub fn targeted<'a>(
    st: &Store,
    content_id: &str,
    members: &'a [DeviceRow],
) -> Result<Cow<'a, [DeviceRow]>, StoreError> {
    let mut groups: HashMap<&str, bool> = HashMap::new();
    for d in members {
        if !groups.contains_key(d.group_name.as_str()) {
            groups.insert(&d.group_name, st.is_targeted(content_id, &d.group_name)?);
        }
    }
    if groups.values().all(|t| *t) {
        return Ok(Cow::Borrowed(members));
    }
    Ok(Cow::Owned(
        members
            .iter()
            .filter(|d| groups.get(d.group_name.as_str()) == Some(&true))
            .cloned()
            .collect(),
    ))
}

/// Online, unbanned devices of the parent office that the content is
/// targeted at, its leader first. A VPN parent serves nobody, so the
/// search climbs to the next office up.
fn parent_sources(
    st: &Store,
    roster: &Roster,
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
        if parent.kind.serves_peers() {
            let leader = st.leader(content_id, pid)?;
            let members = roster.members(st, pid, Roster::ttl(timing.heartbeat_secs))?;
            let mut out: Vec<Source> = targeted(st, content_id, &members)?
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

/// One office's view of one content, for an election.
struct OfficeView<'a> {
    content_id: &'a str,
    office_id: i64,
    members: &'a [DeviceRow],
    /// Banned for this content, or leaving.
    banned: &'a HashSet<String>,
    progress: &'a HashMap<String, ProgressRow>,
    /// The office's WAN cap in bytes/s, if it has one.
    wan_cap: Option<f64>,
    /// The time in ms, for the leaders' rates.
    now_ms: i64,
    /// A device that just moved out of this office (its terms here end).
    moved_out: Option<&'a str>,
}

/// What an election left behind.
struct Outcome {
    term: Option<Term>,
    replaced: Option<String>,
    probe: Option<String>,
}

/// Runs the leader state machine for one (content, office) and applies its
/// decision: this is where leaders change (and the only place a leader is
/// penalized for stalling). `device` is the caller; its `complaint`, if
/// any, is a report about the leader it was given.
fn elect(
    st: &Store,
    board: &mut Board,
    timing: &Timing,
    o: &OfficeView,
    device: &DeviceRow,
    complaint: Option<Complaint>,
    now: i64,
) -> Result<Outcome, StoreError> {
    let current = st.leader_lease(o.content_id, o.office_id)?.map(|l| Term {
        device: l.device_id,
        epoch: l.epoch,
        since: l.since,
    });
    let members = members(o, board, timing, now);
    let (signals, probe) = match &current {
        Some(cur) => signals(board, timing, o, cur, device, complaint.as_ref(), now),
        None => (Signals::default(), None),
    };
    match leader::decide(
        timing,
        current.as_ref(),
        &members,
        signals,
        Some(device.id.as_str()),
        now,
    ) {
        Decision::Keep => Ok(Outcome {
            term: current,
            replaced: None,
            probe,
        }),
        Decision::Vacant => Ok(Outcome {
            term: None,
            replaced: current.map(|c| c.device),
            probe: None,
        }),
        Decision::Elect {
            device,
            reason,
            replaced,
            penalize,
        } => {
            let chosen = Chosen {
                device,
                reason,
                replaced,
                penalize,
            };
            install(st, board, timing, o, chosen, now)
        }
    }
}

/// The office's members as the leader state machine sees them.
fn members(o: &OfficeView, board: &Board, timing: &Timing, now: i64) -> Vec<Member> {
    o.members
        .iter()
        .map(|d| {
            let p = o.progress.get(&d.id);
            Member {
                id: d.id.clone(),
                eligible: servable(d, o.banned, timing, now) && d.preference.may_lead(),
                unreachable: d.unreachable_why.as_deref() == Some(UNREACHABLE_BY_PEERS),
                unverified: d.unreachable_why.as_deref() == Some(UNREACHABLE_BY_PROBE),
                checking: board.unchecked(&d.id),
                rank: d.preference.rank(),
                score: score(d, timing, now),
                pieces: p.map_or(0, |p| p.pieces),
                done: p.is_some_and(|p| p.done_at.is_some()),
                moved_at: p.and_then(|p| p.moved_at),
                blocked_since: p.and_then(|p| p.blocked_at),
                last_seen: d.last_seen,
            }
        })
        .collect()
}

/// What speaks against the current leader `cur` (it left, it is slow, a
/// report confirmed by a second signal), and the peer URL the server should
/// probe itself when a follower's report still waits for a second signal.
fn signals(
    board: &mut Board,
    timing: &Timing,
    o: &OfficeView,
    cur: &Term,
    device: &DeviceRow,
    complaint: Option<&Complaint>,
    now: i64,
) -> (Signals, Option<String>) {
    let mut signals = Signals::default();
    let mut probe = None;
    signals.left = board.has_left(&cur.device);
    signals.moved = o.moved_out == Some(cur.device.as_str());
    let leader_row = o.members.iter().find(|d| d.id == cur.device);
    let missed = leader_row.is_some_and(|d| timing.missed_heartbeat(d.last_seen, now));
    // A leader whose address just changed is reported by followers still
    // asking at its old one: they get its new one in this answer.
    let readdressed =
        board.readdressed_within(&cur.device, now, 2 * timing.refresh_secs(None) as i64);
    let report = match complaint {
        Some(c)
            if c.suspect.leader == cur.device
                && c.suspect.reason.says_down()
                && !(readdressed && c.suspect.reason == SuspectReason::Unreachable) =>
        {
            board.report(
                o.content_id,
                o.office_id,
                cur,
                c.suspect.epoch,
                &device.id,
                now,
            )
        }
        _ => Report::Stale,
    };
    let pending =
        report == Report::Pending || board.pending(o.content_id, o.office_id, cur.epoch, now);
    signals.slow = leader_too_slow(board, timing, o, cur);
    let probe_failed = report != Report::Stale && complaint.is_some_and(|c| c.probe_failed);
    signals.confirmed_down = report == Report::Confirmed || (pending && (missed || probe_failed));
    if report == Report::Pending
        && !signals.confirmed_down
        && complaint.is_some_and(|c| !c.probe_failed)
    {
        probe = leader_row.and_then(|d| d.peer_url.clone());
    }
    (signals, probe)
}

/// The leader state machine's choice of a new leader.
struct Chosen {
    device: String,
    reason: leader::Reason,
    replaced: Option<String>,
    /// Gets one failure on its record (a leader replaced for stalling).
    penalize: Option<String>,
}

/// Starts the new term: the lease, the board, the decision in words (for
/// `explain` and the election/failover counters) and the log.
fn install(
    st: &Store,
    board: &mut Board,
    timing: &Timing,
    o: &OfficeView,
    chosen: Chosen,
    now: i64,
) -> Result<Outcome, StoreError> {
    let Chosen {
        device: id,
        reason,
        replaced,
        penalize,
    } = chosen;
    if let Some(p) = &penalize {
        st.add_failure(p)?;
    }
    let lease = st.set_leader(o.content_id, o.office_id, &id)?;
    board.clear(o.content_id, o.office_id);
    super::decisions::record_election(
        st,
        timing,
        o.content_id,
        o.office_id,
        &id,
        replaced.as_deref(),
        reason,
        o.members,
        o.banned,
        now,
    )?;
    if reason == leader::Reason::Slow {
        board.mark_slow_swap(o.content_id, o.office_id);
    }
    let bytes = o.progress.get(&id).map_or(0, |p| p.bytes);
    board.term_start(
        o.content_id,
        o.office_id,
        leader::TermStart::at(lease.epoch, bytes, o.now_ms),
    );
    tracing::info!(
        device = %id, content = %o.content_id, office = o.office_id,
        epoch = lease.epoch, reason = reason.as_str(),
        replaced = replaced.as_deref().unwrap_or("-"), "new leader"
    );
    Ok(Outcome {
        term: Some(Term {
            device: lease.device_id,
            epoch: lease.epoch,
            since: lease.since,
        }),
        replaced,
        probe: None,
    })
}

/// Whether the current leader moves bytes far slower than the leaders of
/// the other offices (a throttled device), judged after `slow_secs` of its
/// term; also records its rate as the other offices' yardstick. The other
/// leaders' rates come from the board, not from `o.progress`, which holds
/// only this office's devices.
fn leader_too_slow(board: &mut Board, timing: &Timing, o: &OfficeView, cur: &Term) -> bool {
    let p = o.progress.get(&cur.device);
    board.judge_rate(
        timing,
        o.content_id,
        o.office_id,
        leader::TermStart::at(cur.epoch, p.map_or(0, |p| p.bytes), o.now_ms),
        p.and_then(|p| p.done_at).map(|d| d * 1000),
        o.wan_cap,
    )
}

/// A stopping device hands over every term it holds: each of its
/// (content, office) gets a new leader at once, if anyone can take over.
/// Returns how many terms were handed over.
pub fn hand_over(
    st: &Store,
    board: &mut Board,
    timing: &Timing,
    device: &DeviceRow,
    now: i64,
    now_ms: i64,
) -> Result<usize, StoreError> {
    board.leave(&device.id, now);
    reelect_away(st, board, timing, device, None, now, now_ms)
}

/// A device that moved out of `old_office` ends every term it holds
/// there at once (design note `devices-move`): each gets a new leader, with
/// no heartbeat-timeout wait. It stays a member of its new office.
/// Returns how many terms were handed over.
pub fn moved_away(
    st: &Store,
    board: &mut Board,
    timing: &Timing,
    device: &DeviceRow,
    old_office: i64,
    now: i64,
    now_ms: i64,
) -> Result<usize, StoreError> {
    reelect_away(st, board, timing, device, Some(old_office), now, now_ms)
}

/// Elects another leader for each (content, office) `device` leads (only
/// in `moved_from`, when it moved out of that office).
fn reelect_away(
    st: &Store,
    board: &mut Board,
    timing: &Timing,
    device: &DeviceRow,
    moved_from: Option<i64>,
    now: i64,
    now_ms: i64,
) -> Result<usize, StoreError> {
    let mut n = 0;
    for (content_id, office_id) in st.led_by(&device.id)? {
        if office_id == NO_OFFICE || moved_from.is_some_and(|o| o != office_id) {
            continue;
        }
        let mut banned = st.banned(&content_id)?;
        banned.extend(board.departed());
        let progress: HashMap<String, ProgressRow> = st
            .office_progress(&content_id, office_id)?
            .into_iter()
            .map(|p| (p.device_id.clone(), p))
            .collect();
        let all = st.office_devices(office_id)?;
        let members = targeted(st, &content_id, &all)?;
        let wan_cap = st
            .office(office_id)?
            .and_then(|x| x.wan_kbps)
            .map(|k| k as f64 * 1000.0 / 8.0);
        let o = OfficeView {
            content_id: &content_id,
            office_id,
            members: &members,
            banned: &banned,
            progress: &progress,
            wan_cap,
            now_ms,
            moved_out: moved_from.map(|_| device.id.as_str()),
        };
        let out = elect(st, board, timing, &o, device, None, now)?;
        if out.replaced.as_deref() == Some(device.id.as_str()) {
            n += 1;
        }
    }
    Ok(n)
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
            unreachable_at: None,
            unreachable_why: None,
        }
    }

    /// Design note `key-holders`, finding 10: a device of a group the content is not
    /// targeted at never leads it and is never offered as its peer (LAN
    /// or parent office), even when it would win the election (here: the
    /// admin prefers it).
    #[test]
    fn only_devices_the_content_is_targeted_at_lead_it_or_are_offered_as_peers() {
        use crate::store::content::{NewContent, Targets};
        use crate::store::devices::{Enrollment, Preference};
        use crate::store::topology::NewOffice;
        let dir = tempfile::tempdir().unwrap();
        let mut st = Store::create(dir.path()).unwrap();
        let office = |st: &Store, name: &str, parent: Option<i64>| {
            st.create_office(
                &NewOffice {
                    name: name.into(),
                    parent: parent.map(|_| String::new()),
                    kind: OfficeKind::Default,
                    wan_kbps: None,
                    description: String::new(),
                    source: "import".into(),
                    ranges: vec![],
                },
                parent,
            )
            .unwrap()
        };
        let hq = office(&st, "HQ", None);
        let branch = office(&st, "Branch", Some(hq));
        let mut enroll = |host: &str, ip: &str, group: &str, office: i64| {
            let d = st
                .enroll_device(&Enrollment {
                    device_id: None,
                    hostname: host,
                    addr: ip,
                    prefix_len: 24,
                    group,
                    version: crate::VERSION,
                    peer_url: &format!("https://{ip}:7651"),
                })
                .unwrap();
            st.set_device_office(&d.id, Some(office)).unwrap();
            d.id
        };
        let laptop = enroll("laptop", "10.0.0.1", "Laptops", hq);
        let secret = enroll("secret", "10.0.0.2", "Secret", hq);
        let secret2 = enroll("secret2", "10.0.0.3", "Secret", hq);
        let laptop_b = enroll("laptop-b", "10.0.1.1", "Laptops", branch);
        let secret_b = enroll("secret-b", "10.0.1.2", "Secret", branch);
        // The laptop would win: the admin prefers it.
        st.set_preference(&laptop, Preference::Preferred).unwrap();
        st.set_preference(&laptop_b, Preference::Preferred).unwrap();
        let id = "ab".repeat(32);
        st.register_content(
            &NewContent {
                id: &id,
                name: "app",
                version: "1",
                arch: "",
                path: "app/1/app.bin",
                size: 10,
                mtime: 0,
                piece_size: 1 << 20,
                piece_hashes: &[0u8; 32],
            },
            Targets::Only(&["Secret".to_string()]),
        )
        .unwrap();
        let (mut board, roster) = (Board::default(), Roster::default());
        let timing = Timing::new(1);
        let ends = Endpoints {
            cdn: None,
            storage_url: None,
        };
        let now_ms = crate::domain::clock::now_ms();
        let ask = |board: &mut Board, who: &str| {
            let d = st.device(who).unwrap().unwrap();
            let ask = Ask {
                roster: &roster,
                timing: &timing,
                ends: &ends,
                content_id: &id,
                path: "app/1/app.bin",
                device: &d,
                complaint: None,
                now: now_ms / 1000,
                now_ms,
            };
            let p = plan(&st, board, ask).unwrap();
            p.response
        };
        let peers = |r: &SourcesResponse| -> Vec<String> {
            r.peers
                .iter()
                .chain(&r.upstream)
                .filter_map(|s| s.device_id.clone())
                .collect()
        };
        let first = ask(&mut board, &secret);
        assert_eq!(first.role, Role::Leader, "{first:?}");
        assert_eq!(first.leader.as_deref(), Some(secret.as_str()));
        assert!(!peers(&first).contains(&laptop), "{first:?}");
        let other = ask(&mut board, &secret2);
        assert_eq!(other.leader.as_deref(), Some(secret.as_str()));
        assert_eq!(peers(&other), vec![secret.clone()]);
        // In the branch: its Secret device leads, and its parent-office
        // sources are HQ's Secret devices only.
        let b = ask(&mut board, &secret_b);
        assert_eq!(b.leader.as_deref(), Some(secret_b.as_str()), "{b:?}");
        let up: Vec<String> = b
            .upstream
            .iter()
            .filter(|s| s.tier == Tier::Parent)
            .filter_map(|s| s.device_id.clone())
            .collect();
        assert_eq!(up.len(), 2, "{b:?}");
        assert!(!up.contains(&laptop) && !up.contains(&laptop_b), "{b:?}");
        // A leader handing over passes the term to a targeted device only.
        let me = st.device(&secret).unwrap().unwrap();
        hand_over(&st, &mut board, &timing, &me, now_ms / 1000, now_ms).unwrap();
        assert_eq!(
            st.leader(&id, hq).unwrap().as_deref(),
            Some(secret2.as_str())
        );
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

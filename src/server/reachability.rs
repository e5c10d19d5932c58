//! Devices their peers cannot reach (design note `devices-move`): a host
//! firewall, NAT or a client-isolated Wi-Fi blocks incoming connections.
//! Such a device still receives from its peers, but it must never be
//! elected leader (its office's followers could not reach it) or be
//! handed out as a source. The server learns it two ways:
//!
//! - **The reachability check.** When a device enrolls, or its address or
//!   peer URL changes, the server connects to its peer port (any HTTP
//!   answer counts; twice, [`super::state::PROBE_TIMEOUT`] each). Until
//!   the check ends the device is not elected (a current leader keeps its
//!   term); after it failed (`probe`), it leads only where no other
//!   device can: an office the server cannot reach at all (a firewall
//!   between the datacentre and the branches) still gets leaders, so the
//!   check alone never stops a distribution.
//! - **Peers' failed attempts.** A device that cannot connect to a peer
//!   (refused, or no answer to the attempt) names it in its next
//!   `/sources` call. Two distinct peers within a minute, or one whose
//!   report the server's own check confirms, mark it `peers` once it has
//!   sent a heartbeat since the first attempt failed (so it is alive, not
//!   killed: that is a failover): never leader, never a source, its terms
//!   handed over at once.
//!
//! A mark goes when the device moves or enrolls again (a new network
//! path), or, for `probe`, when a later check reaches it. `explain` and
//! `devices list` say which it was. A key holder's false reports can
//! demote a device this way, never take anything from it: it still
//! downloads, and two enrolled devices are needed for a mark.

use crate::domain::clock::now;

use super::AppState;
use super::decisions::{UNREACHABLE_BY_PEERS, UNREACHABLE_BY_PROBE};

/// Most peers one `/sources` call may name.
pub const MAX_REPORTED: usize = 8;

/// Whether a peer answers at all: any HTTP response counts (an unsigned
/// request gets `unsigned` from a live agent); a refused connection or
/// silence past [`super::state::PROBE_TIMEOUT`] does not.
pub async fn answers(client: &reqwest::Client, peer_url: &str) -> bool {
    let url = format!("{}/v1/status", peer_url.trim_end_matches('/'));
    client.get(url).send().await.is_ok()
}

/// Starts the reachability check of `device_id` at `peer_url` (in its
/// office `office_id`), in the background.
pub fn check(s: &AppState, device_id: &str, office_id: Option<i64>, peer_url: Option<String>) {
    let Some(url) = peer_url else { return };
    s.board.lock().check_started(device_id);
    let (s, id) = (s.clone(), device_id.to_string());
    tokio::spawn(async move {
        let mut ok = answers(&s.probe, &url).await;
        if !ok {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            ok = answers(&s.probe, &url).await;
        }
        let dev = id.clone();
        let changed =
            s.db.call(move |st| match ok {
                true => Ok(st.clear_probe_mark(&dev)?),
                false => Ok(st.set_unreachable(&dev, Some(UNREACHABLE_BY_PROBE))?),
            })
            .await;
        s.board.lock().check_done(&id);
        if let Some(o) = office_id {
            s.roster.forget(o);
        }
        match (ok, changed) {
            (false, Ok(true)) => tracing::warn!(
                device = %id, peer_url = %url,
                "the server cannot reach this device's peer port; it leads only where no reachable device can"
            ),
            (true, Ok(true)) => {
                tracing::info!(device = %id, "the server reaches this device again")
            }
            (_, Err(e)) => {
                tracing::warn!(device = %id, "cannot record the reachability check: {}", e.message)
            }
            _ => {}
        }
    });
}

/// `reporter` could not connect to `peers`: two distinct reporters, or
/// one confirmed by the server's own check, mark a peer `peers`.
pub async fn reported(s: &AppState, reporter: &str, peers: &[String]) {
    for peer in peers.iter().take(MAX_REPORTED) {
        let (n, first) = s.board.lock().unreachable_by(peer, reporter, now());
        if n == 0 {
            continue;
        }
        let (st_peer, s2) = (peer.clone(), s.clone());
        let Ok(Some(row)) = s.db.read_quick(move |st| Ok(st.device(&st_peer)?)).await else {
            continue;
        };
        // Unreachable, not down: it must have sent a heartbeat since the
        // first failed attempt (a killed leader is a failover, not this).
        if row.last_seen <= first {
            continue;
        }
        let confirmed = n >= 2
            || match &row.peer_url {
                Some(u) => !answers(&s2.probe, u).await,
                None => false,
            };
        if !confirmed {
            continue;
        }
        let id = peer.clone();
        let marked =
            s.db.call(move |st| Ok(st.set_unreachable(&id, Some(UNREACHABLE_BY_PEERS))?))
                .await;
        if let Ok(true) = marked {
            if let Some(o) = row.office_id {
                s.roster.forget(o);
            }
            tracing::warn!(
                device = %peer, reporters = n,
                "peers cannot connect to this device: it is no longer leader or a source"
            );
        }
    }
}

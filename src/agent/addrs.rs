//! Where the device is: the addresses it has now (sent with every
//! enrollment and heartbeat), a watch that notices a change within a
//! second and heartbeats at once, and the office the server last placed it
//! in. A laptop that gets a new address from DHCP, walks to another
//! office or joins the VPN is re-placed by the server within that
//! heartbeat; when its office changes, every download asks for sources
//! again at once (its role, leader and peers are the new office's).

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::Agent;
use crate::wire::proto::AddrInfo;

/// How often the watch reads the device's addresses.
pub(super) const WATCH_EVERY: Duration = Duration::from_secs(1);

/// The device's addresses and office as last seen.
#[derive(Default)]
pub(crate) struct Place {
    /// The addresses last read (`None` before the first read).
    last: Mutex<Option<Vec<AddrInfo>>>,
    /// Woken when the addresses change: the heartbeat loop sends one now.
    pub(crate) changed: Notify,
    /// The office of the server's last answer (`Some(None)`: no office).
    office: Mutex<Option<Option<String>>>,
    /// Bumped when the office changes; each download compares it with the
    /// one its plan came under.
    generation: AtomicU64,
    /// The source address now (`--source-address`; tests may change it).
    source: Mutex<Option<IpAddr>>,
    /// Bumped on every change of the device's addresses: requests still
    /// out on connections from an address it no longer has would only
    /// time out, so downloads and the heartbeat loop give them up.
    readdressed: tokio::sync::watch::Sender<u64>,
}

impl Place {
    pub(crate) fn new(source: Option<IpAddr>) -> Place {
        Place {
            source: Mutex::new(source),
            ..Place::default()
        }
    }

    /// Tells of the device's address changes.
    pub(crate) fn readdressed(&self) -> tokio::sync::watch::Receiver<u64> {
        self.readdressed.subscribe()
    }
}

impl Agent {
    /// The addresses this device reports: the advertised one (`--advertise`),
    /// then the source address (`--source-address`), then its interface
    /// addresses. The server places the device by the address it sees the
    /// connection from; the others are claims, used only where the admin
    /// trusts claimed addresses (design note `devices-move`).
    pub(crate) fn addrs(&self) -> Vec<AddrInfo> {
        let mut out: Vec<AddrInfo> = Vec::new();
        let fixed = [
            self.cfg.advertise.map(|a| a.ip()),
            *self.place.source.lock(),
        ];
        for ip in fixed.into_iter().flatten() {
            if !ip.is_unspecified() && !out.iter().any(|a| a.ip == ip) {
                out.push(AddrInfo {
                    ip,
                    prefix: self.cfg.prefix_len.unwrap_or(default_prefix(ip)),
                });
            }
        }
        for h in crate::platform::net::host_addrs() {
            if !out.iter().any(|a| a.ip == h.ip) {
                out.push(AddrInfo {
                    ip: h.ip,
                    prefix: h.prefix,
                });
            }
        }
        out
    }

    /// The port peers reach this device's peer server on.
    pub(crate) fn peer_port(&self) -> u16 {
        self.cfg
            .advertise
            .map_or(self.cfg.listen.port(), |a| a.port())
    }

    /// The peer URL the admin fixed with `--advertise`, if any.
    pub(crate) fn fixed_peer_url(&self) -> Option<String> {
        let scheme = if self.cfg.tls.is_some() {
            "https"
        } else {
            "http"
        };
        self.cfg.advertise.map(|a| format!("{scheme}://{a}"))
    }

    /// Notes the office the server placed this device in. A change (after
    /// the first answer) is logged and makes every download ask for
    /// sources again.
    pub(crate) fn placed(&self, office: Option<&str>) {
        let now = office.map(str::to_string);
        let mut cur = self.place.office.lock();
        match cur.as_ref() {
            Some(before) if *before == now => {}
            Some(before) => {
                tracing::info!(
                    from = before.as_deref().unwrap_or("(no office)"),
                    to = now.as_deref().unwrap_or("(no office)"),
                    "moved to another office; asking for sources again"
                );
                *cur = Some(now);
                self.place.generation.fetch_add(1, Ordering::AcqRel);
            }
            None => *cur = Some(now),
        }
    }

    /// The office the server last placed this device in (`None`: none, or
    /// not told yet).
    pub(crate) fn office_name(&self) -> Option<String> {
        self.place.office.lock().clone().flatten()
    }

    /// Changes each time the server places this device in another office.
    pub(crate) fn placement(&self) -> u64 {
        self.place.generation.load(Ordering::Acquire)
    }

    /// Reads the addresses; true (and logged) when they differ from the
    /// last read.
    fn addrs_changed(&self) -> bool {
        #[cfg(feature = "fault-injection")]
        if let Some(ip) = self.faults.source() {
            let mut cur = self.place.source.lock();
            if *cur != Some(ip) {
                *cur = Some(ip);
                if let Err(e) = self.client.set_local(Some(ip)) {
                    tracing::warn!("cannot connect from {ip}: {e}");
                }
            }
        }
        let now = self.addrs();
        let mut last = self.place.last.lock();
        if last.as_deref().is_some_and(|l| same(l, &now)) {
            return false;
        }
        let was = last.replace(now.clone());
        if let Some(was) = &was {
            tracing::info!(
                before = %list(was),
                now = %list(&now),
                "this device's addresses changed"
            );
        }
        was.is_some()
    }
}

/// Watches the device's addresses until shutdown: on a change, the pooled
/// connections are dropped (one from an address the device no longer has
/// would only time out) and the heartbeat loop sends a heartbeat at once.
pub(super) async fn watch(agent: Arc<Agent>) {
    agent.addrs_changed();
    // The system's own change notifications, where it has them: a new
    // address is acted on within milliseconds, not at the next poll. A
    // thread of its own (the notifier blocks), ending with the agent.
    let (tx, mut notified) = tokio::sync::mpsc::channel::<()>(1);
    let stop = agent.shutdown.clone();
    let spawned = std::thread::Builder::new()
        .name("p2pd-addr-watch".into())
        .spawn(move || {
            let Some(mut w) = crate::platform::net::AddrWatch::new() else {
                return;
            };
            while !stop.is_cancelled() {
                if w.wait(WATCH_EVERY) && tx.blocking_send(()).is_err() {
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        tracing::debug!("no address change notifications ({e}); polling every second");
    }
    loop {
        tokio::select! {
            _ = agent.shutdown.cancelled() => return,
            _ = tokio::time::sleep(WATCH_EVERY) => {}
            Some(()) = notified.recv() => {}
        }
        let a = agent.clone();
        let changed = tokio::task::spawn_blocking(move || a.addrs_changed())
            .await
            .unwrap_or(false);
        if changed {
            if let Err(e) = agent.client.reset_connections() {
                tracing::warn!("cannot reset connections after an address change: {e}");
            }
            agent.place.readdressed.send_modify(|n| *n += 1);
            agent.place.changed.notify_one();
        }
    }
}

fn default_prefix(ip: IpAddr) -> u8 {
    if ip.is_ipv4() { 24 } else { 64 }
}

fn same(a: &[AddrInfo], b: &[AddrInfo]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.ip == y.ip && x.prefix == y.prefix)
}

fn list(a: &[AddrInfo]) -> String {
    if a.is_empty() {
        return "(none)".into();
    }
    a.iter()
        .map(|a| format!("{}/{}", a.ip, a.prefix))
        .collect::<Vec<_>>()
        .join(", ")
}

//! Piece requests: which pieces start (in order, up to `parallel`, within
//! the WAN cap), each request's task (fetched, then verified and stored
//! off the download loop), racing a slow one elsewhere, and ending the
//! others when one copy is stored.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::fetch::{Counters, FetchError, fetch};
use super::sources::PER_LAN_SOURCE;
use super::{Downloader, Event};
use crate::agent::pieces::PieceError;
use crate::wire::proto::*;

/// A received piece at most this many pieces ahead of the whole-file
/// hash waits for its turn, at most [`TURN_WAIT`]: pieces requested
/// together finish within a few ms of each other on a LAN, and one stored
/// in its turn costs one pass of SHA-256 instead of two.
const TURN_AHEAD: u32 = 2 * PER_LAN_SOURCE as u32;
const TURN_WAIT: Duration = Duration::from_millis(10);

/// A piece request is raced elsewhere when its rate is this many times
/// below the best rate another source shows...
const SLOW_FACTOR: f64 = 4.0;
/// ...and at least this long after its headers arrived.
const SLOW_MIN: Duration = Duration::from_secs(4);

/// A peer abandoned this many times for slowness is dropped for the content.
const SLOW_STRIKES: u32 = 2;

/// A piece from an office peer moving slower than this (bytes/s),
/// [`SLOW_MIN`] after its headers, is slow whatever the other sources show:
/// a LAN peer sends from its disk (a follower's request waits at its leader
/// until the piece is there, and only then gets headers), so this is far
/// below any honest one, busy or on Wi-Fi. From the leader it is evidence.
/// Not for parent-office peers: a slow WAN link is not evidence.
pub(super) const MIN_PEER_RATE: f64 = 16.0 * 1024.0;

/// The result of one piece request.
pub(super) struct Fetched {
    pub(super) piece: u32,
    pub(super) source: Source,
    /// Bytes received and what storing them gave (verified and written in
    /// the fetch task, off the download loop).
    pub(super) result: Result<(u64, Result<bool, PieceError>), FetchError>,
    /// True when the fetch task recorded the transfer itself, as the piece
    /// verified and before it counted as held (`pieces::OnVerified`).
    pub(super) reported: bool,
    /// Time from headers to the last byte.
    pub(super) took: Duration,
}

/// One request for one piece (a piece may have two when it is raced).
pub(super) struct Attempt {
    pub(super) url: String,
    pub(super) device: Option<String>,
    pub(super) tier: Tier,
    pub(super) started: Instant,
    /// Milliseconds from `started` to the response headers (u64::MAX until
    /// then), written by the fetch task.
    pub(super) headers_ms: Arc<AtomicU64>,
    /// Body bytes received so far, written by the fetch task.
    pub(super) received: Arc<AtomicU64>,
    /// Set by the fetch task once it has every byte: from then on the task
    /// is storing the piece and is not aborted, so that what is logged is
    /// what was stored.
    pub(super) complete: Arc<std::sync::atomic::AtomicBool>,
    pub(super) abort: AbortHandle,
}

impl Downloader {
    pub(super) fn fill(&mut self) {
        let Some(plan) = self.plan.clone() else {
            return;
        };
        // Every source busy (or failing): no piece can start, so do not
        // walk all the pieces to find that out.
        if !plan
            .peers
            .iter()
            .chain(plan.upstream.iter())
            .any(|s| self.usable(s))
        {
            return;
        }
        let parallel = self.agent.cfg.parallel.max(1);
        let n = self.content.manifest.piece_count();
        let now = Instant::now();
        for i in 0..n {
            if self.in_flight.len() >= parallel {
                break;
            }
            if self.content.has(i) || self.in_flight.contains_key(&i) {
                continue;
            }
            if self.retry_at.get(&i).is_some_and(|t| now < *t) {
                continue;
            }
            let Some((source, wait)) = self.source_for(&plan, i, &[]) else {
                continue;
            };
            if !self.wan_slot(&plan, &source, i, now) {
                break;
            }
            self.spawn_fetch(i, source, wait);
        }
    }

    pub(super) fn spawn_fetch(&mut self, i: u32, source: Source, wait: bool) {
        self.sources.started(&source.url);
        let agent = self.agent.clone();
        let m = self.content.manifest.clone();
        let headers_ms = Arc::new(AtomicU64::new(u64::MAX));
        let hm = headers_ms.clone();
        let received = Arc::new(AtomicU64::new(0));
        let rc = received.clone();
        let complete = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let cc = complete.clone();
        let flow = self.flow.clone();
        let url = source.url.clone();
        let device = source.device_id.clone();
        let tier = source.tier;
        let started = Instant::now();
        let content = self.content.clone();
        let abort = self.tasks.spawn(async move {
            let mut took = Duration::ZERO;
            let mut reported = false;
            let counters = Counters {
                headers_ms: &hm,
                received: &rc,
                flow: &flow,
            };
            let buf = content.piece_buf();
            let result = match fetch(&agent, &m, i, &source, wait, counters, buf, &mut took).await {
                Ok(piece) => {
                    cc.store(true, Ordering::Release);
                    // A piece just ahead of the whole-file hash waits a
                    // moment for its turn, to be hashed once for both
                    // checks (`Content::wait_turn`).
                    content.wait_turn(i, TURN_AHEAD, TURN_WAIT).await;
                    // Checked and written on the blocking pool, here rather
                    // than in the download loop, so that the loop keeps
                    // requests flowing.
                    let len = piece.len() as u64;
                    // Recorded once verified and written, before the piece
                    // is journalled and held: a crash loses no report of a
                    // piece that is kept (design note `faults-and-churn`).
                    let report = TransferReport {
                        content_id: m.id,
                        tier: source.tier,
                        source_device: source.device_id.clone(),
                        bytes: len,
                        pieces: 1,
                        ok: true,
                    };
                    let a = agent.clone();
                    let store = move || {
                        let mut reported = false;
                        let r = content.store_piece(i, piece, &mut |journal| {
                            reported = true;
                            a.record_transfer_then(report.clone(), i, journal);
                        });
                        (r, reported)
                    };
                    let (stored, was_reported) = tokio::task::spawn_blocking(store)
                        .await
                        .unwrap_or_else(|e| {
                            let e = PieceError::Io {
                                path: "store task".into(),
                                source: std::io::Error::other(e.to_string()),
                            };
                            (Err(e), false)
                        });
                    reported = was_reported;
                    Ok((len, stored))
                }
                Err(e) => Err(e),
            };
            Event::Piece(Fetched {
                piece: i,
                source,
                result,
                took,
                reported,
            })
        });
        self.in_flight.entry(i).or_default().push(Attempt {
            url,
            device,
            tier,
            started,
            headers_ms,
            received,
            complete,
            abort,
        });
    }

    /// Removes one finished attempt; returns the others still running.
    pub(super) fn finish_attempt(&mut self, i: u32, url: &str) -> usize {
        let left = match self.in_flight.get_mut(&i) {
            Some(v) => {
                if let Some(pos) = v.iter().position(|a| a.url == url) {
                    v.remove(pos);
                }
                v.len()
            }
            None => 0,
        };
        if left == 0 {
            self.in_flight.remove(&i);
        }
        self.sources.ended(url);
        left
    }

    /// The piece is stored: drop the slower requests still racing for it.
    pub(super) fn abandon_others(&mut self, i: u32) {
        let Some(rest) = self.in_flight.remove(&i) else {
            return;
        };
        for a in rest {
            if a.complete.load(Ordering::Acquire) {
                // It has every byte and is storing: let it report.
                self.in_flight.entry(i).or_default().push(a);
                continue;
            }
            a.abort.abort();
            self.sources.ended(&a.url);
            self.agent.record_transfer(
                TransferReport {
                    content_id: *self.id(),
                    tier: a.tier,
                    source_device: a.device.clone(),
                    bytes: 0,
                    pieces: 0,
                    ok: false,
                },
                i,
            );
        }
    }

    /// Races pieces whose request is far slower than the best source seen:
    /// a second request goes elsewhere, the first verified copy wins.
    pub(super) fn race_slow(&mut self) {
        let Some(plan) = self.plan.clone() else {
            return;
        };
        // The rate of each attempt now (bytes since its headers), and the
        // best any source shows: finished pieces, or requests in flight.
        let current: Vec<(u32, &Attempt, Duration, f64)> = self
            .in_flight
            .iter()
            .flat_map(|(&i, v)| v.iter().map(move |a| (i, a)))
            .filter_map(|(i, a)| {
                let h = a.headers_ms.load(Ordering::Relaxed);
                if h == u64::MAX {
                    return None; // still waiting for the piece to arrive there
                }
                let since = a.started.elapsed().saturating_sub(Duration::from_millis(h));
                let rate =
                    a.received.load(Ordering::Relaxed) as f64 / since.as_secs_f64().max(0.001);
                Some((i, a, since, rate))
            })
            .collect();
        let mut races = Vec::new();
        let mut crawls = Vec::new();
        let leader = plan.leader.clone().filter(|_| plan.role == Role::Follower);
        for &(i, a, since, rate) in &current {
            if a.device.is_none() || self.in_flight.get(&i).is_some_and(|v| v.len() != 1) {
                continue; // server and CDN are raced by back-off; one race per piece
            }
            if since < SLOW_MIN {
                continue;
            }
            let best = current
                .iter()
                .filter(|(_, b, _, _)| b.url != a.url)
                .map(|(_, _, _, r)| *r)
                .chain(std::iter::once(self.sources.best_rate_except(&a.url)))
                .fold(0.0, f64::max);
            // Far below the others, or (an office peer) below any honest
            // one's rate; with nothing to compare with, a parent-office
            // peer is ended by BODY_IDLE only.
            let crawling = a.tier == Tier::Lan && rate < MIN_PEER_RATE;
            if crawling && a.device.is_some() && a.device == leader {
                crawls.push((a.device.clone().unwrap_or_default(), rate));
            } else if crawling || (best > 0.0 && rate * SLOW_FACTOR < best) {
                races.push((i, a.url.clone(), a.device.clone()));
            }
        }
        // Our leader crawling is evidence: go around it (its requests are
        // abandoned and fetched again elsewhere).
        for (dev, rate) in crawls {
            tracing::info!(content = %self.id(), leader = %dev, rate, "leader sends far below any office peer's rate");
            self.against_leader(&dev, SuspectReason::Slow, true);
        }
        for (i, url, device) in races {
            let Some((source, wait)) = self.source_for(&plan, i, &[url.as_str()]) else {
                continue;
            };
            // Demoted: it now ranks below every measured source.
            let strikes = self.sources.slow_strike(&url);
            tracing::info!(content = %self.id(), piece = i, slow = %url, other = %source.url, strikes, "slow source: racing the piece elsewhere");
            if strikes >= SLOW_STRIKES
                && let Some(d) = device
            {
                tracing::warn!(content = %self.id(), peer = %d, "peer dropped for this content: too slow");
                self.dropped.insert(d);
            }
            self.spawn_fetch(i, source, wait);
        }
    }
}

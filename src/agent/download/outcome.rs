//! What a finished piece request means: a stored piece (the source's
//! failures forgiven, its rate measured), a bad or oversize one (the peer
//! banned or dropped, and reported), a piece the source did not have, or
//! a failure (back-off, a failure run that makes the content stuck, a
//! leader suspected).

use std::time::Duration;

use tokio::time::Instant;

use super::fetch::FetchError;
use super::piece::Fetched;
use super::sources::STUCK_AFTER;
use super::{Downloader, Event};
use crate::agent::pieces::PieceError;
use crate::wire::proto::*;

/// A peer whose have-map claimed a piece it then did not have this many
/// times is dropped for the content.
const LIE_STRIKES: u32 = 3;

impl Downloader {
    pub(super) fn handle(&mut self, ev: Event) {
        match ev {
            Event::Have(dev, map) => {
                self.have_inflight.remove(&dev);
                if let Some(m) = map {
                    self.haves.insert(dev, m);
                }
            }
            Event::Piece(f) => self.handle_piece(f),
        }
    }

    pub(super) fn handle_piece(&mut self, f: Fetched) {
        self.finish_attempt(f.piece, &f.source.url);
        let id = self.id().to_string();
        match f.result {
            Ok((len, stored)) => {
                let report = |ok: bool| TransferReport {
                    content_id: id.clone(),
                    tier: f.source.tier,
                    source_device: f.source.device_id.clone(),
                    bytes: len,
                    pieces: 1,
                    ok,
                };
                match stored {
                    Ok(_) => {
                        self.agent.touch(&id);
                        self.sources.delivered(&f.source.url, len, f.took);
                        self.last_stored = Instant::now();
                        if let Some(was) = self.agent.clear_stuck(&id) {
                            tracing::info!(content = %id, "moving again (was stuck: {was})");
                        }
                        self.agent.record_transfer(report(true), f.piece);
                        // The leader delivers again: a stall held against
                        // it is forgiven (lasting evidence keeps it dropped).
                        if self.evidence.as_ref().is_some_and(|e| {
                            f.source.device_id.as_deref() == Some(e.leader.as_str())
                        }) {
                            self.evidence = None;
                        }
                        self.abandon_others(f.piece);
                    }
                    Err(PieceError::BadPiece { .. }) => {
                        self.agent.record_transfer(report(false), f.piece);
                        match &f.source.device_id {
                            Some(dev) => {
                                tracing::warn!(content = %id, piece = f.piece, peer = %dev, "bad piece: peer banned for this content");
                                self.banned.insert(dev.clone());
                                self.agent.record_bad(&id, dev, f.piece);
                                let dev = dev.clone();
                                self.against_leader(&dev, SuspectReason::Corrupt, true);
                            }
                            None => self.sources.back_off(&f.source.url),
                        }
                    }
                    Err(e) => {
                        tracing::error!(content = %id, "cannot store piece {}: {e}", f.piece);
                        self.retry_at
                            .insert(f.piece, Instant::now() + Duration::from_secs(2));
                    }
                }
            }
            Err(FetchError::Unavailable) => {
                // Its have-map claimed the piece: a peer that keeps doing
                // that is dropped for this content.
                if let Some(dev) = &f.source.device_id
                    && self.haves.get(dev).is_some_and(|m| m.has(f.piece))
                    && self.sources.lie_strike(&f.source.url) >= LIE_STRIKES
                    && self.dropped.insert(dev.clone())
                {
                    tracing::warn!(content = %id, peer = %dev, "peer dropped for this content: it advertises pieces it does not deliver");
                }
                self.retry_at
                    .insert(f.piece, Instant::now() + Duration::from_millis(150));
            }
            Err(FetchError::Reschedule) => {
                self.refresh_now = true;
            }
            Err(FetchError::Oversize(e)) if f.source.device_id.is_some() => {
                // Refused at the piece's length, so nothing is stored; the
                // peer is dropped for this content and reported as sending
                // a bad piece (the server re-checks it).
                let dev = f.source.device_id.clone().unwrap_or_default();
                tracing::warn!(content = %id, piece = f.piece, peer = %dev, "{e}: peer dropped for this content");
                self.note_failure(&f.source, e);
                self.agent.record_transfer(
                    TransferReport {
                        content_id: id.clone(),
                        tier: f.source.tier,
                        source_device: Some(dev.clone()),
                        bytes: 0,
                        pieces: 0,
                        ok: false,
                    },
                    f.piece,
                );
                self.dropped.insert(dev.clone());
                self.agent.record_bad(&id, &dev, f.piece);
                self.against_leader(&dev, SuspectReason::Oversize, true);
            }
            Err(FetchError::Failed(e) | FetchError::Oversize(e)) => {
                tracing::debug!(content = %id, piece = f.piece, source = %f.source.url, "fetch failed: {e}");
                self.note_failure(&f.source, e.clone());
                self.sources.back_off(&f.source.url);
                self.refresh_now = true;
                // Our leader failed us: say so at once, with its term.
                let term = self
                    .plan
                    .as_ref()
                    .filter(|p| {
                        p.role == Role::Follower
                            && f.source.device_id.is_some()
                            && f.source.device_id == p.leader
                    })
                    .map(|p| p.epoch);
                if let Some(epoch) = term {
                    let stalled = e.contains("stalled");
                    let reason = if stalled {
                        SuspectReason::Stalled
                    } else {
                        SuspectReason::Unreachable
                    };
                    let leader = f.source.device_id.clone().unwrap_or_default();
                    self.suspect = Some(Suspect {
                        leader: leader.clone(),
                        epoch,
                        reason,
                    });
                    // A stall, or the third failure in a row: go around it
                    // while it is in back-off.
                    let repeated = self.sources.failing_repeatedly(&f.source.url);
                    if stalled || repeated {
                        self.against_leader(&leader, reason, false);
                    }
                }
            }
        }
    }

    /// Counts a failure in its source's run of identical ones. The third
    /// in a row, with no piece stored since the run began, is logged once
    /// at WARN and marks the content stuck (reported to the server).
    pub(super) fn note_failure(&mut self, source: &Source, error: String) {
        let run = self.sources.failed(&source.url, error);
        if run.count < STUCK_AFTER || self.last_stored > run.since {
            return;
        }
        let who = source.device_id.as_deref().map_or_else(
            || format!("{} source {}", source.tier.as_str(), source.url),
            |d| format!("{} peer {d}", source.tier.as_str()),
        );
        let reason = format!("{who} fails every time: {}", run.error);
        let id = self.content.manifest.id.clone();
        self.agent.set_stuck(&id, reason.clone(), false);
        if !run.warned {
            run.warned = true;
            tracing::warn!(content = %id, "{reason}");
        }
    }
}

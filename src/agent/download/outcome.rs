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
            Event::Have(dev, map, no_connection) => {
                self.have_inflight.remove(&dev);
                if no_connection && self.unreachable.insert(dev.clone()) {
                    tracing::info!(content = %self.id(), peer = %dev, "cannot connect to this peer; telling the server");
                    self.refresh_now = true;
                }
                if let Some(m) = map {
                    self.haves.insert(dev, m);
                }
            }
            Event::Piece(f) => self.handle_piece(f),
        }
    }

    pub(super) fn handle_piece(&mut self, f: Fetched) {
        self.finish_attempt(f.piece, &f.source.url);
        let Fetched {
            piece,
            source,
            result,
            took,
            reported,
        } = f;
        match result {
            Ok((len, Ok(_))) => self.stored(piece, &source, len, took, reported),
            Ok((len, Err(PieceError::BadPiece { .. }))) => self.bad_piece(piece, &source, len),
            Ok((_, Err(e))) => {
                tracing::error!(content = %self.id(), "cannot store piece {piece}: {e}");
                self.retry_at
                    .insert(piece, Instant::now() + Duration::from_secs(2));
            }
            Err(FetchError::Unavailable) => self.unavailable(piece, &source),
            Err(FetchError::Reschedule) => {
                // A peer that is no longer an office-mate (or leader) is
                // not asked again before the new plan.
                if source.tier == Tier::Lan {
                    self.sources.back_off(&source.url);
                }
                self.refresh_now = true;
            }
            Err(FetchError::Oversize(e)) if source.device_id.is_some() => {
                self.oversize(piece, &source, e)
            }
            Err(FetchError::Failed(e) | FetchError::Oversize(e)) => {
                self.fetch_failed(piece, &source, e)
            }
        }
    }

    /// A transfer of `bytes` in `pieces` from `source`, for the report.
    fn transfer(&self, source: &Source, bytes: u64, pieces: u32, ok: bool) -> TransferReport {
        TransferReport {
            content_id: *self.id(),
            tier: source.tier,
            source_device: source.device_id.clone(),
            bytes,
            pieces,
            ok,
        }
    }

    /// Piece `i` (`len` bytes, in `took`) from `source` is stored (or was
    /// already there): the source's failures are forgiven, and the other
    /// requests for the piece dropped. Reported here unless the fetch task
    /// `reported` it as it stored it (a piece that was already there).
    fn stored(&mut self, i: u32, source: &Source, len: u64, took: Duration, reported: bool) {
        let id = *self.id();
        self.agent.touch(&id);
        self.sources.delivered(&source.url, len, took);
        self.last_stored = Instant::now();
        if let Some(was) = self.agent.clear_stuck(&id) {
            tracing::info!(content = %id, "moving again (was stuck: {was})");
        }
        if !reported {
            self.agent
                .record_transfer(self.transfer(source, len, 1, true), i);
        }
        // The leader delivers again: a stall held against it is forgiven
        // (lasting evidence keeps it dropped).
        if self
            .evidence
            .as_ref()
            .is_some_and(|e| source.device_id.as_deref() == Some(e.leader.as_str()))
        {
            self.evidence = None;
        }
        self.abandon_others(i);
    }

    /// Piece `i` from `source` failed its hash: a peer is banned for this
    /// content at once (and reported); the server or the CDN backs off.
    fn bad_piece(&mut self, i: u32, source: &Source, len: u64) {
        self.agent
            .record_transfer(self.transfer(source, len, 1, false), i);
        match &source.device_id {
            Some(dev) => {
                let id = *self.id();
                tracing::warn!(content = %id, piece = i, peer = %dev, "bad piece: peer banned for this content");
                self.banned.insert(dev.clone());
                self.agent.record_bad(&id, dev, i);
                self.against_leader(dev, SuspectReason::Corrupt, true);
            }
            None => self.sources.back_off(&source.url),
        }
    }

    /// `source` did not have piece `i` (yet): asked again shortly. A peer
    /// whose have-map keeps claiming pieces it does not have is dropped
    /// for this content.
    fn unavailable(&mut self, i: u32, source: &Source) {
        if let Some(dev) = &source.device_id
            && self.haves.get(dev).is_some_and(|m| m.has(i))
            && self.sources.lie_strike(&source.url) >= LIE_STRIKES
            && self.dropped.insert(dev.clone())
        {
            tracing::warn!(content = %self.id(), peer = %dev, "peer dropped for this content: it advertises pieces it does not deliver");
        }
        self.retry_at
            .insert(i, Instant::now() + Duration::from_millis(150));
    }

    /// A peer sent more than piece `i` holds. Refused at the piece's
    /// length, so nothing is stored; the peer is dropped for this content
    /// and reported as sending a bad piece (the server re-checks it).
    fn oversize(&mut self, i: u32, source: &Source, e: String) {
        let id = *self.id();
        let dev = source.device_id.clone().unwrap_or_default();
        tracing::warn!(content = %id, piece = i, peer = %dev, "{e}: peer dropped for this content");
        self.note_failure(source, e);
        self.agent
            .record_transfer(self.transfer(source, 0, 0, false), i);
        self.dropped.insert(dev.clone());
        self.agent.record_bad(&id, &dev, i);
        self.against_leader(&dev, SuspectReason::Oversize, true);
    }

    /// The request for piece `i` at `source` failed with `e`: the source
    /// backs off, and sources are asked for again.
    fn fetch_failed(&mut self, i: u32, source: &Source, e: String) {
        tracing::debug!(content = %self.id(), piece = i, source = %source.url, "fetch failed: {e}");
        self.note_failure(source, e.clone());
        self.sources.back_off(&source.url);
        self.refresh_now = true;
        self.suspect_leader(source, &e);
    }

    /// If `source` is our leader, it failed us (with `e`): say so at once,
    /// with its term. A stall, or the third failure in a row: go around it
    /// while it is in back-off.
    fn suspect_leader(&mut self, source: &Source, e: &str) {
        let term = self
            .plan
            .as_ref()
            .filter(|p| {
                p.role == Role::Follower
                    && source.device_id.is_some()
                    && source.device_id == p.leader
            })
            .map(|p| p.epoch);
        let Some(epoch) = term else { return };
        let stalled = e.contains("stalled");
        let reason = if stalled {
            SuspectReason::Stalled
        } else {
            SuspectReason::Unreachable
        };
        let leader = source.device_id.clone().unwrap_or_default();
        self.suspect = Some(Suspect {
            leader: leader.clone(),
            epoch,
            reason,
        });
        if stalled || self.sources.failing_repeatedly(&source.url) {
            self.against_leader(&leader, reason, false);
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
        let id = self.content.manifest.id;
        self.agent.set_stuck(&id, reason.clone(), false);
        if !run.warned {
            run.warned = true;
            tracing::warn!(content = %id, "{reason}");
        }
    }
}

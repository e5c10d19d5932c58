//! The report journal: `reports.pending` in the agent's data dir, the
//! transfers, uploads and bad pieces not yet acknowledged by the server, so
//! that a crash or a kill loses no report of what crossed, and a report sent
//! again counts once. Design note `faults-and-churn`.
//!
//! ```text
//! {"acked":N}                  the highest report number the server acknowledged
//! {"seq":S,"transfer":{...}}   a piece received (or a failed attempt), in report S
//! {"seq":S,"upload":{...}}     pieces served to a peer, in report S
//! {"seq":S,"bad":{...}}        a bad piece from a peer, in report S
//! ```
//!
//! Every record is appended (one `write`, so a kill cannot leave it half
//! in the kernel) under the agent's `pending` lock, the lock that adds it
//! to the report in memory; a received piece is recorded before it is
//! journalled in the piece store, so a piece that is kept is always
//! reported (`Content::store_piece`).
//!
//! **Numbers.** Records join the *open* report. A flush closes it (newer
//! records get the next number) and sends it, with its number, until the
//! server acknowledges it; then its records leave the journal. One report
//! at a time is on the wire, so only the oldest unacknowledged one can
//! have been counted: on load it keeps its number, and every later record
//! joins a new open report numbered above everything in the file. A number
//! once sent therefore always names the same records, and the server,
//! which counts each number once (`Store::report_once`), counts every
//! record once however many answers are lost. A fresh journal (a new data
//! dir, or this file deleted) starts at the current time in milliseconds
//! × 1000: above any number an earlier journal of the device reached (one
//! per heartbeat, one per start), so numbers stay monotonic per device and
//! a lost journal's successor is counted rather than taken for retries.
//!
//! **Bounded.** At most two reports are held (the one sent and the open
//! one), each merged per content, tier, source and outcome (uploads per
//! content, bad pieces once each), as the pending report always was; a
//! report closed with more entries than the server takes in one
//! (`limits::MAX_ITEMS`) leaves the rest to the next. The
//! file is rewritten merged on load, on every acknowledgement and every
//! [`COMPACT_EVERY`] appends: a temporary file, then a rename, so the file
//! is always whole. A damaged line (the last one torn by a kill) is
//! skipped with a warning. Without an fsync: a kill loses nothing the
//! kernel has; a power cut may lose the journal's latest writes (reports
//! then missing, never counted twice).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::wire::proto::limits::MAX_ITEMS;
use crate::wire::proto::{BadPiece, ReportRequest, TransferReport, UploadReport};

/// The journal's file name in the data dir.
pub const FILE: &str = "reports.pending";

/// Appends after which the file is rewritten merged.
pub const COMPACT_EVERY: usize = 4096;

/// One thing to report.
#[derive(Debug, Clone)]
pub enum Record {
    Transfer(TransferReport),
    Upload(UploadReport),
    Bad(BadPiece),
}

/// One line of the file: the header (`acked`) or a record and its report
/// number.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Line {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    acked: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    transfer: Option<TransferReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    upload: Option<UploadReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bad: Option<BadPiece>,
}

impl Line {
    fn record(seq: u64, r: &Record) -> Line {
        let mut l = Line {
            seq: Some(seq),
            ..Line::default()
        };
        match r {
            Record::Transfer(t) => l.transfer = Some(t.clone()),
            Record::Upload(u) => l.upload = Some(u.clone()),
            Record::Bad(b) => l.bad = Some(b.clone()),
        }
        l
    }

    /// The record of a record line; `None` for the header or a line that
    /// is neither.
    fn into_record(self) -> Option<(u64, Record)> {
        let seq = self.seq?;
        let r = match (self.transfer, self.upload, self.bad) {
            (Some(t), None, None) => Record::Transfer(t),
            (None, Some(u), None) => Record::Upload(u),
            (None, None, Some(b)) => Record::Bad(b),
            _ => return None,
        };
        Some((seq, r))
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec(self).expect("a journal line serializes");
        v.push(b'\n');
        v
    }
}

/// One report: its number and its merged records.
#[derive(Debug, Clone)]
struct Batch {
    seq: u64,
    report: ReportRequest,
}

impl Batch {
    fn new(seq: u64) -> Batch {
        Batch {
            seq,
            report: ReportRequest::default(),
        }
    }

    fn is_empty(&self) -> bool {
        let r = &self.report;
        r.transfers.is_empty() && r.uploads.is_empty() && r.bad.is_empty()
    }

    /// Merges `rec` in, as the pending report always merged: transfers per
    /// content, tier, source and outcome; uploads per content; a bad piece
    /// once.
    fn merge(&mut self, rec: Record) {
        let r = &mut self.report;
        match rec {
            Record::Transfer(t) => match r.transfers.iter_mut().find(|x| {
                x.content_id == t.content_id
                    && x.tier == t.tier
                    && x.source_device == t.source_device
                    && x.ok == t.ok
            }) {
                Some(x) => {
                    x.bytes = x.bytes.saturating_add(t.bytes);
                    x.pieces = x.pieces.saturating_add(t.pieces);
                }
                None => r.transfers.push(t),
            },
            Record::Upload(u) => {
                match r.uploads.iter_mut().find(|x| x.content_id == u.content_id) {
                    Some(x) => {
                        x.bytes = x.bytes.saturating_add(u.bytes);
                        x.pieces = x.pieces.saturating_add(u.pieces);
                    }
                    None => r.uploads.push(u),
                }
            }
            Record::Bad(b) => {
                let seen = r.bad.iter().any(|x| {
                    x.content_id == b.content_id
                        && x.source_device == b.source_device
                        && x.piece == b.piece
                });
                if !seen {
                    r.bad.push(b);
                }
            }
        }
    }

    /// Its records as journal lines.
    fn lines(&self, out: &mut Vec<u8>) {
        let r = &self.report;
        let records = r
            .transfers
            .iter()
            .cloned()
            .map(Record::Transfer)
            .chain(r.uploads.iter().cloned().map(Record::Upload))
            .chain(r.bad.iter().cloned().map(Record::Bad));
        for rec in records {
            out.extend(Line::record(self.seq, &rec).to_bytes());
        }
    }
}

/// The journal and the reports it holds. Kept behind the agent's
/// `pending` lock.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    /// Open for appending; `None` after a write failed (the next record
    /// rewrites the whole file instead, so a torn line is never followed
    /// by records appended to it).
    file: Option<File>,
    /// The highest report number acknowledged.
    acked: u64,
    /// The report sent (or about to be): sent again, with the same number,
    /// until acknowledged.
    sent: Option<Batch>,
    /// The report new records join.
    open: Batch,
    /// Lines appended since the last rewrite.
    appended: usize,
    /// The last I/O problem, logged once.
    problem: Option<String>,
}

/// A fresh journal's first report number: now, in ms × 1000.
fn fresh_seq() -> u64 {
    (crate::domain::clock::now_ms().max(0) as u64).saturating_mul(1000)
}

impl Journal {
    /// Loads `path` (a missing file is a fresh journal), and rewrites it
    /// clean. Damaged lines are skipped with a warning. Fails only when the
    /// file cannot be read or written.
    pub fn open(path: PathBuf) -> std::io::Result<Journal> {
        let bytes = match std::fs::read(&path) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let (acked, records) = match &bytes {
            Some(b) => parse(&path, b),
            None => (None, Vec::new()),
        };
        let top = records
            .iter()
            .map(|(s, _)| *s)
            .chain(acked)
            .max()
            .unwrap_or(0);
        // No header: a new journal (or one whose header is lost): numbers
        // from the clock, above whatever the device used before.
        let next = match acked {
            Some(_) => top.saturating_add(1),
            None => top.saturating_add(1).max(fresh_seq()),
        };
        let acked = acked.unwrap_or(0);
        let mut batches: BTreeMap<u64, Batch> = BTreeMap::new();
        for (seq, r) in records.into_iter().filter(|(s, _)| *s > acked) {
            batches
                .entry(seq)
                .or_insert_with(|| Batch::new(seq))
                .merge(r);
        }
        // Only the oldest can have reached the server; the others were
        // never sent and join the open report.
        let mut rest = batches.into_values();
        let sent = rest.next();
        let mut open = Batch::new(next);
        for b in rest {
            for t in b.report.transfers {
                open.merge(Record::Transfer(t));
            }
            for u in b.report.uploads {
                open.merge(Record::Upload(u));
            }
            for x in b.report.bad {
                open.merge(Record::Bad(x));
            }
        }
        let mut j = Journal {
            path,
            file: None,
            acked,
            sent,
            open,
            appended: 0,
            problem: None,
        };
        j.rewrite()?;
        Ok(j)
    }

    /// Records `rec`: appended to the file, merged into the open report.
    pub fn add(&mut self, rec: Record) {
        let line = Line::record(self.open.seq, &rec).to_bytes();
        self.open.merge(rec);
        let written = match self.file.as_mut() {
            Some(f) => f.write_all(&line),
            // The last write failed: the whole file again, this record in it.
            None => return self.rewrite_or_warn(),
        };
        match written {
            Ok(()) => {
                self.appended += 1;
                if self.appended >= COMPACT_EVERY {
                    self.rewrite_or_warn();
                }
            }
            Err(e) => {
                self.file = None;
                self.warn(format!("cannot append to {}: {e}", self.path.display()));
            }
        }
    }

    /// The report to send now, with its number: the one sent before, until
    /// it is acknowledged (the same number and records), else the open one,
    /// closed (later records go into the next). `None`: nothing to report.
    pub fn next_report(&mut self) -> Option<ReportRequest> {
        if self.sent.is_none() && !self.open.is_empty() {
            let mut next = Batch::new(self.open.seq.saturating_add(1));
            // What the server takes in one report; the rest is the next
            // one, and the file says so before this one is sent.
            let r = &mut self.open.report;
            let split = [r.transfers.len(), r.uploads.len(), r.bad.len()]
                .iter()
                .any(|n| *n > MAX_ITEMS);
            if split {
                next.report.transfers = r.transfers.split_off(r.transfers.len().min(MAX_ITEMS));
                next.report.uploads = r.uploads.split_off(r.uploads.len().min(MAX_ITEMS));
                next.report.bad = r.bad.split_off(r.bad.len().min(MAX_ITEMS));
            }
            self.sent = Some(std::mem::replace(&mut self.open, next));
            if split {
                self.rewrite_or_warn();
            }
        }
        self.sent.as_ref().map(|b| ReportRequest {
            seq: b.seq,
            ..b.report.clone()
        })
    }

    /// The server acknowledged report `seq`: its records leave the journal.
    pub fn acked(&mut self, seq: u64) {
        if self.sent.as_ref().is_some_and(|b| b.seq == seq) {
            self.sent = None;
            self.acked = seq;
            self.rewrite_or_warn();
        }
    }

    /// True when nothing waits to be reported.
    pub fn is_empty(&self) -> bool {
        self.sent.is_none() && self.open.is_empty()
    }

    /// The file as memory has it: the header, then the sent report's and
    /// the open report's records, merged; written beside it and renamed
    /// over it, then opened for appending.
    fn rewrite(&mut self) -> std::io::Result<()> {
        let mut out = Line {
            acked: Some(self.acked),
            ..Line::default()
        }
        .to_bytes();
        if let Some(b) = &self.sent {
            b.lines(&mut out);
        }
        self.open.lines(&mut out);
        let tmp = self.path.with_extension("pending.tmp");
        // Closed first: a file open here cannot be replaced on every system.
        self.file = None;
        std::fs::write(&tmp, &out)?;
        std::fs::rename(&tmp, &self.path)?;
        self.file = Some(OpenOptions::new().append(true).open(&self.path)?);
        self.appended = 0;
        Ok(())
    }

    fn rewrite_or_warn(&mut self) {
        match self.rewrite() {
            Ok(()) => {
                if self.problem.take().is_some() {
                    tracing::info!("{} is written again", self.path.display());
                }
            }
            Err(e) => self.warn(format!("cannot rewrite {}: {e}", self.path.display())),
        }
    }

    /// Logs an I/O problem once (until it changes); the reports stay in
    /// memory and are sent as usual.
    fn warn(&mut self, msg: String) {
        if self.problem.as_deref() != Some(msg.as_str()) {
            tracing::warn!(
                "{msg}; reports are kept in memory, and a crash now would lose the unsent ones"
            );
            self.problem = Some(msg);
        }
    }
}

/// The header's number (the highest, if several) and every record line,
/// in file order. A damaged line is skipped with a warning.
fn parse(path: &Path, bytes: &[u8]) -> (Option<u64>, Vec<(u64, Record)>) {
    let mut acked: Option<u64> = None;
    let mut records = Vec::new();
    let torn_tail = !bytes.is_empty() && !bytes.ends_with(b"\n");
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    for (n, raw) in lines.iter().enumerate() {
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line: Option<Line> = serde_json::from_slice(raw).ok();
        match line {
            Some(Line { acked: Some(a), .. }) => acked = Some(acked.map_or(a, |x| x.max(a))),
            Some(l) => match l.into_record() {
                Some(r) => records.push(r),
                None => damaged(path, n, false),
            },
            None => damaged(path, n, torn_tail && n + 1 == lines.len()),
        }
    }
    (acked, records)
}

fn damaged(path: &Path, n: usize, torn: bool) {
    let why = if torn {
        "torn (the agent was stopped mid-write)"
    } else {
        "damaged"
    };
    tracing::warn!(
        "{} line {} is {why}; skipped (that record is not reported)",
        path.display(),
        n + 1
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ContentId;
    use crate::wire::proto::Tier;

    fn content(b: u8) -> ContentId {
        ContentId([b; 32])
    }

    fn piece(c: u8, tier: Tier, bytes: u64) -> Record {
        Record::Transfer(TransferReport {
            content_id: content(c),
            tier,
            source_device: None,
            bytes,
            pieces: 1,
            ok: true,
        })
    }

    fn bytes_of(r: &ReportRequest) -> u64 {
        r.transfers.iter().map(|t| t.bytes).sum()
    }

    /// Numbers grow across reopening, whether the last report was
    /// acknowledged or not, and the report that may have reached the server
    /// keeps its number and its records.
    #[test]
    fn numbers_are_monotonic_across_reopening() {
        let t0 = 1_700_000_000;
        crate::domain::clock::set_for_tests(Some(t0));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let mut j = Journal::open(path.clone()).unwrap();
        assert!(j.next_report().is_none(), "nothing to report yet");
        j.add(piece(1, Tier::Server, 10));
        let first = j.next_report().unwrap();
        assert_eq!(
            first.seq,
            t0 as u64 * 1_000_000,
            "a fresh journal: the clock"
        );
        j.acked(first.seq);
        j.add(piece(1, Tier::Server, 20));
        let second = j.next_report().unwrap();
        assert!(second.seq > first.seq);
        drop(j);
        // Not acknowledged: sent again after the restart, as it was.
        let mut j = Journal::open(path.clone()).unwrap();
        let again = j.next_report().unwrap();
        assert_eq!(again.seq, second.seq);
        assert_eq!(bytes_of(&again), 20);
        j.acked(again.seq);
        assert!(j.is_empty());
        drop(j);
        let mut j = Journal::open(path.clone()).unwrap();
        j.add(piece(1, Tier::Server, 5));
        let third = j.next_report().unwrap();
        assert!(third.seq > second.seq, "{} after {}", third.seq, second.seq);
        // A journal lost altogether, a second later, starts above what the
        // device used.
        drop(j);
        std::fs::remove_file(&path).unwrap();
        crate::domain::clock::set_for_tests(Some(t0 + 1));
        let mut j = Journal::open(path).unwrap();
        j.add(piece(1, Tier::Server, 5));
        assert!(j.next_report().unwrap().seq > third.seq);
        crate::domain::clock::set_for_tests(None);
    }

    /// An acknowledgement removes exactly the acknowledged report's records:
    /// what was recorded after it was sent stays, in memory and on disk.
    #[test]
    fn an_ack_removes_exactly_the_acked_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let mut j = Journal::open(path.clone()).unwrap();
        j.add(piece(1, Tier::Server, 100));
        j.add(piece(1, Tier::Server, 100));
        let sent = j.next_report().unwrap();
        assert_eq!(bytes_of(&sent), 200);
        assert_eq!(sent.transfers.len(), 1, "merged per content and tier");
        // Recorded while the report is on the wire.
        j.add(piece(1, Tier::Server, 7));
        j.add(piece(2, Tier::Parent, 9));
        // An answer for another number changes nothing.
        j.acked(sent.seq + 1);
        assert_eq!(j.next_report().unwrap().seq, sent.seq);
        j.acked(sent.seq);
        let next = j.next_report().unwrap();
        assert!(next.seq > sent.seq);
        assert_eq!(bytes_of(&next), 16);
        // The same after a restart: only the unacknowledged records.
        drop(j);
        let mut j = Journal::open(path).unwrap();
        let r = j.next_report().unwrap();
        assert_eq!((r.seq, bytes_of(&r)), (next.seq, 16));
    }

    /// A last line torn by a kill is skipped with a warning; the records
    /// before it load, and the journal is clean again (a record appended
    /// next is not glued to the torn one).
    #[test]
    fn a_torn_last_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let mut j = Journal::open(path.clone()).unwrap();
        j.add(piece(1, Tier::Server, 100));
        j.add(piece(1, Tier::Cdn, 50));
        drop(j);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"seq":5,"transfer":{"content_id":"01"#)
            .unwrap();
        drop(f);
        let mut j = Journal::open(path.clone()).unwrap();
        let r = j.next_report().unwrap();
        assert_eq!(bytes_of(&r), 150);
        j.add(piece(3, Tier::Server, 1));
        drop(j);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with('\n'), "{text}");
        assert!(
            text.lines()
                .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
            "{text}"
        );
        let mut j = Journal::open(path).unwrap();
        let r = j.next_report().unwrap();
        assert_eq!(bytes_of(&r), 150, "the sent report, unchanged");
        j.acked(r.seq);
        assert_eq!(bytes_of(&j.next_report().unwrap()), 1);
    }

    /// More distinct entries than one report may carry go in two reports,
    /// the split recorded before the first is sent (a restart sends the
    /// same first report).
    #[test]
    fn a_report_holds_at_most_what_the_server_takes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let mut j = Journal::open(path.clone()).unwrap();
        let n = MAX_ITEMS as u64 + 10;
        for k in 0..n {
            let mut c = [0u8; 32];
            c[..8].copy_from_slice(&k.to_le_bytes());
            j.add(Record::Upload(UploadReport {
                content_id: ContentId(c),
                pieces: 1,
                bytes: 1,
            }));
        }
        let first = j.next_report().unwrap();
        assert_eq!(first.uploads.len(), MAX_ITEMS);
        drop(j);
        let mut j = Journal::open(path).unwrap();
        let again = j.next_report().unwrap();
        assert_eq!((again.seq, again.uploads.len()), (first.seq, MAX_ITEMS));
        j.acked(again.seq);
        let rest = j.next_report().unwrap();
        assert!(rest.seq > first.seq);
        assert_eq!(rest.uploads.len(), 10);
    }

    /// Appends are merged when the file is rewritten, so a long outage
    /// keeps the file small; nothing is lost in the merge.
    #[test]
    fn the_file_stays_bounded_while_nothing_is_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let mut j = Journal::open(path.clone()).unwrap();
        let n = 3 * COMPACT_EVERY as u64 + 5;
        for _ in 0..n {
            j.add(piece(1, Tier::Server, 1));
        }
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        assert!(lines <= COMPACT_EVERY + 2, "{lines} lines");
        drop(j);
        let mut j = Journal::open(path).unwrap();
        let r = j.next_report().unwrap();
        assert_eq!((bytes_of(&r), r.transfers[0].pieces as u64), (n, n));
    }
}

//! The distribution report: per content and office, where the bytes came
//! from (LAN peers, parent office, server, CDN), how many WAN copies
//! entered the office, and how many targeted devices are done.

use std::collections::HashMap;

use serde::Serialize;

use crate::store::{Store, StoreError};

#[derive(Debug, Clone, Serialize)]
pub struct OfficeReport {
    /// Office name, or "(no office)".
    pub office: String,
    pub parent: Option<String>,
    pub kind: String,
    pub leader: Option<String>,
    pub devices_targeted: u32,
    pub devices_done: u32,
    /// Targeted devices that report they are stuck on this content.
    pub devices_stuck: u32,
    pub bytes_lan: u64,
    pub bytes_parent: u64,
    pub bytes_server: u64,
    pub bytes_cdn: u64,
    /// Bytes received that failed verification.
    pub bytes_failed: u64,
    /// Bytes that entered the office from outside ÷ package size.
    pub wan_copies: f64,
    /// Seconds, to 0.1 s, from the office's first request for the content
    /// (the first manifest request of any of its devices) to its last
    /// device done (delivered the verified file); `None` until all are done.
    pub seconds: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContentReport {
    pub content_id: String,
    pub name: String,
    pub version: String,
    pub size: u64,
    pub offices: Vec<OfficeReport>,
    /// Devices stuck on this content, and why (see `agent` docs).
    pub stuck: Vec<StuckDevice>,
}

/// A device that reports it cannot make progress on a content.
#[derive(Debug, Clone, Serialize)]
pub struct StuckDevice {
    pub device_id: String,
    pub hostname: String,
    pub office: Option<String>,
    pub reason: String,
    /// Unix seconds since it has been stuck for this reason.
    pub since: i64,
}

/// First request to last done, to 0.1 s, over an office's progress rows.
/// Rows from before schema version 2 have whole seconds only; those are
/// used as they are rather than dropped.
fn office_seconds(rows: &[&crate::store::distribution::ProgressRow]) -> Option<f64> {
    let start = rows
        .iter()
        .map(|p| p.started_ms.unwrap_or(p.started_at * 1000))
        .min()?;
    let end = rows
        .iter()
        .filter_map(|p| p.done_ms.or(p.done_at.map(|s| s * 1000)))
        .max()?;
    Some(((end - start).max(0) as f64 / 100.0).round() / 10.0)
}

/// Builds the report for one content.
pub fn content_report(st: &Store, content_id: &str) -> Result<Option<ContentReport>, StoreError> {
    let Some(m) = st.manifest(content_id)? else {
        return Ok(None);
    };
    let targeted = st.targeted_devices(content_id)?;
    let progress: HashMap<String, crate::store::distribution::ProgressRow> = st
        .progress(content_id)?
        .into_iter()
        .map(|p| (p.device_id.clone(), p))
        .collect();
    let bytes: HashMap<Option<i64>, crate::store::distribution::TierBytes> =
        st.tier_bytes(content_id)?.into_iter().collect();
    let leaders: HashMap<i64, String> = st.leaders(content_id)?.into_iter().collect();
    let hostnames: HashMap<String, String> = st
        .devices()?
        .into_iter()
        .map(|d| {
            (
                d.id.clone(),
                format!("{} ({})", d.addr, &d.id[..8.min(d.id.len())]),
            )
        })
        .collect();

    let stuck_rows: Vec<_> = st
        .stuck()?
        .into_iter()
        .filter(|s| s.content_id == content_id)
        .collect();
    let mut offices: Vec<Option<i64>> = targeted.iter().map(|d| d.office_id).collect();
    offices.extend(bytes.keys().copied());
    offices.sort();
    offices.dedup();
    let mut out = Vec::new();
    for o in offices {
        let info = match o {
            Some(id) => st.office(id)?,
            None => None,
        };
        let parent = match info.as_ref().and_then(|i| i.parent_id) {
            Some(p) => st.office(p)?.map(|p| p.name),
            None => None,
        };
        let members: Vec<_> = targeted.iter().filter(|d| d.office_id == o).collect();
        let rows: Vec<_> = members.iter().filter_map(|d| progress.get(&d.id)).collect();
        let done = rows.iter().filter(|p| p.done_at.is_some()).count() as u32;
        let stuck = members
            .iter()
            .filter(|d| stuck_rows.iter().any(|s| s.device_id == d.id))
            .count() as u32;
        let seconds = if done as usize == members.len() && !rows.is_empty() {
            office_seconds(&rows)
        } else {
            None
        };
        let b = bytes.get(&o).cloned().unwrap_or_default();
        let outside = b.parent + b.server + b.cdn;
        out.push(OfficeReport {
            office: info
                .as_ref()
                .map(|i| i.name.clone())
                .unwrap_or_else(|| "(no office)".into()),
            parent,
            kind: info
                .as_ref()
                .map(|i| i.kind.to_string())
                .unwrap_or_else(|| "-".into()),
            leader: o
                .and_then(|id| leaders.get(&id))
                .map(|l| hostnames.get(l).cloned().unwrap_or_else(|| l.clone())),
            devices_targeted: members.len() as u32,
            devices_done: done,
            devices_stuck: stuck,
            bytes_lan: b.lan,
            bytes_parent: b.parent,
            bytes_server: b.server,
            bytes_cdn: b.cdn,
            bytes_failed: b.failed,
            wan_copies: if m.size == 0 {
                0.0
            } else {
                outside as f64 / m.size as f64
            },
            seconds,
        });
    }
    Ok(Some(ContentReport {
        content_id: m.id.to_string(),
        name: m.name,
        version: m.version,
        size: m.size,
        offices: out,
        stuck: stuck_rows
            .into_iter()
            .map(|s| {
                let d = targeted.iter().find(|d| d.id == s.device_id);
                StuckDevice {
                    hostname: d.map(|d| d.hostname.clone()).unwrap_or_default(),
                    office: d
                        .and_then(|d| d.office_id)
                        .and_then(|o| st.office(o).ok().flatten())
                        .map(|o| o.name),
                    device_id: s.device_id,
                    reason: s.reason,
                    since: s.since,
                }
            })
            .collect(),
    }))
}

/// A device clock this far from the server's (seconds) is reported by
/// `health`. Agents sign with server time, so peers still accept each
/// other, but logs and schedules on that device are off.
pub const CLOCK_WARN_SECS: i64 = 60;

/// Devices whose clock is more than [`CLOCK_WARN_SECS`] off the server's,
/// as one line for `health` (None when there are none).
pub fn far_clocks(st: &Store) -> Result<Option<String>, StoreError> {
    let far = st.clock_offsets_over(CLOCK_WARN_SECS)?;
    if far.is_empty() {
        return Ok(None);
    }
    let names: Vec<String> = far
        .iter()
        .take(5)
        .map(|(id, host, off)| {
            // The offset is server minus device: a positive one means the
            // device is behind.
            format!("{host} ({}) {:+} s", &id[..id.len().min(8)], -off)
        })
        .collect();
    let more = far.len().saturating_sub(names.len());
    Ok(Some(format!(
        "{} device{} with a clock more than {CLOCK_WARN_SECS} s off the server's: {}{}",
        far.len(),
        if far.len() == 1 { "" } else { "s" },
        names.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    )))
}

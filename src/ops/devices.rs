//! The admin's view of devices: the list with each one's office, state
//! and preferred-device score, finding the device an admin names, and
//! retiring one. `p2pd devices` prints and parses; the dashboard shares
//! the state and score through [`crate::server::liveness`].

use crate::domain::clock::now;
use crate::server::liveness::{DeviceState, Timing, score};
use crate::store::devices::DeviceRow;
use crate::store::ops::ListedDevice;
use crate::store::{Store, StoreError};

/// Characters of a device id shown in tables and messages.
pub const SHORT_ID: usize = 8;

/// The first [`SHORT_ID`] characters of a device id.
pub fn short(id: &str) -> &str {
    &id[..SHORT_ID.min(id.len())]
}

/// Why a device command changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("no device '{0}'; `p2pd devices list` shows the ids")]
    NoSuchDevice(String),
    #[error("'{id}' names {} devices ({}); give more of the id (`p2pd devices list --wide`)", .matches.len(), .matches.join(", "))]
    Ambiguous { id: String, matches: Vec<String> },
    #[error(
        "{hostname} ({id}) is online (last seen {last_seen}); stop its agent first, or give --force \
         (its agent is refused from then on, and stops)"
    )]
    Online {
        hostname: String,
        id: String,
        /// When, as shown to people.
        last_seen: String,
    },
    #[error("no retired device '{0}'; `p2pd devices readmit` with no id lists the retired ones")]
    NotRetired(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DeviceError {
    /// A mistake in what was asked, as opposed to a failure.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            DeviceError::NoSuchDevice(_)
                | DeviceError::Ambiguous { .. }
                | DeviceError::NotRetired(_)
        )
    }
}

/// One device as `devices list --json` prints it.
#[derive(Debug, serde::Serialize)]
pub struct DeviceView {
    #[serde(flatten)]
    pub device: ListedDevice,
    /// Unix seconds of the last accepted request.
    pub last_seen: i64,
    /// The score the scheduler ranks leaders by (higher leads first).
    pub score: f64,
    /// The admin's say: normal, preferred or excluded.
    pub preference: &'static str,
    /// online, offline, banned, stuck or stale key.
    pub state: &'static str,
    pub license: bool,
    /// Contents the device reports it cannot make progress on.
    pub stuck: Vec<StuckView>,
    /// Set when the device's latest requests were refused for an old key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_key: Option<StaleKeyView>,
    /// Set when its peers cannot reach it (`peers`: two of them failed to
    /// connect; `probe`: the server's own check failed), in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreachable: Option<String>,
}

#[derive(Debug, serde::Serialize)]
pub struct StuckView {
    pub content_id: String,
    pub reason: String,
    pub since: i64,
}

#[derive(Debug, serde::Serialize)]
pub struct StaleKeyView {
    /// The fingerprint its refused requests were signed with.
    pub fingerprint: String,
    pub refused: i64,
    pub last_refused_at: i64,
}

/// The one device `id` names: a full id, a unique id prefix, or a unique
/// hostname.
pub fn resolve(st: &Store, id: &str) -> Result<DeviceRow, DeviceError> {
    let all = st.devices()?;
    if let Some(d) = all.iter().find(|d| d.id == id) {
        return Ok(d.clone());
    }
    let mut hits: Vec<&DeviceRow> = all.iter().filter(|d| d.id.starts_with(id)).collect();
    if hits.is_empty() {
        hits = all.iter().filter(|d| d.hostname == id).collect();
    }
    match hits.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(DeviceError::NoSuchDevice(id.to_string())),
        many => Err(DeviceError::Ambiguous {
            id: id.to_string(),
            matches: many
                .iter()
                .map(|d| format!("{} {}", d.hostname, short(&d.id)))
                .collect(),
        }),
    }
}

/// Retires the device `id` names (releasing its license), unless it is
/// online and not `force`d; `show_time` renders its last-seen time for the
/// refusal.
pub fn retire(
    st: &mut Store,
    id: &str,
    force: bool,
    show_time: impl Fn(i64) -> String,
) -> Result<DeviceRow, DeviceError> {
    let d = resolve(st, id)?;
    if !force && Timing::load(st)?.online(d.last_seen, now()) {
        return Err(DeviceError::Online {
            hostname: d.hostname,
            id: d.id,
            last_seen: show_time(d.last_seen),
        });
    }
    st.retire_device(&d.id)?;
    Ok(d)
}

/// Lets the retired device `id` names (its id, a unique prefix of one, or
/// its unique hostname) enroll again; returns its (id, hostname).
pub fn readmit(st: &mut Store, id: &str) -> Result<(String, String), DeviceError> {
    let retired = st.retired_devices()?;
    let exact: Vec<_> = retired.iter().filter(|(d, _, _)| d == id).collect();
    let matches: Vec<_> = if exact.is_empty() {
        retired
            .iter()
            .filter(|(d, h, _)| d.starts_with(id) || h == id)
            .collect()
    } else {
        exact
    };
    match matches.as_slice() {
        [(d, h, _)] => {
            st.readmit_device(d)?;
            Ok((d.clone(), h.clone()))
        }
        [] => Err(DeviceError::NotRetired(id.to_string())),
        many => Err(DeviceError::Ambiguous {
            id: id.to_string(),
            matches: many
                .iter()
                .map(|(d, h, _)| format!("{h} {}", short(d)))
                .collect(),
        }),
    }
}

/// Every enrolled device with its office, state and score.
pub fn list(st: &Store) -> Result<Vec<DeviceView>, StoreError> {
    let timing = Timing::load(st)?;
    let t = now();
    let offices = st.office_names()?;
    let banned = st.banned_anywhere()?;
    let mut stuck: std::collections::HashMap<String, Vec<StuckView>> = Default::default();
    for s in st.stuck()? {
        stuck.entry(s.device_id).or_default().push(StuckView {
            content_id: s.content_id,
            reason: s.reason,
            since: s.since,
        });
    }
    let mut stale: std::collections::HashMap<String, StaleKeyView> = st
        .stale_key_devices()?
        .into_iter()
        .map(|k| {
            (
                k.device_id,
                StaleKeyView {
                    fingerprint: k.fingerprint,
                    refused: k.count,
                    last_refused_at: k.last_at,
                },
            )
        })
        .collect();
    Ok(st
        .devices()?
        .into_iter()
        .map(|d| {
            let stuck = stuck.remove(&d.id).unwrap_or_default();
            let stale_key = stale.remove(&d.id);
            let online = timing.online(d.last_seen, t);
            DeviceView {
                state: DeviceState::of(
                    stale_key.is_some(),
                    online,
                    banned.contains(&d.id),
                    !stuck.is_empty(),
                )
                .as_str(),
                score: (score(&d, &timing, t) * 10.0).round() / 10.0,
                preference: d.preference.as_str(),
                last_seen: d.last_seen,
                license: d.license_activated_at.is_some(),
                device: ListedDevice {
                    office: d.office_id.and_then(|o| offices.get(&o).cloned()),
                    device_id: d.id,
                    hostname: d.hostname,
                    address: d.addr,
                    group: d.group_name,
                    version: d.version,
                },
                stuck,
                stale_key,
                unreachable: d.unreachable_at.map(|_| {
                    crate::server::decisions::unreachable_words(d.unreachable_why.as_deref())
                        .to_string()
                }),
            }
        })
        .collect())
}

/// The list as CSV for spreadsheets: a header row, one row per device,
/// every cell neutralised against formula injection. `show_time` renders
/// the last-seen time.
pub fn write_csv(
    out: &mut dyn std::io::Write,
    views: &[DeviceView],
    show_time: impl Fn(i64) -> String,
) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "hostname",
        "address",
        "office",
        "group",
        "version",
        "last_seen",
        "score",
        "state",
        "device_id",
        "preference",
    ])?;
    for v in views {
        w.write_record(
            [
                v.device.hostname.as_str(),
                &v.device.address,
                v.device.office.as_deref().unwrap_or(""),
                &v.device.group,
                &v.device.version,
                &show_time(v.last_seen),
                &format!("{:.1}", v.score),
                v.state,
                &v.device.device_id,
                v.preference,
            ]
            .map(|c| crate::domain::cells::neutralise(c).into_owned()),
        )?;
    }
    w.flush()?;
    Ok(())
}

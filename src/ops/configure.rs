//! Changing the server's settings: one setting checked on its own and
//! against the others, stored, and what follows from it (devices re-placed
//! when distribution optimization flips), all in one transaction.

use serde::Serialize;

use crate::domain::settings::{self, Setting, SettingError};
use crate::store::{Store, StoreError};
use crate::topology::{self, Toggled, TopologyError};

/// Why a setting was not changed. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// Unknown name or invalid value (names the valid ones).
    #[error(transparent)]
    Setting(#[from] SettingError),
    #[error(
        "min_client_version {lo} would be above max_client_version {hi}; set the other bound first"
    )]
    VersionRange { lo: String, hi: String },
    #[error(transparent)]
    Topology(#[from] TopologyError),
}

impl ChangeError {
    /// A mistake in what was asked (as opposed to a database failure).
    pub fn is_usage(&self) -> bool {
        !matches!(self, ChangeError::Topology(_))
    }
}

impl From<StoreError> for ChangeError {
    fn from(e: StoreError) -> Self {
        ChangeError::Topology(e.into())
    }
}

impl From<crate::store::DbError> for ChangeError {
    fn from(e: crate::store::DbError) -> Self {
        ChangeError::Topology(e.into())
    }
}

/// One setting as stored (or its default).
#[derive(Debug, Serialize)]
pub struct SettingRow {
    pub name: &'static str,
    pub value: String,
    pub description: &'static str,
    /// The setting itself, for typed JSON values.
    #[serde(skip)]
    pub setting: Setting,
}

/// Every setting with its stored value (or default).
pub fn rows(st: &Store) -> Result<Vec<SettingRow>, StoreError> {
    settings::ALL
        .iter()
        .map(|s| {
            Ok(SettingRow {
                name: s.name(),
                value: st.setting(s.name())?.unwrap_or_else(|| s.default_value()),
                description: s.describe(),
                setting: *s,
            })
        })
        .collect()
}

/// A setting changed.
#[derive(Debug)]
pub struct Changed {
    pub setting: Setting,
    /// The value stored (normalised by validation).
    pub value: String,
    /// The value before.
    pub was: String,
    /// When distribution optimization was set: the devices re-placed.
    pub toggled: Option<Toggled>,
}

/// Sets `name` to `value`: validated, checked against the other settings,
/// and stored together with what it causes, in one transaction. A
/// `file_storage` directory must exist unless `allow_missing_storage`.
pub fn change(
    st: &mut Store,
    name: &str,
    value: &str,
    allow_missing_storage: bool,
) -> Result<Changed, ChangeError> {
    let s: Setting = name.parse()?;
    let v = s.validate(value)?;
    if !allow_missing_storage {
        s.check_exists(&v)?;
    }
    st.atomically(|st| {
        check_version_range(st, s, &v)?;
        let was = st.setting(s.name())?.unwrap_or_else(|| s.default_value());
        // Offices depend on this setting: the auto offices and every
        // device follow at once.
        let toggled = if s == Setting::DistributionOptimization {
            Some(topology::set_optimization_in(st, v == "on")?)
        } else {
            st.set_setting(s.name(), &v)?;
            None
        };
        Ok(Changed {
            setting: s,
            value: v.clone(),
            was,
            toggled,
        })
    })
}

/// min_client_version must not exceed max_client_version.
fn check_version_range(st: &Store, s: Setting, v: &str) -> Result<(), ChangeError> {
    let other = match s {
        Setting::MinClientVersion => Setting::MaxClientVersion,
        Setting::MaxClientVersion => Setting::MinClientVersion,
        _ => return Ok(()),
    };
    let o = st
        .setting(other.name())?
        .unwrap_or_else(|| other.default_value());
    let (lo, hi) = if s == Setting::MinClientVersion {
        (v, o.as_str())
    } else {
        (o.as_str(), v)
    };
    if settings::parse_version(lo) > settings::parse_version(hi) {
        return Err(ChangeError::VersionRange {
            lo: lo.to_string(),
            hi: hi.to_string(),
        });
    }
    Ok(())
}

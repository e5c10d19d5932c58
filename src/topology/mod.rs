//! Offices, their IP ranges and parents; which office each device is in.
//!
//! May use: domain store
//!
//! Two modes, chosen by the `distribution_optimization` setting:
//!
//! - **on**: the offices are the admin's imported topology ([`import`]). A
//!   device is in the office whose range holds its address, or in none (a
//!   *no-office client*: no peer or server downloads, only CDN/file storage).
//! - **off**: every client subnet (the device's reported prefix, /24 or /64
//!   by default) gets an *auto office* named `auto 10.1.2.0/24`, a child of
//!   the Central Office, created on first sight.
//!
//! [`Lookup`] is the in-memory index the server asks; [`place_device`]
//! decides one device, [`replace_devices_in`] re-decides all of them after an
//! import or a toggle of the setting.

use std::net::IpAddr;

use crate::domain::OfficeKind;
use crate::domain::settings::Setting;
use crate::store::topology::NewOffice;
use crate::store::{Store, StoreError};

pub mod export;
pub mod import;
pub mod locate;
pub mod lookup;
pub mod names;
pub mod placing;
pub mod range;

pub use import::{ImportError, ImportErrorKind};
pub use lookup::{Hit, Index, RangeEntry};

/// Name of the root office created when optimization is off and no root
/// exists yet.
pub const CENTRAL_OFFICE: &str = "Central Office";

/// Prefix of auto office names: `auto 10.1.2.0/24`.
pub const AUTO_PREFIX: &str = "auto ";

#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing CSV into memory failed (it cannot, short of a bug in csv).
    #[error("cannot write the topology as CSV: {0}")]
    Csv(#[from] csv::Error),
    /// An office name that [`names::check`] refuses.
    #[error("office name '{}' is refused: {problem}", names::shown(.name))]
    BadName {
        name: String,
        problem: names::NameProblem,
    },
}

impl From<crate::store::DbError> for TopologyError {
    fn from(e: crate::store::DbError) -> Self {
        TopologyError::Store(StoreError::Query(e))
    }
}

/// Whether distribution optimization is on (stored setting or its default).
pub fn optimization_on(store: &Store) -> Result<bool, StoreError> {
    let s = Setting::DistributionOptimization;
    Ok(store
        .setting(s.name())?
        .unwrap_or_else(|| s.default_value())
        == "on")
}

/// In-memory index of all offices' ranges, loaded once and asked per
/// address.
///
/// With optimization on it holds the imported offices' ranges; with it off
/// only the auto offices' (so an address maps to its subnet's auto office,
/// if that exists yet). Reload it after an import or a toggle.
#[derive(Debug, Clone)]
pub struct Lookup {
    /// The interval index.
    index: Index,
    /// The mode at load time; decides what [`place_device`] does.
    optimization: bool,
}

impl Lookup {
    pub fn load(store: &Store) -> Result<Lookup, TopologyError> {
        let optimization = optimization_on(store)?;
        let entries = store
            .office_ranges()?
            .into_iter()
            // Each mode sees only its own offices' ranges: an auto office
            // never decides a placement while optimization is on.
            .filter(|r| (r.source == "auto") != optimization)
            .map(|r| RangeEntry {
                office_id: r.office_id,
                spec: r.spec,
            })
            .collect();
        Ok(Lookup {
            index: Index::build(entries),
            optimization,
        })
    }

    /// A lookup over `index` (tests, benchmarks).
    pub fn from_index(index: Index, optimization: bool) -> Lookup {
        Lookup {
            index,
            optimization,
        }
    }

    /// The office whose range holds `ip`; `None` = in no range.
    #[inline]
    pub fn locate(&self, ip: IpAddr) -> Option<i64> {
        self.index.locate(ip)
    }

    /// The range that holds `ip`, or its neighbours, for `topology locate`.
    pub fn hit(&self, ip: IpAddr) -> Hit<'_> {
        self.index.hit(ip)
    }

    /// Whether distribution optimization was on when this was loaded.
    pub fn optimization(&self) -> bool {
        self.optimization
    }

    /// Number of disjoint segments in the index.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

/// The name of the auto office for a device: `auto 10.1.2.0/24`.
pub fn auto_office_name(addr: IpAddr, prefix_len: u8) -> String {
    format!(
        "{AUTO_PREFIX}{}",
        range::subnet_name(addr, range::auto_prefix(addr, prefix_len))
    )
}

/// Places one device (by its reported address and prefix length): with
/// optimization on → the office whose range holds it, or `None`
/// (no-office); with optimization off → its auto office (created on first
/// sight, a child of the Central Office). Returns the office id.
///
/// The mode is the one `lookup` was loaded with.
pub fn place_device(
    store: &Store,
    lookup: &Lookup,
    addr: IpAddr,
    prefix_len: u8,
) -> Result<Option<i64>, TopologyError> {
    let addr = range::canonical(addr);
    if lookup.optimization {
        return Ok(lookup.locate(addr));
    }
    let name = auto_office_name(addr, prefix_len);
    // Made from an address, so always a good name; checked all the same,
    // like every office name.
    if let Err(problem) = names::check(&name) {
        return Err(TopologyError::BadName { name, problem });
    }
    if let Some(o) = store.office_by_name(&name)? {
        return Ok(Some(o.id));
    }
    let root = match store.root_office()? {
        Some(r) => r.id,
        None => store.create_office(
            &NewOffice {
                name: CENTRAL_OFFICE.into(),
                parent: None,
                kind: OfficeKind::Default,
                wan_kbps: None,
                description: "created for auto offices".into(),
                source: "auto".into(),
                ranges: Vec::new(),
            },
            None,
        )?,
    };
    let subnet = range::subnet_name(addr, range::auto_prefix(addr, prefix_len));
    let id = store.create_office(
        &NewOffice {
            name,
            parent: Some(String::new()),
            kind: OfficeKind::Default,
            wan_kbps: None,
            description: String::new(),
            source: "auto".into(),
            ranges: vec![subnet],
        },
        Some(root),
    )?;
    tracing::info!(office = id, "created auto office");
    Ok(Some(id))
}

/// Re-places every known device (after an import or an optimization
/// toggle), inside a transaction the caller holds. Returns how many moved.
pub fn replace_devices_in(store: &Store) -> Result<usize, TopologyError> {
    let lookup = Lookup::load(store)?;
    let mut moved = 0;
    for d in store.device_placements()? {
        // A device whose stored address does not parse (never written by
        // enrollment, which parses it) is left in no office.
        let office = match d.addr.trim().parse::<IpAddr>() {
            Ok(addr) => {
                let prefix = u8::try_from(d.prefix_len).unwrap_or(0);
                place_device(store, &lookup, addr, prefix)?
            }
            Err(_) => {
                tracing::warn!(device = %d.id, addr = %d.addr, "device address is not an IP address");
                None
            }
        };
        if office != d.office_id {
            store.set_device_office(&d.id, office)?;
            moved += 1;
        }
    }
    Ok(moved)
}

/// What turning distribution optimization on or off did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Toggled {
    /// Devices whose office changed.
    pub moved: usize,
    /// Auto offices deleted (turning optimization on).
    pub auto_offices_removed: usize,
}

/// Sets `distribution_optimization` and makes the offices follow, all in
/// one transaction: turned on, the auto offices (one per client subnet) are
/// deleted and every device is placed by the imported ranges; turned off,
/// every device goes to its subnet's auto office (created on first sight).
///
/// Auto offices exist only while optimization is off. Left behind, their
/// subnets would overlap the imported ranges, so an export would no longer
/// import (design note `real-site`).
pub fn set_optimization(store: &mut Store, on: bool) -> Result<Toggled, TopologyError> {
    store.atomically(|st| set_optimization_in(st, on))
}

/// [`set_optimization`] inside the caller's transaction.
pub fn set_optimization_in(st: &Store, on: bool) -> Result<Toggled, TopologyError> {
    {
        st.set_setting(
            Setting::DistributionOptimization.name(),
            if on { "on" } else { "off" },
        )?;
        // Deleting an office unplaces its devices, so "moved" is counted
        // against where each device was before, not after the delete.
        let before: std::collections::HashMap<String, Option<i64>> = st
            .device_placements()?
            .into_iter()
            .map(|d| (d.id, d.office_id))
            .collect();
        let auto_offices_removed = if on { st.delete_auto_offices()? } else { 0 };
        replace_devices_in(st)?;
        let moved = st
            .device_placements()?
            .iter()
            .filter(|d| before.get(&d.id) != Some(&d.office_id))
            .count();
        Ok(Toggled {
            moved,
            auto_offices_removed,
        })
    }
}

/// The CSV dialect export writes by default: the one of the last imported
/// CSV file, else plain.
pub fn remembered_dialect(store: &Store) -> Result<export::Dialect, StoreError> {
    Ok(store
        .setting(export::DIALECT_KEY)?
        .and_then(|v| export::Dialect::from_setting(&v))
        .unwrap_or_default())
}

/// Checks the recorded topology with the importer's own rules, by
/// importing what `topology export` would write (without writing
/// anything). Every problem found is one an admin would hit on export →
/// import, so `health` and the importer can never disagree. No offices at
/// all is not a problem here.
pub fn check_recorded(store: &Store) -> Result<Vec<ImportError>, TopologyError> {
    let rec = export::recorded(store)?;
    if rec.offices.is_empty() {
        return Ok(Vec::new());
    }
    let bytes = export::to_csv(&rec, export::Dialect::PLAIN)?;
    Ok(
        match import::parse(std::path::Path::new("export.csv"), &bytes, None) {
            Ok(_) => Vec::new(),
            Err(errors) => errors,
        },
    )
}

/// Writes an imported topology: replaces every office (auto offices go:
/// they exist only while optimization is off), turns distribution
/// optimization on, remembers the file's CSV dialect for export and
/// re-places every device, all in one transaction.
/// Returns how many devices moved.
///
/// The write lock is held as briefly as possible (design note `fleet-scale`: serve's writes
/// wait while it is held): what changes ([`Store::diff_topology`]) and the
/// range index of the new offices are worked out before the transaction,
/// by reading only; the transaction writes only the offices, parents and
/// ranges that change, and places the devices with the prepared index.
/// Should another admin command change the topology in between, the diff
/// is made again inside the transaction. Linear in offices, ranges and
/// devices.
pub fn apply_import(store: &mut Store, parsed: &import::Parsed) -> Result<usize, TopologyError> {
    let diff = store.diff_topology(&parsed.offices)?;
    // Ranges by the office's index in the file: new offices have no id yet.
    let index = Index::build(
        parsed
            .offices
            .iter()
            .enumerate()
            .filter(|(_, o)| o.source != "auto")
            .flat_map(|(i, o)| {
                o.ranges.iter().map(move |spec| RangeEntry {
                    office_id: i as i64,
                    spec: spec.clone(),
                })
            })
            .collect(),
    );
    store.atomically(|st| {
        let ids = match st.apply_topology(&parsed.offices, &diff)? {
            Some(ids) => ids,
            None => st.replace_topology(&parsed.offices)?,
        };
        st.set_setting(Setting::DistributionOptimization.name(), "on")?;
        if let Some(d) = parsed.dialect {
            st.set_setting(export::DIALECT_KEY, &d.to_setting())?;
        }
        let mut moved = 0;
        for d in st.device_placements()? {
            let office = match d.addr.trim().parse::<IpAddr>() {
                Ok(addr) => index
                    .locate(range::canonical(addr))
                    .and_then(|i| ids.get(i as usize).copied()),
                Err(_) => None,
            };
            if office != d.office_id {
                st.set_device_office(&d.id, office)?;
                moved += 1;
            }
        }
        Ok(moved)
    })
}

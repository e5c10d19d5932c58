//! `topology locate`: which office an address falls in, and why (the
//! range that holds it, or the nearest ranges around a gap).

use std::collections::HashMap;
use std::net::IpAddr;

use serde::Serialize;

use super::{Hit, Lookup, RangeEntry, TopologyError, range};
use crate::store::Store;

/// One address located.
#[derive(Debug, Serialize)]
pub struct Located {
    pub address: String,
    pub office: Option<String>,
    pub office_id: Option<i64>,
    pub range: Option<String>,
    pub reason: String,
}

/// Locates each (address as given, parsed address).
pub fn locate(st: &Store, addrs: &[(String, IpAddr)]) -> Result<Vec<Located>, TopologyError> {
    let lookup = Lookup::load(st)?;
    let names: HashMap<i64, String> = st.offices()?.into_iter().map(|o| (o.id, o.name)).collect();
    let name = |id: i64| names.get(&id).cloned().unwrap_or_else(|| format!("#{id}"));
    let mut rows = Vec::with_capacity(addrs.len());
    for (s, ip) in addrs {
        let ip = *ip;
        let row = match lookup.hit(ip) {
            Hit::In(e) => Located {
                address: s.trim().to_string(),
                office: Some(name(e.office_id)),
                office_id: Some(e.office_id),
                range: Some(e.spec.clone()),
                reason: if lookup.optimization() {
                    format!("in range {}", e.spec)
                } else {
                    format!(
                        "in auto office subnet {} (distribution_optimization off)",
                        e.spec
                    )
                },
            },
            Hit::Gap { below, above } => {
                let reason = if lookup.optimization() {
                    let side = |e: Option<&RangeEntry>| {
                        e.map(|e| format!("{} of '{}'", e.spec, name(e.office_id)))
                    };
                    let near = match (side(below), side(above)) {
                        (Some(b), Some(a)) => format!(" (it falls between {b} and {a})"),
                        (Some(b), None) => format!(" (the nearest range below is {b})"),
                        (None, Some(a)) => format!(" (the nearest range above is {a})"),
                        (None, None) => String::new(),
                    };
                    format!(
                        "no office: no office's range holds it{near}; add it to an office's ranges and re-import"
                    )
                } else {
                    let subnet = range::subnet_name(ip, range::auto_prefix(ip, 0));
                    format!(
                        "no office yet: distribution_optimization is off and subnet {subnet} has no auto office; one is created when a device there enrolls"
                    )
                };
                Located {
                    address: s.trim().to_string(),
                    office: None,
                    office_id: None,
                    range: None,
                    reason,
                }
            }
        };
        rows.push(row);
    }
    Ok(rows)
}

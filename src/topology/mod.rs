//! Topology (temporary minimal version; the full module replaces it):
//! office lookup by address and device placement.

use std::net::IpAddr;

use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct Lookup {
    ranges: Vec<(u128, u128, bool, i64)>,
}

fn key(ip: IpAddr) -> (u128, bool) {
    match ip {
        IpAddr::V4(a) => (u32::from(a) as u128, false),
        IpAddr::V6(a) => (u128::from(a), true),
    }
}

impl Lookup {
    pub fn load(store: &Store) -> Result<Lookup, TopologyError> {
        let mut ranges = Vec::new();
        for (office, spec) in store.all_ranges()? {
            if let Ok(net) = spec.parse::<ipnetwork::IpNetwork>() {
                let (a, v6) = key(net.network());
                let (b, _) = key(net.broadcast_or_last());
                ranges.push((a, b, v6, office));
            }
        }
        Ok(Lookup { ranges })
    }

    pub fn locate(&self, ip: IpAddr) -> Option<i64> {
        let (k, v6) = key(ip);
        self.ranges
            .iter()
            .find(|(a, b, v, _)| *v == v6 && *a <= k && k <= *b)
            .map(|r| r.3)
    }
}

trait Last {
    fn broadcast_or_last(&self) -> IpAddr;
}
impl Last for ipnetwork::IpNetwork {
    fn broadcast_or_last(&self) -> IpAddr {
        match self {
            ipnetwork::IpNetwork::V4(n) => IpAddr::V4(n.broadcast()),
            ipnetwork::IpNetwork::V6(n) => IpAddr::V6(n.broadcast()),
        }
    }
}

pub fn place_device(
    store: &Store,
    lookup: &Lookup,
    addr: IpAddr,
    prefix_len: u8,
) -> Result<Option<i64>, TopologyError> {
    if store.setting("distribution_optimization")?.as_deref() == Some("on") {
        return Ok(lookup.locate(addr));
    }
    let net = ipnetwork::IpNetwork::new(addr, prefix_len)
        .map(|n| ipnetwork::IpNetwork::new(n.network(), prefix_len).unwrap_or(n))
        .map_err(|_| StoreError::Query(rusqlite::Error::InvalidQuery))?;
    Ok(Some(store.ensure_auto_office(&net.to_string())?))
}

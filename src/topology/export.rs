//! The topology as recorded: export in the import format, the office tree
//! for `show`, the no-office summary, and the diff `import --dry-run`
//! prints.
//!
//! Export is the inverse of import: import(export(x)) then export gives the
//! same bytes. So ranges are written exactly as the admin wrote them, in
//! their order, offices in file order, and the extra `devices` and `source`
//! columns are ones import recognises (it ignores `devices`).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use serde::Serialize;

use super::import::{COLUMNS, Parsed};
use super::lookup::{Index, RangeEntry};
use super::range;
use crate::domain::OfficeKind;
use crate::store::topology::OfficeDetail;
use crate::store::{Store, StoreError};

/// One office as shown and exported.
#[derive(Debug, Clone, Serialize)]
pub struct OfficeView {
    pub id: i64,
    pub name: String,
    pub parent: Option<String>,
    #[serde(rename = "type")]
    pub kind: OfficeKind,
    pub ranges: Vec<String>,
    pub wan_kbps: Option<i64>,
    pub description: String,
    /// Devices placed in this office (not counting child offices).
    pub devices: i64,
    pub source: String,
}

/// Devices in no office, grouped by their subnet.
#[derive(Debug, Clone, Serialize)]
pub struct NoOffice {
    pub devices: i64,
    /// (subnet, device count), by subnet.
    pub subnets: Vec<SubnetCount>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubnetCount {
    pub subnet: String,
    pub devices: i64,
}

/// Everything recorded: offices in file order and the no-office devices.
#[derive(Debug, Clone, Serialize)]
pub struct Recorded {
    pub distribution_optimization: bool,
    pub offices: Vec<OfficeView>,
    pub no_office: NoOffice,
}

pub fn recorded(store: &Store) -> Result<Recorded, StoreError> {
    let details: Vec<OfficeDetail> = store.office_details()?;
    let names: HashMap<i64, String> = details
        .iter()
        .map(|o| (o.row.id, o.row.name.clone()))
        .collect();
    let counts = store.device_counts()?;
    let offices = details
        .into_iter()
        .map(|o| OfficeView {
            id: o.row.id,
            parent: o.row.parent_id.and_then(|p| names.get(&p).cloned()),
            devices: counts.get(&o.row.id).copied().unwrap_or(0),
            name: o.row.name,
            kind: o.row.kind,
            ranges: o.ranges,
            wan_kbps: o.row.wan_kbps,
            description: o.description,
            source: o.row.source,
        })
        .collect();
    let mut subnets: BTreeMap<(range::Family, u128, String), i64> = BTreeMap::new();
    let mut total = 0;
    for d in store.device_placements()? {
        if d.office_id.is_some() {
            continue;
        }
        total += 1;
        let subnet = match d.addr.parse::<IpAddr>() {
            Ok(ip) => {
                let p = range::auto_prefix(ip, u8::try_from(d.prefix_len).unwrap_or(0));
                let iv = range::subnet(ip, p);
                (iv.family, iv.start, range::subnet_name(ip, p))
            }
            Err(_) => (
                range::Family::V6,
                u128::MAX,
                format!("(bad address {})", d.addr),
            ),
        };
        *subnets.entry(subnet).or_default() += 1;
    }
    Ok(Recorded {
        distribution_optimization: super::optimization_on(store)?,
        offices,
        no_office: NoOffice {
            devices: total,
            subnets: subnets
                .into_iter()
                .map(|((_, _, subnet), devices)| SubnetCount { subnet, devices })
                .collect(),
        },
    })
}

/// How a CSV file is written: its delimiter, whether it starts with a
/// UTF-8 BOM, and its line ends. Import reads any; export writes the one
/// the admin's last imported CSV used ([`Dialect::of`], remembered at
/// import), so a file from European Excel (`;`, BOM, CRLF) comes back in
/// the form that Excel opens in columns, and one from a script comes back
/// plain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    /// `,`, `;` or TAB.
    pub delimiter: u8,
    pub bom: bool,
    pub crlf: bool,
}

impl Default for Dialect {
    fn default() -> Dialect {
        Dialect::PLAIN
    }
}

/// Settings-table key under which import remembers the dialect of the last
/// imported CSV. Not an admin setting: `settings show` does not list it.
pub const DIALECT_KEY: &str = "topology_csv_dialect";

impl Dialect {
    /// `,`, LF, no BOM.
    pub const PLAIN: Dialect = Dialect {
        delimiter: b',',
        bom: false,
        crlf: false,
    };
    /// What Excel in European locales writes and opens in columns: `;`, a
    /// UTF-8 BOM, CRLF.
    pub const EXCEL: Dialect = Dialect {
        delimiter: b';',
        bom: true,
        crlf: true,
    };

    /// The dialect of a CSV file as read.
    pub fn of(bytes: &[u8]) -> Dialect {
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF");
        let bom = body.is_some();
        let body = body.unwrap_or(bytes);
        let header = body.split(|&b| b == b'\n').next().unwrap_or_default();
        Dialect {
            delimiter: super::import::delimiter_of(body),
            bom,
            crlf: header.ends_with(b"\r"),
        }
    }

    /// The stored form: the delimiter, then `+bom` and `+crlf` as they
    /// apply (`;+bom+crlf`, `,`).
    pub fn to_setting(self) -> String {
        let mut s = String::from(self.delimiter as char);
        if self.bom {
            s.push_str("+bom");
        }
        if self.crlf {
            s.push_str("+crlf");
        }
        s
    }

    /// Reads [`Dialect::to_setting`]'s form; `None` for anything else.
    pub fn from_setting(s: &str) -> Option<Dialect> {
        let mut parts = s.split('+');
        let delimiter = match parts.next()? {
            "," => b',',
            ";" => b';',
            "\t" => b'\t',
            _ => return None,
        };
        let mut d = Dialect {
            delimiter,
            bom: false,
            crlf: false,
        };
        for p in parts {
            match p {
                "bom" => d.bom = true,
                "crlf" => d.crlf = true,
                _ => return None,
            }
        }
        Some(d)
    }
}

/// One row per office, in [`COLUMNS`] order.
fn rows(rec: &Recorded) -> impl Iterator<Item = [String; 8]> + '_ {
    rec.offices.iter().map(|o| {
        [
            o.name.clone(),
            o.parent.clone().unwrap_or_default(),
            o.kind.to_string(),
            o.ranges.join(" "),
            o.wan_kbps.map(|k| k.to_string()).unwrap_or_default(),
            o.description.clone(),
            o.devices.to_string(),
            o.source.clone(),
        ]
    })
}

/// The CSV export: header [`COLUMNS`], one row per office, ranges
/// separated by a space (no quoting needed, and import splits on it).
pub fn to_csv(rec: &Recorded, dialect: Dialect) -> Result<Vec<u8>, csv::Error> {
    let terminator = if dialect.crlf {
        csv::Terminator::CRLF
    } else {
        csv::Terminator::Any(b'\n')
    };
    let bom: &[u8] = if dialect.bom { b"\xEF\xBB\xBF" } else { b"" };
    let mut w = csv::WriterBuilder::new()
        .delimiter(dialect.delimiter)
        .terminator(terminator)
        .from_writer(bom.to_vec());
    w.write_record(COLUMNS)?;
    for row in rows(rec) {
        w.write_record(
            row.iter()
                .map(|c| crate::domain::cells::neutralise(c).into_owned()),
        )?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// Name of the sheet [`to_xlsx`] writes.
pub const SHEET: &str = "Topology";

/// The export as an .xlsx workbook: one sheet, [`SHEET`], with the same
/// header and rows as the CSV, every cell text (so `10.0.0.0/16` or a
/// `wan_kbps` stays exactly what import reads back) except the counts.
pub fn to_xlsx(rec: &Recorded) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(SHEET)?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (c, h) in COLUMNS.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    for (r, row) in rows(rec).enumerate() {
        for (c, cell) in row.iter().enumerate() {
            if cell.is_empty() {
                continue;
            }
            ws.write_string((r + 1) as u32, c as u16, cell)?;
        }
    }
    ws.set_freeze_panes(1, 0)?;
    ws.autofit();
    wb.save_to_buffer()
}

/// What an import would change.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Diff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// (office, what changed)
    pub changed: Vec<OfficeChange>,
    pub moved: Vec<DeviceMove>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OfficeChange {
    pub office: String,
    pub changes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeviceMove {
    pub device: String,
    pub addr: String,
    /// `None`: no office.
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The difference between what is recorded and `parsed`, and where devices
/// would end up (import turns optimization on, so placement is by range).
pub fn diff(store: &Store, parsed: &Parsed) -> Result<Diff, StoreError> {
    let rec = recorded(store)?;
    let old: HashMap<&str, &OfficeView> =
        rec.offices.iter().map(|o| (o.name.as_str(), o)).collect();
    let mut d = Diff::default();
    for n in &parsed.offices {
        let Some(o) = old.get(n.name.as_str()) else {
            d.added.push(n.name.clone());
            continue;
        };
        let mut changes = Vec::new();
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
        if o.parent != n.parent {
            changes.push(format!("parent {} -> {}", show(&o.parent), show(&n.parent)));
        }
        if o.kind != n.kind {
            changes.push(format!("type {} -> {}", o.kind, n.kind));
        }
        if o.ranges != n.ranges {
            changes.push(format!(
                "ranges {} -> {}",
                o.ranges.join(" "),
                n.ranges.join(" ")
            ));
        }
        if o.wan_kbps != n.wan_kbps {
            let k = |v: Option<i64>| v.map_or("(no cap)".into(), |k| k.to_string());
            changes.push(format!("wan_kbps {} -> {}", k(o.wan_kbps), k(n.wan_kbps)));
        }
        if o.description != n.description {
            changes.push("description".into());
        }
        if o.source != n.source {
            changes.push(format!("source {} -> {}", o.source, n.source));
        }
        if !changes.is_empty() {
            d.changed.push(OfficeChange {
                office: n.name.clone(),
                changes,
            });
        }
    }
    let new_names: std::collections::HashSet<&str> =
        parsed.offices.iter().map(|o| o.name.as_str()).collect();
    d.removed = rec
        .offices
        .iter()
        .filter(|o| !new_names.contains(o.name.as_str()))
        .map(|o| o.name.clone())
        .collect();
    // Placement under the new topology: office index as a stand-in id.
    let index = Index::build(
        parsed
            .offices
            .iter()
            .enumerate()
            .flat_map(|(i, o)| {
                o.ranges.iter().map(move |s| RangeEntry {
                    office_id: i as i64,
                    spec: s.clone(),
                })
            })
            .collect(),
    );
    let id_name: HashMap<i64, &str> = rec
        .offices
        .iter()
        .map(|o| (o.id, o.name.as_str()))
        .collect();
    for dev in store.device_placements()? {
        let from = dev
            .office_id
            .and_then(|id| id_name.get(&id).map(|s| s.to_string()));
        let to = dev
            .addr
            .parse::<IpAddr>()
            .ok()
            .and_then(|ip| index.locate(ip))
            .map(|i| parsed.offices[i as usize].name.clone());
        if from != to {
            d.moved.push(DeviceMove {
                device: dev.hostname,
                addr: dev.addr,
                from,
                to,
            });
        }
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::Dialect;

    #[test]
    fn dialects_are_read_and_remembered_as_written() {
        let excel = Dialect::of(b"\xEF\xBB\xBFoffice;parent;ranges\r\nA;;\r\n");
        assert_eq!(excel, Dialect::EXCEL);
        // US Excel's "CSV UTF-8": commas, but a BOM and CRLF.
        let us = Dialect::of(b"\xEF\xBB\xBFoffice,parent,ranges\r\nA,,\r\n");
        assert_eq!((us.delimiter, us.bom, us.crlf), (b',', true, true));
        assert_eq!(Dialect::of(b"office,parent,ranges\nA,,\n"), Dialect::PLAIN);
        for d in [excel, us, Dialect::PLAIN] {
            assert_eq!(Dialect::from_setting(&d.to_setting()), Some(d));
        }
        assert_eq!(Dialect::from_setting("excel"), None);
    }
}

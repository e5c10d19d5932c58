//! Reading and validating a topology file (CSV or `.xlsx`).
//!
//! Real spreadsheet exports are messy: a UTF-8 BOM, CRLF, `;` as delimiter
//! (European Excel), quoted fields, trailing empty rows, extra columns. All
//! of that is accepted. Anything actually wrong is collected — every
//! problem, with its line and column — so the admin fixes the file in one
//! pass instead of one error per run. Nothing here touches the database;
//! [`parse`] returns the offices to write or the full list of problems.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

use super::names::{self, shown};
use super::range::{self, Family, RangeError};
use crate::domain::OfficeKind;
use crate::store::topology::NewOffice;

/// The columns of a topology file, in the order export writes them.
pub const COLUMNS: &[&str] = &[
    "office",
    "parent",
    "type",
    "ranges",
    "wan_kbps",
    "description",
    "devices",
    "source",
];

/// Columns that must be present.
const REQUIRED: &[&str] = &["office", "parent", "ranges"];

/// One problem in the file. `line` is 1-based (0: the file as a whole),
/// `column` 1-based (0: the whole row).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ImportError {
    pub line: usize,
    pub column: usize,
    pub kind: ImportErrorKind,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (0, _) => write!(f, "{}", self.kind),
            (l, 0) => write!(f, "line {l}: {}", self.kind),
            (l, c) => write!(f, "line {l}, column {c}: {}", self.kind),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportErrorKind {
    #[error(
        "the file is empty; it needs a header row (office,parent,type,ranges,wan_kbps,description) and one row per office"
    )]
    Empty,
    #[error("there are no offices below the header; add one row per office")]
    NoRows,
    #[error("the file is not UTF-8 text (invalid byte here); save it as \"CSV UTF-8\" or as .xlsx")]
    NotUtf8,
    #[error("cannot read the workbook: {0}; save it again as .xlsx, or export it as CSV")]
    Workbook(String),
    #[error("the workbook has no sheet '{name}'; its sheets are: {available}")]
    NoSheet { name: String, available: String },
    #[error(
        "the header has no '{0}' column; the header row needs office, parent and ranges (type, wan_kbps and description are optional)"
    )]
    MissingColumn(&'static str),
    #[error("column '{0}' appears twice in the header; keep one")]
    DuplicateColumn(String),
    #[error("the CSV is malformed: {0}")]
    Csv(String),
    #[error("the office name is empty")]
    EmptyName,
    #[error("office name '{}' is refused: {problem}", shown(.name))]
    BadName {
        name: String,
        problem: super::names::NameProblem,
    },
    #[error(
        "office '{}' appears twice (first on line {first_line}); office names must be unique",
        shown(.name)
    )]
    DuplicateOffice { name: String, first_line: usize },
    #[error(
        "office '{}' differs from office '{}' (line {first_line}) only in case; \
         office names must differ in more than case: rename one, or write both the same way",
        shown(.name), shown(.other)
    )]
    CaseDuplicate {
        name: String,
        other: String,
        first_line: usize,
    },
    #[error(
        "office '{}' has parent '{}', but no row names that office; add it or fix the name",
        shown(.office), shown(.parent)
    )]
    UnknownParent { office: String, parent: String },
    #[error(
        "office '{}' has parent '{}', but the office is written '{}' (line {line}); \
         write the parent exactly as the office's own row does",
        shown(.office), shown(.parent), shown(.actual)
    )]
    ParentCase {
        office: String,
        parent: String,
        actual: String,
        line: usize,
    },
    #[error(
        "office '{}' has parent '{}', an auto office (source auto), and auto offices are not imported; \
         choose an imported parent, or set the source of '{}' to import",
        shown(.office), shown(.parent), shown(.parent)
    )]
    AutoParent { office: String, parent: String },
    #[error(
        "the parents form a cycle: {}; one office in it must have another parent",
        .0.iter().map(|(n, l)| format!("'{n}' (line {l})")).collect::<Vec<_>>().join(" -> ")
    )]
    Cycle(Vec<(String, usize)>),
    #[error(
        "no root office: exactly one office must have an empty parent (the Central Office, where the server is)"
    )]
    NoRoot,
    #[error(
        "office '{office}' has no parent, but '{first}' (line {first_line}) is already the root; only the Central Office has an empty parent"
    )]
    SeveralRoots {
        office: String,
        first: String,
        first_line: usize,
    },
    #[error("{0}")]
    Range(RangeError),
    #[error(
        "range {spec} of office '{office}' overlaps range {other_spec} of office '{other}' (line {other_line}); an address can be in one office only, split or shrink one of them"
    )]
    Overlap {
        office: String,
        spec: String,
        other: String,
        other_spec: String,
        other_line: usize,
    },
    #[error("unknown office type '{0}'; use default, wifi or vpn")]
    UnknownType(String),
    #[error("wan_kbps '{0}' is not a positive whole number of kbit/s; leave it empty for no cap")]
    BadWan(String),
    #[error("source '{0}' is neither import nor auto (leave it empty for import)")]
    BadSource(String),
}

/// A cell grid as read from CSV or a sheet: rows with their line numbers.
#[derive(Debug, Default)]
struct Grid {
    rows: Vec<(usize, Vec<String>)>,
}

/// What a successful parse gives: the offices in file order, and notes
/// for the admin (ignored columns).
#[derive(Debug, Clone)]
pub struct Parsed {
    pub offices: Vec<NewOffice>,
    /// Line of each office, same index as `offices`.
    pub lines: Vec<usize>,
    pub notes: Vec<String>,
    /// The CSV dialect of the file (`None` for a workbook), which export
    /// writes by default afterwards.
    pub dialect: Option<super::export::Dialect>,
    /// Auto offices in the file (source `auto`, with a parent) that were
    /// not imported: p2pd makes them itself, one per client subnet, only
    /// while distribution optimization is off, and import turns it on.
    pub skipped_auto: Vec<String>,
}

/// Reads and validates `bytes` (the content of `path`; the extension picks
/// CSV or xlsx). `sheet` names the xlsx sheet (default: the first).
pub fn parse(path: &Path, bytes: &[u8], sheet: Option<&str>) -> Result<Parsed, Vec<ImportError>> {
    let workbook = is_workbook(path, bytes);
    let grid = if workbook {
        read_xlsx(bytes, sheet)
    } else {
        read_csv(bytes)
    }
    .map_err(|e| vec![e])?;
    let mut parsed = validate(grid)?;
    parsed.dialect = (!workbook).then(|| super::export::Dialect::of(bytes));
    Ok(parsed)
}

/// Whether the file is a workbook: by extension, or by the zip magic of an
/// .xlsx saved under another name.
pub fn is_workbook(path: &Path, bytes: &[u8]) -> bool {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    matches!(ext.as_str(), "xlsx" | "xlsm") || bytes.starts_with(b"PK\x03\x04")
}

fn file_error(kind: ImportErrorKind) -> ImportError {
    ImportError {
        line: 0,
        column: 0,
        kind,
    }
}

fn read_csv(bytes: &[u8]) -> Result<Grid, ImportError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let before = &bytes[..e.valid_up_to()];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let line_start = before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1);
            let column = String::from_utf8_lossy(&before[line_start..])
                .chars()
                .count()
                + 1;
            return Err(ImportError {
                line,
                column,
                kind: ImportErrorKind::NotUtf8,
            });
        }
    };
    if text.trim().is_empty() {
        return Err(ImportError {
            line: 1,
            column: 0,
            kind: ImportErrorKind::Empty,
        });
    }
    // csv counts a CRLF's '\n' towards the next record, which would put
    // every line number after the first off by one; LF only is exact.
    let text = text.replace("\r\n", "\n");
    let text = text.as_str();
    let delimiter = detect_delimiter(text);
    let mut rd = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut grid = Grid::default();
    for rec in rd.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            ImportError {
                line,
                column: 0,
                kind: ImportErrorKind::Csv(e.to_string()),
            }
        })?;
        let line = rec.position().map_or(0, |p| p.line() as usize);
        grid.rows.push((
            line,
            rec.iter()
                .map(|c| crate::domain::cells::restore(c.trim()).to_string())
                .collect(),
        ));
    }
    Ok(grid)
}

/// The delimiter of a CSV file's header line: whichever of `,` `;` TAB
/// occurs most outside quotes (`,` on a tie).
pub fn delimiter_of(bytes: &[u8]) -> u8 {
    detect_delimiter(&String::from_utf8_lossy(bytes))
}

/// The delimiter of the header line: whichever of `,` `;` TAB occurs most
/// outside quotes (`,` on a tie). European Excel writes `;`.
fn detect_delimiter(text: &str) -> u8 {
    let header = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let mut quoted = false;
    let mut counts = [0usize; 3];
    for c in header.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => counts[0] += 1,
            ';' if !quoted => counts[1] += 1,
            '\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = (0..3).max_by_key(|&i| (counts[i], 3 - i)).unwrap_or(0);
    [b',', b';', b'\t'][best]
}

/// The sheet names of an .xlsx workbook, in order (empty if it cannot be
/// read), for messages that help choose `--sheet`.
pub fn sheet_names(bytes: &[u8]) -> Vec<String> {
    use calamine::Reader;
    calamine::Xlsx::new(std::io::Cursor::new(bytes))
        .map(|wb| wb.sheet_names())
        .unwrap_or_default()
}

/// Most rows and columns a topology sheet may use: far more than any
/// network has offices, far less than a hostile file could ask for.
pub const XLSX_MAX_ROWS: u32 = 100_000;
pub const XLSX_MAX_COLS: u32 = 256;
/// Most bytes a workbook may unpack to (all its parts together).
pub const XLSX_MAX_UNPACKED: u64 = 64 << 20;

/// Streams every part of the archive through a counter and refuses a
/// workbook that unpacks to more than [`XLSX_MAX_UNPACKED`]: the sizes a
/// zip declares can lie, the bytes cannot. Memory stays one buffer.
fn check_unpacked_size(bytes: &[u8]) -> Result<(), ImportError> {
    let bad = |m: String| file_error(ImportErrorKind::Workbook(m));
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| bad(format!("not a valid .xlsx (zip) file: {e}")))?;
    let mut total = 0u64;
    for i in 0..zip.len() {
        let entry = zip
            .by_index(i)
            .map_err(|e| bad(format!("not a valid .xlsx (zip) file: {e}")))?;
        let left = XLSX_MAX_UNPACKED - total;
        let n = std::io::copy(
            &mut std::io::Read::take(entry, left + 1),
            &mut std::io::sink(),
        )
        .map_err(|e| bad(format!("a part of the workbook cannot be unpacked: {e}")))?;
        total += n;
        if total > XLSX_MAX_UNPACKED {
            return Err(bad(format!(
                "it unpacks to more than {} MiB (a topology sheet needs far less); \
                 it may be a zip bomb. Export the sheet as CSV instead",
                XLSX_MAX_UNPACKED >> 20
            )));
        }
    }
    Ok(())
}

/// `XFD1048576` for (row 1048575, column 16383), zero-based.
fn cell_name(row: u32, col: u32) -> String {
    let mut c = col + 1;
    let mut letters = Vec::new();
    while c > 0 {
        letters.push(b'A' + ((c - 1) % 26) as u8);
        c = (c - 1) / 26;
    }
    letters.reverse();
    format!("{}{}", String::from_utf8_lossy(&letters), row + 1)
}

fn read_xlsx(bytes: &[u8], sheet: Option<&str>) -> Result<Grid, ImportError> {
    use calamine::{Data, Reader};
    check_unpacked_size(bytes)?;
    let mut wb = calamine::Xlsx::new(std::io::Cursor::new(bytes))
        .map_err(|e| file_error(ImportErrorKind::Workbook(e.to_string())))?;
    let names = wb.sheet_names();
    let name = match sheet {
        Some(s) => names
            .iter()
            .find(|n| n.as_str() == s || n.eq_ignore_ascii_case(s))
            .cloned()
            .ok_or_else(|| {
                file_error(ImportErrorKind::NoSheet {
                    name: s.to_string(),
                    available: names.join(", "),
                })
            })?,
        None => names
            .first()
            .cloned()
            .ok_or_else(|| file_error(ImportErrorKind::Workbook("it has no sheets".into())))?,
    };
    // Cell by cell, never as one dense range: a single cell at XFD1048576
    // would otherwise allocate 17 billion empty cells.
    let mut reader = wb
        .worksheet_cells_reader(&name)
        .map_err(|e| file_error(ImportErrorKind::Workbook(e.to_string())))?;
    let mut rows: std::collections::BTreeMap<u32, Vec<String>> = Default::default();
    while let Some(cell) = reader
        .next_cell()
        .map_err(|e| file_error(ImportErrorKind::Workbook(e.to_string())))?
    {
        let (r, c) = cell.get_position();
        if r >= XLSX_MAX_ROWS || c >= XLSX_MAX_COLS {
            return Err(file_error(ImportErrorKind::Workbook(format!(
                "sheet '{name}' has a cell at {}, beyond what a topology sheet may use \
                 ({XLSX_MAX_COLS} columns, {XLSX_MAX_ROWS} rows); delete the stray cell or \
                 export the sheet as CSV",
                cell_name(r, c)
            ))));
        }
        let text = match Data::from(cell.get_value().clone()) {
            Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            Data::Empty => continue,
            other => other.to_string().trim().to_string(),
        };
        let row = rows.entry(r).or_default();
        if row.len() <= c as usize {
            row.resize(c as usize + 1, String::new());
        }
        row[c as usize] = text;
    }
    let mut grid = Grid::default();
    if let (Some(&first), Some(&last)) = (rows.keys().next(), rows.keys().next_back()) {
        for r in first..=last {
            let cells = rows.remove(&r).unwrap_or_default();
            grid.rows.push((r as usize + 1, cells));
        }
    }
    if grid
        .rows
        .iter()
        .all(|(_, c)| c.iter().all(|x| x.is_empty()))
    {
        return Err(ImportError {
            line: 1,
            column: 0,
            kind: ImportErrorKind::Empty,
        });
    }
    Ok(grid)
}

/// Column positions found in the header.
struct Header {
    /// Index into a row for each of [`COLUMNS`], if present.
    at: HashMap<&'static str, usize>,
}

impl Header {
    fn get<'a>(&self, cells: &'a [String], col: &str) -> &'a str {
        self.at
            .get(col)
            .and_then(|&i| cells.get(i))
            .map_or("", |s| s.as_str())
    }

    /// 1-based column number of `col` for messages.
    fn col(&self, col: &str) -> usize {
        self.at.get(col).map_or(0, |&i| i + 1)
    }
}

fn validate(grid: Grid) -> Result<Parsed, Vec<ImportError>> {
    let mut rows = grid
        .rows
        .into_iter()
        .filter(|(_, c)| c.iter().any(|x| !x.is_empty()));
    let Some((header_line, header_cells)) = rows.next() else {
        return Err(vec![ImportError {
            line: 1,
            column: 0,
            kind: ImportErrorKind::Empty,
        }]);
    };
    let (h, ignored) = read_header(header_line, &header_cells)?;
    let mut notes = Vec::new();
    if !ignored.is_empty() {
        notes.push(format!(
            "ignoring unknown column{} {} (line {header_line})",
            if ignored.len() == 1 { "" } else { "s" },
            ignored.join(", ")
        ));
    }

    let mut errors = Vec::new();
    let mut r = Rows::default();
    for (line, cells) in rows {
        r.add(&h, line, &cells, &mut errors);
    }
    let Rows {
        offices,
        lines,
        by_name,
        skipped_auto,
        mut intervals,
        ..
    } = r;
    if offices.is_empty() && errors.is_empty() {
        return Err(vec![ImportError {
            line: header_line + 1,
            column: 0,
            kind: ImportErrorKind::NoRows,
        }]);
    }

    check_parents(&h, &offices, &lines, &by_name, &skipped_auto, &mut errors);
    if !skipped_auto.is_empty() {
        notes.push(format!(
            "{} auto office{} not imported ({}): p2pd creates one per client subnet while \
             distribution_optimization is off, and import turns it on; to keep one, give it \
             the source import",
            skipped_auto.len(),
            if skipped_auto.len() == 1 { "" } else { "s" },
            skipped_auto.join(", ")
        ));
    }
    check_overlaps(&h, &offices, &lines, &mut intervals, &mut errors);

    if errors.is_empty() {
        Ok(Parsed {
            offices,
            lines,
            notes,
            dialect: None,
            skipped_auto,
        })
    } else {
        errors.sort_by_key(|e| (e.line, e.column));
        Err(errors)
    }
}

/// The header row: where each known column is, and the unknown ones
/// (ignored, with a note). Duplicate or missing columns are errors.
fn read_header(line: usize, cells: &[String]) -> Result<(Header, Vec<String>), Vec<ImportError>> {
    let mut errors = Vec::new();
    let mut at = HashMap::new();
    let mut ignored = Vec::new();
    for (i, h) in cells.iter().enumerate() {
        let norm = h.trim().to_ascii_lowercase();
        match COLUMNS.iter().find(|&&c| c == norm) {
            Some(&c) => {
                if at.insert(c, i).is_some() {
                    errors.push(ImportError {
                        line,
                        column: i + 1,
                        kind: ImportErrorKind::DuplicateColumn(c.into()),
                    });
                }
            }
            None if norm.is_empty() => {}
            None => ignored.push(h.trim().to_string()),
        }
    }
    for &c in REQUIRED {
        if !at.contains_key(c) {
            errors.push(ImportError {
                line,
                column: 0,
                kind: ImportErrorKind::MissingColumn(c),
            });
        }
    }
    if errors.is_empty() {
        Ok((Header { at }, ignored))
    } else {
        Err(errors)
    }
}

/// The office rows read so far.
#[derive(Default)]
struct Rows {
    offices: Vec<NewOffice>,
    lines: Vec<usize>,
    by_name: HashMap<String, usize>,
    /// Names as compared for uniqueness (case folded): office index.
    by_fold: HashMap<String, usize>,
    skipped_auto: Vec<String>,
    /// (interval, office index, spec) for the overlap check.
    intervals: Vec<(range::Interval, usize, usize)>,
}

impl Rows {
    /// Reads one office row; its problems go to `errors`.
    fn add(&mut self, h: &Header, line: usize, cells: &[String], errors: &mut Vec<ImportError>) {
        let err = |col: &str, kind| ImportError {
            line,
            column: h.col(col),
            kind,
        };
        let name = h.get(cells, "office").to_string();
        if let Some(kind) = self.name_problem(&name) {
            errors.push(err("office", kind));
            return;
        }
        let kind = match h.get(cells, "type").to_ascii_lowercase().as_str() {
            "" => OfficeKind::Default,
            t => t.parse().unwrap_or_else(|_| {
                errors.push(err(
                    "type",
                    ImportErrorKind::UnknownType(h.get(cells, "type").into()),
                ));
                OfficeKind::Default
            }),
        };
        let wan_text = h.get(cells, "wan_kbps");
        let wan_kbps = if wan_text.is_empty() {
            None
        } else {
            match wan_text.parse::<i64>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    errors.push(err("wan_kbps", ImportErrorKind::BadWan(wan_text.into())));
                    None
                }
            }
        };
        let source = match h.get(cells, "source").to_ascii_lowercase().as_str() {
            "" | "import" => "import".to_string(),
            "auto" => "auto".to_string(),
            s => {
                errors.push(err("source", ImportErrorKind::BadSource(s.into())));
                "import".to_string()
            }
        };
        let parent = h.get(cells, "parent");
        // An exported auto office: not an office the admin defined. Its
        // subnet lies inside some imported range on purpose, so it takes no
        // part in the overlap check either; a round trip must not fail on it.
        if source == "auto" && !parent.is_empty() {
            self.skipped_auto.push(name);
            return;
        }
        let idx = self.offices.len();
        let mut ranges = Vec::new();
        for spec in range::split_cell(h.get(cells, "ranges")) {
            match range::parse(&spec) {
                Ok(iv) => {
                    self.intervals.push((iv, idx, ranges.len()));
                    ranges.push(spec);
                }
                Err(e) => errors.push(err("ranges", ImportErrorKind::Range(e))),
            }
        }
        self.by_name.insert(name.clone(), idx);
        self.by_fold.insert(names::fold(&name), idx);
        self.lines.push(line);
        self.offices.push(NewOffice {
            name,
            parent: (!parent.is_empty()).then(|| parent.to_string()),
            kind,
            wan_kbps,
            description: h.get(cells, "description").to_string(),
            source,
            ranges,
        });
    }

    /// Why `name` cannot name a new office: empty, not a good name, or
    /// already taken (exactly or but for case).
    fn name_problem(&self, name: &str) -> Option<ImportErrorKind> {
        if name.is_empty() {
            return Some(ImportErrorKind::EmptyName);
        }
        if let Err(problem) = names::check(name) {
            return Some(ImportErrorKind::BadName {
                name: name.to_string(),
                problem,
            });
        }
        if let Some(&first) = self.by_name.get(name) {
            return Some(ImportErrorKind::DuplicateOffice {
                name: name.to_string(),
                first_line: self.lines[first],
            });
        }
        if let Some(&first) = self.by_fold.get(&names::fold(name)) {
            return Some(ImportErrorKind::CaseDuplicate {
                name: name.to_string(),
                other: self.offices[first].name.clone(),
                first_line: self.lines[first],
            });
        }
        None
    }
}

/// Unknown parents, the single root, cycles.
fn check_parents(
    h: &Header,
    offices: &[NewOffice],
    lines: &[usize],
    by_name: &HashMap<String, usize>,
    skipped_auto: &[String],
    errors: &mut Vec<ImportError>,
) {
    let pcol = h.col("parent");
    let folded: HashMap<String, usize> = offices
        .iter()
        .enumerate()
        .map(|(i, o)| (names::fold(&o.name), i))
        .collect();
    let mut parent_of: Vec<Option<usize>> = vec![None; offices.len()];
    let mut root: Option<usize> = None;
    for (i, o) in offices.iter().enumerate() {
        match &o.parent {
            None => match root {
                None => root = Some(i),
                Some(r) => errors.push(ImportError {
                    line: lines[i],
                    column: pcol,
                    kind: ImportErrorKind::SeveralRoots {
                        office: o.name.clone(),
                        first: offices[r].name.clone(),
                        first_line: lines[r],
                    },
                }),
            },
            Some(p) => match by_name.get(p) {
                Some(&j) => parent_of[i] = Some(j),
                None if skipped_auto.contains(p) => errors.push(ImportError {
                    line: lines[i],
                    column: pcol,
                    kind: ImportErrorKind::AutoParent {
                        office: o.name.clone(),
                        parent: p.clone(),
                    },
                }),
                None => errors.push(ImportError {
                    line: lines[i],
                    column: pcol,
                    kind: match folded.get(&names::fold(p)) {
                        Some(&j) => ImportErrorKind::ParentCase {
                            office: o.name.clone(),
                            parent: p.clone(),
                            actual: offices[j].name.clone(),
                            line: lines[j],
                        },
                        None => ImportErrorKind::UnknownParent {
                            office: o.name.clone(),
                            parent: p.clone(),
                        },
                    },
                }),
            },
        }
    }
    if root.is_none() && !offices.is_empty() {
        errors.push(ImportError {
            line: lines[0],
            column: pcol,
            kind: ImportErrorKind::NoRoot,
        });
    }
    // Cycles: walk up from every office; colour 1 = on the current path,
    // 2 = known to reach a root or a reported cycle.
    let mut state = vec![0u8; offices.len()];
    for start in 0..offices.len() {
        let mut path: Vec<usize> = Vec::new();
        let mut cur = Some(start);
        while let Some(i) = cur {
            match state[i] {
                2 => break,
                1 => {
                    let from = path.iter().position(|&p| p == i).unwrap_or(0);
                    let cycle = &path[from..];
                    let mut names: Vec<(String, usize)> = cycle
                        .iter()
                        .map(|&k| (offices[k].name.clone(), lines[k]))
                        .collect();
                    names.push((offices[i].name.clone(), lines[i]));
                    let first = cycle.iter().copied().min_by_key(|&k| lines[k]).unwrap_or(i);
                    errors.push(ImportError {
                        line: lines[first],
                        column: pcol,
                        kind: ImportErrorKind::Cycle(names),
                    });
                    break;
                }
                _ => {
                    state[i] = 1;
                    path.push(i);
                    cur = parent_of[i];
                }
            }
        }
        for p in path {
            state[p] = 2;
        }
    }
}

/// Ranges of two different offices that share an address. Sorted sweep:
/// O(n log n) for 50,000 ranges. Two auto offices may nest (a /16 device
/// next to a /24 one); the lookup resolves that, most specific first.
fn check_overlaps(
    h: &Header,
    offices: &[NewOffice],
    lines: &[usize],
    intervals: &mut [(range::Interval, usize, usize)],
    errors: &mut Vec<ImportError>,
) {
    intervals.sort_by_key(|(iv, o, r)| (iv.family, iv.start, std::cmp::Reverse(iv.end), *o, *r));
    let mut reported: HashSet<(usize, usize)> = HashSet::new();
    // The interval reaching furthest so far, per family.
    let mut reach: Option<(Family, u128, usize, usize)> = None;
    for &(iv, o, r) in intervals.iter() {
        if let Some((f, end, ro, rr)) = reach
            && f == iv.family
            && iv.start <= end
        {
            let both_auto = offices[o].source == "auto" && offices[ro].source == "auto";
            if ro != o && !both_auto && reported.insert((o.min(ro), o.max(ro))) {
                // Report on the later line, naming the earlier one.
                let (a, ar, b, br) = if lines[o] >= lines[ro] {
                    (o, r, ro, rr)
                } else {
                    (ro, rr, o, r)
                };
                errors.push(ImportError {
                    line: lines[a],
                    column: h.col("ranges"),
                    kind: ImportErrorKind::Overlap {
                        office: offices[a].name.clone(),
                        spec: offices[a].ranges[ar].clone(),
                        other: offices[b].name.clone(),
                        other_spec: offices[b].ranges[br].clone(),
                        other_line: lines[b],
                    },
                });
            }
            if iv.end <= end {
                continue;
            }
        }
        reach = Some((iv.family, iv.end, o, r));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xlsx_with(extra: impl FnOnce(&mut rust_xlsxwriter::Worksheet)) -> Vec<u8> {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        for (c, h) in ["office", "parent", "type", "ranges"].iter().enumerate() {
            ws.write_string(0, c as u16, *h).unwrap();
        }
        for (c, v) in ["HQ", "", "default", "10.0.0.0/16"].iter().enumerate() {
            ws.write_string(1, c as u16, *v).unwrap();
        }
        extra(ws);
        wb.save_to_buffer().unwrap()
    }

    fn xlsx_errors(bytes: &[u8]) -> String {
        let errs = parse(Path::new("t.xlsx"), bytes, None).unwrap_err();
        errs.iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn an_xlsx_cell_at_xfd1048576_is_a_clear_error_not_an_abort() {
        assert!(parse(Path::new("t.xlsx"), &xlsx_with(|_| {}), None).is_ok());
        let bytes = xlsx_with(|ws| {
            ws.write_string(1_048_575, 16_383, "x").unwrap();
        });
        let e = xlsx_errors(&bytes);
        assert!(e.contains("XFD1048576"), "{e}");
    }

    #[test]
    fn an_xlsx_zip_bomb_is_a_clear_error() {
        use std::io::Write;
        let good = xlsx_with(|_| {});
        // The same workbook with one more part that unpacks to 100 MiB.
        let mut src = zip::ZipArchive::new(std::io::Cursor::new(&good)).unwrap();
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for i in 0..src.len() {
            w.raw_copy_file(src.by_index_raw(i).unwrap()).unwrap();
        }
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        w.start_file("xl/media/bomb.bin", opts).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..100 {
            w.write_all(&zeros).unwrap();
        }
        let bomb = w.finish().unwrap().into_inner();
        assert!(bomb.len() < 1 << 20, "{}", bomb.len());
        let e = xlsx_errors(&bomb);
        assert!(e.contains("zip bomb"), "{e}");
    }

    fn csv(text: &str) -> Result<Parsed, Vec<ImportError>> {
        parse(Path::new("t.csv"), text.as_bytes(), None)
    }

    fn kinds(text: &str) -> Vec<(usize, ImportErrorKind)> {
        csv(text)
            .unwrap_err()
            .into_iter()
            .map(|e| (e.line, e.kind))
            .collect()
    }

    #[test]
    fn accepts_messy_exports() {
        let text = "\u{feff}Office;Parent;Ranges;Type;Notes\r\n\
                    HQ;;10.0.0.0/16;;x\r\n\
                    \"Branch; A\";HQ;\"10.1.0.0/24, 10.1.1.0/24\";wifi;\r\n\
                    ;;;;\r\n\r\n";
        let p = csv(text).unwrap();
        assert_eq!(p.offices.len(), 2);
        assert_eq!(p.offices[1].name, "Branch; A");
        assert_eq!(p.offices[1].ranges, vec!["10.1.0.0/24", "10.1.1.0/24"]);
        assert_eq!(p.offices[1].kind, OfficeKind::Wifi);
        assert_eq!(p.lines, vec![2, 3]);
        assert!(p.notes[0].contains("Notes"), "{:?}", p.notes);
    }

    #[test]
    fn reports_everything_at_once() {
        let text = "office,parent,type,ranges,wan_kbps\n\
                    HQ,,default,10.0.0.0/16,\n\
                    A,HQ,cable,10.0.1.0/24,-5\n\
                    B,Nowhere,,10.9.0.0/24 10.9.0.300,\n";
        let k = kinds(text);
        assert_eq!(k.len(), 5, "{k:?}");
        assert!(matches!(k[0], (3, ImportErrorKind::UnknownType(_))));
        assert!(matches!(k[1], (3, ImportErrorKind::Overlap { .. })));
    }

    #[test]
    fn finds_cycles_and_roots() {
        let k = kinds("office,parent,ranges\nA,C,\nB,A,\nC,B,\nD,D,\n");
        assert!(
            k.iter()
                .any(|(l, e)| *l == 2 && matches!(e, ImportErrorKind::Cycle(n) if n.len() == 4))
        );
        let text = csv("office,parent,ranges\nA,C,\nB,A,\nC,B,\nR,,\n")
            .unwrap_err()
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            text.contains("'A' (line 2) -> 'C' (line 4) -> 'B' (line 3) -> 'A' (line 2)"),
            "{text}"
        );
        assert!(
            k.iter()
                .any(|(l, e)| *l == 5 && matches!(e, ImportErrorKind::Cycle(_)))
        );
        assert!(k.iter().any(|(_, e)| matches!(e, ImportErrorKind::NoRoot)));
    }

    /// Design note `key-holders`: names that could act on a terminal, read differently
    /// from what they are, pass for "(no office)" or differ only in case
    /// are refused by row and column, in CSV as in XLSX, and nothing is
    /// imported.
    #[test]
    fn office_names_with_escapes_bidi_the_no_office_label_or_only_case_apart_are_refused() {
        let rows = [
            ("HQ", ""),
            ("Nul\0x", "HQ"),
            ("\u{1b}]0;owned\u{7}Esc", "HQ"),
            ("Lab\u{202E}gnp", "HQ"),
            ("(No Office)", "HQ"),
            ("Branch", "HQ"),
            ("BRANCH", "HQ"),
            ("Leaf", "branch"),
        ];
        let mut text = String::from("office,parent,ranges\n");
        for (n, p) in rows {
            text.push_str(&format!("\"{n}\",{p},\n"));
        }
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        for (c, h) in ["office", "parent", "ranges"].iter().enumerate() {
            ws.write_string(0, c as u16, *h).unwrap();
        }
        for (r, (n, p)) in rows.iter().enumerate() {
            ws.write_string(r as u32 + 1, 0, *n).unwrap();
            ws.write_string(r as u32 + 1, 1, *p).unwrap();
        }
        let xlsx = wb.save_to_buffer().unwrap();
        for errs in [
            csv(&text).unwrap_err(),
            parse(Path::new("t.xlsx"), &xlsx, None).unwrap_err(),
        ] {
            let at: Vec<(usize, usize)> = errs.iter().map(|e| (e.line, e.column)).collect();
            assert_eq!(
                at,
                vec![(3, 1), (4, 1), (5, 1), (6, 1), (8, 1), (9, 2)],
                "{errs:?}"
            );
            let msgs: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
            assert!(msgs[0].contains("U+0000 (NUL"), "{}", msgs[0]);
            assert!(msgs[1].contains("U+001B (ESC"), "{}", msgs[1]);
            assert!(msgs[2].contains("U+202E (a bidirectional"), "{}", msgs[2]);
            assert!(
                msgs[3].contains("'(no office)' is how reports show"),
                "{}",
                msgs[3]
            );
            assert!(
                msgs[4].contains("'BRANCH' differs from office 'Branch' (line 7) only in case"),
                "{}",
                msgs[4]
            );
            assert!(msgs[5].contains("written 'Branch' (line 7)"), "{}", msgs[5]);
            // No message carries the raw escape or override itself.
            for m in &msgs {
                assert!(!m.contains('\u{1b}') && !m.contains('\u{202E}') && !m.contains('\0'));
                assert!(m.starts_with("line "), "{m}");
            }
        }
    }

    #[test]
    fn not_utf8_names_the_place() {
        let e = parse(Path::new("t.csv"), b"office,parent,ranges\nA\xff,,\n", None).unwrap_err();
        assert_eq!((e[0].line, e[0].column), (2, 2));
    }
}

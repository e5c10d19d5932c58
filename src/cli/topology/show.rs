//! `p2pd topology show`: the offices as a tree (or JSON).

use std::collections::HashMap;
use std::io::Write;

use serde::Serialize;

use crate::cli::exit::ExitCode;
use crate::cli::{Global, open_store, output};
use crate::topology::export;

pub(super) fn run(g: &Global, j: output::JsonFlag) -> anyhow::Result<ExitCode> {
    let st = open_store(g)?;
    let rec = export::recorded(&st)?;
    if j.json {
        output::print_json(&tree_json(&rec))?;
        return Ok(ExitCode::Ok);
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "distribution_optimization: {}",
        if rec.distribution_optimization {
            "on (offices from the imported topology)"
        } else {
            "off (one auto office per client subnet)"
        }
    )?;
    if rec.offices.is_empty() {
        writeln!(
            out,
            "no offices yet; import a topology with `p2pd topology import FILE`"
        )?;
    }
    let children = children_of(&rec);
    for root in rec.offices.iter().filter(|o| o.parent.is_none()) {
        draw(&mut out, &rec, &children, root, "", None)?;
    }
    let n = &rec.no_office;
    writeln!(out, "no-office devices: {}", n.devices)?;
    for s in &n.subnets {
        writeln!(
            out,
            "  {}  {}",
            s.subnet,
            output::count(s.devices as usize, "device")
        )?;
    }
    Ok(ExitCode::Ok)
}

/// Index of each office's children (by position in `rec.offices`).
fn children_of(rec: &export::Recorded) -> HashMap<&str, Vec<usize>> {
    let mut m: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, o) in rec.offices.iter().enumerate() {
        if let Some(p) = &o.parent {
            m.entry(p.as_str()).or_default().push(i);
        }
    }
    m
}

fn describe(o: &export::OfficeView) -> String {
    let mut s = format!("{} [{}", o.name, o.kind);
    if o.source == "auto" {
        s.push_str(", auto");
    }
    s.push(']');
    if !o.ranges.is_empty() {
        s.push_str("  ");
        s.push_str(&o.ranges.join(" "));
    }
    if let Some(k) = o.wan_kbps {
        s.push_str(&format!("  WAN {k} kbit/s"));
    }
    s.push_str(&format!(
        "  {} device{}",
        o.devices,
        if o.devices == 1 { "" } else { "s" }
    ));
    s
}

/// Draws `o` and its subtree; `last` is None for a root.
fn draw(
    out: &mut impl Write,
    rec: &export::Recorded,
    children: &HashMap<&str, Vec<usize>>,
    o: &export::OfficeView,
    indent: &str,
    last: Option<bool>,
) -> anyhow::Result<()> {
    let (branch, next) = match last {
        None => ("", String::new()),
        Some(true) => ("└── ", format!("{indent}    ")),
        Some(false) => ("├── ", format!("{indent}│   ")),
    };
    writeln!(out, "{indent}{branch}{}", describe(o))?;
    if let Some(kids) = children.get(o.name.as_str()) {
        for (k, &i) in kids.iter().enumerate() {
            draw(
                out,
                rec,
                children,
                &rec.offices[i],
                &next,
                Some(k + 1 == kids.len()),
            )?;
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonNode<'a> {
    #[serde(flatten)]
    office: &'a export::OfficeView,
    children: Vec<JsonNode<'a>>,
}

#[derive(Serialize)]
struct JsonTree<'a> {
    distribution_optimization: bool,
    offices: Vec<JsonNode<'a>>,
    no_office: &'a export::NoOffice,
}

fn tree_json(rec: &export::Recorded) -> JsonTree<'_> {
    let children = children_of(rec);
    fn node<'a>(
        rec: &'a export::Recorded,
        children: &HashMap<&str, Vec<usize>>,
        o: &'a export::OfficeView,
    ) -> JsonNode<'a> {
        JsonNode {
            office: o,
            children: children
                .get(o.name.as_str())
                .map(|k| {
                    k.iter()
                        .map(|&i| node(rec, children, &rec.offices[i]))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
    JsonTree {
        distribution_optimization: rec.distribution_optimization,
        offices: rec
            .offices
            .iter()
            .filter(|o| o.parent.is_none())
            .map(|o| node(rec, &children, o))
            .collect(),
        no_office: &rec.no_office,
    }
}

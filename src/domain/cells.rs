//! Spreadsheet formula injection: a CSV cell that starts with `=`, `+`,
//! `-`, `@`, TAB or CR is run as a formula by Excel and LibreOffice when
//! the file is opened. Every CSV p2pd writes passes its cells through
//! [`neutralise`], which prefixes such a cell with `'` (numbers such as
//! `-1.5` stay as they are). The topology importer undoes it with
//! [`restore`], so an export reads back byte for byte.
//!
//! The mapping is reversible: a cell made of `'`s followed by a trigger
//! character gets one more `'`, and [`restore`] removes exactly one from a
//! cell of that shape.

use std::borrow::Cow;

fn trigger(c: char) -> bool {
    matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r')
}

/// True when `s` is some `'`s, then a formula trigger character.
fn quoted_trigger(s: &str) -> bool {
    s.trim_start_matches('\'')
        .chars()
        .next()
        .is_some_and(trigger)
}

/// The cell as it is safe to write into a CSV file.
pub fn neutralise(s: &str) -> Cow<'_, str> {
    if quoted_trigger(s) && s.parse::<f64>().is_err() {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// Undoes [`neutralise`] on a cell read back from a CSV file.
pub fn restore(s: &str) -> &str {
    match s.strip_prefix('\'') {
        Some(rest) if quoted_trigger(rest) => rest,
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_and_restored() {
        for (raw, written) in [
            ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
            ("+1+1", "'+1+1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("- dash", "'- dash"),
            ("'=x", "''=x"),
            ("-1.5", "-1.5"),
            ("plain", "plain"),
            ("'quoted'", "'quoted'"),
            ("", ""),
        ] {
            assert_eq!(neutralise(raw), written, "{raw}");
            assert_eq!(restore(&neutralise(raw)), raw, "{raw}");
        }
    }
}

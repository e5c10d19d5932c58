//! What an office name may be. Office names reach terminals (`topology
//! show`, `devices list`, log lines), CSV and XLSX exports and the
//! dashboard, so a name must not be able to move the cursor, recolour a
//! terminal, reorder text around it, hide characters, or pass for the
//! label of devices that have no office. The same rule holds for every
//! office, however it is made: imported ([`super::import`]) or created
//! for a client subnet ([`super::place_device`]).
//!
//! Refused:
//!
//! - control characters: C0 (NUL, ESC, TAB, newlines …), DEL and C1;
//! - bidirectional formatting (U+061C, U+200E–U+200F, U+202A–U+202E,
//!   U+2066–U+2069), which can make a name read differently from what it
//!   is;
//! - invisible characters (zero-width space and joiners, word joiner,
//!   U+FEFF, soft hyphen) and the line and paragraph separators;
//! - [`NO_OFFICE_LABEL`], in any case: reports use it for devices with no
//!   office.
//!
//! Two names that differ only in case are refused by the importer, which
//! sees all names at once (see [`fold`]).

use std::fmt;

/// The label reports show for a device with no office.
pub const NO_OFFICE_LABEL: &str = "(no office)";

/// Why a name is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameProblem {
    /// A character that may not appear, and where (1-based, in characters).
    Character { ch: char, at: usize },
    /// The reserved label for devices with no office.
    Reserved,
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameProblem::Character { ch, at } => write!(
                f,
                "it contains U+{:04X} ({}) at character {at}; office names are shown on \
                 terminals, in exports and on the dashboard, so remove that character \
                 (retype the name if you cannot see it)",
                *ch as u32,
                describe(*ch)
            ),
            NameProblem::Reserved => write!(
                f,
                "'{NO_OFFICE_LABEL}' is how reports show devices that have no office; \
                 choose another name"
            ),
        }
    }
}

/// What kind of refused character `ch` is, for messages.
fn describe(ch: char) -> &'static str {
    match ch {
        '\0' => "NUL, a control character",
        '\u{1b}' => "ESC, a control character that starts terminal escape sequences",
        '\t' => "TAB, a control character",
        '\n' | '\r' => "a line break",
        c if c.is_control() => "a control character",
        '\u{061C}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}' => {
            "a bidirectional formatting character, which reorders the text around it"
        }
        '\u{2028}' | '\u{2029}' => "a line or paragraph separator",
        _ => "an invisible character",
    }
}

/// Whether `ch` may not appear in an office name.
fn refused(ch: char) -> bool {
    ch.is_control()
        || matches!(
            ch,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// Checks one office name (already trimmed); empty names are the caller's
/// own error.
pub fn check(name: &str) -> Result<(), NameProblem> {
    if let Some((i, ch)) = name.chars().enumerate().find(|(_, c)| refused(*c)) {
        return Err(NameProblem::Character { ch, at: i + 1 });
    }
    if fold(name) == fold(NO_OFFICE_LABEL) {
        return Err(NameProblem::Reserved);
    }
    Ok(())
}

/// The name as compared for uniqueness: two names with the same fold
/// differ only in case (`Branch` and `BRANCH`).
pub fn fold(name: &str) -> String {
    name.to_lowercase()
}

/// `name` safe to print in a message: refused characters are written as
/// `\u{…}` escapes, so an error about a name never itself sends a
/// terminal escape or reorders the line.
pub fn shown(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for ch in name.chars() {
        if refused(ch) {
            out.extend(ch.escape_unicode());
        } else {
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_controls_bidi_or_the_no_office_label_are_refused() {
        assert_eq!(check("Branch 7 — Zürich"), Ok(()));
        assert_eq!(check("auto 10.1.2.0/24"), Ok(()));
        assert_eq!(check("(no office) 2"), Ok(()));
        for (name, ch, at) in [
            ("A\0B", '\0', 2),
            ("\u{1b}[31mRed", '\u{1b}', 1),
            ("Lab\u{202E}gnp.exe", '\u{202E}', 4),
            ("Lab\u{2066}x", '\u{2066}', 4),
            ("Zero\u{200B}width", '\u{200B}', 5),
            ("Del\u{7f}", '\u{7f}', 4),
            ("C1\u{9b}", '\u{9b}', 3),
        ] {
            assert_eq!(
                check(name),
                Err(NameProblem::Character { ch, at }),
                "{name:?}"
            );
        }
        assert_eq!(check("(no office)"), Err(NameProblem::Reserved));
        assert_eq!(check("(No Office)"), Err(NameProblem::Reserved));
        assert_eq!(fold("BRANCH"), fold("branch"));
    }

    #[test]
    fn a_refused_name_is_shown_escaped() {
        let s = shown("\u{1b}[2JA\u{202E}B");
        assert_eq!(s, "\\u{1b}[2JA\\u{202e}B");
        assert!(!s.chars().any(refused));
        let msg = NameProblem::Character {
            ch: '\u{1b}',
            at: 1,
        }
        .to_string();
        assert!(msg.contains("U+001B (ESC"), "{msg}");
    }
}

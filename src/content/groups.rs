//! Groups assigned to peer distribution: only their devices enroll, hold a
//! license and receive content. This module validates names; the SQL is in
//! `store::content`.

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GroupNameError {
    #[error("a group name cannot be empty")]
    Empty,
    #[error("group name {0:?} contains a control character; use plain text like \"Sales EMEA\"")]
    Control(String),
    #[error("group name {0:?} is longer than {MAX_LEN} bytes")]
    TooLong(String),
}

/// Longest accepted name, in bytes.
pub const MAX_LEN: usize = 256;

/// Checks a group name and returns it trimmed of surrounding spaces (which
/// a device-management console never shows, so they only cause mismatches).
pub fn validate_group_name(name: &str) -> Result<String, GroupNameError> {
    let n = name.trim();
    if n.is_empty() {
        return Err(GroupNameError::Empty);
    }
    if n.chars().any(char::is_control) {
        return Err(GroupNameError::Control(name.to_string()));
    }
    if n.len() > MAX_LEN {
        return Err(GroupNameError::TooLong(name.to_string()));
    }
    Ok(n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(validate_group_name(" Sales EMEA ").unwrap(), "Sales EMEA");
        assert_eq!(validate_group_name("  "), Err(GroupNameError::Empty));
        assert!(matches!(
            validate_group_name("a\tb"),
            Err(GroupNameError::Control(_))
        ));
        assert!(matches!(
            validate_group_name("a\u{7f}"),
            Err(GroupNameError::Control(_))
        ));
    }
}

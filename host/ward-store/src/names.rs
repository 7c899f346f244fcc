//! Checks on identifiers the store keeps. The store never builds a path from them; these limits only
//! keep rows, audit entries and terminal output bounded and unambiguous.

use crate::StoreError;

/// Longest plugin name, key id, label or version the store accepts, in bytes.
///
/// Threat: an unbounded identifier (for example 10 KB) bloating every audit row and every listing.
pub const MAX_NAME_BYTES: usize = 256;

/// Longest operator-supplied free text (summary, disable reason), in bytes.
///
/// Threat: unbounded text in rows that are listed on every `ward list`.
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

/// Longest manifest or JSON document stored in a row, in bytes.
///
/// Threat: an oversized manifest or grants document making every `inspect` and `run` slow.
pub const MAX_DOC_BYTES: usize = 1024 * 1024;

/// Refuses identifiers that are empty, too long, or contain control characters (NUL included).
pub(crate) fn check_ident(what: &'static str, s: &str) -> Result<(), StoreError> {
    let reason = if s.is_empty() {
        "it is empty"
    } else if s.len() > MAX_NAME_BYTES {
        "it is longer than 256 bytes"
    } else if s.chars().any(|c| c.is_control()) {
        "it contains a control character"
    } else if s.chars().any(is_invisible) {
        "it contains an invisible or bidirectional formatting character"
    } else {
        return Ok(());
    };
    Err(StoreError::InvalidName {
        what,
        shown: shown(s),
        reason,
    })
}

/// Refuses free text that is too long or contains NUL.
pub(crate) fn check_text(what: &'static str, s: &str, max: usize) -> Result<(), StoreError> {
    let reason = if s.len() > max {
        "it is too long"
    } else if s.contains('\0') {
        "it contains NUL"
    } else {
        return Ok(());
    };
    Err(StoreError::InvalidName {
        what,
        shown: shown(s),
        reason,
    })
}

pub(crate) fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{00AD}')
}

/// A short, escaped rendering of untrusted text for error messages.
pub(crate) fn shown(s: &str) -> String {
    const MAX: usize = 64;
    let mut out: String = s.chars().take(MAX).flat_map(char::escape_debug).collect();
    if s.chars().count() > MAX {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_table() {
        let long = "a".repeat(10 * 1024);
        let cases: &[(&str, bool)] = &[
            ("ward:hello", true),
            ("../x", true),
            ("ward:аbc", true), // Cyrillic а: stored as its own name, never confused with Latin
            ("a\0b", false),
            ("", false),
            (&long, false),
            ("a\u{202E}b", false),
            ("a\nb", false),
        ];
        for (s, ok) in cases {
            assert_eq!(check_ident("plugin name", s).is_ok(), *ok, "{s:?}");
        }
        assert!(shown(&long).len() < 80);
    }
}

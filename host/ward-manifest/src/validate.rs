//! Checks for the plain values in a manifest: names, identifiers, text and paths. Each returns
//! the message for [`crate::ManifestError::Invalid`].

use crate::error::{is_invisible, shown};

/// Longest namespace, plugin name or command name.
pub(crate) const MAX_IDENT_LEN: usize = 64;
/// Longest environment variable or secret name.
pub(crate) const MAX_VAR_LEN: usize = 128;
/// Longest path, host or guest.
pub(crate) const MAX_PATH_LEN: usize = 1024;

/// A kebab-case identifier: `[a-z][a-z0-9-]*`, at most 64 characters, no `--`, no trailing
/// `-`. `what` names it in the message ("the namespace").
pub(crate) fn ident(what: &str, s: &str) -> Result<(), String> {
    const RULE: &str = "write a lowercase kebab-case identifier: a letter a-z, then a-z, 0-9 and single '-' (not last)";
    if s.is_empty() {
        return Err(format!("{what} is empty: {RULE}"));
    }
    if s.chars().count() > MAX_IDENT_LEN {
        return Err(format!(
            "{what} '{}' is longer than {MAX_IDENT_LEN} characters",
            shown(s)
        ));
    }
    if let Some(c) = s.chars().find(|c| !c.is_ascii()) {
        return Err(format!(
            "{what} '{}' has the non-ASCII character {} ({}): {RULE}",
            shown(s),
            c.escape_unicode(),
            char_name(c)
        ));
    }
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "{what} '{}' has uppercase letters: write {}",
            shown(s),
            shown(&s.to_ascii_lowercase())
        ));
    }
    let ok = s.as_bytes()[0].is_ascii_lowercase()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.contains("--")
        && !s.ends_with('-');
    if !ok {
        return Err(format!("{what} '{}' is not valid: {RULE}", shown(s)));
    }
    Ok(())
}

/// A few words about a non-ASCII character in an identifier, so that a confusable is named.
fn char_name(c: char) -> &'static str {
    match c {
        '\u{0400}'..='\u{04FF}' => "a Cyrillic letter that may look like a Latin one",
        '\u{0370}'..='\u{03FF}' => "a Greek letter that may look like a Latin one",
        c if c.is_control() => "a control character",
        c if is_invisible(c) || ward_policy::text::is_bidi_control(c) => "an invisible character",
        _ => "not ASCII",
    }
}

/// An environment variable or secret name: `[A-Z_][A-Z0-9_]*`, at most 128 characters.
pub(crate) fn var_name(what: &str, s: &str) -> Result<(), String> {
    if s.len() > MAX_VAR_LEN {
        return Err(format!(
            "{what} '{}' is longer than {MAX_VAR_LEN} characters",
            shown(s)
        ));
    }
    let ok = s
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_uppercase() || b == b'_')
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if !ok {
        let upper = s.to_ascii_uppercase();
        let hint = if upper != s
            && !upper.is_empty()
            && upper
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        {
            format!(": write {}", shown(&upper))
        } else {
            String::new()
        };
        return Err(format!(
            "{what} '{}' is not valid: write A-Z, 0-9 and '_', not starting with a digit{hint}",
            shown(s)
        ));
    }
    Ok(())
}

/// Free text shown to the operator: at most `max` bytes, no control characters other than
/// newline and tab, no bidi or invisible characters.
pub(crate) fn text(s: &str, max: usize, multiline: bool) -> Result<(), String> {
    if s.len() > max {
        return Err(format!("is {} bytes; the limit is {max} bytes", s.len()));
    }
    if let Some(c) = s.chars().find(|&c| {
        let ws = multiline && (c == '\n' || c == '\t');
        (c.is_control() && !ws) || ward_policy::text::is_bidi_control(c) || is_invisible(c)
    }) {
        return Err(format!(
            "has the control or invisible character {}: remove it",
            c.escape_unicode()
        ));
    }
    Ok(())
}

/// An absolute, normalized path: starts with `/`, no empty, `.` or `..` components, no trailing
/// `/` (except `/` itself), no control characters, at most 1024 bytes.
pub(crate) fn abs_path(what: &str, s: &str) -> Result<(), String> {
    if s.len() > MAX_PATH_LEN {
        return Err(format!(
            "{what} '{}' is longer than {MAX_PATH_LEN} bytes",
            shown(s)
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|&c| c.is_control() || ward_policy::text::is_bidi_control(c) || is_invisible(c))
    {
        return Err(format!(
            "{what} '{}' has the control or invisible character {}",
            shown(s),
            c.escape_unicode()
        ));
    }
    if !s.starts_with('/') {
        return Err(format!(
            "{what} '{}' is not absolute: write a path that starts with '/', for example /data",
            shown(s)
        ));
    }
    if s == "/" {
        return Ok(());
    }
    if s[1..]
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(format!(
            "{what} '{}' is not normalized: write it without '.', '..', repeated '/' or a trailing '/'",
            shown(s)
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn idents() {
        let rule = "write a lowercase kebab-case identifier: a letter a-z, then a-z, 0-9 and single '-' (not last)";
        let table: Vec<(String, Option<String>)> = vec![
            ("acme".into(), None),
            ("a1-b2".into(), None),
            ("a".repeat(64), None),
            ("".into(), Some(format!("x is empty: {rule}"))),
            (
                "a".repeat(65),
                Some(format!(
                    "x '{}' is longer than 64 characters",
                    "a".repeat(65)
                )),
            ),
            (
                "a".repeat(10_000),
                Some(format!(
                    "x '{}…' is longer than 64 characters",
                    "a".repeat(80)
                )),
            ),
            (
                "1abc".into(),
                Some(format!("x '1abc' is not valid: {rule}")),
            ),
            (
                "-abc".into(),
                Some(format!("x '-abc' is not valid: {rule}")),
            ),
            (
                "a--b".into(),
                Some(format!("x 'a--b' is not valid: {rule}")),
            ),
            ("ab-".into(), Some(format!("x 'ab-' is not valid: {rule}"))),
            ("a_b".into(), Some(format!("x 'a_b' is not valid: {rule}"))),
            (
                "../x".into(),
                Some(format!("x '../x' is not valid: {rule}")),
            ),
            ("a.b".into(), Some(format!("x 'a.b' is not valid: {rule}"))),
            (
                "Acme".into(),
                Some("x 'Acme' has uppercase letters: write acme".into()),
            ),
            (
                "a\0b".into(),
                Some(format!("x 'a\\u{{0}}b' is not valid: {rule}")),
            ),
            (
                "\u{430}cme".into(),
                Some(format!(
                    "x '\u{430}cme' has the non-ASCII character \\u{{430}} (a Cyrillic letter that may look like a Latin one): {rule}"
                )),
            ),
            (
                "ac\u{200B}me".into(),
                Some(format!(
                    "x 'ac\\u{{200b}}me' has the non-ASCII character \\u{{200b}} (an invisible character): {rule}"
                )),
            ),
        ];
        for (input, want) in table {
            assert_eq!(ident("x", &input).err(), want, "{input:?}");
        }
    }

    #[test]
    fn var_names() {
        assert_eq!(var_name("x", "LANG"), Ok(()));
        assert_eq!(var_name("x", "_A1"), Ok(()));
        assert_eq!(
            var_name("x", "lang").unwrap_err(),
            "x 'lang' is not valid: write A-Z, 0-9 and '_', not starting with a digit: write LANG"
        );
        assert_eq!(
            var_name("x", "1A").unwrap_err(),
            "x '1A' is not valid: write A-Z, 0-9 and '_', not starting with a digit"
        );
        assert_eq!(
            var_name("x", "A=B").unwrap_err(),
            "x 'A=B' is not valid: write A-Z, 0-9 and '_', not starting with a digit"
        );
        assert_eq!(
            var_name("x", "").unwrap_err(),
            "x '' is not valid: write A-Z, 0-9 and '_', not starting with a digit"
        );
    }

    #[test]
    fn paths() {
        let table: &[(&str, Option<&str>)] = &[
            ("/", None),
            ("/data", None),
            ("/srv/data", None),
            ("/srv/my data", None),
            (
                "data",
                Some(
                    "p 'data' is not absolute: write a path that starts with '/', for example /data",
                ),
            ),
            (
                "",
                Some("p '' is not absolute: write a path that starts with '/', for example /data"),
            ),
            (
                "/a/../b",
                Some(
                    "p '/a/../b' is not normalized: write it without '.', '..', repeated '/' or a trailing '/'",
                ),
            ),
            (
                "/..",
                Some(
                    "p '/..' is not normalized: write it without '.', '..', repeated '/' or a trailing '/'",
                ),
            ),
            (
                "/a/./b",
                Some(
                    "p '/a/./b' is not normalized: write it without '.', '..', repeated '/' or a trailing '/'",
                ),
            ),
            (
                "/a//b",
                Some(
                    "p '/a//b' is not normalized: write it without '.', '..', repeated '/' or a trailing '/'",
                ),
            ),
            (
                "/a/",
                Some(
                    "p '/a/' is not normalized: write it without '.', '..', repeated '/' or a trailing '/'",
                ),
            ),
            (
                "/a\0b",
                Some("p '/a\\u{0}b' has the control or invisible character \\u{0}"),
            ),
        ];
        for (input, want) in table {
            assert_eq!(abs_path("p", input).err().as_deref(), *want, "{input:?}");
        }
    }

    #[test]
    fn texts() {
        assert_eq!(
            text("hello\tworld", 10, false).unwrap_err(),
            "is 11 bytes; the limit is 10 bytes"
        );
        assert_eq!(
            text("a\u{1b}[2Jb", 100, false).unwrap_err(),
            "has the control or invisible character \\u{1b}: remove it"
        );
        assert_eq!(
            text("a\u{202e}b", 100, false).unwrap_err(),
            "has the control or invisible character \\u{202e}: remove it"
        );
        assert_eq!(text("line\nline", 100, true), Ok(()));
        assert!(text("line\nline", 100, false).is_err());
    }
}

//! `{{secret:NAME}}` placeholders: how a plugin names a secret it may not see.
//!
//! Syntax, exactly: `{{secret:` then a secret name (`[A-Z_][A-Z0-9_]*`, at most
//! [`crate::MAX_NAME_LEN`] characters) then `}}`. No spaces, no other case. Any `{{secret:` that is
//! not followed by a valid name and `}}` makes [`substitute`] refuse the whole text.

use zeroize::Zeroizing;

use crate::SecretValue;
use crate::name::is_valid_name;

/// What opens a placeholder.
pub const PLACEHOLDER_OPEN: &str = "{{secret:";
/// What closes a placeholder.
pub const PLACEHOLDER_CLOSE: &str = "}}";

/// Why a text with placeholders was refused. Messages hold names and offsets, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlaceholderError {
    /// A `{{secret:` not followed by a valid name and `}}`.
    #[error(
        "malformed secret placeholder at byte {offset}: write {{{{secret:NAME}}}} with NAME in A-Z, 0-9 and '_', not starting with a digit"
    )]
    Malformed {
        /// Byte offset of the `{{secret:`.
        offset: usize,
    },
    /// The lookup had no value for this name (unknown, unbound or not granted).
    #[error("secret {name} is not available for this request")]
    NotAvailable {
        /// The name in the placeholder.
        name: String,
    },
}

/// One parsed placeholder: byte range in the text and the name.
fn parse(text: &str) -> impl Iterator<Item = Result<(usize, usize, &str), usize>> + '_ {
    let mut from = 0;
    std::iter::from_fn(move || {
        let start = from + text.get(from..)?.find(PLACEHOLDER_OPEN)?;
        let name_start = start + PLACEHOLDER_OPEN.len();
        let rest = &text[name_start..];
        let name_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
            .count();
        let name = &rest[..name_len];
        if !is_valid_name(name) || !rest[name_len..].starts_with(PLACEHOLDER_CLOSE) {
            from = name_start;
            return Some(Err(start));
        }
        let end = name_start + name_len + PLACEHOLDER_CLOSE.len();
        from = end;
        Some(Ok((start, end, name)))
    })
}

/// The names in the well-formed placeholders of `text`, in order of first appearance, each once.
/// Malformed ones are skipped here (see [`has_placeholder_marker`] and [`substitute`]).
pub fn find_placeholders(text: &str) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for (_, _, name) in parse(text).flatten() {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Whether `text` contains `{{secret:` at all, well-formed or not. A request whose headers or URL
/// contain one must not be sent to a host the secret is not bound to.
pub fn has_placeholder_marker(text: &str) -> bool {
    text.contains(PLACEHOLDER_OPEN)
}

/// Replaces every placeholder in `text` with the value `lookup` returns for its name. Refuses the
/// whole text if any `{{secret:` is malformed or any name has no value; the result is zeroed on
/// drop. Values are inserted as they are and not scanned again.
pub fn substitute<F>(text: &str, mut lookup: F) -> Result<Zeroizing<String>, PlaceholderError>
where
    F: FnMut(&str) -> Option<SecretValue>,
{
    let mut out = Zeroizing::new(String::with_capacity(text.len()));
    let mut pos = 0;
    for item in parse(text) {
        let (start, end, name) = item.map_err(|offset| PlaceholderError::Malformed { offset })?;
        let value = lookup(name).ok_or_else(|| PlaceholderError::NotAvailable {
            name: name.to_owned(),
        })?;
        let needed = out.len() + (start - pos) + value.len() + (text.len() - end);
        if needed > out.capacity() {
            // Grow into a fresh buffer so no partial copy is left behind unzeroed.
            let mut bigger = Zeroizing::new(String::with_capacity(needed));
            bigger.push_str(&out);
            out = bigger;
        }
        out.push_str(&text[pos..start]);
        out.push_str(value.expose());
        pos = end;
    }
    out.push_str(&text[pos..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> SecretValue {
        SecretValue::new(Zeroizing::new(s.to_owned()))
    }

    fn lookup(name: &str) -> Option<SecretValue> {
        match name {
            "TOKEN" => Some(v("t0k")),
            "_B2" => Some(v("{{secret:TOKEN}}")),
            _ => None,
        }
    }

    #[test]
    fn finds_well_formed_placeholders() {
        let cases: &[(&str, &[&str])] = &[
            ("", &[]),
            ("Bearer {{secret:TOKEN}}", &["TOKEN"]),
            ("{{secret:A}}{{secret:B}}{{secret:A}}", &["A", "B"]),
            ("https://x/?k={{secret:_B2}}&z=1", &["_B2"]),
            ("{{secret:token}}", &[]),
            ("{{ secret:TOKEN }}", &[]),
            ("{{SECRET:TOKEN}}", &[]),
            ("{{secret:TOKEN}", &[]),
            ("{{secret:}}", &[]),
            ("{{secret:1A}}", &[]),
            ("{{secret:{{secret:TOKEN}}", &["TOKEN"]),
        ];
        for (text, want) in cases {
            assert_eq!(&find_placeholders(text), want, "{text:?}");
        }
    }

    #[test]
    fn substitutes_exactly() {
        let cases = [
            ("Bearer {{secret:TOKEN}}", "Bearer t0k"),
            ("{{secret:TOKEN}}{{secret:TOKEN}}", "t0kt0k"),
            ("no placeholder {{x}}", "no placeholder {{x}}"),
            ("ünï {{secret:TOKEN}} ✓", "ünï t0k ✓"),
            // A value that looks like a placeholder is not expanded again.
            ("{{secret:_B2}}", "{{secret:TOKEN}}"),
        ];
        for (text, want) in cases {
            assert_eq!(substitute(text, lookup).unwrap().as_str(), want, "{text:?}");
        }
    }

    #[test]
    fn malformed_placeholder_is_refused() {
        for (text, offset) in [
            ("a {{secret:token}}", 2),
            ("{{secret:TOKEN}", 0),
            ("{{secret:TOKEN}} {{secret:", 17),
            ("{{secret: TOKEN}}", 0),
            ("{{secret:1X}}", 0),
            ("{{secret:TOKEN-2}}", 0),
        ] {
            assert_eq!(
                substitute(text, lookup).unwrap_err(),
                PlaceholderError::Malformed { offset },
                "{text:?}"
            );
            assert!(has_placeholder_marker(text));
        }
        let too_long = format!("{{{{secret:{}}}}}", "A".repeat(crate::MAX_NAME_LEN + 1));
        assert!(substitute(&too_long, lookup).is_err());
        assert_eq!(
            PlaceholderError::Malformed { offset: 3 }.to_string(),
            "malformed secret placeholder at byte 3: write {{secret:NAME}} with NAME in A-Z, 0-9 and '_', not starting with a digit"
        );
    }

    #[test]
    fn unknown_secret_is_refused() {
        assert_eq!(
            substitute("{{secret:TOKEN}} {{secret:OTHER}}", lookup).unwrap_err(),
            PlaceholderError::NotAvailable {
                name: "OTHER".into()
            }
        );
    }
}

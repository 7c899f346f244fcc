//! Guest-controlled text on its way to a person.

/// Replaces control characters (except newline and tab when `multiline`) and Unicode bidi
/// controls with U+FFFD, so that text a plugin controls cannot move the cursor, change colours,
/// set a terminal title, or reorder what the reader sees (Trojan Source).
pub fn sanitize(text: &str, multiline: bool) -> String {
    text.chars()
        .map(|c| {
            let allowed_ws = multiline && (c == '\n' || c == '\t');
            if (c.is_control() && !allowed_ws) || is_bidi_control(c) || is_separator(c) {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// Like [`sanitize`] on one line, cut to at most `max` bytes (on a character boundary) with
/// `…` appended when cut.
pub fn sanitize_line(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    for c in text.chars() {
        if out.len() + c.len_utf8() > max {
            out.push('…');
            break;
        }
        if c.is_control() || is_bidi_control(c) || is_separator(c) {
            out.push('\u{FFFD}');
        } else {
            out.push(c);
        }
    }
    out
}

/// Unicode characters that change the display order of text.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// The Unicode line and paragraph separators (U+2028, U+2029): line breaks to many terminals,
/// editors and JavaScript, though not to `char::is_control`.
pub fn is_separator(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}')
}

/// Whether `c` must not reach a terminal or a JSON consumer raw: a control character (C0, C1,
/// DEL), a bidi control or a line/paragraph separator.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control() || is_bidi_control(c) || is_separator(c)
}

/// Rewrites, in serialized JSON, every character [`is_unsafe_char`] flags that serde_json writes
/// raw (DEL, the C1 controls, bidi controls, line/paragraph separators) as a `\uXXXX` escape;
/// JSON allows both forms. Compact JSON holds none of them outside strings, so the value is
/// unchanged for a JSON parser, and a person reading the text or a JavaScript consumer is not
/// misled by it.
pub fn escape_json_text(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if is_unsafe_char(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_bidi_are_replaced() {
        let table = [
            ("plain text", "plain text"),
            ("\x1b[31mred\x1b[0m", "\u{FFFD}[31mred\u{FFFD}[0m"),
            ("title\x1b]0;pwned\x07", "title\u{FFFD}]0;pwned\u{FFFD}"),
            ("abc\u{202E}fed", "abc\u{FFFD}fed"),
            ("isolate\u{2066}x\u{2069}", "isolate\u{FFFD}x\u{FFFD}"),
            ("carriage\rreturn", "carriage\u{FFFD}return"),
            ("héllo wörld ✓", "héllo wörld ✓"),
            ("line\u{2028}sep\u{2029}para", "line\u{FFFD}sep\u{FFFD}para"),
            ("c1\u{9b}31m", "c1\u{FFFD}31m"),
        ];
        for (input, want) in table {
            assert_eq!(sanitize(input, false), want, "{input:?}");
        }
        assert_eq!(sanitize("a\nb\tc", true), "a\nb\tc");
        assert_eq!(sanitize("a\nb", false), "a\u{FFFD}b");
    }

    #[test]
    fn json_text_escapes_bidi_and_separators() {
        let v = serde_json::json!({"k": "a\u{202E}b\u{2028}c\u{9b}d\u{7f}e\u{1b}f"});
        let escaped = escape_json_text(&v.to_string());
        assert_eq!(escaped, r#"{"k":"a\u202eb\u2028c\u009bd\u007fe\u001bf"}"#);
        let back: serde_json::Value = serde_json::from_str(&escaped).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn lines_are_cut_on_char_boundaries() {
        assert_eq!(sanitize_line("ééé", 4), "éé…");
        assert_eq!(sanitize_line("abc", 3), "abc");
        assert_eq!(sanitize_line("a\nb", 10), "a\u{FFFD}b");
    }
}

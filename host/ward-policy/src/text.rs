//! Guest-controlled text on its way to a person.

/// Replaces control characters (except newline and tab when `multiline`) and Unicode bidi
/// controls with U+FFFD, so that text a plugin controls cannot move the cursor, change colours,
/// set a terminal title, or reorder what the reader sees (Trojan Source).
pub fn sanitize(text: &str, multiline: bool) -> String {
    text.chars()
        .map(|c| {
            let allowed_ws = multiline && (c == '\n' || c == '\t');
            if (c.is_control() && !allowed_ws) || is_bidi_control(c) {
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
        if c.is_control() || is_bidi_control(c) {
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
        ];
        for (input, want) in table {
            assert_eq!(sanitize(input, false), want, "{input:?}");
        }
        assert_eq!(sanitize("a\nb\tc", true), "a\nb\tc");
        assert_eq!(sanitize("a\nb", false), "a\u{FFFD}b");
    }

    #[test]
    fn lines_are_cut_on_char_boundaries() {
        assert_eq!(sanitize_line("ééé", 4), "éé…");
        assert_eq!(sanitize_line("abc", 3), "abc");
        assert_eq!(sanitize_line("a\nb", 10), "a\u{FFFD}b");
    }
}

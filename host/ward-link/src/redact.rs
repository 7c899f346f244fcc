//! Guest text on its way out of the host: redacted by the call's redactor, then sanitized.

use ward_redact::Redactor;

/// `text` redacted and sanitized to one line of at most `max` bytes (plus `…` when cut).
///
/// Only the first `max` bytes plus the redactor's [`Redactor::lookahead`] are examined, so the
/// work is bounded whatever the length of `text`, and a credential that starts in the kept part
/// is redacted whole rather than cut into a visible prefix.
pub fn redacted_line(redactor: &Redactor, text: &str, max: usize) -> String {
    let window = text.floor_char_boundary(max.saturating_add(redactor.lookahead()));
    let cut = window < text.len();
    let redacted = redactor.redact(&text[..window]);
    let mut line = ward_policy::text::sanitize_line(&redacted, max);
    if cut && !line.ends_with('…') {
        line.push('…');
    }
    line
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn token() -> String {
        format!("ghp_{}", "a1B2".repeat(9))
    }

    #[test]
    fn a_token_straddling_the_cut_is_redacted_whole() {
        let red = Redactor::builtin();
        let text = format!("{} {}", "x".repeat(10), token());
        let line = redacted_line(&red, &text, 20);
        assert_eq!(line, format!("{} [redacted…", "x".repeat(10)));
        assert!(!line.contains("ghp_"));
    }

    #[test]
    fn control_characters_are_replaced_after_redaction() {
        let red = Redactor::builtin();
        let text = format!("a\n{}\x1b[0m", token());
        assert_eq!(
            redacted_line(&red, &text, 100),
            "a\u{FFFD}[redacted:github-token]\u{FFFD}[0m"
        );
    }

    #[test]
    fn a_known_secret_past_the_window_is_not_examined_and_not_kept() {
        let mut red = Redactor::builtin();
        red.add_secret("hunter2-hunter2").unwrap();
        let text = format!("{}hunter2-hunter2", "y".repeat(10_000));
        let line = redacted_line(&red, &text, 16);
        assert_eq!(line, format!("{}…", "y".repeat(16)));
    }

    fn private_key(body_len: usize) -> String {
        format!(
            "-----BEGIN {}-----\n{}\n-----END {}-----",
            "PRIVATE KEY",
            "QUJD".repeat(body_len / 4),
            "PRIVATE KEY"
        )
    }

    #[test]
    fn a_long_text_cut_after_redaction_shrank_it_still_says_so() {
        let red = Redactor::builtin();
        let text = format!("k {} {}", private_key(800), "z".repeat(5000));
        assert_eq!(
            redacted_line(&red, &text, 30),
            "k [redacted:private-key] zzzzz…"
        );
    }

    #[test]
    fn a_private_key_ending_past_the_window_is_redacted_to_the_end() {
        let red = Redactor::builtin();
        let text = format!("k {} tail", private_key(4000));
        assert_eq!(redacted_line(&red, &text, 30), "k [redacted:private-key]…");
    }
}

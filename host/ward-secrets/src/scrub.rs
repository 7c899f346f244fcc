//! The scrubber: removes secret values, in the encodings a server is likely to echo them in, from
//! a byte stream before a guest reads it.

use std::fmt;

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

/// What every caught form of a secret is replaced with.
pub const REDACTED_SECRET: &[u8] = b"[redacted:secret]";

/// Shortest alignment-shifted base64 fragment that is searched for. Shorter fragments of a short
/// secret would match unrelated base64 text by chance.
const MIN_SHIFTED_BASE64: usize = 8;

/// The scrubber could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the secret scrubber: {reason}")]
pub struct ScrubError {
    reason: String,
}

/// Replaces secret values in a stream of byte chunks with [`REDACTED_SECRET`].
///
/// For each value it catches: the raw bytes; percent-encoding (RFC 3986, JavaScript
/// `encodeURIComponent` and form style, upper- and lowercase hex); JSON string escaping (as
/// serde_json writes it, with `\/`, and ASCII-only with `\uXXXX` and HTML-safe escapes); standard
/// and URL-safe base64, padded and unpadded, also where the value sits at any of the 3 byte
/// alignments inside a longer base64 text. A form split across chunks is caught: the scrubber
/// holds back the last (longest form − 1) bytes until the next chunk or [`Scrubber::finish`].
///
/// It does not catch a value the server transformed otherwise (hex, compression, encryption,
/// case changes, line-wrapped base64, HTML entities, a value cut in pieces).
pub struct Scrubber {
    matcher: Option<AhoCorasick>,
    max_len: usize,
    tail: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scrubber")
            .field(
                "patterns",
                &self.matcher.as_ref().map_or(0, |m| m.patterns_len()),
            )
            .finish_non_exhaustive()
    }
}

impl Scrubber {
    /// A scrubber for `values`. Empty values are ignored.
    pub fn new<I, V>(values: I) -> Result<Scrubber, ScrubError>
    where
        I: IntoIterator<Item = V>,
        V: AsRef<[u8]>,
    {
        let mut patterns: Vec<Zeroizing<Vec<u8>>> = Vec::new();
        for v in values {
            let v = v.as_ref();
            if v.is_empty() {
                continue;
            }
            for form in forms(v) {
                if !form.is_empty() && !patterns.iter().any(|p| **p == *form) {
                    patterns.push(form);
                }
            }
        }
        let max_len = patterns.iter().map(|p| p.len()).max().unwrap_or(0);
        let matcher = if patterns.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(patterns.iter().map(|p| p.as_slice()))
                    .map_err(|e| ScrubError {
                        reason: e.to_string(),
                    })?,
            )
        };
        Ok(Scrubber {
            matcher,
            max_len,
            tail: Zeroizing::new(Vec::new()),
        })
    }

    /// Whether this scrubber has nothing to look for.
    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// Scrubs the next chunk. Returns what is safe to pass on now; up to (longest form − 1) bytes
    /// are held back until the next call or [`Scrubber::finish`].
    pub fn scrub(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut buf = Zeroizing::new(Vec::with_capacity(self.tail.len() + chunk.len()));
        buf.extend_from_slice(&self.tail);
        buf.extend_from_slice(chunk);
        let hold = self.max_len.saturating_sub(1);
        let safe_end = buf.len().saturating_sub(hold);
        let mut out = Vec::with_capacity(buf.len());
        let keep = self.scan(&buf, safe_end, &mut out);
        self.tail = Zeroizing::new(buf[keep..].to_vec());
        out
    }

    /// Scrubs and returns what was held back. Call it at the end of the stream: bytes held back
    /// are otherwise dropped.
    pub fn finish(&mut self) -> Vec<u8> {
        let buf = std::mem::take(&mut self.tail);
        let mut out = Vec::with_capacity(buf.len());
        self.scan(&buf, buf.len(), &mut out);
        out
    }

    /// Scrubs one complete buffer (for example a header value), independent of any stream.
    pub fn scrub_all(&self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len());
        self.scan(data, data.len(), &mut out);
        out
    }

    /// Copies `buf` to `out`, replacing every match that starts before `safe_end`; stops at
    /// `safe_end` or after the last such match and returns where it stopped.
    fn scan(&self, buf: &[u8], safe_end: usize, out: &mut Vec<u8>) -> usize {
        let mut pos = 0;
        if let Some(m) = &self.matcher {
            for found in m.find_iter(buf) {
                if found.start() >= safe_end {
                    break;
                }
                out.extend_from_slice(&buf[pos..found.start()]);
                out.extend_from_slice(REDACTED_SECRET);
                pos = found.end();
            }
        }
        let stop = pos.max(safe_end);
        out.extend_from_slice(&buf[pos..stop]);
        stop
    }
}

/// Every form of `v` the scrubber searches for.
fn forms(v: &[u8]) -> Vec<Zeroizing<Vec<u8>>> {
    let mut out = vec![Zeroizing::new(v.to_vec())];
    // Percent-encoding: RFC 3986 unreserved, encodeURIComponent, and form encoding.
    let rfc = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
    let js = |b: u8| b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b);
    let form = |b: u8| b.is_ascii_alphanumeric() || b"-_.*".contains(&b);
    for upper in [true, false] {
        out.push(percent(v, rfc, false, upper));
        out.push(percent(v, js, false, upper));
        out.push(percent(v, form, true, upper));
    }
    // JSON string escaping.
    if let Ok(s) = std::str::from_utf8(v) {
        if let Ok(quoted) = serde_json::to_string(s) {
            let inner = Zeroizing::new(quoted);
            let inner = &inner[1..inner.len() - 1];
            out.push(Zeroizing::new(inner.as_bytes().to_vec()));
            out.push(Zeroizing::new(inner.replace('/', "\\/").into_bytes()));
        }
        out.push(json_ascii(s, false));
        out.push(json_ascii(s, true));
    }
    // Base64, aligned: the whole encoding, padded and not.
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        out.push(Zeroizing::new(engine.encode(v).into_bytes()));
    }
    // Base64 inside a longer encoding, at each of the 3 alignments: only the characters that
    // depend on `v` alone.
    for shift in 0..3usize {
        let mut shifted = Zeroizing::new(vec![0u8; shift]);
        shifted.extend_from_slice(v);
        let start = (8 * shift).div_ceil(6);
        let end = 8 * (shift + v.len()) / 6;
        if end < start || end - start < MIN_SHIFTED_BASE64 {
            continue;
        }
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let enc = Zeroizing::new(engine.encode(&*shifted));
            out.push(Zeroizing::new(enc.as_bytes()[start..end].to_vec()));
        }
    }
    out
}

fn percent(v: &[u8], keep: impl Fn(u8) -> bool, plus: bool, upper: bool) -> Zeroizing<Vec<u8>> {
    const UP: &[u8; 16] = b"0123456789ABCDEF";
    const LO: &[u8; 16] = b"0123456789abcdef";
    let hex = if upper { UP } else { LO };
    let mut out = Zeroizing::new(Vec::with_capacity(v.len() * 3));
    for &b in v {
        if keep(b) {
            out.push(b);
        } else if plus && b == b' ' {
            out.push(b'+');
        } else {
            out.extend_from_slice(&[b'%', hex[usize::from(b >> 4)], hex[usize::from(b & 15)]]);
        }
    }
    out
}

/// JSON escaping that writes only ASCII: non-ASCII as `\uXXXX` (surrogate pairs above the BMP),
/// and `<`, `>`, `&`, `'` as Go's HTML-safe encoder does.
fn json_ascii(s: &str, upper: bool) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(String::with_capacity(s.len() * 6));
    let unit = |u: u16, out: &mut String| {
        if upper {
            out.push_str(&format!("\\u{u:04X}"));
        } else {
            out.push_str(&format!("\\u{u:04x}"));
        }
    };
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\'' => unit(c as u16, &mut out),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    unit(*u, &mut out);
                }
            }
        }
    }
    Zeroizing::new(out.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3t-Value/with+stuff?&=\"\\ü";

    fn scrubber() -> Scrubber {
        Scrubber::new([SECRET]).unwrap()
    }

    fn all(s: &Scrubber, data: &[u8]) -> String {
        String::from_utf8(s.scrub_all(data)).unwrap()
    }

    fn stream(chunks: &[&[u8]]) -> Vec<u8> {
        let mut s = scrubber();
        let mut out = Vec::new();
        for c in chunks {
            out.extend(s.scrub(c));
        }
        out.extend(s.finish());
        out
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn echo_plain_is_scrubbed() {
        let s = scrubber();
        assert_eq!(
            all(&s, format!("you sent {SECRET}!").as_bytes()),
            "you sent [redacted:secret]!"
        );
    }

    #[test]
    fn echo_base64_is_scrubbed() {
        let s = scrubber();
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            let enc = engine.encode(SECRET);
            assert_eq!(
                all(&s, format!("auth: {enc}.").as_bytes()),
                "auth: [redacted:secret].",
                "{enc}"
            );
        }
    }

    #[test]
    fn base64_embedded_at_every_alignment_is_scrubbed() {
        let s = scrubber();
        for prefix in ["", "u", "us", "use", "user:", "username:"] {
            for suffix in ["", "x", "xy", "xyz"] {
                let plain = format!("{prefix}{SECRET}{suffix}");
                for engine in [&STANDARD, &URL_SAFE_NO_PAD] {
                    let enc = engine.encode(&plain);
                    let out = s.scrub_all(enc.as_bytes());
                    assert!(contains(&out, REDACTED_SECRET), "{prefix:?} {suffix:?}");
                    // At most a few bits of the value survive next to the marker.
                    let kept = out.len() - REDACTED_SECRET.len();
                    assert!(kept <= 4 * (prefix.len() + suffix.len()) / 3 + 6, "{enc}");
                }
            }
        }
    }

    #[test]
    fn echo_url_encoded_is_scrubbed() {
        let s = scrubber();
        let upper = "s3cr3t-Value%2Fwith%2Bstuff%3F%26%3D%22%5C%C3%BC";
        let lower = "s3cr3t-Value%2fwith%2bstuff%3f%26%3d%22%5c%c3%bc";
        for enc in [upper, lower] {
            assert_eq!(
                all(&s, format!("q={enc}&x=1").as_bytes()),
                "q=[redacted:secret]&x=1"
            );
        }
        let spaced = Scrubber::new(["a secret with spaces!"]).unwrap();
        for enc in [
            "a+secret+with+spaces%21",
            "a%20secret%20with%20spaces!",
            "a%20secret%20with%20spaces%21",
        ] {
            assert_eq!(all(&spaced, enc.as_bytes()), "[redacted:secret]", "{enc}");
        }
    }

    #[test]
    fn echo_json_escaped_is_scrubbed() {
        let s = scrubber();
        let body = serde_json::json!({ "echo": SECRET }).to_string();
        assert_eq!(all(&s, body.as_bytes()), r#"{"echo":"[redacted:secret]"}"#);
        let slashed = r#"{"echo":"s3cr3t-Value\/with+stuff?&=\"\\ü"}"#;
        assert_eq!(
            all(&s, slashed.as_bytes()),
            r#"{"echo":"[redacted:secret]"}"#
        );
        let ascii = r#"{"echo":"s3cr3t-Value/with+stuff?\u0026=\"\\\u00fc"}"#;
        assert_eq!(all(&s, ascii.as_bytes()), r#"{"echo":"[redacted:secret]"}"#);
    }

    #[test]
    fn split_across_two_chunks_at_every_offset() {
        let msg = format!("HTTP body: {SECRET} and {} end", STANDARD.encode(SECRET));
        let want = "HTTP body: [redacted:secret] and [redacted:secret] end".as_bytes();
        let b = msg.as_bytes();
        for i in 0..=b.len() {
            assert_eq!(stream(&[&b[..i], &b[i..]]), want, "split at {i}");
        }
    }

    #[test]
    fn split_across_three_chunks_at_every_offset() {
        let msg = format!("<{SECRET}>");
        let b = msg.as_bytes();
        for i in 0..=b.len() {
            for j in i..=b.len() {
                assert_eq!(
                    stream(&[&b[..i], &b[i..j], &b[j..]]),
                    b"<[redacted:secret]>",
                    "split at {i},{j}"
                );
            }
        }
    }

    #[test]
    fn byte_at_a_time_is_scrubbed() {
        let msg = format!("a{SECRET}b{SECRET}");
        let chunks: Vec<&[u8]> = msg.as_bytes().chunks(1).collect();
        assert_eq!(stream(&chunks), b"a[redacted:secret]b[redacted:secret]");
    }

    #[test]
    fn overlapping_occurrences_leave_no_whole_value() {
        let s = Scrubber::new(["abab"]).unwrap();
        for text in ["ababab", "abababab", "xabababx"] {
            let out = s.scrub_all(text.as_bytes());
            assert!(!contains(&out, b"abab"), "{text}");
        }
        assert_eq!(all(&s, b"abababab"), "[redacted:secret][redacted:secret]");
        let two = Scrubber::new(["secret-one", "one-two"]).unwrap();
        assert_eq!(all(&two, b"secret-one-two"), "[redacted:secret]-two");
    }

    #[test]
    fn no_false_positive_on_unrelated_text() {
        let s = scrubber();
        for text in [
            "",
            "hello world",
            "s3cr3t-Value/with+stuff?&=\"\\",
            "s3cr3t",
            "c3Nj",
            &STANDARD.encode("something else entirely, of some length"),
            "%2F%2B%3F",
        ] {
            assert_eq!(all(&s, text.as_bytes()), text);
        }
        let long: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let mut st = scrubber();
        let mut out = st.scrub(&long[..5000]);
        out.extend(st.scrub(&long[5000..]));
        out.extend(st.finish());
        assert_eq!(out, long);
    }

    #[test]
    fn several_secrets_and_empty_scrubber() {
        let s = Scrubber::new(["first-secret", "", "second-secret"]).unwrap();
        assert_eq!(
            all(&s, b"first-secret second-secret"),
            "[redacted:secret] [redacted:secret]"
        );
        let none = Scrubber::new(Vec::<&str>::new()).unwrap();
        assert!(none.is_empty());
        let mut none = none;
        assert_eq!(none.scrub(b"abc"), b"abc");
        assert_eq!(none.finish(), b"");
    }

    #[test]
    fn debug_does_not_show_patterns() {
        let dbg = format!("{:?}", scrubber());
        assert!(!dbg.contains("s3cr3t"), "{dbg}");
    }
}

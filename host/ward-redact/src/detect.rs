//! Detectors and the redactor.

use std::borrow::Cow;
use std::fmt;

use regex::bytes::{Regex, RegexBuilder};
use serde::Deserialize;
use ward_secrets::Scrubber;

use crate::config::{
    MAX_EXTRA_PATTERNS, MAX_PATTERN_LEN, REGEX_SIZE_LIMIT, RedactConfig, RedactError,
    check_pattern_name,
};

/// A kind of credential the redactor knows. Shown as `[redacted:KIND]` with the kebab-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Kind {
    /// AWS access key id (`AKIA…`, `ASIA…`) or a secret access key after `aws_secret_access_key=`.
    AwsKey,
    /// Google Cloud API key (`AIza…`).
    GcpKey,
    /// GitHub token (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`).
    GithubToken,
    /// GitLab token (`glpat-` and the other `gl…-` prefixes).
    GitlabToken,
    /// Slack token (`xoxa-`, `xoxb-`, `xoxp-`, `xoxr-`).
    SlackToken,
    /// OpenAI API key (`sk-…`, `sk-proj-…`).
    OpenaiKey,
    /// Anthropic API key (`sk-ant-…`).
    AnthropicKey,
    /// A PEM private key block (also an unterminated one).
    PrivateKey,
    /// A JSON Web Token (three base64url segments, the first two starting `eyJ`).
    Jwt,
    /// A known secret value from ward's secret store, in any form the scrubber knows.
    Secret,
}

impl Kind {
    /// The kebab-case name, as in `[redacted:NAME]` and in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::AwsKey => "aws-key",
            Kind::GcpKey => "gcp-key",
            Kind::GithubToken => "github-token",
            Kind::GitlabToken => "gitlab-token",
            Kind::SlackToken => "slack-token",
            Kind::OpenaiKey => "openai-key",
            Kind::AnthropicKey => "anthropic-key",
            Kind::PrivateKey => "private-key",
            Kind::Jwt => "jwt",
            Kind::Secret => "secret",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Not a token character on the left of a token: any byte outside the token alphabet, so that a
/// token next to a non-UTF-8 byte is still found.
const B: &str = r"(?:^|(?-u:[^A-Za-z0-9_-]))";
/// Not a token character on the right of a token.
const E: &str = r"(?:$|(?-u:[^A-Za-z0-9_-]))";

/// How far past a cut point a built-in token that starts before the cut can reach, in bytes
/// (the longest is a GitLab token with its suffixes, under 500 bytes).
const TOKEN_LOOKAHEAD: usize = 1024;
/// Longest encoded form of a secret value per byte of the value (JSON `\uXXXX` escaping).
const SECRET_FORM_GROWTH: usize = 6;

/// Built-in detectors, in priority order (an earlier one wins a tie). Group 1 is what is redacted.
fn builtins() -> Vec<(Kind, String)> {
    vec![
        (
            Kind::PrivateKey,
            r"(-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----(?s-u:.*?-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|.*))".to_owned(),
        ),
        (
            Kind::AnthropicKey,
            format!(r"{B}(sk-ant-[a-z]{{2,8}}[0-9]{{2}}-[A-Za-z0-9_-]{{20,300}}){E}"),
        ),
        (
            Kind::OpenaiKey,
            format!(
                r"{B}(sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{{20,300}}|sk-[A-Za-z0-9]{{20}}T3BlbkFJ[A-Za-z0-9]{{20}}|sk-[A-Za-z0-9]{{40,300}}){E}"
            ),
        ),
        (
            Kind::GithubToken,
            format!(
                r"{B}((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{{36,251}}|github_pat_[A-Za-z0-9_]{{50,255}}){E}"
            ),
        ),
        (
            Kind::GitlabToken,
            format!(
                r"{B}((?:glpat|gldt|glrt|glptt|glft|glsoat|glcbt|glimt|gloas)-[A-Za-z0-9_-]{{20,255}}(?:\.[A-Za-z0-9_-]{{1,64}}){{0,3}}){E}"
            ),
        ),
        (
            Kind::SlackToken,
            format!(r"{B}(xox[abpr]-[A-Za-z0-9-]{{10,250}}){E}"),
        ),
        (Kind::GcpKey, format!(r"{B}(AIza[0-9A-Za-z_-]{{35}}){E}")),
        (
            Kind::AwsKey,
            format!(r"{B}((?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{{16}}){E}"),
        ),
        (
            Kind::AwsKey,
            r#"(?i:aws_?secret_?access_?key|aws_?secret_?key)["']?\s{0,4}[:=]\s{0,4}["']?([A-Za-z0-9/+]{40})(?:$|(?-u:[^A-Za-z0-9/+=]))"#.to_owned(),
        ),
        (
            Kind::Jwt,
            format!(
                r"{B}(eyJ[A-Za-z0-9_-]{{8,}}\.eyJ[A-Za-z0-9_-]{{8,}}\.[A-Za-z0-9_-]*){E}"
            ),
        ),
    ]
}

struct Detector {
    label: String,
    regex: Regex,
    /// Capture group to redact; 0 is the whole match.
    group: usize,
}

fn compile(src: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(src)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
}

/// Redacts credential shapes and known secret values from text. Matches become
/// `[redacted:KIND]`; overlapping matches are merged and redacted as one.
pub struct Redactor {
    detectors: Vec<Detector>,
    secrets: Vec<zeroize::Zeroizing<String>>,
    scrubber: Option<Scrubber>,
    longest_secret: usize,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field(
                "detectors",
                &self.detectors.iter().map(|d| &d.label).collect::<Vec<_>>(),
            )
            .field("secrets", &self.secrets.len())
            .finish_non_exhaustive()
    }
}

impl Redactor {
    /// A redactor with every built-in detector and no known secrets.
    pub fn builtin() -> Redactor {
        // The built-in patterns are constants, compiled by a test.
        #[allow(clippy::expect_used)]
        Redactor::new(&RedactConfig::default()).expect("built-in patterns compile")
    }

    /// A redactor with the built-in detectors minus `config.disable`, plus
    /// `config.extra_patterns`. Refuses disabling `secret`, more than [`MAX_EXTRA_PATTERNS`]
    /// patterns, a bad name, a pattern longer than [`MAX_PATTERN_LEN`], one that does not
    /// compile within [`REGEX_SIZE_LIMIT`], and one that matches the empty string.
    pub fn new(config: &RedactConfig) -> Result<Redactor, RedactError> {
        if config.disable.contains(&Kind::Secret) {
            return Err(RedactError::CannotDisableSecret);
        }
        if config.extra_patterns.len() > MAX_EXTRA_PATTERNS {
            return Err(RedactError::TooManyPatterns {
                count: config.extra_patterns.len(),
            });
        }
        let mut detectors = Vec::new();
        for (kind, src) in builtins() {
            if config.disable.contains(&kind) {
                continue;
            }
            let regex = compile(&src).map_err(|e| RedactError::BadPattern {
                name: kind.as_str().to_owned(),
                reason: e.to_string(),
            })?;
            detectors.push(Detector {
                label: kind.as_str().to_owned(),
                regex,
                group: 1,
            });
        }
        for p in &config.extra_patterns {
            check_pattern_name(&p.name)?;
            if p.regex.len() > MAX_PATTERN_LEN {
                return Err(RedactError::PatternTooLong {
                    name: p.name.clone(),
                    len: p.regex.len(),
                });
            }
            let regex = compile(&p.regex).map_err(|e| RedactError::BadPattern {
                name: p.name.clone(),
                reason: e.to_string(),
            })?;
            if regex.is_match(b"") {
                return Err(RedactError::MatchesEmpty {
                    name: p.name.clone(),
                });
            }
            let group = regex
                .capture_names()
                .position(|n| n == Some("secret"))
                .unwrap_or(0);
            detectors.push(Detector {
                label: p.name.clone(),
                regex,
                group,
            });
        }
        Ok(Redactor {
            detectors,
            secrets: Vec::new(),
            scrubber: None,
            longest_secret: 0,
        })
    }

    /// Adds a known secret value: from now on it is redacted as `[redacted:secret]`, raw and in
    /// the encoded forms [`ward_secrets::Scrubber`] catches. Empty values are ignored.
    pub fn add_secret(&mut self, value: &str) -> Result<(), RedactError> {
        if value.is_empty() || self.secrets.iter().any(|s| s.as_str() == value) {
            return Ok(());
        }
        let mut secrets = self.secrets.clone();
        secrets.push(zeroize::Zeroizing::new(value.to_owned()));
        let scrubber = Scrubber::new(secrets.iter().map(|s| s.as_bytes()))?;
        self.secrets = secrets;
        self.scrubber = Some(scrubber);
        self.longest_secret = self.longest_secret.max(value.len());
        Ok(())
    }

    /// How many bytes past a cut point a match that starts before the cut can reach: a caller
    /// that redacts only the start of a long text, and keeps less than that, includes this many
    /// bytes more in what it redacts so that nothing it keeps ends in a part of a credential.
    /// Covers the built-in tokens and every form of the known secret values; a private-key block
    /// cut before its `END` line is redacted to the end anyway. An operator pattern can match
    /// longer text than this.
    pub fn lookahead(&self) -> usize {
        TOKEN_LOOKAHEAD.max(self.longest_secret.saturating_mul(SECRET_FORM_GROWTH))
    }

    /// `text` with every match replaced by `[redacted:KIND]`; borrowed when nothing matched.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match self.redact_bytes(text.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            // Replacements are ASCII and built-in matches begin and end on character boundaries;
            // only an operator pattern written to match single bytes could split a character,
            // which then becomes U+FFFD.
            Cow::Owned(bytes) => Cow::Owned(
                String::from_utf8(bytes)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            ),
        }
    }

    /// `bytes` with every match replaced by `[redacted:KIND]`; borrowed when nothing matched.
    /// Text need not be UTF-8: the detectors run over the valid text in it, a token next to an
    /// invalid byte is still found, and bytes outside a match are returned unchanged, invalid
    /// ones included. A private-key block is redacted whatever bytes it holds.
    pub fn redact_bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        let mut text = Cow::Borrowed(bytes);
        if let Some(s) = &self.scrubber {
            let out = s.scrub_all(&text);
            if out != *text {
                text = Cow::Owned(out);
            }
        }
        let spans = self.spans(&text);
        if spans.is_empty() {
            return text;
        }
        let mut out = Vec::with_capacity(text.len());
        let mut pos = 0;
        for (start, end, label) in spans {
            out.extend_from_slice(&text[pos..start]);
            out.extend_from_slice(b"[redacted:");
            out.extend_from_slice(label.as_bytes());
            out.push(b']');
            pos = end;
        }
        out.extend_from_slice(&text[pos..]);
        Cow::Owned(out)
    }

    /// Redacts every string value in `value`, at any depth. Object keys are left as they are.
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        let mut stack = vec![value];
        while let Some(v) = stack.pop() {
            match v {
                serde_json::Value::String(s) => {
                    if let Cow::Owned(r) = self.redact(s) {
                        *s = r;
                    }
                }
                serde_json::Value::Array(a) => stack.extend(a.iter_mut()),
                serde_json::Value::Object(o) => stack.extend(o.values_mut()),
                _ => {}
            }
        }
    }

    /// Non-overlapping spans to redact, sorted; overlapping matches are merged, keeping the
    /// label of the earliest (and, on a tie, longest, then highest-priority) one.
    fn spans(&self, text: &[u8]) -> Vec<(usize, usize, &str)> {
        let mut found: Vec<(usize, usize, usize)> = Vec::new();
        for (i, d) in self.detectors.iter().enumerate() {
            let mut at = 0;
            while at <= text.len() {
                let Some(caps) = d.regex.captures_at(text, at) else {
                    break;
                };
                let Some(m) = caps.get(d.group).or_else(|| caps.get(0)) else {
                    break;
                };
                if m.end() > m.start() {
                    found.push((m.start(), m.end(), i));
                }
                // Continue after the redacted part, so a boundary character is reused.
                at = if m.end() > m.start() {
                    m.end()
                } else {
                    let whole_end = caps.get(0).map_or(at, |w| w.end());
                    if whole_end > at { whole_end } else { at + 1 }
                };
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        let mut spans: Vec<(usize, usize, &str)> = Vec::new();
        for (start, end, i) in found {
            match spans.last_mut() {
                Some(last) if start < last.1 => last.1 = last.1.max(end),
                _ => spans.push((start, end, &self.detectors[i].label)),
            }
        }
        spans
    }
}

#[cfg(test)]
mod tests;

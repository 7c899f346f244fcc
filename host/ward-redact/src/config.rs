//! Operator configuration of the redactor.

use serde::Deserialize;

use crate::Kind;

/// Most extra patterns an operator may configure. Threat: a configuration that makes every log
/// line and result cost many regex searches.
pub const MAX_EXTRA_PATTERNS: usize = 64;
/// Longest extra pattern source, in bytes.
pub const MAX_PATTERN_LEN: usize = 4096;
/// Longest extra pattern name.
pub const MAX_PATTERN_NAME_LEN: usize = 32;
/// Compiled size limit of each regex (and of its lazy DFA cache). Threat: a pattern such as
/// `\w{1000}{1000}` that compiles to gigabytes.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// What the operator configures, for example in TOML:
///
/// ```toml
/// disable = ["jwt"]
///
/// [[extra_patterns]]
/// name = "acme-token"
/// regex = "acme_[a-z0-9]{32}"
/// ```
///
/// Unknown fields are refused. An extra pattern's match becomes `[redacted:NAME]`; if the pattern
/// has a capture group named `secret`, only that group is replaced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedactConfig {
    /// Built-in detectors to switch off. `secret` cannot be switched off.
    pub disable: Vec<Kind>,
    /// Operator patterns, added to the built-in ones.
    pub extra_patterns: Vec<ExtraPattern>,
}

/// One operator pattern.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraPattern {
    /// Lowercase kebab-case name, shown as `[redacted:NAME]`.
    pub name: String,
    /// A Rust `regex` crate pattern.
    pub regex: String,
}

/// Why a redactor could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedactError {
    /// The operator tried to switch off the known-secret detector.
    #[error(
        "the secret detector cannot be disabled: known secret values are always redacted; remove \"secret\" from disable"
    )]
    CannotDisableSecret,
    /// Too many extra patterns.
    #[error("{count} extra patterns are configured; at most {MAX_EXTRA_PATTERNS} are allowed")]
    TooManyPatterns {
        /// How many were configured.
        count: usize,
    },
    /// An extra pattern's name does not follow the rule.
    #[error(
        "extra pattern name {name:?} is not valid: write a lowercase kebab-case name of at most 32 characters, like \"acme-token\""
    )]
    PatternName {
        /// The name, cut to the limit plus one character.
        name: String,
    },
    /// An extra pattern's source is too long.
    #[error("extra pattern {name} is {len} bytes long; at most {MAX_PATTERN_LEN} are allowed")]
    PatternTooLong {
        /// The pattern's name.
        name: String,
        /// Its length.
        len: usize,
    },
    /// An extra pattern does not compile (syntax, or over the size limit).
    #[error("extra pattern {name} is not a valid regex: {reason}")]
    BadPattern {
        /// The pattern's name.
        name: String,
        /// The regex crate's message.
        reason: String,
    },
    /// An extra pattern matches the empty string.
    #[error(
        "extra pattern {name} matches the empty string, so it would redact everywhere: make it match at least one character"
    )]
    MatchesEmpty {
        /// The pattern's name.
        name: String,
    },
    /// The known-secret matcher could not be built.
    #[error(transparent)]
    Scrubber(#[from] ward_secrets::ScrubError),
}

pub(crate) fn check_pattern_name(name: &str) -> Result<(), RedactError> {
    let ok = name.len() <= MAX_PATTERN_NAME_LEN
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.ends_with('-')
        && !name.contains("--");
    if ok {
        Ok(())
    } else {
        Err(RedactError::PatternName {
            name: name.chars().take(MAX_PATTERN_NAME_LEN + 1).collect(),
        })
    }
}

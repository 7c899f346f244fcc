//! ward's redactor: before a result reaches a caller and before anything is logged, credential
//! shapes (cloud keys, GitHub/GitLab/Slack tokens, LLM-provider API keys, PEM private keys,
//! JWTs) and known secret values become `[redacted:KIND]`.
//!
//! The operator can switch built-in detectors off and add patterns ([`RedactConfig`]); the
//! detector for known secret values cannot be switched off.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod detect;

pub use config::{
    ExtraPattern, MAX_EXTRA_PATTERNS, MAX_PATTERN_LEN, MAX_PATTERN_NAME_LEN, REGEX_SIZE_LIMIT,
    RedactConfig, RedactError,
};
pub use detect::{Kind, Redactor};

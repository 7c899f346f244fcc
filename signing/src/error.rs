//! Error types. Messages are lowercase, name the bad input and never contain secret material.
#![allow(missing_docs)] // each variant is documented by its message

use std::path::PathBuf;

use crate::verify::Report;

/// The bytes are not a well-formed WebAssembly component (at the top level).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("not a webassembly component (bad preamble)")]
    NotAComponent,
    #[error(
        "a core webassembly module is not a component; wrap it with `wasm-tools component new`"
    )]
    CoreModule,
    #[error("truncated component at byte {offset}")]
    Truncated { offset: usize },
    #[error("malformed length at byte {offset}")]
    BadInteger { offset: usize },
    #[error("section at byte {offset} runs past the end of the component")]
    SectionOutOfBounds { offset: usize },
    #[error("custom section at byte {offset} has a name that is not utf-8")]
    BadSectionName { offset: usize },
    #[error("component has more than {max} top-level sections")]
    TooManySections { max: usize },
    #[error("the `signature` section must be the first section of the component, and appear once")]
    MisplacedSignatureSection,
    #[error("the signed content holds {0} `ward-manifest` sections; a component has at most one")]
    DuplicateManifest(usize),
}

/// The signature envelope (the `signature` section or a `.sig` file) is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("signature envelope is {size} bytes, more than the {max} allowed")]
    TooLarge { size: usize, max: usize },
    #[error("signature envelope is truncated")]
    Truncated,
    #[error("signature envelope is malformed: {0}")]
    Malformed(&'static str),
    #[error("unsupported signature format version {0} (ward reads version 1)")]
    UnsupportedVersion(u8),
    #[error("unsupported signed content type {0} (ward reads 1, webassembly)")]
    UnsupportedContentType(u8),
    #[error("unsupported hash function {0} (ward reads 1, sha-256)")]
    UnsupportedHash(u8),
    #[error("signature envelope has {count} hash sets, more than the {max} allowed")]
    TooManyHashSets { count: usize, max: usize },
    #[error("signature envelope has {count} hashes in one set, more than the {max} allowed")]
    TooManyHashes { count: usize, max: usize },
    #[error("signature envelope has {count} signatures, more than the {max} allowed")]
    TooManySignatures { count: usize, max: usize },
    #[error(
        "unsupported signature algorithm {alg:#04x} in signature {index} (ward accepts only ed25519, 0x01)"
    )]
    UnsupportedAlgorithm { alg: u8, index: usize },
}

/// A key or key file is refused.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "public key is not in a format ward reads ({0}); use `ssh-ed25519 …`, `ed25519:<hex>` or a wasmsign2 public key file"
    )]
    BadPublicKey(&'static str),
    #[error("public key is not a valid ed25519 point")]
    InvalidPoint,
    #[error("public key has small order; it would verify forged signatures")]
    WeakPublicKey,
    #[error("public key is not canonically encoded")]
    NonCanonicalPublicKey,
    #[error("secret key file is malformed: {0}")]
    BadSecretKey(&'static str),
    #[error("secret key file asks for key derivation parameters beyond ward's bounds")]
    KdfOutOfBounds,
    #[error("wrong passphrase, or the secret key file was modified")]
    WrongPassphrase,
    #[error("secret key is encrypted and no passphrase was given")]
    PassphraseRequired,
    #[error(
        "refusing secret key file {path}: mode {mode:04o} lets group or others read it; run `chmod 600 {path}`"
    )]
    InsecurePermissions { path: PathBuf, mode: u32 },
    #[error("reading {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("key derivation failed")]
    Kdf,
    #[error("no random bytes available from the operating system")]
    Random,
}

/// The trust store is refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("trust store is not valid: {0}")]
    Toml(String),
    #[error("reading trust store {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("trust store key {label:?}")]
    Key {
        label: String,
        #[source]
        source: KeyError,
    },
    #[error("trust store key {label:?} must set exactly one of `public_key` and `public_key_file`")]
    KeySource { label: String },
    #[error(
        "trust store key {label:?} has an empty scope; name the namespaces it may sign for, such as \"acme:*\""
    )]
    EmptyScope { label: String },
    #[error("bad namespace pattern {pattern:?}: write `ns:name`, `ns:*` or `*`")]
    BadPattern { pattern: String },
    #[error(
        "trust store key {label:?} has a bad expiry: write a date (2027-01-31) or a datetime with offset (2027-01-31T00:00:00Z)"
    )]
    BadExpiry { label: String },
    #[error("rule {pattern:?} has threshold 0; a rule needs at least one signature")]
    ZeroThreshold { pattern: String },
    #[error(
        "rule {pattern:?} requires {labels} labels but only {threshold} signatures; raise the threshold"
    )]
    LabelsExceedThreshold {
        pattern: String,
        labels: usize,
        threshold: usize,
    },
    #[error("rule {pattern:?} appears twice")]
    DuplicateRule { pattern: String },
    #[error("trust store lists {count} keys, more than the {max} allowed")]
    TooManyKeys { count: usize, max: usize },
    #[error("bad plugin name {0:?}: expected `namespace:name` (lowercase letters, digits, `-`)")]
    BadPluginName(String),
}

/// Verification refused the component.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error("component is not signed (no `signature` section)")]
    NotSigned,
    #[error(
        "component already embeds a `signature` section; verify it without a detached signature"
    )]
    EmbeddedAndDetached,
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("refused: {}", .0.summary())]
    Refused(Box<Report>),
    #[error("signature does not verify for this {0}")]
    BadMessageSignature(&'static str),
}

/// Signing refused the input.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error(
        "component embeds a `signature` section; strip it (`ward-sign strip`) before signing detached"
    )]
    EmbeddedAndDetached,
}

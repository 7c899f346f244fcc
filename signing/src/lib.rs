//! Keys, signatures and trust for ward plugins.
//!
//! A plugin is a WebAssembly component signed in the WebAssembly module-signatures format (the one
//! `wasmsign2` implements): a `signature` custom section, first in the file, holds ed25519
//! signatures over the SHA-256 [`Digest`] of everything after it. ward adds its own rules:
//!
//! - a signature counts only if it covers *all* the content after the signature section;
//!   signatures over part of it, or over other content, grant nothing;
//! - only components are accepted, only ed25519, verified strictly;
//! - the key id is recomputed from the trusted key that verifies, never taken from the envelope;
//! - the [`TrustPolicy`] decides which keys count for which plugin, and how many are needed.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use ward_signing::{SecretKey, TrustPolicy, sign, verify};
//! let key = SecretKey::generate()?;
//! let unsigned = std::fs::read("plugin.wasm")?;
//! let signed = sign(&unsigned, &key)?;
//! let policy = TrustPolicy::single_key(key.public_key());
//! let verified = verify(&signed, &policy, "acme:hello")?;
//! let manifest = verified.manifest(); // read only from the signed content
//! # let _ = manifest; Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod component;
mod envelope;
mod error;
mod keys;
mod message;
mod policy;
mod verify;
mod wasm;

pub use component::{
    Digest, HashSetInfo, Inspection, MANIFEST_SECTION, digest, inspect, sign, sign_detached, strip,
};
pub use envelope::{
    MAX_ENVELOPE_SIZE, MAX_HASH_SETS, MAX_HASHES_PER_SET, MAX_KEY_ID_LEN, MAX_SIGNATURES,
    SIGNATURE_SECTION,
};
pub use error::{EnvelopeError, FormatError, KeyError, PolicyError, SignError, VerifyError};
pub use keys::{KEY_ID_LEN, KeyId, MAX_KEY_FILE_SIZE, PublicKey, SecretKey, read_secret_file};
pub use message::{Purpose, sign_message, verify_message};
pub use policy::{
    Capability, MAX_TRUST_FILE_SIZE, MAX_TRUSTED_KEYS, Pattern, Rule, TrustPolicy, TrustedKey,
    plugin_name,
};
pub use verify::{
    Report, RuleReport, SignatureReport, SignatureStatus, Signer, Verified, verify, verify_at,
    verify_detached,
};
pub use wasm::{COMPONENT_PREAMBLE, MAX_SECTIONS};

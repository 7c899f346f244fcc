//! ward's secrets: an encrypted store on disk, `{{secret:NAME}}` placeholders that plugins use
//! instead of values, and a scrubber that removes secret values from bytes before a guest reads
//! them.
//!
//! Data flow: the operator stores a value ([`SecretStore::set`]); a plugin writes a placeholder
//! into a header or URL; the host finds it ([`find_placeholders`]), checks the secret's binding
//! and grant, substitutes the value host-side ([`substitute`]), and runs every response chunk
//! through a [`Scrubber`] built from the values it substituted. The value never reaches guest
//! memory.
//!
//! Every failure is closed: a missing, foreign or too-open key, a damaged, truncated, oversized or
//! foreign secrets file each make the store unavailable with an error that names the file and the
//! fix. There is no plaintext fallback.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod name;
mod placeholder;
mod scrub;
mod store;
mod value;

pub use error::SecretError;
pub use name::{MAX_NAME_LEN, check_name};
pub use placeholder::{
    PLACEHOLDER_CLOSE, PLACEHOLDER_OPEN, PlaceholderError, find_placeholders,
    has_placeholder_marker, substitute,
};
pub use scrub::{REDACTED_SECRET, ScrubError, Scrubber};
pub use store::{
    KEY_FILE, KEY_LEN, MAX_FILE_LEN, MAX_SECRETS, MAX_VALUE_LEN, SECRETS_FILE, SecretStore,
};
pub use value::SecretValue;

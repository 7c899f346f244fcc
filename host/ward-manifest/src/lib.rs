//! The plugin manifest: what a plugin asks for, in TOML, carried inside the component.
//!
//! A manifest names the plugin (`namespace:name`), its version and commands, and refines the
//! capabilities its imports make possible: which hosts it may call, which directories it sees,
//! which environment variables and secrets it uses, its key-value quota, whether it may ask the
//! operator to confirm, and its limits. `ward pack` [`embed`]s it as the `ward-manifest` custom
//! section before signing, so one signature covers code and declaration together; the host reads
//! it only from verified bytes.
//!
//! Everything here is pure policy: parsing refuses anything it does not understand (unknown
//! fields, oversized input, hostile names), [`check_imports`] compares the manifest with what the
//! component imports, and [`Manifest::summary`] and [`diff`] put the request in plain words for
//! the operator. The schema is documented in `docs/manifest.md`.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod diff;
mod error;
mod imports;
mod net;
mod schema;
mod section;
mod summary;
mod validate;

pub use diff::{Change, Diff, approval_phrase, diff, downgrade_phrase};
pub use error::ManifestError;
pub use imports::{Warning, check_imports};
pub use net::{HostUrl, Method, Scheme};
pub use schema::{
    Capabilities, Command, FileRule, HostDir, Inject, KeyValue, MAX_COMMANDS,
    MAX_DESCRIPTION_BYTES, MAX_ENV, MAX_FILES, MAX_MANIFEST_BYTES, MAX_NETWORK, MAX_SECRET_HOSTS,
    MAX_SECRETS, Manifest, ManifestLimits, Mode, NetworkRule, PluginName, Secret,
};
pub use section::{SECTION, embed, extract};

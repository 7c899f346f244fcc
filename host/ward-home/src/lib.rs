//! ward's data directory and the operator's files in it: where everything lives ([`Home`]), the
//! operator's `policy.toml` ([`OperatorPolicy`]) and opening the store as the operator
//! ([`open_store`]). The install and call pipelines both start here.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod home;
mod policy;

pub use home::{Home, HomeError};
pub use policy::{
    MAX_CA_FILE_BYTES, MAX_CA_FILES, MAX_POLICY_BYTES, OperatorPolicy, PolicyError,
    PolicyParseError,
};

use ward_store::{Store, StoreError};

/// Opens the store in `home` with the operator policy's settings, acting as the operator.
pub fn open_store(home: &Home, policy: &OperatorPolicy) -> Result<Store, OpenError> {
    home.ensure()?;
    let mut store = Store::open(home.root()).map_err(OpenError::Store)?;
    if let Some(keep) = policy.keep_versions {
        store.set_keep_versions(keep);
    }
    store.set_actor("operator");
    Ok(store)
}

/// Why the store cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The data directory is unusable.
    #[error(transparent)]
    Home(#[from] HomeError),
    /// The store itself.
    #[error("cannot open ward's store")]
    Store(#[source] StoreError),
}

//! Run an installed plugin: what `ward run` and the daemon share.
//!
//! - [`Home`]: ward's data directory and the places inside it;
//! - [`OperatorPolicy`]: the operator's `policy.toml`;
//! - [`StoreKv`]: the key-value capability backed by ward's store;
//! - [`prepare`]: from a plugin name to everything a call needs (the current digest, its signed
//!   manifest and limits, the component bytes and the [`Grants`] the operator consented to),
//!   refusing a disabled plugin or a digest without a grant.
//!
//! Everything fails closed: grants come only from the store row bound to the digest being run;
//! an unreadable grant or manifest stops the run.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod home;
mod kv;
mod policy;

use std::sync::Arc;

pub use home::{Home, HomeError};
pub use kv::StoreKv;
pub use policy::{MAX_POLICY_BYTES, OperatorPolicy, PolicyError, PolicyParseError};
pub use ward_link::{DirGrant, Grants};

use ward_manifest::Manifest;
use ward_store::{Store, StoreError};

/// Why an installed plugin cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// No plugin of that name is installed.
    #[error("{name} is not installed (see `ward list`)")]
    NotInstalled {
        /// The plugin.
        name: String,
    },
    /// The operator disabled it. The caller audits a denial with reason `disabled`.
    #[error("{name} is disabled: {}", .reason.as_deref().unwrap_or("by the operator"))]
    Disabled {
        /// The plugin.
        name: String,
        /// Its current digest.
        digest: String,
        /// The operator's reason.
        reason: Option<String>,
    },
    /// No grant row is bound to the current digest. The caller audits a denial with reason
    /// `not-granted`.
    #[error("{name} has no grant for digest {digest}")]
    NotGranted {
        /// The plugin.
        name: String,
        /// Its current digest.
        digest: String,
    },
    /// The stored grants cannot be read.
    #[error("the stored grants are unreadable: {0}")]
    Grants(String),
    /// The signed manifest in the store cannot be parsed.
    #[error("the installed manifest is unreadable")]
    Manifest(#[source] ward_manifest::ManifestError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The key-value store cannot be opened.
    #[error("cannot open the key-value store")]
    KeyValue(#[source] StoreError),
}

impl ExecError {
    /// The denial the caller should append to the audit log: `(reason, digest)`. `None` for
    /// errors that are not a policy decision (a missing plugin, a broken store).
    pub fn audit_denial(&self) -> Option<(&'static str, &str)> {
        match self {
            ExecError::Disabled { digest, .. } => Some(("disabled", digest)),
            ExecError::NotGranted { digest, .. } => Some(("not-granted", digest)),
            _ => None,
        }
    }
}

/// Everything a call of an installed plugin needs, as the operator consented to it.
#[derive(Debug)]
pub struct Prepared {
    /// The plugin name.
    pub name: String,
    /// The digest being run.
    pub digest: String,
    /// Its signed manifest.
    pub manifest: Manifest,
    /// The limits its manifest sets.
    pub limits: ward_policy::Limits,
    /// The component bytes, from the content-addressed store.
    pub component: Vec<u8>,
    /// The grants bound to the digest: environment, directories, key-value, network.
    pub grants: Grants,
}

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

/// The current version of `name`, with the grants bound to its digest: refuses a plugin that is
/// not installed, disabled, or whose digest has no grant row (see [`ExecError::audit_denial`]).
pub fn prepare(
    home: &Home,
    _policy: &OperatorPolicy,
    store: &Store,
    name: &str,
) -> Result<Prepared, ExecError> {
    let installed = store
        .current(name)?
        .ok_or_else(|| ExecError::NotInstalled {
            name: name.to_owned(),
        })?;
    if !installed.enabled {
        return Err(ExecError::Disabled {
            name: name.to_owned(),
            digest: installed.digest,
            reason: installed.disabled_reason,
        });
    }
    // Grants are bound to the digest: no grant row, no run (fail closed).
    let Some(stored) = store.grants_for(&installed.digest)? else {
        return Err(ExecError::NotGranted {
            name: name.to_owned(),
            digest: installed.digest,
        });
    };
    let mut grants = call_grants(&stored)?;
    let manifest =
        Manifest::parse(installed.manifest_toml.as_bytes()).map_err(ExecError::Manifest)?;
    if let (Some(kv), true) = (
        &manifest.capabilities.keyvalue,
        capability_granted(&stored, "kv"),
    ) {
        let kv_store = Store::open(home.root()).map_err(ExecError::KeyValue)?;
        grants.keyvalue = Some(Arc::new(StoreKv::new(kv_store, name, kv.quota)));
    }
    if capability_granted(&stored, "http") && !manifest.capabilities.network.is_empty() {
        grants.http = Some(ward_http::GrantedHttp::new(
            ward_http::HttpGrant::from_rules(&manifest.capabilities.network),
        ));
    }
    let component = store.get_blob(&installed.blob)?;
    let limits = manifest.limits();
    Ok(Prepared {
        name: name.to_owned(),
        digest: installed.digest,
        manifest,
        limits,
        component,
        grants,
    })
}

/// Whether the operator consented to capability kind `kind` for this digest.
fn capability_granted(stored: &serde_json::Value, kind: &str) -> bool {
    stored.as_array().is_some_and(|entries| {
        entries
            .iter()
            .any(|e| e["kind"] == "capability" && e["capability"] == kind)
    })
}

/// The call grants recorded for a digest.
fn call_grants(stored: &serde_json::Value) -> Result<Grants, ExecError> {
    let bad = |what: &str| ExecError::Grants(what.to_owned());
    let mut grants = Grants::default();
    let entries = stored
        .as_array()
        .ok_or_else(|| bad("stored grants are not a list"))?;
    for entry in entries {
        match entry["kind"].as_str() {
            Some("env") => grants.env.push((
                entry["name"]
                    .as_str()
                    .ok_or_else(|| bad("env grant without a name"))?
                    .to_owned(),
                entry["value"]
                    .as_str()
                    .ok_or_else(|| bad("env grant without a value"))?
                    .to_owned(),
            )),
            Some("files") => grants.dirs.push(DirGrant {
                host: entry["host"]
                    .as_str()
                    .ok_or_else(|| bad("files grant without a host"))?
                    .into(),
                guest: entry["guest"]
                    .as_str()
                    .ok_or_else(|| bad("files grant without a guest path"))?
                    .to_owned(),
                writable: entry["writable"]
                    .as_bool()
                    .ok_or_else(|| bad("files grant without a mode"))?,
            }),
            // Capability kinds the operator consented to; network and the rest are enforced by
            // their own hooks (denied until granted).
            Some("capability") => {}
            other => return Err(bad(&format!("unknown stored grant kind {other:?}"))),
        }
    }
    Ok(grants)
}

//! Step 5, floor: the version floor ([`ward_store::Store::version_floor`]: the highest version
//! ever installed from a key that is still trusted, kept across `uninstall`) and the version
//! installed now, against which the review shows what changes.

use ward_manifest::Manifest;
use ward_store::{PluginDetail, Store};

use crate::{Refusal, Request};

/// The installed version, with its signed manifest.
pub(crate) struct Previous {
    pub(crate) detail: PluginDetail,
    pub(crate) manifest: Manifest,
    /// The installed component's bytes, for the command diff; `None` if its blob cannot be read
    /// (the diff then says so).
    pub(crate) component: Option<Vec<u8>>,
}

/// A version below the floor: what the operator must confirm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downgrade {
    /// The version floor.
    pub floor: String,
    /// The phrase to type.
    pub phrase: String,
    /// Whether `--allow-downgrade` was given.
    pub allowed: bool,
}

pub(crate) fn previous(store: &Store, name: &str) -> Result<Option<Previous>, Refusal> {
    let detail = match store.inspect(name) {
        Ok(d) => d,
        Err(ward_store::StoreError::NotInstalled(_)) => return Ok(None),
        Err(e) => return Err(Refusal::home(e)),
    };
    let manifest = Manifest::parse(detail.current.manifest_toml.as_bytes())
        .map_err(|e| Refusal::home(InstalledManifest(e)))?;
    let component = store.get_blob(&detail.current.blob).ok();
    Ok(Some(Previous {
        detail,
        manifest,
        component,
    }))
}

pub(crate) fn check(
    store: &Store,
    manifest: &Manifest,
    request: &Request,
) -> Result<Option<Downgrade>, Refusal> {
    let name = manifest.name.to_string();
    let floor = store.version_floor(&name).map_err(Refusal::home)?;
    Ok(floor
        .filter(|floor| manifest.version < *floor)
        .map(|floor| Downgrade {
            floor: floor.to_string(),
            phrase: ward_manifest::downgrade_phrase(&name, &manifest.version.to_string()),
            allowed: request.allow_downgrade,
        }))
}

/// The installed version's manifest cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("the installed version's manifest is unreadable")]
struct InstalledManifest(#[source] ward_manifest::ManifestError);

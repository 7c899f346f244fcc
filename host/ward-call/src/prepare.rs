//! Step 4 of a call, prepare: from a plugin name to everything a call needs (the current digest,
//! its signed manifest and limits, the component bytes and the [`Grants`] the operator consented
//! to), refusing a disabled plugin, a digest without a grant, and a directory grant that reaches
//! ward's own data directory (checked again at every run: either side may have moved).
//!
//! Secrets: when the manifest declares `secrets` and the operator granted the `secrets` kind at
//! install, [`prepare`] opens the encrypted secret store (its errors stop the run: no fallback)
//! and fetches every declared secret; a missing one stops the run before any guest code. The
//! values are bound to the call's HTTP grant (substituted host-side for their hosts only, and
//! scrubbed from responses) and added to the call's redactor, which is built from the policy's
//! `[redact]` section.
//!
//! Confirmations: [`Prepared::confirm`] says whether the plugin may ask the operator mid-run
//! (`ward:plugin/confirm`): declared in the signed manifest and consented to at install. The
//! caller attaches the hook that answers (the daemon's confirmation store, `ward run`'s
//! terminal); without one every ask is answered false.
//!
//! Paper mode: a grant list holding `{"kind": "paper"}` (set for installs from approved
//! proposals until `ward promote`) puts the call's HTTP grant in paper mode: requests other
//! than `GET` and `HEAD` are recorded in [`Prepared::paper`] and answered without being sent.
//! The caller audits what was held back.
//!
//! Everything fails closed: grants come only from the store row bound to the digest being run;
//! an unreadable grant or manifest stops the run.
use std::sync::Arc;

use crate::kv::StoreKv;
use ward_home::{Home, OperatorPolicy};
use ward_link::{DirGrant, Grants};

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
    /// The secret store is unavailable (missing or too-open key, damaged file…).
    #[error("the secret store is unavailable")]
    SecretStore(#[source] ward_secrets::SecretError),
    /// A secret the plugin declares, and the operator granted, is not in the store. The caller
    /// audits a denial with reason `secret-not-set`.
    #[error("secret {secret} is not set: run ward secret set {secret}")]
    SecretNotSet {
        /// The secret's name.
        secret: String,
        /// The plugin's current digest.
        digest: String,
    },
    /// A directory grant reaches ward's own data directory. The caller audits a denial with
    /// reason `grant-reaches-ward`.
    #[error("the grant of {guest} is refused")]
    GrantReachesWard {
        /// Where the plugin would see it.
        guest: String,
        /// The plugin's current digest.
        digest: String,
        /// The overlap.
        #[source]
        source: Box<ward_home::GrantOverlap>,
    },
    /// The redactor cannot be built from the policy's `[redact]` section and the secrets.
    #[error("cannot build the redactor")]
    Redact(#[source] ward_redact::RedactError),
}

impl ExecError {
    /// The denial the caller should append to the audit log: `(reason, digest)`. `None` for
    /// errors that are not a policy decision (a missing plugin, a broken store).
    pub fn audit_denial(&self) -> Option<(&'static str, &str)> {
        match self {
            ExecError::Disabled { digest, .. } => Some(("disabled", digest)),
            ExecError::NotGranted { digest, .. } => Some(("not-granted", digest)),
            ExecError::SecretNotSet { digest, .. } => Some(("secret-not-set", digest)),
            ExecError::GrantReachesWard { digest, .. } => Some(("grant-reaches-ward", digest)),
            _ => None,
        }
    }
}

/// Everything a call of an installed plugin needs, as the operator consented to it. `Debug`
/// shows the name, digest and grants (names only), not the component bytes.
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
    /// The record of requests held back, when the digest is in paper mode.
    pub paper: Option<ward_http::PaperLog>,
    /// Whether the plugin may ask the operator to confirm actions while it runs: the signed
    /// manifest declares `capabilities.confirm` and the operator consented to it for this digest.
    pub confirm: bool,
}

/// The grant entry that puts a digest in paper mode.
pub fn paper_entry() -> serde_json::Value {
    serde_json::json!({ "kind": "paper" })
}

/// Whether a stored grant list puts its digest in paper mode.
pub fn is_paper(stored: &serde_json::Value) -> bool {
    stored
        .as_array()
        .is_some_and(|entries| entries.iter().any(|e| e["kind"] == "paper"))
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("name", &self.name)
            .field("digest", &self.digest)
            .field("component_bytes", &self.component.len())
            .field("grants", &self.grants)
            .finish_non_exhaustive()
    }
}

/// The current version of `name`, with the grants bound to its digest: refuses a plugin that is
/// not installed, disabled, or whose digest has no grant row, and one whose granted secrets
/// are not all set (see [`ExecError::audit_denial`]).
pub fn prepare(
    home: &Home,
    policy: &OperatorPolicy,
    store: &Store,
    name: &str,
) -> Result<Prepared, ExecError> {
    prepare_with(home, policy, store, name, false)
}

/// [`prepare`], in paper mode whatever the grants say when `force_paper` (the health check of
/// a fresh install runs so).
pub fn prepare_with(
    home: &Home,
    policy: &OperatorPolicy,
    store: &Store,
    name: &str,
    force_paper: bool,
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
    for dir in &grants.dirs {
        home.check_outside(&dir.host)
            .map_err(|source| ExecError::GrantReachesWard {
                guest: dir.guest.clone(),
                digest: installed.digest.clone(),
                source: Box::new(source),
            })?;
    }
    let paper = (force_paper || is_paper(&stored)).then(ward_http::PaperLog::new);
    let manifest =
        Manifest::parse(installed.manifest_toml.as_bytes()).map_err(ExecError::Manifest)?;
    if let (Some(kv), true) = (
        &manifest.capabilities.keyvalue,
        capability_granted(&stored, "kv"),
    ) {
        let kv_store = Store::open(home.root()).map_err(ExecError::KeyValue)?;
        grants.keyvalue = Some(Arc::new(StoreKv::new(kv_store, name, kv.quota)));
    }
    let mut redactor = ward_redact::Redactor::new(&policy.redact).map_err(ExecError::Redact)?;
    if capability_granted(&stored, "http") && !manifest.capabilities.network.is_empty() {
        let mut grant = ward_http::HttpGrant::from_rules(&manifest.capabilities.network);
        if capability_granted(&stored, "secrets") && !manifest.capabilities.secrets.is_empty() {
            let secrets = bind_secrets(home, &manifest, &installed.digest)?;
            for secret in &secrets {
                redactor
                    .add_secret(secret.1.expose())
                    .map_err(ExecError::Redact)?;
            }
            grant = grant.with_secrets(secrets.into_iter().map(|(s, _)| s).collect());
        }
        if let Some(log) = &paper {
            grant = grant.paper(log.clone());
        }
        grants.http = Some(ward_http::GrantedHttp::with_roots(
            grant,
            ward_http::SystemResolver,
            &policy.trusted_roots,
        ));
    }
    grants.redactor = Arc::new(redactor);
    let confirm = manifest.capabilities.confirm && capability_granted(&stored, "confirm");
    let component = store.get_blob(&installed.blob)?;
    let limits = manifest.limits();
    Ok(Prepared {
        name: name.to_owned(),
        digest: installed.digest,
        manifest,
        limits,
        component,
        grants,
        paper,
        confirm,
    })
}

/// Every secret the manifest declares, with its value from the operator's secret store.
fn bind_secrets(
    home: &Home,
    manifest: &Manifest,
    digest: &str,
) -> Result<Vec<(ward_http::BoundSecret, ward_secrets::SecretValue)>, ExecError> {
    let store = ward_secrets::SecretStore::open(home.root()).map_err(ExecError::SecretStore)?;
    let mut bound = Vec::new();
    for declared in &manifest.capabilities.secrets {
        let value = store
            .get(&declared.name)
            .map_err(ExecError::SecretStore)?
            .ok_or_else(|| ExecError::SecretNotSet {
                secret: declared.name.clone(),
                digest: digest.to_owned(),
            })?;
        bound.push((ward_http::BoundSecret::new(declared, value.clone()), value));
    }
    Ok(bound)
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
            // Paper mode: applied to the HTTP grant by `prepare`.
            Some("paper") => {}
            other => return Err(bad(&format!("unknown stored grant kind {other:?}"))),
        }
    }
    Ok(grants)
}

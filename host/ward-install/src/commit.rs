//! Step 8, commit: the blob (content-addressed, durable), then one store transaction with the
//! version row, the grants bound to its digest, the registry row and the audit row. A failure
//! leaves the previous state: nothing half-written.

use serde_json::{Value, json};
use ward_home::Home;
use ward_store::{InstallRecord, Store};
use ward_trust::Authorized;

use crate::consent::Review;
use crate::{Committed, Refusal, Request};

pub(crate) fn commit(
    store: &mut Store,
    home: &Home,
    request: &Request,
    authorized: &Authorized,
    grants: Vec<Value>,
    review: &Review,
) -> Result<Committed, Refusal> {
    let name = review.name.clone();
    let failed = |source| Refusal::Commit {
        name: name.clone(),
        source,
    };
    let manifest_bytes = authorized.verified.manifest().unwrap_or_default();
    let signers: Vec<Value> = review
        .signers
        .iter()
        .map(|s| json!({ "key_id": s.key_id, "labels": s.labels }))
        .collect();
    let blob = store.put_blob(&request.bytes).map_err(failed)?;
    let outcome = store
        .install(&InstallRecord {
            name: name.clone(),
            version: review.version.clone(),
            digest: review.digest.clone(),
            blob,
            manifest_toml: String::from_utf8_lossy(manifest_bytes).into_owned(),
            signers: json!(signers),
            grants: json!(grants),
            summary: review.summary.join("\n"),
            allow_downgrade: review.downgrade.is_some(),
        })
        .map_err(failed)?;
    let (unset_secrets, secret_store_problem) = unset_secrets(home, authorized);
    Ok(Committed {
        name,
        version: review.version.clone(),
        digest: review.digest.clone(),
        action: outcome.action,
        previous: outcome.previous_version,
        unset_secrets,
        secret_store_problem,
    })
}

/// The secrets the manifest declares that the secret store does not hold yet (names only).
fn unset_secrets(home: &Home, authorized: &Authorized) -> (Vec<String>, Option<String>) {
    let declared = &authorized.manifest.capabilities.secrets;
    if declared.is_empty() {
        return (Vec::new(), None);
    }
    match ward_secrets::SecretStore::open(home.root()) {
        Ok(secrets) => {
            let set = secrets.list();
            (
                declared
                    .iter()
                    .filter(|s| !set.contains(&s.name))
                    .map(|s| s.name.clone())
                    .collect(),
                None,
            )
        }
        Err(err) => (Vec::new(), Some(err.to_string())),
    }
}

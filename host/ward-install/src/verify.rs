//! Step 2, verify: the one authorization ([`ward_trust::authorize`]) over the exact bytes, under
//! the trust store and policy as they are now. Nothing is parsed for authority before it: the
//! manifest comes from the signed content only.

use ward_home::OperatorPolicy;
use ward_trust::Authorized;

use crate::{Audit, Refusal, Request};

pub(crate) fn verify(
    audit: &mut Audit<'_>,
    policy: &OperatorPolicy,
    request: &Request,
) -> Result<Authorized, Refusal> {
    let trust = ward_trust::trust_policy(audit.store, &policy.rules).map_err(Refusal::home)?;
    match ward_trust::authorize(&request.bytes, &trust, None) {
        Ok(authorized) => Ok(authorized),
        Err(source) => {
            let digest = source.digest().or_else(|| {
                ward_signing::digest(&request.bytes)
                    .ok()
                    .map(|d| d.to_string())
            });
            // The name is known only once the signed manifest was read.
            let plugin = match &source {
                ward_trust::Unauthorized::PolicyNotMet { plugin, .. } => Some(plugin.clone()),
                _ => None,
            };
            let shown = plugin.clone().unwrap_or_else(|| request.source.clone());
            Err(audit.refuse(
                plugin.as_deref(),
                digest.as_deref(),
                Refusal::Unauthorized { shown, source },
            ))
        }
    }
}

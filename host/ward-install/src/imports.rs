//! Step 3, imports: what the component imports against what its signed manifest declares. An
//! import of a capability the manifest does not declare, or of an interface ward does not link, is
//! refused; what is accepted but worth knowing comes back as warnings for the review.

use ward_trust::Authorized;

use crate::{Audit, Refusal};

pub(crate) fn check(
    audit: &mut Audit<'_>,
    authorized: &Authorized,
    bytes: &[u8],
) -> Result<Vec<ward_manifest::Warning>, Refusal> {
    let name = authorized.manifest.name.to_string();
    let digest = authorized.verified.digest().to_string();
    let info = match ward_load::inspect(bytes) {
        Ok(info) => info,
        Err(source) => {
            return Err(audit.refuse(
                Some(&name),
                Some(&digest),
                Refusal::NotAComponent {
                    name: name.clone(),
                    source,
                },
            ));
        }
    };
    ward_manifest::check_imports(&authorized.manifest, &info.imports).map_err(|source| {
        let refusal = Refusal::UndeclaredImport {
            name: name.clone(),
            source,
        };
        audit.refuse(Some(&name), Some(&digest), refusal)
    })
}

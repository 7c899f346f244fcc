//! Authorization: the one decision whether an exact version of a plugin (its bytes, hence its
//! digest and its signatures) may run under the trust store and policy *as they are now*.
//!
//! Every place a version becomes runnable or runs asks [`authorize`]: install, upgrade, `ward
//! run`, both daemon sockets (and MCP through them), `ward enable`, `ward rollback` and the
//! daemon's warm cache (which keeps a decision only while the store's registry generation, which
//! moves with every change to the trust store, the policy file and the earliest key expiry say it
//! still holds). Nothing is remembered from the day a version was installed: a revoked key, an
//! expired key, a narrowed scope, a raised threshold or a new required label takes effect at the
//! next load.
//!
//! [`trust_policy`] builds the current [`TrustPolicy`] from the store's keys (revocation and
//! expiry included) and the operator's rules; [`reauthorize_installed`] applies a change of
//! either to every installed plugin at once, disabling the versions that no longer satisfy their
//! rule and saying which.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::collections::BTreeSet;

use ward_manifest::Manifest;
use ward_signing::{
    Capability, Pattern, PublicKey, Report, Rule, SignatureStatus, TrustPolicy, TrustedKey,
    Verified, VerifyError,
};
use ward_store::{Store, StoreError};

/// Why the trust policy cannot be built: the store holds a key ward cannot use, or the rules are
/// invalid. Fails closed: no policy, nothing runs.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The store could not be read.
    #[error("cannot read the trust store")]
    Store(#[from] StoreError),
    /// A stored key is unreadable.
    #[error("trusted key {key_id} in the store is unreadable")]
    Key {
        /// The key.
        key_id: String,
        /// Why.
        #[source]
        source: ward_signing::KeyError,
    },
    /// A stored scope, ceiling or expiry is invalid.
    #[error("trusted key {key_id} has an invalid {what}: {value}")]
    Entry {
        /// The key.
        key_id: String,
        /// `scope`, `ceiling` or `expiry`.
        what: &'static str,
        /// The stored value.
        value: String,
    },
    /// The policy (keys and rules together) breaks an invariant.
    #[error(transparent)]
    Policy(#[from] ward_signing::PolicyError),
}

/// The current trust policy: every key of the store (revoked ones marked, expiry applied) and the
/// operator's signature rules.
pub fn trust_policy(store: &Store, rules: &[Rule]) -> Result<TrustPolicy, TrustError> {
    let mut keys = Vec::new();
    for k in store.trust_list()? {
        let key = PublicKey::parse(k.public_key.as_bytes()).map_err(|source| TrustError::Key {
            key_id: k.key_id.clone(),
            source,
        })?;
        let scope = k
            .scopes
            .iter()
            .map(|s| {
                Pattern::parse(s).map_err(|_| TrustError::Entry {
                    key_id: k.key_id.clone(),
                    what: "scope",
                    value: s.clone(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let ceiling = match &k.ceiling {
            None => None,
            Some(kinds) => Some(
                kinds
                    .iter()
                    .map(|c| {
                        serde_json::from_value::<Capability>(serde_json::Value::String(c.clone()))
                            .map_err(|_| TrustError::Entry {
                                key_id: k.key_id.clone(),
                                what: "ceiling",
                                value: c.clone(),
                            })
                    })
                    .collect::<Result<BTreeSet<_>, _>>()?,
            ),
        };
        let expires = match &k.expires {
            None => None,
            Some(text) => Some(
                ward_store::parse_utc(text)
                    .and_then(|s| i64::try_from(s).ok())
                    .ok_or_else(|| TrustError::Entry {
                        key_id: k.key_id.clone(),
                        what: "expiry",
                        value: text.clone(),
                    })?,
            ),
        };
        keys.push(TrustedKey {
            label: k.label,
            key,
            scope,
            ceiling,
            expires,
            revoked: k.revoked_at.is_some(),
        });
    }
    Ok(TrustPolicy::new(keys, rules.to_vec())?)
}

/// A version that may run now.
#[derive(Debug, Clone)]
pub struct Authorized {
    /// The verification: digest, the keys that counted, the rule that passed.
    pub verified: Verified,
    /// The manifest, read from the signed bytes only.
    pub manifest: Manifest,
    /// Unix time at which a key of the policy expires, after which the decision must be taken
    /// again (`None`: no key of the policy expires later than now).
    pub recheck_at: Option<i64>,
}

/// Why a version may not run now. [`Unauthorized::reason`] is the audit reason; the message names
/// what failed (the rule and what each signature came to).
#[derive(Debug, thiserror::Error)]
pub enum Unauthorized {
    /// The bytes are not a signed component ward can read.
    #[error("{0}")]
    Unreadable(#[source] VerifyError),
    /// No key of the trust store signed these exact bytes.
    #[error(
        "signature check failed: no key in the trust store signed these exact bytes (signatures: {signatures})"
    )]
    NoTrustedSignature {
        /// What each signature came to.
        signatures: String,
    },
    /// The signed content carries no manifest.
    #[error("it carries no signed manifest (pack one with `ward pack` before signing)")]
    NoManifest,
    /// The signed manifest is invalid.
    #[error("invalid signed manifest")]
    ManifestInvalid(#[source] ward_manifest::ManifestError),
    /// The signed manifest names another plugin than the one being loaded.
    #[error("the signed manifest names {found}, not {expected}")]
    NameMismatch {
        /// The plugin being loaded.
        expected: String,
        /// What the signed manifest says.
        found: String,
    },
    /// Trusted keys signed it, but the current trust policy is not met: a key was revoked or
    /// expired, is out of scope or beyond its ceiling, or the rule needs more (or other) keys.
    #[error("the trust policy is not met for {plugin}: {detail}")]
    PolicyNotMet {
        /// The plugin.
        plugin: String,
        /// The failing rule and what each signature came to.
        detail: String,
        /// The full report.
        report: Box<Report>,
    },
}

impl Unauthorized {
    /// The audit reason code.
    pub fn reason(&self) -> &'static str {
        match self {
            Unauthorized::Unreadable(_) | Unauthorized::NoTrustedSignature { .. } => {
                "signature-refused"
            }
            Unauthorized::NoManifest => "no-manifest",
            Unauthorized::ManifestInvalid(_) => "manifest-invalid",
            Unauthorized::NameMismatch { .. } => "name-mismatch",
            Unauthorized::PolicyNotMet { .. } => "unauthorized",
        }
    }

    /// The digest the refusal concerns, when it is known.
    pub fn digest(&self) -> Option<String> {
        match self {
            Unauthorized::PolicyNotMet { report, .. } => Some(report.digest.to_string()),
            _ => None,
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Whether the component `bytes` may run now under `trust`: a trusted key signed these exact bytes,
/// the manifest in the signed content parses (and, with `expected`, names that plugin), and the
/// rule for its name passes counting only keys that are unrevoked, unexpired, in scope and whose
/// ceiling allows every capability the manifest asks for.
pub fn authorize(
    bytes: &[u8],
    trust: &TrustPolicy,
    expected: Option<&str>,
) -> Result<Authorized, Unauthorized> {
    authorize_at(bytes, trust, expected, now())
}

/// [`authorize`] at Unix time `now`.
pub fn authorize_at(
    bytes: &[u8],
    trust: &TrustPolicy,
    expected: Option<&str>,
    now: i64,
) -> Result<Authorized, Unauthorized> {
    // The name the scopes are matched against comes from the signed manifest, so first establish
    // that a trusted key signed these exact bytes (in any scope), then read the name from them.
    let any_scope = TrustPolicy::new(
        trust
            .keys()
            .iter()
            .map(|k| TrustedKey {
                scope: Pattern::parse("*").map(|p| vec![p]).unwrap_or_default(),
                revoked: false,
                expires: None,
                ceiling: None,
                ..k.clone()
            })
            .filter(|k| !k.scope.is_empty())
            .collect(),
        Vec::new(),
    )
    .map_err(|e| Unauthorized::Unreadable(VerifyError::Policy(e)))?;
    let crypto = match ward_signing::verify_at(bytes, None, &any_scope, "ward:probe", now) {
        Ok(v) => v,
        Err(VerifyError::Refused(report)) => {
            return Err(Unauthorized::NoTrustedSignature {
                signatures: signature_list(&report),
            });
        }
        Err(e) => return Err(Unauthorized::Unreadable(e)),
    };
    let manifest_bytes = crypto.manifest().ok_or(Unauthorized::NoManifest)?;
    let manifest = Manifest::parse(manifest_bytes).map_err(Unauthorized::ManifestInvalid)?;
    let name = manifest.name.to_string();
    if let Some(expected) = expected
        && expected != name
    {
        return Err(Unauthorized::NameMismatch {
            expected: expected.to_owned(),
            found: name,
        });
    }
    let not_met = |report: Box<Report>| Unauthorized::PolicyNotMet {
        plugin: name.clone(),
        detail: rule_failure(&report),
        report,
    };
    let verified = match ward_signing::verify_at(bytes, None, trust, &name, now) {
        Ok(v) => v,
        Err(VerifyError::Refused(report)) => return Err(not_met(report)),
        Err(e) => return Err(Unauthorized::Unreadable(e)),
    };
    match verified.check_capabilities(&manifest.capability_kinds()) {
        Ok(()) => {}
        Err(VerifyError::Refused(report)) => return Err(not_met(report)),
        Err(e) => return Err(Unauthorized::Unreadable(e)),
    }
    let recheck_at = trust
        .keys()
        .iter()
        .filter_map(|k| k.expires)
        .filter(|t| *t > now)
        .min();
    Ok(Authorized {
        verified,
        manifest,
        recheck_at,
    })
}

fn signature_list(report: &Report) -> String {
    if report.signatures.is_empty() {
        return "none".to_owned();
    }
    report
        .signatures
        .iter()
        .map(|s| {
            let who = s.key_id.as_ref().or(s.claimed_key_id.as_ref());
            format!(
                "#{} {} {}",
                s.index,
                s.status.as_str(),
                who.map_or("(no key id)", |k| k.as_str())
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The failing rule, in words: which rule, what it needs, and what each signature came to.
fn rule_failure(report: &Report) -> String {
    let r = &report.rule;
    let labels = if r.require_labels.is_empty() {
        String::new()
    } else {
        format!(" with labels {:?}", r.require_labels)
    };
    let sigs: Vec<String> = report
        .signatures
        .iter()
        .map(|s| {
            let who = match (&s.key_id, &s.claimed_key_id) {
                (Some(id), _) if s.labels.is_empty() => id.clone(),
                (Some(id), _) => format!("{id} ({})", s.labels.join(", ")),
                (None, Some(claimed)) => format!("claimed {claimed}"),
                (None, None) => "no key id".to_owned(),
            };
            format!("#{} {} {who}", s.index, s.status.as_str())
        })
        .collect();
    let why = if report
        .signatures
        .iter()
        .any(|s| s.status == SignatureStatus::Revoked)
    {
        " (a signing key was revoked)"
    } else if report
        .signatures
        .iter()
        .any(|s| s.status == SignatureStatus::Expired)
    {
        " (a signing key expired)"
    } else {
        ""
    };
    format!(
        "rule {:?} needs {} distinct trusted key(s){labels}: {}{why}; signatures: [{}]",
        r.namespace,
        r.threshold,
        r.reason,
        sigs.join("; ")
    )
}

/// A plugin [`reauthorize_installed`] disabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disabled {
    /// The plugin.
    pub name: String,
    /// Its current version.
    pub version: String,
    /// Why its current version may no longer run.
    pub reason: String,
}

/// Applies the current trust policy to every enabled installed plugin: the current version of each
/// is authorized again, and every one that no longer passes is disabled (audited as `disable` with
/// reason `unauthorized`, its message naming the failing rule). Returns the plugins disabled.
///
/// Run after revoking a key or changing a rule. Even without it nothing unauthorized runs, since
/// every load authorizes; this makes the state visible (`ward list`) and says which.
pub fn reauthorize_installed(
    store: &mut Store,
    trust: &TrustPolicy,
) -> Result<Vec<Disabled>, StoreError> {
    let mut disabled = Vec::new();
    for row in store.list()? {
        if !row.enabled {
            continue;
        }
        let Some(current) = store.current(&row.name)? else {
            continue;
        };
        let verdict = match store.get_blob(&current.blob) {
            Ok(bytes) => authorize(&bytes, trust, Some(&row.name))
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(reason) = verdict {
            store.disable_with(&row.name, &reason, "unauthorized")?;
            disabled.push(Disabled {
                name: row.name,
                version: current.version,
                reason,
            });
        }
    }
    Ok(disabled)
}

/// Makes `name`'s current version runnable again, only when it is authorized now. A refusal is
/// audited as `deny` with the refusal's reason.
pub fn enable(store: &mut Store, trust: &TrustPolicy, name: &str) -> Result<(), Refused> {
    let current = store
        .current(name)?
        .ok_or_else(|| StoreError::NotInstalled(name.to_owned()))?;
    let bytes = store.get_blob(&current.blob)?;
    if let Err(e) = authorize(&bytes, trust, Some(name)) {
        deny(store, name, &current.digest, e.reason());
        return Err(Refused::Unauthorized {
            name: name.to_owned(),
            version: current.version,
            source: e,
        });
    }
    store.enable(name)?;
    Ok(())
}

/// Switches `name` back to a kept version (`to`, or the highest one below the current), only when
/// that version is authorized now. A refusal is audited as `deny` with the refusal's reason.
pub fn rollback(
    store: &mut Store,
    trust: &TrustPolicy,
    name: &str,
    to: Option<&str>,
) -> Result<ward_store::InstalledVersion, Refused> {
    let target = store.rollback_target(name, to)?;
    let bytes = store.get_blob(&target.blob)?;
    if let Err(e) = authorize(&bytes, trust, Some(name)) {
        deny(store, name, &target.digest, e.reason());
        return Err(Refused::Unauthorized {
            name: name.to_owned(),
            version: target.version,
            source: e,
        });
    }
    Ok(store.rollback(name, Some(&target.version))?)
}

fn deny(store: &mut Store, name: &str, digest: &str, reason: &'static str) {
    let mut ev = ward_store::AuditEvent::new(ward_store::AuditAction::Deny);
    ev.plugin = Some(name.to_owned());
    ev.digest = Some(digest.to_owned());
    ev.outcome = ward_store::Outcome::Denied;
    ev.detail.reason = Some(reason);
    // The refusal stands whether or not it could be recorded.
    let _ = store.append_audit(&ev);
}

/// Why `enable` or `rollback` was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The version may not run under the current trust policy.
    #[error("refusing {name} {version}")]
    Unauthorized {
        /// The plugin.
        name: String,
        /// The version that would become runnable.
        version: String,
        /// Why.
        #[source]
        source: Unauthorized,
    },
}

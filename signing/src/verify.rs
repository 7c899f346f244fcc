//! Verification of a component's signatures against the trust policy.

use std::collections::BTreeSet;
use std::ops::Range;

use serde::Serialize;

use crate::component::{Digest, MANIFEST_SECTION, hash, split};
use crate::envelope::{Envelope, signed_message};
use crate::error::{FormatError, VerifyError};
use crate::keys::{KeyId, PublicKey};
use crate::policy::{Capability, Rule, TrustPolicy, plugin_name};

/// What became of one signature record of the envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureStatus {
    /// Verified by a trusted key that may sign for this plugin; counted toward the rule.
    Counted,
    /// Verified, but its key already counted once.
    Duplicate,
    /// Verified by a key the trust store marks revoked.
    Revoked,
    /// Verified by a key whose every in-scope entry has expired.
    Expired,
    /// Verified by a key not trusted for this plugin's namespace.
    OutOfScope,
    /// Verified by a key whose capability ceiling does not allow what the manifest requests.
    BeyondCeiling,
    /// Names a trusted key, but does not verify with it (tampered signature or content).
    Invalid,
    /// No trusted key verifies it.
    Untrusted,
    /// Signs other content (another component, or only part of this one): grants nothing.
    DoesNotCoverContent,
}

impl SignatureStatus {
    /// The status as written in reports (`counted`, `does-not-cover-content`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Counted => "counted",
            Self::Duplicate => "duplicate",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::OutOfScope => "out-of-scope",
            Self::BeyondCeiling => "beyond-ceiling",
            Self::Invalid => "invalid",
            Self::Untrusted => "untrusted",
            Self::DoesNotCoverContent => "does-not-cover-content",
        }
    }
}

/// One signature record and its outcome.
#[derive(Debug, Clone, Serialize)]
pub struct SignatureReport {
    /// Position in the envelope, counting across hash sets.
    pub index: usize,
    /// The key id the envelope claims (a hint only; hex).
    pub claimed_key_id: Option<String>,
    /// The key id recomputed from the trusted key that verified the signature.
    pub key_id: Option<String>,
    /// Labels of the trust store entries for that key.
    pub labels: Vec<String>,
    /// The outcome.
    pub status: SignatureStatus,
}

/// The rule that decided, and whether it passed.
#[derive(Debug, Clone, Serialize)]
pub struct RuleReport {
    /// The rule's namespace pattern (`*` for the default rule).
    pub namespace: String,
    /// Distinct keys needed.
    pub threshold: usize,
    /// Labels that had to be among them.
    pub require_labels: Vec<String>,
    /// Distinct keys that counted.
    pub counted: usize,
    /// Whether the rule passed.
    pub passed: bool,
    /// Why, in words.
    pub reason: String,
}

/// Full account of a verification, for success and refusal alike.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The plugin name checked (`ns:name`).
    pub plugin: String,
    /// The component's digest (what the signatures had to sign).
    pub digest: Digest,
    /// Every signature record in the envelope.
    pub signatures: Vec<SignatureReport>,
    /// The rule applied.
    pub rule: RuleReport,
}

impl Report {
    /// One line: the rule's outcome and what each signature came to.
    pub fn summary(&self) -> String {
        let sigs: Vec<String> = self
            .signatures
            .iter()
            .map(|s| {
                let who = match (&s.key_id, &s.claimed_key_id) {
                    (Some(id), _) => format!("{id} ({})", s.labels.join(", ")),
                    (None, Some(claimed)) => format!("claimed {claimed}"),
                    (None, None) => "no key id".to_owned(),
                };
                format!("#{} {} {who}", s.index, s.status.as_str())
            })
            .collect();
        format!(
            "rule {:?} for {} {}: {}; signatures: [{}]",
            self.rule.namespace,
            self.plugin,
            if self.rule.passed { "passed" } else { "failed" },
            self.rule.reason,
            sigs.join("; ")
        )
    }
}

/// A key that signed and counts, with the trust store entries that let it count.
#[derive(Debug, Clone)]
pub struct Signer {
    /// The key (its id is recomputed from it).
    pub key: PublicKey,
    /// Labels of its usable entries.
    pub labels: Vec<String>,
    entries: Vec<(String, Option<BTreeSet<Capability>>)>,
}

impl Signer {
    /// The key id, computed from the key.
    pub fn key_id(&self) -> KeyId {
        self.key.key_id()
    }
}

/// A component whose signatures satisfied the policy. Everything it exposes comes from the signed
/// range; read the manifest from here, never from the raw file.
#[derive(Debug, Clone)]
pub struct Verified {
    report: Report,
    signers: Vec<Signer>,
    rule: Rule,
    signed_range: Range<usize>,
    manifest: Option<Vec<u8>>,
}

impl Verified {
    /// The component's digest.
    pub fn digest(&self) -> Digest {
        self.report.digest
    }

    /// The keys that counted.
    pub fn signers(&self) -> &[Signer] {
        &self.signers
    }

    /// The full report (which keys signed, which rule passed).
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Byte range of the component covered by the signatures (everything after the signature
    /// section; the 8-byte preamble before it is fixed).
    pub fn signed_range(&self) -> Range<usize> {
        self.signed_range.clone()
    }

    /// The data of the `ward-manifest` section in the signed content, if any.
    pub fn manifest(&self) -> Option<&[u8]> {
        self.manifest.as_deref()
    }

    /// Re-applies the rule counting only signers whose capability ceiling allows every capability
    /// in `requested` (what the signed manifest asks for). Call it once the manifest is parsed.
    pub fn check_capabilities(&self, requested: &BTreeSet<Capability>) -> Result<(), VerifyError> {
        let mut signers = Vec::new();
        let mut report = self.report.clone();
        for s in &self.signers {
            let labels: Vec<String> = s
                .entries
                .iter()
                .filter(|(_, c)| c.as_ref().is_none_or(|c| requested.is_subset(c)))
                .map(|(l, _)| l.clone())
                .collect();
            if labels.is_empty() {
                let id = s.key_id().to_string();
                for r in &mut report.signatures {
                    if r.key_id.as_deref() == Some(id.as_str())
                        && r.status == SignatureStatus::Counted
                    {
                        r.status = SignatureStatus::BeyondCeiling;
                    }
                }
            } else {
                signers.push(labels);
            }
        }
        report.rule = evaluate(&self.rule, &signers);
        if report.rule.passed {
            Ok(())
        } else {
            Err(VerifyError::Refused(Box::new(report)))
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Verifies a signed component for `plugin` (`ns:name`, version ignored) against the policy:
/// every counted signature must cover all the content after the signature section, be made by a
/// trusted, unrevoked, unexpired key in scope, and the namespace's rule must pass.
pub fn verify(
    component: &[u8],
    policy: &TrustPolicy,
    plugin: &str,
) -> Result<Verified, VerifyError> {
    verify_at(component, None, policy, plugin, now())
}

/// As [`verify`], with the signatures in a detached `.sig` (the component must hold none).
pub fn verify_detached(
    component: &[u8],
    signature: &[u8],
    policy: &TrustPolicy,
    plugin: &str,
) -> Result<Verified, VerifyError> {
    verify_at(component, Some(signature), policy, plugin, now())
}

/// As [`verify`], at a given Unix time (seconds), with an optional detached signature.
pub fn verify_at(
    component: &[u8],
    detached: Option<&[u8]>,
    policy: &TrustPolicy,
    plugin: &str,
    now: i64,
) -> Result<Verified, VerifyError> {
    let plugin = plugin_name(plugin)?;
    let s = split(component)?;
    let envelope = match (&s.envelope, detached) {
        (Some(_), Some(_)) => return Err(VerifyError::EmbeddedAndDetached),
        (Some(r), None) => Envelope::parse(&component[r.clone()])?,
        (None, Some(d)) => Envelope::parse(d)?,
        (None, None) => return Err(VerifyError::NotSigned),
    };
    let digest = hash(&component[s.content.clone()]);

    let mut distinct: Vec<PublicKey> = Vec::new();
    for k in policy.keys() {
        if !distinct.contains(&k.key) {
            distinct.push(k.key);
        }
    }
    let ids: Vec<KeyId> = distinct.iter().map(PublicKey::key_id).collect();

    let mut reports = Vec::new();
    let mut signers: Vec<Signer> = Vec::new();
    let mut index = 0;
    for set in &envelope.sets {
        let covers = set.hashes.contains(digest.as_bytes());
        let msg = signed_message(&set.hashes);
        for rec in &set.signatures {
            let mut r = SignatureReport {
                index,
                claimed_key_id: rec.key_id.as_ref().map(hex::encode),
                key_id: None,
                labels: Vec::new(),
                status: SignatureStatus::Untrusted,
            };
            index += 1;
            if !covers {
                r.status = SignatureStatus::DoesNotCoverContent;
                reports.push(r);
                continue;
            }
            let candidates: Vec<usize> = match &rec.key_id {
                Some(claimed) => (0..distinct.len())
                    .filter(|i| ids[*i].as_bytes().as_slice() == claimed.as_slice())
                    .collect(),
                None => (0..distinct.len()).collect(),
            };
            let verified = candidates
                .iter()
                .copied()
                .find(|i| distinct[*i].verify_strict(&msg, &rec.signature));
            let Some(i) = verified else {
                if rec.key_id.is_some() && !candidates.is_empty() {
                    r.status = SignatureStatus::Invalid;
                }
                reports.push(r);
                continue;
            };
            let key = distinct[i];
            r.key_id = Some(ids[i].to_string());
            let entries: Vec<_> = policy.keys().iter().filter(|k| k.key == key).collect();
            r.labels = entries.iter().map(|e| e.label.clone()).collect();
            r.status = if signers.iter().any(|s| s.key == key) {
                SignatureStatus::Duplicate
            } else if entries.iter().any(|e| e.revoked) {
                SignatureStatus::Revoked
            } else {
                let in_scope: Vec<_> = entries
                    .iter()
                    .filter(|e| e.scope.iter().any(|p| p.matches(plugin)))
                    .collect();
                let usable: Vec<_> = in_scope
                    .iter()
                    .filter(|e| e.expires.is_none_or(|t| now < t))
                    .collect();
                if in_scope.is_empty() {
                    SignatureStatus::OutOfScope
                } else if usable.is_empty() {
                    SignatureStatus::Expired
                } else {
                    signers.push(Signer {
                        key,
                        labels: usable.iter().map(|e| e.label.clone()).collect(),
                        entries: usable
                            .iter()
                            .map(|e| (e.label.clone(), e.ceiling.clone()))
                            .collect(),
                    });
                    SignatureStatus::Counted
                }
            };
            reports.push(r);
        }
    }

    let rule = policy.rule_for(plugin);
    let labels: Vec<Vec<String>> = signers.iter().map(|s| s.labels.clone()).collect();
    let report = Report {
        plugin: plugin.to_owned(),
        digest,
        signatures: reports,
        rule: evaluate(&rule, &labels),
    };
    if !report.rule.passed {
        return Err(VerifyError::Refused(Box::new(report)));
    }

    let manifests: Vec<&[u8]> = s.sections[s.first_content..]
        .iter()
        .filter(|sec| sec.custom_name() == Some(MANIFEST_SECTION))
        .filter_map(|sec| sec.custom_data(component))
        .collect();
    if manifests.len() > 1 {
        return Err(FormatError::DuplicateManifest(manifests.len()).into());
    }
    Ok(Verified {
        report,
        signers,
        rule,
        signed_range: s.content,
        manifest: manifests.first().map(|m| m.to_vec()),
    })
}

/// Applies a rule to the counted signers (one label list per distinct key).
fn evaluate(rule: &Rule, signers: &[Vec<String>]) -> RuleReport {
    let counted = signers.len();
    let mut report = RuleReport {
        namespace: rule.pattern.to_string(),
        threshold: rule.threshold,
        require_labels: rule.require_labels.clone(),
        counted,
        passed: false,
        reason: String::new(),
    };
    if counted < rule.threshold {
        report.reason = format!(
            "needs {} distinct trusted keys, {} counted",
            rule.threshold, counted
        );
        return report;
    }
    // Each required label needs its own key: a bipartite matching of labels to signers.
    let mut owner: Vec<Option<usize>> = vec![None; counted];
    for (li, label) in rule.require_labels.iter().enumerate() {
        let mut seen = vec![false; counted];
        if !assign(li, &rule.require_labels, signers, &mut owner, &mut seen) {
            report.reason = format!("needs a distinct key labelled {label:?} among the signers");
            return report;
        }
    }
    report.passed = true;
    report.reason = if rule.require_labels.is_empty() {
        format!("{counted} of {} distinct trusted keys", rule.threshold)
    } else {
        format!(
            "{counted} of {} distinct trusted keys, labels {:?} present",
            rule.threshold, rule.require_labels
        )
    };
    report
}

fn assign(
    li: usize,
    labels: &[String],
    signers: &[Vec<String>],
    owner: &mut [Option<usize>],
    seen: &mut [bool],
) -> bool {
    for si in 0..signers.len() {
        if seen[si] || !signers[si].contains(&labels[li]) {
            continue;
        }
        seen[si] = true;
        let free = match owner[si] {
            None => true,
            Some(other) => assign(other, labels, signers, owner, seen),
        };
        if free {
            owner[si] = Some(li);
            return true;
        }
    }
    false
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::policy::Pattern;

    fn rule(threshold: usize, labels: &[&str]) -> Rule {
        Rule {
            pattern: Pattern::parse("prod:*").unwrap(),
            threshold,
            require_labels: labels.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn s(labels: &[&str]) -> Vec<String> {
        labels.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn thresholds_and_labels() {
        let table: &[(Rule, Vec<Vec<String>>, bool)] = &[
            (rule(1, &[]), vec![s(&["a"])], true),
            (rule(2, &[]), vec![s(&["a"])], false),
            (rule(2, &["ci"]), vec![s(&["a"]), s(&["ci"])], true),
            (rule(2, &["ci"]), vec![s(&["a"]), s(&["b"])], false),
            // one key carrying both labels cannot satisfy two label requirements
            (
                rule(2, &["ci", "pub"]),
                vec![s(&["ci", "pub"]), s(&["x"])],
                false,
            ),
            (
                rule(2, &["ci", "pub"]),
                vec![s(&["ci", "pub"]), s(&["ci"])],
                true,
            ),
        ];
        for (r, signers, want) in table {
            assert_eq!(evaluate(r, signers).passed, *want, "{r:?} {signers:?}");
        }
    }
}

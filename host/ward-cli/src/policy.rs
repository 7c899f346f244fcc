//! The operator's policy file, `$WARD_HOME/policy.toml`: signature thresholds per namespace and
//! the capabilities `ward install --yes` may accept without asking.
//!
//! ```toml
//! [[rule]]                       # prod:* plugins need two distinct keys, one labelled "ci"
//! namespace = "prod:*"
//! threshold = 2
//! require_labels = ["ci"]
//!
//! [[preapprove]]                 # --yes may accept these capability kinds for acme:* plugins
//! plugin = "acme:*"
//! capabilities = ["http", "env"]
//!
//! [store]
//! keep_versions = 3
//! ```

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;
use ward_signing::{Capability, Pattern, Rule};

/// Largest policy file read.
const MAX_POLICY_BYTES: u64 = 256 * 1024;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    rule: Vec<RuleEntry>,
    #[serde(default)]
    preapprove: Vec<Preapprove>,
    #[serde(default)]
    store: StoreSection,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    namespace: String,
    threshold: usize,
    #[serde(default)]
    require_labels: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Preapprove {
    plugin: String,
    capabilities: Vec<Capability>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreSection {
    keep_versions: Option<usize>,
}

/// The parsed policy.
#[derive(Debug, Default)]
pub(crate) struct OperatorPolicy {
    pub(crate) rules: Vec<Rule>,
    preapproved: Vec<(Pattern, BTreeSet<Capability>)>,
    pub(crate) keep_versions: Option<usize>,
}

impl OperatorPolicy {
    /// Reads `path`; a missing file is the empty policy (one trusted in-scope key per plugin,
    /// nothing pre-approved).
    pub(crate) fn load(path: &Path) -> anyhow::Result<OperatorPolicy> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok(OperatorPolicy::default());
            }
            Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
        };
        if bytes.len() as u64 > MAX_POLICY_BYTES {
            bail!("{} is larger than {MAX_POLICY_BYTES} bytes", path.display());
        }
        let text = std::str::from_utf8(&bytes)
            .with_context(|| format!("{} is not UTF-8", path.display()))?;
        Self::parse(text).with_context(|| format!("invalid policy file {}", path.display()))
    }

    pub(crate) fn parse(text: &str) -> anyhow::Result<OperatorPolicy> {
        let file: File = toml::from_str(text)?;
        let mut rules = Vec::new();
        for r in file.rule {
            if r.threshold == 0 {
                bail!("rule for '{}': threshold must be at least 1", r.namespace);
            }
            rules.push(Rule {
                pattern: Pattern::parse(&r.namespace)?,
                threshold: r.threshold,
                require_labels: r.require_labels,
            });
        }
        let mut preapproved = Vec::new();
        for p in file.preapprove {
            preapproved.push((
                Pattern::parse(&p.plugin)?,
                p.capabilities.into_iter().collect(),
            ));
        }
        Ok(OperatorPolicy {
            rules,
            preapproved,
            keep_versions: file.store.keep_versions,
        })
    }

    /// Which of `requested` are not pre-approved for `plugin`.
    pub(crate) fn not_preapproved(
        &self,
        plugin: &str,
        requested: &BTreeSet<Capability>,
    ) -> Vec<Capability> {
        requested
            .iter()
            .filter(|cap| {
                !self
                    .preapproved
                    .iter()
                    .any(|(pattern, caps)| pattern.matches(plugin) && caps.contains(cap))
            })
            .copied()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_checks_preapproval() {
        let policy = OperatorPolicy::parse(
            r#"
            [[rule]]
            namespace = "prod:*"
            threshold = 2
            require_labels = ["ci"]

            [[preapprove]]
            plugin = "acme:*"
            capabilities = ["http", "env"]
            "#,
        )
        .unwrap();
        assert_eq!(policy.rules.len(), 1);
        let requested: BTreeSet<_> = [Capability::Http, Capability::Secrets]
            .into_iter()
            .collect();
        assert_eq!(
            policy.not_preapproved("acme:fetch", &requested),
            vec![Capability::Secrets]
        );
        assert_eq!(policy.not_preapproved("other:fetch", &requested).len(), 2);
        assert!(OperatorPolicy::parse("[[rule]]\nnamespace = \"x:*\"\nthreshold = 0\n").is_err());
        assert!(OperatorPolicy::parse("unknown = 1\n").is_err());
    }
}

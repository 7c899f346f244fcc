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
use std::path::{Path, PathBuf};

use serde::Deserialize;
use ward_signing::{Capability, Pattern, Rule};

/// Largest policy file read. Threat: a policy path pointing at a huge file making every command
/// allocate without bound.
pub const MAX_POLICY_BYTES: u64 = 256 * 1024;

/// Why the policy file cannot be used. Every error stops the command: a policy that cannot be
/// read is never treated as the empty one.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file exists but cannot be read.
    #[error("cannot read {}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is over [`MAX_POLICY_BYTES`].
    #[error("{} is larger than {MAX_POLICY_BYTES} bytes", .path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The file is not UTF-8.
    #[error("{} is not UTF-8", .path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
    },
    /// The file's content is invalid.
    #[error("invalid policy file {}", .path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: PolicyParseError,
    },
}

/// What is wrong in a policy file's text.
#[derive(Debug, thiserror::Error)]
pub enum PolicyParseError {
    /// Not valid TOML, or a field ward does not know.
    #[error(transparent)]
    Toml(#[from] toml::de::Error),
    /// A `[[rule]]` with `threshold = 0`.
    #[error("rule for '{0}': threshold must be at least 1")]
    ZeroThreshold(String),
    /// A namespace or plugin pattern that does not parse.
    #[error(transparent)]
    Pattern(#[from] ward_signing::PolicyError),
}

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
pub struct OperatorPolicy {
    /// Signature rules per namespace.
    pub rules: Vec<Rule>,
    preapproved: Vec<(Pattern, BTreeSet<Capability>)>,
    /// How many versions of each plugin the store keeps.
    pub keep_versions: Option<usize>,
}

impl OperatorPolicy {
    /// Reads `path`; a missing file is the empty policy (one trusted in-scope key per plugin,
    /// nothing pre-approved).
    pub fn load(path: &Path) -> Result<OperatorPolicy, PolicyError> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok(OperatorPolicy::default());
            }
            Err(source) => {
                return Err(PolicyError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        if bytes.len() as u64 > MAX_POLICY_BYTES {
            return Err(PolicyError::TooLarge {
                path: path.to_owned(),
            });
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| PolicyError::NotUtf8 {
            path: path.to_owned(),
        })?;
        Self::parse(text).map_err(|source| PolicyError::Invalid {
            path: path.to_owned(),
            source,
        })
    }

    /// Parses the text of a policy file.
    pub fn parse(text: &str) -> Result<OperatorPolicy, PolicyParseError> {
        let file: File = toml::from_str(text)?;
        let mut rules = Vec::new();
        for r in file.rule {
            if r.threshold == 0 {
                return Err(PolicyParseError::ZeroThreshold(r.namespace));
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
    pub fn not_preapproved(
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

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
//!
//! [network]                      # extra trusted roots for outbound https (a private CA)
//! ca_certs = ["/etc/ward/internal-ca.pem"]
//!
//! [redact]                       # what results and logs are redacted of (ward_redact::RedactConfig)
//! disable = ["jwt"]
//! [[redact.extra_patterns]]
//! name = "acme-token"
//! regex = "acme_[a-z0-9]{32}"
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use ward_signing::{Capability, Pattern, Rule};

/// Largest policy file read. Threat: a policy path pointing at a huge file making every command
/// allocate without bound.
pub const MAX_POLICY_BYTES: u64 = 256 * 1024;
/// Largest `[network] ca_certs` PEM file read. Threat: a path to a huge file making every run
/// allocate without bound.
pub const MAX_CA_FILE_BYTES: u64 = 1024 * 1024;
/// Most `[network] ca_certs` files.
pub const MAX_CA_FILES: usize = 64;

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
    /// A `[network] ca_certs` file cannot be read, or is over [`MAX_CA_FILE_BYTES`].
    #[error("cannot read CA certificate file {} (policy file [network] ca_certs)", .path.display())]
    CaRead {
        /// The PEM file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A `[network] ca_certs` file holds no usable certificate.
    #[error("invalid CA certificate file {} (policy file [network] ca_certs)", .path.display())]
    CaPem {
        /// The PEM file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: ward_http::RootsError,
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
    /// A `[network] ca_certs` entry that is not an absolute path.
    #[error("[network] ca_certs: '{0}' is not an absolute path")]
    CaPathRelative(String),
    /// More than [`MAX_CA_FILES`] `[network] ca_certs` entries.
    #[error("[network] ca_certs: {0} files; at most {MAX_CA_FILES} are allowed")]
    TooManyCaFiles(usize),
    /// The `[redact]` section does not make a redactor.
    #[error("[redact]: {0}")]
    Redact(#[from] ward_redact::RedactError),
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
    #[serde(default)]
    network: NetworkSection,
    #[serde(default)]
    redact: ward_redact::RedactConfig,
    #[serde(default)]
    proposals: ProposalsSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProposalsSection {
    #[serde(default)]
    sign_for: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkSection {
    #[serde(default)]
    ca_certs: Vec<String>,
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
    /// `[network] ca_certs`: PEM files of extra root certificates trusted for outbound https.
    pub ca_certs: Vec<PathBuf>,
    /// The certificates of `ca_certs`, read by [`OperatorPolicy::load`].
    pub trusted_roots: ward_http::TrustedRoots,
    /// `[redact]`: what results and logs are redacted of, besides the call's secret values.
    pub redact: ward_redact::RedactConfig,
    /// `[proposals] sign_for`: plugin patterns the operator's local key may sign approved
    /// proposals for, besides `local:*` (read when the key is created and trusted).
    pub proposal_scopes: Vec<Pattern>,
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
        let mut policy = Self::parse(text).map_err(|source| PolicyError::Invalid {
            path: path.to_owned(),
            source,
        })?;
        for ca in &policy.ca_certs {
            let pem = read_capped(ca, MAX_CA_FILE_BYTES).map_err(|source| PolicyError::CaRead {
                path: ca.clone(),
                source,
            })?;
            policy
                .trusted_roots
                .add_pem(&pem)
                .map_err(|source| PolicyError::CaPem {
                    path: ca.clone(),
                    source,
                })?;
        }
        Ok(policy)
    }

    /// Parses the text of a policy file. `ca_certs` files are read by [`OperatorPolicy::load`].
    /// The `[redact]` section is checked by building a redactor from it.
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
        if file.network.ca_certs.len() > MAX_CA_FILES {
            return Err(PolicyParseError::TooManyCaFiles(
                file.network.ca_certs.len(),
            ));
        }
        let mut ca_certs = Vec::new();
        for ca in file.network.ca_certs {
            let path = PathBuf::from(&ca);
            if !path.is_absolute() {
                return Err(PolicyParseError::CaPathRelative(ca));
            }
            ca_certs.push(path);
        }
        ward_redact::Redactor::new(&file.redact)?;
        let proposal_scopes = file
            .proposals
            .sign_for
            .iter()
            .map(|p| Pattern::parse(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(OperatorPolicy {
            proposal_scopes,
            rules,
            preapproved,
            keep_versions: file.store.keep_versions,
            ca_certs,
            trusted_roots: ward_http::TrustedRoots::default(),
            redact: file.redact,
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

/// Reads at most `cap` bytes of `path`, refusing a larger file.
fn read_capped(path: &Path, cap: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(cap + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(std::io::Error::other(format!("larger than {cap} bytes")));
    }
    Ok(bytes)
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

    #[test]
    fn network_and_redact_sections() {
        let policy = OperatorPolicy::parse(
            r#"
            [network]
            ca_certs = ["/etc/ward/ca.pem"]

            [redact]
            disable = ["jwt"]
            [[redact.extra_patterns]]
            name = "acme-token"
            regex = "acme_[a-z0-9]{32}"
            "#,
        )
        .unwrap();
        assert_eq!(policy.ca_certs, vec![PathBuf::from("/etc/ward/ca.pem")]);
        assert_eq!(policy.redact.extra_patterns.len(), 1);
        let errors = [
            (
                "[network]\nca_certs = [\"ca.pem\"]\n",
                "[network] ca_certs: 'ca.pem' is not an absolute path",
            ),
            (
                "[redact]\ndisable = [\"secret\"]\n",
                "[redact]: the secret detector cannot be disabled: known secret values are always redacted; remove \"secret\" from disable",
            ),
        ];
        for (text, want) in errors {
            assert_eq!(OperatorPolicy::parse(text).unwrap_err().to_string(), want);
        }
        assert!(OperatorPolicy::parse("[network]\nproxy = \"x\"\n").is_err());
        assert!(OperatorPolicy::parse("[redact]\nunknown = 1\n").is_err());
    }

    #[test]
    fn bad_ca_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not a certificate\n").unwrap();
        let policy = dir.path().join("policy.toml");
        std::fs::write(
            &policy,
            format!("[network]\nca_certs = [\"{}\"]\n", ca.display()),
        )
        .unwrap();
        let err = OperatorPolicy::load(&policy).unwrap_err();
        assert_eq!(
            format!("{err}: {}", std::error::Error::source(&err).unwrap()),
            format!(
                "invalid CA certificate file {} (policy file [network] ca_certs): no CERTIFICATE block in the PEM text",
                ca.display()
            )
        );
        std::fs::remove_file(&ca).unwrap();
        let err = OperatorPolicy::load(&policy).unwrap_err();
        assert!(matches!(err, PolicyError::CaRead { .. }), "{err}");
    }
}

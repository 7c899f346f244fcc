//! The trust store: which keys the operator trusts, for which namespaces and capabilities, and how
//! many signatures each namespace needs. See `docs/signing.md` for the TOML schema.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::PolicyError;
use crate::keys::PublicKey;

/// Most keys in one trust store. Threat: every signature without a key id is tried against every
/// trusted key, so the key count multiplies verification work.
pub const MAX_TRUSTED_KEYS: usize = 256;
/// Largest trust store file read. Threat: a huge file given as `--trust`.
pub const MAX_TRUST_FILE_SIZE: usize = 1024 * 1024;

/// A kind of authority a key may vouch for (its capability ceiling lists the kinds allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// Outbound HTTP to named hosts.
    Http,
    /// Read-only directories.
    ReadPaths,
    /// Directories the plugin may write.
    WritablePaths,
    /// Secrets injected by the host.
    Secrets,
    /// Environment variables.
    Env,
    /// Key-value namespaces.
    Kv,
    /// Operator confirmations.
    Confirm,
}

/// A namespace pattern: `ns:name` (exact), `ns:*` (every plugin of a namespace) or `*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pattern(String);

impl Pattern {
    /// Parses a pattern, refusing anything but the three forms above.
    pub fn parse(s: &str) -> Result<Self, PolicyError> {
        let bad = || PolicyError::BadPattern {
            pattern: s.to_owned(),
        };
        if s == "*" {
            return Ok(Self(s.to_owned()));
        }
        let (ns, name) = s.split_once(':').ok_or_else(bad)?;
        if !is_ident(ns) || !(name == "*" || is_ident(name)) {
            return Err(bad());
        }
        Ok(Self(s.to_owned()))
    }

    /// Whether `plugin` (a validated `ns:name`) matches.
    pub fn matches(&self, plugin: &str) -> bool {
        match self.0.strip_suffix('*') {
            Some("") => true,
            Some(prefix) => plugin.starts_with(prefix),
            None => self.0 == plugin,
        }
    }

    /// 2 for an exact name, 1 for `ns:*`, 0 for `*`: the most specific rule applies.
    fn specificity(&self) -> u8 {
        if self.0 == "*" {
            0
        } else if self.0.ends_with(":*") {
            1
        } else {
            2
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Checks a plugin name (`ns:name`, optionally `@version`) and returns its `ns:name` part.
pub fn plugin_name(plugin: &str) -> Result<&str, PolicyError> {
    let name = plugin.split_once('@').map_or(plugin, |(n, _)| n);
    match name.split_once(':') {
        Some((ns, n)) if is_ident(ns) && is_ident(n) => Ok(name),
        _ => Err(PolicyError::BadPluginName(plugin.to_owned())),
    }
}

/// One trusted key entry. The same public key may be listed more than once; it still counts as
/// one signer.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    /// Operator-chosen name, shown in reports and used by `require_labels`.
    pub label: String,
    /// The key.
    pub key: PublicKey,
    /// Plugins this key may sign for.
    pub scope: Vec<Pattern>,
    /// Capabilities this key may vouch for; `None` means no ceiling.
    pub ceiling: Option<BTreeSet<Capability>>,
    /// Unix time (seconds) from which the key no longer counts.
    pub expires: Option<i64>,
    /// A revoked key counts for nothing, under any of its entries.
    pub revoked: bool,
}

/// How many distinct keys a namespace needs, and which labels must be among them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Plugins the rule applies to (the most specific matching rule wins).
    pub pattern: Pattern,
    /// Distinct keys needed.
    pub threshold: usize,
    /// Labels that must each be carried by a different counted key.
    pub require_labels: Vec<String>,
}

impl Rule {
    /// The rule that applies when none matches: one trusted, in-scope key.
    pub fn default_rule() -> Self {
        Self {
            pattern: Pattern("*".to_owned()),
            threshold: 1,
            require_labels: Vec::new(),
        }
    }
}

/// The operator's trust store and signature policy.
#[derive(Debug, Clone)]
pub struct TrustPolicy {
    keys: Vec<TrustedKey>,
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustFile {
    #[serde(default)]
    key: Vec<KeyEntry>,
    #[serde(default)]
    rule: Vec<RuleEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    label: String,
    public_key: Option<String>,
    public_key_file: Option<PathBuf>,
    scope: Vec<String>,
    ceiling: Option<BTreeSet<Capability>>,
    expires: Option<toml::value::Datetime>,
    #[serde(default)]
    revoked: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    namespace: String,
    threshold: usize,
    #[serde(default)]
    require_labels: Vec<String>,
}

impl TrustPolicy {
    /// A policy from already-built parts; checks the same invariants as the TOML form.
    pub fn new(keys: Vec<TrustedKey>, rules: Vec<Rule>) -> Result<Self, PolicyError> {
        if keys.len() > MAX_TRUSTED_KEYS {
            return Err(PolicyError::TooManyKeys {
                count: keys.len(),
                max: MAX_TRUSTED_KEYS,
            });
        }
        for k in &keys {
            if k.scope.is_empty() {
                return Err(PolicyError::EmptyScope {
                    label: k.label.clone(),
                });
            }
        }
        for (i, r) in rules.iter().enumerate() {
            let pattern = r.pattern.to_string();
            if r.threshold == 0 {
                return Err(PolicyError::ZeroThreshold { pattern });
            }
            if r.require_labels.len() > r.threshold {
                return Err(PolicyError::LabelsExceedThreshold {
                    pattern,
                    labels: r.require_labels.len(),
                    threshold: r.threshold,
                });
            }
            if rules[..i].iter().any(|o| o.pattern == r.pattern) {
                return Err(PolicyError::DuplicateRule { pattern });
            }
        }
        Ok(Self { keys, rules })
    }

    /// A policy trusting one key for every plugin, one signature needed (`verify --key`).
    pub fn single_key(key: PublicKey) -> Self {
        Self {
            keys: vec![TrustedKey {
                label: key.key_id().to_string(),
                key,
                scope: vec![Pattern("*".to_owned())],
                ceiling: None,
                expires: None,
                revoked: false,
            }],
            rules: Vec::new(),
        }
    }

    /// Parses a trust store. `public_key_file` paths are relative to `base_dir`.
    pub fn from_toml(text: &str, base_dir: &Path) -> Result<Self, PolicyError> {
        let file: TrustFile = toml::from_str(text).map_err(|e| PolicyError::Toml(e.to_string()))?;
        if file.key.len() > MAX_TRUSTED_KEYS {
            return Err(PolicyError::TooManyKeys {
                count: file.key.len(),
                max: MAX_TRUSTED_KEYS,
            });
        }
        let mut keys = Vec::with_capacity(file.key.len());
        for e in file.key {
            let label = e.label;
            let key_err = |source| PolicyError::Key {
                label: label.clone(),
                source,
            };
            let key = match (e.public_key, e.public_key_file) {
                (Some(text), None) => PublicKey::parse(text.as_bytes()).map_err(key_err)?,
                (None, Some(file)) => {
                    let path = base_dir.join(file);
                    let data = read_capped(&path, 4096).map_err(|source| PolicyError::Key {
                        label: label.clone(),
                        source: crate::error::KeyError::Io { path, source },
                    })?;
                    PublicKey::parse(&data).map_err(key_err)?
                }
                _ => return Err(PolicyError::KeySource { label }),
            };
            let scope = e
                .scope
                .iter()
                .map(|p| Pattern::parse(p))
                .collect::<Result<Vec<_>, _>>()?;
            let expires = match e.expires {
                None => None,
                Some(dt) => Some(unix_seconds(&dt).ok_or_else(|| PolicyError::BadExpiry {
                    label: label.clone(),
                })?),
            };
            keys.push(TrustedKey {
                label,
                key,
                scope,
                ceiling: e.ceiling,
                expires,
                revoked: e.revoked,
            });
        }
        let rules = file
            .rule
            .into_iter()
            .map(|r| {
                Ok(Rule {
                    pattern: Pattern::parse(&r.namespace)?,
                    threshold: r.threshold,
                    require_labels: r.require_labels,
                })
            })
            .collect::<Result<Vec<_>, PolicyError>>()?;
        Self::new(keys, rules)
    }

    /// Reads a trust store file.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let data = read_capped(path, MAX_TRUST_FILE_SIZE).map_err(|source| PolicyError::Io {
            path: path.to_owned(),
            source,
        })?;
        let text = String::from_utf8(data)
            .map_err(|_| PolicyError::Toml(format!("{}: not utf-8", path.display())))?;
        Self::from_toml(&text, path.parent().unwrap_or(Path::new(".")))
    }

    /// The trusted key entries.
    pub fn keys(&self) -> &[TrustedKey] {
        &self.keys
    }

    /// The rule for a plugin (`ns:name`): the most specific matching one, else the default rule.
    pub fn rule_for(&self, plugin: &str) -> Rule {
        self.rules
            .iter()
            .filter(|r| r.pattern.matches(plugin))
            .max_by_key(|r| r.pattern.specificity())
            .cloned()
            .unwrap_or_else(Rule::default_rule)
    }
}

fn read_capped(path: &Path, max: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut data = Vec::new();
    std::fs::File::open(path)?
        .take(max as u64 + 1)
        .read_to_end(&mut data)?;
    if data.len() > max {
        return Err(std::io::Error::other(format!("larger than {max} bytes")));
    }
    Ok(data)
}

/// A TOML date (midnight UTC) or offset datetime as Unix seconds; local datetimes are refused.
fn unix_seconds(dt: &toml::value::Datetime) -> Option<i64> {
    let date = dt.date?;
    let (y, m, d) = (
        i64::from(date.year),
        i64::from(date.month),
        i64::from(date.day),
    );
    // days_from_civil (Howard Hinnant)
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let mut secs = days * 86_400;
    match (dt.time, dt.offset) {
        (None, None) => {}
        (Some(t), Some(off)) => {
            secs += i64::from(t.hour) * 3600
                + i64::from(t.minute) * 60
                + i64::from(t.second.unwrap_or(0));
            if let toml::value::Offset::Custom { minutes } = off {
                secs -= i64::from(minutes) * 60;
            }
        }
        _ => return None,
    }
    Some(secs)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::keys::SecretKey;

    #[test]
    fn patterns() {
        let table = [
            ("*", "acme:hello", true),
            ("acme:*", "acme:hello", true),
            ("acme:*", "acmex:hello", false),
            ("acme:hello", "acme:hello", true),
            ("acme:hello", "acme:hello2", false),
            ("prod:*", "acme:hello", false),
        ];
        for (p, name, want) in table {
            assert_eq!(Pattern::parse(p).unwrap().matches(name), want, "{p} {name}");
        }
        for bad in [
            "", "acme", "acme*", "acme:he*", "Acme:*", "a:b:c", "*:x", "-a:b",
        ] {
            assert!(Pattern::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn plugin_names() {
        assert_eq!(plugin_name("acme:hello@1.2.0").unwrap(), "acme:hello");
        assert_eq!(plugin_name("acme:hello").unwrap(), "acme:hello");
        for bad in ["hello", "acme:", ":x", "ACME:x", "acme:x*", "acme:x y"] {
            assert!(plugin_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn datetimes() {
        let dt = |s: &str| s.parse::<toml::value::Datetime>().unwrap();
        assert_eq!(unix_seconds(&dt("1970-01-01")), Some(0));
        assert_eq!(unix_seconds(&dt("2000-03-01T00:00:00Z")), Some(951_868_800));
        assert_eq!(
            unix_seconds(&dt("2000-03-01T01:00:00+01:00")),
            Some(951_868_800)
        );
        assert_eq!(unix_seconds(&dt("2000-03-01T00:00:00")), None);
    }

    fn key_line() -> String {
        SecretKey::generate().unwrap().public_key().to_openssh()
    }

    #[test]
    fn parses_the_documented_example() {
        let text = format!(
            r#"
[[key]]
label = "acme-publisher"
public_key = "{}"
scope = ["acme:*"]
ceiling = ["http", "read-paths"]
expires = 2030-01-01

[[key]]
label = "ci"
public_key = "{}"
scope = ["acme:*", "prod:*"]

[[rule]]
namespace = "prod:*"
threshold = 2
require_labels = ["ci"]
"#,
            key_line(),
            key_line()
        );
        let p = TrustPolicy::from_toml(&text, Path::new(".")).unwrap();
        assert_eq!(p.keys().len(), 2);
        assert_eq!(p.rule_for("prod:db").threshold, 2);
        assert_eq!(p.rule_for("acme:db"), Rule::default_rule());
    }

    #[test]
    fn unknown_fields_and_bad_entries_are_refused() {
        let k = key_line();
        let cases = [
            (
                format!("[[key]]\nlabel='a'\npublic_key='{k}'\nscope=['*']\ntrusted=true\n"),
                "unknown field",
            ),
            (
                format!("[[key]]\nlabel='a'\npublic_key='{k}'\nscope=[]\n"),
                "empty scope",
            ),
            (
                "[[key]]\nlabel='a'\nscope=['*']\n".to_owned(),
                "exactly one of",
            ),
            (
                format!("[[key]]\nlabel='a'\npublic_key='{k}'\nscope=['acme']\n"),
                "bad namespace pattern",
            ),
            (
                format!("[[key]]\nlabel='a'\npublic_key='{k}'\nscope=['*']\nceiling=['root']\n"),
                "unknown variant",
            ),
            (
                format!(
                    "[[key]]\nlabel='a'\npublic_key='{k}'\nscope=['*']\nexpires=2030-01-01T00:00:00\n"
                ),
                "bad expiry",
            ),
            (
                "[[rule]]\nnamespace='*'\nthreshold=0\n".to_owned(),
                "threshold 0",
            ),
            (
                "[[rule]]\nnamespace='*'\nthreshold=1\nrequire_labels=['a','b']\n".to_owned(),
                "raise the threshold",
            ),
            (
                "[[rule]]\nnamespace='*'\nthreshold=1\n[[rule]]\nnamespace='*'\nthreshold=2\n"
                    .to_owned(),
                "appears twice",
            ),
            (
                "[[key]]\nlabel='a'\npublic_key='ssh-ed25519 AAAA'\nscope=['*']\n".to_owned(),
                "not in a format",
            ),
        ];
        for (text, want) in cases {
            let e = TrustPolicy::from_toml(&text, Path::new(".")).unwrap_err();
            let mut err = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                err.push_str(&format!(": {s}"));
                source = s.source();
            }
            assert!(err.contains(want), "{text}\n=> {err}");
        }
    }
}

//! The manifest schema: the validated [`Manifest`] and its parts. The TOML as written is in
//! [`raw`]; the checks that turn it into a [`Manifest`] are in `validation`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use ward_signing::Capability;

use crate::error::{ManifestError, shown};
use crate::net::{HostUrl, Method};
use crate::validate;

pub(crate) mod raw;
mod validation;

use validation::toml_error;

/// Largest manifest read, in bytes; a bigger one is refused before it is parsed. Threat: a
/// manifest crafted to make the TOML parser or the operator's screen do unbounded work.
pub const MAX_MANIFEST_BYTES: usize = 64 * 1024;
/// Longest description (of the plugin or of a command), in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 1024;
/// Most commands one manifest describes.
pub const MAX_COMMANDS: usize = 256;
/// Most `capabilities.network` entries. Every outbound request is matched against each.
pub const MAX_NETWORK: usize = 64;
/// Most `capabilities.files` entries; each is a preopened directory.
pub const MAX_FILES: usize = 64;
/// Most `capabilities.env` names.
pub const MAX_ENV: usize = 64;
/// Most `capabilities.secrets` entries.
pub const MAX_SECRETS: usize = 64;
/// Most hosts one secret is bound to.
pub const MAX_SECRET_HOSTS: usize = 16;

/// The value of `capabilities.files[].host` that lets the operator choose the directory at
/// install.
pub(crate) const OPERATOR: &str = "$OPERATOR";

/// A validated plugin manifest. Only [`Manifest::parse`] makes one, so every value in it passed
/// the checks documented on its type and in `docs/manifest.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Manifest {
    /// `namespace:name`.
    pub name: PluginName,
    /// The plugin's version.
    pub version: semver::Version,
    /// What the plugin does, in at most [`MAX_DESCRIPTION_BYTES`] without control characters.
    pub description: String,
    /// Per-command notes, keyed by command (exported function) name.
    pub commands: BTreeMap<String, Command>,
    /// What the plugin may reach outside its sandbox.
    pub capabilities: Capabilities,
    /// Per-call limits the plugin asks for; unset ones take ward's defaults.
    pub limits: ManifestLimits,
}

/// A plugin name, `namespace:name`: two lowercase kebab-case identifiers of at most 64
/// characters each (ASCII only, so no confusable spellings).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct PluginName {
    /// Who publishes it; signing keys are scoped to namespaces.
    pub namespace: String,
    /// The plugin within the namespace.
    pub name: String,
}

impl PluginName {
    /// Parses and checks `namespace:name`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let Some((namespace, name)) = text.split_once(':') else {
            return Err(format!(
                "'{}' is not of the form <namespace>:<name>: write for example acme:greeter",
                shown(text)
            ));
        };
        validate::ident("the namespace", namespace)?;
        validate::ident("the name", name)?;
        Ok(PluginName {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })
    }
}

impl fmt::Display for PluginName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.namespace, self.name)
    }
}

/// Notes on one command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Command {
    /// What it does (bounded, no control characters).
    pub description: String,
    /// Whether the operator must confirm each call.
    pub confirm: bool,
}

/// What the plugin asks to reach. Each list is bounded and free of duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Outbound HTTP destinations.
    pub network: Vec<NetworkRule>,
    /// Directories the plugin sees.
    pub files: Vec<FileRule>,
    /// Environment variables the plugin reads (values set by the operator).
    pub env: Vec<String>,
    /// Secrets the host puts into requests to named hosts.
    pub secrets: Vec<Secret>,
    /// Key-value storage.
    pub keyvalue: Option<KeyValue>,
    /// Whether the plugin may ask the operator to confirm while it runs.
    pub confirm: bool,
}

impl Capabilities {
    /// Whether nothing is asked for.
    pub fn is_empty(&self) -> bool {
        self == &Capabilities::default()
    }
}

/// One outbound HTTP destination.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NetworkRule {
    /// Where requests may go.
    pub url: HostUrl,
    /// Methods allowed; `None` means any of [`Method::ALL`].
    pub methods: Option<BTreeSet<Method>>,
}

impl NetworkRule {
    /// A rule for `url` allowing every method (how a secret's bound hosts are matched).
    pub fn any_method(url: HostUrl) -> NetworkRule {
        NetworkRule { url, methods: None }
    }

    /// The methods allowed, with `None` spelled out.
    pub fn method_set(&self) -> BTreeSet<Method> {
        self.methods
            .clone()
            .unwrap_or_else(|| Method::ALL.into_iter().collect())
    }
}

/// One directory the plugin sees.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileRule {
    /// The directory on the operator's machine.
    pub host: HostDir,
    /// Where the plugin sees it: an absolute, normalized path.
    pub guest: String,
    /// Read-only or read-write.
    pub mode: Mode,
}

/// A directory on the operator's machine.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HostDir {
    /// `$OPERATOR`: the operator chooses it at install.
    Operator,
    /// An absolute, normalized path.
    Path(String),
}

impl fmt::Display for HostDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostDir::Operator => f.write_str(OPERATOR),
            HostDir::Path(p) => f.write_str(p),
        }
    }
}

/// Access to a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    /// `ro` (the default).
    ReadOnly,
    /// `rw`.
    ReadWrite,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::ReadOnly => "ro",
            Mode::ReadWrite => "rw",
        }
    }
}

/// A secret the host injects into outbound requests; the plugin never sees its value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Secret {
    /// Its name in the operator's secret store: `[A-Z_][A-Z0-9_]*`.
    pub name: String,
    /// The only destinations it is sent to: each is `https` and is also in
    /// `capabilities.network`.
    pub hosts: Vec<HostUrl>,
    /// Where in the request it goes.
    pub inject: Inject,
    /// The value written there, with `{}` standing for the secret (exactly once), for example
    /// `Bearer {}`; default `{}`.
    pub format: String,
}

/// Where a secret goes in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inject {
    /// A header (not one that frames the request, such as `Host` or `Content-Length`).
    Header(String),
    /// A URL query parameter.
    Query(String),
}

impl fmt::Display for Inject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Inject::Header(h) => write!(f, "the {h} header"),
            Inject::Query(q) => write!(f, "the {q} query parameter"),
        }
    }
}

/// Key-value storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyValue {
    /// Most bytes stored (keys and values), greater than zero.
    pub quota: u64,
}

/// Limits the manifest asks for; `None` keeps ward's default ([`ward_policy::Limits`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ManifestLimits {
    /// Linear memory, bytes.
    pub memory: Option<u64>,
    /// Wall-clock time per call.
    pub timeout: Option<Duration>,
    /// Fuel per call.
    pub fuel: Option<u64>,
    /// Bytes of stdout and of stderr, each.
    pub output: Option<u64>,
    /// Bytes of the JSON result.
    pub result: Option<u64>,
    /// Host resources held at once (open files, streams, HTTP requests), at most
    /// [`ward_policy::MAX_HANDLES`].
    pub handles: Option<u64>,
}

impl Manifest {
    /// Parses and validates a manifest. Input over [`MAX_MANIFEST_BYTES`] is refused before it is
    /// parsed; unknown fields, wrong types and every value that fails a check are refused with the
    /// field's path and what to write instead.
    pub fn parse(text: &[u8]) -> Result<Manifest, ManifestError> {
        if text.len() > MAX_MANIFEST_BYTES {
            return Err(ManifestError::TooLarge {
                size: text.len(),
                max: MAX_MANIFEST_BYTES,
            });
        }
        let text = std::str::from_utf8(text).map_err(|_| ManifestError::NotUtf8)?;
        let raw: raw::Manifest = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
        Manifest::from_raw(raw)
    }

    /// The manifest as canonical TOML: defaults left out, URLs and paths as validated. Parsing
    /// the result gives back an equal manifest.
    pub fn to_toml(&self) -> String {
        // Serializing these plain structs cannot fail; an empty string would fail to parse,
        // which fails closed.
        toml::to_string(&self.to_raw()).unwrap_or_default()
    }

    /// `namespace:name@version`.
    pub fn id(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    /// The per-call limits: ward's defaults with the manifest's values over them. These are what
    /// the plugin asks for; the host's policy may still lower them.
    pub fn limits(&self) -> ward_policy::Limits {
        let mut limits = ward_policy::Limits::default();
        let m = &self.limits;
        if let Some(v) = m.memory {
            limits.memory_bytes = v;
        }
        if let Some(v) = m.timeout {
            limits.timeout = v;
        }
        if let Some(v) = m.fuel {
            limits.fuel = Some(v);
        }
        if let Some(v) = m.output {
            limits.output_bytes = v;
        }
        if let Some(v) = m.result {
            limits.result_bytes = v;
        }
        if let Some(v) = m.handles {
            limits.handles = v;
        }
        limits
    }

    /// The kinds of authority the manifest asks for, as a signing key's capability ceiling names
    /// them: a key may vouch for this manifest only if its ceiling holds all of them.
    pub fn capability_kinds(&self) -> BTreeSet<Capability> {
        let c = &self.capabilities;
        let mut kinds = BTreeSet::new();
        if !c.network.is_empty() {
            kinds.insert(Capability::Http);
        }
        for f in &c.files {
            kinds.insert(match f.mode {
                Mode::ReadOnly => Capability::ReadPaths,
                Mode::ReadWrite => Capability::WritablePaths,
            });
        }
        if !c.env.is_empty() {
            kinds.insert(Capability::Env);
        }
        if !c.secrets.is_empty() {
            kinds.insert(Capability::Secrets);
        }
        if c.keyvalue.is_some() {
            kinds.insert(Capability::Kv);
        }
        if c.confirm {
            kinds.insert(Capability::Confirm);
        }
        kinds
    }

    fn to_raw(&self) -> raw::Manifest {
        let c = &self.capabilities;
        let capabilities = raw::Capabilities {
            network: c
                .network
                .iter()
                .map(|n| raw::Network {
                    url: n.url.to_string(),
                    methods: n
                        .methods
                        .as_ref()
                        .map(|ms| ms.iter().map(|m| m.as_str().to_owned()).collect()),
                })
                .collect(),
            files: c
                .files
                .iter()
                .map(|f| raw::File {
                    host: f.host.to_string(),
                    guest: f.guest.clone(),
                    mode: (f.mode == Mode::ReadWrite).then(|| f.mode.as_str().to_owned()),
                })
                .collect(),
            env: c.env.clone(),
            secrets: c
                .secrets
                .iter()
                .map(|s| raw::Secret {
                    name: s.name.clone(),
                    hosts: s.hosts.iter().map(ToString::to_string).collect(),
                    header: match &s.inject {
                        Inject::Header(h) => Some(h.clone()),
                        Inject::Query(_) => None,
                    },
                    query: match &s.inject {
                        Inject::Query(q) => Some(q.clone()),
                        Inject::Header(_) => None,
                    },
                    format: (s.format != "{}").then(|| s.format.clone()),
                })
                .collect(),
            keyvalue: c.keyvalue.map(|kv| raw::KeyValue {
                quota: raw::Value::Text(size_text(kv.quota)),
            }),
            confirm: c.confirm.then_some(true),
        };
        let l = &self.limits;
        let limits = raw::Limits {
            memory: l.memory.map(|v| raw::Value::Text(size_text(v))),
            timeout: l
                .timeout
                .map(|v| raw::Value::Text(ward_policy::format_duration(v))),
            fuel: l
                .fuel
                .map(|v| raw::Value::Int(i64::try_from(v).unwrap_or(i64::MAX))),
            output: l.output.map(|v| raw::Value::Text(size_text(v))),
            result: l.result.map(|v| raw::Value::Text(size_text(v))),
            handles: l
                .handles
                .map(|v| raw::Value::Int(i64::try_from(v).unwrap_or(i64::MAX))),
        };
        raw::Manifest {
            name: self.name.to_string(),
            version: self.version.to_string(),
            description: (!self.description.is_empty()).then(|| self.description.clone()),
            commands: self
                .commands
                .iter()
                .map(|(k, c)| {
                    (
                        k.clone(),
                        raw::Command {
                            description: (!c.description.is_empty()).then(|| c.description.clone()),
                            confirm: c.confirm.then_some(true),
                        },
                    )
                })
                .collect(),
            capabilities: (!c.is_empty()).then_some(capabilities),
            limits: (l != &ManifestLimits::default()).then_some(limits),
        }
    }
}

/// A size as the manifest writes it, exact: `64MiB`, `1500`.
fn size_text(n: u64) -> String {
    ward_policy::format_bytes(n)
        .replace(' ', "")
        .replace("bytes", "")
}

#[cfg(test)]
mod tests;

//! The manifest schema: the TOML as written ([`raw`]), and the validated [`Manifest`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use ward_signing::Capability;

use crate::error::{ManifestError, shown, shown_max};
use crate::net::{HostUrl, Method, Scheme};
use crate::validate;

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
/// Longest secret `format`, in bytes.
const MAX_FORMAT_BYTES: usize = 256;
/// Longest secret header or query parameter name.
const MAX_INJECT_NAME: usize = 64;

/// The value of `capabilities.files[].host` that lets the operator choose the directory at
/// install.
pub(crate) const OPERATOR: &str = "$OPERATOR";

/// Headers a secret may never be put in: they frame the request, so a plugin choosing them could
/// redirect or smuggle it.
const FORBIDDEN_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "proxy-connection",
];

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

    fn from_raw(raw: raw::Manifest) -> Result<Manifest, ManifestError> {
        let name = PluginName::parse(&raw.name).map_err(|m| inv("name", m))?;
        let version = parse_version(&raw.version).map_err(|m| inv("version", m))?;
        let description = raw.description.unwrap_or_default();
        validate::text(&description, MAX_DESCRIPTION_BYTES, true)
            .map_err(|m| inv("description", format!("the description {m}")))?;

        if raw.commands.len() > MAX_COMMANDS {
            return Err(inv(
                "commands",
                format!(
                    "{} commands; the limit is {MAX_COMMANDS}",
                    raw.commands.len()
                ),
            ));
        }
        let mut commands = BTreeMap::new();
        for (cmd, c) in raw.commands {
            let field = format!("commands.{}", shown(&cmd));
            validate::ident("the command name", &cmd).map_err(|m| inv(&field, m))?;
            let description = c.description.unwrap_or_default();
            validate::text(&description, MAX_DESCRIPTION_BYTES, true).map_err(|m| {
                inv(
                    format!("{field}.description"),
                    format!("the description {m}"),
                )
            })?;
            commands.insert(
                cmd,
                Command {
                    description,
                    confirm: c.confirm.unwrap_or(false),
                },
            );
        }

        let capabilities = capabilities(raw.capabilities.unwrap_or_default())?;
        let limits = limits(raw.limits.unwrap_or_default())?;
        Ok(Manifest {
            name,
            version,
            description,
            commands,
            capabilities,
            limits,
        })
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

fn inv(field: impl Into<String>, message: impl Into<String>) -> ManifestError {
    ManifestError::invalid(field, message)
}

/// A size as the manifest writes it, exact: `64MiB`, `1500`.
fn size_text(n: u64) -> String {
    ward_policy::format_bytes(n)
        .replace(' ', "")
        .replace("bytes", "")
}

/// Most characters of toml's own message quoted in [`ManifestError::Toml`].
const MAX_TOML_MESSAGE_CHARS: usize = 300;

/// A TOML or schema error as one line: where, and toml's message.
fn toml_error(text: &str, e: &toml::de::Error) -> ManifestError {
    // toml quotes keys and values from the input: escape and cut them like any other.
    let msg = shown_max(
        &e.message().trim().replace('\n', "; "),
        MAX_TOML_MESSAGE_CHARS,
    );
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            ManifestError::Toml(format!("line {line}, column {column}: {msg}"))
        }
        None => ManifestError::Toml(msg),
    }
}

fn parse_version(text: &str) -> Result<semver::Version, String> {
    if text.len() > 64 {
        return Err(format!(
            "the version '{}' is longer than 64 characters",
            shown(text)
        ));
    }
    if let Some(rest) = text.strip_prefix(['v', 'V'])
        && semver::Version::parse(rest).is_ok()
    {
        return Err(format!(
            "the version '{}' starts with 'v': write {}",
            shown(text),
            shown(rest)
        ));
    }
    semver::Version::parse(text).map_err(|e| {
        format!(
            "the version '{}' is not a semantic version ({e}): write for example 1.2.3",
            shown(text)
        )
    })
}

fn capabilities(raw: raw::Capabilities) -> Result<Capabilities, ManifestError> {
    let too_many =
        |field: &str, n: usize, max: usize| inv(field, format!("{n} entries; the limit is {max}"));
    if raw.network.len() > MAX_NETWORK {
        return Err(too_many(
            "capabilities.network",
            raw.network.len(),
            MAX_NETWORK,
        ));
    }
    if raw.files.len() > MAX_FILES {
        return Err(too_many("capabilities.files", raw.files.len(), MAX_FILES));
    }
    if raw.env.len() > MAX_ENV {
        return Err(too_many("capabilities.env", raw.env.len(), MAX_ENV));
    }
    if raw.secrets.len() > MAX_SECRETS {
        return Err(too_many(
            "capabilities.secrets",
            raw.secrets.len(),
            MAX_SECRETS,
        ));
    }

    let mut network: Vec<NetworkRule> = Vec::new();
    for (i, n) in raw.network.into_iter().enumerate() {
        let field = format!("capabilities.network[{i}]");
        let url = HostUrl::parse(&n.url).map_err(|m| inv(format!("{field}.url"), m))?;
        if let Some(j) = network.iter().position(|o| o.url.key() == url.key()) {
            return Err(inv(
                format!("{field}.url"),
                format!(
                    "{url} is already listed as capabilities.network[{j}]: list each destination once, with all its methods"
                ),
            ));
        }
        let methods = match n.methods {
            None => None,
            Some(list) => {
                if list.is_empty() {
                    return Err(inv(
                        format!("{field}.methods"),
                        "is empty: list the methods allowed, or leave `methods` out to allow any",
                    ));
                }
                let mut set = BTreeSet::new();
                for (k, m) in list.iter().enumerate() {
                    let mf = format!("{field}.methods[{k}]");
                    let method = Method::parse(m).map_err(|msg| inv(&mf, msg))?;
                    if !set.insert(method) {
                        return Err(inv(mf, format!("{method} is listed twice")));
                    }
                }
                Some(set)
            }
        };
        network.push(NetworkRule { url, methods });
    }

    let mut files: Vec<FileRule> = Vec::new();
    for (i, f) in raw.files.into_iter().enumerate() {
        let field = format!("capabilities.files[{i}]");
        let host = if f.host == OPERATOR {
            HostDir::Operator
        } else {
            if f.host.starts_with('$') {
                return Err(inv(
                    format!("{field}.host"),
                    format!(
                        "'{}' is not known: write an absolute path or $OPERATOR (the operator chooses the directory at install)",
                        shown(&f.host)
                    ),
                ));
            }
            validate::abs_path("the host path", &f.host)
                .map_err(|m| inv(format!("{field}.host"), m))?;
            HostDir::Path(f.host)
        };
        validate::abs_path("the guest path", &f.guest)
            .map_err(|m| inv(format!("{field}.guest"), m))?;
        if let Some(j) = files.iter().position(|o| o.guest == f.guest) {
            return Err(inv(
                format!("{field}.guest"),
                format!(
                    "{} is already used by capabilities.files[{j}]: give each directory its own guest path",
                    f.guest
                ),
            ));
        }
        let mode = match f.mode.as_deref() {
            None | Some("ro") => Mode::ReadOnly,
            Some("rw") => Mode::ReadWrite,
            Some(other) => {
                return Err(inv(
                    format!("{field}.mode"),
                    format!(
                        "'{}' is not a mode: write \"ro\" (read-only, the default) or \"rw\" (read-write)",
                        shown(other)
                    ),
                ));
            }
        };
        files.push(FileRule {
            host,
            guest: f.guest,
            mode,
        });
    }

    let mut env: Vec<String> = Vec::new();
    for (i, name) in raw.env.into_iter().enumerate() {
        let field = format!("capabilities.env[{i}]");
        validate::var_name("the variable name", &name).map_err(|m| inv(&field, m))?;
        if env.contains(&name) {
            return Err(inv(field, format!("{name} is listed twice")));
        }
        env.push(name);
    }

    let mut secrets: Vec<Secret> = Vec::new();
    for (i, s) in raw.secrets.into_iter().enumerate() {
        let field = format!("capabilities.secrets[{i}]");
        validate::var_name("the secret name", &s.name)
            .map_err(|m| inv(format!("{field}.name"), m))?;
        if secrets.iter().any(|o| o.name == s.name) {
            return Err(inv(
                format!("{field}.name"),
                format!("{} is listed twice", s.name),
            ));
        }
        if s.hosts.is_empty() {
            return Err(inv(
                format!("{field}.hosts"),
                "is empty: name the hosts the secret may be sent to, for example [\"https://api.github.com\"]",
            ));
        }
        if s.hosts.len() > MAX_SECRET_HOSTS {
            return Err(inv(
                format!("{field}.hosts"),
                format!("{} entries; the limit is {MAX_SECRET_HOSTS}", s.hosts.len()),
            ));
        }
        let mut hosts: Vec<HostUrl> = Vec::new();
        for (k, h) in s.hosts.iter().enumerate() {
            let hf = format!("{field}.hosts[{k}]");
            let url = HostUrl::parse(h).map_err(|m| inv(&hf, m))?;
            if url.scheme != Scheme::Https {
                return Err(inv(
                    hf,
                    format!(
                        "{url}: secrets are sent only over https; write https://{}",
                        url.to_string().trim_start_matches("http://")
                    ),
                ));
            }
            if !network.iter().any(|n| n.url.key() == url.key()) {
                return Err(inv(
                    hf,
                    format!("{url} is not in capabilities.network: add it there too"),
                ));
            }
            if hosts.iter().any(|o| o.key() == url.key()) {
                return Err(inv(hf, format!("{url} is listed twice")));
            }
            hosts.push(url);
        }
        let inject = match (s.header, s.query) {
            (Some(h), None) => {
                check_inject_name(&h, true).map_err(|m| inv(format!("{field}.header"), m))?;
                Inject::Header(h)
            }
            (None, Some(q)) => {
                check_inject_name(&q, false).map_err(|m| inv(format!("{field}.query"), m))?;
                Inject::Query(q)
            }
            _ => {
                return Err(inv(
                    field,
                    "set exactly one of `header` (for example header = \"Authorization\") or `query` (a URL query parameter)",
                ));
            }
        };
        let format = s.format.unwrap_or_else(|| "{}".to_owned());
        validate::text(&format, MAX_FORMAT_BYTES, false)
            .map_err(|m| inv(format!("{field}.format"), format!("the format {m}")))?;
        if format.matches("{}").count() != 1 {
            return Err(inv(
                format!("{field}.format"),
                "must contain `{}` exactly once, where the secret goes, for example \"Bearer {}\"",
            ));
        }
        secrets.push(Secret {
            name: s.name,
            hosts,
            inject,
            format,
        });
    }

    let keyvalue = match raw.keyvalue {
        None => None,
        Some(kv) => {
            let quota = kv
                .quota
                .parse_with(ward_policy::parse_size)
                .map_err(|m| inv("capabilities.keyvalue.quota", m))?;
            if quota == 0 {
                return Err(inv(
                    "capabilities.keyvalue.quota",
                    "must be greater than zero: leave `keyvalue` out for no storage",
                ));
            }
            Some(KeyValue { quota })
        }
    };

    Ok(Capabilities {
        network,
        files,
        env,
        secrets,
        keyvalue,
        confirm: raw.confirm.unwrap_or(false),
    })
}

fn check_inject_name(name: &str, header: bool) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_INJECT_NAME
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric() || b == b'-' || (!header && (b == b'_' || b == b'.'))
        });
    if !ok {
        return Err(if header {
            format!(
                "'{}' is not a header name: write up to {MAX_INJECT_NAME} characters from A-Z, a-z, 0-9 and '-', for example Authorization",
                shown(name)
            )
        } else {
            format!(
                "'{}' is not a query parameter name: write up to {MAX_INJECT_NAME} characters from A-Z, a-z, 0-9, '-', '_' and '.', for example api_key",
                shown(name)
            )
        });
    }
    if header && FORBIDDEN_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "a secret cannot go in the {name} header, which frames the request: use Authorization or an X- header"
        ));
    }
    Ok(())
}

fn limits(raw: raw::Limits) -> Result<ManifestLimits, ManifestError> {
    let nonzero = |field: &'static str, v: u64| {
        if v == 0 {
            Err(inv(
                field,
                "must be greater than zero: leave it out for ward's default",
            ))
        } else {
            Ok(v)
        }
    };
    let size = |field: &'static str, v: Option<raw::Value>| -> Result<Option<u64>, ManifestError> {
        v.map(|v| {
            v.parse_with(ward_policy::parse_size)
                .map_err(|m| inv(field, m))
                .and_then(|n| nonzero(field, n))
        })
        .transpose()
    };
    let memory = size("limits.memory", raw.memory)?;
    let output = size("limits.output", raw.output)?;
    let result = size("limits.result", raw.result)?;
    let timeout = raw
        .timeout
        .map(|v| {
            v.parse_with(ward_policy::parse_duration)
                .map_err(|m| inv("limits.timeout", m))
                .and_then(|d| {
                    nonzero("limits.timeout", u64::try_from(d.as_millis()).unwrap_or(1)).map(|_| d)
                })
        })
        .transpose()?;
    let fuel = raw
        .fuel
        .map(|v| {
            v.parse_with(ward_policy::parse_count)
                .map_err(|m| inv("limits.fuel", m))
                .and_then(|n| nonzero("limits.fuel", n))
        })
        .transpose()?;
    let handles = raw
        .handles
        .map(|v| {
            v.parse_with(ward_policy::parse_count)
                .map_err(|m| inv("limits.handles", m))
                .and_then(|n| nonzero("limits.handles", n))
                .and_then(|n| {
                    if n > ward_policy::MAX_HANDLES {
                        Err(inv(
                            "limits.handles",
                            format!("must be at most {}", ward_policy::MAX_HANDLES),
                        ))
                    } else {
                        Ok(n)
                    }
                })
        })
        .transpose()?;
    Ok(ManifestLimits {
        memory,
        timeout,
        fuel,
        output,
        result,
        handles,
    })
}

/// The manifest as written in TOML, before validation.
pub(crate) mod raw {
    use std::collections::BTreeMap;
    use std::fmt;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct Manifest {
        pub(crate) name: String,
        pub(crate) version: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub(crate) description: Option<String>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        pub(crate) commands: BTreeMap<String, Command>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub(crate) capabilities: Option<Capabilities>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub(crate) limits: Option<Limits>,
    }

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct Command {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub(crate) description: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub(crate) confirm: Option<bool>,
    }

    #[derive(Debug, Default, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct Capabilities {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub(crate) network: Vec<Network>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub(crate) files: Vec<File>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub(crate) env: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub(crate) secrets: Vec<Secret>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub(crate) keyvalue: Option<KeyValue>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub(crate) confirm: Option<bool>,
    }

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct Network {
        pub(crate) url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub(crate) methods: Option<Vec<String>>,
    }

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct File {
        pub(crate) host: String,
        pub(crate) guest: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub(crate) mode: Option<String>,
    }

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct Secret {
        pub(crate) name: String,
        pub(crate) hosts: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub(crate) header: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub(crate) query: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub(crate) format: Option<String>,
    }

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct KeyValue {
        pub(crate) quota: Value,
    }

    #[derive(Debug, Default, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct Limits {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub(crate) memory: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub(crate) timeout: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub(crate) fuel: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub(crate) output: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub(crate) result: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub(crate) handles: Option<Value>,
    }

    /// A limit written as a TOML integer (`1000000`) or a string (`"64MiB"`); both go through
    /// ward-policy's parsers, so the syntax is the same as on the command line.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) enum Value {
        Int(i64),
        Text(String),
    }

    impl Value {
        pub(crate) fn parse_with<T>(
            &self,
            parse: impl Fn(&str) -> Result<T, ward_policy::ParseError>,
        ) -> Result<T, String> {
            let text = match self {
                Value::Int(n) => n.to_string(),
                Value::Text(t) => t.clone(),
            };
            // ward-policy quotes the value as given; quote it cut and escaped instead.
            parse(&text).map_err(|e| {
                e.to_string().replacen(
                    &format!("'{text}'"),
                    &format!("'{}'", crate::error::shown(&text)),
                    1,
                )
            })
        }
    }

    impl Serialize for Value {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match self {
                Value::Int(n) => s.serialize_i64(*n),
                Value::Text(t) => s.serialize_str(t),
            }
        }
    }

    impl<'de> Deserialize<'de> for Value {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl serde::de::Visitor<'_> for V {
                type Value = Value;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a number or a string such as \"64MiB\" or \"5s\"")
                }
                fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
                    Ok(Value::Int(v))
                }
                fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
                    i64::try_from(v)
                        .map(Value::Int)
                        .map_err(|_| E::custom("number too large"))
                }
                fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
                    Ok(Value::Text(v.to_owned()))
                }
            }
            d.deserialize_any(V)
        }
    }
}

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;

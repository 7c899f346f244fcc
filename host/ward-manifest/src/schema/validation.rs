//! Validation: the manifest as written ([`raw`](super::raw)) to a [`Manifest`], refusing every
//! value that fails a check with the field's path and what to write instead.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    Capabilities, Command, FileRule, HostDir, Inject, KeyValue, MAX_COMMANDS,
    MAX_DESCRIPTION_BYTES, MAX_ENV, MAX_FILES, MAX_NETWORK, MAX_SECRET_HOSTS, MAX_SECRETS,
    Manifest, ManifestLimits, Mode, NetworkRule, OPERATOR, PluginName, Secret, raw,
};
use crate::error::{ManifestError, shown, shown_max};
use crate::net::{HostUrl, Method, Scheme};
use crate::validate;

/// Longest secret `format`, in bytes.
const MAX_FORMAT_BYTES: usize = 256;
/// Longest secret header or query parameter name.
const MAX_INJECT_NAME: usize = 64;

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

impl Manifest {
    /// Checks every value of `raw`; the first that fails is the error, naming its field.
    pub(super) fn from_raw(raw: raw::Manifest) -> Result<Manifest, ManifestError> {
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
}

fn inv(field: impl Into<String>, message: impl Into<String>) -> ManifestError {
    ManifestError::invalid(field, message)
}

/// Most characters of toml's own message quoted in [`ManifestError::Toml`].
const MAX_TOML_MESSAGE_CHARS: usize = 300;

/// A TOML or schema error as one line: where, and toml's message.
pub(super) fn toml_error(text: &str, e: &toml::de::Error) -> ManifestError {
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

//! The manifest in plain words, for the operator deciding whether to install.

use crate::net::{Method, Scheme};
use crate::schema::{FileRule, HostDir, KeyValue, Manifest, Mode, NetworkRule, Secret};

impl Manifest {
    /// Every capability the manifest asks for, one plain sentence each, followed by the limits
    /// (always the last line). Everything quoted passed validation, so it holds no control or
    /// bidi characters.
    ///
    /// ```
    /// let m = ward_manifest::Manifest::parse(br#"
    /// name = "acme:hello"
    /// version = "1.0.0"
    /// [capabilities]
    /// network = [{ url = "https://api.github.com", methods = ["GET"] }]
    /// "#).unwrap();
    /// assert_eq!(m.summary(), [
    ///     "send HTTPS requests to api.github.com (GET)",
    ///     "limits: memory 64 MiB, timeout 5s, output 1 MiB, result 4 MiB",
    /// ]);
    /// ```
    pub fn summary(&self) -> Vec<String> {
        let c = &self.capabilities;
        let mut lines = Vec::new();
        lines.extend(c.network.iter().map(network_line));
        lines.extend(c.files.iter().map(|f| file_line(f, f.mode)));
        if !c.env.is_empty() {
            lines.push(env_line(&c.env));
        }
        lines.extend(c.secrets.iter().map(secret_line));
        if let Some(kv) = c.keyvalue {
            lines.push(keyvalue_line(kv));
        }
        if c.confirm {
            lines.push(CONFIRM_LINE.to_owned());
        }
        if lines.is_empty() {
            lines.push(
                "nothing outside its sandbox: no network, files, environment variables or secrets"
                    .to_owned(),
            );
        }
        for (name, cmd) in &self.commands {
            if cmd.confirm {
                lines.push(format!("each call of {name} needs your confirmation"));
            }
        }
        lines.push(self.limits_line());
        lines
    }

    fn limits_line(&self) -> String {
        let l = self.limits();
        let mut parts = vec![
            format!("memory {}", ward_policy::format_bytes(l.memory_bytes)),
            format!("timeout {}", ward_policy::format_duration(l.timeout)),
        ];
        if let Some(fuel) = l.fuel {
            parts.push(format!("fuel {fuel}"));
        }
        parts.push(format!(
            "output {}",
            ward_policy::format_bytes(l.output_bytes)
        ));
        parts.push(format!(
            "result {}",
            ward_policy::format_bytes(l.result_bytes)
        ));
        if l.handles != ward_policy::DEFAULT_HANDLES {
            parts.push(format!("handles {}", l.handles));
        }
        format!("limits: {}", parts.join(", "))
    }
}

pub(crate) const CONFIRM_LINE: &str = "ask you to confirm actions while running";

pub(crate) fn scheme_words(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::Https => "HTTPS",
        Scheme::Http => "unencrypted HTTP",
    }
}

pub(crate) fn methods_text<'a>(methods: impl IntoIterator<Item = &'a Method>) -> String {
    methods
        .into_iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn network_line(n: &NetworkRule) -> String {
    let methods = match &n.methods {
        None => "any method".to_owned(),
        Some(ms) => methods_text(ms),
    };
    format!(
        "send {} requests to {} ({methods})",
        scheme_words(n.url.scheme),
        n.url.host_text()
    )
}

/// The sentence for a directory, with `mode` standing for its access.
pub(crate) fn file_line(f: &FileRule, mode: Mode) -> String {
    let verb = match mode {
        Mode::ReadOnly => "read",
        Mode::ReadWrite => "read and write",
    };
    let place = match &f.host {
        HostDir::Operator => "a directory you choose".to_owned(),
        HostDir::Path(p) => p.clone(),
    };
    format!("{verb} files in {place}, seen by the plugin as {}", f.guest)
}

pub(crate) fn env_line(names: &[String]) -> String {
    if let [one] = names {
        format!("read environment variable {one} (value set by you)")
    } else {
        format!(
            "read environment variables {} (values set by you)",
            names.join(", ")
        )
    }
}

/// `a`, `a and b`, `a, b and c`.
pub(crate) fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

pub(crate) fn secret_line(s: &Secret) -> String {
    let hosts: Vec<String> = s.hosts.iter().map(|h| h.host_text()).collect();
    format!(
        "use secret {}, sent only to {} in {}; the plugin never sees its value",
        s.name,
        and_list(&hosts),
        s.inject
    )
}

pub(crate) fn keyvalue_line(kv: KeyValue) -> String {
    format!(
        "store up to {} of key-value data",
        ward_policy::format_bytes(kv.quota)
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_every_capability() {
        let m = Manifest::parse(
            br#"
name = "acme:github"
version = "1.2.3"
description = "Talks to GitHub"

[commands.greet]
description = "Greets someone"
confirm = true

[capabilities]
network = [
    { url = "https://api.github.com", methods = ["POST", "GET"] },
    { url = "https://*.example.com:8443" },
    { url = "http://localhost:8080", methods = ["GET"] },
]
files = [
    { host = "/srv/data", guest = "/data", mode = "ro" },
    { host = "$OPERATOR", guest = "/work", mode = "rw" },
]
env = ["LANG", "TZ"]
secrets = [
    { name = "GITHUB_TOKEN", hosts = ["https://api.github.com"], header = "Authorization", format = "Bearer {}" },
    { name = "KEY", hosts = ["https://api.github.com", "https://*.example.com:8443"], query = "api_key" },
]
keyvalue = { quota = "10MiB" }
confirm = true

[limits]
memory = "128MiB"
timeout = "30s"
fuel = 1_000_000
output = "2MiB"
"#,
        )
        .unwrap();
        assert_eq!(
            m.summary(),
            [
                "send HTTPS requests to api.github.com (GET, POST)",
                "send HTTPS requests to any host under example.com on port 8443 (any method)",
                "send unencrypted HTTP requests to localhost:8080 (GET)",
                "read files in /srv/data, seen by the plugin as /data",
                "read and write files in a directory you choose, seen by the plugin as /work",
                "read environment variables LANG, TZ (values set by you)",
                "use secret GITHUB_TOKEN, sent only to api.github.com in the Authorization header; the plugin never sees its value",
                "use secret KEY, sent only to api.github.com and any host under example.com on port 8443 in the api_key query parameter; the plugin never sees its value",
                "store up to 10 MiB of key-value data",
                "ask you to confirm actions while running",
                "each call of greet needs your confirmation",
                "limits: memory 128 MiB, timeout 30s, fuel 1000000, output 2 MiB, result 4 MiB",
            ]
        );
    }

    #[test]
    fn summary_of_nothing() {
        let m = Manifest::parse(
            b"name = \"acme:x\"\nversion = \"0.1.0\"\n[capabilities]\nenv = [\"TZ\"]\n",
        )
        .unwrap();
        assert_eq!(
            m.summary(),
            [
                "read environment variable TZ (value set by you)",
                "limits: memory 64 MiB, timeout 5s, output 1 MiB, result 4 MiB",
            ]
        );
        let m = Manifest::parse(b"name = \"acme:x\"\nversion = \"0.1.0\"\n").unwrap();
        assert_eq!(
            m.summary(),
            [
                "nothing outside its sandbox: no network, files, environment variables or secrets",
                "limits: memory 64 MiB, timeout 5s, output 1 MiB, result 4 MiB",
            ]
        );
    }
}

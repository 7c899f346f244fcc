//! What changes in authority between two versions of a plugin.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::schema::{FileRule, HostDir, Manifest, Mode};
use crate::summary::{
    CONFIRM_LINE, env_line, file_line, keyvalue_line, methods_text, network_line, secret_line,
};

/// The phrase the operator types to grant more authority to `plugin` at `version`: to approve
/// an escalating proposal, and for `ward install` of an upgrade that escalates.
pub fn approval_phrase(plugin: &str, version: &str) -> String {
    format!("grant {plugin} {version}")
}

/// The phrase the operator types to install `version` of `plugin` below its version floor.
pub fn downgrade_phrase(plugin: &str, version: &str) -> String {
    format!("downgrade {plugin} to {version}")
}

/// One change between two manifests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Change {
    /// Whether the new version may do something the old one could not (a new host, method,
    /// path, write access, variable, secret or secret destination, a bigger quota, confirmations,
    /// a higher limit, a command that no longer needs confirmation).
    pub escalation: bool,
    /// The change in plain words.
    pub text: String,
}

/// The changes in authority from an installed manifest to a new one: escalations first, then
/// reductions, each in manifest order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diff {
    /// Every change.
    pub changes: Vec<Change>,
}

impl Diff {
    /// Whether the new version may do anything the old one could not.
    pub fn is_escalation(&self) -> bool {
        self.changes.iter().any(|c| c.escalation)
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// One line per change: `+ ` for more authority, `- ` for less.
    pub fn lines(&self) -> Vec<String> {
        self.changes
            .iter()
            .map(|c| format!("{} {}", if c.escalation { '+' } else { '-' }, c.text))
            .collect()
    }

    fn push(&mut self, escalation: bool, text: String) {
        self.changes.push(Change { escalation, text });
    }
}

/// The changes in authority from `old` (installed) to `new`. Name, version and descriptions are
/// not authority and are not compared.
pub fn diff(old: &Manifest, new: &Manifest) -> Diff {
    let mut d = Diff::default();
    let (oc, nc) = (&old.capabilities, &new.capabilities);

    // Network, by destination (the default port made explicit).
    for n in &nc.network {
        match oc.network.iter().find(|o| o.url.key() == n.url.key()) {
            None => d.push(true, network_line(n)),
            Some(o) => {
                let (om, nm) = (o.method_set(), n.method_set());
                let added: Vec<_> = nm.difference(&om).collect();
                let removed: Vec<_> = om.difference(&nm).collect();
                if !added.is_empty() {
                    d.push(
                        true,
                        format!(
                            "send {} requests to {}",
                            methods_text(added),
                            n.url.host_text()
                        ),
                    );
                }
                if !removed.is_empty() {
                    d.push(
                        false,
                        format!(
                            "send {} requests to {}",
                            methods_text(removed),
                            n.url.host_text()
                        ),
                    );
                }
            }
        }
    }
    for o in &oc.network {
        if !nc.network.iter().any(|n| n.url.key() == o.url.key()) {
            d.push(false, network_line(o));
        }
    }

    // Files, by host directory and guest path; a mode change is its own line.
    let file_key = |f: &FileRule| (f.host.clone(), f.guest.clone());
    for n in &nc.files {
        match oc.files.iter().find(|o| file_key(o) == file_key(n)) {
            None => d.push(true, file_line(n, n.mode)),
            Some(o) if o.mode == Mode::ReadOnly && n.mode == Mode::ReadWrite => {
                d.push(true, format!("{} (was read-only)", write_line(n)));
            }
            Some(o) if o.mode == Mode::ReadWrite && n.mode == Mode::ReadOnly => {
                d.push(false, format!("{} (now read-only)", write_line(n)));
            }
            Some(_) => {}
        }
    }
    for o in &oc.files {
        if !nc.files.iter().any(|n| file_key(n) == file_key(o)) {
            d.push(false, file_line(o, o.mode));
        }
    }

    // Environment variables.
    let added: Vec<String> = nc
        .env
        .iter()
        .filter(|n| !oc.env.contains(n))
        .cloned()
        .collect();
    let removed: Vec<String> = oc
        .env
        .iter()
        .filter(|o| !nc.env.contains(o))
        .cloned()
        .collect();
    if !added.is_empty() {
        d.push(true, env_line(&added));
    }
    if !removed.is_empty() {
        d.push(false, env_line(&removed));
    }

    // Secrets, by name: new destinations and a new place in the request are escalations.
    for n in &nc.secrets {
        let Some(o) = oc.secrets.iter().find(|o| o.name == n.name) else {
            d.push(true, secret_line(n));
            continue;
        };
        for h in &n.hosts {
            if !o.hosts.iter().any(|oh| oh.key() == h.key()) {
                d.push(
                    true,
                    format!("send secret {} also to {}", n.name, h.host_text()),
                );
            }
        }
        for h in &o.hosts {
            if !n.hosts.iter().any(|nh| nh.key() == h.key()) {
                d.push(
                    false,
                    format!("send secret {} to {}", n.name, h.host_text()),
                );
            }
        }
        if o.inject != n.inject || o.format != n.format {
            d.push(
                true,
                format!(
                    "put secret {} in {} as \"{}\" (was {} as \"{}\")",
                    n.name, n.inject, n.format, o.inject, o.format
                ),
            );
        }
    }
    for o in &oc.secrets {
        if !nc.secrets.iter().any(|n| n.name == o.name) {
            d.push(false, secret_line(o));
        }
    }

    // Key-value storage.
    match (oc.keyvalue, nc.keyvalue) {
        (None, Some(n)) => d.push(true, keyvalue_line(n)),
        (Some(o), None) => d.push(false, keyvalue_line(o)),
        (Some(o), Some(n)) if n.quota != o.quota => d.push(
            n.quota > o.quota,
            format!(
                "key-value quota {} from {} to {}",
                if n.quota > o.quota {
                    "raised"
                } else {
                    "lowered"
                },
                ward_policy::format_bytes(o.quota),
                ward_policy::format_bytes(n.quota)
            ),
        ),
        _ => {}
    }

    // Confirmations.
    if nc.confirm != oc.confirm {
        d.push(nc.confirm, CONFIRM_LINE.to_owned());
    }
    let confirmed = |m: &Manifest| -> BTreeSet<String> {
        m.commands
            .iter()
            .filter(|(_, c)| c.confirm)
            .map(|(k, _)| k.clone())
            .collect()
    };
    let (ocf, ncf) = (confirmed(old), confirmed(new));
    for name in ocf.difference(&ncf) {
        if new.commands.contains_key(name) {
            d.push(
                true,
                format!("calls of {name} no longer need your confirmation"),
            );
        }
    }
    for name in ncf.difference(&ocf) {
        if old.commands.contains_key(name) {
            d.push(false, format!("calls of {name} now need your confirmation"));
        }
    }

    // Limits, as they take effect (ward's defaults under each manifest).
    let (ol, nl) = (old.limits(), new.limits());
    let bytes = |v: u64| ward_policy::format_bytes(v);
    let fuel = |v: Option<u64>| v.map_or("unmetered".to_owned(), |f| f.to_string());
    let limits: [(&str, u128, u128, String, String); 6] = [
        (
            "memory",
            ol.memory_bytes.into(),
            nl.memory_bytes.into(),
            bytes(ol.memory_bytes),
            bytes(nl.memory_bytes),
        ),
        (
            "timeout",
            ol.timeout.as_millis(),
            nl.timeout.as_millis(),
            duration(ol.timeout),
            duration(nl.timeout),
        ),
        (
            "fuel",
            ol.fuel.map_or(u128::MAX, u128::from),
            nl.fuel.map_or(u128::MAX, u128::from),
            fuel(ol.fuel),
            fuel(nl.fuel),
        ),
        (
            "output",
            ol.output_bytes.into(),
            nl.output_bytes.into(),
            bytes(ol.output_bytes),
            bytes(nl.output_bytes),
        ),
        (
            "result",
            ol.result_bytes.into(),
            nl.result_bytes.into(),
            bytes(ol.result_bytes),
            bytes(nl.result_bytes),
        ),
        (
            "handles",
            ol.handles.into(),
            nl.handles.into(),
            ol.handles.to_string(),
            nl.handles.to_string(),
        ),
    ];
    for (name, o, n, ot, nt) in limits {
        if n != o {
            let raised = n > o;
            d.push(
                raised,
                format!(
                    "{name} limit {} from {ot} to {nt}",
                    if raised { "raised" } else { "lowered" }
                ),
            );
        }
    }

    // Escalations first; the sort is stable, so each group keeps manifest order.
    d.changes.sort_by_key(|c| !c.escalation);
    d
}

fn duration(d: Duration) -> String {
    ward_policy::format_duration(d)
}

/// The sentence for write access to a directory.
fn write_line(f: &FileRule) -> String {
    let place = match &f.host {
        HostDir::Operator => "a directory you choose".to_owned(),
        HostDir::Path(p) => p.clone(),
    };
    format!("write files in {place}, seen by the plugin as {}", f.guest)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn m(caps: &str) -> Manifest {
        Manifest::parse(format!("name = \"acme:x\"\nversion = \"1.0.0\"\n{caps}").as_bytes())
            .unwrap()
    }

    #[test]
    fn diff_table() {
        let table: &[(&str, &str, &[&str], bool)] = &[
            ("", "", &[], false),
            (
                "",
                "[capabilities]\nnetwork = [{ url = \"https://api.github.com\", methods = [\"GET\"] }]",
                &["+ send HTTPS requests to api.github.com (GET)"],
                true,
            ),
            (
                "[capabilities]\nnetwork = [{ url = \"https://api.github.com\", methods = [\"GET\"] }]",
                "",
                &["- send HTTPS requests to api.github.com (GET)"],
                false,
            ),
            (
                "[capabilities]\nnetwork = [{ url = \"https://api.github.com\", methods = [\"GET\", \"DELETE\"] }]",
                "[capabilities]\nnetwork = [{ url = \"https://api.github.com:443\", methods = [\"GET\", \"POST\"] }]",
                &[
                    "+ send POST requests to api.github.com",
                    "- send DELETE requests to api.github.com",
                ],
                true,
            ),
            (
                "[capabilities]\nnetwork = [{ url = \"https://a.com\", methods = [\"GET\"] }]",
                "[capabilities]\nnetwork = [{ url = \"https://a.com\" }]",
                &["+ send HEAD, POST, PUT, PATCH, DELETE, OPTIONS requests to a.com"],
                true,
            ),
            (
                "[capabilities]\nnetwork = [{ url = \"https://a.com\" }]",
                "[capabilities]\nnetwork = [{ url = \"http://a.com\" }]",
                &[
                    "+ send unencrypted HTTP requests to a.com (any method)",
                    "- send HTTPS requests to a.com (any method)",
                ],
                true,
            ),
            (
                "[capabilities]\nfiles = [{ host = \"/srv\", guest = \"/data\" }]",
                "[capabilities]\nfiles = [{ host = \"/srv\", guest = \"/data\", mode = \"rw\" }]",
                &["+ write files in /srv, seen by the plugin as /data (was read-only)"],
                true,
            ),
            (
                "[capabilities]\nfiles = [{ host = \"$OPERATOR\", guest = \"/w\", mode = \"rw\" }]",
                "[capabilities]\nfiles = [{ host = \"$OPERATOR\", guest = \"/w\" }]",
                &[
                    "- write files in a directory you choose, seen by the plugin as /w (now read-only)",
                ],
                false,
            ),
            (
                "[capabilities]\nfiles = [{ host = \"/srv\", guest = \"/data\" }]",
                "[capabilities]\nfiles = [{ host = \"/home\", guest = \"/data\" }]",
                &[
                    "+ read files in /home, seen by the plugin as /data",
                    "- read files in /srv, seen by the plugin as /data",
                ],
                true,
            ),
            (
                "[capabilities]\nenv = [\"LANG\", \"TZ\"]",
                "[capabilities]\nenv = [\"LANG\", \"HOME\", \"USER\"]",
                &[
                    "+ read environment variables HOME, USER (values set by you)",
                    "- read environment variable TZ (value set by you)",
                ],
                true,
            ),
            (
                "[capabilities]\nnetwork = [{ url = \"https://a.com\" }, { url = \"https://b.com\" }]\nsecrets = [{ name = \"T\", hosts = [\"https://a.com\"], header = \"Authorization\" }]",
                "[capabilities]\nnetwork = [{ url = \"https://a.com\" }, { url = \"https://b.com\" }]\nsecrets = [{ name = \"T\", hosts = [\"https://b.com\"], header = \"X-Token\" }]",
                &[
                    "+ send secret T also to b.com",
                    "+ put secret T in the X-Token header as \"{}\" (was the Authorization header as \"{}\")",
                    "- send secret T to a.com",
                ],
                true,
            ),
            (
                "",
                "[capabilities]\nnetwork = [{ url = \"https://a.com\" }]\nsecrets = [{ name = \"T\", hosts = [\"https://a.com\"], query = \"key\" }]",
                &[
                    "+ send HTTPS requests to a.com (any method)",
                    "+ use secret T, sent only to a.com in the key query parameter; the plugin never sees its value",
                ],
                true,
            ),
            (
                "[capabilities]\nkeyvalue = { quota = \"1MiB\" }",
                "[capabilities]\nkeyvalue = { quota = \"10MiB\" }",
                &["+ key-value quota raised from 1 MiB to 10 MiB"],
                true,
            ),
            (
                "[capabilities]\nkeyvalue = { quota = \"10MiB\" }",
                "",
                &["- store up to 10 MiB of key-value data"],
                false,
            ),
            (
                "",
                "[capabilities]\nconfirm = true",
                &["+ ask you to confirm actions while running"],
                true,
            ),
            (
                "[capabilities]\nconfirm = true",
                "",
                &["- ask you to confirm actions while running"],
                false,
            ),
            (
                "[commands.rm]\nconfirm = true",
                "[commands.rm]\nconfirm = false",
                &["+ calls of rm no longer need your confirmation"],
                true,
            ),
            (
                "[commands.rm]",
                "[commands.rm]\nconfirm = true",
                &["- calls of rm now need your confirmation"],
                false,
            ),
            (
                "",
                "[limits]\nmemory = \"128MiB\"\ntimeout = \"1s\"\nfuel = 100",
                &[
                    "+ memory limit raised from 64 MiB to 128 MiB",
                    "- timeout limit lowered from 5s to 1s",
                    "- fuel limit lowered from unmetered to 100",
                ],
                true,
            ),
            (
                "[limits]\nfuel = 100\noutput = \"64MiB\"",
                "[limits]\noutput = 1024",
                &[
                    "+ fuel limit raised from 100 to unmetered",
                    "- output limit lowered from 64 MiB to 1 KiB",
                ],
                true,
            ),
            (
                "description = \"old\"\n[commands.a]\ndescription = \"x\"",
                "description = \"new\"\n[commands.b]\nconfirm = true",
                &[],
                false,
            ),
        ];
        for (old, new, lines, escalation) in table {
            let d = diff(&m(old), &m(new));
            assert_eq!(d.lines(), *lines, "{old} -> {new}");
            assert_eq!(d.is_escalation(), *escalation, "{old} -> {new}");
        }
    }

    #[test]
    fn same_manifest_has_no_diff() {
        let a = m("[capabilities]\nnetwork = [{ url = \"https://a.com\" }]\nenv = [\"TZ\"]");
        assert!(diff(&a, &a).is_empty());
    }
}

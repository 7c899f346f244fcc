//! Step 4, grants: the capability kinds the signed manifest asks for, plus the values only the
//! operator gives: environment values (`--env`) and the directories the manifest leaves to them
//! (`--dir`). Every declared variable and every operator directory needs a value; nothing
//! undeclared is accepted; no directory may reach ward's own data directory.

use serde_json::{Value, json};
use ward_home::Home;
use ward_manifest::Manifest;

use crate::{Refusal, Request};

pub(crate) fn operator_grants(
    home: &Home,
    manifest: &Manifest,
    request: &Request,
) -> Result<Vec<Value>, Refusal> {
    let name = manifest.name.to_string();
    let value = |message: String| Refusal::OperatorValue {
        name: name.clone(),
        message,
    };
    let caps = &manifest.capabilities;
    let mut entries: Vec<Value> = manifest
        .capability_kinds()
        .iter()
        .map(|k| json!({ "kind": "capability", "capability": k }))
        .collect();
    let mut env = std::collections::BTreeMap::new();
    for pair in &request.env {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| value(format!("--env '{pair}' is not NAME=VALUE")))?;
        if !caps.env.iter().any(|declared| declared == k) {
            return Err(value(format!(
                "--env {k}: the manifest does not declare it (it declares: {})",
                list_or_none(&caps.env)
            )));
        }
        env.insert(k.to_owned(), v.to_owned());
    }
    for var in &caps.env {
        let v = env.remove(var).ok_or_else(|| {
            value(format!(
                "the plugin reads environment variable {var}: give its value with --env {var}=VALUE"
            ))
        })?;
        entries.push(json!({ "kind": "env", "name": var, "value": v }));
    }
    let mut dirs = std::collections::BTreeMap::new();
    for pair in &request.dirs {
        let (guest, host) = pair
            .split_once('=')
            .ok_or_else(|| value(format!("--dir '{pair}' is not GUEST=HOSTDIR")))?;
        dirs.insert(guest.to_owned(), host.to_owned());
    }
    for rule in &caps.files {
        let host = match &rule.host {
            ward_manifest::HostDir::Path(p) => {
                if dirs.remove(&rule.guest).is_some() {
                    return Err(value(format!(
                        "--dir {}: the manifest fixes that directory to {p}",
                        rule.guest
                    )));
                }
                p.clone()
            }
            ward_manifest::HostDir::Operator => {
                let chosen = dirs.remove(&rule.guest).ok_or_else(|| {
                    value(format!(
                        "the plugin asks for a directory you choose, seen as {}: give it with --dir {}=/path/on/this/machine",
                        rule.guest, rule.guest
                    ))
                })?;
                let canonical = std::path::Path::new(&chosen)
                    .canonicalize()
                    .map_err(|e| value(format!("--dir {}={chosen}: {e}", rule.guest)))?;
                if !canonical.is_dir() {
                    return Err(value(format!(
                        "--dir {}={chosen}: not a directory",
                        rule.guest
                    )));
                }
                canonical.display().to_string()
            }
        };
        home.check_outside(std::path::Path::new(&host))
            .map_err(|source| Refusal::GrantReachesWard {
                name: name.clone(),
                guest: rule.guest.clone(),
                source: Box::new(source),
            })?;
        entries.push(json!({
            "kind": "files",
            "guest": rule.guest,
            "host": host,
            "writable": rule.mode == ward_manifest::Mode::ReadWrite,
        }));
    }
    if let Some(extra) = dirs.keys().next() {
        return Err(value(format!(
            "--dir {extra}: the manifest declares no directory seen as {extra}"
        )));
    }
    entries.extend(request.extra_grants.iter().cloned());
    Ok(entries)
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "nothing".into()
    } else {
        items.join(", ")
    }
}

//! `ward doctor`: what is misconfigured, and the command that fixes it. Every check reads; none
//! changes anything.

use std::os::unix::fs::MetadataExt as _;

use serde::Serialize;
use serde_json::json;
use ward_home::{Home, OperatorPolicy};

use crate::{EXIT_PLUGIN, Failure, output};

/// One finding.
#[derive(Debug, Serialize)]
struct Check {
    /// What was checked.
    check: &'static str,
    /// `ok`, `warn` (works, but worth knowing) or `fail` (misconfigured).
    status: &'static str,
    /// What was found.
    message: String,
    /// The command or change that fixes it, if anything needs fixing.
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

fn ok(check: &'static str, message: impl Into<String>) -> Check {
    Check {
        check,
        status: "ok",
        message: message.into(),
        fix: None,
    }
}

fn warn(check: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        check,
        status: "warn",
        message: message.into(),
        fix: Some(fix.into()),
    }
}

fn fail(check: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        check,
        status: "fail",
        message: message.into(),
        fix: Some(fix.into()),
    }
}

fn data_directory(home: &Home) -> Check {
    let dir = home.root();
    let shown = dir.display();
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => warn(
            "data directory",
            format!("{shown} does not exist yet"),
            "it is created by the first `ward trust add` or `ward install`",
        ),
        Err(e) => fail(
            "data directory",
            format!("{shown}: {e}"),
            "check the path and its parent's permissions",
        ),
        Ok(m) if !m.is_dir() => fail(
            "data directory",
            format!("{shown} is not a directory"),
            "point WARD_HOME (or --home) at a directory",
        ),
        Ok(m) if m.uid() != rustix::process::geteuid().as_raw() => fail(
            "data directory",
            format!("{shown} belongs to uid {}, not to you", m.uid()),
            format!("run ward as its owner, or chown it: chown -R $(id -u) {shown}"),
        ),
        Ok(m) if m.mode() & 0o077 != 0 => fail(
            "data directory",
            format!(
                "{shown} has mode {:04o}: other users can reach ward's store and secrets",
                m.mode() & 0o7777
            ),
            format!("chmod 700 {shown}"),
        ),
        Ok(_) => ok("data directory", format!("{shown} (0700, yours)")),
    }
}

fn policy_file(home: &Home) -> (Check, Option<OperatorPolicy>) {
    let path = home.policy_file();
    match OperatorPolicy::load(&path) {
        Ok(p) if path.exists() => (
            ok("policy.toml", format!("{} is valid", path.display())),
            Some(p),
        ),
        Ok(p) => (
            ok(
                "policy.toml",
                "none: one signature from a trusted key suffices, nothing is pre-approved",
            ),
            Some(p),
        ),
        Err(e) => (
            fail(
                "policy.toml",
                format!("{e:#}"),
                format!(
                    "fix {} (docs/config.md): every command refuses to run until then",
                    path.display()
                ),
            ),
            None,
        ),
    }
}

fn daemon_file(home: &Home) -> Check {
    let path = home.root().join("daemon.toml");
    match ward_daemon::DaemonConfig::load(home.root()) {
        Ok(_) if path.exists() => ok("daemon.toml", format!("{} is valid", path.display())),
        Ok(_) => ok("daemon.toml", "none: the daemon's defaults apply"),
        Err(e) => fail(
            "daemon.toml",
            format!("{e:#}"),
            format!(
                "fix {} (docs/config.md): wardd refuses to start until then",
                path.display()
            ),
        ),
    }
}

fn trust_and_plugins(home: &Home, policy: &OperatorPolicy) -> Vec<Check> {
    let store = match ward_home::open_store(home, policy) {
        Ok(s) => s,
        Err(e) => {
            return vec![fail(
                "store",
                format!("{e:#}"),
                "see the message; `ward audit verify` if it names the audit log",
            )];
        }
    };
    let mut checks = Vec::new();
    let now = ward_store::format_unix(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    );
    match store.trust_list() {
        Err(e) => checks.push(fail("trust store", format!("{e:#}"), "see the message")),
        Ok(keys) => {
            let live: Vec<_> = keys
                .iter()
                .filter(|k| {
                    k.revoked_at.is_none()
                        && k.expires.as_ref().is_none_or(|e| e.as_str() > now.as_str())
                })
                .collect();
            let expired: Vec<_> = keys
                .iter()
                .filter(|k| {
                    k.revoked_at.is_none()
                        && k.expires
                            .as_ref()
                            .is_some_and(|e| e.as_str() <= now.as_str())
                })
                .map(|k| {
                    format!(
                        "{} ({})",
                        k.key_id,
                        ward_policy::text::sanitize(&k.label, false)
                    )
                })
                .collect();
            if live.is_empty() {
                checks.push(fail(
                    "trust store",
                    "no key is trusted: nothing can be installed or run",
                    "ward trust add PUBLISHER.pub --scope 'NAMESPACE:*' --label NAME",
                ));
            } else {
                checks.push(ok("trust store", format!("{} trusted key(s)", live.len())));
            }
            if !expired.is_empty() {
                checks.push(warn(
                    "trust store",
                    format!("expired, counting for nothing: {}", expired.join(", ")),
                    "ward trust add KEY.pub --expires DATE with the publisher's current key, then ward trust revoke the old one",
                ));
            }
        }
    }
    match (
        store.list(),
        ward_trust::trust_policy(&store, &policy.rules),
    ) {
        (Ok(plugins), Ok(trust)) => {
            let mut refused = Vec::new();
            for p in &plugins {
                if !p.enabled {
                    continue;
                }
                let Ok(detail) = store.inspect(&p.name) else {
                    continue;
                };
                let Ok(bytes) = store.get_blob(&detail.current.blob) else {
                    refused.push(format!("{} (its component is missing)", p.name));
                    continue;
                };
                if let Err(e) = ward_trust::authorize(&bytes, &trust, Some(&p.name)) {
                    refused.push(format!("{} ({})", p.name, e.reason()));
                }
            }
            let disabled = plugins.iter().filter(|p| !p.enabled).count();
            if refused.is_empty() {
                checks.push(ok(
                    "plugins",
                    format!(
                        "{} installed, {} enabled, each authorized under the current trust",
                        plugins.len(),
                        plugins.len() - disabled
                    ),
                ));
            } else {
                checks.push(fail(
                    "plugins",
                    format!("enabled but refused at their next run: {}", refused.join(", ")),
                    "ward trust check (disables them and says why), then install a version the current trust allows",
                ));
            }
        }
        (Err(e), _) => checks.push(fail("plugins", format!("{e:#}"), "see the message")),
        (_, Err(e)) => checks.push(fail("plugins", format!("{e:#}"), "see the message")),
    }
    match store.audit_verify() {
        Ok(r) => checks.push(ok("audit log", format!("intact: {} rows", r.rows))),
        Err(e) => checks.push(fail(
            "audit log",
            format!("{e}"),
            "investigate (docs/store.md), then ward audit reseal to record it and resume",
        )),
    }
    checks
}

fn daemon(home: &Home) -> Check {
    let config = ward_daemon::DaemonConfig::new(home.root());
    let socket = config.operator_socket();
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return warn("daemon", "cannot start an async runtime to ask", "—");
    };
    let reply = rt.block_on(async {
        tokio::time::timeout(
            std::time::Duration::from_secs(2),
            ward_daemon::client::request(&socket, hyper::Method::GET, "/v1/status", None, None),
        )
        .await
    });
    match reply {
        Ok(Ok((status, _))) if status.is_success() => {
            ok("daemon", format!("wardd answers on {}", socket.display()))
        }
        Ok(Ok((status, body))) => fail(
            "daemon",
            format!(
                "wardd answered {status}: {}",
                ward_policy::text::sanitize(body["error"]["message"].as_str().unwrap_or(""), false)
            ),
            "see the daemon's log",
        ),
        _ => warn(
            "daemon",
            "wardd is not running: agents cannot call, `ward run` runs standalone",
            "ward daemon start (or contrib/wardd.service)",
        ),
    }
}

fn toolchains() -> Check {
    let found: Vec<&str> = ["componentize-py", "componentize-qjs"]
        .into_iter()
        .filter(|t| {
            std::env::var_os("PATH")
                .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(t).is_file()))
        })
        .collect();
    if found.len() == 2 {
        ok(
            "toolchains",
            "componentize-py and componentize-qjs are on PATH",
        )
    } else {
        warn(
            "toolchains",
            format!(
                "on PATH: {}",
                if found.is_empty() {
                    "neither componentize-py nor componentize-qjs".to_owned()
                } else {
                    found.join(", ")
                }
            ),
            "only for `ward new --lang python|js` projects: pip install componentize-py / npm install componentize-qjs (versions in plugins/toolchains/install.sh)",
        )
    }
}

pub(crate) fn doctor(home: &Home, json_out: bool) -> Result<(), Failure> {
    let mut checks = vec![data_directory(home)];
    let (policy_check, policy) = policy_file(home);
    checks.push(policy_check);
    checks.push(daemon_file(home));
    if let Some(policy) = &policy
        && home.root().exists()
    {
        checks.extend(trust_and_plugins(home, policy));
    }
    checks.push(daemon(home));
    checks.push(toolchains());
    let failed = checks.iter().filter(|c| c.status == "fail").count();
    if json_out {
        output::print_json(&json!({ "ok": failed == 0, "checks": checks }))?;
    } else {
        let mut text = String::new();
        for c in &checks {
            text.push_str(&format!("{:<5} {}: {}\n", c.status, c.check, c.message));
            if let Some(fix) = &c.fix
                && c.status != "ok"
            {
                text.push_str(&format!("      fix: {fix}\n"));
            }
        }
        output::print_result(&json!(text), true)?;
    }
    if failed > 0 {
        return Err(Failure {
            code: EXIT_PLUGIN,
            error: anyhow::anyhow!("{failed} check(s) failed"),
            reported: json_out,
        });
    }
    Ok(())
}

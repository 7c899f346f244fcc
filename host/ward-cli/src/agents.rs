//! Operator commands for agents: `ward token`, `ward confirm` and `ward daemon`. Tokens and
//! confirmations live in the store, so these work whether or not the daemon is running, and take
//! effect on the daemon's next request.

use std::io::Write as _;

use anyhow::{Context, anyhow};
use serde_json::json;

use crate::cli::{ConfirmCommand, DaemonCommand, TokenCommand};
use crate::install::open_store;
use crate::{Failure, output};
use ward_home::{Home, OperatorPolicy};

fn store(home: &Home) -> anyhow::Result<ward_store::Store> {
    let policy = OperatorPolicy::load(&home.policy_file())?;
    open_store(home, &policy)
}

fn clean(text: &str) -> String {
    ward_policy::text::sanitize(text, false)
}

fn print_text(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

pub(crate) fn token(home: &Home, command: TokenCommand) -> Result<(), Failure> {
    match command {
        TokenCommand::Create {
            plugin,
            command,
            rate,
            daily_calls,
            daily_cpu,
            expires,
            json,
        } => {
            let spec = ward_daemon::new_token(
                &plugin,
                command.as_deref(),
                rate.as_deref(),
                daily_calls,
                daily_cpu.as_deref(),
                expires.as_deref(),
            )
            .map_err(Failure::usage)?;
            let mut store = store(home)?;
            if store.current(&plugin)?.is_none() {
                return Err(Failure::usage(anyhow!(
                    "{plugin} is not installed (see `ward list`)"
                )));
            }
            let issued = store.token_create(&spec)?;
            if json {
                output::print_json(&json!({ "token": issued.token, "row": issued.row }))?;
            } else {
                print_text(&format!("{}\n", issued.token))?;
                eprintln!(
                    "token {} for {}{}: shown once, store it now; `ward token revoke {}` revokes it",
                    issued.row.id,
                    plugin,
                    command.map(|c| format!(" {c}")).unwrap_or_default(),
                    issued.row.id
                );
            }
            Ok(())
        }
        TokenCommand::List { json } => {
            let rows = store(home)?.token_list()?;
            if json {
                output::print_json(&json!(rows))?;
                return Ok(());
            }
            if rows.is_empty() {
                eprintln!("no agent tokens");
                return Ok(());
            }
            let mut text = String::new();
            for t in rows {
                let rate = match (t.rate_count, t.rate_per_secs) {
                    (Some(c), Some(s)) => ward_policy::Rate {
                        count: c,
                        per: std::time::Duration::from_secs(s),
                    }
                    .to_string(),
                    _ => "-".into(),
                };
                let state = match (&t.revoked, &t.expires) {
                    (Some(r), _) => format!("revoked {r}"),
                    (None, Some(e)) => format!("expires {e}"),
                    (None, None) => "active".into(),
                };
                text.push_str(&format!(
                    "{}  {}  {}  rate {}  daily calls {}  daily cpu {}  {}\n",
                    t.id,
                    clean(&t.plugin),
                    t.command
                        .as_deref()
                        .map(clean)
                        .unwrap_or_else(|| "*".into()),
                    rate,
                    t.daily_calls.map_or("-".into(), |n| n.to_string()),
                    t.daily_cpu_ms
                        .map_or("-".into(), |n| format!("{}s", n / 1000)),
                    state
                ));
            }
            print_text(&text)?;
            Ok(())
        }
        TokenCommand::Revoke { id } => {
            store(home)?
                .token_revoke(&id)
                .map_err(|e| Failure::usage(anyhow!(e)))?;
            eprintln!("revoked {id}");
            Ok(())
        }
    }
}

pub(crate) fn confirm(home: &Home, command: ConfirmCommand) -> Result<(), Failure> {
    match command {
        ConfirmCommand::List { all, json } => {
            let rows = store(home)?.confirmation_list(all)?;
            if json {
                output::print_json(&json!(rows))?;
                return Ok(());
            }
            if rows.is_empty() {
                eprintln!("no pending confirmations");
                return Ok(());
            }
            let mut text = String::new();
            for c in rows {
                let state = serde_json::to_value(c.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                text.push_str(&format!(
                    "{}  {}  expires {}  token {}\n    {}\n",
                    c.id,
                    state,
                    c.expires,
                    c.token,
                    clean(&c.summary)
                ));
            }
            print_text(&text)?;
            Ok(())
        }
        ConfirmCommand::Approve { id } => decide(home, &id, true),
        ConfirmCommand::Deny { id } => decide(home, &id, false),
    }
}

fn decide(home: &Home, id: &str, approve: bool) -> Result<(), Failure> {
    let c = store(home)?
        .confirmation_decide(id, approve)
        .map_err(|e| Failure::usage(anyhow!(e)))?;
    eprintln!(
        "{} {}: {}",
        if approve { "approved" } else { "denied" },
        c.id,
        clean(&c.summary)
    );
    Ok(())
}

pub(crate) fn daemon(home: &Home, command: Option<DaemonCommand>) -> Result<(), Failure> {
    match command.unwrap_or(DaemonCommand::Start) {
        DaemonCommand::Start => {
            home.ensure().map_err(Failure::usage)?;
            let config = ward_daemon::DaemonConfig::load(home.root()).map_err(Failure::usage)?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            rt.block_on(ward_daemon::serve_until_signal(config))
                .map_err(Failure::usage)?;
            Ok(())
        }
        DaemonCommand::Status { json } => {
            let config = ward_daemon::DaemonConfig::new(home.root());
            let socket = config.operator_socket();
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let reply = rt.block_on(ward_daemon::client::request(
                &socket,
                hyper::Method::GET,
                "/v1/status",
                None,
                None,
            ));
            let (status, body) = reply.map_err(|e| {
                Failure::plugin(anyhow!(e).context("wardd is not running (or not reachable)"))
            })?;
            if !status.is_success() {
                return Err(Failure::plugin(anyhow!(
                    "wardd answered {status}: {}",
                    body["error"]["message"].as_str().unwrap_or("")
                )));
            }
            if json {
                output::print_json(&body)?;
                return Ok(());
            }
            let plugins: Vec<String> = body["plugins_loaded"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    format!(
                        "{} {}",
                        clean(p["name"].as_str().unwrap_or("")),
                        p["digest"].as_str().unwrap_or("")
                    )
                })
                .collect();
            let text = format!(
                "wardd is running (up {}s)\noperator socket: {}\nagent socket: {}\nrequests served: {}\ncalls running: {}\nplugins loaded: {}\n",
                body["uptime_secs"],
                clean(body["sockets"]["operator"].as_str().unwrap_or("")),
                clean(body["sockets"]["agent"].as_str().unwrap_or("")),
                body["requests_served"],
                body["calls_running"],
                if plugins.is_empty() {
                    "none".into()
                } else {
                    plugins.join(", ")
                }
            );
            print_text(&text)?;
            Ok(())
        }
    }
}

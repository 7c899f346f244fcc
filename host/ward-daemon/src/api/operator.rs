//! The operator socket: status, tokens, confirmations, proposals and `ward run` through the
//! daemon. An agent token is refused here, whatever the path.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::AUTHORIZATION;
use hyper::{Method, Request, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use ward_store::{NewToken, StoreError};

use super::{ApiError, Record, Reply, is_agent_path, parse_json, read_body, run_call, segments};
use crate::Ctx;

/// Routes one operator request to its handler.
pub(super) async fn route(
    ctx: &Arc<Ctx>,
    req: Request<Incoming>,
    rec: &mut Record,
) -> Result<Reply, ApiError> {
    // An agent token is never accepted here, whatever the path.
    if req.headers().contains_key(AUTHORIZATION) {
        rec.event.detail.endpoint = Some("operator-verb");
        return Err(ApiError::denied(
            StatusCode::FORBIDDEN,
            "agent-token-refused",
            "agent tokens are not accepted on the operator socket",
        ));
    }
    let path = req.uri().path().to_owned();
    let seg = segments(&path);
    let method = req.method().clone();
    match (&method, seg.as_slice()) {
        (&Method::GET, ["v1", "status"]) => {
            rec.event.detail.endpoint = Some("status");
            Ok(Reply::ok(status(ctx)))
        }
        (&Method::GET, ["v1", "proposals"]) => {
            rec.event.detail.endpoint = Some("proposals");
            let list = ctx
                .stores
                .with(|s| s.proposal_list())
                .map_err(ApiError::store)?;
            Ok(Reply::ok(json!({ "ok": true, "proposals": list })))
        }
        (&Method::GET, ["v1", "proposals", id]) => {
            rec.event.detail.endpoint = Some("proposal");
            proposal_get(ctx, id)
        }
        (&Method::POST, ["v1", "proposals", id, "reject"]) => {
            rec.event.detail.endpoint = Some("proposal-reject");
            let id = (*id).to_owned();
            let body = read_body(ctx, req).await?;
            proposal_reject(ctx, &id, &body)
        }
        (&Method::POST, ["v1", "proposals", _, "approve"]) => {
            rec.event.detail.endpoint = Some("proposal-approve");
            // Answered, not refused: the audit row stays a plain request.
            Ok(Reply::error(
                StatusCode::NOT_IMPLEMENTED,
                "approve-with-the-cli",
                "approve with `ward proposals approve ID`: it signs with the operator's local key, whose passphrase the daemon never holds",
            ))
        }
        (&Method::POST, ["v1", "plugins", name, "run"]) => {
            rec.event.detail.endpoint = Some("operator-run");
            let name = (*name).to_owned();
            let body = read_body(ctx, req).await?;
            operator_run(ctx, &name, &body, rec).await
        }
        (&Method::GET, ["v1", "tokens"]) => {
            rec.event.detail.endpoint = Some("token-list");
            let list = ctx
                .stores
                .with(|s| s.token_list())
                .map_err(ApiError::store)?;
            Ok(Reply::ok(json!({ "ok": true, "tokens": list })))
        }
        (&Method::POST, ["v1", "tokens"]) => {
            rec.event.detail.endpoint = Some("token-create");
            let body = read_body(ctx, req).await?;
            token_create(ctx, &body, rec)
        }
        (&Method::POST, ["v1", "tokens", id, "revoke"]) => {
            rec.event.detail.endpoint = Some("token-revoke");
            token_revoke(ctx, id, rec)
        }
        (&Method::GET, ["v1", "confirmations"]) => {
            rec.event.detail.endpoint = Some("confirm-list");
            let list = ctx
                .stores
                .with(|s| s.confirmation_list(false))
                .map_err(ApiError::store)?;
            Ok(Reply::ok(json!({ "ok": true, "confirmations": list })))
        }
        (&Method::POST, ["v1", "confirmations", id, verb @ ("approve" | "deny")]) => {
            let approve = *verb == "approve";
            rec.event.detail.endpoint = Some(if approve {
                "confirm-approve"
            } else {
                "confirm-deny"
            });
            confirmation_decide(ctx, id, approve, rec)
        }
        (_, s) if is_agent_path(s) => {
            rec.event.detail.endpoint = Some("agent-verb");
            Err(ApiError::denied(
                StatusCode::FORBIDDEN,
                "agent-only",
                "this endpoint exists only on the agent socket",
            ))
        }
        _ => Err(ApiError::denied(
            StatusCode::NOT_FOUND,
            "not-found",
            "no such endpoint",
        )),
    }
}

/// `GET /v1/status`.
fn status(ctx: &Ctx) -> Value {
    use std::sync::atomic::Ordering;
    let loaded = ctx.stats.loaded.lock().unwrap_or_else(|e| e.into_inner());
    let plugins: Vec<Value> = loaded
        .iter()
        .map(|(name, digest)| json!({ "name": name, "digest": digest }))
        .collect();
    json!({
        "ok": true,
        "sockets": {
            "operator": ctx.config.operator_socket().display().to_string(),
            "agent": ctx.config.agent_socket().display().to_string(),
        },
        "plugins_loaded": plugins,
        "requests_served": ctx.stats.requests.load(Ordering::Relaxed),
        "calls_running": ctx.stats.in_flight.load(Ordering::Relaxed),
        "uptime_secs": ctx.stats.started.elapsed().as_secs(),
    })
}

// ---------------------------------------------------------------- proposals

/// `GET /v1/proposals/{id}`.
fn proposal_get(ctx: &Ctx, id: &str) -> Result<Reply, ApiError> {
    let p = ctx
        .stores
        .with(|s| s.proposal_get(id))
        .map_err(|e| match e {
            e @ StoreError::UnknownProposal(_) => {
                ApiError::denied(StatusCode::NOT_FOUND, "not-found", e.to_string())
            }
            e => ApiError::store(e),
        })?;
    Ok(Reply::ok(json!({ "ok": true, "proposal": p })))
}

/// The body of `POST /v1/proposals/{id}/reject` (operator socket).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RejectRequest {
    reason: Option<String>,
}

/// `POST /v1/proposals/{id}/reject`; the body (a reason) is optional.
fn proposal_reject(ctx: &Ctx, id: &str, body: &[u8]) -> Result<Reply, ApiError> {
    let r: RejectRequest = if body.is_empty() {
        RejectRequest::default()
    } else {
        parse_json(body)?
    };
    ctx.stores
        .with_writer(|s| {
            s.proposal_decide(id, ward_store::ProposalState::Rejected, r.reason.as_deref())
        })
        .map_err(|e| match e {
            e @ StoreError::UnknownProposal(_) => {
                ApiError::denied(StatusCode::NOT_FOUND, "not-found", e.to_string())
            }
            e @ StoreError::ProposalDecided { .. } => {
                ApiError::denied(StatusCode::CONFLICT, "not-pending", e.to_string())
            }
            e => ApiError::denied(StatusCode::BAD_REQUEST, "invalid-request", e.to_string()),
        })?;
    Ok(Reply::ok(json!({ "ok": true, "state": "rejected" })))
}

// ---------------------------------------------------------------- operator run

/// The body of `POST /v1/plugins/{name}/run` (operator socket): `ward run` while the daemon runs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OperatorRunRequest {
    command: String,
    /// Typed arguments as JSON.
    #[serde(default)]
    args: Option<Value>,
    /// Typed arguments as `NAME=VALUE` strings, converted with the command's types.
    #[serde(default)]
    pairs: Vec<String>,
    /// The argv of a wasi:cli program.
    #[serde(default)]
    argv: Vec<String>,
}

/// The operator runs a command through the daemon: the installed plugin with exactly its grants
/// and limits, like a standalone `ward run`; no agent gates apply (the operator owns them), the
/// call is audited as a run by the operator socket's caller.
async fn operator_run(
    ctx: &Arc<Ctx>,
    name: &str,
    body: &[u8],
    rec: &mut Record,
) -> Result<Reply, ApiError> {
    let req: OperatorRunRequest = parse_json(body)?;
    let request = ward_call::CallRequest {
        plugin: name.to_owned(),
        command: req.command,
        input: ward_call::Input::Cli {
            args: req.args,
            pairs: req.pairs,
            argv: req.argv,
        },
    };
    let mut gates = crate::call::OperatorGates { ctx };
    run_call(ctx, request, &mut gates, rec, true).await
}

// ---------------------------------------------------------------- tokens

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    plugin: String,
    command: Option<String>,
    rate: Option<String>,
    daily_calls: Option<u64>,
    daily_cpu: Option<String>,
    expires: Option<String>,
}

/// Turns the textual limits of `ward token create` into a [`NewToken`].
pub fn new_token(
    plugin: &str,
    command: Option<&str>,
    rate: Option<&str>,
    daily_calls: Option<u64>,
    daily_cpu: Option<&str>,
    expires: Option<&str>,
) -> Result<NewToken, ward_policy::GateParseError> {
    let rate = rate.map(ward_policy::parse_rate).transpose()?;
    Ok(NewToken {
        plugin: plugin.to_owned(),
        command: command.map(str::to_owned),
        rate: rate.map(|r| (r.count, r.per.as_secs())),
        daily_calls,
        daily_cpu_ms: daily_cpu
            .map(ward_policy::parse_period)
            .transpose()?
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        expires_in_secs: expires
            .map(ward_policy::parse_period)
            .transpose()?
            .map(|d| d.as_secs()),
    })
}

/// `POST /v1/tokens`: issues a token; the reply is the only time its secret is shown.
fn token_create(ctx: &Ctx, body: &[u8], rec: &mut Record) -> Result<Reply, ApiError> {
    let invalid =
        |message: String| ApiError::denied(StatusCode::BAD_REQUEST, "invalid-request", message);
    let t: TokenRequest = parse_json(body)?;
    let spec = new_token(
        &t.plugin,
        t.command.as_deref(),
        t.rate.as_deref(),
        t.daily_calls,
        t.daily_cpu.as_deref(),
        t.expires.as_deref(),
    )
    .map_err(|e| invalid(e.to_string()))?;
    let issued = ctx
        .stores
        .with_writer(|s| s.token_create(&spec))
        .map_err(|e| invalid(e.to_string()))?;
    rec.event.plugin = Some(issued.row.plugin.clone());
    rec.event.detail.token = Some(issued.row.id.clone());
    Ok(Reply::ok(
        json!({ "ok": true, "token": issued.token, "row": issued.row }),
    ))
}

/// `POST /v1/tokens/{id}/revoke`.
fn token_revoke(ctx: &Ctx, id: &str, rec: &mut Record) -> Result<Reply, ApiError> {
    ctx.stores
        .with_writer(|s| s.token_revoke(id))
        .map_err(|e| ApiError::denied(StatusCode::NOT_FOUND, "unknown-token", e.to_string()))?;
    rec.event.detail.token = Some(id.to_owned()).filter(|i| ward_call::printable_ident(i));
    Ok(Reply::ok(json!({ "ok": true })))
}

// ---------------------------------------------------------------- confirmations

/// `POST /v1/confirmations/{id}/approve` and `.../deny`.
fn confirmation_decide(
    ctx: &Ctx,
    id: &str,
    approve: bool,
    rec: &mut Record,
) -> Result<Reply, ApiError> {
    let c = ctx
        .stores
        .with_writer(|s| s.confirmation_decide(id, approve))
        .map_err(|e| match e {
            e @ StoreError::UnknownConfirmation(_) => {
                ApiError::denied(StatusCode::NOT_FOUND, "not-found", e.to_string())
            }
            e @ StoreError::ConfirmationNotPending { .. } => {
                ApiError::denied(StatusCode::CONFLICT, "not-pending", e.to_string())
            }
            e => ApiError::store(e),
        })?;
    rec.event.plugin = Some(c.plugin.clone());
    rec.event.detail.confirmation = Some(c.id.clone());
    Ok(Reply::ok(json!({ "ok": true, "confirmation": c })))
}

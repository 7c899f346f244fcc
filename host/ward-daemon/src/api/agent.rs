//! The agent socket: `run`, `commands`, `proposals` and polling a confirmation, each with a
//! bearer `wk_` token scoped to one plugin (and optionally one command).

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::AUTHORIZATION;
use hyper::{Method, Request, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use ward_store::{AgentToken, AuditAction, TokenCheck};

use super::{
    ApiError, Record, Reply, current_policy, is_agent_path, is_operator_path, parse_json,
    read_body, run_call, segments,
};
use crate::Ctx;

/// Routes one agent request: the endpoint first (an operator verb or an unknown path is refused
/// before the token is looked at), then the token, then the handler.
pub(super) async fn route(
    ctx: &Arc<Ctx>,
    req: Request<Incoming>,
    rec: &mut Record,
) -> Result<Reply, ApiError> {
    let path = req.uri().path().to_owned();
    let seg = segments(&path);
    let method = req.method().clone();
    let endpoint = match (&method, seg.as_slice()) {
        (&Method::POST, ["v1", "run"]) => "run",
        (&Method::POST, ["v1", "proposals"]) => "propose",
        (&Method::GET, ["v1", "commands"]) => "commands",
        (&Method::GET, ["v1", "confirmations", _]) => "confirmation",
        (_, s) if is_operator_path(s) => {
            rec.event.detail.endpoint = Some("operator-verb");
            return Err(ApiError::denied(
                StatusCode::FORBIDDEN,
                "operator-only",
                "this verb exists only on the operator socket",
            ));
        }
        (_, s) if is_agent_path(s) => {
            return Err(ApiError::denied(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                format!("{method} is not allowed on {path}"),
            ));
        }
        _ => {
            return Err(ApiError::denied(
                StatusCode::NOT_FOUND,
                "not-found",
                "no such endpoint",
            ));
        }
    };
    rec.event.detail.endpoint = Some(endpoint);
    let token = authenticate(ctx, &req, rec)?;
    rec.event.detail.token = Some(token.id.clone());
    match endpoint {
        "run" => {
            rec.event.action = AuditAction::Run;
            let body = read_body(ctx, req).await?;
            run(ctx, &token, &body, rec).await
        }
        "commands" => commands(ctx, &token, rec),
        "propose" => {
            let body = read_body(ctx, req).await?;
            propose(ctx, &token, &body, rec).await
        }
        _ => {
            let id = seg.get(2).copied().unwrap_or_default();
            poll(ctx, &token, id, rec)
        }
    }
}

fn authenticate(
    ctx: &Ctx,
    req: &Request<Incoming>,
    rec: &mut Record,
) -> Result<AgentToken, ApiError> {
    let Some(value) = req.headers().get(AUTHORIZATION) else {
        return Err(ApiError::denied(
            StatusCode::UNAUTHORIZED,
            "token-missing",
            "send the agent token as `Authorization: Bearer wk_...`",
        ));
    };
    let presented = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .trim();
    let check = ctx.stores.with(|s| s.token_check(presented));
    match check {
        Ok(TokenCheck::Valid(t)) => Ok(t),
        Ok(TokenCheck::Unknown) => Err(ApiError::denied(
            StatusCode::UNAUTHORIZED,
            "token-invalid",
            "the agent token is not valid",
        )),
        Ok(TokenCheck::Revoked(t)) => {
            rec.event.detail.token = Some(t.id);
            Err(ApiError::denied(
                StatusCode::FORBIDDEN,
                "token-revoked",
                "the agent token was revoked",
            ))
        }
        Ok(TokenCheck::Expired(t)) => {
            rec.event.detail.token = Some(t.id);
            Err(ApiError::denied(
                StatusCode::FORBIDDEN,
                "token-expired",
                "the agent token has expired",
            ))
        }
        Err(e) => {
            tracing::error!("token check failed: {e}");
            Err(ApiError::denied(
                StatusCode::INTERNAL_SERVER_ERROR,
                "store-error",
                "the token could not be checked",
            ))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunRequest {
    plugin: String,
    command: String,
    #[serde(default)]
    args: Value,
}

async fn run(
    ctx: &Arc<Ctx>,
    token: &AgentToken,
    body: &[u8],
    rec: &mut Record,
) -> Result<Reply, ApiError> {
    let req: RunRequest = parse_json(body)?;
    let request = ward_call::CallRequest {
        plugin: req.plugin,
        command: req.command,
        input: ward_call::Input::Json(req.args),
    };
    let mut gates = crate::call::AgentGates::new(ctx, token, &request.plugin);
    run_call(ctx, request, &mut gates, rec, false).await
}

fn commands(ctx: &Ctx, token: &AgentToken, rec: &mut Record) -> Result<Reply, ApiError> {
    rec.event.plugin = Some(token.plugin.clone());
    let policy = current_policy(ctx)?;
    let pipeline = crate::call::pipeline(ctx, &policy);
    let loaded = ctx
        .stores
        .with(|s| pipeline.load(s, &token.plugin))
        .map_err(|(f, digest)| {
            rec.event.digest = digest;
            ApiError::refused(&f)
        })?;
    rec.event.digest = Some(loaded.prepared.digest.clone());
    let list: Vec<Value> = loaded
        .plugin
        .commands()
        .iter()
        .filter(|c| token.command.as_ref().is_none_or(|t| *t == c.name))
        .map(|c| {
            let note = loaded.prepared.manifest.commands.get(&c.name);
            json!({
                "plugin": token.plugin,
                "command": c.name,
                "signature": ward_values::wit_signature(c),
                "schema": ward_values::json_schema(c),
                "description": note.map(|n| n.description.clone()).unwrap_or_default(),
                "confirm": crate::call::needs_confirm(ctx, &loaded, &token.plugin, &c.name),
            })
        })
        .collect();
    Ok(Reply::ok(json!({ "ok": true, "commands": list })))
}

fn poll(ctx: &Ctx, token: &AgentToken, id: &str, rec: &mut Record) -> Result<Reply, ApiError> {
    let found = ctx.stores.with(|s| s.confirmation_get(id));
    match found {
        Ok(Some(c)) if c.token == token.id => {
            rec.event.plugin = Some(c.plugin.clone());
            rec.event.detail.confirmation = Some(c.id.clone());
            Ok(Reply::ok(json!({
                "ok": true,
                "confirmation": { "id": c.id, "state": c.state, "summary": c.summary, "expires": c.expires },
            })))
        }
        // Another token's confirmation is indistinguishable from a missing one.
        Ok(_) => Err(ApiError::denied(
            StatusCode::NOT_FOUND,
            "not-found",
            "no such confirmation",
        )),
        Err(e) => {
            tracing::error!("cannot read confirmations: {e}");
            Err(ApiError::denied(
                StatusCode::INTERNAL_SERVER_ERROR,
                "store-error",
                "confirmations cannot be read",
            ))
        }
    }
}

/// The body of `POST /v1/proposals` (agent socket).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProposeRequest {
    /// The unsigned component with its embedded manifest, base64.
    component_base64: String,
    /// The examples, in the examples file's JSON form.
    #[serde(default)]
    examples: Option<ward_propose::Examples>,
    /// Source files, path → text, for the report's source diff.
    #[serde(default)]
    source: Option<std::collections::BTreeMap<String, String>>,
}

/// An agent submits a proposal: checked and reported like `ward propose`; a refusal records
/// nothing but the audit row. Proposing grants nothing: only the operator approves.
async fn propose(
    ctx: &Arc<Ctx>,
    token: &AgentToken,
    body: &[u8],
    rec: &mut Record,
) -> Result<Reply, ApiError> {
    use base64::Engine as _;
    let invalid =
        |message: String| ApiError::denied(StatusCode::BAD_REQUEST, "invalid-request", message);
    rec.event.action = AuditAction::Propose;
    let req: ProposeRequest = parse_json(body)?;
    let component = base64::engine::general_purpose::STANDARD
        .decode(&req.component_base64)
        .map_err(|_| invalid("component_base64 is not base64".to_owned()))?;
    if let Some(examples) = &req.examples {
        examples.check().map_err(|e| {
            ApiError::denied(StatusCode::BAD_REQUEST, "examples-invalid", e.to_string())
        })?;
    }
    let submission = ward_propose::Submission {
        component,
        examples: req.examples,
        source: req.source,
    };
    let name = ward_propose::peek_name(&submission.component).ok();
    rec.event.plugin = name.clone();
    let (installed, previous) = match &name {
        Some(n) => ctx
            .stores
            .with(|s| {
                Ok::<_, ward_propose::ProposeError>((
                    ward_propose::installed(s, n)?,
                    ward_propose::previous_source(s, n)?,
                ))
            })
            .map_err(|e| invalid(e.to_string()))?,
        None => (None, None),
    };
    let evaluated = ward_propose::evaluate(
        &ctx.runtime,
        &submission,
        installed.as_ref(),
        previous.as_ref(),
    )
    .await
    .map_err(|err| {
        let message = format!("proposal refused, nothing recorded: {}", error_chain(&err));
        ApiError::denied(StatusCode::UNPROCESSABLE_ENTITY, err.reason(), message)
    })?;
    rec.event.digest = Some(evaluated.digest.clone());
    let submitter = format!("agent:{}", token.id);
    let id = ctx
        .stores
        .with_writer(|s| ward_propose::record(s, &evaluated, &submission, &submitter))
        .map_err(|e| invalid(e.to_string()))?;
    rec.event.detail.proposal = Some(id.clone());
    Ok(Reply::ok(json!({
        "ok": true,
        "id": id,
        "state": "pending",
        "examples_passed": evaluated.examples_passed,
        "report": evaluated.report,
    })))
}

/// An error with its sources, `a: b: c`.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

//! The HTTP API: routing, the agent endpoints (bearer `wk_` token) and the operator endpoints
//! (operator socket only). Every request ends with an audit row that is durable before the reply.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use ward_store::{AgentToken, AuditAction, AuditEvent, NewToken, Outcome, TokenCheck, UsageDelta};

use crate::Ctx;
use crate::config::Socket;

/// A reply: status and JSON body.
pub(crate) struct Reply {
    status: StatusCode,
    body: Value,
}

impl Reply {
    pub(crate) fn new(status: StatusCode, body: Value) -> Reply {
        Reply { status, body }
    }

    fn ok(body: Value) -> Reply {
        Reply {
            status: StatusCode::OK,
            body,
        }
    }

    fn error(status: StatusCode, kind: &str, message: impl Into<String>) -> Reply {
        Reply {
            status,
            body: json!({ "ok": false, "error": { "kind": kind, "message": message.into() } }),
        }
    }
}

/// What the request's audit row will say.
struct Record {
    event: AuditEvent,
    usage: Vec<UsageDelta>,
    /// Rows written with the request's own: requests a paper-mode plugin held back.
    extra: Vec<AuditEvent>,
}

impl Record {
    fn deny(&mut self, reason: &'static str) {
        self.event.action = if self.event.action == AuditAction::Run {
            AuditAction::Deny
        } else {
            self.event.action
        };
        self.event.outcome = Outcome::Denied;
        self.event.detail.reason = Some(reason);
    }
}

/// A denial: refuses the request with a typed error and records the reason.
fn denied(
    rec: &mut Record,
    status: StatusCode,
    reason: &'static str,
    message: impl Into<String>,
) -> Reply {
    rec.deny(reason);
    Reply::error(status, reason, message)
}

/// Serves one request and writes its audit row before answering.
pub(crate) async fn handle(
    ctx: Arc<Ctx>,
    socket: Socket,
    uid: u32,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let mut event = AuditEvent::new(AuditAction::ApiRequest);
    event.actor = Some(format!("{}:uid:{uid}", socket.as_str()));
    let mut rec = Record {
        event,
        usage: Vec::new(),
        extra: Vec::new(),
    };
    let reply = match socket {
        Socket::Agent => agent(&ctx, req, &mut rec).await,
        Socket::Operator => operator(&ctx, req, &mut rec).await,
    };
    ctx.stats
        .requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let body = reply.body.to_string();
    rec.event.detail.bytes_out = Some(body.len() as u64);
    rec.event.detail.duration_ms =
        Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
    let mut events = vec![rec.event];
    events.append(&mut rec.extra);
    if let Err(e) = ctx.audit.record(events, rec.usage).await {
        tracing::error!("request refused: the audit log cannot be written: {e}");
        let r = Reply::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "audit-unavailable",
            "the audit log cannot be written; the request was refused",
        );
        return response(r.status, r.body.to_string());
    }
    response(reply.status, body)
}

fn response(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// Paths that exist only on the operator socket.
fn is_operator_path(seg: &[&str]) -> bool {
    matches!(
        seg,
        ["v1", "status"]
            | ["v1", "tokens", ..]
            | ["v1", "confirmations"]
            | ["v1", "confirmations", _, "approve" | "deny"]
            | ["v1", "audit", ..]
            | ["v1", "plugins", ..]
            | ["v1", "proposals", ..]
    )
}

/// Reads the body under the size cap and the body timeout.
async fn read_body(ctx: &Ctx, req: Request<Incoming>, rec: &mut Record) -> Result<Bytes, Reply> {
    let max = ctx.config.limits.max_body_bytes;
    if let Some(len) = req.headers().get(CONTENT_LENGTH)
        && len
            .to_str()
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .is_none_or(|n| n > max as u64)
    {
        return Err(denied(
            rec,
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            format!("the request body is larger than {max} bytes"),
        ));
    }
    let collect = Limited::new(req.into_body(), max).collect();
    match tokio::time::timeout(ctx.config.limits.body_read_timeout, collect).await {
        Err(_) => Err(denied(
            rec,
            StatusCode::REQUEST_TIMEOUT,
            "body-timeout",
            "the request body did not arrive in time",
        )),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(denied(
            rec,
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            format!("the request body is larger than {max} bytes"),
        )),
        Ok(Err(_)) => Err(denied(
            rec,
            StatusCode::BAD_REQUEST,
            "body-truncated",
            "the request body ended before its announced length",
        )),
        Ok(Ok(c)) => Ok(c.to_bytes()),
    }
}

fn parse_json<T: for<'de> Deserialize<'de>>(body: &[u8], rec: &mut Record) -> Result<T, Reply> {
    serde_json::from_slice(body).map_err(|e| {
        denied(
            rec,
            StatusCode::BAD_REQUEST,
            "invalid-json",
            format!("the request body is not the expected JSON: {e}"),
        )
    })
}

// ---------------------------------------------------------------- agent socket

async fn agent(ctx: &Arc<Ctx>, req: Request<Incoming>, rec: &mut Record) -> Reply {
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
            return denied(
                rec,
                StatusCode::FORBIDDEN,
                "operator-only",
                "this verb exists only on the operator socket",
            );
        }
        (_, ["v1", "run" | "commands"] | ["v1", "confirmations", _]) => {
            return denied(
                rec,
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                format!("{method} is not allowed on {path}"),
            );
        }
        _ => {
            return denied(rec, StatusCode::NOT_FOUND, "not-found", "no such endpoint");
        }
    };
    rec.event.detail.endpoint = Some(endpoint);
    let token = match authenticate(ctx, &req, rec) {
        Ok(t) => t,
        Err(r) => return r,
    };
    rec.event.detail.token = Some(token.id.clone());
    match endpoint {
        "run" => {
            rec.event.action = AuditAction::Run;
            let body = match read_body(ctx, req, rec).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            run(ctx, &token, &body, rec).await
        }
        "commands" => commands(ctx, &token, rec),
        "propose" => {
            let body = match read_body(ctx, req, rec).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            propose(ctx, &token, &body, rec).await
        }
        _ => {
            let id = seg.get(2).copied().unwrap_or_default();
            poll(ctx, &token, id, rec)
        }
    }
}

fn authenticate(ctx: &Ctx, req: &Request<Incoming>, rec: &mut Record) -> Result<AgentToken, Reply> {
    let Some(value) = req.headers().get(AUTHORIZATION) else {
        return Err(denied(
            rec,
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
        Ok(TokenCheck::Unknown) => Err(denied(
            rec,
            StatusCode::UNAUTHORIZED,
            "token-invalid",
            "the agent token is not valid",
        )),
        Ok(TokenCheck::Revoked(t)) => {
            rec.event.detail.token = Some(t.id);
            Err(denied(
                rec,
                StatusCode::FORBIDDEN,
                "token-revoked",
                "the agent token was revoked",
            ))
        }
        Ok(TokenCheck::Expired(t)) => {
            rec.event.detail.token = Some(t.id);
            Err(denied(
                rec,
                StatusCode::FORBIDDEN,
                "token-expired",
                "the agent token has expired",
            ))
        }
        Err(e) => {
            tracing::error!("token check failed: {e}");
            Err(denied(
                rec,
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

/// The current operator policy, re-read when `policy.toml` changed; a policy that became invalid
/// refuses every call until it is fixed (fail closed).
fn current_policy(ctx: &Ctx, rec: &mut Record) -> Result<Arc<ward_home::OperatorPolicy>, Reply> {
    match ctx.policy.current() {
        Ok((policy, changed)) => {
            if changed {
                crate::reauthorize(ctx, &policy);
            }
            Ok(policy)
        }
        Err(e) => {
            tracing::error!("the policy file cannot be used: {e}");
            rec.event.outcome = Outcome::Error;
            rec.event.detail.reason = Some("policy-invalid");
            Err(Reply::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "policy-invalid",
                "the operator's policy.toml cannot be used; every call is refused until it is fixed",
            ))
        }
    }
}

/// Runs `request` through the call pipeline with `gates`, records the outcome's rows with the
/// request's (who asked, through what) and answers.
async fn run_call<G: ward_call::Gates>(
    ctx: &Arc<Ctx>,
    request: ward_call::CallRequest,
    gates: &mut G,
    rec: &mut Record,
    raw_streams: bool,
) -> Reply {
    let policy = match current_policy(ctx, rec) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let pipeline = crate::call::pipeline(ctx, &policy);
    let mut finished = pipeline.run(&ctx.stores, gates, &request).await;
    if let Some(loaded) = &finished.loaded {
        ctx.stats
            .loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(loaded.prepared.name.clone(), loaded.prepared.digest.clone());
    }
    if let Err(f) = &finished.outcome
        && f.is_host_error()
    {
        tracing::error!("cannot serve {}: {}", request.plugin, ward_call::chain(f));
    }
    let reply = crate::call::reply(&finished, raw_streams);
    finished.stamp(rec.event.actor.clone(), rec.event.detail.token.clone());
    finished.event.detail.endpoint = rec.event.detail.endpoint;
    rec.event = finished.event;
    rec.extra = finished.extra;
    rec.usage = finished.usage;
    reply
}

async fn run(ctx: &Arc<Ctx>, token: &AgentToken, body: &[u8], rec: &mut Record) -> Reply {
    let req: RunRequest = match parse_json(body, rec) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let request = ward_call::CallRequest {
        plugin: req.plugin,
        command: req.command,
        input: ward_call::Input::Json(req.args),
    };
    let mut gates = crate::call::AgentGates::new(ctx, token, &request.plugin);
    run_call(ctx, request, &mut gates, rec, false).await
}

fn commands(ctx: &Ctx, token: &AgentToken, rec: &mut Record) -> Reply {
    rec.event.plugin = Some(token.plugin.clone());
    let policy = match current_policy(ctx, rec) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let pipeline = crate::call::pipeline(ctx, &policy);
    let loaded = match ctx.stores.with(|s| pipeline.load(s, &token.plugin)) {
        Ok(l) => l,
        Err((f, digest)) => {
            rec.event.digest = digest;
            rec.deny(f.kind());
            let status = crate::call::status_of(&f);
            return Reply::new(status, json!({ "ok": false, "error": f.error_object() }));
        }
    };
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
    Reply::ok(json!({ "ok": true, "commands": list }))
}

fn poll(ctx: &Ctx, token: &AgentToken, id: &str, rec: &mut Record) -> Reply {
    let found = ctx.stores.with(|s| s.confirmation_get(id));
    match found {
        Ok(Some(c)) if c.token == token.id => {
            rec.event.plugin = Some(c.plugin.clone());
            rec.event.detail.confirmation = Some(c.id.clone());
            Reply::ok(json!({
                "ok": true,
                "confirmation": { "id": c.id, "state": c.state, "summary": c.summary, "expires": c.expires },
            }))
        }
        // Another token's confirmation is indistinguishable from a missing one.
        Ok(_) => denied(
            rec,
            StatusCode::NOT_FOUND,
            "not-found",
            "no such confirmation",
        ),
        Err(e) => {
            tracing::error!("cannot read confirmations: {e}");
            denied(
                rec,
                StatusCode::INTERNAL_SERVER_ERROR,
                "store-error",
                "confirmations cannot be read",
            )
        }
    }
}

// ---------------------------------------------------------------- operator socket

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

async fn operator(ctx: &Arc<Ctx>, req: Request<Incoming>, rec: &mut Record) -> Reply {
    // An agent token is never accepted here, whatever the path.
    if req.headers().contains_key(AUTHORIZATION) {
        rec.event.detail.endpoint = Some("operator-verb");
        return denied(
            rec,
            StatusCode::FORBIDDEN,
            "agent-token-refused",
            "agent tokens are not accepted on the operator socket",
        );
    }
    let path = req.uri().path().to_owned();
    let seg = segments(&path);
    let method = req.method().clone();
    match (&method, seg.as_slice()) {
        (&Method::GET, ["v1", "status"]) => {
            rec.event.detail.endpoint = Some("status");
            Reply::ok(status(ctx))
        }
        (&Method::GET, ["v1", "proposals"]) => {
            rec.event.detail.endpoint = Some("proposals");
            match ctx.stores.with(|s| s.proposal_list()) {
                Ok(list) => Reply::ok(json!({ "ok": true, "proposals": list })),
                Err(e) => store_error(rec, e),
            }
        }
        (&Method::GET, ["v1", "proposals", id]) => {
            rec.event.detail.endpoint = Some("proposal");
            match ctx.stores.with(|s| s.proposal_get(id)) {
                Ok(p) => Reply::ok(json!({ "ok": true, "proposal": p })),
                Err(e @ ward_store::StoreError::UnknownProposal(_)) => {
                    denied(rec, StatusCode::NOT_FOUND, "not-found", e.to_string())
                }
                Err(e) => store_error(rec, e),
            }
        }
        (&Method::POST, ["v1", "proposals", id, "reject"]) => {
            rec.event.detail.endpoint = Some("proposal-reject");
            let body = match read_body(ctx, req, rec).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            let r: RejectRequest = if body.is_empty() {
                RejectRequest::default()
            } else {
                match parse_json(&body, rec) {
                    Ok(r) => r,
                    Err(reply) => return reply,
                }
            };
            match ctx.stores.with_writer(|s| {
                s.proposal_decide(id, ward_store::ProposalState::Rejected, r.reason.as_deref())
            }) {
                Ok(()) => Reply::ok(json!({ "ok": true, "state": "rejected" })),
                Err(e @ ward_store::StoreError::UnknownProposal(_)) => {
                    denied(rec, StatusCode::NOT_FOUND, "not-found", e.to_string())
                }
                Err(e @ ward_store::StoreError::ProposalDecided { .. }) => {
                    denied(rec, StatusCode::CONFLICT, "not-pending", e.to_string())
                }
                Err(e) => denied(
                    rec,
                    StatusCode::BAD_REQUEST,
                    "invalid-request",
                    e.to_string(),
                ),
            }
        }
        (&Method::POST, ["v1", "proposals", _, "approve"]) => {
            rec.event.detail.endpoint = Some("proposal-approve");
            Reply::error(
                StatusCode::NOT_IMPLEMENTED,
                "approve-with-the-cli",
                "approve with `ward proposals approve ID`: it signs with the operator's local key, whose passphrase the daemon never holds",
            )
        }
        (&Method::POST, ["v1", "plugins", name, "run"]) => {
            rec.event.detail.endpoint = Some("operator-run");
            let name = (*name).to_owned();
            let body = match read_body(ctx, req, rec).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            operator_run(ctx, &name, &body, rec).await
        }
        (&Method::GET, ["v1", "tokens"]) => {
            rec.event.detail.endpoint = Some("token-list");
            match ctx.stores.with(|s| s.token_list()) {
                Ok(list) => Reply::ok(json!({ "ok": true, "tokens": list })),
                Err(e) => store_error(rec, e),
            }
        }
        (&Method::POST, ["v1", "tokens"]) => {
            rec.event.detail.endpoint = Some("token-create");
            let body = match read_body(ctx, req, rec).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            let t: TokenRequest = match parse_json(&body, rec) {
                Ok(t) => t,
                Err(r) => return r,
            };
            let spec = match new_token(
                &t.plugin,
                t.command.as_deref(),
                t.rate.as_deref(),
                t.daily_calls,
                t.daily_cpu.as_deref(),
                t.expires.as_deref(),
            ) {
                Ok(s) => s,
                Err(e) => {
                    return denied(
                        rec,
                        StatusCode::BAD_REQUEST,
                        "invalid-request",
                        e.to_string(),
                    );
                }
            };
            match ctx.stores.with_writer(|s| s.token_create(&spec)) {
                Ok(issued) => {
                    rec.event.plugin = Some(issued.row.plugin.clone());
                    rec.event.detail.token = Some(issued.row.id.clone());
                    Reply::ok(json!({ "ok": true, "token": issued.token, "row": issued.row }))
                }
                Err(e) => denied(
                    rec,
                    StatusCode::BAD_REQUEST,
                    "invalid-request",
                    e.to_string(),
                ),
            }
        }
        (&Method::POST, ["v1", "tokens", id, "revoke"]) => {
            rec.event.detail.endpoint = Some("token-revoke");
            match ctx.stores.with_writer(|s| s.token_revoke(id)) {
                Ok(()) => {
                    rec.event.detail.token =
                        Some((*id).to_owned()).filter(|i| ward_call::printable_ident(i));
                    Reply::ok(json!({ "ok": true }))
                }
                Err(e) => denied(rec, StatusCode::NOT_FOUND, "unknown-token", e.to_string()),
            }
        }
        (&Method::GET, ["v1", "confirmations"]) => {
            rec.event.detail.endpoint = Some("confirm-list");
            match ctx.stores.with(|s| s.confirmation_list(false)) {
                Ok(list) => Reply::ok(json!({ "ok": true, "confirmations": list })),
                Err(e) => store_error(rec, e),
            }
        }
        (&Method::POST, ["v1", "confirmations", id, verb @ ("approve" | "deny")]) => {
            let approve = *verb == "approve";
            rec.event.detail.endpoint = Some(if approve {
                "confirm-approve"
            } else {
                "confirm-deny"
            });
            match ctx
                .stores
                .with_writer(|s| s.confirmation_decide(id, approve))
            {
                Ok(c) => {
                    rec.event.plugin = Some(c.plugin.clone());
                    rec.event.detail.confirmation = Some(c.id.clone());
                    Reply::ok(json!({ "ok": true, "confirmation": c }))
                }
                Err(e @ ward_store::StoreError::UnknownConfirmation(_)) => {
                    denied(rec, StatusCode::NOT_FOUND, "not-found", e.to_string())
                }
                Err(e @ ward_store::StoreError::ConfirmationNotPending { .. }) => {
                    denied(rec, StatusCode::CONFLICT, "not-pending", e.to_string())
                }
                Err(e) => store_error(rec, e),
            }
        }
        (_, ["v1", "run" | "commands"] | ["v1", "confirmations", _]) => {
            rec.event.detail.endpoint = Some("agent-verb");
            denied(
                rec,
                StatusCode::FORBIDDEN,
                "agent-only",
                "this endpoint exists only on the agent socket",
            )
        }
        _ => denied(rec, StatusCode::NOT_FOUND, "not-found", "no such endpoint"),
    }
}

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
async fn operator_run(ctx: &Arc<Ctx>, name: &str, body: &[u8], rec: &mut Record) -> Reply {
    let req: OperatorRunRequest = match parse_json(body, rec) {
        Ok(r) => r,
        Err(r) => return r,
    };
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

/// The body of `POST /v1/proposals/{id}/reject` (operator socket).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RejectRequest {
    reason: Option<String>,
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
async fn propose(ctx: &Arc<Ctx>, token: &AgentToken, body: &[u8], rec: &mut Record) -> Reply {
    use base64::Engine as _;
    rec.event.action = AuditAction::Propose;
    let req: ProposeRequest = match parse_json(body, rec) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let component = match base64::engine::general_purpose::STANDARD.decode(&req.component_base64) {
        Ok(c) => c,
        Err(_) => {
            return denied(
                rec,
                StatusCode::BAD_REQUEST,
                "invalid-request",
                "component_base64 is not base64",
            );
        }
    };
    if let Some(examples) = &req.examples
        && let Err(e) = examples.check()
    {
        return denied(
            rec,
            StatusCode::BAD_REQUEST,
            "examples-invalid",
            e.to_string(),
        );
    }
    let submission = ward_propose::Submission {
        component,
        examples: req.examples,
        source: req.source,
    };
    let name = ward_propose::peek_name(&submission.component).ok();
    rec.event.plugin = name.clone();
    let (installed, previous) = match &name {
        Some(n) => match ctx.stores.with(|s| {
            Ok::<_, ward_propose::ProposeError>((
                ward_propose::installed(s, n)?,
                ward_propose::previous_source(s, n)?,
            ))
        }) {
            Ok(found) => found,
            Err(e) => {
                return denied(
                    rec,
                    StatusCode::BAD_REQUEST,
                    "invalid-request",
                    e.to_string(),
                );
            }
        },
        None => (None, None),
    };
    let evaluated = match ward_propose::evaluate(
        &ctx.runtime,
        &submission,
        installed.as_ref(),
        previous.as_ref(),
    )
    .await
    {
        Ok(e) => e,
        Err(err) => {
            let reason = err.reason();
            let message = format!("proposal refused, nothing recorded: {}", error_chain(&err));
            return denied(rec, StatusCode::UNPROCESSABLE_ENTITY, reason, message);
        }
    };
    rec.event.digest = Some(evaluated.digest.clone());
    let submitter = format!("agent:{}", token.id);
    match ctx
        .stores
        .with_writer(|s| ward_propose::record(s, &evaluated, &submission, &submitter))
    {
        Ok(id) => {
            rec.event.detail.proposal = Some(id.clone());
            Reply::ok(json!({
                "ok": true,
                "id": id,
                "state": "pending",
                "examples_passed": evaluated.examples_passed,
                "report": evaluated.report,
            }))
        }
        Err(e) => denied(
            rec,
            StatusCode::BAD_REQUEST,
            "invalid-request",
            e.to_string(),
        ),
    }
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

fn store_error(rec: &mut Record, e: ward_store::StoreError) -> Reply {
    tracing::error!("store error: {e}");
    rec.event.outcome = Outcome::Error;
    rec.event.detail.reason = Some("store-error");
    Reply::error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "store-error",
        "the store failed; see the daemon's log",
    )
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_paths_table() {
        for p in [
            "/v1/status",
            "/v1/tokens",
            "/v1/tokens/tk_1/revoke",
            "/v1/confirmations",
            "/v1/confirmations/cf_1/approve",
            "/v1/confirmations/cf_1/deny",
        ] {
            assert!(is_operator_path(&segments(p)), "{p}");
        }
        for p in ["/v1/run", "/v1/commands", "/v1/confirmations/cf_1"] {
            assert!(!is_operator_path(&segments(p)), "{p}");
        }
    }
}

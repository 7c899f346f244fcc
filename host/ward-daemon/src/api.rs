//! The HTTP API: routing, the agent endpoints (bearer `wk_` token) and the operator endpoints
//! (operator socket only). Every request ends with an audit row that is durable before the reply.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use ward_store::{
    AgentToken, AuditAction, AuditEvent, ConfirmState, NewConfirmation, NewToken, Outcome,
    TokenCheck, UsageDelta,
};

use crate::Ctx;
use crate::config::Socket;
use crate::gates::{DailyCap, Refusal};

/// Longest argument value shown in a confirmation summary, in bytes.
///
/// Threat: a huge argument pushing the rest of the summary out of the operator's sight.
const MAX_SUMMARY_ARG_BYTES: usize = 48;

/// A reply: status and JSON body.
pub(crate) struct Reply {
    status: StatusCode,
    body: Value,
}

impl Reply {
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

/// The prepared, loaded plugin a request is about.
pub(crate) struct Loaded {
    prepared: ward_call::Prepared,
    plugin: Arc<ward_runtime::Plugin>,
}

/// What a cached [`Loaded`] was prepared from: the registry generation read before preparing it.
/// It is reused only while the generation is unchanged, i.e. while no version, enablement or grant
/// of any plugin changed since (`Store::registry_generation`).
pub(crate) struct CacheKey {
    generation: u64,
}

fn load(ctx: &Ctx, name: &str, rec: &mut Record) -> Result<Arc<Loaded>, Reply> {
    rec.event.plugin = Some(name.to_owned());
    // Reuse what `ward_call::prepare` produced while the registry is unchanged. The generation is
    // read before preparing, so a change racing with it only makes the entry stale sooner.
    // Plugins with secrets or in paper mode are prepared afresh on every call.
    let generation = ctx.stores.with(|s| s.registry_generation()).ok();
    if let Some(generation) = generation {
        let cache = ctx.prepared.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((k, loaded)) = cache.get(name)
            && k.generation == generation
        {
            rec.event.digest = Some(loaded.prepared.digest.clone());
            return Ok(loaded.clone());
        }
    }
    let prepared = ctx
        .stores
        .with(|s| ward_call::prepare(&ctx.home, &ctx.policy, s, name));
    let prepared = match prepared {
        Ok(p) => p,
        Err(e) => {
            ctx.prepared
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(name);
            if let Some((reason, digest)) = e.audit_denial() {
                rec.event.digest = Some(digest.to_owned());
                return Err(denied(rec, StatusCode::FORBIDDEN, reason, e.to_string()));
            }
            return Err(match e {
                ward_call::ExecError::NotInstalled { .. } => {
                    denied(rec, StatusCode::NOT_FOUND, "not-installed", e.to_string())
                }
                other => {
                    tracing::error!("cannot prepare {name}: {other}");
                    rec.event.outcome = Outcome::Error;
                    rec.event.detail.reason = Some("prepare-failed");
                    Reply::error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "prepare-failed",
                        "the plugin cannot be prepared; see the daemon's log",
                    )
                }
            });
        }
    };
    rec.event.digest = Some(prepared.digest.clone());
    let plugin = match ctx.runtime.load(name, &prepared.component) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("cannot load {name}: {e}");
            rec.event.outcome = Outcome::Error;
            rec.event.detail.reason = Some("load-failed");
            return Err(Reply::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "load-failed",
                "the plugin cannot be loaded; see the daemon's log",
            ));
        }
    };
    ctx.stats
        .loaded
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(name.to_owned(), prepared.digest.clone());
    // A paper-mode plugin is prepared per call, so that each call's record of held-back
    // requests is its own.
    let cacheable = prepared.manifest.capabilities.secrets.is_empty() && prepared.paper.is_none();
    let loaded = Arc::new(Loaded { prepared, plugin });
    if let (true, Some(generation)) = (cacheable, generation) {
        ctx.prepared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), (CacheKey { generation }, loaded.clone()));
    }
    Ok(loaded)
}

fn needs_confirm(ctx: &Ctx, loaded: &Loaded, name: &str, command: &str) -> bool {
    loaded
        .prepared
        .manifest
        .commands
        .get(command)
        .is_some_and(|c| c.confirm)
        || ctx
            .config
            .plugins
            .get(name)
            .is_some_and(|g| g.confirm.iter().any(|c| c == command))
}

/// JSON with object keys sorted at every level, so equal values hash equally.
fn canonical(v: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let mut out = serde_json::Map::new();
                for k in keys {
                    out.insert(k.clone(), sorted(&m[k]));
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    // serde_json keeps insertion order only with `preserve_order`; either way the keys were
    // inserted sorted.
    sorted(v).to_string()
}

/// SHA-256 of the exact action: token, plugin, digest, command and arguments.
fn action_hash(token: &str, plugin: &str, digest: &str, command: &str, args: &Value) -> String {
    use sha2::Digest as _;
    let text = canonical(&json!({
        "token": token, "plugin": plugin, "digest": digest, "command": command, "args": args,
    }));
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// A short, sanitized form of each argument: `name=value`.
pub(crate) fn arg_parts(args: &Value) -> Vec<String> {
    let mut parts = Vec::new();
    match args {
        Value::Object(m) => {
            for (k, v) in m {
                parts.push(format!(
                    "{k}={}",
                    ward_policy::text::sanitize_line(&v.to_string(), MAX_SUMMARY_ARG_BYTES)
                ));
            }
        }
        Value::Null => {}
        other => parts.push(ward_policy::text::sanitize_line(
            &other.to_string(),
            MAX_SUMMARY_ARG_BYTES,
        )),
    }
    parts
}

/// One sanitized line: plugin, command, a short form of each argument, capabilities in play.
fn summary(name: &str, command: &str, args: &Value, manifest: &ward_manifest::Manifest) -> String {
    let parts = arg_parts(args);
    let caps: Vec<String> = manifest
        .capability_kinds()
        .iter()
        .filter_map(|c| serde_json::to_value(c).ok())
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let caps = if caps.is_empty() {
        "none".to_owned()
    } else {
        caps.join(", ")
    };
    let line = format!(
        "{name} {command}({}) capabilities: {caps}",
        parts.join(", ")
    );
    ward_policy::text::sanitize_line(&line, ward_store::MAX_SUMMARY_BYTES - 4)
}

async fn run(ctx: &Arc<Ctx>, token: &AgentToken, body: &[u8], rec: &mut Record) -> Reply {
    let req: RunRequest = match parse_json(body, rec) {
        Ok(r) => r,
        Err(r) => return r,
    };
    rec.event.plugin = Some(req.plugin.clone()).filter(|p| ward_store_ident_ok(p));
    rec.event.detail.command = Some(req.command.clone()).filter(|c| ward_store_ident_ok(c));
    // Scope: the token names one plugin and optionally one command.
    if req.plugin != token.plugin || token.command.as_ref().is_some_and(|c| *c != req.command) {
        return denied(
            rec,
            StatusCode::FORBIDDEN,
            "out-of-scope",
            "the agent token does not allow this plugin or command",
        );
    }
    let gate = ctx
        .config
        .plugins
        .get(&req.plugin)
        .cloned()
        .unwrap_or_default();
    let token_scope = format!("token:{}", token.id);
    let plugin_scope = format!("plugin:{}", req.plugin);
    // Rate limits.
    let mut rates = Vec::new();
    if let (Some(count), Some(secs)) = (token.rate_count, token.rate_per_secs) {
        rates.push((
            token_scope.as_str(),
            ward_policy::Rate {
                count,
                per: Duration::from_secs(secs),
            },
            Refusal::TokenRate,
        ));
    }
    if let Some(r) = gate.rate {
        rates.push((plugin_scope.as_str(), r, Refusal::PluginRate));
    }
    if let Err(refusal) = ctx.gates.take_rate(&rates) {
        return denied(
            rec,
            StatusCode::TOO_MANY_REQUESTS,
            refusal.code(),
            refusal.message(),
        );
    }
    let loaded = match load(ctx, &req.plugin, rec) {
        Ok(l) => l,
        Err(r) => return r,
    };
    let command = match loaded.plugin.command(&req.command) {
        Ok(c) => c.clone(),
        Err(e) => {
            return denied(
                rec,
                StatusCode::BAD_REQUEST,
                "unknown-command",
                e.to_string(),
            );
        }
    };
    if command.kind == ward_runtime::CommandKind::Func
        && let Err(e) = ward_values::args_from_json(&command, &req.args)
    {
        return denied(
            rec,
            StatusCode::BAD_REQUEST,
            "invalid-arguments",
            e.to_string(),
        );
    }
    // Confirmation gate.
    if needs_confirm(ctx, &loaded, &req.plugin, &req.command) {
        let hash = action_hash(
            &token.id,
            &req.plugin,
            &loaded.prepared.digest,
            &req.command,
            &req.args,
        );
        match confirm_gate(ctx, token, &req, &loaded, &hash, rec) {
            Ok(()) => {}
            Err(r) => return r,
        }
    }
    // Daily caps (the call is counted from here on, whatever its outcome).
    let day = ward_store::utc_day();
    let caps = [
        DailyCap {
            scope: &token_scope,
            calls: token.daily_calls,
            cpu_ms: token.daily_cpu_ms,
            calls_refusal: Refusal::TokenDailyCalls,
            cpu_refusal: Refusal::TokenDailyCpu,
        },
        DailyCap {
            scope: &plugin_scope,
            calls: gate.daily_calls,
            cpu_ms: gate.daily_cpu_ms,
            calls_refusal: Refusal::PluginDailyCalls,
            cpu_refusal: Refusal::PluginDailyCpu,
        },
    ];
    let admitted = ctx.gates.admit_daily(&day, &caps, &mut |scope| {
        ctx.stores.with(|s| s.usage(scope, &day))
    });
    let cpu_left = match admitted {
        Ok(Ok(left)) => left,
        Ok(Err(refusal)) => {
            return denied(
                rec,
                StatusCode::TOO_MANY_REQUESTS,
                refusal.code(),
                refusal.message(),
            );
        }
        Err(e) => {
            tracing::error!("cannot read usage counters: {e}");
            return denied(
                rec,
                StatusCode::INTERNAL_SERVER_ERROR,
                "store-error",
                "the usage counters cannot be read",
            );
        }
    };
    // Concurrency caps.
    let mut conc = vec![(
        token_scope.as_str(),
        ctx.config.limits.max_calls_per_token,
        Refusal::TokenConcurrency,
    )];
    if let Some(n) = gate.max_concurrent {
        conc.push((plugin_scope.as_str(), n, Refusal::PluginConcurrency));
    }
    let _slot = match ctx.gates.enter(&conc) {
        Ok(s) => s,
        Err(refusal) => {
            return denied(
                rec,
                StatusCode::TOO_MANY_REQUESTS,
                refusal.code(),
                refusal.message(),
            );
        }
    };
    let Ok(_permit) = ctx.calls.acquire().await else {
        return denied(
            rec,
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting-down",
            "the daemon is shutting down",
        );
    };
    let mut limits = loaded.prepared.limits.clone();
    if let Some(left) = cpu_left {
        limits.timeout = limits.timeout.min(left.max(Duration::from_millis(1)));
    }
    ctx.stats
        .in_flight
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // Mid-run confirmations are bound to this exact action.
    let mut grants = loaded.prepared.grants.clone();
    let confirm = loaded.prepared.confirm.then(|| {
        Arc::new(crate::confirm::MidRunConfirm::new(
            ctx.clone(),
            &token.id,
            &req.plugin,
            &req.command,
            action_hash(
                &token.id,
                &req.plugin,
                &loaded.prepared.digest,
                &req.command,
                &req.args,
            ),
            crate::confirm::call_line(&req.plugin, &req.command, &req.args),
        ))
    });
    grants.confirm = confirm
        .clone()
        .map(|c| c as Arc<dyn ward_runtime::ConfirmHook>);
    let call_started = Instant::now();
    let outcome = ctx
        .runtime
        .call(&loaded.plugin, &req.command, &req.args, &limits, &grants)
        .await;
    if let Some(used) = confirm.as_ref().and_then(|c| c.used()) {
        rec.event.detail.confirmation = Some(used);
    }
    ctx.stats
        .in_flight
        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    paper_rows(&loaded, Some(&token.id), rec);
    let (cpu_ms, fuel) = match &outcome {
        // Call time counts in whole milliseconds, rounded up: every call costs at least one.
        Ok(out) => (
            u64::try_from(out.duration.as_micros().div_ceil(1000)).unwrap_or(u64::MAX),
            out.fuel_consumed,
        ),
        Err(_) => (
            u64::try_from(call_started.elapsed().as_micros().div_ceil(1000)).unwrap_or(u64::MAX),
            0,
        ),
    };
    ctx.gates
        .add_usage(&day, &[&token_scope, &plugin_scope], cpu_ms, fuel);
    for scope in [&token_scope, &plugin_scope] {
        rec.usage.push(UsageDelta {
            scope: scope.clone(),
            day: day.clone(),
            usage: ward_store::Usage {
                calls: 1,
                cpu_ms,
                fuel,
            },
        });
    }
    call_reply(outcome, rec, false)
}

/// The audit rows of the requests a paper-mode call held back: method and origin only.
fn paper_rows(loaded: &Loaded, token: Option<&str>, rec: &mut Record) {
    if let Some(paper) = &loaded.prepared.paper {
        for held in paper.take() {
            let mut ev = AuditEvent::new(AuditAction::PaperRequest);
            ev.actor = rec.event.actor.clone();
            ev.plugin = Some(loaded.prepared.name.clone());
            ev.digest = Some(loaded.prepared.digest.clone());
            ev.outcome = Outcome::Denied;
            ev.detail.reason = Some("paper-mode");
            ev.detail.token = token.map(str::to_owned);
            ev.detail.method = Some(held.method);
            ev.detail.origin = Some(held.origin);
            rec.extra.push(ev);
        }
    }
}

/// The reply to a finished call, and its audit fields. `raw_streams` adds the guest's stdout and
/// stderr as base64 (exact bytes) next to their text form.
fn call_reply(
    outcome: Result<ward_runtime::CallOutput, ward_runtime::CallError>,
    rec: &mut Record,
    raw_streams: bool,
) -> Reply {
    match outcome {
        Ok(out) => {
            rec.event.detail.fuel = Some(out.fuel_consumed);
            if out.is_err {
                rec.event.outcome = Outcome::Error;
                rec.event.detail.reason = Some("error-result");
            }
            let mut body = json!({
                "ok": !out.is_err,
                "result": out.result,
                "fuel": out.fuel_consumed,
                "duration_ms": out.duration.as_secs_f64() * 1000.0,
            });
            if !out.stdout.is_empty() {
                body["stdout"] = json!(String::from_utf8_lossy(&out.stdout));
            }
            if !out.stderr.is_empty() {
                body["stderr"] = json!(String::from_utf8_lossy(&out.stderr));
            }
            if raw_streams {
                use base64::Engine as _;
                let b64 = base64::engine::general_purpose::STANDARD;
                body["stdout_base64"] = json!(b64.encode(&out.stdout));
                body["stderr_base64"] = json!(b64.encode(&out.stderr));
            }
            Reply::ok(body)
        }
        Err(ward_runtime::CallError::ConfirmPending(p)) => {
            rec.event.detail.confirmation = Some(p.id.clone());
            pending_body(&p.id, ConfirmState::Pending, &p.summary, &p.expires, rec)
        }
        Err(err) => {
            use ward_runtime::CallError;
            let kind = match &err {
                CallError::UnknownCommand { .. } => "unknown-command",
                CallError::Unsupported { .. } => "unsupported",
                CallError::Args(_) | CallError::CliArgs(_) => "invalid-arguments",
                CallError::Limit(_) => "limit",
                CallError::Trap { .. } => "trap",
                CallError::Exit { .. } => "exit",
                CallError::Instantiate(_) => "instantiate",
                CallError::Grant(_) => "grant",
                CallError::ConfirmPending(_) => "confirmation-pending",
            };
            rec.event.outcome = Outcome::Error;
            rec.event.detail.reason = Some(kind);
            rec.event.detail.limit = err.limit().map(|l| l.name());
            let status = match &err {
                CallError::Args(_) | CallError::CliArgs(_) | CallError::UnknownCommand { .. } => {
                    StatusCode::BAD_REQUEST
                }
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            let mut r = Reply::error(status, kind, err.to_string());
            if let CallError::Limit(l) = &err {
                r.body["error"]["limit"] = json!(l.limit.name());
                if raw_streams {
                    r.body["error"]["value"] = json!(l.value);
                }
            }
            if raw_streams
                && let CallError::Trap { stderr, .. } | CallError::Exit { stderr, .. } = &err
            {
                r.body["error"]["stderr"] = json!(stderr);
            }
            if raw_streams && let CallError::Exit { code, .. } = &err {
                r.body["error"]["code"] = json!(code);
            }
            r
        }
    }
}

fn ward_store_ident_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= ward_store::MAX_NAME_BYTES
        && !s
            .chars()
            .any(|c| c.is_control() || ward_policy::text::is_bidi_control(c))
}

/// Lets the run proceed if an approved confirmation for exactly this action is used now;
/// otherwise answers `pending` (creating the confirmation if none is waiting).
fn confirm_gate(
    ctx: &Ctx,
    token: &AgentToken,
    req: &RunRequest,
    loaded: &Loaded,
    hash: &str,
    rec: &mut Record,
) -> Result<(), Reply> {
    let existing = ctx
        .stores
        .with_writer(|s| s.confirmation_for_action(&token.id, hash));
    let existing = match existing {
        Ok(e) => e,
        Err(e) => {
            tracing::error!("cannot read confirmations: {e}");
            return Err(denied(
                rec,
                StatusCode::INTERNAL_SERVER_ERROR,
                "store-error",
                "confirmations cannot be read",
            ));
        }
    };
    if let Some(c) = &existing {
        match c.state {
            ConfirmState::Approved => {
                let used = ctx.stores.with_writer(|s| s.confirmation_use(&c.id, hash));
                if matches!(used, Ok(true)) {
                    rec.event.detail.confirmation = Some(c.id.clone());
                    return Ok(());
                }
            }
            ConfirmState::Pending => {
                rec.event.detail.confirmation = Some(c.id.clone());
                return Err(pending_reply(c, rec));
            }
            _ => {}
        }
    }
    let created = ctx.stores.with_writer(|s| {
        s.confirmation_create(&NewConfirmation {
            token: token.id.clone(),
            plugin: req.plugin.clone(),
            command: req.command.clone(),
            action_hash: hash.to_owned(),
            summary: summary(
                &req.plugin,
                &req.command,
                &req.args,
                &loaded.prepared.manifest,
            ),
            ttl_secs: ctx.config.limits.confirm_ttl.as_secs(),
        })
    });
    match created {
        Ok(c) => {
            rec.event.detail.confirmation = Some(c.id.clone());
            Err(pending_reply(&c, rec))
        }
        Err(e) => {
            tracing::error!("cannot record a confirmation: {e}");
            Err(denied(
                rec,
                StatusCode::INTERNAL_SERVER_ERROR,
                "store-error",
                "the confirmation cannot be recorded; the call was not run",
            ))
        }
    }
}

fn pending_reply(c: &ward_store::Confirmation, rec: &mut Record) -> Reply {
    pending_body(&c.id, c.state, &c.summary, &c.expires, rec)
}

/// The 202 `pending` reply, for a command-level gate and for a plugin's mid-run ask alike.
fn pending_body(
    id: &str,
    state: ConfirmState,
    summary: &str,
    expires: &str,
    rec: &mut Record,
) -> Reply {
    rec.deny("confirmation-pending");
    Reply {
        status: StatusCode::ACCEPTED,
        body: json!({
            "ok": false,
            "pending": true,
            "confirmation": { "id": id, "state": state, "summary": summary, "expires": expires },
        }),
    }
}

fn commands(ctx: &Ctx, token: &AgentToken, rec: &mut Record) -> Reply {
    let loaded = match load(ctx, &token.plugin, rec) {
        Ok(l) => l,
        Err(r) => return r,
    };
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
                "confirm": needs_confirm(ctx, &loaded, &token.plugin, &c.name),
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
                        Some((*id).to_owned()).filter(|i| ward_store_ident_ok(i));
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
    rec.event.action = AuditAction::Run;
    rec.event.detail.command = Some(req.command.clone()).filter(|c| ward_store_ident_ok(c));
    let loaded = match load(ctx, name, rec) {
        Ok(l) => l,
        Err(r) => return r,
    };
    if loaded.prepared.confirm {
        // Its asks belong on the operator's terminal, which the daemon does not have.
        return denied(
            rec,
            StatusCode::CONFLICT,
            "needs-terminal",
            "this plugin may ask for confirmation while it runs: run it with `ward run --standalone` at a terminal",
        );
    }
    let command = match loaded.plugin.command(&req.command) {
        Ok(c) => c.clone(),
        Err(e) => {
            return denied(
                rec,
                StatusCode::BAD_REQUEST,
                "unknown-command",
                e.to_string(),
            );
        }
    };
    let program = matches!(command.kind, ward_runtime::CommandKind::CliRun { .. });
    let args = match ward_values::call_request(&command, req.args, &req.pairs, &req.argv) {
        Ok(v) => v,
        Err(e) => {
            return denied(
                rec,
                StatusCode::BAD_REQUEST,
                "invalid-arguments",
                e.to_string(),
            );
        }
    };
    let Ok(_permit) = ctx.calls.acquire().await else {
        return denied(
            rec,
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting-down",
            "the daemon is shutting down",
        );
    };
    ctx.stats
        .in_flight
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let outcome = ctx
        .runtime
        .call(
            &loaded.plugin,
            &req.command,
            &args,
            &loaded.prepared.limits,
            &loaded.prepared.grants,
        )
        .await;
    ctx.stats
        .in_flight
        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    paper_rows(&loaded, None, rec);
    let mut reply = call_reply(outcome, rec, true);
    if program && reply.body.get("result").is_some() {
        // Its result is its stdout, printed as it is.
        reply.body["program"] = json!(true);
    }
    reply
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
    fn canonical_sorts_keys_at_every_level() {
        let a: Value =
            serde_json::from_str(r#"{"b":1,"a":{"y":[{"d":1,"c":2}],"x":null}}"#).unwrap();
        let b: Value =
            serde_json::from_str(r#"{"a":{"x":null,"y":[{"c":2,"d":1}]},"b":1}"#).unwrap();
        assert_eq!(canonical(&a), canonical(&b));
        assert_eq!(
            canonical(&a),
            r#"{"a":{"x":null,"y":[{"c":2,"d":1}]},"b":1}"#
        );
        assert_ne!(
            action_hash("t", "p", "d", "c", &json!({"n": 1})),
            action_hash("t", "p", "d", "c", &json!({"n": 2}))
        );
    }

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

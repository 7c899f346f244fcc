//! The HTTP API: routing, the agent endpoints (bearer `wk_` token, [`agent`]) and the operator
//! endpoints (operator socket only, [`operator`]). Every request ends with an audit row that is
//! durable before the reply.
//!
//! Handlers return `Result<Reply, ApiError>`: a refusal or failure is an [`ApiError`], which
//! becomes its reply and marks the request's audit row once, in [`handle`].

mod agent;
mod operator;

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use ward_store::{AuditAction, AuditEvent, Outcome, UsageDelta};

use crate::Ctx;
use crate::config::Socket;

pub use operator::new_token;

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

/// A request that was refused or failed: the reply it gets (`{"ok": false, "error": ...}`) and
/// what its audit row says.
struct ApiError {
    status: StatusCode,
    /// The body's `error` object.
    error: Value,
    audit: Audited,
}

/// How an [`ApiError`] marks the request's audit row.
enum Audited {
    /// A denial with this reason (a run becomes a deny).
    Denied(&'static str),
    /// An error outcome with this reason: the host failed, the caller was not refused.
    Failed(&'static str),
}

impl ApiError {
    /// A denial: refuses the request with a typed error and records the reason.
    fn denied(status: StatusCode, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error: json!({ "kind": reason, "message": message.into() }),
            audit: Audited::Denied(reason),
        }
    }

    /// A host-side failure: answered with `reason` as its kind, recorded as an error.
    fn failed(status: StatusCode, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error: json!({ "kind": reason, "message": message.into() }),
            audit: Audited::Failed(reason),
        }
    }

    /// A call pipeline's refusal before any call: its status and error object, recorded as a
    /// denial with its kind.
    fn refused(f: &ward_call::Failure) -> ApiError {
        ApiError {
            status: crate::call::status_of(f),
            error: f.error_object(),
            audit: Audited::Denied(f.kind()),
        }
    }

    /// The store failed: logged here, answered without its details.
    fn store(e: ward_store::StoreError) -> ApiError {
        tracing::error!("store error: {e}");
        ApiError::failed(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store-error",
            "the store failed; see the daemon's log",
        )
    }

    /// The reply, after marking the request's audit row.
    fn into_reply(self, rec: &mut Record) -> Reply {
        match self.audit {
            Audited::Denied(reason) => rec.deny(reason),
            Audited::Failed(reason) => {
                rec.event.outcome = Outcome::Error;
                rec.event.detail.reason = Some(reason);
            }
        }
        Reply::new(self.status, json!({ "ok": false, "error": self.error }))
    }
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
        Socket::Agent => agent::route(&ctx, req, &mut rec).await,
        Socket::Operator => operator::route(&ctx, req, &mut rec).await,
    };
    let reply = reply.unwrap_or_else(|e| e.into_reply(&mut rec));
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

/// Paths that exist only on the agent socket.
fn is_agent_path(seg: &[&str]) -> bool {
    matches!(seg, ["v1", "run" | "commands"] | ["v1", "confirmations", _])
}

/// Reads the body under the size cap and the body timeout.
async fn read_body(ctx: &Ctx, req: Request<Incoming>) -> Result<Bytes, ApiError> {
    let max = ctx.config.limits.max_body_bytes;
    let too_large = || {
        ApiError::denied(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            format!("the request body is larger than {max} bytes"),
        )
    };
    if let Some(len) = req.headers().get(CONTENT_LENGTH)
        && len
            .to_str()
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .is_none_or(|n| n > max as u64)
    {
        return Err(too_large());
    }
    let collect = Limited::new(req.into_body(), max).collect();
    match tokio::time::timeout(ctx.config.limits.body_read_timeout, collect).await {
        Err(_) => Err(ApiError::denied(
            StatusCode::REQUEST_TIMEOUT,
            "body-timeout",
            "the request body did not arrive in time",
        )),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(_)) => Err(ApiError::denied(
            StatusCode::BAD_REQUEST,
            "body-truncated",
            "the request body ended before its announced length",
        )),
        Ok(Ok(c)) => Ok(c.to_bytes()),
    }
}

fn parse_json<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::denied(
            StatusCode::BAD_REQUEST,
            "invalid-json",
            format!("the request body is not the expected JSON: {e}"),
        )
    })
}

/// The current operator policy, re-read when `policy.toml` changed; a policy that became invalid
/// refuses every call until it is fixed (fail closed).
fn current_policy(ctx: &Ctx) -> Result<Arc<ward_home::OperatorPolicy>, ApiError> {
    match ctx.policy.current() {
        Ok((policy, changed)) => {
            if changed {
                crate::reauthorize(ctx, &policy);
            }
            Ok(policy)
        }
        Err(e) => {
            tracing::error!("the policy file cannot be used: {e}");
            Err(ApiError::failed(
                StatusCode::SERVICE_UNAVAILABLE,
                "policy-invalid",
                "the operator's policy.toml cannot be used; every call is refused until it is fixed",
            ))
        }
    }
}

/// Runs `request` through the call pipeline with `gates`, records the outcome's rows with the
/// request's (who asked, through what) and answers. A call that fails is answered here (the
/// pipeline wrote its audit row), so the `Err` side is only for a policy that cannot be used.
async fn run_call<G: ward_call::Gates>(
    ctx: &Arc<Ctx>,
    request: ward_call::CallRequest,
    gates: &mut G,
    rec: &mut Record,
    raw_streams: bool,
) -> Result<Reply, ApiError> {
    let policy = current_policy(ctx)?;
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
    Ok(reply)
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

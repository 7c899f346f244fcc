//! The daemon's presentation of the call pipeline ([`ward_call::Pipeline`]): the gates of each
//! socket (an agent's token scope, rates, daily caps, concurrency and confirmations; the
//! operator's none but the terminal a plugin's asks need) and the HTTP reply of a finished call.

use std::sync::Arc;
use std::time::Duration;

use hyper::StatusCode;
use serde_json::{Value, json};
use ward_call::{Admission, Admit, Failure, Finish, GateRefusal, Gates, Loaded, Pending};
use ward_runtime::{CallError, CallOutput};
use ward_store::{AgentToken, ConfirmState, NewConfirmation, UsageDelta};

use crate::Ctx;
use crate::gates::{DailyCap, Refusal};

/// The pipeline over the daemon's home, its current policy and runtime, and its warm cache.
pub(crate) fn pipeline<'a>(
    ctx: &'a Ctx,
    policy: &'a ward_home::OperatorPolicy,
) -> ward_call::Pipeline<'a> {
    ward_call::Pipeline {
        home: &ctx.home,
        policy,
        policy_stamp: ctx.policy.stamp(),
        runtime: &ctx.runtime,
        cache: Some(&ctx.loads),
        probe_writable: false,
        max_handles: ctx.max_handles,
    }
}

impl ward_call::StoreAccess for crate::Stores {
    fn read<T>(&self, f: impl FnOnce(&ward_store::Store) -> T) -> T {
        self.with(f)
    }
}

fn denied(r: Refusal) -> GateRefusal {
    GateRefusal::Denied {
        kind: r.code(),
        message: r.message().to_owned(),
    }
}

/// An agent's gates: the token's scope and rate before anything is loaded; confirmation, daily
/// caps and concurrency once the arguments are valid.
pub(crate) struct AgentGates<'a> {
    pub(crate) ctx: &'a Arc<Ctx>,
    pub(crate) token: &'a AgentToken,
    day: String,
    token_scope: String,
    plugin_scope: String,
    confirm: Option<Arc<crate::confirm::MidRunConfirm>>,
}

impl<'a> AgentGates<'a> {
    pub(crate) fn new(ctx: &'a Arc<Ctx>, token: &'a AgentToken, plugin: &str) -> Self {
        AgentGates {
            ctx,
            token,
            day: ward_store::utc_day(),
            token_scope: format!("token:{}", token.id),
            plugin_scope: format!("plugin:{plugin}"),
            confirm: None,
        }
    }

    fn gate(&self, plugin: &str) -> crate::config::PluginGate {
        self.ctx
            .config
            .plugins
            .get(plugin)
            .cloned()
            .unwrap_or_default()
    }
}

impl Gates for AgentGates<'_> {
    fn admit_request(&mut self, plugin: &str, command: &str) -> Result<(), GateRefusal> {
        let token = self.token;
        // Scope: the token names one plugin and optionally one command.
        if plugin != token.plugin || token.command.as_ref().is_some_and(|c| c != command) {
            return Err(GateRefusal::Denied {
                kind: "out-of-scope",
                message: "the agent token does not allow this plugin or command".into(),
            });
        }
        let gate = self.gate(plugin);
        let mut rates = Vec::new();
        if let (Some(count), Some(secs)) = (token.rate_count, token.rate_per_secs) {
            rates.push((
                self.token_scope.as_str(),
                ward_policy::Rate {
                    count,
                    per: Duration::from_secs(secs),
                },
                Refusal::TokenRate,
            ));
        }
        if let Some(r) = gate.rate {
            rates.push((self.plugin_scope.as_str(), r, Refusal::PluginRate));
        }
        self.ctx.gates.take_rate(&rates).map_err(denied)
    }

    async fn admit_call(&mut self, call: &Admit<'_>) -> Result<Admission, GateRefusal> {
        let ctx = self.ctx;
        let token = self.token;
        let name = call.loaded.prepared.name.as_str();
        let command = call.command.name.as_str();
        let hash = action_hash(
            &token.id,
            name,
            &call.loaded.prepared.digest,
            command,
            call.args,
        );
        let mut confirmation = None;
        if needs_confirm(ctx, call.loaded, name, command) {
            confirmation = Some(confirm_gate(ctx, token, call, &hash)?);
        }
        // Daily caps (the call is counted from here on, whatever its outcome).
        let gate = self.gate(name);
        let caps = [
            DailyCap {
                scope: &self.token_scope,
                calls: token.daily_calls,
                cpu_ms: token.daily_cpu_ms,
                calls_refusal: Refusal::TokenDailyCalls,
                cpu_refusal: Refusal::TokenDailyCpu,
            },
            DailyCap {
                scope: &self.plugin_scope,
                calls: gate.daily_calls,
                cpu_ms: gate.daily_cpu_ms,
                calls_refusal: Refusal::PluginDailyCalls,
                cpu_refusal: Refusal::PluginDailyCpu,
            },
        ];
        let day = self.day.clone();
        let admitted = ctx.gates.admit_daily(&day, &caps, &mut |scope| {
            ctx.stores.with(|s| s.usage(scope, &day))
        });
        let cpu_left = match admitted {
            Ok(Ok(left)) => left,
            Ok(Err(refusal)) => return Err(denied(refusal)),
            Err(e) => {
                tracing::error!("cannot read usage counters: {e}");
                return Err(GateRefusal::Unavailable {
                    kind: "store-error",
                    message: "the usage counters cannot be read".into(),
                });
            }
        };
        let mut conc = vec![(
            self.token_scope.as_str(),
            ctx.config.limits.max_calls_per_token,
            Refusal::TokenConcurrency,
        )];
        if let Some(n) = gate.max_concurrent {
            conc.push((self.plugin_scope.as_str(), n, Refusal::PluginConcurrency));
        }
        let slot = ctx.gates.enter(&conc).map_err(denied)?;
        let permit = call_permit(ctx).await?;
        // Mid-run confirmations are bound to this exact action.
        let confirm = call.loaded.prepared.confirm.then(|| {
            Arc::new(crate::confirm::MidRunConfirm::new(
                ctx.clone(),
                &token.id,
                name,
                command,
                hash.clone(),
                crate::confirm::call_line(name, command, call.args),
            ))
        });
        self.confirm = confirm.clone();
        Ok(Admission {
            timeout: cpu_left,
            confirm: confirm.map(|c| c as Arc<dyn ward_runtime::ConfirmHook>),
            confirmation,
            hold: Some(Box::new((slot, permit, InFlight::enter(ctx)))),
        })
    }

    fn finish(
        &mut self,
        _loaded: &Loaded,
        outcome: &Result<CallOutput, CallError>,
        elapsed: Duration,
    ) -> Finish {
        let (cpu_ms, fuel) = match outcome {
            // Call time counts in whole milliseconds, rounded up: every call costs at least one.
            Ok(out) => (
                u64::try_from(out.duration.as_micros().div_ceil(1000)).unwrap_or(u64::MAX),
                out.fuel_consumed,
            ),
            Err(_) => (
                u64::try_from(elapsed.as_micros().div_ceil(1000)).unwrap_or(u64::MAX),
                0,
            ),
        };
        let scopes = [self.token_scope.as_str(), self.plugin_scope.as_str()];
        self.ctx.gates.add_usage(&self.day, &scopes, cpu_ms, fuel);
        Finish {
            usage: scopes
                .iter()
                .map(|scope| UsageDelta {
                    scope: (*scope).to_owned(),
                    day: self.day.clone(),
                    usage: ward_store::Usage {
                        calls: 1,
                        cpu_ms,
                        fuel,
                    },
                })
                .collect(),
            confirmation: self.confirm.as_ref().and_then(|c| c.used()),
        }
    }
}

/// The operator's gates: the daemon's overall concurrency only; a plugin that may ask for
/// confirmation mid-run is refused, since its asks belong on the operator's terminal.
pub(crate) struct OperatorGates<'a> {
    pub(crate) ctx: &'a Ctx,
}

impl Gates for OperatorGates<'_> {
    fn admit_request(&mut self, _plugin: &str, _command: &str) -> Result<(), GateRefusal> {
        Ok(())
    }

    async fn admit_call(&mut self, call: &Admit<'_>) -> Result<Admission, GateRefusal> {
        if call.loaded.prepared.confirm {
            return Err(GateRefusal::Denied {
                kind: "needs-terminal",
                message: "this plugin may ask for confirmation while it runs: run it with `ward run --standalone` at a terminal".into(),
            });
        }
        let permit = call_permit(self.ctx).await?;
        Ok(Admission {
            hold: Some(Box::new((permit, InFlight::enter(self.ctx)))),
            ..Admission::default()
        })
    }

    fn finish(
        &mut self,
        _loaded: &Loaded,
        _outcome: &Result<CallOutput, CallError>,
        _elapsed: Duration,
    ) -> Finish {
        Finish::default()
    }
}

/// One of the daemon's call permits (its overall concurrency), owned so it can be held across
/// the call.
async fn call_permit(ctx: &Ctx) -> Result<tokio::sync::OwnedSemaphorePermit, GateRefusal> {
    ctx.calls
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| GateRefusal::Unavailable {
            kind: "shutting-down",
            message: "the daemon is shutting down".into(),
        })
}

/// Counts a running call in the daemon's status while it is held.
struct InFlight(Arc<crate::Stats>);

impl InFlight {
    fn enter(ctx: &Ctx) -> InFlight {
        ctx.stats
            .in_flight
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        InFlight(ctx.stats.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0
            .in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

pub(crate) fn needs_confirm(ctx: &Ctx, loaded: &Loaded, name: &str, command: &str) -> bool {
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
pub(crate) fn canonical(v: &Value) -> String {
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
    sorted(v).to_string()
}

/// SHA-256 of the exact action: token, plugin, digest, command and arguments.
pub(crate) fn action_hash(
    token: &str,
    plugin: &str,
    digest: &str,
    command: &str,
    args: &Value,
) -> String {
    use sha2::Digest as _;
    let text = canonical(&json!({
        "token": token, "plugin": plugin, "digest": digest, "command": command, "args": args,
    }));
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// Longest argument value shown in a confirmation summary, in bytes.
///
/// Threat: a huge argument pushing the rest of the summary out of the operator's sight.
const MAX_SUMMARY_ARG_BYTES: usize = 48;

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

/// Lets the run proceed if an approved confirmation for exactly this action is used now (its id
/// comes back for the audit row); otherwise the call waits (`pending`, creating the confirmation
/// if none is waiting).
fn confirm_gate(
    ctx: &Ctx,
    token: &AgentToken,
    call: &Admit<'_>,
    hash: &str,
) -> Result<String, GateRefusal> {
    let store_error = |what: &str, e: ward_store::StoreError| {
        tracing::error!("{what}: {e}");
        GateRefusal::Unavailable {
            kind: "store-error",
            message: format!("{what}; the call was not run"),
        }
    };
    let existing = ctx
        .stores
        .with_writer(|s| s.confirmation_for_action(&token.id, hash))
        .map_err(|e| store_error("confirmations cannot be read", e))?;
    if let Some(c) = &existing {
        match c.state {
            ConfirmState::Approved => {
                let used = ctx.stores.with_writer(|s| s.confirmation_use(&c.id, hash));
                if matches!(used, Ok(true)) {
                    return Ok(c.id.clone());
                }
            }
            ConfirmState::Pending => return Err(GateRefusal::Pending(pending(c))),
            _ => {}
        }
    }
    let name = &call.loaded.prepared.name;
    let created = ctx
        .stores
        .with_writer(|s| {
            s.confirmation_create(&NewConfirmation {
                token: token.id.clone(),
                plugin: name.clone(),
                command: call.command.name.clone(),
                action_hash: hash.to_owned(),
                summary: summary(
                    name,
                    &call.command.name,
                    call.args,
                    &call.loaded.prepared.manifest,
                ),
                ttl_secs: ctx.config.limits.confirm_ttl.as_secs(),
            })
        })
        .map_err(|e| store_error("the confirmation cannot be recorded", e))?;
    Err(GateRefusal::Pending(pending(&created)))
}

pub(crate) fn pending(c: &ward_store::Confirmation) -> Pending {
    Pending {
        id: c.id.clone(),
        state: c.state,
        summary: c.summary.clone(),
        expires: c.expires.clone(),
    }
}

/// The HTTP status of a failure, by its kind.
pub(crate) fn status_of(failure: &Failure) -> StatusCode {
    match failure.kind() {
        "not-installed" => StatusCode::NOT_FOUND,
        "unknown-command" | "invalid-arguments" => StatusCode::BAD_REQUEST,
        "needs-terminal" => StatusCode::CONFLICT,
        "audit-unavailable" | "shutting-down" => StatusCode::SERVICE_UNAVAILABLE,
        "prepare-failed" | "load-failed" | "store-error" => StatusCode::INTERNAL_SERVER_ERROR,
        kind if kind.starts_with("token-") || kind.starts_with("plugin-") => {
            StatusCode::TOO_MANY_REQUESTS
        }
        _ if failure.started() => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::FORBIDDEN,
    }
}

/// The reply to a finished call. `raw_streams` (the operator's `ward run`) adds the guest's
/// stdout and stderr as base64, exact bytes, next to their text form, and a failed call's guest
/// stderr.
pub(crate) fn reply(finished: &ward_call::Finished, raw_streams: bool) -> crate::api::Reply {
    match &finished.outcome {
        Ok(out) => {
            let call = &out.call;
            let mut body = json!({
                "ok": !call.is_err,
                "result": call.result,
                "fuel": call.fuel_consumed,
                "duration_ms": call.duration.as_secs_f64() * 1000.0,
            });
            if !call.stdout.is_empty() {
                body["stdout"] = json!(String::from_utf8_lossy(&call.stdout));
            }
            if !call.stderr.is_empty() {
                body["stderr"] = json!(String::from_utf8_lossy(&call.stderr));
            }
            if raw_streams {
                use base64::Engine as _;
                let b64 = base64::engine::general_purpose::STANDARD;
                body["stdout_base64"] = json!(b64.encode(&call.stdout));
                body["stderr_base64"] = json!(b64.encode(&call.stderr));
                if out.program {
                    // Its result is its stdout, printed as it is.
                    body["program"] = json!(true);
                }
            }
            crate::api::Reply::new(StatusCode::OK, body)
        }
        Err(f) => {
            let pending = match f {
                Failure::Gate(GateRefusal::Pending(p)) => Some(p.clone()),
                Failure::Call(CallError::ConfirmPending(p)) => Some(Pending {
                    id: p.id.clone(),
                    state: ConfirmState::Pending,
                    summary: p.summary.clone(),
                    expires: p.expires.clone(),
                }),
                _ => None,
            };
            if let Some(p) = pending {
                return pending_reply(&p);
            }
            let mut body = json!({ "ok": false, "error": f.error_object() });
            if raw_streams && let Some(stderr) = f.guest_stderr() {
                body["error"]["stderr"] = json!(stderr);
            }
            crate::api::Reply::new(status_of(f), body)
        }
    }
}

/// The 202 `pending` reply, for a command-level gate and for a plugin's mid-run ask alike.
pub(crate) fn pending_reply(p: &Pending) -> crate::api::Reply {
    crate::api::Reply::new(
        StatusCode::ACCEPTED,
        json!({
            "ok": false,
            "pending": true,
            "confirmation": { "id": p.id, "state": p.state, "summary": p.summary, "expires": p.expires },
        }),
    )
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
}

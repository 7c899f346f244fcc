//! The call pipeline, step by step; [`Pipeline::run`] composes them in the only order there is.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use ward_home::{Home, OperatorPolicy};
use ward_runtime::{CallError, CallOutput, Command, CommandKind, ConfirmHook, Limits, Runtime};
use ward_store::{AuditAction, AuditEvent, Outcome, Store, UsageDelta};

use crate::{ExecError, Failure, GateRefusal, Prepared};

/// A version that passed authorization under the current trust store and policy, prepared with
/// its grants and loaded (compiled, linked, pre-instantiated).
pub struct Loaded {
    /// The plugin's digest, grants, limits and signed manifest.
    pub prepared: Prepared,
    /// The loaded component.
    pub plugin: Arc<ward_runtime::Plugin>,
    /// When a trusted key expires and the decision must be taken again.
    pub recheck_at: Option<i64>,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("prepared", &self.prepared)
            .finish_non_exhaustive()
    }
}

/// Read access to ward's store: the standalone CLI's one connection, the daemon's readers.
pub trait StoreAccess {
    /// Runs `f` on a store connection.
    fn read<T>(&self, f: impl FnOnce(&Store) -> T) -> T;
}

impl StoreAccess for Mutex<Store> {
    fn read<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        f(&self.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// What the caller asks.
#[derive(Debug, Clone)]
pub struct CallRequest {
    /// The plugin (`namespace:name`).
    pub plugin: String,
    /// The command.
    pub command: String,
    /// Its arguments.
    pub input: Input,
}

/// A call's arguments, in the form the caller has them.
#[derive(Debug, Clone)]
pub enum Input {
    /// A JSON object keyed by parameter name (`{"argv": [...]}` for a `wasi:cli` program): what
    /// agents send.
    Json(Value),
    /// What a person types: `--args JSON`, `NAME=VALUE` pairs, or the argv of a `wasi:cli`
    /// program (see [`ward_values::call_request`]).
    Cli {
        /// `--args`.
        args: Option<Value>,
        /// `NAME=VALUE` pairs.
        pairs: Vec<String>,
        /// After `--`.
        argv: Vec<String>,
    },
}

/// The call a gate is asked to admit: its arguments are valid for the command's types.
pub struct Admit<'a> {
    /// The authorized, prepared plugin.
    pub loaded: &'a Loaded,
    /// The command.
    pub command: &'a Command,
    /// The arguments, valid for its types.
    pub args: &'a Value,
}

/// What a gate lets through, and what it holds while the call runs.
#[derive(Default)]
pub struct Admission {
    /// A lower time limit (for example what is left of a daily CPU cap).
    pub timeout: Option<Duration>,
    /// Who answers the plugin's mid-run asks for this call.
    pub confirm: Option<Arc<dyn ConfirmHook>>,
    /// The confirmation that let the call through, for the audit row.
    pub confirmation: Option<String>,
    /// Held until the call ends (a concurrency slot, a permit).
    pub hold: Option<Box<dyn std::any::Any + Send>>,
}

/// The presenter's gates, decided before any guest code runs. The operator's own calls pass them
/// all; the daemon's agent gates are rates, daily caps, concurrency and confirmations.
#[allow(async_fn_in_trait)]
pub trait Gates {
    /// Before anything is loaded: may this caller call this command at all, and now?
    fn admit_request(&mut self, plugin: &str, command: &str) -> Result<(), GateRefusal>;
    /// Once the arguments are known to be valid, before guest code: confirmation, daily caps,
    /// concurrency.
    async fn admit_call(&mut self, call: &Admit<'_>) -> Result<Admission, GateRefusal>;
    /// After the call: the usage to record with the audit row (counted whatever the outcome),
    /// and the confirmation a mid-run ask used, if any.
    fn finish(
        &mut self,
        loaded: &Loaded,
        outcome: &Result<CallOutput, CallError>,
        elapsed: Duration,
    ) -> Finish;
}

/// What [`Gates::finish`] records.
#[derive(Debug, Default)]
pub struct Finish {
    /// Usage counters to add in the audit row's transaction.
    pub usage: Vec<UsageDelta>,
    /// A mid-run confirmation the call used.
    pub confirmation: Option<String>,
}

/// The gates of the operator's own calls: none.
#[derive(Default)]
pub struct NoGates {
    /// Who answers the plugin's mid-run asks (the operator's terminal); `None` denies them.
    pub confirm: Option<Arc<dyn ConfirmHook>>,
}

impl Gates for NoGates {
    fn admit_request(&mut self, _plugin: &str, _command: &str) -> Result<(), GateRefusal> {
        Ok(())
    }

    async fn admit_call(&mut self, call: &Admit<'_>) -> Result<Admission, GateRefusal> {
        Ok(Admission {
            confirm: self
                .confirm
                .clone()
                .filter(|_| call.loaded.prepared.confirm),
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

/// The result of a call that ran.
#[derive(Debug)]
pub struct Output {
    /// What the runtime gave back, redacted.
    pub call: CallOutput,
    /// Whether the command is a `wasi:cli` program (its result is its stdout).
    pub program: bool,
}

/// Everything a finished request leaves: the outcome, and the audit rows and usage counters the
/// presenter commits durably before it answers (see [`Pipeline::run`]).
#[derive(Debug)]
pub struct Finished {
    /// The result, or why there is none.
    pub outcome: Result<Output, Failure>,
    /// The request's audit row: `run` when guest code started, `deny` when it was refused before.
    /// The presenter adds who asked and through what (actor, token, endpoint).
    pub event: AuditEvent,
    /// Rows written with it: requests a paper-mode plugin held back.
    pub extra: Vec<AuditEvent>,
    /// Usage counters added in the same transaction.
    pub usage: Vec<UsageDelta>,
    /// The plugin, when it was loaded.
    pub loaded: Option<Arc<Loaded>>,
}

impl Finished {
    /// Records who asked on every row: the actor (`operator`, `agent:uid:N`, ...) and the agent
    /// token's id.
    pub fn stamp(&mut self, actor: Option<String>, token: Option<String>) {
        for ev in std::iter::once(&mut self.event).chain(self.extra.iter_mut()) {
            ev.actor = actor.clone();
            if token.is_some() {
                ev.detail.token = token.clone();
            }
        }
    }

    /// Every audit row, the request's first.
    pub fn events(&self) -> Vec<AuditEvent> {
        std::iter::once(self.event.clone())
            .chain(self.extra.iter().cloned())
            .collect()
    }
}

/// What makes a cached [`Loaded`] still valid: the registry generation (it moves with every
/// change to versions, enablement, grants and trusted keys) and the policy file's stamp.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CacheKey {
    generation: u64,
    policy: Option<ward_home::FileStamp>,
}

/// The daemon's warm cache of authorized, prepared, loaded plugins. An entry is used only while
/// nothing that decided it has changed, and never past the next key expiry.
#[derive(Default)]
pub struct LoadCache {
    entries: Mutex<HashMap<String, (CacheKey, Arc<Loaded>)>>,
}

impl LoadCache {
    /// Forgets every entry (a plugin upgraded, disabled or revoked: the next call decides anew).
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (CacheKey, Arc<Loaded>)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The call pipeline over one home, one policy and one runtime.
pub struct Pipeline<'a> {
    /// ward's data directory.
    pub home: &'a Home,
    /// The operator policy in force (the daemon re-reads it when the file changes).
    pub policy: &'a OperatorPolicy,
    /// The policy file's stamp when `policy` was read.
    pub policy_stamp: Option<ward_home::FileStamp>,
    /// The runtime.
    pub runtime: &'a Runtime,
    /// The warm cache, in a long-running process.
    pub cache: Option<&'a LoadCache>,
    /// Whether the audit reservation also takes (and releases) the store's write lock: for a
    /// process that has not written yet, whose connection may face a read-only database.
    pub probe_writable: bool,
    /// The most handles (open files, streams, requests) one call may hold in this process, from
    /// its descriptor budget ([`crate::per_call_handles`]); a manifest asking for more gets this.
    pub max_handles: u64,
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Pipeline<'_> {
    /// Steps 1 and 2, authorize and prepare: the installed version of `name` may run under the
    /// trust store and policy as they are now ([`ward_trust::authorize`]), with exactly the grants
    /// bound to its digest; then loaded. From the warm cache while nothing it was decided from
    /// has changed. On a refusal, the digest concerned comes back with it (for the audit row).
    pub fn load(
        &self,
        store: &Store,
        name: &str,
    ) -> Result<Arc<Loaded>, (Failure, Option<String>)> {
        let key = store.registry_generation().ok().map(|generation| CacheKey {
            generation,
            policy: self.policy_stamp.clone(),
        });
        if let (Some(cache), Some(key)) = (self.cache, &key)
            && let Some((k, loaded)) = cache.lock().get(name)
            && k == key
            && loaded.recheck_at.is_none_or(|t| now_unix() < t)
        {
            return Ok(loaded.clone());
        }
        let loaded = self.load_fresh(store, name);
        if let Some(cache) = self.cache {
            let mut entries = cache.lock();
            match (&loaded, key) {
                (Ok(l), Some(key))
                    if l.prepared.manifest.capabilities.secrets.is_empty()
                        && l.prepared.paper.is_none() =>
                {
                    entries.insert(name.to_owned(), (key, l.clone()));
                }
                _ => {
                    entries.remove(name);
                }
            }
        }
        loaded
    }

    fn load_fresh(
        &self,
        store: &Store,
        name: &str,
    ) -> Result<Arc<Loaded>, (Failure, Option<String>)> {
        let prepared = crate::prepare(self.home, self.policy, store, name).map_err(|e| {
            let digest = e.audit_denial().map(|(_, d)| d.to_owned());
            (Failure::Prepare(e), digest)
        })?;
        let digest = Some(prepared.digest.clone());
        let trust = ward_trust::trust_policy(store, &self.policy.rules)
            .map_err(|e| (Failure::Trust(e), digest.clone()))?;
        let authorized =
            ward_trust::authorize(&prepared.component, &trust, Some(name)).map_err(|source| {
                (
                    Failure::Unauthorized {
                        name: name.to_owned(),
                        digest: prepared.digest.clone(),
                        source: Box::new(source),
                    },
                    digest.clone(),
                )
            })?;
        if authorized.verified.digest().to_string() != prepared.digest {
            // The store's row and the bytes disagree: refuse rather than guess which is right.
            return Err((
                Failure::Prepare(ExecError::Grants(
                    "the stored digest does not match the component's bytes".into(),
                )),
                digest,
            ));
        }
        let plugin = self
            .runtime
            .load(name, &prepared.component)
            .map_err(|e| (Failure::Load(e), digest.clone()))?;
        Ok(Arc::new(Loaded {
            prepared,
            plugin,
            recheck_at: authorized.recheck_at,
        }))
    }

    /// Step 3, arguments: the command, and the request's arguments checked against its WIT types
    /// before any guest code runs.
    pub fn arguments(
        &self,
        loaded: &Loaded,
        command: &str,
        input: &Input,
    ) -> Result<(Command, Value), Failure> {
        let cmd = loaded
            .plugin
            .command(command)
            .map_err(Failure::Request)?
            .clone();
        let args = match input {
            Input::Json(v) => {
                if cmd.kind == CommandKind::Func {
                    ward_values::args_from_json(&cmd, v)
                        .map_err(|e| Failure::Request(CallError::Args(e)))?;
                }
                v.clone()
            }
            Input::Cli { args, pairs, argv } => {
                ward_values::call_request(&cmd, args.clone(), pairs, argv)
                    .map_err(|e| Failure::Request(CallError::CliArgs(e.to_string())))?
            }
        };
        Ok((cmd, args))
    }

    /// Step 5, the audit reservation: the call's audit row can be written, or it does not start.
    pub fn reserve(&self, store: &Store) -> Result<(), Failure> {
        if self.probe_writable {
            store.audit_guard_writable()
        } else {
            store.audit_guard()
        }
        .map_err(Failure::AuditUnavailable)
    }

    /// Every step, in order: the caller's request gates, authorize and prepare, arguments, the
    /// caller's call gates, the audit reservation, then the call itself. Returns the outcome with
    /// its audit rows; the presenter commits them durably *before* it answers (and refuses to
    /// answer with a result when it cannot).
    pub async fn run<S: StoreAccess, G: Gates>(
        &self,
        stores: &S,
        gates: &mut G,
        request: &CallRequest,
    ) -> Finished {
        let mut event = AuditEvent::new(AuditAction::Run);
        event.plugin = Some(request.plugin.clone()).filter(|p| printable_ident(p));
        event.detail.command = Some(request.command.clone()).filter(|c| printable_ident(c));
        let refused = |mut event: AuditEvent, failure: Failure, loaded: Option<Arc<Loaded>>| {
            event.action = AuditAction::Deny;
            event.outcome = failure.outcome();
            event.detail.reason = Some(failure.kind());
            Finished {
                outcome: Err(failure),
                event,
                extra: Vec::new(),
                usage: Vec::new(),
                loaded,
            }
        };
        if let Err(g) = gates.admit_request(&request.plugin, &request.command) {
            return refused(event, Failure::Gate(g), None);
        }
        let loaded = match stores.read(|s| self.load(s, &request.plugin)) {
            Ok(l) => l,
            Err((failure, digest)) => {
                event.digest = digest;
                return refused(event, failure, None);
            }
        };
        event.digest = Some(loaded.prepared.digest.clone());
        let (command, args) = match self.arguments(&loaded, &request.command, &request.input) {
            Ok(a) => a,
            Err(f) => return refused(event, f, Some(loaded)),
        };
        let admission = match gates
            .admit_call(&Admit {
                loaded: &loaded,
                command: &command,
                args: &args,
            })
            .await
        {
            Ok(a) => a,
            Err(g) => {
                if let GateRefusal::Pending(p) = &g {
                    event.detail.confirmation = Some(p.id.clone());
                }
                return refused(event, Failure::Gate(g), Some(loaded));
            }
        };
        event.detail.confirmation = admission.confirmation.clone();
        if let Err(f) = stores.read(|s| self.reserve(s)) {
            return refused(event, f, Some(loaded));
        }
        let mut limits: Limits = loaded.prepared.limits.clone();
        limits.handles = limits.handles.min(self.max_handles);
        if let Some(t) = admission.timeout {
            limits.timeout = limits.timeout.min(t.max(Duration::from_millis(1)));
        }
        let mut grants = loaded.prepared.grants.clone();
        grants.confirm = admission.confirm.clone();
        let egress = ward_http::EgressLog::new();
        grants.egress = Some(egress.clone());
        let started = Instant::now();
        let outcome = self
            .runtime
            .call(&loaded.plugin, &request.command, &args, &limits, &grants)
            .await;
        let elapsed = started.elapsed();
        drop(admission.hold);
        let finish = gates.finish(&loaded, &outcome, elapsed);
        if finish.confirmation.is_some() {
            event.detail.confirmation = finish.confirmation;
        }
        event.detail.duration_ms = Some(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
        let (denied, reasons) = egress.summary();
        if denied > 0 {
            event.detail.egress_denied = Some(denied);
            event.detail.egress_reasons = reasons;
        }
        let extra = paper_rows(&loaded, &event);
        let program = matches!(command.kind, CommandKind::CliRun { .. });
        let outcome = match outcome {
            Ok(out) => {
                event.detail.fuel = Some(out.fuel_consumed);
                if out.is_err {
                    event.outcome = Outcome::Error;
                    event.detail.reason = Some("error-result");
                }
                Ok(Output { call: out, program })
            }
            Err(e) => {
                let failure = Failure::Call(e);
                event.outcome = failure.outcome();
                event.detail.reason = Some(failure.kind());
                event.detail.limit = failure.limit().map(|l| l.name());
                if let Failure::Call(CallError::ConfirmPending(p)) = &failure {
                    // Stopped at the plugin's ask, waiting for the operator: recorded as a denial
                    // that names the confirmation, like a command-level gate's.
                    event.action = AuditAction::Deny;
                    event.detail.confirmation = Some(p.id.clone());
                }
                Err(failure)
            }
        };
        Finished {
            outcome,
            event,
            extra,
            usage: finish.usage,
            loaded: Some(loaded),
        }
    }
}

/// The audit rows of the requests a paper-mode call held back: method and origin only.
fn paper_rows(loaded: &Loaded, event: &AuditEvent) -> Vec<AuditEvent> {
    let Some(paper) = &loaded.prepared.paper else {
        return Vec::new();
    };
    paper
        .take()
        .into_iter()
        .map(|held| {
            let mut ev = AuditEvent::new(AuditAction::PaperRequest);
            ev.actor = event.actor.clone();
            ev.plugin = Some(loaded.prepared.name.clone());
            ev.digest = Some(loaded.prepared.digest.clone());
            ev.outcome = Outcome::Denied;
            ev.detail.reason = Some("paper-mode");
            ev.detail.token = event.detail.token.clone();
            ev.detail.method = Some(held.method);
            ev.detail.origin = Some(held.origin);
            ev
        })
        .collect()
}

/// Whether `s` may go into an audit row as an identifier: bounded, no control or bidi
/// characters (anything else the store would refuse, failing the whole row).
pub fn printable_ident(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= ward_store::MAX_NAME_BYTES
        && !s.chars().any(ward_policy::text::is_unsafe_char)
}

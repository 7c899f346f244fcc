//! Why a call did not give a result: one type for every path (`ward run` standalone, the operator
//! and agent sockets, MCP through them), with one [`Failure::kind`] each.

use ward_runtime::CallError;
use ward_store::Outcome;

/// A refusal by a gate (scope, rate, daily cap, concurrency, confirmation): decided by whoever
/// presents the pipeline (the daemon's gates for an agent), before any guest code.
#[derive(Debug, Clone)]
pub enum GateRefusal {
    /// Refused; `kind` is also the audit reason.
    Denied {
        /// The refusal's kind, e.g. `token-rate`.
        kind: &'static str,
        /// In words.
        message: String,
    },
    /// The call waits for the operator's confirmation; nothing ran.
    Pending(crate::Pending),
    /// The gate could not decide (its store failed): refused.
    Unavailable {
        /// The kind, e.g. `store-error`.
        kind: &'static str,
        /// In words.
        message: String,
    },
}

/// Why a call did not give a result. [`Failure::kind`] is the same everywhere: in the CLI's
/// `--json` error object, in the daemon's error replies, and as the audit reason.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The plugin, its grants or its secrets refuse the call (not installed, disabled, no grant,
    /// secret not set, a grant reaching ward) or cannot be read.
    #[error(transparent)]
    Prepare(#[from] crate::ExecError),
    /// The current trust policy does not let this version run.
    #[error("refusing {name}")]
    Unauthorized {
        /// The plugin.
        name: String,
        /// Its digest.
        digest: String,
        /// Why.
        #[source]
        source: Box<ward_trust::Unauthorized>,
    },
    /// The trust store or the policy file cannot be used.
    #[error("the trust store cannot be used")]
    Trust(#[source] ward_trust::TrustError),
    /// The component cannot be compiled or linked.
    #[error("the plugin cannot be loaded")]
    Load(#[source] ward_runtime::LoadError),
    /// The request names no command of the plugin, or its arguments do not match the command's
    /// types; no guest code ran.
    #[error(transparent)]
    Request(CallError),
    /// A gate refused the call.
    #[error("{}", gate_message(.0))]
    Gate(GateRefusal),
    /// The call's audit row could not be guaranteed: it did not start.
    #[error("the audit log cannot be written, so the call was refused: {0}")]
    AuditUnavailable(#[source] ward_store::Unavailable),
    /// The call started and failed (a limit, a trap, an exit status, ...).
    #[error(transparent)]
    Call(CallError),
}

fn gate_message(g: &GateRefusal) -> String {
    match g {
        GateRefusal::Denied { message, .. } | GateRefusal::Unavailable { message, .. } => {
            message.clone()
        }
        GateRefusal::Pending(p) => format!(
            "the call waits for the operator's confirmation {} ({})",
            p.id, p.summary
        ),
    }
}

impl Failure {
    /// The kind: the same word in every reply, error object and audit row. See `docs/errors.md`.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Prepare(e) => match e {
                crate::ExecError::NotInstalled { .. } => "not-installed",
                crate::ExecError::Disabled { .. } => "disabled",
                crate::ExecError::NotGranted { .. } => "not-granted",
                crate::ExecError::SecretNotSet { .. } => "secret-not-set",
                crate::ExecError::GrantReachesWard { .. } => "grant-reaches-ward",
                _ => "prepare-failed",
            },
            Failure::Unauthorized { source, .. } => source.reason(),
            Failure::Trust(_) => "prepare-failed",
            Failure::Load(_) => "load-failed",
            Failure::Request(e) | Failure::Call(e) => call_kind(e),
            Failure::Gate(g) => match g {
                GateRefusal::Denied { kind, .. } | GateRefusal::Unavailable { kind, .. } => kind,
                GateRefusal::Pending(_) => "confirmation-pending",
            },
            Failure::AuditUnavailable(_) => "audit-unavailable",
        }
    }

    /// Whether guest code ran before it failed.
    pub fn started(&self) -> bool {
        matches!(self, Failure::Call(_))
    }

    /// How the audit row ends: `denied` for a refusal before guest code (and a confirmation that
    /// stopped the call), `error` when the host could not serve or the call failed.
    pub fn outcome(&self) -> Outcome {
        match self {
            Failure::Prepare(e) if e.audit_denial().is_none() => match e {
                crate::ExecError::NotInstalled { .. } => Outcome::Denied,
                _ => Outcome::Error,
            },
            Failure::Trust(_) | Failure::Load(_) => Outcome::Error,
            Failure::Gate(GateRefusal::Unavailable { .. }) => Outcome::Error,
            Failure::Call(CallError::ConfirmPending(_)) => Outcome::Denied,
            Failure::Call(_) => Outcome::Error,
            _ => Outcome::Denied,
        }
    }

    /// Whether the request was wrong (exit status 2 in the CLI, 400 on a socket) rather than
    /// refused or failed.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Failure::Request(_) | Failure::Prepare(crate::ExecError::NotInstalled { .. })
        )
    }

    /// Whether ward itself could not serve the call (its store, trust store, audit log or a
    /// component it cannot load), rather than refusing it: exit status 2 in the CLI.
    pub fn is_host_error(&self) -> bool {
        match self {
            Failure::Prepare(e) => {
                e.audit_denial().is_none() && !matches!(e, crate::ExecError::NotInstalled { .. })
            }
            Failure::Trust(_) | Failure::Load(_) | Failure::AuditUnavailable(_) => true,
            Failure::Gate(GateRefusal::Unavailable { .. }) => true,
            _ => false,
        }
    }

    /// The error object every presenter shows for this failure, the same standalone and through
    /// the daemon: `{"kind", "message"}` plus `limit` and `value` for a limit, `code` for a
    /// program's exit status, `confirmation` for a call waiting for the operator.
    pub fn error_object(&self) -> serde_json::Value {
        let mut obj = serde_json::json!({ "kind": self.kind(), "message": chain(self) });
        match self {
            Failure::Call(CallError::Limit(l)) => {
                obj["limit"] = serde_json::json!(l.limit.name());
                obj["value"] = serde_json::json!(l.value);
            }
            Failure::Call(CallError::Exit { code, .. }) => obj["code"] = serde_json::json!(code),
            Failure::Call(CallError::ConfirmPending(p)) => {
                obj["confirmation"] = serde_json::json!(p.id);
            }
            Failure::Gate(GateRefusal::Pending(p)) => obj["confirmation"] = serde_json::json!(p.id),
            _ => {}
        }
        obj
    }

    /// The guest's last stderr lines, for a trap or a failed program.
    pub fn guest_stderr(&self) -> Option<&str> {
        match self {
            Failure::Call(CallError::Trap { stderr, .. } | CallError::Exit { stderr, .. })
                if !stderr.is_empty() =>
            {
                Some(stderr)
            }
            _ => None,
        }
    }

    /// The limit a call reached, when it did.
    pub fn limit(&self) -> Option<ward_policy::Limit> {
        match self {
            Failure::Call(e) => e.limit(),
            _ => None,
        }
    }
}

/// The kind of a runtime error.
pub fn call_kind(e: &CallError) -> &'static str {
    match e {
        CallError::UnknownCommand { .. } => "unknown-command",
        CallError::Unsupported { .. } => "unsupported",
        CallError::Args(_) | CallError::CliArgs(_) => "invalid-arguments",
        CallError::Limit(_) => "limit",
        CallError::Trap { .. } => "trap",
        CallError::Exit { .. } => "exit",
        CallError::Instantiate(_) => "instantiate",
        CallError::Grant(_) => "grant",
        CallError::ConfirmPending(_) => "confirmation-pending",
    }
}

/// An error with its sources, `a: b: c`.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let next = s.to_string();
        // `transparent` wrappers repeat their source's message.
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

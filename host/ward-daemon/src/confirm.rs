//! Mid-run confirmations (`ward:plugin/confirm`) for agents' calls: each ask is bound to the
//! exact action (token, plugin, digest, command, arguments) and the exact prompt, answered from
//! the store, single-use, and fails closed.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use ward_runtime::{ConfirmAnswer, ConfirmHook, ConfirmPending};
use ward_store::{ConfirmState, Confirmation, NewConfirmation, StoreError};

use crate::Ctx;

/// Answers one agent call's asks. Built per call; never outlives it.
pub(crate) struct MidRunConfirm {
    ctx: Arc<Ctx>,
    token: String,
    plugin: String,
    command: String,
    /// `action_hash` of the call: token, plugin, digest, command, arguments.
    action: String,
    /// `plugin command(arguments)`, sanitized.
    call_line: String,
    ttl_secs: u64,
    /// The last confirmation this call used, for the call's audit row.
    used: Mutex<Option<String>>,
}

impl MidRunConfirm {
    pub(crate) fn new(
        ctx: Arc<Ctx>,
        token: &str,
        plugin: &str,
        command: &str,
        action: String,
        call_line: String,
    ) -> MidRunConfirm {
        let ttl_secs = ctx.config.limits.confirm_ttl.as_secs();
        MidRunConfirm {
            ctx,
            token: token.to_owned(),
            plugin: plugin.to_owned(),
            command: command.to_owned(),
            action,
            call_line,
            ttl_secs,
            used: Mutex::new(None),
        }
    }

    /// The confirmation the call used last, if any.
    pub(crate) fn used(&self) -> Option<String> {
        self.used.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn decide(&self, prompt: &str) -> Result<ConfirmAnswer, StoreError> {
        let hash = prompt_hash(&self.action, prompt);
        self.ctx.stores.with_writer(|s| {
            if let Some(c) = s.confirmation_for_action(&self.token, &hash)? {
                match c.state {
                    ConfirmState::Approved => {
                        if s.confirmation_use(&c.id, &hash)? {
                            *self.used.lock().unwrap_or_else(|e| e.into_inner()) = Some(c.id);
                            return Ok(ConfirmAnswer::Approved);
                        }
                    }
                    ConfirmState::Pending => return Ok(ConfirmAnswer::Pending(pending(&c))),
                    // Denied, expired or used: the action needs a new decision.
                    ConfirmState::Denied | ConfirmState::Expired | ConfirmState::Used => {}
                }
            }
            let c = s.confirmation_create(&NewConfirmation {
                token: self.token.clone(),
                plugin: self.plugin.clone(),
                command: self.command.clone(),
                action_hash: hash.clone(),
                summary: summary(&self.call_line, prompt),
                ttl_secs: self.ttl_secs,
            })?;
            Ok(ConfirmAnswer::Pending(pending(&c)))
        })
    }
}

impl ConfirmHook for MidRunConfirm {
    fn confirm(&self, prompt: &str) -> ConfirmAnswer {
        // A store error denies: the guest is told false, never true.
        self.decide(prompt).unwrap_or_else(|e| {
            tracing::error!(plugin = %self.plugin, "confirmation denied: the store failed: {e}");
            ConfirmAnswer::Denied
        })
    }
}

fn pending(c: &Confirmation) -> ConfirmPending {
    ConfirmPending {
        id: c.id.clone(),
        summary: c.summary.clone(),
        expires: c.expires.clone(),
    }
}

/// SHA-256 of one ask: the call's action hash and the prompt exactly as the operator sees it.
fn prompt_hash(action: &str, prompt: &str) -> String {
    use sha2::Digest as _;
    let text = json!({ "action": action, "prompt": prompt }).to_string();
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// Separates the call from the plugin's prompt in a summary.
const ASKS: &str = " asks: ";

/// `plugin command(arguments) asks: PROMPT`, within the store's summary limit: the call part is
/// cut first, so the prompt (at most `MAX_CONFIRM_PROMPT_BYTES`) is always shown whole.
fn summary(call_line: &str, prompt: &str) -> String {
    // The whole line is kept under the limit less 4 bytes, and `sanitize_line` may add `…`
    // (3 bytes) past the call part's budget.
    let budget = ward_store::MAX_SUMMARY_BYTES
        .saturating_sub(4 + 3 + ASKS.len() + prompt.len())
        .max(16);
    let call = ward_policy::text::sanitize_line(call_line, budget);
    let line = format!("{call}{ASKS}{prompt}");
    ward_policy::text::sanitize_line(&line, ward_store::MAX_SUMMARY_BYTES - 4)
}

/// `plugin command(a=1, b="x")`: the call part of a summary.
pub(crate) fn call_line(plugin: &str, command: &str, args: &Value) -> String {
    format!(
        "{plugin} {command}({})",
        crate::call::arg_parts(args).join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_keeps_the_whole_prompt_and_cuts_the_call() {
        let prompt = "p".repeat(ward_runtime::MAX_CONFIRM_PROMPT_BYTES);
        let call = format!("example:drafts discard(titles={})", "t".repeat(600));
        let s = summary(&call, &prompt);
        assert!(s.len() <= ward_store::MAX_SUMMARY_BYTES, "{}", s.len());
        assert!(s.ends_with(&format!("{ASKS}{prompt}")), "{s}");
        assert!(s.starts_with("example:drafts discard(titles=ttt"), "{s}");
        assert_eq!(
            summary("example:drafts discard()", "Delete 2 drafts?"),
            "example:drafts discard() asks: Delete 2 drafts?"
        );
    }

    #[test]
    fn asks_are_bound_to_their_prompt() {
        assert_ne!(
            prompt_hash("a", "Delete 1 draft?"),
            prompt_hash("a", "Delete 2 drafts?")
        );
        assert_ne!(prompt_hash("a", "x"), prompt_hash("b", "x"));
        assert_eq!(prompt_hash("a", "x"), prompt_hash("a", "x"));
    }
}

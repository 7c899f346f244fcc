//! `ward:plugin/confirm`: a plugin asks the operator to approve one action while it runs.
//!
//! The host checks and sanitizes the prompt, then asks the call's [`ConfirmHook`] (the daemon's
//! confirmation store, or the terminal of `ward run`). No hook means the plugin was not granted
//! confirmations: the answer is false. A hook that has no decision yet stops the call with a
//! [`ConfirmPending`] trap payload, which `ward-runtime` turns into a typed outcome; the guest
//! never sees a value for that ask.

use crate::State;
use crate::bindings::ward::plugin::confirm::Host;

/// Longest prompt accepted, in bytes; a longer prompt is denied (never cut, so the operator
/// never approves a prefix of what the plugin meant).
///
/// Threat: a plugin pushing the plugin, command and arguments out of the operator's sight with a
/// long prompt, or bloating the list of pending confirmations.
pub const MAX_CONFIRM_PROMPT_BYTES: usize = 256;

/// What the operator decided about one ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmAnswer {
    /// Approved for exactly this ask; the approval is spent.
    Approved,
    /// Denied, or nobody can answer (fail closed).
    Denied,
    /// No decision yet: the call stops and its caller is told to wait for this confirmation.
    Pending(ConfirmPending),
}

/// A confirmation the call is waiting for. Carried out of the call as a trap payload and
/// reported as `ward_runtime::CallError::ConfirmPending`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the call is waiting for the operator to decide confirmation {id}")]
pub struct ConfirmPending {
    /// The confirmation's identifier.
    pub id: String,
    /// The one sanitized line the operator reads.
    pub summary: String,
    /// When it expires (denied), RFC 3339 UTC.
    pub expires: String,
}

/// Answers a plugin's mid-run asks for one call. Built by the host for exactly that call (the
/// daemon binds it to the caller, the plugin's digest, the command and its arguments).
pub trait ConfirmHook: Send + Sync {
    /// Decides the ask described by `prompt`: one line, already checked against
    /// [`MAX_CONFIRM_PROMPT_BYTES`] and sanitized by [`sanitize_prompt`]. Any error must be
    /// answered [`ConfirmAnswer::Denied`].
    fn confirm(&self, prompt: &str) -> ConfirmAnswer;
}

/// Why a prompt was refused before any operator saw it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    /// Nothing (or only white space) to show.
    #[error("the confirmation prompt is empty")]
    Empty,
    /// Longer than [`MAX_CONFIRM_PROMPT_BYTES`].
    #[error("the confirmation prompt is {0} bytes; the limit is {MAX_CONFIRM_PROMPT_BYTES}")]
    TooLong(usize),
}

/// The prompt as the operator will see it: one line in which every control character (escape
/// sequences, carriage returns, newlines), Unicode bidi control and line or paragraph separator
/// is replaced with U+FFFD, so that a plugin cannot recolour, overwrite, reorder or add lines
/// to what the operator reads. Empty and over-long prompts are refused.
pub fn sanitize_prompt(prompt: &str) -> Result<String, PromptError> {
    if prompt.len() > MAX_CONFIRM_PROMPT_BYTES {
        return Err(PromptError::TooLong(prompt.len()));
    }
    if prompt.trim().is_empty() {
        return Err(PromptError::Empty);
    }
    Ok(prompt
        .chars()
        .map(|c| {
            if c.is_control()
                || ward_policy::text::is_bidi_control(c)
                || matches!(c, '\u{2028}' | '\u{2029}')
            {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect())
}

impl State {
    fn deny_confirm(&mut self, reason: &str) -> wasmtime::Result<bool> {
        if !self.confirm_warned {
            tracing::warn!(plugin = %self.plugin, "denied confirmation: {reason}");
            self.confirm_warned = true;
        }
        Ok(false)
    }
}

impl Host for State {
    fn confirm(&mut self, prompt: String) -> wasmtime::Result<bool> {
        let Some(hook) = self.confirm.clone() else {
            return self.deny_confirm("the plugin was not granted confirmations");
        };
        // Prompts share the output budget with log lines.
        let cost = prompt.len().min(MAX_CONFIRM_PROMPT_BYTES) as u64;
        if self.log_budget < cost {
            return self.deny_confirm("the call's output limit is spent");
        }
        self.log_budget -= cost;
        let shown = match sanitize_prompt(&prompt) {
            Ok(shown) => shown,
            Err(err) => return self.deny_confirm(&err.to_string()),
        };
        let asked = std::time::Instant::now();
        let answer = hook.confirm(&shown);
        // Time spent waiting for the operator is not the guest's.
        self.operator_wait.add(asked.elapsed());
        match answer {
            ConfirmAnswer::Approved => Ok(true),
            ConfirmAnswer::Denied => Ok(false),
            ConfirmAnswer::Pending(pending) => Err(wasmtime::Error::new(pending)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_are_one_sanitized_line() {
        let table = [
            ("Delete 3 notes?", "Delete 3 notes?"),
            ("\x1b[2J\x1b[Happroved", "\u{FFFD}[2J\u{FFFD}[Happroved"),
            ("ok\nplugin: trusted", "ok\u{FFFD}plugin: trusted"),
            ("ok\r\x1b[Kfake", "ok\u{FFFD}\u{FFFD}[Kfake"),
            ("abc\u{202E}fed", "abc\u{FFFD}fed"),
            ("a\u{2066}b\u{2069}", "a\u{FFFD}b\u{FFFD}"),
            ("line\u{2028}sep\u{2029}", "line\u{FFFD}sep\u{FFFD}"),
            ("bell\x07", "bell\u{FFFD}"),
            ("héllo ✓", "héllo ✓"),
        ];
        for (input, want) in table {
            assert_eq!(sanitize_prompt(input).as_deref(), Ok(want), "{input:?}");
        }
    }

    #[test]
    fn empty_and_over_long_prompts_are_refused() {
        assert_eq!(sanitize_prompt(""), Err(PromptError::Empty));
        assert_eq!(sanitize_prompt("  \t"), Err(PromptError::Empty));
        let long = "x".repeat(MAX_CONFIRM_PROMPT_BYTES + 1);
        assert_eq!(
            sanitize_prompt(&long),
            Err(PromptError::TooLong(MAX_CONFIRM_PROMPT_BYTES + 1))
        );
        assert_eq!(
            PromptError::TooLong(300).to_string(),
            "the confirmation prompt is 300 bytes; the limit is 256"
        );
        let exact = "x".repeat(MAX_CONFIRM_PROMPT_BYTES);
        assert_eq!(sanitize_prompt(&exact), Ok(exact.clone()));
    }
}

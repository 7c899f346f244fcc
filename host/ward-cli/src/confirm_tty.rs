//! Mid-run confirmations (`ward:plugin/confirm`) for `ward run`: the operator is at the
//! terminal, so the plugin's prompt is shown there and answered at once.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::sync::Arc;

use ward_runtime::{ConfirmAnswer, ConfirmHook};

/// Longest answer line read from the terminal.
///
/// Threat: an endless line on stdin holding the call and the host's memory.
const MAX_ANSWER_BYTES: u64 = 256;

/// What the operator types to approve.
const APPROVE: &str = "yes";

/// Asks on the terminal for each of one call's asks.
struct TerminalConfirm {
    plugin: String,
    command: String,
}

/// The hook for one call of `command` of `plugin`: shows the (already sanitized) prompt on
/// stderr and approves only when the operator types `yes`. Without a terminal on stdin and
/// stderr every ask is denied, with a note on stderr.
pub(crate) fn hook(plugin: &str, command: &str) -> Arc<dyn ConfirmHook> {
    Arc::new(TerminalConfirm {
        plugin: plugin.to_owned(),
        command: command.to_owned(),
    })
}

impl ConfirmHook for TerminalConfirm {
    fn confirm(&self, prompt: &str) -> ConfirmAnswer {
        let (plugin, command) = (&self.plugin, &self.command);
        if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
            eprintln!(
                "{plugin} {command} asked for your confirmation, denied: not on a terminal (run it interactively, or through wardd and `ward confirm`)"
            );
            return ConfirmAnswer::Denied;
        }
        eprintln!("{plugin} {command} asks you to confirm:\n    {prompt}");
        eprint!("type '{APPROVE}' to approve: ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        let read = std::io::stdin()
            .lock()
            .take(MAX_ANSWER_BYTES)
            .read_line(&mut line);
        if read.is_ok() && line.trim() == APPROVE {
            ConfirmAnswer::Approved
        } else {
            eprintln!("not approved");
            ConfirmAnswer::Denied
        }
    }
}

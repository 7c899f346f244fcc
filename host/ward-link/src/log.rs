//! `ward:plugin/log`: diagnostics from a plugin to the operator's log.

use crate::State;

use crate::bindings::ward::plugin::log::{Host, Level};

/// Longest log line kept; longer lines are cut, so a guest cannot make the host log
/// unbounded text.
pub(crate) const MAX_LOG_LINE: usize = 4096;

impl Host for State {
    fn log(&mut self, level: Level, message: String) {
        // Log lines share the output budget: once it is spent, further lines are dropped.
        let cost = message.len().min(MAX_LOG_LINE) as u64;
        if self.log_budget < cost {
            if !self.log_dropped {
                tracing::warn!(plugin = %self.plugin, "log limit reached; further lines dropped");
                self.log_dropped = true;
            }
            return;
        }
        self.log_budget -= cost;
        // Redacted before it is cut and sanitized, so a credential is never cut into a visible
        // prefix and a private-key block is still recognised by its line breaks.
        let line = crate::redacted_line(&self.redactor, &message, MAX_LOG_LINE);
        let plugin = self.plugin.as_str();
        match level {
            Level::Trace => tracing::trace!(plugin, "{line}"),
            Level::Debug => tracing::debug!(plugin, "{line}"),
            Level::Info => tracing::info!(plugin, "{line}"),
            Level::Warn => tracing::warn!(plugin, "{line}"),
            Level::Error => tracing::error!(plugin, "{line}"),
        }
    }
}

//! What ward prints: data on stdout, logs and guest diagnostics on stderr.

use std::io::{IsTerminal, Write};

use serde_json::Value;
use tracing_subscriber::EnvFilter;

/// Installs the stderr logger. `RUST_LOG` overrides the level chosen by -v/-q.
pub(crate) fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .without_time()
        .try_init();
}

/// Whether `err` is a write to a closed pipe (for example `ward ... | head`), which is not an
/// error worth reporting.
pub(crate) fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Prints `value` as one line of JSON on stdout. Bidi controls and line/paragraph separators
/// are written as `\u` escapes (control characters already are), so that the line is inert for a
/// person reading it and for a JavaScript consumer alike.
pub(crate) fn print_json(value: &Value) -> anyhow::Result<()> {
    let text = ward_policy::text::escape_json_text(&serde_json::to_string(value)?);
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()?;
    Ok(())
}

/// Prints a command's result for a person: a string as its text, anything else as JSON.
/// Guest-controlled text is stripped of control characters (but newline and tab), bidi controls
/// and line/paragraph separators whether stdout is a terminal or not: a pipe or a file is read by
/// a person later (`less`, `cat`), so ESC sequences must not survive there either. `--json` is the
/// form for machines.
pub(crate) fn print_result(value: &Value, raw_program_output: bool) -> anyhow::Result<()> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Null => return Ok(()),
        other => serde_json::to_string_pretty(other)?,
    };
    let text = ward_policy::text::sanitize(&text, true);
    let mut out = std::io::stdout().lock();
    if raw_program_output {
        out.write_all(text.as_bytes())?;
    } else {
        writeln!(out, "{text}")?;
    }
    out.flush()?;
    Ok(())
}

/// Shows what a guest wrote to stdout/stderr (diagnostics, not the result) on stderr,
/// sanitized and marked as coming from the plugin.
pub(crate) fn guest_streams(stdout: &[u8], stderr: &[u8]) {
    for (name, bytes) in [("stdout", stdout), ("stderr", stderr)] {
        if bytes.is_empty() {
            continue;
        }
        let text = ward_policy::text::sanitize(String::from_utf8_lossy(bytes).trim_end(), true);
        eprintln!("plugin {name}:\n{}", indent_guest(&text));
    }
}

/// Indents guest text so it cannot pass for ward's own output.
pub(crate) fn indent_guest(text: &str) -> String {
    text.lines()
        .map(|line| format!("  | {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Flushes stdout before the process reports its status.
pub(crate) fn flush() {
    let _ = std::io::stdout().flush();
}

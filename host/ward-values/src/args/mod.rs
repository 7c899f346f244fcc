//! Arguments to component values, checked against the command's WIT types: from a JSON object
//! ([`json`]) or from command-line `NAME=VALUE` pairs and argv ([`cli`]); numbers ([`numbers`])
//! follow the same rules in both. Here: the refusals and how they echo what the caller gave.

mod cli;
mod json;
mod numbers;

use serde_json::Value;

use crate::text::join;
use crate::{Command, CommandKind};
#[cfg(doc)]
use crate::{MAX_ARGS_BYTES, MAX_ARGS_JSON_BYTES, MAX_DEPTH, MAX_LIST_LEN};

pub use cli::{RequestError, args_from_cli, call_request, cli_arg};
pub use json::{args_from_json, parse_args};

/// Most characters of a caller-supplied value echoed back in an error message.
const MAX_ECHO_CHARS: usize = 40;

/// Why a request's arguments were refused. Every message names the argument and says what was
/// expected; values given by the caller are echoed only in part, escaped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArgError {
    /// The text is not JSON (this includes lone UTF-16 surrogate escapes such as `"\ud800"`).
    #[error("arguments are not valid json: {0}")]
    Json(String),
    /// The JSON text is longer than [`MAX_ARGS_JSON_BYTES`].
    #[error("arguments are {size} bytes of json; the limit is {limit}")]
    JsonTooLarge {
        /// Length of the text.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The arguments are not a JSON object.
    #[error("arguments must be a json object of named arguments, got {got}")]
    NotAnObject {
        /// What was given.
        got: String,
    },
    /// A command-line argument is not `NAME=VALUE`.
    #[error("expected NAME=VALUE, got {got}")]
    NotNameValue {
        /// What was given.
        got: String,
    },
    /// The command cannot be called with named arguments.
    #[error("command '{command}' cannot be called with json arguments: {reason}")]
    UnsupportedCommand {
        /// The command.
        command: String,
        /// Why.
        reason: String,
    },
    /// A required argument (or record field) is missing.
    #[error("missing argument '{path}' ({expected})")]
    Missing {
        /// Path of the argument, such as `name` or `point.y`.
        path: String,
        /// Its WIT type.
        expected: String,
    },
    /// An argument the command does not take.
    #[error("unknown argument '{name}'; the command takes: {takes}")]
    UnknownArgument {
        /// The name given.
        name: String,
        /// The parameters the command has (`nothing` for none).
        takes: String,
    },
    /// The same argument is given twice (on the command line).
    #[error("argument '{name}' is given twice")]
    DuplicateArgument {
        /// The name given.
        name: String,
    },
    /// A record field the record does not have.
    #[error("unknown field '{path}'; the record has: {fields}")]
    UnknownField {
        /// Path of the field, such as `point.z`.
        path: String,
        /// The fields the record has.
        fields: String,
    },
    /// A value of the wrong JSON type or shape.
    #[error("argument '{path}': expected {expected}, got {got}")]
    WrongType {
        /// Path of the argument.
        path: String,
        /// What was expected (a WIT type, sometimes with its JSON form).
        expected: String,
        /// What was given.
        got: String,
    },
    /// A number outside the range of its type.
    #[error("argument '{path}': {value} is out of range for {ty} ({range})")]
    OutOfRange {
        /// Path of the argument.
        path: String,
        /// The value given.
        value: String,
        /// The WIT type.
        ty: &'static str,
        /// The range the type accepts.
        range: &'static str,
    },
    /// A case name that the variant, enum, flags, result or option does not have.
    #[error("argument '{path}': unknown case {case}; expected one of: {cases}")]
    UnknownCase {
        /// Path of the argument.
        path: String,
        /// The case name given (quoted and escaped).
        case: String,
        /// The case names accepted.
        cases: String,
    },
    /// A variant case that carries a payload was given without one.
    #[error(
        "argument '{path}': case '{case}' carries a payload ({expected}); write {{\"{case}\": ...}}"
    )]
    MissingPayload {
        /// Path of the argument.
        path: String,
        /// The case.
        case: String,
        /// The payload's WIT type.
        expected: String,
    },
    /// A flag named twice.
    #[error("argument '{path}': flag '{flag}' is given twice")]
    DuplicateFlag {
        /// Path of the argument.
        path: String,
        /// The flag.
        flag: String,
    },
    /// A tuple or fixed-length list given with the wrong number of elements.
    #[error("argument '{path}': expected {expected} elements for {ty}, got {got}")]
    WrongLength {
        /// Path of the argument.
        path: String,
        /// The WIT type.
        ty: String,
        /// The number of elements it has.
        expected: usize,
        /// The number given.
        got: usize,
    },
    /// A list longer than [`MAX_LIST_LEN`].
    #[error("argument '{path}': {len} elements is more than the limit of {limit}")]
    ListTooLong {
        /// Path of the argument.
        path: String,
        /// Elements given.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("argument '{path}': nested deeper than {limit} levels")]
    TooDeep {
        /// Path where the limit was reached.
        path: String,
        /// The limit.
        limit: usize,
    },
    /// The converted arguments would take more than [`MAX_ARGS_BYTES`] of memory.
    #[error("arguments take more than {limit} bytes once converted (at '{path}')")]
    TooLarge {
        /// Path where the limit was reached.
        path: String,
        /// The limit.
        limit: usize,
    },
    /// A type that has no JSON form (resources, futures, streams, error contexts).
    #[error("argument '{path}': values of type {ty} cannot be passed as json")]
    Unsupported {
        /// Path of the argument.
        path: String,
        /// The WIT type.
        ty: String,
    },
}

fn check_callable(cmd: &Command) -> Result<(), ArgError> {
    if let Some(reason) = &cmd.unsupported {
        return Err(ArgError::UnsupportedCommand {
            command: cmd.name.clone(),
            reason: reason.clone(),
        });
    }
    if let CommandKind::CliRun { export } = &cmd.kind {
        return Err(ArgError::UnsupportedCommand {
            command: cmd.name.clone(),
            reason: format!("it is a {export} program, which takes command-line arguments"),
        });
    }
    Ok(())
}

fn takes(cmd: &Command) -> String {
    if cmd.params.is_empty() {
        "nothing".to_string()
    } else {
        join(cmd.params.iter().map(|(p, _)| p.as_str()))
    }
}

/// A caller-supplied string, cut to [`MAX_ECHO_CHARS`] characters, quoted and escaped so that it
/// cannot carry control or bidi characters into a terminal.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for (i, c) in s.chars().enumerate() {
        if i == MAX_ECHO_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() || is_bidi_or_invisible(c) || c == '"' || c == '\\' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// A caller-supplied name echoed inside quotes in a message: cut and escaped like [`quote`],
/// without the surrounding quotes.
fn echo(s: &str) -> String {
    let q = quote(s);
    q[1..q.len() - 1].to_string()
}

fn is_bidi_or_invisible(c: char) -> bool {
    matches!(c,
        '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}'
        | '\u{feff}')
}

/// What a JSON value is, for "got ..." in messages.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {}", quote(s)),
        Value::Array(a) => format!("an array of {} elements", a.len()),
        Value::Object(o) if o.is_empty() => "an empty object".to_string(),
        Value::Object(o) => {
            let mut keys: Vec<String> = o.keys().take(8).map(|k| echo(k)).collect();
            if o.len() > keys.len() {
                keys.push("…".to_string());
            }
            format!("an object with keys {}", keys.join(", "))
        }
    }
}

//! Types: WIT signatures, JSON Schemas and the JSON <-> component value mapping.
//!
//! A ward request is a command name plus a JSON object of named arguments. The names and types of
//! the parameters come from the component itself ([`commands`]); [`args_from_json`] turns the JSON
//! object into [`wasmtime::component::Val`]s and refuses any mismatch, naming the argument (a path
//! such as `point.x` or `items[3]`), the expected WIT type and what was given, before any guest
//! code runs. [`result_to_json`] turns what the guest returned back into JSON, within a byte budget.
//!
//! The mapping itself is documented for users in `docs/json-mapping.md`.
//!
//! Everything here is bounded: nesting depth ([`MAX_DEPTH`]), list length ([`MAX_LIST_LEN`]),
//! the memory converted arguments may take ([`MAX_ARGS_BYTES`]), the size of a result and of the
//! texts built from guest-supplied type information.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod args;
mod command;
mod describe;
mod result;
mod schema;
mod text;

#[cfg(test)]
mod testutil;

pub use args::{
    ArgError, RequestError, args_from_cli, args_from_json, call_request, cli_arg, parse_args,
};
pub use command::{Command, CommandKind, commands};
pub use describe::{
    DescribeError, WIT_KEYWORDS, WitDescription, WitFunction, WitTypeDef, describe_wit,
};
pub use result::{ResultError, result_to_json};
pub use schema::json_schema;
pub use text::{wit_signature, wit_type};

/// Deepest nesting of compound values (records, lists, variants, options, ...) accepted in
/// arguments and produced in results.
///
/// Threat: a deeply nested argument or guest result that would exhaust the host's stack while it is
/// converted (serde_json's own parser stops at 128 levels; values built in other ways do not).
pub const MAX_DEPTH: usize = 64;

/// Most elements one list argument (or map, or flags set) may have.
///
/// Threat: a request that makes the host allocate a `Val` per element for a huge list before the
/// guest ever sees it.
pub const MAX_LIST_LEN: usize = 1 << 20;

/// Most host memory, in bytes, that the converted arguments of one call may take (each value node
/// counts its in-memory size, strings their length on top).
///
/// Threat: a request whose arguments make the host allocate, and then copy into the guest, an
/// unbounded amount of memory.
pub const MAX_ARGS_BYTES: usize = 64 << 20;

/// Longest JSON text accepted by [`parse_args`].
///
/// Threat: a request body so large that parsing it alone exhausts host memory.
pub const MAX_ARGS_JSON_BYTES: usize = 16 << 20;

/// A sensible default for the `max_bytes` budget of [`result_to_json`].
///
/// Threat: a guest that returns a huge value so that the host builds unbounded JSON from it.
pub const DEFAULT_MAX_RESULT_BYTES: usize = 16 << 20;

/// Most type nodes visited when a command's parameter or result type is walked (to find types
/// that have no JSON form, or to build a JSON Schema).
///
/// Threat: a component whose types share sub-types so that expanding them as a tree is exponential
/// in the size of the component.
pub const MAX_TYPE_NODES: usize = 100_000;

/// Largest [`WitDescription`] [`describe_wit`] builds, in bytes of text.
///
/// Threat: a component whose type information expands into an unbounded amount of text.
pub const MAX_DESCRIBE_BYTES: usize = 1 << 20;

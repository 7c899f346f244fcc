//! Policy that needs no wasmtime: the limits that protect the host from a guest, their
//! parsers, and the sanitizing of guest-controlled text before a person reads it.
//!
//! Everything here is unit-tested in milliseconds; the runtime turns these values into
//! wasmtime settings.
#![deny(missing_docs)]

pub mod gates;
pub mod limits;
pub mod text;

pub use gates::{GateParseError, Rate, parse_period, parse_rate};
pub use limits::{
    COMPILE_TIMEOUT, DEFAULT_HANDLES, Limit, LimitExceeded, Limits, MAX_CODE_BYTES,
    MAX_COMPONENT_BYTES, MAX_FUNCTION_BODY_BYTES, MAX_FUNCTIONS, MAX_HANDLES,
    MAX_LOCALS_TIMES_BODY, MAX_RANDOM_BYTES, MAX_WASM_STACK, ParseError, format_bytes,
    format_duration, parse_count, parse_duration, parse_size,
};

//! The runtime, capabilities, confirmations and redaction against real plugins; one test binary with a module per subject.

mod capabilities;
mod confirm;
mod redaction;
mod runtime;

//! Limits and policy values that protect the host from a guest; no wasmtime.

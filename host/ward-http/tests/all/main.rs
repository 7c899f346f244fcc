//! ward-http's integration tests: real loopback servers (plain and TLS); one test binary with a module per subject.

mod http;
mod secrets;

//! ward-cli's integration tests: the real `ward` binary (and `wardd`, `ward mcp`) in temporary homes, one test binary with a module per subject.

mod agents;
mod audit;
mod cli;
mod confirm;
mod diff;
mod install;
mod lang;
mod mcp;
mod proposals;
mod secrets;

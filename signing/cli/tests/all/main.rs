//! Integration tests of the `ward-sign` binary: its CLI, interop with the real `wasmsign2` CLI,
//! and the CI reproducible-build flow (issue 3).
#![allow(clippy::unwrap_used)]

mod cli;
mod interop;
mod repro;

pub(crate) use ward_testkit::component::*;

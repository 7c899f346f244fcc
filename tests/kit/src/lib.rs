//! ward's shared test kit (dev-only): what integration tests across the workspace set up the
//! same way. Nothing here is used by a shipped binary.
#![allow(clippy::unwrap_used, missing_docs)]

pub mod component;
#[cfg(feature = "install")]
pub mod install;

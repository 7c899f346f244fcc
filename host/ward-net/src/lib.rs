//! Network policy that needs no wasmtime: which outbound HTTP requests a plugin's grant allows,
//! and which addresses those requests may connect to.
//!
//! A [`NetPolicy`] is built from the `capabilities.network` rules of a verified manifest that the
//! operator consented to. [`NetPolicy::check_request`] decides a request from its method and URL
//! alone (scheme, host, port, method); [`NetPolicy::check_resolved`] then decides each address the
//! host name resolved to, so that a granted name cannot lead to the host itself, the operator's
//! networks or the cloud metadata service unless a grant names that address.
//!
//! Everything refused is a [`Denied`] whose message names the destination and why.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod addr;
mod policy;

pub use addr::{AddrKind, canonical, classify};
pub use policy::{Allowed, Denied, NetPolicy};

//! The call pipeline: every call of an installed plugin goes through it, whoever asks (`ward
//! run` standalone, the daemon's operator and agent sockets, and MCP through the agent socket),
//! so a check added to a step holds everywhere. The steps, in order ([`Pipeline::run`]):
//!
//! 1. the presenter's request gates ([`Gates::admit_request`]: an agent token's scope and rate);
//! 2. authorize and prepare ([`Pipeline::load`]): the current version may run under the trust
//!    store and policy as they are now ([`ward_trust::authorize`]), with exactly the grants bound
//!    to its digest ([`prepare`]: environment, directories outside ward's own, key-value, network,
//!    secrets by reference, paper mode), then compiled and linked — from the warm cache while
//!    nothing it was decided from changed;
//! 3. arguments ([`Pipeline::arguments`]): checked against the command's WIT types;
//! 4. the presenter's call gates ([`Gates::admit_call`]: confirmation, daily caps, concurrency);
//! 5. the audit reservation ([`Pipeline::reserve`]): the call's audit row can be written, or the
//!    call does not start;
//! 6. the call, under the manifest's limits, in a fresh instance;
//! 7. the outcome ([`Finished`]): the result or the [`Failure`] (one [`Failure::kind`] for every
//!    path), with the audit rows and usage counters the presenter commits before it answers.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod descriptors;
mod failure;
mod kv;
mod pipeline;
mod prepare;

pub use descriptors::{MIN_CALL_HANDLES, RESERVED_DESCRIPTORS, per_call_handles};
pub use failure::{Failure, GateRefusal, call_kind, chain};
pub use kv::StoreKv;
pub use pipeline::{
    Admission, Admit, CallRequest, Finish, Finished, Gates, Input, LoadCache, Loaded, NoGates,
    Output, Pipeline, StoreAccess, printable_ident,
};
pub use prepare::{ExecError, Prepared, is_paper, paper_entry, prepare, prepare_with};
pub use ward_home::{Home, OperatorPolicy};
pub use ward_link::{DirGrant, Grants};

/// A call waiting for the operator's confirmation: nothing ran (a gate) or the call stopped at
/// the plugin's ask (mid-run); repeat it once the operator decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The confirmation's id.
    pub id: String,
    /// Its state (`pending`, or already decided when polled).
    pub state: ward_store::ConfirmState,
    /// The one sanitized line the operator reads.
    pub summary: String,
    /// When it expires, RFC 3339 UTC.
    pub expires: String,
}

//! `ward mcp`: the Model Context Protocol on stdio for an agent holding a `wk_` token.
//!
//! Every request goes to the daemon's **agent** socket with that token, so the daemon's token
//! scope, rate and daily gates, confirmations and audit apply exactly as to any agent; this
//! crate holds no operator authority and opens neither the store nor the operator socket.
//!
//! - `tools/list`: one tool per command the token allows (`GET /v1/commands`): name
//!   `NAMESPACE_NAME__COMMAND` (see [`names`]), description from the manifest and the WIT
//!   signature, `inputSchema` from the WIT types; plus `propose_capability` and
//!   `confirmation_status`.
//! - `tools/call`: `POST /v1/run`. A value is a result; a WIT `err`, a refusal (with the
//!   daemon's error kind) or a call waiting on a confirmation is a result with `isError: true`
//!   whose text says which, and for a pending call the confirmation id and how the operator
//!   approves it.
//! - `propose_capability`: `POST /v1/proposals` with the component (base64), its examples and
//!   source files.
//!
//! Incoming JSON-RPC lines are bounded by [`MAX_LINE_BYTES`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod names;
mod reply;
mod server;
pub mod token;

use rmcp::ServiceExt as _;
use rmcp::transport::async_rw::AsyncRwTransport;

pub use server::{
    MAX_PROPOSAL_COMPONENT_BYTES, MAX_PROPOSAL_EXAMPLES_BYTES, MAX_PROPOSAL_SOURCE_BYTES, WardMcp,
};
pub use token::{AgentToken, TokenError};

/// Longest JSON-RPC message accepted on stdin, in bytes; a longer line is dropped without
/// being buffered, unanswered, and the session goes on.
///
/// Threat: a client (or whatever feeds stdin) sending an endless line to exhaust memory. Sized
/// for a `propose_capability` call carrying [`MAX_PROPOSAL_COMPONENT_BYTES`] as base64.
pub const MAX_LINE_BYTES: usize = 12 * 1024 * 1024;

/// Why serving stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The MCP handshake failed (the client sent no valid `initialize`, or went away).
    #[error("the MCP session could not start: {0}")]
    Initialize(String),
    /// The session task failed.
    #[error("the MCP session ended abnormally: {0}")]
    Session(#[from] tokio::task::JoinError),
}

/// Serves MCP on stdin/stdout until the client closes stdin.
pub async fn serve_stdio(server: WardMcp) -> Result<(), ServeError> {
    let transport = AsyncRwTransport::new_server(tokio::io::stdin(), tokio::io::stdout())
        .with_max_line_length(MAX_LINE_BYTES);
    let running = server
        .serve(transport)
        .await
        .map_err(|e| ServeError::Initialize(e.to_string()))?;
    let reason = running.waiting().await?;
    tracing::debug!("MCP session ended: {reason:?}");
    Ok(())
}

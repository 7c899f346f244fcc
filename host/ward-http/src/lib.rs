//! The `wasi:http/outgoing-handler` hook that sends only what a plugin was granted.
//!
//! [`GrantedHttp`] implements wasmtime-wasi-http's
//! [`WasiHttpHooks`](wasmtime_wasi_http::WasiHttpHooks). For every request the guest makes it:
//!
//! 1. checks the method and URL against the plugin's [`NetPolicy`] (scheme, host, port, method;
//!    no user information, trailing dot or non-ASCII host) and refuses a `Host` header that
//!    disagrees with the URL;
//! 2. resolves the host itself and checks **every** address with
//!    [`NetPolicy::check_resolved`] (loopback, private, link-local, metadata… are refused unless
//!    a grant names them), then connects to one of those checked addresses, never resolving
//!    again (no DNS rebinding between check and connect); TLS still verifies the host name;
//! 3. sends the request without following redirects: a `3xx` reaches the guest as it is;
//! 4. bounds everything: request body, response header count and bytes, response body (while
//!    streaming), connect time and total time ([`HttpLimits`]; the guest's `request-options` may
//!    shorten the timeouts, never lengthen them).
//!
//! When the call has secrets bound ([`HttpGrant::with_secrets`]), `{{secret:NAME}}` placeholders
//! are substituted host-side under the rules of the `secrets` module (https only, bound host,
//! declared header or query parameter, else the request is refused unsent); every request asks
//! for `Accept-Encoding: identity`, an encoded response is refused, and response headers and body
//! are scrubbed of the values before the guest reads them (`Content-Length` is dropped: scrubbing
//! changes the length).
//!
//! **Paper mode** ([`HttpGrant::paper`]): a request other than `GET` or `HEAD` that the grant
//! allows is not sent. Its method and origin (never its path, query, headers or body) are
//! recorded in the call's [`PaperLog`], and the guest gets a synthetic `202 Accepted` with a JSON
//! body saying the request was held back. `GET` and `HEAD` go through as usual. A request the
//! grant refuses is refused as without paper mode.
//!
//! Every refusal is logged once at warn with its reason. `wasi:sockets` is not this crate's
//! business: it stays denied in the linker.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod body;
mod check;
mod egress;
mod grant;
mod hooks;
mod paper;
mod resolve;
mod secrets;
mod send;
mod tls;

pub use ward_net::{Allowed, Denied, NetPolicy};

pub use egress::EgressLog;
pub use grant::{
    CONNECT_TIMEOUT, HttpGrant, HttpLimits, MAX_REQUEST_BODY_BYTES, MAX_RESPONSE_BODY_BYTES,
    MAX_RESPONSE_HEADER_BYTES, MAX_RESPONSE_HEADERS, TOTAL_TIMEOUT,
};
pub use hooks::{GrantedHttp, hooks};
pub use paper::{HeldBack, MAX_PAPER_RECORDS, PAPER_BODY, PaperLog};
pub use resolve::{MAX_RESOLVED_ADDRS, ResolveFuture, Resolver, SystemResolver};
pub use secrets::BoundSecret;
pub use tls::{RootsError, TrustedRoots};

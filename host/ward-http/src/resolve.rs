//! Name resolution: the host resolves a granted name itself and checks **every** address before
//! connecting to one of them, never resolving again.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;

use tokio::time::Instant;
use ward_net::{Allowed, NetPolicy};
use wasmtime_wasi_http::Error;

/// Most addresses a name may resolve to; each one is checked. Threat: a resolver answer built to
/// make the host do unbounded work.
pub const MAX_RESOLVED_ADDRS: usize = 32;

/// What [`Resolver::resolve`] returns.
pub type ResolveFuture = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send>>;

/// Turns a host name into addresses. The system resolver is the default; tests inject one.
pub trait Resolver: Send + Sync {
    /// The addresses of `host` (lowercase, never an IP literal) on `port`.
    fn resolve(&self, host: &str, port: u16) -> ResolveFuture;
}

/// The operating system's resolver, through `tokio::net::lookup_host`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve(&self, host: &str, port: u16) -> ResolveFuture {
        let host = host.to_owned();
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), port))
                .await?
                .take(MAX_RESOLVED_ADDRS + 1)
                .collect())
        })
    }
}

/// The addresses to connect to for `allowed`: its IP literal, or the resolved addresses, each
/// checked against `policy`. A refusal comes with its reason for the log.
pub(crate) async fn checked_addresses(
    resolver: &dyn Resolver,
    policy: &NetPolicy,
    allowed: &Allowed,
    deadline: Instant,
) -> Result<Vec<SocketAddr>, (String, Error)> {
    let addrs = match allowed.ip() {
        Some(ip) => vec![SocketAddr::new(ip, allowed.port)],
        None => {
            let lookup = resolver.resolve(&allowed.host, allowed.port);
            match tokio::time::timeout_at(deadline, lookup).await {
                Err(_) => {
                    return Err(("name lookup timed out".to_owned(), Error::DnsTimeout));
                }
                Ok(Err(err)) => {
                    return Err((
                        format!("name lookup failed: {err}"),
                        Error::DnsError {
                            rcode: None,
                            info_code: None,
                        },
                    ));
                }
                Ok(Ok(addrs)) => addrs,
            }
        }
    };
    if addrs.is_empty() {
        return Err((
            "the name has no address".to_owned(),
            Error::DestinationNotFound,
        ));
    }
    if addrs.len() > MAX_RESOLVED_ADDRS {
        return Err((
            format!("the name has more than {MAX_RESOLVED_ADDRS} addresses"),
            Error::DestinationIpProhibited,
        ));
    }
    for addr in &addrs {
        policy
            .check_resolved(allowed, addr.ip())
            .map_err(|denied| (denied.to_string(), Error::DestinationIpProhibited))?;
    }
    Ok(addrs)
}

//! Refusals: each is logged once at warn (origin only, never path, query or user information)
//! and counted in the call's [`EgressLog`] for its audit row.

use std::fmt;
use std::sync::Arc;

use http::Uri;
use wasmtime_wasi_http::Error;

/// Logs a refusal once, at warn, and returns the error the guest sees.
pub(crate) fn refuse(
    uri: &Uri,
    reason: &dyn fmt::Display,
    err: Error,
    egress: Option<&EgressLog>,
) -> Error {
    let url = logged_origin(uri);
    tracing::warn!(url = %url, reason = %reason, "outgoing HTTP request refused");
    if let Some(log) = egress {
        log.record(refusal_code(&err));
    }
    err
}

/// The audit code of a refusal, from what the guest is told.
fn refusal_code(err: &Error) -> &'static str {
    match err {
        Error::HttpRequestDenied => "not-granted",
        Error::DestinationIpProhibited => "address-denied",
        Error::HttpRequestBodySize(_) => "request-too-large",
        Error::DnsTimeout | Error::DnsError { .. } => "dns-failed",
        Error::HttpResponseHeaderSectionSize(_)
        | Error::HttpResponseHeaderSize { .. }
        | Error::HttpResponseBodySize(_)
        | Error::HttpResponseTrailerSectionSize(_)
        | Error::HttpResponseTrailerSize { .. } => "response-too-large",
        Error::ConnectionTimeout | Error::ConnectionReadTimeout | Error::ConnectionWriteTimeout => {
            "timeout"
        }
        _ => "failed",
    }
}

/// Most distinct refusal codes kept per call. Threat: none grows without bound; the codes are a
/// closed set, this only makes the bound explicit.
const MAX_EGRESS_CODES: usize = 16;

/// The outgoing requests one call had refused: how many, and why (codes such as `not-granted`,
/// `address-denied`), for the call's audit row. Nothing of the request itself is kept.
#[derive(Debug, Clone, Default)]
pub struct EgressLog {
    inner: Arc<std::sync::Mutex<(u64, std::collections::BTreeSet<&'static str>)>>,
}

impl EgressLog {
    /// An empty record.
    pub fn new() -> EgressLog {
        EgressLog::default()
    }

    /// Records one refused request.
    pub fn record(&self, code: &'static str) {
        if let Ok(mut g) = self.inner.lock() {
            g.0 = g.0.saturating_add(1);
            if g.1.len() < MAX_EGRESS_CODES {
                g.1.insert(code);
            }
        }
    }

    /// How many requests were refused, and the distinct codes.
    pub fn summary(&self) -> (u64, Vec<&'static str>) {
        self.inner
            .lock()
            .map(|g| (g.0, g.1.iter().copied().collect()))
            .unwrap_or_default()
    }
}

/// The URL without path and query (they may carry data the log must not hold).
pub(crate) fn logged_origin(uri: &Uri) -> String {
    // Host and port only: user information (`user:token@`) is guest data that may hold a
    // credential, so it never reaches the log.
    let host = uri.host().unwrap_or("");
    let port = uri.port().map(|p| format!(":{p}")).unwrap_or_default();
    format!("{}://{host}{port}", uri.scheme_str().unwrap_or(""))
        .chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_information_never_reaches_the_log() {
        let uri: Uri = "https://user:ghp_token@api.example.com:8443/path?q=1"
            .parse()
            .unwrap();
        assert_eq!(logged_origin(&uri), "https://api.example.com:8443");
        let uri: Uri = "http://example.com/x".parse().unwrap();
        assert_eq!(logged_origin(&uri), "http://example.com");
    }
}

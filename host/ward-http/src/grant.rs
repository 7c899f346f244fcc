//! What one call may reach over HTTP ([`HttpGrant`]) and the caps every request is held to
//! ([`HttpLimits`], whose defaults are the constants here).

use std::time::Duration;

use ward_net::NetPolicy;

use crate::paper::PaperLog;
use crate::secrets::BoundSecret;

/// Largest request body sent, in bytes. Threat: a guest using the host as an upload pump.
pub const MAX_REQUEST_BODY_BYTES: u64 = 16 * 1024 * 1024;
/// Most header fields in a response. Threat: a server sending 100,000 header lines to make the
/// host allocate and parse without end.
pub const MAX_RESPONSE_HEADERS: usize = 100;
/// Largest response header section (status line and fields), in bytes. Threat: a server sending
/// an endless header section.
pub const MAX_RESPONSE_HEADER_BYTES: usize = 64 * 1024;
/// Largest response body passed to the guest, in bytes, enforced while streaming. Threat: a
/// server sending a gigabyte (or an endless body) to exhaust the host's memory or the call's time.
pub const MAX_RESPONSE_BODY_BYTES: u64 = 16 * 1024 * 1024;
/// Longest wait for the TCP connection, TLS and HTTP handshake together. Threat: a destination
/// that accepts nothing and holds the call open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a request may take from the hook being called to the last byte of the response body.
/// Threat: a slow server (or a slow-drip body) holding host resources for ever.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(60);

/// The caps every request through [`GrantedHttp`](crate::GrantedHttp) is held to. The defaults are ward's constants;
/// an operator may lower them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Largest request body, bytes.
    pub request_body_bytes: u64,
    /// Most response header fields.
    pub response_headers: usize,
    /// Largest response header section, bytes.
    pub response_header_bytes: usize,
    /// Largest response body, bytes.
    pub response_body_bytes: u64,
    /// Longest connect (TCP, TLS and HTTP handshake).
    pub connect_timeout: Duration,
    /// Longest request, from the call to the end of the response body.
    pub total_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            request_body_bytes: MAX_REQUEST_BODY_BYTES,
            response_headers: MAX_RESPONSE_HEADERS,
            response_header_bytes: MAX_RESPONSE_HEADER_BYTES,
            response_body_bytes: MAX_RESPONSE_BODY_BYTES,
            connect_timeout: CONNECT_TIMEOUT,
            total_timeout: TOTAL_TIMEOUT,
        }
    }
}

/// What one call may reach over HTTP, and the caps it is held to.
#[derive(Debug, Clone, Default)]
pub struct HttpGrant {
    pub(crate) policy: NetPolicy,
    pub(crate) limits: HttpLimits,
    pub(crate) secrets: Vec<BoundSecret>,
    pub(crate) paper: Option<PaperLog>,
}

impl HttpGrant {
    /// A grant of `policy` under `limits`.
    pub fn new(policy: NetPolicy, limits: HttpLimits) -> HttpGrant {
        HttpGrant {
            policy,
            limits,
            secrets: Vec::new(),
            paper: None,
        }
    }

    /// The same grant in paper mode: requests other than `GET` and `HEAD` are recorded in `log`
    /// and answered with a synthetic `202`, never sent.
    pub fn paper(mut self, log: PaperLog) -> HttpGrant {
        self.paper = Some(log);
        self
    }

    /// The paper-mode record, when the grant is in paper mode.
    pub fn paper_log(&self) -> Option<&PaperLog> {
        self.paper.as_ref()
    }

    /// The same grant with `secrets` bound: their placeholders are substituted for their hosts,
    /// and every response is scrubbed of their values.
    pub fn with_secrets(mut self, secrets: Vec<BoundSecret>) -> HttpGrant {
        self.secrets = secrets;
        self
    }

    /// The secrets bound to the call.
    pub fn secrets(&self) -> &[BoundSecret] {
        &self.secrets
    }

    /// A grant of a manifest's `capabilities.network` rules (as consented to) under ward's
    /// default caps.
    pub fn from_rules(rules: &[ward_manifest::NetworkRule]) -> HttpGrant {
        HttpGrant::new(NetPolicy::new(rules), HttpLimits::default())
    }

    /// The destinations granted.
    pub fn policy(&self) -> &NetPolicy {
        &self.policy
    }

    /// The caps.
    pub fn limits(&self) -> &HttpLimits {
        &self.limits
    }
}

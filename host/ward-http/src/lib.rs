//! The `wasi:http/outgoing-handler` hook that sends only what a plugin was granted.
//!
//! [`GrantedHttp`] implements wasmtime-wasi-http's [`WasiHttpHooks`]. For every request the guest
//! makes it:
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
mod secrets;

use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Poll, ready};
use std::time::Duration;

use http::header::{CONTENT_LENGTH, HOST};
use http::{HeaderValue, Request, Response, Uri};
use http_body_util::BodyExt;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{
    DEFAULT_FORBIDDEN_HEADERS, Error, ForbiddenHeaderFilter, RequestOptions, WasiBody,
    WasiHttpHooks,
};

pub use ward_net::{Allowed, Denied, NetPolicy};

use body::{Capped, Scrubbed, Side};
pub use secrets::BoundSecret;

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
/// Most addresses a name may resolve to; each one is checked. Threat: a resolver answer built to
/// make the host do unbounded work.
pub const MAX_RESOLVED_ADDRS: usize = 32;

/// The caps every request through [`GrantedHttp`] is held to. The defaults are ward's constants;
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
    policy: NetPolicy,
    limits: HttpLimits,
    secrets: Vec<BoundSecret>,
    paper: Option<PaperLog>,
}

/// The synthetic body a request held back in paper mode gets.
pub const PAPER_BODY: &str = "{\"paper\":true,\"sent\":false,\"message\":\"ward paper mode: this request was recorded, not sent\"}";

/// Most held-back requests one call records. Threat: a guest looping on POSTs to make the host
/// grow the record (and the audit log) without end; later ones are still held back, uncounted.
pub const MAX_PAPER_RECORDS: usize = 256;

/// One request held back in paper mode: its method and origin only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBack {
    /// The method, e.g. `POST`.
    pub method: String,
    /// `scheme://host[:port]`, without path or query.
    pub origin: String,
}

/// The record of the requests a call held back in paper mode. Clones share the record.
#[derive(Debug, Clone, Default)]
pub struct PaperLog {
    held: Arc<std::sync::Mutex<Vec<HeldBack>>>,
}

impl PaperLog {
    /// An empty record.
    pub fn new() -> PaperLog {
        PaperLog::default()
    }

    fn push(&self, entry: HeldBack) {
        if let Ok(mut held) = self.held.lock()
            && held.len() < MAX_PAPER_RECORDS
        {
            held.push(entry);
        }
    }

    /// Takes the requests recorded so far.
    pub fn take(&self) -> Vec<HeldBack> {
        self.held
            .lock()
            .map(|mut held| std::mem::take(&mut *held))
            .unwrap_or_default()
    }
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

/// The `wasi:http` hooks of a call with an [`HttpGrant`]: every request is checked, resolved,
/// connected and bounded as the crate documentation says, and anything else is refused unsent.
#[derive(Clone)]
pub struct GrantedHttp {
    inner: Arc<Inner>,
    egress: Option<EgressLog>,
}

struct Inner {
    grant: HttpGrant,
    resolver: Box<dyn Resolver>,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl fmt::Debug for GrantedHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrantedHttp")
            .field("grant", &self.inner.grant)
            .finish_non_exhaustive()
    }
}

/// The hooks for `grant`, resolving names with the system resolver.
pub fn hooks(grant: HttpGrant) -> GrantedHttp {
    GrantedHttp::new(grant)
}

impl GrantedHttp {
    /// The hooks for `grant`, resolving names with the system resolver.
    pub fn new(grant: HttpGrant) -> GrantedHttp {
        GrantedHttp::with_resolver(grant, SystemResolver)
    }

    /// The hooks for `grant`, resolving names with `resolver`.
    pub fn with_resolver(grant: HttpGrant, resolver: impl Resolver + 'static) -> GrantedHttp {
        GrantedHttp::with_roots(grant, resolver, &TrustedRoots::default())
    }

    /// The hooks for `grant`, resolving names with `resolver`, trusting `extra` root
    /// certificates for https besides the built-in web roots (an operator's private CA).
    pub fn with_roots(
        grant: HttpGrant,
        resolver: impl Resolver + 'static,
        extra: &TrustedRoots,
    ) -> GrantedHttp {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        // Each was checked by `TrustedRoots::from_pem`; one that fails here makes every https
        // request fail closed with a configuration error.
        let extra_ok = extra
            .certs
            .iter()
            .all(|cert| roots.add(cert.clone()).is_ok());
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth());
        // The ring provider supports the default protocol versions; should that ever fail, every
        // https request fails closed with a configuration error.
        let tls = tls.ok().filter(|_| extra_ok).map(Arc::new);
        GrantedHttp {
            inner: Arc::new(Inner {
                grant,
                resolver: Box::new(resolver),
                tls,
            }),
            egress: None,
        }
    }

    /// The same hooks, recording every refused request in `log` (one call's record).
    pub fn with_egress_log(&self, log: Option<EgressLog>) -> GrantedHttp {
        GrantedHttp {
            inner: self.inner.clone(),
            egress: log,
        }
    }

    /// The grant these hooks enforce.
    pub fn grant(&self) -> &HttpGrant {
        &self.inner.grant
    }
}

/// Root certificates trusted for https in addition to the built-in web roots.
#[derive(Debug, Clone, Default)]
pub struct TrustedRoots {
    certs: Vec<rustls::pki_types::CertificateDer<'static>>,
}

/// Why a PEM file of root certificates was refused.
#[derive(Debug, thiserror::Error)]
pub enum RootsError {
    /// The PEM text holds a certificate block that does not decode.
    #[error("invalid PEM: {0}")]
    Pem(String),
    /// The PEM text holds no `CERTIFICATE` block.
    #[error("no CERTIFICATE block in the PEM text")]
    Empty,
    /// A certificate that cannot be a trust anchor.
    #[error("certificate {index} is not a usable root certificate: {reason}")]
    Unusable {
        /// Its position in the file, from 1.
        index: usize,
        /// Why.
        reason: String,
    },
}

impl TrustedRoots {
    /// Adds every `CERTIFICATE` block of `pem`, refusing the whole text if any block is invalid
    /// or none is present.
    pub fn add_pem(&mut self, pem: &[u8]) -> Result<usize, RootsError> {
        use rustls::pki_types::pem::PemObject as _;
        let mut found = Vec::new();
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem) {
            found.push(cert.map_err(|e| RootsError::Pem(e.to_string()))?);
        }
        if found.is_empty() {
            return Err(RootsError::Empty);
        }
        let mut probe = rustls::RootCertStore::empty();
        for (i, cert) in found.iter().enumerate() {
            probe.add(cert.clone()).map_err(|e| RootsError::Unusable {
                index: i + 1,
                reason: e.to_string(),
            })?;
        }
        let n = found.len();
        self.certs.extend(found);
        Ok(n)
    }

    /// How many certificates were added.
    pub fn len(&self) -> usize {
        self.certs.len()
    }

    /// Whether none was added.
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }
}

type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;
type SendFuture = Box<dyn Future<Output = Result<(Response<WasiBody>, IoFuture), Error>> + Send>;

impl WasiHttpHooks for GrantedHttp {
    fn forbidden_header_filter(&mut self) -> ForbiddenHeaderFilter {
        // `host` is among them: the guest never sets it; wasi:http derives it from the URL.
        Arc::new(|name| DEFAULT_FORBIDDEN_HEADERS.contains(name))
    }

    fn send_request(
        &mut self,
        request: Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> SendFuture {
        let inner = self.inner.clone();
        let egress = self.egress.clone();
        Box::new(async move { inner.send(request, options, egress).await })
    }
}

/// Logs a refusal once, at warn, and returns the error the guest sees.
fn refuse(uri: &Uri, reason: &dyn fmt::Display, err: Error, egress: Option<&EgressLog>) -> Error {
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
fn logged_origin(uri: &Uri) -> String {
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

/// Records a held-back request and builds the synthetic answer; nothing is sent. The request
/// body is read and dropped (up to `body_cap` bytes), so that a guest still writing it is not
/// cut off.
fn paper_response(
    log: &PaperLog,
    method: &str,
    uri: &Uri,
    mut request_body: WasiBody,
    body_cap: u64,
) -> (Response<WasiBody>, IoFuture) {
    let origin = logged_origin(uri);
    tracing::info!(url = %origin, method, "paper mode: outgoing request recorded, not sent");
    log.push(HeldBack {
        method: method.chars().take(32).collect(),
        origin,
    });
    let body = http_body_util::Full::new(bytes::Bytes::from_static(PAPER_BODY.as_bytes()))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = Response::new(body);
    *response.status_mut() = http::StatusCode::ACCEPTED;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
        .headers_mut()
        .insert("x-ward-paper", HeaderValue::from_static("held-back"));
    let drain: IoFuture = Box::new(async move {
        let mut read = 0u64;
        while let Some(frame) = request_body.frame().await {
            let Ok(frame) = frame else { break };
            if let Some(data) = frame.data_ref() {
                read = read.saturating_add(data.len() as u64);
                if read > body_cap {
                    break;
                }
            }
        }
        Ok(())
    });
    (response, drain)
}

/// The smaller of ward's cap and the guest's wish.
fn capped(cap: Duration, wish: Option<Duration>) -> Duration {
    wish.map_or(cap, |w| w.min(cap))
}

trait Stream: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static {}
impl<T> Stream for T where T: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static {}

impl Inner {
    async fn send(
        &self,
        mut request: Request<WasiBody>,
        options: Option<RequestOptions>,
        egress: Option<EgressLog>,
    ) -> Result<(Response<WasiBody>, IoFuture), Error> {
        let limits = self.grant.limits;
        let start = Instant::now();
        let deadline = start + limits.total_timeout;
        let uri = request.uri().clone();
        let refuse_here =
            |reason: &dyn fmt::Display, err: Error| refuse(&uri, reason, err, egress.as_ref());

        let allowed = self
            .grant
            .policy
            .check_request(request.method().as_str(), &uri)
            .map_err(|denied| refuse_here(&denied, Error::HttpRequestDenied))?;
        check_host_header(&request)
            .map_err(|reason| refuse_here(&reason, Error::HttpRequestDenied))?;
        if let Some(log) = &self.grant.paper
            && !matches!(*request.method(), http::Method::GET | http::Method::HEAD)
        {
            let method = request.method().as_str().to_owned();
            return Ok(paper_response(
                log,
                &method,
                &uri,
                request.into_body(),
                limits.request_body_bytes,
            ));
        }
        // Secrets: substituted only where bound (else refused unsent); `uri` keeps the
        // placeholders, so nothing logged below can hold a value.
        secrets::apply(&mut request, &self.grant.secrets)
            .map_err(|reason| refuse_here(&reason, Error::HttpRequestDenied))?;
        let scrubber = if self.grant.secrets.is_empty() {
            None
        } else {
            secrets::ask_identity(&mut request);
            Some(
                secrets::ResponseScrub::new(&self.grant.secrets).map_err(|err| {
                    refuse_here(
                        &err,
                        Error::InternalError(Some("cannot scrub responses of secrets".into())),
                    )
                })?,
            )
        };
        if let Some(len) = content_length(&request)
            && len > limits.request_body_bytes
        {
            let reason = format!(
                "the request body of {len} bytes is over the cap of {} bytes",
                limits.request_body_bytes
            );
            return Err(refuse_here(&reason, Error::HttpRequestBodySize(Some(len))));
        }

        let connect_timeout = capped(
            limits.connect_timeout,
            options.and_then(|o| o.connect_timeout),
        );
        let connect_deadline = (Instant::now() + connect_timeout).min(deadline);

        let addrs = match allowed.ip() {
            Some(ip) => vec![SocketAddr::new(ip, allowed.port)],
            None => {
                let lookup = self.resolver.resolve(&allowed.host, allowed.port);
                match tokio::time::timeout_at(connect_deadline, lookup).await {
                    Err(_) => {
                        return Err(refuse_here(&"name lookup timed out", Error::DnsTimeout));
                    }
                    Ok(Err(err)) => {
                        return Err(refuse_here(
                            &format!("name lookup failed: {err}"),
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
            return Err(refuse_here(
                &"the name has no address",
                Error::DestinationNotFound,
            ));
        }
        if addrs.len() > MAX_RESOLVED_ADDRS {
            return Err(refuse_here(
                &format!("the name has more than {MAX_RESOLVED_ADDRS} addresses"),
                Error::DestinationIpProhibited,
            ));
        }
        for addr in &addrs {
            self.grant
                .policy
                .check_resolved(&allowed, addr.ip())
                .map_err(|denied| refuse_here(&denied, Error::DestinationIpProhibited))?;
        }

        let connected =
            tokio::time::timeout_at(connect_deadline, self.connect(&allowed, &addrs, &limits))
                .await;
        let (mut sender, conn) = match connected {
            Ok(result) => result?,
            Err(_) => return Err(Error::ConnectionTimeout),
        };

        // The request line carries only the path; the authority goes in `Host`.
        let path = request
            .uri()
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        *request.uri_mut() = Uri::try_from(path).map_err(|_| Error::HttpRequestUriInvalid)?;
        if request.headers().get(HOST).is_none() {
            let authority = uri.authority().map_or("", |a| a.as_str());
            let value =
                HeaderValue::from_str(authority).map_err(|_| Error::HttpRequestUriInvalid)?;
            request.headers_mut().insert(HOST, value);
        }
        let request = request.map(|b| Capped::new(b, Side::Request, limits.request_body_bytes));

        let first_byte = capped(
            limits.total_timeout,
            options.and_then(|o| o.first_byte_timeout),
        );
        let first_byte_deadline = (Instant::now() + first_byte).min(deadline);
        let send = async move {
            match tokio::time::timeout_at(first_byte_deadline, sender.send_request(request)).await {
                Err(_) => Err(Error::ConnectionReadTimeout),
                Ok(Err(err)) => Err(hyper_error(err)),
                Ok(Ok(response)) => Ok(response),
            }
        };
        let mut send = pin!(send);
        let mut conn = Some(conn);
        // Wait for the response head while driving the connection.
        let response = poll_fn(|cx| match send.as_mut().poll(cx) {
            Poll::Ready(result) => Poll::Ready(result),
            Poll::Pending => {
                let Some(fut) = conn.as_mut() else {
                    return Poll::Pending;
                };
                let res = ready!(Pin::new(fut).poll(cx));
                conn = None;
                match res {
                    Ok(()) => send.as_mut().poll(cx),
                    Err(err) => Poll::Ready(Err(hyper_error(err))),
                }
            }
        })
        .await
        .map_err(|err| {
            if matches!(err, Error::HttpResponseHeaderSectionSize(_)) {
                refuse_here(&"the response header section is over the cap", err)
            } else {
                err
            }
        })?;

        check_response_head(&response, &limits)
            .map_err(|(reason, err)| refuse_here(&reason, err))?;
        let mut response = response;
        if let Some(scrubber) = &scrubber {
            if let Some(coding) = secrets::encoded(response.headers()) {
                let reason = format!(
                    "the response is encoded ({coding}) and the call has secrets bound: only identity is accepted, so the scrubber sees every byte"
                );
                return Err(refuse_here(
                    &reason,
                    Error::HttpResponseContentCoding(Some(coding)),
                ));
            }
            scrubber.headers(response.headers_mut());
        }
        tracing::debug!(url = %logged_origin(&uri), status = response.status().as_u16(), "outgoing HTTP response");

        let between = options.and_then(|o| o.between_bytes_timeout);
        let response = response.map(|incoming| {
            let capped = Capped::new(incoming, Side::Response, limits.response_body_bytes)
                .with_deadline(deadline, between);
            match scrubber {
                Some(scrubber) => Scrubbed::new(capped, scrubber).boxed_unsync(),
                None => capped.boxed_unsync(),
            }
        });
        let io: IoFuture = Box::new(async move {
            let Some(conn) = conn else {
                return Ok(());
            };
            match tokio::time::timeout_at(deadline, conn).await {
                Err(_) => Err(Error::HttpResponseTimeout),
                Ok(Err(err)) => Err(hyper_error(err)),
                Ok(Ok(())) => Ok(()),
            }
        });
        Ok((response, io))
    }

    /// Connects to the first of the checked `addrs` that answers, then TLS (for https, verifying
    /// the host name) and the HTTP/1.1 handshake with ward's header caps.
    async fn connect(
        &self,
        allowed: &Allowed,
        addrs: &[SocketAddr],
        limits: &HttpLimits,
    ) -> Result<
        (
            hyper::client::conn::http1::SendRequest<Capped<WasiBody>>,
            hyper::client::conn::http1::Connection<TokioIo<Box<dyn Stream>>, Capped<WasiBody>>,
        ),
        Error,
    > {
        let mut last = None;
        let mut tcp = None;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    tcp = Some(stream);
                    break;
                }
                Err(err) => last = Some(err),
            }
        }
        let tcp = match (tcp, last) {
            (Some(tcp), _) => tcp,
            (None, Some(err)) => return Err(Error::Connect(err)),
            (None, None) => return Err(Error::DestinationNotFound),
        };
        let stream: Box<dyn Stream> = match allowed.scheme {
            ward_manifest::Scheme::Http => Box::new(tcp),
            ward_manifest::Scheme::Https => {
                let name = match allowed.ip() {
                    Some(ip) => ServerName::from(ip),
                    None => ServerName::try_from(allowed.host.clone())
                        .map_err(Error::InvalidDnsNameError)?,
                };
                let tls = self.tls.clone().ok_or(Error::ConfigurationError)?;
                let connector = tokio_rustls::TlsConnector::from(tls);
                Box::new(connector.connect(name, tcp).await.map_err(Error::Tls)?)
            }
        };
        hyper::client::conn::http1::Builder::new()
            .max_headers(limits.response_headers)
            .max_header_size(limits.response_header_bytes)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(hyper_error)
    }
}

/// The `wasi:http` error for a hyper error, naming the header caps.
fn hyper_error(err: hyper::Error) -> Error {
    if err.is_parse_too_large() {
        Error::HttpResponseHeaderSectionSize(None)
    } else if err.is_timeout() {
        Error::HttpResponseTimeout
    } else {
        Error::from(err)
    }
}

/// Refuses a `Host` header that names anything but the URL's authority (the guest cannot set
/// `host`, but the check does not rely on that).
fn check_host_header<B>(request: &Request<B>) -> Result<(), String> {
    let authority = request.uri().authority().map_or("", |a| a.as_str());
    let mut values = request.headers().get_all(HOST).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(()),
        (Some(value), None) if value.as_bytes().eq_ignore_ascii_case(authority.as_bytes()) => {
            Ok(())
        }
        (Some(value), None) => Err(format!(
            "the Host header '{}' disagrees with the URL's host '{authority}'",
            String::from_utf8_lossy(value.as_bytes())
                .chars()
                .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
                .take(200)
                .collect::<String>()
        )),
        (Some(_), Some(_)) => Err("the request has more than one Host header".to_owned()),
    }
}

/// The request's `Content-Length`, when it has exactly one that parses.
fn content_length<B>(request: &Request<B>) -> Option<u64> {
    let value = request.headers().get(CONTENT_LENGTH)?;
    value.to_str().ok()?.trim().parse().ok()
}

/// Checks the response head against the header caps and a declared body size against the body
/// cap.
fn check_response_head<B>(
    response: &Response<B>,
    limits: &HttpLimits,
) -> Result<(), (String, Error)> {
    let headers = response.headers();
    if headers.len() > limits.response_headers {
        return Err((
            format!(
                "the response has {} header fields, over the cap of {}",
                headers.len(),
                limits.response_headers
            ),
            Error::HttpResponseHeaderSectionSize(None),
        ));
    }
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if bytes > limits.response_header_bytes {
        return Err((
            format!(
                "the response header section is {bytes} bytes, over the cap of {}",
                limits.response_header_bytes
            ),
            Error::HttpResponseHeaderSectionSize(u32::try_from(bytes).ok()),
        ));
    }
    if let Some(len) = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        && len > limits.response_body_bytes
    {
        return Err((
            format!(
                "the response declares a body of {len} bytes, over the cap of {}",
                limits.response_body_bytes
            ),
            Error::HttpResponseBodySize(Some(len)),
        ));
    }
    Ok(())
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

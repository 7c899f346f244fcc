//! Sending one request: the steps of [`Inner::send`] in order (grant, `Host` header, paper mode,
//! secrets, body size, addresses, connect, response head, response body), each refusing unsent.

use std::fmt;
use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::task::{Poll, ready};
use std::time::Duration;

use http::header::HOST;
use http::{HeaderValue, Request, Response, Uri};
use http_body_util::BodyExt;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;
use ward_net::Allowed;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

use crate::body::{Capped, Scrubbed, Side};
use crate::check::{check_host_header, check_response_head, content_length};
use crate::egress::{EgressLog, logged_origin, refuse};
use crate::grant::HttpLimits;
use crate::hooks::{Inner, IoFuture};
use crate::paper::paper_response;
use crate::{resolve, secrets};

/// The smaller of ward's cap and the guest's wish.
fn capped(cap: Duration, wish: Option<Duration>) -> Duration {
    wish.map_or(cap, |w| w.min(cap))
}

trait Stream: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static {}
impl<T> Stream for T where T: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static {}

impl Inner {
    /// Sends `request` as the grant allows, or refuses it (logged once, counted in `egress`).
    pub(crate) async fn send(
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

        let addrs = resolve::checked_addresses(
            &*self.resolver,
            &self.grant.policy,
            &allowed,
            connect_deadline,
        )
        .await
        .map_err(|(reason, err)| refuse_here(&reason, err))?;

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

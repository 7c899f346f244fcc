//! The `wasi:http` hooks of a proposal's examples: every request is answered from the examples
//! file's fixtures, or refused. No socket is ever opened and no name is ever resolved.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use http_body_util::BodyExt;
use ward_net::NetPolicy;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::examples::{Fixture, canonical_url};

/// Most requests one example's record keeps. Threat: a guest looping on requests to grow the
/// report without end (later requests are still answered or refused, just not listed).
pub const MAX_RECORDED_REQUESTS: usize = 64;

/// One request an example made, for the report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SeenRequest {
    /// The method.
    pub method: String,
    /// The URL without its query.
    pub url: String,
    /// `fixture` (answered), `no-fixture` or `not-declared` (refused).
    pub answer: &'static str,
}

/// Answers requests from fixtures. Clones share the record of requests seen.
#[derive(Clone)]
pub struct FixtureHttp {
    fixtures: Arc<HashMap<(String, String), Fixture>>,
    declared: Arc<NetPolicy>,
    seen: Arc<Mutex<Vec<SeenRequest>>>,
}

impl std::fmt::Debug for FixtureHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixtureHttp")
            .field("fixtures", &self.fixtures.len())
            .finish_non_exhaustive()
    }
}

impl FixtureHttp {
    /// Hooks answering from `fixtures`, for a component whose manifest declares the network
    /// destinations `declared`: a request to anything undeclared is refused even with a fixture.
    pub fn new(fixtures: &[Fixture], declared: NetPolicy) -> FixtureHttp {
        let map = fixtures
            .iter()
            .filter_map(|f| Some(((f.method.clone(), canonical_url(&f.url)?), f.clone())))
            .collect();
        FixtureHttp {
            fixtures: Arc::new(map),
            declared: Arc::new(declared),
            seen: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Takes the requests seen so far.
    pub fn take_seen(&self) -> Vec<SeenRequest> {
        self.seen
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default()
    }

    fn record(&self, method: &str, uri: &http::Uri, answer: &'static str) {
        if let Ok(mut seen) = self.seen.lock()
            && seen.len() < MAX_RECORDED_REQUESTS
        {
            let url = format!(
                "{}://{}{}",
                uri.scheme_str().unwrap_or(""),
                uri.authority().map_or("", |a| a.as_str()),
                uri.path()
            );
            seen.push(SeenRequest {
                method: ward_policy::text::sanitize_line(method, 32),
                url: ward_policy::text::sanitize_line(&url, 512),
                answer,
            });
        }
    }

    fn answer(&self, method: &str, uri: &http::Uri) -> Result<Fixture, &'static str> {
        if self.declared.check_request(method, uri).is_err() {
            return Err("not-declared");
        }
        let key = (
            method.to_owned(),
            canonical_url(&uri.to_string()).unwrap_or_default(),
        );
        self.fixtures.get(&key).cloned().ok_or("no-fixture")
    }
}

type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;
type SendFuture =
    Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), Error>> + Send>;

impl WasiHttpHooks for FixtureHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> SendFuture {
        let method = request.method().as_str().to_owned();
        let uri = request.uri().clone();
        let outcome = self.answer(&method, &uri);
        let answer = match &outcome {
            Ok(_) => "fixture",
            Err(reason) => reason,
        };
        self.record(&method, &uri, answer);
        let fixture = match outcome {
            Ok(f) => f,
            Err(reason) => {
                tracing::warn!(
                    method,
                    reason,
                    "proposal example: outgoing HTTP request refused, unsent"
                );
                return Box::new(async { Err(Error::HttpRequestDenied) });
            }
        };
        Box::new(async move {
            let body = http_body_util::Full::new(bytes::Bytes::from(fixture.body.into_bytes()))
                .map_err(|never| match never {})
                .boxed_unsync();
            let mut response = http::Response::new(body);
            *response.status_mut() =
                http::StatusCode::from_u16(fixture.status).map_err(|_| Error::HttpProtocolError)?;
            for (k, v) in &fixture.headers {
                let name = http::HeaderName::from_bytes(k.as_bytes())
                    .map_err(|_| Error::HttpProtocolError)?;
                let value = http::HeaderValue::from_str(v).map_err(|_| Error::HttpProtocolError)?;
                response.headers_mut().append(name, value);
            }
            let io: IoFuture = Box::new(async { Ok(()) });
            Ok((response, io))
        })
    }
}

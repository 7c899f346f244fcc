//! [`GrantedHttp`]: the `wasi:http` hooks of one call, enforcing its [`HttpGrant`].

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use http::{Request, Response};
use wasmtime_wasi_http::{
    DEFAULT_FORBIDDEN_HEADERS, Error, ForbiddenHeaderFilter, RequestOptions, WasiBody,
    WasiHttpHooks,
};

use crate::egress::EgressLog;
use crate::grant::HttpGrant;
use crate::resolve::{Resolver, SystemResolver};
use crate::tls::TrustedRoots;

/// The `wasi:http` hooks of a call with an [`HttpGrant`]: every request is checked, resolved,
/// connected and bounded as the crate documentation says, and anything else is refused unsent.
#[derive(Clone)]
pub struct GrantedHttp {
    inner: Arc<Inner>,
    egress: Option<EgressLog>,
}

/// What clones of the hooks share; [`Inner::send`] (in `send.rs`) sends one request.
pub(crate) struct Inner {
    pub(crate) grant: HttpGrant,
    pub(crate) resolver: Box<dyn Resolver>,
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
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
        let tls = extra.client_config();
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

pub(crate) type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;
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

//! Secrets by reference against real loopback servers (https with a test CA, and plain http):
//! each attack on the placeholder rules and the scrubber is its own test.
#![allow(clippy::unwrap_used)]

use std::pin::Pin;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use ward_http::{
    BoundSecret, GrantedHttp, HttpGrant, HttpLimits, NetPolicy, SystemResolver, TrustedRoots,
};
use ward_manifest::Manifest;
use ward_secrets::SecretValue;
use wasmtime_wasi_http::{Error, WasiBody, WasiHttpHooks};
use zeroize::Zeroizing;

/// The secret value every test binds. Long enough that its base64 forms are searched for.
const VALUE: &str = "ghp_s3cr3tVALUE0123456789abcdef";

/// A test CA and a server certificate it signed for IP 127.0.0.1.
struct Pki {
    ca_pem: String,
    server: Arc<rustls::ServerConfig>,
}

fn pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from(cert.der().to_vec())],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
    .unwrap();
    Pki {
        ca_pem: ca.pem(),
        server: Arc::new(server),
    }
}

/// What a server answers, given the request head it received.
type Respond = Arc<dyn Fn(&str) -> Vec<Vec<u8>> + Send + Sync>;

/// A loopback server recording every request head it receives.
struct Server {
    port: u16,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

async fn serve_one<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    heads: Arc<Mutex<Vec<String>>>,
    respond: Respond,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    heads.lock().unwrap().push(head.clone());
    for part in respond(&head) {
        if stream.write_all(&part).await.is_err() {
            return;
        }
        let _ = stream.flush().await;
    }
    let _ = stream.shutdown().await;
}

/// An https server (when `tls` is set) or a plain http one on 127.0.0.1.
async fn server(tls: Option<Arc<rustls::ServerConfig>>, respond: Respond) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let recorded = heads.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let heads = recorded.clone();
            let respond = respond.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    Some(config) => {
                        if let Ok(stream) = TlsAcceptor::from(config).accept(stream).await {
                            serve_one(stream, heads, respond).await;
                        }
                    }
                    None => serve_one(stream, heads, respond).await,
                }
            });
        }
    });
    Server { port, heads }
}

/// The value of header `name` in a recorded request head.
fn header_in(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

/// One complete response with `body`.
fn ok(extra_headers: &str, body: &[u8]) -> Vec<Vec<u8>> {
    let mut out = format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n{extra_headers}\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    vec![out]
}

/// A server answering 200 with `body_of(head)`.
fn echo(body_of: impl Fn(&str) -> Vec<u8> + Send + Sync + 'static) -> Respond {
    Arc::new(move |head| ok("", &body_of(head)))
}

fn authorization(head: &str) -> String {
    header_in(head, "authorization").unwrap_or_default()
}

/// The hooks of a call granted `network`, with `secrets` (manifest syntax) bound to `value`,
/// trusting the test CA.
fn hooks(network: &[String], secrets: &str, value: &str, ca_pem: &str) -> GrantedHttp {
    let network: Vec<String> = network
        .iter()
        .map(|u| format!("{{ url = \"{u}\" }}"))
        .collect();
    let toml = format!(
        "name = \"acme:bot\"\nversion = \"0.1.0\"\n[capabilities]\nnetwork = [{}]\nsecrets = [{secrets}]\n",
        network.join(", ")
    );
    let manifest = Manifest::parse(toml.as_bytes()).unwrap();
    let bound = manifest
        .capabilities
        .secrets
        .iter()
        .map(|s| BoundSecret::new(s, SecretValue::new(Zeroizing::new(value.to_owned()))))
        .collect();
    let grant = HttpGrant::new(
        NetPolicy::new(&manifest.capabilities.network),
        HttpLimits::default(),
    )
    .with_secrets(bound);
    let mut roots = TrustedRoots::default();
    roots.add_pem(ca_pem.as_bytes()).unwrap();
    GrantedHttp::with_roots(grant, SystemResolver, &roots)
}

/// The usual binding: TOKEN goes in `Authorization` as `Bearer {}` to `https://127.0.0.1:PORT`.
fn bearer(port: u16) -> String {
    format!(
        r#"{{ name = "TOKEN", hosts = ["https://127.0.0.1:{port}"], header = "Authorization", format = "Bearer {{}}" }}"#
    )
}

fn empty() -> WasiBody {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

fn get(url: &str, headers: &[(&str, &str)]) -> Request<WasiBody> {
    let uri: http::Uri = url.parse().unwrap();
    let host = uri.authority().unwrap().as_str().to_owned();
    let mut b = Request::get(uri).header("host", host);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(empty()).unwrap()
}

async fn send(
    hooks: &mut GrantedHttp,
    request: Request<WasiBody>,
) -> Result<Response<WasiBody>, Error> {
    let fut = hooks.send_request(request, None, Box::new(async { Ok(()) }));
    let (response, io) = Pin::from(fut).await?;
    tokio::spawn(async move {
        let _ = Pin::from(io).await;
    });
    Ok(response)
}

/// Everything the guest can read of a response: status, every header, the whole body.
async fn everything(response: Response<WasiBody>) -> String {
    let mut out = format!("{}\n", response.status());
    for (k, v) in response.headers() {
        out.push_str(&format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())));
    }
    let body = response.into_body().collect().await.unwrap().to_bytes();
    out.push_str(&String::from_utf8_lossy(&body));
    out
}

fn assert_no_value(text: &str) {
    assert!(!text.contains(VALUE), "the secret value leaked: {text}");
    let b64 = base64::engine::general_purpose::STANDARD.encode(VALUE);
    assert!(!text.contains(&b64), "the base64 secret leaked: {text}");
}

/// A bound https server echoing the Authorization header it received back in the body, and the
/// hooks for it.
async fn echo_setup(respond: Respond) -> (Server, GrantedHttp) {
    let pki = pki();
    let s = server(Some(pki.server.clone()), respond).await;
    let url = format!("https://127.0.0.1:{}", s.port);
    let h = hooks(&[url], &bearer(s.port), VALUE, &pki.ca_pem);
    (s, h)
}

#[tokio::test]
async fn secret_is_substituted_for_the_bound_host() {
    let (s, mut h) = echo_setup(echo(|_| b"fine".to_vec())).await;
    let url = format!("https://127.0.0.1:{}/user", s.port);
    let response = send(&mut h, get(&url, &[("authorization", "{{secret:TOKEN}}")]))
        .await
        .unwrap();
    assert_eq!(everything(response).await.lines().last(), Some("fine"));
    let heads = s.heads();
    assert_eq!(heads.len(), 1);
    assert_eq!(authorization(&heads[0]), format!("Bearer {VALUE}"));
    assert_eq!(
        header_in(&heads[0], "accept-encoding").as_deref(),
        Some("identity")
    );
}

#[tokio::test]
async fn secret_in_its_declared_query_parameter_is_substituted_percent_encoded() {
    let pki = pki();
    let s = server(Some(pki.server.clone()), echo(|_| b"ok".to_vec())).await;
    let decl = format!(
        r#"{{ name = "KEY", hosts = ["https://127.0.0.1:{}"], query = "key" }}"#,
        s.port
    );
    let mut h = hooks(
        &[format!("https://127.0.0.1:{}", s.port)],
        &decl,
        "v a&l=ue",
        &pki.ca_pem,
    );
    let url = format!("https://127.0.0.1:{}/q?a=1&key={{{{secret:KEY}}}}", s.port);
    send(&mut h, get(&url, &[])).await.unwrap();
    let heads = s.heads();
    assert!(
        heads[0].starts_with("GET /q?a=1&key=v%20a%26l%3Due HTTP/1.1"),
        "{}",
        heads[0]
    );
}

#[tokio::test]
async fn secret_placeholder_to_allowed_but_unbound_host_is_refused() {
    let pki = pki();
    let bound = server(Some(pki.server.clone()), echo(|_| b"ok".to_vec())).await;
    let other = server(Some(pki.server.clone()), echo(|_| b"ok".to_vec())).await;
    let mut h = hooks(
        &[
            format!("https://127.0.0.1:{}", bound.port),
            format!("https://127.0.0.1:{}", other.port),
        ],
        &bearer(bound.port),
        VALUE,
        &pki.ca_pem,
    );
    // The unbound host is reachable without the placeholder...
    let url = format!("https://127.0.0.1:{}/", other.port);
    send(&mut h, get(&url, &[])).await.unwrap();
    assert_eq!(other.heads().len(), 1);
    // ...and refused, unsent, with it.
    let err = send(&mut h, get(&url, &[("authorization", "{{secret:TOKEN}}")]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::HttpRequestDenied), "{err:?}");
    assert_eq!(other.heads().len(), 1);
    assert!(bound.heads().is_empty());
}

#[tokio::test]
async fn secret_over_plain_http_is_refused() {
    let pki = pki();
    let plain = server(None, echo(|_| b"ok".to_vec())).await;
    let bound = server(Some(pki.server.clone()), echo(|_| b"ok".to_vec())).await;
    let mut h = hooks(
        &[
            format!("https://127.0.0.1:{}", bound.port),
            format!("http://127.0.0.1:{}", plain.port),
        ],
        &bearer(bound.port),
        VALUE,
        &pki.ca_pem,
    );
    let url = format!("http://127.0.0.1:{}/", plain.port);
    let err = send(&mut h, get(&url, &[("authorization", "{{secret:TOKEN}}")]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::HttpRequestDenied), "{err:?}");
    assert!(plain.heads().is_empty());
}

#[tokio::test]
async fn secret_placeholder_in_undeclared_header_is_refused() {
    let (s, mut h) = echo_setup(echo(|_| b"ok".to_vec())).await;
    let url = format!("https://127.0.0.1:{}/", s.port);
    let err = send(&mut h, get(&url, &[("x-api-key", "{{secret:TOKEN}}")]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::HttpRequestDenied), "{err:?}");
    assert!(s.heads().is_empty());
}

#[tokio::test]
async fn secret_placeholder_in_path_is_refused() {
    let (s, mut h) = echo_setup(echo(|_| b"ok".to_vec())).await;
    let url = format!("https://127.0.0.1:{}/leak/{{{{secret:TOKEN}}}}", s.port);
    let err = send(&mut h, get(&url, &[])).await.unwrap_err();
    assert!(matches!(err, Error::HttpRequestDenied), "{err:?}");
    assert!(s.heads().is_empty());
}

#[tokio::test]
async fn secret_placeholder_in_undeclared_query_parameter_is_refused() {
    let (s, mut h) = echo_setup(echo(|_| b"ok".to_vec())).await;
    let url = format!("https://127.0.0.1:{}/?q={{{{secret:TOKEN}}}}", s.port);
    let err = send(&mut h, get(&url, &[])).await.unwrap_err();
    assert!(matches!(err, Error::HttpRequestDenied), "{err:?}");
    assert!(s.heads().is_empty());
}

#[tokio::test]
async fn malformed_secret_placeholder_is_refused() {
    let (s, mut h) = echo_setup(echo(|_| b"ok".to_vec())).await;
    let url = format!("https://127.0.0.1:{}/", s.port);
    for bad in ["{{secret:token}}", "{{secret:TOKEN}", "Bearer {{secret:"] {
        let err = send(&mut h, get(&url, &[("authorization", bad)]))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::HttpRequestDenied), "{bad}: {err:?}");
    }
    assert!(s.heads().is_empty());
}

#[tokio::test]
async fn placeholder_for_a_secret_not_bound_to_the_call_is_refused() {
    let (s, mut h) = echo_setup(echo(|_| b"ok".to_vec())).await;
    let url = format!("https://127.0.0.1:{}/", s.port);
    let err = send(&mut h, get(&url, &[("authorization", "{{secret:OTHER}}")]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::HttpRequestDenied), "{err:?}");
    assert!(s.heads().is_empty());
}

#[tokio::test]
async fn secret_with_crlf_is_refused() {
    let pki = pki();
    let s = server(Some(pki.server.clone()), echo(|_| b"ok".to_vec())).await;
    let mut h = hooks(
        &[format!("https://127.0.0.1:{}", s.port)],
        &bearer(s.port),
        "abc\r\nx-injected: yes",
        &pki.ca_pem,
    );
    let url = format!("https://127.0.0.1:{}/", s.port);
    let err = send(&mut h, get(&url, &[("authorization", "{{secret:TOKEN}}")]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::HttpRequestDenied), "{err:?}");
    assert!(s.heads().is_empty());
}

#[tokio::test]
async fn server_echoing_the_secret_is_scrubbed() {
    let (s, mut h) = echo_setup(echo(|head| {
        format!("you sent {} ok", authorization(head)).into_bytes()
    }))
    .await;
    let url = format!("https://127.0.0.1:{}/", s.port);
    let response = send(&mut h, get(&url, &[("authorization", "{{secret:TOKEN}}")]))
        .await
        .unwrap();
    assert!(response.headers().get("content-length").is_none());
    let seen = everything(response).await;
    assert_no_value(&seen);
    assert!(seen.ends_with("you sent [redacted:secret] ok"), "{seen}");
    // The server really got the value.
    assert_eq!(authorization(&s.heads()[0]), format!("Bearer {VALUE}"));
}

#[tokio::test]
async fn server_echoing_the_secret_base64_is_scrubbed() {
    let (s, mut h) = echo_setup(echo(|head| {
        let auth = authorization(head);
        let token = auth.trim_start_matches("Bearer ");
        let b64 = base64::engine::general_purpose::STANDARD;
        format!(
            "raw-b64={} shifted={} url={}",
            b64.encode(token),
            b64.encode(format!("x:{token}")),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&auth)
        )
        .into_bytes()
    }))
    .await;
    let url = format!("https://127.0.0.1:{}/", s.port);
    let response = send(&mut h, get(&url, &[("authorization", "{{secret:TOKEN}}")]))
        .await
        .unwrap();
    let seen = everything(response).await;
    assert_no_value(&seen);
    assert!(seen.contains("raw-b64=[redacted:secret]"), "{seen}");
    let shifted = base64::engine::general_purpose::STANDARD.encode(format!("x:{VALUE}"));
    assert!(!seen.contains(&shifted[4..24]), "{seen}");
}

#[tokio::test]
async fn server_echoing_the_secret_url_and_json_encoded_is_scrubbed() {
    let (s, mut h) = echo_setup(echo(|head| {
        let auth = authorization(head);
        format!(
            "{{\"echo\":{}}} {}",
            serde_json_like(&auth),
            auth.replace(' ', "%20")
        )
        .into_bytes()
    }))
    .await;
    let url = format!("https://127.0.0.1:{}/", s.port);
    let response = send(&mut h, get(&url, &[("authorization", "{{secret:TOKEN}}")]))
        .await
        .unwrap();
    let seen = everything(response).await;
    assert_no_value(&seen);
    assert!(!seen.contains("s3cr3t"), "{seen}");
}

/// A JSON string of `text` (enough escaping for the test's values).
fn serde_json_like(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

#[tokio::test]
async fn server_echoing_the_secret_split_across_chunks_is_scrubbed() {
    let (s, mut h) = echo_setup(Arc::new(|head: &str| {
        let auth = authorization(head);
        let (a, b) = auth.split_at(auth.len() / 2);
        let chunk = |part: &str| format!("{:x}\r\n{part}\r\n", part.len()).into_bytes();
        vec![
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n".to_vec(),
            chunk(a),
            chunk(b),
            b"0\r\n\r\n".to_vec(),
        ]
    }))
    .await;
    let url = format!("https://127.0.0.1:{}/", s.port);
    let response = send(&mut h, get(&url, &[("authorization", "{{secret:TOKEN}}")]))
        .await
        .unwrap();
    let seen = everything(response).await;
    assert_no_value(&seen);
    assert!(seen.ends_with("[redacted:secret]"), "{seen}");
}

#[tokio::test]
async fn server_echoing_the_secret_in_a_response_header_is_scrubbed() {
    let (s, mut h) = echo_setup(Arc::new(|head: &str| {
        let auth = authorization(head);
        let token = auth.trim_start_matches("Bearer ").to_owned();
        ok(
            &format!(
                "x-echo: {auth}\r\nlocation: https://evil.test/?t={token}\r\nx-{token}: 1\r\n"
            ),
            b"body",
        )
    }))
    .await;
    let url = format!("https://127.0.0.1:{}/", s.port);
    let response = send(&mut h, get(&url, &[("authorization", "{{secret:TOKEN}}")]))
        .await
        .unwrap();
    assert_eq!(response.headers()["x-echo"], "[redacted:secret]");
    let seen = everything(response).await;
    assert_no_value(&seen);
    // HTTP lowercases header names: the value must not survive in any case.
    assert!(
        !seen
            .to_ascii_lowercase()
            .contains(&VALUE.to_ascii_lowercase()),
        "{seen}"
    );
    assert!(
        seen.contains("location: https://evil.test/?t=[redacted:secret]"),
        "{seen}"
    );
}

#[tokio::test]
async fn compressed_response_with_secret_is_refused() {
    let (s, mut h) = echo_setup(Arc::new(|_head: &str| {
        ok(
            "content-encoding: gzip\r\n",
            b"\x1f\x8b\x08\x00not really gzip",
        )
    }))
    .await;
    let url = format!("https://127.0.0.1:{}/", s.port);
    let err = send(&mut h, get(&url, &[("authorization", "{{secret:TOKEN}}")]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::HttpResponseContentCoding(Some(c)) if c == "gzip"),
        "{err:?}"
    );
}

#[tokio::test]
async fn transfer_encoded_response_with_secret_is_refused() {
    // `gzip, chunked`: hyper undoes only the chunking, so the body would reach the scrubber
    // compressed.
    let (s, mut h) = echo_setup(Arc::new(|_head: &str| {
        vec![
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\nconnection: close\r\n\r\n4\r\nabcd\r\n0\r\n\r\n"
                .to_vec(),
        ]
    }))
    .await;
    let url = format!("https://127.0.0.1:{}/", s.port);
    let err = send(&mut h, get(&url, &[("authorization", "{{secret:TOKEN}}")]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::HttpResponseContentCoding(Some(c)) if c == "gzip"),
        "{err:?}"
    );
}

#[tokio::test]
async fn guest_accept_encoding_is_overridden_when_secrets_are_bound() {
    let (s, mut h) = echo_setup(echo(|_| b"ok".to_vec())).await;
    let url = format!("https://127.0.0.1:{}/", s.port);
    send(&mut h, get(&url, &[("accept-encoding", "gzip, br")]))
        .await
        .unwrap();
    assert_eq!(
        header_in(&s.heads()[0], "accept-encoding").as_deref(),
        Some("identity")
    );
}

#[tokio::test]
async fn placeholder_with_no_secrets_bound_is_refused() {
    let pki = pki();
    let s = server(Some(pki.server.clone()), echo(|_| b"ok".to_vec())).await;
    let mut h = hooks(
        &[format!("https://127.0.0.1:{}", s.port)],
        "",
        VALUE,
        &pki.ca_pem,
    );
    let url = format!("https://127.0.0.1:{}/", s.port);
    let err = send(&mut h, get(&url, &[("authorization", "{{secret:TOKEN}}")]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::HttpRequestDenied), "{err:?}");
    assert!(s.heads().is_empty());
}

#[tokio::test]
async fn server_not_signed_by_a_trusted_root_is_refused() {
    // The hooks trust a different CA than the one that signed the server's certificate.
    let served = pki();
    let other = pki();
    let s = server(Some(served.server.clone()), echo(|_| b"ok".to_vec())).await;
    let mut h = hooks(
        &[format!("https://127.0.0.1:{}", s.port)],
        &bearer(s.port),
        VALUE,
        &other.ca_pem,
    );
    let url = format!("https://127.0.0.1:{}/", s.port);
    let err = send(&mut h, get(&url, &[("authorization", "{{secret:TOKEN}}")]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    assert!(s.heads().is_empty());
}

#[test]
fn trusted_roots_refuse_bad_pem() {
    let mut roots = TrustedRoots::default();
    assert_eq!(
        roots.add_pem(b"not a pem").unwrap_err().to_string(),
        "no CERTIFICATE block in the PEM text"
    );
    assert!(
        roots
            .add_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
            .is_err()
    );
    assert!(roots.is_empty());
    assert_eq!(roots.add_pem(pki().ca_pem.as_bytes()).unwrap(), 1);
}

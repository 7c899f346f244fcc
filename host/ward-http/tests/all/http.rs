//! The hook against a real loopback server: each attack the network issue names is its own test.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use ward_http::{
    GrantedHttp, HttpGrant, HttpLimits, MAX_RESPONSE_BODY_BYTES, NetPolicy, ResolveFuture, Resolver,
};
use ward_manifest::Manifest;
use wasmtime_wasi_http::{Error, WasiBody, WasiHttpHooks};

/// Names mapped to addresses, so that tests can make a granted name resolve anywhere.
struct MapResolver(Vec<(&'static str, Vec<IpAddr>)>);

impl Resolver for MapResolver {
    fn resolve(&self, host: &str, port: u16) -> ResolveFuture {
        let found = self
            .0
            .iter()
            .find(|(name, _)| *name == host)
            .map(|(_, ips)| ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect());
        Box::pin(async move {
            found.ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such name"))
        })
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// Hooks granting the `network = [...]` entries, with names resolved by `names`.
fn hooks_with(
    network: &str,
    names: Vec<(&'static str, Vec<IpAddr>)>,
    limits: HttpLimits,
) -> GrantedHttp {
    let toml = format!(
        "name = \"acme:net\"\nversion = \"0.1.0\"\n[capabilities]\nnetwork = [{network}]\n"
    );
    let manifest = Manifest::parse(toml.as_bytes()).unwrap();
    let grant = HttpGrant::new(NetPolicy::new(&manifest.capabilities.network), limits);
    GrantedHttp::with_resolver(grant, MapResolver(names))
}

fn hooks(network: &str) -> GrantedHttp {
    hooks_with(
        network,
        vec![
            ("localhost", vec![ip("127.0.0.1")]),
            ("evil.test", vec![ip("127.0.0.1")]),
            ("meta.test", vec![ip("169.254.169.254")]),
            (
                "mixed.test",
                vec![ip("93.184.216.34"), ip("::ffff:127.0.0.1")],
            ),
        ],
        HttpLimits::default(),
    )
}

fn empty() -> WasiBody {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A GET as wasi:http hands it to the hook: absolute URL, `Host` set to the authority.
fn get(url: &str) -> Request<WasiBody> {
    let uri: http::Uri = url.parse().unwrap();
    let host = uri.authority().unwrap().as_str().to_owned();
    Request::get(uri)
        .header("host", host)
        .body(empty())
        .unwrap()
}

/// Sends through the hook, driving the connection as wasi:http does.
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

/// A loopback server answering every connection with `respond`, counting connections.
struct Server {
    port: u16,
    connections: Arc<AtomicUsize>,
}

async fn server<F, Fut>(respond: F) -> Server
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            read_head(&mut stream).await;
            tokio::spawn(respond(stream));
        }
    });
    Server { port, connections }
}

/// Reads the request head (bounded), so the answer does not race the request.
async fn read_head(stream: &mut TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
}

async fn hello() -> Server {
    server(|mut s| async move {
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello")
            .await;
    })
    .await
}

async fn body_text(response: Response<WasiBody>) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn loopback_is_reached_only_when_the_grant_names_its_address() {
    let s = hello().await;
    let url = format!("http://127.0.0.1:{}/", s.port);
    let mut granted = hooks(&format!(r#"{{ url = "http://127.0.0.1:{}" }}"#, s.port));
    let response = send(&mut granted, get(&url)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(response).await, "hello");

    // Another port on the same address is not granted.
    let mut other = hooks(&format!(r#"{{ url = "http://127.0.0.1:{}" }}"#, s.port + 1));
    let err = send(&mut other, get(&url)).await.unwrap_err();
    assert!(matches!(err, Error::HttpRequestDenied), "{err:?}");
    assert_eq!(s.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_name_that_resolves_to_loopback_is_denied() {
    let s = hello().await;
    let mut hooks = hooks(&format!(r#"{{ url = "http://evil.test:{}" }}"#, s.port));
    let err = send(&mut hooks, get(&format!("http://evil.test:{}/", s.port)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DestinationIpProhibited), "{err:?}");
    assert_eq!(s.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_wildcard_name_that_resolves_to_loopback_is_denied() {
    let s = hello().await;
    let mut hooks = hooks_with(
        &format!(r#"{{ url = "http://*.evil.test:{}" }}"#, s.port),
        vec![("a.evil.test", vec![ip("127.0.0.1")])],
        HttpLimits::default(),
    );
    let err = send(&mut hooks, get(&format!("http://a.evil.test:{}/", s.port)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DestinationIpProhibited), "{err:?}");
    assert_eq!(s.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_name_that_resolves_to_the_metadata_address_is_denied() {
    let mut hooks = hooks(r#"{ url = "http://meta.test" }"#);
    let err = send(&mut hooks, get("http://meta.test/latest/meta-data/"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DestinationIpProhibited), "{err:?}");
}

#[tokio::test]
async fn a_name_with_one_loopback_address_among_public_ones_is_denied() {
    let mut hooks = hooks(r#"{ url = "http://mixed.test" }"#);
    let err = send(&mut hooks, get("http://mixed.test/"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DestinationIpProhibited), "{err:?}");
}

#[tokio::test]
async fn redirect_to_an_unlisted_host_is_not_followed() {
    let elsewhere = hello().await;
    let location = format!("http://127.0.0.1:{}/stolen", elsewhere.port);
    let s = server(move |mut s| {
        let location = location.clone();
        async move {
            let head = format!(
                "HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            let _ = s.write_all(head.as_bytes()).await;
        }
    })
    .await;
    let mut hooks = hooks(&format!(r#"{{ url = "http://127.0.0.1:{}" }}"#, s.port));
    let response = send(&mut hooks, get(&format!("http://127.0.0.1:{}/", s.port)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(
        response.headers()["location"],
        format!("http://127.0.0.1:{}/stolen", elsewhere.port).as_str()
    );
    assert_eq!(body_text(response).await, "");
    // Following it is the guest's business, and it is checked like any request.
    let err = send(
        &mut hooks,
        get(&format!("http://127.0.0.1:{}/stolen", elsewhere.port)),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::HttpRequestDenied), "{err:?}");
    assert_eq!(elsewhere.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn huge_header_count_is_refused() {
    let s = server(|mut s| async move {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\n").await;
        let line = b"x-h: v\r\n".repeat(1000);
        for _ in 0..100 {
            // 100,000 header fields in all; stops as soon as the client hangs up.
            if s.write_all(&line).await.is_err() {
                return;
            }
        }
        let _ = s.write_all(b"content-length: 0\r\n\r\n").await;
    })
    .await;
    let mut hooks = hooks(&format!(r#"{{ url = "http://127.0.0.1:{}" }}"#, s.port));
    let result = tokio::time::timeout(
        Duration::from_secs(20),
        send(&mut hooks, get(&format!("http://127.0.0.1:{}/", s.port))),
    )
    .await
    .expect("a bounded refusal, not a hang");
    let err = result.unwrap_err();
    assert!(
        matches!(err, Error::HttpResponseHeaderSectionSize(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn header_bytes_over_the_cap_are_refused() {
    let s = server(|mut s| async move {
        let big = format!(
            "HTTP/1.1 200 OK\r\nx-big: {}\r\ncontent-length: 0\r\n\r\n",
            "a".repeat(100_000)
        );
        let _ = s.write_all(big.as_bytes()).await;
    })
    .await;
    let mut hooks = hooks(&format!(r#"{{ url = "http://127.0.0.1:{}" }}"#, s.port));
    let err = send(&mut hooks, get(&format!("http://127.0.0.1:{}/", s.port)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::HttpResponseHeaderSectionSize(_)),
        "{err:?}"
    );
}

/// Streams up to 1 GiB without a length, stopping as soon as the client hangs up.
async fn gigabyte(mut s: TcpStream) {
    let _ = s
        .write_all(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n")
        .await;
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..(1024 * 1024 * 1024 / chunk.len()) {
        if s.write_all(&chunk).await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn one_gigabyte_response_is_refused() {
    let s = server(gigabyte).await;
    let mut hooks = hooks(&format!(r#"{{ url = "http://127.0.0.1:{}" }}"#, s.port));
    let response = send(&mut hooks, get(&format!("http://127.0.0.1:{}/", s.port)))
        .await
        .unwrap();
    let mut body = response.into_body();
    let mut received = 0u64;
    let err = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match body.frame().await {
                Some(Ok(frame)) => received += frame.data_ref().map_or(0, |d| d.len() as u64),
                Some(Err(err)) => return err,
                None => panic!("the body ended after {received} bytes without hitting the cap"),
            }
        }
    })
    .await
    .expect("a bounded refusal, not a hang");
    assert!(matches!(err, Error::HttpResponseBodySize(_)), "{err:?}");
    assert!(received <= MAX_RESPONSE_BODY_BYTES, "{received}");
    assert!(body.frame().await.is_none());
}

#[tokio::test]
async fn one_gigabyte_content_length_is_refused() {
    let s = server(|mut s| async move {
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1073741824\r\n\r\nxx")
            .await;
    })
    .await;
    let mut hooks = hooks(&format!(r#"{{ url = "http://127.0.0.1:{}" }}"#, s.port));
    let err = send(&mut hooks, get(&format!("http://127.0.0.1:{}/", s.port)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::HttpResponseBodySize(Some(1073741824))),
        "{err:?}"
    );
}

#[tokio::test]
async fn host_header_override_is_refused() {
    let s = hello().await;
    let mut hooks = hooks(&format!(r#"{{ url = "http://127.0.0.1:{}" }}"#, s.port));
    let request = Request::get(format!("http://127.0.0.1:{}/", s.port))
        .header("host", "evil.com")
        .body(empty())
        .unwrap();
    let err = send(&mut hooks, request).await.unwrap_err();
    assert!(matches!(err, Error::HttpRequestDenied), "{err:?}");
    let twice = Request::get(format!("http://127.0.0.1:{}/", s.port))
        .header("host", format!("127.0.0.1:{}", s.port))
        .header("host", "evil.com")
        .body(empty())
        .unwrap();
    let err = send(&mut hooks, twice).await.unwrap_err();
    assert!(matches!(err, Error::HttpRequestDenied), "{err:?}");
    assert_eq!(s.connections.load(Ordering::SeqCst), 0);
    // And the guest may not set `host` at all.
    assert!(hooks.is_forbidden_header(&http::header::HOST));
}

#[tokio::test]
async fn http_when_only_https_is_granted_is_refused() {
    let s = hello().await;
    let mut hooks = hooks(&format!(r#"{{ url = "https://127.0.0.1:{}" }}"#, s.port));
    let err = send(&mut hooks, get(&format!("http://127.0.0.1:{}/", s.port)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::HttpRequestDenied), "{err:?}");
    assert_eq!(s.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn unlisted_host_is_refused() {
    let mut hooks = hooks(r#"{ url = "https://api.github.com" }"#);
    let err = send(&mut hooks, get("https://evil.com/"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::HttpRequestDenied), "{err:?}");
}

#[tokio::test]
async fn userinfo_trick_is_refused() {
    let mut hooks = hooks(r#"{ url = "http://allowed.com" }"#);
    let err = send(&mut hooks, get("http://allowed.com@evil.com/"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::HttpRequestDenied), "{err:?}");
}

#[tokio::test]
async fn trailing_dot_is_refused() {
    let mut hooks = hooks(r#"{ url = "http://evil.test" }"#);
    let err = send(&mut hooks, get("http://evil.test./"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::HttpRequestDenied), "{err:?}");
}

#[tokio::test]
async fn unicode_lookalike_is_refused() {
    // The Cyrillic 'а' form cannot even become a URL; its IDNA form is another host.
    assert!(
        "https://\u{430}pi.github.com/"
            .parse::<http::Uri>()
            .is_err()
    );
    let mut hooks = hooks(r#"{ url = "https://api.github.com" }"#);
    let err = send(&mut hooks, get("https://xn--pi-6kc.github.com/"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::HttpRequestDenied), "{err:?}");
}

#[tokio::test]
async fn case_insensitive_host_matches() {
    let s = hello().await;
    let mut hooks = hooks(&format!(r#"{{ url = "http://localhost:{}" }}"#, s.port));
    let response = send(&mut hooks, get(&format!("http://LocalHost:{}/", s.port)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(response).await, "hello");
}

#[tokio::test]
async fn request_body_over_the_cap_is_refused() {
    let s = hello().await;
    let limits = HttpLimits {
        request_body_bytes: 10,
        ..HttpLimits::default()
    };
    let mut hooks = hooks_with(
        &format!(r#"{{ url = "http://127.0.0.1:{}" }}"#, s.port),
        vec![],
        limits,
    );
    let request = Request::post(format!("http://127.0.0.1:{}/", s.port))
        .header("host", format!("127.0.0.1:{}", s.port))
        .header("content-length", "11")
        .body(
            http_body_util::Full::new(Bytes::from_static(b"hello world"))
                .map_err(|never| match never {})
                .boxed_unsync(),
        )
        .unwrap();
    let err = send(&mut hooks, request).await.unwrap_err();
    assert!(
        matches!(err, Error::HttpRequestBodySize(Some(11))),
        "{err:?}"
    );
    assert_eq!(s.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_server_that_never_answers_hits_the_total_timeout() {
    let s = server(|s| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(s);
    })
    .await;
    let limits = HttpLimits {
        total_timeout: Duration::from_millis(300),
        ..HttpLimits::default()
    };
    let mut hooks = hooks_with(
        &format!(r#"{{ url = "http://127.0.0.1:{}" }}"#, s.port),
        vec![],
        limits,
    );
    let started = std::time::Instant::now();
    let err = send(&mut hooks, get(&format!("http://127.0.0.1:{}/", s.port)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ConnectionReadTimeout), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Paper-mode hooks for the grant of `network`.
fn paper_hooks(network: &str, log: ward_http::PaperLog) -> GrantedHttp {
    let toml = format!(
        "name = \"acme:net\"\nversion = \"0.1.0\"\n[capabilities]\nnetwork = [{network}]\n"
    );
    let manifest = Manifest::parse(toml.as_bytes()).unwrap();
    let grant = HttpGrant::new(
        NetPolicy::new(&manifest.capabilities.network),
        HttpLimits::default(),
    )
    .paper(log);
    GrantedHttp::with_resolver(grant, MapResolver(vec![]))
}

#[tokio::test]
async fn paper_mode_answers_a_post_without_sending_it_and_lets_a_get_through() {
    let s = hello().await;
    let log = ward_http::PaperLog::new();
    let mut hooks = paper_hooks(
        &format!(r#"{{ url = "http://127.0.0.1:{}" }}"#, s.port),
        log.clone(),
    );
    let url = format!("http://127.0.0.1:{}/items?id=7", s.port);
    let uri: http::Uri = url.parse().unwrap();
    let post = Request::post(uri.clone())
        .header("host", uri.authority().unwrap().as_str())
        .body(empty())
        .unwrap();
    let response = send(&mut hooks, post).await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(response.headers()["x-ward-paper"], "held-back");
    assert_eq!(body_text(response).await, ward_http::PAPER_BODY);
    assert_eq!(s.connections.load(Ordering::SeqCst), 0, "the POST was sent");
    let held = log.take();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].method, "POST");
    assert_eq!(held[0].origin, format!("http://127.0.0.1:{}", s.port));

    let response = send(&mut hooks, get(&url)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(response).await, "hello");
    assert_eq!(s.connections.load(Ordering::SeqCst), 1);
    assert!(log.take().is_empty());
}

#[tokio::test]
async fn paper_mode_still_refuses_what_the_grant_refuses() {
    let log = ward_http::PaperLog::new();
    let mut hooks = paper_hooks(
        r#"{ url = "http://127.0.0.1:1", methods = ["GET"] }"#,
        log.clone(),
    );
    for url in ["http://127.0.0.1:1/", "http://127.0.0.1:2/"] {
        let uri: http::Uri = url.parse().unwrap();
        let post = Request::post(uri.clone())
            .header("host", uri.authority().unwrap().as_str())
            .body(empty())
            .unwrap();
        let err = send(&mut hooks, post).await.unwrap_err();
        assert!(matches!(err, Error::HttpRequestDenied), "{url}: {err:?}");
    }
    assert!(
        log.take().is_empty(),
        "a refused request is not recorded as held back"
    );
}

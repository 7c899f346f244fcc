//! Secrets and the network end to end: the real `ward` binary, signed `fetch` and `issue-bot`
//! plugins, a temporary WARD_HOME with the encrypted secret store, and loopback servers (https
//! with a test CA trusted through the operator policy, and plain http) standing in for the
//! internet. Each attack is its own test.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use assert_cmd::Command;
use base64::Engine as _;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use ward_signing::SecretKey;

/// The token the operator stores. Long enough that its base64 forms are searched for.
const VALUE: &str = "ghp_e2eS3cr3tTOKEN0123456789abcdefXYZ";

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Fails if `text` holds the token, raw or base64 (padded or not).
fn assert_clean(what: &str, text: &[u8]) {
    let text = String::from_utf8_lossy(text);
    assert!(
        !text.contains(VALUE),
        "{what} holds the secret value: {text}"
    );
    let encoded = b64(VALUE);
    assert!(
        !text.contains(encoded.trim_end_matches('=')),
        "{what} holds the base64 secret value: {text}"
    );
    assert!(
        !text.contains(&b64(&format!("Bearer {VALUE}"))[..20]),
        "{what} holds the base64 Authorization value: {text}"
    );
}

/// A temporary ward home whose operator trusts one publisher key for `example:*`, pre-approves
/// `http` and `secrets` for `example:*` plugins and trusts the test CA for https.
struct Env {
    _dir: tempfile::TempDir,
    root: PathBuf,
    key: SecretKey,
    /// Every stdout and stderr a command produced, for the leak checks.
    seen: Mutex<Vec<(String, Vec<u8>)>>,
}

impl Env {
    fn new(ca_pem: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        let env = Env {
            _dir: dir,
            root,
            key: SecretKey::generate().unwrap(),
            seen: Mutex::new(Vec::new()),
        };
        let pubfile = env.root.join("publisher.pub");
        std::fs::write(&pubfile, env.key.public_key().to_openssh()).unwrap();
        env.ok(&[
            "trust",
            "add",
            pubfile.to_str().unwrap(),
            "--scope",
            "example:*",
            "--label",
            "publisher",
        ]);
        let ca = env.root.join("ca.pem");
        std::fs::write(&ca, ca_pem).unwrap();
        std::fs::write(
            env.home().join("policy.toml"),
            format!(
                "[[preapprove]]\nplugin = \"example:*\"\ncapabilities = [\"http\", \"secrets\"]\n\n\
                 [network]\nca_certs = [\"{}\"]\n",
                ca.display()
            ),
        )
        .unwrap();
        env
    }

    fn home(&self) -> PathBuf {
        self.root.join("home")
    }

    fn ward(&self) -> Command {
        let mut cmd = Command::cargo_bin("ward").unwrap();
        cmd.env("WARD_HOME", self.home())
            .env_remove("RUST_LOG")
            .env_remove("WARD_STORE_FAILPOINT")
            .env("NO_COLOR", "1");
        cmd
    }

    /// Runs `ward ARGS` (with debug logs on stderr) and records what it printed.
    fn run(&self, args: &[&str], stdin: Option<&str>) -> std::process::Output {
        let mut cmd = self.ward();
        cmd.arg("-vv").args(args);
        if let Some(input) = stdin {
            cmd.write_stdin(input);
        }
        let out = cmd.output().unwrap();
        let mut seen = self.seen.lock().unwrap();
        seen.push((format!("stdout of {args:?}"), out.stdout.clone()));
        seen.push((format!("stderr of {args:?}"), out.stderr.clone()));
        out
    }

    fn ok(&self, args: &[&str]) -> std::process::Output {
        let out = self.run(args, None);
        assert!(
            out.status.success(),
            "ward {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `ward pack` with `manifest`, signed by the publisher key, installed with `--yes`.
    fn install(&self, component: &str, manifest: &str, name: &str) {
        let manifest_file = self.root.join(format!("{name}.toml"));
        std::fs::write(&manifest_file, manifest).unwrap();
        let packed = self.root.join(format!("{name}.packed.wasm"));
        self.ok(&[
            "pack",
            component,
            "--manifest",
            manifest_file.to_str().unwrap(),
            "-o",
            packed.to_str().unwrap(),
        ]);
        let signed = ward_signing::sign(&std::fs::read(&packed).unwrap(), &self.key).unwrap();
        let file = self.root.join(format!("{name}.signed.wasm"));
        std::fs::write(&file, signed).unwrap();
        self.ok(&["install", file.to_str().unwrap(), "--yes"]);
    }

    fn set_secret(&self, name: &str, value: &str) {
        let out = self.run(&["secret", "set", name], Some(value));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `ward run ... --json`: the JSON document on stdout, and the whole output.
    fn run_json(&self, args: &[&str]) -> (Value, std::process::Output) {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        all.push("--json");
        let out = self.run(&all, None);
        let doc = serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null);
        (doc, out)
    }

    /// Asserts the token appears in no output so far, no audit record and no file in the home
    /// (the SQLite store and its journal included; the encrypted secret file holds ciphertext).
    fn assert_no_leak(&self) {
        let audit = self.ok(&["audit", "--json"]);
        assert_clean("ward audit --json", &audit.stdout);
        for (what, bytes) in self.seen.lock().unwrap().iter() {
            assert_clean(what, bytes);
        }
        let mut files = 0;
        for path in walk(&self.home()) {
            files += 1;
            assert_clean(&path.display().to_string(), &std::fs::read(&path).unwrap());
        }
        assert!(files > 3, "the home holds only {files} files");
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// A test CA, and a server certificate it signed for IP 127.0.0.1.
fn pki() -> (String, Arc<rustls::ServerConfig>) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
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
    (ca.pem(), Arc::new(config))
}

/// A loopback server recording each request head, answering with `respond(head)`.
struct Server {
    port: u16,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

type Respond = Arc<dyn Fn(&str) -> Vec<u8> + Send + Sync>;

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
    let _ = stream.write_all(&respond(&head)).await;
    let _ = stream.shutdown().await;
}

fn server(
    rt: &tokio::runtime::Runtime,
    tls: Option<Arc<rustls::ServerConfig>>,
    respond: Respond,
) -> Server {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let recorded = heads.clone();
    rt.spawn(async move {
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

fn header_in(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

/// An API that echoes the Authorization header it got: in a header, plain in the body and
/// base64 in the body.
fn echoing_api() -> Respond {
    Arc::new(|head: &str| {
        let auth = header_in(head, "authorization").unwrap_or_default();
        let body = format!(
            "[{{\"issue\":1,\"you-sent\":\"{auth}\",\"base64\":\"{}\"}}]",
            b64(&auth)
        );
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-echo: {auth}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    })
}

fn plain_text(text: &'static str) -> Respond {
    Arc::new(move |_| {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
            text.len()
        )
        .into_bytes()
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The issue-bot manifest for a loopback API on `api` (the secret's only host) and another
/// granted https host on `other`.
fn issue_bot_manifest(api: u16, other: u16) -> String {
    format!(
        "name = \"example:issue-bot\"\nversion = \"0.1.0\"\ndescription = \"issue bot\"\n\
         [capabilities]\n\
         network = [{{ url = \"https://127.0.0.1:{api}\", methods = [\"GET\"] }}, {{ url = \"https://127.0.0.1:{other}\", methods = [\"GET\"] }}]\n\
         secrets = [{{ name = \"ISSUE_TOKEN\", hosts = [\"https://127.0.0.1:{api}\"], header = \"Authorization\", format = \"Bearer {{}}\" }}]\n\
         [limits]\ntimeout = \"20s\"\n"
    )
}

#[test]
fn issue_bot_token_reaches_its_api_and_nowhere_else() {
    let rt = runtime();
    let (ca_pem, tls) = pki();
    let api = server(&rt, Some(tls.clone()), echoing_api());
    let other = server(&rt, Some(tls), echoing_api());
    let env = Env::new(&ca_pem);
    env.install(
        ward_fixtures::ISSUE_BOT,
        &issue_bot_manifest(api.port, other.port),
        "issue-bot",
    );
    env.set_secret("ISSUE_TOKEN", VALUE);

    // The bound API gets the real value, host-side.
    let api_host = format!("api=127.0.0.1:{}", api.port);
    let (doc, out) = env.run_json(&["example:issue-bot", "list-issues", &api_host]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let heads = api.heads();
    assert_eq!(heads.len(), 1);
    assert_eq!(
        header_in(&heads[0], "authorization").as_deref(),
        Some(format!("Bearer {VALUE}").as_str())
    );
    assert_eq!(
        header_in(&heads[0], "accept-encoding").as_deref(),
        Some("identity")
    );

    // What the guest read — status, every header, the whole body — holds only the marker: the
    // value never entered guest memory, even though the server echoed it three ways.
    let seen = doc["result"]["ok"].as_str().unwrap().to_owned();
    assert!(seen.starts_with("200\n"), "{seen}");
    assert!(
        seen.contains("x-echo: [redacted:secret]"),
        "the echoed header is not scrubbed: {seen}"
    );
    assert!(
        seen.contains("\"you-sent\":\"[redacted:secret]\""),
        "the echoed body is not scrubbed: {seen}"
    );
    assert!(
        seen.contains("\"base64\":\"[redacted:secret]\""),
        "the base64 echo is not scrubbed: {seen}"
    );
    assert!(
        !seen.to_ascii_lowercase().contains("content-length"),
        "{seen}"
    );
    assert_clean("the guest's view of the response", seen.as_bytes());

    // The placeholder to an allowed host the secret is not bound to: refused, never sent.
    let other_host = format!("host=127.0.0.1:{}", other.port);
    let (doc, out) = env.run_json(&["example:issue-bot", "send-token-to", &other_host]);
    assert_eq!(out.status.code(), Some(1));
    let err = doc["result"]["err"].as_str().unwrap();
    assert!(err.contains("HttpRequestDenied"), "{err}");
    assert!(other.heads().is_empty(), "the unbound host saw a request");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("secret ISSUE_TOKEN is bound only to https://127.0.0.1:"),
        "{stderr}"
    );

    env.assert_no_leak();
}

#[test]
fn issue_bot_without_its_secret_set_stops_before_guest_code() {
    let rt = runtime();
    let (ca_pem, tls) = pki();
    let api = server(&rt, Some(tls.clone()), echoing_api());
    let other = server(&rt, Some(tls), echoing_api());
    let env = Env::new(&ca_pem);
    env.install(
        ward_fixtures::ISSUE_BOT,
        &issue_bot_manifest(api.port, other.port),
        "issue-bot",
    );
    // The install itself says so.
    let installed = env.seen.lock().unwrap().last().unwrap().1.clone();
    let installed = String::from_utf8_lossy(&installed).into_owned();
    assert!(
        installed.contains("note: secret ISSUE_TOKEN is not set: run ward secret set ISSUE_TOKEN"),
        "{installed}"
    );
    let api_host = format!("api=127.0.0.1:{}", api.port);
    let out = env.run(
        &["run", "example:issue-bot", "list-issues", &api_host],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("secret ISSUE_TOKEN is not set: run ward secret set ISSUE_TOKEN"),
        "{stderr}"
    );
    assert!(api.heads().is_empty());
    let audit = env.ok(&["audit", "--json"]);
    let records: Value = ward_testkit::install::json_lines(&audit.stdout);
    assert!(
        records
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["action"] == "deny"
                && r["outcome"] == "denied"
                && r.to_string().contains("secret-not-set")),
        "{records}"
    );
}

#[test]
fn issue_bot_with_an_unreadable_secret_store_fails_closed() {
    let rt = runtime();
    let (ca_pem, tls) = pki();
    let api = server(&rt, Some(tls.clone()), echoing_api());
    let other = server(&rt, Some(tls), echoing_api());
    let env = Env::new(&ca_pem);
    env.install(
        ward_fixtures::ISSUE_BOT,
        &issue_bot_manifest(api.port, other.port),
        "issue-bot",
    );
    env.set_secret("ISSUE_TOKEN", VALUE);
    // A key file others can read: the store refuses to open, and the run stops.
    let key = env.home().join(ward_secrets::KEY_FILE);
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let api_host = format!("api=127.0.0.1:{}", api.port);
    let out = env.run(
        &["run", "example:issue-bot", "list-issues", &api_host],
        None,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the secret store is unavailable"),
        "{stderr}"
    );
    assert!(api.heads().is_empty());
    env.assert_no_leak();
}

#[test]
fn issue_bot_refused_by_an_untrusted_server_certificate() {
    // The operator's policy trusts a different CA than the one that signed the API's
    // certificate: the TLS handshake fails and no request head is sent.
    let rt = runtime();
    let (_, tls) = pki();
    let (other_ca, _) = pki();
    let api = server(&rt, Some(tls.clone()), echoing_api());
    let other = server(&rt, Some(tls), echoing_api());
    let env = Env::new(&other_ca);
    env.install(
        ward_fixtures::ISSUE_BOT,
        &issue_bot_manifest(api.port, other.port),
        "issue-bot",
    );
    env.set_secret("ISSUE_TOKEN", VALUE);
    let api_host = format!("api=127.0.0.1:{}", api.port);
    let (doc, out) = env.run_json(&["example:issue-bot", "list-issues", &api_host]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        doc["result"]["err"].as_str().unwrap().contains("Tls"),
        "{doc}"
    );
    assert!(api.heads().is_empty());
    env.assert_no_leak();
}

#[test]
fn bad_ca_certificate_in_the_policy_is_a_clear_error() {
    let env = Env::new(&pki().0);
    let ca = env.root.join("ca.pem");
    std::fs::write(&ca, "not a certificate\n").unwrap();
    let out = env.run(&["list"], None);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "invalid CA certificate file {} (policy file [network] ca_certs): no CERTIFICATE block in the PEM text",
            ca.display()
        )),
        "{stderr}"
    );
}

fn fetch_manifest(port: u16) -> String {
    format!(
        "name = \"example:fetch\"\nversion = \"0.1.0\"\ndescription = \"fetch\"\n\
         [capabilities]\nnetwork = [{{ url = \"http://127.0.0.1:{port}\", methods = [\"GET\"] }}]\n\
         [limits]\ntimeout = \"20s\"\n"
    )
}

#[test]
fn fetch_reaches_the_granted_loopback_server_only() {
    let rt = runtime();
    let (ca_pem, _) = pki();
    let granted = server(&rt, None, plain_text("hello from loopback"));
    let unlisted = server(&rt, None, plain_text("should not be reached"));
    let env = Env::new(&ca_pem);
    env.install(ward_fixtures::FETCH, &fetch_manifest(granted.port), "fetch");

    let url = format!("url=http://127.0.0.1:{}/page?x=1", granted.port);
    let (doc, out) = env.run_json(&["example:fetch", "get", &url]);
    assert!(
        out.status.success(),
        "{doc} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(doc["result"]["ok"], "200 hello from loopback");
    assert!(granted.heads()[0].starts_with("GET /page?x=1 HTTP/1.1"));

    let url = format!("url=http://127.0.0.1:{}/", unlisted.port);
    let (doc, out) = env.run_json(&["example:fetch", "get", &url]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        doc["result"]["err"]
            .as_str()
            .unwrap()
            .contains("HttpRequestDenied"),
        "{doc}"
    );
    assert!(unlisted.heads().is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is not granted"), "{stderr}");
}

#[test]
fn fetch_with_a_secret_placeholder_and_no_secrets_is_refused() {
    // fetch declares no secrets: a placeholder in its URL is refused before anything is sent.
    let rt = runtime();
    let (ca_pem, _) = pki();
    let granted = server(&rt, None, plain_text("ok"));
    let env = Env::new(&ca_pem);
    env.install(ward_fixtures::FETCH, &fetch_manifest(granted.port), "fetch");
    let url = format!(
        "url=http://127.0.0.1:{}/?token={{{{secret:ISSUE_TOKEN}}}}",
        granted.port
    );
    let (doc, out) = env.run_json(&["example:fetch", "get", &url]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        doc["result"]["err"]
            .as_str()
            .unwrap()
            .contains("HttpRequestDenied"),
        "{doc}"
    );
    assert!(granted.heads().is_empty());
}

//! wardd end to end: real Unix sockets, a real store in a temporary home, real plugins. Attack
//! tests are named after the attack.
#![allow(clippy::unwrap_used)] // test helpers: a failed setup step is the test's failure

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::UnixStream;
use ward_daemon::client::{Connection, request};
use ward_daemon::{DaemonConfig, Running, Socket};
use ward_store::{AuditQuery, NewToken, Store};

const HELLO_NAME: &str = "example:hello";
/// HELLO installed under another name with `greet` marked `confirm` in its manifest.
const GUARDED_NAME: &str = "example:guarded";

struct Env {
    _tmp: tempfile::TempDir,
    home: PathBuf,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("ward");
    let env = Env { _tmp: tmp, home };
    install(&env.home, HELLO_NAME, "");
    install(
        &env.home,
        GUARDED_NAME,
        "[commands.greet]\ndescription = \"Say hello\"\nconfirm = true\n",
    );
    env
}

fn install(home: &Path, name: &str, extra_manifest: &str) {
    let manifest = format!(
        "name = \"{name}\"\nversion = \"0.1.0\"\ndescription = \"test\"\n{extra_manifest}\n[limits]\ntimeout = \"2s\"\n"
    );
    ward_testkit::install::install_signed(home, ward_fixtures::HELLO, &manifest, json!([]));
}

fn token(home: &Path, spec: NewToken) -> (String, String) {
    let mut store = Store::open(home).expect("store");
    let issued = store.token_create(&spec).expect("token");
    (issued.token, issued.row.id)
}

fn hello_token(home: &Path) -> (String, String) {
    token(
        home,
        NewToken {
            plugin: HELLO_NAME.into(),
            ..NewToken::default()
        },
    )
}

fn config(home: &Path) -> DaemonConfig {
    let mut cfg = DaemonConfig::new(home);
    // Refusal rows are written at this interval; short, so the tests need not wait.
    cfg.limits.refusal_interval = Duration::from_millis(200);
    cfg
}

async fn start(cfg: DaemonConfig) -> Running {
    ward_daemon::start(cfg).await.expect("daemon starts")
}

async fn run_greet(
    d: &Running,
    token: Option<&str>,
    plugin: &str,
    name: &str,
) -> (StatusCode, Value) {
    request(
        d.agent_socket(),
        Method::POST,
        "/v1/run",
        token,
        Some(&json!({ "plugin": plugin, "command": "greet", "args": { "name": name } })),
    )
    .await
    .expect("request")
}

fn audit_rows(home: &Path) -> Vec<ward_store::AuditRow> {
    Store::open(home)
        .expect("store")
        .audit_list(AuditQuery::default())
        .expect("audit")
}

fn kind(v: &Value) -> &str {
    v["error"]["kind"].as_str().unwrap_or("")
}

/// Sends raw bytes on a fresh connection, half-closes, and reads everything the daemon answers.
async fn raw(socket: &Path, bytes: &[u8]) -> String {
    let mut s = UnixStream::connect(socket).await.expect("connect");
    s.write_all(bytes).await.expect("write");
    s.shutdown().await.expect("shutdown");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_runs_an_allowed_command_and_every_request_is_audited() {
    let e = env();
    let (tok, id) = hello_token(&e.home);
    let d = start(config(&e.home)).await;
    let (status, body) = run_greet(&d, Some(&tok), HELLO_NAME, "agent").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ok"], true);
    assert_eq!(body["result"], "Hello, agent!");

    let (status, body) = request(
        d.agent_socket(),
        Method::GET,
        "/v1/commands",
        Some(&tok),
        None,
    )
    .await
    .unwrap();
    assert_eq!(status, StatusCode::OK);
    let greet = body["commands"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["command"] == "greet")
        .expect("greet listed")
        .clone();
    assert_eq!(greet["schema"]["required"], json!(["name"]));
    assert_eq!(greet["confirm"], false);

    let (status, body) = request(d.operator_socket(), Method::GET, "/v1/status", None, None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["requests_served"], 2);
    assert_eq!(body["plugins_loaded"][0]["name"], HELLO_NAME);
    d.shutdown().await;

    let rows = audit_rows(&e.home);
    let run = rows.iter().find(|r| r.action == "run").expect("run row");
    assert_eq!(run.outcome, "ok");
    assert_eq!(run.plugin.as_deref(), Some(HELLO_NAME));
    assert_eq!(run.detail["token"], id.as_str());
    assert_eq!(run.detail["command"], "greet");
    assert!(run.detail["fuel"].as_u64().unwrap() > 0);
    assert!(run.detail["bytes_out"].as_u64().unwrap() > 0);
    assert!(run.actor.starts_with("agent:uid:"));
    // Arguments and results never reach the audit log.
    let all = serde_json::to_string(&rows).unwrap();
    assert!(!all.contains("Hello, agent"));
    assert!(!all.contains("\"agent\""));
    assert!(!all.contains(&tok));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_are_private_and_a_shared_run_dir_is_refused() {
    let e = env();
    let d = start(config(&e.home)).await;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(d.operator_socket()), 0o600);
    assert_eq!(mode(d.agent_socket()), 0o600);
    assert_eq!(mode(&e.home.join("run")), 0o700);
    // A second daemon on the same home is refused.
    let second = ward_daemon::start(config(&e.home)).await.unwrap_err();
    assert!(second.to_string().contains("already serving"), "{second}");
    d.shutdown().await;
    assert!(!e.home.join("run/agent.sock").exists());

    std::fs::set_permissions(e.home.join("run"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = ward_daemon::start(config(&e.home)).await.unwrap_err();
    assert!(err.to_string().contains("chmod 700"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_from_a_foreign_uid_is_refused() {
    let e = env();
    let (tok, _) = hello_token(&e.home);
    let mut cfg = config(&e.home);
    // The injected check refuses every uid on the agent socket, as it would a foreign one.
    cfg.peer_check = Some(Arc::new(|socket, _uid| socket == Socket::Operator));
    let d = start(cfg).await;
    let r = request(
        d.agent_socket(),
        Method::POST,
        "/v1/run",
        Some(&tok),
        Some(&json!({ "plugin": HELLO_NAME, "command": "greet", "args": { "name": "x" } })),
    )
    .await;
    assert!(r.is_err(), "a refused peer gets no answer: {r:?}");
    let (status, _) = request(d.operator_socket(), Method::GET, "/v1/status", None, None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    d.shutdown().await;
    let rows = audit_rows(&e.home);
    assert!(rows.iter().all(|r| r.action != "run"));
    assert!(
        rows.iter()
            .any(|r| r.action == "deny" && r.detail["reason"] == "peer-uid")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_body_is_refused() {
    let e = env();
    let (tok, _) = hello_token(&e.home);
    let mut cfg = config(&e.home);
    cfg.limits.max_body_bytes = 1024;
    let d = start(cfg).await;
    let (status, body) = run_greet(&d, Some(&tok), HELLO_NAME, &"x".repeat(4096)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(kind(&body), "body-too-large");
    // Without a Content-Length (chunked), the cap still holds.
    let chunk = "y".repeat(3000);
    let req = format!(
        "POST /v1/run HTTP/1.1\r\nhost: w\r\nauthorization: Bearer {tok}\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    let out = raw(d.agent_socket(), req.as_bytes()).await;
    assert!(out.starts_with("HTTP/1.1 413"), "{out}");
    // Oversized headers are refused before any handler runs.
    let req = format!(
        "GET /v1/commands HTTP/1.1\r\nhost: w\r\nx-big: {}\r\n\r\n",
        "z".repeat(64 * 1024)
    );
    let out = raw(d.agent_socket(), req.as_bytes()).await;
    assert!(!out.contains("200 OK"), "{out}");
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_body_is_refused() {
    let e = env();
    let (tok, _) = hello_token(&e.home);
    let d = start(config(&e.home)).await;
    let req = format!(
        "POST /v1/run HTTP/1.1\r\nhost: w\r\nauthorization: Bearer {tok}\r\ncontent-length: 200\r\n\r\n{{\"plugin\":\"example:hello\""
    );
    let out = raw(d.agent_socket(), req.as_bytes()).await;
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    assert!(out.contains("body-truncated"), "{out}");
    d.shutdown().await;
    assert!(audit_rows(&e.home).iter().all(|r| r.action != "run"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_json_is_refused() {
    let e = env();
    let (tok, _) = hello_token(&e.home);
    let d = start(config(&e.home)).await;
    let mut c = Connection::open(d.agent_socket()).await.unwrap();
    for body in [
        json!("not an object"),
        json!({ "plugin": HELLO_NAME }),
        json!({ "plugin": HELLO_NAME, "command": "greet", "args": {}, "extra": 1 }),
    ] {
        let (status, reply) = c
            .request(Method::POST, "/v1/run", Some(&tok), Some(&body))
            .await
            .unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(kind(&reply), "invalid-json");
    }
    // Arguments that do not fit the command's WIT types are refused before guest code runs.
    let (status, reply) = c
        .request(
            Method::POST,
            "/v1/run",
            Some(&tok),
            Some(&json!({ "plugin": HELLO_NAME, "command": "greet", "args": { "name": 7 } })),
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(kind(&reply), "invalid-arguments");
    let req = format!(
        "POST /v1/run HTTP/1.1\r\nhost: w\r\nauthorization: Bearer {tok}\r\ncontent-length: 9\r\n\r\n{{\"plugin\""
    );
    let out = raw(d.agent_socket(), req.as_bytes()).await;
    assert!(
        out.starts_with("HTTP/1.1 400") && out.contains("invalid-json"),
        "{out}"
    );
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_connection_is_closed() {
    let e = env();
    let mut cfg = config(&e.home);
    cfg.limits.header_read_timeout = Duration::from_secs(1);
    let d = start(cfg).await;
    let mut s = UnixStream::connect(d.agent_socket()).await.unwrap();
    s.write_all(b"GET /v1/commands HTTP/1.1\r\n").await.unwrap();
    // Trickle one header byte at a time; the daemon must hang up rather than wait forever.
    let closed = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            if s.write_all(b"x").await.is_err() {
                return true;
            }
            let mut buf = [0u8; 256];
            match tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => return true, // an error reply, then close
                Err(_) => {}
            }
        }
    })
    .await;
    assert_eq!(closed, Ok(true), "the slow connection was never closed");
    // The daemon still serves others.
    let (status, _) = request(d.operator_socket(), Method::GET, "/v1/status", None, None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    d.shutdown().await;
}

/// Waits until the audit log holds a `deny` row with `reason` (the row of a refused connection is
/// written when the connection ends).
async fn wait_for_denial(home: &Path, reason: &str) -> ward_store::AuditRow {
    for _ in 0..600 {
        if let Some(row) = audit_rows(home)
            .into_iter()
            .find(|r| r.action == "deny" && r.detail["reason"] == reason)
        {
            return row;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no audit row with reason {reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_refused_by_the_http_layer_are_audited() {
    let e = env();
    let mut cfg = config(&e.home);
    cfg.limits.header_read_timeout = Duration::from_secs(1);
    let d = start(cfg).await;
    // Oversized headers: 431 before any handler runs.
    let req = format!(
        "GET /v1/commands HTTP/1.1\r\nhost: w\r\nx-big: {}\r\n\r\n",
        "z".repeat(64 * 1024)
    );
    let out = raw(d.agent_socket(), req.as_bytes()).await;
    assert!(out.starts_with("HTTP/1.1 431"), "{out}");
    let row = wait_for_denial(&e.home, "headers-too-large").await;
    assert!(row.actor.starts_with("agent:uid:"), "{row:?}");
    assert_eq!(row.detail["endpoint"], "http");
    // Bytes that are not HTTP.
    let out = raw(d.operator_socket(), b"\x16\x03\x01 not http at all\r\n\r\n").await;
    assert!(out.starts_with("HTTP/1.1 400") || out.is_empty(), "{out}");
    let row = wait_for_denial(&e.home, "malformed-http").await;
    assert!(row.actor.starts_with("operator:uid:"), "{row:?}");
    // Headers never completed (slowloris): closed at the header timeout.
    let mut s = UnixStream::connect(d.agent_socket()).await.unwrap();
    s.write_all(b"GET /v1/commands HTTP/1.1\r\nx-slow: ")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(60), s.read_to_end(&mut buf)).await;
    wait_for_denial(&e.home, "header-timeout").await;
    d.shutdown().await;
    assert!(Store::open(&e.home).unwrap().audit_verify().is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_connections_are_served_and_audited() {
    const N: usize = 10_000;
    const PARALLEL: usize = 32;
    let e = env();
    let d = start(config(&e.home)).await;
    let socket = d.agent_socket().to_path_buf();
    let mut tasks = Vec::new();
    for w in 0..PARALLEL {
        let socket = socket.clone();
        tasks.push(tokio::spawn(async move {
            let mut unauthorized = 0;
            for _ in (w..N).step_by(PARALLEL) {
                let (status, _) = request(&socket, Method::GET, "/v1/commands", None, None)
                    .await
                    .expect("request");
                if status == StatusCode::UNAUTHORIZED {
                    unauthorized += 1;
                }
            }
            unauthorized
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(total, N);
    d.shutdown().await;
    let store = Store::open(&e.home).unwrap();
    let report = store.audit_verify().expect("verify");
    let rows = store.audit_list(AuditQuery::default()).unwrap();
    let denials = rows
        .iter()
        .filter(|r| r.detail["reason"] == "token-missing")
        .count();
    assert_eq!(denials, N);
    assert!(report.rows >= N as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_wrong_revoked_expired_and_out_of_scope_tokens_are_refused() {
    let e = env();
    let (tok, id) = hello_token(&e.home);
    let (expired, _) = token(
        &e.home,
        NewToken {
            plugin: HELLO_NAME.into(),
            expires_in_secs: Some(0),
            ..NewToken::default()
        },
    );
    let (other_cmd, _) = token(
        &e.home,
        NewToken {
            plugin: HELLO_NAME.into(),
            command: Some("divide".into()),
            ..NewToken::default()
        },
    );
    let d = start(config(&e.home)).await;

    let (s, b) = run_greet(&d, None, HELLO_NAME, "x").await;
    assert_eq!((s, kind(&b)), (StatusCode::UNAUTHORIZED, "token-missing"));

    let mut wrong = tok.clone();
    wrong.replace_range(10..11, if &tok[10..11] == "a" { "b" } else { "a" });
    for bad in [wrong.as_str(), "wk_short", "Basic abc"] {
        let (s, b) = run_greet(&d, Some(bad), HELLO_NAME, "x").await;
        assert_eq!(
            (s, kind(&b)),
            (StatusCode::UNAUTHORIZED, "token-invalid"),
            "{bad}"
        );
    }

    let (s, b) = run_greet(&d, Some(&expired), HELLO_NAME, "x").await;
    assert_eq!((s, kind(&b)), (StatusCode::FORBIDDEN, "token-expired"));

    // Another plugin, and another command than the token's.
    let (s, b) = run_greet(&d, Some(&tok), GUARDED_NAME, "x").await;
    assert_eq!((s, kind(&b)), (StatusCode::FORBIDDEN, "out-of-scope"));
    let (s, b) = run_greet(&d, Some(&other_cmd), HELLO_NAME, "x").await;
    assert_eq!((s, kind(&b)), (StatusCode::FORBIDDEN, "out-of-scope"));
    let (s, b) = request(
        d.agent_socket(),
        Method::GET,
        "/v1/commands",
        Some(&other_cmd),
        None,
    )
    .await
    .unwrap();
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["commands"].as_array().unwrap().len(), 1);
    assert_eq!(b["commands"][0]["command"], "divide");

    // Revocation takes effect on the next request, without restarting the daemon.
    let (s, _) = run_greet(&d, Some(&tok), HELLO_NAME, "x").await;
    assert_eq!(s, StatusCode::OK);
    Store::open(&e.home).unwrap().token_revoke(&id).unwrap();
    let (s, b) = run_greet(&d, Some(&tok), HELLO_NAME, "x").await;
    assert_eq!((s, kind(&b)), (StatusCode::FORBIDDEN, "token-revoked"));
    d.shutdown().await;

    let rows = audit_rows(&e.home);
    for reason in [
        "token-missing",
        "token-invalid",
        "token-expired",
        "out-of-scope",
        "token-revoked",
    ] {
        assert!(
            rows.iter()
                .any(|r| r.outcome == "denied" && r.detail["reason"] == reason),
            "{reason}"
        );
    }
    assert_eq!(rows.iter().filter(|r| r.action == "run").count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_reached_is_refused() {
    let e = env();
    let (tok, _) = token(
        &e.home,
        NewToken {
            plugin: HELLO_NAME.into(),
            rate: Some((2, 3600)),
            ..NewToken::default()
        },
    );
    let (tok2, _) = hello_token(&e.home);
    let mut cfg = config(&e.home);
    cfg.apply("[plugin.\"example:hello\"]\nrate = \"3/h\"\n")
        .unwrap();
    let d = start(cfg).await;
    for _ in 0..2 {
        assert_eq!(
            run_greet(&d, Some(&tok), HELLO_NAME, "x").await.0,
            StatusCode::OK
        );
    }
    let (s, b) = run_greet(&d, Some(&tok), HELLO_NAME, "x").await;
    assert_eq!(
        (s, kind(&b)),
        (StatusCode::TOO_MANY_REQUESTS, "token-rate-limit")
    );
    // The plugin's own rate (3/h over all tokens) stops another token too.
    assert_eq!(
        run_greet(&d, Some(&tok2), HELLO_NAME, "x").await.0,
        StatusCode::OK
    );
    let (s, b) = run_greet(&d, Some(&tok2), HELLO_NAME, "x").await;
    assert_eq!(
        (s, kind(&b)),
        (StatusCode::TOO_MANY_REQUESTS, "plugin-rate-limit")
    );
    d.shutdown().await;
    let rows = audit_rows(&e.home);
    assert_eq!(rows.iter().filter(|r| r.action == "run").count(), 3);
    assert!(
        rows.iter()
            .any(|r| r.detail["reason"] == "token-rate-limit")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_cap_reached_is_refused_and_survives_a_restart() {
    let e = env();
    let (tok, id) = token(
        &e.home,
        NewToken {
            plugin: HELLO_NAME.into(),
            daily_calls: Some(2),
            ..NewToken::default()
        },
    );
    let d = start(config(&e.home)).await;
    for _ in 0..2 {
        assert_eq!(
            run_greet(&d, Some(&tok), HELLO_NAME, "x").await.0,
            StatusCode::OK
        );
    }
    let (s, b) = run_greet(&d, Some(&tok), HELLO_NAME, "x").await;
    assert_eq!(
        (s, kind(&b)),
        (StatusCode::TOO_MANY_REQUESTS, "token-daily-calls")
    );
    d.shutdown().await;
    // The counters are in the store: a restarted daemon still refuses.
    let d = start(config(&e.home)).await;
    let (s, b) = run_greet(&d, Some(&tok), HELLO_NAME, "x").await;
    assert_eq!(
        (s, kind(&b)),
        (StatusCode::TOO_MANY_REQUESTS, "token-daily-calls")
    );
    d.shutdown().await;
    let usage = Store::open(&e.home)
        .unwrap()
        .usage(&format!("token:{id}"), &ward_store::utc_day())
        .unwrap();
    assert_eq!(usage.calls, 2);

    // A daily call-time cap that is used up refuses before guest code runs.
    let (tok, _) = token(
        &e.home,
        NewToken {
            plugin: HELLO_NAME.into(),
            daily_cpu_ms: Some(1),
            ..NewToken::default()
        },
    );
    let d = start(config(&e.home)).await;
    let mut refused = false;
    for _ in 0..50 {
        let (s, b) = run_greet(&d, Some(&tok), HELLO_NAME, "x").await;
        if s == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(kind(&b), "token-daily-cpu");
            refused = true;
            break;
        }
    }
    assert!(refused, "the call-time cap was never reached");
    d.shutdown().await;
}

async fn confirm_verb(d: &Running, id: &str, verb: &str) -> (StatusCode, Value) {
    request(
        d.operator_socket(),
        Method::POST,
        &format!("/v1/confirmations/{id}/{verb}"),
        None,
        None,
    )
    .await
    .expect("request")
}

fn guarded_token(home: &Path) -> String {
    token(
        home,
        NewToken {
            plugin: GUARDED_NAME.into(),
            ..NewToken::default()
        },
    )
    .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmation_approved_runs_exactly_once_and_replay_waits_again() {
    let e = env();
    let tok = guarded_token(&e.home);
    let d = start(config(&e.home)).await;
    let (s, b) = run_greet(&d, Some(&tok), GUARDED_NAME, "ops\u{1b}[2J\u{202e}").await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let id = b["confirmation"]["id"].as_str().unwrap().to_owned();
    let summary = b["confirmation"]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("example:guarded greet(name="),
        "{summary}"
    );
    assert!(
        !summary.contains('\u{1b}') && !summary.contains('\u{202e}'),
        "{summary}"
    );
    // Asking again while pending returns the same confirmation.
    let (_, b2) = run_greet(&d, Some(&tok), GUARDED_NAME, "ops\u{1b}[2J\u{202e}").await;
    assert_eq!(b2["confirmation"]["id"], id.as_str());

    let (s, list) = request(
        d.operator_socket(),
        Method::GET,
        "/v1/confirmations",
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["confirmations"][0]["id"], id.as_str());

    let poll = format!("/v1/confirmations/{id}");
    let (_, p) = request(d.agent_socket(), Method::GET, &poll, Some(&tok), None)
        .await
        .unwrap();
    assert_eq!(p["confirmation"]["state"], "pending");
    assert_eq!(confirm_verb(&d, &id, "approve").await.0, StatusCode::OK);
    // Single-use decision.
    assert_eq!(confirm_verb(&d, &id, "deny").await.0, StatusCode::CONFLICT);
    let (_, p) = request(d.agent_socket(), Method::GET, &poll, Some(&tok), None)
        .await
        .unwrap();
    assert_eq!(p["confirmation"]["state"], "approved");

    // Another action (other arguments) is not covered by the approval.
    let (s, other) = run_greet(&d, Some(&tok), GUARDED_NAME, "someone else").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_ne!(other["confirmation"]["id"], id.as_str());

    let (s, r) = run_greet(&d, Some(&tok), GUARDED_NAME, "ops\u{1b}[2J\u{202e}").await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["ok"], true);
    // Replay: the same action again needs a new confirmation.
    let (s, again) = run_greet(&d, Some(&tok), GUARDED_NAME, "ops\u{1b}[2J\u{202e}").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_ne!(again["confirmation"]["id"], id.as_str());
    d.shutdown().await;
    let rows = audit_rows(&e.home);
    assert_eq!(
        rows.iter()
            .filter(|r| r.action == "run" && r.outcome == "ok")
            .count(),
        1
    );
    assert!(rows.iter().any(|r| r.action == "confirm-approve"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmation_denied_never_runs() {
    let e = env();
    let tok = guarded_token(&e.home);
    let d = start(config(&e.home)).await;
    let (_, b) = run_greet(&d, Some(&tok), GUARDED_NAME, "x").await;
    let id = b["confirmation"]["id"].as_str().unwrap().to_owned();
    assert_eq!(confirm_verb(&d, &id, "deny").await.0, StatusCode::OK);
    assert_eq!(
        confirm_verb(&d, &id, "approve").await.0,
        StatusCode::CONFLICT
    );
    let (_, p) = request(
        d.agent_socket(),
        Method::GET,
        &format!("/v1/confirmations/{id}"),
        Some(&tok),
        None,
    )
    .await
    .unwrap();
    assert_eq!(p["confirmation"]["state"], "denied");
    let (s, _) = run_greet(&d, Some(&tok), GUARDED_NAME, "x").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    d.shutdown().await;
    assert!(audit_rows(&e.home).iter().all(|r| r.action != "run"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmation_expired_is_denied() {
    let e = env();
    let tok = guarded_token(&e.home);
    let mut cfg = config(&e.home);
    cfg.limits.confirm_ttl = Duration::from_secs(1);
    let d = start(cfg).await;
    let (_, b) = run_greet(&d, Some(&tok), GUARDED_NAME, "x").await;
    let id = b["confirmation"]["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (s, b) = confirm_verb(&d, &id, "approve").await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("expired"));
    d.shutdown().await;
    assert!(audit_rows(&e.home).iter().all(|r| r.action != "run"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmation_across_a_restart_is_denied() {
    let e = env();
    let tok = guarded_token(&e.home);
    let d = start(config(&e.home)).await;
    let (_, b) = run_greet(&d, Some(&tok), GUARDED_NAME, "x").await;
    let pending_id = b["confirmation"]["id"].as_str().unwrap().to_owned();
    let (_, b) = run_greet(&d, Some(&tok), GUARDED_NAME, "y").await;
    let approved_id = b["confirmation"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        confirm_verb(&d, &approved_id, "approve").await.0,
        StatusCode::OK
    );
    d.shutdown().await;

    let d = start(config(&e.home)).await;
    for id in [&pending_id, &approved_id] {
        let (_, p) = request(
            d.agent_socket(),
            Method::GET,
            &format!("/v1/confirmations/{id}"),
            Some(&tok),
            None,
        )
        .await
        .unwrap();
        assert_eq!(p["confirmation"]["state"], "denied");
    }
    assert_eq!(
        confirm_verb(&d, &pending_id, "approve").await.0,
        StatusCode::CONFLICT
    );
    // The approval given before the restart does not let the run through.
    let (s, _) = run_greet(&d, Some(&tok), GUARDED_NAME, "y").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    d.shutdown().await;
    let rows = audit_rows(&e.home);
    assert!(rows.iter().all(|r| r.action != "run"));
    assert!(
        rows.iter()
            .any(|r| r.action == "confirm-deny" && r.detail["reason"] == "restart")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_policy_can_require_confirmation() {
    let e = env();
    let (tok, _) = hello_token(&e.home);
    let mut cfg = config(&e.home);
    cfg.apply("[plugin.\"example:hello\"]\nconfirm = [\"greet\"]\n")
        .unwrap();
    let d = start(cfg).await;
    let (s, _) = run_greet(&d, Some(&tok), HELLO_NAME, "x").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_calling_an_operator_verb_is_refused() {
    let e = env();
    let (tok, _) = hello_token(&e.home);
    let gtok = guarded_token(&e.home);
    let d = start(config(&e.home)).await;
    let (_, b) = run_greet(&d, Some(&gtok), GUARDED_NAME, "x").await;
    let id = b["confirmation"]["id"].as_str().unwrap().to_owned();

    let approve = format!("/v1/confirmations/{id}/approve");
    let operator_run = format!("/v1/plugins/{HELLO_NAME}/run");
    let verbs: [(Method, &str, Option<Value>); 6] = [
        (Method::GET, "/v1/status", None),
        (
            Method::POST,
            &operator_run,
            Some(json!({ "command": "greet", "args": { "name": "x" } })),
        ),
        (Method::GET, "/v1/tokens", None),
        (
            Method::POST,
            "/v1/tokens",
            Some(json!({ "plugin": HELLO_NAME })),
        ),
        (Method::GET, "/v1/confirmations", None),
        (Method::POST, &approve, None),
    ];
    for (method, path, body) in &verbs {
        // On the agent socket, with or without a token.
        for t in [Some(gtok.as_str()), None] {
            let (s, b) = request(d.agent_socket(), method.clone(), path, t, body.as_ref())
                .await
                .unwrap();
            assert_eq!(
                (s, kind(&b)),
                (StatusCode::FORBIDDEN, "operator-only"),
                "{path}"
            );
        }
        // An agent token on the operator socket.
        let (s, b) = request(
            d.operator_socket(),
            method.clone(),
            path,
            Some(&tok),
            body.as_ref(),
        )
        .await
        .unwrap();
        assert_eq!(
            (s, kind(&b)),
            (StatusCode::FORBIDDEN, "agent-token-refused"),
            "{path}"
        );
    }
    let (_, p) = request(
        d.agent_socket(),
        Method::GET,
        &format!("/v1/confirmations/{id}"),
        Some(&gtok),
        None,
    )
    .await
    .unwrap();
    assert_eq!(p["confirmation"]["state"], "pending");
    // Another token cannot even see the confirmation.
    let (s, _) = request(
        d.agent_socket(),
        Method::GET,
        &format!("/v1/confirmations/{id}"),
        Some(&tok),
        None,
    )
    .await
    .unwrap();
    assert_eq!(s, StatusCode::NOT_FOUND);
    d.shutdown().await;
    let store = Store::open(&e.home).unwrap();
    assert_eq!(store.token_list().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_manages_tokens_over_the_operator_socket() {
    let e = env();
    let d = start(config(&e.home)).await;
    let (s, b) = request(
        d.operator_socket(),
        Method::POST,
        "/v1/tokens",
        None,
        Some(&json!({ "plugin": HELLO_NAME, "command": "greet", "rate": "10/min", "expires": "30d" })),
    )
    .await
    .unwrap();
    assert_eq!(s, StatusCode::OK, "{b}");
    let tok = b["token"].as_str().unwrap().to_owned();
    let id = b["row"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        run_greet(&d, Some(&tok), HELLO_NAME, "x").await.0,
        StatusCode::OK
    );
    let (s, _) = request(
        d.operator_socket(),
        Method::POST,
        &format!("/v1/tokens/{id}/revoke"),
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        run_greet(&d, Some(&tok), HELLO_NAME, "x").await.0,
        StatusCode::FORBIDDEN
    );
    let (s, b) = request(
        d.operator_socket(),
        Method::POST,
        "/v1/tokens",
        None,
        Some(&json!({ "plugin": HELLO_NAME, "rate": "fast" })),
    )
    .await
    .unwrap();
    assert_eq!((s, kind(&b)), (StatusCode::BAD_REQUEST, "invalid-request"));
    d.shutdown().await;
    // The token never reaches the audit log.
    assert!(
        !serde_json::to_string(&audit_rows(&e.home))
            .unwrap()
            .contains(&tok)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_passes_after_load() {
    let e = env();
    let (tok, id) = hello_token(&e.home);
    let d = start(config(&e.home)).await;
    let socket = d.agent_socket().to_path_buf();
    let mut tasks = Vec::new();
    for w in 0..16 {
        let socket = socket.clone();
        let tok = tok.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = Connection::open(&socket).await.unwrap();
            let mut ok = 0;
            for i in 0..25 {
                let (s, _) = c
                    .request(
                        Method::POST,
                        "/v1/run",
                        Some(&tok),
                        Some(&json!({ "plugin": HELLO_NAME, "command": "greet", "args": { "name": format!("{w}-{i}") } })),
                    )
                    .await
                    .unwrap();
                if s == StatusCode::OK {
                    ok += 1;
                }
            }
            ok
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += t.await.unwrap();
    }
    assert_eq!(ok, 400);
    d.shutdown().await;
    let store = Store::open(&e.home).unwrap();
    store.audit_verify().expect("audit verifies after load");
    let runs = store
        .audit_list(AuditQuery::default())
        .unwrap()
        .into_iter()
        .filter(|r| r.action == "run" && r.detail["token"] == id.as_str())
        .count();
    assert_eq!(runs, 400);
    assert_eq!(
        store
            .usage(&format!("token:{id}"), &ward_store::utc_day())
            .unwrap()
            .calls,
        400
    );
}

/// A `wardd` process on `home`, started with `extra_env`; returns once its agent socket answers.
async fn spawn_wardd(home: &Path, extra_env: &[(&str, &str)]) -> std::process::Child {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_wardd"));
    cmd.env("WARD_HOME", home)
        .env("WARD_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("wardd starts");
    let socket = home.join("run/operator.sock");
    for _ in 0..600 {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("wardd exited early: {status}");
        }
        if request(&socket, Method::GET, "/v1/status", None, None)
            .await
            .is_ok()
        {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    panic!("wardd did not start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_no_acknowledged_request() {
    let e = env();
    let (tok, id) = hello_token(&e.home);
    let mut child = spawn_wardd(&e.home, &[]).await;
    let socket = e.home.join("run/agent.sock");
    let acked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let socket = socket.clone();
        let tok = tok.clone();
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            let Ok(mut c) = Connection::open(&socket).await else {
                return;
            };
            loop {
                let r = c
                    .request(
                        Method::POST,
                        "/v1/run",
                        Some(&tok),
                        Some(&json!({ "plugin": HELLO_NAME, "command": "greet", "args": { "name": "k" } })),
                    )
                    .await;
                match r {
                    Ok((StatusCode::OK, _)) => {
                        acked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    Ok((s, b)) => panic!("unexpected reply {s}: {b}"),
                    Err(_) => return, // the daemon died mid-request
                }
            }
        }));
    }
    while acked.load(std::sync::atomic::Ordering::SeqCst) < 300 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().expect("SIGKILL"); // kill -9 while requests are in flight
    let _ = child.wait();
    for t in tasks {
        t.await.expect("client task");
    }
    let acked = acked.load(std::sync::atomic::Ordering::SeqCst);
    let store = Store::open(&e.home).expect("store opens after a crash");
    store.audit_verify().expect("audit verifies after kill -9");
    let runs = store
        .audit_list(AuditQuery::default())
        .unwrap()
        .into_iter()
        .filter(|r| r.action == "run" && r.outcome == "ok" && r.detail["token"] == id.as_str())
        .count();
    assert!(
        runs >= acked,
        "{acked} runs were acknowledged but only {runs} are in the audit log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_shuts_down_gracefully() {
    let e = env();
    let (tok, _) = hello_token(&e.home);
    let mut child = spawn_wardd(&e.home, &[]).await;
    let socket = e.home.join("run/agent.sock");
    let (s, _) = request(
        &socket,
        Method::POST,
        "/v1/run",
        Some(&tok),
        Some(&json!({ "plugin": HELLO_NAME, "command": "greet", "args": { "name": "t" } })),
    )
    .await
    .unwrap();
    assert_eq!(s, StatusCode::OK);
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    assert!(!socket.exists());
    assert!(!e.home.join("run/operator.sock").exists());
    Store::open(&e.home).unwrap().audit_verify().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_failure_refuses_the_request() {
    let e = env();
    let (tok, _) = hello_token(&e.home);
    // Debug builds of wardd fail every audit commit at this fail point.
    let mut child = spawn_wardd(&e.home, &[("WARD_STORE_FAILPOINT", "before-commit")]).await;
    let (s, b) = request(
        &e.home.join("run/agent.sock"),
        Method::POST,
        "/v1/run",
        Some(&tok),
        Some(&json!({ "plugin": HELLO_NAME, "command": "greet", "args": { "name": "t" } })),
    )
    .await
    .unwrap();
    assert_eq!(
        (s, kind(&b)),
        (StatusCode::SERVICE_UNAVAILABLE, "audit-unavailable")
    );
    assert!(b.get("result").is_none(), "{b}");
    let _ = child.kill();
    let _ = child.wait();
    assert!(audit_rows(&e.home).iter().all(|r| r.action != "run"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_or_ungranted_plugin_is_refused_on_the_next_call() {
    let e = env();
    let (tok, _) = hello_token(&e.home);
    let d = start(config(&e.home)).await;
    assert_eq!(
        run_greet(&d, Some(&tok), HELLO_NAME, "x").await.0,
        StatusCode::OK
    );
    Store::open(&e.home)
        .unwrap()
        .disable(HELLO_NAME, "operator")
        .unwrap();
    let (s, b) = run_greet(&d, Some(&tok), HELLO_NAME, "x").await;
    assert_eq!((s, kind(&b)), (StatusCode::FORBIDDEN, "disabled"));
    Store::open(&e.home).unwrap().enable(HELLO_NAME).unwrap();
    assert_eq!(
        run_greet(&d, Some(&tok), HELLO_NAME, "x").await.0,
        StatusCode::OK
    );
    Store::open(&e.home)
        .unwrap()
        .uninstall(HELLO_NAME, false)
        .unwrap();
    let (s, b) = run_greet(&d, Some(&tok), HELLO_NAME, "x").await;
    assert_eq!((s, kind(&b)), (StatusCode::NOT_FOUND, "not-installed"));
    d.shutdown().await;
}

/// A tmpfs mounted for one test, unmounted on drop (the tests that use it run as root, as CI
/// does).
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(at: &Path, size: &str) -> Mount {
        Mount::tmpfs_with(at, size, "rw")
    }

    fn tmpfs_with(at: &Path, size: &str, mode: &str) -> Mount {
        std::fs::create_dir_all(at).unwrap();
        let status = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700,{mode}"),
                "tmpfs",
            ])
            .arg(at)
            .status()
            .unwrap();
        assert!(status.success(), "cannot mount a tmpfs at {}", at.display());
        Mount(at.to_owned())
    }

    /// `from` also reachable at `to`, whatever is later mounted over `from`.
    fn bind(from: &Path, to: &Path) -> Mount {
        std::fs::create_dir_all(to).unwrap();
        let status = std::process::Command::new("mount")
            .arg("--bind")
            .arg(from)
            .arg(to)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "cannot bind {} at {}",
            from.display(),
            to.display()
        );
        Mount(to.to_owned())
    }

    fn fill(&self) -> PathBuf {
        use std::io::Write as _;
        let path = self.0.join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 1 << 20];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
        path
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// A loopback HTTP server answering `hi`, counting the requests that reach it.
fn counting_server() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
            );
        }
    });
    (addr.to_string(), hits)
}

/// Hostile installed on a home that is a tmpfs, granted the counting server; an agent token.
fn hostile_on_tmpfs() -> (
    tempfile::TempDir,
    PathBuf,
    Mount,
    String,
    Arc<std::sync::atomic::AtomicUsize>,
    String,
) {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("ward");
    let mount = Mount::tmpfs(&home, "48m");
    let (authority, hits) = counting_server();
    let manifest = format!(
        "name = \"example:hostile\"\nversion = \"1.0.0\"\ndescription = \"x\"\n\
         [capabilities]\nnetwork = [{{ url = \"http://{authority}\", methods = [\"GET\"] }}]\n"
    );
    ward_testkit::install::install_signed(
        &home,
        ward_fixtures::HOSTILE,
        &manifest,
        json!([{ "kind": "capability", "capability": "http" }]),
    );
    let (tok, _) = token(
        &home,
        NewToken {
            plugin: "example:hostile".into(),
            ..NewToken::default()
        },
    );
    (tmp, home, mount, tok, hits, authority)
}

async fn fetch(d: &Running, tok: &str, authority: &str) -> (StatusCode, Value) {
    fetch_at(d.agent_socket(), tok, authority).await
}

async fn fetch_at(socket: &Path, tok: &str, authority: &str) -> (StatusCode, Value) {
    request(
        socket,
        Method::POST,
        "/v1/run",
        Some(tok),
        Some(&json!({
            "plugin": "example:hostile",
            "command": "http-fetch",
            "args": { "authority": authority, "path": "/" },
        })),
    )
    .await
    .expect("request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_refuses_the_call_before_guest_code() {
    use std::sync::atomic::Ordering;
    let (_tmp, home, mount, tok, hits, authority) = hostile_on_tmpfs();
    let d = start(config(&home)).await;
    let filler = mount.fill();
    let (status, body) = fetch(&d, &tok, &authority).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(kind(&body), "audit-unavailable", "{body}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "a request left before its audit row"
    );
    // With the space back, the same call runs: the refusal above was the full disk's.
    std::fs::remove_file(filler).unwrap();
    let (status, body) = fetch(&d, &tok, &authority).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_data_directory_refuses_the_call_before_guest_code() {
    use std::sync::atomic::Ordering;
    let (tmp, home, mount, tok, hits, authority) = hostile_on_tmpfs();
    let d = start(config(&home)).await;
    // The daemon holds its files open, so its file system cannot be remounted read-only under
    // it; a read-only file system mounted over the data directory is what it finds instead.
    // The sockets stay reachable through a second mount of their directory.
    let sockets = d.agent_socket().parent().unwrap().to_owned();
    let side = Mount::bind(&sockets, &tmp.path().join("side"));
    let socket = side.0.join(d.agent_socket().file_name().unwrap());
    let over = Mount::tmpfs_with(&home, "1m", "ro");
    let (status, body) = fetch_at(&socket, &tok, &authority).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(kind(&body), "audit-unavailable", "{body}");
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    drop(over);
    drop(side);
    let (status, body) = fetch(&d, &tok, &authority).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    d.shutdown().await;
    drop(mount);
}

/// Hostile installed with `manifest_extra` appended to its manifest and `grants`; an agent token
/// for it.
fn hostile_token(home: &Path, manifest_extra: &str, grants: Value) -> String {
    let manifest = format!(
        "name = \"example:hostile\"\nversion = \"1.0.0\"\ndescription = \"x\"\n{manifest_extra}"
    );
    ward_testkit::install::install_signed(home, ward_fixtures::HOSTILE, &manifest, grants);
    token(
        home,
        NewToken {
            plugin: "example:hostile".into(),
            ..NewToken::default()
        },
    )
    .0
}

async fn run_hostile(d: &Running, tok: &str, command: &str, args: Value) -> (StatusCode, Value) {
    request(
        d.agent_socket(),
        Method::POST,
        "/v1/run",
        Some(tok),
        Some(&json!({ "plugin": "example:hostile", "command": command, "args": args })),
    )
    .await
    .expect("request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spinning_guests_do_not_delay_the_operator_socket() {
    // Four spinning calls for each of the runtime's two threads.
    const SPINS: u64 = 8;
    let e = env();
    let tok = hostile_token(&e.home, "[limits]\ntimeout = \"4s\"\n", json!([]));
    let d = Arc::new(start(config(&e.home)).await);
    let spins: Vec<_> = (0..SPINS)
        .map(|_| {
            let (d, tok) = (d.clone(), tok.clone());
            tokio::spawn(async move { run_hostile(&d, &tok, "spin", json!({})).await })
        })
        .collect();
    // The operator is answered while every spinning call is still running: a spinning guest
    // holding its thread would keep the status request waiting until spins ended.
    let mut seen = 0;
    while seen < SPINS && !spins.iter().all(|s| s.is_finished()) {
        let (status, body) = request(d.operator_socket(), Method::GET, "/v1/status", None, None)
            .await
            .unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        seen = seen.max(body["calls_running"].as_u64().unwrap());
        // One poll at a time, each on its own connection: give the daemon time to close the
        // last before the next, so the polls stay within the operator's connection budget.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        seen, SPINS,
        "the operator was not answered while the guests spun"
    );
    for s in spins {
        let (status, body) = s.await.unwrap();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["kind"], "limit", "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("time limit"),
            "{body}"
        );
    }
    Arc::into_inner(d).unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_cannot_exhaust_host_descriptors() {
    let e = env();
    let data = e.home.parent().unwrap().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("f.txt"), "x").unwrap();
    let tok = hostile_token(
        &e.home,
        "[capabilities]\nfiles = [{ host = \"$OPERATOR\", guest = \"/data\", mode = \"ro\" }]\n",
        json!([{ "kind": "files", "guest": "/data", "host": data.display().to_string(), "writable": false }]),
    );
    let d = start(config(&e.home)).await;
    // A first call loads the plugin and opens what the daemon keeps open.
    let (_, body) = run_hostile(
        &d,
        &tok,
        "hoard-files",
        json!({ "path": "/data/f.txt", "count": 8 }),
    )
    .await;
    assert_eq!(body["result"], json!({ "ok": 8 }), "{body}");
    let (status, body) = run_hostile(
        &d,
        &tok,
        "hoard-files",
        json!({ "path": "/data/f.txt", "count": 1_000_000 }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["kind"], "limit", "{body}");
    assert_eq!(body["error"]["limit"], "handles", "{body}");
    // (How many descriptors the process holds is not checked here: other tests of this binary
    // open and close their own meanwhile; tests/tests/all/capabilities.rs checks it.)
    // The daemon still accepts connections and serves both sockets.
    let (status, _) = request(d.operator_socket(), Method::GET, "/v1/status", None, None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    d.shutdown().await;
    let rows = audit_rows(&e.home);
    assert!(
        rows.iter()
            .any(|r| r.action == "run" && r.detail["limit"] == "handles"),
        "the limit is in the call's audit row"
    );
}

/// The sum of `count` over the deny rows with `reason`.
fn refused(rows: &[ward_store::AuditRow], reason: &str) -> u64 {
    rows.iter()
        .filter(|r| r.action == "deny" && r.detail["reason"] == reason)
        .map(|r| r.detail["count"].as_u64().unwrap_or(1))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connection_flood_does_not_lock_out_the_operator() {
    const FLOOD: usize = 200;
    let e = env();
    let (tok, _) = hello_token(&e.home);
    let mut cfg = config(&e.home);
    cfg.limits.max_connections = 16;
    cfg.limits.first_byte_timeout = Duration::from_secs(2);
    let d = start(cfg).await;
    // Connections that send nothing, far more than the agent socket's budget.
    let mut idle = Vec::new();
    for _ in 0..FLOOD {
        idle.push(UnixStream::connect(d.agent_socket()).await.unwrap());
    }
    // The operator has a budget of its own.
    let (status, body) = request(d.operator_socket(), Method::GET, "/v1/status", None, None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    // Every idle connection is closed by the daemon: at once over the budget, after the
    // first-byte timeout within it.
    for mut s in idle {
        let mut buf = [0u8; 16];
        let n = tokio::time::timeout(Duration::from_secs(60), s.read(&mut buf))
            .await
            .expect("an idle connection was never closed");
        assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    }
    // With the idle ones gone, agents are served again.
    let (status, body) = run_greet(&d, Some(&tok), HELLO_NAME, "after").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    d.shutdown().await;
    // Counted, not written one by one: a few rows stand for every refused connection.
    let rows = audit_rows(&e.home);
    let over = refused(&rows, "connection-limit");
    let silent = refused(&rows, "no-bytes");
    assert_eq!(
        over + silent,
        FLOOD as u64,
        "{over} over the budget, {silent} silent"
    );
    assert!(silent >= 1 && over >= 1, "{over} {silent}");
    let deny_rows = rows.iter().filter(|r| r.action == "deny").count();
    assert!(deny_rows < 20, "{deny_rows} rows for {FLOOD} refusals");
    assert!(Store::open(&e.home).unwrap().audit_verify().is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_writes_signed_checkpoints_on_its_interval() {
    let e = env();
    let (tok, _) = hello_token(&e.home);
    let dir = e.home.parent().unwrap().join("checkpoints");
    std::fs::create_dir_all(&dir).unwrap();
    let piped = e.home.parent().unwrap().join("piped.json");
    for sink in [
        ward_daemon::CheckpointSink::Dir(dir.clone()),
        ward_daemon::CheckpointSink::Command(vec![
            "sh".into(),
            "-c".into(),
            format!("cat > {}", piped.display()),
        ]),
    ] {
        let mut cfg = config(&e.home);
        cfg.checkpoints = Some(ward_daemon::CheckpointSchedule {
            every: Duration::from_millis(200),
            to: sink.clone(),
        });
        let d = start(cfg).await;
        let (status, _) = run_greet(&d, Some(&tok), HELLO_NAME, "x").await;
        assert_eq!(status, StatusCode::OK);
        let written = || -> Option<Value> {
            let text = match &sink {
                ward_daemon::CheckpointSink::Dir(dir) => std::fs::read_dir(dir)
                    .unwrap()
                    .filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .max()
                    .and_then(|p| std::fs::read_to_string(p).ok())?,
                ward_daemon::CheckpointSink::Command(_) => std::fs::read_to_string(&piped).ok()?,
            };
            serde_json::from_str(&text).ok()
        };
        let mut found = None;
        for _ in 0..300 {
            if let Some(c) = written().filter(|c| c["size"].as_u64().unwrap_or(0) > 0) {
                found = Some(c);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let c = found.expect("no checkpoint was written");
        d.shutdown().await;
        // It is a real checkpoint of this log: it verifies with the host's key and matches.
        let text = serde_json::to_vec(&c).unwrap();
        let checkpoint = ward_home::Checkpoint::parse("written", &text).unwrap();
        let public =
            ward_signing::PublicKey::parse(&std::fs::read(e.home.join("audit.key.pub")).unwrap())
                .unwrap();
        checkpoint.verify_signature(&public).unwrap();
        checkpoint
            .check_log(&Store::open(&e.home).unwrap())
            .unwrap();
    }
}

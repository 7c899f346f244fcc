//! Proposals over the daemon's sockets: an agent may propose, never approve; the operator
//! socket lists, shows and rejects. Real sockets, a real store, real components.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use ward_daemon::DaemonConfig;
use ward_daemon::client::request;
use ward_store::{NewToken, Store};

struct Env {
    _tmp: tempfile::TempDir,
    home: PathBuf,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("ward");
    // An installed plugin for the agent's token to be scoped to.
    ward_testkit::install::install_signed(
        &home,
        ward_fixtures::HELLO,
        "name = \"example:hello\"\nversion = \"0.1.0\"\ndescription = \"t\"\n",
        json!([]),
    );
    Env { _tmp: tmp, home }
}

fn agent_token(home: &Path) -> String {
    let mut store = Store::open(home).expect("store");
    store
        .token_create(&NewToken {
            plugin: "example:hello".into(),
            ..NewToken::default()
        })
        .expect("token")
        .token
}

fn packed(component: &str, manifest: &str) -> String {
    let bytes = std::fs::read(component).expect("fixture");
    let packed = ward_manifest::embed(&bytes, manifest.as_bytes()).expect("embed");
    base64::engine::general_purpose::STANDARD.encode(packed)
}

fn kind(v: &Value) -> &str {
    v["error"]["kind"].as_str().unwrap_or("")
}

const HELLO_MANIFEST: &str =
    "name = \"local:hello\"\nversion = \"0.1.0\"\ndescription = \"Greets\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_approving_a_proposal_through_the_agent_socket_is_refused() {
    let e = env();
    let tok = agent_token(&e.home);
    let d = ward_daemon::start(DaemonConfig::new(&e.home))
        .await
        .expect("daemon starts");

    // The agent proposes: recorded as pending, examples run in the sandbox.
    let body = json!({
        "component_base64": packed(ward_fixtures::HELLO, HELLO_MANIFEST),
        "examples": { "example": [{ "command": "greet", "args": { "name": "Ada" }, "expect": "Hello, Ada!" }] },
    });
    let (s, b) = request(
        d.agent_socket(),
        Method::POST,
        "/v1/proposals",
        Some(&tok),
        Some(&body),
    )
    .await
    .expect("request");
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["state"], "pending");
    assert_eq!(b["examples_passed"], true);
    let id = b["id"].as_str().expect("id").to_owned();

    // Every review verb is refused on the agent socket, with or without the token.
    let approve = format!("/v1/proposals/{id}/approve");
    let reject = format!("/v1/proposals/{id}/reject");
    let show = format!("/v1/proposals/{id}");
    let verbs = [
        (Method::POST, approve.as_str()),
        (Method::POST, reject.as_str()),
        (Method::GET, show.as_str()),
        (Method::GET, "/v1/proposals"),
    ];
    for (method, path) in &verbs {
        for t in [Some(tok.as_str()), None] {
            let (s, b) = request(d.agent_socket(), method.clone(), path, t, Some(&json!({})))
                .await
                .expect("request");
            assert_eq!(
                (s, kind(&b)),
                (StatusCode::FORBIDDEN, "operator-only"),
                "{path}"
            );
        }
        // The agent's token on the operator socket.
        let (s, b) = request(d.operator_socket(), method.clone(), path, Some(&tok), None)
            .await
            .expect("request");
        assert_eq!(
            (s, kind(&b)),
            (StatusCode::FORBIDDEN, "agent-token-refused"),
            "{path}"
        );
    }
    // Still pending, nothing installed, the refusals audited.
    let (s, b) = request(d.operator_socket(), Method::GET, &show, None, None)
        .await
        .expect("request");
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["proposal"]["state"], "pending");
    assert_eq!(
        b["proposal"]["submitted_by"]
            .as_str()
            .unwrap_or("")
            .split(':')
            .next(),
        Some("agent")
    );
    d.shutdown().await;
    let store = Store::open(&e.home).expect("store");
    assert!(store.current("local:hello").expect("current").is_none());
    let rows = store
        .audit_list(ward_store::AuditQuery::default())
        .expect("audit");
    assert!(rows.iter().any(|r| r.action == "propose"));
    let refused = rows
        .iter()
        .filter(|r| r.outcome == "denied" && r.detail.to_string().contains("operator-only"))
        .count();
    assert_eq!(refused, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_proposal_importing_an_undeclared_capability_is_refused_with_no_record() {
    let e = env();
    let tok = agent_token(&e.home);
    let d = ward_daemon::start(DaemonConfig::new(&e.home))
        .await
        .expect("daemon starts");
    let body = json!({
        "component_base64": packed(ward_fixtures::FETCH, "name = \"local:fetch\"\nversion = \"0.1.0\"\ndescription = \"x\"\n"),
    });
    let (s, b) = request(
        d.agent_socket(),
        Method::POST,
        "/v1/proposals",
        Some(&tok),
        Some(&body),
    )
    .await
    .expect("request");
    assert_eq!(
        (s, kind(&b)),
        (StatusCode::UNPROCESSABLE_ENTITY, "undeclared-import"),
        "{b}"
    );
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("nothing recorded"),
        "{b}"
    );
    // Malformed: not base64, not JSON of the right shape.
    let (s, _) = request(
        d.agent_socket(),
        Method::POST,
        "/v1/proposals",
        Some(&tok),
        Some(&json!({ "component_base64": "%%%" })),
    )
    .await
    .expect("request");
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = request(
        d.agent_socket(),
        Method::POST,
        "/v1/proposals",
        Some(&tok),
        Some(&json!({ "component": "x" })),
    )
    .await
    .expect("request");
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // No token: refused before anything is read.
    let (s, _) = request(
        d.agent_socket(),
        Method::POST,
        "/v1/proposals",
        None,
        Some(&body),
    )
    .await
    .expect("request");
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, b) = request(
        d.operator_socket(),
        Method::GET,
        "/v1/proposals",
        None,
        None,
    )
    .await
    .expect("request");
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["proposals"], json!([]));
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_rejects_a_proposal_over_the_operator_socket() {
    let e = env();
    let tok = agent_token(&e.home);
    let d = ward_daemon::start(DaemonConfig::new(&e.home))
        .await
        .expect("daemon starts");
    let body = json!({ "component_base64": packed(ward_fixtures::HELLO, HELLO_MANIFEST) });
    let (_, b) = request(
        d.agent_socket(),
        Method::POST,
        "/v1/proposals",
        Some(&tok),
        Some(&body),
    )
    .await
    .expect("request");
    let id = b["id"].as_str().expect("id").to_owned();
    let path = format!("/v1/proposals/{id}/reject");
    let (s, b) = request(
        d.operator_socket(),
        Method::POST,
        &path,
        None,
        Some(&json!({ "reason": "not now" })),
    )
    .await
    .expect("request");
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = request(
        d.operator_socket(),
        Method::POST,
        &path,
        None,
        Some(&json!({})),
    )
    .await
    .expect("request");
    assert_eq!((s, kind(&b)), (StatusCode::CONFLICT, "not-pending"));
    let (_, b) = request(
        d.operator_socket(),
        Method::GET,
        "/v1/proposals",
        None,
        None,
    )
    .await
    .expect("request");
    assert_eq!(b["proposals"][0]["state"], "rejected");
    assert_eq!(b["proposals"][0]["reason"], "not now");
    d.shutdown().await;
}

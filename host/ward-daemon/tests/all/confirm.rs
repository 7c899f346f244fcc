//! Mid-run confirmations (`ward:plugin/confirm`) through wardd: the real drafts plugin, a real
//! store in a temporary home, real Unix sockets. The plugin asks before it deletes drafts; each
//! test is named after what it proves.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use ward_daemon::client::request;
use ward_daemon::{DaemonConfig, Running};
use ward_store::{AuditQuery, NewToken, Store};

const NAME: &str = "example:drafts";

struct Env {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    token: String,
}

/// A home with the drafts plugin installed, its manifest declaring key-value storage and
/// confirmations, and the operator's consent to `kinds`; plus an agent token for it.
fn env_with(kinds: &[&str]) -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("ward");
    let grants: Vec<Value> = kinds
        .iter()
        .map(|k| json!({ "kind": "capability", "capability": k }))
        .collect();
    let manifest = format!(
        "name = \"{NAME}\"\nversion = \"0.1.0\"\ndescription = \"test\"\n\
         [capabilities]\nkeyvalue = {{ quota = \"64KiB\" }}\nconfirm = true\n\
         [limits]\ntimeout = \"5s\"\n"
    );
    ward_testkit::install::install_signed(&home, ward_fixtures::DRAFTS, &manifest, json!(grants));
    let mut store = Store::open(&home).unwrap();
    let token = store
        .token_create(&NewToken {
            plugin: NAME.into(),
            ..NewToken::default()
        })
        .unwrap()
        .token;
    Env {
        _tmp: tmp,
        home,
        token,
    }
}

fn env() -> Env {
    env_with(&["kv", "confirm"])
}

async fn start(home: &Path) -> Running {
    ward_daemon::start(DaemonConfig::new(home)).await.unwrap()
}

async fn call(d: &Running, e: &Env, command: &str, args: Value) -> (StatusCode, Value) {
    request(
        d.agent_socket(),
        Method::POST,
        "/v1/run",
        Some(&e.token),
        Some(&json!({ "plugin": NAME, "command": command, "args": args })),
    )
    .await
    .unwrap()
}

async fn save(d: &Running, e: &Env, title: &str, body: &str) {
    let (s, b) = call(d, e, "save", json!({ "title": title, "body": body })).await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

async fn read(d: &Running, e: &Env, title: &str) -> Value {
    let (s, b) = call(d, e, "read", json!({ "title": title })).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["result"]["ok"].clone()
}

async fn discard(d: &Running, e: &Env, titles: &[&str]) -> (StatusCode, Value) {
    call(d, e, "discard", json!({ "titles": titles })).await
}

/// The id of the confirmation a 202 reply waits for.
fn pending_id(status: StatusCode, body: &Value) -> String {
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["pending"], true, "{body}");
    assert_eq!(body["confirmation"]["state"], "pending", "{body}");
    body["confirmation"]["id"].as_str().unwrap().to_owned()
}

async fn decide(d: &Running, id: &str, verb: &str) -> (StatusCode, Value) {
    request(
        d.operator_socket(),
        Method::POST,
        &format!("/v1/confirmations/{id}/{verb}"),
        None,
        None,
    )
    .await
    .unwrap()
}

async fn poll(d: &Running, e: &Env, id: &str) -> Value {
    let (_, b) = request(
        d.agent_socket(),
        Method::GET,
        &format!("/v1/confirmations/{id}"),
        Some(&e.token),
        None,
    )
    .await
    .unwrap();
    b["confirmation"]["state"].clone()
}

fn audit(home: &Path) -> Vec<ward_store::AuditRow> {
    Store::open(home)
        .unwrap()
        .audit_list(AuditQuery::default())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mid_run_confirm_pending_then_approved_repeat_runs_and_the_guest_sees_true() {
    let e = env();
    let d = start(&e.home).await;
    save(&d, &e, "plan", "hello").await;
    let (s, b) = discard(&d, &e, &["plan"]).await;
    let id = pending_id(s, &b);
    assert_eq!(
        b["confirmation"]["summary"],
        "example:drafts discard(titles=[\"plan\"]) asks: Delete 1 draft(s): plan (5 bytes)?"
    );
    // The call stopped at the ask: nothing was deleted.
    assert_eq!(read(&d, &e, "plan").await, "hello");
    // Asking again while undecided waits for the same confirmation.
    let (s, b) = discard(&d, &e, &["plan"]).await;
    assert_eq!(pending_id(s, &b), id);
    assert_eq!(poll(&d, &e, &id).await, "pending");

    assert_eq!(decide(&d, &id, "approve").await.0, StatusCode::OK);
    let (s, b) = discard(&d, &e, &["plan"]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["result"], json!({ "ok": 1 }));
    assert_eq!(read(&d, &e, "plan").await, Value::Null);
    assert_eq!(poll(&d, &e, &id).await, "used");
    d.shutdown().await;

    let rows = audit(&e.home);
    let pending: Vec<_> = rows
        .iter()
        .filter(|r| r.detail["reason"] == "confirmation-pending")
        .collect();
    assert_eq!(pending.len(), 2);
    assert!(
        pending
            .iter()
            .all(|r| r.detail["confirmation"] == id.as_str())
    );
    let ran = rows
        .iter()
        .find(|r| r.action == "run" && r.detail["confirmation"] == id.as_str())
        .expect("the approved run names its confirmation");
    assert_eq!(ran.outcome, "ok");
    // The prompt (guest text) and the arguments stay out of the audit log.
    let all = serde_json::to_string(&rows).unwrap();
    assert!(!all.contains("Delete 1 draft"), "{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mid_run_confirm_denied_never_tells_the_guest_true() {
    let e = env();
    let d = start(&e.home).await;
    save(&d, &e, "plan", "hello").await;
    let (s, b) = discard(&d, &e, &["plan"]).await;
    let id = pending_id(s, &b);
    assert_eq!(decide(&d, &id, "deny").await.0, StatusCode::OK);
    // The repeat asks anew: a denial is never turned into true.
    let (s, b) = discard(&d, &e, &["plan"]).await;
    let again = pending_id(s, &b);
    assert_ne!(again, id);
    assert_eq!(poll(&d, &e, &id).await, "denied");
    assert_eq!(read(&d, &e, "plan").await, "hello");
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mid_run_approval_replayed_waits_again() {
    let e = env();
    let d = start(&e.home).await;
    save(&d, &e, "plan", "hello").await;
    let (s, b) = discard(&d, &e, &["plan"]).await;
    let id = pending_id(s, &b);
    assert_eq!(decide(&d, &id, "approve").await.0, StatusCode::OK);
    let (s, b) = discard(&d, &e, &["plan"]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // The same call again, once the draft is back: the used approval does not cover it.
    save(&d, &e, "plan", "hello").await;
    let (s, b) = discard(&d, &e, &["plan"]).await;
    assert_ne!(pending_id(s, &b), id);
    assert_eq!(read(&d, &e, "plan").await, "hello");
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mid_run_approval_for_other_arguments_or_another_prompt_does_not_apply() {
    let e = env();
    let d = start(&e.home).await;
    save(&d, &e, "a", "short").await;
    save(&d, &e, "b", "other").await;
    let (s, b) = discard(&d, &e, &["a"]).await;
    let id = pending_id(s, &b);
    assert_eq!(decide(&d, &id, "approve").await.0, StatusCode::OK);

    // Other arguments: another action.
    let (s, b) = discard(&d, &e, &["b"]).await;
    assert_ne!(pending_id(s, &b), id);
    assert_eq!(read(&d, &e, "b").await, "other");

    // Same arguments, but the draft changed since the operator approved: the plugin's prompt
    // now describes something else, so the approval does not apply.
    save(&d, &e, "a", "a much longer draft than the one approved").await;
    let (s, b) = discard(&d, &e, &["a"]).await;
    assert_ne!(pending_id(s, &b), id);
    assert_eq!(
        read(&d, &e, "a").await,
        "a much longer draft than the one approved"
    );
    // The approval is still unused, for exactly the action it was given for.
    assert_eq!(poll(&d, &e, &id).await, "approved");
    save(&d, &e, "a", "short").await;
    let (s, b) = discard(&d, &e, &["a"]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["result"], json!({ "ok": 1 }));
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mid_run_confirm_expired_is_denied() {
    let e = env();
    let mut cfg = DaemonConfig::new(&e.home);
    cfg.limits.confirm_ttl = Duration::from_secs(1);
    let d = ward_daemon::start(cfg).await.unwrap();
    save(&d, &e, "plan", "hello").await;
    let (s, b) = discard(&d, &e, &["plan"]).await;
    let id = pending_id(s, &b);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (s, b) = decide(&d, &id, "approve").await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_eq!(poll(&d, &e, &id).await, "expired");
    let (s, b) = discard(&d, &e, &["plan"]).await;
    assert_ne!(pending_id(s, &b), id);
    assert_eq!(read(&d, &e, "plan").await, "hello");
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mid_run_confirm_across_a_restart_is_denied() {
    let e = env();
    let d = start(&e.home).await;
    save(&d, &e, "plan", "hello").await;
    save(&d, &e, "other", "x").await;
    let (s, b) = discard(&d, &e, &["plan"]).await;
    let approved = pending_id(s, &b);
    let (s, b) = discard(&d, &e, &["other"]).await;
    let pending = pending_id(s, &b);
    assert_eq!(decide(&d, &approved, "approve").await.0, StatusCode::OK);
    d.shutdown().await;

    let d = start(&e.home).await;
    assert_eq!(poll(&d, &e, &approved).await, "denied");
    assert_eq!(poll(&d, &e, &pending).await, "denied");
    // The approval given before the restart does not let the deletion through.
    let (s, b) = discard(&d, &e, &["plan"]).await;
    assert_ne!(pending_id(s, &b), approved);
    assert_eq!(read(&d, &e, "plan").await, "hello");
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mid_run_prompt_with_escapes_bidi_and_newlines_is_shown_sanitized() {
    let e = env();
    let d = start(&e.home).await;
    let title = "x\u{1b}[2J\u{1b}]0;pwned\u{7}\u{202e}evil\napproved by admin\r";
    let (s, b) = discard(&d, &e, &[title]).await;
    let id = pending_id(s, &b);
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
    let listed = list["confirmations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id.as_str())
        .unwrap()
        .clone();
    d.shutdown().await;
    let stored = Store::open(&e.home)
        .unwrap()
        .confirmation_get(&id)
        .unwrap()
        .unwrap();
    for summary in [
        b["confirmation"]["summary"].as_str().unwrap(),
        listed["summary"].as_str().unwrap(),
        stored.summary.as_str(),
    ] {
        assert!(
            !summary
                .chars()
                .any(|c| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)),
            "{summary:?}"
        );
        assert!(
            summary.ends_with(
                "asks: Delete 1 draft(s): x\u{FFFD}[2J\u{FFFD}]0;pwned\u{FFFD}\u{FFFD}evil\u{FFFD}approved by admin\u{FFFD} (missing)?"
            ),
            "{summary:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mid_run_confirm_without_the_operators_consent_is_false() {
    // The manifest declares confirmations but the operator did not consent at install: the
    // plugin's ask is answered false, nothing is recorded, and the guest takes its cancel path.
    let e = env_with(&["kv"]);
    let d = start(&e.home).await;
    save(&d, &e, "plan", "hello").await;
    let (s, b) = discard(&d, &e, &["plan"]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["ok"], false);
    assert!(
        b["result"]["err"]
            .as_str()
            .unwrap()
            .starts_with("cancelled"),
        "{b}"
    );
    assert_eq!(read(&d, &e, "plan").await, "hello");
    let (_, list) = request(
        d.operator_socket(),
        Method::GET,
        "/v1/confirmations",
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(list["confirmations"], json!([]));
    d.shutdown().await;
}

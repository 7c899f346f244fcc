//! `ward mcp` driven by a real MCP client ward did not write: the official Python `mcp` package
//! (pinned in tests/mcp-client/requirements.txt, installed by these tests into a virtualenv under
//! the cargo target directory), against a real daemon serving a real store with the hello plugin
//! installed. Attack tests are named after the attack.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{Value, json};
use ward_store::{NewToken, Store};

const HELLO: &str = "example:hello";
/// HELLO installed under another name with `greet` marked `confirm` in its manifest.
const GUARDED: &str = "example:guarded";

/// Guard against a hung client (not a timing assertion: a healthy run takes seconds).
const CLIENT_DEADLINE: Duration = Duration::from_secs(300);

/// The `ward` binary under test, hard-linked at first use to a name private to this test
/// process: the target directory may be shared with other builds that replace
/// `target/debug/ward` while the tests run, and a link keeps this build's file.
fn ward_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let built = PathBuf::from(env!("CARGO_BIN_EXE_ward"));
        let dir = target_dir().join("mcp-test-bin");
        std::fs::create_dir_all(&dir).unwrap();
        // Links left by earlier runs whose process is gone.
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name.strip_prefix("ward-").unwrap_or_default();
            if !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        let link = dir.join(format!("ward-{}", std::process::id()));
        let _ = std::fs::remove_file(&link);
        std::fs::hard_link(&built, &link).unwrap();
        let help = std::process::Command::new(&link)
            .args(["mcp", "--help"])
            .output()
            .unwrap();
        assert!(
            help.status.success(),
            "{} has no `ward mcp`: another build replaced it; run the tests again",
            built.display()
        );
        link
    })
    .clone()
}

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_ward"))
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

fn client_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp-client")
}

/// The virtualenv's python with the pinned client installed, created once per requirements
/// file (keyed by its hash) next to the `ward` binary's target directory. Built in a private
/// directory and renamed into place, so concurrent test runs never see a half-installed one.
fn python() -> &'static Path {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        let reqs = client_dir().join("requirements.txt");
        let text = std::fs::read(&reqs).expect("requirements.txt");
        // FNV-1a: a cache key, so that a changed pin gets a fresh virtualenv.
        let key = text.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        });
        let key = format!("{key:016x}");
        let target = target_dir();
        let venv = target.join(format!("mcp-client-venv-{key}"));
        let py = venv.join("bin/python");
        if venv.join("ready").exists() {
            return py;
        }
        let tmp = target.join(format!("mcp-client-venv-{key}.tmp{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let status = std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&tmp)
            .status()
            .expect("python3 -m venv (python3 is needed by the MCP tests)");
        assert!(status.success(), "python3 -m venv failed");
        let status = std::process::Command::new(tmp.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&reqs)
            .status()
            .expect("pip");
        assert!(status.success(), "pip install -r {} failed", reqs.display());
        std::fs::write(tmp.join("ready"), "").unwrap();
        if std::fs::rename(&tmp, &venv).is_err() {
            // Another run finished first: use its copy.
            let _ = std::fs::remove_dir_all(&tmp);
        }
        assert!(venv.join("ready").exists());
        py
    })
}

struct Env {
    _tmp: tempfile::TempDir,
    home: PathBuf,
}

fn install(home: &Path, name: &str, extra_manifest: &str) {
    let manifest = format!(
        "name = \"{name}\"\nversion = \"0.1.0\"\ndescription = \"test\"\n{extra_manifest}\n[limits]\ntimeout = \"2s\"\n"
    );
    ward_testkit::install::install_signed(home, ward_fixtures::HELLO, &manifest, json!([]));
}

fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("ward");
    install(
        &home,
        HELLO,
        "[commands.greet]\ndescription = \"Say hello to NAME\"\n",
    );
    install(
        &home,
        GUARDED,
        "[commands.greet]\ndescription = \"Say hello, once the operator agrees\"\nconfirm = true\n",
    );
    Env { _tmp: tmp, home }
}

fn token(home: &Path, plugin: &str, command: Option<&str>) -> (String, String) {
    let mut store = Store::open(home).unwrap();
    let issued = store
        .token_create(&NewToken {
            plugin: plugin.into(),
            command: command.map(str::to_owned),
            ..NewToken::default()
        })
        .unwrap();
    (issued.token, issued.row.id)
}

async fn daemon(home: &Path) -> ward_daemon::Running {
    ward_daemon::start(ward_daemon::DaemonConfig::new(home))
        .await
        .expect("daemon starts")
}

/// Runs the Python client against `ward mcp`; returns one JSON value per step, after the
/// first (the server's name from `initialize`).
async fn drive(home: &Path, token: Option<&str>, spec: Value) -> Vec<Value> {
    let mut cmd = tokio::process::Command::new(python());
    cmd.arg(client_dir().join("client.py"))
        .arg(ward_bin())
        .env("WARD_HOME", home)
        .env_remove("WARD_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(t) = token {
        cmd.env("WARD_TOKEN", t);
    }
    let mut child = cmd.spawn().expect("python client");
    {
        use tokio::io::AsyncWriteExt as _;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(spec.to_string().as_bytes()).await.unwrap();
    }
    let out = tokio::time::timeout(CLIENT_DEADLINE, child.wait_with_output())
        .await
        .expect("the MCP client finished")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "client failed: {stderr}");
    let mut v: Vec<Value> = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("client output: {e}: {stderr}"));
    assert_eq!(v[0]["server"], "ward", "{v:?}");
    v.remove(0);
    // The token never reaches the client's view of the server's output or logs.
    if let Some(t) = token {
        assert!(!out.stdout.windows(t.len()).any(|w| w == t.as_bytes()));
        assert!(!stderr.contains(t));
    }
    v
}

fn tool<'a>(list: &'a Value, name: &str) -> Option<&'a Value> {
    list["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
}

fn names(list: &Value) -> Vec<String> {
    let mut n: Vec<String> = list["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools: {list}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    n.sort();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_client_lists_tools_with_schemas() {
    let e = env();
    let (tok, _) = token(&e.home, HELLO, None);
    let d = daemon(&e.home).await;
    let r = drive(&e.home, Some(&tok), json!({"steps": [{"op": "list"}]})).await;
    let list = &r[0];
    let greet = tool(list, "example_hello__greet").unwrap_or_else(|| panic!("{list}"));
    assert_eq!(greet["inputSchema"]["type"], "object");
    assert_eq!(greet["inputSchema"]["properties"]["name"]["type"], "string");
    assert_eq!(greet["inputSchema"]["required"], json!(["name"]));
    let desc = greet["description"].as_str().unwrap();
    assert!(desc.starts_with("Say hello to NAME"), "{desc}");
    assert!(
        desc.contains("WIT: greet: func(name: string) -> string"),
        "{desc}"
    );
    assert_eq!(greet["title"], "example:hello greet");
    let divide = tool(list, "example_hello__divide").unwrap();
    assert_eq!(divide["inputSchema"]["required"], json!(["a", "b"]));
    // s64: a JSON integer, or a decimal string for values beyond 2^53.
    assert_eq!(
        divide["inputSchema"]["properties"]["a"]["anyOf"][0]["type"],
        "integer"
    );
    assert!(tool(list, "example_hello__check-name").is_some());
    assert!(tool(list, "propose_capability").is_some());
    assert!(tool(list, "confirmation_status").is_some());
    // Only the token's plugin: the guarded copy is not listed.
    assert!(
        names(list)
            .iter()
            .all(|n| !n.starts_with("example_guarded"))
    );
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_client_calls_a_tool_and_gets_the_result() {
    let e = env();
    let (tok, id) = token(&e.home, HELLO, None);
    let d = daemon(&e.home).await;
    let r = drive(
        &e.home,
        Some(&tok),
        json!({"steps": [
            {"op": "call", "name": "example_hello__greet", "args": {"name": "World"}},
            {"op": "call", "name": "example_hello__divide", "args": {"a": 7, "b": 2}},
            {"op": "call", "name": "example_hello__divide", "args": {"a": 1, "b": 0}},
        ]}),
    )
    .await;
    assert_eq!(r[0]["isError"], false, "{r:?}");
    assert_eq!(r[0]["text"], "Hello, World!");
    assert_eq!(r[0]["structured"]["result"], "Hello, World!");
    assert_eq!(r[1]["isError"], false, "{r:?}");
    assert_eq!(r[1]["structured"]["result"], json!({"ok": 3}));
    // A WIT `err` is an error result, not a success.
    assert_eq!(r[2]["isError"], true, "{r:?}");
    assert!(
        r[2]["text"]
            .as_str()
            .unwrap()
            .starts_with("the command returned an error:"),
        "{r:?}"
    );
    d.shutdown().await;
    // The daemon audited the calls as this token's.
    let rows = Store::open(&e.home)
        .unwrap()
        .audit_list(ward_store::AuditQuery::default())
        .unwrap();
    let runs: Vec<_> = rows
        .iter()
        .filter(|r| r.detail["endpoint"] == "run" && r.detail["token"] == id.as_str())
        .collect();
    assert_eq!(runs.len(), 3, "{rows:?}");
    assert!(runs.iter().all(|r| r.actor.starts_with("agent:uid:")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_call_with_a_wrong_argument_type_is_an_error_result() {
    let e = env();
    let (tok, _) = token(&e.home, HELLO, None);
    let d = daemon(&e.home).await;
    let r = drive(
        &e.home,
        Some(&tok),
        json!({"steps": [
            {"op": "call", "name": "example_hello__greet", "args": {"name": 42}},
            {"op": "call", "name": "example_hello__greet", "args": {}},
            {"op": "call", "name": "example_hello__divide", "args": {"a": "seven", "b": 1}},
        ]}),
    )
    .await;
    for res in &r {
        assert_eq!(res["isError"], true, "{res}");
        assert_eq!(
            res["structured"]["error"]["kind"], "invalid-arguments",
            "{res}"
        );
        assert!(
            res["text"]
                .as_str()
                .unwrap()
                .starts_with("refused by wardd:"),
            "{res}"
        );
    }
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_scoped_to_one_command_sees_only_that_tool() {
    let e = env();
    let (tok, _) = token(&e.home, HELLO, Some("greet"));
    let d = daemon(&e.home).await;
    let r = drive(
        &e.home,
        Some(&tok),
        json!({"steps": [
            {"op": "list"},
            {"op": "call", "name": "example_hello__greet", "args": {"name": "scoped"}},
            {"op": "call", "name": "example_hello__divide", "args": {"a": 1, "b": 1}},
        ]}),
    )
    .await;
    assert_eq!(
        names(&r[0]),
        [
            "confirmation_status",
            "example_hello__greet",
            "propose_capability"
        ]
    );
    assert_eq!(r[1]["text"], "Hello, scoped!");
    let err = r[2]["error"].as_str().unwrap_or_else(|| panic!("{r:?}"));
    assert!(
        err.contains(
            "unknown tool example_hello__divide: it is not a command this agent token may run"
        ),
        "{err}"
    );
    // The out-of-scope call was refused by the daemon and audited there (issue 12).
    let rows = Store::open(&e.home)
        .unwrap()
        .audit_list(ward_store::AuditQuery::default())
        .unwrap();
    assert!(
        rows.iter().any(|r| r.action == "deny"
            && r.detail["reason"] == "out-of-scope"
            && r.plugin.as_deref() == Some("example_hello__divide")),
        "{rows:?}"
    );
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_token_fails_cleanly() {
    let e = env();
    let (tok, id) = token(&e.home, HELLO, None);
    let d = daemon(&e.home).await;
    let r = drive(
        &e.home,
        Some(&tok),
        json!({"steps": [
            {"op": "call", "name": "example_hello__greet", "args": {"name": "before"}},
            {"op": "exec", "argv": ["{ward}", "token", "revoke", id]},
            {"op": "call", "name": "example_hello__greet", "args": {"name": "after"}},
            {"op": "list"},
        ]}),
    )
    .await;
    assert_eq!(r[0]["text"], "Hello, before!");
    assert_eq!(r[1]["status"], 0, "{r:?}");
    assert_eq!(r[2]["isError"], true);
    assert_eq!(r[2]["structured"]["error"]["kind"], "token-revoked");
    assert_eq!(
        r[2]["text"],
        "refused by wardd: the agent token was revoked (token-revoked)"
    );
    let err = r[3]["error"].as_str().unwrap_or_else(|| panic!("{r:?}"));
    assert!(err.contains("the agent token was revoked"), "{err}");
    d.shutdown().await;
    // Started with the revoked token: the session opens, and every request says why it fails.
    let d = daemon(&e.home).await;
    let r = drive(
        &e.home,
        Some(&tok),
        json!({"steps": [
            {"op": "list"},
            {"op": "call", "name": "example_hello__greet", "args": {"name": "x"}},
        ]}),
    )
    .await;
    assert!(r[0]["error"].as_str().unwrap().contains("token-revoked"));
    assert_eq!(r[1]["structured"]["error"]["kind"], "token-revoked");
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_confirmation_is_reported_as_pending() {
    let e = env();
    let (tok, _) = token(&e.home, GUARDED, None);
    let d = daemon(&e.home).await;
    let call = json!({"op": "call", "name": "example_guarded__greet", "args": {"name": "careful"}});
    let r = drive(
        &e.home,
        Some(&tok),
        json!({"steps": [
            {"op": "list"},
            call,
            {"op": "call", "name": "confirmation_status", "args": {"id": "{confirmation}"}},
            {"op": "exec", "argv": ["{ward}", "confirm", "approve", "{confirmation}"]},
            {"op": "call", "name": "confirmation_status", "args": {"id": "{confirmation}"}},
            call,
            call,
        ]}),
    )
    .await;
    let desc = tool(&r[0], "example_guarded__greet").unwrap()["description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(desc.contains("Needs the operator's confirmation"), "{desc}");
    // Pending: an error result (it did not run) that says so, with the id and the operator's verb.
    let pending = &r[1];
    assert_eq!(pending["isError"], true, "{pending}");
    assert_eq!(pending["structured"]["pending"], true);
    assert_eq!(pending["structured"]["ran"], false);
    let id = pending["structured"]["confirmation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(id.starts_with("cf_"), "{id}");
    let text = pending["text"].as_str().unwrap();
    assert!(
        text.starts_with("pending: the command has NOT run"),
        "{text}"
    );
    assert!(
        text.contains(&format!("`ward confirm approve {id}`")),
        "{text}"
    );
    assert!(!text.contains("Hello"), "{text}");
    assert_eq!(r[2]["structured"]["state"], "pending");
    assert_eq!(r[3]["status"], 0, "{r:?}");
    assert_eq!(r[4]["structured"]["state"], "approved");
    // Approved: the same call runs once; the next one waits for a new confirmation.
    assert_eq!(r[5]["isError"], false, "{r:?}");
    assert_eq!(r[5]["text"], "Hello, careful!");
    assert_eq!(r[6]["structured"]["pending"], true);
    assert_ne!(r[6]["structured"]["confirmation"]["id"], id.as_str());
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn propose_through_the_tool_is_forwarded_to_the_daemon() {
    let e = env();
    let (tok, _) = token(&e.home, HELLO, None);
    // An unsigned component with its manifest embedded, as `ward pack` writes it.
    let component = e.home.join("proposal.wasm");
    let bytes = std::fs::read(ward_fixtures::HELLO).unwrap();
    let manifest = "name = \"local:hello\"\nversion = \"0.1.0\"\ndescription = \"Greets\"\n";
    std::fs::write(
        &component,
        ward_manifest::embed(&bytes, manifest.as_bytes()).unwrap(),
    )
    .unwrap();
    let d = daemon(&e.home).await;
    let r = drive(
        &e.home,
        Some(&tok),
        json!({"steps": [
            {"op": "call", "name": "propose_capability", "args": {
                "component_path": component,
                "examples": "[[example]]\ncommand = \"greet\"\nargs = {name = \"x\"}\nexpect = \"Hello, x!\"\n"}},
        ]}),
    )
    .await;
    d.shutdown().await;
    let res = &r[0];
    // The proposal reached the daemon's agent socket, once: the daemon audited that request
    // (besides the tool lists the client asks for).
    let rows = Store::open(&e.home)
        .unwrap()
        .audit_list(ward_store::AuditQuery::default())
        .unwrap();
    let agent_rows = rows
        .iter()
        .filter(|row| row.actor.starts_with("agent:uid:") && row.detail["endpoint"] != "commands")
        .count();
    assert_eq!(agent_rows, 1, "{rows:?}");
    if res["isError"] == false {
        // The daemon accepts proposals: the reply is the pending proposal.
        assert_eq!(res["structured"]["state"], "pending", "{res}");
        let text = res["text"].as_str().unwrap();
        assert!(
            text.contains("submitted and pending the operator's review"),
            "{text}"
        );
    } else {
        // This daemon has no proposals endpoint yet: a clean, typed refusal, never a success.
        assert_eq!(res["structured"]["error"]["kind"], "not-found", "{res}");
        assert_eq!(
            res["text"],
            "refused by wardd: no such endpoint (not-found)"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn propose_of_a_file_that_is_not_a_component_is_refused_unsent() {
    let e = env();
    let (tok, _) = token(&e.home, HELLO, None);
    let secret = e.home.join("not-a-component");
    std::fs::write(&secret, "-----BEGIN OPENSSH PRIVATE KEY-----\n").unwrap();
    let d = daemon(&e.home).await;
    let before = Store::open(&e.home)
        .unwrap()
        .audit_list(ward_store::AuditQuery::default())
        .unwrap()
        .len();
    let r = drive(
        &e.home,
        Some(&tok),
        json!({"steps": [
            {"op": "call", "name": "propose_capability", "args": {"component_path": secret}},
            {"op": "call", "name": "propose_capability", "args": {"component_path": "/dev/zero"}},
            {"op": "call", "name": "propose_capability", "args": {}},
        ]}),
    )
    .await;
    d.shutdown().await;
    assert_eq!(
        r[0]["text"],
        "not a WebAssembly component (a proposal is a component with its manifest embedded: see `ward pack`)"
    );
    assert_eq!(r[1]["text"], "/dev/zero is not a regular file");
    assert_eq!(r[2]["text"], "give component_path or component_base64");
    for res in &r {
        assert_eq!(res["isError"], true);
        assert_eq!(res["structured"]["error"]["kind"], "invalid-proposal");
    }
    // Nothing was sent: the daemon saw no request.
    let after = Store::open(&e.home)
        .unwrap()
        .audit_list(ward_store::AuditQuery::default())
        .unwrap()
        .len();
    assert_eq!(before, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_cannot_approve_through_mcp() {
    let e = env();
    let (tok, _) = token(&e.home, GUARDED, None);
    let d = daemon(&e.home).await;
    let r = drive(
        &e.home,
        Some(&tok),
        json!({"steps": [
            {"op": "list"},
            {"op": "call", "name": "example_guarded__greet", "args": {"name": "x"}},
            {"op": "call", "name": "approve", "args": {"id": "{confirmation}"}},
            {"op": "call", "name": "confirmation_status", "args": {"id": "{confirmation}/approve"}},
            {"op": "call", "name": "confirmation_status", "args": {"id": "../tokens"}},
            {"op": "call", "name": "example_guarded__greet", "args": {"name": "x"}},
        ]}),
    )
    .await;
    // No tool decides anything: the list holds the plugin's commands and the two agent tools.
    for n in names(&r[0]) {
        assert!(
            n.starts_with("example_guarded__")
                || n == "propose_capability"
                || n == "confirmation_status",
            "{n}"
        );
    }
    let id = r[1]["structured"]["confirmation"]["id"].as_str().unwrap();
    assert!(
        r[2]["error"]
            .as_str()
            .unwrap()
            .contains("unknown tool approve")
    );
    for res in [&r[3], &r[4]] {
        assert_eq!(res["isError"], true);
        assert_eq!(
            res["text"],
            "id: not a confirmation id (expected cf_ followed by letters and digits)"
        );
    }
    // Still pending: the same call waits on the same confirmation.
    assert_eq!(r[5]["structured"]["pending"], true);
    assert_eq!(r[5]["structured"]["confirmation"]["id"], id);
    d.shutdown().await;
    let c = Store::open(&e.home)
        .unwrap()
        .confirmation_get(id)
        .unwrap()
        .unwrap();
    assert_eq!(c.state, ward_store::ConfirmState::Pending);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_not_running_is_reported_cleanly() {
    let e = env();
    let (tok, _) = token(&e.home, HELLO, None);
    let r = drive(
        &e.home,
        Some(&tok),
        json!({"steps": [
            {"op": "list"},
            {"op": "call", "name": "example_hello__greet", "args": {"name": "x"}},
        ]}),
    )
    .await;
    assert!(
        r[0]["error"]
            .as_str()
            .unwrap()
            .contains("cannot reach wardd"),
        "{r:?}"
    );
    assert_eq!(r[1]["isError"], true);
    assert_eq!(r[1]["structured"]["error"]["kind"], "daemon-unreachable");
    assert!(
        r[1]["text"].as_str().unwrap().contains("ward daemon"),
        "{r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_from_a_private_file_works() {
    let e = env();
    let (tok, _) = token(&e.home, HELLO, Some("greet"));
    let file = e.home.join("agent.token");
    std::fs::write(&file, format!("{tok}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let d = daemon(&e.home).await;
    let r = drive(
        &e.home,
        None,
        json!({"args": ["--token-file", file], "steps": [
            {"op": "call", "name": "example_hello__greet", "args": {"name": "file"}},
        ]}),
    )
    .await;
    assert_eq!(r[0]["text"], "Hello, file!");
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_config_works_with_a_client_that_passes_no_environment() {
    // docs/mcp.md: `ward mcp --home DIR --token-file FILE`, nothing in the environment.
    let e = env();
    let (tok, _) = token(&e.home, HELLO, Some("greet"));
    let file = e.home.join("agent.token");
    std::fs::write(&file, format!("{tok}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let d = daemon(&e.home).await;
    let r = drive(
        &e.home,
        None,
        json!({"bare_env": true, "args": ["--home", e.home, "--token-file", file], "steps": [
            {"op": "list"},
            {"op": "call", "name": "example_hello__greet", "args": {"name": "bare"}},
        ]}),
    )
    .await;
    assert_eq!(r[1]["text"], "Hello, bare!", "{r:?}");
    d.shutdown().await;
}

fn ward(home: &Path) -> Command {
    let mut cmd = Command::new(ward_bin());
    cmd.env("WARD_HOME", home)
        .env_remove("WARD_TOKEN")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1");
    cmd
}

#[test]
fn token_on_the_command_line_is_refused() {
    let e = env();
    ward(&e.home)
        .args(["mcp", "--token", "wk_ABCDEF"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unexpected argument '--token'"));
    ward(&e.home)
        .args(["mcp"])
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no agent token: set WARD_TOKEN or pass --token-file PATH",
        ));
}

#[test]
fn token_file_readable_by_other_users_is_refused() {
    let e = env();
    let (tok, _) = token(&e.home, HELLO, None);
    let file = e.home.join("agent.token");
    std::fs::write(&file, &tok).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = ward(&e.home)
        .args(["mcp", "--token-file"])
        .arg(&file)
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "can be read or written by other users (mode 644)",
        ))
        .get_output()
        .clone();
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&tok));
    assert!(out.stdout.is_empty());
}

/// Writes JSON-RPC lines to `ward mcp` directly and returns the replies, one per line, up to
/// and including the reply to the request with id `last`.
fn raw_session(home: &Path, token: &str, lines: &[Vec<u8>], last: u64) -> Vec<Value> {
    let mut child = std::process::Command::new(ward_bin())
        .arg("mcp")
        .env("WARD_HOME", home)
        .env("WARD_TOKEN", token)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let v = serde_json::from_str::<Value>(&line.unwrap()).unwrap();
            let done = v["id"] == last;
            out.push(v);
            if done {
                break;
            }
        }
        out
    });
    for l in lines {
        stdin.write_all(l).unwrap();
        stdin.write_all(b"\n").unwrap();
    }
    let got = reader.join().unwrap();
    drop(stdin);
    assert!(child.wait().unwrap().success());
    got
}

#[test]
fn oversized_input_line_is_dropped_and_the_session_goes_on() {
    let e = env();
    let (tok, _) = token(&e.home, HELLO, None);
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"}}});
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    // A request line larger than MAX_LINE_BYTES: dropped unread, never answered.
    let mut huge = br#"{"jsonrpc":"2.0","id":2,"method":"ping","params":{"_meta":{"a":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'a', ward_mcp::MAX_LINE_BYTES + 1));
    huge.extend_from_slice(br#""}}}"#);
    let ping = |id: u64| {
        json!({"jsonrpc": "2.0", "id": id, "method": "ping"})
            .to_string()
            .into_bytes()
    };
    let replies = raw_session(
        &e.home,
        &tok,
        &[
            init.to_string().into_bytes(),
            initialized.to_string().into_bytes(),
            huge,
            ping(3),
            ping(4),
            ping(5),
        ],
        5,
    );
    assert_eq!(replies[0]["id"], 1);
    assert_eq!(replies[0]["result"]["serverInfo"]["name"], "ward");
    // The oversized request is never answered; the session goes on and answers what follows.
    // (rmcp 3.9.0 sometimes also loses the message right after an oversized line, so ping 3
    // is not required.)
    assert!(replies.iter().all(|r| r["id"] != 2), "{replies:?}");
    let last = replies.last().unwrap();
    assert_eq!(last["id"], 5, "{replies:?}");
    assert!(last["result"].is_object(), "{replies:?}");
}

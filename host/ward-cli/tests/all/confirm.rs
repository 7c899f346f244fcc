//! A plugin's mid-run confirmations (`ward:plugin/confirm`) from the operator's side: install,
//! `ward run` without a terminal, and `ward confirm list` showing an agent call's ask. The real
//! `ward` binary, a real signed drafts plugin, a temporary WARD_HOME.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{Value, json};
use ward_signing::SecretKey;

const NAME: &str = "example:drafts";

struct Env {
    _dir: tempfile::TempDir,
    root: PathBuf,
    key: SecretKey,
}

impl Env {
    /// A home trusting a fresh publisher key for `example:*`, with key-value storage and
    /// confirmations pre-approved for `--yes`.
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let env = Env {
            root: dir.path().to_owned(),
            _dir: dir,
            key: SecretKey::generate().unwrap(),
        };
        let pubfile = env.root.join("publisher.pub");
        std::fs::write(&pubfile, env.key.public_key().to_openssh()).unwrap();
        env.ward()
            .args([
                "trust",
                "add",
                pubfile.to_str().unwrap(),
                "--scope",
                "example:*",
            ])
            .assert()
            .success();
        std::fs::write(
            env.home().join("policy.toml"),
            "[[preapprove]]\nplugin = \"example:*\"\ncapabilities = [\"kv\", \"confirm\"]\n",
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
            .env("NO_COLOR", "1");
        cmd
    }

    /// The drafts component packed with `manifest`, signed.
    fn signed(&self, manifest: &str) -> PathBuf {
        let bytes = std::fs::read(ward_fixtures::DRAFTS).unwrap();
        let packed = ward_manifest::embed(&bytes, manifest.as_bytes()).unwrap();
        let path = self.root.join("drafts.wasm");
        std::fs::write(&path, ward_signing::sign(&packed, &self.key).unwrap()).unwrap();
        path
    }

    fn install(&self, manifest: &str) -> assert_cmd::assert::Assert {
        let signed = self.signed(manifest);
        self.ward()
            .args(["install", signed.to_str().unwrap(), "--yes"])
            .assert()
    }

    fn run(&self, command: &str, args: Value) -> assert_cmd::assert::Assert {
        self.ward()
            .args(["run", NAME, command, "--args", &args.to_string(), "--json"])
            .assert()
    }
}

fn manifest(confirm: bool) -> String {
    format!(
        "name = \"{NAME}\"\nversion = \"1.0.0\"\ndescription = \"drafts\"\n\
         [capabilities]\nkeyvalue = {{ quota = \"64KiB\" }}\n{}",
        if confirm { "confirm = true\n" } else { "" }
    )
}

fn result(out: &[u8]) -> Value {
    serde_json::from_slice::<Value>(out).unwrap()["result"].clone()
}

#[test]
fn component_importing_confirm_without_declaring_it_is_refused_at_install() {
    // The static check is ward-manifest's `imports::tests` (undeclared confirm import); this is
    // the same refusal end to end, with nothing installed.
    let env = Env::new();
    env.install(&manifest(false)).code(1).stderr(
        predicate::str::contains("ward:plugin/confirm")
            .and(predicate::str::contains("set confirm = true")),
    );
    env.ward()
        .args(["list", "--json"])
        .assert()
        .success()
        .stdout(predicate::str::contains(NAME).not());
}

#[test]
fn standalone_run_without_a_terminal_denies_the_plugins_ask() {
    let env = Env::new();
    env.install(&manifest(true)).success();
    env.run("save", json!({ "title": "plan", "body": "keep me" }))
        .success();
    // assert_cmd gives the process no terminal: the ask is denied and the guest cancels.
    let out = env.run("discard", json!({ "titles": ["plan"] })).code(1);
    let out = out.get_output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "example:drafts discard asked for your confirmation, denied: not on a terminal"
        ),
        "{stderr}"
    );
    let err = result(&out.stdout)["err"].as_str().unwrap().to_owned();
    assert!(err.starts_with("cancelled"), "{err}");
    let out = env.run("read", json!({ "title": "plan" })).success();
    assert_eq!(result(&out.get_output().stdout), json!({ "ok": "keep me" }));
}

#[test]
fn confirm_list_shows_an_agents_mid_run_ask_sanitized() {
    let env = Env::new();
    env.install(&manifest(true)).success();
    let home = env.home();
    let title = "x\u{1b}[2J\u{1b}]0;pwned\u{7}\u{202e}evil\napproved";
    let summary = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(agent_asks(&home, title));
    let out = env.ward().args(["confirm", "list"]).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(stdout.contains(&summary), "{stdout}");
    assert!(
        stdout.contains(
            "asks: Delete 1 draft(s): x\u{FFFD}[2J\u{FFFD}]0;pwned\u{FFFD}\u{FFFD}evil\u{FFFD}approved (missing)?"
        ),
        "{stdout}"
    );
    assert!(
        !stdout
            .chars()
            .any(|c| (c.is_control() && c != '\n') || ('\u{202a}'..='\u{202e}').contains(&c)),
        "{stdout:?}"
    );
}

/// Starts wardd on `home`, lets an agent call `discard` on a draft titled `title`, and returns
/// the pending confirmation's summary.
async fn agent_asks(home: &Path, title: &str) -> String {
    use hyper::{Method, StatusCode};
    let token = ward_store::Store::open(home)
        .unwrap()
        .token_create(&ward_store::NewToken {
            plugin: NAME.into(),
            ..ward_store::NewToken::default()
        })
        .unwrap()
        .token;
    let d = ward_daemon::start(ward_daemon::DaemonConfig::new(home))
        .await
        .unwrap();
    let (status, body) = ward_daemon::client::request(
        d.agent_socket(),
        Method::POST,
        "/v1/run",
        Some(&token),
        Some(&json!({ "plugin": NAME, "command": "discard", "args": { "titles": [title] } })),
    )
    .await
    .unwrap();
    d.shutdown().await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    body["confirmation"]["summary"].as_str().unwrap().to_owned()
}

//! `ward token`, `ward confirm` and `ward daemon` in a temporary WARD_HOME, with the real binary.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{Value, json};
use ward_store::{NewConfirmation, Store};

const NAME: &str = "example:hello";

struct Home {
    _tmp: tempfile::TempDir,
    path: PathBuf,
}

fn home() -> Home {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("ward");
    install(&path, NAME, ward_fixtures::HELLO);
    Home { _tmp: tmp, path }
}

/// Installs the component at `wasm` as `name`, with nothing granted.
fn install(home: &Path, name: &str, wasm: &str) {
    let manifest = format!("name = \"{name}\"\nversion = \"0.1.0\"\ndescription = \"t\"\n");
    ward_testkit::install::install_signed(home, wasm, &manifest, json!([]));
}

fn ward(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("ward").unwrap();
    cmd.env("WARD_HOME", home)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1");
    cmd
}

#[test]
fn token_create_prints_the_token_once_and_list_never_shows_it() {
    let h = home();
    let out = ward(&h.path)
        .args([
            "token",
            "create",
            "--plugin",
            NAME,
            "--command",
            "greet",
            "--rate",
            "10/min",
            "--daily-calls",
            "100",
            "--daily-cpu",
            "60s",
            "--expires",
            "30d",
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains("shown once"))
        .get_output()
        .stdout
        .clone();
    let token = String::from_utf8(out).unwrap().trim().to_owned();
    assert!(token.starts_with("wk_") && token.len() == 55, "{token}");

    let list = ward(&h.path).args(["token", "list"]).assert().success();
    let text = String::from_utf8(list.get_output().stdout.clone()).unwrap();
    assert!(
        text.contains("example:hello  greet  rate 10/min  daily calls 100  daily cpu 60s"),
        "{text}"
    );
    assert!(!text.contains(&token));
    let json_out = ward(&h.path)
        .args(["token", "list", "--json"])
        .assert()
        .success();
    let rows: Value = serde_json::from_slice(&json_out.get_output().stdout).unwrap();
    let id = rows[0]["id"].as_str().unwrap().to_owned();
    assert!(!rows.to_string().contains(&token));

    ward(&h.path)
        .args(["token", "revoke", &id])
        .assert()
        .success();
    ward(&h.path)
        .args(["token", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("revoked"));
    ward(&h.path)
        .args(["token", "revoke", &id])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not an active token"));
    // The token never reaches the audit log.
    let audit = ward(&h.path).args(["audit", "--json"]).assert().success();
    assert!(!String::from_utf8_lossy(&audit.get_output().stdout).contains(&token));
}

#[test]
fn token_create_refuses_bad_limits_and_unknown_plugins() {
    let h = home();
    ward(&h.path)
        .args(["token", "create", "--plugin", NAME, "--rate", "fast"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid rate 'fast'"));
    ward(&h.path)
        .args(["token", "create", "--plugin", NAME, "--expires", "30"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid period '30'"));
    ward(&h.path)
        .args(["token", "create", "--plugin", "example:nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not installed"));
}

#[test]
fn confirm_list_approve_deny() {
    let h = home();
    let mut store = Store::open(&h.path).unwrap();
    let mk = |store: &mut Store, hash: &str| {
        store
            .confirmation_create(&NewConfirmation {
                token: "tk_1".into(),
                plugin: NAME.into(),
                command: "greet".into(),
                action_hash: hash.into(),
                summary: "example:hello greet(name=\"x\") capabilities: none".into(),
                ttl_secs: 600,
            })
            .unwrap()
            .id
    };
    let a = mk(&mut store, "aa");
    let b = mk(&mut store, "bb");
    drop(store);
    ward(&h.path)
        .args(["confirm", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains(&a).and(predicate::str::contains(
            "example:hello greet(name=\"x\") capabilities: none",
        )));
    ward(&h.path)
        .args(["confirm", "approve", &a])
        .assert()
        .success();
    ward(&h.path)
        .args(["confirm", "deny", &b])
        .assert()
        .success();
    ward(&h.path)
        .args(["confirm", "approve", &b])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is denied, not pending"));
    ward(&h.path)
        .args(["confirm", "list"])
        .assert()
        .success()
        .stderr(predicate::str::contains("no pending confirmations"));
    let store = Store::open(&h.path).unwrap();
    assert_eq!(
        store.confirmation_get(&a).unwrap().unwrap().state,
        ward_store::ConfirmState::Approved
    );
}

#[test]
fn daemon_start_and_status() {
    let h = home();
    ward(&h.path)
        .args(["daemon", "status"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("wardd is not running"));
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("ward"))
        .args(["daemon", "start"])
        .env("WARD_HOME", &h.path)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut up = false;
    for _ in 0..600 {
        let out = ward(&h.path)
            .args(["daemon", "status", "--json"])
            .output()
            .unwrap();
        if out.status.success() {
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert!(
                v["sockets"]["agent"]
                    .as_str()
                    .unwrap()
                    .ends_with("run/agent.sock")
            );
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(up, "ward daemon did not start");
    ward(&h.path)
        .args(["daemon", "status"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("requests served:")
                .and(predicate::str::contains("agent socket:")),
        );
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
}

/// A `ward daemon` child process; stopped with SIGTERM when dropped.
struct Daemon(std::process::Child);

impl Daemon {
    fn start(home: &Path) -> Daemon {
        let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("ward"))
            .args(["daemon", "start"])
            .env("WARD_HOME", home)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let daemon = Daemon(child);
        for _ in 0..600 {
            if ward(home)
                .args(["daemon", "status"])
                .output()
                .unwrap()
                .status
                .success()
            {
                return daemon;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("ward daemon did not start");
    }

    fn kill(&mut self, signal: &str) {
        std::process::Command::new("kill")
            .args([signal, &self.0.id().to_string()])
            .status()
            .unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            self.kill("-TERM");
        }
    }
}

/// The audit rows of runs (allowed or refused), oldest first: (actor, action, outcome).
fn run_rows(home: &Path) -> Vec<(String, String, String)> {
    Store::open(home)
        .unwrap()
        .audit_list(ward_store::AuditQuery::default())
        .unwrap()
        .into_iter()
        .filter(|r| r.action == "run" || r.action == "deny")
        .map(|r| (r.actor, r.action, r.outcome))
        .collect()
}

fn requests_served(home: &Path) -> u64 {
    let out = ward(home)
        .args(["daemon", "status", "--json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["requests_served"].as_u64().unwrap()
}

#[test]
fn run_goes_through_the_daemon_while_it_runs() {
    let h = home();
    install(&h.path, "example:cli-echo", ward_fixtures::CLI_ECHO);
    // Standalone first: the reference output.
    let standalone = ward(&h.path)
        .args(["run", "example:cli-echo", "run", "--", "a", "b  c"])
        .output()
        .unwrap();
    assert!(standalone.status.success());
    let _daemon = Daemon::start(&h.path);
    let before = requests_served(&h.path);

    ward(&h.path)
        .args(["run", NAME, "greet", "name=daemon"])
        .assert()
        .success()
        .stdout("Hello, daemon!\n");
    let out = ward(&h.path)
        .args([
            "run",
            NAME,
            "greet",
            "--args",
            r#"{"name":"json"}"#,
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["ok"].clone(), v["result"].clone()),
        (json!(true), json!("Hello, json!"))
    );
    ward(&h.path)
        .args(["run", NAME, "greet", "--args", "-"])
        .write_stdin(r#"{"name":"stdin"}"#)
        .assert()
        .success()
        .stdout("Hello, stdin!\n");
    // A wasi:cli program prints exactly what it printed standalone.
    let through = ward(&h.path)
        .args(["run", "example:cli-echo", "run", "--", "a", "b  c"])
        .output()
        .unwrap();
    assert!(through.status.success());
    assert_eq!(through.stdout, standalone.stdout);
    // An error result is the plugin-failure status, as standalone; --json says ok: false.
    let out = ward(&h.path)
        .args(["run", NAME, "divide", "a=1", "b=0", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], json!(false), "{v}");
    // Bad arguments are a usage error, as standalone; nothing ran.
    ward(&h.path)
        .args(["run", NAME, "greet", "nosuch=1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nosuch"));
    ward(&h.path)
        .args(["run", "example:absent", "greet"])
        .assert()
        .code(2);
    // The daemon served all seven; every one has its audit row, by the operator socket's caller.
    assert!(requests_served(&h.path) >= before + 7);
    let rows = run_rows(&h.path);
    let through_daemon: Vec<_> = rows
        .iter()
        .filter(|(actor, ..)| actor.starts_with("operator:uid:"))
        .collect();
    assert_eq!(through_daemon.len(), 7, "{rows:?}");
    assert_eq!(
        through_daemon
            .iter()
            .filter(|(_, action, outcome)| action == "run" && outcome == "ok")
            .count(),
        4,
        "{rows:?}"
    );
    // --standalone runs in the process itself.
    ward(&h.path)
        .args(["run", "--standalone", NAME, "greet", "name=local"])
        .assert()
        .success()
        .stdout("Hello, local!\n");
    // (A standalone run's actor is the local operator.)
    let last = run_rows(&h.path).pop().unwrap();
    assert_eq!(last.0, "operator", "{last:?}");
    ward(&h.path).args(["audit", "verify"]).assert().success();
}

#[test]
fn run_works_standalone_when_the_daemon_is_gone() {
    let h = home();
    let mut daemon = Daemon::start(&h.path);
    daemon.kill("-KILL");
    // The socket file is left behind; nobody listens on it.
    let socket = h.path.join("run/operator.sock");
    assert!(socket.exists());
    ward(&h.path)
        .args(["run", NAME, "greet", "name=alone"])
        .assert()
        .success()
        .stdout("Hello, alone!\n");
    // `--args -` read stdin for the daemon; the standalone fallback still has the document.
    ward(&h.path)
        .args(["run", NAME, "greet", "--args", "-"])
        .write_stdin(r#"{"name":"piped"}"#)
        .assert()
        .success()
        .stdout("Hello, piped!\n");
    // (A standalone run's actor is the local operator.)
    let last = run_rows(&h.path).pop().unwrap();
    assert_eq!(last.0, "operator", "{last:?}");
}

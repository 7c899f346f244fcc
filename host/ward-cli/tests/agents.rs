//! `ward token`, `ward confirm` and `ward daemon` in a temporary WARD_HOME, with the real binary.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{Value, json};
use ward_store::{BlobDigest, InstallRecord, NewConfirmation, Store};

const NAME: &str = "example:hello";

struct Home {
    _tmp: tempfile::TempDir,
    path: PathBuf,
}

fn home() -> Home {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("ward");
    let bytes = std::fs::read(ward_fixtures::HELLO).unwrap();
    let mut store = Store::open(&path).unwrap();
    let blob = store.put_blob(&bytes).unwrap();
    store
        .install(&InstallRecord {
            name: NAME.into(),
            version: "0.1.0".into(),
            digest: format!("sha256:{}", BlobDigest::of(&bytes)),
            blob,
            manifest_toml: format!("name = \"{NAME}\"\nversion = \"0.1.0\"\ndescription = \"t\"\n"),
            signers: json!([]),
            grants: json!([]),
            summary: String::new(),
            allow_downgrade: false,
        })
        .unwrap();
    Home { _tmp: tmp, path }
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

//! What an upgrade changes, in commands as well as capabilities: `ward diff` and the install
//! review.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use assert_cmd::Command;
use serde_json::{Value, json};

const NAME: &str = "example:hello";

fn ward(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("ward").unwrap();
    cmd.env("WARD_HOME", home)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1");
    cmd
}

fn manifest(version: &str, extra: &str) -> String {
    format!("name = \"{NAME}\"\nversion = \"{version}\"\ndescription = \"t\"\n{extra}")
}

#[test]
fn an_upgrade_shows_the_commands_it_adds_removes_and_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("ward");
    ward_testkit::install::install_signed(
        &home,
        ward_fixtures::HELLO,
        &manifest("1.0.0", ""),
        json!([]),
    );
    // Version 2 is another component: hostile's commands in place of hello's.
    let v2 = tmp.path().join("v2.wasm");
    std::fs::write(
        &v2,
        ward_testkit::install::signed(
            ward_fixtures::HOSTILE,
            &manifest(
                "2.0.0",
                "[capabilities]\nnetwork = [{ url = \"https://api.example.com\" }]\n",
            ),
        ),
    )
    .unwrap();

    let out = ward(&home)
        .args(["diff", NAME])
        .arg(&v2)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let commands: Vec<&str> = v["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(commands.contains(&"+ command spin: func()"), "{commands:?}");
    assert!(
        commands.contains(
            &"+ command hoard-files: func(path: string, count: u32) -> result<u32, string>"
        ),
        "{commands:?}"
    );
    assert!(
        commands
            .iter()
            .any(|l| l.starts_with("- command greet: func(")),
        "{commands:?}"
    );
    // Files and installed versions name the same components.
    let v1 = tmp.path().join("v1.wasm");
    std::fs::write(
        &v1,
        ward_testkit::install::signed(ward_fixtures::HELLO, &manifest("1.0.0", "")),
    )
    .unwrap();
    let by_file = ward(&home)
        .args(["diff"])
        .arg(&v1)
        .arg(&v2)
        .arg("--json")
        .output()
        .unwrap();
    let by_file: Value = serde_json::from_slice(&by_file.stdout).unwrap();
    assert_eq!(by_file["commands"], v["commands"]);
    // The same component twice: no changes.
    let same = ward(&home)
        .args(["diff", &format!("{NAME}@1.0.0")])
        .arg(&v1)
        .output()
        .unwrap();
    assert!(same.status.success());
    assert_eq!(String::from_utf8_lossy(&same.stdout), "no changes\n");
    // The install review of the upgrade lists the same command lines (installed here with the
    // operator's pre-approval of http and the phrase typed ahead).
    std::fs::write(
        home.join("policy.toml"),
        "[[preapprove]]\nplugin = \"example:*\"\ncapabilities = [\"http\"]\n",
    )
    .unwrap();
    let out = ward(&home)
        .args(["install"])
        .arg(&v2)
        .args(["--yes", "--confirm", &format!("grant {NAME} 2.0.0")])
        .output()
        .unwrap();
    let review = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{review}");
    assert!(review.contains("+ command spin: func()"), "{review}");
    assert!(review.contains("- command greet: func("), "{review}");
    // A version that was never installed: a usage error naming it.
    let out = ward(&home)
        .args(["diff", &format!("{NAME}@9.9.9"), NAME])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no kept version 9.9.9"));
}

//! `ward audit`: filters, `--follow` while another process writes, JSON Lines, `export`.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::{Value, json};

const NAME: &str = "example:hello";

struct Home {
    _tmp: tempfile::TempDir,
    path: PathBuf,
}

/// hello installed (an `install` row by the operator), two calls (`run`, `ok`) and one refused
/// call of a disabled plugin (`deny`, `denied`).
fn home() -> Home {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("ward");
    let manifest = format!("name = \"{NAME}\"\nversion = \"0.1.0\"\ndescription = \"t\"\n");
    ward_testkit::install::install_signed(&path, ward_fixtures::HELLO, &manifest, json!([]));
    let h = Home { _tmp: tmp, path };
    for name in ["a", "b"] {
        ward(&h.path)
            .args(["run", NAME, "greet", &format!("name={name}")])
            .assert()
            .success();
    }
    ward(&h.path).args(["disable", NAME]).assert().success();
    ward(&h.path)
        .args(["run", NAME, "greet", "name=c"])
        .assert()
        .failure();
    h
}

fn ward(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("ward").unwrap();
    cmd.env("WARD_HOME", home)
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1");
    cmd
}

/// The rows `ward audit --json ARGS` prints, one JSON value per line.
fn rows(home: &Path, args: &[&str]) -> Vec<Value> {
    let out = ward(home)
        .args(["audit", "--json"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ward_testkit::install::json_lines(&out.stdout)
        .as_array()
        .unwrap()
        .clone()
}

fn actions(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["action"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn audit_filters_select_the_rows_asked_for() {
    let h = home();
    let all = rows(&h.path, &[]);
    assert!(all.len() >= 5, "{all:?}");
    let runs = rows(&h.path, &["--kind", "run"]);
    assert_eq!(actions(&runs), ["run", "run"]);
    assert!(runs.iter().all(|r| r["outcome"] == "ok"));
    let denied = rows(&h.path, &["--decision", "denied"]);
    assert!(!denied.is_empty());
    assert!(
        denied.iter().all(|r| r["outcome"] == "denied"),
        "{denied:?}"
    );
    assert!(
        denied.iter().any(|r| r["detail"]["reason"] == "disabled"),
        "{denied:?}"
    );
    let mine = rows(
        &h.path,
        &["--plugin", NAME, "--kind", "run", "--decision", "ok"],
    );
    assert_eq!(mine.len(), 2);
    assert!(rows(&h.path, &["--plugin", "example:other"]).is_empty());
    // Everything here was done by the operator at the CLI; no agent acted.
    let actors: Vec<&str> = all.iter().map(|r| r["actor"].as_str().unwrap()).collect();
    assert_eq!(
        rows(&h.path, &["--actor", "operator"]).len(),
        all.len(),
        "{actors:?}"
    );
    assert!(rows(&h.path, &["--actor", "agent"]).is_empty());
    assert!(rows(&h.path, &["--actor", "tok_unknown"]).is_empty());
    // Times: all of it within the last hour, nothing before 2000 or after now.
    assert_eq!(rows(&h.path, &["--since", "1h"]).len(), all.len());
    assert!(rows(&h.path, &["--until", "2000-01-01"]).is_empty());
    assert_eq!(
        rows(&h.path, &["--since", "2000-01-01T00:00:00Z"]).len(),
        all.len()
    );
    // --limit keeps the latest rows that match.
    let last = rows(&h.path, &["--kind", "run", "--limit", "1"]);
    assert_eq!(last.len(), 1);
    assert_eq!(last[0]["seq"], runs[1]["seq"]);
    // The text listing shows the same rows, one a line.
    let text = ward(&h.path)
        .args(["audit", "--kind", "run"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&text.stdout).lines().count(), 2);
}

#[test]
fn audit_refuses_a_time_it_cannot_read() {
    let h = home();
    let out = ward(&h.path)
        .args(["audit", "--since", "yesterday"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--since \"yesterday\"") && err.contains("RFC 3339"),
        "{err}"
    );
    let out = ward(&h.path)
        .args(["audit", "--decision", "maybe"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn audit_follow_prints_rows_written_after_it_started() {
    let h = home();
    let bin = assert_cmd::cargo::cargo_bin("ward");
    let mut follow = std::process::Command::new(bin)
        .args(["audit", "--follow", "--json", "--kind", "run"])
        .env("WARD_HOME", &h.path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = follow.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let next = || {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("a row from --follow");
        serde_json::from_str::<Value>(&line).unwrap()
    };
    // The two runs so far, then a new one written by another process.
    assert_eq!(next()["action"], "run");
    assert_eq!(next()["action"], "run");
    ward(&h.path).args(["enable", NAME]).assert().success();
    ward(&h.path)
        .args(["run", NAME, "greet", "name=later"])
        .assert()
        .success();
    let row = next();
    assert_eq!(row["action"], "run");
    assert_eq!(row["outcome"], "ok");
    follow.kill().unwrap();
    let _ = follow.wait();
}

#[test]
fn audit_export_writes_every_matching_row_as_json_lines() {
    let h = home();
    let out = h.path.parent().unwrap().join("export.jsonl");
    ward(&h.path)
        .args(["audit", "export", "--out"])
        .arg(&out)
        .assert()
        .success();
    let text = std::fs::read_to_string(&out).unwrap();
    let exported: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(exported, rows(&h.path, &[]));
    // The rows chain: each row's prev_hash is the hash of the one before.
    for pair in exported.windows(2) {
        assert_eq!(pair[1]["prev_hash"], pair[0]["hash"]);
    }
    // With a filter, only what matches.
    ward(&h.path)
        .args(["audit", "export", "--kind", "run", "--out"])
        .arg(&out)
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 2);
}

//! `ward audit`: filters, `--follow` while another process writes, JSON Lines, `export`;
//! checkpoints, inclusion and consistency proofs, and what each catches.
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

fn ward_json(home: &Path, args: &[&str]) -> Value {
    let out = ward(home).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `ward audit checkpoint` into `file`.
fn checkpoint(home: &Path, file: &Path) -> Value {
    ward(home)
        .args(["audit", "checkpoint", "--out"])
        .arg(file)
        .assert()
        .success();
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

/// What someone with write access to the data directory can do: rewrite row `seq`'s detail,
/// recompute every hash after it and the head, so that the chain and the head agree again.
fn rewrite_log_and_head(home: &Path, seq: u64) {
    let rows = ward_store::Store::open(home)
        .unwrap()
        .audit_list(ward_store::AuditQuery::default())
        .unwrap();
    let db = rusqlite::Connection::open(home.join("store.db")).unwrap();
    db.execute_batch("DROP TRIGGER IF EXISTS audit_no_update;")
        .unwrap();
    let mut prev = String::new();
    let mut last = (0, String::new());
    for mut row in rows {
        if row.seq < seq {
            prev = row.hash.clone();
            continue;
        }
        if row.seq == seq {
            row.detail = json!({ "reason": "nothing happened here" });
        } else {
            row.prev_hash = prev.clone();
        }
        row.hash = ward_store::audit_row_hash(&row);
        db.execute(
            "UPDATE audit SET detail = ?1, prev_hash = ?2, hash = ?3 WHERE seq = ?4",
            rusqlite::params![
                row.detail.to_string(),
                row.prev_hash,
                row.hash,
                row.seq as i64
            ],
        )
        .unwrap();
        prev = row.hash.clone();
        last = (row.seq, row.hash);
    }
    std::fs::write(home.join("audit.head"), format!("{} {}\n", last.0, last.1)).unwrap();
}

#[test]
fn rewriting_the_log_and_its_head_together_is_caught_by_an_older_checkpoint() {
    let h = home();
    let file = h.path.parent().unwrap().join("checkpoint.json");
    let c = checkpoint(&h.path, &file);
    assert!(c["size"].as_u64().unwrap() >= 5, "{c}");
    ward(&h.path)
        .args(["audit", "verify", "--checkpoint"])
        .arg(&file)
        .assert()
        .success();
    rewrite_log_and_head(&h.path, 2);
    // The chain and the head agree again: on its own, the log looks intact.
    ward(&h.path).args(["audit", "verify"]).assert().success();
    // The checkpoint kept elsewhere catches it.
    let out = ward(&h.path)
        .args(["audit", "verify", "--json", "--checkpoint"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "checkpoint-mismatch", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rewritten"),
        "{v}"
    );
}

#[test]
fn a_mutated_or_foreign_checkpoint_is_refused() {
    let h = home();
    let file = h.path.parent().unwrap().join("checkpoint.json");
    let c = checkpoint(&h.path, &file);
    let refused = |c: &Value, key: Option<&Path>| {
        let bad = h.path.parent().unwrap().join("bad.json");
        std::fs::write(&bad, c.to_string()).unwrap();
        let mut cmd = ward(&h.path);
        cmd.args(["audit", "verify", "--checkpoint"]).arg(&bad);
        if let Some(k) = key {
            cmd.arg("--key").arg(k);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{c}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    for (field, value) in [
        ("size", json!(c["size"].as_u64().unwrap() - 1)),
        ("time", json!("2000-01-01T00:00:00Z")),
        ("root", json!(hex_flip(c["root"].as_str().unwrap()))),
        (
            "signature",
            json!(hex_flip(c["signature"].as_str().unwrap())),
        ),
    ] {
        let mut m = c.clone();
        m[field] = value;
        let err = refused(&m, None);
        assert!(err.contains("signature does not verify"), "{field}: {err}");
    }
    // Signed by this host's key, checked against another: refused.
    let other = h.path.parent().unwrap().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let key = ward_signing::SecretKey::generate().unwrap();
    let other_pub = other.join("other.pub");
    std::fs::write(&other_pub, key.public_key().to_openssh()).unwrap();
    let err = refused(&c, Some(&other_pub));
    assert!(err.contains("signature does not verify"), "{err}");
    // Not a checkpoint at all: a usage error naming the file.
    std::fs::write(&file, "{\"log\": 1}").unwrap();
    let out = ward(&h.path)
        .args(["audit", "verify", "--checkpoint"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a ward checkpoint"));
}

fn hex_flip(h: &str) -> String {
    let mut b = hex::decode(h).unwrap();
    b[0] ^= 1;
    hex::encode(b)
}

#[test]
fn proofs_verify_against_checkpoints_and_mutated_proofs_do_not() {
    let h = home();
    let dir = h.path.parent().unwrap().to_owned();
    let (old_file, new_file, proof_file) = (
        dir.join("old.json"),
        dir.join("new.json"),
        dir.join("proof.json"),
    );
    let old = checkpoint(&h.path, &old_file);
    ward(&h.path).args(["enable", NAME]).assert().success();
    ward(&h.path)
        .args(["run", NAME, "greet", "name=d"])
        .assert()
        .success();
    let new = checkpoint(&h.path, &new_file);
    let size = new["size"].as_u64().unwrap().to_string();
    let verify = |proof: &Value, older: Option<&Path>| {
        std::fs::write(&proof_file, proof.to_string()).unwrap();
        let mut cmd = ward(&h.path);
        cmd.args(["audit", "verify-proof", "--proof"])
            .arg(&proof_file)
            .arg("--checkpoint")
            .arg(&new_file);
        if let Some(o) = older {
            cmd.arg("--older").arg(o);
        }
        cmd.output().unwrap().status.code()
    };
    // Inclusion of every row in the newer checkpoint.
    for seq in 1..=new["size"].as_u64().unwrap() {
        let p = ward_json(
            &h.path,
            &["audit", "prove", &seq.to_string(), "--to", &size],
        );
        assert_eq!(verify(&p, None), Some(0), "{p}");
    }
    let p = ward_json(&h.path, &["audit", "prove", "2", "--to", &size]);
    let mut m = p.clone();
    m["row_hash"] = json!(hex_flip(p["row_hash"].as_str().unwrap()));
    assert_eq!(verify(&m, None), Some(1), "another row's hash");
    let mut m = p.clone();
    m["seq"] = json!(3);
    assert_eq!(verify(&m, None), Some(1), "another position");
    let mut m = p.clone();
    m["path"][0] = json!(hex_flip(p["path"][0].as_str().unwrap()));
    assert_eq!(verify(&m, None), Some(1), "a flipped path node");
    let mut m = p.clone();
    m["size"] = json!(old["size"]);
    assert_eq!(verify(&m, None), Some(1), "a proof for another size");
    // Consistency from the older checkpoint to the newer one.
    let from = old["size"].as_u64().unwrap().to_string();
    let c = ward_json(&h.path, &["audit", "prove", "--from", &from, "--to", &size]);
    assert_eq!(c["from_root"], old["root"]);
    assert_eq!(verify(&c, Some(&old_file)), Some(0), "{c}");
    let mut m = c.clone();
    m["path"][0] = json!(hex_flip(c["path"][0].as_str().unwrap()));
    assert_eq!(verify(&m, None), Some(1), "a flipped consistency node");
    let mut m = c.clone();
    m["from_root"] = json!(hex_flip(c["from_root"].as_str().unwrap()));
    assert_eq!(verify(&m, None), Some(1), "another first root");
    // A proof that does not start at the older checkpoint's root is refused with --older.
    let fewer = (old["size"].as_u64().unwrap() - 1).to_string();
    let c2 = ward_json(
        &h.path,
        &["audit", "prove", "--from", &fewer, "--to", &size],
    );
    assert_eq!(verify(&c2, None), Some(0));
    assert_eq!(verify(&c2, Some(&old_file)), Some(1));
    // Out of range: a usage error.
    let out = ward(&h.path)
        .args(["audit", "prove", "999"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

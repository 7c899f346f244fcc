//! The `ward-sign` binary: exit codes, stdout/stderr, key handling, in a temporary directory.

use std::path::Path;

use assert_cmd::Command;

use crate::*;

pub(crate) fn ward_sign(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("ward-sign").unwrap();
    c.current_dir(dir)
        .env_remove("WARD_SIGNING_KEY")
        .env_remove("CI")
        .env("NO_COLOR", "1");
    c
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn cli_keygen_sign_verify_with_passphrase_from_env() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.wasm"), plain()).unwrap();
    let out = ward_sign(dir.path())
        .args([
            "keygen",
            "--out",
            "pub1",
            "--passphrase-env",
            "PW",
            "--json",
        ])
        .env("PW", "correct horse")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let info: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(info["encrypted"], true);
    let key_text = std::fs::read_to_string(dir.path().join("pub1.key")).unwrap();
    assert!(key_text.starts_with("-----BEGIN WARD SECRET KEY-----"));

    let out = ward_sign(dir.path())
        .args([
            "sign",
            "--key",
            "pub1.key",
            "--passphrase-env",
            "PW",
            "in.wasm",
            "-o",
            "out.wasm",
        ])
        .env("PW", "correct horse")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("signed by"));

    let out = ward_sign(dir.path())
        .args(["verify", "--key", "pub1.pub", "out.wasm", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["verified"], true);
    assert_eq!(report["signatures"][0]["key_id"], info["key_id"]);
    assert_eq!(report["signatures"][0]["status"], "counted");

    // wrong passphrase: refused, and the passphrase never shows up
    let out = ward_sign(dir.path())
        .args([
            "sign",
            "--key",
            "pub1.key",
            "--passphrase-env",
            "PW",
            "in.wasm",
            "-o",
            "x.wasm",
        ])
        .env("PW", "wrong horse")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("wrong passphrase"));
    assert!(!stderr(&out).contains("horse"));
}

#[test]
fn cli_signs_with_key_from_ward_signing_key_env() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.wasm"), plain()).unwrap();
    let k = key();
    let contents = k.to_file_contents(None).unwrap();
    std::fs::write(dir.path().join("k.pub"), k.public_key().to_openssh()).unwrap();
    let out = ward_sign(dir.path())
        .args(["sign", "in.wasm", "-o", "out.wasm", "--json"])
        .env("WARD_SIGNING_KEY", contents.as_str())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let info: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(info["key_id"], k.public_key().key_id().to_string());
    let out = ward_sign(dir.path())
        .args(["verify", "--key", "k.pub", "out.wasm"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[cfg(unix)]
#[test]
fn cli_secret_key_file_with_mode_0644_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.wasm"), plain()).unwrap();
    let out = ward_sign(dir.path())
        .args(["keygen", "--out", "t", "--unencrypted"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("WITHOUT a passphrase"));
    let key = dir.path().join("t.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = ward_sign(dir.path())
        .args(["sign", "--key", "t.key", "in.wasm", "-o", "out.wasm"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("mode 0644"), "{}", stderr(&out));
    assert!(!dir.path().join("out.wasm").exists());
}

#[test]
fn cli_non_interactive_without_passphrase_fails_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = ward_sign(dir.path())
        .args(["--non-interactive", "keygen", "--out", "k"])
        .timeout(std::time::Duration::from_secs(20))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--passphrase-env"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("k.key").exists());
}

#[test]
fn cli_verify_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let k = key();
    let signed = ward_signing::sign(&plain(), &k).unwrap();
    std::fs::write(dir.path().join("k.pub"), k.public_key().to_openssh()).unwrap();
    std::fs::write(dir.path().join("signed.wasm"), &signed).unwrap();
    let at = find(&signed, b"api.acme.test");
    std::fs::write(dir.path().join("tampered.wasm"), flip(&signed, at)).unwrap();
    std::fs::write(dir.path().join("unsigned.wasm"), plain()).unwrap();

    let code = |args: &[&str]| {
        let out = ward_sign(dir.path()).args(args).output().unwrap();
        (out.status.code(), stdout(&out), stderr(&out))
    };
    assert_eq!(
        code(&["verify", "--key", "k.pub", "signed.wasm"]).0,
        Some(0)
    );
    let (c, out, err) = code(&["verify", "--key", "k.pub", "tampered.wasm", "--json"]);
    assert_eq!(c, Some(1));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["verified"], false);
    assert_eq!(report["signatures"][0]["status"], "does-not-cover-content");
    assert!(err.contains("verification failed"), "{err}");
    assert_eq!(
        code(&["verify", "--key", "k.pub", "unsigned.wasm"]).0,
        Some(1)
    );
    assert_eq!(
        code(&["verify", "--key", "k.pub", "missing.wasm"]).0,
        Some(2)
    );
    assert_eq!(code(&["verify", "signed.wasm"]).0, Some(2));
    let (c, _, err) = code(&["verify", "--trust", "t.toml", "signed.wasm"]);
    assert_eq!(c, Some(2));
    assert!(err.contains("--plugin"), "{err}");

    std::fs::write(
        dir.path().join("t.toml"),
        format!(
            "{}[[rule]]\nnamespace = \"acme:*\"\nthreshold = 2\n",
            trust_one(&k, "publisher", "acme:*")
        ),
    )
    .unwrap();
    let (c, _, err) = code(&[
        "verify",
        "--trust",
        "t.toml",
        "--plugin",
        "acme:hello",
        "signed.wasm",
    ]);
    assert_eq!(c, Some(1));
    assert!(
        err.contains("needs 2 distinct trusted keys, 1 counted"),
        "{err}"
    );
}

#[test]
fn cli_inspect_and_strip() {
    let dir = tempfile::tempdir().unwrap();
    let k = key();
    let signed = ward_signing::sign(&plain(), &k).unwrap();
    std::fs::write(dir.path().join("signed.wasm"), &signed).unwrap();
    let out = ward_sign(dir.path())
        .args(["inspect", "signed.wasm", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let info: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let digest = ward_signing::digest(&plain()).unwrap();
    assert_eq!(info["digest"], digest.to_string());
    assert_eq!(info["has_manifest"], true);
    assert_eq!(
        info["hash_sets"][0]["claimed_key_ids"][0],
        k.public_key().key_id().to_string()
    );
    let out = ward_sign(dir.path())
        .args(["inspect", "signed.wasm"])
        .output()
        .unwrap();
    assert!(stdout(&out).contains(&digest.to_string()));

    let out = ward_sign(dir.path())
        .args(["strip", "signed.wasm", "-o", "plain.wasm"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        std::fs::read(dir.path().join("plain.wasm")).unwrap(),
        plain()
    );
}

//! The install lifecycle end to end: real signed plugins, a temporary WARD_HOME, the real
//! `ward` binary. Each attack is its own test, named after it.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use ward_signing::SecretKey;

struct Env {
    _dir: tempfile::TempDir,
    root: PathBuf,
    key: SecretKey,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        let key = SecretKey::generate().unwrap();
        let env = Env {
            _dir: dir,
            root,
            key,
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
                "--label",
                "publisher",
            ])
            .assert()
            .success();
        env
    }

    fn home(&self) -> PathBuf {
        self.root.join("home")
    }

    fn ward(&self) -> Command {
        let mut cmd = Command::cargo_bin("ward").unwrap();
        cmd.env("WARD_HOME", self.home())
            .env_remove("RUST_LOG")
            .env_remove("WARD_STORE_FAILPOINT")
            .env("NO_COLOR", "1");
        cmd
    }

    /// Packs `component` with `manifest` and signs it with `key`; returns the file.
    fn signed_with(&self, key: &SecretKey, component: &str, manifest: &str, file: &str) -> PathBuf {
        let bytes = std::fs::read(component).unwrap();
        let packed = ward_manifest::embed(&bytes, manifest.as_bytes()).unwrap();
        let signed = ward_signing::sign(&packed, key).unwrap();
        let path = self.root.join(file);
        std::fs::write(&path, signed).unwrap();
        path
    }

    fn signed(&self, component: &str, manifest: &str, file: &str) -> PathBuf {
        self.signed_with(&self.key, component, manifest, file)
    }

    fn install(&self, path: &Path) -> assert_cmd::assert::Assert {
        self.ward()
            .args(["install", path.to_str().unwrap(), "--yes"])
            .assert()
    }

    fn list(&self) -> Vec<Value> {
        let out = self.ward().args(["list", "--json"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    fn version_of(&self, name: &str) -> Option<String> {
        self.list()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["version"].as_str().unwrap().to_owned())
    }

    fn audit_verifies(&self) {
        self.ward().args(["audit", "verify"]).assert().success();
    }

    fn audit_actions(&self) -> Vec<String> {
        let out = self.ward().args(["audit", "--json"]).output().unwrap();
        ward_testkit::install::json_lines(&out.stdout)
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{}:{}",
                    r["action"].as_str().unwrap(),
                    r["outcome"].as_str().unwrap()
                )
            })
            .collect()
    }
}

fn hello_manifest(version: &str, extra: &str) -> String {
    format!("name = \"example:hello\"\nversion = \"{version}\"\ndescription = \"hello\"\n{extra}")
}

#[test]
fn install_run_upgrade_with_diff_rollback_uninstall_purge() {
    let env = Env::new();
    let v1 = env.signed(
        ward_fixtures::HELLO,
        &hello_manifest("1.0.0", ""),
        "v1.wasm",
    );
    env.install(&v1)
        .success()
        .stderr(predicate::str::contains("install example:hello 1.0.0"));
    env.ward()
        .args(["run", "example:hello", "greet", "name=Ada"])
        .assert()
        .success()
        .stdout("Hello, Ada!\n");

    // The upgrade asks for environment variables: the consent screen shows the diff, and --yes
    // accepts it only because the operator's policy pre-approves `env` for example:* and the
    // operator typed the phrase ahead.
    std::fs::write(
        env.home().join("policy.toml"),
        "[[preapprove]]\nplugin = \"example:*\"\ncapabilities = [\"env\"]\n",
    )
    .unwrap();
    let v2 = env.signed(
        ward_fixtures::HELLO,
        &hello_manifest("1.1.0", "[capabilities]\nenv = [\"LANG\"]\n"),
        "v2.wasm",
    );
    env.ward()
        .args([
            "install",
            v2.to_str().unwrap(),
            "--yes",
            "--env",
            "LANG=C",
            "--confirm",
            "grant example:hello 1.1.0",
        ])
        .assert()
        .success()
        .stderr(
            predicate::str::contains("changes since 1.0.0").and(predicate::str::contains("LANG")),
        );
    assert_eq!(env.version_of("example:hello").as_deref(), Some("1.1.0"));

    env.ward()
        .args(["rollback", "example:hello"])
        .assert()
        .success();
    assert_eq!(env.version_of("example:hello").as_deref(), Some("1.0.0"));
    env.ward()
        .args(["run", "example:hello", "greet", "name=Back"])
        .assert()
        .success()
        .stdout("Hello, Back!\n");

    env.ward()
        .args(["uninstall", "example:hello", "--purge"])
        .assert()
        .success();
    assert!(env.list().is_empty());
    env.ward()
        .args(["run", "example:hello", "greet", "name=x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not installed"));
    env.audit_verifies();
    let actions = env.audit_actions();
    for needed in [
        "install:ok",
        "upgrade:ok",
        "rollback:ok",
        "uninstall:ok",
        "run:ok",
    ] {
        assert!(
            actions.iter().any(|a| a == needed),
            "{needed} missing from {actions:?}"
        );
    }
}

#[test]
fn unsigned_plugin_is_refused() {
    let env = Env::new();
    let packed = env.root.join("packed.wasm");
    std::fs::write(
        &packed,
        ward_manifest::embed(
            &std::fs::read(ward_fixtures::HELLO).unwrap(),
            hello_manifest("1.0.0", "").as_bytes(),
        )
        .unwrap(),
    )
    .unwrap();
    env.install(&packed)
        .code(1)
        .stderr(predicate::str::contains("not signed"));
    assert!(env.list().is_empty());
    assert!(env.audit_actions().contains(&"deny:denied".to_owned()));
    env.audit_verifies();
}

#[test]
fn tampered_plugin_is_refused() {
    let env = Env::new();
    let signed = env.signed(
        ward_fixtures::HELLO,
        &hello_manifest("1.0.0", ""),
        "signed.wasm",
    );
    let mut bytes = std::fs::read(&signed).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&signed, bytes).unwrap();
    env.install(&signed)
        .code(1)
        .stderr(predicate::str::contains("signature check failed"));
    assert!(env.list().is_empty());
}

#[test]
fn plugin_signed_by_an_untrusted_key_is_refused() {
    let env = Env::new();
    let stranger = SecretKey::generate().unwrap();
    let signed = env.signed_with(
        &stranger,
        ward_fixtures::HELLO,
        &hello_manifest("1.0.0", ""),
        "s.wasm",
    );
    env.install(&signed).code(1);
    assert!(env.list().is_empty());
}

#[test]
fn plugin_outside_the_key_scope_is_refused() {
    let env = Env::new();
    let manifest = "name = \"other:hello\"\nversion = \"1.0.0\"\ndescription = \"x\"\n";
    let signed = env.signed(ward_fixtures::HELLO, manifest, "s.wasm");
    env.install(&signed)
        .code(1)
        .stderr(predicate::str::contains("trust policy is not met"));
}

#[test]
fn downgrade_is_refused_without_typed_confirmation() {
    let env = Env::new();
    let v2 = env.signed(
        ward_fixtures::HELLO,
        &hello_manifest("2.0.0", ""),
        "v2.wasm",
    );
    let v1 = env.signed(
        ward_fixtures::HELLO,
        &hello_manifest("1.0.0", ""),
        "v1.wasm",
    );
    env.install(&v2).success();
    env.install(&v1).code(1).stderr(predicate::str::contains(
        "a downgrade needs --allow-downgrade",
    ));
    env.ward()
        .args([
            "install",
            v1.to_str().unwrap(),
            "--yes",
            "--allow-downgrade",
            "--confirm",
            "yes",
        ])
        .assert()
        .code(1);
    assert_eq!(env.version_of("example:hello").as_deref(), Some("2.0.0"));
    env.ward()
        .args([
            "install",
            v1.to_str().unwrap(),
            "--yes",
            "--allow-downgrade",
            "--confirm",
            "downgrade example:hello to 1.0.0",
        ])
        .assert()
        .success();
    assert_eq!(env.version_of("example:hello").as_deref(), Some("1.0.0"));
    env.audit_verifies();
}

#[test]
fn grants_are_not_inherited_by_a_new_digest() {
    let env = Env::new();
    let v1 = env.signed(
        ward_fixtures::HELLO,
        &hello_manifest("1.0.0", ""),
        "v1.wasm",
    );
    env.install(&v1).success();
    // A new digest asking for more: not pre-approved, so --yes refuses it, and the installed
    // version keeps running with its own grants.
    let v2 = env.signed(
        ward_fixtures::HELLO,
        &hello_manifest("1.1.0", "[capabilities]\nenv = [\"HOME\"]\n"),
        "v2.wasm",
    );
    env.ward()
        .args([
            "install",
            v2.to_str().unwrap(),
            "--yes",
            "--env",
            "HOME=/root",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("these are not: env"));
    assert_eq!(env.version_of("example:hello").as_deref(), Some("1.0.0"));
    env.ward()
        .args(["run", "example:hello", "greet", "name=still"])
        .assert()
        .success();
}

#[test]
fn undeclared_capability_import_is_refused() {
    let env = Env::new();
    // hostile imports wasi:http/outgoing-handler; its manifest declares no network.
    let manifest = "name = \"example:hostile\"\nversion = \"1.0.0\"\ndescription = \"x\"\n";
    let signed = env.signed(ward_fixtures::HOSTILE, manifest, "h.wasm");
    env.install(&signed)
        .code(1)
        .stderr(predicate::str::contains("wasi:http/outgoing-handler"));
    assert!(env.list().is_empty());
}

#[test]
fn hostile_names_are_refused_at_pack() {
    let env = Env::new();
    let long = "a".repeat(10_000);
    let names = [
        "../x",
        "ex\u{0}ample:x",
        &format!("example:{long}"),
        "ex\u{0430}mple:hello",
        "Example:Hello",
        ":x",
    ];
    for name in names {
        let manifest_path = env.root.join("ward.toml");
        let text = format!(
            "name = \"{}\"\nversion = \"1.0.0\"\ndescription = \"x\"\n",
            name.replace('\u{0}', "\\u0000")
        );
        std::fs::write(&manifest_path, text).unwrap();
        env.ward()
            .args([
                "pack",
                ward_fixtures::HELLO,
                "--manifest",
                manifest_path.to_str().unwrap(),
                "-o",
                env.root.join("out.wasm").to_str().unwrap(),
            ])
            .assert()
            .code(2);
        assert!(
            !env.root.join("out.wasm").exists(),
            "{name:?} produced output"
        );
    }
}

#[test]
fn revoking_the_only_signing_key_disables_the_plugin() {
    let env = Env::new();
    let v1 = env.signed(
        ward_fixtures::HELLO,
        &hello_manifest("1.0.0", ""),
        "v1.wasm",
    );
    env.install(&v1).success();
    let key_id = env.key.public_key().key_id().to_string();
    env.ward()
        .args(["trust", "revoke", &key_id])
        .assert()
        .success()
        .stderr(predicate::str::contains("disabled example:hello"));
    env.ward()
        .args(["run", "example:hello", "greet", "name=x"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("disabled"));
    env.audit_verifies();
}

#[test]
fn audit_truncation_is_detected() {
    let env = Env::new();
    let v1 = env.signed(
        ward_fixtures::HELLO,
        &hello_manifest("1.0.0", ""),
        "v1.wasm",
    );
    env.install(&v1).success();
    env.audit_verifies();
    // Claim the log had more rows than it has: the head outside the table no longer matches.
    let head = env.home().join("audit.head");
    let text = std::fs::read_to_string(&head).unwrap();
    let (seq, hash) = text.trim().split_once(' ').unwrap();
    let seq: u64 = seq.parse().unwrap();
    std::fs::write(&head, format!("{} {hash}\n", seq + 5)).unwrap();
    env.ward().args(["audit", "verify"]).assert().code(1);
}

/// Kills `ward install`/`rollback` at each store step and checks old-or-new afterwards.
#[test]
fn crash_at_each_step_leaves_old_or_new_state() {
    let points = ["after-blob", "before-commit", "after-commit", "after-head"];
    for point in points {
        let env = Env::new();
        let v1 = env.signed(
            ward_fixtures::HELLO,
            &hello_manifest("1.0.0", ""),
            "v1.wasm",
        );
        let v2 = env.signed(
            ward_fixtures::HELLO,
            &hello_manifest("2.0.0", ""),
            "v2.wasm",
        );

        // Install.
        let out = env
            .ward()
            .args(["install", v1.to_str().unwrap(), "--yes"])
            .env("WARD_STORE_FAILPOINT", format!("{point}:abort"))
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "{point}: install should have been killed"
        );
        let after = env.version_of("example:hello");
        assert!(
            after.is_none() || after.as_deref() == Some("1.0.0"),
            "{point}: {after:?}"
        );
        env.audit_verifies();
        if after.is_none() {
            env.install(&v1).success();
        }

        // Upgrade.
        let out = env
            .ward()
            .args(["install", v2.to_str().unwrap(), "--yes"])
            .env("WARD_STORE_FAILPOINT", format!("{point}:abort"))
            .output()
            .unwrap();
        assert!(!out.status.success());
        let after = env.version_of("example:hello").unwrap();
        assert!(after == "1.0.0" || after == "2.0.0", "{point}: {after}");
        env.audit_verifies();
        if after == "1.0.0" {
            env.install(&v2).success();
        }

        // Rollback.
        let out = env
            .ward()
            .args(["rollback", "example:hello"])
            .env("WARD_STORE_FAILPOINT", format!("{point}:abort"))
            .output()
            .unwrap();
        // A rollback writes no blob, so the blob fail point never fires for it.
        assert_eq!(out.status.success(), point == "after-blob", "{point}");
        let after = env.version_of("example:hello").unwrap();
        assert!(after == "1.0.0" || after == "2.0.0", "{point}: {after}");
        env.audit_verifies();
        env.ward()
            .args(["run", "example:hello", "greet", "name=ok"])
            .assert()
            .success();
        let leftovers: Vec<_> = walk(&env.home())
            .into_iter()
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                name.starts_with(".tmp") || name.ends_with("-journal")
            })
            .collect();
        assert!(leftovers.is_empty(), "{point}: {leftovers:?}");
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// A one-shot HTTP server on loopback that answers each connection with `respond`.
fn serve(respond: impl Fn(&mut std::net::TcpStream) + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut stream) = stream else { return };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            respond(&mut stream);
        }
    });
    format!("http://{addr}")
}

#[test]
fn install_from_a_loopback_url() {
    let env = Env::new();
    let signed =
        std::fs::read(env.signed(ward_fixtures::HELLO, &hello_manifest("1.0.0", ""), "s.wasm"))
            .unwrap();
    let url = serve(move |s| {
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            signed.len()
        );
        let _ = s.write_all(&signed);
    });
    env.ward()
        .args(["install", &format!("{url}/hello.wasm"), "--yes"])
        .assert()
        .success();
    assert_eq!(env.version_of("example:hello").as_deref(), Some("1.0.0"));
}

#[test]
fn oversized_download_is_refused() {
    let env = Env::new();
    let url = serve(|s| {
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            200u64 * 1024 * 1024
        );
        let _ = s.write_all(&[0u8; 65536]);
    });
    env.ward()
        .args(["install", &format!("{url}/big.wasm"), "--yes"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("limit for components"));
    // Without a Content-Length, the cap is enforced while streaming.
    let url = serve(|s| {
        let _ = write!(s, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..80 {
            if s.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    env.ward()
        .args(["install", &format!("{url}/big.wasm"), "--yes"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("larger than"));
    assert!(env.list().is_empty());
}

#[test]
fn redirect_to_another_host_is_refused() {
    let env = Env::new();
    let other = serve(|s| {
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    });
    // Same machine, other host name: localhost instead of 127.0.0.1.
    let target = other.replace("127.0.0.1", "localhost");
    let url = serve(move |s| {
        let _ = write!(
            s,
            "HTTP/1.1 302 Found\r\nLocation: {target}/evil.wasm\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    });
    env.ward()
        .args(["install", &format!("{url}/hello.wasm"), "--yes"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("redirect to another host"));
}

#[test]
fn slow_drip_download_is_cut_off() {
    let env = Env::new();
    let url = serve(|s| {
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n"
        );
        // One byte, then silence longer than the read timeout.
        let _ = s.write_all(b"\0");
        std::thread::sleep(std::time::Duration::from_secs(30));
    });
    env.ward()
        .args(["install", &format!("{url}/slow.wasm"), "--yes"])
        .env("WARD_FETCH_READ_TIMEOUT_MS", "500")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("timed out"));
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let env = Env::new();
    env.ward()
        .args(["install", "http://example.com/hello.wasm", "--yes"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("refusing plain http"));
}

#[test]
fn installed_plugin_gets_exactly_its_directory_and_environment() {
    let env = Env::new();
    std::fs::write(
        env.home().join("policy.toml"),
        "[[preapprove]]\nplugin = \"example:*\"\ncapabilities = [\"http\", \"read-paths\", \"env\"]\n",
    )
    .unwrap();
    let data = env.root.join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("note.txt"), "granted").unwrap();
    let manifest = "name = \"example:hostile\"\nversion = \"1.0.0\"\ndescription = \"x\"\n\
        [capabilities]\nnetwork = [{ url = \"https://example.com\" }]\n\
        files = [{ host = \"$OPERATOR\", guest = \"/data\", mode = \"ro\" }]\nenv = [\"LANG\"]\n";
    let signed = env.signed(ward_fixtures::HOSTILE, manifest, "h.wasm");
    // Without the operator's values the install is refused, naming what is missing.
    env.install(&signed)
        .code(2)
        .stderr(predicate::str::contains("--env LANG=VALUE"));
    env.ward()
        .args([
            "install",
            signed.to_str().unwrap(),
            "--yes",
            "--env",
            "LANG=C.UTF-8",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--dir /data="));
    env.ward()
        .args([
            "install",
            signed.to_str().unwrap(),
            "--yes",
            "--env",
            "LANG=C.UTF-8",
            "--dir",
            &format!("/data={}", data.display()),
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains("as /data (read-only)"));
    env.ward()
        .args(["run", "example:hostile", "read-file", "path=/data/note.txt"])
        .assert()
        .success()
        .stdout(predicate::str::contains("granted"));
    env.ward()
        .args([
            "run",
            "example:hostile",
            "write-file",
            "path=/data/x",
            "contents=y",
        ])
        .assert()
        .code(1);
    assert!(!data.join("x").exists());
    let out = env
        .ward()
        .args(["run", "example:hostile", "read-env", "--json"])
        .output()
        .unwrap();
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["result"], serde_json::json!([["LANG", "C.UTF-8"]]));
    env.ward()
        .args(["run", "example:hostile", "read-passwd"])
        .assert()
        .code(1);
}

fn notes_manifest(name: &str, quota: &str) -> String {
    format!(
        "name = \"{name}\"\nversion = \"1.0.0\"\ndescription = \"notes\"\n[capabilities]\n\
         files = [{{ host = \"$OPERATOR\", guest = \"/notes\", mode = \"rw\" }}]\n\
         keyvalue = {{ quota = \"{quota}\" }}\n"
    )
}

fn install_notes(env: &Env, name: &str, quota: &str, dir: &Path) {
    std::fs::write(
        env.home().join("policy.toml"),
        "[[preapprove]]\nplugin = \"example:*\"\ncapabilities = [\"kv\", \"writable-paths\"]\n",
    )
    .unwrap();
    let file = format!("{}.wasm", name.replace(':', "-"));
    let signed = env.signed(ward_fixtures::NOTES, &notes_manifest(name, quota), &file);
    env.ward()
        .args([
            "install",
            signed.to_str().unwrap(),
            "--yes",
            "--dir",
            &format!("/notes={}", dir.display()),
        ])
        .assert()
        .success();
}

fn run_json(env: &Env, args: &[&str]) -> Value {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = env.ward().args(&all).output().unwrap();
    serde_json::from_slice::<Value>(&out.stdout).unwrap()["result"].clone()
}

#[test]
fn notes_use_key_value_and_the_granted_directory() {
    let env = Env::new();
    let dir = env.root.join("notes-out");
    std::fs::create_dir(&dir).unwrap();
    install_notes(&env, "example:notes", "64KiB", &dir);
    assert_eq!(
        run_json(
            &env,
            &["example:notes", "add-note", "title=todo", "body=buy milk"]
        ),
        serde_json::json!({"ok": null})
    );
    assert_eq!(
        run_json(&env, &["example:notes", "get-note", "title=todo"]),
        serde_json::json!({"ok": "buy milk"})
    );
    assert_eq!(
        run_json(&env, &["example:notes", "export-note", "title=todo"]),
        serde_json::json!({"ok": "/notes/todo.txt"})
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("todo.txt")).unwrap(),
        "buy milk"
    );
}

#[test]
fn another_plugins_key_value_namespace_is_invisible() {
    let env = Env::new();
    let dir = env.root.join("out");
    std::fs::create_dir(&dir).unwrap();
    install_notes(&env, "example:notes", "64KiB", &dir);
    install_notes(&env, "example:other-notes", "64KiB", &dir);
    run_json(
        &env,
        &["example:notes", "add-note", "title=secret", "body=mine"],
    );
    // The same code under another name gets another namespace: it cannot read the note.
    assert_eq!(
        run_json(&env, &["example:other-notes", "get-note", "title=secret"]),
        serde_json::json!({"ok": null})
    );
    assert_eq!(
        run_json(&env, &["example:notes", "get-note", "title=secret"]),
        serde_json::json!({"ok": "mine"})
    );
}

#[test]
fn key_value_quota_is_enforced() {
    let env = Env::new();
    let dir = env.root.join("out");
    std::fs::create_dir(&dir).unwrap();
    install_notes(&env, "example:notes", "1KiB", &dir);
    let big = "x".repeat(600);
    assert_eq!(
        run_json(
            &env,
            &[
                "example:notes",
                "add-note",
                "title=a",
                &format!("body={big}")
            ]
        ),
        serde_json::json!({"ok": null})
    );
    assert_eq!(
        run_json(
            &env,
            &[
                "example:notes",
                "add-note",
                "title=b",
                &format!("body={big}")
            ]
        ),
        serde_json::json!({"err": "the key-value quota is full"})
    );
    // Replacing a value counts its new size, not both.
    assert_eq!(
        run_json(
            &env,
            &[
                "example:notes",
                "add-note",
                "title=a",
                &format!("body={big}")
            ]
        ),
        serde_json::json!({"ok": null})
    );
}

#[test]
fn uninstall_purge_removes_key_value_data() {
    let env = Env::new();
    let dir = env.root.join("out");
    std::fs::create_dir(&dir).unwrap();
    install_notes(&env, "example:notes", "64KiB", &dir);
    run_json(
        &env,
        &["example:notes", "add-note", "title=t", "body=kept?"],
    );
    env.ward()
        .args(["uninstall", "example:notes", "--purge"])
        .assert()
        .success();
    install_notes(&env, "example:notes", "64KiB", &dir);
    assert_eq!(
        run_json(&env, &["example:notes", "get-note", "title=t"]),
        serde_json::json!({"ok": null})
    );
}

#[test]
fn key_value_without_a_grant_is_denied() {
    // The component imports ward:plugin/keyvalue; a manifest that does not declare it is
    // refused at install, so the import can never be used ungranted.
    let env = Env::new();
    let manifest = "name = \"example:notes\"\nversion = \"1.0.0\"\ndescription = \"x\"\n";
    let signed = env.signed(ward_fixtures::NOTES, manifest, "n.wasm");
    env.install(&signed)
        .code(1)
        .stderr(predicate::str::contains("ward:plugin/keyvalue"));
}

#[test]
fn installed_plugin_reaches_only_its_granted_host() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let env = Env::new();
    std::fs::write(
        env.home().join("policy.toml"),
        "[[preapprove]]\nplugin = \"example:*\"\ncapabilities = [\"http\"]\n",
    )
    .unwrap();
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let url = serve(move |s| {
        counter.fetch_add(1, Ordering::SeqCst);
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
        );
    });
    let authority = url.trim_start_matches("http://").to_owned();
    let manifest = format!(
        "name = \"example:hostile\"\nversion = \"1.0.0\"\ndescription = \"x\"\n\
         [capabilities]\nnetwork = [{{ url = \"{url}\", methods = [\"GET\"] }}]\n"
    );
    let signed = env.signed(ward_fixtures::HOSTILE, &manifest, "h.wasm");
    env.install(&signed).success();
    assert_eq!(
        run_json(
            &env,
            &[
                "example:hostile",
                "http-fetch",
                &format!("authority={authority}"),
                "path=/"
            ]
        ),
        serde_json::json!({"ok": "200 hi"})
    );
    let refused = run_json(&env, &["example:hostile", "http-get"]);
    assert!(refused.get("err").is_some(), "{refused}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

// Phrase-gated upgrades (issue 6, item 4): more authority than the installed version had is
// granted only by typing the exact phrase `grant NAME VERSION`, on a terminal or ahead with
// `--confirm`; pre-approval in policy.toml never lifts it on its own.

/// Every kind policy.toml can pre-approve: a refusal below is the phrase's alone.
const PREAPPROVE_ALL: &str = "[[preapprove]]\nplugin = \"example:*\"\ncapabilities = \
    [\"http\", \"read-paths\", \"writable-paths\", \"secrets\", \"env\", \"kv\", \"confirm\"]\n";

impl Env {
    fn preapprove_all(&self) {
        std::fs::write(self.home().join("policy.toml"), PREAPPROVE_ALL).unwrap();
    }

    /// `ward install PATH ARGS...`.
    fn install_with(&self, path: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
        let mut all = vec!["install", path.to_str().unwrap()];
        all.extend_from_slice(args);
        self.ward().args(&all).assert()
    }

    /// The reasons of the audit log's denials, oldest first.
    fn denials(&self) -> Vec<String> {
        let out = self.ward().args(["audit", "--json"]).output().unwrap();
        ward_testkit::install::json_lines(&out.stdout)
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["action"] == "deny")
            .map(|r| {
                r["detail"]["reason"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    }

    /// `ward inspect NAME --json`.
    fn inspect(&self, name: &str) -> Value {
        let out = self
            .ward()
            .args(["inspect", name, "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

/// Installs hello 1.0.0 with `v1` in its manifest, then hello 1.1.0 with `v2`, which asks for
/// more: with --yes alone it is refused (audited as `phrase-missing`, the refusal naming `line`,
/// the phrase and the flag; 1.0.0 still current and running, nothing new kept); with a wrong
/// phrase it is refused; with the exact phrase it is installed.
fn upgrade_needs_the_phrase(env: &Env, v1: &str, v2: &str, line: &str) {
    env.preapprove_all();
    let old = env.signed(
        ward_fixtures::HELLO,
        &hello_manifest("1.0.0", v1),
        "v1.wasm",
    );
    let new = env.signed(
        ward_fixtures::HELLO,
        &hello_manifest("1.1.0", v2),
        "v2.wasm",
    );
    env.install(&old).success();

    env.install(&new)
        .code(1)
        .stderr(predicate::str::contains(line))
        .stderr(predicate::str::contains(
            "type the exact phrase 'grant example:hello 1.1.0' on a terminal, or pass --confirm 'grant example:hello 1.1.0'",
        ));
    assert_eq!(env.denials(), ["phrase-missing"]);
    assert_eq!(env.version_of("example:hello").as_deref(), Some("1.0.0"));
    assert_eq!(
        env.inspect("example:hello")["versions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    env.ward()
        .args(["run", "example:hello", "greet", "name=v1"])
        .assert()
        .success()
        .stdout("Hello, v1!\n");

    for wrong in [
        "yes",
        "grant example:hello",
        "grant example:hello 1.0.0",
        "Grant example:hello 1.1.0",
        "grant example:hello 1.1.0 ",
        "downgrade example:hello to 1.1.0",
    ] {
        env.install_with(&new, &["--yes", "--confirm", wrong])
            .code(1)
            .stderr(predicate::str::contains(
                "--confirm 'grant example:hello 1.1.0'",
            ));
    }
    assert_eq!(env.version_of("example:hello").as_deref(), Some("1.0.0"));

    env.install_with(&new, &["--yes", "--confirm", "grant example:hello 1.1.0"])
        .success()
        .stderr(predicate::str::contains(format!("+ {line}")))
        .stderr(predicate::str::contains("upgrade example:hello 1.1.0"));
    assert_eq!(env.version_of("example:hello").as_deref(), Some("1.1.0"));
    assert_eq!(env.denials().len(), 7);
    env.audit_verifies();
}

#[test]
fn escalating_upgrade_with_yes_and_preapproval_alone_is_refused() {
    let env = Env::new();
    upgrade_needs_the_phrase(
        &env,
        "",
        "[capabilities]\nnetwork = [{ url = \"https://api.example.com\" }]\n",
        "send HTTPS requests to api.example.com",
    );
}

#[test]
fn upgrade_adding_a_secret_needs_the_phrase() {
    let env = Env::new();
    let network = "[capabilities]\nnetwork = [{ url = \"https://api.example.com\" }]\n";
    upgrade_needs_the_phrase(
        &env,
        network,
        &format!(
            "{network}secrets = [{{ name = \"API_TOKEN\", hosts = [\"https://api.example.com\"], header = \"Authorization\" }}]\n"
        ),
        "use secret API_TOKEN",
    );
}

#[test]
fn upgrade_making_a_path_writable_needs_the_phrase() {
    let env = Env::new();
    let data = env.root.join("data");
    std::fs::create_dir(&data).unwrap();
    let files = |mode: &str| {
        format!(
            "[capabilities]\nfiles = [{{ host = \"{}\", guest = \"/data\", mode = \"{mode}\" }}]\n",
            data.display()
        )
    };
    upgrade_needs_the_phrase(
        &env,
        &files("ro"),
        &files("rw"),
        &format!(
            "write files in {}, seen by the plugin as /data (was read-only)",
            data.display()
        ),
    );
}

#[test]
fn upgrade_raising_a_limit_needs_the_phrase() {
    let env = Env::new();
    upgrade_needs_the_phrase(
        &env,
        "[limits]\ntimeout = \"1s\"\n",
        "[limits]\ntimeout = \"10s\"\n",
        "timeout limit raised from 1s to 10s",
    );
}

#[test]
fn escalating_upgrade_with_the_exact_phrase_is_installed_without_yes() {
    // Off a terminal, the phrase typed ahead is the consent: no --yes needed.
    let env = Env::new();
    let v1 = env.signed(
        ward_fixtures::HELLO,
        &hello_manifest("1.0.0", ""),
        "v1.wasm",
    );
    let v2 = env.signed(
        ward_fixtures::HELLO,
        &hello_manifest("1.1.0", "[limits]\nmemory = \"128MiB\"\n"),
        "v2.wasm",
    );
    env.install(&v1).success();
    env.install_with(&v2, &[])
        .code(1)
        .stderr(predicate::str::contains(
            "--confirm 'grant example:hello 1.1.0'",
        ));
    env.install_with(&v2, &["--confirm", "grant example:hello 1.1.0"])
        .success()
        .stderr(predicate::str::contains(
            "+ memory limit raised from 64 MiB to 128 MiB",
        ));
    assert_eq!(env.version_of("example:hello").as_deref(), Some("1.1.0"));
    assert_eq!(env.denials(), ["phrase-missing"]);
}

#[test]
fn non_escalating_upgrade_with_yes_needs_no_phrase() {
    let env = Env::new();
    env.preapprove_all();
    let v1 = env.signed(
        ward_fixtures::HELLO,
        &hello_manifest(
            "1.0.0",
            "[capabilities]\nnetwork = [{ url = \"https://api.example.com\" }]\n[limits]\ntimeout = \"10s\"\n",
        ),
        "v1.wasm",
    );
    // Less authority: no host, a lower limit.
    let v2 = env.signed(
        ward_fixtures::HELLO,
        &hello_manifest("1.1.0", "[limits]\ntimeout = \"2s\"\n"),
        "v2.wasm",
    );
    // The same authority again.
    let v3 = env.signed(
        ward_fixtures::HELLO,
        &hello_manifest("1.2.0", "[limits]\ntimeout = \"2s\"\n"),
        "v3.wasm",
    );
    env.install(&v1).success();
    env.install(&v2)
        .success()
        .stderr(predicate::str::contains(
            "- send HTTPS requests to api.example.com",
        ))
        .stderr(predicate::str::contains("grant example:hello").not());
    env.install(&v3)
        .success()
        .stderr(predicate::str::contains("(none)"));
    assert_eq!(env.version_of("example:hello").as_deref(), Some("1.2.0"));
    assert!(env.denials().is_empty());
}

fn notes_manifest_v(version: &str) -> String {
    format!(
        "name = \"example:notes\"\nversion = \"{version}\"\ndescription = \"notes\"\n[capabilities]\n\
         files = [{{ host = \"$OPERATOR\", guest = \"/notes\", mode = \"rw\" }}]\n\
         keyvalue = {{ quota = \"64KiB\" }}\n"
    )
}

#[test]
fn upgrade_pointing_a_writable_dir_elsewhere_needs_the_phrase() {
    let env = Env::new();
    env.preapprove_all();
    let first = env.root.join("first");
    let elsewhere = env.root.join("elsewhere");
    std::fs::create_dir(&first).unwrap();
    std::fs::create_dir(&elsewhere).unwrap();
    let dir = |d: &Path| format!("/notes={}", d.display());
    let host = |env: &Env| {
        env.inspect("example:notes")["current"]["grants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["kind"] == "files")
            .unwrap()["host"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let v1 = env.signed(ward_fixtures::NOTES, &notes_manifest_v("1.0.0"), "n1.wasm");
    env.install_with(&v1, &["--yes", "--dir", &dir(&first)])
        .success();

    // An upgrade keeping the directory it had needs no phrase.
    let v2 = env.signed(ward_fixtures::NOTES, &notes_manifest_v("1.1.0"), "n2.wasm");
    env.install_with(&v2, &["--yes", "--dir", &dir(&first)])
        .success();
    assert_eq!(env.version_of("example:notes").as_deref(), Some("1.1.0"));

    // The same manifest again, so the signed diff has nothing to say; but the operator's new
    // writable host directory is more authority, and needs the phrase of that version.
    let v3 = env.signed(ward_fixtures::NOTES, &notes_manifest_v("1.2.0"), "n3.wasm");
    env.install_with(&v3, &["--yes", "--dir", &dir(&elsewhere)])
        .code(1)
        .stderr(predicate::str::contains(format!(
            "read and write files in {} (given with --dir), seen by the plugin as /notes",
            elsewhere.canonicalize().unwrap().display()
        )))
        .stderr(predicate::str::contains(
            "--confirm 'grant example:notes 1.2.0'",
        ));
    assert_eq!(env.denials(), ["phrase-missing"]);
    assert_eq!(env.version_of("example:notes").as_deref(), Some("1.1.0"));
    assert_eq!(host(&env), first.canonicalize().unwrap().to_str().unwrap());
    env.install_with(
        &v3,
        &[
            "--yes",
            "--dir",
            &dir(&elsewhere),
            "--confirm",
            "grant example:notes 1.2.0",
        ],
    )
    .success();
    assert_eq!(env.version_of("example:notes").as_deref(), Some("1.2.0"));
    assert_eq!(
        host(&env),
        elsewhere.canonicalize().unwrap().to_str().unwrap()
    );
    env.audit_verifies();
}

#[test]
fn upgrade_changing_an_env_value_needs_the_phrase_and_never_shows_the_value() {
    let env = Env::new();
    env.preapprove_all();
    let manifest = |v: &str| hello_manifest(v, "[capabilities]\nenv = [\"LANG\"]\n");
    let v1 = env.signed(ward_fixtures::HELLO, &manifest("1.0.0"), "v1.wasm");
    let v2 = env.signed(ward_fixtures::HELLO, &manifest("1.1.0"), "v2.wasm");
    let v3 = env.signed(ward_fixtures::HELLO, &manifest("1.2.0"), "v3.wasm");
    env.install_with(&v1, &["--yes", "--env", "LANG=C"])
        .success();
    // The same value: nothing new.
    env.install_with(&v2, &["--yes", "--env", "LANG=C"])
        .success();
    let value = "LANG=hunter2-operator-value";
    let refused = env
        .ward()
        .args(["install", v3.to_str().unwrap(), "--yes", "--env", value])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("read environment variable LANG with a new value (given with --env)"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert_eq!(env.version_of("example:hello").as_deref(), Some("1.1.0"));
    let audit = env.ward().args(["audit", "--json"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&audit.stdout).contains("hunter2"));
    assert_eq!(env.denials(), ["phrase-missing"]);
    env.install_with(
        &v3,
        &[
            "--yes",
            "--env",
            value,
            "--confirm",
            "grant example:hello 1.2.0",
        ],
    )
    .success();
    assert_eq!(env.version_of("example:hello").as_deref(), Some("1.2.0"));
}

#[test]
fn escalating_downgrade_needs_both_phrases() {
    let env = Env::new();
    env.preapprove_all();
    let v2 = env.signed(
        ward_fixtures::HELLO,
        &hello_manifest("2.0.0", ""),
        "v2.wasm",
    );
    let v1 = env.signed(
        ward_fixtures::HELLO,
        &hello_manifest(
            "1.0.0",
            "[capabilities]\nnetwork = [{ url = \"https://api.example.com\" }]\n",
        ),
        "v1.wasm",
    );
    env.install(&v2).success();
    // The downgrade's phrase alone does not grant the host.
    env.install_with(
        &v1,
        &[
            "--yes",
            "--allow-downgrade",
            "--confirm",
            "downgrade example:hello to 1.0.0",
        ],
    )
    .code(1)
    .stderr(predicate::str::contains(
        "--confirm 'grant example:hello 1.0.0'",
    ));
    // Nor the grant's phrase the downgrade.
    env.install_with(
        &v1,
        &[
            "--yes",
            "--allow-downgrade",
            "--confirm",
            "grant example:hello 1.0.0",
        ],
    )
    .code(1)
    .stderr(predicate::str::contains(
        "a downgrade needs --allow-downgrade",
    ));
    assert_eq!(env.version_of("example:hello").as_deref(), Some("2.0.0"));
    assert_eq!(env.denials(), ["phrase-missing", "downgrade"]);
    env.install_with(
        &v1,
        &[
            "--yes",
            "--allow-downgrade",
            "--confirm",
            "downgrade example:hello to 1.0.0",
            "--confirm",
            "grant example:hello 1.0.0",
        ],
    )
    .success();
    assert_eq!(env.version_of("example:hello").as_deref(), Some("1.0.0"));
}

#[test]
fn first_install_keeps_yes_with_preapproval() {
    // The phrase is for widening an existing grant: a first install asking for a host, a secret
    // and a writable directory is accepted by --yes when policy.toml pre-approves those kinds.
    let env = Env::new();
    env.preapprove_all();
    let data = env.root.join("data");
    std::fs::create_dir(&data).unwrap();
    let signed = env.signed(
        ward_fixtures::HELLO,
        &hello_manifest(
            "1.0.0",
            &format!(
                "[capabilities]\nnetwork = [{{ url = \"https://api.example.com\" }}]\n\
                 files = [{{ host = \"{}\", guest = \"/data\", mode = \"rw\" }}]\n\
                 secrets = [{{ name = \"API_TOKEN\", hosts = [\"https://api.example.com\"], header = \"Authorization\" }}]\n",
                data.display()
            ),
        ),
        "v1.wasm",
    );
    env.install(&signed)
        .success()
        .stderr(predicate::str::contains("grant example:hello").not());
}

// Security depth (issue 12): authority re-derived at every load, grants that never reach ward
// itself, inert output, truthful errors.

impl Env {
    /// Trusts `key` for `example:*` with `label` (and `--expires` when given).
    fn trust(&self, key: &SecretKey, label: &str, expires: Option<&str>) {
        let file = self.root.join(format!("{label}.pub"));
        std::fs::write(&file, key.public_key().to_openssh()).unwrap();
        let mut args = vec![
            "trust",
            "add",
            file.to_str().unwrap(),
            "--scope",
            "example:*",
            "--label",
            label,
        ];
        if let Some(e) = expires {
            args.extend(["--expires", e]);
        }
        self.ward().args(&args).assert().success();
    }

    fn revoke(&self, key: &SecretKey) -> assert_cmd::assert::Assert {
        self.ward()
            .args(["trust", "revoke", &key.public_key().key_id().to_string()])
            .assert()
    }

    /// `component` packed with `manifest` and signed by every key in `keys`.
    fn signed_by(
        &self,
        keys: &[&SecretKey],
        component: &str,
        manifest: &str,
        file: &str,
    ) -> PathBuf {
        let bytes = std::fs::read(component).unwrap();
        let mut signed = ward_manifest::embed(&bytes, manifest.as_bytes()).unwrap();
        for key in keys {
            signed = ward_signing::sign(&signed, key).unwrap();
        }
        let path = self.root.join(file);
        std::fs::write(&path, signed).unwrap();
        path
    }

    fn enabled(&self, name: &str) -> bool {
        self.list()
            .iter()
            .find(|p| p["name"] == name)
            .is_some_and(|p| p["enabled"] == true)
    }
}

#[test]
fn rollback_to_a_version_signed_by_a_revoked_key_is_refused() {
    let env = Env::new();
    let old_key = SecretKey::generate().unwrap();
    env.trust(&old_key, "old-publisher", None);
    let v1 = env.signed_with(
        &old_key,
        ward_fixtures::HELLO,
        &hello_manifest("1.0.0", ""),
        "v1.wasm",
    );
    let v2 = env.signed(
        ward_fixtures::HELLO,
        &hello_manifest("1.1.0", ""),
        "v2.wasm",
    );
    env.install(&v1).success();
    env.install(&v2).success();
    env.revoke(&old_key).success();
    // 1.1.0, signed by the publisher's key, still runs; 1.0.0 may no longer become current.
    env.ward()
        .args(["rollback", "example:hello"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("refusing example:hello 1.0.0")
                .and(predicate::str::contains("revoked")),
        );
    assert_eq!(env.version_of("example:hello").as_deref(), Some("1.1.0"));
    env.ward()
        .args(["run", "example:hello", "greet", "name=Ada"])
        .assert()
        .success();
    assert_eq!(
        env.denials().last().map(String::as_str),
        Some("unauthorized")
    );
    env.audit_verifies();
}

#[test]
fn enabling_a_version_signed_only_by_a_revoked_key_is_refused() {
    let env = Env::new();
    let key = SecretKey::generate().unwrap();
    env.trust(&key, "other", None);
    let v1 = env.signed_with(
        &key,
        ward_fixtures::HELLO,
        &hello_manifest("1.0.0", ""),
        "v1.wasm",
    );
    env.install(&v1).success();
    env.revoke(&key)
        .success()
        .stderr(predicate::str::contains("disabled example:hello"));
    assert!(!env.enabled("example:hello"));
    env.ward()
        .args(["enable", "example:hello"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("the trust policy is not met"));
    assert!(!env.enabled("example:hello"));
    env.ward()
        .args(["run", "example:hello", "greet", "name=Ada"])
        .assert()
        .code(1);
}

#[test]
fn revoking_one_of_two_threshold_keys_disables_the_plugin() {
    let env = Env::new();
    let ci = SecretKey::generate().unwrap();
    env.trust(&ci, "ci", None);
    std::fs::write(
        env.home().join("policy.toml"),
        "[[rule]]\nnamespace = \"example:*\"\nthreshold = 2\n",
    )
    .unwrap();
    let v1 = env.signed_by(
        &[&env.key, &ci],
        ward_fixtures::HELLO,
        &hello_manifest("1.0.0", ""),
        "v1.wasm",
    );
    env.install(&v1).success();
    env.ward()
        .args(["run", "example:hello", "greet", "name=Ada"])
        .assert()
        .success();
    // The publisher's key alone still signed it, but the rule needs two.
    env.revoke(&ci).success().stderr(
        predicate::str::contains("disabled example:hello 1.0.0")
            .and(predicate::str::contains("needs 2 distinct trusted keys")),
    );
    assert!(!env.enabled("example:hello"));
    env.ward()
        .args(["run", "example:hello", "greet", "name=Ada"])
        .assert()
        .code(1);
}

#[test]
fn a_rule_raised_in_policy_toml_stops_the_next_run() {
    let env = Env::new();
    let v1 = env.signed(
        ward_fixtures::HELLO,
        &hello_manifest("1.0.0", ""),
        "v1.wasm",
    );
    env.install(&v1).success();
    std::fs::write(
        env.home().join("policy.toml"),
        "[[rule]]\nnamespace = \"example:*\"\nthreshold = 2\n",
    )
    .unwrap();
    let out = env
        .ward()
        .args(["run", "example:hello", "greet", "name=Ada", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["error"]["kind"], "unauthorized", "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("needs 2 distinct trusted keys"),
        "{reply}"
    );
    env.ward()
        .args(["trust", "check"])
        .assert()
        .success()
        .stderr(predicate::str::contains("disabled example:hello 1.0.0"));
    assert!(!env.enabled("example:hello"));
}

#[test]
fn an_expired_key_counts_for_nothing_at_install_and_at_run() {
    let env = Env::new();
    let key = SecretKey::generate().unwrap();
    env.trust(&key, "short-lived", Some("2001-01-01"));
    let v1 = env.signed_with(
        &key,
        ward_fixtures::HELLO,
        &hello_manifest("1.0.0", ""),
        "v1.wasm",
    );
    env.install(&v1)
        .code(1)
        .stderr(predicate::str::contains("expired"));
    let list = env.ward().args(["trust", "list"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&list.stdout).contains("EXPIRED 2001-01-01T00:00:00Z"),
        "{}",
        String::from_utf8_lossy(&list.stdout)
    );
    // Installed while the key was valid, then its entry replaced by one that expired.
    let key2 = SecretKey::generate().unwrap();
    env.trust(&key2, "rotating", None);
    let v = env.signed_with(
        &key2,
        ward_fixtures::HELLO,
        &hello_manifest("1.0.0", ""),
        "v.wasm",
    );
    env.install(&v).success();
    env.revoke(&key2).success();
    env.trust(&key2, "rotating", Some("2001-01-01"));
    env.ward()
        .args(["enable", "example:hello"])
        .assert()
        .code(1);
    let out = env
        .ward()
        .args(["run", "example:hello", "greet", "name=Ada", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    env.ward()
        .args([
            "trust",
            "add",
            "x.pub",
            "--scope",
            "example:*",
            "--expires",
            "someday",
        ])
        .assert()
        .code(2);
}

#[test]
fn a_downgrade_after_uninstall_still_needs_the_phrase() {
    let env = Env::new();
    let v2 = env.signed(
        ward_fixtures::HELLO,
        &hello_manifest("1.1.0", ""),
        "v2.wasm",
    );
    let v1 = env.signed(
        ward_fixtures::HELLO,
        &hello_manifest("1.0.0", ""),
        "v1.wasm",
    );
    env.install(&v2).success();
    env.ward()
        .args(["uninstall", "example:hello"])
        .assert()
        .success();
    env.install_with(&v1, &["--yes", "--allow-downgrade"])
        .code(1)
        .stderr(predicate::str::contains("downgrade example:hello to 1.0.0"));
    env.install_with(
        &v1,
        &[
            "--yes",
            "--allow-downgrade",
            "--confirm",
            "downgrade example:hello to 1.0.0",
        ],
    )
    .success();
    // Only --purge forgets the floor.
    env.ward()
        .args(["uninstall", "example:hello", "--purge"])
        .assert()
        .success();
    env.install(&v1).success();
}

#[test]
fn a_release_after_a_revoked_keys_huge_version_installs_normally() {
    let env = Env::new();
    let stolen = SecretKey::generate().unwrap();
    env.trust(&stolen, "stolen", None);
    let v1 = env.signed(
        ward_fixtures::HELLO,
        &hello_manifest("1.0.0", ""),
        "v1.wasm",
    );
    let huge = env.signed_with(
        &stolen,
        ward_fixtures::HELLO,
        &hello_manifest("99.0.0", ""),
        "huge.wasm",
    );
    env.install(&v1).success();
    env.install(&huge).success();
    env.revoke(&stolen).success();
    let real = env.signed(
        ward_fixtures::HELLO,
        &hello_manifest("1.2.0", ""),
        "real.wasm",
    );
    env.install(&real).success();
    assert_eq!(env.version_of("example:hello").as_deref(), Some("1.2.0"));
    assert_eq!(env.inspect("example:hello")["highest_version"], "1.2.0");
}

#[test]
fn dir_grant_containing_the_data_directory_is_refused() {
    let env = Env::new();
    std::fs::write(
        env.home().join("policy.toml"),
        "[[preapprove]]\nplugin = \"example:*\"\ncapabilities = [\"kv\", \"writable-paths\"]\n",
    )
    .unwrap();
    let signed = env.signed(
        ward_fixtures::NOTES,
        &notes_manifest("example:notes", "64KiB"),
        "n.wasm",
    );
    let link = env.root.join("link-to-home");
    std::os::unix::fs::symlink(env.home(), &link).unwrap();
    let inside = env.home().join("cache");
    for dir in [env.root.clone(), env.home(), inside, link] {
        env.ward()
            .args([
                "install",
                signed.to_str().unwrap(),
                "--yes",
                "--dir",
                &format!("/notes={}", dir.display()),
            ])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("ward's data directory"));
    }
    assert!(env.list().is_empty());
    assert!(env.denials().iter().all(|r| r == "grant-reaches-ward"));
}

#[test]
fn a_granted_directory_replaced_by_a_link_into_the_home_is_refused_at_run() {
    let env = Env::new();
    let dir = env.root.join("notes-out");
    std::fs::create_dir(&dir).unwrap();
    install_notes(&env, "example:notes", "64KiB", &dir);
    std::fs::remove_dir(&dir).unwrap();
    std::os::unix::fs::symlink(env.home(), &dir).unwrap();
    let out = env
        .ward()
        .args(["run", "example:notes", "export-note", "title=x", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["error"]["kind"], "grant-reaches-ward", "{reply}");
}

#[test]
fn typed_result_on_a_pipe_is_inert() {
    let env = Env::new();
    std::fs::write(
        env.home().join("policy.toml"),
        "[[preapprove]]\nplugin = \"example:*\"\ncapabilities = [\"http\"]\n",
    )
    .unwrap();
    let manifest = "name = \"example:hostile\"\nversion = \"1.0.0\"\ndescription = \"x\"\n\
         [capabilities]\nnetwork = [{ url = \"http://127.0.0.1:9\", methods = [\"GET\"] }]\n";
    let signed = env.signed(ward_fixtures::HOSTILE, manifest, "h.wasm");
    env.install(&signed).success();
    let evil = "clear\u{1b}[2J title\u{1b}]0;pwned\u{7} clip\u{1b}]52;c;ZXZpbA==\u{7} \u{202e}desrever \u{2028}sep \u{9b}csi";
    // stdout is a pipe here: the text is still made inert.
    let out = env
        .ward()
        .args([
            "run",
            "example:hostile",
            "echo-everywhere",
            &format!("text={evil}"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for bad in ['\u{1b}', '\u{7}', '\u{202e}', '\u{2028}', '\u{9b}'] {
        assert!(!text.contains(bad), "{bad:?} in {text:?}");
        assert!(!String::from_utf8_lossy(&out.stderr).contains(bad));
    }
    assert!(text.contains("desrever"), "{text}");
    // --json escapes what a parser keeps: control characters (by JSON itself), bidi and
    // separators (by ward).
    let out = env
        .ward()
        .args([
            "run",
            "example:hostile",
            "echo-everywhere",
            &format!("text={evil}"),
            "--json",
        ])
        .output()
        .unwrap();
    let line = String::from_utf8(out.stdout).unwrap();
    for bad in ['\u{1b}', '\u{7}', '\u{202e}', '\u{2028}', '\u{9b}'] {
        assert!(!line.contains(bad), "{bad:?} in {line:?}");
    }
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["result"], evil);
}

#[test]
fn a_trust_label_with_control_characters_is_refused() {
    let env = Env::new();
    let key = SecretKey::generate().unwrap();
    let file = env.root.join("k.pub");
    std::fs::write(&file, key.public_key().to_openssh()).unwrap();
    for label in ["evil\u{1b}[2J", "rtl\u{202e}lbl", "two\u{2028}lines"] {
        env.ward()
            .args([
                "trust",
                "add",
                file.to_str().unwrap(),
                "--scope",
                "example:*",
                "--label",
                label,
            ])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("control or formatting character"));
    }
}

#[test]
fn install_of_a_fifo_is_refused_at_once() {
    let env = Env::new();
    let fifo = env.root.join("plugin.wasm");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    // Nothing writes to the FIFO: a blocking open would hang here (the test harness times out).
    env.ward()
        .args(["install", fifo.to_str().unwrap(), "--yes"])
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("a FIFO"));
    env.ward()
        .args(["install", env.root.to_str().unwrap(), "--yes"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("a directory"));
}

#[test]
fn install_rows_record_the_capability_kinds() {
    let env = Env::new();
    std::fs::write(
        env.home().join("policy.toml"),
        "[[preapprove]]\nplugin = \"example:*\"\ncapabilities = [\"kv\", \"writable-paths\"]\n",
    )
    .unwrap();
    let dir = env.root.join("out");
    std::fs::create_dir(&dir).unwrap();
    install_notes(&env, "example:notes", "64KiB", &dir);
    let out = env.ward().args(["audit", "--json"]).output().unwrap();
    let rows: Value = ward_testkit::install::json_lines(&out.stdout);
    let install = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "install")
        .unwrap();
    assert_eq!(
        install["detail"]["capabilities"],
        serde_json::json!(["kv", "writable-paths"]),
        "{install}"
    );
}

/// A tmpfs mounted for one test (ward's data directory on a small file system that can be filled
/// or made read-only); unmounted on drop. The tests that use it run as root, as CI does.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(at: &Path, size: &str) -> Mount {
        std::fs::create_dir_all(at).unwrap();
        let status = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .status()
            .unwrap();
        assert!(status.success(), "cannot mount a tmpfs at {}", at.display());
        Mount(at.to_owned())
    }

    fn remount(&self, opts: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,{opts}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Fills the file system; returns the filler's path.
    fn fill(&self) -> PathBuf {
        let path = self.0.join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 1 << 20];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
        path
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// An Env whose data directory is a fresh tmpfs of `size`, with hostile installed and granted one
/// loopback server whose requests are counted.
fn env_on_tmpfs(
    size: &str,
) -> (
    Env,
    Mount,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    String,
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    let mount = Mount::tmpfs(&root.join("home"), size);
    let env = Env {
        _dir: dir,
        root,
        key: SecretKey::generate().unwrap(),
    };
    env.trust(&env.key, "publisher", None);
    std::fs::write(
        env.home().join("policy.toml"),
        "[[preapprove]]\nplugin = \"example:*\"\ncapabilities = [\"http\"]\n",
    )
    .unwrap();
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let url = serve(move |s| {
        counter.fetch_add(1, Ordering::SeqCst);
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
        );
    });
    let manifest = format!(
        "name = \"example:hostile\"\nversion = \"1.0.0\"\ndescription = \"x\"\n\
         [capabilities]\nnetwork = [{{ url = \"{url}\", methods = [\"GET\"] }}]\n"
    );
    let signed = env.signed(ward_fixtures::HOSTILE, &manifest, "h.wasm");
    env.install(&signed).success();
    (
        env,
        mount,
        hits,
        url.trim_start_matches("http://").to_owned(),
    )
}

#[test]
fn full_disk_refuses_the_call_before_guest_code() {
    use std::sync::atomic::Ordering;
    let (env, mount, hits, authority) = env_on_tmpfs("48m");
    let fetch = |env: &Env| {
        env.ward()
            .args([
                "run",
                "example:hostile",
                "http-fetch",
                &format!("authority={authority}"),
                "path=/",
                "--standalone",
                "--json",
            ])
            .output()
            .unwrap()
    };
    let filler = mount.fill();
    let out = fetch(&env);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["error"]["kind"], "audit-unavailable", "{reply}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "a request left before its audit row"
    );
    // With the space back, the same call runs: the refusal above was the full disk's.
    std::fs::remove_file(filler).unwrap();
    let out = fetch(&env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    env.audit_verifies();
}

#[test]
fn read_only_data_directory_refuses_the_call_before_guest_code() {
    use std::sync::atomic::Ordering;
    let (env, mount, hits, authority) = env_on_tmpfs("48m");
    mount.remount("ro");
    let out = env
        .ward()
        .args([
            "run",
            "example:hostile",
            "http-fetch",
            &format!("authority={authority}"),
            "path=/",
            "--standalone",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    mount.remount("rw");
}

#[test]
fn egress_refusals_are_in_the_calls_audit_row() {
    let env = Env::new();
    std::fs::write(
        env.home().join("policy.toml"),
        "[[preapprove]]\nplugin = \"example:*\"\ncapabilities = [\"http\"]\n",
    )
    .unwrap();
    // Granted one loopback host; http-get asks for another one.
    let manifest = "name = \"example:hostile\"\nversion = \"1.0.0\"\ndescription = \"x\"\n\
         [capabilities]\nnetwork = [{ url = \"http://127.0.0.1:9\", methods = [\"GET\"] }]\n";
    let signed = env.signed(ward_fixtures::HOSTILE, manifest, "h.wasm");
    env.install(&signed).success();
    let refused = run_json(&env, &["example:hostile", "http-get"]);
    assert!(refused.get("err").is_some(), "{refused}");
    let out = env.ward().args(["audit", "--json"]).output().unwrap();
    let rows: Value = ward_testkit::install::json_lines(&out.stdout);
    let run = rows
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|r| r["action"] == "run")
        .unwrap();
    assert_eq!(run["detail"]["egress_denied"], 1, "{run}");
    assert_eq!(
        run["detail"]["egress_reasons"],
        serde_json::json!(["not-granted"]),
        "{run}"
    );
}

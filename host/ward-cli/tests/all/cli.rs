//! The `ward` binary in a temporary WARD_HOME: exit codes, stdout, stderr.
#![allow(clippy::unwrap_used)]

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn ward(home: &tempfile::TempDir) -> Command {
    let mut cmd = Command::cargo_bin("ward").unwrap();
    cmd.env("WARD_HOME", home.path().join("ward"))
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1");
    cmd
}

fn home() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn greet_prints_the_name() {
    let home = home();
    ward(&home)
        .args(["dev", "run", ward_fixtures::HELLO, "greet", "name=World"])
        .assert()
        .success()
        .stdout(predicate::str::contains("World"));
}

#[test]
fn json_output_is_one_object() {
    let home = home();
    let out = ward(&home)
        .args([
            "dev",
            "run",
            ward_fixtures::HELLO,
            "greet",
            "--args",
            r#"{"name":"Ada"}"#,
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["ok"], true);
    assert!(value["result"].as_str().unwrap().contains("Ada"));
}

#[test]
fn wrong_argument_type_is_a_usage_error_naming_the_parameter() {
    let home = home();
    ward(&home)
        .args([
            "dev",
            "run",
            ward_fixtures::HELLO,
            "greet",
            "--args",
            r#"{"name": 42}"#,
        ])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("name").and(predicate::str::contains("string")));
}

#[test]
fn unknown_argument_is_refused() {
    let home = home();
    ward(&home)
        .args(["dev", "run", ward_fixtures::HELLO, "greet", "nmae=x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown argument 'nmae'"));
}

#[test]
fn infinite_loop_exits_1_naming_the_time_limit() {
    let home = home();
    ward(&home)
        .args([
            "dev",
            "run",
            ward_fixtures::HOSTILE,
            "spin",
            "--timeout",
            "200ms",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("time limit of 200ms reached"));
}

#[test]
fn limit_error_as_json() {
    let home = home();
    let out = ward(&home)
        .args([
            "dev",
            "run",
            ward_fixtures::HOSTILE,
            "memory-bomb",
            "--memory",
            "8MiB",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["ok"], false);
    assert_eq!(value["error"]["kind"], "limit");
    assert_eq!(value["error"]["limit"], "memory");
    assert_eq!(value["error"]["value"], 8 * 1024 * 1024);
}

#[test]
fn cli_program_takes_argv_after_double_dash() {
    let home = home();
    ward(&home)
        .args([
            "dev",
            "run",
            ward_fixtures::CLI_ECHO,
            "run",
            "--",
            "a",
            "b c",
        ])
        .assert()
        .success()
        .stdout("a b c\n");
}

#[test]
fn not_a_component_exits_2_and_caches_nothing() {
    let home = home();
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, Vec<u8>, &str); 3] = [
        (
            "text.wasm",
            b"hello".to_vec(),
            "not a WebAssembly component",
        ),
        (
            "core.wasm",
            b"\0asm\x01\0\0\0".to_vec(),
            "core WebAssembly module",
        ),
        (
            "truncated.wasm",
            {
                let bytes = std::fs::read(ward_fixtures::HELLO).unwrap();
                bytes[..bytes.len() / 3].to_vec()
            },
            "malformed component",
        ),
    ];
    for (name, bytes, needle) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        ward(&home)
            .args(["dev", "run", path.to_str().unwrap(), "greet"])
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(needle));
    }
    let cache = home.path().join("ward/cache/compiled");
    let cached = std::fs::read_dir(&cache)
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "cwasm")
            })
            .count()
        })
        .unwrap_or(0);
    assert_eq!(cached, 0);
}

#[test]
fn component_of_an_unknown_world_exits_2_naming_the_import() {
    let home = home();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unknown-world.wasm");
    let component = wat::parse_str(
        r#"(component
            (import "acme:spy/keylogger@1.0.0" (instance))
            (core module $m (func (export "f") (result i32) i32.const 7))
            (core instance $i (instantiate $m))
            (func (export "seven") (result u32) (canon lift (core func $i "f"))))"#,
    )
    .unwrap();
    std::fs::write(&path, component).unwrap();
    ward(&home)
        .args(["dev", "run", path.to_str().unwrap(), "seven"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "imports `acme:spy/keylogger@1.0.0`",
        ));
    assert!(
        !home.path().join("ward/cache/compiled").exists()
            || std::fs::read_dir(home.path().join("ward/cache/compiled"))
                .unwrap()
                .all(|e| e.unwrap().path().extension().is_none_or(|x| x != "cwasm"))
    );
}

#[test]
fn describe_prints_signatures_and_schemas() {
    let home = home();
    ward(&home)
        .args(["describe", ward_fixtures::HELLO])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "greet: func(name: string) -> string",
        ));
    let out = ward(&home)
        .args(["describe", ward_fixtures::HELLO, "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    let greet = value["commands"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "greet")
        .unwrap();
    assert_eq!(greet["schema"]["required"], serde_json::json!(["name"]));
    assert_eq!(greet["schema"]["properties"]["name"]["type"], "string");
}

#[test]
fn data_directory_open_to_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let home = home();
    let dir = home.path().join("ward");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    ward(&home)
        .args(["dev", "run", ward_fixtures::HELLO, "greet", "name=x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "other users have access (mode 0755)",
        ));
}

#[test]
fn secrets_are_stored_encrypted_and_listed_by_name_only() {
    let home = home();
    let value = "s3cr3t-value-that-must-not-leak";
    let out = ward(&home)
        .args(["secret", "set", "API_TOKEN"])
        .write_stdin(format!("{value}\n"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains(value));
    assert!(!String::from_utf8_lossy(&out.stderr).contains(value));
    let on_disk = std::fs::read(home.path().join("ward/secrets.enc")).unwrap();
    assert!(!on_disk.windows(value.len()).any(|w| w == value.as_bytes()));
    ward(&home)
        .args(["secret", "list"])
        .assert()
        .success()
        .stdout("API_TOKEN\n");
    ward(&home)
        .args(["secret", "rm", "API_TOKEN"])
        .assert()
        .success();
    ward(&home)
        .args(["secret", "list"])
        .assert()
        .success()
        .stdout("");
    ward(&home)
        .args(["secret", "set", "bad name"])
        .write_stdin("x")
        .assert()
        .code(2);
}

#[test]
fn secret_key_file_open_to_others_fails_closed() {
    use std::os::unix::fs::PermissionsExt;
    let home = home();
    ward(&home)
        .args(["secret", "set", "A"])
        .write_stdin("value")
        .assert()
        .success();
    let key = home.path().join("ward/secrets.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    ward(&home)
        .args(["secret", "list"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("secrets.key"));
}

#[test]
fn completions_and_man_pages_come_from_the_command_definitions() {
    let h = home();
    let bash = ward(&h).args(["completions", "bash"]).output().unwrap();
    assert!(bash.status.success());
    let bash = String::from_utf8_lossy(&bash.stdout);
    assert!(
        bash.contains("_ward()") && bash.contains("verify-proof"),
        "{bash}"
    );
    let zsh = ward(&h).args(["completions", "zsh"]).output().unwrap();
    assert!(String::from_utf8_lossy(&zsh.stdout).starts_with("#compdef ward"));
    let fish = ward(&h).args(["completions", "fish"]).output().unwrap();
    assert!(String::from_utf8_lossy(&fish.stdout).contains("complete -c ward"));
    let dir = h.path().join("man");
    ward(&h).args(["man", "--out"]).arg(&dir).assert().success();
    for page in [
        "ward.1",
        "ward-install.1",
        "ward-audit.1",
        "ward-audit-verify.1",
    ] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap();
        assert!(
            text.starts_with(".ie") || text.contains(".TH"),
            "{page}: {text}"
        );
    }
}

#[test]
fn doctor_names_what_is_misconfigured_and_the_fix() {
    let h = home();
    let dir = h.path().join("ward");
    let doctor = |json: bool| {
        let mut cmd = ward(&h);
        cmd.arg("doctor");
        if json {
            cmd.arg("--json");
        }
        cmd.output().unwrap()
    };
    // A fresh machine: nothing is wrong yet, a few things are worth knowing.
    let out = doctor(true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
    let daemon = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "daemon")
        .unwrap();
    assert_eq!(daemon["status"], "warn");
    assert!(
        daemon["fix"]
            .as_str()
            .unwrap()
            .contains("ward daemon start")
    );
    // A rule raised in policy.toml that the installed plugin no longer meets, a broken policy
    // file, no trusted key and a data directory others can read: each failed with its fix.
    let manifest = "name = \"example:hello\"\nversion = \"1.0.0\"\ndescription = \"t\"\n";
    ward_testkit::install::install_signed(
        &dir,
        ward_fixtures::HELLO,
        manifest,
        serde_json::json!([]),
    );
    std::fs::write(
        dir.join("policy.toml"),
        "[[rule]]\nnamespace = \"example:*\"\nthreshold = 2\n",
    )
    .unwrap();
    let out = doctor(false);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("fail  plugins: enabled but refused at their next run: example:hello ("),
        "{text}"
    );
    assert!(text.contains("fix: ward trust check"), "{text}");
    std::fs::write(dir.join("policy.toml"), "[[rule]]\nnamespace = \"x:*\"\n").unwrap();
    let text = String::from_utf8_lossy(&doctor(false).stdout).into_owned();
    assert!(text.contains("fail  policy.toml"), "{text}");
    std::fs::remove_file(dir.join("policy.toml")).unwrap();
    let key_id = ward_testkit::install::publisher()
        .public_key()
        .key_id()
        .to_string();
    ward_store::Store::open(&dir)
        .unwrap()
        .trust_revoke(&key_id)
        .unwrap();
    let text = String::from_utf8_lossy(&doctor(false).stdout).into_owned();
    assert!(
        text.contains("fail  trust store: no key is trusted"),
        "{text}"
    );
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let text = String::from_utf8_lossy(&doctor(false).stdout).into_owned();
    assert!(
        text.contains(&format!("fix: chmod 700 {}", dir.display())),
        "{text}"
    );
}

//! Plugins written in Python and JavaScript, and `ward new` projects in every language: each is
//! built with its real toolchain, packed with `ward pack`, signed, installed and run through the
//! real `ward` binary in a temporary home.
//!
//! The toolchains come from `plugins/toolchains/install.sh` (run on first use). Python components
//! are large (about 18 MB, compiled once per install), so each test installs at most once.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{Value, json};
use ward_fixtures::lang;
use ward_signing::SecretKey;

/// A temporary home whose trust store holds one publisher key for `scope`.
struct Env {
    _dir: tempfile::TempDir,
    root: PathBuf,
    key: SecretKey,
}

impl Env {
    fn new(scope: &str) -> Env {
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
            .args(["trust", "add", pubfile.to_str().unwrap(), "--scope", scope])
            .assert()
            .success();
        env
    }

    fn ward(&self) -> Command {
        let mut cmd = Command::cargo_bin("ward").unwrap();
        cmd.env("WARD_HOME", self.root.join("home"))
            .env_remove("RUST_LOG")
            .env_remove("WARD_STORE_FAILPOINT")
            .env("NO_COLOR", "1");
        cmd
    }

    /// `ward pack COMPONENT --manifest MANIFEST`, signed with the trusted key, then
    /// `ward install --yes`.
    fn pack_sign_install(&self, component: &Path, manifest: &Path) {
        let packed = self.root.join("packed.wasm");
        self.ward()
            .args(["pack", component.to_str().unwrap(), "--manifest"])
            .arg(manifest)
            .arg("-o")
            .arg(&packed)
            .assert()
            .success();
        let signed = self.root.join("signed.wasm");
        let bytes = ward_signing::sign(&std::fs::read(&packed).unwrap(), &self.key).unwrap();
        std::fs::write(&signed, bytes).unwrap();
        self.ward()
            .args(["install", signed.to_str().unwrap(), "--yes"])
            .assert()
            .success();
    }

    /// `ward run PLUGIN ARGS... --json`: the exit code and the JSON document on stdout.
    fn run_json(&self, plugin: &str, args: &[&str]) -> (i32, Value, String) {
        let out = self
            .ward()
            .args(["run", plugin])
            .args(args)
            .arg("--json")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let value = serde_json::from_slice(&out.stdout).unwrap_or_else(|err| {
            panic!(
                "stdout is not JSON ({err}): {}\nstderr: {stderr}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        (out.status.code().unwrap(), value, stderr)
    }

    fn audit_actions(&self) -> Vec<String> {
        let out = self.ward().args(["audit", "--json"]).output().unwrap();
        ward_testkit::install::json_lines(&out.stdout)
            .as_array()
            .unwrap()
            .iter()
            .map(|r| format!("{}:{}", r["action"], r["outcome"]).replace('"', ""))
            .collect()
    }
}

/// The example plugins' shared contract: greet, a record, a result, and a call that traps.
fn check_hello_plugin(env: &Env, plugin: &str) {
    env.ward()
        .args(["run", plugin, "greet", "name=World"])
        .assert()
        .success()
        .stdout("Hello, World!\n");

    let (code, out, _) = env.run_json(plugin, &["count", "text=the quick  brown fox"]);
    assert_eq!(code, 0);
    assert_eq!(
        out["result"],
        json!({"words": 4, "chars": 20, "longest": "quick"})
    );

    let (code, out, _) = env.run_json(plugin, &["divide", "a=-7", "b=2"]);
    assert_eq!((code, &out["result"]), (0, &json!({"ok": -3})));

    let (code, out, _) = env.run_json(plugin, &["divide", "a=1", "b=0"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out["result"], json!({"err": "division by zero"}));

    // An exception that is not a result's error traps the call: refused, reported, audited, and
    // the next call runs normally.
    env.ward()
        .args(["run", plugin, "crash", "message=boom"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains("trapped").and(predicate::str::contains("boom")));
    env.ward()
        .args(["run", plugin, "greet", "name=again"])
        .assert()
        .success()
        .stdout("Hello, again!\n");
    let actions = env.audit_actions();
    assert!(actions.contains(&"install:ok".to_owned()), "{actions:?}");
    assert!(actions.contains(&"run:ok".to_owned()), "{actions:?}");
    assert!(
        actions
            .iter()
            .any(|a| a.starts_with("run:") && a != "run:ok"),
        "the trapped call is not audited as a failure: {actions:?}"
    );
    env.ward().args(["audit", "verify"]).assert().success();
}

/// Held for its whole run by each test that builds or installs something heavy (a Python
/// component, a Rust project): ward refuses a component whose compilation passes
/// `ward_policy::COMPILE_TIMEOUT`, and an 18 MB compilation competing with other builds on a small
/// machine (2 cores, a debug build of ward) can come close to it.
fn one_heavy_test_at_a_time() -> MutexGuard<'static, ()> {
    static HEAVY: Mutex<()> = Mutex::new(());
    HEAVY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn plugin_manifest(name: &str) -> PathBuf {
    Path::new(ward_fixtures::plugins_dir())
        .join(name)
        .join("ward.toml")
}

#[test]
fn python_plugin_installs_and_runs_and_an_uncaught_exception_is_refused() {
    let _heavy = one_heavy_test_at_a_time();
    let env = Env::new("example:*");
    env.pack_sign_install(lang::py_hello(), &plugin_manifest("py-hello"));
    check_hello_plugin(&env, "example:py-hello");
}

#[test]
fn js_plugin_installs_and_runs_and_a_thrown_error_is_refused() {
    let env = Env::new("example:*");
    env.pack_sign_install(lang::js_hello(), &plugin_manifest("js-hello"));
    check_hello_plugin(&env, "example:js-hello");
}

/// The QuickJS component keeps the `init` export its engine was loaded through. A caller that
/// invokes it with a script of its own must not replace the plugin's code.
#[test]
fn js_plugin_init_export_cannot_replace_the_plugin_code() {
    let env = Env::new("example:*");
    env.pack_sign_install(lang::js_hello(), &plugin_manifest("js-hello"));
    let attack = json!({
        "shim": "",
        "script": "export function greet(name) { return 'replaced ' + name; }",
        "entry-path": null,
        "disable-gc": false,
    })
    .to_string();
    // componentize-qjs's `init` is the toolchain's, not a command: it cannot be called at all
    // (issue 16: exports that are not commands are never listed or offered).
    let (code, out, _) = env.run_json("example:js-hello", &["init", "--args", &attack]);
    assert_eq!(code, 2, "{out}");
    assert_eq!(out["error"]["kind"], "unknown-command", "{out}");
    let described = env
        .ward()
        .arg("describe")
        .arg(lang::js_hello())
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&described.stdout).contains("init"),
        "{}",
        String::from_utf8_lossy(&described.stdout)
    );
    env.ward()
        .args(["run", "example:js-hello", "greet", "name=World"])
        .assert()
        .success()
        .stdout("Hello, World!\n");
}

/// `ward new --lang LANG NAME --dir DIR` in a fresh folder; returns the project folder.
fn ward_new(env: &Env, lang: &str, name: &str) -> PathBuf {
    let dir = env.root.join("projects").join(name);
    env.ward()
        .args(["new", "--lang", lang, name, "--dir"])
        .arg(&dir)
        .assert()
        .success()
        .stdout("")
        .stderr(predicate::str::contains("created"));
    for file in [
        "ward.toml",
        "README.md",
        "build.sh",
        "wit/deps/ward-plugin/plugin.wit",
    ] {
        assert!(dir.join(file).is_file(), "{file} is missing");
    }
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    for step in [
        "build.sh",
        "ward pack",
        "ward-sign sign",
        "ward install",
        "ward run",
    ] {
        assert!(readme.contains(step), "the README does not say `{step}`");
    }
    dir
}

/// Runs the project's own `build.sh` with `envs`; returns the component it built.
fn build(dir: &Path, file: &str, envs: &[(&str, &Path)]) -> PathBuf {
    let mut cmd = std::process::Command::new("sh");
    cmd.arg(dir.join("build.sh"));
    lang::scrub_cargo_env(&mut cmd);
    for (name, value) in envs {
        cmd.env(name, value);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "build.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let component = dir.join(file);
    assert!(component.is_file(), "build.sh did not write {file}");
    component
}

/// Installs the built project and runs its `greet` command, both ways.
fn install_and_greet(env: &Env, dir: &Path, component: &Path, plugin: &str) {
    env.pack_sign_install(component, &dir.join("ward.toml"));
    let (code, out, _) = env.run_json(plugin, &["greet", "name=World"]);
    assert_eq!((code, &out["result"]), (0, &json!({"ok": "Hello, World!"})));
    let (code, out, stderr) = env.run_json(plugin, &["greet", "name="]);
    assert_eq!(code, 1, "{out}");
    assert!(!stderr.contains("trapped"), "{stderr}");
    assert!(
        out["result"]["err"]
            .as_str()
            .is_some_and(|e| e.contains("name is empty")),
        "{out}"
    );
}

#[test]
fn ward_new_rust_project_builds_installs_and_runs() {
    let _heavy = one_heavy_test_at_a_time();
    let env = Env::new("acme:*");
    let dir = ward_new(&env, "rust", "acme:rs-greeter");
    // Offline, into a target folder shared between runs (the SDK's dependencies are compiled once).
    let target = lang::repo_root().join("target/lang-tests/rust");
    let offline = Path::new("true");
    let component = build(
        &dir,
        "rs-greeter.wasm",
        &[
            ("CARGO_TARGET_DIR", &target),
            ("CARGO_NET_OFFLINE", offline),
        ],
    );
    install_and_greet(&env, &dir, &component, "acme:rs-greeter");
}

/// Also the Python template's promise: an exception it does not catch itself (here a
/// `ValueError` for an empty name) becomes the command's error result, not a trap.
#[test]
fn ward_new_python_project_builds_installs_and_runs() {
    let _heavy = one_heavy_test_at_a_time();
    let env = Env::new("acme:*");
    let dir = ward_new(&env, "python", "acme:py-greeter");
    let component = build(
        &dir,
        "py-greeter.wasm",
        &[("COMPONENTIZE_PY", &lang::componentize_py())],
    );
    install_and_greet(&env, &dir, &component, "acme:py-greeter");
    let (_, out, _) = env.run_json("acme:py-greeter", &["greet", "name="]);
    assert_eq!(out["result"], json!({"err": "ValueError: name is empty"}));
}

#[test]
fn ward_new_js_project_builds_installs_and_runs() {
    let env = Env::new("acme:*");
    let dir = ward_new(&env, "js", "acme:js-greeter");
    let component = build(
        &dir,
        "js-greeter.wasm",
        &[("COMPONENTIZE_QJS", &lang::componentize_qjs())],
    );
    install_and_greet(&env, &dir, &component, "acme:js-greeter");
    let (_, out, _) = env.run_json("acme:js-greeter", &["greet", "name="]);
    assert_eq!(out["result"], json!({"err": "RangeError: name is empty"}));
}

#[test]
fn ward_new_refuses_an_existing_folder_and_writes_nothing() {
    let env = Env::new("acme:*");
    let dir = env.root.join("taken");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("mine.txt"), "keep").unwrap();
    env.ward()
        .args(["new", "--lang", "python", "acme:taken", "--dir"])
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already exists"));
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    assert_eq!(
        std::fs::read_to_string(dir.join("mine.txt")).unwrap(),
        "keep"
    );
    let siblings: Vec<_> = std::fs::read_dir(&env.root)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|name| name.to_string_lossy().starts_with(".ward-new-"))
        .collect();
    assert!(siblings.is_empty(), "staging left behind: {siblings:?}");
}

#[test]
fn ward_new_refuses_a_name_that_is_not_a_plugin_name() {
    let env = Env::new("acme:*");
    for (name, says) in [
        ("../escape", "invalid plugin name"),
        ("Acme:tool", "uppercase"),
        ("acme:type", "WIT keyword"),
    ] {
        env.ward()
            .current_dir(&env.root)
            .args(["new", "--lang", "js", name])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(says));
    }
    assert!(!env.root.join("escape").exists());
    assert!(!env.root.parent().unwrap().join("escape").exists());
}

#[test]
fn ward_new_rust_refuses_an_sdk_folder_that_is_not_ward_sdk() {
    let env = Env::new("acme:*");
    let dir = env.root.join("p");
    env.ward()
        .args(["new", "--lang", "rust", "acme:p", "--dir"])
        .arg(&dir)
        .arg("--sdk")
        .arg(&env.root)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("Cargo.toml"));
    assert!(!dir.exists());
}

//! The CI signing flow of `docs/ci-signing.md`, run here on the real `hello` plugin: build twice in
//! separate target directories (identical digests), sign with the CI key, verify as the verify job
//! does (rebuild, compare digests, check signatures), and show that a one-line source change makes
//! the rebuilt artifact fail.
//!
//! The plugin sources (`plugins/`, `sdk/`, `wit/`) are copied to a temporary directory so the
//! change never touches the repository; every build of the test uses that one copy, because cargo
//! hashes a path dependency's location into symbol and type ids, so only builds from the same
//! source path can be compared.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cli::ward_sign;
use crate::*;

const TARGET: &str = "wasm32-wasip2";

/// Variables of the outer `cargo test` that would change the plugin build.
const SCRUBBED_ENV: &[&str] = &[
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_TARGET_DIR",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_BUILD_RUSTC_WRAPPER",
    "CARGO_MANIFEST_DIR",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_CRATE_NAME",
    "CARGO_TARGET_TMPDIR",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        let ty = entry.file_type().unwrap();
        if ty.is_dir() {
            copy_tree(&entry.path(), &to.join(&name));
        } else if ty.is_file() {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

/// `cargo build --release --locked --target wasm32-wasip2 -p hello`, as the CI workflow runs it.
fn build(plugins: &Path, target_dir: &Path) -> Vec<u8> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(plugins)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            TARGET,
            "-p",
            "hello",
        ])
        .arg("--target-dir")
        .arg(target_dir);
    for v in SCRUBBED_ENV {
        cmd.env_remove(v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "plugin build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(target_dir.join(TARGET).join("release").join("hello.wasm")).unwrap()
}

fn wasm_target_installed() -> bool {
    Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .is_some_and(|root| {
            Path::new(root.trim())
                .join("lib/rustlib")
                .join(TARGET)
                .exists()
        })
}

#[test]
fn ci_flow_reproducible_build_sign_verify_and_one_line_change_fails() {
    if !wasm_target_installed() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the {TARGET} target is missing (rustup target add {TARGET})"
        );
        eprintln!("skipping: the {TARGET} target is not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    for d in ["plugins", "sdk", "wit"] {
        copy_tree(&repo_root().join(d), &src.join(d));
    }
    let plugins = src.join("plugins");

    // build job: two builds in separate target directories give the same bytes
    let first = build(&plugins, &tmp.path().join("t1"));
    let second = build(&plugins, &tmp.path().join("t2"));
    let digest = ward_signing::digest(&first).unwrap();
    assert_eq!(digest, ward_signing::digest(&second).unwrap());
    assert_eq!(first, second);

    // sign with the CI key, held as a secret (key file contents + passphrase in the environment)
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    std::fs::write(work.join("hello.wasm"), &first).unwrap();
    let ci = key();
    let secret = ci.to_file_contents(Some("ci passphrase")).unwrap();
    std::fs::write(work.join("ci.pub"), ci.public_key().to_openssh()).unwrap();
    let out = ward_sign(&work)
        .args([
            "--non-interactive",
            "sign",
            "--passphrase-env",
            "WARD_SIGNING_PASSPHRASE",
        ])
        .args(["hello.wasm", "-o", "hello.signed.wasm"])
        .env("WARD_SIGNING_KEY", secret.as_str())
        .env("WARD_SIGNING_PASSPHRASE", "ci passphrase")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(
        work.join("trust.toml"),
        "[[key]]\nlabel = \"ci\"\npublic_key_file = \"ci.pub\"\nscope = [\"example:*\"]\n\
         [[rule]]\nnamespace = \"example:*\"\nthreshold = 1\nrequire_labels = [\"ci\"]\n",
    )
    .unwrap();

    // verify job: the rebuilt artifact's digest equals the signed one, and the signatures pass
    let inspect = ward_sign(&work)
        .args(["inspect", "--json", "hello.signed.wasm"])
        .output()
        .unwrap();
    let info: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(
        info["digest"],
        ward_signing::digest(&second).unwrap().to_string()
    );
    let verify = ward_sign(&work)
        .args([
            "verify",
            "--trust",
            "trust.toml",
            "--plugin",
            "example:hello",
        ])
        .arg("hello.signed.wasm")
        .output()
        .unwrap();
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );

    // a one-line source change: the rebuild's digest differs, and the signature does not cover it
    let lib = plugins.join("hello/src/lib.rs");
    let text = std::fs::read_to_string(&lib).unwrap();
    let line = "format!(\"Hello, {name}!\")";
    assert_eq!(text.matches(line).count(), 1, "hello's greeting line moved");
    std::fs::write(
        &lib,
        text.replace(line, "format!(\"Hello there, {name}!\")"),
    )
    .unwrap();
    let changed = build(&plugins, &tmp.path().join("t2"));
    assert_ne!(ward_signing::digest(&changed).unwrap(), digest);
    let signed = std::fs::read(work.join("hello.signed.wasm")).unwrap();
    let envelope = &signed[envelope_range(&signed)];
    std::fs::write(work.join("changed.wasm"), with_envelope(&changed, envelope)).unwrap();
    let verify = ward_sign(&work)
        .args([
            "verify",
            "--trust",
            "trust.toml",
            "--plugin",
            "example:hello",
            "changed.wasm",
        ])
        .output()
        .unwrap();
    assert_eq!(verify.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&verify.stderr).contains("does-not-cover-content"));
}

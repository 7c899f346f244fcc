//! Project tasks, run as `cargo xtask TASK`:
//!
//! - `demo`: build ward and the plugins, then run the hello commands and a refused hostile one.
//! - `test`: install what the tests need (the wasm32-wasip2 target, the wasmsign2 CLI used for
//!   interop tests, the Python and JavaScript plugin toolchains) and run the whole test suite.
//! - `ci`: `test`, then `cargo fmt --check` and `cargo clippy -D warnings`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        "demo" => demo(),
        "test" => test(),
        "ci" => test().and_then(|()| lint()),
        _ => {
            eprintln!("usage: cargo xtask (demo | test | ci)");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

fn run(mut cmd: Command) -> anyhow::Result<()> {
    eprintln!("+ {cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

/// Runs `ward` with a fresh data directory and shows what it prints; `expect_ok` says whether
/// the step should succeed.
fn ward(home: &Path, args: &[&str], expect_ok: bool) -> anyhow::Result<()> {
    let bin = root().join("target/debug/ward");
    let mut cmd = Command::new(&bin);
    cmd.args(args).env("WARD_HOME", home);
    eprintln!("\n$ ward {}", args.join(" "));
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    if status.success() != expect_ok {
        bail!(
            "`ward {}` {} (exit {status}) but the demo expected it to {}",
            args.join(" "),
            if status.success() {
                "succeeded"
            } else {
                "failed"
            },
            if expect_ok { "succeed" } else { "be refused" }
        );
    }
    Ok(())
}

/// Runs `ward-sign` (built next to `ward`).
fn ward_sign(args: &[&str]) -> anyhow::Result<()> {
    let bin = root().join("target/debug/ward-sign");
    let mut cmd = Command::new(&bin);
    cmd.args(args)
        .env("WARD_DEMO_PASSPHRASE", "correct horse battery staple");
    eprintln!("\n$ ward-sign {}", args.join(" "));
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    if !status.success() {
        bail!("`ward-sign {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

fn demo() -> anyhow::Result<()> {
    let mut build = cargo();
    build.args([
        "build",
        "-p",
        "ward-cli",
        "-p",
        "ward-signing",
        "-p",
        "ward-fixtures",
    ]);
    run(build)?;
    let work = root().join("target/demo");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let home = work.join("home");
    let file = |name: &str| work.join(name).to_string_lossy().into_owned();
    let hello = ward_fixtures::HELLO;
    let hostile = ward_fixtures::HOSTILE;
    let echo = ward_fixtures::CLI_ECHO;
    let manifest = root().join("plugins/hello/ward.toml");
    let manifest = manifest.to_string_lossy();
    let pass = ["--passphrase-env", "WARD_DEMO_PASSPHRASE"];

    eprintln!("A publisher creates a key, packs the manifest into the plugin and signs it:");
    ward_sign(&["keygen", "--out", &file("publisher"), pass[0], pass[1]])?;
    ward(
        &home,
        &[
            "pack",
            hello,
            "--manifest",
            &manifest,
            "-o",
            &file("hello.packed.wasm"),
        ],
        true,
    )?;
    ward_sign(&[
        "sign",
        "--key",
        &file("publisher.key"),
        pass[0],
        pass[1],
        &file("hello.packed.wasm"),
        "-o",
        &file("hello.signed.wasm"),
    ])?;

    eprintln!("\nThe operator trusts the key for example:* plugins, installs and runs:");
    ward(
        &home,
        &[
            "trust",
            "add",
            &file("publisher.pub"),
            "--scope",
            "example:*",
            "--label",
            "publisher",
        ],
        true,
    )?;
    ward(
        &home,
        &["install", &file("hello.signed.wasm"), "--yes"],
        true,
    )?;
    ward(&home, &["describe", hello], true)?;
    ward(
        &home,
        &["run", "example:hello", "greet", "name=World"],
        true,
    )?;
    ward(
        &home,
        &["run", "example:hello", "divide", "a=84", "b=2", "--json"],
        true,
    )?;
    ward(
        &home,
        &["dev", "run", echo, "run", "--", "echo", "from", "wasi:cli"],
        true,
    )?;

    eprintln!("\nUnsigned and tampered plugins are refused:");
    ward(
        &home,
        &["install", &file("hello.packed.wasm"), "--yes"],
        false,
    )?;
    let mut tampered = std::fs::read(file("hello.signed.wasm"))?;
    let middle = tampered.len() / 2;
    tampered[middle] ^= 1;
    std::fs::write(file("hello.tampered.wasm"), tampered)?;
    ward(
        &home,
        &["install", &file("hello.tampered.wasm"), "--yes"],
        false,
    )?;

    eprintln!("\nHostile plugins are stopped by their limits; ward itself carries on:");
    ward(
        &home,
        &["dev", "run", hostile, "spin", "--timeout", "500ms"],
        false,
    )?;
    ward(
        &home,
        &["dev", "run", hostile, "memory-bomb", "--memory", "32MiB"],
        false,
    )?;
    ward(&home, &["dev", "run", hostile, "read-passwd"], false)?;

    eprintln!("\nEvery decision is in the hash-chained audit log:");
    ward(&home, &["audit"], true)?;
    ward(&home, &["audit", "verify"], true)?;
    eprintln!(
        "\ndemo finished: signed hello installed and ran, unsigned and tampered copies and every hostile command were refused"
    );
    Ok(())
}

fn test() -> anyhow::Result<()> {
    let install = root().join("signing/scripts/install-wasmsign2.sh");
    if install.exists() {
        let mut cmd = Command::new("bash");
        cmd.arg(&install).current_dir(root());
        run(cmd)?;
    }
    // componentize-py and componentize-qjs, which build the Python and JavaScript plugins.
    let mut toolchains = Command::new("bash");
    toolchains
        .arg(root().join("plugins/toolchains/install.sh"))
        .current_dir(root());
    run(toolchains)?;
    let mut cmd = cargo();
    cmd.args(["test", "--workspace", "--no-fail-fast"]);
    run(cmd)
}

fn lint() -> anyhow::Result<()> {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    run(fmt)?;
    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    run(clippy)
}

//! Project tasks, run as `cargo xtask TASK`:
//!
//! - `demo`: build ward and the plugins, then run the hello commands and a refused hostile one.
//! - `test`: install what the tests need (the wasm32-wasip2 target, the wasmsign2 CLI used for
//!   interop tests) and run the whole test suite.
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

fn demo() -> anyhow::Result<()> {
    let mut build = cargo();
    build.args(["build", "-p", "ward-cli", "-p", "ward-fixtures"]);
    run(build)?;
    let home = root().join("target/demo-home");
    let _ = std::fs::remove_dir_all(&home);
    let hello = ward_fixtures::HELLO;
    let hostile = ward_fixtures::HOSTILE;
    let echo = ward_fixtures::CLI_ECHO;
    ward(&home, &["describe", hello], true)?;
    ward(&home, &["dev", "run", hello, "greet", "name=World"], true)?;
    ward(
        &home,
        &["dev", "run", hello, "divide", "a=84", "b=2", "--json"],
        true,
    )?;
    ward(
        &home,
        &["dev", "run", echo, "run", "--", "echo", "from", "wasi:cli"],
        true,
    )?;
    eprintln!("\nHostile plugins are refused; ward itself carries on:");
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
    eprintln!("\ndemo finished: every hello command ran and every hostile one was refused");
    Ok(())
}

fn test() -> anyhow::Result<()> {
    let install = root().join("signing/scripts/install-wasmsign2.sh");
    if install.exists() {
        let mut cmd = Command::new("bash");
        cmd.arg(&install).current_dir(root());
        run(cmd)?;
    }
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

//! Project tasks, run as `cargo xtask TASK`:
//!
//! - `demo`: build ward and the plugins, then run the hello commands and a refused hostile one.
//! - `test`: install what the tests need (the wasm32-wasip2 target, the wasmsign2 CLI used for
//!   interop tests, the Python and JavaScript plugin toolchains) and run the whole test suite.
//! - `ci`: `test`, then `cargo fmt --check` and `cargo clippy -D warnings`.
//! - `fuzz [--seconds N] [TARGET...]`: build the fuzz targets in `fuzz/` (stable toolchain) and run
//!   each for N seconds (default 20) from its seeds; a crash fails the task (`docs/fuzzing.md`).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, bail};

mod fuzz;

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        "demo" => demo(),
        "test" => test(),
        "ci" => test().and_then(|()| lint()),
        "fuzz" => fuzz::fuzz(&std::env::args().skip(2).collect::<Vec<_>>()),
        _ => {
            eprintln!("usage: cargo xtask (demo | test | ci | fuzz [--seconds N] [TARGET...])");
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
        "ward-sign",
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

    agents(&home)?;

    eprintln!("\nEvery decision is in the hash-chained audit log:");
    ward(&home, &["audit"], true)?;
    ward(&home, &["audit", "verify"], true)?;
    eprintln!(
        "\ndemo finished: signed hello installed and ran, an agent ran only what its token allows through the daemon, unsigned and tampered copies and every hostile command were refused"
    );
    Ok(())
}

/// ward's main job: the daemon serves agents on a Unix socket, each with a scoped token.
fn agents(home: &Path) -> anyhow::Result<()> {
    eprintln!(
        "\nThe operator starts the daemon and gives an agent a token for hello's greet only:"
    );
    let bin = root().join("target/debug/ward");
    eprintln!("\n$ ward daemon &");
    let mut daemon = Command::new(&bin)
        .args(["daemon"])
        .env("WARD_HOME", home)
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {} daemon", bin.display()))?;
    let result = agent_calls(home, &bin);
    // SIGTERM: the daemon finishes running calls and exits.
    let _ = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    let status = daemon.wait()?;
    result?;
    if !status.success() {
        bail!("the daemon exited with {status} after SIGTERM");
    }
    Ok(())
}

fn agent_calls(home: &Path, bin: &Path) -> anyhow::Result<()> {
    let socket = home.join("run/agent.sock");
    let started = std::time::Instant::now();
    while !socket.exists() {
        if started.elapsed() > std::time::Duration::from_secs(60) {
            bail!("the daemon did not create {} within 60 s", socket.display());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let args = [
        "token",
        "create",
        "--plugin",
        "example:hello",
        "--command",
        "greet",
        "--rate",
        "10/min",
    ];
    eprintln!("\n$ ward {}", args.join(" "));
    let out = Command::new(bin)
        .args(args)
        .env("WARD_HOME", home)
        .output()?;
    if !out.status.success() {
        bail!(
            "`ward token create` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let token = String::from_utf8(out.stdout)?.trim().to_owned();
    eprintln!(
        "{}…  (shown once; the store keeps only its hash)",
        &token[..token.len().min(8)]
    );

    let call = |body: &str| -> anyhow::Result<String> {
        eprintln!("\nagent -> POST /v1/run {body}");
        let mut stream = std::os::unix::net::UnixStream::connect(&socket)?;
        write!(
            stream,
            "POST /v1/run HTTP/1.1\r\nHost: ward\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply)?;
        let status = reply.lines().next().unwrap_or("").to_owned();
        let json = reply
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or("")
            .trim()
            .to_owned();
        eprintln!("ward  -> {status}\n         {json}");
        Ok(status)
    };
    let ok = call(r#"{"plugin": "example:hello", "command": "greet", "args": {"name": "agent"}}"#)?;
    if !ok.contains(" 200 ") {
        bail!("the agent's allowed call was not answered 200: {ok}");
    }
    let refused =
        call(r#"{"plugin": "example:hello", "command": "divide", "args": {"a": 1, "b": 0}}"#)?;
    if !refused.contains(" 403 ") {
        bail!("the agent's out-of-scope call was not refused with 403: {refused}");
    }
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

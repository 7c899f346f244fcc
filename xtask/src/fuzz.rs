//! `cargo xtask fuzz [--seconds N] [TARGET...]`: builds the fuzz targets in `fuzz/` on the stable
//! toolchain and runs each for a bounded time, starting from its committed seeds.
//!
//! Coverage comes from LLVM's SanitizerCoverage passes, which stable rustc runs when asked with
//! `-C passes` and `-C llvm-args` (no `-Z` flag, no sanitizer); libFuzzer (built from source by
//! the `libfuzzer-sys` crate with the system C++ compiler) reads the counters. Inputs found during
//! a run go to `target/fuzz/corpus/TARGET/`, never into the committed seeds; a crash, a hang or
//! a failed assertion is written to `fuzz/artifacts/TARGET/` and fails the task.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};

use crate::root;

/// Seconds each target runs when `--seconds` is not given.
const DEFAULT_SECONDS: u64 = 20;

/// libFuzzer's per-input time limit: an input taking longer is reported as a hang (a crash).
const INPUT_TIMEOUT_SECONDS: u64 = 25;

/// The stable codegen flags that instrument the build for libFuzzer (what cargo-fuzz passes,
/// minus the sanitizer, which needs nightly).
const RUSTFLAGS: &[&str] = &[
    "-Cpasses=sancov-module",
    "-Cllvm-args=-sanitizer-coverage-level=4",
    "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
    "-Cllvm-args=-sanitizer-coverage-pc-table",
    "-Cllvm-args=-sanitizer-coverage-trace-compares",
    "--cfg",
    "fuzzing",
];

struct Options {
    seconds: u64,
    targets: Vec<String>,
}

fn parse_options(args: &[String], known: &[String]) -> anyhow::Result<Options> {
    let mut seconds = DEFAULT_SECONDS;
    let mut targets = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if let Some(value) = arg.strip_prefix("--seconds=") {
            seconds = parse_seconds(value)?;
        } else if arg == "--seconds" {
            let value = it.next().context("--seconds needs a number of seconds")?;
            seconds = parse_seconds(value)?;
        } else if arg.starts_with('-') {
            bail!("unknown option {arg}; usage: cargo xtask fuzz [--seconds N] [TARGET...]");
        } else if known.contains(arg) {
            targets.push(arg.clone());
        } else {
            bail!(
                "unknown fuzz target '{arg}'; the targets are: {}",
                known.join(", ")
            );
        }
    }
    if targets.is_empty() {
        targets = known.to_vec();
    }
    Ok(Options { seconds, targets })
}

fn parse_seconds(value: &str) -> anyhow::Result<u64> {
    match value.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => bail!("--seconds takes a whole number of seconds above 0, got '{value}'"),
    }
}

/// The `[[bin]]` names in `fuzz/Cargo.toml`: one per target.
fn targets(fuzz_dir: &Path) -> anyhow::Result<Vec<String>> {
    let manifest = fuzz_dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("cannot read {}", manifest.display()))?;
    let mut names = Vec::new();
    let mut in_bin = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin && let Some(value) = line.strip_prefix("name") {
            let name = value
                .trim_start()
                .trim_start_matches('=')
                .trim()
                .trim_matches('"');
            names.push(name.to_owned());
            in_bin = false;
        }
    }
    if names.is_empty() {
        bail!("{} lists no [[bin]] fuzz targets", manifest.display());
    }
    Ok(names)
}

fn host_triple() -> anyhow::Result<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(&rustc)
        .arg("-vV")
        .output()
        .context("cannot run rustc -vV")?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .context("rustc -vV names no host triple")
}

/// What libFuzzer said about one run.
struct Outcome {
    target: String,
    passed: bool,
    executions: Option<u64>,
    per_second: Option<u64>,
    coverage: Option<u64>,
    artifacts: Vec<PathBuf>,
    log: PathBuf,
}

pub(crate) fn fuzz(args: &[String]) -> anyhow::Result<()> {
    let started = Instant::now();
    let root = root();
    let fuzz_dir = root.join("fuzz");
    let known = targets(&fuzz_dir)?;
    let options = parse_options(args, &known)?;
    let target_dir = root.join("target/fuzz");
    let triple = host_triple()?;

    // The fuzz workspace builds ward's crates as path dependencies, so it starts from the root
    // lock file every time: the same versions as the tests, and no second lock file to keep in
    // step when a crate's dependencies change (cargo then only adds the fuzz-only crates and
    // drops what the targets do not use).
    let lock = fuzz_dir.join("Cargo.lock");
    std::fs::copy(root.join("Cargo.lock"), &lock)
        .with_context(|| format!("cannot write {}", lock.display()))?;
    let mut build = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    build
        .current_dir(&fuzz_dir)
        .args(["build", "--release", "--target", &triple])
        .args(options.targets.iter().flat_map(|t| ["--bin", t.as_str()]))
        .env("CARGO_TARGET_DIR", &target_dir)
        // With `--target`, these flags reach the targets and their dependencies but not build
        // scripts or proc macros (which run on the host and must not be instrumented).
        .env("RUSTFLAGS", RUSTFLAGS.join(" "))
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER");
    crate::run(build)?;
    let built = started.elapsed();
    eprintln!("fuzz targets built in {:.0?}", built);

    let bin_dir = target_dir.join(&triple).join("release");
    let mut outcomes = Vec::new();
    for target in &options.targets {
        outcomes.push(run_target(
            &fuzz_dir,
            &target_dir,
            &bin_dir,
            target,
            options.seconds,
        )?);
    }

    eprintln!(
        "\n{:<20} {:>12} {:>10} {:>8}  result",
        "target", "executions", "exec/s", "cov"
    );
    let show = |n: Option<u64>| n.map_or_else(|| "?".to_owned(), |n| n.to_string());
    for o in &outcomes {
        eprintln!(
            "{:<20} {:>12} {:>10} {:>8}  {}",
            o.target,
            show(o.executions),
            show(o.per_second),
            show(o.coverage),
            if o.passed { "ok" } else { "FAILED" }
        );
    }
    eprintln!(
        "fuzz: {} target(s), {} s each, {:.0?} in all ({:.0?} building)",
        outcomes.len(),
        options.seconds,
        started.elapsed(),
        built
    );
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.passed).collect();
    if failed.is_empty() {
        return Ok(());
    }
    for o in &failed {
        eprintln!("\n{} failed; log: {}", o.target, o.log.display());
        for a in &o.artifacts {
            eprintln!(
                "  input: {} (reproduce: {} {})",
                a.display(),
                bin_dir.join(&o.target).display(),
                a.display()
            );
        }
    }
    bail!(
        "{} fuzz target(s) failed: {}; turn each input into a regression test (docs/fuzzing.md)",
        failed.len(),
        failed
            .iter()
            .map(|o| o.target.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn run_target(
    fuzz_dir: &Path,
    target_dir: &Path,
    bin_dir: &Path,
    target: &str,
    seconds: u64,
) -> anyhow::Result<Outcome> {
    let seeds = fuzz_dir.join("corpus").join(target);
    let work = target_dir.join("corpus").join(target);
    let artifacts = fuzz_dir.join("artifacts").join(target);
    let tmp = target_dir.join("tmp").join(target);
    let logs = target_dir.join("logs");
    for dir in [&work, &artifacts, &logs] {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let before = list(&artifacts);
    let log = logs.join(format!("{target}.log"));
    let log_file =
        std::fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;

    let mut cmd = Command::new(bin_dir.join(target));
    // libFuzzer wants the artifact prefix to end with a separator to treat it as a directory.
    let prefix = format!("{}/", artifacts.display());
    cmd.arg(format!("-max_total_time={seconds}"))
        .arg(format!("-timeout={INPUT_TIMEOUT_SECONDS}"))
        .arg("-rss_limit_mb=4096")
        .arg("-print_final_stats=1")
        .arg(format!("-artifact_prefix={prefix}"))
        .arg(&work)
        .env("WARD_FUZZ_TMP", &tmp)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file);
    if seeds.is_dir() {
        cmd.arg(&seeds);
    }
    eprintln!("fuzz {target}: {seconds} s");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start the fuzz target {target}"))?;
    let _ = std::fs::remove_dir_all(&tmp);

    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let stat = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let coverage = text
        .lines()
        .filter_map(|l| l.split_once(" cov: "))
        .filter_map(|(_, rest)| rest.split_whitespace().next()?.parse::<u64>().ok())
        .next_back();
    let new_artifacts: Vec<PathBuf> = list(&artifacts)
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    let passed = status.success() && new_artifacts.is_empty();
    if !passed {
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(40)..];
        eprintln!("fuzz {target}: {status}\n{}", tail.join("\n"));
    }
    Ok(Outcome {
        target: target.to_owned(),
        passed,
        executions: stat("stat::number_of_executed_units:"),
        per_second: stat("stat::average_exec_per_sec:"),
        coverage,
        artifacts: new_artifacts,
        log,
    })
}

fn list(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

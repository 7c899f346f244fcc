//! What a ward call costs next to its two neighbours, measured in one run:
//!
//! - (i) **floor**: raw wasmtime with ward's engine settings and linker: a fresh
//!   `Store<ward_link::State>` set up like ward's (limiter, fuel, epoch deadline), instantiate
//!   from an `InstancePre`, call `greet` through a `TypedFunc<(String,), (String,)>`, drop.
//! - (i-val) the same through `Func::call_async` with `Val`s, as ward calls it: this splits
//!   (ii) - (i) into "dynamic values" and "ward's own work".
//! - (ii) **ward**: `Runtime::call` from a JSON request to a JSON result (argument checking,
//!   JSON <-> `Val` conversion, result bounding, output capture, bookkeeping).
//! - (iii) **native**: spawn and wait for an equivalent native program (a tiny Rust binary built
//!   by this bench with `rustc -O`), via `Command::output`.
//!
//! The kinds are interleaved batch by batch so that noise from a shared machine hits them
//! alike; each batch gives one per-iteration sample, and the report shows the median and p90 of
//! those samples and ratios of the medians. `cargo bench -p ward-runtime --bench call` prints a
//! markdown table and rewrites its section of `docs/benchmarks.md`. Run without `--bench` (as
//! `cargo test --benches` does) it checks that each kind works, once, and writes nothing.
#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use ward_link::State;
use ward_runtime::{EPOCH_TICK, Grants, Limits, Runtime, RuntimeOptions};
use wasmtime::Store;
use wasmtime::component::{Component, ComponentExportIndex, InstancePre, TypedFunc, Val};

/// Wall-clock time each batch aims at; long enough to dwarf timer overhead, short enough
/// that many batches fit in a run and interleave finely.
const BATCH_TARGET: Duration = Duration::from_millis(20);
/// Batches of each kind in a full run.
const ROUNDS: usize = 60;
/// Warm-up time per kind before calibration.
const WARM_UP: Duration = Duration::from_millis(500);

const START: &str = "<!-- runtime-bench:start -->";
const END: &str = "<!-- runtime-bench:end -->";

const NATIVE_MAIN: &str = r#"fn main() {
    let name = std::env::args().nth(1).unwrap_or_default();
    println!("Hello, {name}!");
}
"#;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Floor,
    FloorVal,
    Ward,
    Native,
}

const KINDS: [Kind; 4] = [Kind::Floor, Kind::FloorVal, Kind::Ward, Kind::Native];

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Floor => "(i) wasmtime floor: Store + instantiate + TypedFunc call + drop",
            Kind::FloorVal => "(i-val) same, Func::call_async with Vals",
            Kind::Ward => "(ii) ward: Runtime::call, JSON in, JSON out",
            Kind::Native => "(iii) native: fork+exec+wait of a Rust binary",
        }
    }
}

struct Bench {
    runtime: Runtime,
    plugin: std::sync::Arc<ward_runtime::Plugin>,
    pre: InstancePre<State>,
    greet: ComponentExportIndex,
    limits: Limits,
    grants: Grants,
    args: serde_json::Value,
    native: PathBuf,
}

impl Bench {
    /// A store set up exactly as `Runtime::store` sets one up for an unmetered call.
    fn store(&self) -> Store<State> {
        let mut store = Store::new(
            self.runtime.engine(),
            State::new("hello", &self.limits, &self.grants).unwrap(),
        );
        store.limiter(|state| state.limiter());
        store
            .set_fuel(self.limits.fuel.unwrap_or(u64::MAX))
            .unwrap();
        let ticks = self
            .limits
            .timeout
            .as_nanos()
            .div_ceil(EPOCH_TICK.as_nanos());
        store.set_epoch_deadline(u64::try_from(ticks).unwrap().max(1));
        store.epoch_deadline_trap();
        store
    }

    async fn floor(&self) -> String {
        let mut store = self.store();
        let instance = self.pre.instantiate_async(&mut store).await.unwrap();
        let greet: TypedFunc<(String,), (String,)> =
            instance.get_typed_func(&mut store, self.greet).unwrap();
        let (out,) = greet
            .call_async(&mut store, ("World".to_owned(),))
            .await
            .unwrap();
        out
    }

    async fn floor_val(&self) -> String {
        let mut store = self.store();
        let instance = self.pre.instantiate_async(&mut store).await.unwrap();
        let greet = instance.get_func(&mut store, self.greet).unwrap();
        let mut results = [Val::Bool(false)];
        greet
            .call_async(&mut store, &[Val::String("World".into())], &mut results)
            .await
            .unwrap();
        match results {
            [Val::String(s)] => s,
            _ => panic!("greet returned something other than a string"),
        }
    }

    async fn ward(&self) -> String {
        let out = self
            .runtime
            .call(
                &self.plugin,
                "greet",
                &self.args,
                &self.limits,
                &self.grants,
            )
            .await
            .unwrap();
        match out.result {
            serde_json::Value::String(s) => s,
            other => panic!("greet returned {other}"),
        }
    }

    fn native(&self) -> String {
        let out = Command::new(&self.native).arg("World").output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().trim_end().to_owned()
    }

    async fn once(&self, kind: Kind) -> String {
        match kind {
            Kind::Floor => self.floor().await,
            Kind::FloorVal => self.floor_val().await,
            Kind::Ward => self.ward().await,
            Kind::Native => self.native(),
        }
    }

    /// Runs `n` iterations of `kind` and returns the wall time per iteration.
    async fn batch(&self, kind: Kind, n: u32) -> Duration {
        let started = Instant::now();
        for _ in 0..n {
            std::hint::black_box(self.once(kind).await);
        }
        started.elapsed() / n
    }
}

/// Compiles the native equivalent of `hello` with `rustc -O` into `dir`.
fn build_native(dir: &Path) -> PathBuf {
    let src = dir.join("main.rs");
    std::fs::write(&src, NATIVE_MAIN).unwrap();
    let bin = dir.join("hello-native");
    let status = Command::new(rustc())
        .arg("-O")
        .arg("--edition=2021")
        .arg(&src)
        .arg("-o")
        .arg(&bin)
        .status()
        .unwrap();
    assert!(status.success(), "rustc could not build the native program");
    bin
}

fn rustc() -> String {
    std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into())
}

struct Stats {
    median: Duration,
    p90: Duration,
    batch: u32,
}

fn stats(samples: &mut [Duration], batch: u32) -> Stats {
    samples.sort();
    let at =
        |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1];
    Stats {
        median: at(0.5),
        p90: at(0.9),
        batch,
    }
}

fn median_f64(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn fmt_us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn command_text(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let wall = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let bench = setup(tmp.path());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    for kind in KINDS {
        assert_eq!(rt.block_on(bench.once(kind)), "Hello, World!");
    }
    if !full {
        println!("call bench: every kind works (run with `cargo bench` to measure)");
        return;
    }

    let measuring = Instant::now();
    // Warm up, then size each kind's batch to about BATCH_TARGET.
    let mut sizes = [0u32; KINDS.len()];
    for (i, kind) in KINDS.into_iter().enumerate() {
        let started = Instant::now();
        let mut n = 0u32;
        while started.elapsed() < WARM_UP {
            rt.block_on(bench.once(kind));
            n += 1;
        }
        let per = started.elapsed() / n;
        sizes[i] = (BATCH_TARGET.as_nanos() / per.as_nanos().max(1)).clamp(1, 100_000) as u32;
    }

    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(ROUNDS); KINDS.len()];
    for round in 0..ROUNDS {
        // Rotate the order each round so that no kind always follows the same one.
        for k in 0..KINDS.len() {
            let i = (k + round) % KINDS.len();
            let per = rt.block_on(bench.batch(KINDS[i], sizes[i]));
            samples[i].push(per);
        }
    }
    let elapsed = measuring.elapsed();

    let idx = |kind: Kind| KINDS.iter().position(|k| *k == kind).unwrap();
    // Ratios of paired batches (the same round), a check on the ratio of medians.
    let paired = |a: Kind, b: Kind| {
        let mut r: Vec<f64> = samples[idx(a)]
            .iter()
            .zip(&samples[idx(b)])
            .map(|(x, y)| x.as_secs_f64() / y.as_secs_f64())
            .collect();
        median_f64(&mut r)
    };
    let ward_floor_paired = paired(Kind::Ward, Kind::Floor);
    let native_ward_paired = paired(Kind::Native, Kind::Ward);
    let val_floor_paired = paired(Kind::FloorVal, Kind::Floor);
    let stats: Vec<Stats> = samples
        .iter_mut()
        .zip(sizes)
        .map(|(s, n)| stats(s, n))
        .collect();
    let med = |kind: Kind| stats[idx(kind)].median.as_secs_f64();
    let ward_floor = med(Kind::Ward) / med(Kind::Floor);
    let native_ward = med(Kind::Native) / med(Kind::Ward);
    let val_floor = med(Kind::FloorVal) / med(Kind::Floor);

    let mut md = String::new();
    writeln!(md, "{START}").unwrap();
    writeln!(md, "## Runtime call: wasmtime floor, ward, native process").unwrap();
    writeln!(md).unwrap();
    writeln!(
        md,
        "Written by `cargo bench -p ward-runtime --bench call` (`host/ward-runtime/benches/call.rs`); \
         do not edit by hand."
    )
    .unwrap();
    writeln!(md).unwrap();
    writeln!(
        md,
        "- date: {}",
        command_text("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
    )
    .unwrap();
    writeln!(
        md,
        "- machine: {} cores (`nproc`), {}, Linux {}",
        command_text("nproc", &[]),
        cpu_model(),
        command_text("uname", &["-r"])
    )
    .unwrap();
    writeln!(md, "- rustc: {}", command_text(&rustc(), &["-V"])).unwrap();
    writeln!(
        md,
        "- method: {ROUNDS} batches of each kind, interleaved (order rotated every round), \
         each batch ~{} ms after {} ms of warm-up; a sample is a batch's time per call; \
         {:.1} s of measuring, {:.1} s with setup (compiling `hello` and the native program)",
        BATCH_TARGET.as_millis(),
        WARM_UP.as_millis(),
        elapsed.as_secs_f64(),
        wall.elapsed().as_secs_f64()
    )
    .unwrap();
    writeln!(
        md,
        "- plugin: `hello` (`greet(name: string) -> string`, `{{\"name\": \"World\"}}` -> \
         `\"Hello, World!\"`), default limits (unmetered fuel, 5 s timeout), no grants"
    )
    .unwrap();
    writeln!(md).unwrap();
    writeln!(
        md,
        "| what is timed, per call | median | p90 | calls per batch |"
    )
    .unwrap();
    writeln!(md, "|---|---:|---:|---:|").unwrap();
    for (kind, s) in KINDS.iter().zip(&stats) {
        writeln!(
            md,
            "| {} | {} | {} | {} |",
            kind.label(),
            fmt_us(s.median),
            fmt_us(s.p90),
            s.batch
        )
        .unwrap();
    }
    writeln!(md).unwrap();
    let verdict = |ok: bool| if ok { "met" } else { "**not met**" };
    writeln!(
        md,
        "| ratio (of medians) | value | paired batches | target |"
    )
    .unwrap();
    writeln!(md, "|---|---:|---:|---|").unwrap();
    writeln!(
        md,
        "| (ii) / (i): ward over the wasmtime floor | {ward_floor:.2} | {ward_floor_paired:.2} | <= 1.5: {} |",
        verdict(ward_floor <= 1.5)
    )
    .unwrap();
    writeln!(
        md,
        "| (iii) / (ii): native process over ward | {native_ward:.1} | {native_ward_paired:.1} | >= 10: {} |",
        verdict(native_ward >= 10.0)
    )
    .unwrap();
    writeln!(
        md,
        "| (i-val) / (i): dynamic `Val`s over `TypedFunc` | {val_floor:.2} | {val_floor_paired:.2} | (information) |"
    )
    .unwrap();
    writeln!(md, "{END}").unwrap();

    print!("{md}");
    let doc = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs")
        .canonicalize()
        .unwrap()
        .join("benchmarks.md");
    update_doc(&doc, &md);
    eprintln!("updated {}", doc.display());
}

fn setup(tmp: &Path) -> Bench {
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let plugin = runtime.load_file(Path::new(ward_fixtures::HELLO)).unwrap();
    // The floor gets its own pre-instantiation of the same component, on the same engine and
    // through the same linker as ward's.
    let component = Component::from_file(runtime.engine(), ward_fixtures::HELLO).unwrap();
    let linker = ward_link::linker(runtime.engine()).unwrap();
    let pre = linker.instantiate_pre(&component).unwrap();
    let greet = component.get_export_index(None, "greet").unwrap();
    Bench {
        runtime,
        plugin,
        pre,
        greet,
        limits: Limits::default(),
        grants: Grants::default(),
        args: json!({"name": "World"}),
        native: build_native(tmp),
    }
}

const HEADER: &str = "# Benchmarks

Numbers here are measured on a shared, noisy machine, so read them as ratios between
things measured in the same run (interleaved, so noise hits them alike), not as absolute
timings. Each section is rewritten by the benchmark named in it; rerun the call benchmark
with:

```sh
cargo bench -p ward-runtime --bench call
```
";

/// Replaces the text between the markers in `path`, or appends it (creating the file with its
/// title and introduction when needed), leaving every other section alone.
fn update_doc(path: &Path, section: &str) {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let new = match (old.find(START), old.find(END)) {
        (Some(s), Some(e)) if s < e => {
            let after = &old[e + END.len()..];
            let after = after.strip_prefix('\n').unwrap_or(after);
            format!("{}{section}{after}", &old[..s])
        }
        _ if old.trim().is_empty() => format!("{HEADER}\n{section}"),
        _ => format!("{}\n\n{section}", old.trim_end()),
    };
    std::fs::write(path, new).unwrap();
}

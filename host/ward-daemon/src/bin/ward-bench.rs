//! `ward-bench`: a load generator for wardd over its Unix agent socket.
//!
//! It installs the given component (the `hello` example) into a fresh temporary home, starts the
//! daemon in this process, and for each concurrency level runs as many clients as the level, each
//! on its own keep-alive connection, calling `greet` for a fixed time. Every call is audited
//! durably before its reply, as in production. In the same run it measures fork+exec+wait of a
//! native program doing the same job (`/bin/echo`), at the same concurrency levels. It prints a
//! Markdown section with p50/p99 latency, throughput and the ratios between the two.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use hyper::{Method, StatusCode};
use serde_json::json;
use ward_daemon::client::Connection;
use ward_store::{BlobDigest, InstallRecord, NewToken, Store};

/// Measure wardd's latency and throughput over its agent socket.
#[derive(Debug, Parser)]
#[command(name = "ward-bench")]
struct Args {
    /// The `hello` component to call (for example target/wasm/wasm32-wasip2/release/hello.wasm)
    #[arg(long, value_name = "WASM")]
    component: PathBuf,
    /// Concurrency levels, comma-separated
    #[arg(long, default_value = "1,16,64", value_delimiter = ',')]
    levels: Vec<usize>,
    /// Seconds measured per level and kind
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// The native program forked and executed for comparison
    #[arg(long, default_value = "/bin/echo")]
    native: PathBuf,
}

const PLUGIN: &str = "example:hello";

struct Stats {
    calls: usize,
    p50: Duration,
    p99: Duration,
    per_sec: f64,
}

fn stats(mut lat: Vec<Duration>, elapsed: Duration) -> Stats {
    lat.sort();
    let at = |q: f64| {
        lat.get(((lat.len() as f64 * q) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Stats {
        calls: lat.len(),
        p50: at(0.50),
        p99: at(0.99),
        per_sec: lat.len() as f64 / elapsed.as_secs_f64(),
    }
}

async fn load_ward(
    socket: PathBuf,
    token: String,
    clients: usize,
    run_for: Duration,
) -> anyhow::Result<Stats> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..clients {
        let socket = socket.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = Connection::open(&socket).await?;
            let body = json!({ "plugin": PLUGIN, "command": "greet", "args": { "name": format!("c{i}") } });
            let mut lat = Vec::new();
            while started.elapsed() < run_for {
                let t = Instant::now();
                let (status, reply) = c
                    .request(Method::POST, "/v1/run", Some(&token), Some(&body))
                    .await?;
                if status != StatusCode::OK {
                    bail!("wardd answered {status}: {reply}");
                }
                lat.push(t.elapsed());
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(stats(all, started.elapsed()))
}

fn load_native(
    program: &std::path::Path,
    clients: usize,
    run_for: Duration,
) -> anyhow::Result<Stats> {
    let started = Instant::now();
    let program = Arc::new(program.to_path_buf());
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let program = program.clone();
            std::thread::spawn(move || -> anyhow::Result<Vec<Duration>> {
                let mut lat = Vec::new();
                while started.elapsed() < run_for {
                    let t = Instant::now();
                    let out = std::process::Command::new(program.as_path())
                        .arg("Hello, World!")
                        .output()
                        .context("cannot run the native program")?;
                    if !out.status.success() {
                        bail!("the native program failed");
                    }
                    lat.push(t.elapsed());
                }
                Ok(lat)
            })
        })
        .collect();
    let mut all = Vec::new();
    for h in handles {
        all.extend(
            h.join()
                .map_err(|_| anyhow::anyhow!("a native client panicked"))??,
        );
    }
    Ok(stats(all, started.elapsed()))
}

/// The durability floor: 4 KiB written in place and fsynced, as a commit to SQLite's write-ahead
/// log does, in the benchmark's own directory, `rounds` times.
fn fsync_floor(dir: &std::path::Path, rounds: usize) -> anyhow::Result<Stats> {
    use std::io::{Seek, SeekFrom, Write};
    const SLOTS: u64 = 256;
    let path = dir.join("fsync-floor");
    let mut f = std::fs::File::create(&path).context("cannot create the fsync probe")?;
    f.write_all(&vec![0u8; (SLOTS * 4096) as usize])?;
    f.sync_all()?;
    let page = [0x5au8; 4096];
    let started = Instant::now();
    let mut lat = Vec::with_capacity(rounds);
    for i in 0..rounds {
        f.seek(SeekFrom::Start((i as u64 % SLOTS) * 4096))?;
        f.write_all(&page)?;
        let t = Instant::now();
        f.sync_all()?;
        lat.push(t.elapsed());
    }
    drop(f);
    std::fs::remove_file(&path)?;
    Ok(stats(lat, started.elapsed()))
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bytes = std::fs::read(&args.component)
        .with_context(|| format!("cannot read {}", args.component.display()))?;
    let tmp = tempfile::tempdir().context("cannot create a temporary home")?;
    let home = tmp.path().join("ward");
    let token = {
        let mut store = Store::open(&home)?;
        let blob = store.put_blob(&bytes)?;
        store.install(&InstallRecord {
            name: PLUGIN.into(),
            version: "0.1.0".into(),
            digest: format!("sha256:{}", BlobDigest::of(&bytes)),
            blob,
            manifest_toml: format!(
                "name = \"{PLUGIN}\"\nversion = \"0.1.0\"\ndescription = \"bench\"\n"
            ),
            signers: json!([]),
            grants: json!([]),
            summary: String::new(),
            allow_downgrade: false,
        })?;
        store
            .token_create(&NewToken {
                plugin: PLUGIN.into(),
                ..NewToken::default()
            })?
            .token
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut config = ward_daemon::DaemonConfig::new(&home);
    config.limits.max_calls_per_token = 1024;
    let daemon = rt.block_on(ward_daemon::start(config))?;
    let socket = daemon.agent_socket().to_path_buf();
    let run_for = Duration::from_secs(args.seconds);
    // Warm-up: compile and cache the component, fill the pools.
    rt.block_on(load_ward(
        socket.clone(),
        token.clone(),
        4,
        Duration::from_millis(500),
    ))?;

    let floor = fsync_floor(tmp.path(), 2000)?;
    let mut rows = Vec::new();
    for &level in &args.levels {
        let ward = rt.block_on(load_ward(socket.clone(), token.clone(), level, run_for))?;
        let native = load_native(&args.native, level, run_for)?;
        rows.push((level, ward, native));
    }
    rt.block_on(daemon.shutdown());
    let store = Store::open(&home)?;
    let report = store
        .audit_verify()
        .context("audit verify after the benchmark")?;

    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("## Daemon: `hello` over the agent socket vs fork+exec\n");
    println!(
        "Written by `ward-bench` (`host/ward-daemon/src/bin/ward-bench.rs`); do not edit by hand.\n"
    );
    println!(
        "- date: {date}; {cores} cores; {} s per level and kind",
        args.seconds
    );
    println!(
        "- ward: in-process wardd, one keep-alive HTTP/1.1 connection per client on `agent.sock`, `POST /v1/run` `greet` with a bearer token; every call audited durably (group commit, `synchronous=FULL`) before its reply; {} audit rows verified after the run",
        report.rows
    );
    println!(
        "- native: fork+exec+wait of `{} \"Hello, World!\"` from as many threads as clients",
        args.native.display()
    );
    println!(
        "- durability floor, same directory and run: 4 KiB rewritten in place and fsynced (what one commit to the write-ahead log costs the disk): p50 {}, p99 {}\n",
        us(floor.p50),
        us(floor.p99)
    );
    println!(
        "| clients | ward p50 | ward p99 | ward calls/s | native p50 | native p99 | native calls/s | p50 native/ward | throughput ward/native | ward p50 / fsync p50 |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (level, w, n) in &rows {
        println!(
            "| {level} | {} | {} | {:.0} | {} | {} | {:.0} | {:.2} | {:.2} | {:.1} |",
            us(w.p50),
            us(w.p99),
            w.per_sec,
            us(n.p50),
            us(n.p99),
            n.per_sec,
            n.p50.as_secs_f64() / w.p50.as_secs_f64().max(1e-9),
            w.per_sec / n.per_sec.max(1e-9),
            w.p50.as_secs_f64() / floor.p50.as_secs_f64().max(1e-9),
        );
        eprintln!(
            "clients {level}: ward {} calls, native {} calls",
            w.calls, n.calls
        );
    }
    Ok(())
}

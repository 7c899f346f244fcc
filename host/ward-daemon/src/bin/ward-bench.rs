//! `ward-bench`: a load generator for wardd over its Unix agent socket.
//!
//! It installs the given component (the `hello` example) into a fresh temporary home, starts the
//! daemon in this process, and for each concurrency level runs as many clients as the level, each
//! on its own keep-alive connection, calling `greet` for a fixed time. Every call is audited
//! durably before its reply, as in production. In the same run it measures fork+exec+wait of a
//! native program doing the same job (`/bin/echo`), at the same concurrency levels. It prints a
//! Markdown section with p50/p99 latency, throughput and the ratios between the two.
//!
//! With `--hostile`, a second section measures the daemon under attack: the operator's
//! `GET /v1/status` and one agent's `greet`, first on an idle daemon, then while an agent keeps
//! every call slot its token allows busy with guests spinning in pure compute, then while
//! connections that send nothing fill the agent socket's budget; each against the idle
//! baseline of the same run.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use hyper::{Method, StatusCode};
use serde_json::json;
use ward_daemon::client::Connection;
use ward_store::{InstallRecord, NewToken, Store};

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
    /// The `hostile` component: also measure the daemon under attack (spinning guests, a flood
    /// of silent connections)
    #[arg(long, value_name = "WASM")]
    hostile: Option<PathBuf>,
    /// Write the sections into this Markdown file (docs/benchmarks.md) in place of the ones it
    /// has, instead of printing them
    #[arg(long, value_name = "FILE")]
    update: Option<PathBuf>,
}

/// Appends a line to a section.
macro_rules! say {
    ($buf:ident, $($t:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($buf, $($t)*);
    }};
}

/// `text` with the part from `start` up to `end` (or the next `## ` heading, or the end)
/// replaced by `section`; appended when `start` is not found.
fn replace_section(text: &str, start: &str, end: Option<&str>, section: &str) -> String {
    let Some(from) = text.find(start) else {
        return format!(
            "{}\n{section}",
            text.trim_end_matches('\n').to_owned() + "\n"
        );
    };
    let rest = &text[from + start.len()..];
    let to = end
        .and_then(|e| rest.find(e))
        .or_else(|| rest.find("\n## ").map(|i| i + 1))
        .map_or(text.len(), |i| from + start.len() + i);
    format!("{}{section}\n{}", &text[..from], &text[to..])
}

/// Spinning clients in the attack: as many as the daemon runs calls at once, so that every call
/// slot is busy with a guest spinning in pure compute.
const ATTACK_CLIENTS: usize = ward_daemon::MAX_INFLIGHT_CALLS;

/// Silent connections in the flood: the agent socket's whole budget.
const FLOOD_CONNECTIONS: usize = ward_daemon::MAX_CONNECTIONS;

const PLUGIN: &str = "example:hello";
const HOSTILE: &str = "example:hostile";

/// Packs `bytes` with `manifest`, signs them with `key` and installs them.
fn install(
    store: &mut Store,
    key: &ward_signing::SecretKey,
    bytes: &[u8],
    manifest: &str,
) -> anyhow::Result<()> {
    let parsed = ward_manifest::Manifest::parse(manifest.as_bytes())?;
    let packed = ward_manifest::embed(bytes, manifest.as_bytes())?;
    let signed = ward_signing::sign(&packed, key)?;
    let digest = ward_signing::digest(&signed)?.to_string();
    let blob = store.put_blob(&signed)?;
    store.install(&InstallRecord {
        name: parsed.name.to_string(),
        version: parsed.version.to_string(),
        digest,
        blob,
        manifest_toml: manifest.to_owned(),
        signers: json!([{ "key_id": key.public_key().key_id().to_string(), "labels": ["bench"] }]),
        grants: json!([]),
        summary: String::new(),
        allow_downgrade: false,
    })?;
    Ok(())
}

fn new_token(store: &mut Store, plugin: &str) -> anyhow::Result<String> {
    Ok(store
        .token_create(&NewToken {
            plugin: plugin.into(),
            ..NewToken::default()
        })?
        .token)
}

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

/// Sequential requests of `path` on `socket` (one keep-alive connection) for `run_for`.
async fn probe(
    socket: PathBuf,
    method: Method,
    path: &'static str,
    token: Option<String>,
    body: Option<serde_json::Value>,
    run_for: Duration,
) -> anyhow::Result<Stats> {
    let started = Instant::now();
    let mut c = Connection::open(&socket).await?;
    let mut lat = Vec::new();
    while started.elapsed() < run_for {
        let t = Instant::now();
        let (status, reply) = c
            .request(method.clone(), path, token.as_deref(), body.as_ref())
            .await?;
        if status != StatusCode::OK {
            bail!("wardd answered {status} to {path}: {reply}");
        }
        lat.push(t.elapsed());
    }
    Ok(stats(lat, started.elapsed()))
}

/// The operator's status and one agent's greet, measured one after the other for `run_for` each.
async fn probes(
    operator: &std::path::Path,
    agent: &std::path::Path,
    token: &str,
    run_for: Duration,
) -> anyhow::Result<(Stats, Stats)> {
    let status = probe(
        operator.to_path_buf(),
        Method::GET,
        "/v1/status",
        None,
        None,
        run_for,
    )
    .await?;
    let body = json!({ "plugin": PLUGIN, "command": "greet", "args": { "name": "probe" } });
    let greet = probe(
        agent.to_path_buf(),
        Method::POST,
        "/v1/run",
        Some(token.to_owned()),
        Some(body),
        run_for,
    )
    .await?;
    Ok((status, greet))
}

/// Keeps `clients` calls of `spin` running until `stop` is set; returns how many ended (each at
/// its time limit).
async fn spinners(
    socket: PathBuf,
    token: String,
    clients: usize,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> anyhow::Result<usize> {
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (socket, token, stop) = (socket.clone(), token.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = Connection::open(&socket).await?;
            let body = json!({ "plugin": HOSTILE, "command": "spin", "args": {} });
            let mut ended = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (status, reply) = c
                    .request(Method::POST, "/v1/run", Some(&token), Some(&body))
                    .await?;
                if status != StatusCode::UNPROCESSABLE_ENTITY {
                    bail!("a spinning call ended with {status}: {reply}");
                }
                ended += 1;
            }
            Ok::<_, anyhow::Error>(ended)
        }));
    }
    let mut n = 0;
    for t in tasks {
        n += t.await??;
    }
    Ok(n)
}

/// Holds `n` connections to `socket` that send nothing, reopening each as the daemon closes it,
/// until `stop` is set.
async fn silent_flood(socket: PathBuf, n: usize, stop: Arc<std::sync::atomic::AtomicBool>) {
    use tokio::io::AsyncReadExt as _;
    let mut tasks = Vec::new();
    for _ in 0..n {
        let (socket, stop) = (socket.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok(mut s) = tokio::net::UnixStream::connect(&socket).await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let mut buf = [0u8; 16];
                let _ = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bytes = std::fs::read(&args.component)
        .with_context(|| format!("cannot read {}", args.component.display()))?;
    let tmp = tempfile::tempdir().context("cannot create a temporary home")?;
    let home = tmp.path().join("ward");
    // Every load authorizes: the components are packed and signed by a key the home trusts, as
    // `ward install` would leave them.
    let key = ward_signing::SecretKey::generate()?;
    let mut store = Store::open(&home)?;
    let public = key.public_key();
    store.trust_add(
        &public.key_id().to_string(),
        &public.to_openssh(),
        "bench",
        vec!["*".into()],
        None,
        None,
    )?;
    let manifest = format!("name = \"{PLUGIN}\"\nversion = \"0.1.0\"\ndescription = \"bench\"\n");
    install(&mut store, &key, &bytes, &manifest)?;
    let token = new_token(&mut store, PLUGIN)?;
    let attacker = match &args.hostile {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let manifest = format!(
                "name = \"{HOSTILE}\"\nversion = \"0.1.0\"\ndescription = \"bench\"\n[limits]\ntimeout = \"1s\"\n"
            );
            install(&mut store, &key, &bytes, &manifest)?;
            Some(new_token(&mut store, HOSTILE)?)
        }
        None => None,
    };
    drop(store);
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
    let attack = match &attacker {
        Some(bad) => Some(rt.block_on(async {
            let operator = daemon.operator_socket().to_path_buf();
            let idle = probes(&operator, &socket, &token, run_for).await?;
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let spin = tokio::spawn(spinners(
                socket.clone(),
                bad.clone(),
                ATTACK_CLIENTS,
                stop.clone(),
            ));
            // Let every slot fill.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let spinning = probes(&operator, &socket, &token, run_for).await?;
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let spins = spin.await??;
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let flood = tokio::spawn(silent_flood(
                socket.clone(),
                FLOOD_CONNECTIONS,
                stop.clone(),
            ));
            tokio::time::sleep(Duration::from_millis(500)).await;
            let flooded = probe(
                operator.clone(),
                Method::GET,
                "/v1/status",
                None,
                None,
                run_for,
            )
            .await?;
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let _ = flood.await;
            Ok::<_, anyhow::Error>((idle, spinning, spins, flooded))
        })?),
        None => None,
    };
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
    let mut md = String::new();
    say!(
        md,
        "## Daemon: `hello` over the agent socket vs fork+exec\n"
    );
    say!(
        md,
        "Written by `ward-bench` (`host/ward-daemon/src/bin/ward-bench.rs`); do not edit by hand.\n"
    );
    say!(
        md,
        "- date: {date}; {cores} cores; {} s per level and kind",
        args.seconds
    );
    say!(
        md,
        "- ward: in-process wardd, one keep-alive HTTP/1.1 connection per client on `agent.sock`, `POST /v1/run` `greet` with a bearer token; every call audited durably (group commit, `synchronous=FULL`) before its reply; {} audit rows verified after the run",
        report.rows
    );
    say!(
        md,
        "- native: fork+exec+wait of `{} \"Hello, World!\"` from as many threads as clients",
        args.native.display()
    );
    say!(
        md,
        "- durability floor, same directory and run: 4 KiB rewritten in place and fsynced (what one commit to the write-ahead log costs the disk): p50 {}, p99 {}\n",
        us(floor.p50),
        us(floor.p99)
    );
    say!(
        md,
        "| clients | ward p50 | ward p99 | ward calls/s | native p50 | native p99 | native calls/s | p50 native/ward | throughput ward/native | ward p50 / fsync p50 |"
    );
    say!(md, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (level, w, n) in &rows {
        say!(
            md,
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
    let mut atk = String::new();
    if let Some(((idle_status, idle_greet), (spin_status, spin_greet), spins, flooded)) = attack {
        say!(atk, "## Daemon under attack\n");
        say!(
            atk,
            "Written by `ward-bench --hostile` in the same run as the section above; do not edit by hand.\n"
        );
        say!(
            atk,
            "- spinning: {ATTACK_CLIENTS} agent clients keep every call slot (`max_inflight_calls`) busy with `hostile`'s `spin`, a guest looping in pure compute until its 1 s limit ({spins} such calls ended during the run)"
        );
        say!(
            atk,
            "- silent flood: {FLOOD_CONNECTIONS} connections to `agent.sock` (its whole budget) that send nothing, each reopened when the daemon closes it"
        );
        say!(
            atk,
            "- probes, one request at a time on a keep-alive connection, {} s each: the operator's `GET /v1/status`, and one agent's `greet` (which waits for a call slot like any call)\n",
            args.seconds
        );
        say!(
            atk,
            "| scenario | operator status p50 | p99 | p50 vs idle | agent greet p50 | p99 | p50 vs idle |"
        );
        say!(atk, "|---|---:|---:|---:|---:|---:|---:|");
        let ratio = |a: &Stats, b: &Stats| a.p50.as_secs_f64() / b.p50.as_secs_f64().max(1e-9);
        say!(
            atk,
            "| idle | {} | {} | 1.00 | {} | {} | 1.00 |",
            us(idle_status.p50),
            us(idle_status.p99),
            us(idle_greet.p50),
            us(idle_greet.p99)
        );
        say!(
            atk,
            "| every call slot spinning | {} | {} | {:.2} | {} | {} | {:.2} |",
            us(spin_status.p50),
            us(spin_status.p99),
            ratio(&spin_status, &idle_status),
            us(spin_greet.p50),
            us(spin_greet.p99),
            ratio(&spin_greet, &idle_greet)
        );
        say!(
            atk,
            "| agent socket flooded with silent connections | {} | {} | {:.2} | — | — | — |",
            us(flooded.p50),
            us(flooded.p99),
            ratio(&flooded, &idle_status)
        );
    }
    match &args.update {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let mut text = replace_section(
                &text,
                "## Daemon: `hello` over the agent socket vs fork+exec",
                Some("Rerun with"),
                &md,
            );
            if !atk.is_empty() {
                text = replace_section(&text, "## Daemon under attack", None, &atk);
            }
            std::fs::write(file, text)
                .with_context(|| format!("cannot write {}", file.display()))?;
        }
        None => print!("{md}\n{atk}"),
    }
    Ok(())
}

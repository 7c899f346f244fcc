//! `wardd`, ward's daemon: the one place on a machine where agents run the commands they were
//! allowed.
//!
//! - It listens only on two Unix sockets in `$WARD_HOME/run` (a 0700 directory it owns, sockets
//!   0600): `operator.sock` for the operator's verbs and `agent.sock` for the agent API. There is no
//!   TCP listener. Every connection's peer uid (SO_PEERCRED) is checked against the allowed uids.
//! - HTTP/1.1 with JSON bodies, so `curl --unix-socket` works (see `docs/api.md`); bodies, headers,
//!   header time, connections and concurrent calls are bounded.
//! - Agents authenticate with a `wk_` token scoped to one plugin (and optionally one command).
//!   Rate limits, daily caps and concurrency caps are decided before any guest code runs, and so
//!   are confirmation gates for commands the manifest or the operator marks `confirm`.
//! - Every request gets an audit row, made durable (group commit by one writer) before the reply;
//!   if it cannot be written the request is refused.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod api;
mod audit;
mod call;
mod checkpoints;
pub mod client;
mod config;
mod confirm;
mod gates;
mod listen;
mod refusals;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{Semaphore, watch};
use ward_store::{Store, StoreError};

pub use api::new_token;
pub use config::{
    BODY_READ_TIMEOUT, CONFIRM_TTL, CheckpointSchedule, CheckpointSink, ConfigError, DaemonConfig,
    FIRST_BYTE_TIMEOUT, HEADER_READ_TIMEOUT, MAX_BODY_BYTES, MAX_CALLS_PER_TOKEN, MAX_CONNECTIONS,
    MAX_CONNECTIONS_PER_UID, MAX_HEADER_BYTES, MAX_HEADERS, MAX_INFLIGHT_CALLS,
    MAX_OPERATOR_CONNECTIONS, PeerCheck, PluginGate, REFUSAL_INTERVAL, SHUTDOWN_GRACE,
    ServerLimits, Socket,
};

/// Store connections used for reads (token checks, grants, usage); requests pick one in turn.
const READ_CONNECTIONS: usize = 4;

/// Why the daemon cannot start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// An I/O error on a path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The socket directory is not a directory (or is a link).
    #[error("{0} is not a directory; remove it so that wardd can create its socket directory")]
    RunDirNotDir(String),
    /// The socket directory belongs to another user.
    #[error(
        "{path} is owned by uid {owner}, not by wardd's uid {uid}; wardd only uses a socket directory it owns"
    )]
    RunDirNotOwned {
        /// The directory.
        path: String,
        /// Its owner.
        owner: u32,
        /// The daemon's uid.
        uid: u32,
    },
    /// The socket directory lets others in.
    #[error(
        "{path} has mode {mode:04o}, which lets other users reach the sockets; run `chmod 700 {path}`"
    )]
    RunDirTooOpen {
        /// The directory.
        path: String,
        /// Its mode.
        mode: u32,
    },
    /// Something other than a socket is where a socket goes.
    #[error("{0} exists and is not a socket; remove it")]
    NotASocket(String),
    /// Another daemon holds the lock.
    #[error("another wardd is already serving {0}")]
    AlreadyRunning(String),
    /// The data directory.
    #[error(transparent)]
    Home(#[from] ward_home::HomeError),
    /// The operator policy file.
    #[error(transparent)]
    Policy(#[from] ward_home::PolicyError),
    /// The store.
    #[error("cannot open ward's store")]
    Store(#[from] StoreError),
    /// The runtime.
    #[error("cannot start the runtime")]
    Runtime(#[from] ward_runtime::RuntimeError),
}

impl DaemonError {
    fn io(path: &str, source: std::io::Error) -> Self {
        DaemonError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// The store connections the request handlers use.
struct Stores {
    readers: Vec<Mutex<Store>>,
    next: AtomicUsize,
    writer: Mutex<Store>,
}

impl Stores {
    /// Runs `f` on one of the read connections.
    fn with<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        let guard = self.readers[i].lock().unwrap_or_else(|e| e.into_inner());
        f(&guard)
    }

    /// Runs `f` on the connection used for confirmations and token changes.
    fn with_writer<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        let mut guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }
}

pub(crate) struct Stats {
    requests: AtomicU64,
    in_flight: AtomicU64,
    started: Instant,
    loaded: Mutex<BTreeMap<String, String>>,
}

/// What every connection shares.
struct Ctx {
    config: DaemonConfig,
    home: ward_home::Home,
    /// `policy.toml`, re-read when it changes.
    policy: ward_home::PolicyWatch,
    runtime: ward_runtime::Runtime,
    stores: Stores,
    audit: audit::AuditWriter,
    gates: Arc<gates::Gates>,
    stats: Arc<Stats>,
    /// Agent-socket connections.
    conns: Arc<Semaphore>,
    /// Operator-socket connections, a budget of their own.
    op_conns: Arc<Semaphore>,
    /// Agent-socket connections per peer uid.
    per_uid: Mutex<std::collections::HashMap<u32, usize>>,
    /// Refused connections and requests, counted until the next audit row.
    refusals: Arc<refusals::Refusals>,
    calls: Arc<Semaphore>,
    /// Authorized, prepared and loaded plugins, reused while nothing they were decided from
    /// changed (registry generation, policy file, key expiry).
    loads: ward_call::LoadCache,
    /// Most handles one call may hold, from the descriptor budget.
    max_handles: u64,
    /// The threads guest code runs on (declared last: it stops after everything using it).
    _guests: GuestPool,
}

/// The threads guest code runs on: a pool of its own, as many as the machine has cores, at a
/// lower scheduling priority than the threads serving the sockets, so that calls spinning in
/// pure compute never keep the operator (or any request's parsing, gates and audit) waiting.
struct GuestPool(Option<tokio::runtime::Runtime>);

/// How much lower the guest threads' priority is (a nice value).
const GUEST_NICE: i32 = 10;

impl GuestPool {
    fn start() -> std::io::Result<GuestPool> {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("ward-guest")
            .on_thread_start(|| {
                // On Linux this sets the calling thread's nice value only.
                let _ = rustix::process::setpriority_process(None, GUEST_NICE);
            })
            .enable_all()
            .build()?;
        Ok(GuestPool(Some(rt)))
    }

    fn handle(&self) -> tokio::runtime::Handle {
        match &self.0 {
            Some(rt) => rt.handle().clone(),
            None => tokio::runtime::Handle::current(),
        }
    }
}

impl Drop for GuestPool {
    fn drop(&mut self) {
        // Dropped inside the daemon's own executor: do not block it waiting for guest threads.
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Applies a changed `policy.toml` to every installed plugin: those whose current version no
/// longer satisfies its rule are disabled (audited) and named in the log.
fn reauthorize(ctx: &Ctx, policy: &ward_home::OperatorPolicy) {
    ctx.loads.clear();
    let outcome = ctx.stores.with_writer(|store| {
        let trust = ward_trust::trust_policy(store, &policy.rules).map_err(|e| e.to_string())?;
        ward_trust::reauthorize_installed(store, &trust).map_err(|e| e.to_string())
    });
    match outcome {
        Ok(disabled) => {
            for d in disabled {
                tracing::warn!(
                    plugin = %d.name,
                    version = %d.version,
                    "disabled after the policy changed: {}",
                    d.reason
                );
            }
        }
        Err(e) => tracing::error!("cannot apply the changed policy to installed plugins: {e}"),
    }
}

/// A started daemon. [`Running::shutdown`] stops it gracefully.
pub struct Running {
    shutdown: watch::Sender<bool>,
    loops: Vec<tokio::task::JoinHandle<()>>,
    ctx: Option<Arc<Ctx>>,
    audit_thread: Option<std::thread::JoinHandle<()>>,
    _lock: std::fs::File,
    operator_socket: PathBuf,
    agent_socket: PathBuf,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("operator_socket", &self.operator_socket)
            .field("agent_socket", &self.agent_socket)
            .finish_non_exhaustive()
    }
}

/// Starts the daemon on a running tokio runtime (multi-threaded): opens the store, denies every
/// confirmation left open by a previous run, prepares the socket directory, binds both sockets and
/// starts accepting.
pub async fn start(config: DaemonConfig) -> Result<Running, DaemonError> {
    let home = ward_home::Home::locate(Some(&config.home))?;
    home.ensure()?;
    let policy = ward_home::PolicyWatch::load(&home.policy_file())?;
    let root = home.root().to_path_buf();

    let run_dir = config.run_dir();
    listen::private_run_dir(&run_dir)?;
    let lock = lock_run_dir(&run_dir)?;

    let mut writer = Store::open(&root)?;
    writer.set_actor("wardd");
    let denied = writer.confirmation_deny_open()?;
    if denied > 0 {
        tracing::info!("{denied} confirmation(s) left open by a previous run were denied");
    }
    let readers = (0..READ_CONNECTIONS)
        .map(|_| Store::open(&root).map(Mutex::new))
        .collect::<Result<Vec<_>, _>>()?;
    let (audit, audit_thread) = audit::AuditWriter::start(Store::open(&root)?)
        .map_err(|e| DaemonError::io("audit writer", e))?;
    let mut runtime = ward_runtime::Runtime::new(ward_runtime::RuntimeOptions {
        cache_dir: Some(home.artifact_cache()),
    })?;
    let guests = GuestPool::start().map_err(|e| DaemonError::io("guest threads", e))?;
    runtime.run_guests_on(guests.handle());

    let operator_socket = config.operator_socket();
    let agent_socket = config.agent_socket();
    let op_listener = listen::bind(&operator_socket)?;
    let agent_listener = listen::bind(&agent_socket)?;

    let ctx = Arc::new(Ctx {
        conns: Arc::new(Semaphore::new(config.limits.max_connections)),
        op_conns: Arc::new(Semaphore::new(config.limits.max_operator_connections)),
        per_uid: Mutex::new(std::collections::HashMap::new()),
        refusals: Arc::new(refusals::Refusals::default()),
        calls: Arc::new(Semaphore::new(config.limits.max_inflight_calls)),
        loads: ward_call::LoadCache::default(),
        _guests: guests,
        max_handles: ward_call::per_call_handles(
            config.limits.max_inflight_calls,
            config.limits.max_connections + config.limits.max_operator_connections,
        ),
        config,
        home,
        policy,
        runtime,
        stores: Stores {
            readers,
            next: AtomicUsize::new(0),
            writer: Mutex::new(writer),
        },
        audit,
        gates: Arc::new(gates::Gates::default()),
        stats: Arc::new(Stats {
            requests: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            started: Instant::now(),
            loaded: Mutex::new(BTreeMap::new()),
        }),
    });
    let (shutdown, rx) = watch::channel(false);
    let mut loops = Vec::new();
    if let Some(schedule) = ctx.config.checkpoints.clone() {
        loops.push(tokio::spawn(checkpoints::run(
            ctx.clone(),
            schedule,
            rx.clone(),
        )));
    }
    loops.extend([
        tokio::spawn(refusals::flush_loop(
            ctx.refusals.clone(),
            ctx.audit.clone(),
            ctx.config.limits.refusal_interval,
            rx.clone(),
        )),
        tokio::spawn(listen::accept_loop(
            ctx.clone(),
            Socket::Operator,
            op_listener,
            rx.clone(),
        )),
        tokio::spawn(listen::accept_loop(
            ctx.clone(),
            Socket::Agent,
            agent_listener,
            rx,
        )),
    ]);
    tracing::info!(
        operator = %operator_socket.display(),
        agent = %agent_socket.display(),
        "wardd is listening"
    );
    Ok(Running {
        shutdown,
        loops,
        ctx: Some(ctx),
        audit_thread: Some(audit_thread),
        _lock: lock,
        operator_socket,
        agent_socket,
    })
}

fn lock_run_dir(run_dir: &Path) -> Result<std::fs::File, DaemonError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = run_dir.join("wardd.lock");
    let shown = path.display().to_string();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(&path)
        .map_err(|e| DaemonError::io(&shown, e))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
        .map_err(|_| DaemonError::AlreadyRunning(run_dir.display().to_string()))?;
    Ok(file)
}

impl Running {
    /// The operator socket's path.
    pub fn operator_socket(&self) -> &Path {
        &self.operator_socket
    }

    /// The agent socket's path.
    pub fn agent_socket(&self) -> &Path {
        &self.agent_socket
    }

    /// Stops accepting, lets running requests finish (up to the shutdown grace; then they are
    /// cancelled), flushes the audit writer and removes the sockets.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for l in self.loops.drain(..) {
            let _ = l.await;
        }
        let mut drained = true;
        if let Some(ctx) = self.ctx.take() {
            let max = u32::try_from(ctx.config.limits.max_connections).unwrap_or(u32::MAX);
            let op_max =
                u32::try_from(ctx.config.limits.max_operator_connections).unwrap_or(u32::MAX);
            let grace = ctx.config.limits.shutdown_grace + std::time::Duration::from_secs(1);
            let (conns, op_conns) = (ctx.conns.clone(), ctx.op_conns.clone());
            let all = tokio::time::timeout(grace, async {
                let a = conns.acquire_many(max).await;
                let b = op_conns.acquire_many(op_max).await;
                a.and(b)
            })
            .await;
            // Refusals counted while the connections drained.
            refusals::flush(&ctx.refusals, &ctx.audit).await;
            if !matches!(all, Ok(Ok(_))) {
                tracing::warn!("connections still open after the shutdown grace were cancelled");
                drained = false;
            }
            drop(ctx);
        }
        // The writer thread ends once every handle is gone and its queue is drained.
        if let Some(t) = self.audit_thread.take().filter(|_| drained) {
            let _ = tokio::task::spawn_blocking(move || {
                let _ = t.join();
            })
            .await;
        }
        let _ = std::fs::remove_file(&self.operator_socket);
        let _ = std::fs::remove_file(&self.agent_socket);
        tracing::info!("wardd stopped");
    }
}

/// Runs the daemon until SIGTERM or SIGINT, then shuts down gracefully.
pub async fn serve_until_signal(config: DaemonConfig) -> Result<(), DaemonError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(|e| DaemonError::io("SIGTERM", e))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| DaemonError::io("SIGINT", e))?;
    let running = start(config).await?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
    running.shutdown().await;
    Ok(())
}

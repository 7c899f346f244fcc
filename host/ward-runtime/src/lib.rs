//! Instantiate and call: one [`Runtime`] (one wasmtime engine) per process, components compiled
//! once with their pre-instantiation cached, and a fresh store for every call.
//!
//! A call takes a command name and a JSON object of arguments, checks the arguments against
//! the command's WIT types before any guest code runs, instantiates the plugin from its cached
//! `InstancePre` under the call's [`Limits`], runs it, and returns the result as JSON. A guest
//! that crosses a limit earns a [`CallError::Limit`] naming it; the runtime is unaffected and
//! the next call works. A plugin's mid-run confirmation that the operator has not decided yet
//! ends the call with [`CallError::ConfirmPending`]; time spent waiting for the operator does
//! not count against the call's time limit.
#![deny(missing_docs)]

mod engine;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::component::{ComponentExportIndex, InstancePre, ResourceTableError, Val};
use wasmtime::{Engine, Store, Trap};
use wasmtime_wasi::p2::bindings::CommandPre;

pub use engine::{EPOCH_TICK, engine_config};
pub use ward_link::{
    ConfirmAnswer, ConfirmHook, ConfirmPending, DirGrant, Grants, MAX_CONFIRM_PROMPT_BYTES,
    sanitize_prompt,
};
pub use ward_load::{ArtifactCache, Digest, LoadError, Origin};
pub use ward_policy::{Limit, LimitExceeded, Limits};
pub use ward_redact::Redactor;
pub use ward_values::{ArgError, Command, CommandKind};

use ward_link::State;

/// Extra wall-clock time, past the call's timeout, that a call waiting in the host (for
/// example in a sleep) is given before it is cancelled. Running guest code is stopped by the
/// epoch deadline at the timeout itself.
const HOST_WAIT_GRACE: Duration = Duration::from_millis(250);

/// Why a runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The engine or linker could not be created.
    #[error("cannot create the wasmtime engine: {0:#}")]
    Engine(wasmtime::Error),
    /// The artifact cache could not be opened.
    #[error(transparent)]
    Cache(#[from] ward_load::CacheError),
}

/// Why a call did not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The plugin has no command of that name.
    #[error("the plugin has no command '{name}'; its commands are: {}", .available.join(", "))]
    UnknownCommand {
        /// The name asked for.
        name: String,
        /// The names it has.
        available: Vec<String>,
    },
    /// The command's types are outside what ward can call (resources, streams, futures).
    #[error("command '{name}' cannot be called: {reason}")]
    Unsupported {
        /// The command.
        name: String,
        /// Why.
        reason: String,
    },
    /// The arguments do not match the command's WIT types; no guest code ran.
    #[error(transparent)]
    Args(#[from] ArgError),
    /// The arguments of a `wasi:cli/run` program are not a list of strings.
    #[error("{0}")]
    CliArgs(String),
    /// The call crossed one of its limits and was stopped.
    #[error(transparent)]
    Limit(#[from] LimitExceeded),
    /// The guest trapped (a panic, `unreachable`, an out-of-bounds access, ...).
    #[error("the plugin trapped: {message}")]
    Trap {
        /// The trap's description.
        message: String,
        /// The last lines the guest wrote to stderr (a Rust panic message, for example),
        /// sanitized.
        stderr: String,
    },
    /// A `wasi:cli/run` program exited with a non-zero status.
    #[error("the program exited with status {code}")]
    Exit {
        /// The exit status.
        code: i32,
        /// What it wrote to stderr, sanitized.
        stderr: String,
    },
    /// A grant could not be applied (a granted directory that cannot be opened); no guest code
    /// ran.
    #[error(transparent)]
    Grant(#[from] ward_link::GrantError),
    /// Instantiation failed for a reason other than a limit.
    #[error("cannot instantiate the plugin: {0}")]
    Instantiate(String),
    /// The plugin asked the operator to confirm an action (`ward:plugin/confirm`) and no
    /// decision exists yet: the call was stopped at the ask. Repeat the call once the operator
    /// has decided; everything before the ask runs again.
    #[error(transparent)]
    ConfirmPending(ConfirmPending),
}

impl CallError {
    /// The limit this error reports, if it is a limit error.
    pub fn limit(&self) -> Option<Limit> {
        match self {
            CallError::Limit(e) => Some(e.limit),
            _ => None,
        }
    }
}

/// A loaded plugin: compiled, linked and ready to instantiate.
pub struct Plugin {
    name: String,
    digest: Digest,
    origin: Origin,
    commands: Vec<Command>,
    exports: HashMap<String, ComponentExportIndex>,
    pre: InstancePre<State>,
    command_pre: Option<CommandPre<State>>,
    bytes_len: usize,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("digest", &self.digest)
            .finish_non_exhaustive()
    }
}

impl Plugin {
    /// The name used in logs and errors.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// SHA-256 of the component's bytes.
    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// Whether the machine code came from the artifact cache or was compiled for this load.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// The commands the plugin exports, with their WIT types.
    pub fn commands(&self) -> &[Command] {
        &self.commands
    }

    /// Size of the component in bytes.
    pub fn size(&self) -> usize {
        self.bytes_len
    }

    /// The command called `name`.
    pub fn command(&self, name: &str) -> Result<&Command, CallError> {
        self.commands
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| CallError::UnknownCommand {
                name: name.to_owned(),
                available: self.commands.iter().map(|c| c.name.clone()).collect(),
            })
    }
}

/// The outcome of a call that ran to completion, redacted by the call's redactor.
#[derive(Debug, Clone)]
pub struct CallOutput {
    /// The command's result as JSON (`null` for a command without a result). For a
    /// `wasi:cli/run` program, its stdout as a string (lossy UTF-8). Every string in it is
    /// redacted; object keys come from the command's WIT types, not from the guest.
    pub result: serde_json::Value,
    /// True when the command's result is a WIT `result` holding `err`: the command reports
    /// failure through its own types.
    pub is_err: bool,
    /// What the guest wrote to stdout (empty for a `wasi:cli/run` program, whose stdout is the
    /// result). Redacted; bytes that are not UTF-8 are kept as written.
    pub stdout: bytes::Bytes,
    /// What the guest wrote to stderr, redacted like stdout.
    pub stderr: bytes::Bytes,
    /// Fuel the call consumed.
    pub fuel_consumed: u64,
    /// Wall-clock time of instantiation plus call.
    pub duration: Duration,
}

/// Settings for a [`Runtime`].
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    /// Directory of the compiled-artifact cache; `None` compiles every load.
    pub cache_dir: Option<PathBuf>,
}

/// One wasmtime engine, its linker, the artifact cache and the plugins loaded so far.
pub struct Runtime {
    engine: Engine,
    linker: wasmtime::component::Linker<State>,
    cache: Option<ArtifactCache>,
    plugins: Mutex<HashMap<Digest, Arc<Plugin>>>,
    /// Where guest code runs, if not on the caller's executor ([`Runtime::run_guests_on`]).
    guests: Option<tokio::runtime::Handle>,
    _ticker: engine::EpochTicker,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Creates the engine (pooling allocator, epoch interruption, fuel metering), the linker
    /// and, when asked, the artifact cache.
    pub fn new(options: RuntimeOptions) -> Result<Runtime, RuntimeError> {
        let engine = Engine::new(&engine_config()).map_err(RuntimeError::Engine)?;
        let linker = ward_link::linker(&engine).map_err(RuntimeError::Engine)?;
        let cache = options
            .cache_dir
            .as_deref()
            .map(ArtifactCache::open)
            .transpose()?;
        let ticker = engine::EpochTicker::start(&engine);
        Ok(Runtime {
            engine,
            linker,
            cache,
            plugins: Mutex::new(HashMap::new()),
            guests: None,
            _ticker: ticker,
        })
    }

    /// Runs guest code (instantiation and the call) on `executor` from now on, instead of on the
    /// executor that awaits [`Runtime::call`]: a daemon gives guests a pool of their own, so that
    /// however many calls spin in pure compute, the threads serving its sockets stay free.
    pub fn run_guests_on(&mut self, executor: tokio::runtime::Handle) {
        self.guests = Some(executor);
    }

    /// Runs `work`, which owns the call's store, on the guest executor if there is one (and
    /// stops it when the returned future is dropped, at the deadline), else in place.
    async fn execute<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, CallError> {
        let Some(executor) = &self.guests else {
            return Ok(work.await);
        };
        struct AbortOnDrop(tokio::task::AbortHandle);
        impl Drop for AbortOnDrop {
            fn drop(&mut self) {
                self.0.abort();
            }
        }
        let task = executor.spawn(work);
        let _abort = AbortOnDrop(task.abort_handle());
        task.await
            .map_err(|e| CallError::Instantiate(format!("the call's task ended: {e}")))
    }

    /// The engine shared by every plugin.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The artifact cache, if the runtime has one.
    pub fn cache(&self) -> Option<&ArtifactCache> {
        self.cache.as_ref()
    }

    /// Reads and loads the component at `path` (see [`Runtime::load`]).
    pub fn load_file(&self, path: &Path) -> Result<Arc<Plugin>, LoadError> {
        let bytes = ward_load::read_file(path, ward_policy::MAX_COMPONENT_BYTES)?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "plugin".into());
        self.load(&name, &bytes)
    }

    /// Checks, compiles (or takes from the cache) and links a component. A component already
    /// loaded by this runtime is returned from memory.
    pub fn load(&self, name: &str, bytes: &[u8]) -> Result<Arc<Plugin>, LoadError> {
        let digest = Digest::of(bytes);
        if let Some(plugin) = self.lock_plugins().get(&digest) {
            return Ok(plugin.clone());
        }
        let loaded = ward_load::load(&self.engine, self.cache.as_ref(), bytes)?;
        let pre = self
            .linker
            .instantiate_pre(&loaded.component)
            .map_err(LoadError::Compile)?;
        let commands = ward_values::commands(&self.engine, &loaded.component);
        let mut exports = HashMap::new();
        for command in &commands {
            if command.kind == CommandKind::Func
                && let Some(index) = loaded.component.get_export_index(None, &command.name)
            {
                exports.insert(command.name.clone(), index);
            }
        }
        let command_pre = if commands
            .iter()
            .any(|c| matches!(c.kind, CommandKind::CliRun { .. }))
        {
            Some(CommandPre::new(pre.clone()).map_err(LoadError::Compile)?)
        } else {
            None
        };
        let plugin = Arc::new(Plugin {
            name: name.to_owned(),
            digest,
            origin: loaded.origin,
            commands,
            exports,
            pre,
            command_pre,
            bytes_len: bytes.len(),
        });
        self.lock_plugins().insert(digest, plugin.clone());
        Ok(plugin)
    }

    fn lock_plugins(&self) -> std::sync::MutexGuard<'_, HashMap<Digest, Arc<Plugin>>> {
        self.plugins.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Calls `command` of `plugin` with JSON `args` under `limits`, granting exactly `grants`.
    ///
    /// For a typed command `args` is a JSON object keyed by parameter name. For a
    /// `wasi:cli/run` program it is `{"argv": ["..."]}` (or `null`/`{}` for no arguments).
    ///
    /// Everything the guest controls in the outcome has passed `grants.redactor`: every string
    /// in the result (an `err` result included), captured stdout and stderr, and the guest's
    /// text inside a [`CallError`] (stderr of a trap or a failed program, an instantiation
    /// error).
    pub async fn call(
        &self,
        plugin: &Plugin,
        command: &str,
        args: &serde_json::Value,
        limits: &Limits,
        grants: &Grants,
    ) -> Result<CallOutput, CallError> {
        let mut output = self
            .call_unredacted(plugin, command, args, limits, grants)
            .await?;
        let redactor = &grants.redactor;
        redactor.redact_json(&mut output.result);
        output.stdout = redact_output(redactor, output.stdout);
        output.stderr = redact_output(redactor, output.stderr);
        Ok(output)
    }

    /// [`Runtime::call`] up to the redaction of its output; guest text in errors is already
    /// redacted here, before it is cut to its tail.
    async fn call_unredacted(
        &self,
        plugin: &Plugin,
        command: &str,
        args: &serde_json::Value,
        limits: &Limits,
        grants: &Grants,
    ) -> Result<CallOutput, CallError> {
        let cmd = plugin.command(command)?;
        if let Some(reason) = &cmd.unsupported {
            return Err(CallError::Unsupported {
                name: cmd.name.clone(),
                reason: reason.clone(),
            });
        }
        match cmd.kind {
            CommandKind::Func => {
                let params = ward_values::args_from_json(cmd, args)?;
                self.call_func(plugin, cmd, params, limits, grants).await
            }
            CommandKind::CliRun { .. } => {
                let argv = cli_argv(args)?;
                // Every other grant of the call applies unchanged; only argv is the caller's.
                let mut grants = grants.clone();
                grants.argv = argv;
                self.call_cli(plugin, limits, &grants).await
            }
        }
    }

    fn store(
        &self,
        plugin: &Plugin,
        limits: &Limits,
        grants: &Grants,
    ) -> Result<Store<State>, CallError> {
        let state = State::new(&plugin.name, limits, grants)?;
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| state.limiter());
        // Fuel is always metered so that a per-call limit is possible; unlimited is u64::MAX.
        let _ = store.set_fuel(limits.fuel.unwrap_or(u64::MAX));
        // Guest code yields to the executor at every epoch tick, so a guest spinning in pure
        // compute holds a runtime thread for one tick at a time and other requests (the
        // operator's first of all) are served between its slices. The call's time limit is
        // counted in the same ticks; time spent waiting for the operator (a confirmation asked
        // on a terminal) is given back.
        let mut left = engine::deadline_ticks(limits.timeout);
        store.set_epoch_deadline(1);
        let wait = store.data().operator_wait();
        let mut credited = Duration::ZERO;
        store.epoch_deadline_callback(move |_| {
            let total = wait.total();
            let fresh = total.saturating_sub(credited);
            credited = total;
            if !fresh.is_zero() {
                left = left.saturating_add(engine::deadline_ticks(fresh));
            }
            left = left.saturating_sub(1);
            Ok(if left == 0 {
                wasmtime::UpdateDeadline::Interrupt
            } else {
                wasmtime::UpdateDeadline::YieldCustom(1, Box::pin(tokio::task::yield_now()))
            })
        });
        Ok(store)
    }

    async fn call_func(
        &self,
        plugin: &Plugin,
        cmd: &Command,
        params: Vec<Val>,
        limits: &Limits,
        grants: &Grants,
    ) -> Result<CallOutput, CallError> {
        let index =
            plugin
                .exports
                .get(&cmd.name)
                .copied()
                .ok_or_else(|| CallError::Unsupported {
                    name: cmd.name.clone(),
                    reason: "the export could not be found".into(),
                })?;
        let store = self.store(plugin, limits, grants)?;
        let wait = store.data().operator_wait();
        let started = Instant::now();
        let pre = plugin.pre.clone();
        let result_count = usize::from(cmd.result.is_some());
        let run = async move {
            let mut store = store;
            let mut results = vec![Val::Bool(false); result_count];
            let outcome = async {
                let instance = pre.instantiate_async(&mut store).await?;
                let func = instance
                    .get_func(&mut store, index)
                    .ok_or_else(|| wasmtime::Error::msg("exported function missing"))?;
                func.call_async(&mut store, &params, &mut results).await
            }
            .await;
            (store, results, outcome)
        };
        let finished =
            with_deadline(limits.timeout + HOST_WAIT_GRACE, &wait, self.execute(run)).await;
        let duration = started.elapsed();
        let (store, results, outcome) = match finished {
            Err(_elapsed) => return Err(LimitExceeded::of(Limit::Time, limits).into()),
            Ok(Err(e)) => return Err(e),
            Ok(Ok(done)) => done,
        };
        let fuel_consumed = fuel_used(&store, limits);
        match outcome {
            Err(err) => Err(classify(err, store.data(), limits, &grants.redactor)),
            Ok(()) => {
                let value = results.first();
                let is_err = matches!(value, Some(Val::Result(Err(_))));
                let result = ward_values::result_to_json(
                    value,
                    usize::try_from(limits.result_bytes).unwrap_or(usize::MAX),
                )
                .map_err(|_| CallError::Limit(LimitExceeded::of(Limit::Result, limits)))?;
                Ok(CallOutput {
                    result,
                    is_err,
                    stdout: store.data().stdout(),
                    stderr: store.data().stderr(),
                    fuel_consumed,
                    duration,
                })
            }
        }
    }

    async fn call_cli(
        &self,
        plugin: &Plugin,
        limits: &Limits,
        grants: &Grants,
    ) -> Result<CallOutput, CallError> {
        let command_pre = plugin
            .command_pre
            .as_ref()
            .ok_or_else(|| CallError::Unsupported {
                name: "run".into(),
                reason: "the plugin does not export wasi:cli/run".into(),
            })?;
        let store = self.store(plugin, limits, grants)?;
        let wait = store.data().operator_wait();
        let started = Instant::now();
        let command_pre = command_pre.clone();
        let run = async move {
            let mut store = store;
            let outcome = async {
                let command = command_pre.instantiate_async(&mut store).await?;
                command.wasi_cli_run().call_run(&mut store).await
            }
            .await;
            (store, outcome)
        };
        let finished =
            with_deadline(limits.timeout + HOST_WAIT_GRACE, &wait, self.execute(run)).await;
        let duration = started.elapsed();
        let (store, outcome) = match finished {
            Err(_elapsed) => return Err(LimitExceeded::of(Limit::Time, limits).into()),
            Ok(Err(e)) => return Err(e),
            Ok(Ok(done)) => done,
        };
        let fuel_consumed = fuel_used(&store, limits);
        let state = store.data();
        let stderr_text = || tail_text(&grants.redactor, &state.stderr());
        let code = match outcome {
            Ok(Ok(())) => 0,
            Ok(Err(())) => 1,
            Err(err) => match err.downcast_ref::<wasmtime_wasi::I32Exit>() {
                Some(exit) if state.exceeded().is_none() => exit.0,
                _ => return Err(classify(err, state, limits, &grants.redactor)),
            },
        };
        if code != 0 {
            return Err(CallError::Exit {
                code,
                stderr: stderr_text(),
            });
        }
        let stdout = state.stdout();
        if stdout.len() as u64 > limits.result_bytes {
            return Err(LimitExceeded::of(Limit::Result, limits).into());
        }
        Ok(CallOutput {
            result: serde_json::Value::String(String::from_utf8_lossy(&stdout).into_owned()),
            is_err: false,
            stdout: bytes::Bytes::new(),
            stderr: state.stderr(),
            fuel_consumed,
            duration,
        })
    }
}

/// Runs `fut` until it finishes or `limit` has passed, not counting time spent waiting for the
/// operator; `Err(())` when the limit passed.
async fn with_deadline<F: Future>(
    limit: Duration,
    wait: &ward_link::OperatorWait,
    fut: F,
) -> Result<F::Output, ()> {
    let started = tokio::time::Instant::now();
    let mut fut = std::pin::pin!(fut);
    loop {
        let deadline = started + limit + wait.total();
        tokio::select! {
            out = &mut fut => return Ok(out),
            () = tokio::time::sleep_until(deadline) => {
                if started + limit + wait.total() <= tokio::time::Instant::now() {
                    return Err(());
                }
            }
        }
    }
}

fn fuel_used(store: &Store<State>, limits: &Limits) -> u64 {
    let start = limits.fuel.unwrap_or(u64::MAX);
    store
        .get_fuel()
        .map(|left| start - left.min(start))
        .unwrap_or(0)
}

/// The argv of a `wasi:cli/run` call from its JSON arguments.
fn cli_argv(args: &serde_json::Value) -> Result<Vec<String>, CallError> {
    let bad = || {
        CallError::CliArgs(
            "a wasi:cli program takes {\"argv\": [\"arg\", ...]}: a list of strings and nothing else"
                .into(),
        )
    };
    let items = match args {
        serde_json::Value::Null => return Ok(Vec::new()),
        serde_json::Value::Object(map) if map.keys().all(|k| k == "argv") => {
            match map.get("argv") {
                None | Some(serde_json::Value::Null) => return Ok(Vec::new()),
                Some(serde_json::Value::Array(items)) => items,
                Some(_) => return Err(bad()),
            }
        }
        _ => return Err(bad()),
    };
    items
        .iter()
        .map(|v| v.as_str().map(str::to_owned).ok_or_else(bad))
        .collect()
}

/// Turns a failed instantiation or call into the error that explains it, with guest text
/// redacted.
fn classify(
    err: wasmtime::Error,
    state: &State,
    limits: &Limits,
    redactor: &ward_redact::Redactor,
) -> CallError {
    // Only the host puts this payload in an error: the guest cannot forge it.
    if let Some(pending) = err.downcast_ref::<ConfirmPending>() {
        return CallError::ConfirmPending(pending.clone());
    }
    if let Some(trap) = err.downcast_ref::<Trap>() {
        match trap {
            Trap::Interrupt => return LimitExceeded::of(Limit::Time, limits).into(),
            Trap::OutOfFuel => return LimitExceeded::of(Limit::Fuel, limits).into(),
            Trap::StackOverflow => return LimitExceeded::of(Limit::Stack, limits).into(),
            _ => {}
        }
    }
    if let Some(limit) = state.exceeded() {
        return LimitExceeded::of(limit, limits).into();
    }
    // The handle table is full: the guest holds as many host resources as its limit allows.
    if err.chain().any(|e| {
        matches!(
            e.downcast_ref::<ResourceTableError>(),
            Some(ResourceTableError::Full)
        )
    }) {
        return LimitExceeded::of(Limit::Handles, limits).into();
    }
    let message = format!("{err:#}");
    // wasmtime-wasi refuses a random-bytes request over its maximum with this text.
    if message.contains("requested len") && message.contains("exceeds limit") {
        return LimitExceeded::of(Limit::Random, limits).into();
    }
    for (needle, limit) in [
        ("instance count too high", Limit::Instances),
        ("table count too high", Limit::Tables),
        ("memory count too high", Limit::Memories),
    ] {
        if message.contains(needle) {
            return LimitExceeded::of(limit, limits).into();
        }
    }
    if let Some(trap) = err.downcast_ref::<Trap>() {
        return CallError::Trap {
            message: ward_link::redacted_line(redactor, &trap.to_string(), 512),
            stderr: tail_text(redactor, &state.stderr()),
        };
    }
    // The message can hold guest text (names from the component, a host call's error).
    CallError::Instantiate(ward_link::redacted_line(redactor, &message, 1024))
}

/// The last few lines of guest output, redacted and sanitized, for an error message. The whole
/// output (at most the output limit) is redacted before the tail is taken, so the tail never
/// starts inside a credential.
fn tail_text(redactor: &ward_redact::Redactor, bytes: &[u8]) -> String {
    const TAIL: usize = 2048;
    let bytes = redactor.redact_bytes(bytes);
    let start = bytes.len().saturating_sub(TAIL);
    let text = String::from_utf8_lossy(&bytes[start..]);
    ward_policy::text::sanitize(text.trim_end(), true)
}

/// Captured output after redaction. The output need not be UTF-8: credentials are found in its
/// text and replaced, and every other byte, invalid UTF-8 included, is kept as it was.
fn redact_output(redactor: &ward_redact::Redactor, output: bytes::Bytes) -> bytes::Bytes {
    match redactor.redact_bytes(&output) {
        std::borrow::Cow::Borrowed(_) => output,
        std::borrow::Cow::Owned(redacted) => bytes::Bytes::from(redacted),
    }
}

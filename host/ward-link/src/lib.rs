//! Link: the per-call store state and the one linker every plugin is instantiated with.
//!
//! The linker provides WASI 0.2 (cli, io, clocks, random, filesystem, sockets), `wasi:http`
//! and `ward:plugin/{log,keyvalue,confirm}`, and every one of them grants nothing unless the call's
//! [`Grants`] say so: no preopened directories, no environment, no arguments except a CLI
//! command's argv, an empty stdin, TCP, UDP and name lookup disabled, and every outgoing HTTP
//! request refused through wasmtime-wasi-http's `send_request` hook unless an HTTP grant
//! (`ward-http`) allows its destination. stdout and stderr are captured in memory
//! up to the call's output limit. A confirmation asked with no [`ConfirmHook`] is denied.
#![deny(missing_docs)]

mod confirm;
mod keyvalue;
mod limiter;
mod log;
mod pipe;
mod redact;

/// Host bindings for ward's own interfaces (`ward:plugin/host` in `wit/plugin.wit`).
mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "ward:plugin/host",
        // A pending confirmation stops the call: the host function traps with a typed payload.
        imports: { "ward:plugin/confirm.confirm": trappable },
    });
}

use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

pub use confirm::{
    ConfirmAnswer, ConfirmHook, ConfirmPending, MAX_CONFIRM_PROMPT_BYTES, PromptError,
    sanitize_prompt,
};
pub use keyvalue::{KeyValue, KvError, MAX_KV_KEY_BYTES, MAX_KV_VALUE_BYTES};
pub use limiter::Limiter;

pub use pipe::CappedPipe;
pub use redact::redacted_line;
use ward_policy::{Limit, Limits};

/// Authority granted to one call. Empty (the default) means pure computation only.
#[derive(Clone)]
pub struct Grants {
    /// Arguments a `wasi:cli/run` command sees after its program name.
    pub argv: Vec<String>,
    /// Environment variables the guest sees: exactly these, with these values.
    pub env: Vec<(String, String)>,
    /// Host directories the guest sees, each at its guest path.
    pub dirs: Vec<DirGrant>,
    /// The plugin's private key-value namespace, if granted. The host binds it to the plugin;
    /// the guest never names a namespace.
    pub keyvalue: Option<std::sync::Arc<dyn KeyValue>>,
    /// Outgoing HTTP, if granted: only the granted destinations, checked again on every
    /// resolved address. `None` refuses every request.
    pub http: Option<ward_http::GrantedHttp>,
    /// Hooks that answer the guest's outgoing HTTP requests in place of [`Grants::http`], built
    /// fresh for each call: for example fixtures answering a proposal's examples without a
    /// socket. Used only when `http` is `None`; `None` for both refuses every request.
    pub http_hooks: Option<HttpHooksFactory>,
    /// What every text the guest can make ward show passes before it leaves the host: log
    /// lines, the result, captured stdout and stderr, and guest text inside errors. The default
    /// is [`builtin_redactor`]; the operator's configuration and the call's known secret values
    /// make a stricter one.
    pub redactor: std::sync::Arc<ward_redact::Redactor>,
    /// Who answers the plugin's mid-run confirmations (`ward:plugin/confirm`), bound to exactly
    /// this call. `None` answers every ask with false.
    pub confirm: Option<std::sync::Arc<dyn ConfirmHook>>,
    /// Where this call's refused outgoing requests are counted, for its audit row (set fresh for
    /// each call). `None` only logs them.
    pub egress: Option<ward_http::EgressLog>,
}

impl Default for Grants {
    fn default() -> Grants {
        Grants {
            argv: Vec::new(),
            env: Vec::new(),
            dirs: Vec::new(),
            keyvalue: None,
            http: None,
            http_hooks: None,
            redactor: builtin_redactor(),
            confirm: None,
            egress: None,
        }
    }
}

/// Builds the `wasi:http` hooks of one call (see [`Grants::http_hooks`]).
pub type HttpHooksFactory = std::sync::Arc<dyn Fn() -> Box<dyn WasiHttpHooks> + Send + Sync>;

/// The redactor with every built-in detector and no known secret, built once per process and
/// shared.
pub fn builtin_redactor() -> std::sync::Arc<ward_redact::Redactor> {
    static BUILTIN: std::sync::LazyLock<std::sync::Arc<ward_redact::Redactor>> =
        std::sync::LazyLock::new(|| std::sync::Arc::new(ward_redact::Redactor::builtin()));
    BUILTIN.clone()
}

impl std::fmt::Debug for Grants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Environment values are operator configuration that may be sensitive: names only.
        f.debug_struct("Grants")
            .field("argv", &self.argv.len())
            .field("env", &self.env.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .field("dirs", &self.dirs)
            .field("keyvalue", &self.keyvalue.is_some())
            .field("http", &self.http.is_some())
            .field("http_hooks", &self.http_hooks.is_some())
            .field("redactor", &self.redactor)
            .field("confirm", &self.confirm.is_some())
            .finish()
    }
}

/// One directory granted to a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirGrant {
    /// The directory on the host.
    pub host: std::path::PathBuf,
    /// Where the guest sees it (an absolute guest path such as `/data`).
    pub guest: String,
    /// Whether the guest may create, write, rename and remove files in it.
    pub writable: bool,
}

/// A grant that cannot be applied to a call (a granted directory that cannot be opened).
#[derive(Debug, thiserror::Error)]
#[error("cannot grant directory {host} as {guest}: {message}")]
pub struct GrantError {
    /// The host directory.
    pub host: String,
    /// The guest path.
    pub guest: String,
    /// Why.
    pub message: String,
}

/// Everything a call's store holds. Built fresh for every call and dropped after it.
pub struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    hooks: Box<dyn WasiHttpHooks>,
    limiter: Limiter,
    stdout: CappedPipe,
    stderr: CappedPipe,
    plugin: String,
    log_budget: u64,
    log_dropped: bool,
    keyvalue: Option<std::sync::Arc<dyn KeyValue>>,
    redactor: std::sync::Arc<ward_redact::Redactor>,
    confirm: Option<std::sync::Arc<dyn ConfirmHook>>,
    confirm_warned: bool,
    operator_wait: OperatorWait,
}

/// Time a call spent waiting for the operator to answer a confirmation. The runtime adds it to
/// the call's wall-clock limit: it is not time the guest ran.
#[derive(Debug, Clone, Default)]
pub struct OperatorWait(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl OperatorWait {
    fn add(&self, waited: std::time::Duration) {
        let nanos = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        let _ = self.0.fetch_update(
            std::sync::atomic::Ordering::Relaxed,
            std::sync::atomic::Ordering::Relaxed,
            |total| Some(total.saturating_add(nanos)),
        );
    }

    /// The total so far.
    pub fn total(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.0.load(std::sync::atomic::Ordering::Relaxed))
    }
}

impl State {
    /// State for one call of `plugin` (a display name used in logs) under `limits`, with
    /// exactly `grants`: preopened directories confined by cap-std (no escape through `..`,
    /// absolute paths or symlinks), read-only unless granted writable, and exactly the granted
    /// environment.
    pub fn new(plugin: &str, limits: &Limits, grants: &Grants) -> Result<State, GrantError> {
        let stdout = CappedPipe::new(limits.output_bytes);
        let stderr = CappedPipe::new(limits.output_bytes);
        let mut builder = WasiCtxBuilder::new();
        builder
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .max_random_size(ward_policy::MAX_RANDOM_BYTES)
            .socket_addr_check(|_, _| Box::pin(async { false }));
        if !grants.argv.is_empty() {
            let mut args = Vec::with_capacity(grants.argv.len() + 1);
            args.push(plugin.to_owned());
            args.extend(grants.argv.iter().cloned());
            builder.args(&args);
        }
        if !grants.env.is_empty() {
            builder.envs(&grants.env);
        }
        for dir in &grants.dirs {
            let perms = if dir.writable {
                wasmtime_wasi::FsPerms::ReadWrite
            } else {
                wasmtime_wasi::FsPerms::ReadOnly
            };
            builder
                .preopened_dir(&dir.host, &dir.guest, perms)
                .map_err(|err| GrantError {
                    host: dir.host.display().to_string(),
                    guest: dir.guest.clone(),
                    message: format!("{err:#}"),
                })?;
        }
        let mut table = ResourceTable::new();
        table.set_max_capacity(usize::try_from(limits.handles).unwrap_or(usize::MAX));
        Ok(State {
            wasi: builder.build(),
            table,
            http: WasiHttpCtx::new(),
            hooks: match (&grants.http, &grants.http_hooks) {
                (Some(granted), _) => Box::new(granted.with_egress_log(grants.egress.clone())),
                (None, Some(factory)) => factory(),
                (None, None) => Box::new(DenyHttp {
                    redactor: grants.redactor.clone(),
                    plugin: plugin.to_owned(),
                    egress: grants.egress.clone(),
                }),
            },
            limiter: Limiter::new(limits),
            stdout,
            stderr,
            plugin: plugin.to_owned(),
            log_budget: limits.output_bytes,
            log_dropped: false,
            keyvalue: grants.keyvalue.clone(),
            redactor: grants.redactor.clone(),
            confirm: grants.confirm.clone(),
            confirm_warned: false,
            operator_wait: OperatorWait::default(),
        })
    }

    /// The resource limiter to install with `Store::limiter`.
    pub fn limiter(&mut self) -> &mut Limiter {
        &mut self.limiter
    }

    /// What the guest wrote to stdout (at most the output limit).
    pub fn stdout(&self) -> bytes::Bytes {
        self.stdout.contents()
    }

    /// What the guest wrote to stderr (at most the output limit).
    pub fn stderr(&self) -> bytes::Bytes {
        self.stderr.contents()
    }

    /// Time this call has spent waiting for the operator (see [`OperatorWait`]).
    pub fn operator_wait(&self) -> OperatorWait {
        self.operator_wait.clone()
    }

    /// The first limit this call crossed, as recorded by the limiter and the output pipes.
    pub fn exceeded(&self) -> Option<Limit> {
        self.limiter.exceeded().or_else(|| {
            (self.stdout.overflowed() || self.stderr.overflowed()).then_some(Limit::Output)
        })
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut *self.hooks,
        }
    }
}

/// The `wasi:http` hook of a call with no network grant: every request is refused, unsent.
struct DenyHttp {
    redactor: std::sync::Arc<ward_redact::Redactor>,
    plugin: String,
    egress: Option<ward_http::EgressLog>,
}

/// Longest host name of a refused request kept in the log.
const MAX_LOGGED_HOST: usize = 256;

impl WasiHttpHooks for DenyHttp {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        http::Response<wasmtime_wasi_http::WasiBody>,
                        Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        // The host name is the guest's text: redacted and cut like a log line.
        let host = redacted_line(
            &self.redactor,
            request.uri().host().unwrap_or(""),
            MAX_LOGGED_HOST,
        );
        tracing::warn!(
            plugin = %self.plugin,
            host = %host,
            "denied outgoing HTTP request: no network capability is granted"
        );
        if let Some(log) = &self.egress {
            log.record("no-network-grant");
        }
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}

/// Builds the linker shared by every call on `engine`.
///
/// Only the interfaces listed in the crate documentation are defined; a component importing
/// anything else fails to instantiate (and is refused earlier, at load).
pub fn linker(engine: &Engine) -> wasmtime::Result<Linker<State>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    bindings::ward::plugin::log::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)?;
    bindings::ward::plugin::keyvalue::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)?;
    bindings::ward::plugin::confirm::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)?;
    Ok(linker)
}

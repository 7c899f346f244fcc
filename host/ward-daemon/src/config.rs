//! The daemon's settings: the limits protecting it, who may connect, and the operator's per-plugin
//! gates from `$WARD_HOME/daemon.toml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use ward_policy::Rate;

/// Largest request body read, in bytes.
///
/// Threat: an agent streaming a huge body to exhaust the daemon's memory.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Size of the buffer the request line and headers must fit in, in bytes (hyper's minimum is 8 KiB).
///
/// Threat: endless or oversized headers holding memory per connection.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Most headers in one request.
///
/// Threat: thousands of tiny headers making each request expensive to parse.
pub const MAX_HEADERS: usize = 64;

/// Time allowed to send a request's headers, from the connection's first byte (or the end of the
/// previous request) on.
///
/// Threat: slowloris, a client trickling header bytes to hold connections open forever.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Time allowed to send a request's body once its headers arrived.
///
/// Threat: a client announcing a body and trickling it.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections served at once on the agent socket; further connections are closed unanswered
/// (and counted in the aggregated refusal rows).
///
/// Threat: a local client opening connections until the daemon runs out of file descriptors.
pub const MAX_CONNECTIONS: usize = 512;

/// Connections served at once on the operator socket, a budget of its own: no number of agent
/// connections takes it.
///
/// Threat: an agent flooding connections to lock the operator out.
pub const MAX_OPERATOR_CONNECTIONS: usize = 32;

/// Agent-socket connections one peer uid may hold at once, when several uids may connect.
///
/// Threat: one local user taking every agent connection from the others.
pub const MAX_CONNECTIONS_PER_UID: usize = 128;

/// Time a new connection has to send its first byte; a connection that sends nothing is closed.
///
/// Threat: idle connections, renewed one after another, holding the connection budget.
pub const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(1);

/// Refused connections and requests are audited as one row per socket, peer and reason per
/// interval, with a count, and logged once per interval: a flood adds a bounded number of
/// rows and lines.
///
/// Threat: a flood of refused connections growing the audit log and the logs without bound.
pub const REFUSAL_INTERVAL: Duration = Duration::from_secs(10);

/// Guest calls running at once; further runs wait for a slot (bounded by [`MAX_CONNECTIONS`]).
///
/// Threat: many concurrent calls exhausting memory (each holds a pooled instance).
pub const MAX_INFLIGHT_CALLS: usize = 64;

/// Calls one token may have running at once unless `daemon.toml` says otherwise.
///
/// Threat: one agent taking every call slot.
pub const MAX_CALLS_PER_TOKEN: usize = 16;

/// Time a graceful shutdown waits for running calls before cancelling them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// How long a pending confirmation waits for the operator before it is denied.
pub const CONFIRM_TTL: Duration = Duration::from_secs(600);

/// Largest `daemon.toml` read. Threat: a planted huge file.
const MAX_CONFIG_BYTES: u64 = 256 * 1024;

/// Which socket a connection came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Socket {
    /// `run/operator.sock`: operator verbs only.
    Operator,
    /// `run/agent.sock`: the agent API only.
    Agent,
}

impl Socket {
    /// `operator` or `agent`.
    pub fn as_str(self) -> &'static str {
        match self {
            Socket::Operator => "operator",
            Socket::Agent => "agent",
        }
    }
}

/// Decides from the peer's uid (SO_PEERCRED) whether a connection on a socket is accepted.
pub type PeerCheck = Arc<dyn Fn(Socket, u32) -> bool + Send + Sync>;

/// Limits protecting the daemon itself (see the constants for the threat each addresses).
#[derive(Clone, Debug)]
pub struct ServerLimits {
    /// See [`MAX_BODY_BYTES`].
    pub max_body_bytes: usize,
    /// See [`MAX_HEADER_BYTES`].
    pub max_header_bytes: usize,
    /// See [`HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
    /// See [`BODY_READ_TIMEOUT`].
    pub body_read_timeout: Duration,
    /// See [`MAX_CONNECTIONS`].
    pub max_connections: usize,
    /// See [`MAX_OPERATOR_CONNECTIONS`].
    pub max_operator_connections: usize,
    /// See [`MAX_CONNECTIONS_PER_UID`].
    pub max_connections_per_uid: usize,
    /// See [`FIRST_BYTE_TIMEOUT`].
    pub first_byte_timeout: Duration,
    /// See [`REFUSAL_INTERVAL`].
    pub refusal_interval: Duration,
    /// See [`MAX_INFLIGHT_CALLS`].
    pub max_inflight_calls: usize,
    /// See [`MAX_CALLS_PER_TOKEN`].
    pub max_calls_per_token: usize,
    /// See [`SHUTDOWN_GRACE`].
    pub shutdown_grace: Duration,
    /// See [`CONFIRM_TTL`].
    pub confirm_ttl: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_body_bytes: MAX_BODY_BYTES,
            max_header_bytes: MAX_HEADER_BYTES,
            header_read_timeout: HEADER_READ_TIMEOUT,
            body_read_timeout: BODY_READ_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            max_operator_connections: MAX_OPERATOR_CONNECTIONS,
            max_connections_per_uid: MAX_CONNECTIONS_PER_UID,
            first_byte_timeout: FIRST_BYTE_TIMEOUT,
            refusal_interval: REFUSAL_INTERVAL,
            max_inflight_calls: MAX_INFLIGHT_CALLS,
            max_calls_per_token: MAX_CALLS_PER_TOKEN,
            shutdown_grace: SHUTDOWN_GRACE,
            confirm_ttl: CONFIRM_TTL,
        }
    }
}

/// The operator's gates for one plugin, from `daemon.toml`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PluginGate {
    /// Calls per period over all tokens.
    pub rate: Option<Rate>,
    /// Calls per UTC day over all tokens.
    pub daily_calls: Option<u64>,
    /// Call time per UTC day over all tokens, in milliseconds.
    pub daily_cpu_ms: Option<u64>,
    /// Calls running at once over all tokens.
    pub max_concurrent: Option<usize>,
    /// Commands that need the operator's confirmation for each call (besides those the manifest
    /// marks `confirm`).
    pub confirm: Vec<String>,
}

/// Everything the daemon needs to start.
#[derive(Clone)]
pub struct DaemonConfig {
    /// ward's data directory.
    pub home: PathBuf,
    /// Uids accepted on the operator socket (default: the daemon's own uid).
    pub operator_uids: Vec<u32>,
    /// Uids accepted on the agent socket (default: the daemon's own uid).
    pub agent_uids: Vec<u32>,
    /// Replaces the uid lists' check (tests inject a refusing check here).
    pub peer_check: Option<PeerCheck>,
    /// Limits protecting the daemon.
    pub limits: ServerLimits,
    /// Per-plugin gates.
    pub plugins: BTreeMap<String, PluginGate>,
    /// Signed audit checkpoints written on an interval, if configured (`[audit]` in
    /// `daemon.toml`).
    pub checkpoints: Option<CheckpointSchedule>,
}

/// Where and how often the daemon writes audit checkpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointSchedule {
    /// How often.
    pub every: Duration,
    /// Where each goes.
    pub to: CheckpointSink,
}

/// Where a checkpoint goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckpointSink {
    /// A file `checkpoint-<size>.json` in this directory (written whole, then renamed).
    Dir(PathBuf),
    /// This program and its arguments, run with the checkpoint's JSON on its stdin (for example a
    /// command that uploads it elsewhere); a non-zero exit is logged.
    Command(Vec<String>),
}

impl std::fmt::Debug for DaemonConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DaemonConfig")
            .field("home", &self.home)
            .field("operator_uids", &self.operator_uids)
            .field("agent_uids", &self.agent_uids)
            .field("limits", &self.limits)
            .field("plugins", &self.plugins)
            .finish_non_exhaustive()
    }
}

/// `daemon.toml` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than ward reads.
    #[error("{0} is larger than 256 KiB")]
    TooLarge(String),
    /// The file is not valid.
    #[error("invalid {path}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What was wrong.
        reason: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    daemon: DaemonSection,
    #[serde(default)]
    plugin: BTreeMap<String, PluginSection>,
    #[serde(default)]
    audit: AuditSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditSection {
    checkpoint_interval: Option<String>,
    checkpoint_dir: Option<PathBuf>,
    checkpoint_command: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DaemonSection {
    operator_uids: Option<Vec<u32>>,
    agent_uids: Option<Vec<u32>>,
    max_connections: Option<usize>,
    max_operator_connections: Option<usize>,
    max_connections_per_uid: Option<usize>,
    max_inflight_calls: Option<usize>,
    max_calls_per_token: Option<usize>,
    confirm_ttl: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginSection {
    rate: Option<String>,
    daily_calls: Option<u64>,
    daily_cpu: Option<String>,
    max_concurrent: Option<usize>,
    #[serde(default)]
    confirm: Vec<String>,
}

impl DaemonConfig {
    /// Defaults for `home`: only the daemon's own uid may connect, default limits, no plugin gates.
    pub fn new(home: &Path) -> DaemonConfig {
        let uid = rustix::process::geteuid().as_raw();
        DaemonConfig {
            home: home.to_path_buf(),
            operator_uids: vec![uid],
            agent_uids: vec![uid],
            peer_check: None,
            limits: ServerLimits::default(),
            plugins: BTreeMap::new(),
            checkpoints: None,
        }
    }

    /// Defaults for `home` plus `home/daemon.toml` if it exists.
    pub fn load(home: &Path) -> Result<DaemonConfig, ConfigError> {
        let mut config = DaemonConfig::new(home);
        let path = home.join("daemon.toml");
        let shown = path.display().to_string();
        let text = match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(config),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: shown,
                    source,
                });
            }
            Ok(m) if m.len() > MAX_CONFIG_BYTES => return Err(ConfigError::TooLarge(shown)),
            Ok(_) => std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                path: shown.clone(),
                source,
            })?,
        };
        config.apply(&text).map_err(|reason| ConfigError::Invalid {
            path: shown,
            reason,
        })?;
        Ok(config)
    }

    /// Applies the text of a `daemon.toml`.
    pub fn apply(&mut self, text: &str) -> Result<(), String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let d = file.daemon;
        if let Some(u) = d.operator_uids {
            self.operator_uids = u;
        }
        if let Some(u) = d.agent_uids {
            self.agent_uids = u;
        }
        let positive = |name: &str, v: Option<usize>| -> Result<Option<usize>, String> {
            match v {
                Some(0) => Err(format!("{name} must be greater than zero")),
                other => Ok(other),
            }
        };
        if let Some(n) = positive("max_connections", d.max_connections)? {
            self.limits.max_connections = n;
        }
        if let Some(n) = positive("max_operator_connections", d.max_operator_connections)? {
            self.limits.max_operator_connections = n;
        }
        if let Some(n) = positive("max_connections_per_uid", d.max_connections_per_uid)? {
            self.limits.max_connections_per_uid = n;
        }
        if let Some(n) = positive("max_inflight_calls", d.max_inflight_calls)? {
            self.limits.max_inflight_calls = n;
        }
        if let Some(n) = positive("max_calls_per_token", d.max_calls_per_token)? {
            self.limits.max_calls_per_token = n;
        }
        if let Some(t) = d.confirm_ttl {
            self.limits.confirm_ttl =
                ward_policy::parse_period(&t).map_err(|e| format!("confirm_ttl: {e}"))?;
        }
        let a = file.audit;
        self.checkpoints = match (
            a.checkpoint_interval,
            a.checkpoint_dir,
            a.checkpoint_command,
        ) {
            (None, None, None) => None,
            (Some(t), dir, command) => {
                let every = ward_policy::parse_period(&t)
                    .map_err(|e| format!("audit.checkpoint_interval: {e}"))?;
                let to = match (dir, command) {
                    (Some(d), None) if d.is_absolute() => CheckpointSink::Dir(d),
                    (Some(d), None) => {
                        return Err(format!(
                            "audit.checkpoint_dir {} must be an absolute path",
                            d.display()
                        ));
                    }
                    (None, Some(c)) if !c.is_empty() => CheckpointSink::Command(c),
                    (None, Some(_)) => {
                        return Err("audit.checkpoint_command must name a program".into());
                    }
                    (Some(_), Some(_)) => {
                        return Err(
                            "audit: set checkpoint_dir or checkpoint_command, not both".into()
                        );
                    }
                    (None, None) => {
                        return Err(
                            "audit.checkpoint_interval needs checkpoint_dir or checkpoint_command"
                                .into(),
                        );
                    }
                };
                Some(CheckpointSchedule { every, to })
            }
            (None, _, _) => {
                return Err(
                    "audit: checkpoint_dir and checkpoint_command need checkpoint_interval".into(),
                );
            }
        };
        for (name, p) in file.plugin {
            let gate = PluginGate {
                rate: p
                    .rate
                    .as_deref()
                    .map(ward_policy::parse_rate)
                    .transpose()
                    .map_err(|e| format!("plugin {name}: {e}"))?,
                daily_calls: p.daily_calls,
                daily_cpu_ms: p
                    .daily_cpu
                    .as_deref()
                    .map(ward_policy::parse_period)
                    .transpose()
                    .map_err(|e| format!("plugin {name}: daily_cpu: {e}"))?
                    .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                max_concurrent: positive("max_concurrent", p.max_concurrent)?,
                confirm: p.confirm,
            };
            self.plugins.insert(name, gate);
        }
        Ok(())
    }

    /// Whether a peer with `uid` may use `socket` (the injected check if any, else the uid lists).
    pub fn peer_allowed(&self, socket: Socket, uid: u32) -> bool {
        if let Some(check) = &self.peer_check {
            return check(socket, uid);
        }
        match socket {
            Socket::Operator => self.operator_uids.contains(&uid),
            Socket::Agent => self.agent_uids.contains(&uid),
        }
    }

    /// `home/run`, the directory holding the sockets.
    pub fn run_dir(&self) -> PathBuf {
        self.home.join("run")
    }

    /// The operator socket's path.
    pub fn operator_socket(&self) -> PathBuf {
        self.run_dir().join("operator.sock")
    }

    /// The agent socket's path.
    pub fn agent_socket(&self) -> PathBuf {
        self.run_dir().join("agent.sock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_daemon_toml() {
        let mut c = DaemonConfig::new(Path::new("/tmp/x"));
        c.apply(
            r#"
            [daemon]
            agent_uids = [1001, 1002]
            max_inflight_calls = 8
            confirm_ttl = "5m"

            [plugin."acme:hello"]
            rate = "100/s"
            daily_calls = 1000
            daily_cpu = "10m"
            max_concurrent = 4
            confirm = ["delete"]
            "#,
        )
        .unwrap();
        assert_eq!(c.agent_uids, vec![1001, 1002]);
        assert_eq!(c.limits.max_inflight_calls, 8);
        assert_eq!(c.limits.confirm_ttl, Duration::from_secs(300));
        let g = &c.plugins["acme:hello"];
        assert_eq!(g.rate.unwrap().to_string(), "100/s");
        assert_eq!(g.daily_cpu_ms, Some(600_000));
        assert_eq!(g.confirm, vec!["delete".to_string()]);
        assert!(c.peer_allowed(Socket::Agent, 1001));
        assert!(!c.peer_allowed(Socket::Agent, 0));
    }

    #[test]
    fn refuses_bad_daemon_toml() {
        for bad in [
            "[daemon]\nunknown = 1\n",
            "[daemon]\nmax_connections = 0\n",
            "[plugin.\"a:b\"]\nrate = \"fast\"\n",
            "[plugin.\"a:b\"]\ndaily_cpu = \"10\"\n",
            "[audit]\ncheckpoint_interval = \"10m\"\n",
            "[audit]\ncheckpoint_dir = \"/var/ward\"\n",
            "[audit]\ncheckpoint_interval = \"10m\"\ncheckpoint_dir = \"relative\"\n",
            "[audit]\ncheckpoint_interval = \"10m\"\ncheckpoint_command = []\n",
            "[audit]\ncheckpoint_interval = \"soon\"\ncheckpoint_dir = \"/v\"\n",
            "[audit]\ncheckpoint_interval = \"1m\"\ncheckpoint_dir = \"/v\"\ncheckpoint_command = [\"x\"]\n",
        ] {
            let mut c = DaemonConfig::new(Path::new("/tmp/x"));
            assert!(c.apply(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn audit_checkpoints_to_a_dir_or_a_command() {
        let mut c = DaemonConfig::new(Path::new("/tmp/x"));
        c.apply("[audit]\ncheckpoint_interval = \"10m\"\ncheckpoint_dir = \"/var/ward\"\n")
            .unwrap();
        assert_eq!(
            c.checkpoints,
            Some(CheckpointSchedule {
                every: Duration::from_secs(600),
                to: CheckpointSink::Dir("/var/ward".into()),
            })
        );
        c.apply(
            "[audit]\ncheckpoint_interval = \"1h\"\ncheckpoint_command = [\"upload\", \"-q\"]\n",
        )
        .unwrap();
        assert_eq!(
            c.checkpoints.unwrap().to,
            CheckpointSink::Command(vec!["upload".into(), "-q".into()])
        );
    }
}

//! Command-line syntax.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Run WebAssembly plugins with exactly the authority the operator granted, and no more.
#[derive(Debug, Parser)]
#[command(name = "ward", version, propagate_version = true)]
#[command(
    after_help = "Exit status: 0 success; 1 the plugin failed or was refused \
(limit reached, trap, error result); 2 usage or host error."
)]
pub(crate) struct Cli {
    /// ward's data directory [default: $XDG_DATA_HOME/ward or ~/.local/share/ward]
    #[arg(long, global = true, env = "WARD_HOME", value_name = "DIR")]
    pub(crate) home: Option<PathBuf>,

    /// Log more (repeat for more detail); logs go to stderr
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,

    /// Log only errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Develop plugins: run unsigned components with nothing granted
    Dev {
        #[command(subcommand)]
        command: DevCommand,
    },
    /// Print each command's WIT signature and the JSON Schema of its arguments
    Describe(DescribeArgs),
    /// Embed a manifest (ward.toml) into a component, before signing it
    Pack(PackArgs),
    /// Verify, review and install a signed plugin from a file or an https URL
    Install(InstallArgs),
    /// Run a command of an installed, enabled plugin
    Run(RunInstalledArgs),
    /// Remove a plugin (its kept versions too)
    Uninstall(UninstallArgs),
    /// Let an installed plugin run again
    Enable {
        /// The plugin (namespace:name)
        name: String,
    },
    /// Stop an installed plugin from running
    Disable {
        /// The plugin (namespace:name)
        name: String,
    },
    /// List installed plugins
    List {
        /// Print JSON on stdout
        #[arg(long)]
        json: bool,
    },
    /// Show an installed plugin: version, digest, capabilities, kept versions
    Inspect(NameArgs),
    /// Show what changes between two components: the manifest's capabilities and limits, and the
    /// commands added, removed or changed (WIT signatures)
    Diff {
        /// The old component: a file, an https URL, or an installed NAME or NAME@VERSION
        old: String,
        /// The new component (same forms)
        new: String,
        /// Print JSON on stdout
        #[arg(long)]
        json: bool,
    },
    /// Switch a plugin back to a kept, previously verified version
    Rollback(RollbackArgs),
    /// Manage the keys trusted to sign plugins
    Trust {
        #[command(subcommand)]
        command: TrustCommand,
    },
    /// List the audit log, or verify that it is intact
    Audit(AuditArgs),
    /// Manage secrets (encrypted at rest; plugins refer to them by name, never see values)
    Secret {
        #[command(subcommand)]
        command: SecretCommand,
    },
    /// Manage agent tokens (each scoped to one plugin, optionally one command)
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Decide the confirmations agents' calls are waiting for
    Confirm {
        #[command(subcommand)]
        command: ConfirmCommand,
    },
    /// Submit an unsigned component for the operator's review (report, examples in the sandbox)
    Propose(ProposeArgs),
    /// Review proposals: list, show, approve (sign with the local key and install), reject
    Proposals {
        #[command(subcommand)]
        command: ProposalsCommand,
    },
    /// Take a plugin installed from a proposal out of paper mode (phrase-gated)
    Promote(PromoteArgs),
    /// Run wardd, the daemon serving agents over Unix sockets, or ask for its status
    Daemon {
        #[command(subcommand)]
        command: Option<DaemonCommand>,
    },
    /// Serve the Model Context Protocol on stdio for an agent (its token in WARD_TOKEN or a file)
    Mcp(McpArgs),
    /// Create a plugin project (Rust, Python or JavaScript) that builds and runs as generated
    New(NewArgs),
    /// Check the data directory, policy.toml, daemon.toml, the trust store, the installed
    /// plugins, the audit log, the daemon and the toolchains; say what is misconfigured and the
    /// command that fixes it
    Doctor {
        /// Print JSON on stdout
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script: `ward completions bash > ~/.local/share/bash-completion/completions/ward`
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write ward's man pages (ward.1 and one per subcommand) into DIR
    Man {
        /// Where to write them
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

/// `ward mcp`: the agent's token never appears on the command line (`ps` shows it to everyone).
#[derive(Debug, Args)]
pub(crate) struct McpArgs {
    /// A file holding the agent token (mode 600) [default: the WARD_TOKEN environment variable]
    #[arg(long, value_name = "PATH")]
    pub(crate) token_file: Option<PathBuf>,
    /// The daemon's agent socket [default: $WARD_HOME/run/agent.sock]
    #[arg(long, value_name = "PATH")]
    pub(crate) socket: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token; it is printed once and only its hash is stored
    Create {
        /// The plugin the token may run (namespace:name)
        #[arg(long)]
        plugin: String,
        /// The one command the token may run [default: every command of the plugin]
        #[arg(long)]
        command: Option<String>,
        /// Rate limit, e.g. 10/min, 5/s, 100/h
        #[arg(long, value_name = "N/PERIOD")]
        rate: Option<String>,
        /// Calls per UTC day
        #[arg(long, value_name = "N")]
        daily_calls: Option<u64>,
        /// Call time per UTC day, e.g. 60s or 10m
        #[arg(long, value_name = "DURATION")]
        daily_cpu: Option<String>,
        /// Lifetime, e.g. 30d or 12h [default: never expires]
        #[arg(long, value_name = "PERIOD")]
        expires: Option<String>,
        /// Print JSON on stdout
        #[arg(long)]
        json: bool,
    },
    /// List tokens (never the tokens themselves)
    List {
        /// Print JSON on stdout
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token; the daemon refuses it from its next request on
    Revoke {
        /// The token id (tk_..., as shown by `ward token list`)
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfirmCommand {
    /// List confirmations waiting for a decision
    List {
        /// Also list decided, used and expired ones
        #[arg(long)]
        all: bool,
        /// Print JSON on stdout
        #[arg(long)]
        json: bool,
    },
    /// Let the exact call waiting on ID run once
    Approve {
        /// The confirmation id (cf_...)
        id: String,
    },
    /// Refuse the call waiting on ID
    Deny {
        /// The confirmation id (cf_...)
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum DaemonCommand {
    /// Serve the agent and operator sockets until SIGTERM or SIGINT (the default)
    Start,
    /// Ask the running daemon for its sockets, loaded plugins and requests served
    Status {
        /// Print JSON on stdout
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct NewArgs {
    /// The plugin's name: namespace:name, or name (in the `example` namespace)
    pub(crate) name: String,
    /// The language to write it in
    #[arg(long, value_enum)]
    pub(crate) lang: Lang,
    /// The folder to create [default: the name without its namespace, in the current folder]
    #[arg(long, value_name = "PATH")]
    pub(crate) dir: Option<PathBuf>,
    /// ward-sdk's folder, for Rust [default: the SDK of the source tree ward was built from]
    #[arg(long, value_name = "PATH")]
    pub(crate) sdk: Option<PathBuf>,
}

/// A language `ward new` writes plugins in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Lang {
    /// Rust with ward-sdk (cargo, wasm32-wasip2)
    Rust,
    /// Python with componentize-py
    Python,
    /// JavaScript with componentize-qjs (QuickJS)
    Js,
}

impl Lang {
    /// The name used on the command line.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
        }
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum SecretCommand {
    /// Store a secret: the value is read from a no-echo prompt, or from stdin when piped
    Set {
        /// The secret's name (A-Z, 0-9, _)
        name: String,
    },
    /// List the names of stored secrets (never their values)
    List {
        /// Print JSON on stdout
        #[arg(long)]
        json: bool,
    },
    /// Delete a secret
    Rm {
        /// The secret's name
        name: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct PackArgs {
    /// The component (.wasm)
    pub(crate) path: PathBuf,
    /// The manifest (ward.toml)
    #[arg(long, value_name = "FILE")]
    pub(crate) manifest: PathBuf,
    /// Where to write the packed component
    #[arg(short, long, value_name = "OUT")]
    pub(crate) out: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct InstallArgs {
    /// A signed component: a path, or an https:// URL
    pub(crate) source: String,
    /// Accept without asking, but only capabilities pre-approved in policy.toml; an upgrade
    /// asking for more authority also needs its phrase (--confirm)
    #[arg(long)]
    pub(crate) yes: bool,
    /// Allow installing a version lower than the highest ever installed
    #[arg(long)]
    pub(crate) allow_downgrade: bool,
    /// A phrase typed ahead, exactly as ward shows it: 'grant NAME VERSION' for an upgrade or
    /// reinstall asking for more authority (a new host, secret, writable path or variable value,
    /// a higher limit...), 'downgrade NAME to VERSION' for a downgrade. Needed when not on a
    /// terminal or with --yes; pre-approval in policy.toml never replaces it (repeatable)
    #[arg(long, value_name = "PHRASE")]
    pub(crate) confirm: Vec<String>,
    /// The value of an environment variable the manifest declares (repeatable)
    #[arg(long = "env", value_name = "NAME=VALUE")]
    pub(crate) env: Vec<String>,
    /// The host directory for a `$OPERATOR` files entry, by its guest path (repeatable)
    #[arg(long = "dir", value_name = "GUEST=HOSTDIR")]
    pub(crate) dirs: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct RunInstalledArgs {
    /// The plugin (namespace:name)
    pub(crate) name: String,

    /// Run in this process even when wardd is running (by default `ward run` goes through the
    /// daemon's operator socket when it answers)
    #[arg(long)]
    pub(crate) standalone: bool,

    #[command(flatten)]
    pub(crate) call: CallArgs,
}

#[derive(Debug, Args)]
pub(crate) struct UninstallArgs {
    /// The plugin (namespace:name)
    pub(crate) name: String,
    /// Also delete the plugin's data and forget its version history
    #[arg(long)]
    pub(crate) purge: bool,
}

#[derive(Debug, Args)]
pub(crate) struct NameArgs {
    /// The plugin (namespace:name)
    pub(crate) name: String,
    /// Print JSON on stdout
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RollbackArgs {
    /// The plugin (namespace:name)
    pub(crate) name: String,
    /// The kept version to switch to [default: the previous one]
    #[arg(long, value_name = "VERSION")]
    pub(crate) to: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TrustCommand {
    /// Trust a public key (a file or its text) to sign plugins matching the scope
    Add {
        /// The public key: a file (ward .pub, wasmsign2 .pub, OpenSSH) or its text
        key: String,
        /// Plugins it may sign for: ns:name, ns:* or * (repeatable)
        #[arg(long, required = true, value_name = "PATTERN")]
        scope: Vec<String>,
        /// A name for the key, shown in reviews and usable in threshold rules
        #[arg(long)]
        label: Option<String>,
        /// When the key stops counting: a date (2027-01-01, midnight UTC) or an RFC 3339 UTC time
        /// (2027-01-01T12:00:00Z); ward and ward-sign both refuse its signatures from then on
        #[arg(long, value_name = "DATE")]
        expires: Option<String>,
    },
    /// List trusted keys
    List {
        /// Print JSON on stdout
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key; every installed plugin whose current version no longer satisfies its rule
    /// is disabled, and named
    Revoke {
        /// The key id (as shown by `ward trust list`)
        key_id: String,
    },
    /// Authorize every installed plugin again under the trust store and policy.toml as they are
    /// now (after editing a rule, for example); disables and names the ones that no longer pass
    Check,
}

#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    #[command(subcommand)]
    pub(crate) command: Option<AuditCommand>,
    /// Print JSON on stdout
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Show at most this many rows (the latest that match)
    #[arg(long, value_name = "N")]
    pub(crate) limit: Option<usize>,
    #[command(flatten)]
    pub(crate) filter: AuditFilterArgs,
    /// After the rows so far, keep printing new ones as they are written (also by a running
    /// wardd) until interrupted
    #[arg(long, short = 'f')]
    pub(crate) follow: bool,
}

/// Which audit rows to show or export.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct AuditFilterArgs {
    /// Only rows of this plugin
    #[arg(long, value_name = "NAME", global = true)]
    pub(crate) plugin: Option<String>,
    /// Only rows at or after this time: RFC 3339 UTC (2026-12-04T10:00:00Z), a date, or an age
    /// (1h, 30m, 7d)
    #[arg(long, value_name = "TIME", global = true)]
    pub(crate) since: Option<String>,
    /// Only rows before this time (same forms as --since)
    #[arg(long, value_name = "TIME", global = true)]
    pub(crate) until: Option<String>,
    /// Only rows with this outcome
    #[arg(long, value_name = "OUTCOME", value_parser = ["ok", "denied", "error"], global = true)]
    pub(crate) decision: Option<String>,
    /// Only rows of this actor: operator, agent, or an agent token's id
    #[arg(long, value_name = "WHO", global = true)]
    pub(crate) actor: Option<String>,
    /// Only rows of this action (run, install, deny, confirm, token-create, ...)
    #[arg(long, value_name = "ACTION", global = true)]
    pub(crate) kind: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Check the hash chain and the head kept outside the log; with --checkpoint, also that the
    /// log still holds exactly the rows a checkpoint kept elsewhere covers
    Verify {
        /// A checkpoint written earlier by `ward audit checkpoint`
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<std::path::PathBuf>,
        /// The public key the checkpoint must be signed with (default: this host's
        /// audit.key.pub)
        #[arg(long, value_name = "FILE")]
        key: Option<std::path::PathBuf>,
    },
    /// Print a checkpoint: the log's size and Merkle root now, signed with this host's audit key;
    /// keep it somewhere the host cannot rewrite
    Checkpoint {
        /// Write it to FILE instead of stdout
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
    },
    /// Print a proof: that row SEQ is in the log (inclusion), or with --from/--to that the log of
    /// FROM rows is a prefix of the log of TO rows (consistency)
    Prove {
        /// The row (its seq)
        #[arg(value_name = "SEQ", conflicts_with_all = ["from"])]
        seq: Option<u64>,
        /// The smaller log size of a consistency proof
        #[arg(long, value_name = "N", requires = "to")]
        from: Option<u64>,
        /// The larger log size (default for an inclusion proof: the whole log)
        #[arg(long, value_name = "M")]
        to: Option<u64>,
    },
    /// Check a proof against a checkpoint, without the log (anyone holding both can)
    VerifyProof {
        /// The proof, from `ward audit prove`
        #[arg(long, value_name = "FILE")]
        proof: std::path::PathBuf,
        /// The checkpoint the proof is for
        #[arg(long, value_name = "FILE")]
        checkpoint: std::path::PathBuf,
        /// For a consistency proof: the older checkpoint it starts from (its size and root must
        /// be the proof's, and its signature good)
        #[arg(long, value_name = "FILE")]
        older: Option<std::path::PathBuf>,
        /// The public key the checkpoint must be signed with (default: this host's
        /// audit.key.pub)
        #[arg(long, value_name = "FILE")]
        key: Option<std::path::PathBuf>,
    },
    /// After a failed verification has been investigated: record it and resume writing
    Reseal,
    /// Write the rows that match (every row without filters) to FILE as JSON Lines, replacing
    /// it whole only once every row is written
    Export {
        /// The file to write
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum DevCommand {
    /// Run a command of an unsigned component with nothing granted
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The component (.wasm)
    pub(crate) path: PathBuf,

    #[command(flatten)]
    pub(crate) call: CallArgs,

    #[command(flatten)]
    pub(crate) limits: LimitArgs,
}

/// What to call and with which arguments; shared by `ward run` and `ward dev run`.
#[derive(Debug, Args)]
pub(crate) struct CallArgs {
    /// The command to run (`run` for a wasi:cli program)
    pub(crate) command: String,

    /// Arguments as NAME=VALUE, each VALUE read according to the parameter's WIT type
    /// (strings as they are, numbers, true/false, enum case names; compound values as JSON)
    #[arg(value_name = "NAME=VALUE", conflicts_with = "args")]
    pub(crate) pairs: Vec<String>,

    /// Arguments as one JSON object keyed by parameter name ('-' reads it from stdin)
    #[arg(long, value_name = "JSON")]
    pub(crate) args: Option<String>,

    /// Arguments of a wasi:cli program (after --)
    #[arg(last = true, value_name = "ARGV")]
    pub(crate) argv: Vec<String>,

    /// Print a JSON object with the result, or the error, on stdout
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct LimitArgs {
    /// Linear memory limit, e.g. 64MiB
    #[arg(long, value_name = "SIZE")]
    pub(crate) memory: Option<String>,

    /// Wall-clock limit, e.g. 5s or 500ms
    #[arg(long, value_name = "DURATION")]
    pub(crate) timeout: Option<String>,

    /// Fuel limit (roughly, instructions); unmetered by default
    #[arg(long, value_name = "N")]
    pub(crate) fuel: Option<String>,

    /// Limit on bytes written to stdout and to stderr, each, e.g. 1MiB
    #[arg(long, value_name = "SIZE")]
    pub(crate) output: Option<String>,

    /// Limit on the size of the JSON result, e.g. 4MiB
    #[arg(long, value_name = "SIZE")]
    pub(crate) result: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct DescribeArgs {
    /// The component (.wasm)
    pub(crate) path: PathBuf,

    /// Print JSON on stdout
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ProposeArgs {
    /// The unsigned component with its embedded manifest (see `ward pack`)
    pub(crate) path: PathBuf,
    /// The source directory, for the source diff in the report
    #[arg(long, value_name = "DIR")]
    pub(crate) source: Option<PathBuf>,
    /// The examples file (TOML or JSON): commands, arguments, expected results, HTTP fixtures
    #[arg(long, value_name = "FILE")]
    pub(crate) examples: Option<PathBuf>,
    /// Print the id and the report as JSON on stdout
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ProposalsCommand {
    /// List proposals, newest first
    List {
        /// Print JSON on stdout
        #[arg(long)]
        json: bool,
    },
    /// Show a proposal's report
    Show {
        /// The proposal id (pr_...)
        id: String,
        /// Print JSON on stdout
        #[arg(long)]
        json: bool,
    },
    /// Approve: sign with the operator's local key, install (in paper mode), health-check
    Approve(ApproveArgs),
    /// Reject a pending proposal
    Reject {
        /// The proposal id (pr_...)
        id: String,
        /// Why (kept with the proposal)
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ApproveArgs {
    /// The proposal id (pr_...)
    pub(crate) id: String,
    /// The typed phrase an escalating proposal asks for, when not on a terminal
    #[arg(long, value_name = "PHRASE")]
    pub(crate) confirm: Option<String>,
    /// Read the local key's passphrase from this environment variable instead of the terminal
    #[arg(long, value_name = "VAR")]
    pub(crate) passphrase_env: Option<String>,
    /// Install live instead of in paper mode
    #[arg(long)]
    pub(crate) live: bool,
    /// The value of an environment variable the manifest declares (repeatable)
    #[arg(long = "env", value_name = "NAME=VALUE")]
    pub(crate) env: Vec<String>,
    /// The host directory for a `$OPERATOR` files entry, by its guest path (repeatable)
    #[arg(long = "dir", value_name = "GUEST=HOSTDIR")]
    pub(crate) dirs: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct PromoteArgs {
    /// The plugin (namespace:name)
    pub(crate) name: String,
    /// The typed phrase, when not on a terminal
    #[arg(long, value_name = "PHRASE")]
    pub(crate) confirm: Option<String>,
}

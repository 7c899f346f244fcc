//! Command-line syntax.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Run WebAssembly plugins with exactly the authority the operator granted, and no more.
#[derive(Debug, Parser)]
#[command(name = "ward", version, about, propagate_version = true)]
#[command(after_help = "Exit status: 0 success; 1 the plugin failed or was refused \
(limit reached, trap, error result); 2 usage or host error.")]
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

    #[command(flatten)]
    pub(crate) limits: LimitArgs,
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

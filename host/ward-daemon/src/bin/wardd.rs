//! `wardd`: ward's daemon. Serves the agent and operator APIs on Unix sockets in
//! `$WARD_HOME/run` until SIGTERM or SIGINT.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

/// Serve ward's agent and operator APIs on Unix sockets.
#[derive(Debug, Parser)]
#[command(name = "wardd", version)]
struct Args {
    /// ward's data directory [default: $XDG_DATA_HOME/ward or ~/.local/share/ward]
    #[arg(long, env = "WARD_HOME", value_name = "DIR")]
    home: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WARD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let home = ward_home::Home::locate(args.home.as_deref())?;
    let config = ward_daemon::DaemonConfig::load(home.root())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(ward_daemon::serve_until_signal(config))?;
    Ok(())
}

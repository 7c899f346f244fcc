//! `ward`: run and describe WebAssembly plugins with no ambient authority.

mod admin;
mod agents;
mod cli;
mod confirm_tty;
mod describe;
mod doctor;
mod install;
mod mcp;
mod new;
mod output;
mod proposals;
mod run;
mod secret;
mod via_daemon;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, DevCommand};

/// Exit status: success.
const EXIT_OK: u8 = 0;
/// Exit status: the plugin failed, or ward refused to run it (a limit, a trap, an error result).
const EXIT_PLUGIN: u8 = 1;
/// Exit status: a usage or host error (bad arguments, unreadable or invalid component, I/O).
const EXIT_USAGE: u8 = 2;

/// An error with the exit status it should produce.
#[derive(Debug)]
pub(crate) struct Failure {
    code: u8,
    error: anyhow::Error,
    /// Already reported (for example as JSON on stdout); only the status remains.
    reported: bool,
}

impl Failure {
    pub(crate) fn usage(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: EXIT_USAGE,
            error: error.into(),
            reported: false,
        }
    }

    pub(crate) fn plugin(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: EXIT_PLUGIN,
            error: error.into(),
            reported: false,
        }
    }

    pub(crate) fn reported(code: u8) -> Failure {
        Failure {
            code,
            error: anyhow::anyhow!("reported"),
            reported: true,
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Failure {
        Failure::usage(error)
    }
}

impl From<ward_store::StoreError> for Failure {
    fn from(error: ward_store::StoreError) -> Failure {
        Failure::usage(error)
    }
}

impl From<ward_home::HomeError> for Failure {
    fn from(error: ward_home::HomeError) -> Failure {
        Failure::usage(error)
    }
}

impl From<ward_home::PolicyError> for Failure {
    fn from(error: ward_home::PolicyError) -> Failure {
        Failure::usage(error)
    }
}

impl From<ward_signing::PolicyError> for Failure {
    fn from(error: ward_signing::PolicyError) -> Failure {
        Failure::usage(error)
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() {
                EXIT_USAGE
            } else {
                EXIT_OK
            });
        }
    };
    output::init_logging(cli.verbose, cli.quiet);
    match dispatch(cli) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(failure) => {
            if !failure.reported && !output::is_broken_pipe(&failure.error) {
                eprintln!("error: {:#}", failure.error);
            }
            if output::is_broken_pipe(&failure.error) {
                return ExitCode::from(EXIT_OK);
            }
            ExitCode::from(failure.code)
        }
    }
}

fn dispatch(cli: Cli) -> Result<(), Failure> {
    let home = ward_home::Home::locate(cli.home.as_deref()).map_err(Failure::usage)?;
    match cli.command {
        Command::Dev {
            command: DevCommand::Run(args),
        } => run::dev_run(&home, args),
        Command::Describe(args) => describe::describe(&home, args),
        Command::Pack(args) => install::pack(args),
        Command::Install(args) => install::install(&home, args),
        Command::Run(args) => install::run_installed(&home, args),
        Command::Uninstall(args) => admin::uninstall(&home, args),
        Command::Enable { name } => admin::enable(&home, &name),
        Command::Disable { name } => admin::disable(&home, &name),
        Command::List { json } => admin::list(&home, json),
        Command::Inspect(args) => admin::inspect(&home, args),
        Command::Diff { old, new, json } => admin::diff(&home, &old, &new, json),
        Command::Rollback(args) => admin::rollback(&home, args),
        Command::Trust { command } => admin::trust(&home, command),
        Command::Audit(args) => admin::audit(&home, args),
        Command::Secret { command } => secret::secret(&home, command),
        Command::Token { command } => agents::token(&home, command),
        Command::Confirm { command } => agents::confirm(&home, command),
        Command::Daemon { command } => agents::daemon(&home, command),
        Command::Mcp(args) => mcp::mcp(&home, args),
        Command::Propose(args) => proposals::propose(&home, args),
        Command::Proposals { command } => proposals::proposals(&home, command),
        Command::Promote(args) => proposals::promote(&home, args),
        Command::New(args) => new::new(args),
        Command::Completions { shell } => {
            let mut cmd = <cli::Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "ward", &mut script);
            match std::io::Write::write_all(&mut std::io::stdout().lock(), &script) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(anyhow::anyhow!(e).context("stdout").into())
                }
                _ => Ok(()),
            }
        }
        Command::Man { out } => man_pages(&out),
        Command::Doctor { json } => doctor::doctor(&home, json),
    }
}

/// Writes `ward.1` and `ward-SUBCOMMAND.1` (nested subcommands too) into `dir`.
fn man_pages(dir: &std::path::Path) -> Result<(), Failure> {
    use anyhow::Context as _;
    fn write(dir: &std::path::Path, cmd: &clap::Command, name: &str) -> anyhow::Result<()> {
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd.clone())
            .title(name.to_owned())
            .render(&mut page)
            .context("rendering a man page")?;
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            write(dir, sub, &format!("{name}-{}", sub.get_name()))?;
        }
        Ok(())
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut cmd = <cli::Cli as clap::CommandFactory>::command();
    cmd.build();
    write(dir, &cmd, "ward")?;
    Ok(())
}

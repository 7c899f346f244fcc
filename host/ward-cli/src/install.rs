//! `ward pack`, `ward install` and `ward run`: the signed path from a file or URL to a call.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, anyhow};
use ward_install::consent::OperatorLine;
use ward_install::{Answer, Committed, Consent, Mode, PhraseFor, Review};
use ward_manifest::Manifest;
use ward_store::{AuditAction, AuditEvent, Outcome, Store};

use crate::cli::{InstallArgs, PackArgs, RunInstalledArgs};
use crate::run;
use crate::{Failure, output};
use ward_home::Home;
use ward_home::OperatorPolicy;

/// Opens the store in `home` with the operator policy's settings.
pub(crate) fn open_store(home: &Home, policy: &OperatorPolicy) -> anyhow::Result<Store> {
    Ok(ward_home::open_store(home, policy)?)
}

/// Reads one line from the terminal, or `None` when stdin is not a terminal.
fn ask(question: &str) -> std::io::Result<Option<String>> {
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    eprint!("{question}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(Some(line.trim().to_owned()))
}

/// Whether the operator typed `phrase` exactly: as one of the `--confirm` values when any was
/// given, otherwise on the terminal when `may_ask`. Not on a terminal, nothing was typed.
pub(crate) fn typed_phrase(given: &[String], phrase: &str, may_ask: bool) -> std::io::Result<bool> {
    if !given.is_empty() {
        return Ok(given.iter().any(|g| g == phrase));
    }
    if !may_ask {
        return Ok(false);
    }
    Ok(ask(&format!("type '{phrase}' to confirm: "))?.as_deref() == Some(phrase))
}

pub(crate) fn pack(args: PackArgs) -> Result<(), Failure> {
    let component = ward_load::read_file(&args.path, ward_policy::MAX_COMPONENT_BYTES)
        .map_err(Failure::usage)?;
    let manifest = std::fs::read(&args.manifest)
        .with_context(|| format!("cannot read {}", args.manifest.display()))?;
    let packed = ward_manifest::embed(&component, &manifest).map_err(|e| {
        Failure::usage(anyhow!(e).context(format!("cannot pack {}", args.path.display())))
    })?;
    let parsed = Manifest::parse(&manifest).map_err(Failure::usage)?;
    write_new(&args.out, &packed)?;
    eprintln!(
        "packed {} {} into {}; sign it next: ward-sign sign --key KEY {} -o SIGNED.wasm",
        parsed.name,
        parsed.version,
        args.out.display(),
        args.out.display()
    );
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a failure leaves no
/// half-written output.
fn write_new(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .map_err(|e| anyhow!(e.error))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The operator at this terminal: `--yes` (pre-approved capabilities only), `--confirm`
/// phrases typed ahead, or questions on the terminal. Also the consent of an approved proposal,
/// whose approval was given before.
pub(crate) struct TerminalConsent {
    mode: Mode,
    confirm: Vec<String>,
}

impl TerminalConsent {
    pub(crate) fn new(args: &InstallArgs) -> TerminalConsent {
        TerminalConsent {
            mode: if args.yes {
                Mode::Preapproved
            } else {
                Mode::Ask
            },
            confirm: args.confirm.clone(),
        }
    }

    pub(crate) fn approved_proposal(phrase_typed: bool, confirm: Vec<String>) -> TerminalConsent {
        TerminalConsent {
            mode: Mode::ApprovedProposal { phrase_typed },
            confirm,
        }
    }
}

impl Consent for TerminalConsent {
    fn mode(&self) -> Mode {
        self.mode
    }

    fn show(&mut self, review: &Review) {
        eprint!("{}", render_review(review));
    }

    fn typed(&mut self, phrase: &str, why: PhraseFor, review: &Review) -> std::io::Result<bool> {
        let may_ask = why == PhraseFor::Downgrade || self.mode != Mode::Preapproved;
        if why == PhraseFor::Escalation
            && self.confirm.is_empty()
            && may_ask
            && std::io::stdin().is_terminal()
        {
            eprintln!(
                "this asks for more authority than {} has now:",
                clean(&review.name)
            );
            for line in &review.escalations {
                eprintln!("  + {}", clean(line));
            }
        }
        typed_phrase(&self.confirm, phrase, may_ask)
    }

    fn accept(&mut self, _review: &Review) -> std::io::Result<Answer> {
        Ok(match ask("Install? [y/N] ")? {
            Some(answer) if matches!(answer.as_str(), "y" | "Y" | "yes") => Answer::Yes,
            Some(_) => Answer::No,
            None => Answer::CannotAsk,
        })
    }
}

fn clean(text: &str) -> String {
    ward_policy::text::sanitize(text, false)
}

/// What the operator reads before deciding: every line that came from the signed manifest is
/// sanitized.
fn render_review(review: &Review) -> String {
    let mut screen = format!(
        "{} {} — {}\n  digest   {}\n  signed by {}\n",
        clean(&review.name),
        clean(&review.version),
        clean(&review.description),
        review.digest,
        review
            .signers
            .iter()
            .map(|s| format!("{} ({})", clean(&s.labels.join(", ")), s.key_id))
            .collect::<Vec<_>>()
            .join("; ")
    );
    screen.push_str("  it may:\n");
    for line in &review.summary {
        screen.push_str(&format!("    - {}\n", clean(line)));
    }
    for line in &review.operator {
        match line {
            OperatorLine::Env { name } => screen.push_str(&format!(
                "  env {} is set for it (value given by you)\n",
                clean(name)
            )),
            OperatorLine::Files {
                host,
                guest,
                writable,
            } => screen.push_str(&format!(
                "  it sees {} as {} ({})\n",
                clean(host),
                clean(guest),
                if *writable { "read-write" } else { "read-only" }
            )),
        }
    }
    for warning in &review.warnings {
        screen.push_str(&format!("  note: {}\n", clean(warning)));
    }
    if let Some(changes) = &review.changes {
        screen.push_str(&format!(
            "  changes since {}:\n",
            clean(&changes.from_version)
        ));
        if changes.diff.is_empty() && changes.widened.is_empty() && changes.commands.is_empty() {
            screen.push_str("    (none)\n");
        }
        for line in &changes.diff {
            screen.push_str(&format!("    {}\n", clean(line)));
        }
        for line in &changes.widened {
            screen.push_str(&format!("    + {}\n", clean(line)));
        }
        for line in &changes.commands {
            screen.push_str(&format!("    {}\n", clean(line)));
        }
    }
    screen
}

pub(crate) fn install(home: &Home, args: InstallArgs) -> Result<(), Failure> {
    let source = ward_install::Source::parse(&args.source);
    let bytes = ward_install::read_source(&source, ward_policy::MAX_COMPONENT_BYTES)
        .map_err(|e| refusal(ward_install::Refusal::Read(e)))?;
    let mut consent = TerminalConsent::new(&args);
    let request = ward_install::Request {
        source: args.source.clone(),
        bytes,
        env: args.env.clone(),
        dirs: args.dirs.clone(),
        allow_downgrade: args.allow_downgrade,
        extra_grants: Vec::new(),
    };
    install_request(home, &request, &mut consent).map(|_| ())
}

/// Runs the install pipeline for `request` and tells the operator what it did.
pub(crate) fn install_request(
    home: &Home,
    request: &ward_install::Request,
    consent: &mut TerminalConsent,
) -> Result<Committed, Failure> {
    let policy = OperatorPolicy::load(&home.policy_file())?;
    let runtime = run::runtime(home)?;
    let committed =
        ward_install::install(home, &policy, &runtime, request, consent).map_err(refusal)?;
    eprintln!(
        "{} {} {} ({})",
        committed.action, committed.name, committed.version, committed.digest
    );
    for secret in &committed.unset_secrets {
        eprintln!(
            "note: secret {secret} is not set: run ward secret set {secret} before running it"
        );
    }
    if let Some(problem) = &committed.secret_store_problem {
        eprintln!("note: the secret store is unavailable: {problem}");
    }
    Ok(committed)
}

/// The CLI failure of a refused install: exit status 2 for a mistake in the request, 1 for a
/// refusal of the plugin.
pub(crate) fn refusal(refusal: ward_install::Refusal) -> Failure {
    if refusal.is_usage() {
        Failure::usage(refusal)
    } else {
        Failure::plugin(refusal)
    }
}

pub(crate) fn run_installed(home: &Home, mut args: RunInstalledArgs) -> Result<(), Failure> {
    if !args.standalone && crate::via_daemon::run(home, &mut args)?.is_some() {
        return Ok(());
    }
    let json_out = args.call.json;
    let call_args = match args
        .call
        .args
        .as_deref()
        .map(run::parse_args_json)
        .transpose()
    {
        Ok(a) => a,
        Err(failure) => {
            return run::print_error(
                json_out,
                serde_json::json!({
                    "kind": "invalid-arguments",
                    "message": format!("{:#}", failure.error),
                }),
                None,
            );
        }
    };
    let policy = OperatorPolicy::load(&home.policy_file())?;
    let store = match open_store(home, &policy) {
        Ok(s) => s,
        // Without the store nothing can be audited: the call does not start.
        Err(e) => {
            return run::print_error(
                json_out,
                serde_json::json!({ "kind": "audit-unavailable", "message": format!("{e:#}") }),
                None,
            );
        }
    };
    let runtime = run::runtime(home)?;
    let stores = std::sync::Mutex::new(store);
    let pipeline = ward_call::Pipeline {
        home,
        policy: &policy,
        policy_stamp: None,
        runtime: &runtime,
        cache: None,
        probe_writable: true,
        max_handles: ward_call::per_call_handles(1, 0),
    };
    let request = ward_call::CallRequest {
        plugin: args.name.clone(),
        command: args.call.command.clone(),
        input: ward_call::Input::Cli {
            args: call_args,
            pairs: args.call.pairs.clone(),
            argv: args.call.argv.clone(),
        },
    };
    let mut gates = ward_call::NoGates {
        confirm: Some(crate::confirm_tty::hook(&args.name, &args.call.command)),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let finished = rt.block_on(pipeline.run(&stores, &mut gates, &request));
    // The audit row is durable before anything is shown.
    stores
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .append_audit_batch(&finished.events())
        .context("cannot write the audit log")?;
    let shown = run::print_outcome(json_out, &finished.outcome);
    output::flush();
    shown
}

/// The audit rows of the requests a call held back in paper mode: method and origin only.
pub(crate) fn paper_events(
    plugin: &str,
    digest: &str,
    paper: Option<&ward_http::PaperLog>,
) -> Vec<AuditEvent> {
    paper
        .map(ward_http::PaperLog::take)
        .unwrap_or_default()
        .into_iter()
        .map(|held| {
            let mut ev = AuditEvent::new(AuditAction::PaperRequest);
            ev.plugin = Some(plugin.to_owned());
            ev.digest = Some(digest.to_owned());
            ev.outcome = Outcome::Denied;
            ev.detail.reason = Some("paper-mode");
            ev.detail.method = Some(held.method);
            ev.detail.origin = Some(held.origin);
            ev
        })
        .collect()
}

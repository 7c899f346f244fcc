//! `ward propose`, `ward proposals list|show|approve|reject` and `ward promote`: agents propose,
//! the operator decides. Approval signs with the operator's local key and installs through the
//! normal install path, in paper mode; the examples then run again against the installed
//! version and a failure rolls it back.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use serde_json::{Value, json};
use ward_home::{Home, OperatorPolicy};
use ward_manifest::Manifest;
use ward_signing::{PublicKey, SecretKey};
use ward_store::{AuditAction, AuditEvent, Outcome, Proposal, ProposalState, Store};

use crate::cli::{ApproveArgs, PromoteArgs, ProposalsCommand, ProposeArgs};
use crate::install::{TerminalConsent, install_request, open_store, paper_events};
use crate::{Failure, output, run};
use ward_install::Committed;

/// The operator's local signing key, under the data directory.
const LOCAL_KEY_FILE: &str = "keys/local.key";
/// The label of the local key in the trust store.
const LOCAL_KEY_LABEL: &str = "operator-local";

fn audit_deny(
    store: &mut Store,
    plugin: Option<&str>,
    reason: &'static str,
    proposal: Option<&str>,
) {
    let mut ev = AuditEvent::new(AuditAction::Deny);
    ev.plugin = plugin.map(str::to_owned);
    ev.outcome = Outcome::Denied;
    ev.detail.reason = Some(reason);
    ev.detail.proposal = proposal.map(str::to_owned);
    if let Err(err) = store.append_audit(&ev) {
        tracing::error!("cannot audit a denial: {err}");
    }
}

fn tokio_rt() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub(crate) fn propose(home: &Home, args: ProposeArgs) -> Result<(), Failure> {
    let policy = OperatorPolicy::load(&home.policy_file())?;
    let mut store = open_store(home, &policy)?;
    let component =
        ward_load::read_file(&args.path, ward_policy::MAX_COMPONENT_BYTES).map_err(|e| {
            Failure::usage(anyhow!(e).context(format!("cannot read {}", args.path.display())))
        })?;
    let examples = match &args.examples {
        Some(path) => {
            let bytes = ward_load::read_file(path, ward_propose::MAX_EXAMPLES_BYTES as u64)
                .map_err(|e| {
                    Failure::usage(anyhow!(e).context(format!("cannot read {}", path.display())))
                })?;
            Some(ward_propose::Examples::parse(&bytes).map_err(|e| {
                Failure::usage(
                    anyhow!(e).context(format!("refusing the proposal: {}", path.display())),
                )
            })?)
        }
        None => None,
    };
    let source =
        match &args.source {
            Some(dir) => Some(ward_propose::read_source_dir(dir).map_err(|e| {
                Failure::usage(anyhow!(e).context("refusing the proposal: --source"))
            })?),
            None => None,
        };
    let submission = ward_propose::Submission {
        component,
        examples,
        source,
    };
    let id = submit(home, &mut store, &submission, "operator")?;
    let proposal = store.proposal_get(&id)?;
    if args.json {
        output::print_json(&json!({ "id": id, "report": proposal.report }))?;
    } else {
        eprint!("{}", render(&proposal));
        output::print_result(&json!(id), false)?;
    }
    Ok(())
}

/// Evaluates and records a submission; a refusal is audited and nothing is recorded.
pub(crate) fn submit(
    home: &Home,
    store: &mut Store,
    submission: &ward_propose::Submission,
    submitted_by: &str,
) -> Result<String, Failure> {
    let name = ward_propose::peek_name(&submission.component).ok();
    let installed = match &name {
        Some(n) => ward_propose::installed(store, n).map_err(|e| Failure::plugin(anyhow!(e)))?,
        None => None,
    };
    let previous = match &name {
        Some(n) => {
            ward_propose::previous_source(store, n).map_err(|e| Failure::plugin(anyhow!(e)))?
        }
        None => None,
    };
    let runtime = run::runtime(home)?;
    let evaluated = tokio_rt()?.block_on(ward_propose::evaluate(
        &runtime,
        submission,
        installed.as_ref(),
        previous.as_ref(),
    ));
    let evaluated = match evaluated {
        Ok(e) => e,
        Err(err) => {
            audit_deny(store, name.as_deref(), err.reason(), None);
            return Err(Failure::plugin(
                anyhow!(err).context("proposal refused, nothing recorded"),
            ));
        }
    };
    let id = ward_propose::record(store, &evaluated, submission, submitted_by)
        .map_err(|e| Failure::plugin(anyhow!(e).context("cannot record the proposal")))?;
    if !evaluated.examples_passed {
        eprintln!("proposal {id} recorded, but some of its examples failed (see the report)");
    }
    Ok(id)
}

fn clean(text: &str) -> String {
    ward_policy::text::sanitize(text, false)
}

/// The report as the operator reads it on a terminal; every guest-supplied text sanitized.
pub(crate) fn render(p: &Proposal) -> String {
    let r = &p.report;
    let s = |v: &Value| clean(v.as_str().unwrap_or(""));
    let mut out = format!(
        "proposal {} ({}) — {} {}\n  {}\n  digest   {}\n  size     {} bytes\n  from     {}\n",
        p.id,
        p.state.as_str(),
        clean(&p.plugin),
        clean(&p.version),
        s(&r["description"]),
        clean(&p.digest),
        r["size"].as_u64().unwrap_or(0),
        clean(&p.submitted_by),
    );
    if let Some(reason) = &p.reason {
        out.push_str(&format!("  reason   {}\n", clean(reason)));
    }
    out.push_str("  commands:\n");
    for c in r["commands"].as_array().into_iter().flatten() {
        out.push_str(&format!("    {}\n", s(&c["signature"])));
    }
    out.push_str("  imports:\n");
    for i in r["imports"].as_array().into_iter().flatten() {
        out.push_str(&format!("    {}\n", s(i)));
    }
    out.push_str("  it may:\n");
    let caps = r["capabilities"].as_array().cloned().unwrap_or_default();
    if caps.is_empty() {
        out.push_str("    (nothing beyond computing)\n");
    }
    for c in &caps {
        out.push_str(&format!("    - {}\n", s(c)));
    }
    for n in r["notes"].as_array().into_iter().flatten() {
        out.push_str(&format!("  note: {}\n", s(n)));
    }
    match r["installed"].as_object() {
        Some(installed) => {
            out.push_str(&format!(
                "  changes since the installed {}:\n",
                clean(
                    installed
                        .get("version")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                )
            ));
            let changes = r["changes"].as_array().cloned().unwrap_or_default();
            if changes.is_empty() {
                out.push_str("    (none)\n");
            }
            for c in &changes {
                out.push_str(&format!("    {}\n", s(c)));
            }
        }
        None => out.push_str("  not installed yet\n"),
    }
    if r["escalates"] == true {
        out.push_str(&format!(
            "  it asks for more authority: approving needs the phrase '{}'\n",
            s(&r["phrase"])
        ));
    }
    let examples = r["examples"].as_array().cloned().unwrap_or_default();
    if examples.is_empty() {
        out.push_str("  examples: none\n");
    } else {
        out.push_str(&format!(
            "  examples: {}\n",
            if r["examples_passed"] == true {
                "all passed"
            } else {
                "SOME FAILED"
            }
        ));
    }
    for e in &examples {
        let mark = if e["passed"] == true { "pass" } else { "FAIL" };
        out.push_str(&format!(
            "    {mark} #{} {}",
            e["index"].as_u64().unwrap_or(0),
            s(&e["command"])
        ));
        if e["passed"] != true {
            match e["error"].as_str() {
                Some(err) => out.push_str(&format!(": error {}", clean(err))),
                None => out.push_str(&format!(
                    ": expected {} got {}",
                    clean(&e["expected"].to_string()),
                    clean(&e["got"].to_string())
                )),
            }
        }
        out.push('\n');
        for q in e["requests"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "      {} {} -> {}\n",
                s(&q["method"]),
                s(&q["url"]),
                s(&q["answer"])
            ));
        }
    }
    if let Some(diff) = r["source_diff"].as_str() {
        out.push_str("  source diff:\n");
        out.push_str(&ward_policy::text::sanitize(diff, true));
        if !diff.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

pub(crate) fn proposals(home: &Home, command: ProposalsCommand) -> Result<(), Failure> {
    let policy = OperatorPolicy::load(&home.policy_file())?;
    match command {
        ProposalsCommand::List { json } => {
            let store = open_store(home, &policy)?;
            let list = store.proposal_list()?;
            if json {
                output::print_json(&json!(list
                    .iter()
                    .map(|p| json!({
                        "id": p.id, "plugin": p.plugin, "version": p.version, "digest": p.digest,
                        "state": p.state, "submitted_by": p.submitted_by, "created_at": p.created_at,
                        "escalates": p.report["escalates"], "examples_passed": p.report["examples_passed"],
                    }))
                    .collect::<Vec<_>>()))?;
                return Ok(());
            }
            let mut text = String::new();
            for p in &list {
                text.push_str(&format!(
                    "{}  {:<8}  {} {}  examples {}{}\n",
                    p.id,
                    p.state.as_str(),
                    clean(&p.plugin),
                    clean(&p.version),
                    if p.report["examples_passed"] == true {
                        "ok"
                    } else {
                        "FAILED"
                    },
                    if p.report["escalates"] == true {
                        "  asks for more authority"
                    } else {
                        ""
                    }
                ));
            }
            output::print_result(&json!(text), true)?;
            Ok(())
        }
        ProposalsCommand::Show { id, json } => {
            let store = open_store(home, &policy)?;
            let p = store
                .proposal_get(&id)
                .map_err(|e| Failure::usage(anyhow!(e)))?;
            if json {
                output::print_json(&json!(p))?;
            } else {
                output::print_result(&json!(render(&p)), true)?;
            }
            Ok(())
        }
        ProposalsCommand::Reject { id, reason } => {
            let mut store = open_store(home, &policy)?;
            store
                .proposal_decide(&id, ProposalState::Rejected, reason.as_deref())
                .map_err(|e| Failure::usage(anyhow!(e)))?;
            eprintln!("rejected {id}");
            Ok(())
        }
        ProposalsCommand::Approve(args) => approve(home, &policy, args),
    }
}

/// Reads one line from the terminal, or `None` when stdin is not a terminal.
fn ask(question: &str) -> anyhow::Result<Option<String>> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    eprint!("{question}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(Some(line.trim().to_owned()))
}

/// Whether the operator typed `phrase` (with `--confirm`, or on the terminal).
fn confirmed(given: Option<&str>, phrase: &str) -> anyhow::Result<bool> {
    Ok(match given {
        Some(text) => text == phrase,
        None => ask(&format!("type '{phrase}' to confirm: "))?.as_deref() == Some(phrase),
    })
}

fn approve(home: &Home, policy: &OperatorPolicy, args: ApproveArgs) -> Result<(), Failure> {
    let mut store = open_store(home, policy)?;
    let p = store
        .proposal_get(&args.id)
        .map_err(|e| Failure::usage(anyhow!(e)))?;
    if p.state != ProposalState::Pending {
        return Err(Failure::usage(anyhow!(
            "proposal {} is {}, not pending; a proposal is decided once",
            p.id,
            p.state.as_str()
        )));
    }
    if p.report["examples_passed"] != true {
        audit_deny(&mut store, Some(&p.plugin), "examples-failed", Some(&p.id));
        return Err(Failure::plugin(anyhow!(
            "refusing to approve {}: its examples failed in the sandbox (ward proposals show {})",
            p.id,
            p.id
        )));
    }
    let component = store.get_blob(&p.blob)?;
    let manifest_bytes = ward_manifest::extract(&component)
        .map_err(|e| Failure::plugin(anyhow!(e)))?
        .ok_or_else(|| Failure::plugin(anyhow!("the stored proposal carries no manifest")))?;
    let manifest = Manifest::parse(manifest_bytes).map_err(|e| Failure::plugin(anyhow!(e)))?;
    // Escalation against what is installed now (it may have changed since the submission).
    let installed =
        ward_propose::installed(&store, &p.plugin).map_err(|e| Failure::plugin(anyhow!(e)))?;
    eprint!("{}", render(&p));
    let escalates = ward_propose::escalates(&manifest, installed.as_ref().map(|i| &i.manifest));
    if escalates {
        let phrase = ward_propose::approval_phrase(&p.plugin, &p.version);
        if !confirmed(args.confirm.as_deref(), &phrase)? {
            audit_deny(&mut store, Some(&p.plugin), "phrase-missing", Some(&p.id));
            return Err(Failure::plugin(anyhow!(
                "refusing to approve {}: it asks for more authority; type the exact phrase '{phrase}' (or pass --confirm '{phrase}')",
                p.id
            )));
        }
    }
    let key = local_key(home, &mut store, policy, args.passphrase_env.as_deref())?;
    let signed = ward_signing::sign(&component, &key)
        .map_err(|e| Failure::plugin(anyhow!(e).context("cannot sign the proposal")))?;
    drop(store);
    let extra = if args.live {
        Vec::new()
    } else {
        vec![ward_call::paper_entry()]
    };
    let request = ward_install::Request {
        source: format!("proposal {}", p.id),
        bytes: signed,
        env: args.env.clone(),
        dirs: args.dirs.clone(),
        allow_downgrade: false,
        extra_grants: extra,
    };
    let mut consent =
        TerminalConsent::approved_proposal(escalates, args.confirm.iter().cloned().collect());
    let committed = install_request(home, &request, &mut consent)?;
    let mut store = open_store(home, policy)?;
    store
        .proposal_decide(&p.id, ProposalState::Approved, None)
        .map_err(|e| Failure::plugin(anyhow!(e)))?;
    eprintln!(
        "approved {}: {} {} signed by the local key and installed{}",
        p.id,
        committed.name,
        committed.version,
        if args.live {
            ""
        } else {
            " in paper mode (ward promote makes it live)"
        }
    );
    let examples: Option<ward_propose::Examples> = p
        .examples
        .clone()
        .and_then(|v| serde_json::from_value(v).ok());
    match examples {
        Some(examples) => health_check(home, policy, &mut store, &committed, &examples, &p.id),
        None => {
            eprintln!("no examples: no health check to run");
            Ok(())
        }
    }
}

/// Runs the examples against the installed version with its real grants in paper mode; on a
/// failure rolls back to the previous version (or uninstalls when there was none), audited.
fn health_check(
    home: &Home,
    policy: &OperatorPolicy,
    store: &mut Store,
    committed: &Committed,
    examples: &ward_propose::Examples,
    proposal: &str,
) -> Result<(), Failure> {
    let runtime = run::runtime(home)?;
    let outcome: anyhow::Result<(Vec<ward_propose::ExampleOutcome>, Vec<AuditEvent>)> = (|| {
        let prepared = ward_call::prepare_with(home, policy, store, &committed.name, true)?;
        let plugin = runtime.load(&committed.name, &prepared.component)?;
        let outcomes = tokio_rt()?.block_on(ward_propose::run_examples(
            &runtime,
            &plugin,
            &examples.examples,
            &prepared.limits,
            &prepared.grants,
            None,
        ));
        let paper = paper_events(&committed.name, &prepared.digest, prepared.paper.as_ref());
        Ok((outcomes, paper))
    })();
    let (failed, mut events): (Vec<String>, Vec<AuditEvent>) = match outcome {
        Ok((outcomes, paper)) => (
            outcomes
                .iter()
                .filter(|o| !o.passed)
                .map(|o| match &o.error {
                    Some(e) => format!("#{} {}: error {}", o.index, clean(&o.command), clean(e)),
                    None => format!(
                        "#{} {}: expected {} got {}",
                        o.index,
                        clean(&o.command),
                        clean(&o.expected.to_string()),
                        clean(&o.got.clone().unwrap_or(Value::Null).to_string())
                    ),
                })
                .collect(),
            paper,
        ),
        Err(err) => (
            vec![format!("the installed version cannot run: {err:#}")],
            Vec::new(),
        ),
    };
    let mut ev = AuditEvent::new(AuditAction::HealthCheck);
    ev.plugin = Some(committed.name.clone());
    ev.digest = Some(committed.digest.clone());
    ev.detail.version = Some(committed.version.clone());
    ev.detail.proposal = Some(proposal.to_owned());
    if !failed.is_empty() {
        ev.outcome = Outcome::Error;
        ev.detail.reason = Some("health-check-failed");
    }
    events.push(ev);
    store
        .append_audit_batch(&events)
        .context("cannot write the audit log")?;
    if failed.is_empty() {
        eprintln!(
            "health check passed: {} example(s)",
            examples.examples.len()
        );
        return Ok(());
    }
    let undone = match &committed.previous {
        Some(previous) => {
            store
                .rollback(&committed.name, Some(previous))
                .with_context(|| {
                    format!(
                        "the health check failed and the rollback of {} failed",
                        committed.name
                    )
                })?;
            format!("rolled back to {previous}")
        }
        None => {
            store.uninstall(&committed.name, false).with_context(|| {
                format!(
                    "the health check failed and the uninstall of {} failed",
                    committed.name
                )
            })?;
            "uninstalled (there was no previous version)".to_owned()
        }
    };
    Err(Failure::plugin(anyhow!(
        "health check failed for {} {}: {}; {undone}",
        committed.name,
        committed.version,
        failed.join("; ")
    )))
}

/// The passphrase of the local key: from the environment variable named, or the terminal.
fn passphrase(env: Option<&str>, creating: bool) -> anyhow::Result<zeroize::Zeroizing<String>> {
    if let Some(var) = env {
        let value = std::env::var(var)
            .with_context(|| format!("--passphrase-env {var}: the variable is not set"))?;
        if value.is_empty() {
            anyhow::bail!("--passphrase-env {var}: the passphrase is empty");
        }
        return Ok(zeroize::Zeroizing::new(value));
    }
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "the local key needs a passphrase and no terminal is available: pass --passphrase-env VAR"
        );
    }
    let first = zeroize::Zeroizing::new(
        rpassword::prompt_password(if creating {
            "new passphrase for the local key: "
        } else {
            "local key passphrase: "
        })
        .context("cannot read the passphrase")?,
    );
    if first.is_empty() {
        anyhow::bail!("the passphrase is empty");
    }
    if creating {
        let again = zeroize::Zeroizing::new(
            rpassword::prompt_password("passphrase (again): ")
                .context("cannot read the passphrase")?,
        );
        if *again != *first {
            anyhow::bail!("the passphrases differ");
        }
    }
    Ok(first)
}

fn local_key_path(home: &Home) -> PathBuf {
    home.root().join(LOCAL_KEY_FILE)
}

/// The operator's local signing key: read (it is encrypted at rest), or created on first use
/// and trusted for `local:*` plus the policy's `[proposals] sign_for` patterns.
fn local_key(
    home: &Home,
    store: &mut Store,
    policy: &OperatorPolicy,
    passphrase_env: Option<&str>,
) -> Result<SecretKey, Failure> {
    let path = local_key_path(home);
    if path.exists() {
        let pass = passphrase(passphrase_env, false).map_err(Failure::usage)?;
        return SecretKey::read_file(&path, Some(&pass)).map_err(|e| {
            Failure::plugin(
                anyhow!(e).context(format!("cannot read the local key {}", path.display())),
            )
        });
    }
    let pass = passphrase(passphrase_env, true).map_err(Failure::usage)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    ward_load::private_dir(dir).map_err(|e| {
        Failure::plugin(anyhow!(e).context(format!("cannot create {}", dir.display())))
    })?;
    let key = SecretKey::generate().map_err(|e| Failure::plugin(anyhow!(e)))?;
    key.write_file(&path, Some(&pass))
        .map_err(|e| Failure::plugin(anyhow!(e).context("cannot write the local key")))?;
    let public: PublicKey = key.public_key();
    let key_id = public.key_id().to_string();
    let mut scopes = vec!["local:*".to_owned()];
    scopes.extend(policy.proposal_scopes.iter().map(|p| p.as_str().to_owned()));
    store
        .trust_add(
            &key_id,
            &public.to_openssh(),
            LOCAL_KEY_LABEL,
            scopes.clone(),
            None,
            None,
        )
        .map_err(|e| Failure::plugin(anyhow!(e).context("cannot trust the local key")))?;
    eprintln!(
        "created the local signing key {} (encrypted) and trusted it for {}",
        path.display(),
        scopes.join(", ")
    );
    Ok(key)
}

pub(crate) fn promote(home: &Home, args: PromoteArgs) -> Result<(), Failure> {
    let policy = OperatorPolicy::load(&home.policy_file())?;
    let mut store = open_store(home, &policy)?;
    let current = store.current(&args.name)?.ok_or_else(|| {
        Failure::usage(anyhow!("{} is not installed (see `ward list`)", args.name))
    })?;
    let grants = store.grants_for(&current.digest)?.ok_or_else(|| {
        Failure::plugin(anyhow!(
            "{} has no grant for digest {}",
            args.name,
            current.digest
        ))
    })?;
    if !ward_call::is_paper(&grants) {
        return Err(Failure::usage(anyhow!(
            "{} {} is not in paper mode: it is live already",
            args.name,
            current.version
        )));
    }
    let phrase = format!("promote {} {}", args.name, current.version);
    eprintln!(
        "{} {} runs in paper mode: requests other than GET and HEAD are recorded, not sent.\npromoting makes them real.",
        args.name, current.version
    );
    if !confirmed(args.confirm.as_deref(), &phrase)? {
        audit_deny(&mut store, Some(&args.name), "phrase-missing", None);
        return Err(Failure::plugin(anyhow!(
            "not promoted: type the exact phrase '{phrase}' (or pass --confirm '{phrase}')"
        )));
    }
    let live: Vec<Value> = grants
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["kind"] != "paper")
        .cloned()
        .collect();
    store
        .set_grants(
            &args.name,
            &current.digest,
            &json!(live),
            AuditAction::Promote,
        )
        .map_err(|e| Failure::plugin(anyhow!(e)))?;
    eprintln!("{} {} is live", args.name, current.version);
    Ok(())
}

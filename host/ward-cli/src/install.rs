//! `ward pack`, `ward install` and `ward run`: the signed path from a file or URL to a call.

use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, anyhow};
use serde_json::json;
use ward_manifest::Manifest;
use ward_signing::{Capability, Pattern, PublicKey, TrustPolicy, TrustedKey};
use ward_store::{AuditAction, AuditEvent, InstallRecord, Outcome, Store};

use crate::cli::{InstallArgs, PackArgs, RunInstalledArgs};
use crate::run;
use crate::{EXIT_PLUGIN, Failure, fetch, output};
use ward_home::Home;
use ward_home::OperatorPolicy;

/// Opens the store in `home` with the operator policy's settings.
pub(crate) fn open_store(home: &Home, policy: &OperatorPolicy) -> anyhow::Result<Store> {
    Ok(ward_home::open_store(home, policy)?)
}

/// The trust policy: keys from the store, thresholds from the operator policy.
pub(crate) fn trust_policy(store: &Store, policy: &OperatorPolicy) -> anyhow::Result<TrustPolicy> {
    let mut keys = Vec::new();
    for k in store.trust_list()? {
        let key = PublicKey::parse(k.public_key.as_bytes())
            .with_context(|| format!("trusted key {} in the store is unreadable", k.key_id))?;
        let scope = k
            .scopes
            .iter()
            .map(|s| Pattern::parse(s))
            .collect::<Result<Vec<_>, _>>()?;
        let ceiling = match &k.ceiling {
            None => None,
            Some(kinds) => Some(
                kinds
                    .iter()
                    .map(|c| serde_json::from_value::<Capability>(json!(c)))
                    .collect::<Result<BTreeSet<_>, _>>()
                    .with_context(|| format!("trusted key {} has an unknown ceiling", k.key_id))?,
            ),
        };
        keys.push(TrustedKey {
            label: k.label,
            key,
            scope,
            ceiling,
            expires: None,
            revoked: k.revoked_at.is_some(),
        });
    }
    Ok(TrustPolicy::new(keys, policy.rules.clone())?)
}

fn deny(store: &mut Store, plugin: Option<&str>, digest: Option<String>, reason: &'static str) {
    let mut event = AuditEvent::new(AuditAction::Deny);
    event.plugin = plugin.map(str::to_owned);
    event.digest = digest;
    event.outcome = Outcome::Denied;
    event.detail.reason = Some(reason);
    if let Err(err) = store.append_audit(&event) {
        tracing::error!("cannot audit a denial: {err}");
    }
}

/// Reads one line from the terminal, or `None` when stdin is not a terminal.
fn ask(question: &str) -> anyhow::Result<Option<String>> {
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
pub(crate) fn typed_phrase(given: &[String], phrase: &str, may_ask: bool) -> anyhow::Result<bool> {
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

/// How the operator consents to an install.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Consent {
    /// Ask on the terminal, or with `--yes` accept only pre-approved capabilities.
    Ask,
    /// The operator approved a proposal: that is the consent; every other check of the install
    /// path still applies. `phrase_typed`: the operator typed the proposal's approval phrase (it
    /// escalated). When not, an escalation found here (the operator's `--dir` or `--env` widening
    /// the installed version's grants) still needs the phrase.
    ApprovedProposal {
        /// Whether the approval phrase was typed.
        phrase_typed: bool,
    },
}

/// What an install committed.
#[derive(Debug, Clone)]
pub(crate) struct Committed {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) digest: String,
    /// The version that was current before, if any.
    pub(crate) previous: Option<String>,
}

pub(crate) fn install(home: &Home, args: InstallArgs) -> Result<(), Failure> {
    let source = args.source.clone();

    // 1. Read, size-capped.
    let bytes = if fetch::is_url(&source) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        rt.block_on(fetch::download(&source, ward_policy::MAX_COMPONENT_BYTES))
            .map_err(Failure::plugin)?
    } else {
        ward_load::read_file(
            std::path::Path::new(&source),
            ward_policy::MAX_COMPONENT_BYTES,
        )
        .map_err(Failure::usage)?
    };
    install_bytes(home, &bytes, &args, Consent::Ask, &[]).map(|_| ())
}

/// The install path for `bytes` (named `args.source` in messages): verify, manifest, import
/// check, downgrade, consent, compile, commit. `extra_grants` are added to the grant entries
/// bound to the digest (the paper-mode flag).
pub(crate) fn install_bytes(
    home: &Home,
    bytes: &[u8],
    args: &InstallArgs,
    consent: Consent,
    extra_grants: &[serde_json::Value],
) -> Result<Committed, Failure> {
    let policy = OperatorPolicy::load(&home.policy_file())?;
    let mut store = open_store(home, &policy)?;
    let source = args.source.clone();
    let bytes = bytes.to_vec();

    // 2. Signatures, before anything else is parsed. The trust store's scopes need the plugin's
    //    name, which only the signed manifest gives: so first check that a trusted key signed
    //    these exact bytes (any scope), then read the name from the signed bytes, then apply the
    //    full policy for that name.
    let trust = trust_policy(&store, &policy)?;
    let any_scope = TrustPolicy::new(
        trust
            .keys()
            .iter()
            .map(|k| TrustedKey {
                scope: vec![Pattern::parse("*").unwrap_or_else(|_| k.scope[0].clone())],
                ..k.clone()
            })
            .collect(),
        Vec::new(),
    )?;
    let crypto = match ward_signing::verify(&bytes, &any_scope, "ward:probe") {
        Ok(v) => v,
        Err(ward_signing::VerifyError::Refused(report)) => {
            deny(
                &mut store,
                None,
                Some(report.digest.to_string()),
                "signature-refused",
            );
            let signatures: Vec<String> = report
                .signatures
                .iter()
                .map(|s| {
                    let who = s.key_id.as_ref().or(s.claimed_key_id.as_ref());
                    format!(
                        "#{} {} {}",
                        s.index,
                        s.status.as_str(),
                        who.map_or("(no key id)", |k| k.as_str())
                    )
                })
                .collect();
            return Err(Failure::plugin(anyhow!(
                "refusing {source}: signature check failed: no key in the trust store signed these exact bytes (signatures: {})",
                if signatures.is_empty() {
                    "none".to_owned()
                } else {
                    signatures.join("; ")
                }
            )));
        }
        Err(err) => {
            deny(&mut store, None, None, "signature-refused");
            return Err(Failure::plugin(
                anyhow!(err).context(format!("refusing {source}: signature check failed")),
            ));
        }
    };
    let digest = crypto.digest().to_string();
    let Some(manifest_bytes) = crypto.manifest() else {
        deny(&mut store, None, Some(digest), "no-manifest");
        return Err(Failure::plugin(anyhow!(
            "refusing {source}: it carries no signed manifest (pack one with `ward pack` before signing)"
        )));
    };
    let manifest = match Manifest::parse(manifest_bytes) {
        Ok(m) => m,
        Err(err) => {
            deny(&mut store, None, Some(digest), "manifest-invalid");
            return Err(Failure::plugin(
                anyhow!(err).context("refusing: invalid signed manifest"),
            ));
        }
    };
    let name = manifest.name.to_string();
    let verified = match ward_signing::verify(&bytes, &trust, &name).and_then(|v| {
        v.check_capabilities(&manifest.capability_kinds())
            .map(|()| v)
    }) {
        Ok(v) => v,
        Err(err) => {
            deny(&mut store, Some(&name), Some(digest), "signature-refused");
            return Err(Failure::plugin(
                anyhow!(err).context(format!("refusing {name}: the trust policy is not met")),
            ));
        }
    };

    // 3. The component's imports against the manifest.
    let info = match ward_load::inspect(&bytes) {
        Ok(info) => info,
        Err(err) => {
            deny(&mut store, Some(&name), Some(digest), "not-a-component");
            return Err(Failure::plugin(
                anyhow!(err).context(format!("refusing {name}")),
            ));
        }
    };
    let warnings = match ward_manifest::check_imports(&manifest, &info.imports) {
        Ok(w) => w,
        Err(err) => {
            deny(&mut store, Some(&name), Some(digest), "undeclared-import");
            return Err(Failure::plugin(
                anyhow!(err).context(format!("refusing {name}")),
            ));
        }
    };

    // Values only the operator can give: environment values and `$OPERATOR` directories.
    let mut grant_entries = match operator_grants(&manifest, args) {
        Ok(entries) => entries,
        Err(err) => {
            return Err(Failure::usage(
                err.context(format!("cannot install {name}")),
            ));
        }
    };

    grant_entries.extend(extra_grants.iter().cloned());

    // 4. Version: never downgrade silently.
    let previous = store.inspect(&name).ok();
    let previous_manifest = match &previous {
        Some(detail) => Some(
            Manifest::parse(detail.current.manifest_toml.as_bytes())
                .context("the installed version's manifest is unreadable")?,
        ),
        None => None,
    };
    if let Some(detail) = &previous {
        let highest = semver::Version::parse(&detail.highest_version)
            .context("the store holds an invalid version")?;
        if manifest.version < highest {
            let phrase = format!("downgrade {name} to {}", manifest.version);
            let confirmed = args.allow_downgrade && typed_phrase(&args.confirm, &phrase, true)?;
            if !confirmed {
                deny(&mut store, Some(&name), Some(digest), "downgrade");
                return Err(Failure::plugin(anyhow!(
                    "refusing to install {name} {}: version {highest} has been installed; a downgrade needs --allow-downgrade and the typed confirmation '{phrase}'",
                    manifest.version
                )));
            }
        }
    }

    // 5. Consent.
    let summary = manifest.summary();
    let signers: Vec<_> = verified
        .signers()
        .iter()
        .map(|s| json!({ "key_id": s.key_id().to_string(), "labels": s.labels }))
        .collect();
    let mut screen = format!(
        "{} {} — {}\n  digest   {}\n  signed by {}\n",
        name,
        manifest.version,
        ward_policy::text::sanitize(&manifest.description, false),
        digest,
        verified
            .signers()
            .iter()
            .map(|s| format!("{} ({})", s.labels.join(", "), s.key_id()))
            .collect::<Vec<_>>()
            .join("; ")
    );
    screen.push_str("  it may:\n");
    for line in &summary {
        screen.push_str(&format!("    - {line}\n"));
    }
    for entry in &grant_entries {
        match entry["kind"].as_str() {
            Some("env") => screen.push_str(&format!(
                "  env {} is set for it (value given by you)\n",
                entry["name"].as_str().unwrap_or("?")
            )),
            Some("files") => screen.push_str(&format!(
                "  it sees {} as {} ({})\n",
                entry["host"].as_str().unwrap_or("?"),
                entry["guest"].as_str().unwrap_or("?"),
                if entry["writable"] == true {
                    "read-write"
                } else {
                    "read-only"
                }
            )),
            _ => {}
        }
    }
    for warning in &warnings {
        screen.push_str(&format!("  note: {warning}\n"));
    }
    // What the upgrade (or reinstall) adds: the signed manifest's escalations, and the
    // operator's own values widening the installed version's grants.
    let mut escalations: Vec<String> = Vec::new();
    if let (Some(old), Some(detail)) = (&previous_manifest, &previous) {
        let diff = ward_manifest::diff(old, &manifest);
        let widened = widened_grants(&manifest, old, &grant_entries, &detail.current.grants);
        escalations.extend(
            diff.changes
                .iter()
                .filter(|c| c.escalation)
                .map(|c| c.text.clone()),
        );
        escalations.extend(widened.iter().cloned());
        screen.push_str(&format!("  changes since {}:\n", detail.current.version));
        if diff.is_empty() && widened.is_empty() {
            screen.push_str("    (none)\n");
        }
        for line in diff.lines() {
            screen.push_str(&format!("    {line}\n"));
        }
        for line in &widened {
            screen.push_str(&format!("    + {line}\n"));
        }
    }
    eprint!("{screen}");
    let kinds = manifest.capability_kinds();
    // More authority than the installed version had is granted only by typing the exact
    // phrase (on the terminal, or ahead with --confirm); pre-approval never lifts it.
    if !escalations.is_empty() && consent != (Consent::ApprovedProposal { phrase_typed: true }) {
        if args.yes {
            let missing = policy.not_preapproved(&name, &kinds);
            if !missing.is_empty() {
                deny(&mut store, Some(&name), Some(digest), "not-preapproved");
                return Err(not_preapproved(home, &name, &missing));
            }
        }
        let phrase = ward_propose::approval_phrase(&name, &manifest.version.to_string());
        let on_terminal = std::io::stdin().is_terminal();
        if args.confirm.is_empty() && !args.yes && on_terminal {
            eprintln!("this asks for more authority than {name} has now:");
            for line in &escalations {
                eprintln!("  + {line}");
            }
        }
        if !typed_phrase(&args.confirm, &phrase, !args.yes)? {
            deny(&mut store, Some(&name), Some(digest), "phrase-missing");
            return Err(Failure::plugin(anyhow!(
                "refusing to install {name} {}: it asks for more authority than the installed version ({}); type the exact phrase '{phrase}' on a terminal, or pass --confirm '{phrase}' (pre-approval in policy.toml does not cover more authority)",
                manifest.version,
                escalations.join("; ")
            )));
        }
    }
    let accepted = if matches!(consent, Consent::ApprovedProposal { .. }) || !escalations.is_empty()
    {
        true
    } else if args.yes {
        let missing = policy.not_preapproved(&name, &kinds);
        if !missing.is_empty() {
            deny(&mut store, Some(&name), Some(digest), "not-preapproved");
            return Err(not_preapproved(home, &name, &missing));
        }
        true
    } else {
        match ask("Install? [y/N] ")? {
            Some(answer) => matches!(answer.as_str(), "y" | "Y" | "yes"),
            None => {
                return Err(Failure::usage(anyhow!(
                    "stdin is not a terminal: run interactively, or pass --yes (which accepts only pre-approved capabilities)"
                )));
            }
        }
    };
    if !accepted {
        deny(&mut store, Some(&name), Some(digest), "operator-declined");
        return Err(Failure::plugin(anyhow!(
            "not installed: the operator declined"
        )));
    }

    // 6. Compile once (and cache), so a component wasmtime refuses is never committed.
    let runtime = run::runtime(home)?;
    if let Err(err) = runtime.load(&name, &bytes) {
        deny(&mut store, Some(&name), Some(digest), "compile-failed");
        return Err(Failure::plugin(
            anyhow!(err).context(format!("refusing {name}")),
        ));
    }

    // 7. Commit: blob, then one transaction with the registry rows and the audit row.
    let blob = store
        .put_blob(&bytes)
        .context("cannot store the component")?;
    // What the operator consented to, bound to this digest.
    let grants = json!(grant_entries);
    let outcome = store
        .install(&InstallRecord {
            name: name.clone(),
            version: manifest.version.to_string(),
            digest: digest.clone(),
            blob,
            manifest_toml: String::from_utf8_lossy(manifest_bytes).into_owned(),
            signers: json!(signers),
            grants,
            summary: summary.join("\n"),
            allow_downgrade: args.allow_downgrade,
        })
        .map_err(|e| Failure::plugin(anyhow!(e).context(format!("cannot install {name}"))))?;
    eprintln!("{} {name} {} ({digest})", outcome.action, manifest.version);
    secrets_hint(home, &manifest);
    Ok(Committed {
        name,
        version: manifest.version.to_string(),
        digest,
        previous: previous.map(|p| p.current.version),
    })
}

/// The refusal of `--yes` for capabilities `policy.toml` does not pre-approve.
fn not_preapproved(home: &Home, name: &str, missing: &[Capability]) -> Failure {
    let list = missing
        .iter()
        .map(|c| json!(c).as_str().unwrap_or("?").to_owned())
        .collect::<Vec<_>>()
        .join(", ");
    Failure::plugin(anyhow!(
        "refusing {name}: --yes accepts only capabilities pre-approved in {} and these are not: {list}",
        home.policy_file().display()
    ))
}

/// What the operator's own values at install add to the installed version's grants (`old`):
/// a directory they choose (`$OPERATOR`) granted read-write at a host path that was not
/// writable before, and an environment variable the old manifest declared set to another
/// value. One line each, naming paths and variable names, never values. What the signed
/// manifests already say (a new fixed path, a newly declared variable) is the manifest diff's.
/// Unreadable old grants count as none: everything is new.
fn widened_grants(
    manifest: &Manifest,
    old_manifest: &Manifest,
    new: &[serde_json::Value],
    old: &serde_json::Value,
) -> Vec<String> {
    let old: &[serde_json::Value] = old.as_array().map_or(&[], Vec::as_slice);
    let mut lines = Vec::new();
    for entry in new {
        match entry["kind"].as_str() {
            Some("files") if entry["writable"] == true => {
                let (Some(guest), Some(host)) = (entry["guest"].as_str(), entry["host"].as_str())
                else {
                    continue;
                };
                let chosen = manifest
                    .capabilities
                    .files
                    .iter()
                    .any(|r| r.guest == guest && r.host == ward_manifest::HostDir::Operator);
                let was_writable = old.iter().any(|o| {
                    o["kind"] == "files" && o["writable"] == true && o["host"] == entry["host"]
                });
                if chosen && !was_writable {
                    lines.push(format!(
                        "read and write files in {host} (given with --dir), seen by the plugin as {guest}"
                    ));
                }
            }
            Some("env") => {
                let Some(var) = entry["name"].as_str() else {
                    continue;
                };
                if !old_manifest.capabilities.env.iter().any(|e| e == var) {
                    continue;
                }
                let same = old.iter().any(|o| {
                    o["kind"] == "env" && o["name"] == entry["name"] && o["value"] == entry["value"]
                });
                if !same {
                    lines.push(format!(
                        "read environment variable {var} with a new value (given with --env)"
                    ));
                }
            }
            _ => {}
        }
    }
    lines
}

/// Tells the operator which of the secrets the plugin declares are not set yet (names only):
/// `ward run` refuses to start it until they are.
fn secrets_hint(home: &Home, manifest: &Manifest) {
    let declared = &manifest.capabilities.secrets;
    if declared.is_empty() {
        return;
    }
    match ward_secrets::SecretStore::open(home.root()) {
        Ok(store) => {
            let set = store.list();
            for secret in declared {
                if !set.contains(&secret.name) {
                    eprintln!(
                        "note: secret {} is not set: run ward secret set {} before running it",
                        secret.name, secret.name
                    );
                }
            }
        }
        Err(err) => eprintln!("note: the secret store is unavailable: {err}"),
    }
}

/// The grant entries for `manifest`: its capability kinds, plus the environment values and
/// directories the operator supplies with `--env` and `--dir`. Every declared variable and
/// every `$OPERATOR` directory needs a value; nothing undeclared is accepted.
fn operator_grants(
    manifest: &Manifest,
    args: &InstallArgs,
) -> anyhow::Result<Vec<serde_json::Value>> {
    let caps = &manifest.capabilities;
    let mut entries: Vec<serde_json::Value> = manifest
        .capability_kinds()
        .iter()
        .map(|k| json!({ "kind": "capability", "capability": k }))
        .collect();
    let mut env = std::collections::BTreeMap::new();
    for pair in &args.env {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| anyhow!("--env '{pair}' is not NAME=VALUE"))?;
        if !caps.env.iter().any(|declared| declared == k) {
            anyhow::bail!(
                "--env {k}: the manifest does not declare it (it declares: {})",
                list_or_none(&caps.env)
            );
        }
        env.insert(k.to_owned(), v.to_owned());
    }
    for name in &caps.env {
        let value = env
            .remove(name)
            .ok_or_else(|| anyhow!("the plugin reads environment variable {name}: give its value with --env {name}=VALUE"))?;
        entries.push(json!({ "kind": "env", "name": name, "value": value }));
    }
    let mut dirs = std::collections::BTreeMap::new();
    for pair in &args.dirs {
        let (guest, host) = pair
            .split_once('=')
            .ok_or_else(|| anyhow!("--dir '{pair}' is not GUEST=HOSTDIR"))?;
        dirs.insert(guest.to_owned(), host.to_owned());
    }
    for rule in &caps.files {
        let host = match &rule.host {
            ward_manifest::HostDir::Path(p) => {
                if dirs.remove(&rule.guest).is_some() {
                    anyhow::bail!(
                        "--dir {}: the manifest fixes that directory to {p}",
                        rule.guest
                    );
                }
                p.clone()
            }
            ward_manifest::HostDir::Operator => {
                let chosen = dirs.remove(&rule.guest).ok_or_else(|| {
                    anyhow!("the plugin asks for a directory you choose, seen as {}: give it with --dir {}=/path/on/this/machine", rule.guest, rule.guest)
                })?;
                let path = std::path::Path::new(&chosen);
                let canonical = path
                    .canonicalize()
                    .with_context(|| format!("--dir {}={chosen}", rule.guest))?;
                if !canonical.is_dir() {
                    anyhow::bail!("--dir {}={chosen}: not a directory", rule.guest);
                }
                canonical.display().to_string()
            }
        };
        entries.push(json!({
            "kind": "files",
            "guest": rule.guest,
            "host": host,
            "writable": rule.mode == ward_manifest::Mode::ReadWrite,
        }));
    }
    if let Some(extra) = dirs.keys().next() {
        anyhow::bail!("--dir {extra}: the manifest declares no directory seen as {extra}");
    }
    Ok(entries)
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "nothing".into()
    } else {
        items.join(", ")
    }
}

pub(crate) fn run_installed(home: &Home, mut args: RunInstalledArgs) -> Result<(), Failure> {
    if !args.standalone && crate::via_daemon::run(home, &mut args)?.is_some() {
        return Ok(());
    }
    let policy = OperatorPolicy::load(&home.policy_file())?;
    let mut store = open_store(home, &policy)?;
    let prepared = match ward_call::prepare(home, &policy, &store, &args.name) {
        Ok(prepared) => prepared,
        Err(err) => {
            if let Some((reason, digest)) = err.audit_denial() {
                let digest = digest.to_owned();
                deny(&mut store, Some(&args.name), Some(digest), reason);
            }
            return Err(match err {
                ward_call::ExecError::Disabled { .. }
                | ward_call::ExecError::NotGranted { .. }
                | ward_call::ExecError::SecretNotSet { .. } => Failure::plugin(err),
                _ => Failure::usage(err),
            });
        }
    };
    let ward_call::Prepared {
        digest,
        limits,
        component: bytes,
        mut grants,
        paper,
        confirm,
        ..
    } = prepared;
    if confirm {
        grants.confirm = Some(crate::confirm_tty::hook(&args.name, &args.call.command));
    }
    let runtime = run::runtime(home)?;

    let command = args.call.command.clone();
    let started = std::time::Instant::now();
    let result = run::call(&runtime, &args.name, &bytes, args.call, &limits, &grants);
    let digest_for_paper = digest.clone();
    let mut event = AuditEvent::new(AuditAction::Run);
    event.plugin = Some(args.name.clone());
    event.digest = Some(digest);
    event.detail.command = Some(command.clone());
    event.detail.duration_ms =
        Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
    match &result {
        Ok(()) => {}
        Err(failure) => {
            event.outcome = if failure.code == EXIT_PLUGIN {
                Outcome::Error
            } else {
                Outcome::Denied
            };
            event.detail.limit = failure.limit;
        }
    }
    let mut events = vec![event];
    events.extend(paper_events(&args.name, &digest_for_paper, paper.as_ref()));
    store
        .append_audit_batch(&events)
        .context("cannot write the audit log")?;
    output::flush();
    result
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

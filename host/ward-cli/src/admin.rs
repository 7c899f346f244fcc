//! Operator commands on installed plugins, trusted keys and the audit log.

use anyhow::{Context, anyhow};
use serde_json::json;
use ward_signing::{Pattern, PublicKey};

use crate::cli::{
    AuditArgs, AuditCommand, AuditFilterArgs, NameArgs, RollbackArgs, TrustCommand, UninstallArgs,
};
use crate::install::open_store;
use crate::{EXIT_PLUGIN, Failure, output};
use ward_home::Home;
use ward_home::OperatorPolicy;

fn store(home: &Home) -> anyhow::Result<ward_store::Store> {
    let policy = OperatorPolicy::load(&home.policy_file())?;
    open_store(home, &policy)
}

fn clean(text: &str) -> String {
    ward_policy::text::sanitize(text, false)
}

pub(crate) fn list(home: &Home, json: bool) -> Result<(), Failure> {
    let store = store(home)?;
    let rows = store.list()?;
    if json {
        output::print_json(&json!(rows))?;
        return Ok(());
    }
    if rows.is_empty() {
        eprintln!("no plugins installed");
        return Ok(());
    }
    let mut text = String::new();
    for row in rows {
        let state = if row.enabled {
            "enabled".to_owned()
        } else {
            format!(
                "disabled ({})",
                row.disabled_reason.as_deref().unwrap_or("operator")
            )
        };
        text.push_str(&format!(
            "{}  {}  {}  {}\n",
            clean(&row.name),
            clean(&row.version),
            state,
            row.digest
        ));
    }
    output::print_result(&json!(text), true)?;
    Ok(())
}

pub(crate) fn inspect(home: &Home, args: NameArgs) -> Result<(), Failure> {
    let store = store(home)?;
    let detail = store
        .inspect(&args.name)
        .map_err(|e| Failure::usage(anyhow!(e)))?;
    if args.json {
        output::print_json(&json!(detail))?;
        return Ok(());
    }
    let current = &detail.current;
    let mut text = format!(
        "{} {}\n  digest   {}\n  enabled  {}\n  highest  {}\n  it may:\n",
        clean(&current.name),
        clean(&current.version),
        current.digest,
        if current.enabled {
            "yes".to_owned()
        } else {
            format!(
                "no ({})",
                current.disabled_reason.as_deref().unwrap_or("operator")
            )
        },
        detail.highest_version,
    );
    for line in current.summary.lines() {
        text.push_str(&format!("    - {}\n", clean(line)));
    }
    text.push_str("  versions kept:\n");
    for v in &detail.versions {
        text.push_str(&format!(
            "    {}{} {} {}\n",
            if v.current { "* " } else { "  " },
            clean(&v.version),
            v.digest,
            v.installed_at
        ));
    }
    output::print_result(&json!(text), true)?;
    Ok(())
}

/// The current trust policy: the store's keys and `policy.toml`'s rules.
fn trust_now(home: &Home, store: &ward_store::Store) -> Result<ward_signing::TrustPolicy, Failure> {
    let policy = OperatorPolicy::load(&home.policy_file())?;
    ward_trust::trust_policy(store, &policy.rules).map_err(Failure::usage)
}

fn refused(e: ward_trust::Refused) -> Failure {
    match e {
        ward_trust::Refused::Store(e) => Failure::usage(anyhow!(e)),
        other => Failure::plugin(other),
    }
}

pub(crate) fn enable(home: &Home, name: &str) -> Result<(), Failure> {
    let mut store = store(home)?;
    let trust = trust_now(home, &store)?;
    ward_trust::enable(&mut store, &trust, name).map_err(refused)?;
    eprintln!("enabled {name}");
    Ok(())
}

pub(crate) fn disable(home: &Home, name: &str) -> Result<(), Failure> {
    store(home)?
        .disable(name, "disabled by the operator")
        .map_err(|e| Failure::usage(anyhow!(e)))?;
    eprintln!("disabled {name}");
    Ok(())
}

pub(crate) fn uninstall(home: &Home, args: UninstallArgs) -> Result<(), Failure> {
    store(home)?
        .uninstall(&args.name, args.purge)
        .map_err(|e| Failure::usage(anyhow!(e)))?;
    eprintln!(
        "uninstalled {}{}",
        args.name,
        if args.purge {
            " and removed its data"
        } else {
            ""
        }
    );
    Ok(())
}

pub(crate) fn rollback(home: &Home, args: RollbackArgs) -> Result<(), Failure> {
    let mut store = store(home)?;
    let trust = trust_now(home, &store)?;
    let now =
        ward_trust::rollback(&mut store, &trust, &args.name, args.to.as_deref()).map_err(|e| {
            match e {
                ward_trust::Refused::Store(e) => Failure::plugin(anyhow!(e)),
                other => Failure::plugin(other),
            }
        })?;
    eprintln!(
        "{} is now at {} ({})",
        clean(&now.name),
        clean(&now.version),
        now.digest
    );
    Ok(())
}

/// Tells the operator which plugins a change of the trust store or policy disabled.
fn report_disabled(disabled: &[ward_trust::Disabled]) {
    for d in disabled {
        eprintln!(
            "disabled {} {}: {}",
            clean(&d.name),
            clean(&d.version),
            clean(&d.reason)
        );
    }
}

pub(crate) fn trust(home: &Home, command: TrustCommand) -> Result<(), Failure> {
    let mut store = store(home)?;
    match command {
        TrustCommand::Add {
            key,
            scope,
            label,
            expires,
        } => {
            let data = match std::fs::metadata(&key) {
                Ok(meta) if meta.is_file() => {
                    if meta.len() > ward_signing::MAX_KEY_FILE_SIZE as u64 {
                        return Err(Failure::usage(anyhow!(
                            "{key} is too large to be a public key"
                        )));
                    }
                    std::fs::read(&key).with_context(|| format!("cannot read {key}"))?
                }
                _ => key.clone().into_bytes(),
            };
            let public = PublicKey::parse(&data).map_err(|e| {
                Failure::usage(anyhow!(e).context("not a public key (file or text)"))
            })?;
            for pattern in &scope {
                Pattern::parse(pattern).map_err(Failure::usage)?;
            }
            let key_id = public.key_id().to_string();
            let label = label.unwrap_or_else(|| format!("key-{}", &key_id[..8.min(key_id.len())]));
            if let Some(c) = label.chars().find(|c| {
                c.is_control()
                    || ward_policy::text::is_bidi_control(*c)
                    || ward_policy::text::is_separator(*c)
            }) {
                return Err(Failure::usage(anyhow!(
                    "--label {:?}: it contains the control or formatting character U+{:04X}; use printable text",
                    clean(&label),
                    u32::from(c)
                )));
            }
            let expires = match expires {
                None => None,
                Some(text) => {
                    let secs = ward_store::parse_utc(&text).ok_or_else(|| {
                        Failure::usage(anyhow!(
                            "--expires {:?}: expected a date like 2027-01-01 or a UTC time like 2027-01-01T12:00:00Z",
                            clean(&text)
                        ))
                    })?;
                    Some(ward_store::format_unix(secs))
                }
            };
            store
                .trust_add(
                    &key_id,
                    &public.to_openssh(),
                    &label,
                    scope.clone(),
                    None,
                    expires.clone(),
                )
                .map_err(|e| Failure::usage(anyhow!(e)))?;
            eprintln!(
                "trusted key {key_id} ({}) for {}{}",
                clean(&label),
                scope.join(", "),
                expires.map(|e| format!(" until {e}")).unwrap_or_default()
            );
            output::print_result(&json!(key_id), false)?;
        }
        TrustCommand::List { json } => {
            let keys = store.trust_list()?;
            if json {
                output::print_json(&json!(keys))?;
            } else {
                let mut text = String::new();
                for k in keys {
                    let expired = k
                        .expires
                        .as_deref()
                        .and_then(ward_store::parse_utc)
                        .is_some_and(|t| t <= now_unix());
                    text.push_str(&format!(
                        "{}  {}  {}{}{}\n",
                        k.key_id,
                        clean(&k.label),
                        k.scopes.join(","),
                        match (&k.expires, expired) {
                            (Some(e), true) => format!("  EXPIRED {e}"),
                            (Some(e), false) => format!("  expires {e}"),
                            (None, _) => String::new(),
                        },
                        if k.revoked_at.is_some() {
                            "  REVOKED"
                        } else {
                            ""
                        }
                    ));
                }
                output::print_result(&json!(text), true)?;
            }
        }
        TrustCommand::Revoke { key_id } => {
            let disabled = store
                .trust_revoke(&key_id)
                .map_err(|e| Failure::usage(anyhow!(e)))?;
            eprintln!("revoked {key_id}");
            for name in disabled {
                eprintln!("disabled {}: it depended only on that key", clean(&name));
            }
            // Then every rule that needed that key (a threshold of two, a required label).
            let trust = trust_now(home, &store)?;
            let more = ward_trust::reauthorize_installed(&mut store, &trust)?;
            report_disabled(&more);
        }
        TrustCommand::Check => {
            let trust = trust_now(home, &store)?;
            let disabled = ward_trust::reauthorize_installed(&mut store, &trust)?;
            if disabled.is_empty() {
                eprintln!("every enabled plugin satisfies the trust policy");
            }
            report_disabled(&disabled);
        }
    }
    Ok(())
}

/// A time for `--since`/`--until`: RFC 3339 UTC, a date, or an age before now (`1h`).
fn audit_time(flag: &str, text: &str) -> Result<u64, Failure> {
    if let Some(t) = ward_store::parse_utc(text) {
        return Ok(t);
    }
    let age = ward_policy::parse_period(text).map_err(|_| {
        Failure::usage(anyhow!(
            "{flag} {text:?}: write an RFC 3339 UTC time (2026-12-04T10:00:00Z), a date (2026-12-04) or an age (90s, 30m, 1h, 7d)"
        ))
    })?;
    Ok(now_unix().saturating_sub(age.as_secs()))
}

fn audit_filter(args: &AuditFilterArgs) -> Result<ward_store::AuditFilter, Failure> {
    Ok(ward_store::AuditFilter {
        plugin: args.plugin.clone(),
        since: args
            .since
            .as_deref()
            .map(|t| audit_time("--since", t))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|t| audit_time("--until", t))
            .transpose()?,
        outcome: args.decision.clone(),
        actor: args.actor.clone(),
        action: args.kind.clone(),
        after: None,
        upto: None,
    })
}

/// One row as a person reads it, every field from the log sanitized.
fn audit_line(row: &ward_store::AuditRow) -> String {
    format!(
        "{:>6}  {}  {:<12} {:<8} {}  {}  {}\n",
        row.seq,
        row.time,
        clean(&row.action),
        clean(&row.outcome),
        clean(row.plugin.as_deref().unwrap_or("-")),
        clean(&row.actor),
        clean(&row.detail.to_string())
    )
}

/// Prints one row: a JSON line with `--json`, a text line otherwise.
fn print_audit_row(
    out: &mut impl std::io::Write,
    row: &ward_store::AuditRow,
    json: bool,
) -> std::io::Result<()> {
    if json {
        let text = serde_json::to_string(row).map_err(std::io::Error::other)?;
        writeln!(out, "{}", ward_policy::text::escape_json_text(&text))
    } else {
        out.write_all(audit_line(row).as_bytes())
    }
}

/// A broken pipe (`ward audit | head`) ends the listing; it is not an error.
fn pipe_ok(r: std::io::Result<()>) -> Result<bool, ward_store::StoreError> {
    match r {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(source) => Err(ward_store::StoreError::Io {
            path: "stdout".into(),
            source,
        }),
    }
}

/// A refused audit check: `{"ok": false, "error": {...}}` with `--json`, exit status 1.
fn audit_refused(json_out: bool, kind: &str, error: anyhow::Error) -> Result<(), Failure> {
    if json_out {
        output::print_json(
            &json!({ "ok": false, "error": { "kind": kind, "message": format!("{error:#}") } }),
        )?;
    }
    Err(Failure {
        code: EXIT_PLUGIN,
        error,
        reported: false,
    })
}

/// Checkpoints and proofs are small; a larger file is not one.
const MAX_PROOF_FILE_BYTES: u64 = 1024 * 1024;

fn read_small(path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    use std::io::Read as _;
    let f = std::fs::File::open(path)
        .with_context(|| format!("cannot read {}", path.display()))
        .map_err(Failure::usage)?;
    let mut bytes = Vec::new();
    f.take(MAX_PROOF_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))
        .map_err(Failure::usage)?;
    if bytes.len() as u64 > MAX_PROOF_FILE_BYTES {
        return Err(Failure::usage(anyhow!(
            "{} is larger than a checkpoint or proof can be",
            path.display()
        )));
    }
    Ok(bytes)
}

fn read_checkpoint(path: &std::path::Path) -> Result<ward_home::Checkpoint, Failure> {
    let bytes = read_small(path)?;
    ward_home::Checkpoint::parse(&path.display().to_string(), &bytes).map_err(Failure::usage)
}

/// The key a checkpoint must be signed with: `--key FILE`, else this host's `audit.key.pub`.
fn audit_public_key(home: &Home, key: Option<&std::path::Path>) -> Result<PublicKey, Failure> {
    let path = key.map_or_else(
        || home.root().join("audit.key.pub"),
        std::path::Path::to_path_buf,
    );
    let bytes = read_small(&path)?;
    PublicKey::parse(&bytes)
        .with_context(|| format!("{} is not a public key", path.display()))
        .map_err(Failure::usage)
}

/// Writes `bytes` to `path` whole or not at all.
fn write_whole(path: &std::path::Path, bytes: &[u8]) -> Result<(), Failure> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, bytes).context("writing")?;
    tmp.as_file().sync_all().context("writing")?;
    tmp.persist(path)
        .map_err(|e| anyhow!(e.error))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// How often `--follow` looks for new rows.
const FOLLOW_POLL: std::time::Duration = std::time::Duration::from_millis(200);

pub(crate) fn audit(home: &Home, args: AuditArgs) -> Result<(), Failure> {
    let mut store = store(home)?;
    let mut filter = audit_filter(&args.filter)?;
    match args.command {
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            // The latest N that match: find where they start, then stream from there.
            if let Some(n) = args.limit {
                let mut seqs = std::collections::VecDeque::with_capacity(n.min(4096));
                store.audit_each(&filter, |row| {
                    if seqs.len() == n {
                        seqs.pop_front();
                    }
                    seqs.push_back(row.seq);
                    Ok(true)
                })?;
                match seqs.front() {
                    Some(first) => filter.after = Some(first - 1),
                    None if n == 0 || !args.follow => return Ok(()),
                    None => {}
                }
            }
            filter.upto = Some(store.audit_last_seq()?);
            let mut open = true;
            let mut cursor = filter.after.unwrap_or(0);
            loop {
                store.audit_each(&filter, |row| {
                    open = pipe_ok(print_audit_row(&mut out, &row, args.json))?;
                    Ok(open)
                })?;
                if open {
                    open = pipe_ok(std::io::Write::flush(&mut out))?;
                }
                if !open || !args.follow {
                    return Ok(());
                }
                cursor = filter.upto.unwrap_or(cursor);
                loop {
                    std::thread::sleep(FOLLOW_POLL);
                    let last = store.audit_last_seq()?;
                    if last > cursor {
                        filter.after = Some(cursor);
                        filter.upto = Some(last);
                        break;
                    }
                }
            }
        }
        Some(AuditCommand::Export { out }) => {
            filter.upto = Some(store.audit_last_seq()?);
            let dir = out
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let mut tmp = tempfile::NamedTempFile::new_in(dir)
                .with_context(|| format!("cannot write in {}", dir.display()))?;
            let mut count: u64 = 0;
            {
                let mut w = std::io::BufWriter::new(tmp.as_file_mut());
                store.audit_each(&filter, |row| {
                    print_audit_row(&mut w, &row, true).map_err(|source| {
                        ward_store::StoreError::Io {
                            path: out.display().to_string(),
                            source,
                        }
                    })?;
                    count += 1;
                    Ok(true)
                })?;
                std::io::Write::flush(&mut w).context("writing the export")?;
            }
            tmp.as_file().sync_all().context("writing the export")?;
            tmp.persist(&out)
                .map_err(|e| anyhow!(e.error))
                .with_context(|| format!("cannot write {}", out.display()))?;
            if args.json {
                output::print_json(
                    &json!({ "ok": true, "rows": count, "file": out.display().to_string() }),
                )?;
            } else {
                eprintln!("{count} audit rows written to {}", out.display());
            }
            Ok(())
        }
        Some(AuditCommand::Verify { checkpoint, key }) => {
            let report = match store.audit_verify() {
                Ok(report) => report,
                Err(err) => {
                    return audit_refused(
                        args.json,
                        "audit-broken",
                        anyhow!(err).context("the audit log failed verification"),
                    );
                }
            };
            let mut checked = None;
            if let Some(file) = checkpoint {
                let c = read_checkpoint(&file)?;
                let public = audit_public_key(home, key.as_deref())?;
                if let Err(e) = c
                    .verify_signature(&public)
                    .and_then(|()| c.check_log(&store))
                {
                    return audit_refused(
                        args.json,
                        "checkpoint-mismatch",
                        anyhow!(e).context(format!("checking {}", file.display())),
                    );
                }
                checked = Some(c);
            }
            if args.json {
                output::print_json(
                    &json!({ "ok": true, "report": report, "checkpoint": checked }),
                )?;
            } else {
                eprintln!(
                    "audit log intact: {} rows, head at {}",
                    report.rows, report.head_seq
                );
                if let Some(c) = checked {
                    eprintln!(
                        "its first {} rows are exactly those of the checkpoint of {}",
                        c.size, c.time
                    );
                }
            }
            Ok(())
        }
        Some(AuditCommand::Checkpoint { out }) => {
            let key = home.audit_key().map_err(|e| anyhow!(e))?;
            let c = ward_home::Checkpoint::make(&store, &key).map_err(|e| anyhow!(e))?;
            let text = format!(
                "{}\n",
                serde_json::to_string_pretty(&c).context("checkpoint")?
            );
            match out {
                Some(path) => {
                    write_whole(&path, text.as_bytes())?;
                    eprintln!(
                        "checkpoint of {} rows written to {}",
                        c.size,
                        path.display()
                    );
                }
                None => {
                    let mut o = std::io::stdout().lock();
                    std::io::Write::write_all(&mut o, text.as_bytes()).context("stdout")?;
                }
            }
            Ok(())
        }
        Some(AuditCommand::Prove { seq, from, to }) => {
            let proof = match (seq, from) {
                (Some(seq), None) => {
                    let size = match to {
                        Some(t) => t,
                        None => store.audit_last_seq()?,
                    };
                    ward_home::Proof::inclusion(&store, seq, size)
                }
                (None, Some(from)) => {
                    let to = to.unwrap_or(0);
                    ward_home::Proof::consistency(&store, from, to)
                }
                _ => {
                    return Err(Failure::usage(anyhow!(
                        "name a row (ward audit prove SEQ) or two sizes (ward audit prove --from N --to M)"
                    )));
                }
            };
            let proof = proof.map_err(Failure::usage)?;
            output::print_json(&serde_json::to_value(&proof).context("proof")?)?;
            Ok(())
        }
        Some(AuditCommand::VerifyProof {
            proof,
            checkpoint,
            older,
            key,
        }) => {
            let c = read_checkpoint(&checkpoint)?;
            let older = older.as_deref().map(read_checkpoint).transpose()?;
            let public = audit_public_key(home, key.as_deref())?;
            let bytes = read_small(&proof)?;
            let checked = ward_home::Proof::parse(&proof.display().to_string(), &bytes)
                .and_then(|p| c.verify_signature(&public).and_then(|()| p.verify(&c)).map(|()| p))
                .and_then(|p| match (&older, &p) {
                    (Some(o), ward_home::Proof::Consistency { from, from_root, .. }) => {
                        o.verify_signature(&public)?;
                        if o.size == *from && o.root == *from_root {
                            Ok(p)
                        } else {
                            Err(ward_home::CheckpointError::BadProof(format!(
                                "it starts from {from} rows with root {from_root}, the older checkpoint has {} rows with root {}",
                                o.size, o.root
                            )))
                        }
                    }
                    _ => Ok(p),
                });
            match checked {
                Ok(p) => {
                    if args.json {
                        output::print_json(&json!({ "ok": true, "proof": p, "checkpoint": c }))?;
                    } else {
                        eprintln!(
                            "the proof verifies against the checkpoint of {} rows ({})",
                            c.size, c.time
                        );
                    }
                    Ok(())
                }
                Err(e) => audit_refused(
                    args.json,
                    "proof-refused",
                    anyhow!(e).context(format!("checking {}", proof.display())),
                ),
            }
        }
        Some(AuditCommand::Reseal) => {
            store.audit_reseal()?;
            eprintln!("audit log resealed; the reseal is recorded in the log");
            Ok(())
        }
    }
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The bytes of a component named on the command line: an installed `NAME` or `NAME@VERSION`
/// when one is installed, else a file or an https URL.
fn component_bytes(home: &Home, what: &str) -> Result<Vec<u8>, Failure> {
    let (name, version) = match what.rsplit_once('@') {
        Some((n, v)) if n.contains(':') => (n, Some(v)),
        _ => (what, None),
    };
    if name.contains(':') && !std::path::Path::new(what).exists() && !ward_install::is_url(what) {
        let store = store(home)?;
        let detail = store.inspect(name)?;
        let blob = match version {
            None => detail.current.blob,
            Some(v) => detail
                .versions
                .iter()
                .find(|r| r.version == v)
                .map(|r| r.blob)
                .ok_or_else(|| {
                    Failure::usage(anyhow!(
                        "{name} has no kept version {v}: `ward inspect {name}` lists them"
                    ))
                })?,
        };
        return Ok(store.get_blob(&blob)?);
    }
    let source = ward_install::Source::parse(what);
    ward_install::read_source(&source, ward_policy::MAX_COMPONENT_BYTES)
        .map_err(|e| Failure::usage(anyhow!(e).context(format!("cannot read {what}"))))
}

fn embedded_manifest(what: &str, bytes: &[u8]) -> Result<Option<ward_manifest::Manifest>, Failure> {
    let Some(text) = ward_manifest::extract(bytes)
        .map_err(|e| Failure::usage(anyhow!(e).context(what.to_owned())))?
    else {
        return Ok(None);
    };
    ward_manifest::Manifest::parse(text)
        .map(Some)
        .map_err(|e| Failure::usage(anyhow!(e).context(format!("the manifest in {what}"))))
}

pub(crate) fn diff(home: &Home, old: &str, new: &str, json_out: bool) -> Result<(), Failure> {
    let (old_bytes, new_bytes) = (component_bytes(home, old)?, component_bytes(home, new)?);
    let manifest = match (
        embedded_manifest(old, &old_bytes)?,
        embedded_manifest(new, &new_bytes)?,
    ) {
        (Some(o), Some(n)) => ward_manifest::diff(&o, &n).lines(),
        _ => vec![
            "? manifests not compared: a component carries none (pack one with `ward pack`)".into(),
        ],
    };
    let commands = ward_install::commands::command_changes_of(&old_bytes, &new_bytes);
    if json_out {
        output::print_json(&json!({
            "ok": true,
            "old": old,
            "new": new,
            "manifest": manifest,
            "commands": commands,
        }))?;
        return Ok(());
    }
    let mut text = String::new();
    if manifest.is_empty() && commands.is_empty() {
        text.push_str("no changes\n");
    }
    for line in manifest.iter().chain(&commands) {
        text.push_str(&clean(line));
        text.push('\n');
    }
    let mut out = std::io::stdout().lock();
    std::io::Write::write_all(&mut out, text.as_bytes()).context("stdout")?;
    Ok(())
}

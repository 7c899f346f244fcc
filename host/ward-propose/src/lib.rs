//! Proposals: an unsigned component (with its embedded manifest) submitted for the operator's
//! review, by an agent or the operator.
//!
//! [`evaluate`] refuses a malformed proposal before anything is recorded: too large, signed
//! (the operator signs on approval), no embedded manifest, an invalid manifest, not a
//! component, or — checked first among the component's properties — an import of a capability
//! the manifest does not declare. Otherwise it builds the report: digest, size, commands with
//! their WIT signatures, imports, the requested capabilities in plain words, the diff against
//! the installed version (new or removed hosts, paths, secrets, raised limits) and a bounded
//! unified source diff; then it runs the examples in the sandbox with **nothing granted** (no
//! secrets, no files, no environment, no key-value) and outbound HTTP answered by
//! [`FixtureHttp`] from the examples file's fixtures, never sent. [`record`] keeps the proposal
//! as pending in ward's store.
//!
//! [`run_examples`] is shared with the health check that runs the examples again against an
//! installed version (with its real grants, in paper mode).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod diff;
mod examples;
mod fixtures;
mod source;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};
use ward_manifest::Manifest;
use ward_runtime::{Grants, Limits, Plugin, Runtime};
use ward_store::{NewProposal, Store};

pub use diff::{MAX_DIFF_FILE_LINES, MAX_SOURCE_DIFF_BYTES, source_diff};
pub use examples::{
    Example, Examples, ExamplesError, Fixture, MAX_EXAMPLES, MAX_EXAMPLES_BYTES,
    MAX_FIXTURE_HEADERS, MAX_FIXTURES,
};
pub use fixtures::{FixtureHttp, MAX_RECORDED_REQUESTS, SeenRequest};
pub use source::{MAX_SOURCE_BYTES, MAX_SOURCE_FILES, SourceError, read_source_dir};

/// Longest guest text (a result or an error) kept per example in the report. Threat: a guest
/// returning megabytes to bloat the stored report the operator reads.
pub const MAX_EXAMPLE_TEXT: usize = 2048;

/// Why a proposal was refused (nothing is recorded).
#[derive(Debug, thiserror::Error)]
pub enum ProposeError {
    /// The component cannot be read or is too large.
    #[error(transparent)]
    Load(#[from] ward_load::LoadError),
    /// The component carries a signature section.
    #[error(
        "the component is signed: a proposal must be unsigned (the operator signs it on approval)"
    )]
    Signed,
    /// The bytes are not a component ward can parse.
    #[error("not a webassembly component: {0}")]
    Format(String),
    /// No embedded manifest.
    #[error(
        "the component carries no manifest: embed one with `ward pack PATH.wasm --manifest ward.toml -o OUT.wasm`"
    )]
    NoManifest,
    /// The embedded manifest is invalid.
    #[error("the embedded manifest is invalid")]
    Manifest(#[source] ward_manifest::ManifestError),
    /// The component imports a capability its manifest does not declare.
    #[error("refused: the component imports a capability its manifest does not declare")]
    UndeclaredImport(#[source] ward_manifest::ManifestError),
    /// The examples file is invalid.
    #[error(transparent)]
    Examples(#[from] ExamplesError),
    /// wasmtime refused the component.
    #[error("the component does not compile")]
    Compile(#[source] ward_load::LoadError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] ward_store::StoreError),
}

impl ProposeError {
    /// The reason code audited for the refusal.
    pub fn reason(&self) -> &'static str {
        match self {
            ProposeError::UndeclaredImport(_) => "undeclared-import",
            ProposeError::Signed => "proposal-signed",
            ProposeError::NoManifest => "no-manifest",
            ProposeError::Manifest(_) => "manifest-invalid",
            ProposeError::Examples(_) => "examples-invalid",
            ProposeError::Compile(_) => "compile-failed",
            ProposeError::Format(_) | ProposeError::Load(_) => "not-a-component",
            ProposeError::Store(_) => "store-error",
        }
    }
}

/// What a proposal is compared against: the installed version of the same plugin.
#[derive(Debug, Clone)]
pub struct Installed {
    /// Its version.
    pub version: String,
    /// Its digest.
    pub digest: String,
    /// Its signed manifest.
    pub manifest: Manifest,
}

/// A proposal as submitted.
#[derive(Debug, Clone, Default)]
pub struct Submission {
    /// The unsigned component with its embedded manifest.
    pub component: Vec<u8>,
    /// The examples, if any.
    pub examples: Option<Examples>,
    /// The source files (relative path → text), if any.
    pub source: Option<BTreeMap<String, String>>,
}

/// A proposal that passed every check, with its report.
#[derive(Debug, Clone)]
pub struct Evaluated {
    /// The plugin name.
    pub plugin: String,
    /// The version.
    pub version: String,
    /// The digest (`sha256:…`), the one signatures will cover.
    pub digest: String,
    /// The report.
    pub report: Value,
    /// Whether every example passed (true when there are none).
    pub examples_passed: bool,
}

/// The outcome of one example.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ExampleOutcome {
    /// Its position in the file, from 1.
    pub index: usize,
    /// The command.
    pub command: String,
    /// Whether the result equals the expected one.
    pub passed: bool,
    /// The expected result.
    pub expected: Value,
    /// The result (cut to [`MAX_EXAMPLE_TEXT`] as text when long), when the call completed.
    pub got: Option<Value>,
    /// The error, when the call failed.
    pub error: Option<String>,
    /// The HTTP requests it made (sandbox runs only).
    pub requests: Vec<SeenRequest>,
}

/// Whether a proposal asks for more authority than the operator has granted that plugin: for
/// an upgrade, the diff escalates; for a new plugin, it asks for any capability at all.
pub fn escalates(manifest: &Manifest, installed: Option<&Manifest>) -> bool {
    match installed {
        Some(old) => ward_manifest::diff(old, manifest).is_escalation(),
        None => !manifest.capability_kinds().is_empty(),
    }
}

pub use ward_manifest::approval_phrase;

/// Checks a submission and builds its report (see the crate documentation). Runs the examples
/// on `runtime` with nothing granted.
pub async fn evaluate(
    runtime: &Runtime,
    submission: &Submission,
    installed: Option<&Installed>,
    previous_source: Option<&BTreeMap<String, String>>,
) -> Result<Evaluated, ProposeError> {
    let bytes = &submission.component;
    if bytes.len() as u64 > ward_policy::MAX_COMPONENT_BYTES {
        return Err(ProposeError::Format(format!(
            "it is larger than {}",
            ward_policy::format_bytes(ward_policy::MAX_COMPONENT_BYTES)
        )));
    }
    let stripped = ward_signing::strip(bytes).map_err(|e| ProposeError::Format(e.to_string()))?;
    if stripped.len() != bytes.len() {
        return Err(ProposeError::Signed);
    }
    let digest = ward_signing::digest(bytes)
        .map_err(|e| ProposeError::Format(e.to_string()))?
        .to_string();
    let manifest_bytes = ward_manifest::extract(bytes)
        .map_err(ProposeError::Manifest)?
        .ok_or(ProposeError::NoManifest)?;
    let manifest = Manifest::parse(manifest_bytes).map_err(ProposeError::Manifest)?;
    // The import check comes first: nothing else is looked at in a component that asks for
    // more than it declares.
    let info = ward_load::inspect(bytes)?;
    let warnings = ward_manifest::check_imports(&manifest, &info.imports)
        .map_err(ProposeError::UndeclaredImport)?;
    let name = manifest.name.to_string();
    let plugin = runtime.load(&name, bytes).map_err(ProposeError::Compile)?;

    let commands: Vec<Value> = plugin
        .commands()
        .iter()
        .map(|c| json!({ "name": c.name, "signature": ward_values::wit_signature(c) }))
        .collect();
    let (changes, installed_json) = match installed {
        Some(old) => {
            let d = ward_manifest::diff(&old.manifest, &manifest);
            (
                d.lines(),
                json!({ "version": old.version, "digest": old.digest }),
            )
        }
        None => (Vec::new(), Value::Null),
    };
    let escalating = escalates(&manifest, installed.map(|i| &i.manifest));
    let (source_diff_text, source_cut) = match &submission.source {
        Some(new) => {
            let empty = BTreeMap::new();
            let (text, cut) = source_diff(previous_source.unwrap_or(&empty), new);
            (Some(text), cut)
        }
        None => (None, false),
    };
    let outcomes = match &submission.examples {
        Some(examples) => {
            let hooks = FixtureHttp::new(
                &examples.fixtures,
                ward_net::NetPolicy::new(&manifest.capabilities.network),
            );
            let mut grants = Grants::default();
            let factory = hooks.clone();
            grants.http_hooks = Some(Arc::new(move || Box::new(factory.clone())));
            run_examples(
                runtime,
                &plugin,
                &examples.examples,
                &manifest.limits(),
                &grants,
                Some(&hooks),
            )
            .await
        }
        None => Vec::new(),
    };
    let examples_passed = outcomes.iter().all(|o| o.passed);
    let version = manifest.version.to_string();
    let report = json!({
        "plugin": name,
        "version": version,
        "description": manifest.description,
        "digest": digest,
        "size": bytes.len(),
        "commands": commands,
        "imports": info.imports,
        "notes": warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "capabilities": manifest.summary(),
        "capability_kinds": manifest.capability_kinds(),
        "installed": installed_json,
        "changes": changes,
        "escalates": escalating,
        "phrase": escalating.then(|| approval_phrase(&name, &version)),
        "source_diff": source_diff_text,
        "source_diff_cut": source_cut,
        "examples": outcomes,
        "examples_passed": examples_passed,
    });
    Ok(Evaluated {
        plugin: name,
        version,
        digest,
        report,
        examples_passed,
    })
}

/// Keeps an evaluated proposal as pending (component blob, report, examples, source); returns
/// its id. The audit row is written in the same transaction.
pub fn record(
    store: &mut Store,
    evaluated: &Evaluated,
    submission: &Submission,
    submitted_by: &str,
) -> Result<String, ProposeError> {
    let blob = store.put_blob(&submission.component)?;
    let examples = submission
        .examples
        .as_ref()
        .map(|e| serde_json::to_value(e).unwrap_or(Value::Null));
    let source = submission.source.as_ref().map(|s| json!(s));
    Ok(store.proposal_add(&NewProposal {
        plugin: evaluated.plugin.clone(),
        version: evaluated.version.clone(),
        digest: evaluated.digest.clone(),
        blob,
        report: evaluated.report.clone(),
        examples,
        source,
        submitted_by: submitted_by.to_owned(),
    })?)
}

/// Runs `examples` against `plugin` with exactly `grants`, comparing each result with the
/// expected one. `fixtures`, when given, is the hooks object whose requests are listed per
/// example.
pub async fn run_examples(
    runtime: &Runtime,
    plugin: &Plugin,
    examples: &[Example],
    limits: &Limits,
    grants: &Grants,
    fixtures: Option<&FixtureHttp>,
) -> Vec<ExampleOutcome> {
    let mut out = Vec::new();
    for (i, ex) in examples.iter().enumerate() {
        let result = runtime
            .call(plugin, &ex.command, &ex.args, limits, grants)
            .await;
        let requests = fixtures.map(FixtureHttp::take_seen).unwrap_or_default();
        let (passed, got, error) = match result {
            Ok(output) => (
                output.result == ex.expect,
                Some(cut_value(output.result)),
                None,
            ),
            Err(err) => (
                false,
                None,
                Some(ward_policy::text::sanitize_line(
                    &err.to_string(),
                    MAX_EXAMPLE_TEXT,
                )),
            ),
        };
        out.push(ExampleOutcome {
            index: i + 1,
            command: ex.command.clone(),
            passed,
            expected: ex.expect.clone(),
            got,
            error,
            requests,
        });
    }
    out
}

/// `value`, or its JSON text cut to [`MAX_EXAMPLE_TEXT`] when longer.
fn cut_value(value: Value) -> Value {
    let text = value.to_string();
    if text.len() <= MAX_EXAMPLE_TEXT {
        value
    } else {
        Value::String(ward_policy::text::sanitize_line(&text, MAX_EXAMPLE_TEXT))
    }
}

/// The installed version of `plugin` in `store`, if any, for the comparison.
pub fn installed(store: &Store, plugin: &str) -> Result<Option<Installed>, ProposeError> {
    let Some(current) = store.current(plugin)? else {
        return Ok(None);
    };
    let manifest =
        Manifest::parse(current.manifest_toml.as_bytes()).map_err(ProposeError::Manifest)?;
    Ok(Some(Installed {
        version: current.version,
        digest: current.digest,
        manifest,
    }))
}

/// The source files of the last approved proposal of `plugin`, for the source diff.
pub fn previous_source(
    store: &Store,
    plugin: &str,
) -> Result<Option<BTreeMap<String, String>>, ProposeError> {
    Ok(store
        .proposal_approved_source(plugin)?
        .and_then(|v| serde_json::from_value(v).ok()))
}

/// The plugin name and version a component's embedded manifest gives, without any other check
/// (to look up the installed version before [`evaluate`]).
pub fn peek_name(component: &[u8]) -> Result<String, ProposeError> {
    let manifest_bytes = ward_manifest::extract(component)
        .map_err(ProposeError::Manifest)?
        .ok_or(ProposeError::NoManifest)?;
    let manifest = Manifest::parse(manifest_bytes).map_err(ProposeError::Manifest)?;
    Ok(manifest.name.to_string())
}

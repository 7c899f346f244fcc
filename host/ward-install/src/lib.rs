//! The install pipeline: everything that makes a version of a plugin runnable goes through
//! [`install`], whoever asks (`ward install` from a file, a URL or a registry, the approval of a
//! proposal, a followed source's sync).
//!
//! One function per step, in this order, each in its own module:
//!
//! 1. [`read`]: the bytes, size-capped (a regular file, or a download with timeouts);
//! 2. `verify`: [`ward_trust::authorize`] — a trusted key signed these exact bytes, the manifest
//!    comes from the signed content only, and the current trust policy is met for its name;
//! 3. `imports`: the component's imports against the manifest (an undeclared capability import
//!    or an interface ward does not link is refused);
//! 4. `grants`: the values only the operator gives (`--env`, `--dir`), refusing any directory
//!    that reaches ward's own data directory;
//! 5. `floor`: the version floor (a downgrade needs the flag and the typed phrase);
//! 6. [`consent`]: the review shown to the operator and their decision (an escalation needs the
//!    typed phrase; pre-approval covers only capabilities `policy.toml` lists);
//! 7. `compile`: compiled once and cached, so a component wasmtime refuses is never committed;
//! 8. `commit`: the blob, then one store transaction with the registry rows and the audit row.
//!
//! Every refusal is a [`Refusal`], which carries its audit reason and its message; the pipeline
//! itself writes the `deny` row. The caller only asks (through [`Consent`]) and displays.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod commands;
mod commit;
mod compile;
pub mod consent;
mod floor;
mod grants;
mod imports;
pub mod read;
mod read_url;
mod refusal;
mod verify;

pub use consent::{Answer, Consent, Mode, PhraseFor, Review};
pub use read::{Source, read_source};
pub use read_url::{DownloadError, download, is_url};
pub use refusal::{Problem, Refusal};

use ward_home::{Home, OperatorPolicy};
use ward_runtime::Runtime;
use ward_store::{AuditAction, AuditEvent, Outcome, Store};

/// What to install and the operator's own values for it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// How the source is named in messages (a path, a URL, `proposal pr_…`).
    pub source: String,
    /// The component.
    pub bytes: Vec<u8>,
    /// `NAME=VALUE` for the environment variables the manifest declares (`--env`).
    pub env: Vec<String>,
    /// `GUEST=HOSTDIR` for the directories the manifest leaves to the operator (`--dir`).
    pub dirs: Vec<String>,
    /// The operator accepts a version below the floor (`--allow-downgrade`); the phrase is still
    /// needed.
    pub allow_downgrade: bool,
    /// Grant entries added to those bound to the digest (the paper-mode flag of an approved
    /// proposal).
    pub extra_grants: Vec<serde_json::Value>,
}

/// What an install committed.
#[derive(Debug, Clone)]
pub struct Committed {
    /// The plugin.
    pub name: String,
    /// The version now current.
    pub version: String,
    /// Its digest.
    pub digest: String,
    /// `install`, `upgrade`, `downgrade` or `reinstate`.
    pub action: &'static str,
    /// The version that was current before, if any.
    pub previous: Option<String>,
    /// Secrets the manifest declares that are not set yet (names only): `ward run` refuses to
    /// start the plugin until they are.
    pub unset_secrets: Vec<String>,
    /// Why the secret store could not be checked, if it could not.
    pub secret_store_problem: Option<String>,
}

/// Runs the whole pipeline for `request`; see the crate documentation for the steps.
pub fn install(
    home: &Home,
    policy: &OperatorPolicy,
    runtime: &Runtime,
    request: &Request,
    consent: &mut dyn Consent,
) -> Result<Committed, Refusal> {
    let mut store = ward_home::open_store(home, policy).map_err(Refusal::open)?;
    let mut audit = Audit { store: &mut store };

    let authorized = verify::verify(&mut audit, policy, request)?;
    let name = authorized.manifest.name.to_string();
    let digest = authorized.verified.digest().to_string();
    let warnings = imports::check(&mut audit, &authorized, &request.bytes)?;
    let grants = grants::operator_grants(home, &authorized.manifest, request)
        .map_err(|r| audit.refuse(Some(&name), Some(&digest), r))?;
    let previous = floor::previous(audit.store, &name)?;
    let floor = floor::check(audit.store, &authorized.manifest, request)?;
    let review = consent::review(
        &authorized,
        &request.bytes,
        &grants,
        &warnings,
        previous.as_ref(),
        floor.clone(),
    )?;
    consent::decide(&mut audit, policy, home, &review, consent)?;
    compile::compile(&mut audit, runtime, &name, &digest, &request.bytes)?;
    commit::commit(audit.store, home, request, &authorized, grants, &review)
}

/// The store, for recording refusals.
struct Audit<'a> {
    store: &'a mut Store,
}

impl Audit<'_> {
    /// Appends the `deny` row of `refusal` (when it is a policy decision) and hands it back.
    fn refuse(&mut self, plugin: Option<&str>, digest: Option<&str>, refusal: Refusal) -> Refusal {
        if let Some(reason) = refusal.reason() {
            let mut event = AuditEvent::new(AuditAction::Deny);
            event.plugin = plugin.map(str::to_owned);
            event.digest = digest.map(str::to_owned);
            event.outcome = Outcome::Denied;
            event.detail.reason = Some(reason);
            if let Err(err) = self.store.append_audit(&event) {
                tracing::error!("cannot audit a refused install: {err}");
            }
        }
        refusal
    }
}

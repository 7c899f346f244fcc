//! Step 6, consent: what the operator is shown ([`Review`]) and how their decision is taken.
//!
//! The pipeline never prompts: it asks through a [`Consent`], which the caller implements (a
//! terminal with `--yes` and `--confirm`, an approved proposal, a followed source's sync). The
//! rules are the pipeline's:
//!
//! - a version below the floor needs `--allow-downgrade` *and* the typed phrase
//!   `downgrade NAME to VERSION`;
//! - an upgrade that asks for more authority than the installed version (a `+` line: from the
//!   signed manifests' diff, or the operator's own `--dir`/`--env` widening the installed grants)
//!   needs the typed phrase `grant NAME VERSION`; pre-approval never lifts it;
//! - otherwise [`Mode::Preapproved`] accepts only capability kinds `policy.toml` pre-approves,
//!   [`Mode::ApprovedProposal`] is consent already given, and [`Mode::Ask`] asks yes or no.

use std::collections::BTreeSet;

use serde_json::Value;
use ward_home::{Home, OperatorPolicy};
use ward_signing::Capability;
use ward_trust::Authorized;

pub use crate::floor::Downgrade;
use crate::floor::Previous;
use crate::{Audit, Refusal};

/// How the operator consents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Ask on the terminal.
    Ask,
    /// `--yes`: accept only capability kinds `policy.toml` pre-approves for the plugin.
    Preapproved,
    /// The operator approved a proposal: that is the consent. `phrase_typed`: they typed the
    /// proposal's approval phrase (it escalated); when not, an escalation found here (their
    /// `--dir` or `--env` widening the installed grants) still needs the phrase.
    ApprovedProposal {
        /// Whether the approval phrase was typed.
        phrase_typed: bool,
    },
}

/// Which confirmation a phrase is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhraseFor {
    /// Installing below the version floor.
    Downgrade,
    /// More authority than the installed version has.
    Escalation,
}

/// An operator's yes or no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Install.
    Yes,
    /// Do not install.
    No,
    /// Nobody can be asked (no terminal).
    CannotAsk,
}

/// The operator's side of the consent step.
pub trait Consent {
    /// How this operator consents.
    fn mode(&self) -> Mode;
    /// Shows the review (called once, before any question).
    fn show(&mut self, review: &Review);
    /// Whether the operator typed exactly `phrase`.
    fn typed(&mut self, phrase: &str, why: PhraseFor, review: &Review) -> std::io::Result<bool>;
    /// The operator's answer to an install that needs no phrase ([`Mode::Ask`] only).
    fn accept(&mut self, review: &Review) -> std::io::Result<Answer>;
}

/// One key that signed and counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerLine {
    /// The labels of its trust-store entries.
    pub labels: Vec<String>,
    /// Its key id.
    pub key_id: String,
}

/// A value the operator gave for this install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorLine {
    /// An environment variable (its value is never shown).
    Env {
        /// The variable.
        name: String,
    },
    /// A directory.
    Files {
        /// The host directory.
        host: String,
        /// Where the plugin sees it.
        guest: String,
        /// Read-write.
        writable: bool,
    },
}

/// What changes against the installed version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    /// The installed version.
    pub from_version: String,
    /// The signed manifests' diff, one line each (`+`/`-`/`~` prefixed).
    pub diff: Vec<String>,
    /// What the operator's own values widen (shown as `+` lines).
    pub widened: Vec<String>,
    /// Commands added, removed or changed, from the two components' WIT
    /// ([`crate::commands::command_changes`]).
    pub commands: Vec<String>,
}

/// Everything the operator is shown before deciding. All text that came from the signed
/// manifest is raw: the presenter sanitizes it for its output.
#[derive(Debug, Clone)]
pub struct Review {
    /// The plugin.
    pub name: String,
    /// The version.
    pub version: String,
    /// Its digest.
    pub digest: String,
    /// The manifest's description.
    pub description: String,
    /// The keys that counted.
    pub signers: Vec<SignerLine>,
    /// What it may do, one line each.
    pub summary: Vec<String>,
    /// The operator's own values.
    pub operator: Vec<OperatorLine>,
    /// What is accepted but worth knowing.
    pub warnings: Vec<String>,
    /// Against the installed version, when there is one.
    pub changes: Option<Changes>,
    /// The `+` lines that need the approval phrase.
    pub escalations: Vec<String>,
    /// The version floor, when this version is below it.
    pub downgrade: Option<Downgrade>,
    /// The phrase that grants the escalations.
    pub approval_phrase: String,
    /// The capability kinds the manifest asks for.
    pub kinds: BTreeSet<Capability>,
}

pub(crate) fn review(
    authorized: &Authorized,
    bytes: &[u8],
    grants: &[Value],
    warnings: &[ward_manifest::Warning],
    previous: Option<&Previous>,
    downgrade: Option<Downgrade>,
) -> Result<Review, Refusal> {
    let manifest = &authorized.manifest;
    let name = manifest.name.to_string();
    let version = manifest.version.to_string();
    let operator = grants
        .iter()
        .filter_map(|entry| match entry["kind"].as_str() {
            Some("env") => Some(OperatorLine::Env {
                name: entry["name"].as_str().unwrap_or("?").to_owned(),
            }),
            Some("files") => Some(OperatorLine::Files {
                host: entry["host"].as_str().unwrap_or("?").to_owned(),
                guest: entry["guest"].as_str().unwrap_or("?").to_owned(),
                writable: entry["writable"] == true,
            }),
            _ => None,
        })
        .collect();
    let mut escalations = Vec::new();
    let changes = previous.map(|p| {
        let diff = ward_manifest::diff(&p.manifest, manifest);
        let widened = widened_grants(manifest, &p.manifest, grants, &p.detail.current.grants);
        escalations.extend(
            diff.changes
                .iter()
                .filter(|c| c.escalation)
                .map(|c| c.text.clone()),
        );
        escalations.extend(widened.iter().cloned());
        Changes {
            from_version: p.detail.current.version.clone(),
            diff: diff.lines(),
            widened,
            commands: match &p.component {
                Some(old) => crate::commands::command_changes_of(old, bytes),
                None => {
                    vec!["? commands not compared: the installed component cannot be read".into()]
                }
            },
        }
    });
    Ok(Review {
        approval_phrase: ward_manifest::approval_phrase(&name, &version),
        name,
        version,
        digest: authorized.verified.digest().to_string(),
        description: manifest.description.clone(),
        signers: authorized
            .verified
            .signers()
            .iter()
            .map(|s| SignerLine {
                labels: s.labels.clone(),
                key_id: s.key_id().to_string(),
            })
            .collect(),
        summary: manifest.summary(),
        operator,
        warnings: warnings.iter().map(ToString::to_string).collect(),
        changes,
        escalations,
        downgrade,
        kinds: manifest.capability_kinds(),
    })
}

/// What the operator's own values add to the installed version's grants (`old`): a directory
/// they choose (`$OPERATOR`) granted read-write at a host path that was not writable before, and
/// an environment variable the old manifest declared set to another value. One line each,
/// naming paths and variable names, never values. What the signed manifests already say (a new
/// fixed path, a newly declared variable) is the manifest diff's. Unreadable old grants count as
/// none: everything is new.
fn widened_grants(
    manifest: &ward_manifest::Manifest,
    old_manifest: &ward_manifest::Manifest,
    new: &[Value],
    old: &Value,
) -> Vec<String> {
    let old: &[Value] = old.as_array().map_or(&[], Vec::as_slice);
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

pub(crate) fn decide(
    audit: &mut Audit<'_>,
    policy: &OperatorPolicy,
    home: &Home,
    review: &Review,
    consent: &mut dyn Consent,
) -> Result<(), Refusal> {
    let name = review.name.as_str();
    let digest = review.digest.as_str();
    let mode = consent.mode();
    consent.show(review);
    let not_preapproved = |missing: Vec<Capability>| Refusal::NotPreapproved {
        name: name.to_owned(),
        missing,
        policy_file: home.policy_file().display().to_string(),
    };
    if let Some(downgrade) = &review.downgrade {
        let confirmed = downgrade.allowed
            && consent
                .typed(&downgrade.phrase, PhraseFor::Downgrade, review)
                .map_err(Refusal::Ask)?;
        if !confirmed {
            let refusal = Refusal::Downgrade {
                name: name.to_owned(),
                version: review.version.clone(),
                floor: downgrade.floor.clone(),
                phrase: downgrade.phrase.clone(),
            };
            return Err(audit.refuse(Some(name), Some(digest), refusal));
        }
    }
    if !review.escalations.is_empty() {
        if mode == (Mode::ApprovedProposal { phrase_typed: true }) {
            return Ok(());
        }
        if mode == Mode::Preapproved {
            let missing = policy.not_preapproved(name, &review.kinds);
            if !missing.is_empty() {
                return Err(audit.refuse(Some(name), Some(digest), not_preapproved(missing)));
            }
        }
        let typed = consent
            .typed(&review.approval_phrase, PhraseFor::Escalation, review)
            .map_err(Refusal::Ask)?;
        if !typed {
            let refusal = Refusal::PhraseMissing {
                name: name.to_owned(),
                version: review.version.clone(),
                escalations: review.escalations.clone(),
                phrase: review.approval_phrase.clone(),
            };
            return Err(audit.refuse(Some(name), Some(digest), refusal));
        }
        return Ok(());
    }
    match mode {
        Mode::ApprovedProposal { .. } => Ok(()),
        Mode::Preapproved => {
            let missing = policy.not_preapproved(name, &review.kinds);
            if missing.is_empty() {
                Ok(())
            } else {
                Err(audit.refuse(Some(name), Some(digest), not_preapproved(missing)))
            }
        }
        Mode::Ask => match consent.accept(review).map_err(Refusal::Ask)? {
            Answer::Yes => Ok(()),
            Answer::No => Err(audit.refuse(Some(name), Some(digest), Refusal::Declined)),
            Answer::CannotAsk => Err(Refusal::NotInteractive),
        },
    }
}

//! Proposals: unsigned components an agent (or the operator) submitted for review, with the
//! report ward built and the examples it ran. Pending until the operator approves or rejects one;
//! a decision is final.

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use crate::audit::{AuditAction, AuditEvent};
use crate::names::{MAX_DOC_BYTES, MAX_TEXT_BYTES, check_ident, check_text};
use crate::{BlobDigest, Store, StoreError, finish};

/// Schema version 3: the `proposals` table.
pub(crate) const SCHEMA_V3: &str = r#"
CREATE TABLE IF NOT EXISTS proposals (
    id          TEXT PRIMARY KEY,
    plugin      TEXT NOT NULL,
    version     TEXT NOT NULL,
    digest      TEXT NOT NULL,
    blob        TEXT NOT NULL,
    report      TEXT NOT NULL,
    examples    TEXT,
    source      TEXT,
    state       TEXT NOT NULL,
    reason      TEXT,
    submitted_by TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    decided_at  TEXT
);
CREATE INDEX IF NOT EXISTS proposals_plugin ON proposals (plugin);
"#;

/// Where a proposal stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProposalState {
    /// Waiting for the operator.
    Pending,
    /// The operator approved it (it was signed and installed).
    Approved,
    /// The operator rejected it.
    Rejected,
}

impl ProposalState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProposalState::Pending => "pending",
            ProposalState::Approved => "approved",
            ProposalState::Rejected => "rejected",
        }
    }

    fn parse(s: &str) -> Result<ProposalState, StoreError> {
        match s {
            "pending" => Ok(ProposalState::Pending),
            "approved" => Ok(ProposalState::Approved),
            "rejected" => Ok(ProposalState::Rejected),
            other => Err(StoreError::InvalidJson {
                field: "proposal state",
                reason: format!("unknown state {other:?}"),
            }),
        }
    }
}

/// A proposal to record. The component must already be in the blob store.
#[derive(Clone, Debug)]
pub struct NewProposal {
    /// The plugin name its embedded manifest gives.
    pub plugin: String,
    /// Its version.
    pub version: String,
    /// The component digest (`sha256:…`, the one signatures cover).
    pub digest: String,
    /// The component blob.
    pub blob: BlobDigest,
    /// The report ward built (JSON).
    pub report: serde_json::Value,
    /// The examples file as submitted (normalised to JSON), if any.
    pub examples: Option<serde_json::Value>,
    /// The source files as submitted (`{path: text}`), if any, kept for the next proposal's diff.
    pub source: Option<serde_json::Value>,
    /// Who submitted it (`operator`, `agent:tk_…`).
    pub submitted_by: String,
}

/// A stored proposal.
#[derive(Clone, Debug, Serialize)]
pub struct Proposal {
    /// Its identifier (`pr_…`).
    pub id: String,
    /// The plugin name.
    pub plugin: String,
    /// The version.
    pub version: String,
    /// The component digest.
    pub digest: String,
    /// The component blob.
    #[serde(skip)]
    pub blob: BlobDigest,
    /// The report.
    pub report: serde_json::Value,
    /// The examples.
    pub examples: Option<serde_json::Value>,
    /// The source files, if submitted.
    #[serde(skip)]
    pub source: Option<serde_json::Value>,
    /// Where it stands.
    pub state: ProposalState,
    /// The operator's reason for a rejection.
    pub reason: Option<String>,
    /// Who submitted it.
    pub submitted_by: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// When it was decided, RFC 3339 UTC.
    pub decided_at: Option<String>,
}

const COLS: &str = "id, plugin, version, digest, blob, report, examples, source, state, reason, submitted_by, created_at, decided_at";

fn json_col(
    what: &'static str,
    text: Option<String>,
) -> Result<Option<serde_json::Value>, StoreError> {
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| StoreError::InvalidJson {
            field: what,
            reason: e.to_string(),
        })
    })
    .transpose()
}

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<[Option<String>; 13]> {
    let mut out: [Option<String>; 13] = Default::default();
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = r.get(i)?;
    }
    Ok(out)
}

fn decode(cols: [Option<String>; 13]) -> Result<Proposal, StoreError> {
    let [
        id,
        plugin,
        version,
        digest,
        blob,
        report,
        examples,
        source,
        state,
        reason,
        submitted_by,
        created_at,
        decided_at,
    ] = cols;
    let need = |v: Option<String>| v.unwrap_or_default();
    Ok(Proposal {
        id: need(id),
        plugin: need(plugin),
        version: need(version),
        digest: need(digest),
        blob: need(blob).parse()?,
        report: json_col("proposal report", report)?.unwrap_or(serde_json::Value::Null),
        examples: json_col("proposal examples", examples)?,
        source: json_col("proposal source", source)?,
        state: ProposalState::parse(&need(state))?,
        reason,
        submitted_by: need(submitted_by),
        created_at: need(created_at),
        decided_at,
    })
}

impl Store {
    /// Records a pending proposal and its audit row in one transaction; returns its id.
    pub fn proposal_add(&mut self, p: &NewProposal) -> Result<String, StoreError> {
        self.check_audit_ok()?;
        check_ident("plugin name", &p.plugin)?;
        check_ident("version", &p.version)?;
        check_ident("digest", &p.digest)?;
        check_ident("submitter", &p.submitted_by)?;
        let report = p.report.to_string();
        check_text("proposal report", &report, MAX_DOC_BYTES)?;
        let examples = p.examples.as_ref().map(|e| e.to_string());
        if let Some(e) = &examples {
            check_text("proposal examples", e, MAX_DOC_BYTES)?;
        }
        let source = p.source.as_ref().map(|e| e.to_string());
        if let Some(s) = &source {
            check_text("proposal source", s, MAX_DOC_BYTES)?;
        }
        let id = crate::agent::random_id("pr_");
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            &format!("INSERT INTO proposals ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', NULL, ?9, ?10, NULL)"),
            params![
                id,
                p.plugin,
                p.version,
                p.digest,
                p.blob.to_hex(),
                report,
                examples,
                source,
                p.submitted_by,
                crate::time::now_rfc3339()
            ],
        )?;
        let mut ev = AuditEvent::new(AuditAction::Propose);
        ev.plugin = Some(p.plugin.clone());
        ev.digest = Some(p.digest.clone());
        ev.detail.version = Some(p.version.clone());
        ev.detail.proposal = Some(id.clone());
        finish(tx, &self.actor, self.fail_point, &self.home_dir, &[ev])?;
        Ok(id)
    }

    /// Every proposal, newest first.
    pub fn proposal_list(&self) -> Result<Vec<Proposal>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLS} FROM proposals ORDER BY created_at DESC, rowid DESC"
        ))?;
        let rows = stmt.query_map([], from_row)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(decode(row?)?);
        }
        Ok(out)
    }

    /// One proposal; [`StoreError::UnknownProposal`] when there is none with that id.
    pub fn proposal_get(&self, id: &str) -> Result<Proposal, StoreError> {
        let row = self
            .conn
            .query_row(
                &format!("SELECT {COLS} FROM proposals WHERE id = ?1"),
                [id],
                from_row,
            )
            .optional()?;
        match row {
            Some(cols) => decode(cols),
            None => Err(StoreError::UnknownProposal(crate::names::shown(id))),
        }
    }

    /// The source files of the newest approved proposal of `plugin`, for a source diff.
    pub fn proposal_approved_source(
        &self,
        plugin: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let text: Option<Option<String>> = self
            .conn
            .query_row(
                "SELECT source FROM proposals WHERE plugin = ?1 AND state = 'approved'
                 ORDER BY decided_at DESC, rowid DESC LIMIT 1",
                [plugin],
                |r| r.get(0),
            )
            .optional()?;
        json_col("proposal source", text.flatten())
    }

    /// Decides a pending proposal (approved or rejected, with the operator's reason), with its
    /// audit row. A decided proposal is never decided again.
    pub fn proposal_decide(
        &mut self,
        id: &str,
        state: ProposalState,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        self.check_audit_ok()?;
        if let Some(r) = reason {
            check_text("rejection reason", r, MAX_TEXT_BYTES)?;
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found: Option<(String, String, String, String)> = tx
            .query_row(
                "SELECT state, plugin, digest, version FROM proposals WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((current, plugin, digest, version)) = found else {
            return Err(StoreError::UnknownProposal(crate::names::shown(id)));
        };
        let current = ProposalState::parse(&current)?;
        if current != ProposalState::Pending || state == ProposalState::Pending {
            return Err(StoreError::ProposalDecided {
                id: crate::names::shown(id),
                state: current.as_str(),
            });
        }
        tx.execute(
            "UPDATE proposals SET state = ?2, reason = ?3, decided_at = ?4 WHERE id = ?1",
            params![id, state.as_str(), reason, crate::time::now_rfc3339()],
        )?;
        let mut ev = AuditEvent::new(match state {
            ProposalState::Approved => AuditAction::ProposalApprove,
            _ => AuditAction::ProposalReject,
        });
        ev.plugin = Some(plugin);
        ev.digest = Some(digest);
        ev.detail.version = Some(version);
        ev.detail.proposal = Some(id.to_owned());
        finish(tx, &self.actor, self.fail_point, &self.home_dir, &[ev])
    }

    /// Replaces the grants bound to `digest` (which must have some), with an audit row of
    /// `action` (for example [`AuditAction::Promote`]).
    pub fn set_grants(
        &mut self,
        plugin: &str,
        digest: &str,
        grants: &serde_json::Value,
        action: AuditAction,
    ) -> Result<(), StoreError> {
        self.check_audit_ok()?;
        let text = grants.to_string();
        check_text("grants", &text, MAX_DOC_BYTES)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute(
            "UPDATE grants SET grants = ?2, granted_at = ?3 WHERE digest = ?1",
            params![digest, text, crate::time::now_rfc3339()],
        )?;
        if n == 0 {
            return Err(StoreError::NotInstalled(crate::names::shown(plugin)));
        }
        let mut ev = AuditEvent::new(action);
        ev.plugin = Some(plugin.to_owned());
        ev.digest = Some(digest.to_owned());
        finish(tx, &self.actor, self.fail_point, &self.home_dir, &[ev])
    }
}

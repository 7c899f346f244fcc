//! The append-only, hash-chained audit log and its head file `audit.head`.

use std::io::Read;

use cap_std::fs::Dir;
use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{AuditError, StoreError, blob};

/// Domain separation prefix of every audit row hash.
pub const AUDIT_HASH_DOMAIN: &[u8] = b"ward-audit-v1\0";

/// `prev_hash` of the first row, and the hash recorded in `audit.head` for an empty log.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Name of the head file in `WARD_HOME`.
pub(crate) const HEAD_FILE: &str = "audit.head";

/// What happened. Serialized in kebab-case (`trust-add`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum AuditAction {
    /// A new plugin was installed.
    Install,
    /// A higher version replaced the current one.
    Upgrade,
    /// A lower version replaced the current one (`--allow-downgrade`).
    Downgrade,
    /// A kept version became current again by reinstalling it.
    Reinstate,
    /// The plugin was removed.
    Uninstall,
    /// A kept version became current again by `ward rollback`.
    Rollback,
    /// The plugin was enabled.
    Enable,
    /// The plugin was disabled.
    Disable,
    /// A key was added to the trust store.
    TrustAdd,
    /// A key was revoked.
    TrustRevoke,
    /// A command ran.
    Run,
    /// A request was denied.
    Deny,
    /// A grant was changed.
    Grant,
    /// The operator resealed a log that failed its integrity check.
    AuditReseal,
    /// An agent token was created.
    TokenCreate,
    /// An agent token was revoked.
    TokenRevoke,
    /// A run waits for the operator's confirmation.
    ConfirmRequest,
    /// The operator approved a pending confirmation.
    ConfirmApprove,
    /// The operator denied a pending confirmation (or it was denied by expiry or restart).
    ConfirmDeny,
    /// A daemon API request other than a run (listing commands, polling a confirmation, an
    /// operator verb); the detail names the endpoint.
    ApiRequest,
    /// A proposal was submitted for review.
    Propose,
    /// The operator approved a proposal.
    ProposalApprove,
    /// The operator rejected a proposal.
    ProposalReject,
    /// A plugin left paper mode (`ward promote`).
    Promote,
    /// An outbound request held back in paper mode (method and origin only).
    PaperRequest,
    /// The examples of an approved proposal ran against the installed version.
    HealthCheck,
}

impl AuditAction {
    /// The stored name, e.g. `trust-revoke`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Install => "install",
            AuditAction::Upgrade => "upgrade",
            AuditAction::Downgrade => "downgrade",
            AuditAction::Reinstate => "reinstate",
            AuditAction::Uninstall => "uninstall",
            AuditAction::Rollback => "rollback",
            AuditAction::Enable => "enable",
            AuditAction::Disable => "disable",
            AuditAction::TrustAdd => "trust-add",
            AuditAction::TrustRevoke => "trust-revoke",
            AuditAction::Run => "run",
            AuditAction::Deny => "deny",
            AuditAction::Grant => "grant",
            AuditAction::AuditReseal => "audit-reseal",
            AuditAction::TokenCreate => "token-create",
            AuditAction::TokenRevoke => "token-revoke",
            AuditAction::ConfirmRequest => "confirm-request",
            AuditAction::ConfirmApprove => "confirm-approve",
            AuditAction::ConfirmDeny => "confirm-deny",
            AuditAction::ApiRequest => "api-request",
            AuditAction::Propose => "propose",
            AuditAction::ProposalApprove => "proposal-approve",
            AuditAction::ProposalReject => "proposal-reject",
            AuditAction::Promote => "promote",
            AuditAction::PaperRequest => "paper-request",
            AuditAction::HealthCheck => "health-check",
        }
    }
}

/// How it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Done.
    Ok,
    /// Refused by policy.
    Denied,
    /// Failed.
    Error,
}

impl Outcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
            Outcome::Error => "error",
        }
    }
}

/// Structured details of an audit event.
///
/// There is deliberately no free-text field: reasons and limit names are `&'static str` codes chosen
/// by ward's code, so argument values, results and secrets cannot end up in the log by accident.
/// Empty fields are omitted; the JSON is canonical (fields in declaration order).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AuditDetail {
    /// A reason code such as `"operator"`, `"key-revoked"`, `"not-granted"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// The version concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The version before the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_version: Option<String>,
    /// The version after the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_version: Option<String>,
    /// The trust-store key concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// The command (export name) concerned; never its arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The limit that was reached, e.g. `"memory"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<&'static str>,
    /// Capability names (never their values).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    /// Scope patterns of a trust-store key.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Plugins affected (for example disabled by a revocation).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub plugins: Vec<String>,
    /// Versions pruned from the kept history.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pruned: Vec<String>,
    /// Whether an uninstall purged the plugin's data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purge: Option<bool>,
    /// Duration of a run in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// The agent token's id (never the token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The API endpoint of an agent or operator request, e.g. `"run"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<&'static str>,
    /// The pending confirmation concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<String>,
    /// Fuel a run consumed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fuel: Option<u64>,
    /// Bytes of the reply body (never its content).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_out: Option<u64>,
    /// The proposal concerned (`pr_…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposal: Option<String>,
    /// The HTTP method of a request held back in paper mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The origin (scheme, host, port; never the path or query) of a request held back in
    /// paper mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// How many outgoing requests of a run the host refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub egress_denied: Option<u64>,
    /// Why, as codes (`not-granted`, `address-denied`, `no-network-grant`, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub egress_reasons: Vec<&'static str>,
    /// How many events of this kind the row stands for (refused connections counted over an
    /// interval).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

/// One event to append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    /// Who acted; `None` uses the store's actor (`uid:N` unless set with `Store::set_actor`).
    pub actor: Option<String>,
    /// What happened.
    pub action: AuditAction,
    /// The plugin name, if any.
    pub plugin: Option<String>,
    /// The plugin digest, if any.
    pub digest: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Structured details.
    pub detail: AuditDetail,
}

impl AuditEvent {
    /// An event with outcome `ok`, no plugin and no detail.
    pub fn new(action: AuditAction) -> Self {
        AuditEvent {
            actor: None,
            action,
            plugin: None,
            digest: None,
            outcome: Outcome::Ok,
            detail: AuditDetail::default(),
        }
    }
}

/// One stored audit row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditRow {
    /// Position in the log, 1, 2, 3, ...
    pub seq: u64,
    /// RFC 3339 UTC.
    pub time: String,
    /// Who acted.
    pub actor: String,
    /// What happened.
    pub action: String,
    /// Plugin name.
    pub plugin: Option<String>,
    /// Plugin digest.
    pub digest: Option<String>,
    /// `ok`, `denied` or `error`.
    pub outcome: String,
    /// The detail object.
    pub detail: serde_json::Value,
    /// Hash of the previous row (hex).
    pub prev_hash: String,
    /// Hash of this row (hex).
    pub hash: String,
}

/// Which rows `audit_list` returns.
#[derive(Clone, Copy, Debug, Default)]
pub struct AuditQuery {
    /// Only rows after this sequence number.
    pub since: Option<u64>,
    /// At most this many rows; without `since`, the latest ones.
    pub limit: Option<usize>,
}

/// Which rows [`Store::audit_each`](crate::Store::audit_each) passes on; every field left `None`
/// matches every row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only rows of this plugin.
    pub plugin: Option<String>,
    /// Only rows at or after this time (seconds since the Unix epoch).
    pub since: Option<u64>,
    /// Only rows before this time (seconds since the Unix epoch).
    pub until: Option<u64>,
    /// Only rows with this outcome (`ok`, `denied`, `error`).
    pub outcome: Option<String>,
    /// Only rows of this actor: `operator` (the CLI and the operator socket), `agent` (the agent
    /// socket), or an agent token's id.
    pub actor: Option<String>,
    /// Only rows of this action (`run`, `install`, `deny`, ...).
    pub action: Option<String>,
    /// Only rows after this sequence number.
    pub after: Option<u64>,
    /// Only rows up to this sequence number.
    pub upto: Option<u64>,
}

/// What a successful `audit_verify` checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// Rows checked.
    pub rows: u64,
    /// Sequence number in `audit.head`.
    pub head_seq: u64,
    /// Hash of the last row (or the genesis hash).
    pub last_hash: String,
    /// Rows after the head (a crash between commit and head update, or another process writing now).
    pub unanchored: u64,
}

/// The fields of a row that its hash covers, in hash order.
pub(crate) struct RowFields<'a> {
    pub seq: u64,
    pub time: &'a str,
    pub actor: &'a str,
    pub action: &'a str,
    pub plugin: Option<&'a str>,
    pub digest: Option<&'a str>,
    pub outcome: &'a str,
    pub detail: &'a str,
    pub prev_hash: &'a str,
}

/// `SHA-256("ward-audit-v1\0" || seq as u64 BE || each field length-prefixed)`, hex.
///
/// Strings are `u64 BE length || UTF-8 bytes`; optional strings are `0x00` when absent or
/// `0x01 || length || bytes`.
pub(crate) fn row_hash(r: &RowFields<'_>) -> String {
    fn put(h: &mut Sha256, s: &str) {
        h.update((s.len() as u64).to_be_bytes());
        h.update(s.as_bytes());
    }
    fn put_opt(h: &mut Sha256, s: Option<&str>) {
        match s {
            None => h.update([0u8]),
            Some(s) => {
                h.update([1u8]);
                put(h, s);
            }
        }
    }
    let mut h = Sha256::new();
    h.update(AUDIT_HASH_DOMAIN);
    h.update(r.seq.to_be_bytes());
    put(&mut h, r.time);
    put(&mut h, r.actor);
    put(&mut h, r.action);
    put_opt(&mut h, r.plugin);
    put_opt(&mut h, r.digest);
    put(&mut h, r.outcome);
    put(&mut h, r.detail);
    put(&mut h, r.prev_hash);
    hex::encode(h.finalize())
}

/// The hash of a row as returned by `Store::audit_list`, recomputed from its fields (for external
/// verifiers; `audit_verify` does this over the stored text).
pub fn audit_row_hash(row: &AuditRow) -> String {
    let detail = row.detail.to_string();
    row_hash(&RowFields {
        seq: row.seq,
        time: &row.time,
        actor: &row.actor,
        action: &row.action,
        plugin: row.plugin.as_deref(),
        digest: row.digest.as_deref(),
        outcome: &row.outcome,
        detail: &detail,
        prev_hash: &row.prev_hash,
    })
}

/// Appends events inside `tx`; returns the last (seq, hash).
pub(crate) fn append_in_tx(
    tx: &Transaction<'_>,
    default_actor: &str,
    events: &[AuditEvent],
) -> Result<Option<(u64, String)>, StoreError> {
    let last: Option<(i64, String)> = tx
        .query_row(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (mut seq, mut prev) = match last {
        Some((s, h)) => (u64::try_from(s).unwrap_or(0), h),
        None => (0, GENESIS_HASH.to_string()),
    };
    let time = crate::time::now_rfc3339();
    let mut out = None;
    for ev in events {
        seq += 1;
        let actor = ev.actor.as_deref().unwrap_or(default_actor);
        // Stored as serde_json's rendering of the JSON value, so that a row read back with
        // `audit_list` re-renders to the same text and `audit_row_hash` reproduces the hash.
        let detail = serde_json::to_value(&ev.detail)
            .map_err(|e| StoreError::InvalidJson {
                field: "audit detail",
                reason: e.to_string(),
            })?
            .to_string();
        let fields = RowFields {
            seq,
            time: &time,
            actor,
            action: ev.action.as_str(),
            plugin: ev.plugin.as_deref(),
            digest: ev.digest.as_deref(),
            outcome: ev.outcome.as_str(),
            detail: &detail,
            prev_hash: &prev,
        };
        let hash = row_hash(&fields);
        tx.execute(
            "INSERT INTO audit (seq, time, actor, action, plugin, digest, outcome, detail, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                seq as i64,
                time,
                actor,
                fields.action,
                fields.plugin,
                fields.digest,
                fields.outcome,
                detail,
                prev,
                hash
            ],
        )?;
        prev = hash;
        out = Some((seq, prev.clone()));
    }
    Ok(out)
}

/// The parsed content of `audit.head`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Head {
    pub seq: u64,
    pub hash: String,
}

/// Upper bound on the size of `audit.head` read back. Threat: a planted huge file.
const MAX_HEAD_BYTES: u64 = 256;

/// Reads `audit.head`: `Ok(None)` when absent, `Err(HeadCorrupt)` when unparsable or not a file.
pub(crate) fn read_head(home: &Dir) -> Result<Option<Head>, AuditError> {
    let f = match blob::open_nofollow(home, HEAD_FILE) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(_) => return Err(AuditError::HeadCorrupt),
    };
    let mut s = String::new();
    f.take(MAX_HEAD_BYTES)
        .read_to_string(&mut s)
        .map_err(|_| AuditError::HeadCorrupt)?;
    let mut it = s.trim_end_matches('\n').split(' ');
    let (Some(seq), Some(hash), None) = (it.next(), it.next(), it.next()) else {
        return Err(AuditError::HeadCorrupt);
    };
    let seq: u64 = seq.parse().map_err(|_| AuditError::HeadCorrupt)?;
    if hash.len() != 64 || !hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(AuditError::HeadCorrupt);
    }
    Ok(Some(Head {
        seq,
        hash: hash.to_string(),
    }))
}

/// Writes `audit.head` atomically (temp file, fsync, rename, directory fsync).
pub(crate) fn write_head(home: &Dir, head: &Head) -> Result<(), StoreError> {
    let text = format!("{} {}\n", head.seq, head.hash);
    let tmp = blob::write_temp(home, text.as_bytes(), "")?;
    blob::commit_temp(home, &tmp, HEAD_FILE, "")
}

fn opt_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Reads the row at `seq`: its hash.
pub(crate) fn hash_at(
    conn: &rusqlite::Connection,
    seq: u64,
) -> Result<Option<String>, rusqlite::Error> {
    conn.query_row("SELECT hash FROM audit WHERE seq = ?1", [seq as i64], |r| {
        r.get(0)
    })
    .optional()
}

/// Last (seq, hash) of the table, or (0, genesis).
pub(crate) fn table_last(conn: &rusqlite::Connection) -> Result<(u64, String), rusqlite::Error> {
    Ok(conn
        .query_row(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((opt_u64(r.get(0)?), r.get(1)?)),
        )
        .optional()?
        .unwrap_or((0, GENESIS_HASH.to_string())))
}

/// Checks that the rows after `from_seq` chain from `from_hash`, with correct hashes and no gaps.
/// Returns the last (seq, hash).
pub(crate) fn verify_range(
    conn: &rusqlite::Connection,
    from_seq: u64,
    from_hash: &str,
) -> Result<(u64, String, u64), AuditError> {
    let mut stmt = conn.prepare(
        "SELECT seq, time, actor, action, plugin, digest, outcome, detail, prev_hash, hash
         FROM audit WHERE seq > ?1 ORDER BY seq",
    )?;
    let mut rows = stmt.query([from_seq as i64])?;
    let mut expected = from_seq + 1;
    let mut prev = from_hash.to_string();
    let mut count = 0u64;
    while let Some(r) = rows.next()? {
        let seq = opt_u64(r.get(0)?);
        let s = |i| -> Result<String, AuditError> {
            r.get::<_, String>(i)
                .map_err(|_| AuditError::Unreadable { seq })
        };
        let o = |i| -> Result<Option<String>, AuditError> {
            r.get::<_, Option<String>>(i)
                .map_err(|_| AuditError::Unreadable { seq })
        };
        let (time, actor, action, plugin, digest, outcome, detail, prev_hash, hash) = (
            s(1)?,
            s(2)?,
            s(3)?,
            o(4)?,
            o(5)?,
            s(6)?,
            s(7)?,
            s(8)?,
            s(9)?,
        );
        if seq != expected {
            return Err(AuditError::Gap {
                expected,
                found: seq,
            });
        }
        let computed = row_hash(&RowFields {
            seq,
            time: &time,
            actor: &actor,
            action: &action,
            plugin: plugin.as_deref(),
            digest: digest.as_deref(),
            outcome: &outcome,
            detail: &detail,
            prev_hash: &prev_hash,
        });
        if computed != hash {
            return Err(AuditError::Edited { seq });
        }
        if prev_hash != prev {
            return Err(AuditError::ChainBroken { seq });
        }
        prev = hash;
        expected += 1;
        count += 1;
    }
    Ok((expected - 1, prev, count))
}

/// Compares the head with the table. Returns `Ok(Some(new_head))` when the head is behind and the
/// rows after it chain from it (roll forward), `Ok(None)` when it matches.
pub(crate) fn check_head(
    conn: &rusqlite::Connection,
    head: Option<&Head>,
) -> Result<Option<Head>, AuditError> {
    let (last_seq, last_hash) = table_last(conn)?;
    let head = match head {
        Some(h) => h.clone(),
        None if last_seq == 0 => {
            return Ok(Some(Head {
                seq: 0,
                hash: GENESIS_HASH.to_string(),
            }));
        }
        None => return Err(AuditError::HeadMissing),
    };
    if head.seq > last_seq {
        return Err(AuditError::Truncated {
            head_seq: head.seq,
            last_seq,
        });
    }
    let at = if head.seq == 0 {
        Some(GENESIS_HASH.to_string())
    } else {
        hash_at(conn, head.seq)?
    };
    if at.as_deref() != Some(head.hash.as_str()) {
        return Err(AuditError::HeadMismatch { seq: head.seq });
    }
    if head.seq == last_seq {
        debug_assert_eq!(head.hash, last_hash);
        return Ok(None);
    }
    let (seq, hash, _) = verify_range(conn, head.seq, &head.hash)?;
    Ok(Some(Head { seq, hash }))
}

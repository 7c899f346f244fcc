//! What the daemon keeps about agents: scoped agent tokens (only their hashes), daily usage
//! counters per token and per plugin, and pending confirmations bound to the hash of an action.

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::audit::{AuditAction, AuditEvent};
use crate::names::{MAX_TEXT_BYTES, check_ident, check_text};
use crate::time::{format_unix, now_unix};
use crate::{AuditAnchor, Store, StoreError, finish};

/// Prefix of every agent token, so that secret scanners recognise one.
pub const TOKEN_PREFIX: &str = "wk_";

/// Random bytes in a token.
const TOKEN_RANDOM_BYTES: usize = 32;

/// Length of a token: the prefix and 32 random bytes in unpadded base32 (52 characters).
pub const TOKEN_LEN: usize = 3 + 52;

/// Hex characters of the token hash kept in an index to find candidate rows; the full hash is then
/// compared in constant time.
const HASH_PREFIX_LEN: usize = 12;

/// Longest one-line confirmation summary kept, in bytes.
///
/// Threat: an agent submitting huge arguments to bloat the pending list the operator reads.
pub const MAX_SUMMARY_BYTES: usize = 512;

/// Limits a new agent token carries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewToken {
    /// The one plugin the token may run.
    pub plugin: String,
    /// The one command it may run; `None` allows every command of the plugin.
    pub command: Option<String>,
    /// Rate limit: at most `.0` calls per `.1` seconds.
    pub rate: Option<(u64, u64)>,
    /// At most this many calls per UTC day.
    pub daily_calls: Option<u64>,
    /// At most this much call time per UTC day, in milliseconds.
    pub daily_cpu_ms: Option<u64>,
    /// Seconds from now after which the token is refused; `None` never expires.
    pub expires_in_secs: Option<u64>,
}

/// A stored agent token (never the token itself).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AgentToken {
    /// Public identifier (`tk_…`), shown in listings and audit rows.
    pub id: String,
    /// The plugin it may run.
    pub plugin: String,
    /// The command it may run; `None` for any command of the plugin.
    pub command: Option<String>,
    /// Calls allowed per `rate_per_secs`.
    pub rate_count: Option<u64>,
    /// The rate period in seconds.
    pub rate_per_secs: Option<u64>,
    /// Calls per UTC day.
    pub daily_calls: Option<u64>,
    /// Call time per UTC day, in milliseconds.
    pub daily_cpu_ms: Option<u64>,
    /// RFC 3339 UTC expiry.
    pub expires: Option<String>,
    /// RFC 3339 UTC creation time.
    pub created: String,
    /// RFC 3339 UTC revocation time.
    pub revoked: Option<String>,
}

/// A token as issued: the only time the token text exists outside the caller's hands.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token (`wk_…`); print it once, store it nowhere.
    pub token: String,
    /// Its stored row.
    pub row: AgentToken,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("row", &self.row)
            .finish_non_exhaustive()
    }
}

/// What a presented token turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenCheck {
    /// A live token.
    Valid(AgentToken),
    /// Not a token ward issued (or not token-shaped).
    Unknown,
    /// Revoked by the operator.
    Revoked(AgentToken),
    /// Past its expiry.
    Expired(AgentToken),
}

/// Usage counted for one scope on one UTC day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// Calls admitted.
    pub calls: u64,
    /// Call time in milliseconds.
    pub cpu_ms: u64,
    /// Fuel consumed.
    pub fuel: u64,
}

/// An increment of a usage counter, written in the same transaction as the audit rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageDelta {
    /// `token:ID` or `plugin:NAME`.
    pub scope: String,
    /// UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// The increment.
    pub usage: Usage,
}

/// A new pending confirmation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewConfirmation {
    /// The token that asked.
    pub token: String,
    /// The plugin.
    pub plugin: String,
    /// The command.
    pub command: String,
    /// SHA-256 (hex) of the exact action: token, plugin, digest, command and arguments.
    pub action_hash: String,
    /// One sanitized line for the operator.
    pub summary: String,
    /// Seconds until it expires (denied).
    pub ttl_secs: u64,
}

/// The state of a confirmation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConfirmState {
    /// Waiting for the operator.
    Pending,
    /// Approved, not yet used.
    Approved,
    /// Denied by the operator, by a daemon restart or by an error.
    Denied,
    /// Not decided (or not used) before its expiry.
    Expired,
    /// Approved and used by exactly one run.
    Used,
}

impl ConfirmState {
    fn as_str(self) -> &'static str {
        match self {
            ConfirmState::Pending => "pending",
            ConfirmState::Approved => "approved",
            ConfirmState::Denied => "denied",
            ConfirmState::Expired => "expired",
            ConfirmState::Used => "used",
        }
    }

    fn parse(s: &str) -> ConfirmState {
        match s {
            "pending" => ConfirmState::Pending,
            "approved" => ConfirmState::Approved,
            "used" => ConfirmState::Used,
            "expired" => ConfirmState::Expired,
            // Anything unreadable is treated as denied (fail closed).
            _ => ConfirmState::Denied,
        }
    }
}

/// A stored confirmation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Confirmation {
    /// Identifier (`cf_…`).
    pub id: String,
    /// The token that asked.
    pub token: String,
    /// The plugin.
    pub plugin: String,
    /// The command.
    pub command: String,
    /// SHA-256 (hex) of the exact action.
    pub action_hash: String,
    /// One sanitized line for the operator.
    pub summary: String,
    /// RFC 3339 UTC.
    pub created: String,
    /// RFC 3339 UTC.
    pub expires: String,
    /// The state now (a pending or approved row past its expiry reads as expired).
    pub state: ConfirmState,
}

fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Equality of two byte strings in time that depends only on their lengths.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// RFC 4648 base32, lowercase, without padding.
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer = 0u32;
    let mut bits = 0u32;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

fn is_token_shaped(token: &str) -> bool {
    token.len() == TOKEN_LEN
        && token.starts_with(TOKEN_PREFIX)
        && token[TOKEN_PREFIX.len()..]
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'2'..=b'7'))
}

pub(crate) fn random_id(prefix: &str) -> String {
    let r: [u8; 8] = rand::random();
    format!("{prefix}{}", hex::encode(r))
}

fn opt_u64(v: Option<i64>) -> Option<u64> {
    v.and_then(|v| u64::try_from(v).ok())
}

fn opt_i64(v: Option<u64>) -> Option<i64> {
    v.map(|v| i64::try_from(v).unwrap_or(i64::MAX))
}

const TOKEN_COLS: &str = "id, plugin, command, rate_count, rate_per_secs, daily_calls, daily_cpu_ms, expires, created, revoked";

fn token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AgentToken> {
    Ok(AgentToken {
        id: r.get(0)?,
        plugin: r.get(1)?,
        command: r.get(2)?,
        rate_count: opt_u64(r.get(3)?),
        rate_per_secs: opt_u64(r.get(4)?),
        daily_calls: opt_u64(r.get(5)?),
        daily_cpu_ms: opt_u64(r.get(6)?),
        expires: r.get(7)?,
        created: r.get(8)?,
        revoked: r.get(9)?,
    })
}

const CONFIRM_COLS: &str =
    "id, token, plugin, command, action_hash, summary, created, expires, state";

fn confirm_row(now: &str) -> impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<Confirmation> + '_ {
    move |r| {
        let expires: String = r.get(7)?;
        let mut state = ConfirmState::parse(&r.get::<_, String>(8)?);
        if matches!(state, ConfirmState::Pending | ConfirmState::Approved)
            && now >= expires.as_str()
        {
            state = ConfirmState::Expired;
        }
        Ok(Confirmation {
            id: r.get(0)?,
            token: r.get(1)?,
            plugin: r.get(2)?,
            command: r.get(3)?,
            action_hash: r.get(4)?,
            summary: r.get(5)?,
            created: r.get(6)?,
            expires,
            state,
        })
    }
}

/// The current UTC day, `YYYY-MM-DD`.
pub fn utc_day() -> String {
    let mut s = format_unix(now_unix());
    s.truncate(10);
    s
}

impl Store {
    /// Creates an agent token scoped to one plugin (and optionally one command) and returns it
    /// once. Only its SHA-256 is stored. Audited as `token-create`.
    pub fn token_create(&mut self, spec: &NewToken) -> Result<IssuedToken, StoreError> {
        self.check_audit_ok()?;
        check_ident("plugin name", &spec.plugin)?;
        if let Some(c) = &spec.command {
            check_ident("command", c)?;
        }
        let random: [u8; TOKEN_RANDOM_BYTES] = rand::random();
        let token = format!("{TOKEN_PREFIX}{}", base32(&random));
        let hash = hash_token(&token);
        let now = now_unix();
        let row = AgentToken {
            id: random_id("tk_"),
            plugin: spec.plugin.clone(),
            command: spec.command.clone(),
            rate_count: spec.rate.map(|r| r.0),
            rate_per_secs: spec.rate.map(|r| r.1),
            daily_calls: spec.daily_calls,
            daily_cpu_ms: spec.daily_cpu_ms,
            expires: spec
                .expires_in_secs
                .map(|s| format_unix(now.saturating_add(s))),
            created: format_unix(now),
            revoked: None,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO agent_tokens (id, hash, hash_prefix, plugin, command, rate_count, rate_per_secs,
                 daily_calls, daily_cpu_ms, expires, created, revoked)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, NULL)",
            params![
                row.id,
                hash,
                &hash[..HASH_PREFIX_LEN],
                row.plugin,
                row.command,
                opt_i64(row.rate_count),
                opt_i64(row.rate_per_secs),
                opt_i64(row.daily_calls),
                opt_i64(row.daily_cpu_ms),
                row.expires,
                row.created,
            ],
        )?;
        let mut ev = AuditEvent::new(AuditAction::TokenCreate);
        ev.plugin = Some(row.plugin.clone());
        ev.detail.token = Some(row.id.clone());
        ev.detail.command = row.command.clone();
        finish(tx, &self.actor, self.fail_point, &self.home_dir, &[ev])?;
        Ok(IssuedToken { token, row })
    }

    /// All agent tokens, oldest first (revoked ones included).
    pub fn token_list(&self) -> Result<Vec<AgentToken>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {TOKEN_COLS} FROM agent_tokens ORDER BY created, id"
        ))?;
        let rows = stmt.query_map([], token_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Revokes a token; every later request presenting it is refused. Audited as `token-revoke`.
    pub fn token_revoke(&mut self, id: &str) -> Result<(), StoreError> {
        self.check_audit_ok()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let plugin: Option<String> = tx
            .query_row(
                "SELECT plugin FROM agent_tokens WHERE id = ?1 AND revoked IS NULL",
                [id],
                |r| r.get(0),
            )
            .optional()?;
        let Some(plugin) = plugin else {
            return Err(StoreError::UnknownToken(crate::names::shown(id)));
        };
        tx.execute(
            "UPDATE agent_tokens SET revoked = ?2 WHERE id = ?1",
            params![id, format_unix(now_unix())],
        )?;
        let mut ev = AuditEvent::new(AuditAction::TokenRevoke);
        ev.plugin = Some(plugin);
        ev.detail.token = Some(id.to_string());
        finish(tx, &self.actor, self.fail_point, &self.home_dir, &[ev])
    }

    /// Looks up a presented token by its hash. The full hash is compared in constant time; a
    /// string that is not token-shaped is `Unknown` without touching the database.
    pub fn token_check(&self, presented: &str) -> Result<TokenCheck, StoreError> {
        if !is_token_shaped(presented) {
            return Ok(TokenCheck::Unknown);
        }
        let hash = hash_token(presented);
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT hash, {TOKEN_COLS} FROM agent_tokens WHERE hash_prefix = ?1"
        ))?;
        let mut rows = stmt.query([&hash[..HASH_PREFIX_LEN]])?;
        let mut found = None;
        while let Some(r) = rows.next()? {
            let stored: String = r.get(0)?;
            if ct_eq(stored.as_bytes(), hash.as_bytes()) {
                found = Some(AgentToken {
                    id: r.get(1)?,
                    plugin: r.get(2)?,
                    command: r.get(3)?,
                    rate_count: opt_u64(r.get(4)?),
                    rate_per_secs: opt_u64(r.get(5)?),
                    daily_calls: opt_u64(r.get(6)?),
                    daily_cpu_ms: opt_u64(r.get(7)?),
                    expires: r.get(8)?,
                    created: r.get(9)?,
                    revoked: r.get(10)?,
                });
            }
        }
        Ok(match found {
            None => TokenCheck::Unknown,
            Some(t) if t.revoked.is_some() => TokenCheck::Revoked(t),
            Some(t)
                if t.expires
                    .as_deref()
                    .is_some_and(|e| format_unix(now_unix()).as_str() >= e) =>
            {
                TokenCheck::Expired(t)
            }
            Some(t) => TokenCheck::Valid(t),
        })
    }

    /// Usage counted for `scope` (`token:ID` or `plugin:NAME`) on `day`.
    pub fn usage(&self, scope: &str, day: &str) -> Result<Usage, StoreError> {
        let row: Option<(i64, i64, i64)> = self
            .conn
            .prepare_cached("SELECT calls, cpu_ms, fuel FROM usage WHERE scope = ?1 AND day = ?2")?
            .query_row(params![scope, day], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        Ok(row.map_or(Usage::default(), |(c, t, f)| Usage {
            calls: u64::try_from(c).unwrap_or(0),
            cpu_ms: u64::try_from(t).unwrap_or(0),
            fuel: u64::try_from(f).unwrap_or(0),
        }))
    }

    /// Appends `events` and adds `usage` to the daily counters in one transaction (group commit):
    /// durable on return, or nothing written.
    pub fn record_requests(
        &mut self,
        events: &[AuditEvent],
        usage: &[UsageDelta],
    ) -> Result<(), StoreError> {
        self.check_request_events(events)?;
        self.with_reserve(|s| {
            let tx = s
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            add_usage(&tx, usage)?;
            finish(tx, &s.actor, s.fail_point, &s.home_dir, events)
        })
    }

    /// Like [`Store::record_requests`], durable on return, but leaves `audit.head` where it is and
    /// returns the new last row instead: a writer committing many small transactions advances the
    /// head with a [`HeadWriter`](crate::HeadWriter) off its critical path. Until then the new rows are *unanchored*:
    /// verified through the chain, and anchored by the next open of the store if nobody else does.
    pub fn record_requests_unanchored(
        &mut self,
        events: &[AuditEvent],
        usage: &[UsageDelta],
    ) -> Result<Option<AuditAnchor>, StoreError> {
        self.check_request_events(events)?;
        self.with_reserve(|s| {
            let tx = s
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            add_usage(&tx, usage)?;
            crate::commit_unanchored(tx, &s.actor, s.fail_point, events)
        })
    }

    /// Refuses a group commit while the log is broken, or with an event that would not be stored.
    fn check_request_events(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        self.check_audit_ok()?;
        for ev in events {
            crate::check_event(ev)?;
        }
        Ok(())
    }

    /// Records a pending confirmation. Audited as `confirm-request`.
    pub fn confirmation_create(
        &mut self,
        new: &NewConfirmation,
    ) -> Result<Confirmation, StoreError> {
        self.check_audit_ok()?;
        check_ident("plugin name", &new.plugin)?;
        check_ident("command", &new.command)?;
        check_ident("token id", &new.token)?;
        check_text(
            "summary",
            &new.summary,
            MAX_SUMMARY_BYTES.min(MAX_TEXT_BYTES),
        )?;
        if new.summary.chars().any(char::is_control) {
            return Err(StoreError::InvalidName {
                what: "summary",
                shown: crate::names::shown(&new.summary),
                reason: "it contains a control character",
            });
        }
        let now = now_unix();
        let c = Confirmation {
            id: random_id("cf_"),
            token: new.token.clone(),
            plugin: new.plugin.clone(),
            command: new.command.clone(),
            action_hash: new.action_hash.clone(),
            summary: new.summary.clone(),
            created: format_unix(now),
            expires: format_unix(now.saturating_add(new.ttl_secs)),
            state: ConfirmState::Pending,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            &format!("INSERT INTO confirmations ({CONFIRM_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending')"),
            params![c.id, c.token, c.plugin, c.command, c.action_hash, c.summary, c.created, c.expires],
        )?;
        let mut ev = AuditEvent::new(AuditAction::ConfirmRequest);
        ev.plugin = Some(c.plugin.clone());
        ev.detail.command = Some(c.command.clone());
        ev.detail.token = Some(c.token.clone());
        ev.detail.confirmation = Some(c.id.clone());
        finish(tx, &self.actor, self.fail_point, &self.home_dir, &[ev])?;
        Ok(c)
    }

    /// One confirmation, with its state as of now.
    pub fn confirmation_get(&self, id: &str) -> Result<Option<Confirmation>, StoreError> {
        let now = format_unix(now_unix());
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {CONFIRM_COLS} FROM confirmations WHERE id = ?1"),
                [id],
                confirm_row(&now),
            )
            .optional()?)
    }

    /// Confirmations, oldest first: only those still pending unless `all`.
    pub fn confirmation_list(&self, all: bool) -> Result<Vec<Confirmation>, StoreError> {
        let now = format_unix(now_unix());
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {CONFIRM_COLS} FROM confirmations ORDER BY created, id"
        ))?;
        let rows = stmt.query_map([], confirm_row(&now))?;
        let rows: Vec<Confirmation> = rows.collect::<Result<_, _>>()?;
        Ok(rows
            .into_iter()
            .filter(|c| all || c.state == ConfirmState::Pending)
            .collect())
    }

    /// The most recent confirmation `token` asked for the action with `action_hash`.
    pub fn confirmation_for_action(
        &self,
        token: &str,
        action_hash: &str,
    ) -> Result<Option<Confirmation>, StoreError> {
        let now = format_unix(now_unix());
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT {CONFIRM_COLS} FROM confirmations WHERE token = ?1 AND action_hash = ?2
                     ORDER BY created DESC, rowid DESC LIMIT 1"
                ),
                params![token, action_hash],
                confirm_row(&now),
            )
            .optional()?)
    }

    /// Approves or denies a pending confirmation; single-use: a confirmation that is not pending
    /// (decided, used, expired) is refused. Audited as `confirm-approve` / `confirm-deny`.
    pub fn confirmation_decide(
        &mut self,
        id: &str,
        approve: bool,
    ) -> Result<Confirmation, StoreError> {
        self.check_audit_ok()?;
        let now = format_unix(now_unix());
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found = tx
            .query_row(
                &format!("SELECT {CONFIRM_COLS} FROM confirmations WHERE id = ?1"),
                [id],
                confirm_row(&now),
            )
            .optional()?;
        let Some(mut c) = found else {
            return Err(StoreError::UnknownConfirmation(crate::names::shown(id)));
        };
        if c.state != ConfirmState::Pending {
            return Err(StoreError::ConfirmationNotPending {
                id: c.id,
                state: c.state.as_str(),
            });
        }
        c.state = if approve {
            ConfirmState::Approved
        } else {
            ConfirmState::Denied
        };
        tx.execute(
            "UPDATE confirmations SET state = ?2 WHERE id = ?1 AND state = 'pending'",
            params![id, c.state.as_str()],
        )?;
        let mut ev = AuditEvent::new(if approve {
            AuditAction::ConfirmApprove
        } else {
            AuditAction::ConfirmDeny
        });
        ev.plugin = Some(c.plugin.clone());
        ev.detail.command = Some(c.command.clone());
        ev.detail.token = Some(c.token.clone());
        ev.detail.confirmation = Some(c.id.clone());
        ev.detail.reason = Some("operator");
        finish(tx, &self.actor, self.fail_point, &self.home_dir, &[ev])?;
        Ok(c)
    }

    /// Uses an approved, unexpired confirmation for exactly one run of the action with
    /// `action_hash`. Returns false (and changes nothing) if it is not approved, expired, already
    /// used, or bound to another action.
    pub fn confirmation_use(&mut self, id: &str, action_hash: &str) -> Result<bool, StoreError> {
        let now = format_unix(now_unix());
        let n = self.conn.execute(
            "UPDATE confirmations SET state = 'used'
             WHERE id = ?1 AND action_hash = ?2 AND state = 'approved' AND expires > ?3",
            params![id, action_hash, now],
        )?;
        Ok(n == 1)
    }

    /// Denies every confirmation still pending or approved-but-unused (daemon start: a restart
    /// means denied). Returns how many; each gets a `confirm-deny` row with reason `restart`.
    pub fn confirmation_deny_open(&mut self) -> Result<usize, StoreError> {
        self.check_audit_ok()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let open: Vec<(String, String, String, String)> = {
            let mut stmt = tx.prepare(
                "SELECT id, token, plugin, command FROM confirmations
                 WHERE state IN ('pending', 'approved') ORDER BY created, id",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        if open.is_empty() {
            return Ok(0);
        }
        tx.execute(
            "UPDATE confirmations SET state = 'denied' WHERE state IN ('pending', 'approved')",
            [],
        )?;
        let events: Vec<AuditEvent> = open
            .iter()
            .map(|(id, token, plugin, command)| {
                let mut ev = AuditEvent::new(AuditAction::ConfirmDeny);
                ev.outcome = crate::Outcome::Denied;
                ev.plugin = Some(plugin.clone());
                ev.detail.command = Some(command.clone());
                ev.detail.token = Some(token.clone());
                ev.detail.confirmation = Some(id.clone());
                ev.detail.reason = Some("restart");
                ev
            })
            .collect();
        finish(tx, &self.actor, self.fail_point, &self.home_dir, &events)?;
        Ok(open.len())
    }
}

/// Schema version 2: agent tokens, daily usage, confirmations. Idempotent (`IF NOT EXISTS`).
pub(crate) const SCHEMA_V2: &str = r#"
CREATE TABLE IF NOT EXISTS agent_tokens (
    id            TEXT PRIMARY KEY,
    hash          TEXT NOT NULL UNIQUE,
    hash_prefix   TEXT NOT NULL,
    plugin        TEXT NOT NULL,
    command       TEXT,
    rate_count    INTEGER,
    rate_per_secs INTEGER,
    daily_calls   INTEGER,
    daily_cpu_ms  INTEGER,
    expires       TEXT,
    created       TEXT NOT NULL,
    revoked       TEXT
);
CREATE INDEX IF NOT EXISTS agent_tokens_prefix ON agent_tokens (hash_prefix);
CREATE TABLE IF NOT EXISTS usage (
    scope  TEXT NOT NULL,
    day    TEXT NOT NULL,
    calls  INTEGER NOT NULL,
    cpu_ms INTEGER NOT NULL,
    fuel   INTEGER NOT NULL,
    PRIMARY KEY (scope, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS confirmations (
    id          TEXT PRIMARY KEY,
    token       TEXT NOT NULL,
    plugin      TEXT NOT NULL,
    command     TEXT NOT NULL,
    action_hash TEXT NOT NULL,
    summary     TEXT NOT NULL,
    created     TEXT NOT NULL,
    expires     TEXT NOT NULL,
    state       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS confirmations_action ON confirmations (token, action_hash);
"#;

/// Adds `usage` to the daily counters in `tx`.
fn add_usage(tx: &rusqlite::Transaction<'_>, usage: &[UsageDelta]) -> Result<(), StoreError> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO usage (scope, day, calls, cpu_ms, fuel) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (scope, day) DO UPDATE SET calls = calls + excluded.calls,
             cpu_ms = cpu_ms + excluded.cpu_ms, fuel = fuel + excluded.fuel",
    )?;
    for d in usage {
        stmt.execute(params![
            d.scope,
            d.day,
            opt_i64(Some(d.usage.calls)),
            opt_i64(Some(d.usage.cpu_ms)),
            opt_i64(Some(d.usage.fuel)),
        ])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc4648() {
        // RFC 4648 test vectors, lowercase and unpadded.
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("f", "my"),
            ("fo", "mzxq"),
            ("foo", "mzxw6"),
            ("foob", "mzxw6yq"),
            ("fooba", "mzxw6ytb"),
            ("foobar", "mzxw6ytboi"),
        ];
        for (input, want) in cases {
            assert_eq!(base32(input.as_bytes()), *want);
        }
        assert_eq!(base32(&[0u8; 32]).len(), 52);
    }

    #[test]
    fn token_shape_table() {
        let good = format!("wk_{}", "a".repeat(52));
        assert!(is_token_shaped(&good));
        for bad in [
            String::new(),
            "wk_".into(),
            format!("wk_{}", "a".repeat(51)),
            format!("wk_{}", "a".repeat(53)),
            format!("xk_{}", "a".repeat(52)),
            format!("wk_{}1", "a".repeat(51)),
            format!("wk_{}A", "a".repeat(51)),
        ] {
            assert!(!is_token_shaped(&bad), "{bad}");
        }
    }

    #[test]
    fn ct_eq_table() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}

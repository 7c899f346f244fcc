//! ward's store: everything ward keeps under `WARD_HOME`.
//!
//! - an embedded SQLite database (`store.db`, write-ahead log, `synchronous=FULL`: one fsync of the
//!   log per commit) holding the plugin
//!   registry with its kept versions, grants bound to digests, the trust store, plugin-private data
//!   and the hash-chained audit log;
//! - content-addressed blobs (`blobs/<sha256 hex>`), verified on every read;
//! - `audit.head`, the audit log's head kept outside the table so that truncation is detected.
//!
//! Every state change is one SQLite transaction that also appends its audit rows, so a crash leaves
//! the old or the new state. Files are reached only through cap-std directory handles opened without
//! following links; the store refuses a home that other users can write. See `docs/store.md`.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod agent;
mod audit;
mod blob;
mod error;
mod failpoint;
pub mod merkle;
mod names;
mod proposal;
mod registry;
mod reserve;
pub(crate) mod time;

use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt};
use cap_std::ambient_authority;
use cap_std::fs::{Dir, DirBuilder, DirBuilderExt, OpenOptions, OpenOptionsExt};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

pub use agent::{
    AgentToken, ConfirmState, Confirmation, IssuedToken, MAX_SUMMARY_BYTES, NewConfirmation,
    NewToken, TOKEN_LEN, TOKEN_PREFIX, TokenCheck, Usage, UsageDelta, utc_day,
};
pub use audit::{
    AUDIT_HASH_DOMAIN, AuditAction, AuditDetail, AuditEvent, AuditFilter, AuditQuery, AuditReport,
    AuditRow, GENESIS_HASH, Outcome, audit_row_hash,
};
pub use blob::BlobDigest;
pub use error::{AuditError, StoreError};
pub use failpoint::FAIL_POINTS;
pub use names::{MAX_DOC_BYTES, MAX_NAME_BYTES, MAX_TEXT_BYTES};
pub use proposal::{NewProposal, Proposal, ProposalState};
pub use registry::{
    InstallOutcome, InstallRecord, InstalledVersion, KvUsage, PluginDetail, PluginRow, TrustedKey,
    VersionRow,
};
pub use reserve::{MIN_FREE_BYTES, RESERVE_BYTES, Unavailable};
pub use time::{format_unix, parse_utc};

/// Schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 5;

/// Default number of previous versions kept besides the current one.
pub const DEFAULT_KEEP_VERSIONS: usize = 3;

/// How long a writer waits for another process's transaction, in milliseconds.
const BUSY_TIMEOUT_MS: u64 = 10_000;

const DB_FILE: &str = "store.db";
const LOCK_FILE: &str = "lock";
const BLOBS_DIR: &str = "blobs";

/// Options of [`Store::open_with`].
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Previous versions kept per plugin besides the current one (for rollback).
    pub keep_versions: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            keep_versions: DEFAULT_KEEP_VERSIONS,
        }
    }
}

/// An open store.
///
/// Guarantees: every registry and trust change is atomic together with its audit rows; blobs are
/// returned only when their bytes match their digest; no file outside `WARD_HOME` is read or written
/// through a link planted inside it. While a `Store` is open it holds a shared lock on
/// `WARD_HOME/lock`; start-up recovery (removing temporary files and unreferenced blobs) only runs
/// when no other process has the store open.
pub struct Store {
    home: PathBuf,
    home_dir: Dir,
    blobs: Dir,
    conn: Connection,
    _lock: cap_std::fs::File,
    keep_versions: usize,
    actor: String,
    fail_point: Option<&'static str>,
    audit_broken: Option<String>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("home", &self.home)
            .field("keep_versions", &self.keep_versions)
            .field("actor", &self.actor)
            .finish_non_exhaustive()
    }
}

fn io_at(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::io(path.display().to_string(), e)
}

/// Refuses a directory that is not owned by the current user or that group/others can access.
fn check_private(dir: &Dir, path: &Path) -> Result<(), StoreError> {
    let st = rustix::fs::fstat(dir).map_err(|e| io_at(path, e.into()))?;
    let uid = rustix::process::geteuid().as_raw();
    let mode = st.st_mode & 0o7777;
    if st.st_uid != uid {
        return Err(StoreError::NotOwned {
            path: path.display().to_string(),
            owner: st.st_uid,
            uid,
        });
    }
    if mode & 0o077 != 0 {
        return Err(StoreError::InsecurePermissions {
            path: path.display().to_string(),
            mode,
        });
    }
    Ok(())
}

/// Refuses `name` in `dir` if it exists and is a symbolic link.
fn refuse_link(
    dir: &Dir,
    home: &Path,
    name: &str,
    expected: &'static str,
) -> Result<(), StoreError> {
    match dir.symlink_metadata(name) {
        Ok(m) if m.file_type().is_symlink() => Err(StoreError::UnexpectedFileType {
            path: home.join(name).display().to_string(),
            expected,
        }),
        _ => Ok(()),
    }
}

impl Store {
    /// Opens (creating if needed) the store in `home` with default options.
    ///
    /// Creates `home` and `home/blobs` with mode 0700, refuses directories owned by another user or
    /// accessible by group/others, refuses links planted for `blobs`, `store.db` and its journal,
    /// migrates the schema, runs recovery and checks the audit head (rolling it forward after a crash
    /// between a commit and the head update).
    pub fn open(home: &Path) -> Result<Store, StoreError> {
        Self::open_with(home, StoreOptions::default())
    }

    /// [`Store::open`] with options.
    pub fn open_with(home: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(home)
            .map_err(|e| io_at(home, e))?;
        let home_dir =
            Dir::open_ambient_dir(home, ambient_authority()).map_err(|e| io_at(home, e))?;
        check_private(&home_dir, home)?;

        let blobs_path = home.join(BLOBS_DIR);
        match home_dir.symlink_metadata(BLOBS_DIR) {
            Ok(m) if m.is_dir() && !m.file_type().is_symlink() => {}
            Ok(_) => {
                return Err(StoreError::UnexpectedFileType {
                    path: blobs_path.display().to_string(),
                    expected: "directory",
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut b = DirBuilder::new();
                b.mode(0o700);
                home_dir
                    .create_dir_with(BLOBS_DIR, &b)
                    .map_err(|e| io_at(&blobs_path, e))?;
            }
            Err(e) => return Err(io_at(&blobs_path, e)),
        }
        let blobs = home_dir
            .open_dir_nofollow(BLOBS_DIR)
            .map_err(|e| io_at(&blobs_path, e))?;
        check_private(&blobs, &blobs_path)?;

        for name in [
            LOCK_FILE,
            DB_FILE,
            "store.db-journal",
            "store.db-wal",
            "store.db-shm",
            audit::HEAD_FILE,
            reserve::RESERVE_FILE,
        ] {
            refuse_link(&home_dir, home, name, "regular file")?;
        }
        let mut opts = OpenOptions::new();
        opts.read(true)
            .write(true)
            .create(true)
            .mode(0o600)
            .follow(FollowSymlinks::No);
        let lock = home_dir
            .open_with(LOCK_FILE, &opts)
            .map_err(|e| io_at(&home.join(LOCK_FILE), e))?;
        // Pre-create the database file so that it gets mode 0600 and is known to be a regular file.
        let db = home_dir
            .open_with(DB_FILE, &opts)
            .map_err(|e| io_at(&home.join(DB_FILE), e))?;
        drop(db);

        let conn = Connection::open_with_flags(
            home.join(DB_FILE),
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NOFOLLOW
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))?;
        // Write-ahead log: a commit appends to `store.db-wal` and syncs it once, where a rollback
        // journal syncs the journal, the database and the directory. With `synchronous=FULL` a
        // commit is durable when it returns, in both modes.
        // On a file system without shared memory SQLite keeps its previous journal mode, which is
        // as durable, only slower.
        let _mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "trusted_schema", "OFF")?;

        let mut store = Store {
            home: home.to_path_buf(),
            home_dir,
            blobs,
            conn,
            _lock: lock,
            keep_versions: options.keep_versions,
            actor: format!("uid:{}", rustix::process::geteuid().as_raw()),
            fail_point: None,
            audit_broken: None,
        };
        store.migrate()?;

        let exclusive = rustix::fs::flock(
            &store._lock,
            rustix::fs::FlockOperation::NonBlockingLockExclusive,
        )
        .is_ok();
        if exclusive {
            store.recover()?;
        }
        rustix::fs::flock(&store._lock, rustix::fs::FlockOperation::LockShared)
            .map_err(|e| io_at(&home.join(LOCK_FILE), e.into()))?;

        store.check_audit_head()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if found < 1 {
            tx.execute_batch(SCHEMA_V1)?;
            tx.pragma_update(None, "user_version", 1)?;
        }
        if found < 2 {
            tx.execute_batch(agent::SCHEMA_V2)?;
            tx.pragma_update(None, "user_version", 2)?;
        }
        if found < 3 {
            tx.execute_batch(proposal::SCHEMA_V3)?;
            tx.pragma_update(None, "user_version", 3)?;
        }
        if found < 4 {
            tx.execute_batch(registry::SCHEMA_V4)?;
            tx.pragma_update(None, "user_version", 4)?;
        }
        if found < 5 {
            tx.execute_batch(registry::SCHEMA_V5)?;
            tx.pragma_update(None, "user_version", 5)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Removes temporary files and blobs no row references. Runs only with the exclusive lock.
    fn recover(&mut self) -> Result<(), StoreError> {
        // A crash can leave a journal that SQLite does not consider hot (nothing to roll back) and
        // therefore leaves in place; one small write transaction replaces and then deletes it.
        if self.home_dir.exists("store.db-journal") {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            tx.commit()?;
        }
        remove_temps(&self.home_dir, &self.home)?;
        remove_temps(&self.blobs, &self.home.join(BLOBS_DIR))?;
        let names = list_names(&self.blobs, &self.home.join(BLOBS_DIR))?;
        let candidates: Vec<String> = names
            .into_iter()
            .filter(|n| blob::is_blob_name(n))
            .collect();
        self.gc_blobs(&candidates)
    }

    /// Removes the blob files among `candidates` that no version or proposal row references, holding the
    /// database write lock so that no install can reference them meanwhile.
    pub(crate) fn gc_blobs(&mut self, candidates: &[String]) -> Result<(), StoreError> {
        if candidates.is_empty() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut removed = false;
        {
            // Kept versions and recorded proposals both hold their component blob.
            let mut stmt = tx.prepare(
                "SELECT 1 FROM versions WHERE blob = ?1 UNION ALL SELECT 1 FROM proposals WHERE blob = ?1 LIMIT 1",
            )?;
            for name in candidates {
                if !blob::is_blob_name(name) || stmt.exists([name])? {
                    continue;
                }
                match self.blobs.remove_file(name) {
                    Ok(()) => removed = true,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_at(&self.home.join(BLOBS_DIR).join(name), e)),
                }
            }
        }
        if removed {
            blob::sync_dir(&self.blobs, "blobs/")?;
        }
        tx.commit()?;
        Ok(())
    }

    fn check_audit_head(&mut self) -> Result<(), StoreError> {
        let head = match audit::read_head(&self.home_dir) {
            Ok(h) => h,
            Err(e) => {
                self.audit_broken = Some(e.to_string());
                return Ok(());
            }
        };
        match audit::check_head(&self.conn, head.as_ref()) {
            Ok(Some(new)) => advance_head(&self.home_dir, new.seq, new.hash),
            Ok(None) => Ok(()),
            Err(AuditError::Store(e)) => Err(e),
            Err(e) => {
                self.audit_broken = Some(e.to_string());
                Ok(())
            }
        }
    }

    /// Refuses state changes while the audit log failed its open-time check.
    pub(crate) fn check_audit_ok(&self) -> Result<(), StoreError> {
        match &self.audit_broken {
            Some(reason) => Err(StoreError::AuditBroken(reason.clone())),
            None => Ok(()),
        }
    }

    /// The store's home directory.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Sets the actor recorded in audit rows of registry and trust operations (default `uid:N`).
    pub fn set_actor(&mut self, actor: impl Into<String>) {
        self.actor = actor.into();
    }

    /// The actor recorded in audit rows.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// Sets how many previous versions per plugin are kept besides the current one.
    pub fn set_keep_versions(&mut self, keep: usize) {
        self.keep_versions = keep;
    }

    /// Why the audit log failed its open-time check, if it did. While set, state changes are refused.
    pub fn audit_problem(&self) -> Option<&str> {
        self.audit_broken.as_deref()
    }

    /// Test hook: makes the next operations fail at the named step (see [`FAIL_POINTS`]).
    #[doc(hidden)]
    pub fn set_fail_point(&mut self, point: Option<&'static str>) {
        self.fail_point = point;
    }

    /// Stores `bytes` as a blob named by their SHA-256 and returns the digest.
    ///
    /// Idempotent; the blob is durable (file and directory fsynced) on return. A link planted at the
    /// blob's name is replaced, never written through.
    pub fn put_blob(&mut self, bytes: &[u8]) -> Result<BlobDigest, StoreError> {
        let digest = BlobDigest::of(bytes);
        if blob::read(&self.blobs, &digest).is_err() {
            let tmp = blob::write_temp(&self.blobs, bytes, "blobs/")?;
            failpoint::hit(self.fail_point, "blob-temp")?;
            blob::commit_temp(&self.blobs, &tmp, &digest.to_hex(), "blobs/")?;
        }
        failpoint::hit(self.fail_point, "after-blob")?;
        Ok(digest)
    }

    /// Reads a blob, verifying that its bytes still hash to `digest`.
    ///
    /// A missing, altered or linked blob is an error; altered bytes are never returned.
    pub fn get_blob(&self, digest: &BlobDigest) -> Result<Vec<u8>, StoreError> {
        blob::read(&self.blobs, digest)
    }

    /// Appends one audit event in its own transaction; durable on return.
    pub fn append_audit(&mut self, event: &AuditEvent) -> Result<(), StoreError> {
        self.append_audit_batch(std::slice::from_ref(event))
    }

    /// Appends events in one transaction (group commit); durable on return.
    ///
    /// Identifiers in the events (actor, plugin, digest, command, key id, versions) are checked like
    /// every identifier the store keeps: bounded, no control or bidi characters.
    pub fn append_audit_batch(&mut self, events: &[AuditEvent]) -> Result<(), StoreError> {
        self.check_audit_ok()?;
        for ev in events {
            check_event(ev)?;
        }
        self.with_reserve(|s| {
            let tx = s
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            finish(tx, &s.actor, s.fail_point, &s.home_dir, events)
        })
    }

    /// Runs `commit`; when it fails because the disk is full, releases the audit reserve and runs
    /// it once more, so the rows of a call that already ran still land (see [`Store::audit_guard`]).
    pub(crate) fn with_reserve<T>(
        &mut self,
        mut commit: impl FnMut(&mut Store) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match commit(self) {
            Err(e) if reserve::is_disk_full(&e) && reserve::release_reserve(&self.home_dir) => {
                commit(self)
            }
            other => other,
        }
    }

    /// Audit rows, oldest first.
    pub fn audit_list(&self, query: AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
        let limit = query
            .limit
            .map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let sql_cols = "SELECT seq, time, actor, action, plugin, digest, outcome, detail, prev_hash, hash FROM audit";
        let (sql, arg) = match query.since {
            Some(s) => (
                format!("{sql_cols} WHERE seq > ?1 ORDER BY seq LIMIT ?2"),
                s as i64,
            ),
            None => (
                format!(
                    "SELECT * FROM ({sql_cols} WHERE seq > ?1 ORDER BY seq DESC LIMIT ?2) ORDER BY seq"
                ),
                0,
            ),
        };
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params![arg, limit], |r| {
            let detail: String = r.get(7)?;
            Ok(AuditRow {
                seq: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                time: r.get(1)?,
                actor: r.get(2)?,
                action: r.get(3)?,
                plugin: r.get(4)?,
                digest: r.get(5)?,
                outcome: r.get(6)?,
                detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
                prev_hash: r.get(8)?,
                hash: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Calls `f` with every row `filter` matches, in sequence order, reading them one at a time
    /// (the log is never held in memory whole); `f` returns `false` to stop. Returns the last
    /// sequence number passed on (or `filter.after`).
    pub fn audit_each(
        &self,
        filter: &AuditFilter,
        mut f: impl FnMut(AuditRow) -> Result<bool, StoreError>,
    ) -> Result<Option<u64>, StoreError> {
        let mut sql = String::from(
            "SELECT seq, time, actor, action, plugin, digest, outcome, detail, prev_hash, hash \
             FROM audit WHERE seq > ?1",
        );
        let mut args: Vec<rusqlite::types::Value> = vec![
            i64::try_from(filter.after.unwrap_or(0))
                .unwrap_or(i64::MAX)
                .into(),
        ];
        let mut bind = |sql: &mut String, clause: &str, v: rusqlite::types::Value| {
            args.push(v);
            sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
        };
        if let Some(n) = filter.upto {
            bind(
                &mut sql,
                " AND seq <= ?",
                i64::try_from(n).unwrap_or(i64::MAX).into(),
            );
        }
        if let Some(p) = &filter.plugin {
            bind(&mut sql, " AND plugin = ?", p.clone().into());
        }
        if let Some(t) = filter.since {
            bind(&mut sql, " AND time >= ?", time::format_unix(t).into());
        }
        if let Some(t) = filter.until {
            bind(&mut sql, " AND time < ?", time::format_unix(t).into());
        }
        if let Some(o) = &filter.outcome {
            bind(&mut sql, " AND outcome = ?", o.clone().into());
        }
        if let Some(a) = &filter.action {
            bind(&mut sql, " AND action = ?", a.clone().into());
        }
        match filter.actor.as_deref() {
            None => {}
            Some("operator") => sql.push_str(
                " AND (actor = 'operator' OR actor LIKE 'operator:%' OR actor LIKE 'uid:%')",
            ),
            Some("agent") => sql.push_str(" AND actor LIKE 'agent:%'"),
            Some(token) => bind(
                &mut sql,
                " AND json_extract(detail, '$.token') = ?",
                token.to_owned().into(),
            ),
        }
        sql.push_str(" ORDER BY seq");
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        let mut last = filter.after;
        while let Some(r) = rows.next()? {
            let detail: String = r.get(7)?;
            let row = AuditRow {
                seq: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                time: r.get(1)?,
                actor: r.get(2)?,
                action: r.get(3)?,
                plugin: r.get(4)?,
                digest: r.get(5)?,
                outcome: r.get(6)?,
                detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
                prev_hash: r.get(8)?,
                hash: r.get(9)?,
            };
            last = Some(row.seq);
            if !f(row)? {
                break;
            }
        }
        Ok(last)
    }

    /// The Merkle leaves ([`merkle::leaf_hash`] of each row's hash) of the first `size` audit
    /// rows, in sequence order; fewer when the log holds fewer. A stored hash that is not 32 bytes
    /// of hex is an error (the log was tampered with).
    pub fn audit_leaves(&self, size: u64) -> Result<Vec<merkle::Hash>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, hash FROM audit WHERE seq <= ?1 ORDER BY seq")?;
        let mut rows = stmt.query([i64::try_from(size).unwrap_or(i64::MAX)])?;
        let mut leaves = Vec::new();
        while let Some(r) = rows.next()? {
            let seq: i64 = r.get(0)?;
            let text: String = r.get(1)?;
            let mut hash = [0u8; 32];
            hex::decode_to_slice(&text, &mut hash).map_err(|_| {
                StoreError::AuditBroken(format!("row {seq} has a hash that is not 32 bytes of hex"))
            })?;
            leaves.push(merkle::leaf_hash(&hash));
        }
        Ok(leaves)
    }

    /// The sequence number of the last audit row (0 for an empty log).
    pub fn audit_last_seq(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM audit", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Verifies the whole audit log: every row's hash, the chain, the sequence, and the head kept in
    /// `audit.head` (which detects truncation of the tail).
    pub fn audit_verify(&self) -> Result<AuditReport, AuditError> {
        // Read the head before the table: under normal operation the head is never ahead of it.
        let head = audit::read_head(&self.home_dir)?;
        let (last_seq, last_hash, rows) = audit::verify_range(&self.conn, 0, GENESIS_HASH)?;
        let head_seq = match &head {
            None if last_seq == 0 => 0,
            None => return Err(AuditError::HeadMissing),
            Some(h) if h.seq > last_seq => {
                return Err(AuditError::Truncated {
                    head_seq: h.seq,
                    last_seq,
                });
            }
            Some(h) => {
                let at = if h.seq == 0 {
                    Some(GENESIS_HASH.to_string())
                } else {
                    audit::hash_at(&self.conn, h.seq)?
                };
                if at.as_deref() != Some(h.hash.as_str()) {
                    return Err(AuditError::HeadMismatch { seq: h.seq });
                }
                h.seq
            }
        };
        Ok(AuditReport {
            rows,
            head_seq,
            last_hash,
            unanchored: last_seq - head_seq,
        })
    }

    /// Lets state changes proceed again after the audit log failed its open-time check: appends an
    /// `audit-reseal` row (whose detail names the problem) and points `audit.head` at it.
    ///
    /// The damaged part of the chain stays damaged: `audit_verify` keeps reporting it. Only the
    /// operator should call this, after reading `ward audit verify`.
    pub fn audit_reseal(&mut self) -> Result<(), StoreError> {
        let reason: &'static str = match self.audit_broken.as_deref() {
            None => return Ok(()),
            Some(r) if r.contains("truncated") => "head-ahead-of-log",
            Some(r) if r.contains("missing") => "head-missing",
            Some(_) => "head-mismatch",
        };
        let fp = self.fail_point;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut ev = AuditEvent::new(AuditAction::AuditReseal);
        ev.detail.reason = Some(reason);
        let head = audit::append_in_tx(&tx, &self.actor, &[ev])?;
        failpoint::hit(fp, "before-commit")?;
        tx.commit()?;
        if let Some((seq, hash)) = head {
            audit::write_head(&self.home_dir, &audit::Head { seq, hash })?;
        }
        self.audit_broken = None;
        Ok(())
    }
}

/// Checks the identifiers in an event (actor, plugin, digest, command, key id, versions, token and
/// confirmation ids) like every identifier the store keeps: bounded, no control or bidi characters.
pub(crate) fn check_event(ev: &AuditEvent) -> Result<(), StoreError> {
    let d = &ev.detail;
    let idents = [
        ("actor", &ev.actor),
        ("plugin name", &ev.plugin),
        ("digest", &ev.digest),
        ("command", &d.command),
        ("key id", &d.key_id),
        ("version", &d.version),
        ("version", &d.from_version),
        ("version", &d.to_version),
        ("token id", &d.token),
        ("confirmation id", &d.confirmation),
        ("proposal id", &d.proposal),
        ("method", &d.method),
        ("origin", &d.origin),
    ];
    for (what, v) in idents {
        if let Some(v) = v {
            names::check_ident(what, v)?;
        }
    }
    for v in d
        .capabilities
        .iter()
        .chain(&d.scopes)
        .chain(&d.plugins)
        .chain(&d.pruned)
    {
        names::check_ident("audit detail item", v)?;
    }
    Ok(())
}

/// Appends `events` to the audit log in `tx`, commits, and advances `audit.head`. The fail points
/// mark each step.
pub(crate) fn finish(
    tx: rusqlite::Transaction<'_>,
    actor: &str,
    fp: Option<&'static str>,
    home_dir: &Dir,
    events: &[AuditEvent],
) -> Result<(), StoreError> {
    if let Some(anchor) = commit_unanchored(tx, actor, fp, events)? {
        advance_head(home_dir, anchor.seq, anchor.hash)?;
    }
    failpoint::hit(fp, "after-head")
}

/// [`finish`] up to the commit: appends `events` in `tx` and commits; returns the last row, for
/// advancing `audit.head` later.
pub(crate) fn commit_unanchored(
    tx: rusqlite::Transaction<'_>,
    actor: &str,
    fp: Option<&'static str>,
    events: &[AuditEvent],
) -> Result<Option<AuditAnchor>, StoreError> {
    let head = audit::append_in_tx(&tx, actor, events)?;
    failpoint::hit(fp, "before-commit")?;
    tx.commit()?;
    failpoint::hit(fp, "after-commit")?;
    Ok(head.map(|(seq, hash)| AuditAnchor { seq, hash }))
}

/// The last row of a commit, for advancing `audit.head` later (see
/// [`Store::record_requests_unanchored`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditAnchor {
    /// Sequence number of the row.
    pub seq: u64,
    /// Its hash.
    pub hash: String,
}

/// Advances `audit.head`, from any thread: it holds its own handle on `WARD_HOME`.
#[derive(Debug)]
pub struct HeadWriter {
    home_dir: Dir,
}

impl HeadWriter {
    /// Points `audit.head` at `anchor` (temp file, fsync, rename, directory fsync), unless it
    /// already records a later row or is unreadable (evidence is never overwritten).
    pub fn advance(&self, anchor: &AuditAnchor) -> Result<(), StoreError> {
        advance_head(&self.home_dir, anchor.seq, anchor.hash.clone())
    }
}

impl Store {
    /// A [`HeadWriter`] for this store's home.
    pub fn head_writer(&self) -> Result<HeadWriter, StoreError> {
        Ok(HeadWriter {
            home_dir: self
                .home_dir
                .try_clone()
                .map_err(|e| io_at(&self.home, e))?,
        })
    }
}

/// Advances `audit.head` to (`seq`, `hash`) unless it already records a later row (another process)
/// or is unreadable (evidence is never overwritten).
fn advance_head(home_dir: &Dir, seq: u64, hash: String) -> Result<(), StoreError> {
    match audit::read_head(home_dir) {
        Ok(Some(h)) if h.seq >= seq => Ok(()),
        Ok(_) => audit::write_head(home_dir, &audit::Head { seq, hash }),
        Err(_) => Ok(()),
    }
}

fn list_names(dir: &Dir, path: &Path) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    for entry in dir.entries().map_err(|e| io_at(path, e))? {
        let entry = entry.map_err(|e| io_at(path, e))?;
        if let Some(name) = entry.file_name().to_str() {
            out.push(name.to_string());
        }
    }
    Ok(out)
}

fn remove_temps(dir: &Dir, path: &Path) -> Result<(), StoreError> {
    let mut removed = false;
    for name in list_names(dir, path)? {
        if name.starts_with(blob::TEMP_PREFIX) {
            dir.remove_file(&name)
                .map_err(|e| io_at(&path.join(&name), e))?;
            removed = true;
        }
    }
    if removed {
        blob::sync_dir(dir, &path.display().to_string())?;
    }
    Ok(())
}

/// Schema version 1. Idempotent (`IF NOT EXISTS`).
const SCHEMA_V1: &str = r#"
CREATE TABLE IF NOT EXISTS versions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL,
    version       TEXT NOT NULL,
    digest        TEXT NOT NULL,
    blob          TEXT NOT NULL,
    manifest_toml TEXT NOT NULL,
    signers       TEXT NOT NULL,
    summary       TEXT NOT NULL,
    installed_at  TEXT NOT NULL,
    UNIQUE (name, version)
);
CREATE INDEX IF NOT EXISTS versions_blob ON versions (blob);
CREATE INDEX IF NOT EXISTS versions_digest ON versions (digest);
CREATE TABLE IF NOT EXISTS plugins (
    name            TEXT PRIMARY KEY,
    current         INTEGER NOT NULL REFERENCES versions (id),
    enabled         INTEGER NOT NULL,
    disabled_reason TEXT,
    installed_at    TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS highest (
    name    TEXT PRIMARY KEY,
    version TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS grants (
    digest     TEXT PRIMARY KEY,
    grants     TEXT NOT NULL,
    granted_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS trusted_keys (
    key_id     TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    label      TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    ceiling    TEXT,
    expires    TEXT,
    added_at   TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS data (
    plugin TEXT NOT NULL,
    key    BLOB NOT NULL,
    value  BLOB NOT NULL,
    PRIMARY KEY (plugin, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit (
    seq       INTEGER PRIMARY KEY,
    time      TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    plugin    TEXT,
    digest    TEXT,
    outcome   TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"#;

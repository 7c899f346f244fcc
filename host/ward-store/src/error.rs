//! Errors of the store.

use std::io;

/// Why a store operation was refused or failed.
///
/// Messages name the bad input and, where it helps, what to do instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An I/O error on a file or directory of the store.
    #[error("{path}: {source}")]
    Io {
        /// The path (relative to `WARD_HOME` where possible).
        path: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A store directory or file is writable by group or others.
    #[error(
        "{path} has mode {mode:04o}, which lets other users read or change ward's store; run `chmod 700 {path}`"
    )]
    InsecurePermissions {
        /// The directory.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// A store directory is owned by another user.
    #[error(
        "{path} is owned by uid {owner}, not by the current user (uid {uid}); ward only uses a home it owns"
    )]
    NotOwned {
        /// The directory.
        path: String,
        /// Its owner.
        owner: u32,
        /// The current effective uid.
        uid: u32,
    },
    /// A path inside `WARD_HOME` is a symbolic link or not the expected kind of file.
    #[error(
        "{path} is a symbolic link or not a {expected}; ward does not follow links inside its home, remove it"
    )]
    UnexpectedFileType {
        /// The path.
        path: String,
        /// "directory" or "regular file".
        expected: &'static str,
    },
    /// An SQLite error.
    #[error("store database")]
    Db(#[from] rusqlite::Error),
    /// The database was written by a newer ward.
    #[error(
        "store.db has schema version {found}, newer than the {supported} this ward understands; upgrade ward"
    )]
    SchemaTooNew {
        /// Version found in the file.
        found: i64,
        /// Highest version this build understands.
        supported: i64,
    },
    /// A blob digest is not 64 lowercase hex characters (optionally prefixed `sha256:`).
    #[error(
        "invalid blob digest {0:?}: expected 64 lowercase hex characters, optionally prefixed with `sha256:`"
    )]
    InvalidDigest(String),
    /// A blob is not in the store.
    #[error("blob {0} is missing from the store; reinstall the plugin")]
    BlobMissing(String),
    /// A blob's bytes no longer hash to its name: it was altered on disk.
    #[error(
        "blob {0} does not match its digest (altered on disk); it was not used, reinstall the plugin"
    )]
    BlobCorrupt(String),
    /// A plugin name, key id or other identifier is not acceptable.
    #[error("invalid {what} {shown:?}: {reason}")]
    InvalidName {
        /// What kind of identifier.
        what: &'static str,
        /// The identifier, shortened and escaped for display.
        shown: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A version string is not semver.
    #[error("invalid version {version:?}: {reason}; use semver like 1.2.3")]
    InvalidVersion {
        /// The version as given.
        version: String,
        /// The parser's complaint.
        reason: String,
    },
    /// A JSON field does not have the required shape.
    #[error("invalid {field}: {reason}")]
    InvalidJson {
        /// Which field.
        field: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The exact version and digest are already installed and current.
    #[error("{name} {version} is already installed")]
    AlreadyInstalled {
        /// Plugin name.
        name: String,
        /// Version.
        version: String,
    },
    /// The version is installed (or kept) with another digest.
    #[error("version {version} is already installed with a different digest; bump the version")]
    VersionDigestConflict {
        /// Plugin name.
        name: String,
        /// Version.
        version: String,
    },
    /// A version lower than the highest ever installed was refused.
    #[error(
        "{name} {version} is lower than {highest}, the highest version ever installed; a downgrade needs --allow-downgrade"
    )]
    Downgrade {
        /// Plugin name.
        name: String,
        /// The refused version.
        version: String,
        /// The highest version ever installed.
        highest: String,
    },
    /// The plugin is not installed.
    #[error("plugin {0} is not installed")]
    NotInstalled(String),
    /// A rollback target is not among the kept versions.
    #[error("{name} has no kept version {version}; `ward inspect {name}` lists the kept versions")]
    VersionNotKept {
        /// Plugin name.
        name: String,
        /// The requested version.
        version: String,
    },
    /// There is no kept version to roll back to.
    #[error("{name} has no kept version earlier than {current}")]
    NoEarlierVersion {
        /// Plugin name.
        name: String,
        /// The current version.
        current: String,
    },
    /// The key id is already trusted.
    #[error("key {0} is already in the trust store; revoke it first to replace it")]
    KeyExists(String),
    /// The key id is unknown or already revoked.
    #[error("key {0} is not an active key of the trust store")]
    UnknownKey(String),
    /// An expiry is not RFC 3339 UTC.
    #[error("invalid expiry {0:?}: expected RFC 3339 UTC like 2027-01-01T00:00:00Z")]
    InvalidExpiry(String),
    /// The audit log failed its open-time integrity check; state changes are refused.
    #[error(
        "the audit log failed its integrity check ({0}); state changes are refused until the operator runs `ward audit verify` and reseals the log"
    )]
    AuditBroken(String),
    /// The agent token id is unknown or already revoked.
    #[error("agent token {0} is not an active token; `ward token list` shows the tokens")]
    UnknownToken(String),
    /// The confirmation id is unknown.
    #[error("confirmation {0} does not exist; `ward confirm list` shows the pending ones")]
    UnknownConfirmation(String),
    /// The confirmation was already decided, used or expired.
    #[error("confirmation {id} is {state}, not pending; a confirmation is decided once")]
    ConfirmationNotPending {
        /// The confirmation.
        id: String,
        /// Its state.
        state: &'static str,
    },
    /// The proposal id is unknown.
    #[error("proposal {0} does not exist; `ward proposals list` shows them")]
    UnknownProposal(String),
    /// The proposal was already approved or rejected.
    #[error("proposal {id} is {state}, not pending; a proposal is decided once")]
    ProposalDecided {
        /// The proposal.
        id: String,
        /// Its state.
        state: &'static str,
    },
    /// A failure injected by a test fail point.
    #[error("injected failure at fail point {0}")]
    FailPoint(&'static str),
}

impl StoreError {
    pub(crate) fn io(path: impl Into<String>, source: io::Error) -> Self {
        StoreError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Why `audit_verify` rejected the audit log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// A row's content does not match its stored hash.
    #[error("audit row {seq} does not match its hash: the row was edited")]
    Edited {
        /// The row.
        seq: u64,
    },
    /// A row does not chain to the row before it.
    #[error(
        "audit row {seq} does not chain to the row before it: a row was deleted, inserted or reordered"
    )]
    ChainBroken {
        /// The row.
        seq: u64,
    },
    /// The sequence numbers are not 1, 2, 3, ...
    #[error(
        "audit row {expected} is missing (next row is {found}): rows were deleted or renumbered"
    )]
    Gap {
        /// The expected sequence number.
        expected: u64,
        /// The one found.
        found: u64,
    },
    /// The head kept outside the table is ahead of the table.
    #[error(
        "audit.head records row {head_seq} but the log ends at row {last_seq}: the log was truncated"
    )]
    Truncated {
        /// Sequence number in `audit.head`.
        head_seq: u64,
        /// Last sequence number in the table.
        last_seq: u64,
    },
    /// The row named by the head has another hash.
    #[error("audit row {seq} differs from the hash recorded in audit.head: the log was rewritten")]
    HeadMismatch {
        /// The row.
        seq: u64,
    },
    /// The head file is missing although the log has rows.
    #[error("audit.head is missing although the log has rows: it was deleted")]
    HeadMissing,
    /// The head file cannot be parsed.
    #[error("audit.head is not `SEQ HASH`: it was altered")]
    HeadCorrupt,
    /// A stored field cannot be read.
    #[error("audit row {seq} has an unreadable field")]
    Unreadable {
        /// The row.
        seq: u64,
    },
    /// The store could not be read.
    #[error("reading the audit log")]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for AuditError {
    fn from(e: rusqlite::Error) -> Self {
        AuditError::Store(StoreError::Db(e))
    }
}

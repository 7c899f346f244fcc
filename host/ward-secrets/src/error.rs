//! Errors of the secret store. No message ever contains a secret value.

use std::io;
use std::path::PathBuf;

use crate::store::{KEY_LEN, MAX_FILE_LEN, MAX_SECRETS, MAX_VALUE_LEN};

/// Why the secret store refused. Every variant leaves secrets unavailable: there is no plaintext
/// fallback. Messages name the file and, where there is one, the fix; they never contain a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The key file is gone but a secrets file exists.
    #[error(
        "secrets.key is missing: the secrets in secrets.enc cannot be read; restore {key} from a backup, or delete {enc} to start an empty store"
    )]
    KeyMissing {
        /// Where the key should be.
        key: PathBuf,
        /// The secrets file that cannot be read without it.
        enc: PathBuf,
    },
    /// Group or others have some access to the key file.
    #[error(
        "{path} has mode {mode:04o}: group or others can access it, so secrets are unavailable; run `chmod 600 {path}`"
    )]
    KeyTooOpen {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file belongs to another user.
    #[error(
        "{path} is owned by uid {owner}, not by ward's user (uid {uid}), so secrets are unavailable; run ward as uid {owner} or `chown {uid} {path}`"
    )]
    KeyNotOwned {
        /// The key file.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// The user ward runs as.
        uid: u32,
    },
    /// The key file or the secrets file is not a regular file.
    #[error(
        "{path} is not a regular file, so secrets are unavailable; replace it with the file ward wrote"
    )]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The key file has the wrong length.
    #[error("{path} is {len} bytes, not {KEY_LEN}: it is not a ward secrets key")]
    KeyLength {
        /// The key file.
        path: PathBuf,
        /// Its length.
        len: u64,
    },
    /// The secrets file was written with another key.
    #[error(
        "{enc} was written with a different key than {key}: secrets are unavailable; restore the matching key"
    )]
    WrongKey {
        /// The key file.
        key: PathBuf,
        /// The secrets file.
        enc: PathBuf,
    },
    /// The secrets file does not start with ward's magic bytes.
    #[error("{path} is not a ward secrets file (bad magic): secrets are unavailable")]
    BadMagic {
        /// The secrets file.
        path: PathBuf,
    },
    /// The secrets file has a format version this ward does not read.
    #[error(
        "{path} has format version {version}; this ward reads version 1: secrets are unavailable"
    )]
    UnsupportedVersion {
        /// The secrets file.
        path: PathBuf,
        /// The version found.
        version: u8,
    },
    /// The secrets file is shorter than its header, fails authentication or holds bad contents.
    #[error(
        "{path} is damaged or was tampered with ({reason}): secrets are unavailable; restore it from a backup"
    )]
    Corrupt {
        /// The secrets file.
        path: PathBuf,
        /// What is wrong, never a value.
        reason: &'static str,
    },
    /// The secrets file is larger than ward reads.
    #[error("{path} is larger than {MAX_FILE_LEN} bytes: refusing to read it")]
    TooLarge {
        /// The secrets file.
        path: PathBuf,
    },
    /// A secret name does not follow the rule.
    #[error(
        "secret name {name:?} is not valid: write A-Z, 0-9 and '_', not starting with a digit, at most 128 characters"
    )]
    InvalidName {
        /// The name, cut to the limit plus one character.
        name: String,
    },
    /// A value is empty.
    #[error("the value of secret {name} is empty: a secret needs a value")]
    EmptyValue {
        /// The secret's name.
        name: String,
    },
    /// A value is longer than the store keeps.
    #[error(
        "the value of secret {name} is {len} bytes, longer than the {MAX_VALUE_LEN} byte limit"
    )]
    ValueTooLong {
        /// The secret's name.
        name: String,
        /// The value's length.
        len: usize,
    },
    /// The store is full.
    #[error("the store already holds {MAX_SECRETS} secrets, the most it keeps; remove one first")]
    TooMany,
    /// The secrets would not fit in the file size limit.
    #[error(
        "the secrets would make secrets.enc larger than {MAX_FILE_LEN} bytes; remove some first"
    )]
    StoreFull,
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed: secrets not written")]
    Random,
    /// An I/O operation failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What ward was doing.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

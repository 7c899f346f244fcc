//! The audit reserve: before a call's guest code runs, the store makes sure the call's outcome row
//! can be written (see [`Store::audit_guard`]).
//!
//! Two things back that promise:
//!
//! - a check of the data directory's file system at the start of every call: not read-only, and at
//!   least [`MIN_FREE_BYTES`] free;
//! - a ballast file, `audit.reserve`, of [`RESERVE_BYTES`]. When a commit of audit rows fails
//!   because the disk filled up *during* a call (another process wrote meanwhile), the ballast is
//!   removed and the commit tried once more, so the rows of a call that already ran still land.
//!   While the ballast cannot be restored, no new call starts.

use std::io::Write as _;

use cap_fs_ext::{FollowSymlinks, OpenOptionsFollowExt};
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};

use crate::{Store, StoreError};

/// Name of the ballast file in `WARD_HOME`.
pub(crate) const RESERVE_FILE: &str = "audit.reserve";

/// Size of the ballast file.
///
/// Threat: a disk that fills while a call runs, so that the row of a call whose side effects
/// already happened could not be written. A batch of audit rows is a few KiB; 4 MiB covers
/// thousands of them and the log frames SQLite appends for them.
pub const RESERVE_BYTES: u64 = 4 * 1024 * 1024;

/// Free space the data directory's file system must have for a call to start.
///
/// Threat: a full disk letting a call run (and send requests) whose audit row then cannot be
/// written.
pub const MIN_FREE_BYTES: u64 = 8 * 1024 * 1024;

/// Why no call may start now: the outcome row could not be guaranteed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    /// The file system holding the data directory is mounted read-only.
    #[error("the data directory {0} is on a read-only file system")]
    ReadOnly(String),
    /// Too little free space.
    #[error(
        "the data directory {path} has {free} bytes free; at least {needed} are needed to record calls"
    )]
    Full {
        /// The data directory.
        path: String,
        /// Bytes available to ward.
        free: u64,
        /// [`MIN_FREE_BYTES`].
        needed: u64,
    },
    /// The ballast file cannot be created or is not what it should be.
    #[error("the audit reserve {path} cannot be kept: {reason}")]
    Reserve {
        /// The ballast file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The file system cannot be queried.
    #[error("cannot check the data directory {path}: {reason}")]
    Stat {
        /// The data directory.
        path: String,
        /// Why.
        reason: String,
    },
    /// The store's database cannot take a write lock (a read-only or unusable database file).
    #[error("the store cannot be written: {0}")]
    NotWritable(String),
    /// The audit log failed its integrity check.
    #[error("{0}")]
    AuditBroken(String),
}

impl Store {
    /// Makes sure that the audit rows of a call starting now can be written: refuses while the
    /// data directory's file system is read-only or nearly full, or the audit reserve cannot be
    /// kept. Call it after every gate and before any guest code; an error means the call must not
    /// start (`ward run` exits non-zero, the daemon answers 503 `audit-unavailable`).
    ///
    /// Cheap: two `statvfs` and one `fstatat` while the reserve is in place.
    pub fn audit_guard(&self) -> Result<(), Unavailable> {
        if let Some(reason) = &self.audit_broken {
            return Err(Unavailable::AuditBroken(
                StoreError::AuditBroken(reason.clone()).to_string(),
            ));
        }
        let shown = self.home.display().to_string();
        let st = rustix::fs::fstatvfs(&self.home_dir).map_err(|e| Unavailable::Stat {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        // Both the directory ward holds open and what its path names now: a read-only file
        // system mounted over the data directory refuses calls too.
        let by_path = rustix::fs::statvfs(&self.home).map_err(|e| Unavailable::Stat {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        let rdonly = rustix::fs::StatVfsMountFlags::RDONLY;
        if st.f_flag.contains(rdonly) || by_path.f_flag.contains(rdonly) {
            return Err(Unavailable::ReadOnly(shown));
        }
        let free = st.f_bavail.saturating_mul(st.f_frsize);
        if free < MIN_FREE_BYTES {
            return Err(Unavailable::Full {
                path: shown,
                free,
                needed: MIN_FREE_BYTES,
            });
        }
        ensure_reserve(&self.home_dir).map_err(|reason| Unavailable::Reserve {
            path: self.home.join(RESERVE_FILE).display().to_string(),
            reason,
        })
    }

    /// [`Store::audit_guard`], and also that this connection can take the database's write lock
    /// (without writing): for a process that has not written yet, such as a standalone `ward run`.
    pub fn audit_guard_writable(&self) -> Result<(), Unavailable> {
        self.audit_guard()?;
        self.conn
            .execute_batch("BEGIN IMMEDIATE; ROLLBACK;")
            .map_err(|e| Unavailable::NotWritable(e.to_string()))
    }
}

/// Creates the ballast at its full size if it is missing or short. Refuses a link or anything but a
/// regular file at its name.
fn ensure_reserve(home: &Dir) -> Result<(), String> {
    match home.symlink_metadata(RESERVE_FILE) {
        Ok(m) if m.is_file() && m.len() >= RESERVE_BYTES => return Ok(()),
        Ok(m) if !m.is_file() => {
            return Err("it is not a regular file; remove it".to_owned());
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.to_string()),
    }
    // A name of its own for each attempt: several connections (or processes) may find the
    // reserve missing at once, and each must finish its own file.
    static ATTEMPT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let tmp = format!(
        "{}reserve-{}-{}",
        crate::blob::TEMP_PREFIX,
        std::process::id(),
        ATTEMPT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let mut opts = OpenOptions::new();
    opts.write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .follow(FollowSymlinks::No);
    let written = (|| -> std::io::Result<()> {
        let mut f = home.open_with(&tmp, &opts)?;
        let zeros = vec![0u8; 64 * 1024];
        let mut left = RESERVE_BYTES;
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            f.write_all(&zeros[..n])?;
            left -= n as u64;
        }
        f.sync_all()?;
        home.rename(&tmp, home, RESERVE_FILE)
    })();
    if let Err(e) = written {
        let _ = home.remove_file(&tmp);
        // Another attempt may have put the reserve in place meanwhile.
        return match home.symlink_metadata(RESERVE_FILE) {
            Ok(m) if m.is_file() && m.len() >= RESERVE_BYTES => Ok(()),
            _ => Err(e.to_string()),
        };
    }
    Ok(())
}

/// Removes the ballast so that a commit that found the disk full can be tried again. Returns
/// whether there was one to remove.
pub(crate) fn release_reserve(home: &Dir) -> bool {
    home.remove_file(RESERVE_FILE).is_ok()
}

/// Whether `e` is SQLite reporting a full disk.
pub(crate) fn is_disk_full(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Db(rusqlite::Error::SqliteFailure(f, _))
            if f.code == rusqlite::ErrorCode::DiskFull
    )
}

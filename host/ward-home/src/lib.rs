//! ward's data directory and the operator's files in it: where everything lives ([`Home`]), the
//! operator's `policy.toml` ([`OperatorPolicy`]) and opening the store as the operator
//! ([`open_store`]). The install and call pipelines both start here.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod checkpoint;
mod home;
mod policy;

pub use checkpoint::{Checkpoint, CheckpointError, LOG_NAME, Proof, key_text};
pub use home::{GrantOverlap, Home, HomeError};
pub use policy::{
    MAX_CA_FILE_BYTES, MAX_CA_FILES, MAX_POLICY_BYTES, OperatorPolicy, PolicyError,
    PolicyParseError,
};

use ward_store::{Store, StoreError};

/// What identifies one version of a file on disk: its device, inode, size, modification and
/// change times. Two equal stamps mean the file was not replaced or written in between (as far as
/// the file system's timestamps can tell), so whatever was read from it still holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileStamp {
    /// The stamp of `path` now; `None` when it does not exist or cannot be read.
    pub fn of(path: &std::path::Path) -> Option<FileStamp> {
        use std::os::unix::fs::MetadataExt as _;
        let m = std::fs::metadata(path).ok()?;
        Some(FileStamp {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }
}

/// Opens the store in `home` with the operator policy's settings, acting as the operator.
pub fn open_store(home: &Home, policy: &OperatorPolicy) -> Result<Store, OpenError> {
    home.ensure()?;
    let mut store = Store::open(home.root()).map_err(OpenError::Store)?;
    if let Some(keep) = policy.keep_versions {
        store.set_keep_versions(keep);
    }
    store.set_actor("operator");
    Ok(store)
}

/// Why the store cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The data directory is unusable.
    #[error(transparent)]
    Home(#[from] HomeError),
    /// The store itself.
    #[error("cannot open ward's store")]
    Store(#[source] StoreError),
}

/// The operator policy of a long-running process, re-read whenever `policy.toml` changes on
/// disk (its [`FileStamp`] moved), so that a changed rule takes effect at the next call. A file
/// that became unreadable or invalid is an error until it is fixed: nothing falls back to the
/// policy read before.
pub struct PolicyWatch {
    path: std::path::PathBuf,
    state: std::sync::Mutex<Watched>,
}

struct Watched {
    stamp: Option<FileStamp>,
    policy: Result<std::sync::Arc<OperatorPolicy>, String>,
}

impl std::fmt::Debug for PolicyWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyWatch")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl PolicyWatch {
    /// Reads the policy at `path` (a missing file is the default policy); an invalid one is an
    /// error, as at every later change.
    pub fn load(path: &std::path::Path) -> Result<PolicyWatch, PolicyError> {
        let stamp = FileStamp::of(path);
        let policy = OperatorPolicy::load(path)?;
        Ok(PolicyWatch {
            path: path.to_owned(),
            state: std::sync::Mutex::new(Watched {
                stamp,
                policy: Ok(std::sync::Arc::new(policy)),
            }),
        })
    }

    /// The policy in force now, and whether it was re-read for this call (the file changed).
    pub fn current(&self) -> Result<(std::sync::Arc<OperatorPolicy>, bool), String> {
        let stamp = FileStamp::of(&self.path);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let changed = stamp != state.stamp;
        if changed {
            state.stamp = stamp;
            state.policy = OperatorPolicy::load(&self.path)
                .map(std::sync::Arc::new)
                .map_err(|e| {
                    let mut text = e.to_string();
                    let mut source = std::error::Error::source(&e);
                    while let Some(s) = source {
                        text.push_str(": ");
                        text.push_str(&s.to_string());
                        source = s.source();
                    }
                    text
                });
        }
        state.policy.clone().map(|p| (p, changed))
    }

    /// The stamp of the file the policy in force was read from.
    pub fn stamp(&self) -> Option<FileStamp> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .stamp
            .clone()
    }
}

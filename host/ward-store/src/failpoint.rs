//! Failure injection for crash-consistency tests.
//!
//! A fail point makes an operation stop at a named step: either through
//! [`Store::set_fail_point`](crate::Store::set_fail_point) (returns [`StoreError::FailPoint`]) or, in
//! debug builds only, through the environment variable `WARD_STORE_FAILPOINT=<point>` (same) or
//! `WARD_STORE_FAILPOINT=<point>:abort` (the process aborts at that step, as if killed).

use crate::StoreError;

/// The steps where a failure can be injected, in the order an install passes them.
///
/// - `blob-temp`: the blob's temporary file is written and fsynced, not yet renamed;
/// - `after-blob`: the blob is in place, no row references it yet;
/// - `before-commit`: rows and audit rows are written in the open transaction, not committed;
/// - `after-commit`: committed, `audit.head` not yet updated;
/// - `after-head`: `audit.head` updated, pruned blobs not yet removed.
pub const FAIL_POINTS: &[&str] = &[
    "blob-temp",
    "after-blob",
    "before-commit",
    "after-commit",
    "after-head",
];

/// The environment variable read in debug builds.
pub(crate) const ENV: &str = "WARD_STORE_FAILPOINT";

/// Fails (or aborts) if `point` is armed.
pub(crate) fn hit(armed: Option<&'static str>, point: &'static str) -> Result<(), StoreError> {
    if armed == Some(point) {
        return Err(StoreError::FailPoint(point));
    }
    if cfg!(debug_assertions)
        && let Ok(v) = std::env::var(ENV)
    {
        let (p, abort) = match v.strip_suffix(":abort") {
            Some(p) => (p, true),
            None => (v.as_str(), false),
        };
        if p == point {
            if abort {
                std::process::abort();
            }
            return Err(StoreError::FailPoint(point));
        }
    }
    Ok(())
}

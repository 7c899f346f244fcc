//! The process's descriptor budget: how many host resources one call may hold so that every
//! concurrent call at its ceiling still leaves the process the descriptors it needs itself (the
//! store, the sockets, new connections).

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Descriptors the process keeps for itself beyond its connections: the store's connections
/// and journals, the audit log, the listening sockets, the epoch and writer threads, logs.
pub const RESERVED_DESCRIPTORS: u64 = 128;

/// The fewest handles a call is given, whatever the budget: below this ordinary plugins fail.
pub const MIN_CALL_HANDLES: u64 = 32;

/// Raises the soft descriptor limit to the hard one (as far as the kernel allows) and returns
/// the most handles each of `concurrent_calls` calls may hold when `connections` connections
/// are open at once: the rest of the descriptor budget, shared equally, at most
/// [`ward_policy::MAX_HANDLES`] and at least [`MIN_CALL_HANDLES`].
pub fn per_call_handles(concurrent_calls: usize, connections: usize) -> u64 {
    let limit = getrlimit(Resource::Nofile);
    let mut soft = limit.current.unwrap_or(u64::MAX);
    // `None` is unlimited; the kernel still caps descriptors (nr_open) and refuses that raise.
    let hard = limit.maximum.unwrap_or(u64::MAX);
    if hard > soft
        && setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(hard),
                maximum: limit.maximum,
            },
        )
        .is_ok()
    {
        soft = hard;
    }
    let connections = u64::try_from(connections).unwrap_or(u64::MAX);
    let calls = u64::try_from(concurrent_calls.max(1)).unwrap_or(u64::MAX);
    soft.saturating_sub(RESERVED_DESCRIPTORS)
        .saturating_sub(connections)
        .checked_div(calls)
        .unwrap_or(0)
        .clamp(MIN_CALL_HANDLES, ward_policy::MAX_HANDLES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_at_its_ceiling_leaves_the_reserve() {
        let per_call = per_call_handles(64, 512);
        let soft = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
        assert!(per_call >= MIN_CALL_HANDLES);
        assert!(per_call <= ward_policy::MAX_HANDLES);
        if per_call > MIN_CALL_HANDLES {
            assert!(
                per_call * 64 + 512 + RESERVED_DESCRIPTORS <= soft,
                "{per_call} of {soft}"
            );
        }
    }
}

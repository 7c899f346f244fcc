//! Refused connections and requests, counted instead of written one by one: one audit row per
//! socket, peer uid and reason per interval, with the count, and one log line per key per
//! interval. A flood of refusals adds a bounded number of rows and lines however long it lasts.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use ward_store::{AuditAction, AuditEvent, Outcome};

use crate::config::Socket;

/// What was refused, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    pub(crate) socket: &'static str,
    pub(crate) uid: u32,
    /// The audit reason: `peer-uid`, `connection-limit`, `uid-connection-limit`,
    /// `no-bytes`, `headers-too-large`, `header-timeout`, `malformed-http`.
    pub(crate) reason: &'static str,
    /// `connect` for a refused connection, `http` for a request the HTTP layer refused.
    pub(crate) endpoint: &'static str,
}

/// The counts since the last flush.
#[derive(Default)]
pub(crate) struct Refusals {
    counts: Mutex<BTreeMap<Key, u64>>,
}

impl Refusals {
    /// Counts one refusal. The first of its kind in an interval is logged at once; the rest are
    /// summed into the interval's row and line.
    pub(crate) fn note(
        &self,
        socket: Socket,
        uid: u32,
        reason: &'static str,
        endpoint: &'static str,
    ) {
        let key = Key {
            socket: socket.as_str(),
            uid,
            reason,
            endpoint,
        };
        let first = {
            let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
            let n = counts.entry(key).or_insert(0);
            *n += 1;
            *n == 1
        };
        if first {
            tracing::warn!(
                uid,
                reason,
                "{} socket: refused ({endpoint}); further refusals like it are counted until the next audit row",
                key.socket
            );
        }
    }

    /// The counts so far, emptied.
    pub(crate) fn take(&self) -> BTreeMap<Key, u64> {
        std::mem::take(&mut *self.counts.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The audit rows for `counts`: `deny`, actor `SOCKET:uid:N`, the reason, the endpoint and the
/// count.
pub(crate) fn rows(counts: &BTreeMap<Key, u64>) -> Vec<AuditEvent> {
    counts
        .iter()
        .map(|(key, &n)| {
            let mut ev = AuditEvent::new(AuditAction::Deny);
            ev.actor = Some(format!("{}:uid:{}", key.socket, key.uid));
            ev.outcome = Outcome::Denied;
            ev.detail.reason = Some(key.reason);
            ev.detail.endpoint = Some(key.endpoint);
            ev.detail.count = Some(n);
            ev
        })
        .collect()
}

/// Writes the counted refusals every `interval` until shutdown, then once more.
pub(crate) async fn flush_loop(
    refusals: Arc<Refusals>,
    audit: crate::audit::AuditWriter,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let stop = tokio::select! {
            () = tokio::time::sleep(interval) => false,
            _ = shutdown.changed() => true,
        };
        flush(&refusals, &audit).await;
        if stop {
            return;
        }
    }
}

pub(crate) async fn flush(refusals: &Refusals, audit: &crate::audit::AuditWriter) {
    let counts = refusals.take();
    if counts.is_empty() {
        return;
    }
    for (key, n) in &counts {
        if *n > 1 {
            tracing::warn!(
                uid = key.uid,
                reason = key.reason,
                "{} socket: {n} refusals ({}) in the last interval",
                key.socket,
                key.endpoint
            );
        }
    }
    if let Err(e) = audit.record(rows(&counts), Vec::new()).await {
        tracing::error!("cannot audit {} refusal rows: {e}", counts.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_becomes_one_row_per_key() {
        let r = Refusals::default();
        for _ in 0..10_000 {
            r.note(Socket::Agent, 1000, "no-bytes", "connect");
        }
        r.note(Socket::Operator, 1000, "header-timeout", "http");
        let counts = r.take();
        let rows = rows(&counts);
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().any(|e| e.detail.count == Some(10_000)
            && e.detail.reason == Some("no-bytes")
            && e.actor.as_deref() == Some("agent:uid:1000")));
        assert!(r.take().is_empty());
    }
}

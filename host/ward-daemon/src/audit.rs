//! The one audit writer: a thread owning its own store connection, committing the audit rows (and
//! usage counters) of every request that arrived meanwhile in one transaction (group commit). A
//! request is answered only after its rows are durable.
//!
//! `audit.head` is advanced by a second thread, at most every [`ANCHOR_INTERVAL`], so that its
//! temp-file-fsync-rename is off the requests' path. Rows committed meanwhile are durable and
//! chained; only their anchoring waits (a crash leaves them for the next open of the store to
//! verify and anchor).

use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use ward_store::{AuditAnchor, AuditEvent, HeadWriter, Store, UsageDelta};

/// Longest time `audit.head` trails a commit while the daemon runs.
///
/// Threat: rows cut from the tail of the log unnoticed; the head records how far the log reached
/// at most this long ago.
pub(crate) const ANCHOR_INTERVAL: Duration = Duration::from_millis(50);

/// Most requests committed in one transaction.
///
/// Threat: an unbounded batch making one commit (and every request in it) arbitrarily slow.
const MAX_BATCH: usize = 512;

struct Job {
    events: Vec<AuditEvent>,
    usage: Vec<UsageDelta>,
    ack: oneshot::Sender<Result<(), String>>,
}

/// Handle to the writer thread. Dropping every handle stops the thread after it drained its queue.
#[derive(Clone)]
pub(crate) struct AuditWriter {
    tx: std_mpsc::Sender<Job>,
}

impl AuditWriter {
    /// Starts the writer on `store`. The handle returned ends after both threads did, the head
    /// anchored at the last row written.
    pub(crate) fn start(
        mut store: Store,
    ) -> std::io::Result<(AuditWriter, std::thread::JoinHandle<()>)> {
        let head = store
            .head_writer()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let anchor = Arc::new(Anchor::default());
        let anchor_thread = {
            let anchor = Arc::clone(&anchor);
            std::thread::Builder::new()
                .name("ward-audit-head".into())
                .spawn(move || anchor.run(&head))?
        };
        let (tx, rx) = std_mpsc::channel::<Job>();
        let handle = std::thread::Builder::new()
            .name("ward-audit".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    if let Some(last) = commit(&mut store, batch) {
                        anchor.set(last);
                    }
                }
                anchor.close();
                let _ = anchor_thread.join();
            })?;
        Ok((AuditWriter { tx }, handle))
    }

    /// Appends `events` and adds `usage`; returns once they are durable. An error means nothing
    /// was written and the request must be refused.
    pub(crate) async fn record(
        &self,
        events: Vec<AuditEvent>,
        usage: Vec<UsageDelta>,
    ) -> Result<(), String> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Job { events, usage, ack })
            .map_err(|_| "the audit writer has stopped".to_string())?;
        done.await
            .map_err(|_| "the audit writer has stopped".to_string())?
    }
}

/// Commits `batch` and answers each job; returns the last row written, if any.
fn commit(store: &mut Store, batch: Vec<Job>) -> Option<AuditAnchor> {
    let events: Vec<AuditEvent> = batch
        .iter()
        .flat_map(|j| j.events.iter().cloned())
        .collect();
    let usage: Vec<UsageDelta> = batch.iter().flat_map(|j| j.usage.iter().cloned()).collect();
    match store.record_requests_unanchored(&events, &usage) {
        Ok(last) => {
            for job in batch {
                let _ = job.ack.send(Ok(()));
            }
            last
        }
        Err(_) if batch.len() > 1 => {
            // One bad job must not fail the others: commit each on its own.
            let mut last = None;
            for job in batch {
                let r = store
                    .record_requests_unanchored(&job.events, &job.usage)
                    .map_err(|e| e.to_string());
                let r = match r {
                    Ok(anchor) => {
                        last = anchor.or(last);
                        Ok(())
                    }
                    Err(e) => {
                        tracing::error!("cannot write the audit log: {e}");
                        Err(e)
                    }
                };
                let _ = job.ack.send(r);
            }
            last
        }
        Err(e) => {
            tracing::error!("cannot write the audit log: {e}");
            for job in batch {
                let _ = job.ack.send(Err(e.to_string()));
            }
            None
        }
    }
}

/// The latest row to anchor, handed from the writer to the head thread.
#[derive(Default)]
struct Anchor {
    state: Mutex<AnchorState>,
    changed: Condvar,
}

#[derive(Default)]
struct AnchorState {
    latest: Option<AuditAnchor>,
    closed: bool,
}

impl Anchor {
    fn set(&self, last: AuditAnchor) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.latest = Some(last);
        self.changed.notify_one();
    }

    fn close(&self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.closed = true;
        self.changed.notify_one();
    }

    /// Writes the head whenever a newer row is there, at most every [`ANCHOR_INTERVAL`]; writes
    /// the last one and returns once closed.
    fn run(&self, head: &HeadWriter) {
        loop {
            let (next, closed) = {
                let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                while st.latest.is_none() && !st.closed {
                    st = self.changed.wait(st).unwrap_or_else(|e| e.into_inner());
                }
                (st.latest.take(), st.closed)
            };
            if let Some(anchor) = next
                && let Err(e) = head.advance(&anchor)
            {
                tracing::error!("cannot advance the audit head: {e}");
            }
            if closed {
                return;
            }
            std::thread::sleep(ANCHOR_INTERVAL);
        }
    }
}

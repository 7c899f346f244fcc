//! The one audit writer: a thread owning its own store connection, committing the audit rows (and
//! usage counters) of every request that arrived meanwhile in one transaction (group commit). A
//! request is answered only after its rows are durable.

use std::sync::mpsc as std_mpsc;

use tokio::sync::oneshot;
use ward_store::{AuditEvent, Store, UsageDelta};

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
    /// Starts the writer on `store`.
    pub(crate) fn start(
        mut store: Store,
    ) -> std::io::Result<(AuditWriter, std::thread::JoinHandle<()>)> {
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
                    commit(&mut store, batch);
                }
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

fn commit(store: &mut Store, batch: Vec<Job>) {
    let events: Vec<AuditEvent> = batch
        .iter()
        .flat_map(|j| j.events.iter().cloned())
        .collect();
    let usage: Vec<UsageDelta> = batch.iter().flat_map(|j| j.usage.iter().cloned()).collect();
    match store.record_requests(&events, &usage) {
        Ok(()) => {
            for job in batch {
                let _ = job.ack.send(Ok(()));
            }
        }
        Err(_) if batch.len() > 1 => {
            // One bad job must not fail the others: commit each on its own.
            for job in batch {
                let r = store
                    .record_requests(&job.events, &job.usage)
                    .map_err(|e| e.to_string());
                if let Err(e) = &r {
                    tracing::error!("cannot write the audit log: {e}");
                }
                let _ = job.ack.send(r);
            }
        }
        Err(e) => {
            tracing::error!("cannot write the audit log: {e}");
            for job in batch {
                let _ = job.ack.send(Err(e.to_string()));
            }
        }
    }
}

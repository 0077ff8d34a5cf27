//! Group commit for webhook ingest. Every webhook is still committed before
//! it is acknowledged, but the events that arrive while one transaction
//! commits are recorded together in the next: one commit (one WAL flush on
//! a durable Postgres, one fsync on SQLite) and one update per coalesced
//! job for a whole batch, instead of per event. Under a burst about a few
//! hot pages, per-event transactions queue behind each other's row locks
//! and flushes; batched, the acknowledgement waits for at most the batch in
//! progress and its own.
//!
//! A few writer tasks per process take turns at the queue, each committing
//! the batch it took, so that a slow commit (or a database that is down,
//! each attempt waiting for a connection) delays only its own batch;
//! requests wait on a oneshot for their event's outcome. A batch the
//! database refuses for its content is retried one event per transaction,
//! so one bad event never fails the others; a database that is unavailable
//! fails the batch at once (503, the sender retries).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};

use super::{Recorded, record_and_enqueue};
use crate::store::{EnqueueOutcome, InboxEvent, NewJob, Store, StoreError};

/// Most events per transaction: bounds how long one commit holds the
/// connection and the job rows it touches.
const MAX_BATCH: usize = 256;
/// Events waiting for a batch; beyond it a request waits to queue (the HTTP
/// server's own limits then apply).
const QUEUE: usize = 4096;
/// Batches committing at once (connections the ingest may hold).
const WRITERS: usize = 4;

/// The ingest's writer: [`GroupCommit::record`] is `record_and_enqueue`,
/// batched with whatever other events are waiting.
/// Clones share one writer.
#[derive(Clone)]
pub struct GroupCommit {
    store: Store,
    sender: Arc<OnceLock<mpsc::Sender<Pending>>>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("started", &self.sender.get().is_some())
            .finish()
    }
}

struct Pending {
    event: InboxEvent,
    jobs: Vec<NewJob>,
    now: i64,
    answer: oneshot::Sender<Result<Recorded, StoreError>>,
}

impl GroupCommit {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            sender: Arc::new(OnceLock::new()),
        }
    }

    /// Record the event and enqueue its jobs; answers once committed.
    pub(crate) async fn record(
        &self,
        event: InboxEvent,
        jobs: Vec<NewJob>,
        now: i64,
    ) -> Result<Recorded, StoreError> {
        // The writer task starts with the first event, on the server's runtime.
        let sender = self.sender.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE);
            let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
            for _ in 0..WRITERS {
                tokio::spawn(write_batches(self.store.clone(), receiver.clone()));
            }
            sender
        });
        let (answer, outcome) = oneshot::channel();
        let pending = Pending {
            event,
            jobs,
            now,
            answer,
        };
        let pending = match sender.send(pending).await {
            Ok(()) => match outcome.await {
                Ok(result) => return result,
                // The writer is gone (a panic): whether the batch committed
                // is unknown, so the answer is a 503 and the sender delivers
                // again, which is safe: the inbox answers an event already
                // committed as a duplicate.
                Err(_) => return Err(writer_gone()),
            },
            Err(mpsc::error::SendError(pending)) => pending,
        };
        record_and_enqueue(&self.store, &pending.event, &pending.jobs, pending.now).await
    }
}

fn writer_gone() -> StoreError {
    StoreError::Unavailable {
        op: "record a webhook (the ingest writer stopped; the sender retries)",
        source: sqlx::Error::WorkerCrashed,
    }
}

/// Take what is waiting (up to [`MAX_BATCH`]) and commit it as one; the
/// queue is free for the next writer while this one commits.
async fn write_batches(store: Store, receiver: Arc<tokio::sync::Mutex<mpsc::Receiver<Pending>>>) {
    loop {
        let batch = {
            let mut receiver = receiver.lock().await;
            let Some(first) = receiver.recv().await else {
                return;
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            batch
        };
        commit(&store, batch).await;
    }
}

async fn commit(store: &Store, batch: Vec<Pending>) {
    if batch.len() > 1 {
        match record_batch(store, &batch).await {
            Ok(outcomes) => {
                for (pending, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = pending.answer.send(Ok(outcome));
                }
                return;
            }
            // The database is unreachable: every event would wait for a
            // connection again; answer them all now.
            Err(e @ StoreError::Unavailable { .. }) => {
                let message = e.to_string();
                for pending in batch {
                    let _ = pending.answer.send(Err(StoreError::Unavailable {
                        op: "record a webhook",
                        source: sqlx::Error::Protocol(message.clone()),
                    }));
                }
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, events = batch.len(), "a batch of webhooks was refused; recording them one by one");
            }
        }
    }
    for pending in batch {
        let result = record_and_enqueue(store, &pending.event, &pending.jobs, pending.now).await;
        // The requester may have gone (client timeout); the event is recorded anyway.
        let _ = pending.answer.send(result);
    }
}

/// One transaction: every event's inbox row, then the jobs of the new ones,
/// one enqueue per key (the earliest `run_at` wins, as coalescing would).
async fn record_batch(store: &Store, batch: &[Pending]) -> Result<Vec<Recorded>, StoreError> {
    let mut tx = store.begin().await?;
    let mut fresh = Vec::with_capacity(batch.len());
    for pending in batch {
        fresh.push(tx.insert_inbox(&pending.event).await?);
    }
    let mut by_key: HashMap<&str, NewJob> = HashMap::new();
    for job in batch
        .iter()
        .zip(&fresh)
        .filter(|(_, new)| **new)
        .flat_map(|(p, _)| &p.jobs)
    {
        by_key
            .entry(&job.key)
            .and_modify(|kept| kept.run_at = kept.run_at.min(job.run_at))
            .or_insert_with(|| job.clone());
    }
    let jobs: Vec<NewJob> = by_key.into_values().collect();
    let now = batch.iter().map(|p| p.now).max().unwrap_or_default();
    let outcomes = tx.enqueue_many(&jobs, now).await?;
    tx.commit().await?;
    let by_key: HashMap<&str, EnqueueOutcome> =
        jobs.iter().map(|j| j.key.as_str()).zip(outcomes).collect();
    Ok(batch
        .iter()
        .zip(fresh)
        .map(|(pending, new)| match new {
            false => Recorded::Duplicate,
            true => Recorded::New(
                pending
                    .jobs
                    .iter()
                    .map(|j| by_key[j.key.as_str()])
                    .collect(),
            ),
        })
        .collect())
}

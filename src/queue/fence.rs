//! The lease of the job a task is running, for the engine's commits.
//!
//! The runner fences the job's completion by its lease token; the results a
//! job writes (snapshots, links, the sync log, an Airtable cursor) commit
//! earlier, inside the engine. [`LEASE`] carries the lease down to those
//! commits without threading it through every engine call: each commit
//! first checks (and locks) the lease in its transaction, so a worker that
//! was frozen past its lease and lost the job commits nothing.

use crate::store::{JobId, StoreError, Tx, now_ms};

/// The lease a job runs under.
#[derive(Debug, Clone)]
pub struct Lease {
    pub job_id: JobId,
    pub token: String,
}

tokio::task_local! {
    /// Set by the job handler around the engine's work.
    pub static LEASE: Lease;
}

/// The job's lease was taken over while it ran: its results are dropped.
#[derive(Debug, thiserror::Error)]
#[error("job {job_id}: its lease passed to another worker; nothing committed")]
pub struct LeaseLost {
    pub job_id: JobId,
}

/// Check the current task's lease inside `tx` (and lock it until `tx`
/// ends). Outside a job (the command line, tests) there is nothing to check.
pub async fn check(tx: &mut Tx) -> anyhow::Result<()> {
    let Ok(lease) = LEASE.try_with(Lease::clone) else {
        return Ok(());
    };
    let held: Result<bool, StoreError> = tx.hold_lease(lease.job_id, &lease.token, now_ms()).await;
    if held? {
        Ok(())
    } else {
        Err(LeaseLost {
            job_id: lease.job_id,
        }
        .into())
    }
}

//! Enqueueing: one pending job per key, race-free (the partial unique index
//! decides), the earliest requested `run_at` winning.

use super::{EnqueueOutcome, JobId, NewJob};
use crate::store::{Conn, Store, StoreError, Tx, error::Context};

impl Store {
    /// Add a pending job, or coalesce it into the key's pending job (whose
    /// `run_at` becomes the earlier of the two). Safe under concurrency.
    pub async fn enqueue(&self, job: &NewJob, now: i64) -> Result<EnqueueOutcome, StoreError> {
        let mut conn = self.acquire().await?;
        enqueue(conn.conn(), job, now).await
    }
}

impl Tx {
    /// [`Store::enqueue`] inside this transaction.
    pub async fn enqueue(&mut self, job: &NewJob, now: i64) -> Result<EnqueueOutcome, StoreError> {
        enqueue(self.conn(), job, now).await
    }

    /// Enqueue several jobs (e.g. one reconcile per record an Airtable
    /// payload batch touched), in key order: two transactions enqueueing
    /// overlapping keys in different orders could deadlock on Postgres.
    /// Outcomes come back in the order of `jobs`.
    pub async fn enqueue_many(
        &mut self,
        jobs: &[NewJob],
        now: i64,
    ) -> Result<Vec<EnqueueOutcome>, StoreError> {
        let mut order: Vec<usize> = (0..jobs.len()).collect();
        order.sort_by(|&a, &b| jobs[a].key.cmp(&jobs[b].key));
        let mut outcomes = vec![None; jobs.len()];
        for i in order {
            outcomes[i] = Some(enqueue(self.conn(), &jobs[i], now).await?);
        }
        Ok(outcomes.into_iter().flatten().collect())
    }
}

async fn enqueue(mut c: Conn<'_>, job: &NewJob, now: i64) -> Result<EnqueueOutcome, StoreError> {
    // The key's pending job can be claimed between our failed insert and our
    // look-up; then the next insert succeeds. A few rounds always suffice.
    const ROUNDS: u32 = 5;
    for _ in 0..ROUNDS {
        if let Some(id) = insert_pending(c.reborrow(), job, now).await? {
            return Ok(EnqueueOutcome::Inserted(id));
        }
        if let Some(id) = pull_pending_forward(c.reborrow(), &job.key, job.run_at, now).await? {
            return Ok(EnqueueOutcome::Coalesced(id));
        }
    }
    Err(StoreError::Contended {
        op: "enqueue a job",
        tries: ROUNDS,
    })
}

/// Insert a pending job unless the key has one (the partial unique index
/// decides, race-free); the new id, or None.
async fn insert_pending(c: Conn<'_>, job: &NewJob, now: i64) -> Result<Option<JobId>, StoreError> {
    let payload = job.payload.to_string();
    on_conn!(c, |c| {
        sqlx::query_scalar(
            "INSERT INTO jobs (kind, key, pair, payload, state, max_attempts, run_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $7) \
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(&job.kind)
        .bind(&job.key)
        .bind(&job.pair)
        .bind(&payload)
        .bind(job.max_attempts)
        .bind(job.run_at)
        .bind(now)
        .fetch_optional(c)
        .await
    })
    .context("enqueue a job")
}

/// The key's pending job, moved to run no later than `run_at` and marked as
/// asked for now. None when the key has no pending job, or when the one
/// found was claimed before the update (it may have read the record before
/// this event): then the caller inserts a new one.
async fn pull_pending_forward(
    mut c: Conn<'_>,
    key: &str,
    run_at: i64,
    now: i64,
) -> Result<Option<JobId>, StoreError> {
    let pending: Option<i64> = on_conn!(c.reborrow(), |c| {
        sqlx::query_scalar("SELECT id FROM jobs WHERE key = $1 AND state = 'pending'")
            .bind(key)
            .fetch_optional(c)
            .await
    })
    .context("find a key's pending job")?;
    let Some(id) = pending else {
        return Ok(None);
    };
    // `updated_at` says when the key was last asked for: work that covers
    // a key (a batched sweep) completes only jobs not asked for since.
    let updated = on_conn!(c, |c| {
        sqlx::query(
            // The minimum in SQL: concurrent enqueues each keep the earlier.
            "UPDATE jobs SET run_at = CASE WHEN run_at > $2 THEN $2 ELSE run_at END, \
             updated_at = $3 WHERE id = $1 AND state = 'pending'",
        )
        .bind(id)
        .bind(run_at)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })
    .context("reschedule a pending job")?;
    Ok((updated == 1).then_some(id))
}

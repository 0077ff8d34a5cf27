//! Giving a job back: retry later, fail (maybe dead), bury (dead now),
//! release, and the operator's retry of a dead job. Each runs in one transaction that first
//! checks (and locks) the lease, and merges into the key's pending job when
//! there is one.

use super::{FailOutcome, JobId};
use crate::store::{Conn, Store, StoreError, error::Context};

/// Longest `last_error` kept; API error bodies can be large.
const MAX_ERROR_LEN: usize = 2000;

impl Store {
    /// Put the job back to pending until `run_at`. `count_attempt = false`
    /// (a rate-limit wait) gives back the attempt its claim spent. False if
    /// the lease was lost.
    pub async fn retry_later(
        &self,
        id: JobId,
        lease_token: &str,
        run_at: i64,
        error: &str,
        count_attempt: bool,
        now: i64,
    ) -> Result<bool, StoreError> {
        let requeue = Requeue {
            run_at,
            error: Some(error),
            refund_attempt: !count_attempt,
        };
        self.in_tx_retrying("retry a job later", async |tx| {
            let Some(held) = hold_lease(tx.conn(), id, lease_token, now).await? else {
                return Ok(false);
            };
            move_to_pending(tx.conn(), &held, &requeue, now).await?;
            Ok(true)
        })
        .await
    }

    /// The attempt failed: dead if it was the last one, else pending again
    /// from `retry_at` (the caller computes the backoff).
    pub async fn fail(
        &self,
        id: JobId,
        lease_token: &str,
        error: &str,
        retry_at: i64,
        now: i64,
    ) -> Result<FailOutcome, StoreError> {
        self.in_tx_retrying("record a job failure", async |tx| {
            let Some(held) = hold_lease(tx.conn(), id, lease_token, now).await? else {
                return Ok(FailOutcome::LeaseLost);
            };
            if held.attempts >= held.max_attempts {
                mark_dead(tx.conn(), id, error, now).await?;
                return Ok(FailOutcome::Dead);
            }
            let requeue = Requeue {
                run_at: retry_at,
                error: Some(error),
                refund_attempt: false,
            };
            move_to_pending(tx.conn(), &held, &requeue, now).await?;
            Ok(FailOutcome::Retrying { run_at: retry_at })
        })
        .await
    }

    /// Retrying cannot help (a fatal error): dead now, whatever attempts are
    /// left, with `error` kept for the operator (who can `retry_dead` it once
    /// the cause is fixed). Without this a fatal job could only go dead
    /// through `fail` on its last attempt. False if the lease was lost.
    pub async fn bury(
        &self,
        id: JobId,
        lease_token: &str,
        error: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.in_tx_retrying("bury a job", async |tx| {
            if hold_lease(tx.conn(), id, lease_token, now).await?.is_none() {
                return Ok(false);
            }
            mark_dead(tx.conn(), id, error, now).await?;
            Ok(true)
        })
        .await
    }

    /// Give the job back without spending its attempt (graceful shutdown):
    /// pending again and due now. False if the lease was lost.
    pub async fn release(
        &self,
        id: JobId,
        lease_token: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let requeue = Requeue {
            run_at: now,
            error: None,
            refund_attempt: true,
        };
        self.in_tx_retrying("release a job", async |tx| {
            let Some(held) = hold_lease(tx.conn(), id, lease_token, now).await? else {
                return Ok(false);
            };
            move_to_pending(tx.conn(), &held, &requeue, now).await?;
            Ok(true)
        })
        .await
    }

    /// Operator retry of a dead job: pending again, due now, with a fresh
    /// attempt budget. Returns the pending job that will do the work (the
    /// key's existing pending job if there is one), or None if `id` is not a
    /// dead job.
    pub async fn retry_dead(&self, id: JobId, now: i64) -> Result<Option<JobId>, StoreError> {
        self.in_tx_retrying("retry a dead job", async |tx| {
            let key: Option<String> = on_conn!(tx.conn(), |c| {
                sqlx::query_scalar(
                    "UPDATE jobs SET updated_at = $2 WHERE id = $1 AND state = 'dead' RETURNING key",
                )
                .bind(id)
                .bind(now)
                .fetch_optional(c)
                .await
            })
            .context("retry a dead job")?;
            let Some(key) = key else { return Ok(None) };
            let held = Held {
                id,
                key,
                attempts: 0,
                max_attempts: 0,
            };
            let requeue = Requeue {
                run_at: now,
                error: None,
                refund_attempt: false,
            };
            move_to_pending(tx.conn(), &held, &requeue, now).await.map(Some)
        })
        .await
    }
}

/// A running job whose lease the caller holds, locked for this transaction.
struct Held {
    id: JobId,
    key: String,
    attempts: i32,
    max_attempts: i32,
}

/// Lock the job if `lease_token` still holds its lease (the no-op update takes
/// the row lock on Postgres); None if the lease was lost.
async fn hold_lease(
    c: Conn<'_>,
    id: JobId,
    lease_token: &str,
    now: i64,
) -> Result<Option<Held>, StoreError> {
    let row: Option<(String, i32, i32)> = on_conn!(c, |c| {
        sqlx::query_as(
            "UPDATE jobs SET updated_at = $3 \
             WHERE id = $1 AND lease_token = $2 AND state = 'running' \
             RETURNING key, attempts, max_attempts",
        )
        .bind(id)
        .bind(lease_token)
        .bind(now)
        .fetch_optional(c)
        .await
    })
    .context("check a job's lease")?;
    Ok(row.map(|(key, attempts, max_attempts)| Held {
        id,
        key,
        attempts,
        max_attempts,
    }))
}

/// How a job goes back to pending.
struct Requeue<'a> {
    run_at: i64,
    error: Option<&'a str>,
    /// Give back the attempt the last claim spent.
    refund_attempt: bool,
}

/// Put a held (or dead) job back to pending. If the key already has a pending
/// job, merge into it instead (the key names the work, so one run covers
/// both): it keeps the later `run_at` and the higher attempt count, and the
/// held row is deleted. Returns the pending job's id.
async fn move_to_pending(
    mut c: Conn<'_>,
    held: &Held,
    requeue: &Requeue<'_>,
    now: i64,
) -> Result<JobId, StoreError> {
    let attempts = if requeue.refund_attempt {
        (held.attempts - 1).max(0)
    } else {
        held.attempts
    };
    let error = requeue.error.map(truncate_error);
    let merged: Option<JobId> = on_conn!(c.reborrow(), |c| {
        sqlx::query_scalar(
            "UPDATE jobs SET run_at = CASE WHEN run_at < $2 THEN $2 ELSE run_at END, \
             attempts = CASE WHEN attempts < $3 THEN $3 ELSE attempts END, \
             last_error = COALESCE($4, last_error), updated_at = $5 \
             WHERE key = $1 AND state = 'pending' RETURNING id",
        )
        .bind(&held.key)
        .bind(requeue.run_at)
        .bind(attempts)
        .bind(error)
        .bind(now)
        .fetch_optional(&mut *c)
        .await
    })
    .context("merge a job into the key's pending job")?;
    if let Some(pending_id) = merged {
        on_conn!(c, |c| {
            sqlx::query("DELETE FROM jobs WHERE id = $1")
                .bind(held.id)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })
        .context("delete a merged job")?;
        return Ok(pending_id);
    }
    on_conn!(c, |c| {
        sqlx::query(
            "UPDATE jobs SET state = 'pending', run_at = $2, attempts = $3, \
             last_error = COALESCE($4, last_error), lease_token = NULL, locked_until = NULL, \
             heartbeat_at = NULL, finished_at = NULL, updated_at = $5 WHERE id = $1",
        )
        .bind(held.id)
        .bind(requeue.run_at)
        .bind(attempts)
        .bind(error)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })
    .context("put a job back to pending")?;
    Ok(held.id)
}

async fn mark_dead(c: Conn<'_>, id: JobId, error: &str, now: i64) -> Result<(), StoreError> {
    on_conn!(c, |c| {
        sqlx::query(
            "UPDATE jobs SET state = 'dead', last_error = $2, lease_token = NULL, \
             locked_until = NULL, finished_at = $3, updated_at = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(truncate_error(error))
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })
    .context("mark a job dead")?;
    Ok(())
}

fn truncate_error(error: &str) -> &str {
    if error.len() <= MAX_ERROR_LEN {
        return error;
    }
    let mut end = MAX_ERROR_LEN;
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    &error[..end]
}

//! Claiming and holding a lease: claim, heartbeat, fenced completion.

use std::time::Duration;

use super::{CLAIMED_COLUMNS, ClaimedJob, ClaimedRow, JobId};
use crate::store::{Backend, Conn, Store, StoreError, Tx, add_ms, error::Context};

/// The lease a job runs under: its results commit only while it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub job_id: JobId,
    pub token: String,
}

impl From<&ClaimedJob> for Lease {
    fn from(job: &ClaimedJob) -> Self {
        Lease {
            job_id: job.id,
            token: job.lease_token.clone(),
        }
    }
}

/// The job's lease was taken over while it ran: its results are dropped.
#[derive(Debug, thiserror::Error)]
#[error("job {job_id}: its lease passed to another worker; nothing committed")]
pub struct LeaseLost {
    pub job_id: JobId,
}

impl Store {
    /// Lease the next due job: first a running job whose lease expired (its
    /// worker is presumed lost), else the pending job due longest, skipping
    /// keys whose job is running. Running jobs whose lease expired on their
    /// last attempt become dead on the way.
    pub async fn claim(&self, lease: Duration, now: i64) -> Result<Option<ClaimedJob>, StoreError> {
        let mut conn = self.acquire().await?;
        let mut c = conn.conn();
        bury_exhausted(c.reborrow(), now).await?;
        let token = uuid::Uuid::new_v4().simple().to_string();
        let locked_until = add_ms(now, lease);
        for candidates in [Candidates::ExpiredLease, Candidates::DuePending] {
            let sql = claim_sql(candidates, c.backend());
            let claimed: Option<ClaimedRow> = on_conn!(c.reborrow(), |c| {
                sqlx::query_as(&sql)
                    .bind(now)
                    .bind(&token)
                    .bind(locked_until)
                    .fetch_optional(c)
                    .await
            })
            .context("claim a job")?;
            if let Some(row) = claimed {
                return ClaimedJob::try_from(row).map(Some);
            }
        }
        Ok(None)
    }

    /// Extend a lease to `now + extend`; false if the lease was lost.
    pub async fn heartbeat(
        &self,
        id: JobId,
        lease_token: &str,
        extend: Duration,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.acquire().await?;
        let updated = on_conn!(conn.conn(), |c| {
            sqlx::query(
                "UPDATE jobs SET locked_until = $3, heartbeat_at = $4, updated_at = $4 \
                 WHERE id = $1 AND lease_token = $2 AND state = 'running'",
            )
            .bind(id)
            .bind(lease_token)
            .bind(add_ms(now, extend))
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context("extend a job's lease")?;
        Ok(updated == 1)
    }

    /// Mark the job done if `lease_token` still holds its lease; false (and
    /// nothing changed) if another worker took it over.
    pub async fn complete(
        &self,
        id: JobId,
        lease_token: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.acquire().await?;
        complete(conn.conn(), id, lease_token, now).await
    }
}

impl Tx {
    /// Whether `lease_token` still holds the job's lease; if so the job row
    /// stays locked until this transaction ends, so the lease cannot pass to
    /// another worker before the results written with it commit. A worker
    /// that was frozen past its lease (and lost the job) writes nothing.
    pub async fn hold_lease(
        &mut self,
        id: JobId,
        lease_token: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let held = on_conn!(self.conn(), |c| {
            sqlx::query(
                "UPDATE jobs SET updated_at = $3 \
                 WHERE id = $1 AND lease_token = $2 AND state = 'running'",
            )
            .bind(id)
            .bind(lease_token)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context("hold a job's lease")?;
        Ok(held == 1)
    }

    /// [`Store::complete`] inside this transaction: call it first and write
    /// the job's results only if it returns true.
    pub async fn complete(
        &mut self,
        id: JobId,
        lease_token: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        complete(self.conn(), id, lease_token, now).await
    }
}

#[derive(Clone, Copy)]
enum Candidates {
    ExpiredLease,
    DuePending,
}

/// `$1` now, `$2` the new lease token, `$3` the new `locked_until`. On
/// Postgres the candidate row is locked and rows other workers are claiming
/// are skipped; SQLite runs one writer at a time, so the statement alone is
/// atomic.
fn claim_sql(candidates: Candidates, backend: Backend) -> String {
    let lock = match backend {
        Backend::Sqlite => "",
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
    };
    let candidate = match candidates {
        Candidates::ExpiredLease => {
            "SELECT id FROM jobs WHERE state = 'running' AND locked_until < $1 \
             AND attempts < max_attempts ORDER BY locked_until, id"
        }
        // A key whose job is running (even on an expired lease) waits: never
        // two running jobs for one key.
        Candidates::DuePending => {
            "SELECT p.id FROM jobs p WHERE p.state = 'pending' AND p.run_at <= $1 \
             AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.key = p.key AND r.state = 'running') \
             ORDER BY p.run_at, p.id"
        }
    };
    format!(
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_token = $2, \
         locked_until = $3, heartbeat_at = $1, started_at = $1, updated_at = $1 \
         WHERE id = ({candidate} LIMIT 1 {lock}) RETURNING {CLAIMED_COLUMNS}"
    )
}

/// Running jobs whose lease expired on their last attempt: their worker died
/// (or hung) every time; make them dead rather than run them forever.
async fn bury_exhausted(c: Conn<'_>, now: i64) -> Result<(), StoreError> {
    on_conn!(c, |c| {
        sqlx::query(
            "UPDATE jobs SET state = 'dead', lease_token = NULL, locked_until = NULL, \
             finished_at = $1, updated_at = $1, \
             last_error = 'lease expired on the last attempt (worker lost?); before: ' \
                 || COALESCE(last_error, 'no error') \
             WHERE state = 'running' AND locked_until < $1 AND attempts >= max_attempts",
        )
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })
    .context("mark exhausted jobs dead")?;
    Ok(())
}

async fn complete(c: Conn<'_>, id: JobId, lease_token: &str, now: i64) -> Result<bool, StoreError> {
    let updated = on_conn!(c, |c| {
        sqlx::query(
            "UPDATE jobs SET state = 'done', lease_token = NULL, locked_until = NULL, \
             finished_at = $3, updated_at = $3 \
             WHERE id = $1 AND lease_token = $2 AND state = 'running'",
        )
        .bind(id)
        .bind(lease_token)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })
    .context("complete a job")?;
    Ok(updated == 1)
}

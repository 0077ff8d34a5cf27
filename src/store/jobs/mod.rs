//! The `jobs` table: a durable queue with leases, fenced completion,
//! coalescing per key, retries and dead jobs. See the module doc of
//! [`crate::store`] for the rules in short.

use std::time::Duration;

use serde::Serialize;

mod enqueue;
mod lease;
mod requeue;

pub use lease::{Lease, LeaseLost};

use super::{
    Store, StoreError,
    columns::{parse_column, parse_json, text_enum},
    error::Context,
};

pub type JobId = i64;

/// Attempts a job gets unless its enqueuer says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 10;

text_enum! {
    /// Where a job is in its life: pending → running → done, or dead after
    /// its last attempt; a retry puts a running job back to pending.
    pub enum JobState {
        Pending => "pending",
        Running => "running",
        Done => "done",
        Dead => "dead",
    }
}

/// Work to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub kind: String,
    /// Names the work; jobs with the same key coalesce.
    pub key: String,
    pub pair: Option<String>,
    pub payload: serde_json::Value,
    /// Not claimed before this time (debounce).
    pub run_at: i64,
    pub max_attempts: i32,
}

impl NewJob {
    /// A job due at `run_at`, with an empty payload, no pair and
    /// [`DEFAULT_MAX_ATTEMPTS`].
    pub fn new(kind: impl Into<String>, key: impl Into<String>, run_at: i64) -> Self {
        Self {
            kind: kind.into(),
            key: key.into(),
            pair: None,
            payload: serde_json::json!({}),
            run_at,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }

    pub fn with_pair(mut self, pair: impl Into<String>) -> Self {
        self.pair = Some(pair.into());
        self
    }

    pub fn with_payload(mut self, payload: serde_json::Value) -> Self {
        self.payload = payload;
        self
    }

    pub fn with_max_attempts(mut self, max_attempts: i32) -> Self {
        self.max_attempts = max_attempts;
        self
    }
}

/// What [`Store::enqueue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnqueueOutcome {
    /// A new pending job.
    Inserted(JobId),
    /// The key already had a pending job; it now runs no later than asked.
    Coalesced(JobId),
}

impl EnqueueOutcome {
    pub fn id(self) -> JobId {
        match self {
            EnqueueOutcome::Inserted(id) | EnqueueOutcome::Coalesced(id) => id,
        }
    }
}

/// A job a worker holds the lease of.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub id: JobId,
    pub kind: String,
    pub key: String,
    pub pair: Option<String>,
    pub payload: serde_json::Value,
    /// Attempts spent, this one included.
    pub attempts: i32,
    pub max_attempts: i32,
    /// Fences every later update: pass it back to heartbeat/complete/....
    pub lease_token: String,
    pub locked_until: i64,
}

/// A job as listed for operators (the lease token stays inside the store).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    pub id: JobId,
    pub kind: String,
    pub key: String,
    pub pair: Option<String>,
    pub payload: serde_json::Value,
    pub state: JobState,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub locked_until: Option<i64>,
    pub heartbeat_at: Option<i64>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub last_error: Option<String>,
}

/// Jobs per state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct JobCounts {
    pub pending: i64,
    pub running: i64,
    pub done: i64,
    pub dead: i64,
}

/// What [`Store::fail`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// Back to pending, not before the given time.
    Retrying { run_at: i64 },
    /// No attempts left: dead until an operator retries it.
    Dead,
    /// The lease was lost (expired and reclaimed): nothing changed.
    LeaseLost,
}

const JOB_COLUMNS: &str = "id, kind, key, pair, payload, state, attempts, max_attempts, run_at, \
     created_at, updated_at, locked_until, heartbeat_at, started_at, finished_at, last_error";

const CLAIMED_COLUMNS: &str =
    "id, kind, key, pair, payload, attempts, max_attempts, lease_token, locked_until";

#[derive(sqlx::FromRow)]
struct ClaimedRow {
    id: i64,
    kind: String,
    key: String,
    pair: Option<String>,
    payload: String,
    attempts: i32,
    max_attempts: i32,
    lease_token: String,
    locked_until: i64,
}

impl TryFrom<ClaimedRow> for ClaimedJob {
    type Error = StoreError;

    fn try_from(r: ClaimedRow) -> Result<ClaimedJob, StoreError> {
        Ok(ClaimedJob {
            payload: parse_json("jobs", "payload", &r.payload)?,
            id: r.id,
            kind: r.kind,
            key: r.key,
            pair: r.pair,
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            lease_token: r.lease_token,
            locked_until: r.locked_until,
        })
    }
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    kind: String,
    key: String,
    pair: Option<String>,
    payload: String,
    state: String,
    attempts: i32,
    max_attempts: i32,
    run_at: i64,
    created_at: i64,
    updated_at: i64,
    locked_until: Option<i64>,
    heartbeat_at: Option<i64>,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    last_error: Option<String>,
}

impl TryFrom<JobRow> for Job {
    type Error = StoreError;

    fn try_from(r: JobRow) -> Result<Job, StoreError> {
        Ok(Job {
            payload: parse_json("jobs", "payload", &r.payload)?,
            state: parse_column("jobs", "state", &r.state)?,
            id: r.id,
            kind: r.kind,
            key: r.key,
            pair: r.pair,
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            run_at: r.run_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
            locked_until: r.locked_until,
            heartbeat_at: r.heartbeat_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            last_error: r.last_error,
        })
    }
}

/// `list_jobs`: `$1` the limit, `$2` the state when `by_state`.
pub(in crate::store) fn list_jobs_sql(by_state: bool) -> String {
    let filter = if by_state { "WHERE state = $2" } else { "" };
    format!("SELECT {JOB_COLUMNS} FROM jobs {filter} ORDER BY id DESC LIMIT $1")
}

/// The oldest due job's `run_at`; `$1` now.
pub(in crate::store) const OLDEST_DUE: &str =
    "SELECT MIN(run_at) FROM jobs WHERE state = 'pending' AND run_at <= $1";

/// Reading the queue, for operators and metrics.
impl Store {
    pub async fn get_job(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        let mut conn = self.acquire().await?;
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        let row: Option<JobRow> = on_conn!(conn.conn(), |c| {
            sqlx::query_as(&sql).bind(id).fetch_optional(c).await
        })
        .context("read a job")?;
        row.map(Job::try_from).transpose()
    }

    /// Newest first, optionally only jobs in `state`.
    pub async fn list_jobs(
        &self,
        state: Option<JobState>,
        limit: i64,
    ) -> Result<Vec<Job>, StoreError> {
        let mut conn = self.acquire().await?;
        let sql = list_jobs_sql(state.is_some());
        let rows: Vec<JobRow> = on_conn!(conn.conn(), |c| {
            let mut query = sqlx::query_as(&sql).bind(limit);
            if let Some(state) = state {
                query = query.bind(state.as_str());
            }
            query.fetch_all(c).await
        })
        .context("list jobs")?;
        rows.into_iter().map(Job::try_from).collect()
    }

    pub async fn job_counts(&self) -> Result<JobCounts, StoreError> {
        let mut conn = self.acquire().await?;
        let rows: Vec<(String, i64)> = on_conn!(conn.conn(), |c| {
            sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state")
                .fetch_all(c)
                .await
        })
        .context("count jobs")?;
        let mut counts = JobCounts::default();
        for (state, n) in rows {
            match parse_column("jobs", "state", &state)? {
                JobState::Pending => counts.pending = n,
                JobState::Running => counts.running = n,
                JobState::Done => counts.done = n,
                JobState::Dead => counts.dead = n,
            }
        }
        Ok(counts)
    }

    /// How many pending jobs of `kind` for `pair` there are (due or not):
    /// a backlog worth one batched read instead of one read per job.
    pub async fn page_backlog(&self, pair: &str, kind: &str) -> Result<i64, StoreError> {
        let mut conn = self.acquire().await?;
        on_conn!(conn.conn(), |c| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM jobs WHERE pair = $1 AND kind = $2 AND state = 'pending'",
            )
            .bind(pair)
            .bind(kind)
            .fetch_one(c)
            .await
        })
        .context("count a pair's pending jobs")
    }

    /// Complete the pending jobs of `pair` with these keys that nobody asked
    /// for since `before` (their `updated_at`): the work that just ran read
    /// their records after that. A job asked for again since stays pending.
    /// Answers how many were completed.
    pub async fn complete_covered(
        &self,
        pair: &str,
        keys: &[String],
        before: i64,
        now: i64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let mut done = 0;
        for key in keys {
            done += on_conn!(tx.conn(), |c| {
                sqlx::query(
                    "UPDATE jobs SET state = 'done', finished_at = $4, updated_at = $4, \
                     last_error = NULL \
                     WHERE pair = $1 AND key = $2 AND state = 'pending' AND updated_at < $3",
                )
                .bind(pair)
                .bind(key)
                .bind(before)
                .bind(now)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
            })
            .context("complete a covered job")?;
        }
        tx.commit().await?;
        Ok(done)
    }

    /// How long the longest-waiting due job has been due (queue lag); None if
    /// no pending job is due. Jobs scheduled in the future do not count.
    pub async fn oldest_pending_age(&self, now: i64) -> Result<Option<Duration>, StoreError> {
        let mut conn = self.acquire().await?;
        let oldest: Option<i64> = on_conn!(conn.conn(), |c| {
            sqlx::query_scalar(OLDEST_DUE).bind(now).fetch_one(c).await
        })
        .context("find the oldest pending job")?;
        Ok(oldest.map(|at| Duration::from_millis(u64::try_from(now - at).unwrap_or(0))))
    }

    /// Whether a job with one of `keys` is running under a live lease.
    pub async fn any_running(&self, keys: &[String], now: i64) -> Result<bool, StoreError> {
        let mut conn = self.acquire().await?;
        for key in keys {
            let running: i64 = on_conn!(conn.conn(), |c| {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM jobs \
                     WHERE key = $1 AND state = 'running' AND locked_until > $2",
                )
                .bind(key)
                .bind(now)
                .fetch_one(c)
                .await
            })
            .context("look for a running job")?;
            if running > 0 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// When the next pending job that is not due yet becomes due (epoch ms),
    /// so that an idle runner wakes for it rather than at its next poll.
    pub async fn next_run_at(&self, now: i64) -> Result<Option<i64>, StoreError> {
        let mut conn = self.acquire().await?;
        on_conn!(conn.conn(), |c| {
            sqlx::query_scalar(
                "SELECT MIN(run_at) FROM jobs WHERE state = 'pending' AND run_at > $1",
            )
            .bind(now)
            .fetch_one(c)
            .await
        })
        .context("find the next scheduled job")
    }

    /// Delete done jobs that finished before `before`, a batch at a time;
    /// dead jobs stay until an operator deals with them. Returns how many
    /// were deleted.
    pub async fn prune_jobs(&self, before: i64) -> Result<u64, StoreError> {
        self.delete_in_batches("prune done jobs", &super::prune::PRUNE_JOBS, before)
            .await
    }
}

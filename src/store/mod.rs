//! The database: SQLite (embedded default) or Postgres (several replicas),
//! behind one interface.
//!
//! [`Store::connect`] picks the backend from the URL (`sqlite://PATH` or
//! `postgres://...`); every operation is written once with runtime
//! `sqlx::query` and `$1, $2` placeholders (both backends bind them) and
//! compiled for each backend by the `on_conn!` macro. SQL differs only where
//! it must: the job claim locks rows with `FOR UPDATE SKIP LOCKED` on Postgres,
//! while SQLite, a single writer, needs no row locks.
//!
//! Writes that must happen together go through a [`Tx`] (`store.begin()`):
//! "record the webhook in the inbox + enqueue its job, commit, then ack",
//! "complete the job (fenced by its lease token) + store the snapshot + append
//! the sync log", "save the Airtable payload cursor + enqueue the reconciles".
//! On SQLite a `Tx` is `BEGIN IMMEDIATE`: it takes the write lock at once, so
//! two transactions never deadlock upgrading a read lock. Do not call `Store`
//! write methods while holding a SQLite `Tx` in the same task: they wait for
//! the lock the `Tx` holds. On Postgres a `Tx` is READ COMMITTED; enqueue
//! several keys in one `Tx` with `Tx::enqueue_many`, which takes them in key
//! order so that two such transactions cannot deadlock. Dropping a `Tx`
//! without committing rolls it back.
//!
//! Conventions: times are `i64` milliseconds since the Unix epoch ([`now_ms`]),
//! JSON is stored as TEXT, enumerations as snake_case TEXT. Operations whose
//! outcome depends on the clock (leases, schedules, rate limits) take `now`
//! from the caller, so that tests can move time without sleeping.
//!
//! # Tables
//!
//! | table | one row per | used for |
//! |---|---|---|
//! | `jobs` | unit of work (reconcile a record, fetch Airtable payloads, a sweep) | durable queue: lease + heartbeat, fenced completion, retries, dead jobs; at most one pending and one running job per key |
//! | `record_links` | linked Notion page ↔ Airtable record, per pair | identity, the per-field snapshot for the three-way merge and echo suppression, sync source, delete state |
//! | `sync_log` | change made (or conflict resolved) | the browsable/exportable log: field, old and new value, direction, cause, conflict winner |
//! | `webhook_inbox` | webhook event received (`source`, `event_id`) | de-duplication in the ingest transaction |
//! | `airtable_webhooks` | Airtable webhook the service registered | MAC secret, payload cursor, expiry, notification health |
//! | `notion_verification_tokens` | Notion verification request | pending tokens shown to the operator, never trusted automatically |
//! | `rate_limits` | API budget | 429 penalty and GCRA schedule shared by all replicas |
//! | `sweeps` | pair × sweep kind | last reconciliation sweep: times, summary, high-water mark |
//! | `record_claims` | record key (page or row) per pair | one writer per record: a lease held by a job (living by the job's lease) or by work outside a job (an expiry), and the claim-clock stamp of its last take or release that tells a sweep its read is stale |
//! | `record_claim_clock` | (one row) | the counter that orders claims against sweeps' reads, across hosts whose clocks differ |
//! | `notion_page_intents` | Airtable row about to get a Notion page | a create announced before it is sent: never two creates for one row, and a retry looks for the page before creating again |
//! | `sync_issues` | open issue (pair, field or record) | what the service could not do (a field stopped by schema drift, a refused value, a bad link cell, a missing capability), shown until it can |
//! | `status_samples` | measurement (series, time, value) | the status page's day of webhook-to-write lags and queue depths, kept two days |
//! | `api_calls` | vendor scope (Airtable base, Notion integration) × UTC hour | API answers counted in batches: the monthly quota (`quota`), `/metrics`, the status page's charts |
//! | `api_access` | vendor scope | the latest answer and the latest 401/403, for the "token refused" alert |
//! | `alert_states` | alert condition | what the alert receiver was last told (the claim on each message, one per replica set) |
//! | `alert_outbox` | alert message | messages owed to `ALERT_WEBHOOK_URL`, with their delivery attempts |
//! | `delete_reviews` | delete held for review (pair × page × action, one open entry each) | the delete review queue: pending, approved, rejected, cleared or done |
//!
//! The migrations (`migrations/sqlite`, `migrations/postgres`) document every
//! column; the two sets describe one schema and change together.
//!
//! # Jobs in short
//!
//! - `enqueue` coalesces: if the key already has a pending job, that job is
//!   kept (payload and attempts unchanged) and its `run_at` becomes the
//!   earlier of the two, so a burst of events for one record is one run, no
//!   later than the first event's debounce. An event that arrives while the
//!   key's job runs creates one follow-up pending job; it is not claimed
//!   before the running one ends.
//! - `claim` leases one due job (attempts + 1, a fresh random `lease_token`,
//!   `locked_until = now + lease`); an expired lease is reclaimed, or the job
//!   turns dead if it has no attempts left. Every worker update afterwards
//!   (`heartbeat`, `complete`, `retry_later`, `fail`, `release`) is fenced by
//!   the token and reports whether the lease was still held.
//! - `complete` marks the job `done` (kept as history until `prune_jobs`).
//! - Putting a running job back to pending when the key already has a pending
//!   job merges the two into the pending one (later `run_at`, higher attempt
//!   count), since the key names the work.

/// Runs the same sqlx code on whichever backend a [`Conn`] holds: `$c` is a
/// `&mut SqliteConnection` in one arm and a `&mut PgConnection` in the other,
/// and the body is compiled for each. Use `&mut *$c` to run several queries.
macro_rules! on_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::store::Conn::Sqlite($c) => $body,
            $crate::store::Conn::Postgres($c) => $body,
        }
    };
}

// Defined before the submodules so that they can use it.
mod airtable_webhooks;
mod alerts;
mod api_calls;
mod columns;
mod connect;
mod delete_reviews;
mod error;
mod inbox;
mod issues;
mod job_gauges;
mod jobs;
mod links;
mod pace;
mod prune;
pub mod quota;
mod rate_limits;
mod record_claims;
mod relation_waits;
mod samples;
mod since;
mod status;
mod sweeps;
mod sync_log;
mod sync_log_select;

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use sqlx::{
    PgConnection, PgPool, Postgres, Sqlite, SqliteConnection, SqlitePool, pool::PoolConnection,
};

pub use airtable_webhooks::{AirtableWebhook, NewAirtableWebhook, WebhookStatus};
pub use alerts::{AlertMessage, AlertState};
pub use api_calls::{ApiAccess, ApiCallHour, ApiCallTotal, HOUR_MS, is_refusal};
pub use connect::StoreOptions;
pub use delete_reviews::{
    Decided, DeleteAction, DeleteReview, NewDeleteReview, ReviewState, Verdict,
};
pub use error::StoreError;
pub use inbox::{InboxEvent, MAX_VERIFICATION_TOKENS, VerificationToken};
pub use issues::{Issue, IssueScope, NewIssue};
pub use job_gauges::{IssueGauge, JobGauge};
pub use jobs::{
    ClaimedJob, DEFAULT_MAX_ATTEMPTS, EnqueueOutcome, FailOutcome, Job, JobCounts, JobId, JobState,
    Lease, LeaseLost, NewJob,
};
pub use links::{LinkState, LinkUpsert, RecordLink, Snapshot, SyncSource};
pub use pace::Pace;
pub use prune::{PruneBefore, Pruned};
pub use rate_limits::Reservation;
pub use record_claims::{ClaimOutcome, Claimant, PageIntent, RecordClaim};
pub use relation_waits::{RelationWait, Waiter};
pub use samples::{SAMPLE_RETENTION_MS, Series};
pub use since::parse_since;
pub use status::{GROWING_TABLES, HourlyChanges, PairLinks, PairQueue, QueryPlan};
pub use sweeps::{Sweep, SweepKind};
pub use sync_log::{Cause, LogAction, LogEntry, LogQuery, NewLogEntry, Side, SyncDirection};
pub use sync_log_select::{LogSelection, MAX_SELECTED};

use error::Context;

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "Postgres",
        })
    }
}

/// Milliseconds since the Unix epoch, the store's unit of time.
pub fn now_ms() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    duration_ms(since_epoch)
}

/// A duration in the store's unit (milliseconds), saturating.
pub(crate) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The longest a transaction waits for this process's SQLite write turn
/// (SQLite's own busy timeout is the same).
const SQLITE_WRITER_WAIT: Duration = Duration::from_secs(5);

/// A connection pool to the service's database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
    /// SQLite allows one writer at a time; transactions of this process
    /// queue here in order instead of polling SQLite's lock, whose busy
    /// handler sleeps in steps of up to 100 ms (a long tail for webhook
    /// acknowledgements under load).
    sqlite_writer: Arc<tokio::sync::Mutex<()>>,
    /// API calls counted in this process and not yet written (`api_calls`).
    api_calls: Arc<api_calls::CallCounter>,
}

#[derive(Clone, Debug)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Store {
    /// Connect to `sqlite://PATH` (file and folder created on first use) or
    /// `postgres://...` / `postgresql://...`, with default [`StoreOptions`].
    pub async fn connect(database_url: &str) -> Result<Store, StoreError> {
        Self::connect_with(database_url, &StoreOptions::default()).await
    }

    /// [`Store::connect`] with explicit pool settings.
    pub async fn connect_with(
        database_url: &str,
        options: &StoreOptions,
    ) -> Result<Store, StoreError> {
        let pool = match connect::backend_of(database_url)? {
            Backend::Sqlite => Pool::Sqlite(connect::sqlite_pool(database_url, options).await?),
            Backend::Postgres => Pool::Postgres(connect::pg_pool(database_url, options).await?),
        };
        Ok(Store {
            pool,
            sqlite_writer: Arc::default(),
            api_calls: Arc::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.backend() {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        }
    }

    /// Apply the backend's migrations that are not applied yet (idempotent;
    /// on Postgres concurrent callers serialize on an advisory lock).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let result = match &self.pool {
            Pool::Sqlite(pool) => SQLITE_MIGRATOR.run(pool).await,
            Pool::Postgres(pool) => POSTGRES_MIGRATOR.run(pool).await,
        };
        result.map_err(|source| StoreError::Migrate {
            backend: self.backend(),
            source,
        })
    }

    /// Whether the database answers a trivial query (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.acquire().await?;
        on_conn!(conn.conn(), |c| sqlx::query("SELECT 1")
            .execute(c)
            .await
            .map(|_| ()))
        .context("ping the database")?;
        Ok(())
    }

    /// Whether every migration this build knows has been applied successfully
    /// (for `/readyz`: a replica must not serve an older schema).
    pub async fn migrations_applied(&self) -> Result<bool, StoreError> {
        let mut conn = self.acquire().await?;
        let exists_sql = table_exists_sql(self.backend());
        let exists: bool = on_conn!(conn.conn(), |c| {
            sqlx::query_scalar(exists_sql).fetch_one(c).await
        })
        .context("look for the migrations table")?;
        if !exists {
            return Ok(false);
        }
        let applied: Vec<i64> = on_conn!(conn.conn(), |c| {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(c)
                .await
        })
        .context("read the applied migrations")?;
        Ok(self
            .migrator()
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .all(|m| applied.contains(&m.version)))
    }

    /// Begin a transaction for writes that must commit together.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let inner = match &self.pool {
            // IMMEDIATE: take the write lock now rather than on the first write,
            // which could fail with SQLITE_BUSY instead of waiting.
            Pool::Sqlite(pool) => {
                let turn = self.sqlite_writer_turn().await?;
                let tx = pool
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .context("begin a transaction")?;
                return Ok(Tx {
                    inner: TxInner::Sqlite(tx),
                    _writer_turn: Some(turn),
                });
            }
            Pool::Postgres(pool) => {
                TxInner::Postgres(pool.begin().await.context("begin a transaction")?)
            }
        };
        Ok(Tx {
            inner,
            _writer_turn: None,
        })
    }

    /// Wait for this process's SQLite write turn. Bounded like SQLite's own
    /// busy timeout, so that a task that (wrongly) begins a second
    /// transaction while holding one gets an error, not a hang.
    async fn sqlite_writer_turn(&self) -> Result<tokio::sync::OwnedMutexGuard<()>, StoreError> {
        let turn = self.sqlite_writer.clone().lock_owned();
        tokio::time::timeout(SQLITE_WRITER_WAIT, turn)
            .await
            .map_err(|_| StoreError::Contended {
                op: "wait for the SQLite write lock",
                tries: 1,
            })
    }

    /// Close every connection (graceful shutdown).
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }

    /// A pooled connection for one operation outside any transaction.
    async fn acquire(&self) -> Result<Pooled, StoreError> {
        Ok(match &self.pool {
            Pool::Sqlite(pool) => Pooled::Sqlite(pool.acquire().await.context("get a connection")?),
            Pool::Postgres(pool) => {
                Pooled::Postgres(pool.acquire().await.context("get a connection")?)
            }
        })
    }

    /// Run `op` in its own transaction and commit it.
    async fn in_tx<T>(
        &self,
        op: impl AsyncFnOnce(&mut Tx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut tx = self.begin().await?;
        let value = op(&mut tx).await?;
        tx.commit().await?;
        Ok(value)
    }

    /// [`Store::in_tx`] for operations where a unique-constraint conflict can
    /// only mean that a concurrent writer got in between (on Postgres a
    /// conflict aborts the transaction): run the whole transaction again, a
    /// few times at most.
    async fn in_tx_retrying<T>(
        &self,
        op_name: &'static str,
        mut op: impl AsyncFnMut(&mut Tx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        const TRIES: u32 = 5;
        for _ in 0..TRIES {
            let mut tx = self.begin().await?;
            match op(&mut tx).await {
                Ok(value) => {
                    tx.commit().await?;
                    return Ok(value);
                }
                Err(e) if e.is_conflict() => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Contended {
            op: op_name,
            tries: TRIES,
        })
    }
}

fn table_exists_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "SELECT EXISTS (SELECT 1 FROM sqlite_master \
             WHERE type = 'table' AND name = '_sqlx_migrations')"
        }
        Backend::Postgres => "SELECT to_regclass('_sqlx_migrations') IS NOT NULL",
    }
}

/// A database transaction: writes made through it commit together or not at
/// all. Dropping it without [`Tx::commit`] rolls it back.
pub struct Tx {
    /// Declared first: dropped (rolled back) before the write turn below is
    /// given up.
    inner: TxInner,
    _writer_turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

enum TxInner {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    pub async fn commit(self) -> Result<(), StoreError> {
        match self.inner {
            TxInner::Sqlite(tx) => tx.commit().await,
            TxInner::Postgres(tx) => tx.commit().await,
        }
        .context("commit a transaction")
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        match self.inner {
            TxInner::Sqlite(tx) => tx.rollback().await,
            TxInner::Postgres(tx) => tx.rollback().await,
        }
        .context("roll back a transaction")
    }

    pub fn backend(&self) -> Backend {
        match self.inner {
            TxInner::Sqlite(_) => Backend::Sqlite,
            TxInner::Postgres(_) => Backend::Postgres,
        }
    }

    fn conn(&mut self) -> Conn<'_> {
        match &mut self.inner {
            TxInner::Sqlite(tx) => Conn::Sqlite(tx),
            TxInner::Postgres(tx) => Conn::Postgres(tx),
        }
    }
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tx({})", self.backend())
    }
}

/// A connection borrowed from the pool for one operation.
enum Pooled {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

impl Pooled {
    fn conn(&mut self) -> Conn<'_> {
        match self {
            Pooled::Sqlite(c) => Conn::Sqlite(c),
            Pooled::Postgres(c) => Conn::Postgres(c),
        }
    }
}

/// A live connection of either backend: pooled or inside a transaction. Every
/// operation is written as a function of a `Conn`, so one body serves the
/// `Store` method and the `Tx` method alike.
enum Conn<'c> {
    Sqlite(&'c mut SqliteConnection),
    Postgres(&'c mut PgConnection),
}

impl Conn<'_> {
    fn backend(&self) -> Backend {
        match self {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Postgres(_) => Backend::Postgres,
        }
    }

    /// A shorter borrow of the same connection, to pass to a helper.
    fn reborrow(&mut self) -> Conn<'_> {
        match self {
            Conn::Sqlite(c) => Conn::Sqlite(c),
            Conn::Postgres(c) => Conn::Postgres(c),
        }
    }
}

/// A value in the store's unit of time, checked: a schedule in the far future
/// must not wrap around.
pub(crate) fn add_ms(at: i64, d: Duration) -> i64 {
    at.saturating_add(duration_ms(d))
}

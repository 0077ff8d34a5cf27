//! Pruning: what `serve` deletes on its schedule (and `reconcile` after its
//! sweeps), so that the documented deployment does not grow without bound.
//!
//! Each table is pruned a batch at a time, each batch in a transaction of
//! its own: on SQLite a delete holds the only write lock, and a single
//! statement deleting a million rows would hold webhook acknowledgements up
//! for seconds; between batches every other writer gets its turn. Each
//! batch finds its rows through the index on the time column.

use super::{Backend, Store, StoreError, error::Context};

/// Rows deleted per transaction.
const BATCH: i64 = 1000;

/// The cut-offs of one pruning pass (epoch ms): rows older are deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneBefore {
    /// `sync_log.at`.
    pub log: i64,
    /// `jobs.finished_at` of done jobs (dead jobs stay until retried).
    pub jobs: i64,
    /// `webhook_inbox.received_at`.
    pub inbox: i64,
    /// `status_samples.at` (see `SAMPLE_RETENTION_MS`).
    pub samples: i64,
}

/// How many rows a pruning pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub log: u64,
    pub jobs: u64,
    pub inbox: u64,
    /// Released record claims (their clock stamps only matter to sweeps
    /// that read before them, long finished by the jobs' cut-off).
    pub claims: u64,
    /// Status page measurements.
    pub samples: u64,
}

impl Pruned {
    pub fn total(&self) -> u64 {
        self.log + self.jobs + self.inbox + self.claims + self.samples
    }
}

/// A batched `DELETE` per backend, taking `$1` = the cut-off and `$2` = the
/// batch size. SQLite finds the batch with `IN (SELECT ... LIMIT)`; Postgres
/// would join that subquery against a scan of the whole table, so it reads
/// the batch into an array first and deletes by key (or row address).
pub(super) struct PruneSql {
    pub(super) sqlite: &'static str,
    pub(super) postgres: &'static str,
}

impl PruneSql {
    pub(super) fn for_backend(&self, backend: Backend) -> &'static str {
        match backend {
            Backend::Sqlite => self.sqlite,
            Backend::Postgres => self.postgres,
        }
    }
}

pub(super) const PRUNE_LOG: PruneSql = PruneSql {
    sqlite: "DELETE FROM sync_log WHERE id IN \
             (SELECT id FROM sync_log WHERE at < $1 LIMIT $2)",
    postgres: "DELETE FROM sync_log WHERE id = ANY(ARRAY(\
               SELECT id FROM sync_log WHERE at < $1 LIMIT $2))",
};
pub(super) const PRUNE_JOBS: PruneSql = PruneSql {
    sqlite: "DELETE FROM jobs WHERE id IN \
             (SELECT id FROM jobs WHERE state = 'done' AND finished_at < $1 LIMIT $2)",
    postgres: "DELETE FROM jobs WHERE id = ANY(ARRAY(\
               SELECT id FROM jobs WHERE state = 'done' AND finished_at < $1 LIMIT $2))",
};
pub(super) const PRUNE_INBOX: PruneSql = PruneSql {
    sqlite: "DELETE FROM webhook_inbox WHERE (source, event_id) IN \
             (SELECT source, event_id FROM webhook_inbox WHERE received_at < $1 LIMIT $2)",
    postgres: "DELETE FROM webhook_inbox WHERE ctid = ANY(ARRAY(\
               SELECT ctid FROM webhook_inbox WHERE received_at < $1 LIMIT $2))",
};

impl Store {
    /// One pruning pass over the sync log, done jobs, the webhook inbox,
    /// released record claims and the status page's samples.
    pub async fn prune(&self, before: PruneBefore) -> Result<Pruned, StoreError> {
        Ok(Pruned {
            log: self.prune_log(before.log).await?,
            jobs: self.prune_jobs(before.jobs).await?,
            inbox: self.prune_inbox(before.inbox).await?,
            claims: self.prune_record_claims(before.jobs).await?,
            samples: self.prune_samples(before.samples).await?,
        })
    }

    /// Delete with `sql` (see the constants above) batch after batch until a
    /// batch comes back short; how many rows in all.
    pub(super) async fn delete_in_batches(
        &self,
        what: &'static str,
        sql: &PruneSql,
        before: i64,
    ) -> Result<u64, StoreError> {
        let sql = sql.for_backend(self.backend());
        let mut total = 0;
        loop {
            let mut tx = self.begin().await?;
            let deleted = on_conn!(tx.conn(), |c| {
                sqlx::query(sql)
                    .bind(before)
                    .bind(BATCH)
                    .execute(c)
                    .await
                    .map(|r| r.rows_affected())
            })
            .context(what)?;
            tx.commit().await?;
            total += deleted;
            if deleted < BATCH as u64 {
                return Ok(total);
            }
            tokio::task::yield_now().await;
        }
    }
}

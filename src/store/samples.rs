//! Measurements the status page draws over the last day (`status_samples`):
//! the edit-to-other-side lag of webhook jobs and the depth of the queue.
//! The changes per hour come from the sync log and need no sample.

use super::{Store, StoreError, error::Context, prune::PruneSql};

/// Samples older than this are pruned: the page draws one day, and a second
/// day covers a page opened across midnight and a late pruning pass.
pub const SAMPLE_RETENTION_MS: i64 = 2 * 24 * 3600 * 1000;

/// What a sample measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    /// A webhook's edit reached Notion after this many ms.
    LagToNotion,
    /// A webhook's edit reached Airtable after this many ms.
    LagToAirtable,
    /// Pending jobs that were due when sampled.
    QueueDue,
}

impl Series {
    pub fn as_str(self) -> &'static str {
        match self {
            Series::LagToNotion => "lag_to_notion",
            Series::LagToAirtable => "lag_to_airtable",
            Series::QueueDue => "queue_due",
        }
    }
}

/// `(at, value)` of one series since `$2`, oldest first.
pub(super) const SAMPLES_SINCE: &str =
    "SELECT at, value FROM status_samples WHERE series = $1 AND at >= $2 ORDER BY at";

pub(super) const PRUNE_SAMPLES: PruneSql = PruneSql {
    sqlite: "DELETE FROM status_samples WHERE rowid IN \
             (SELECT rowid FROM status_samples WHERE at < $1 LIMIT $2)",
    postgres: "DELETE FROM status_samples WHERE ctid = ANY(ARRAY(\
               SELECT ctid FROM status_samples WHERE at < $1 LIMIT $2))",
};

impl Store {
    /// Store measurements taken at `at`, in one statement.
    pub async fn record_samples(
        &self,
        at: i64,
        samples: &[(Series, i64)],
    ) -> Result<(), StoreError> {
        if samples.is_empty() {
            return Ok(());
        }
        let values: Vec<String> = (0..samples.len())
            .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
            .collect();
        let sql = format!(
            "INSERT INTO status_samples (series, at, value) VALUES {}",
            values.join(", ")
        );
        let mut conn = self.acquire().await?;
        on_conn!(conn.conn(), |c| {
            let mut q = sqlx::query(&sql);
            for (series, value) in samples {
                q = q.bind(series.as_str()).bind(at).bind(*value);
            }
            q.execute(c).await.map(|_| ())
        })
        .context("record status samples")
    }

    /// `(at, value)` of `series` since `since`, oldest first.
    pub async fn samples_since(
        &self,
        series: Series,
        since: i64,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        let mut conn = self.acquire().await?;
        on_conn!(conn.conn(), |c| {
            sqlx::query_as(SAMPLES_SINCE)
                .bind(series.as_str())
                .bind(since)
                .fetch_all(c)
                .await
        })
        .context("read status samples")
    }

    pub(super) async fn prune_samples(&self, before: i64) -> Result<u64, StoreError> {
        self.delete_in_batches("prune status samples", &PRUNE_SAMPLES, before)
            .await
    }
}

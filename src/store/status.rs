//! Read-only aggregates for the status page: the queue per pair, links per
//! pair, and when each webhook source last delivered. Plain SQL that both
//! backends run as written.

use serde::Serialize;

use super::{Store, StoreError, error::Context};

/// The live part of the queue for one pair (None: jobs of no pair, such as
/// fetching an Airtable webhook's payloads).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PairQueue {
    pub pair: Option<String>,
    pub pending: i64,
    pub running: i64,
    pub dead: i64,
    /// `run_at` of the longest-waiting pending job that is due (epoch ms);
    /// jobs scheduled for later (debounce, backoff) are not late.
    pub oldest_due_at: Option<i64>,
}

/// Linked records of a pair, by link state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PairLinks {
    pub pair: String,
    pub total: i64,
    /// Links whose both sides exist where the pair expects them.
    pub active: i64,
}

impl Store {
    /// Pending, running and dead jobs per pair, in pair order (jobs of no
    /// pair first).
    pub async fn queue_by_pair(&self, now: i64) -> Result<Vec<PairQueue>, StoreError> {
        let mut conn = self.acquire().await?;
        let rows: Vec<(Option<String>, String, i64, Option<i64>)> = on_conn!(conn.conn(), |c| {
            sqlx::query_as(
                "SELECT pair, state, COUNT(*), \
                     MIN(CASE WHEN state = 'pending' AND run_at <= $1 THEN run_at END) \
                 FROM jobs WHERE state IN ('pending', 'running', 'dead') \
                 GROUP BY pair, state ORDER BY pair",
            )
            .bind(now)
            .fetch_all(c)
            .await
        })
        .context("count live jobs per pair")?;
        let mut queues: Vec<PairQueue> = Vec::new();
        for (pair, state, count, oldest) in rows {
            let queue = match queues.iter_mut().find(|q| q.pair == pair) {
                Some(queue) => queue,
                None => {
                    queues.push(PairQueue {
                        pair: pair.clone(),
                        ..PairQueue::default()
                    });
                    queues.last_mut().expect("just pushed")
                }
            };
            match state.as_str() {
                "pending" => {
                    queue.pending = count;
                    queue.oldest_due_at = oldest;
                }
                "running" => queue.running = count,
                _ => queue.dead = count,
            }
        }
        queues.sort_by(|a, b| a.pair.cmp(&b.pair));
        Ok(queues)
    }

    /// Links per pair, in pair order.
    pub async fn links_by_pair(&self) -> Result<Vec<PairLinks>, StoreError> {
        let mut conn = self.acquire().await?;
        let rows: Vec<(String, i64, i64)> = on_conn!(conn.conn(), |c| {
            sqlx::query_as(
                "SELECT pair, COUNT(*), \
                     COALESCE(SUM(CASE WHEN state = 'active' THEN 1 ELSE 0 END), 0) \
                 FROM record_links GROUP BY pair ORDER BY pair",
            )
            .fetch_all(c)
            .await
        })
        .context("count links per pair")?;
        Ok(rows
            .into_iter()
            .map(|(pair, total, active)| PairLinks {
                pair,
                total,
                active,
            })
            .collect())
    }

    /// When the newest webhook event from `source` (`notion` or `airtable`)
    /// was received, if the inbox still holds one.
    pub async fn last_webhook_event_at(&self, source: &str) -> Result<Option<i64>, StoreError> {
        let mut conn = self.acquire().await?;
        on_conn!(conn.conn(), |c| {
            sqlx::query_scalar("SELECT MAX(received_at) FROM webhook_inbox WHERE source = $1")
                .bind(source)
                .fetch_one(c)
                .await
        })
        .context("find the last webhook event")
    }
}

//! The `alert_states` and `alert_outbox` tables: what the alert receiver
//! was last told about each condition, and the messages owed to it.
//!
//! Every replica evaluates the conditions; a message is decided by a
//! conditional update of the condition's row (`announced` changes, and for
//! a start, the last start is an hour old), so exactly one replica wins it,
//! and queued in the same transaction. Delivery leases a message by moving
//! its `next_attempt_at` forward, so one replica sends it at a time.

use super::{Conn, Store, StoreError, error::Context};

/// A condition's row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AlertState {
    pub condition: String,
    pub pair: Option<String>,
    pub detail: String,
    /// `started` or `cleared`.
    pub announced: String,
    pub last_started_at: Option<i64>,
    pub observed_since: Option<i64>,
}

/// A message owed to (or delivered to) the receiver.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AlertMessage {
    pub id: i64,
    pub condition: String,
    pub state: String,
    pub body: String,
    pub created_at: i64,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub delivered_at: Option<i64>,
    pub last_error: Option<String>,
}

const MESSAGE_COLUMNS: &str = "id, condition, state, body, created_at, attempts, \
     next_attempt_at, delivered_at, last_error";

impl Store {
    /// Every condition ever seen.
    pub async fn alert_states(&self) -> Result<Vec<AlertState>, StoreError> {
        let mut conn = self.acquire().await?;
        on_conn!(conn.conn(), |c| {
            sqlx::query_as(
                "SELECT condition, pair, detail, announced, last_started_at, observed_since \
                 FROM alert_states ORDER BY condition",
            )
            .fetch_all(c)
            .await
        })
        .context("read the alert states")
    }

    /// The condition is seen at `now` with `detail`: returns since when it
    /// has been seen without a break.
    pub async fn observe_alert(
        &self,
        condition: &str,
        pair: Option<&str>,
        detail: &str,
        now: i64,
    ) -> Result<i64, StoreError> {
        self.in_tx(async |tx| {
            on_conn!(tx.conn(), |c| {
                sqlx::query(
                    "INSERT INTO alert_states (condition, pair, detail, observed_since, updated_at) \
                     VALUES ($1, $2, $3, $4, $4) \
                     ON CONFLICT (condition) DO UPDATE SET pair = excluded.pair, \
                         detail = excluded.detail, updated_at = excluded.updated_at, \
                         observed_since = COALESCE(alert_states.observed_since, excluded.observed_since)",
                )
                .bind(condition)
                .bind(pair)
                .bind(detail)
                .bind(now)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
            })
            .context("record an alert condition")?;
            let since: Option<i64> = on_conn!(tx.conn(), |c| {
                sqlx::query_scalar("SELECT observed_since FROM alert_states WHERE condition = $1")
                    .bind(condition)
                    .fetch_one(c)
                    .await
            })
            .context("read an alert condition")?;
            Ok(since.unwrap_or(now))
        })
        .await
    }

    /// The condition is not seen any more: its break starts now.
    pub async fn unobserve_alert(&self, condition: &str, now: i64) -> Result<(), StoreError> {
        let mut conn = self.acquire().await?;
        on_conn!(conn.conn(), |c| {
            sqlx::query(
                "UPDATE alert_states SET observed_since = NULL, updated_at = $2 \
                 WHERE condition = $1 AND observed_since IS NOT NULL",
            )
            .bind(condition)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context("clear an alert observation")?;
        Ok(())
    }

    /// Claim the `started` message of `condition` and queue `body`, unless
    /// the receiver already knows it started or a start was queued less
    /// than `repeat_after_ms` ago. True when this call queued it.
    pub async fn claim_alert_start(
        &self,
        condition: &str,
        body: &str,
        now: i64,
        repeat_after_ms: i64,
    ) -> Result<bool, StoreError> {
        self.in_tx(async |tx| {
            let won = on_conn!(tx.conn(), |c| {
                sqlx::query(
                    "UPDATE alert_states SET announced = 'started', last_started_at = $2, \
                         updated_at = $2 \
                     WHERE condition = $1 AND announced = 'cleared' \
                       AND (last_started_at IS NULL OR last_started_at <= $3)",
                )
                .bind(condition)
                .bind(now)
                .bind(now.saturating_sub(repeat_after_ms))
                .execute(c)
                .await
                .map(|r| r.rows_affected())
            })
            .context("claim an alert")?;
            if won == 1 {
                queue_message(tx.conn(), condition, "started", body, now).await?;
            }
            Ok(won == 1)
        })
        .await
    }

    /// Claim the `cleared` message of a condition the receiver was told
    /// started, and queue `body`. True when this call queued it.
    pub async fn claim_alert_clear(
        &self,
        condition: &str,
        body: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.in_tx(async |tx| {
            let won = on_conn!(tx.conn(), |c| {
                sqlx::query(
                    "UPDATE alert_states SET announced = 'cleared', observed_since = NULL, \
                         updated_at = $2 \
                     WHERE condition = $1 AND announced = 'started'",
                )
                .bind(condition)
                .bind(now)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
            })
            .context("claim an alert's clear")?;
            if won == 1 {
                queue_message(tx.conn(), condition, "cleared", body, now).await?;
            }
            Ok(won == 1)
        })
        .await
    }

    /// Messages that may be sent at `now`, oldest first: owed, due, and
    /// the oldest owed message of their condition (a clear never overtakes
    /// its start).
    pub async fn owed_alerts(&self, now: i64, limit: i64) -> Result<Vec<AlertMessage>, StoreError> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM alert_outbox m \
             WHERE delivered_at IS NULL AND next_attempt_at <= $1 \
               AND NOT EXISTS (SELECT 1 FROM alert_outbox o WHERE o.condition = m.condition \
                   AND o.delivered_at IS NULL AND o.id < m.id) \
             ORDER BY id LIMIT $2"
        );
        let mut conn = self.acquire().await?;
        on_conn!(conn.conn(), |c| {
            sqlx::query_as(&sql)
                .bind(now)
                .bind(limit)
                .fetch_all(c)
                .await
        })
        .context("read the owed alerts")
    }

    /// Every message, newest first (the status page, tests).
    pub async fn alert_messages(&self, limit: i64) -> Result<Vec<AlertMessage>, StoreError> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM alert_outbox ORDER BY id DESC LIMIT $1");
        let mut conn = self.acquire().await?;
        on_conn!(conn.conn(), |c| {
            sqlx::query_as(&sql).bind(limit).fetch_all(c).await
        })
        .context("read the alert messages")
    }

    /// Take message `id` for delivery until `until`: false when another
    /// replica has it or it was delivered.
    pub async fn lease_alert(&self, id: i64, now: i64, until: i64) -> Result<bool, StoreError> {
        let mut conn = self.acquire().await?;
        let taken = on_conn!(conn.conn(), |c| {
            sqlx::query(
                "UPDATE alert_outbox SET next_attempt_at = $3 \
                 WHERE id = $1 AND delivered_at IS NULL AND next_attempt_at <= $2",
            )
            .bind(id)
            .bind(now)
            .bind(until)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context("lease an alert")?;
        Ok(taken == 1)
    }

    /// The receiver took message `id`.
    pub async fn alert_delivered(&self, id: i64, now: i64) -> Result<(), StoreError> {
        let mut conn = self.acquire().await?;
        on_conn!(conn.conn(), |c| {
            sqlx::query(
                "UPDATE alert_outbox SET delivered_at = $2, attempts = attempts + 1 WHERE id = $1",
            )
            .bind(id)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context("mark an alert delivered")?;
        Ok(())
    }

    /// Delivering message `id` failed with `error`; try again at `retry_at`.
    pub async fn alert_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.acquire().await?;
        on_conn!(conn.conn(), |c| {
            sqlx::query(
                "UPDATE alert_outbox SET attempts = attempts + 1, last_error = $2, \
                     next_attempt_at = $3 WHERE id = $1 AND delivered_at IS NULL",
            )
            .bind(id)
            .bind(error)
            .bind(retry_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context("record a failed alert delivery")?;
        Ok(())
    }

    /// Forget messages delivered before `before`.
    pub async fn prune_alerts(&self, before: i64) -> Result<u64, StoreError> {
        let mut conn = self.acquire().await?;
        on_conn!(conn.conn(), |c| {
            sqlx::query("DELETE FROM alert_outbox WHERE delivered_at < $1")
                .bind(before)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })
        .context("prune delivered alerts")
    }

    /// Rate budgets paused past `now`: (budget, until).
    pub async fn paused_budgets(&self, now: i64) -> Result<Vec<(String, i64)>, StoreError> {
        let mut conn = self.acquire().await?;
        on_conn!(conn.conn(), |c| {
            sqlx::query_as(
                "SELECT budget, blocked_until FROM rate_limits WHERE blocked_until > $1 \
                 ORDER BY budget",
            )
            .bind(now)
            .fetch_all(c)
            .await
        })
        .context("read the paused rate budgets")
    }
}

async fn queue_message(
    conn: Conn<'_>,
    condition: &str,
    state: &str,
    body: &str,
    now: i64,
) -> Result<(), StoreError> {
    on_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO alert_outbox (condition, state, body, created_at, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(condition)
        .bind(state)
        .bind(body)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })
    .context("queue an alert")?;
    Ok(())
}

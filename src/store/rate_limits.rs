//! The `rate_limits` table: API budgets shared by every worker of every
//! replica. A 429's penalty (`blocked_until`) stops all of them, and the
//! GCRA schedule (`next_slot`) spaces their calls as if they were one client.
//! Each operation is one atomic statement.

use std::time::Duration;

use super::{Store, StoreError, duration_ms, error::Context};

/// The schedule's next slot after `now`, given the row's state:
/// `CASE` rather than `GREATEST`/`MAX`, which the two backends spell differently.
const EARLIEST: &str =
    "CASE WHEN rate_limits.blocked_until > $2 THEN rate_limits.blocked_until ELSE $2 END";

impl Store {
    /// No call on `budget` before `until` (a 429's Retry-After). An earlier
    /// penalty never shortens a later one.
    pub async fn penalize(&self, budget: &str, until: i64, now: i64) -> Result<(), StoreError> {
        let mut conn = self.acquire().await?;
        on_conn!(conn.conn(), |c| {
            sqlx::query(
                "INSERT INTO rate_limits (budget, blocked_until, next_slot, updated_at) \
                 VALUES ($1, $2, 0, $3) \
                 ON CONFLICT (budget) DO UPDATE SET \
                     blocked_until = CASE WHEN excluded.blocked_until > rate_limits.blocked_until \
                         THEN excluded.blocked_until ELSE rate_limits.blocked_until END, \
                     updated_at = excluded.updated_at",
            )
            .bind(budget)
            .bind(until)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context("record a rate-limit penalty")?;
        Ok(())
    }

    /// Until when calls on `budget` must wait for a penalty; None if they
    /// may go at `now`.
    pub async fn blocked_until(&self, budget: &str, now: i64) -> Result<Option<i64>, StoreError> {
        let mut conn = self.acquire().await?;
        let until: Option<i64> = on_conn!(conn.conn(), |c| {
            sqlx::query_scalar("SELECT blocked_until FROM rate_limits WHERE budget = $1")
                .bind(budget)
                .fetch_optional(c)
                .await
        })
        .context("read a rate-limit penalty")?;
        Ok(until.filter(|&until| until > now))
    }

    /// Reserve the next call slot on `budget` (one call per `interval` on
    /// average, up to `burst` ahead of schedule, none during a penalty) and
    /// return when it starts; the caller waits until then. Concurrent callers
    /// on any replica get distinct slots.
    pub async fn reserve_slot(
        &self,
        budget: &str,
        interval: Duration,
        burst: Duration,
        now: i64,
    ) -> Result<i64, StoreError> {
        let interval = duration_ms(interval);
        let tat = format!(
            "CASE WHEN rate_limits.next_slot > {EARLIEST} THEN rate_limits.next_slot ELSE {EARLIEST} END"
        );
        let sql = format!(
            "INSERT INTO rate_limits (budget, blocked_until, next_slot, updated_at) \
             VALUES ($1, 0, $2 + $3, $2) \
             ON CONFLICT (budget) DO UPDATE SET next_slot = {tat} + $3, updated_at = $2 \
             RETURNING next_slot, blocked_until"
        );
        let mut conn = self.acquire().await?;
        let (next_slot, blocked_until): (i64, i64) = on_conn!(conn.conn(), |c| {
            sqlx::query_as(&sql)
                .bind(budget)
                .bind(now)
                .bind(interval)
                .fetch_one(c)
                .await
        })
        .context("reserve a rate-limit slot")?;
        // The slot's theoretical arrival time, then the burst allowance.
        let tat = next_slot - interval;
        let earliest = now.max(blocked_until);
        Ok((tat - duration_ms(burst)).max(earliest))
    }
}

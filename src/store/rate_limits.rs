//! The `rate_limits` table: API budgets shared by every worker of every
//! replica. A 429's penalty (`blocked_until`) stops all of them, and the
//! schedule (`next_slot` for a spaced pace, `recent` for a window) spaces
//! their calls as if they were one client.

use super::Pace;
use super::{Backend, Store, StoreError, error::Context};

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

    /// Reserve the next call slot on `budget` under `pace` (none during a
    /// penalty) and return when it starts; the caller waits until then.
    /// Concurrent callers on any replica get distinct slots: the row is
    /// read and written in one transaction that holds its lock.
    pub async fn reserve_slot(
        &self,
        budget: &str,
        pace: &Pace,
        now: i64,
    ) -> Result<i64, StoreError> {
        match self.reserve_slot_within(budget, pace, || now, None).await? {
            Reservation::At(start) => Ok(start),
            Reservation::Paused { until } => Ok(until),
        }
    }

    /// [`Store::reserve_slot`], unless a penalty holds the budget for more
    /// than `penalty_limit` ms from now: then nothing is reserved. `now` is
    /// read once the row is locked: the wait for the lock (another
    /// transaction writing) must not make the reserved slot start in the
    /// past, which the vendor's window would not forgive.
    pub async fn reserve_slot_within(
        &self,
        budget: &str,
        pace: &Pace,
        now: impl Fn() -> i64,
        penalty_limit: Option<i64>,
    ) -> Result<Reservation, StoreError> {
        let mut tx = self.begin().await?;
        let lock = match tx.backend() {
            Backend::Postgres => " FOR UPDATE",
            // The transaction already holds SQLite's write lock.
            Backend::Sqlite => "",
        };
        let select = format!(
            "SELECT blocked_until, next_slot, recent FROM rate_limits WHERE budget = $1{lock}"
        );
        on_conn!(tx.conn(), |c| {
            sqlx::query(
                "INSERT INTO rate_limits (budget, blocked_until, next_slot, updated_at) \
                 VALUES ($1, 0, 0, $2) ON CONFLICT (budget) DO NOTHING",
            )
            .bind(budget)
            .bind(now())
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context("create a rate-limit schedule")?;
        let (blocked_until, mut tat, recent) = on_conn!(tx.conn(), |c| {
            sqlx::query_as::<_, (i64, i64, String)>(&select)
                .bind(budget)
                .fetch_one(c)
                .await
        })
        .context("read a rate-limit schedule")?;
        let now = now();
        if penalty_limit.is_some_and(|limit| blocked_until - now > limit) {
            // Nothing to write: dropping the transaction rolls it back.
            return Ok(Reservation::Paused {
                until: blocked_until,
            });
        }
        let mut recent = parse_recent(&recent);
        let start = pace.next_slot(now.max(blocked_until), &mut tat, &mut recent);
        on_conn!(tx.conn(), |c| {
            sqlx::query(
                "UPDATE rate_limits SET next_slot = $2, recent = $3, updated_at = $4 \
                 WHERE budget = $1",
            )
            .bind(budget)
            .bind(tat)
            .bind(format_recent(&recent))
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context("reserve a rate-limit slot")?;
        tx.commit().await?;
        Ok(Reservation::At(start))
    }
}

/// The outcome of [`Store::reserve_slot_within`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// A slot starting at this time (epoch ms) is yours.
    At(i64),
    /// A penalty holds the budget until then; nothing was reserved.
    Paused { until: i64 },
}

/// `recent` is the starts of the last calls, comma-separated (a handful).
fn parse_recent(text: &str) -> Vec<i64> {
    text.split(',')
        .filter_map(|t| t.trim().parse().ok())
        .collect()
}

fn format_recent(recent: &[i64]) -> String {
    recent
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

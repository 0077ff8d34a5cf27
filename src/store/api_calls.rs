//! The `api_calls` and `api_access` tables: every API answer counted per
//! vendor scope (an Airtable base, a Notion integration) and UTC hour, for
//! the monthly quota, `/metrics` and the status page's charts.
//!
//! A call costs no database write: [`Store::count_api_call`] adds to a
//! counter in this process (shared by every clone of the store), and
//! [`Store::flush_api_calls`] adds what it holds to the tables in one
//! transaction, every few seconds under `serve` and at the end of a
//! command. A flush that fails puts its counts back for the next one.

use std::{
    collections::BTreeMap,
    sync::{Mutex, MutexGuard},
};

use super::{Conn, Store, StoreError, error::Context};

/// One hour, the bucket of the counts.
pub const HOUR_MS: i64 = 3_600_000;

/// The counts of one scope not yet written.
#[derive(Debug, Default, Clone)]
struct Tally {
    /// Hour start → (calls, refused).
    hours: BTreeMap<i64, (i64, i64)>,
    last_ok_at: i64,
    last_refused_at: i64,
    refused_status: u16,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        for (hour, (calls, refused)) in other.hours {
            let slot = self.hours.entry(hour).or_default();
            slot.0 += calls;
            slot.1 += refused;
        }
        self.last_ok_at = self.last_ok_at.max(other.last_ok_at);
        if other.last_refused_at > self.last_refused_at {
            self.last_refused_at = other.last_refused_at;
            self.refused_status = other.refused_status;
        }
    }
}

/// This process's counts since the last flush, by (vendor, scope). A
/// `BTreeMap`, so every flush writes its rows in one order (two replicas'
/// flushes cannot deadlock on Postgres).
#[derive(Debug, Default)]
pub(crate) struct CallCounter(Mutex<BTreeMap<(String, String), Tally>>);

impl CallCounter {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<(String, String), Tally>> {
        // Counting cannot leave the map half-updated.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Calls of one scope in one hour.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiCallHour {
    pub vendor: String,
    pub scope: String,
    /// The hour's start (epoch ms, UTC).
    pub hour: i64,
    pub calls: i64,
    /// Of which answered 401 or 403.
    pub refused: i64,
}

/// Calls of one scope over a period.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiCallTotal {
    pub vendor: String,
    pub scope: String,
    pub calls: i64,
}

/// The latest answers of one scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiAccess {
    pub vendor: String,
    pub scope: String,
    pub last_ok_at: i64,
    pub last_refused_at: i64,
    pub refused_status: u16,
}

impl ApiAccess {
    /// The newest answer refused the token.
    pub fn refused(&self) -> bool {
        self.last_refused_at > self.last_ok_at
    }
}

/// Whether an answer's status means the token was refused.
pub fn is_refusal(status: u16) -> bool {
    matches!(status, 401 | 403)
}

impl Store {
    /// Count one answered call of `vendor` on `scope` at `at` (epoch ms), in
    /// this process only: [`Store::flush_api_calls`] writes it.
    pub fn count_api_call(&self, vendor: &str, scope: &str, status: u16, at: i64) {
        let mut counter = self.api_calls.lock();
        let tally = counter
            .entry((vendor.to_owned(), scope.to_owned()))
            .or_default();
        let slot = tally.hours.entry(at - at.rem_euclid(HOUR_MS)).or_default();
        slot.0 += 1;
        if is_refusal(status) {
            slot.1 += 1;
            if at >= tally.last_refused_at {
                tally.last_refused_at = at;
                tally.refused_status = status;
            }
        } else {
            tally.last_ok_at = tally.last_ok_at.max(at);
        }
    }

    /// Add this process's counts to the tables in one transaction; returns
    /// the calls written. On failure the counts are kept for the next flush.
    pub async fn flush_api_calls(&self) -> Result<i64, StoreError> {
        let taken = std::mem::take(&mut *self.api_calls.lock());
        if taken.is_empty() {
            return Ok(0);
        }
        let written = self
            .in_tx(async |tx| {
                let mut calls = 0;
                for ((vendor, scope), tally) in &taken {
                    calls += write_tally(tx.conn(), vendor, scope, tally).await?;
                }
                Ok(calls)
            })
            .await;
        if written.is_err() {
            let mut counter = self.api_calls.lock();
            for (key, tally) in taken {
                counter.entry(key).or_default().merge(tally);
            }
        }
        written
    }

    /// Calls per scope and hour from `since` (epoch ms) on, oldest first:
    /// what the status page charts (e.g. the last 24 hours).
    pub async fn api_calls_per_hour(&self, since: i64) -> Result<Vec<ApiCallHour>, StoreError> {
        let mut conn = self.acquire().await?;
        let rows: Vec<(String, String, i64, i64, i64)> = on_conn!(conn.conn(), |c| {
            sqlx::query_as(
                "SELECT vendor, scope, hour, calls, refused FROM api_calls \
                 WHERE hour >= $1 ORDER BY hour, vendor, scope",
            )
            .bind(since - since.rem_euclid(HOUR_MS))
            .fetch_all(c)
            .await
        })
        .context("read the API calls per hour")?;
        Ok(rows
            .into_iter()
            .map(|(vendor, scope, hour, calls, refused)| ApiCallHour {
                vendor,
                scope,
                hour,
                calls,
                refused,
            })
            .collect())
    }

    /// Calls per scope in the hours starting at or after `since`'s hour
    /// (e.g. the month's start).
    pub async fn api_calls_since(&self, since: i64) -> Result<Vec<ApiCallTotal>, StoreError> {
        let mut conn = self.acquire().await?;
        let rows: Vec<(String, String, i64)> = on_conn!(conn.conn(), |c| {
            sqlx::query_as(
                "SELECT vendor, scope, CAST(SUM(calls) AS BIGINT) FROM api_calls \
                 WHERE hour >= $1 GROUP BY vendor, scope ORDER BY vendor, scope",
            )
            .bind(since - since.rem_euclid(HOUR_MS))
            .fetch_all(c)
            .await
        })
        .context("count the API calls")?;
        Ok(rows
            .into_iter()
            .map(|(vendor, scope, calls)| ApiCallTotal {
                vendor,
                scope,
                calls,
            })
            .collect())
    }

    /// The latest answers of every scope.
    pub async fn api_access(&self) -> Result<Vec<ApiAccess>, StoreError> {
        let mut conn = self.acquire().await?;
        let rows: Vec<(String, String, i64, i64, i32)> = on_conn!(conn.conn(), |c| {
            sqlx::query_as(
                "SELECT vendor, scope, last_ok_at, last_refused_at, refused_status \
                 FROM api_access ORDER BY vendor, scope",
            )
            .fetch_all(c)
            .await
        })
        .context("read the API access states")?;
        Ok(rows
            .into_iter()
            .map(
                |(vendor, scope, last_ok_at, last_refused_at, status)| ApiAccess {
                    vendor,
                    scope,
                    last_ok_at,
                    last_refused_at,
                    refused_status: u16::try_from(status).unwrap_or(0),
                },
            )
            .collect())
    }

    /// Forget the counts of hours before `before` (epoch ms).
    pub async fn prune_api_calls(&self, before: i64) -> Result<u64, StoreError> {
        let mut conn = self.acquire().await?;
        on_conn!(conn.conn(), |c| {
            sqlx::query("DELETE FROM api_calls WHERE hour < $1")
                .bind(before)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })
        .context("prune the API call counts")
    }
}

/// Add one scope's tally; returns its calls.
async fn write_tally(
    mut conn: Conn<'_>,
    vendor: &str,
    scope: &str,
    tally: &Tally,
) -> Result<i64, StoreError> {
    let mut written = 0;
    for (hour, (calls, refused)) in &tally.hours {
        on_conn!(conn.reborrow(), |c| {
            sqlx::query(
                "INSERT INTO api_calls (vendor, scope, hour, calls, refused) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (vendor, scope, hour) DO UPDATE SET \
                     calls = api_calls.calls + excluded.calls, \
                     refused = api_calls.refused + excluded.refused",
            )
            .bind(vendor)
            .bind(scope)
            .bind(hour)
            .bind(calls)
            .bind(refused)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context("add API calls")?;
        written += calls;
    }
    on_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO api_access (vendor, scope, last_ok_at, last_refused_at, refused_status) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (vendor, scope) DO UPDATE SET \
                 last_ok_at = CASE WHEN excluded.last_ok_at > api_access.last_ok_at \
                     THEN excluded.last_ok_at ELSE api_access.last_ok_at END, \
                 refused_status = CASE WHEN excluded.last_refused_at > api_access.last_refused_at \
                     THEN excluded.refused_status ELSE api_access.refused_status END, \
                 last_refused_at = CASE WHEN excluded.last_refused_at > api_access.last_refused_at \
                     THEN excluded.last_refused_at ELSE api_access.last_refused_at END",
        )
        .bind(vendor)
        .bind(scope)
        .bind(tally.last_ok_at)
        .bind(tally.last_refused_at)
        .bind(i32::from(tally.refused_status))
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })
    .context("record the latest API answers")?;
    Ok(written)
}

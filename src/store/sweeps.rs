//! The `sweeps` table: when each pair's last reconciliation sweep of each
//! kind ran, what it found, and (incremental sweeps) up to when it read.

use serde::Serialize;

use super::{
    Conn, Store, StoreError, Tx,
    columns::{parse_column, parse_json, text_enum},
    error::Context,
};

text_enum! {
    /// An incremental sweep reads what changed since its high-water mark; a
    /// full sweep reads everything (and so finds deletes).
    pub enum SweepKind {
        Incremental => "incremental",
        Full => "full",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sweep {
    pub pair: String,
    pub kind: SweepKind,
    pub last_started_at: Option<i64>,
    pub last_finished_at: Option<i64>,
    /// JSON summary of the last finished sweep.
    pub last_result: Option<serde_json::Value>,
    pub high_water: Option<i64>,
}

const SWEEP_COLUMNS: &str =
    "pair, kind, last_started_at, last_finished_at, last_result, high_water";

#[derive(sqlx::FromRow)]
struct SweepRow {
    pair: String,
    kind: String,
    last_started_at: Option<i64>,
    last_finished_at: Option<i64>,
    last_result: Option<String>,
    high_water: Option<i64>,
}

impl TryFrom<SweepRow> for Sweep {
    type Error = StoreError;

    fn try_from(r: SweepRow) -> Result<Sweep, StoreError> {
        Ok(Sweep {
            kind: parse_column("sweeps", "kind", &r.kind)?,
            last_result: r
                .last_result
                .map(|t| parse_json("sweeps", "last_result", &t))
                .transpose()?,
            pair: r.pair,
            last_started_at: r.last_started_at,
            last_finished_at: r.last_finished_at,
            high_water: r.high_water,
        })
    }
}

impl Store {
    pub async fn start_sweep(
        &self,
        pair: &str,
        kind: SweepKind,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.acquire().await?;
        on_conn!(conn.conn(), |c| {
            sqlx::query(
                "INSERT INTO sweeps (pair, kind, last_started_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (pair, kind) DO UPDATE SET last_started_at = excluded.last_started_at",
            )
            .bind(pair)
            .bind(kind.as_str())
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context("record a sweep's start")?;
        Ok(())
    }

    /// [`Tx::finish_sweep`] on its own.
    pub async fn finish_sweep(
        &self,
        pair: &str,
        kind: SweepKind,
        now: i64,
        result: &serde_json::Value,
        high_water: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut conn = self.acquire().await?;
        finish_sweep(conn.conn(), pair, kind, now, result, high_water).await
    }

    pub async fn get_sweep(
        &self,
        pair: &str,
        kind: SweepKind,
    ) -> Result<Option<Sweep>, StoreError> {
        let mut conn = self.acquire().await?;
        let sql = format!("SELECT {SWEEP_COLUMNS} FROM sweeps WHERE pair = $1 AND kind = $2");
        let row: Option<SweepRow> = on_conn!(conn.conn(), |c| {
            sqlx::query_as(&sql)
                .bind(pair)
                .bind(kind.as_str())
                .fetch_optional(c)
                .await
        })
        .context("read a sweep")?;
        row.map(Sweep::try_from).transpose()
    }

    pub async fn list_sweeps(&self) -> Result<Vec<Sweep>, StoreError> {
        let mut conn = self.acquire().await?;
        let sql = format!("SELECT {SWEEP_COLUMNS} FROM sweeps ORDER BY pair, kind");
        let rows: Vec<SweepRow> =
            on_conn!(conn.conn(), |c| { sqlx::query_as(&sql).fetch_all(c).await })
                .context("list sweeps")?;
        rows.into_iter().map(Sweep::try_from).collect()
    }
}

impl Tx {
    /// Record a finished sweep: its summary and, if given, the new high-water
    /// mark (None keeps the previous one, e.g. after a failed sweep).
    pub async fn finish_sweep(
        &mut self,
        pair: &str,
        kind: SweepKind,
        now: i64,
        result: &serde_json::Value,
        high_water: Option<i64>,
    ) -> Result<(), StoreError> {
        finish_sweep(self.conn(), pair, kind, now, result, high_water).await
    }
}

async fn finish_sweep(
    c: Conn<'_>,
    pair: &str,
    kind: SweepKind,
    now: i64,
    result: &serde_json::Value,
    high_water: Option<i64>,
) -> Result<(), StoreError> {
    on_conn!(c, |c| {
        sqlx::query(
            "INSERT INTO sweeps (pair, kind, last_finished_at, last_result, high_water) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (pair, kind) DO UPDATE SET \
                 last_finished_at = excluded.last_finished_at, \
                 last_result = excluded.last_result, \
                 high_water = COALESCE(excluded.high_water, sweeps.high_water)",
        )
        .bind(pair)
        .bind(kind.as_str())
        .bind(now)
        .bind(result.to_string())
        .bind(high_water)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })
    .context("record a sweep's end")?;
    Ok(())
}

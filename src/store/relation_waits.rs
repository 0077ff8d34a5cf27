//! The `relation_waits` table: records whose relation waits for a related
//! record to be linked in its target pair (see the migration's comment).
//! Written and read inside the commit's transaction, so that a link stored
//! and the reconcile it owes the waiting records are one atomic step.

use super::{Conn, StoreError, Tx, error::Context};

/// One related record a record's relation waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationWait {
    pub target_pair: String,
    /// A Notion page id or an Airtable record id of the target pair.
    pub target_id: String,
}

/// A record waiting (its pair and page).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Waiter {
    pub pair: String,
    pub notion_page_id: String,
}

impl Tx {
    /// The record's waits become exactly `waits` (none clears them).
    pub async fn set_relation_waits(
        &mut self,
        pair: &str,
        notion_page_id: &str,
        waits: &[RelationWait],
        now: i64,
    ) -> Result<(), StoreError> {
        clear(self.conn(), pair, notion_page_id).await?;
        for w in waits {
            insert(self.conn(), pair, notion_page_id, w, now).await?;
        }
        Ok(())
    }

    /// The records waiting for any of `ids` in `target_pair`; their waits
    /// for those ids are deleted (the caller queues their reconcile).
    pub async fn take_relation_waiters(
        &mut self,
        target_pair: &str,
        ids: &[&str],
    ) -> Result<Vec<Waiter>, StoreError> {
        let mut out = Vec::new();
        for id in ids {
            out.extend(take(self.conn(), target_pair, id).await?);
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

async fn clear(c: Conn<'_>, pair: &str, page: &str) -> Result<(), StoreError> {
    on_conn!(c, |c| {
        sqlx::query("DELETE FROM relation_waits WHERE pair = $1 AND notion_page_id = $2")
            .bind(pair)
            .bind(page)
            .execute(c)
            .await
            .map(|_| ())
    })
    .context("clear a record's relation waits")?;
    Ok(())
}

async fn insert(
    c: Conn<'_>,
    pair: &str,
    page: &str,
    w: &RelationWait,
    now: i64,
) -> Result<(), StoreError> {
    on_conn!(c, |c| {
        sqlx::query(
            "INSERT INTO relation_waits (pair, notion_page_id, target_pair, target_id, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(pair)
        .bind(page)
        .bind(&w.target_pair)
        .bind(&w.target_id)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ())
    })
    .context("store a relation wait")?;
    Ok(())
}

async fn take(c: Conn<'_>, target_pair: &str, id: &str) -> Result<Vec<Waiter>, StoreError> {
    let rows: Vec<(String, String)> = on_conn!(c, |c| {
        sqlx::query_as(
            "DELETE FROM relation_waits WHERE target_pair = $1 AND target_id = $2 \
             RETURNING pair, notion_page_id",
        )
        .bind(target_pair)
        .bind(id)
        .fetch_all(c)
        .await
    })
    .context("take the records waiting for a related record")?;
    Ok(rows
        .into_iter()
        .map(|(pair, notion_page_id)| Waiter {
            pair,
            notion_page_id,
        })
        .collect())
}

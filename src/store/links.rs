//! The `record_links` table: which Notion page is which Airtable record, per
//! pair, with the snapshot of the last synced values that the three-way merge
//! compares both sides against.

use serde::Serialize;

use super::{
    Conn, Store, StoreError, Tx,
    columns::{parse_column, parse_json, text_enum},
    error::Context,
};

/// Mapped field name → canonical value, as of the last successful sync.
pub type Snapshot = serde_json::Map<String, serde_json::Value>;

text_enum! {
    /// Who wrote the record last.
    pub enum SyncSource {
        Notion => "notion",
        Airtable => "airtable",
        /// The service itself (its own write; an event about it is an echo).
        Service => "service",
    }
}

text_enum! {
    /// Whether both sides of the link still exist where the pair expects them.
    pub enum LinkState {
        Active => "active",
        /// The page is in Notion's trash (the Airtable row was archived).
        NotionTrashed => "notion_trashed",
        /// The page was moved out of the pair's database.
        NotionMoved => "notion_moved",
        /// The Airtable record was deleted.
        AirtableDeleted => "airtable_deleted",
    }
}

/// A stored link.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordLink {
    pub id: i64,
    pub pair: String,
    pub notion_page_id: String,
    pub airtable_record_id: Option<String>,
    pub snapshot: Snapshot,
    pub sync_source: SyncSource,
    pub state: LinkState,
    pub notion_last_edited: Option<i64>,
    pub airtable_modified: Option<i64>,
    pub last_synced_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A link as the sync engine writes it after converging a record.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkUpsert {
    pub pair: String,
    pub notion_page_id: String,
    /// None keeps the stored record id (a link is never unset by an upsert).
    pub airtable_record_id: Option<String>,
    pub snapshot: Snapshot,
    pub sync_source: SyncSource,
    pub state: LinkState,
    /// None keeps the stored value.
    pub notion_last_edited: Option<i64>,
    /// None keeps the stored value.
    pub airtable_modified: Option<i64>,
}

const LINK_COLUMNS: &str = "id, pair, notion_page_id, airtable_record_id, snapshot, sync_source, \
     state, notion_last_edited, airtable_modified, last_synced_at, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct LinkRow {
    id: i64,
    pair: String,
    notion_page_id: String,
    airtable_record_id: Option<String>,
    snapshot: String,
    sync_source: String,
    state: String,
    notion_last_edited: Option<i64>,
    airtable_modified: Option<i64>,
    last_synced_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<LinkRow> for RecordLink {
    type Error = StoreError;

    fn try_from(r: LinkRow) -> Result<RecordLink, StoreError> {
        Ok(RecordLink {
            snapshot: parse_json("record_links", "snapshot", &r.snapshot)?,
            sync_source: parse_column("record_links", "sync_source", &r.sync_source)?,
            state: parse_column("record_links", "state", &r.state)?,
            id: r.id,
            pair: r.pair,
            notion_page_id: r.notion_page_id,
            airtable_record_id: r.airtable_record_id,
            notion_last_edited: r.notion_last_edited,
            airtable_modified: r.airtable_modified,
            last_synced_at: r.last_synced_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// Which side's id to look a link up by.
#[derive(Clone, Copy)]
enum By {
    Page,
    Record,
}

impl Store {
    pub async fn get_link_by_page(
        &self,
        pair: &str,
        notion_page_id: &str,
    ) -> Result<Option<RecordLink>, StoreError> {
        let mut conn = self.acquire().await?;
        get_link(conn.conn(), By::Page, pair, notion_page_id).await
    }

    pub async fn get_link_by_record(
        &self,
        pair: &str,
        airtable_record_id: &str,
    ) -> Result<Option<RecordLink>, StoreError> {
        let mut conn = self.acquire().await?;
        get_link(conn.conn(), By::Record, pair, airtable_record_id).await
    }

    /// One page of a pair's links in Notion page id order: pass the last page
    /// id seen as `after` to get the next page.
    pub async fn list_links(
        &self,
        pair: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<RecordLink>, StoreError> {
        let mut conn = self.acquire().await?;
        let sql = format!(
            "SELECT {LINK_COLUMNS} FROM record_links WHERE pair = $1 AND notion_page_id > $2 \
             ORDER BY notion_page_id LIMIT $3"
        );
        let rows: Vec<LinkRow> = on_conn!(conn.conn(), |c| {
            sqlx::query_as(&sql)
                .bind(pair)
                .bind(after.unwrap_or(""))
                .bind(limit)
                .fetch_all(c)
                .await
        })
        .context("list links")?;
        rows.into_iter().map(RecordLink::try_from).collect()
    }

    pub async fn count_links(&self, pair: &str) -> Result<i64, StoreError> {
        let mut conn = self.acquire().await?;
        on_conn!(conn.conn(), |c| {
            sqlx::query_scalar("SELECT COUNT(*) FROM record_links WHERE pair = $1")
                .bind(pair)
                .fetch_one(c)
                .await
        })
        .context("count links")
    }

    /// [`Tx::upsert_link`] in its own transaction.
    pub async fn upsert_link(&self, link: &LinkUpsert, now: i64) -> Result<i64, StoreError> {
        let mut conn = self.acquire().await?;
        upsert_link(conn.conn(), link, now).await
    }

    /// The snapshots of a pair's links to these pages (the status page
    /// reads a record's title from its snapshot). Pages without a link are
    /// absent; at most a page of ids at a time.
    pub async fn link_snapshots(
        &self,
        pair: &str,
        notion_page_ids: &[String],
    ) -> Result<Vec<(String, Snapshot)>, StoreError> {
        if notion_page_ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (0..notion_page_ids.len())
            .map(|i| format!("${}", i + 2))
            .collect();
        let sql = format!(
            "SELECT notion_page_id, snapshot FROM record_links \
             WHERE pair = $1 AND notion_page_id IN ({})",
            placeholders.join(", ")
        );
        let mut conn = self.acquire().await?;
        let rows: Vec<(String, String)> = on_conn!(conn.conn(), |c| {
            let mut q = sqlx::query_as(&sql).bind(pair);
            for id in notion_page_ids {
                q = q.bind(id);
            }
            q.fetch_all(c).await
        })
        .context("read link snapshots")?;
        rows.into_iter()
            .map(|(page, snapshot)| Ok((page, parse_json("record_links", "snapshot", &snapshot)?)))
            .collect()
    }

    /// Forget a link; true if there was one.
    pub async fn delete_link(&self, pair: &str, notion_page_id: &str) -> Result<bool, StoreError> {
        let mut conn = self.acquire().await?;
        delete_link(conn.conn(), pair, notion_page_id).await
    }
}

impl Tx {
    pub async fn get_link_by_page(
        &mut self,
        pair: &str,
        notion_page_id: &str,
    ) -> Result<Option<RecordLink>, StoreError> {
        get_link(self.conn(), By::Page, pair, notion_page_id).await
    }

    pub async fn get_link_by_record(
        &mut self,
        pair: &str,
        airtable_record_id: &str,
    ) -> Result<Option<RecordLink>, StoreError> {
        get_link(self.conn(), By::Record, pair, airtable_record_id).await
    }

    /// Create or update the link of (`pair`, `notion_page_id`) with its new
    /// snapshot; returns the link's id. A record id already linked to another
    /// page is a [`StoreError::is_conflict`] error.
    pub async fn upsert_link(&mut self, link: &LinkUpsert, now: i64) -> Result<i64, StoreError> {
        upsert_link(self.conn(), link, now).await
    }

    pub async fn delete_link(
        &mut self,
        pair: &str,
        notion_page_id: &str,
    ) -> Result<bool, StoreError> {
        delete_link(self.conn(), pair, notion_page_id).await
    }
}

async fn get_link(
    c: Conn<'_>,
    by: By,
    pair: &str,
    id: &str,
) -> Result<Option<RecordLink>, StoreError> {
    let column = match by {
        By::Page => "notion_page_id",
        By::Record => "airtable_record_id",
    };
    let sql = format!("SELECT {LINK_COLUMNS} FROM record_links WHERE pair = $1 AND {column} = $2");
    let row: Option<LinkRow> = on_conn!(c, |c| {
        sqlx::query_as(&sql)
            .bind(pair)
            .bind(id)
            .fetch_optional(c)
            .await
    })
    .context("read a link")?;
    row.map(RecordLink::try_from).transpose()
}

async fn upsert_link(c: Conn<'_>, link: &LinkUpsert, now: i64) -> Result<i64, StoreError> {
    let snapshot = serde_json::Value::Object(link.snapshot.clone()).to_string();
    on_conn!(c, |c| {
        sqlx::query_scalar(
            "INSERT INTO record_links (pair, notion_page_id, airtable_record_id, snapshot, \
                 sync_source, state, notion_last_edited, airtable_modified, last_synced_at, \
                 created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9) \
             ON CONFLICT (pair, notion_page_id) DO UPDATE SET \
                 airtable_record_id = COALESCE(excluded.airtable_record_id, \
                                               record_links.airtable_record_id), \
                 snapshot = excluded.snapshot, \
                 sync_source = excluded.sync_source, \
                 state = excluded.state, \
                 notion_last_edited = COALESCE(excluded.notion_last_edited, \
                                               record_links.notion_last_edited), \
                 airtable_modified = COALESCE(excluded.airtable_modified, \
                                              record_links.airtable_modified), \
                 last_synced_at = excluded.last_synced_at, \
                 updated_at = excluded.updated_at \
             RETURNING id",
        )
        .bind(&link.pair)
        .bind(&link.notion_page_id)
        .bind(&link.airtable_record_id)
        .bind(&snapshot)
        .bind(link.sync_source.as_str())
        .bind(link.state.as_str())
        .bind(link.notion_last_edited)
        .bind(link.airtable_modified)
        .bind(now)
        .fetch_one(c)
        .await
    })
    .context("store a link and its snapshot")
}

async fn delete_link(c: Conn<'_>, pair: &str, notion_page_id: &str) -> Result<bool, StoreError> {
    let deleted = on_conn!(c, |c| {
        sqlx::query("DELETE FROM record_links WHERE pair = $1 AND notion_page_id = $2")
            .bind(pair)
            .bind(notion_page_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })
    .context("delete a link")?;
    Ok(deleted == 1)
}

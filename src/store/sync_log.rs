//! The `sync_log` table: every change the service made, and every conflict it
//! resolved with both values and the winner. Append-only; pruned by age.

use serde::Serialize;

use super::{
    Conn, Store, StoreError, Tx,
    columns::{parse_column, parse_json, text_enum},
    error::Context,
    jobs::JobId,
};

text_enum! {
    /// Which way a value was written.
    pub enum SyncDirection {
        NotionToAirtable => "notion_to_airtable",
        AirtableToNotion => "airtable_to_notion",
        /// Nothing written (e.g. a conflict whose winner already held on both sides).
        Neither => "none",
    }
}

text_enum! {
    /// Why the service looked at the record.
    pub enum Cause {
        Webhook => "webhook",
        Sweep => "sweep",
        Initial => "initial",
        Manual => "manual",
        /// An `undo` put logged values back (the line's `undoes` names what).
        Undo => "undo",
    }
}

text_enum! {
    /// A side of a pair.
    pub enum Side {
        Notion => "notion",
        Airtable => "airtable",
    }
}

text_enum! {
    /// What happened to the record.
    pub enum LogAction {
        Create => "create",
        Update => "update",
        Archive => "archive",
        Restore => "restore",
        Delete => "delete",
        /// Two existing records were matched and linked (first run).
        Link => "link",
        /// The service decided not to write (e.g. an ambiguous match it reports).
        Skip => "skip",
    }
}

/// One change to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLogEntry {
    pub at: i64,
    pub pair: String,
    pub notion_page_id: Option<String>,
    pub airtable_record_id: Option<String>,
    pub action: LogAction,
    /// The mapped field; None for whole-record actions.
    pub field: Option<String>,
    pub old_value: Option<serde_json::Value>,
    pub new_value: Option<serde_json::Value>,
    pub direction: SyncDirection,
    pub cause: Cause,
    pub conflict: bool,
    pub winner: Option<Side>,
    pub detail: Option<String>,
    pub job_id: Option<JobId>,
    /// The engine run that wrote the line (`job-<id>`, `run-<hex>`).
    pub run_id: Option<String>,
    /// On an undo's line: the newest entry it undid.
    pub undoes: Option<i64>,
}

/// A stored log entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogEntry {
    pub id: i64,
    pub at: i64,
    pub pair: String,
    pub notion_page_id: Option<String>,
    pub airtable_record_id: Option<String>,
    pub action: LogAction,
    pub field: Option<String>,
    pub old_value: Option<serde_json::Value>,
    pub new_value: Option<serde_json::Value>,
    pub direction: SyncDirection,
    pub cause: Cause,
    pub conflict: bool,
    pub winner: Option<Side>,
    pub detail: Option<String>,
    pub job_id: Option<JobId>,
    pub run_id: Option<String>,
    pub undoes: Option<i64>,
}

/// Which entries to read, newest first. Pages: pass the smallest id of the
/// last page as `before_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogQuery {
    pub pair: Option<String>,
    /// A Notion page id or an Airtable record id (either side matches).
    pub record: Option<String>,
    /// Entries at or after this time.
    pub since: Option<i64>,
    pub before_id: Option<i64>,
    pub conflicts_only: bool,
    /// Only the lines of this engine run.
    pub run: Option<String>,
    pub limit: i64,
}

impl Default for LogQuery {
    fn default() -> Self {
        Self {
            pair: None,
            record: None,
            since: None,
            before_id: None,
            conflicts_only: false,
            run: None,
            limit: 100,
        }
    }
}

pub(super) const LOG_COLUMNS: &str = "id, at, pair, notion_page_id, airtable_record_id, action, field, \
     old_value, new_value, direction, cause, conflict, winner, detail, job_id, run_id, undoes";

#[derive(sqlx::FromRow)]
pub(super) struct LogRow {
    id: i64,
    at: i64,
    pair: String,
    notion_page_id: Option<String>,
    airtable_record_id: Option<String>,
    action: String,
    field: Option<String>,
    old_value: Option<String>,
    new_value: Option<String>,
    direction: String,
    cause: String,
    conflict: bool,
    winner: Option<String>,
    detail: Option<String>,
    job_id: Option<i64>,
    run_id: Option<String>,
    undoes: Option<i64>,
}

impl TryFrom<LogRow> for LogEntry {
    type Error = StoreError;

    fn try_from(r: LogRow) -> Result<LogEntry, StoreError> {
        let json = |column, text: Option<String>| {
            text.map(|t| parse_json("sync_log", column, &t)).transpose()
        };
        Ok(LogEntry {
            action: parse_column("sync_log", "action", &r.action)?,
            old_value: json("old_value", r.old_value)?,
            new_value: json("new_value", r.new_value)?,
            direction: parse_column("sync_log", "direction", &r.direction)?,
            cause: parse_column("sync_log", "cause", &r.cause)?,
            winner: r
                .winner
                .map(|w| parse_column("sync_log", "winner", &w))
                .transpose()?,
            id: r.id,
            at: r.at,
            pair: r.pair,
            notion_page_id: r.notion_page_id,
            airtable_record_id: r.airtable_record_id,
            field: r.field,
            conflict: r.conflict,
            detail: r.detail,
            job_id: r.job_id,
            run_id: r.run_id,
            undoes: r.undoes,
        })
    }
}

impl Store {
    /// [`Tx::append_log`] in its own transaction.
    pub async fn append_log(&self, entries: &[NewLogEntry]) -> Result<(), StoreError> {
        self.in_tx(async |tx| tx.append_log(entries).await).await
    }

    pub async fn query_log(&self, query: &LogQuery) -> Result<Vec<LogEntry>, StoreError> {
        let (sql, binds) = select_log(query);
        let mut conn = self.acquire().await?;
        let rows: Vec<LogRow> = on_conn!(conn.conn(), |c| {
            let mut q = sqlx::query_as(&sql);
            for bind in &binds {
                q = match bind {
                    Bind::Text(text) => q.bind(text.as_str()),
                    Bind::Int(n) => q.bind(*n),
                };
            }
            q.fetch_all(c).await
        })
        .context("read the sync log")?;
        rows.into_iter().map(LogEntry::try_from).collect()
    }

    /// The newest conflicts, optionally of one pair.
    pub async fn list_conflicts(
        &self,
        pair: Option<&str>,
        limit: i64,
    ) -> Result<Vec<LogEntry>, StoreError> {
        self.query_log(&LogQuery {
            pair: pair.map(str::to_owned),
            conflicts_only: true,
            limit,
            ..LogQuery::default()
        })
        .await
    }

    /// Delete entries older than `before`, a batch at a time; returns how
    /// many.
    pub async fn prune_log(&self, before: i64) -> Result<u64, StoreError> {
        self.delete_in_batches("prune the sync log", &super::prune::PRUNE_LOG, before)
            .await
    }
}

impl Tx {
    /// Append entries (typically with the new snapshot and the job's
    /// completion, in one transaction).
    pub async fn append_log(&mut self, entries: &[NewLogEntry]) -> Result<(), StoreError> {
        for entry in entries {
            insert_entry(self.conn(), entry).await?;
        }
        Ok(())
    }
}

async fn insert_entry(c: Conn<'_>, e: &NewLogEntry) -> Result<(), StoreError> {
    let old_value = e.old_value.as_ref().map(|v| v.to_string());
    let new_value = e.new_value.as_ref().map(|v| v.to_string());
    on_conn!(c, |c| {
        sqlx::query(
            "INSERT INTO sync_log (at, pair, notion_page_id, airtable_record_id, action, field, \
                 old_value, new_value, direction, cause, conflict, winner, detail, job_id, \
                 run_id, undoes) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(e.at)
        .bind(&e.pair)
        .bind(&e.notion_page_id)
        .bind(&e.airtable_record_id)
        .bind(e.action.as_str())
        .bind(&e.field)
        .bind(&old_value)
        .bind(&new_value)
        .bind(e.direction.as_str())
        .bind(e.cause.as_str())
        .bind(e.conflict)
        .bind(e.winner.map(Side::as_str))
        .bind(&e.detail)
        .bind(e.job_id)
        .bind(&e.run_id)
        .bind(e.undoes)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })
    .context("append to the sync log")?;
    Ok(())
}

/// A query parameter of either type.
#[derive(Debug, Clone)]
pub(super) enum Bind {
    Text(String),
    Int(i64),
}

/// The SELECT for `query` and its parameters in `$n` order: only the filters
/// asked for, so that each query can use its index.
pub(super) fn select_log(query: &LogQuery) -> (String, Vec<Bind>) {
    let mut binds = Vec::new();
    let mut param = |bind: Bind| {
        binds.push(bind);
        format!("${}", binds.len())
    };
    let mut conditions = Vec::new();
    if let Some(pair) = &query.pair {
        conditions.push(format!("pair = {}", param(Bind::Text(pair.clone()))));
    }
    if let Some(record) = &query.record {
        let p = param(Bind::Text(record.clone()));
        conditions.push(format!(
            "(notion_page_id = {p} OR airtable_record_id = {p})"
        ));
    }
    if let Some(since) = query.since {
        conditions.push(format!("at >= {}", param(Bind::Int(since))));
    }
    if let Some(before_id) = query.before_id {
        conditions.push(format!("id < {}", param(Bind::Int(before_id))));
    }
    if query.conflicts_only {
        conditions.push("conflict".to_owned());
    }
    if let Some(run) = &query.run {
        conditions.push(format!("run_id = {}", param(Bind::Text(run.clone()))));
    }
    let limit = param(Bind::Int(query.limit));
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let sql = format!("SELECT {LOG_COLUMNS} FROM sync_log {filter} ORDER BY id DESC LIMIT {limit}");
    (sql, binds)
}

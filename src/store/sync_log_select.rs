//! Reading the sync log for `undo`: one entry, one run's entries, or every
//! entry since a time, oldest first (the order the changes were made in).

use super::{
    Store, StoreError,
    error::Context,
    sync_log::{Bind, LOG_COLUMNS, LogAction, LogEntry, LogRow},
};

/// Which logged changes to take back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogSelection {
    /// One entry, by id.
    Entry(i64),
    /// Every entry of one engine run.
    Run(String),
    /// Every entry at or after `since` (epoch ms), of one pair or all.
    Since { since: i64, pair: Option<String> },
}

/// The most entries one selection may hold: a larger undo is split by
/// pair or by a later time (it would also take hours at the APIs' pace).
pub const MAX_SELECTED: i64 = 20_000;

impl Store {
    /// The selected entries, oldest first. An entry id that does not exist
    /// is an empty list (the caller says so).
    pub async fn select_log(&self, selection: &LogSelection) -> Result<Vec<LogEntry>, StoreError> {
        let (filter, binds) = match selection {
            LogSelection::Entry(id) => ("id = $1".to_owned(), vec![Bind::Int(*id)]),
            LogSelection::Run(run) => ("run_id = $1".to_owned(), vec![Bind::Text(run.clone())]),
            LogSelection::Since { since, pair: None } => {
                ("at >= $1".to_owned(), vec![Bind::Int(*since)])
            }
            LogSelection::Since {
                since,
                pair: Some(pair),
            } => (
                "pair = $1 AND at >= $2".to_owned(),
                vec![Bind::Text(pair.clone()), Bind::Int(*since)],
            ),
        };
        let sql = format!(
            "SELECT {LOG_COLUMNS} FROM sync_log WHERE {filter} ORDER BY id LIMIT {}",
            MAX_SELECTED + 1
        );
        self.log_rows(&sql, &binds, "select sync log entries to undo")
            .await
    }

    /// The record-level actions (create, restore…) committed together with
    /// a field change: same pair, page and commit time.
    pub async fn record_actions_at(
        &self,
        pair: &str,
        page_id: &str,
        at: i64,
    ) -> Result<Vec<LogAction>, StoreError> {
        let sql = format!(
            "SELECT {LOG_COLUMNS} FROM sync_log \
             WHERE notion_page_id = $1 AND at = $2 AND pair = $3 AND field IS NULL ORDER BY id"
        );
        let binds = [
            Bind::Text(page_id.to_owned()),
            Bind::Int(at),
            Bind::Text(pair.to_owned()),
        ];
        let rows = self
            .log_rows(&sql, &binds, "read a change's record actions")
            .await?;
        Ok(rows.into_iter().map(|e| e.action).collect())
    }

    async fn log_rows(
        &self,
        sql: &str,
        binds: &[Bind],
        what: &'static str,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let mut conn = self.acquire().await?;
        let rows: Vec<LogRow> = on_conn!(conn.conn(), |c| {
            let mut q = sqlx::query_as(sql);
            for bind in binds {
                q = match bind {
                    Bind::Text(text) => q.bind(text.as_str()),
                    Bind::Int(n) => q.bind(*n),
                };
            }
            q.fetch_all(c).await
        })
        .context(what)?;
        rows.into_iter().map(LogEntry::try_from).collect()
    }
}

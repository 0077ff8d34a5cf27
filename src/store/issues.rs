//! The `sync_issues` table: what the service could not do and keeps
//! reporting until it can. A mapped field stopped by schema drift, a value a
//! side refused, a link cell that is not a Notion id, a missing capability.
//!
//! Raising is idempotent (one row per pair × scope × subject × field; raising
//! again refreshes the message and `last_seen_at`) and reports whether the
//! issue is new, so callers log it once instead of on every sweep. Clearing
//! deletes the row.

use serde::Serialize;

use super::{
    Conn, Store, StoreError, Tx,
    columns::{parse_column, text_enum},
    error::Context,
};

text_enum! {
    /// What an issue is about.
    pub enum IssueScope {
        /// The whole pair (e.g. a capability the Notion token lacks).
        Pair => "pair",
        /// One mapped field (e.g. deleted or retyped on one side).
        Field => "field",
        /// One record (e.g. a value a side refused).
        Record => "record",
    }
}

/// An issue to raise.
#[derive(Debug, Clone, PartialEq)]
pub struct NewIssue<'a> {
    pub pair: &'a str,
    pub scope: IssueScope,
    /// The mapping's Notion property name (field), the page or row id
    /// (record), or a short code (pair).
    pub subject: &'a str,
    /// The field concerned within a record issue; `""` when none.
    pub field: &'a str,
    pub message: &'a str,
}

/// An open issue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Issue {
    pub id: i64,
    pub pair: String,
    pub scope: IssueScope,
    pub subject: String,
    pub field: String,
    pub message: String,
    pub first_seen_at: i64,
    pub last_seen_at: i64,
}

#[derive(sqlx::FromRow)]
struct IssueRow {
    id: i64,
    pair: String,
    scope: String,
    subject: String,
    field: String,
    message: String,
    first_seen_at: i64,
    last_seen_at: i64,
}

impl TryFrom<IssueRow> for Issue {
    type Error = StoreError;

    fn try_from(r: IssueRow) -> Result<Issue, StoreError> {
        Ok(Issue {
            scope: parse_column("sync_issues", "scope", &r.scope)?,
            id: r.id,
            pair: r.pair,
            subject: r.subject,
            field: r.field,
            message: r.message,
            first_seen_at: r.first_seen_at,
            last_seen_at: r.last_seen_at,
        })
    }
}

impl Store {
    /// Open `issue`, or refresh it if open; `true` when it is new.
    pub async fn raise_issue(&self, issue: &NewIssue<'_>, now: i64) -> Result<bool, StoreError> {
        let mut conn = self.acquire().await?;
        raise(conn.conn(), issue, now).await
    }

    /// Close one issue; `true` when it was open.
    pub async fn clear_issue(
        &self,
        pair: &str,
        scope: IssueScope,
        subject: &str,
        field: &str,
    ) -> Result<bool, StoreError> {
        let mut conn = self.acquire().await?;
        clear(conn.conn(), pair, scope, subject, Some(field))
            .await
            .map(|n| n > 0)
    }

    /// Close every issue of `subject` (all its fields); how many were open.
    pub async fn clear_issues(
        &self,
        pair: &str,
        scope: IssueScope,
        subject: &str,
    ) -> Result<u64, StoreError> {
        let mut conn = self.acquire().await?;
        clear(conn.conn(), pair, scope, subject, None).await
    }

    /// Open issues, oldest first, of one pair or of all.
    pub async fn open_issues(&self, pair: Option<&str>) -> Result<Vec<Issue>, StoreError> {
        let mut conn = self.acquire().await?;
        let filter = if pair.is_some() {
            "WHERE pair = $1"
        } else {
            ""
        };
        let sql = format!(
            "SELECT id, pair, scope, subject, field, message, first_seen_at, last_seen_at \
             FROM sync_issues {filter} ORDER BY id"
        );
        let rows: Vec<IssueRow> = on_conn!(conn.conn(), |c| {
            let mut q = sqlx::query_as(&sql);
            if let Some(pair) = pair {
                q = q.bind(pair);
            }
            q.fetch_all(c).await
        })
        .context("list the open sync issues")?;
        rows.into_iter().map(Issue::try_from).collect()
    }
}

impl Tx {
    /// [`Store::raise_issue`] inside a transaction (e.g. with a record's
    /// snapshot, so the issue and the state it describes commit together).
    pub async fn raise_issue(
        &mut self,
        issue: &NewIssue<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        raise(self.conn(), issue, now).await
    }

    /// [`Store::clear_issues`] inside a transaction.
    pub async fn clear_issues(
        &mut self,
        pair: &str,
        scope: IssueScope,
        subject: &str,
    ) -> Result<u64, StoreError> {
        clear(self.conn(), pair, scope, subject, None).await
    }

    /// Close every issue of `subject` except those of the fields in `keep`
    /// (which the caller raises again): what a record's fresh sync found
    /// fixed goes, what is still wrong stays open without being "new".
    pub async fn clear_issues_except(
        &mut self,
        pair: &str,
        scope: IssueScope,
        subject: &str,
        keep: &[&str],
    ) -> Result<u64, StoreError> {
        let placeholders: Vec<String> = (0..keep.len()).map(|i| format!("${}", i + 4)).collect();
        let mut sql =
            "DELETE FROM sync_issues WHERE pair = $1 AND scope = $2 AND subject = $3".to_owned();
        if !keep.is_empty() {
            sql.push_str(&format!(" AND field NOT IN ({})", placeholders.join(", ")));
        }
        on_conn!(self.conn(), |c| {
            let mut q = sqlx::query(&sql)
                .bind(pair)
                .bind(scope.as_str())
                .bind(subject);
            for field in keep {
                q = q.bind(*field);
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })
        .context("clear fixed sync issues")
    }
}

async fn raise(c: Conn<'_>, issue: &NewIssue<'_>, now: i64) -> Result<bool, StoreError> {
    // Look, then upsert: the caller needs to know whether the issue is new
    // (to log it once). A concurrent raise of the same issue can at worst
    // make both callers log it; the row stays one.
    let existed: Option<i64> = on_conn!(c, |c| {
        let existed = sqlx::query_scalar(
            "SELECT id FROM sync_issues \
             WHERE pair = $1 AND scope = $2 AND subject = $3 AND field = $4",
        )
        .bind(issue.pair)
        .bind(issue.scope.as_str())
        .bind(issue.subject)
        .bind(issue.field)
        .fetch_optional(&mut *c)
        .await;
        match existed {
            Ok(existed) => sqlx::query(
                "INSERT INTO sync_issues \
                 (pair, scope, subject, field, message, first_seen_at, last_seen_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6) \
                 ON CONFLICT (pair, scope, subject, field) DO UPDATE \
                 SET message = excluded.message, last_seen_at = excluded.last_seen_at",
            )
            .bind(issue.pair)
            .bind(issue.scope.as_str())
            .bind(issue.subject)
            .bind(issue.field)
            .bind(issue.message)
            .bind(now)
            .execute(&mut *c)
            .await
            .map(|_| existed),
            Err(e) => Err(e),
        }
    })
    .context("raise a sync issue")?;
    Ok(existed.is_none())
}

async fn clear(
    c: Conn<'_>,
    pair: &str,
    scope: IssueScope,
    subject: &str,
    field: Option<&str>,
) -> Result<u64, StoreError> {
    let sql = match field {
        Some(_) => {
            "DELETE FROM sync_issues \
             WHERE pair = $1 AND scope = $2 AND subject = $3 AND field = $4"
        }
        None => "DELETE FROM sync_issues WHERE pair = $1 AND scope = $2 AND subject = $3",
    };
    on_conn!(c, |c| {
        let mut q = sqlx::query(sql)
            .bind(pair)
            .bind(scope.as_str())
            .bind(subject);
        if let Some(field) = field {
            q = q.bind(field);
        }
        q.execute(c).await.map(|r| r.rows_affected())
    })
    .context("clear sync issues")
}

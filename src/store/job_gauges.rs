//! What `/metrics` reads from the store at scrape time, so that the gauges
//! are the tables' truth on every replica: live jobs per kind and state, and
//! open sync issues per pair and scope.

use super::{Store, StoreError, error::Context};

/// Live jobs of one kind in one state (`pending`, `running` or `dead`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobGauge {
    pub kind: String,
    pub state: String,
    pub count: i64,
}

/// Open sync issues of one pair and scope (`pair`, `field` or `record`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueGauge {
    pub pair: String,
    pub scope: String,
    pub count: i64,
}

/// Live jobs per kind and state.
pub(super) const LIVE_JOBS_BY_KIND: &str = "SELECT kind, state, COUNT(*) FROM jobs \
     WHERE state IN ('pending', 'running', 'dead') \
     GROUP BY kind, state ORDER BY kind, state";

impl Store {
    /// Pending, running and dead jobs per kind (done jobs are history, not
    /// load). Kinds and states with no job are absent.
    pub async fn live_jobs_by_kind(&self) -> Result<Vec<JobGauge>, StoreError> {
        let mut conn = self.acquire().await?;
        let rows: Vec<(String, String, i64)> = on_conn!(conn.conn(), |c| {
            sqlx::query_as(LIVE_JOBS_BY_KIND).fetch_all(c).await
        })
        .context("count live jobs per kind")?;
        Ok(rows
            .into_iter()
            .map(|(kind, state, count)| JobGauge { kind, state, count })
            .collect())
    }
}

impl Store {
    /// Open sync issues per pair and scope; pairs and scopes with none are
    /// absent.
    pub async fn open_issues_by_scope(&self) -> Result<Vec<IssueGauge>, StoreError> {
        let mut conn = self.acquire().await?;
        let rows: Vec<(String, String, i64)> = on_conn!(conn.conn(), |c| {
            sqlx::query_as(
                "SELECT pair, scope, COUNT(*) FROM sync_issues \
                 GROUP BY pair, scope ORDER BY pair, scope",
            )
            .fetch_all(c)
            .await
        })
        .context("count open sync issues")?;
        Ok(rows
            .into_iter()
            .map(|(pair, scope, count)| IssueGauge { pair, scope, count })
            .collect())
    }
}

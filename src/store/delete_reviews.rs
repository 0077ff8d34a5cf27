//! The `delete_reviews` table: the delete review queue. A delete the
//! engine holds is recorded once per record and action (the partial unique
//! index on open entries makes a rerun or a second replica a no-op); an
//! operator approves or rejects a pending entry (with the reconcile job that
//! carries the decision out, in one transaction); the engine closes an
//! entry once it is done, or once the record came back.

use serde::Serialize;

use super::{
    Conn, Store, StoreError, Tx,
    columns::{parse_column, text_enum},
    error::Context,
    jobs::{JobId, NewJob},
};

text_enum! {
    /// What a held delete would delete.
    pub enum DeleteAction {
        /// The Notion page was trashed or moved out (`on_notion_trash = "delete"`).
        DeleteAirtableRow => "delete_airtable_row",
        /// The Airtable row was deleted (`on_airtable_delete = "trash"`).
        TrashNotionPage => "trash_notion_page",
    }
}

text_enum! {
    /// Where an entry of the queue stands.
    pub enum ReviewState {
        Pending => "pending",
        Approved => "approved",
        Rejected => "rejected",
        Cleared => "cleared",
        Done => "done",
    }
}

/// A delete to hold.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDeleteReview<'a> {
    pub pair: &'a str,
    pub notion_page_id: &'a str,
    pub airtable_record_id: Option<&'a str>,
    pub action: DeleteAction,
    pub reason: &'a str,
    pub job_id: Option<JobId>,
}

/// An entry of the queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeleteReview {
    pub id: i64,
    pub pair: String,
    pub notion_page_id: String,
    pub airtable_record_id: Option<String>,
    pub action: DeleteAction,
    pub reason: String,
    pub state: ReviewState,
    pub detected_at: i64,
    pub detected_job_id: Option<JobId>,
    pub decided_at: Option<i64>,
    pub decided_by: Option<String>,
    pub decision_job_id: Option<JobId>,
    pub closed_at: Option<i64>,
    pub outcome: Option<String>,
}

impl DeleteReview {
    /// Still applies to its record (not done, cleared, or closed after a
    /// rejection).
    pub fn is_open(&self) -> bool {
        self.closed_at.is_none()
    }
}

/// An operator's answer to a pending entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approve,
    Reject,
}

impl Verdict {
    pub fn state(self) -> ReviewState {
        match self {
            Verdict::Approve => ReviewState::Approved,
            Verdict::Reject => ReviewState::Rejected,
        }
    }
}

/// What deciding an entry did.
#[derive(Debug, Clone, PartialEq)]
pub enum Decided {
    /// Decided; the reconcile job that carries it out.
    Done {
        entry: DeleteReview,
        job_id: JobId,
    },
    NotFound,
    /// Only a pending entry can be decided; nothing changed.
    NotPending(DeleteReview),
}

const COLUMNS: &str = "id, pair, notion_page_id, airtable_record_id, action, reason, state, \
     detected_at, detected_job_id, decided_at, decided_by, decision_job_id, closed_at, outcome";

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    pair: String,
    notion_page_id: String,
    airtable_record_id: Option<String>,
    action: String,
    reason: String,
    state: String,
    detected_at: i64,
    detected_job_id: Option<i64>,
    decided_at: Option<i64>,
    decided_by: Option<String>,
    decision_job_id: Option<i64>,
    closed_at: Option<i64>,
    outcome: Option<String>,
}

impl TryFrom<Row> for DeleteReview {
    type Error = StoreError;

    fn try_from(r: Row) -> Result<DeleteReview, StoreError> {
        Ok(DeleteReview {
            action: parse_column("delete_reviews", "action", &r.action)?,
            state: parse_column("delete_reviews", "state", &r.state)?,
            id: r.id,
            pair: r.pair,
            notion_page_id: r.notion_page_id,
            airtable_record_id: r.airtable_record_id,
            reason: r.reason,
            detected_at: r.detected_at,
            detected_job_id: r.detected_job_id,
            decided_at: r.decided_at,
            decided_by: r.decided_by,
            decision_job_id: r.decision_job_id,
            closed_at: r.closed_at,
            outcome: r.outcome,
        })
    }
}

impl Store {
    /// Entries newest first, of one pair and/or in one state.
    pub async fn list_delete_reviews(
        &self,
        pair: Option<&str>,
        state: Option<ReviewState>,
        limit: i64,
    ) -> Result<Vec<DeleteReview>, StoreError> {
        let mut conn = self.acquire().await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM delete_reviews \
             WHERE ($1 IS NULL OR pair = $1) AND ($2 IS NULL OR state = $2) \
             ORDER BY id DESC LIMIT $3"
        );
        let rows: Vec<Row> = on_conn!(conn.conn(), |c| {
            sqlx::query_as(&sql)
                .bind(pair)
                .bind(state.map(ReviewState::as_str))
                .bind(limit)
                .fetch_all(c)
                .await
        })
        .context("list the delete review queue")?;
        rows.into_iter().map(DeleteReview::try_from).collect()
    }

    /// The open entries of a pair (what the engine checks its plans against).
    pub async fn open_delete_reviews(&self, pair: &str) -> Result<Vec<DeleteReview>, StoreError> {
        let mut conn = self.acquire().await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM delete_reviews \
             WHERE pair = $1 AND closed_at IS NULL ORDER BY id"
        );
        let rows: Vec<Row> = on_conn!(conn.conn(), |c| {
            sqlx::query_as(&sql).bind(pair).fetch_all(c).await
        })
        .context("read the open delete reviews")?;
        rows.into_iter().map(DeleteReview::try_from).collect()
    }

    pub async fn get_delete_review(&self, id: i64) -> Result<Option<DeleteReview>, StoreError> {
        let mut conn = self.acquire().await?;
        get(conn.conn(), id).await
    }

    /// Pending entries per pair (the status page and `/metrics`).
    pub async fn pending_deletes_by_pair(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let mut conn = self.acquire().await?;
        on_conn!(conn.conn(), |c| {
            sqlx::query_as(
                "SELECT pair, COUNT(*) FROM delete_reviews WHERE state = 'pending' \
                 GROUP BY pair ORDER BY pair",
            )
            .fetch_all(c)
            .await
        })
        .context("count the pending deletes")
    }

    /// Approve or reject entry `id` if it is pending, and enqueue `job` (the
    /// record's reconcile, which carries the decision out) in the same
    /// transaction; anything else changes nothing.
    pub async fn decide_delete_review(
        &self,
        id: i64,
        verdict: Verdict,
        by: &str,
        job: &NewJob,
        now: i64,
    ) -> Result<Decided, StoreError> {
        let mut tx = self.begin().await?;
        let Some(entry) = get(tx.conn(), id).await? else {
            return Ok(Decided::NotFound);
        };
        if entry.state != ReviewState::Pending {
            return Ok(Decided::NotPending(entry));
        }
        let job_id = tx.enqueue(job, now).await?.id();
        let changed = on_conn!(tx.conn(), |c| {
            sqlx::query(
                "UPDATE delete_reviews SET state = $2, decided_at = $3, decided_by = $4, \
                 decision_job_id = $5 WHERE id = $1 AND state = 'pending'",
            )
            .bind(id)
            .bind(verdict.state().as_str())
            .bind(now)
            .bind(by)
            .bind(job_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context("decide a held delete")?;
        if changed == 0 {
            // Decided by someone else in between (SQLite cannot get here:
            // its transaction holds the write lock).
            tx.rollback().await?;
            let entry = self.get_delete_review(id).await?;
            return Ok(entry.map_or(Decided::NotFound, Decided::NotPending));
        }
        let entry = get(tx.conn(), id).await?.unwrap_or(entry);
        tx.commit().await?;
        Ok(Decided::Done { entry, job_id })
    }
}

impl Tx {
    /// Hold a delete: a new pending entry, unless the record already has an
    /// open one for this action. `true` when inserted.
    pub async fn hold_delete(
        &mut self,
        new: &NewDeleteReview<'_>,
        now: i64,
    ) -> Result<bool, StoreError> {
        on_conn!(self.conn(), |c| {
            sqlx::query(
                "INSERT INTO delete_reviews (pair, notion_page_id, airtable_record_id, action, \
                 reason, state, detected_at, detected_job_id) \
                 VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7) ON CONFLICT DO NOTHING",
            )
            .bind(new.pair)
            .bind(new.notion_page_id)
            .bind(new.airtable_record_id)
            .bind(new.action.as_str())
            .bind(new.reason)
            .bind(now)
            .bind(new.job_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected() > 0)
        })
        .context("hold a delete for review")
    }

    /// Close open entry `id` if it is still in state `from`, moving it to
    /// `to` with `outcome`. `true` when it was.
    pub async fn close_delete_review(
        &mut self,
        id: i64,
        from: ReviewState,
        to: ReviewState,
        outcome: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        on_conn!(self.conn(), |c| {
            sqlx::query(
                "UPDATE delete_reviews SET state = $3, closed_at = $4, outcome = $5 \
                 WHERE id = $1 AND state = $2 AND closed_at IS NULL",
            )
            .bind(id)
            .bind(from.as_str())
            .bind(to.as_str())
            .bind(now)
            .bind(outcome)
            .execute(c)
            .await
            .map(|r| r.rows_affected() > 0)
        })
        .context("close a delete review")
    }
}

async fn get(c: Conn<'_>, id: i64) -> Result<Option<DeleteReview>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM delete_reviews WHERE id = $1");
    let row: Option<Row> = on_conn!(c, |c| {
        sqlx::query_as(&sql).bind(id).fetch_optional(c).await
    })
    .context("read a delete review")?;
    row.map(DeleteReview::try_from).transpose()
}

//! The delete review queue in the engine: before a batch of plans is
//! written, the pair's open entries are read and applied to the plans
//! ([`crate::sync::review`], pure); the commit ([`super::persist`]) records
//! held deletes, marks approved ones done and closes entries whose record
//! came back, in the transaction that stores the links and the log.

use crate::{
    store::{DeleteReview, NewDeleteReview, ReviewState, Tx},
    sync::{
        pair::ResolvedPair,
        plan::Plan,
        review::{ReviewStep, review},
    },
};

use super::{Engine, persist::log_entry};

impl Engine {
    /// Apply the queue to `plans`: a wanted delete is held, made (approved)
    /// or dropped (rejected); entries whose record came back are cleared.
    pub(super) async fn review_deletes(
        &self,
        pair: &ResolvedPair,
        plans: &mut [Plan],
    ) -> anyhow::Result<()> {
        let entries = self.store.open_delete_reviews(pair.name()).await?;
        let review_on = pair.config.options.review_deletes;
        for plan in plans.iter_mut() {
            let open: Vec<&DeleteReview> = entries
                .iter()
                .filter(|e| e.notion_page_id == plan.page_id)
                .collect();
            review(plan, review_on, &open);
        }
        Ok(())
    }

    /// The job this engine works for, if any.
    pub(super) fn job_id(&self) -> Option<i64> {
        self.lease.as_ref().map(|l| l.job_id)
    }
}

/// Carry out `plan.review` inside the commit's transaction; the log lines
/// of what actually changed (a hold another run recorded first is not
/// logged twice).
pub(super) async fn commit_review(
    tx: &mut Tx,
    pair: &ResolvedPair,
    plan: &Plan,
    cause: crate::store::Cause,
    job_id: Option<i64>,
    now: i64,
) -> anyhow::Result<()> {
    let mut notes = Vec::new();
    for step in &plan.review {
        match step {
            ReviewStep::Hold {
                action,
                reason,
                note,
            } => {
                let new = NewDeleteReview {
                    pair: pair.name(),
                    notion_page_id: &plan.page_id,
                    airtable_record_id: plan.record_id.as_deref(),
                    action: *action,
                    reason,
                    job_id,
                };
                if tx.hold_delete(&new, now).await? {
                    tracing::info!(
                        pair = pair.name(),
                        page_id = %plan.page_id,
                        record_id = plan.record_id.as_deref().unwrap_or("-"),
                        action = %action,
                        "delete held for review: {reason}"
                    );
                    notes.push(note);
                }
            }
            ReviewStep::Done { id, outcome } => {
                tx.close_delete_review(*id, ReviewState::Approved, ReviewState::Done, outcome, now)
                    .await?;
            }
            ReviewStep::Close {
                id,
                from,
                to,
                outcome,
                note,
            } => {
                if tx
                    .close_delete_review(*id, *from, *to, outcome, now)
                    .await?
                {
                    tracing::info!(pair = pair.name(), page_id = %plan.page_id, review = id, "delete review closed: {outcome}");
                    notes.push(note);
                }
            }
        }
    }
    let entries: Vec<_> = notes
        .into_iter()
        .map(|c| log_entry(pair, plan, c, cause, now))
        .collect();
    if !entries.is_empty() {
        tx.append_log(&entries).await?;
    }
    Ok(())
}

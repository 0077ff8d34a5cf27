//! An operator's decision on the delete review queue, shared by the
//! `deletes` command, the admin API and the status page: the entry is
//! approved or rejected and the record's reconcile job is enqueued in one
//! transaction, so the engine carries the decision out through its normal
//! path (an approved delete is written and logged as usual; a rejected one
//! leaves the link as the `ignore` policy would).

use super::spec::{JobSpec, Trigger};
use crate::store::{Decided, Store, StoreError, Verdict, now_ms};

/// Approve or reject entry `id`; `by` says how (`command line`, `api`,
/// `status page`). Only a pending entry changes; see [`Decided`].
pub async fn decide(
    store: &Store,
    id: i64,
    verdict: Verdict,
    by: &str,
) -> Result<Decided, StoreError> {
    let Some(entry) = store.get_delete_review(id).await? else {
        return Ok(Decided::NotFound);
    };
    let spec = JobSpec::ReconcilePage {
        pair: entry.pair,
        page_id: entry.notion_page_id,
        trigger: Trigger::Manual,
    };
    let now = now_ms();
    let decided = store
        .decide_delete_review(id, verdict, by, &spec.to_new_job(now), now)
        .await?;
    if let Decided::Done { entry, job_id } = &decided {
        tracing::info!(
            review = id,
            pair = %entry.pair,
            page_id = %entry.notion_page_id,
            state = %entry.state,
            job_id,
            "held delete {} ({by})",
            entry.state
        );
    }
    Ok(decided)
}

/// Why a decision changed nothing, for an operator.
pub fn refusal(id: i64, decided: &Decided) -> Option<String> {
    match decided {
        Decided::Done { .. } => None,
        Decided::NotFound => Some(format!("no delete review {id}")),
        Decided::NotPending(entry) => Some(format!(
            "delete review {id} is {}, not pending: only a pending delete can be approved or \
             rejected; nothing changed",
            entry.state
        )),
    }
}

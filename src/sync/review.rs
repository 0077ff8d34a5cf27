//! The delete review queue, in pure code: given a record's plan, whether the
//! pair reviews deletes, and the record's open entries of the queue, decide
//! what happens to a delete the plan wants, and to each entry. The engine
//! reads the entries before and carries the steps out in the commit.
//!
//! - A delete wanted with no entry: held when review is on (the write is
//!   dropped, the link left as it was, a pending entry recorded and logged
//!   once); made at once otherwise.
//! - Pending: still held, silently. Approved: made (the entry is then done).
//!   Rejected: never made; the link takes the state the `ignore` policy
//!   gives it, logged the first time.
//! - An entry whose record came back (the page is in the data source again,
//!   the row exists again), whose target is gone already, or that the
//!   policy no longer wants, is closed: cleared (a rejected one stays
//!   rejected, closed), logged.

use super::plan::{AirtableWrite, Change, ChangeKind, NotionWrite, Plan};
use crate::store::{DeleteAction, DeleteReview, LinkState, ReviewState};

/// What the commit does for one entry (or a new one).
#[derive(Debug, Clone, PartialEq)]
pub enum ReviewStep {
    /// Record a pending entry; `note` is logged only if it is new (a rerun
    /// or another replica may have recorded it already).
    Hold {
        action: DeleteAction,
        reason: String,
        note: Change,
    },
    /// The approved delete is among this plan's writes: the entry is done.
    Done { id: i64, outcome: String },
    /// The entry no longer applies: move it from `from` to `to` and log `note`.
    Close {
        id: i64,
        from: ReviewState,
        to: ReviewState,
        outcome: String,
        note: Change,
    },
}

/// The delete (or trash) this plan would make, if any.
pub fn wanted_delete(plan: &Plan) -> Option<DeleteAction> {
    if matches!(plan.airtable, AirtableWrite::Delete { .. }) {
        Some(DeleteAction::DeleteAirtableRow)
    } else if matches!(plan.notion, NotionWrite::Trash { .. }) {
        Some(DeleteAction::TrashNotionPage)
    } else {
        None
    }
}

/// Apply the queue to `plan`: `open` are the record's open entries (of its
/// page), `review_on` the pair's `review_deletes`. Sets `plan.review`.
pub fn review(plan: &mut Plan, review_on: bool, open: &[&DeleteReview]) {
    let wanted = wanted_delete(plan);
    let mut steps = Vec::new();
    for entry in open {
        if Some(entry.action) == wanted {
            steps.extend(decided(plan, entry));
        } else if let Some(outcome) = no_longer_applies(plan, entry) {
            steps.push(close(entry, outcome));
        }
    }
    let has_entry = open.iter().any(|e| Some(e.action) == wanted);
    if let (Some(action), false, true) = (wanted, has_entry, review_on) {
        steps.push(hold(plan, action));
    }
    plan.review = steps;
}

/// A wanted delete with an entry: what its state says.
fn decided(plan: &mut Plan, entry: &DeleteReview) -> Option<ReviewStep> {
    match entry.state {
        ReviewState::Approved => {
            let by = entry.decided_by.as_deref().unwrap_or("an operator");
            let note = format!("approved in review (entry {}, {by})", entry.id);
            for c in plan
                .changes
                .iter_mut()
                .filter(|c| c.what == ChangeKind::Delete)
            {
                c.detail = Some(match c.detail.take() {
                    Some(d) => format!("{d}; {note}"),
                    None => note.clone(),
                });
            }
            Some(ReviewStep::Done {
                id: entry.id,
                outcome: format!("{} through the engine", done_words(entry.action)),
            })
        }
        ReviewState::Rejected => {
            reject(plan, entry);
            None
        }
        // Pending (or closed states, which `open` never holds): still held.
        _ => {
            keep_link(plan);
            None
        }
    }
}

/// A rejected delete: no write; the link as the `ignore` policy leaves it
/// (its state is the one the plan set), logged when it first gets there.
fn reject(plan: &mut Plan, entry: &DeleteReview) {
    drop_delete(plan);
    let first = plan.previous_state != plan.state;
    if !first {
        keep_link(plan);
        return;
    }
    let detail = format!(
        "{}: left the {} alone (the delete was rejected in review, entry {})",
        cause_words(plan, entry.action),
        target_words(entry.action),
        entry.id
    );
    plan.changes = vec![note(detail)];
}

/// Hold a new delete: nothing written, the link left as it was.
fn hold(plan: &mut Plan, action: DeleteAction) -> ReviewStep {
    let reason = cause_words(plan, action);
    keep_link(plan);
    ReviewStep::Hold {
        note: note(format!(
            "{reason}: deleting the {} is held for review (approve or reject it with \
             `deletes approve|reject ID`, the status page or the API)",
            target_words(action)
        )),
        reason,
        action,
    }
}

/// Why an open entry whose delete the plan does not want is over, if it is.
fn no_longer_applies(plan: &Plan, entry: &DeleteReview) -> Option<String> {
    let linked = plan.previous_state.is_some();
    match entry.action {
        DeleteAction::DeleteAirtableRow if plan.page_in_pair => {
            Some("the Notion page is back in the database".into())
        }
        // Only a linked row read by its id is known to be gone.
        DeleteAction::DeleteAirtableRow if linked && !plan.row_found => {
            Some("the Airtable row is gone already".into())
        }
        DeleteAction::TrashNotionPage if plan.row_found => Some("the Airtable row is back".into()),
        DeleteAction::TrashNotionPage if !plan.page_in_pair => {
            Some("the Notion page is not in the database any more".into())
        }
        // A rejected entry rests in the state `ignore` leaves the link in.
        _ if entry.state == ReviewState::Rejected => None,
        _ => Some("the pair's policy no longer deletes it".into()),
    }
}

fn close(entry: &DeleteReview, outcome: String) -> ReviewStep {
    let to = match entry.state {
        ReviewState::Rejected => ReviewState::Rejected,
        _ => ReviewState::Cleared,
    };
    let detail = format!(
        "delete review {} ({} the {}) cleared: {outcome}",
        entry.id,
        action_verb(entry.action),
        target_words(entry.action)
    );
    ReviewStep::Close {
        id: entry.id,
        from: entry.state,
        to,
        outcome,
        note: note(detail),
    }
}

/// No write, no log line, no link change: the record stays as it was.
fn keep_link(plan: &mut Plan) {
    drop_delete(plan);
    plan.changes.clear();
    plan.snapshot = None;
    plan.state = None;
}

fn drop_delete(plan: &mut Plan) {
    if matches!(plan.airtable, AirtableWrite::Delete { .. }) {
        plan.airtable = AirtableWrite::None;
    }
    if matches!(plan.notion, NotionWrite::Trash { .. }) {
        plan.notion = NotionWrite::None;
    }
}

/// Why the policy wants the delete, as the log and the queue say it.
fn cause_words(plan: &Plan, action: DeleteAction) -> String {
    match action {
        DeleteAction::DeleteAirtableRow if plan.state == Some(LinkState::NotionMoved) => {
            "the Notion page was moved out of the database (on_notion_trash = \"delete\")".into()
        }
        DeleteAction::DeleteAirtableRow => {
            "the Notion page was trashed (on_notion_trash = \"delete\")".into()
        }
        DeleteAction::TrashNotionPage => {
            "the Airtable row was deleted (on_airtable_delete = \"trash\")".into()
        }
    }
}

fn target_words(action: DeleteAction) -> &'static str {
    match action {
        DeleteAction::DeleteAirtableRow => "Airtable row",
        DeleteAction::TrashNotionPage => "Notion page",
    }
}

fn action_verb(action: DeleteAction) -> &'static str {
    match action {
        DeleteAction::DeleteAirtableRow => "delete",
        DeleteAction::TrashNotionPage => "trash",
    }
}

fn done_words(action: DeleteAction) -> &'static str {
    match action {
        DeleteAction::DeleteAirtableRow => "the Airtable row was deleted",
        DeleteAction::TrashNotionPage => "the Notion page was moved to the trash",
    }
}

/// A record-level log line that writes nothing.
fn note(detail: String) -> Change {
    Change::record(ChangeKind::Skip, None, detail)
}

#[cfg(test)]
#[path = "review_tests.rs"]
mod tests;

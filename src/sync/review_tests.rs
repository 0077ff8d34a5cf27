use super::*;
use crate::{store::Snapshot, sync::merge::Side};

/// A plan for a trashed page whose row the policy deletes.
fn delete_plan() -> Plan {
    Plan {
        page_id: "p1".into(),
        record_id: Some("rec1".into()),
        airtable: AirtableWrite::Delete {
            record_id: "rec1".into(),
        },
        snapshot: Some(Snapshot::new()),
        state: Some(LinkState::NotionTrashed),
        changes: vec![Change {
            what: ChangeKind::Delete,
            to: Some(Side::Airtable),
            ..note("deleted the Airtable row".into())
        }],
        row_found: true,
        previous_state: Some(LinkState::Active),
        ..Plan::default()
    }
}

fn entry(state: ReviewState) -> DeleteReview {
    DeleteReview {
        id: 7,
        pair: "specs".into(),
        notion_page_id: "p1".into(),
        airtable_record_id: Some("rec1".into()),
        action: DeleteAction::DeleteAirtableRow,
        reason: "trashed".into(),
        state,
        detected_at: 1,
        detected_job_id: None,
        decided_at: None,
        decided_by: Some("api".into()),
        decision_job_id: None,
        closed_at: None,
        outcome: None,
    }
}

#[test]
fn a_new_delete_is_held_with_nothing_written_and_the_link_unchanged() {
    let mut plan = delete_plan();
    review(&mut plan, true, &[]);
    assert_eq!(plan.writes(), 0);
    assert!(plan.snapshot.is_none() && plan.state.is_none() && plan.changes.is_empty());
    assert!(matches!(
        &plan.review[..],
        [ReviewStep::Hold {
            action: DeleteAction::DeleteAirtableRow,
            ..
        }]
    ));
    // Review off: the delete goes ahead as configured.
    let mut plan = delete_plan();
    review(&mut plan, false, &[]);
    assert_eq!(plan, delete_plan());
}

#[test]
fn pending_holds_silently_approved_deletes_rejected_ignores() {
    let mut plan = delete_plan();
    review(&mut plan, true, &[&entry(ReviewState::Pending)]);
    assert_eq!(plan.writes(), 0);
    assert!(plan.review.is_empty() && plan.changes.is_empty() && plan.state.is_none());

    let mut plan = delete_plan();
    review(&mut plan, true, &[&entry(ReviewState::Approved)]);
    assert_eq!(wanted_delete(&plan), Some(DeleteAction::DeleteAirtableRow));
    assert!(matches!(&plan.review[..], [ReviewStep::Done { id: 7, .. }]));
    assert!(
        plan.changes[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("approved in review")
    );

    let mut plan = delete_plan();
    review(&mut plan, true, &[&entry(ReviewState::Rejected)]);
    assert_eq!(plan.writes(), 0);
    assert_eq!(
        plan.state,
        Some(LinkState::NotionTrashed),
        "as `ignore` leaves it"
    );
    assert!(
        plan.changes[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("rejected")
    );
    // Once there, a rejected delete is dropped without a word.
    let mut again = delete_plan();
    again.previous_state = Some(LinkState::NotionTrashed);
    review(&mut again, true, &[&entry(ReviewState::Rejected)]);
    assert_eq!(again.writes(), 0);
    assert!(again.changes.is_empty() && again.state.is_none());
}

#[test]
fn an_entry_whose_record_came_back_is_cleared() {
    let restored = Plan {
        page_id: "p1".into(),
        page_in_pair: true,
        row_found: true,
        previous_state: Some(LinkState::Active),
        state: Some(LinkState::Active),
        ..Plan::default()
    };
    for (state, to) in [
        (ReviewState::Pending, ReviewState::Cleared),
        (ReviewState::Approved, ReviewState::Cleared),
        (ReviewState::Rejected, ReviewState::Rejected),
    ] {
        let mut plan = restored.clone();
        review(&mut plan, true, &[&entry(state)]);
        match &plan.review[..] {
            [
                ReviewStep::Close {
                    id: 7,
                    from,
                    to: got,
                    outcome,
                    ..
                },
            ] => {
                assert_eq!((*from, *got), (state, to));
                assert!(outcome.contains("back"), "{outcome}");
            }
            other => panic!("{other:?}"),
        }
    }
    // Still trashed, the row still there, the delete rejected: it stays.
    let mut rests = Plan {
        page_id: "p1".into(),
        row_found: true,
        previous_state: Some(LinkState::NotionTrashed),
        ..Plan::default()
    };
    review(&mut rests, true, &[&entry(ReviewState::Rejected)]);
    assert!(rests.review.is_empty());
}

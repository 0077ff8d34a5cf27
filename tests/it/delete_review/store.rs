//! The queue's table on its own: one open entry per record and action
//! whoever holds it (a second replica's insert is a no-op), a new one once
//! the old is closed, and decisions only on pending entries.

use notion_airtable_sync::{
    jobs::spec::{JobSpec, Trigger},
    store::{Decided, DeleteAction, NewDeleteReview, ReviewState, Verdict, now_ms},
};

use crate::common::TestDb;

pub async fn one_open_entry_per_record_and_decisions_only_while_pending(db: TestDb) {
    let store = &db.store;
    let held = NewDeleteReview {
        pair: "specs",
        notion_page_id: "p1",
        airtable_record_id: Some("rec1"),
        action: DeleteAction::DeleteAirtableRow,
        reason: "the Notion page was trashed",
        job_id: None,
    };
    let hold = async |new: &NewDeleteReview<'_>| {
        let mut tx = store.begin().await.unwrap();
        let inserted = tx.hold_delete(new, now_ms()).await.unwrap();
        tx.commit().await.unwrap();
        inserted
    };
    assert!(hold(&held).await);
    assert!(!hold(&held).await, "a second replica's hold adds nothing");
    let other_action = NewDeleteReview {
        action: DeleteAction::TrashNotionPage,
        ..held.clone()
    };
    assert!(hold(&other_action).await, "another action is another entry");
    let entries = store.open_delete_reviews("specs").await.unwrap();
    assert_eq!(entries.len(), 2);
    let id = entries[0].id;

    let job = JobSpec::ReconcilePage {
        pair: "specs".into(),
        page_id: "p1".into(),
        trigger: Trigger::Manual,
    }
    .to_new_job(now_ms());
    let decide = async |id: i64, verdict: Verdict| {
        store
            .decide_delete_review(id, verdict, "api", &job, now_ms())
            .await
            .unwrap()
    };
    assert_eq!(decide(999_999, Verdict::Approve).await, Decided::NotFound);
    let Decided::Done { entry, job_id } = decide(id, Verdict::Approve).await else {
        panic!("a pending entry is decided")
    };
    assert_eq!(entry.state, ReviewState::Approved);
    assert_eq!(entry.decision_job_id, Some(job_id));
    assert_eq!(entry.decided_by.as_deref(), Some("api"));
    assert!(
        store.get_job(job_id).await.unwrap().is_some(),
        "its job is queued"
    );
    let Decided::NotPending(unchanged) = decide(id, Verdict::Reject).await else {
        panic!("a decided entry is not decided again")
    };
    assert_eq!(unchanged, entry);

    // Once closed, the record can be held again (a new event).
    let mut tx = store.begin().await.unwrap();
    assert!(
        tx.close_delete_review(
            id,
            ReviewState::Approved,
            ReviewState::Done,
            "deleted",
            now_ms()
        )
        .await
        .unwrap()
    );
    tx.commit().await.unwrap();
    assert!(hold(&held).await);
    let all = store
        .list_delete_reviews(Some("specs"), None, 10)
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    let pending = store
        .list_delete_reviews(None, Some(ReviewState::Pending), 10)
        .await
        .unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(
        store.pending_deletes_by_pair().await.unwrap(),
        vec![("specs".to_owned(), 2)]
    );
}

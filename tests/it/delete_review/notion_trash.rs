//! A Notion page trashed under `on_notion_trash = "delete"`: its row's
//! delete is held, then approved, rejected, or cleared by a restore.

use notion_airtable_sync::store::{Cause, DeleteAction, LinkState, LogAction, ReviewState};

use super::support::{Review, synced};
use crate::common::TestDb;

pub async fn a_notion_trash_waits_for_review_before_its_row_is_deleted(db: TestDb) {
    let r = synced(db).await;
    let w = &r.w;
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    let pages: Vec<String> = w.team_n.page_ids[..3].to_vec();
    let rows: Vec<String> = pages
        .iter()
        .map(|p| w.row_for(p)["id"].as_str().unwrap().to_owned())
        .collect();
    for page in &pages {
        w.notion
            .set_trashed_as_person(page, &w.person(), true)
            .unwrap();
    }

    // Held: the webhook's reconcile, then two full sweeps (one entry each,
    // logged once); nothing deleted.
    let first = w
        .engine
        .reconcile_page(&w.pair, &pages[0], Cause::Webhook)
        .await
        .unwrap();
    assert_eq!((first.held_for_review, first.deleted), (1, 0), "{first:?}");
    let sweep = w.sweep(true).await;
    assert_eq!((sweep.held_for_review, sweep.deleted), (2, 0), "{sweep:?}");
    let again = w.sweep(true).await;
    assert_eq!((again.held_for_review, again.deleted), (0, 0), "{again:?}");
    assert_eq!(r.entries().await.len(), 3, "one entry per record");
    for (page, row) in pages.iter().zip(&rows) {
        assert!(
            w.airtable.record(base, table, row).is_some(),
            "row {row} deleted"
        );
        let entry = r.entry_of(page).await;
        assert_eq!(entry.state, ReviewState::Pending);
        assert_eq!(entry.action, DeleteAction::DeleteAirtableRow);
        assert_eq!(entry.airtable_record_id.as_deref(), Some(row.as_str()));
        assert!(entry.reason.contains("trashed"), "{}", entry.reason);
        assert_eq!(r.logged(page, "held for review").await, 1);
        r.assert_listed_pending(entry.id).await;
    }
    assert_eq!(r.pending_gauge().await, "3");

    // Approve (API): the record's reconcile job deletes the row through the engine.
    let approved = r.entry_of(&pages[0]).await.id;
    let response = r.api_decide(approved, "approve").await;
    assert_eq!(response.status(), 202);
    let again = r.api_decide(approved, "approve").await;
    assert_eq!(again.status(), 409, "already decided");
    assert!(again.text().await.unwrap().contains("not pending"));
    r.run_jobs().await;
    assert!(
        w.airtable.record(base, table, &rows[0]).is_none(),
        "deleted"
    );
    let done = r.entry_of(&pages[0]).await;
    assert_eq!(done.state, ReviewState::Done);
    assert!(done.closed_at.is_some());
    let deletes: Vec<_> = r
        .log_of(&pages[0])
        .await
        .into_iter()
        .filter(|e| e.action == LogAction::Delete)
        .collect();
    assert_eq!(deletes.len(), 1, "{deletes:#?}");
    assert!(
        deletes[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("approved in review")
    );

    // Reject (command line): nothing deleted; the link as `ignore` leaves it.
    let rejected = r.entry_of(&pages[1]).await.id;
    let out = r.cli(&["reject", &rejected.to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    r.run_jobs().await;
    assert!(w.airtable.record(base, table, &rows[1]).is_some());
    let link = w
        .engine
        .store
        .get_link_by_page(w.pair.name(), &pages[1])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(link.state, LinkState::NotionTrashed);
    assert_eq!(r.logged(&pages[1], "rejected in review").await, 1);

    // Cleared by itself: the third page comes back from the trash.
    w.notion
        .set_trashed_as_person(&pages[2], &w.person(), false)
        .unwrap();
    let sweep = w.sweep(true).await;
    assert_eq!((sweep.held_for_review, sweep.deleted), (0, 0), "{sweep:?}");
    let cleared = r.entry_of(&pages[2]).await;
    assert_eq!(cleared.state, ReviewState::Cleared);
    assert!(cleared.outcome.as_deref().unwrap().contains("back"));
    assert_eq!(r.logged(&pages[2], "cleared").await, 1);
    assert!(w.airtable.record(base, table, &rows[2]).is_some());

    // Later sweeps neither delete the rejected row nor queue it again.
    w.sweep(true).await;
    w.sweep(false).await;
    assert!(w.airtable.record(base, table, &rows[1]).is_some());
    let entries = r.entries().await;
    assert_eq!(entries.len(), 3, "{entries:#?}");
    assert_eq!(Review::state_of(&entries, rejected), ReviewState::Rejected);
    assert_eq!(
        r.logged(&pages[1], "rejected in review").await,
        1,
        "logged once"
    );
    r.assert_none_pending().await;

    // Deciding what is not pending is an error that changes nothing.
    let unknown = r.cli_refused("approve", 999_999);
    assert!(unknown.contains("no delete review 999999"), "{unknown}");
    let decided = r.cli_refused("approve", rejected);
    assert!(decided.contains("is rejected, not pending"), "{decided}");
    assert_eq!(r.api_decide(999_999, "reject").await.status(), 404);
    assert_eq!(r.api_decide(approved, "reject").await.status(), 409);
    assert_eq!(r.entries().await, entries, "nothing changed");
    assert!(w.airtable.record(base, table, &rows[1]).is_some());
}

//! An Airtable row deleted under `on_airtable_delete = "trash"`: its
//! page's trash is held, then approved, rejected, or cleared when the row
//! is restored from Airtable's trash (the same id comes back).

use notion_airtable_sync::store::{Cause, DeleteAction, LinkState, ReviewState};
use serde_json::json;

use super::support::{Review, synced};
use crate::common::TestDb;

pub async fn an_airtable_delete_waits_for_review_before_its_page_is_trashed(db: TestDb) {
    let r = synced(db).await;
    let w = &r.w;
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    let pages: Vec<String> = w.team_n.page_ids[5..8].to_vec();
    let rows: Vec<String> = pages
        .iter()
        .map(|p| w.row_for(p)["id"].as_str().unwrap().to_owned())
        .collect();
    for row in &rows {
        w.airtable
            .delete_record_as_person(base, table, row)
            .unwrap();
    }
    let in_trash = |page: &str| w.page(page)["in_trash"] == json!(true);

    // Held: the record's reconcile, then two full sweeps; no page trashed.
    let first = w
        .engine
        .reconcile_page(&w.pair, &pages[0], Cause::Webhook)
        .await
        .unwrap();
    assert_eq!(first.held_for_review, 1, "{first:?}");
    assert_eq!(w.sweep(true).await.held_for_review, 2);
    assert_eq!(w.sweep(true).await.held_for_review, 0, "no second entry");
    assert_eq!(r.entries().await.len(), 3);
    for (page, row) in pages.iter().zip(&rows) {
        assert!(!in_trash(page), "page {page} trashed");
        let entry = r.entry_of(page).await;
        assert_eq!(
            (entry.state, entry.action),
            (ReviewState::Pending, DeleteAction::TrashNotionPage)
        );
        assert_eq!(entry.airtable_record_id.as_deref(), Some(row.as_str()));
        assert!(
            entry.reason.contains("Airtable row was deleted"),
            "{}",
            entry.reason
        );
        assert_eq!(r.logged(page, "held for review").await, 1);
        r.assert_listed_pending(entry.id).await;
    }
    assert_eq!(r.pending_gauge().await, "3");

    // Approve (the status page's button): the job trashes the page. A
    // post from another site, or without the form's token, is refused.
    let approved = r.entry_of(&pages[0]).await.id;
    let forged = r
        .post_form(approved, "approve", "http://evil.example", None)
        .await;
    assert_eq!(forged, 403, "cross-site");
    let tokenless = r
        .post_form(approved, "approve", &r.server.url, Some("0000"))
        .await;
    assert_eq!(tokenless, 403, "wrong token");
    assert_eq!(r.entry_of(&pages[0]).await.state, ReviewState::Pending);
    let location = r.press(approved, "approve").await;
    assert_eq!(location, format!("/?review={approved}&decision=approved"));
    r.run_jobs().await;
    assert!(in_trash(&pages[0]), "trashed through the engine");
    assert_eq!(r.entry_of(&pages[0]).await.state, ReviewState::Done);
    assert_eq!(r.logged(&pages[0], "approved in review").await, 1);
    // Pressing it again changes nothing.
    let html = r.page().await;
    assert!(!html.contains(&format!("data-review=\"{approved}\"")));

    // Reject (API): the page stays; the link is as `ignore` leaves it.
    let rejected = r.entry_of(&pages[1]).await.id;
    assert_eq!(r.api_decide(rejected, "reject").await.status(), 202);
    r.run_jobs().await;
    assert!(!in_trash(&pages[1]));
    let link = w
        .engine
        .store
        .get_link_by_page(w.pair.name(), &pages[1])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(link.state, LinkState::AirtableDeleted);
    assert_eq!(r.logged(&pages[1], "rejected in review").await, 1);

    // Cleared by itself: a person restores the third row from Airtable's trash.
    let restore = format!(
        "{}/_sandbox/{base}/{table}/{}/restore",
        w.airtable.base_url(),
        rows[2]
    );
    let restored = reqwest::Client::new().post(restore).send().await.unwrap();
    assert_eq!(restored.status(), 200);
    w.sweep(true).await;
    let cleared = r.entry_of(&pages[2]).await;
    assert_eq!(cleared.state, ReviewState::Cleared);
    assert!(
        cleared
            .outcome
            .as_deref()
            .unwrap()
            .contains("Airtable row is back")
    );
    assert_eq!(r.logged(&pages[2], "cleared").await, 1);
    assert!(!in_trash(&pages[2]));
    assert_eq!(w.row_for(&pages[2])["id"], json!(rows[2]));

    // Later sweeps do not queue the rejected delete again.
    w.sweep(true).await;
    w.sweep(false).await;
    assert!(!in_trash(&pages[1]));
    let entries = r.entries().await;
    assert_eq!(entries.len(), 3, "{entries:#?}");
    assert_eq!(Review::state_of(&entries, rejected), ReviewState::Rejected);
    r.assert_none_pending().await;

    // Deciding a decided entry changes nothing.
    let decided = r.cli_refused("reject", approved);
    assert!(decided.contains("is done, not pending"), "{decided}");
    assert_eq!(r.api_decide(rejected, "approve").await.status(), 409);
    assert_eq!(r.entries().await, entries);
}

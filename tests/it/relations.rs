//! Relations ↔ linked records end to end against both sandboxes over HTTP,
//! on SQLite and Postgres, with two pairs (specs → epics): a relation set in
//! Notion reaches Airtable and back; a relation longer than Notion's
//! 25-reference page reads round-trips whole; a target not linked yet leaves
//! the field as it is (never a partial list), is reported, and the record
//! is queued again as soon as the target is linked; API calls per relation
//! edit. `check` refusing a relation whose target is not a pair is in
//! `relations::check`.

mod check;
pub mod setup;

use notion_airtable_sandbox::common::{CallLog, DeliveryKnobs};
use notion_airtable_sync::engine::webhooks::Ensured;
use notion_airtable_sync::store::{IssueScope, JobState};
use setup::{Two, new_epic_page, two_pairs};

use crate::common::TestDb;

fn titles(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("Epic {i}")).collect()
}

async fn records_of(w: &Two, pages: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for p in pages {
        out.push(w.record_of("epics", p).await);
    }
    out.sort();
    out
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn total(log: &CallLog) -> u64 {
    log.snapshot().iter().map(|c| c.count).sum()
}

async fn relations_cross_both_ways_and_long_lists_round_trip(db: TestDb) {
    let w = two_pairs(db, &titles(30)).await;
    w.sweep(&w.epics).await;
    w.sweep(&w.specs).await;
    let epics = w.epic_pages();
    assert_eq!(epics.len(), 30);
    let specs = w.team_n.page_ids.clone();

    // The specs table's webhook: its payloads are drained below (pings go nowhere).
    w.airtable.set_delivery(DeliveryKnobs {
        drop_rate: 1.0,
        ..DeliveryKnobs::default()
    });
    let Ensured::Created(hook) = w
        .engine
        .ensure_webhook(&w.specs, "https://sync.example.com/")
        .await
        .unwrap()
    else {
        panic!("a new webhook");
    };

    // Notion → Airtable, as record ids of the epics pair.
    w.relate_in_notion(&specs[0], &epics[..2]);
    w.notion.calls().reset();
    w.airtable.calls().reset();
    w.reconcile(&w.specs, &specs[0]).await;
    let row0 = w.record_of("specs", &specs[0]).await;
    assert_eq!(w.airtable_links(&row0), records_of(&w, &epics[..2]).await);
    // Calls for one relation edit: the page, the row, one write.
    let (n, a) = (total(w.notion.calls()), total(w.airtable.calls()));
    println!("API calls for one relation edit: Notion {n}, Airtable {a}");
    assert_eq!(
        (n, a),
        (1, 2),
        "{:?} {:?}",
        w.notion.calls().snapshot(),
        w.airtable.calls().snapshot()
    );
    // The link-cell write comes back as the service's echo: no job, no reads.
    let hook = w.db.store.get_webhook(&hook).await.unwrap().unwrap();
    let me = w.engine.airtable.whoami().await.unwrap().id;
    let drained = w
        .engine
        .drain_airtable_webhook(&w.specs, &hook, &me, 0)
        .await
        .unwrap();
    assert_eq!((drained.echoes, drained.jobs), (1, 0), "{drained:?}");

    // Airtable → Notion, order-insensitive: a reordered cell is no change.
    let row1 = w.record_of("specs", &specs[1]).await;
    let recs = records_of(&w, &epics[2..4]).await;
    w.relate_in_airtable(&row1, &[recs[1].clone(), recs[0].clone()]);
    w.sweep(&w.specs).await;
    assert_eq!(
        w.notion_links(&specs[1]).await,
        sorted(epics[2..4].to_vec())
    );

    // 30 references: past the 25 a page read shows, both ways.
    w.relate_in_notion(&specs[2], &epics);
    w.sweep(&w.specs).await;
    let row2 = w.record_of("specs", &specs[2]).await;
    assert_eq!(w.airtable_links(&row2), records_of(&w, &epics).await);
    let fewer = records_of(&w, &epics[..28]).await;
    w.relate_in_airtable(&row2, &fewer);
    w.sweep(&w.specs).await;
    let expected: Vec<String> = {
        let mut v = Vec::new();
        for e in &epics {
            if fewer.contains(&w.record_of("epics", e).await) {
                v.push(e.clone());
            }
        }
        sorted(v)
    };
    assert_eq!(w.notion_links(&specs[2]).await.len(), 28);
    assert_eq!(w.notion_links(&specs[2]).await, expected);

    // An epic row deleted in Airtable leaves the cells by Airtable's own
    // doing: Notion's reference to its page is not erased on that guess.
    let gone = epics[0].clone();
    let gone_row = w.record_of("epics", &gone).await;
    w.airtable
        .delete_record_as_person(&w.team_a.base_id, &w.epics_table, &gone_row)
        .unwrap();
    assert!(!w.airtable_links(&row0).contains(&gone_row));
    w.sweep(&w.epics).await;
    w.sweep(&w.specs).await;
    assert!(w.notion_links(&specs[0]).await.contains(&gone));
    assert!(w.notion_links(&specs[2]).await.contains(&gone));

    // A relation of specs to specs: translated through the same pair's links.
    let deps = [specs[3].clone(), specs[4].clone()];
    let refs: Vec<serde_json::Value> = deps
        .iter()
        .map(|id| serde_json::json!({ "id": id }))
        .collect();
    w.notion
        .update_page_as_person(
            &specs[5],
            &w.person(),
            serde_json::json!({ "Depends on": { "relation": refs } }),
        )
        .unwrap();
    w.sweep(&w.specs).await;
    let row5 = w.record_of("specs", &specs[5]).await;
    let row = w
        .airtable
        .record(&w.team_a.base_id, &w.team_a.table_id, &row5)
        .unwrap();
    let mut want = vec![
        w.record_of("specs", &deps[0]).await,
        w.record_of("specs", &deps[1]).await,
    ];
    want.sort();
    assert_eq!(setup::sorted(&row["fields"]["Depends on"]), want);

    // Converged: one more sweep of each pair writes nothing.
    for pair in [&w.specs, &w.epics] {
        let again = w.sweep(pair).await;
        assert_eq!(
            (again.updated_airtable, again.updated_notion),
            (0, 0),
            "{again:?}"
        );
    }
}

async fn a_target_not_linked_yet_waits_whole_and_is_resolved_once_linked(db: TestDb) {
    let w = two_pairs(db, &titles(2)).await;
    w.sweep(&w.epics).await;
    w.sweep(&w.specs).await;
    let epics = w.epic_pages();
    let specs = w.team_n.page_ids.clone();

    // Notion side: a new epic page, not synced yet.
    let fresh = new_epic_page(&w.notion, &w.epics_ds, &w.person(), "Epic later");
    w.relate_in_notion(&specs[0], &[epics[0].clone(), fresh.clone()]);
    w.reconcile(&w.specs, &specs[0]).await;
    let row0 = w.record_of("specs", &specs[0]).await;
    assert!(w.airtable_links(&row0).is_empty(), "never a partial list");
    let issues = w.db.store.open_issues(Some("specs")).await.unwrap();
    let issue = issues
        .iter()
        .find(|i| i.scope == IssueScope::Record && i.subject == specs[0] && i.field == "Epic")
        .unwrap_or_else(|| panic!("an issue for the relation: {issues:?}"));
    assert!(issue.message.contains(&fresh), "{}", issue.message);

    // The epic is linked: the spec is queued again in the same commit.
    w.sweep(&w.epics).await;
    let key = format!("record:specs:page:{}", specs[0]);
    let jobs =
        w.db.store
            .list_jobs(Some(JobState::Pending), 100)
            .await
            .unwrap();
    assert!(
        jobs.iter().any(|j| j.key == key),
        "{key} not queued: {jobs:?}"
    );
    w.reconcile(&w.specs, &specs[0]).await;
    let both = vec![epics[0].clone(), fresh.clone()];
    assert_eq!(w.airtable_links(&row0), records_of(&w, &both).await);
    let issues = w.db.store.open_issues(Some("specs")).await.unwrap();
    assert!(issues.iter().all(|i| i.subject != specs[0]), "{issues:?}");

    // Airtable side: a new epic row (no page yet) linked from a spec row.
    let (base, table) = (&w.team_a.base_id, &w.epics_table);
    let new_row = w
        .airtable
        .insert_record_as_person(base, table, serde_json::json!({ "Name": "Row epic" }))
        .unwrap();
    let row1 = w.record_of("specs", &specs[1]).await;
    let known = w.record_of("epics", &epics[1]).await;
    w.relate_in_airtable(&row1, &[known, new_row.clone()]);
    w.sweep(&w.specs).await;
    assert!(
        w.notion_links(&specs[1]).await.is_empty(),
        "never a partial list"
    );
    // The epics pair creates the row's page and links it; then the spec.
    w.sweep(&w.epics).await;
    let page =
        w.db.store
            .get_link_by_record("epics", &new_row)
            .await
            .unwrap()
            .unwrap();
    let key = format!("record:specs:page:{}", specs[1]);
    let jobs =
        w.db.store
            .list_jobs(Some(JobState::Pending), 100)
            .await
            .unwrap();
    assert!(
        jobs.iter().any(|j| j.key == key),
        "{key} not queued: {jobs:?}"
    );
    w.reconcile(&w.specs, &specs[1]).await;
    let expected = sorted(vec![epics[1].clone(), page.notion_page_id.clone()]);
    assert_eq!(w.notion_links(&specs[1]).await, expected);
}

/// Found by the model test: Airtable drops a deleted row from every link
/// cell by itself. Before the epics pair has seen the delete, a sync of the
/// spec must not take the shorter cell for a person's removal and erase
/// Notion's reference.
async fn an_epic_row_deleted_before_its_pair_syncs_keeps_notions_reference(db: TestDb) {
    let w = two_pairs(db, &titles(2)).await;
    w.sweep(&w.epics).await;
    w.sweep(&w.specs).await;
    let epics = w.epic_pages();
    let spec = w.team_n.page_ids[0].clone();
    w.relate_in_notion(&spec, &epics);
    w.reconcile(&w.specs, &spec).await;
    let row = w.record_of("specs", &spec).await;
    let gone = w.record_of("epics", &epics[0]).await;
    w.airtable
        .delete_record_as_person(&w.team_a.base_id, &w.epics_table, &gone)
        .unwrap();
    assert_eq!(w.airtable_links(&row).len(), 1, "Airtable dropped it");
    // The spec first, by its page and by a sweep: the epics pair has not run.
    w.reconcile(&w.specs, &spec).await;
    w.sweep(&w.specs).await;
    assert_eq!(w.notion_links(&spec).await, sorted(epics.clone()));
    // A person's removal of the other epic still crosses.
    w.relate_in_airtable(&row, &[]);
    w.sweep(&w.specs).await;
    assert_eq!(w.notion_links(&spec).await, vec![epics[0].clone()]);
}

/// Found by the model test: a Notion reference to an epic whose row was
/// deleted before the epics pair synced names a row Airtable no longer has
/// (422 `ROW_DOES_NOT_EXIST`). The link field alone is refused for the
/// record; its other fields still cross; once the epics pair has seen the
/// delete, the rest of the list crosses.
async fn a_reference_to_a_deleted_row_refuses_the_link_field_alone(db: TestDb) {
    let w = two_pairs(db, &titles(2)).await;
    w.sweep(&w.epics).await;
    w.sweep(&w.specs).await;
    let epics = w.epic_pages();
    let spec = w.team_n.page_ids[0].clone();
    let row = w.record_of("specs", &spec).await;
    let gone = w.record_of("epics", &epics[0]).await;
    w.airtable
        .delete_record_as_person(&w.team_a.base_id, &w.epics_table, &gone)
        .unwrap();
    w.relate_in_notion(&spec, &epics);
    let name = serde_json::json!({ "title": [{ "text": { "content": "Renamed" } }] });
    w.notion
        .update_page_as_person(&spec, &w.person(), serde_json::json!({ "Name": name }))
        .unwrap();
    let summary = w.reconcile(&w.specs, &spec).await;
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    let cells = w
        .airtable
        .record(&w.team_a.base_id, &w.team_a.table_id, &row)
        .unwrap();
    assert_eq!(cells["fields"]["Spec Name"], "Renamed", "the rest crossed");
    assert!(w.airtable_links(&row).is_empty(), "never a partial list");
    let issues = w.db.store.open_issues(Some("specs")).await.unwrap();
    assert!(
        issues
            .iter()
            .any(|i| i.subject == spec && i.field == "Epic"),
        "{issues:?}"
    );
    // The epics pair sees the delete: the live epic crosses, the gone one
    // stays in Notion.
    w.sweep(&w.epics).await;
    w.reconcile(&w.specs, &spec).await;
    let live = w.record_of("epics", &epics[1]).await;
    assert_eq!(w.airtable_links(&row), vec![live]);
    assert_eq!(w.notion_links(&spec).await, sorted(epics.clone()));
    let issues = w.db.store.open_issues(Some("specs")).await.unwrap();
    assert!(issues.iter().all(|i| i.subject != spec), "{issues:?}");
}

both_backends! {
    a_reference_to_a_deleted_row_refuses_the_link_field_alone,
    an_epic_row_deleted_before_its_pair_syncs_keeps_notions_reference,
    relations_cross_both_ways_and_long_lists_round_trip,
    a_target_not_linked_yet_waits_whole_and_is_resolved_once_linked,
}

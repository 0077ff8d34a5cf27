//! Selective sync (`[pair.scope]`) end to end against both sandboxes over
//! HTTP, on SQLite and Postgres: a scoped first sync syncs only the scope
//! and reads nothing else; a webhook job on a record out of scope writes
//! nothing; records enter (matched, never duplicated) and leave (unlinked,
//! both sides untouched); a scope changed after go-live is shown by a dry
//! run that writes nothing, then applied; gates on each side; an Airtable
//! view; scopes the schemas refuse.

mod commands;
mod helpers;

use crate::common;

use common::{
    TestDb,
    mapping::Mapping,
    world::{text_of, world_unthrottled},
};
use helpers::{
    link_count, log_details, pages_with_status, record_job, reset_calls, scope, set_status, status,
    writes,
};
use notion_airtable_sandbox::{
    airtable::{FieldSchema, FieldType},
    common::DeliveryKnobs,
};
use notion_airtable_sync::{
    config::SyncConfig,
    engine::{Summary, load_pair, webhooks::Ensured},
    store::Cause,
};
use serde_json::{Value, json};

/// A first sync scoped to `Status = Ready` creates rows for the Ready pages
/// only and plans no other page (the query carried the filter); a webhook
/// job for a Draft page writes nothing and links nothing.
async fn a_scoped_sync_syncs_only_the_scope_and_jobs_out_of_it_write_nothing(db: TestDb) {
    let mut w = world_unthrottled(db).await;
    // 60 more Draft pages: the data source now needs two query pages of a
    // hundred, its scope one.
    for i in 0..60 {
        let props = json!({
            "Name": { "title": [{ "text": { "content": format!("Draft {i}") } }] },
            "Status": { "select": { "name": "Draft" } },
        });
        w.notion
            .insert_page_as_person(&w.team_n.data_source_id, &w.person(), props)
            .unwrap();
    }
    scope(&mut w, r#"notion = ["Status = Ready"]"#, &[]).await;
    let ready = pages_with_status(&w, "Ready");
    assert!(ready.len() >= 5 && ready.len() < w.team_n.page_ids.len());
    reset_calls(&w);
    let summary = w.sweep(true).await;
    let queries = w
        .notion
        .calls()
        .count(Some("POST"), "/v1/data_sources/{data_source_id}/query");
    assert_eq!(queries, 1, "out-of-scope pages were read");
    assert_eq!(
        w.notion.calls().count(Some("GET"), "/v1/pages/{page_id}"),
        0
    );
    assert_eq!(summary.records_seen, ready.len(), "{summary:?}");
    assert_eq!(summary.created_in_airtable, ready.len(), "{summary:?}");
    assert_eq!(summary.entered_scope, ready.len(), "{summary:?}");
    let rows = w.rows();
    assert_eq!(rows.len(), ready.len());
    assert!(rows.iter().all(|r| r["fields"]["Status"] == json!("Ready")));
    for page in &ready {
        w.row_for(page);
    }

    let draft = pages_with_status(&w, "Draft").remove(0);
    let props = json!({ "Priority": { "select": { "name": "P0" } } });
    w.notion
        .update_page_as_person(&draft, &w.person(), props)
        .unwrap();
    reset_calls(&w);
    let summary = record_job(&w, &draft).await;
    assert_eq!(summary, Summary::default());
    assert_eq!(writes(&w), 0, "{:?}", w.airtable.calls().snapshot());
    assert_eq!(w.rows().len(), ready.len());
    let link = w.engine.store.get_link_by_page(w.pair.name(), &draft).await;
    assert!(link.unwrap().is_none());
    assert!(log_details(&w, &draft).await.is_empty());
}

/// A page entering the scope whose row a person already made (same key)
/// is linked to it, not given a second row; a page leaving is unlinked and
/// both its page and its row stay exactly as they were.
async fn entering_is_matched_and_leaving_unlinks_leaving_both_sides_alone(db: TestDb) {
    let mut w = world_unthrottled(db).await;
    scope(&mut w, r#"notion = ["Status = Ready"]"#, &[]).await;
    w.sweep(true).await;
    let (base, table) = (w.team_a.base_id.clone(), w.team_a.table_id.clone());
    let draft = pages_with_status(&w, "Draft").remove(0);
    let name = text_of(&w.page(&draft)["properties"]["Name"]);
    let existing = w
        .airtable
        .insert_record_as_person(&base, &table, json!({ "Spec Name": name, "Sprint": "S9" }))
        .unwrap();
    let rows_before = w.rows().len();

    // Entering by a webhook job: matched by key.
    set_status(&w, &draft, "Ready");
    let summary = record_job(&w, &draft).await;
    assert_eq!(summary.entered_scope, 1, "{summary:?}");
    assert_eq!(summary.created_in_airtable, 0, "{summary:?}");
    assert_eq!(w.rows().len(), rows_before, "no second row");
    assert_eq!(w.row_for(&draft)["id"], json!(existing));
    assert_eq!(text_of(&w.page(&draft)["properties"]["Sprint"]), "S9");
    let details = log_details(&w, &draft).await;
    assert!(
        details.iter().any(|d| d.starts_with("entered the scope")),
        "{details:?}"
    );

    // Leaving: unlinked, nothing written anywhere.
    let leaving = pages_with_status(&w, "Ready").remove(0);
    set_status(&w, &leaving, "Shipped");
    let page_before = w.page(&leaving);
    let row_before = w.row_for(&leaving);
    reset_calls(&w);
    let summary = record_job(&w, &leaving).await;
    assert_eq!(summary.left_scope, 1, "{summary:?}");
    assert_eq!(writes(&w), 0);
    assert_eq!(w.page(&leaving), page_before);
    assert_eq!(w.row_for(&leaving), row_before);
    let link = w
        .engine
        .store
        .get_link_by_page(w.pair.name(), &leaving)
        .await;
    assert!(link.unwrap().is_none());
    let details = log_details(&w, &leaving).await;
    assert!(
        details.iter().any(|d| d.starts_with("left the scope")),
        "{details:?}"
    );
    // Out of scope now: its edits go nowhere, and a sweep leaves it.
    let props = json!({ "Priority": { "select": { "name": "P0" } } });
    w.notion
        .update_page_as_person(&leaving, &w.person(), props)
        .unwrap();
    reset_calls(&w);
    let summary = w.sweep(true).await;
    assert_eq!(summary.left_scope + summary.entered_scope, 0, "{summary:?}");
    assert_eq!(writes(&w), 0, "{summary:?}");
    assert_eq!(w.row_for(&leaving), row_before);
}

/// A checkbox gate on each side: either tick brings a record in (a row
/// ticked in Airtable is matched to its unticked page by key, no page is
/// created); unticked on both, it leaves. With `on_leave = "archive"` the
/// row takes the `on_notion_trash` values.
async fn gates_on_each_side_let_either_tick_bring_a_record_in(db: TestDb) {
    let mut w = world_unthrottled(db).await;
    let (base, table) = (w.team_a.base_id.clone(), w.team_a.table_id.clone());
    let gate = json!({ "properties": { "Sync": { "checkbox": {} } } });
    w.notion
        .update_data_source_as_person(&w.team_n.data_source_id, &w.person(), gate)
        .unwrap();
    w.airtable
        .create_field_as_person(&base, &table, FieldSchema::new("Sync", FieldType::Checkbox))
        .unwrap();
    let gates = "notion_gate = \"Sync\"\nairtable_gate = \"Sync\"\non_leave = \"archive\"";
    let create = [("create_notion_pages = false", "create_notion_pages = true")];
    scope(&mut w, gates, &create).await;
    let pages = w.team_n.page_ids.clone();
    let tick = json!({ "Sync": { "checkbox": true } });
    w.notion
        .update_page_as_person(&pages[0], &w.person(), tick)
        .unwrap();
    let name = text_of(&w.page(&pages[1])["properties"]["Name"]);
    let row = w
        .airtable
        .insert_record_as_person(&base, &table, json!({ "Spec Name": name, "Sync": true }))
        .unwrap();
    let untouched = w
        .airtable
        .insert_record_as_person(&base, &table, json!({ "Spec Name": "Not ticked" }))
        .unwrap();

    let summary = w.sweep(true).await;
    assert_eq!(summary.entered_scope, 2, "{summary:?}");
    assert_eq!(summary.created_in_notion, 0, "{summary:?}");
    assert_eq!(summary.created_in_airtable, 1, "{summary:?}");
    assert_eq!(w.row_for(&pages[1])["id"], json!(row));
    w.row_for(&pages[0]);
    assert_eq!(w.rows().len(), 3);
    let lone = w.airtable.record(&base, &table, &untouched).unwrap();
    assert!(lone["fields"].get("Notion Page ID").is_none(), "{lone}");
    assert_eq!(link_count(&w).await, 2);
    // The unticked row's own webhook job writes nothing (no page created).
    reset_calls(&w);
    let summary = w
        .engine
        .reconcile_record(&w.pair, &untouched, Cause::Webhook)
        .await
        .unwrap();
    assert_eq!(
        summary.created_in_notion + summary.entered_scope,
        0,
        "{summary:?}"
    );
    assert_eq!(writes(&w), 0);
    assert_eq!(w.airtable.record(&base, &table, &untouched).unwrap(), lone);

    // Page 1 stays in while its row is ticked; page 0 (its row unticked)
    // leaves when its page is unticked, its row archived.
    let untick = json!({ "Sync": { "checkbox": false } });
    w.notion
        .update_page_as_person(&pages[0], &w.person(), untick)
        .unwrap();
    let summary = record_job(&w, &pages[0]).await;
    assert_eq!(summary.left_scope, 1, "{summary:?}");
    assert_eq!(w.row_for(&pages[0])["fields"]["Status"], json!("Archived"));
    assert_eq!(record_job(&w, &pages[1]).await.left_scope, 0);
    assert_eq!(link_count(&w).await, 1);
    // A row ticked later enters through its own webhook job.
    let name = text_of(&w.page(&pages[2])["properties"]["Name"]);
    let late = w
        .airtable
        .insert_record_as_person(&base, &table, json!({ "Spec Name": name, "Sync": true }))
        .unwrap();
    let summary = w
        .engine
        .reconcile_record(&w.pair, &late, Cause::Webhook)
        .await
        .unwrap();
    assert_eq!(summary.entered_scope, 1, "{summary:?}");
    assert_eq!(w.row_for(&pages[2])["id"], json!(late));
    assert_eq!(w.page(&pages[2])["in_trash"], json!(false));
}

/// An Airtable view as the scope: the listing names the view, so only its
/// rows are read; its rows are matched to their pages by key, other rows
/// and pages are left alone.
async fn an_airtable_view_scopes_the_rows(db: TestDb) {
    let mut w = world_unthrottled(db).await;
    let (base, table) = (w.team_a.base_id.clone(), w.team_a.table_id.clone());
    w.airtable
        .create_view_as_person(&base, &table, "Ready rows", Some("{Status} = 'Ready'"))
        .unwrap();
    let pages = w.team_n.page_ids.clone();
    let mut rows = Vec::new();
    for (i, page) in pages.iter().enumerate().take(4) {
        let name = text_of(&w.page(page)["properties"]["Name"]);
        let status = if i < 2 { "Ready" } else { "Draft" };
        let fields = json!({ "Spec Name": name, "Status": status });
        rows.push(
            w.airtable
                .insert_record_as_person(&base, &table, fields)
                .unwrap(),
        );
    }
    // 100 rows out of the view: listing the table takes two pages of a
    // hundred, listing the view one.
    for i in 0..100 {
        let fields = json!({ "Spec Name": format!("Other {i}"), "Status": "Shipped" });
        w.airtable
            .insert_record_as_person(&base, &table, fields)
            .unwrap();
    }
    scope(&mut w, "airtable_view = \"Ready rows\"", &[]).await;
    reset_calls(&w);
    let summary = w.sweep(true).await;
    let listings = w.airtable.calls().count(Some("GET"), "/v0/{base}/{table}");
    assert_eq!(listings, 1, "rows out of the view were read");
    assert_eq!(summary.entered_scope, 2, "{summary:?}");
    assert_eq!(summary.created_in_airtable, 0, "{summary:?}");
    assert_eq!(link_count(&w).await, 2);
    for (i, row) in rows.iter().enumerate() {
        let linked =
            w.airtable.record(&base, &table, row).unwrap()["fields"]["Notion Page ID"].clone();
        let want = if i < 2 { json!(pages[i]) } else { Value::Null };
        assert_eq!(linked, want, "row {i}");
    }
    // Notion's value wins the first contact (rule "notion"): the page's
    // Status reached the row, which so left the view; the next sweep
    // finds it out of the Airtable scope and the page, which has no
    // conditions of its own, cannot keep it in.
    let expected_left = (0..2)
        .filter(|i| status(&w, &pages[*i]) != json!("Ready"))
        .count();
    let summary = w.sweep(true).await;
    assert_eq!(summary.left_scope, expected_left, "{summary:?}");
}

/// Scopes the live schemas refuse stop the pair with a message naming it.
async fn scopes_the_schemas_refuse_are_named(db: TestDb) {
    let w = world_unthrottled(db).await;
    let mapping = Mapping::example(&w.team_n.database_id, &w.team_a.base_id);
    let bad = "notion_filter = '{\"property\": \"Ship Date\", \"date\": {\"past_week\": {}}}'\n\
               notion_gate = \"Status\"\nairtable_gate = \"Nope\"\nairtable_view = \"Mine\"";
    let text = format!("{}\n[pair.scope]\n{bad}\n", mapping.text());
    let config = SyncConfig::parse(&text).unwrap();
    let err = load_pair(&config.pairs[0], &w.engine.notion, &w.engine.airtable)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("pair \"specs\""), "{err}");
    for part in [
        "\"Ship Date\" is a date property",
        "notion_gate \"Status\" is a select property",
        "airtable_gate \"Nope\" is not a field",
        "airtable_view \"Mine\" is not a view",
    ] {
        assert!(err.contains(part), "{part} not in {err}");
    }
    let text = format!("{}\n[pair.scope]\non_leave = \"delete\"\n", mapping.text());
    let err = SyncConfig::parse(&text).unwrap_err();
    assert!(
        err.contains("pair \"specs\"") && err.contains("\"delete\""),
        "{err}"
    );
}

/// The Airtable webhook watches what the scope reads: the gate field
/// besides the mapped ones (so ticking it alone queues a job), every field
/// under a formula or a view; a webhook registered for other fields is
/// replaced.
async fn the_airtable_webhook_watches_what_the_scope_reads(db: TestDb) {
    let mut w = world_unthrottled(db).await;
    let (base, table) = (w.team_a.base_id.clone(), w.team_a.table_id.clone());
    w.airtable.set_delivery(DeliveryKnobs {
        drop_rate: 1.0,
        ..DeliveryKnobs::default()
    });
    let gate = w
        .airtable
        .create_field_as_person(&base, &table, FieldSchema::new("Sync", FieldType::Checkbox))
        .unwrap();
    scope(&mut w, "airtable_gate = \"Sync\"", &[]).await;
    let url = "https://sync.example.com/";
    let Ensured::Created(id) = w.engine.ensure_webhook(&w.pair, url).await.unwrap() else {
        panic!("a new webhook")
    };
    let listed = w.engine.airtable.list_webhooks(&base).await.unwrap();
    let watched = listed[0].specification["options"]["filters"]["watchDataInFieldIds"].clone();
    assert!(
        watched.as_array().unwrap().contains(&gate["id"]),
        "{watched}"
    );
    let again = w.engine.ensure_webhook(&w.pair, url).await.unwrap();
    assert_eq!(again, Ensured::Existing(id.clone()));

    let me = w.engine.airtable.whoami().await.unwrap().id;
    let row = w
        .airtable
        .insert_record_as_person(&base, &table, json!({ "Spec Name": "Gated" }))
        .unwrap();
    let hook = w.engine.store.get_webhook(&id).await.unwrap().unwrap();
    w.engine
        .drain_airtable_webhook(&w.pair, &hook, &me, 0)
        .await
        .unwrap();
    w.airtable
        .update_record_as_person(&base, &table, &row, json!({ "Sync": true }))
        .unwrap();
    let hook = w.engine.store.get_webhook(&id).await.unwrap().unwrap();
    let drained = w
        .engine
        .drain_airtable_webhook(&w.pair, &hook, &me, 0)
        .await
        .unwrap();
    assert_eq!(drained.jobs, 1, "{drained:?}");

    scope(&mut w, "airtable_formula = \"{Status} = 'Ready'\"", &[]).await;
    let replaced = w.engine.ensure_webhook(&w.pair, url).await.unwrap();
    assert!(
        matches!(replaced, Ensured::Created(ref new) if *new != id),
        "{replaced:?}"
    );
    let listed = w.engine.airtable.list_webhooks(&base).await.unwrap();
    assert_eq!(listed.len(), 1);
    let filters = &listed[0].specification["options"]["filters"];
    assert!(filters.get("watchDataInFieldIds").is_none(), "{filters}");
}

both_backends! {
    the_airtable_webhook_watches_what_the_scope_reads,
    a_scoped_sync_syncs_only_the_scope_and_jobs_out_of_it_write_nothing,
    entering_is_matched_and_leaving_unlinks_leaving_both_sides_alone,
    gates_on_each_side_let_either_tick_bring_a_record_in,
    an_airtable_view_scopes_the_rows,
    scopes_the_schemas_refuse_are_named,
}

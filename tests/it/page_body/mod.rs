//! `[pair.body]` end to end, against both sandboxes over HTTP, on SQLite and
//! Postgres: the Notion page's content ↔ an Airtable rich text field, both
//! ways, through the record jobs a webhook starts (`reconcile_page`,
//! `reconcile_record`) and through sweeps; a conflict decided by the rule
//! with both texts in the log; a body too long for Airtable refused and
//! reported with both sides unchanged; a sweep over unchanged bodies writes
//! nothing. The sandbox's markdown endpoints are tested in `sandbox`.

mod check;
mod sandbox;
mod serve;

use crate::common;

use common::{
    TestDb,
    world::{Extra, World, world_extended},
};
use notion_airtable_sandbox::common::CallLog;
use notion_airtable_sync::{
    store::{Cause, IssueScope, LogQuery},
    sync::body::BODY_FIELD,
};
use serde_json::{Value, json};

const ANCHOR: &str = "# Operational data:";

fn body_mapping(conflict: &str) -> String {
    format!(
        "[pair.body]\nairtable = \"Spec\"\ndirection = \"both\"\nconflict = \"{conflict}\"\n\n{ANCHOR}"
    )
}

async fn body_world(db: TestDb, conflict: &str) -> World {
    let extra = Extra {
        airtable_fields: vec![json!({ "name": "Spec", "type": "richText" })],
        ..Extra::default()
    };
    let mapping = body_mapping(conflict);
    world_extended(db, &[(ANCHOR, mapping.as_str())], extra).await
}

/// The row's Spec cell (rich text reads back with a trailing "\n").
fn spec(w: &World, page: &str) -> Value {
    w.row_for(page)["fields"]["Spec"].clone()
}

fn row_id(w: &World, page: &str) -> String {
    w.row_for(page)["id"].as_str().unwrap().to_owned()
}

fn set_spec(w: &World, page: &str, text: &str) {
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    w.airtable
        .update_record_as_person(base, table, &row_id(w, page), json!({ "Spec": text }))
        .unwrap();
}

/// Calls that change something (everything but reads and queries).
fn writes(calls: &CallLog) -> u64 {
    calls
        .snapshot()
        .iter()
        .filter(|c| {
            c.method != "GET" && !c.route.contains("query") && !c.route.contains("listRecords")
        })
        .map(|c| c.count)
        .sum()
}

fn total(calls: &CallLog) -> u64 {
    calls.snapshot().iter().map(|c| c.count).sum()
}

fn reset(w: &World) {
    w.notion.calls().reset();
    w.airtable.calls().reset();
}

async fn body_edits_flow_both_ways_and_an_unchanged_body_writes_nothing(db: TestDb) {
    let w = body_world(db, "notion").await;
    let person = w.person();
    w.sweep(true).await;
    let (a, b) = (w.team_n.page_ids[0].clone(), w.team_n.page_ids[1].clone());

    // Notion → Airtable, as the job a page.content_updated starts. A
    // heading 6 is what Notion stores as heading 4: Airtable gets that form.
    let text = "# Spec A\n\nFirst draft with **bold** and a [link](https://example.com).\n\n- one\n- two\n";
    w.notion.set_content_as_person(&a, &person, text).unwrap();
    reset(&w);
    w.engine
        .reconcile_page(&w.pair, &a, Cause::Webhook)
        .await
        .unwrap();
    assert_eq!(spec(&w, &a), json!(format!("{}\n", text.trim_end())));
    let (n_calls, a_calls) = (total(w.notion.calls()), total(w.airtable.calls()));
    // The figure: read the page and its content, read the row, write the row.
    assert_eq!(
        (n_calls, a_calls),
        (2, 2),
        "{:?} {:?}",
        w.notion.calls().snapshot(),
        w.airtable.calls().snapshot()
    );
    eprintln!("API calls for a Notion body edit: Notion {n_calls}, Airtable {a_calls}");

    // Airtable → Notion, as the job an Airtable webhook starts. (The first
    // Notion write of a page also stamps its record id property; the figure
    // is taken on the second edit.)
    for text in ["Plan B", "Plan B\n\n1. first\n2. second"] {
        set_spec(&w, &b, text);
        reset(&w);
        w.engine
            .reconcile_record(&w.pair, &row_id(&w, &b), Cause::Webhook)
            .await
            .unwrap();
        assert_eq!(w.notion.content(&b).unwrap(), text);
    }
    let (n_calls, a_calls) = (total(w.notion.calls()), total(w.airtable.calls()));
    // Read the row, read the page and its content, replace the content.
    assert_eq!(
        (n_calls, a_calls, writes(w.notion.calls())),
        (3, 1, 1),
        "{:?} {:?}",
        w.notion.calls().snapshot(),
        w.airtable.calls().snapshot()
    );
    eprintln!("API calls for an Airtable body edit: Notion {n_calls}, Airtable {a_calls}");

    // A sweep finds edits no webhook announced, both ways.
    w.notion
        .set_content_as_person(&b, &person, "Plan B, revised in Notion")
        .unwrap();
    set_spec(&w, &a, "# Spec A\n\nRevised in Airtable\n");
    let summary = w.sweep(true).await;
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    assert_eq!(spec(&w, &b), json!("Plan B, revised in Notion\n"));
    assert_eq!(
        w.notion.content(&a).unwrap(),
        "# Spec A\n\nRevised in Airtable"
    );

    // Converged: neither another sweep nor a record job writes anything
    // (the rich text's trailing newline is no difference).
    reset(&w);
    let again = w.sweep(true).await;
    assert_eq!(
        (again.updated_airtable, again.updated_notion),
        (0, 0),
        "{again:?}"
    );
    for page in [&a, &b] {
        w.engine
            .reconcile_page(&w.pair, page, Cause::Webhook)
            .await
            .unwrap();
    }
    assert_eq!(
        (writes(w.notion.calls()), writes(w.airtable.calls())),
        (0, 0),
        "{:?} {:?}",
        w.notion.calls().snapshot(),
        w.airtable.calls().snapshot()
    );

    // A person empties the long text: only then is the page's content
    // emptied (and the other page keeps its content).
    set_spec(&w, &b, "");
    w.engine
        .reconcile_record(&w.pair, &row_id(&w, &b), Cause::Webhook)
        .await
        .unwrap();
    assert_eq!(w.notion.content(&b).unwrap(), "");
    assert_eq!(
        w.notion.content(&a).unwrap(),
        "# Spec A\n\nRevised in Airtable"
    );
}

async fn both_edited_the_rule_decides_and_the_log_has_both_texts(db: TestDb) {
    let w = body_world(db, "airtable").await;
    let person = w.person();
    w.sweep(true).await;
    let a = w.team_n.page_ids[0].clone();
    w.notion
        .set_content_as_person(&a, &person, "Spec v1")
        .unwrap();
    w.sweep(true).await;
    assert_eq!(spec(&w, &a), json!("Spec v1\n"));

    w.notion
        .set_content_as_person(&a, &person, "Spec v2, Notion's")
        .unwrap();
    set_spec(&w, &a, "Spec v2, Airtable's");
    w.engine
        .reconcile_page(&w.pair, &a, Cause::Webhook)
        .await
        .unwrap();
    // conflict = "airtable": Airtable's text wins and reaches Notion.
    assert_eq!(w.notion.content(&a).unwrap(), "Spec v2, Airtable's");
    assert_eq!(spec(&w, &a), json!("Spec v2, Airtable's\n"));
    let log = w
        .engine
        .store
        .query_log(&LogQuery {
            pair: Some("specs".into()),
            conflicts_only: true,
            limit: 10,
            ..LogQuery::default()
        })
        .await
        .unwrap();
    let entry = log
        .iter()
        .find(|e| e.field.as_deref() == Some(BODY_FIELD))
        .unwrap_or_else(|| panic!("no body conflict in {log:#?}"));
    let texts = (entry.old_value.clone(), entry.new_value.clone());
    assert_eq!(
        texts,
        (
            Some(json!({ "type": "text", "value": "Spec v2, Notion's" })),
            Some(json!({ "type": "text", "value": "Spec v2, Airtable's" }))
        ),
        "{entry:#?}"
    );
    assert!(entry.conflict, "{entry:#?}");
}

async fn an_oversized_body_is_refused_and_reported_with_both_sides_unchanged(db: TestDb) {
    let w = body_world(db, "notion").await;
    let person = w.person();
    w.sweep(true).await;
    let a = w.team_n.page_ids[0].clone();
    set_spec(&w, &a, "Short spec");
    w.sweep(true).await;
    assert_eq!(w.notion.content(&a).unwrap(), "Short spec");

    // 100,001 characters: more than an Airtable long text holds.
    let long = "x".repeat(100_001);
    w.notion.set_content_as_person(&a, &person, &long).unwrap();
    for _ in 0..2 {
        reset(&w);
        w.engine
            .reconcile_page(&w.pair, &a, Cause::Webhook)
            .await
            .unwrap();
        assert_eq!(spec(&w, &a), json!("Short spec\n"), "Airtable unchanged");
        assert_eq!(w.notion.content(&a).unwrap(), long, "Notion unchanged");
        assert_eq!(writes(w.airtable.calls()) + writes(w.notion.calls()), 0);
        let issues = w.engine.store.open_issues(Some("specs")).await.unwrap();
        let issue = issues
            .iter()
            .find(|i| i.scope == IssueScope::Record && i.field == BODY_FIELD)
            .unwrap_or_else(|| panic!("no body issue in {issues:#?}"));
        assert!(
            issue.message.contains("100001 characters") && issue.message.contains("100000"),
            "{issue:#?}"
        );
    }

    // Shortened, it flows, and the issue closes.
    w.notion
        .set_content_as_person(&a, &person, "Short again")
        .unwrap();
    w.engine
        .reconcile_page(&w.pair, &a, Cause::Webhook)
        .await
        .unwrap();
    assert_eq!(spec(&w, &a), json!("Short again\n"));
    let issues = w.engine.store.open_issues(Some("specs")).await.unwrap();
    assert!(issues.is_empty(), "{issues:#?}");
}

async fn without_the_read_content_capability_the_body_is_reported_and_properties_sync(db: TestDb) {
    let w = body_world(db, "notion").await;
    let person = w.person();
    w.sweep(true).await;
    let a = w.team_n.page_ids[0].clone();
    w.notion.set_read_content(false);
    w.notion
        .set_content_as_person(&a, &person, "Unreadable")
        .unwrap();
    w.notion
        .update_page_as_person(
            &a,
            &person,
            json!({ "Priority": { "select": { "name": "P2" } } }),
        )
        .unwrap();
    w.engine
        .reconcile_page(&w.pair, &a, Cause::Webhook)
        .await
        .unwrap();
    let row = w.row_for(&a);
    assert_eq!(row["fields"]["Priority"], json!("P2"), "{row}");
    assert!(row["fields"].get("Spec").is_none(), "{row}");
    let issues = w.engine.store.open_issues(Some("specs")).await.unwrap();
    assert!(
        issues
            .iter()
            .any(|i| i.field == BODY_FIELD && i.message.contains("Read content")),
        "{issues:#?}"
    );
}

both_backends! {
    body_edits_flow_both_ways_and_an_unchanged_body_writes_nothing,
    both_edited_the_rule_decides_and_the_log_has_both_texts,
    an_oversized_body_is_refused_and_reported_with_both_sides_unchanged,
    without_the_read_content_capability_the_body_is_reported_and_properties_sync,
}

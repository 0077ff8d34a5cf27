//! Computed values over links, end to end against both sandboxes on SQLite and Postgres:
//! a Notion rollup over a relation (a count and the related titles) and a formula mirrored
//! into Airtable number and text fields, and an Airtable count and lookup over a link
//! field mirrored into a Notion number and text. Each follows a change of its inputs,
//! including a change made only to a related record; one more sweep writes nothing; and a
//! mapping that would write a rollup, lookup or count is refused when the pair is resolved.

use std::sync::Arc;

use notion_airtable_sync::{
    airtable::AirtableClient, clients::ratelimit::Budget, config::SyncConfig, engine::load_pair,
    notion::NotionClient, secret::Secret,
};
use serde_json::{Value, json};

use crate::common::{
    TestDb,
    mapping::Mapping,
    world::{Extra, World, text_of, world_extended},
};

use super::ANCHOR;

const FIELDS: &str = r#"[[pair.field]]
notion = "Title Caps"
airtable = "Title Caps"
direction = "notion_to_airtable"

[[pair.field]]
notion = "Dep Count"
airtable = "Dep Count"
direction = "notion_to_airtable"

[[pair.field]]
notion = "Dep Names"
airtable = "Dep Names"
direction = "notion_to_airtable"

[[pair.field]]
notion = "Blocked"
airtable = "Blocked"
direction = "airtable_to_notion"

[[pair.field]]
notion = "Blocked Names"
airtable = "Blocked Names"
direction = "airtable_to_notion"

# Operational data:"#;

fn extra() -> Extra {
    let rollup = |function: &str| {
        json!({ "rollup": { "relation_property_name": "Depends on",
                            "rollup_property_name": "Name", "function": function } })
    };
    Extra {
        notion_properties: json!({
            "Depends on": { "relation": { "data_source_id": "$DATA_SOURCE_ID",
                                          "single_property": {} } },
            "Dep Count": rollup("count"),
            "Dep Names": rollup("show_original"),
            "Title Caps": { "formula": { "expression": "upper(prop(\"Name\")) + \"!\"" } },
            "Blocked": { "number": { "format": "number" } },
            "Blocked Names": { "rich_text": {} },
        }),
        airtable_fields: vec![
            json!({ "name": "Blocks", "type": "multipleRecordLinks",
                    "options": { "linkedTableId": "$TABLE_ID" } }),
            json!({ "name": "Blocked", "type": "count",
                    "options": { "recordLinkFieldId": "Blocks" } }),
            json!({ "name": "Blocked Names", "type": "multipleLookupValues",
                    "options": { "recordLinkFieldId": "Blocks",
                                 "fieldIdInLinkedTable": "Spec Name" } }),
            json!({ "name": "Dep Count", "type": "number", "options": { "precision": 0 } }),
            json!({ "name": "Dep Names", "type": "multilineText" }),
            json!({ "name": "Title Caps", "type": "singleLineText" }),
        ],
        ..Extra::default()
    }
}

fn title(text: &str) -> Value {
    json!({ "title": [{ "type": "text", "text": { "content": text } }] })
}

fn name_of(w: &World, page: &str) -> String {
    text_of(&w.page(page)["properties"]["Name"])
}

async fn sweeps(w: &World, n: usize) {
    for _ in 0..n {
        let summary = w.sweep(true).await;
        assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    }
}

async fn rollups_lookups_and_counts_cross_after_their_inputs_change(db: TestDb) {
    let w = world_extended(db, &[(ANCHOR, FIELDS)], extra()).await;
    let (base, table) = (w.team_a.base_id.clone(), w.team_a.table_id.clone());
    sweeps(&w, 2).await;
    let pages = w.team_n.page_ids.clone();
    let (p0, p1, p2) = (&pages[0], &pages[1], &pages[2]);
    // Nothing linked yet: counts of 0 on both sides.
    assert_eq!(w.row_for(p0)["fields"]["Dep Count"].as_f64(), Some(0.0));
    assert_eq!(
        w.page(p0)["properties"]["Blocked"]["number"].as_f64(),
        Some(0.0)
    );

    // People link: in Notion page 0 depends on pages 1 and 2; in Airtable its row
    // blocks the rows of pages 1 and 2. Only page 0 and its row change.
    let person = w.person();
    let relation = json!({ "relation": [{ "id": p1 }, { "id": p2 }] });
    w.notion
        .update_page_as_person(p0, &person, json!({ "Depends on": relation }))
        .unwrap();
    let row = |page: &str| w.row_for(page)["id"].as_str().unwrap().to_owned();
    w.airtable
        .update_record_as_person(
            &base,
            &table,
            &row(p0),
            json!({ "Blocks": [row(p1), row(p2)] }),
        )
        .unwrap();
    sweeps(&w, 1).await;
    let names = |pages: &[&String]| {
        pages
            .iter()
            .map(|p| name_of(&w, p))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let f = &w.row_for(p0)["fields"];
    assert_eq!(f["Dep Count"].as_f64(), Some(2.0));
    assert_eq!(f["Dep Names"], json!(names(&[p1, p2])));
    let p = &w.page(p0)["properties"];
    assert_eq!(p["Blocked"]["number"].as_f64(), Some(2.0));
    assert_eq!(text_of(&p["Blocked Names"]), names(&[p1, p2]));

    // An input changes in a related record only: page 1's title. Notion's rollup on
    // page 0 follows at once; the title reaches row 1's Spec Name, Airtable's lookup on
    // row 0 follows, and the next sweep brings it to page 0.
    w.notion
        .update_page_as_person(p1, &person, json!({ "Name": title("Renamed dependency") }))
        .unwrap();
    sweeps(&w, 2).await;
    assert_eq!(
        w.row_for(p1)["fields"]["Title Caps"],
        json!("RENAMED DEPENDENCY!")
    );
    let expected = format!("Renamed dependency, {}", name_of(&w, p2));
    assert_eq!(w.row_for(p0)["fields"]["Dep Names"], json!(expected));
    assert_eq!(
        text_of(&w.page(p0)["properties"]["Blocked Names"]),
        expected
    );

    // A person types over a mirror: the computed side owns it and puts it back.
    w.airtable
        .update_record_as_person(&base, &table, &row(p0), json!({ "Dep Count": 7 }))
        .unwrap();
    sweeps(&w, 1).await;
    assert_eq!(w.row_for(p0)["fields"]["Dep Count"].as_f64(), Some(2.0));

    // Converged: one more sweep writes nothing.
    let again = w.sweep(true).await;
    assert_eq!(
        (again.updated_airtable, again.updated_notion),
        (0, 0),
        "{again:?}"
    );

    wrong_directions_are_refused(&w).await;
}

/// Resolving the pair (what `serve` and `check` do) refuses a rollup, lookup or count
/// mapped toward it, with the reason.
async fn wrong_directions_are_refused(w: &World) {
    let notion = NotionClient::new(
        &w.notion.base_url(),
        Secret::new(w.notion.token()),
        Arc::new(Budget::unlimited("notion")),
    )
    .unwrap();
    let airtable =
        AirtableClient::new(&w.airtable.base_url(), Secret::new(w.airtable.token())).unwrap();
    let cases = [
        (
            "Dep Count",
            "Dep Count",
            "airtable_to_notion",
            "Notion `rollup` is computed",
        ),
        (
            "Blocked",
            "Blocked",
            "notion_to_airtable",
            "Airtable `count` is computed",
        ),
        (
            "Blocked Names",
            "Blocked Names",
            "notion_to_airtable",
            "Airtable `multipleLookupValues` is computed",
        ),
    ];
    for (n, a, direction, reason) in cases {
        let field = format!(
            "[[pair.field]]\nnotion = \"{n}\"\nairtable = \"{a}\"\ndirection = \"{direction}\"\n\n{ANCHOR}"
        );
        let mapping =
            Mapping::example(&w.team_n.database_id, &w.team_a.base_id).edit(ANCHOR, &field);
        let config = SyncConfig::parse(mapping.text()).unwrap();
        let refused = load_pair(&config.pairs[0], &notion, &airtable).await;
        let Err(error) = refused else {
            panic!("{n} -> {a} ({direction}) was accepted");
        };
        let message = format!("{error:#}");
        assert!(message.contains(reason), "{n}: {message}");
    }
}

/// A lookup's change in Airtable's webhook payloads: a person renames a linked row, and
/// the drain finds two records to reconcile, that row and the row whose lookup follows it;
/// reconciling the latter brings the new lookup to Notion without any sweep.
async fn a_lookup_that_follows_a_linked_row_arrives_by_webhook(db: TestDb) {
    use notion_airtable_sandbox::common::DeliveryKnobs;
    use notion_airtable_sync::{engine::webhooks::Ensured, store::Cause};
    let w = world_extended(db, &[(ANCHOR, FIELDS)], extra()).await;
    let (base, table) = (w.team_a.base_id.clone(), w.team_a.table_id.clone());
    // Pings go nowhere: the payloads are what matters.
    w.airtable.set_delivery(DeliveryKnobs {
        drop_rate: 1.0,
        ..DeliveryKnobs::default()
    });
    sweeps(&w, 1).await;
    let pages = w.team_n.page_ids.clone();
    let (p0, p1) = (&pages[0], &pages[1]);
    let row = |page: &str| w.row_for(page)["id"].as_str().unwrap().to_owned();
    w.airtable
        .update_record_as_person(&base, &table, &row(p0), json!({ "Blocks": [row(p1)] }))
        .unwrap();
    sweeps(&w, 1).await;
    assert_eq!(
        text_of(&w.page(p0)["properties"]["Blocked Names"]),
        name_of(&w, p1)
    );

    let created = w
        .engine
        .ensure_webhook(&w.pair, "https://sync.example.com/")
        .await
        .unwrap();
    let Ensured::Created(id) = created else {
        panic!("expected a new webhook, got {created:?}")
    };
    let me = w.engine.airtable.whoami().await.unwrap().id;
    let drain = || async {
        let hook = w.engine.store.get_webhook(&id).await.unwrap().unwrap();
        w.engine
            .drain_airtable_webhook(&w.pair, &hook, &me, 0)
            .await
            .unwrap()
    };
    w.airtable
        .update_record_as_person(
            &base,
            &table,
            &row(p1),
            json!({ "Spec Name": "Renamed in Airtable" }),
        )
        .unwrap();
    let drained = drain().await;
    assert_eq!((drained.jobs, drained.echoes), (2, 0), "{drained:?}");
    w.engine
        .reconcile_page(&w.pair, p0, Cause::Webhook)
        .await
        .unwrap();
    assert_eq!(
        text_of(&w.page(p0)["properties"]["Blocked Names"]),
        "Renamed in Airtable"
    );
    let again = drain().await;
    assert_eq!(again.jobs, 0, "{again:?}");
}

both_backends! {
    rollups_lookups_and_counts_cross_after_their_inputs_change,
    a_lookup_that_follows_a_linked_row_arrives_by_webhook,
}

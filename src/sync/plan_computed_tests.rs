//! Planning a computed field (a Notion formula mirrored one way into an
//! Airtable number): a result that does not fit is refused and reported,
//! an empty result never erases the mirror, a new result is written.

use serde_json::json;

use super::tests::{NOW, link, pair};
use super::*;
use crate::{
    config::{ConflictRule, Direction},
    store::LinkState,
    sync::convert::{Kind, computed::Fit},
};

/// The test pair with "Sprint" replaced by "Score": a Notion formula →
/// an Airtable number, one way.
fn computed_pair() -> ResolvedPair {
    let mut p = pair();
    let f = &mut p.fields[1];
    f.notion = "Score".into();
    f.airtable = "Score".into();
    f.notion_type = "formula".into();
    f.airtable_type = "number".into();
    f.kind = Kind::NotionComputed(Fit::Number);
    f.direction = Direction::NotionToAirtable;
    f.conflict = ConflictRule::Notion;
    f.notion_schema.kind = "formula".into();
    p
}

fn page(formula: Json) -> Page {
    serde_json::from_value(json!({
        "object": "page", "id": "p1", "in_trash": false,
        "created_time": "2026-11-01T10:00:00.000Z", "last_edited_time": "2026-11-20T10:00:00.000Z",
        "parent": { "type": "data_source_id", "data_source_id": "ds1", "database_id": "db1" },
        "url": "https://www.notion.so/Spec-p1",
        "properties": {
            "Status": { "id": "s", "type": "select", "select": { "name": "Ready" } },
            "Score": { "id": "f", "type": "formula", "formula": formula },
        }
    }))
    .unwrap()
}

fn record(score: Json) -> Record {
    serde_json::from_value(json!({
        "id": "rec1", "createdTime": "2026-11-01T10:00:00.000Z",
        "fields": { "Status": "Ready", "Score": score, "Notion Page ID": "p1",
                    "Notion URL": "https://www.notion.so/Spec-p1" }
    }))
    .unwrap()
}

/// A link whose snapshot holds Score = 5 (both sides agreed on 5).
fn synced_link() -> crate::store::RecordLink {
    let mut l = link("Ready", "", LinkState::Active);
    l.snapshot.remove("Sprint");
    l.snapshot.insert(
        "Score".into(),
        serde_json::to_value(Value::Number(5.0)).unwrap(),
    );
    l
}

#[test]
fn a_new_formula_result_is_written_to_airtable() {
    let p = page(json!({ "type": "number", "number": 7 }));
    let plan = plan_page(
        &computed_pair(),
        &p,
        Some(&record(json!(5))),
        Some(&synced_link()),
        NOW,
    );
    let AirtableWrite::Update { fields, .. } = &plan.airtable else {
        panic!("expected an update: {plan:?}");
    };
    assert_eq!(fields["Score"], json!(7.0));
    assert!(plan.refused.is_empty(), "{plan:?}");
}

#[test]
fn an_empty_formula_result_never_erases_the_mirror() {
    let p = page(json!({ "type": "number", "number": null }));
    let plan = plan_page(
        &computed_pair(),
        &p,
        Some(&record(json!(5))),
        Some(&synced_link()),
        NOW,
    );
    assert_eq!(plan.writes(), 0, "{plan:?}");
    assert!(plan.refused.is_empty(), "{plan:?}");
}

#[test]
fn a_text_result_into_a_number_field_is_refused_and_reported() {
    let p = page(json!({ "type": "string", "string": "soon" }));
    let plan = plan_page(
        &computed_pair(),
        &p,
        Some(&record(json!(5))),
        Some(&synced_link()),
        NOW,
    );
    assert_eq!(plan.writes(), 0, "{plan:?}");
    assert_eq!(plan.refused.len(), 1, "{plan:?}");
    let message = &plan.refused[0].message;
    assert!(message.contains("soon"), "{message}");
    assert!(
        message.contains("does not fit this Airtable field"),
        "{message}"
    );
    // The mirror's agreed value stays in the snapshot, so it is retried.
    assert_eq!(
        plan.snapshot.unwrap()["Score"],
        serde_json::to_value(Value::Number(5.0)).unwrap()
    );
}

#[test]
fn a_new_row_never_carries_a_value_into_a_computed_airtable_field() {
    // Notion number "Row" ← Airtable autoNumber "Row", and a person typed 5
    // in Notion: the row is created without it (Airtable refuses writes to
    // computed fields), Notion keeps it until Airtable's number comes.
    let mut p = pair();
    let f = &mut p.fields[1];
    f.notion = "Row".into();
    f.airtable = "Row".into();
    f.notion_type = "number".into();
    f.airtable_type = "autoNumber".into();
    f.kind = Kind::AirtableComputed(Fit::Number);
    f.direction = Direction::AirtableToNotion;
    f.notion_schema.kind = "number".into();
    let page: Page = serde_json::from_value(json!({
        "object": "page", "id": "p1", "in_trash": false,
        "created_time": "2026-11-01T10:00:00.000Z", "last_edited_time": "2026-11-20T10:00:00.000Z",
        "parent": { "type": "data_source_id", "data_source_id": "ds1", "database_id": "db1" },
        "url": "https://www.notion.so/Spec-p1",
        "properties": {
            "Status": { "id": "s", "type": "select", "select": { "name": "Ready" } },
            "Row": { "id": "r", "type": "number", "number": 5 },
        }
    }))
    .unwrap();
    let plan = plan_page(&p, &page, None, None, NOW);
    let AirtableWrite::Upsert(fields) = &plan.airtable else {
        panic!("expected an upsert: {plan:?}");
    };
    assert!(!fields.contains_key("Row"), "{fields:?}");
    assert_eq!(fields["Status"], json!("Ready"));
    assert_eq!(plan.notion, NotionWrite::None, "{plan:?}");
}

//! A status's group: resolved one way only, derived from the schema's
//! groups on every page read, and planned into Airtable like a select.

use serde_json::json;
use time::macros::datetime;

use super::*;
use crate::{
    airtable::{Record, TableSchema},
    config::SyncConfig,
    notion::DataSource,
    sync::{
        pair::{ResolvedPair, resolve},
        plan::{AirtableWrite, plan_page},
    },
};

fn data_source() -> DataSource {
    serde_json::from_value(json!({
        "object": "data_source", "id": "ds1",
        "parent": { "type": "database_id", "database_id": "db1" },
        "properties": {
            "Name": { "id": "title", "name": "Name", "type": "title", "title": {} },
            "Status": { "id": "st", "name": "Status", "type": "status", "status": {
                "options": [
                    { "id": "o1", "name": "Draft", "color": "gray" },
                    { "id": "o2", "name": "In Review", "color": "blue" },
                    { "id": "o3", "name": "Shipped", "color": "green" },
                ],
                "groups": [
                    { "id": "g1", "name": "To-do", "color": "gray", "option_ids": ["o1"] },
                    { "id": "g2", "name": "In progress", "color": "blue", "option_ids": ["o2"] },
                    { "id": "g3", "name": "Complete", "color": "green", "option_ids": ["o3"] },
                ],
            } },
            "Tag": { "id": "tg", "name": "Tag", "type": "select", "select": { "options": [] } },
        }
    }))
    .unwrap()
}

fn table() -> TableSchema {
    serde_json::from_value(json!({
        "id": "tbl1", "name": "T", "primaryFieldId": "f1",
        "fields": [
            { "id": "f1", "name": "Spec Name", "type": "singleLineText" },
            { "id": "f2", "name": "Notion Page ID", "type": "singleLineText" },
            { "id": "f3", "name": "Status", "type": "singleSelect", "options": { "choices": [] } },
            { "id": "f4", "name": "Stage", "type": "singleSelect", "options": { "choices": [] } },
            { "id": "f5", "name": "Shipped", "type": "checkbox" },
        ]
    }))
    .unwrap()
}

fn parse(fields: &str) -> Result<crate::config::PairConfig, String> {
    let text = format!(
        "[[pair]]\nname = \"p\"\n[pair.notion]\ndatabase_id = \"db1\"\n[pair.airtable]\nbase_id = \"app1\"\ntable = \"T\"\npage_id_field = \"Notion Page ID\"\n{fields}"
    );
    SyncConfig::parse(&text)
        .map(|mut c| c.pairs.remove(0))
        .map_err(|e| e.to_string())
}

const BOTH: &str = "[[pair.field]]\nnotion = \"Status\"\nairtable = \"Status\"\n\
                    [[pair.field]]\nnotion = \"Status\"\nvalue = \"group\"\nairtable = \"Stage\"\n";

fn pair() -> ResolvedPair {
    resolve(&parse(BOTH).unwrap(), &data_source(), &table(), &[]).unwrap()
}

fn page(status: serde_json::Value) -> Page {
    let raw = json!({
        "object": "page", "id": "p1",
        "created_time": "2025-01-01T10:00:00.000Z",
        "last_edited_time": "2025-01-02T11:06:00.000Z",
        "parent": {"type": "data_source_id", "data_source_id": "ds1", "database_id": "db1"},
        "properties": { "Status": { "id": "st", "type": "status", "status": status } },
    });
    let page: Page = serde_json::from_value(raw).unwrap();
    let pair = pair();
    pair.wire.notion_in(&pair.fields, page)
}

#[test]
fn a_group_maps_one_way_beside_its_status_and_defaults_to_that_direction() {
    let pair = pair();
    let group = &pair.fields[1];
    assert_eq!(group.notion, "Status (group)");
    assert_eq!(group.direction, Direction::NotionToAirtable);
    assert!(is_group(group));
    assert_eq!(pair.fields[0].notion, "Status");
}

#[test]
fn a_group_written_to_notion_or_of_a_non_status_is_refused_with_the_reason() {
    let both = "[[pair.field]]\nnotion = \"Status\"\nvalue = \"group\"\nairtable = \"Stage\"\ndirection = \"both\"\n";
    let err = parse(both).unwrap_err();
    assert!(
        err.contains("use direction = \"notion_to_airtable\""),
        "{err}"
    );
    let unknown = "[[pair.field]]\nnotion = \"Status\"\nvalue = \"colour\"\nairtable = \"Stage\"\n";
    assert!(
        parse(unknown)
            .unwrap_err()
            .contains("unknown value \"colour\"")
    );

    let select = "[[pair.field]]\nnotion = \"Tag\"\nvalue = \"group\"\nairtable = \"Stage\"\n";
    let problems = resolve(&parse(select).unwrap(), &data_source(), &table(), &[]).unwrap_err();
    assert!(
        problems[0].contains("needs a Notion `status` property"),
        "{problems:?}"
    );
    let checkbox =
        "[[pair.field]]\nnotion = \"Status\"\nvalue = \"group\"\nairtable = \"Shipped\"\n";
    let problems = resolve(&parse(checkbox).unwrap(), &data_source(), &table(), &[]).unwrap_err();
    assert!(
        problems[0].contains("single select or text field, not `checkbox`"),
        "{problems:?}"
    );
}

#[test]
fn a_page_read_carries_the_group_of_its_option() {
    let read = page(json!({ "id": "o2", "name": "In Review", "color": "blue" }));
    let group = &read.properties["Status (group)"];
    assert_eq!(group.raw["select"]["name"], "In progress");
    // The status itself is untouched.
    assert_eq!(read.properties["Status"].raw["status"]["name"], "In Review");
    // An empty status has an empty group.
    let empty = page(json!(null));
    assert_eq!(
        empty.properties["Status (group)"].raw["select"],
        json!(null)
    );
    // An option the schema read does not know yet: no value rather than a wrong one.
    let new = page(json!({ "id": "o9", "name": "Blocked", "color": "red" }));
    assert!(!new.properties.contains_key("Status (group)"));
}

#[test]
fn the_group_is_planned_into_airtable_and_never_into_notion() {
    let pair = pair();
    let read = page(json!({ "id": "o3", "name": "Shipped", "color": "green" }));
    let row: Record = serde_json::from_value(json!({
        "id": "rec1",
        "fields": { "Notion Page ID": "p1", "Status": "Shipped", "Stage": "To-do" }
    }))
    .unwrap();
    let plan = plan_page(
        &pair,
        &read,
        Some(&row),
        None,
        datetime!(2025-01-03 00:00 UTC),
    );
    let AirtableWrite::Update { fields, .. } = &plan.airtable else {
        panic!("{:?}", plan.airtable)
    };
    assert_eq!(fields.get("Stage"), Some(&json!("Complete")), "{fields:?}");
    assert_eq!(plan.notion, crate::sync::plan::NotionWrite::None);
}

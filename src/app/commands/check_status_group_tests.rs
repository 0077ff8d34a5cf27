//! `check` on a status's group (`value = "group"`): a single select or text
//! field passes without the option check a status mapping gets (the
//! values are the groups); anything else is explained.

use serde_json::json;

use super::*;

fn schemas() -> (DataSource, TableSchema) {
    let ds = serde_json::from_value(json!({
        "object": "data_source", "id": "ds1",
        "parent": { "type": "database_id", "database_id": "db1" },
        "properties": {
            "Name": { "id": "title", "name": "Name", "type": "title", "title": {} },
            "Status": { "id": "st", "name": "Status", "type": "status", "status": {
                "options": [{ "id": "o1", "name": "Draft" }],
                "groups": [{ "id": "g1", "name": "To-do", "option_ids": ["o1"] }],
            } },
            "Tag": { "id": "tg", "name": "Tag", "type": "select", "select": { "options": [] } },
        }
    }))
    .unwrap();
    let table = serde_json::from_value(json!({
        "id": "tbl1", "name": "T", "primaryFieldId": "f1",
        "fields": [
            { "id": "f1", "name": "Spec Name", "type": "singleLineText" },
            { "id": "f2", "name": "Notion Page ID", "type": "singleLineText" },
            { "id": "f3", "name": "Stage", "type": "singleSelect", "options": { "choices": [] } },
            { "id": "f4", "name": "Done", "type": "checkbox" },
        ]
    }))
    .unwrap();
    (ds, table)
}

fn problems(fields: &str) -> Vec<(String, String)> {
    let (ds, table) = schemas();
    schema_problems(&ds, &table, fields)
}

#[test]
fn a_status_group_into_a_single_select_passes() {
    let found =
        problems("[[pair.field]]\nnotion = \"Status\"\nvalue = \"group\"\nairtable = \"Stage\"\n");
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn a_group_of_a_select_or_into_a_checkbox_is_explained() {
    let found =
        problems("[[pair.field]]\nnotion = \"Tag\"\nvalue = \"group\"\nairtable = \"Stage\"\n");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].0.contains("\"Tag (group)\""), "{found:?}");
    assert!(
        found[0].0.contains("needs a Notion `status` property"),
        "{found:?}"
    );
    let found =
        problems("[[pair.field]]\nnotion = \"Status\"\nvalue = \"group\"\nairtable = \"Done\"\n");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].0.contains("not `checkbox`"), "{found:?}");
    assert!(
        found[0].1.contains("direction = \"notion_to_airtable\""),
        "{found:?}"
    );
}

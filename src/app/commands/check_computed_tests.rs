//! `check` explains a computed mapping with the wrong direction, and one on
//! both computed sides, each with its fix.

use serde_json::json;

use super::*;

fn schemas() -> (DataSource, TableSchema) {
    let ds = serde_json::from_value(json!({
        "object": "data_source", "id": "ds1",
        "parent": { "type": "database_id", "database_id": "db1" },
        "properties": {
            "Name": { "id": "title", "name": "Name", "type": "title", "title": {} },
            "Key": { "id": "u", "name": "Key", "type": "unique_id", "unique_id": { "prefix": "SPEC" } },
            "Calc": { "id": "c", "name": "Calc", "type": "formula", "formula": { "expression": "1" } },
        }
    }))
    .unwrap();
    let table = serde_json::from_value(json!({
        "id": "tbl1", "name": "T", "primaryFieldId": "f1",
        "fields": [
            { "id": "f1", "name": "Spec Name", "type": "singleLineText" },
            { "id": "f2", "name": "Notion Page ID", "type": "singleLineText" },
            { "id": "f3", "name": "Spec Key", "type": "singleLineText" },
            { "id": "f4", "name": "Total", "type": "rollup" },
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
fn a_computed_field_with_the_wrong_direction_is_a_problem_with_its_reason() {
    let found = problems("[[pair.field]]\nnotion = \"Key\"\nairtable = \"Spec Key\"\n");
    assert_eq!(found.len(), 1, "{found:?}");
    let (what, fix) = &found[0];
    assert_eq!(
        what,
        "pair \"p\": field \"Key\" ↔ \"Spec Key\": Notion `unique_id` is computed by Notion and \
         cannot be written: use direction = \"notion_to_airtable\""
    );
    assert!(fix.contains("one way only"), "{fix}");
    let right = "[[pair.field]]\nnotion = \"Key\"\nairtable = \"Spec Key\"\n\
                 direction = \"notion_to_airtable\"\n";
    assert!(problems(right).is_empty());
}

#[test]
fn computed_fields_on_both_sides_are_a_problem() {
    let found = problems(
        "[[pair.field]]\nnotion = \"Calc\"\nairtable = \"Total\"\ndirection = \"notion_to_airtable\"\n",
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].0.contains("both sides are computed"), "{found:?}");
    // The fix names the writable types the formula could mirror into.
    assert!(found[0].1.contains("singleLineText"), "{found:?}");
}

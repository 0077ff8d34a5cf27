//! `check` explains refused files mappings (files with anything but an
//! attachment field, an attachment field with anything but files) and
//! accepts files ↔ attachments.

use serde_json::json;

use super::*;

fn schemas() -> (DataSource, TableSchema) {
    let ds = serde_json::from_value(json!({
        "object": "data_source", "id": "ds1",
        "parent": { "type": "database_id", "database_id": "db1" },
        "properties": {
            "Name": { "id": "title", "name": "Name", "type": "title", "title": {} },
            "Mockup": { "id": "m", "name": "Mockup", "type": "files", "files": {} },
            "Notes": { "id": "n", "name": "Notes", "type": "rich_text", "rich_text": {} },
        }
    }))
    .unwrap();
    let table = serde_json::from_value(json!({
        "id": "tbl1", "name": "T", "primaryFieldId": "f1",
        "fields": [
            { "id": "f1", "name": "Spec Name", "type": "singleLineText" },
            { "id": "f2", "name": "Notion Page ID", "type": "singleLineText" },
            { "id": "f3", "name": "Mockup", "type": "multipleAttachments" },
            { "id": "f4", "name": "Link", "type": "url" },
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
fn files_sync_only_with_attachments_and_check_says_why() {
    let found = problems("[[pair.field]]\nnotion = \"Mockup\"\nairtable = \"Link\"\n");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].0.contains("Notion `files`") && found[0].0.contains("`multipleAttachments`"),
        "{found:?}"
    );
    let found = problems("[[pair.field]]\nnotion = \"Notes\"\nairtable = \"Mockup\"\n");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0]
            .0
            .contains("attachment field syncs only with a Notion `files` property"),
        "{found:?}"
    );
    assert!(problems("[[pair.field]]\nnotion = \"Mockup\"\nairtable = \"Mockup\"\n").is_empty());
}

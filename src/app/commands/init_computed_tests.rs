//! `init` proposes computed fields one way, in the computed side's
//! direction, and the file it writes resolves as the service would.

use std::path::PathBuf;

use serde_json::json;

use super::*;
use crate::sync::pair;

fn schemas() -> (DataSource, TableSchema) {
    let data_source = serde_json::from_value(json!({
        "id": "ds1",
        "properties": {
            "Name": {"id": "title", "name": "Name", "type": "title", "title": {}},
            "Key": {"id": "a", "name": "Key", "type": "unique_id", "unique_id": {"prefix": "SPEC"}},
            "Author": {"id": "b", "name": "Author", "type": "created_by", "created_by": {}},
            "Created": {"id": "c", "name": "Created", "type": "created_time", "created_time": {}},
            "Row": {"id": "d", "name": "Row", "type": "number", "number": {}},
            "Editor": {"id": "e", "name": "Editor", "type": "last_edited_by", "last_edited_by": {}},
        }
    }))
    .unwrap();
    let table = serde_json::from_value(json!({
        "id": "tbl1", "name": "Tracker", "primaryFieldId": "f1",
        "fields": [
            {"id": "f1", "name": "Title", "type": "singleLineText"},
            {"id": "f2", "name": "Key", "type": "singleLineText"},
            {"id": "f3", "name": "Author", "type": "multilineText"},
            {"id": "f4", "name": "Created", "type": "createdTime"},
            {"id": "f5", "name": "Row", "type": "autoNumber"},
            {"id": "f6", "name": "Editor", "type": "number"},
            {"id": "f7", "name": "Notion Page ID", "type": "singleLineText"},
        ]
    }))
    .unwrap();
    (data_source, table)
}

#[test]
fn computed_fields_are_proposed_one_way_and_resolve() {
    let (data_source, table) = schemas();
    let proposal = propose(&data_source, &table);
    let mut pairs: Vec<_> = proposal.fields.iter().map(|m| m.notion.as_str()).collect();
    pairs.sort_unstable();
    assert_eq!(pairs, ["Author", "Key", "Row"], "{proposal:#?}");
    let why = |name: &str| {
        let u = proposal.unmatched.iter().find(|u| u.name == name);
        u.map(|u| u.reason.clone()).unwrap_or_default()
    };
    assert!(
        why("Created").contains("both sides are computed"),
        "{proposal:#?}"
    );
    assert!(
        why("Editor").contains("computed by Notion"),
        "{proposal:#?}"
    );

    let args = InitArgs {
        notion_database: "ds1".into(),
        airtable_base: "appX".into(),
        airtable_table: None,
        output: PathBuf::from("sync.toml"),
        force: false,
        create_missing: false,
        yes: false,
    };
    let text = render(&args, &data_source, &table, &proposal);
    let config = crate::config::SyncConfig::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let direction = |name: &str| {
        let f = config.pairs[0].fields.iter().find(|f| f.notion == name);
        f.map(|f| f.direction)
    };
    use crate::config::Direction::*;
    assert_eq!(direction("Key"), Some(NotionToAirtable), "{text}");
    assert_eq!(direction("Author"), Some(NotionToAirtable), "{text}");
    assert_eq!(direction("Row"), Some(AirtableToNotion), "{text}");
    assert_eq!(direction("Name"), Some(Both), "{text}");
    pair::resolve(&config.pairs[0], &data_source, &table, &[])
        .unwrap_or_else(|p| panic!("{p:?}\n{text}"));
}

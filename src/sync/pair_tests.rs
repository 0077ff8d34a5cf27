//! Resolving a pair against live schemas: every problem is reported, one line each.

use serde_json::json;

use super::*;
use crate::config::SyncConfig;

fn data_source() -> DataSource {
    serde_json::from_value(json!({
        "object": "data_source", "id": "ds1",
        "parent": { "type": "database_id", "database_id": "db1" },
        "properties": {
            "Name": { "id": "title", "name": "Name", "type": "title", "title": {} },
            "Done": { "id": "a", "name": "Done", "type": "checkbox", "checkbox": {} },
            "Status": { "id": "b", "name": "Status", "type": "select", "select": { "options": [] } },
        }
    }))
    .unwrap()
}

fn table() -> TableSchema {
    serde_json::from_value(json!({
        "id": "tbl1", "name": "T", "primaryFieldId": "f1",
        "fields": [
            { "id": "f1", "name": "Spec Name", "type": "singleLineText" },
            { "id": "f2", "name": "Due", "type": "date" },
            { "id": "f3", "name": "Notion Page ID", "type": "number" },
            { "id": "f4", "name": "Status", "type": "singleSelect", "options": { "choices": [] } },
        ]
    }))
    .unwrap()
}

fn config(fields: &str) -> crate::config::PairConfig {
    let text = format!(
        "[[pair]]\nname = \"p\"\n[pair.notion]\ndatabase_id = \"db1\"\nrecord_id_property = \"Name\"\n[pair.airtable]\nbase_id = \"app1\"\ntable = \"T\"\npage_id_field = \"Notion Page ID\"\n{fields}"
    );
    SyncConfig::parse(&text).unwrap().pairs.remove(0)
}

#[test]
fn every_problem_is_reported() {
    let cfg = config(
        "[[pair.field]]\nnotion = \"Done\"\nairtable = \"Due\"\n\
         [[pair.field]]\nnotion = \"Missing\"\nairtable = \"Spec Name\"\n\
         [[pair.field]]\nnotion = \"Status\"\nairtable = \"Gone\"\n",
    );
    let problems = resolve(&cfg, &data_source(), &table(), &[]).unwrap_err();
    let all = problems.join("\n");
    assert!(
        all.contains("a Notion `checkbox` property cannot sync with an Airtable `date` field"),
        "{all}"
    );
    assert!(
        all.contains("Notion property \"Missing\" does not exist"),
        "{all}"
    );
    assert!(
        all.contains("Airtable field \"Gone\" does not exist"),
        "{all}"
    );
    assert!(
        all.contains("\"Notion Page ID\" (page_id_field) is a `number` field"),
        "{all}"
    );
    assert!(all.contains("record_id_property) is `title`"), "{all}");
    assert_eq!(problems.len(), 5, "{all}");
}

#[test]
fn a_good_mapping_resolves_with_kinds() {
    let mut cfg = config(
        "[[pair.field]]\nnotion = \"Name\"\nairtable = \"Spec Name\"\n[[pair.field]]\nnotion = \"Status\"\nairtable = \"Status\"\n",
    );
    cfg.notion_record_id_property = None;
    let mut t = table();
    t.fields[2].kind = "singleLineText".into();
    let pair = resolve(&cfg, &data_source(), &t, &[]).unwrap();
    assert_eq!(pair.data_source_id, "ds1");
    assert_eq!(pair.database_id, "db1");
    assert_eq!(pair.fields[0].kind, Kind::Text);
    assert_eq!(pair.fields[1].kind, Kind::Select);
}

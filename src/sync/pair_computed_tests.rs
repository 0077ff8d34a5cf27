//! Resolving computed mappings: only the computed side's direction is
//! accepted, with the reason; a computed field on both sides is refused.

use serde_json::json;

use super::*;
use crate::config::SyncConfig;

fn data_source() -> DataSource {
    serde_json::from_value(json!({
        "object": "data_source", "id": "ds1",
        "parent": { "type": "database_id", "database_id": "db1" },
        "properties": {
            "Name": { "id": "title", "name": "Name", "type": "title", "title": {} },
            "ID": { "id": "u", "name": "ID", "type": "unique_id", "unique_id": { "prefix": "SPEC" } },
            "Seq": { "id": "n", "name": "Seq", "type": "number", "number": {} },
            "Calc": { "id": "c", "name": "Calc", "type": "formula", "formula": { "expression": "1" } },
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
            { "id": "f3", "name": "Spec ID", "type": "singleLineText" },
            { "id": "f4", "name": "Row", "type": "autoNumber" },
            { "id": "f5", "name": "Total", "type": "formula", "options": { "formula": "1" } },
        ]
    }))
    .unwrap()
}

fn resolve_fields(fields: &str) -> Result<ResolvedPair, Vec<String>> {
    let text = format!(
        "[[pair]]\nname = \"p\"\n[pair.notion]\ndatabase_id = \"db1\"\n[pair.airtable]\n\
         base_id = \"app1\"\ntable = \"T\"\npage_id_field = \"Notion Page ID\"\n\
         [pair.options]\non_notion_trash = \"ignore\"\n{fields}"
    );
    let config = SyncConfig::parse(&text).unwrap().pairs.remove(0);
    resolve(&config, &data_source(), &table(), &[])
}

#[test]
fn a_computed_source_resolves_one_way_only() {
    let ok = resolve_fields(
        "[[pair.field]]\nnotion = \"ID\"\nairtable = \"Spec ID\"\ndirection = \"notion_to_airtable\"\n\
         [[pair.field]]\nnotion = \"Seq\"\nairtable = \"Row\"\ndirection = \"airtable_to_notion\"\n",
    )
    .unwrap();
    assert_eq!(ok.fields[0].kind, Kind::NotionComputed(computed::Fit::Text));
    assert_eq!(
        ok.fields[1].kind,
        Kind::AirtableComputed(computed::Fit::Number)
    );
}

#[test]
fn a_wrong_direction_is_refused_with_the_reason() {
    let problems = resolve_fields(
        "[[pair.field]]\nnotion = \"ID\"\nairtable = \"Spec ID\"\n\
         [[pair.field]]\nnotion = \"Seq\"\nairtable = \"Row\"\ndirection = \"notion_to_airtable\"\n",
    )
    .unwrap_err();
    let all = problems.join("\n");
    assert!(
        all.contains(
            "field \"ID\" ↔ \"Spec ID\": Notion `unique_id` is computed by Notion and cannot be \
             written: use direction = \"notion_to_airtable\""
        ),
        "{all}"
    );
    assert!(
        all.contains(
            "field \"Seq\" ↔ \"Row\": Airtable `autoNumber` is computed by Airtable and cannot be \
             written: use direction = \"airtable_to_notion\""
        ),
        "{all}"
    );
    assert_eq!(problems.len(), 2, "{all}");
}

#[test]
fn computed_fields_on_both_sides_are_refused() {
    let problems = resolve_fields(
        "[[pair.field]]\nnotion = \"Calc\"\nairtable = \"Total\"\ndirection = \"notion_to_airtable\"\n",
    )
    .unwrap_err();
    assert!(
        problems[0].contains("both sides are computed"),
        "{problems:?}"
    );
}

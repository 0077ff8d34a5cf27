//! Resolving a pair against live schemas: every problem is reported, one line each.

use serde_json::json;

use super::*;
use crate::{airtable::Fields, config::SyncConfig};

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

/// A pair resolved from the fixtures: Name ↔ Spec Name, Status ↔ Status,
/// Done ↔ Shipped, with the page-id field as text.
fn good_pair() -> (ResolvedPair, DataSource, TableSchema) {
    let mut cfg = config(
        "[[pair.field]]\nnotion = \"Name\"\nairtable = \"Spec Name\"\n\
         [[pair.field]]\nnotion = \"Status\"\nairtable = \"Status\"\n\
         [[pair.field]]\nnotion = \"Done\"\nairtable = \"Shipped\"\n",
    );
    cfg.notion_record_id_property = None;
    let ds = data_source();
    let mut t = table();
    t.fields[2].kind = "singleLineText".into();
    t.fields.push(
        serde_json::from_value(json!({"id": "f5", "name": "Shipped", "type": "checkbox"})).unwrap(),
    );
    let pair = resolve(&cfg, &ds, &t, &[]).unwrap();
    (pair, ds, t)
}

fn field_named<'a>(t: &'a mut TableSchema, name: &str) -> &'a mut crate::airtable::FieldSchema {
    t.fields.iter_mut().find(|f| f.name == name).unwrap()
}

fn page_json(props: serde_json::Value) -> crate::notion::Page {
    serde_json::from_value(json!({
        "object": "page", "id": "p1",
        "created_time": "2025-01-01T10:00:00.000Z",
        "last_edited_time": "2025-01-02T11:06:00.000Z",
        "parent": {"type": "data_source_id", "data_source_id": "ds1", "database_id": "db1"},
        "properties": props,
    }))
    .unwrap()
}

fn row(cells: serde_json::Value) -> Record {
    serde_json::from_value(json!({"id": "rec1", "fields": cells})).unwrap()
}

#[test]
fn rows_are_read_and_written_by_field_id() {
    let (pair, _, _) = good_pair();
    let read = pair.wire.airtable_in(
        &pair.fields,
        row(json!({"f1": "Spec", "f4": "Draft", "f3": "p1", "fOther": "x"})),
    );
    assert_eq!(read.fields["Spec Name"], "Spec");
    assert_eq!(read.fields["Status"], "Draft");
    assert_eq!(read.fields["Notion Page ID"], "p1");
    assert_eq!(read.fields.len(), 3, "unknown fields are dropped: {read:?}");
    let mut cells = Fields::new();
    cells.insert("Spec Name".into(), json!("New"));
    cells.insert("Notion Page ID".into(), json!("p1"));
    let out = pair.wire.airtable_out(&pair.fields, &cells);
    assert_eq!(out.keys().collect::<Vec<_>>(), ["f1", "f3"]);
    let mut ids = pair.wire.airtable_read_ids(&pair.fields);
    ids.sort();
    assert_eq!(ids, ["f1", "f3", "f4", "f5"]);
}

#[test]
fn pages_are_read_and_written_by_property_id() {
    let (pair, _, _) = good_pair();
    // "Status" was renamed "State" in Notion, and a new property took the name.
    let page = page_json(json!({
        "State": {"id": "b", "type": "select", "select": {"name": "Draft"}},
        "Status": {"id": "zz", "type": "select", "select": {"name": "Other"}},
        "Name": {"id": "title", "type": "title", "title": [{"plain_text": "Spec"}]},
    }));
    let read = pair.wire.notion_in(&pair.fields, page);
    assert_eq!(read.properties["Status"].id, "b");
    assert!(!read.properties.contains_key("State"));
    let mut props = Fields::new();
    props.insert("Status".into(), json!({"select": {"name": "Ready"}}));
    let out = pair.wire.notion_out(&props);
    assert_eq!(out.keys().collect::<Vec<_>>(), ["b"]);
}

#[test]
fn renames_are_followed_on_both_sides() {
    let (pair, mut ds, mut t) = good_pair();
    field_named(&mut t, "Spec Name").name = "Title".into();
    field_named(&mut t, "Notion Page ID").name = "Page".into();
    let mut status = ds.properties.remove("Status").unwrap();
    status.name = "State".into();
    ds.properties.insert("State".into(), status);
    let (next, drift) = pair.refresh(&ds, &t).unwrap();
    assert!(next.wire.stopped.is_empty(), "{:?}", next.wire.stopped);
    assert_eq!(next.page_id_field_live(), "Page");
    assert_eq!(next.page_id_field(), "Notion Page ID");
    assert!(drift.contains(&Drift::Renamed {
        side: "airtable",
        from: "Spec Name".into(),
        to: "Title".into()
    }));
    assert!(drift.contains(&Drift::Renamed {
        side: "notion",
        from: "Status".into(),
        to: "State".into()
    }));
    // A second refresh with the same schemas reports nothing new.
    let (_, again) = next.refresh(&ds, &t).unwrap();
    assert!(again.is_empty(), "{again:?}");
}

#[test]
fn a_deleted_airtable_field_stops_that_field_only() {
    let (pair, ds, mut t) = good_pair();
    t.fields.retain(|f| f.id != "f4");
    let (next, drift) = pair.refresh(&ds, &t).unwrap();
    let why = &next.wire.stopped["Status"];
    assert_eq!(why.side, "airtable");
    assert!(why.message.contains("was deleted"), "{}", why.message);
    assert!(matches!(&drift[..], [Drift::Stopped { field, .. }] if field == "Status"));
    let live: Vec<&str> = next.live_fields().map(|f| f.notion.as_str()).collect();
    assert_eq!(live, ["Name", "Done"]);
    // Never read (so never taken for an emptied cell), never written.
    assert!(
        !next
            .wire
            .airtable_read_ids(&next.fields)
            .contains(&"f4".to_owned())
    );
    let mut cells = Fields::new();
    cells.insert("Status".into(), json!(""));
    cells.insert("Spec Name".into(), json!("x"));
    assert_eq!(
        next.wire
            .airtable_out(&next.fields, &cells)
            .keys()
            .collect::<Vec<_>>(),
        ["f1"]
    );
    // The Notion side of the stopped field is hidden from the planner and
    // never written either.
    let page = page_json(json!({
        "Status": {"id": "b", "type": "select", "select": {"name": "Draft"}},
    }));
    assert!(
        next.wire
            .notion_in(&next.fields, page)
            .property("Status")
            .is_none()
    );
    let mut props = Fields::new();
    props.insert("Status".into(), json!({"select": null}));
    assert!(next.wire.notion_out(&props).is_empty());
}

#[test]
fn a_stopped_field_keeps_its_snapshot_and_writes_nothing() {
    use crate::store::{LinkState, RecordLink, SyncSource};
    let (pair, ds, mut t) = good_pair();
    t.fields.retain(|f| f.id != "f4");
    let (pair, _) = pair.refresh(&ds, &t).unwrap();
    let page = pair.wire.notion_in(
        &pair.fields,
        page_json(json!({
            "Name": {"id": "title", "type": "title", "title": [{"plain_text": "Spec"}]},
            "Status": {"id": "b", "type": "select", "select": {"name": "Draft"}},
            "Done": {"id": "a", "type": "checkbox", "checkbox": false},
        })),
    );
    // The row no longer has Status: Airtable omits it (deleted field).
    let record = pair
        .wire
        .airtable_in(&pair.fields, row(json!({"f1": "Spec", "f3": "p1"})));
    use super::super::value::Value;
    let json = |v: Value| serde_json::to_value(v).unwrap();
    let snapshot: crate::store::Snapshot = [
        ("Name".to_owned(), json(Value::text("Spec"))),
        ("Status".to_owned(), json(Value::text("Draft"))),
        ("Done".to_owned(), json(Value::Bool(false))),
    ]
    .into_iter()
    .collect();
    let link = RecordLink {
        id: 1,
        last_synced_at: None,
        pair: "p".into(),
        notion_page_id: "p1".into(),
        airtable_record_id: Some("rec1".into()),
        snapshot: snapshot.clone(),
        sync_source: SyncSource::Service,
        state: LinkState::Active,
        notion_last_edited: None,
        airtable_modified: None,
        created_at: 0,
        updated_at: 0,
    };
    let plan = super::super::plan::plan_page(
        &pair,
        &page,
        Some(&record),
        Some(&link),
        time::OffsetDateTime::now_utc(),
    );
    assert_eq!(
        plan.notion,
        super::super::plan::NotionWrite::None,
        "{plan:?}"
    );
    assert_eq!(
        plan.snapshot.as_ref().unwrap().get("Status"),
        snapshot.get("Status")
    );
}

#[test]
fn an_incompatible_type_stops_and_a_compatible_one_follows() {
    let (pair, ds, mut t) = good_pair();
    field_named(&mut t, "Spec Name").kind = "multilineText".into();
    field_named(&mut t, "Shipped").kind = "number".into();
    let (next, _) = pair.refresh(&ds, &t).unwrap();
    assert!(!next.wire.stopped.contains_key("Name"));
    assert_eq!(next.fields[0].airtable_type, "multilineText");
    let why = &next.wire.stopped["Done"];
    assert_eq!(why.side, "airtable");
    assert!(why.message.contains("is now `number`"), "{}", why.message);
}

#[test]
fn a_removed_notion_property_stops_and_a_fix_resumes() {
    let (pair, mut ds, t) = good_pair();
    let done = ds.properties.remove("Done").unwrap();
    let (stopped, _) = pair.refresh(&ds, &t).unwrap();
    assert_eq!(stopped.wire.stopped["Done"].side, "notion");
    ds.properties.insert("Done".into(), done);
    let (resumed, drift) = stopped.refresh(&ds, &t).unwrap();
    assert!(resumed.wire.stopped.is_empty());
    assert_eq!(
        drift,
        [Drift::Resumed {
            field: "Done".into()
        }]
    );
}

#[test]
fn a_deleted_field_the_service_writes_is_a_pair_problem() {
    let (pair, ds, mut t) = good_pair();
    t.fields.retain(|f| f.id != "f3");
    let problems = pair.refresh(&ds, &t).unwrap_err();
    assert!(
        problems[0].contains("\"Notion Page ID\" (f3)"),
        "{problems:?}"
    );
}

#[test]
fn people_are_learnt_from_pages() {
    let (mut pair, _, _) = good_pair();
    pair.fields[0].kind = Kind::People;
    let page = page_json(json!({
        "Owner": {"id": "o", "type": "people", "people": [
            {"object": "user", "id": "u1", "name": "Ada", "person": {"email": "ada@x.io"}},
            {"object": "user", "id": "u2"},
            {"object": "user", "id": "bot1", "type": "bot", "name": "Sync"}
        ]},
    }));
    pair.wire.notion_in(&pair.fields, page);
    let seen = pair.wire.people.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].name.as_deref(), Some("Ada"));
    assert_eq!(seen[0].email.as_deref(), Some("ada@x.io"));
    assert!(!pair.wire.people.take_unmatched());
    pair.wire.people.mark_unmatched();
    assert!(pair.wire.people.take_unmatched());
    assert!(!pair.wire.people.take_unmatched(), "taken once");
}

#[test]
fn a_refused_property_is_found_by_id_or_current_name() {
    let (pair, _, _) = good_pair();
    let keys = ["Name".to_owned(), "Status".to_owned()];
    let by_id = "body.properties.b.select.name should be a string";
    assert_eq!(
        pair.wire.notion_named_in(by_id, keys.iter()).as_deref(),
        Some("Status")
    );
    assert_eq!(
        pair.wire
            .notion_named_in("Status is expected to be status.", keys.iter())
            .as_deref(),
        Some("Status")
    );
    assert_eq!(
        pair.wire.notion_named_in("something else", keys.iter()),
        None
    );
}

//! Planning a files field: the three-way merge on the set of files (by
//! name and size), with writes that keep what a side has and copy only
//! what it lacks; an unchanged set in another order writes nothing.

use serde_json::json;

use super::tests::{NOW, link, pair};
use super::*;
use crate::{
    config::{ConflictRule, Direction},
    store::LinkState,
    sync::{
        convert::{Kind, files::SIZE_KEY},
        value::FileRef,
    },
};

/// The test pair with "Sprint" replaced by "Mockup": files ↔ attachments.
fn files_pair() -> ResolvedPair {
    let mut p = pair();
    let f = &mut p.fields[1];
    f.notion = "Mockup".into();
    f.airtable = "Mockup".into();
    f.notion_type = "files".into();
    f.airtable_type = "multipleAttachments".into();
    f.kind = Kind::Files;
    f.direction = Direction::Both;
    f.conflict = ConflictRule::Notion;
    f.notion_schema.kind = "files".into();
    p
}

fn page(files: &[(&str, u64)]) -> Page {
    let files: Vec<Json> = files
        .iter()
        .map(|(name, size)| json!({ "name": name, "type": "file", SIZE_KEY: size,
            "file": { "url": format!("https://notion.example/{name}?sig=1"), "expiry_time": "2026-11-20T11:00:00.000Z" } }))
        .collect();
    serde_json::from_value(json!({
        "object": "page", "id": "p1", "in_trash": false,
        "created_time": "2026-11-01T10:00:00.000Z", "last_edited_time": "2026-11-20T10:00:00.000Z",
        "parent": { "type": "data_source_id", "data_source_id": "ds1", "database_id": "db1" },
        "url": "https://www.notion.so/Spec-p1",
        "properties": {
            "Status": { "id": "s", "type": "select", "select": { "name": "Ready" } },
            "Mockup": { "id": "m", "type": "files", "files": files },
        }
    }))
    .unwrap()
}

fn record(files: &[(&str, u64)]) -> Record {
    let cell: Vec<Json> = files
        .iter()
        .map(|(name, size)| {
            json!({ "id": format!("att-{name}"), "filename": name, "size": size,
            "type": "image/png", "url": format!("https://airtable.example/{name}?exp=2") })
        })
        .collect();
    serde_json::from_value(json!({
        "id": "rec1", "createdTime": "2026-11-01T10:00:00.000Z",
        "fields": { "Status": "Ready", "Mockup": cell, "Notion Page ID": "p1",
                    "Notion URL": "https://www.notion.so/Spec-p1" }
    }))
    .unwrap()
}

fn synced(files: &[(&str, u64)]) -> crate::store::RecordLink {
    let mut l = link("Ready", "", LinkState::Active);
    l.snapshot.remove("Sprint");
    let value = Value::files(files.iter().map(|(n, s)| FileRef::new(*n, *s)));
    l.snapshot
        .insert("Mockup".into(), serde_json::to_value(value).unwrap());
    l
}

#[test]
fn the_same_files_in_another_order_write_nothing() {
    let both = [("a.png", 1), ("b.png", 2)];
    let plan = plan_page(
        &files_pair(),
        &page(&[("b.png", 2), ("a.png", 1)]),
        Some(&record(&both)),
        Some(&synced(&both)),
        NOW,
    );
    assert_eq!(plan.writes(), 0, "{plan:?}");
}

#[test]
fn a_file_added_in_notion_is_copied_and_the_row_keeps_its_attachments() {
    let plan = plan_page(
        &files_pair(),
        &page(&[("a.png", 1), ("new.pdf", 9)]),
        Some(&record(&[("a.png", 1)])),
        Some(&synced(&[("a.png", 1)])),
        NOW,
    );
    let AirtableWrite::Update { fields, .. } = &plan.airtable else {
        panic!("expected an update: {plan:?}");
    };
    assert_eq!(
        fields["Mockup"],
        json!([{ "id": "att-a.png" }, { "url": "https://notion.example/new.pdf?sig=1", "filename": "new.pdf" }])
    );
}

#[test]
fn a_file_a_person_removed_in_airtable_is_removed_in_notion_only_then() {
    let both = [("a.png", 1), ("b.png", 2)];
    // The row lost b.png since the snapshot: Airtable changed, Notion did not.
    let plan = plan_page(
        &files_pair(),
        &page(&both),
        Some(&record(&[("a.png", 1)])),
        Some(&synced(&both)),
        NOW,
    );
    let NotionWrite::Update { properties, .. } = &plan.notion else {
        panic!("expected a Notion update: {plan:?}");
    };
    assert_eq!(
        properties["Mockup"],
        json!({ "files": [{ "name": "a.png", "type": "file", "file": { "url": "https://notion.example/a.png?sig=1" } }] })
    );
    // First contact with the row lacking b.png: nothing is removed, the row gets it.
    let first = plan_page(&files_pair(), &page(&both), Some(&record(&[])), None, NOW);
    assert_eq!(first.notion, NotionWrite::None, "{first:?}");
}

//! The scope's meaning for one record: who votes, entering, leaving.

use serde_json::json;

use super::*;
use crate::{
    config::SyncConfig,
    store::{LinkState, SyncSource},
    sync::{pair::resolve, plan::plan_page},
};

fn data_source() -> DataSource {
    serde_json::from_value(json!({
        "object": "data_source", "id": "ds1",
        "parent": { "type": "database_id", "database_id": "db1" },
        "properties": {
            "Name": { "id": "title", "name": "Name", "type": "title", "title": {} },
            "Sync": { "id": "sy", "name": "Sync", "type": "checkbox", "checkbox": {} },
        }
    }))
    .unwrap()
}

fn table() -> TableSchema {
    serde_json::from_value(json!({
        "id": "tbl1", "name": "T", "primaryFieldId": "f1",
        "fields": [
            { "id": "f1", "name": "Name", "type": "singleLineText" },
            { "id": "f2", "name": "Page", "type": "singleLineText" },
            { "id": "f3", "name": "Sync", "type": "checkbox" },
            { "id": "f4", "name": "Status", "type": "singleLineText" },
        ],
        "views": [{ "id": "viw1", "name": "Grid view", "type": "grid" }]
    }))
    .unwrap()
}

fn pair(scope: &str) -> ResolvedPair {
    let text = format!(
        "[[pair]]\nname = \"p\"\n[pair.notion]\ndatabase_id = \"db1\"\n[pair.airtable]\nbase_id = \"app1\"\n\
         table = \"T\"\npage_id_field = \"Page\"\n[pair.options]\non_notion_trash = {{ set = {{ Status = \"Archived\" }} }}\n\
         [[pair.field]]\nnotion = \"Name\"\nairtable = \"Name\"\n[pair.scope]\n{scope}"
    );
    let config = SyncConfig::parse(&text).unwrap().pairs.remove(0);
    resolve(&config, &data_source(), &table(), &[]).unwrap()
}

fn page(sync: bool) -> Page {
    serde_json::from_value(json!({
        "object": "page", "id": "p1", "in_trash": false,
        "created_time": "2026-11-01T10:00:00.000Z", "last_edited_time": "2026-11-20T10:00:00.000Z",
        "parent": { "type": "data_source_id", "data_source_id": "ds1", "database_id": "db1" },
        "properties": {
            "Name": { "id": "title", "type": "title", "title": [{ "type": "text", "plain_text": "A", "text": { "content": "A" } }] },
            "Sync": { "id": "sy", "type": "checkbox", "checkbox": sync },
        }
    }))
    .unwrap()
}

fn row() -> Record {
    serde_json::from_value(
        json!({ "id": "rec1", "createdTime": "2026-11-01T10:00:00.000Z",
        "fields": { "Name": "A", "Page": "p1" } }),
    )
    .unwrap()
}

fn link() -> RecordLink {
    RecordLink {
        id: 1,
        pair: "p".into(),
        notion_page_id: "p1".into(),
        airtable_record_id: Some("rec1".into()),
        snapshot: [("Name".to_owned(), json!({"text": "A"}))]
            .into_iter()
            .collect(),
        sync_source: SyncSource::Service,
        state: LinkState::Active,
        notion_last_edited: None,
        airtable_modified: None,
        last_synced_at: None,
        created_at: 0,
        updated_at: 0,
    }
}

fn judge(pair: &ResolvedPair, page: &Page, linked: bool, row_in: Option<bool>) -> Option<Plan> {
    let record = row();
    let link = linked.then(link);
    let now = time::OffsetDateTime::now_utc();
    let plan = plan_page(pair, page, Some(&record), link.as_ref(), now);
    apply(pair, page, Some(&record), link.as_ref(), row_in, plan)
}

#[test]
fn either_voting_side_keeps_a_record_in() {
    let both = pair("notion_gate = \"Sync\"\nairtable_gate = \"Sync\"");
    let scope = both.scope.as_ref().unwrap();
    assert_eq!(scope.airtable_formula.as_deref(), Some("{Sync}"));
    assert_eq!(
        scope.row_formula("rec1"),
        "AND(RECORD_ID() = 'rec1', {Sync})"
    );
    // Linked, one side ticked: stays, no crossing.
    let plan = judge(&both, &page(false), true, Some(true)).unwrap();
    assert!(plan.crossing.is_none() && !plan.unlink);
    let plan = judge(&both, &page(true), true, Some(false)).unwrap();
    assert!(plan.crossing.is_none());
    // Linked, neither: leaves, unlinked, nothing written.
    let plan = judge(&both, &page(false), true, Some(false)).unwrap();
    assert_eq!(plan.crossing, Some(Crossing::Leave));
    assert!(plan.unlink && plan.writes() == 0 && plan.snapshot.is_none());
    let detail = plan.changes[0].detail.as_deref().unwrap();
    assert!(detail.contains("left the scope (neither"), "{detail}");
    // Unlinked and out: nothing at all.
    assert!(judge(&both, &page(false), false, Some(false)).is_none());
    // Unlinked, the row ticked: enters and links.
    let plan = judge(&both, &page(false), false, Some(true)).unwrap();
    assert_eq!(plan.crossing, Some(Crossing::Enter));
    assert!(plan.changes.iter().any(|c| {
        c.detail
            .as_deref()
            .is_some_and(|d| d.starts_with("entered the scope"))
    }));
}

#[test]
fn a_side_without_conditions_does_not_vote() {
    let notion_only = pair("notion = [\"Sync = true\"]");
    assert!(!notion_only.scope.as_ref().unwrap().judges_airtable());
    let plan = judge(&notion_only, &page(false), true, None).unwrap();
    assert_eq!(plan.crossing, Some(Crossing::Leave));
    assert!(
        judge(&notion_only, &page(true), true, None)
            .unwrap()
            .crossing
            .is_none()
    );
    // A trashed page follows the trash policy, not the scope.
    let mut trashed = page(false);
    trashed.in_trash = true;
    let plan = judge(&notion_only, &trashed, true, None).unwrap();
    assert!(plan.crossing.is_none() && !plan.unlink);
}

#[test]
fn archive_on_leave_sets_the_trash_values_and_unlinks() {
    let p = pair("notion_gate = \"Sync\"\non_leave = \"archive\"");
    let plan = judge(&p, &page(false), true, None).unwrap();
    assert!(plan.unlink);
    match &plan.airtable {
        AirtableWrite::Update { record_id, fields } => {
            assert_eq!(record_id, "rec1");
            assert_eq!(fields["Status"], json!("Archived"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn resolving_names_every_scope_problem() {
    let text = "[[pair]]\nname = \"p\"\n[pair.notion]\ndatabase_id = \"db1\"\n[pair.airtable]\nbase_id = \"app1\"\n\
         table = \"T\"\npage_id_field = \"Page\"\n[[pair.field]]\nnotion = \"Name\"\nairtable = \"Name\"\n[pair.scope]\n\
         notion_gate = \"Name\"\nairtable_gate = \"Status\"\nairtable_view = \"Ready\"\nnotion = [\"Nope = 1\"]";
    let config = SyncConfig::parse(text).unwrap().pairs.remove(0);
    let problems = resolve(&config, &data_source(), &table(), &[]).unwrap_err();
    let all = problems.join("\n");
    assert_eq!(problems.len(), 4, "{all}");
    assert!(
        all.contains("notion_gate \"Name\" is a title property"),
        "{all}"
    );
    assert!(
        all.contains("airtable_gate \"Status\" is a singleLineText field"),
        "{all}"
    );
    assert!(
        all.contains("airtable_view \"Ready\" is not a view"),
        "{all}"
    );
    assert!(all.contains("\"Nope\" is not a property"), "{all}");
}

#[test]
fn a_scope_whose_gate_is_gone_stops_the_pair_on_refresh() {
    let p = pair("notion_gate = \"Sync\"\nairtable_gate = \"Sync\"");
    let (again, _) = p.refresh(&data_source(), &table()).unwrap();
    assert_eq!(again.scope, p.scope);
    let mut ds = data_source();
    ds.properties.remove("Sync");
    let problems = p.refresh(&ds, &table()).unwrap_err().join("; ");
    assert!(
        problems.contains("notion_gate \"Sync\" is not a property"),
        "{problems}"
    );
}

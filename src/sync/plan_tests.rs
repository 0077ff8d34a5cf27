//! Planning single records: creates, updates, trash and restore, deletes,
//! and the crash case (external write done, snapshot not stored).

use serde_json::json;
use time::macros::datetime;

use super::*;
use crate::{
    config::SyncConfig,
    store::{LinkState, RecordLink, SyncSource},
    sync::{convert::Kind, pair::ResolvedField},
};

pub(in crate::sync) fn pair() -> ResolvedPair {
    let text = r#"
[[pair]]
name = "specs"
[pair.notion]
database_id = "db1"
[pair.airtable]
base_id = "app1"
table = "T"
page_id_field = "Notion Page ID"
last_synced_field = "Last Synced"
notion_url_field = "Notion URL"
[[pair.field]]
notion = "Status"
airtable = "Status"
[[pair.field]]
notion = "Sprint"
airtable = "Sprint"
direction = "airtable_to_notion"
conflict = "airtable"
"#;
    let config = SyncConfig::parse(text).unwrap().pairs.remove(0);
    let field = |n: &str, nt: &str, at: &str, kind, direction, conflict| ResolvedField {
        notion: n.into(),
        notion_type: nt.into(),
        airtable: n.into(),
        airtable_id: format!("fld{n}"),
        airtable_type: at.into(),
        kind,
        direction,
        conflict,
        notion_schema: crate::notion::PropertySchema {
            id: format!("id-{n}"),
            name: n.into(),
            kind: nt.into(),
            options: Vec::new(),
            raw: serde_json::json!({}),
        },
        airtable_options: None,
        relation_target: None,
    };
    ResolvedPair {
        fields: vec![
            field(
                "Status",
                "select",
                "singleSelect",
                Kind::Select,
                config.fields[0].direction,
                config.fields[0].conflict,
            ),
            field(
                "Sprint",
                "rich_text",
                "singleLineText",
                Kind::Text,
                config.fields[1].direction,
                config.fields[1].conflict,
            ),
        ],
        config,
        database_id: "db1".into(),
        data_source_id: "ds1".into(),
        table_id: "tbl1".into(),
        users: vec![],
        airtable_modified_field: None,
        wire: Default::default(),
        scope: None,
    }
}

pub(in crate::sync) fn page(status: &str, sprint: &str, in_trash: bool) -> Page {
    serde_json::from_value(json!({
        "object": "page", "id": "p1", "in_trash": in_trash,
        "created_time": "2026-11-01T10:00:00.000Z", "last_edited_time": "2026-11-20T10:00:00.000Z",
        "parent": { "type": "data_source_id", "data_source_id": "ds1", "database_id": "db1" },
        "url": "https://www.notion.so/Spec-p1",
        "properties": {
            "Status": { "id": "s", "type": "select", "select": { "name": status } },
            "Sprint": { "id": "t", "type": "rich_text", "rich_text": [{ "type": "text", "plain_text": sprint, "text": { "content": sprint } }] },
        }
    }))
    .unwrap()
}

pub(in crate::sync) fn record(status: &str, sprint: &str) -> Record {
    serde_json::from_value(json!({
        "id": "rec1", "createdTime": "2026-11-01T10:00:00.000Z",
        "fields": { "Status": status, "Sprint": sprint, "Notion Page ID": "p1", "Notion URL": "https://www.notion.so/Spec-p1" }
    }))
    .unwrap()
}

pub(in crate::sync) fn link(status: &str, sprint: &str, state: LinkState) -> RecordLink {
    let mut snapshot = Snapshot::new();
    snapshot.insert(
        "Status".into(),
        serde_json::to_value(Value::text(status)).unwrap(),
    );
    snapshot.insert(
        "Sprint".into(),
        serde_json::to_value(Value::text(sprint)).unwrap(),
    );
    RecordLink {
        id: 1,
        pair: "specs".into(),
        notion_page_id: "p1".into(),
        airtable_record_id: Some("rec1".into()),
        snapshot,
        sync_source: SyncSource::Service,
        state,
        notion_last_edited: None,
        airtable_modified: None,
        last_synced_at: None,
        created_at: 0,
        updated_at: 0,
    }
}

pub(in crate::sync) const NOW: OffsetDateTime = datetime!(2026-11-21 12:00 UTC);

#[test]
fn a_new_page_becomes_an_upsert_with_the_link_url_and_sync_time() {
    let plan = plan_page(&pair(), &page("Ready", "", false), None, None, NOW);
    let AirtableWrite::Upsert(fields) = &plan.airtable else {
        panic!("{plan:?}")
    };
    assert_eq!(fields["Status"], json!("Ready"));
    assert_eq!(fields["Notion Page ID"], json!("p1"));
    assert_eq!(fields["Notion URL"], json!("https://www.notion.so/Spec-p1"));
    assert_eq!(fields["Last Synced"], json!("2026-11-21T12:00:00.000Z"));
    assert!(
        !fields.contains_key("Sprint"),
        "an empty value is not written"
    );
    assert_eq!(plan.notion, NotionWrite::None);
    assert_eq!(plan.changes[0].what, ChangeKind::Create);
}

#[test]
fn a_synced_record_plans_nothing() {
    let plan = plan_page(
        &pair(),
        &page("Ready", "S1", false),
        Some(&record("Ready", "S1")),
        Some(&link("Ready", "S1", LinkState::Active)),
        NOW,
    );
    assert_eq!(plan.writes(), 0);
    assert!(plan.changes.is_empty());
    assert_eq!(plan.state, Some(LinkState::Active));
}

#[test]
fn each_side_is_written_once_with_all_its_changes() {
    // Notion changed Status, Airtable changed Sprint.
    let plan = plan_page(
        &pair(),
        &page("Shipped", "S1", false),
        Some(&record("Ready", "S2")),
        Some(&link("Ready", "S1", LinkState::Active)),
        NOW,
    );
    let AirtableWrite::Update { fields, .. } = &plan.airtable else {
        panic!("{plan:?}")
    };
    assert_eq!(fields["Status"], json!("Shipped"));
    let NotionWrite::Update { properties, .. } = &plan.notion else {
        panic!("{plan:?}")
    };
    assert_eq!(
        properties["Sprint"]["rich_text"][0]["text"]["content"],
        json!("S2")
    );
    assert_eq!(plan.changes.len(), 2);
    assert!(plan.changes.iter().all(|c| !c.conflict));
}

#[test]
fn a_crash_after_the_external_write_converges_without_writing() {
    // The last run wrote Shipped to Airtable but died before storing the snapshot.
    let plan = plan_page(
        &pair(),
        &page("Shipped", "S1", false),
        Some(&record("Shipped", "S1")),
        Some(&link("Ready", "S1", LinkState::Active)),
        NOW,
    );
    assert_eq!(plan.writes(), 0, "{plan:?}");
    assert!(plan.changes.is_empty());
    assert_eq!(
        plan.snapshot.unwrap()["Status"],
        serde_json::to_value(Value::text("Shipped")).unwrap()
    );
}

#[test]
fn trash_archives_and_restore_brings_the_status_back() {
    let trashed = plan_page(
        &pair(),
        &page("Ready", "S1", true),
        Some(&record("Ready", "S1")),
        Some(&link("Ready", "S1", LinkState::Active)),
        NOW,
    );
    let AirtableWrite::Update { fields, .. } = &trashed.airtable else {
        panic!("{trashed:?}")
    };
    assert_eq!(fields["Status"], json!("Archived"));
    assert_eq!(trashed.state, Some(LinkState::NotionTrashed));
    assert_eq!(trashed.changes[0].what, ChangeKind::Archive);

    let restored = plan_page(
        &pair(),
        &page("Ready", "S1", false),
        Some(&record("Archived", "S1")),
        Some(&link("Ready", "S1", LinkState::NotionTrashed)),
        NOW,
    );
    let AirtableWrite::Update { fields, .. } = &restored.airtable else {
        panic!("{restored:?}")
    };
    assert_eq!(fields["Status"], json!("Ready"));
    assert_eq!(
        restored.notion,
        NotionWrite::None,
        "Archived must not flow to Notion"
    );
    assert_eq!(restored.state, Some(LinkState::Active));
    // The log says what the restore replaced: the archive marker the row
    // held, not the snapshot value the merge compared with.
    let status = restored
        .changes
        .iter()
        .find(|c| c.field.as_deref() == Some("Status"))
        .expect("the Status change is logged");
    assert_eq!(status.old, Some(Value::text("Archived")));
    assert_eq!(status.new, Some(Value::text("Ready")));
    // And the archive says what it replaced.
    let detail = trashed.changes[0].detail.as_deref().unwrap_or_default();
    assert!(
        detail.contains(r#"Status: "Ready" → "Archived""#),
        "{detail}"
    );
}

#[test]
fn a_created_row_logs_no_old_value() {
    // There was no row: its fields held nothing, not an empty value.
    let plan = plan_page(&pair(), &page("Ready", "", false), None, None, NOW);
    let status = plan
        .changes
        .iter()
        .find(|c| c.field.as_deref() == Some("Status"))
        .expect("the Status copy is logged");
    assert_eq!(status.old, None);
    assert_eq!(status.new, Some(Value::text("Ready")));
}

#[test]
fn a_status_a_person_set_while_the_page_was_trashed_survives_the_restore() {
    // The row no longer carries the archive marker: a person chose "Shipped"
    // while the page was in the trash. Restoring must not overwrite it.
    let restored = plan_page(
        &pair(),
        &page("Ready", "S1", false),
        Some(&record("Shipped", "S1")),
        Some(&link("Ready", "S1", LinkState::NotionTrashed)),
        NOW,
    );
    assert!(
        !matches!(&restored.airtable, AirtableWrite::Update { fields, .. } if fields.contains_key("Status")),
        "{restored:?}"
    );
    let NotionWrite::Update { properties, .. } = &restored.notion else {
        panic!("{restored:?}")
    };
    assert_eq!(
        properties["Status"],
        json!({ "select": { "name": "Shipped" } })
    );
    assert_eq!(restored.state, Some(LinkState::Active));
}

#[test]
fn a_deleted_row_is_left_alone_and_logged_once() {
    let plan = plan_page(
        &pair(),
        &page("Ready", "S1", false),
        None,
        Some(&link("Ready", "S1", LinkState::Active)),
        NOW,
    );
    assert_eq!(plan.writes(), 0);
    assert_eq!(plan.state, Some(LinkState::AirtableDeleted));
    assert_eq!(plan.changes[0].what, ChangeKind::Skip);
    // Next time: already known as deleted, nothing more to say.
    let again = plan_page(
        &pair(),
        &page("Ready", "S1", false),
        None,
        Some(&link("Ready", "S1", LinkState::AirtableDeleted)),
        NOW,
    );
    assert!(again.changes.is_empty() && again.writes() == 0);
}

#[test]
fn a_page_of_another_database_is_not_ours() {
    let mut p = page("Ready", "S1", false);
    p.parent.data_source_id = Some("elsewhere".into());
    let plan = plan_page(&pair(), &p, None, None, NOW);
    assert_eq!(plan.writes(), 0);
    assert!(plan.snapshot.is_none());
}

fn pair_with(options: &str) -> ResolvedPair {
    let mut p = pair();
    let text = format!(
        "[[pair]]\nname = \"specs\"\n[pair.notion]\ndatabase_id = \"db1\"\n[pair.airtable]\nbase_id = \"app1\"\ntable = \"T\"\npage_id_field = \"Notion Page ID\"\n[pair.options]\n{options}\n[[pair.field]]\nnotion = \"Status\"\nairtable = \"Status\"\n"
    );
    p.config.options = SyncConfig::parse(&text).unwrap().pairs.remove(0).options;
    p
}

#[test]
fn a_deleted_row_can_trash_the_page_or_be_recreated() {
    let link = link("Ready", "S1", LinkState::Active);
    let trash = plan_page(
        &pair_with("on_airtable_delete = \"trash\""),
        &page("Ready", "S1", false),
        None,
        Some(&link),
        NOW,
    );
    assert_eq!(
        trash.notion,
        NotionWrite::Trash {
            page_id: "p1".into()
        }
    );
    assert_eq!(trash.changes[0].what, ChangeKind::Delete);
    let recreate = plan_page(
        &pair_with("on_airtable_delete = \"recreate\""),
        &page("Ready", "S1", false),
        None,
        Some(&link),
        NOW,
    );
    let AirtableWrite::Upsert(fields) = &recreate.airtable else {
        panic!("{recreate:?}")
    };
    assert_eq!(fields["Status"], json!("Ready"));
    assert_eq!(recreate.state, Some(LinkState::Active));
    assert!(
        recreate.changes[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("recreate")
    );
}

#[test]
fn a_page_moved_out_of_the_database_is_handled_like_trash() {
    let mut p = page("Ready", "S1", false);
    p.parent.data_source_id = Some("another-data-source".into());
    let plan = plan_page(
        &pair_with("on_notion_trash = \"delete\""),
        &p,
        Some(&record("Ready", "S1")),
        Some(&link("Ready", "S1", LinkState::Active)),
        NOW,
    );
    assert_eq!(
        plan.airtable,
        AirtableWrite::Delete {
            record_id: "rec1".into()
        }
    );
    assert_eq!(plan.state, Some(LinkState::NotionMoved));
    assert!(
        plan.changes[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("moved out of the database")
    );
    let ignore = plan_page(
        &pair_with("on_notion_trash = \"ignore\""),
        &page("Ready", "S1", true),
        Some(&record("Ready", "S1")),
        Some(&link("Ready", "S1", LinkState::Active)),
        NOW,
    );
    assert_eq!(ignore.writes(), 0);
    assert_eq!(ignore.state, Some(LinkState::NotionTrashed));
}

#[test]
fn conflicts_are_logged_with_both_values_times_and_rule() {
    let plan = plan_page(
        &pair(),
        &page("Shipped", "S1", false),
        Some(&record("In Review", "S1")),
        Some(&link("Ready", "S1", LinkState::Active)),
        NOW,
    );
    let c = plan
        .changes
        .iter()
        .find(|c| c.conflict)
        .expect("a conflict");
    assert_eq!(c.winner, Some(Side::Notion));
    let detail = c.detail.as_deref().unwrap();
    for needle in [
        "Shipped",
        "In Review",
        "2026-11-20T10:00:00.000Z",
        "rule \"notion\"",
    ] {
        assert!(detail.contains(needle), "{needle} missing in {detail}");
    }
}

// Lost commits around trash and restore (found by the randomized model test).

#[test]
fn a_restore_after_a_lost_archive_commit_brings_the_status_back() {
    // The archive write landed but the link still says Active.
    let plan = plan_page(
        &pair(),
        &page("Ready", "S1", false),
        Some(&record("Archived", "S1")),
        Some(&link("Ready", "S1", LinkState::Active)),
        NOW,
    );
    let AirtableWrite::Update { fields, .. } = &plan.airtable else {
        panic!("{plan:?}")
    };
    assert_eq!(fields["Status"], json!("Ready"));
    assert_eq!(
        plan.notion,
        NotionWrite::None,
        "Archived must never reach Notion"
    );
}

#[test]
fn a_row_claiming_a_trashed_page_without_a_link_is_archived_and_linked() {
    let plan = plan_page(
        &pair(),
        &page("Ready", "", true),
        Some(&record("Ready", "")),
        None,
        NOW,
    );
    assert!(
        matches!(&plan.airtable, AirtableWrite::Update { fields, .. } if fields["Status"] == json!("Archived"))
    );
    assert_eq!(plan.state, Some(LinkState::NotionTrashed));
    assert!(
        plan.snapshot.is_some(),
        "the link is stored so the archive is not repeated"
    );
}

#[test]
fn a_row_deleted_while_archived_stays_deleted_on_restore() {
    let plan = plan_page(
        &pair(),
        &page("Ready", "S1", false),
        None,
        Some(&link("Ready", "S1", LinkState::NotionTrashed)),
        NOW,
    );
    assert_eq!(
        plan.airtable,
        AirtableWrite::None,
        "on_airtable_delete = ignore: no new row"
    );
    assert_eq!(plan.state, Some(LinkState::AirtableDeleted));
}

#[test]
fn a_retrash_after_a_lost_restore_commit_archives_again() {
    // The restore write landed (Status back) but the link still says trashed.
    let plan = plan_page(
        &pair(),
        &page("Ready", "S1", true),
        Some(&record("Ready", "S1")),
        Some(&link("Ready", "S1", LinkState::NotionTrashed)),
        NOW,
    );
    assert!(
        matches!(&plan.airtable, AirtableWrite::Update { fields, .. } if fields["Status"] == json!("Archived"))
    );
    // Already archived: nothing to do.
    let again = plan_page(
        &pair(),
        &page("Ready", "S1", true),
        Some(&record("Archived", "S1")),
        Some(&link("Ready", "S1", LinkState::NotionTrashed)),
        NOW,
    );
    assert_eq!(again.writes(), 0);
}

#[test]
fn restoring_a_page_linked_while_trashed_is_no_conflict() {
    let mut empty = link("Ready", "S1", LinkState::NotionTrashed);
    empty.snapshot = Snapshot::new();
    let plan = plan_page(
        &pair(),
        &page("Ready", "S1", false),
        Some(&record("Archived", "S1")),
        Some(&empty),
        NOW,
    );
    assert!(
        plan.changes.iter().all(|c| !c.conflict),
        "{:?}",
        plan.changes
    );
    assert!(
        matches!(&plan.airtable, AirtableWrite::Update { fields, .. } if fields["Status"] == json!("Ready"))
    );
}

#[test]
fn a_value_notion_refuses_is_left_alone_and_keeps_its_snapshot() {
    // Notion option names may not contain commas: the Airtable edit cannot
    // be written, must not be overwritten, and is reported each time.
    let l = link("Ready", "S1", LinkState::Active);
    let rec = record("Blocked, waiting", "S1");
    let plan = plan_page(
        &pair(),
        &page("Ready", "S1", false),
        Some(&rec),
        Some(&l),
        NOW,
    );
    assert_eq!(plan.writes(), 0, "{plan:?}");
    assert_eq!(plan.changes[0].what, ChangeKind::Skip);
    assert!(
        plan.changes[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("commas")
    );
    let kept = plan.snapshot.unwrap();
    assert_eq!(
        kept["Status"],
        serde_json::to_value(Value::text("Ready")).unwrap()
    );
    // Next run with the kept snapshot: still Airtable's change, still skipped,
    // never a conflict that would overwrite it with Notion's value.
    let next = RecordLink {
        snapshot: kept,
        ..l
    };
    let again = plan_page(
        &pair(),
        &page("Ready", "S1", false),
        Some(&rec),
        Some(&next),
        NOW,
    );
    assert_eq!(again.writes(), 0, "{again:?}");
    assert!(again.changes.iter().all(|c| !c.conflict));
}

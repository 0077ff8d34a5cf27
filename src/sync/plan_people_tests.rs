//! Planning a people ↔ collaborators field: a person who cannot be matched
//! leaves the field alone on both sides, keeps its snapshot and is reported;
//! the record's other fields still sync.

use serde_json::json;

use super::tests::{NOW, link, page, pair, record};
use super::*;
use crate::store::LinkState;
use crate::sync::convert::Kind;

/// The test pair with "Sprint" as people ↔ multiple collaborators, both ways.
fn collaborator_pair() -> ResolvedPair {
    let mut pair = pair();
    let field = &mut pair.fields[1];
    field.kind = Kind::Collaborators(true);
    field.notion_type = "people".into();
    field.airtable_type = "multipleCollaborators".into();
    field.direction = crate::config::Direction::Both;
    pair.users = vec![crate::sync::convert::Person {
        id: "u-maya".into(),
        name: Some("Maya".into()),
        email: Some("maya@example.com".into()),
    }];
    pair
}

fn with_people(mut page: Page, people: serde_json::Value) -> Page {
    let raw = json!({ "id": "t", "type": "people", "people": people });
    let property = page.properties.get_mut("Sprint").unwrap();
    *property = serde_json::from_value(raw).unwrap();
    page
}

fn with_cell(mut record: Record, cell: serde_json::Value) -> Record {
    record.fields.insert("Sprint".into(), cell);
    record
}

fn snapshot_emails(link: &mut RecordLink, emails: &[&str]) {
    let value = Value::set(emails.iter().copied());
    link.snapshot
        .insert("Sprint".into(), serde_json::to_value(value).unwrap());
}

#[test]
fn a_person_without_a_visible_email_is_reported_and_nothing_is_written() {
    let pair = collaborator_pair();
    let maya = json!({"object": "user", "id": "u-maya", "name": "Maya", "person": {"email": "maya@example.com"}});
    let hidden = json!({"object": "user", "id": "u-x", "name": "Hidden", "person": {}});
    let page = with_people(page("Shipped", "", false), json!([maya, hidden]));
    let cell = json!([{"id": "usr1", "email": "maya@example.com", "name": "Maya"}]);
    let record = with_cell(record("Ready", ""), cell);
    let mut link = link("Ready", "", LinkState::Active);
    snapshot_emails(&mut link, &["maya@example.com"]);
    let plan = plan_page(&pair, &page, Some(&record), Some(&link), NOW);
    // Status still syncs; the people field is not written to either side.
    let AirtableWrite::Update { fields, .. } = &plan.airtable else {
        panic!("{plan:?}")
    };
    assert_eq!(fields["Status"], json!("Shipped"));
    assert!(!fields.contains_key("Sprint"), "{fields:?}");
    assert_eq!(plan.notion, NotionWrite::None);
    assert_eq!(
        plan.snapshot.as_ref().unwrap()["Sprint"],
        link.snapshot["Sprint"]
    );
    assert_eq!(plan.refused.len(), 1, "{:?}", plan.refused);
    assert!(
        plan.refused[0].message.contains("Hidden"),
        "{:?}",
        plan.refused
    );
    assert!(
        plan.refused[0]
            .message
            .contains("both sides are left as they are")
    );
}

#[test]
fn an_email_no_notion_user_has_is_refused_for_its_field() {
    let pair = collaborator_pair();
    let maya = json!({"object": "user", "id": "u-maya", "name": "Maya", "person": {"email": "maya@example.com"}});
    let page = with_people(page("Ready", "", false), json!([maya]));
    let cell = json!([
        {"id": "usr1", "email": "maya@example.com", "name": "Maya"},
        {"id": "usr2", "email": "gus@example.com", "name": "Gus"},
    ]);
    let row = with_cell(record("Ready", ""), cell);
    let mut link = link("Ready", "", LinkState::Active);
    snapshot_emails(&mut link, &["maya@example.com"]);
    let plan = plan_page(&pair, &page, Some(&row), Some(&link), NOW);
    assert_eq!(plan.writes(), 0, "{plan:?}");
    assert_eq!(plan.refused.len(), 1);
    assert!(
        plan.refused[0]
            .message
            .contains("no Notion workspace member has the email gus@example.com"),
        "{:?}",
        plan.refused
    );
    // The same people in another order and case is no change at all.
    let cell = json!([{"id": "usr1", "email": "MAYA@example.com", "name": "Maya"}]);
    let plan = plan_page(
        &pair,
        &page,
        Some(&with_cell(record("Ready", ""), cell)),
        Some(&link),
        NOW,
    );
    assert_eq!(plan.writes(), 0);
    assert!(
        plan.refused.is_empty() && plan.changes.is_empty(),
        "{plan:?}"
    );
}

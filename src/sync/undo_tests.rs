//! The selection of what an undo takes back, and the plan for one record.

use serde_json::json;

use super::*;
use crate::store::LinkState;
use crate::sync::plan::{
    AirtableWrite, NotionWrite,
    tests::{NOW, link, page, pair, record},
};

fn entry(id: i64, field: Option<&str>, old: Option<&str>, new: Option<&str>) -> LogEntry {
    let v = |s: Option<&str>| s.map(|s| serde_json::to_value(Value::text(s)).unwrap());
    LogEntry {
        id,
        at: 1000 + id,
        pair: "specs".into(),
        notion_page_id: Some("p1".into()),
        airtable_record_id: Some("rec1".into()),
        action: if field.is_some() {
            LogAction::Update
        } else {
            LogAction::Create
        },
        field: field.map(str::to_owned),
        old_value: v(old),
        new_value: v(new),
        direction: SyncDirection::NotionToAirtable,
        cause: Cause::Webhook,
        conflict: false,
        winner: None,
        detail: None,
        job_id: None,
        run_id: Some("job-1".into()),
        undoes: None,
    }
}

fn record_entry(id: i64, action: LogAction, direction: SyncDirection, cause: Cause) -> LogEntry {
    LogEntry {
        action,
        direction,
        cause,
        ..entry(id, None, None, None)
    }
}

#[test]
fn several_changes_of_a_field_go_back_to_the_oldest_old_value() {
    let entries = [
        entry(1, Some("Status"), Some("Draft"), Some("Review")),
        entry(2, Some("Sprint"), Some("S1"), Some("S2")),
        entry(3, Some("Status"), Some("Review"), Some("Done")),
    ];
    let selected = select(&entries, |_| None);
    assert!(selected.skipped.is_empty(), "{selected:?}");
    let status = selected
        .groups
        .iter()
        .find(|g| g.field == "Status")
        .unwrap();
    assert_eq!(status.entries, vec![1, 3]);
    assert_eq!(status.target, Value::text("Draft"));
    assert_eq!(status.expected, Value::text("Done"));
    assert_eq!(status.newest(), 3);
    let sprint = selected
        .groups
        .iter()
        .find(|g| g.field == "Sprint")
        .unwrap();
    assert_eq!(
        (sprint.target.clone(), sprint.entries.clone()),
        (Value::text("S1"), vec![2])
    );
}

#[test]
fn copies_into_new_or_empty_records_are_not_taken_back() {
    let mut first_contact = entry(2, Some("Sprint"), Some(""), Some("S1"));
    first_contact.detail = Some("first contact: the empty side took the other side's value".into());
    let entries = [
        entry(1, Some("Status"), None, Some("Ready")),
        first_contact,
        entry(3, Some("Status"), Some(""), Some("Ready")),
        entry(4, Some("Sprint"), Some("Archived"), Some("S1")),
    ];
    // 3 was committed with a create (an old log line), 4 with a restore.
    let selected = select(&entries, |e| match e.id {
        3 => Some(LogAction::Create),
        4 => Some(LogAction::Restore),
        _ => None,
    });
    assert!(selected.groups.is_empty(), "{selected:?}");
    let skipped: Vec<i64> = selected
        .skipped
        .iter()
        .flat_map(|s| s.entries.clone())
        .collect();
    assert_eq!(skipped, vec![1, 2, 3, 4]);
    assert!(selected.skipped[3].reason.contains("trash again"));
}

#[test]
fn record_actions_are_moves_of_the_page_or_listed_with_the_reason() {
    use SyncDirection::{AirtableToNotion, NotionToAirtable};
    let entries = [
        record_entry(1, LogAction::Delete, AirtableToNotion, Cause::Webhook),
        record_entry(2, LogAction::Restore, AirtableToNotion, Cause::Undo),
        record_entry(3, LogAction::Delete, NotionToAirtable, Cause::Sweep),
        record_entry(4, LogAction::Create, NotionToAirtable, Cause::Sweep),
        record_entry(5, LogAction::Archive, NotionToAirtable, Cause::Sweep),
        record_entry(6, LogAction::Restore, NotionToAirtable, Cause::Sweep),
        record_entry(7, LogAction::Link, NotionToAirtable, Cause::Sweep),
        record_entry(8, LogAction::Skip, SyncDirection::Neither, Cause::Sweep),
    ];
    let selected = select(&entries, |_| None);
    let moves: Vec<(i64, bool)> = selected
        .pages
        .iter()
        .map(|p| (p.entry, p.restore))
        .collect();
    assert_eq!(moves, vec![(1, true), (2, false)]);
    let skipped: Vec<i64> = selected.skipped.iter().map(|s| s.entries[0]).collect();
    assert_eq!(
        skipped,
        vec![3, 4, 5, 6, 7],
        "a skip wrote nothing: not listed"
    );
    assert!(
        selected.skipped[0]
            .reason
            .contains("cannot restore a deleted row")
    );
}

#[test]
fn a_selection_is_one_of_entry_run_or_time() {
    let now = 10_000_000;
    assert_eq!(
        parse_selection(Some(4), None, None, None, now),
        Ok(LogSelection::Entry(4))
    );
    assert_eq!(
        parse_selection(None, Some("job-7"), None, None, now),
        Ok(LogSelection::Run("job-7".into()))
    );
    assert_eq!(
        parse_selection(None, None, Some("1h"), Some("specs"), now),
        Ok(LogSelection::Since {
            since: now - 3_600_000,
            pair: Some("specs".into())
        })
    );
    let bad = [
        parse_selection(None, None, None, None, now),
        parse_selection(Some(1), Some("job-1"), None, None, now),
        parse_selection(Some(1), None, None, Some("specs"), now),
        parse_selection(None, Some(" "), None, None, now),
        parse_selection(None, None, Some("yesterday"), None, now),
    ];
    for result in bad {
        assert!(result.is_err(), "{result:?}");
    }
}

fn group(target: &str, expected: &str) -> FieldGroup {
    FieldGroup {
        pair: "specs".into(),
        page_id: "p1".into(),
        field: "Status".into(),
        entries: vec![5, 9],
        target: Value::text(target),
        expected: Value::text(expected),
    }
}

#[test]
fn a_revert_writes_both_sides_stores_the_snapshot_and_logs_what_it_replaced() {
    let (plan, outcomes) = plan_revert(
        &pair(),
        &page("Done", "S1", false),
        Some(&record("Done", "S1")),
        Some(&link("Done", "S1", LinkState::Active)),
        &[group("Draft", "Done")],
        NOW,
    );
    assert!(
        matches!(outcomes[..], [FieldOutcome::Revert(_)]),
        "{outcomes:?}"
    );
    let AirtableWrite::Update { fields, .. } = &plan.airtable else {
        panic!("{plan:?}")
    };
    assert_eq!(fields["Status"], json!("Draft"));
    let NotionWrite::Update { properties, .. } = &plan.notion else {
        panic!("{plan:?}")
    };
    assert_eq!(properties["Status"]["select"]["name"], json!("Draft"));
    assert_eq!(
        plan.snapshot.as_ref().unwrap()["Status"],
        serde_json::to_value(Value::text("Draft")).unwrap()
    );
    assert_eq!(plan.changes.len(), 2, "one line per side written");
    for c in &plan.changes {
        assert_eq!(c.old, Some(Value::text("Done")));
        assert_eq!(c.new, Some(Value::text("Draft")));
        assert_eq!(c.undoes, Some(9));
    }
}

#[test]
fn a_field_changed_since_on_either_side_is_left_alone_and_listed() {
    for (notion, airtable) in [("Review", "Done"), ("Done", "Review")] {
        let (plan, outcomes) = plan_revert(
            &pair(),
            &page(notion, "S1", false),
            Some(&record(airtable, "S1")),
            Some(&link("Done", "S1", LinkState::Active)),
            &[group("Draft", "Done")],
            NOW,
        );
        assert_eq!(plan.writes(), 0, "{plan:?}");
        let [FieldOutcome::Skip(skipped)] = &outcomes[..] else {
            panic!("{outcomes:?}")
        };
        assert_eq!(skipped.notion_now, Some(Value::text(notion)));
        assert_eq!(skipped.airtable_now, Some(Value::text(airtable)));
        assert!(
            skipped.reason.starts_with("changed since"),
            "{}",
            skipped.reason
        );
    }
}

#[test]
fn an_empty_old_value_is_written_only_over_what_the_service_wrote() {
    // The old value was genuinely empty and both sides hold what the
    // service wrote: the field is emptied on both.
    let (plan, _) = plan_revert(
        &pair(),
        &page("Done", "S1", false),
        Some(&record("Done", "S1")),
        Some(&link("Done", "S1", LinkState::Active)),
        &[FieldGroup {
            target: Value::Empty,
            ..group("", "Done")
        }],
        NOW,
    );
    assert_eq!(plan.writes(), 2);
    // A person's value since: nothing is emptied.
    let (plan, _) = plan_revert(
        &pair(),
        &page("Mine", "S1", false),
        Some(&record("Done", "S1")),
        Some(&link("Done", "S1", LinkState::Active)),
        &[FieldGroup {
            target: Value::Empty,
            ..group("", "Done")
        }],
        NOW,
    );
    assert_eq!(plan.writes(), 0);
}

#[test]
fn a_record_that_is_not_synced_now_is_left_alone() {
    let (plan, outcomes) = plan_revert(
        &pair(),
        &page("Done", "S1", true),
        Some(&record("Done", "S1")),
        Some(&link("Done", "S1", LinkState::NotionTrashed)),
        &[group("Draft", "Done")],
        NOW,
    );
    assert_eq!(plan.writes(), 0);
    assert!(matches!(outcomes[..], [FieldOutcome::Skip(_)]));
}

//! Putting one record's fields back, in pure code: given the page and the
//! row as just read, the link and the record's field groups, the plan that
//! writes each group's old value to both sides (at most one request per
//! side, checked against the live schema), the snapshot that records it,
//! and the log lines that say what the undo replaced.

use serde_json::{Map, Value as Json};
use time::OffsetDateTime;

use super::{
    convert::{from_airtable, from_notion, to_airtable},
    merge::Side,
    pair::{ResolvedField, ResolvedPair},
    plan::{AirtableWrite, Change, ChangeKind, NotionWrite, Plan, notion_body},
    undo::{FieldGroup, Reverted, Skipped},
    value::format_instant,
};
use crate::{
    airtable::Record,
    notion::Page,
    store::{LinkState, RecordLink},
};

/// What became of one field group.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldOutcome {
    /// Planned: both sides go back to the old value.
    Revert(Reverted),
    /// Left alone, with the reason (and the current values when someone
    /// changed the field since).
    Skip(Skipped),
}

/// The plan putting `groups` (all of one record) back, and each group's
/// outcome. A plan without writes changes nothing.
pub fn plan_revert(
    pair: &ResolvedPair,
    page: &Page,
    record: Option<&Record>,
    link: Option<&RecordLink>,
    groups: &[FieldGroup],
    now: OffsetDateTime,
) -> (Plan, Vec<FieldOutcome>) {
    let mut plan = Plan {
        page_id: page.id.clone(),
        notion_url: page.url.clone(),
        record_id: record.map(|r| r.id.clone()),
        previous: link.map(|l| l.snapshot.clone()).unwrap_or_default(),
        ..Plan::default()
    };
    let (Some(record), Some(link)) = (record, link) else {
        let why = "the record is no longer linked to an Airtable row";
        return (plan, skip_all(groups, why));
    };
    if page.in_trash || link.state != LinkState::Active {
        let why = "the record is not synced now (its page is trashed or moved, or its row deleted)";
        return (plan, skip_all(groups, why));
    }
    let mut snapshot = link.snapshot.clone();
    let mut to_airtable_fields = Map::new();
    let mut to_notion_props = Map::new();
    let mut outcomes = Vec::new();
    for group in groups {
        let Some(field) = pair.live_fields().find(|f| f.notion == group.field) else {
            let why = "the field is no longer mapped, or is stopped by a schema change";
            outcomes.push(FieldOutcome::Skip(Skipped::group(group, why)));
            continue;
        };
        match revert_field(pair, field, page, record, group) {
            Ok((reverted, notion_body)) => {
                to_notion_props.insert(field.notion.clone(), notion_body);
                let cell = to_airtable(&group.target, field.kind);
                to_airtable_fields.insert(field.airtable.clone(), cell);
                let json = serde_json::to_value(&group.target).expect("values serialize");
                snapshot.insert(field.notion.clone(), json);
                plan.changes.push(change(group, Side::Notion));
                plan.changes.push(change(group, Side::Airtable));
                outcomes.push(FieldOutcome::Revert(reverted));
            }
            Err(skipped) => outcomes.push(FieldOutcome::Skip(*skipped)),
        }
    }
    if !to_airtable_fields.is_empty() {
        if let Some(name) = &pair.config.airtable_last_synced_field {
            to_airtable_fields.insert(name.clone(), Json::String(format_instant(now)));
        }
        plan.airtable = AirtableWrite::Update {
            record_id: record.id.clone(),
            fields: to_airtable_fields,
        };
        plan.notion = NotionWrite::Update {
            page_id: page.id.clone(),
            properties: to_notion_props,
        };
        plan.snapshot = Some(snapshot);
        plan.state = Some(LinkState::Active);
    }
    (plan, outcomes)
}

fn skip_all(groups: &[FieldGroup], why: &str) -> Vec<FieldOutcome> {
    groups
        .iter()
        .map(|g| FieldOutcome::Skip(Skipped::group(g, why)))
        .collect()
}

/// One group against the values read now: what is put back and the Notion
/// body (checked against the property's live schema), or why not.
fn revert_field(
    pair: &ResolvedPair,
    field: &ResolvedField,
    page: &Page,
    record: &Record,
    group: &FieldGroup,
) -> Result<(Reverted, Json), Box<Skipped>> {
    let current = page.property(&field.notion).map(|p| p.raw.clone());
    let notion = current
        .as_ref()
        .and_then(|p| from_notion(p, field.kind).ok());
    let airtable = from_airtable(record.fields.get(&field.airtable), field.kind).ok();
    let (Some(n), Some(a)) = (notion, airtable) else {
        return Err(Box::new(Skipped::group(
            group,
            "its current value cannot be read",
        )));
    };
    if n != group.expected || a != group.expected {
        return Err(Box::new(Skipped {
            notion_now: Some(n),
            airtable_now: Some(a),
            ..Skipped::group(
                group,
                format!(
                    "changed since: the undo expected {} on both sides",
                    group.expected.display()
                ),
            )
        }));
    }
    if group.target == group.expected {
        return Err(Box::new(Skipped::group(
            group,
            format!("already holds its old value {}", group.target.display()),
        )));
    }
    let body = notion_body(pair, field, &group.target, current.as_ref())
        .map_err(|e| Skipped::group(group, format!("Notion cannot take the old value now: {e}")))?;
    let reverted = Reverted {
        entries: group.entries.clone(),
        pair: group.pair.clone(),
        page_id: group.page_id.clone(),
        field: Some(group.field.clone()),
        from: Some(group.expected.clone()),
        to: Some(group.target.clone()),
    };
    Ok((reverted, body.body))
}

/// The undo's log line for one side: what that side held (the value the
/// check just read) and what it holds now.
fn change(group: &FieldGroup, to: Side) -> Change {
    let ids: Vec<String> = group.entries.iter().map(i64::to_string).collect();
    let noun = if ids.len() == 1 { "entry" } else { "entries" };
    Change {
        field: Some(group.field.clone()),
        old: Some(group.expected.clone()),
        new: Some(group.target.clone()),
        to: Some(to),
        conflict: false,
        winner: None,
        what: ChangeKind::Update,
        detail: Some(format!("undo of {noun} {}", ids.join(", "))),
        undoes: Some(group.newest()),
    }
}

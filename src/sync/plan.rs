//! Planning one record, in pure code: given the Notion page, the Airtable
//! record and the stored link (any of which may be missing), decide what to
//! write to each side (at most one request per side), the new snapshot and
//! link state, and the sync log entries. The engine executes the plan.
//!
//! Keeping this free of I/O is what makes the merge testable against a model
//! and makes `--dry-run` exact: the dry run prints the same plan.

use serde_json::{Map, Value as Json};
use time::OffsetDateTime;

use super::{
    convert::{
        ConvertError, Kind, NotionBody, check_notion_write, files, from_airtable, from_notion,
        to_airtable, to_notion_with,
    },
    merge::{Decision, FieldInput, Reason, Side, merge_field},
    pair::ResolvedPair,
    relation::{self, RelationIndex},
    value::Value,
};
use crate::{
    airtable::Record,
    config::{AirtableDeleteAction, NotionTrashAction},
    notion::Page,
    store::{LinkState, RecordLink, Snapshot},
};

/// What to do on the Airtable side.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum AirtableWrite {
    #[default]
    None,
    /// Create the row, idempotently: an upsert merging on the page-id field.
    Upsert(Map<String, Json>),
    Update {
        record_id: String,
        fields: Map<String, Json>,
    },
    Delete {
        record_id: String,
    },
}

/// What to do on the Notion side.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum NotionWrite {
    #[default]
    None,
    Update {
        page_id: String,
        properties: Map<String, Json>,
    },
    Trash {
        page_id: String,
    },
}

/// One line of the sync log, before ids and times are filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub field: Option<String>,
    pub old: Option<Value>,
    pub new: Option<Value>,
    /// The side written.
    pub to: Option<Side>,
    pub conflict: bool,
    pub winner: Option<Side>,
    pub what: ChangeKind,
    pub detail: Option<String>,
    /// An undo's change: the newest log entry it takes back.
    pub undoes: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Create,
    Update,
    Archive,
    Restore,
    Delete,
    Link,
    Skip,
}

/// The plan for one record.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub page_id: String,
    /// The page's URL when planned (a title change on the Notion write
    /// changes it; the engine then sends the new one to Airtable).
    pub notion_url: Option<String>,
    pub record_id: Option<String>,
    pub airtable: AirtableWrite,
    pub notion: NotionWrite,
    /// The snapshot to store (field → canonical value JSON); `None` stores no link.
    pub snapshot: Option<Snapshot>,
    pub state: Option<LinkState>,
    pub changes: Vec<Change>,
    /// The snapshot stored before this plan (empty on first contact): a
    /// field whose write is refused keeps its old value, so the edit is
    /// tried again and never taken for synced.
    pub previous: Snapshot,
    /// Values a side cannot take (field → why): reported as per-record
    /// issues until they can be written; every other field syncs.
    pub refused: Vec<Refusal>,
    /// What the delete review needs to know of the record as read: the
    /// page is in the pair's data source, the row was found, and the link's
    /// state before this plan.
    pub page_in_pair: bool,
    pub row_found: bool,
    pub previous_state: Option<LinkState>,
    /// What the delete review queue decided for this plan
    /// ([`super::review`]); the commit carries it out.
    pub review: Vec<super::review::ReviewStep>,
    /// The record enters or leaves the pair's scope (`sync::scope`).
    pub crossing: Option<super::scope::Crossing>,
    /// Forget the link when committing (the record left the scope).
    pub unlink: bool,
    /// The target pairs' links relation fields were translated with (an
    /// input: [`plan_page_with`]).
    pub relations: RelationIndex,
    /// Related records a refused relation write waits for, as (target
    /// pair, page id or record id): the record is planned again once one of
    /// them is linked.
    pub waiting: Vec<(String, String)>,
}

/// A value one side refuses (the edit stays where a person made it).
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// The mapping's Notion property name.
    pub field: String,
    pub message: String,
}

impl Plan {
    pub fn writes(&self) -> usize {
        usize::from(self.airtable != AirtableWrite::None)
            + usize::from(self.notion != NotionWrite::None)
    }
}

/// Plan a record known from its Notion page, with no relation links known
/// (every related record counts as not linked yet).
pub fn plan_page(
    pair: &ResolvedPair,
    page: &Page,
    record: Option<&Record>,
    link: Option<&RecordLink>,
    now: OffsetDateTime,
) -> Plan {
    plan_page_with(pair, page, record, link, now, &RelationIndex::default())
}

/// Plan a record, translating relation fields through `relations` (the
/// target pairs' links of the ids this record's relations name).
pub fn plan_page_with(
    pair: &ResolvedPair,
    page: &Page,
    record: Option<&Record>,
    link: Option<&RecordLink>,
    now: OffsetDateTime,
    relations: &RelationIndex,
) -> Plan {
    let mut plan = Plan {
        relations: relations.clone(),
        page_id: page.id.clone(),
        notion_url: page.url.clone(),
        record_id: record
            .map(|r| r.id.clone())
            .or_else(|| link.and_then(|l| l.airtable_record_id.clone())),
        previous: link.map(|l| l.snapshot.clone()).unwrap_or_default(),
        ..Plan::default()
    };
    let in_pair = !page.in_trash && belongs_to(pair, page);
    let state = link.map(|l| l.state);
    plan.page_in_pair = in_pair;
    plan.row_found = record.is_some();
    plan.previous_state = state;
    match (in_pair, record, state) {
        (false, Some(rec), _) if needs_archiving(pair, rec, state) => {
            plan_gone(pair, page, rec, link, &mut plan)
        }
        (false, _, _) => {}
        // The linked row is gone and the service did not delete it: the
        // Airtable delete policy, whether the page is live or was restored.
        (
            true,
            None,
            Some(LinkState::Active | LinkState::NotionTrashed | LinkState::NotionMoved),
        ) if link.is_some_and(|l| l.airtable_record_id.is_some())
            && (state == Some(LinkState::Active)
                || pair.config.options.on_notion_trash != NotionTrashAction::Delete) =>
        {
            plan_airtable_deleted(pair, page, link, now, &mut plan)
        }
        (true, None, Some(LinkState::AirtableDeleted)) => {
            if pair.config.options.on_airtable_delete == AirtableDeleteAction::Recreate {
                plan_merge(pair, page, None, link, now, &mut plan);
            }
        }
        (true, record, _) => plan_merge(pair, page, record, link, now, &mut plan),
    }
    plan
}

/// Whether a gone page's row still needs the trash action: always for a
/// live link or a row that claims the page without one; for a link already
/// marked gone, only if the row lost its archive values (a restore whose
/// commit was lost) or still exists after a delete.
fn needs_archiving(pair: &ResolvedPair, rec: &Record, state: Option<LinkState>) -> bool {
    match state {
        None | Some(LinkState::Active) => true,
        Some(LinkState::NotionTrashed | LinkState::NotionMoved) => {
            match &pair.config.options.on_notion_trash {
                NotionTrashAction::Set(_) => !archived(pair, Some(rec)),
                NotionTrashAction::Delete => true,
                NotionTrashAction::Ignore => false,
            }
        }
        Some(LinkState::AirtableDeleted) => false,
    }
}

/// The row carries every archive value `on_notion_trash` sets. Those values
/// are the service's marker (e.g. Status "Archived"), never a person's edit
/// of a live page.
pub(crate) fn archived(pair: &ResolvedPair, record: Option<&Record>) -> bool {
    let (NotionTrashAction::Set(set), Some(rec)) = (&pair.config.options.on_notion_trash, record)
    else {
        return false;
    };
    set.iter()
        .all(|(k, v)| rec.fields.get(k).and_then(Json::as_str) == Some(v.as_str()))
}

/// A page is in the pair's data source (not trashed, not moved elsewhere).
pub(crate) fn belongs_to(pair: &ResolvedPair, page: &Page) -> bool {
    let same = |a: &str, b: &str| a.replace('-', "").eq_ignore_ascii_case(&b.replace('-', ""));
    match (&page.parent.data_source_id, &page.parent.database_id) {
        (Some(ds), _) => same(ds, &pair.data_source_id),
        (None, Some(db)) => same(db, &pair.database_id),
        _ => false,
    }
}

/// The page was trashed or moved out of the database: apply `on_notion_trash`.
fn plan_gone(
    pair: &ResolvedPair,
    page: &Page,
    rec: &Record,
    link: Option<&RecordLink>,
    plan: &mut Plan,
) {
    let reason = if page.in_trash {
        "trashed"
    } else {
        "moved out of the database"
    };
    let (what, detail) = match &pair.config.options.on_notion_trash {
        NotionTrashAction::Set(set) => {
            let fields = set
                .iter()
                .map(|(k, v)| (k.clone(), Json::String(v.clone())))
                .collect();
            plan.airtable = AirtableWrite::Update {
                record_id: rec.id.clone(),
                fields,
            };
            (
                ChangeKind::Archive,
                format!(
                    "Notion page {reason}: archived the Airtable row ({})",
                    replaced_cells(rec, set)
                ),
            )
        }
        NotionTrashAction::Delete => {
            plan.airtable = AirtableWrite::Delete {
                record_id: rec.id.clone(),
            };
            (
                ChangeKind::Delete,
                format!(
                    "Notion page {reason}: deleted the Airtable row (on_notion_trash = \"delete\")"
                ),
            )
        }
        NotionTrashAction::Ignore => (
            ChangeKind::Skip,
            format!(
                "Notion page {reason}: left the Airtable row alone (on_notion_trash = \"ignore\")"
            ),
        ),
    };
    plan.changes
        .push(record_change(what, Some(Side::Airtable), detail));
    // A row that claimed the page without a link gets one now (empty
    // snapshot: a restore then decides every field by its rule).
    plan.snapshot = Some(link.map(|l| l.snapshot.clone()).unwrap_or_default());
    plan.state = Some(if page.in_trash {
        LinkState::NotionTrashed
    } else {
        LinkState::NotionMoved
    });
}

/// What an archive writes over, e.g. `Status: "Draft" → "Archived"`: the
/// cells as they were, so the log says what the archive replaced.
fn replaced_cells(rec: &Record, set: &std::collections::BTreeMap<String, String>) -> String {
    set.iter()
        .map(|(k, v)| {
            let was = match rec.fields.get(k) {
                None | Some(Json::Null) => "(empty)".to_owned(),
                Some(Json::String(s)) => format!("\"{s}\""),
                Some(other) => other.to_string(),
            };
            format!("{k}: {was} → \"{v}\"")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The linked Airtable row is gone: apply `on_airtable_delete`.
fn plan_airtable_deleted(
    pair: &ResolvedPair,
    page: &Page,
    link: Option<&RecordLink>,
    now: OffsetDateTime,
    plan: &mut Plan,
) {
    match pair.config.options.on_airtable_delete {
        AirtableDeleteAction::Recreate => {
            plan.record_id = None;
            plan_merge(pair, page, None, None, now, plan);
            if let Some(c) = plan.changes.first_mut() {
                c.detail = Some("the Airtable row was deleted: recreated it (on_airtable_delete = \"recreate\")".into());
            }
            return;
        }
        AirtableDeleteAction::Trash => {
            plan.notion = NotionWrite::Trash {
                page_id: page.id.clone(),
            };
            plan.changes.push(record_change(ChangeKind::Delete, Some(Side::Notion),
                "the Airtable row was deleted: moved the Notion page to the trash (on_airtable_delete = \"trash\")".into()));
        }
        AirtableDeleteAction::Ignore => {
            plan.changes.push(record_change(ChangeKind::Skip, None,
                "the Airtable row was deleted: left the Notion page alone (on_airtable_delete = \"ignore\")".into()));
        }
    }
    plan.snapshot = link.map(|l| l.snapshot.clone());
    plan.state = Some(LinkState::AirtableDeleted);
}

fn record_change(what: ChangeKind, to: Option<Side>, detail: String) -> Change {
    Change::record(what, to, detail)
}

impl Change {
    /// A log line about the whole record (no field, no values): a create,
    /// a trash, a skip and why.
    pub fn record(what: ChangeKind, to: Option<Side>, detail: String) -> Change {
        Change {
            field: None,
            old: None,
            new: None,
            to,
            conflict: false,
            winner: None,
            what,
            detail: Some(detail),
            undoes: None,
        }
    }
}

/// The normal case: merge every field; create the row when there is none.
fn plan_merge(
    pair: &ResolvedPair,
    page: &Page,
    record: Option<&Record>,
    link: Option<&RecordLink>,
    now: OffsetDateTime,
    plan: &mut Plan,
) {
    // Restoring: the link says the page was gone, or the row still carries
    // the archive marker (an archive whose commit was lost).
    let restoring = link
        .is_some_and(|l| matches!(l.state, LinkState::NotionTrashed | LinkState::NotionMoved))
        || archived(pair, record);
    let snapshot = link.map(|l| &l.snapshot);
    let mut to_airtable_fields = Map::new();
    let mut to_notion_props = Map::new();
    let mut new_snapshot = Snapshot::new();
    for field in &pair.fields {
        let Some(outcome) = merge_one(
            pair,
            field,
            page,
            record,
            snapshot,
            restoring,
            &plan.relations,
        ) else {
            // Files that cannot be read (a size Notion's host did not give,
            // an external link) are reported; both sides keep their values.
            files_unreadable(field, page, plan);
            // Unreadable on one side: keep the old snapshot value, write nothing.
            if let Some(old) = snapshot.and_then(|s| s.get(&field.notion)) {
                new_snapshot.insert(field.notion.clone(), old.clone());
            }
            // A page content read that cannot be synced is reported.
            if let Some(why) = (field.kind == Kind::Body)
                .then(|| super::body::unreadable(page))
                .flatten()
            {
                plan.refused.push(Refusal {
                    field: field.notion.clone(),
                    message: why,
                });
            }
            report_unreadable(field, page, record, plan);
            continue;
        };
        apply_outcome(
            pair,
            field,
            outcome,
            &mut to_airtable_fields,
            &mut to_notion_props,
            &mut new_snapshot,
            plan,
        );
    }
    if restoring {
        plan.changes.push(record_change(
            ChangeKind::Restore,
            Some(Side::Airtable),
            "Notion page restored: the Airtable row returns to its synced values".into(),
        ));
    }
    finish_airtable(pair, page, record, now, to_airtable_fields, plan);
    let record_id = plan.record_id.clone();
    finish_notion(pair, page, record_id.as_deref(), to_notion_props, plan);
    plan.snapshot = Some(new_snapshot);
    plan.state = Some(LinkState::Active);
}

struct Outcome {
    decision: Decision,
    notion_value: Value,
    /// The Airtable value the merge compared (on a restore, the archive
    /// marker stands in for the snapshot value).
    airtable_value: Value,
    /// The Airtable value as read; none when there is no row yet.
    airtable_read: Option<Value>,
    /// Both sides' edit times, for the conflict log.
    times: (Option<OffsetDateTime>, Option<OffsetDateTime>),
    /// The stored snapshot value, kept when the write cannot be made.
    snapshot: Option<Value>,
    /// The page's property as read (`{id, type, <type>}`).
    current_notion: Option<Json>,
    /// The row's cell as read (files keep their attachment ids).
    current_airtable: Option<Json>,
}

fn merge_one(
    pair: &ResolvedPair,
    field: &super::pair::ResolvedField,
    page: &Page,
    record: Option<&Record>,
    snapshot: Option<&Snapshot>,
    restoring: bool,
    relations: &RelationIndex,
) -> Option<Outcome> {
    let current_notion = page.property(&field.notion).map(|p| p.raw.clone());
    let n = from_notion(current_notion.as_ref()?, field.kind).ok()?;
    let a_cell = record.and_then(|r| r.fields.get(&field.airtable));
    let a = match field.kind {
        Kind::Relation => relation::read_airtable(a_cell, relations.field(&field.notion)),
        _ => from_airtable(a_cell, field.kind).ok()?,
    };
    let airtable_read = record.map(|_| a.clone());
    let s: Option<Value> = snapshot
        .and_then(|s| s.get(&field.notion))
        .and_then(|v| serde_json::from_value(v.clone()).ok());
    let (n, a) = match field.kind {
        Kind::Relation => relation::keep_gone(n, a, s.as_ref(), relations.field(&field.notion)),
        _ => (n, a),
    };
    let mut a = a;
    // While the page was in the trash the row carried the archive values;
    // they are the service's own, not an Airtable edit. With no snapshot
    // value (a row linked while its page was trashed), the marker is still
    // not an Airtable edit: Notion's value stands. A value a person put
    // there instead of the marker is an edit like any other.
    let marked = restoring && trash_marker(pair, field).is_some_and(|m| m == a);
    if marked {
        a = s.clone().unwrap_or_else(|| n.clone());
    }
    let input = FieldInput {
        notion: &n,
        airtable: &a,
        snapshot: s.as_ref(),
        direction: field.direction,
        conflict: field.conflict,
        notion_edited: Some(page.last_edited_time),
        airtable_edited: airtable_edited(pair, record),
        computed_source: matches!(
            field.kind,
            Kind::NotionComputed(_) | Kind::AirtableComputed(_)
        ),
    };
    // Creating the row: it starts as a full copy of the page, one-way
    // fields included (the new row holds nothing, so nothing is overwritten,
    // and an empty new row must never clear Notion).
    let mut decision = match record {
        // A computed Airtable field of the new row is Airtable's to fill: nothing
        // is written to it, and its value comes to Notion once the row exists.
        None if matches!(field.kind, Kind::AirtableComputed(_)) => Decision::Keep {
            mirror: Side::Notion,
            snapshot: Value::Empty,
            first_contact: true,
        },
        None => copy_to_new_row(&n),
        Some(_) => merge_field(&input),
    };
    // A restore must rewrite the archive fields even when nothing else changed.
    if marked {
        if let Decision::InSync(v) = &decision {
            decision = Decision::Write {
                to: Side::Airtable,
                value: v.clone(),
                reason: Reason::Changed,
            };
        }
    }
    let times = (input.notion_edited, input.airtable_edited);
    Some(Outcome {
        decision,
        notion_value: n,
        airtable_value: a,
        airtable_read,
        times,
        snapshot: s,
        current_notion,
        current_airtable: a_cell.cloned(),
    })
}

/// A person a collaborator field cannot match (no email visible, a list
/// Notion may have cut, a collaborator without an email) makes the field
/// unreadable: both sides keep their values and the record gets an issue
/// saying why, instead of the person being dropped silently.
fn report_unreadable(
    field: &super::pair::ResolvedField,
    page: &Page,
    record: Option<&Record>,
    plan: &mut Plan,
) {
    if !matches!(field.kind, Kind::Collaborators(_)) {
        return;
    }
    let notion = page
        .property(&field.notion)
        .and_then(|p| from_notion(&p.raw, field.kind).err())
        .map(|e| format!("Notion's value cannot be read: {e}"));
    let airtable = record
        .and_then(|r| from_airtable(r.fields.get(&field.airtable), field.kind).err())
        .map(|e| format!("Airtable's value cannot be read: {e}"));
    let reasons: Vec<String> = notion.into_iter().chain(airtable).collect();
    if reasons.is_empty() {
        return;
    }
    plan.refused.push(Refusal {
        field: field.notion.clone(),
        message: format!("{}; both sides are left as they are", reasons.join("; ")),
    });
}

fn copy_to_new_row(n: &Value) -> Decision {
    if n.is_empty() {
        return Decision::InSync(Value::Empty);
    }
    Decision::Write {
        to: Side::Airtable,
        value: n.clone(),
        reason: Reason::Changed,
    }
}

/// The value `on_notion_trash` sets in this field, if it sets one.
fn trash_marker(pair: &ResolvedPair, field: &super::pair::ResolvedField) -> Option<Value> {
    let NotionTrashAction::Set(set) = &pair.config.options.on_notion_trash else {
        return None;
    };
    let marker = Json::String(set.get(&field.airtable)?.clone());
    from_airtable(Some(&marker), field.kind).ok()
}

fn airtable_edited(pair: &ResolvedPair, record: Option<&Record>) -> Option<OffsetDateTime> {
    let name = pair.airtable_modified_field.as_ref()?;
    let s = record?.fields.get(name)?.as_str()?;
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

fn apply_outcome(
    pair: &ResolvedPair,
    field: &super::pair::ResolvedField,
    outcome: Outcome,
    to_airtable_fields: &mut Map<String, Json>,
    to_notion_props: &mut Map<String, Json>,
    new_snapshot: &mut Snapshot,
    plan: &mut Plan,
) {
    let snap_json = |v: &Value| serde_json::to_value(v).expect("values serialize");
    if let Decision::Keep {
        mirror,
        first_contact: true,
        ..
    } = &outcome.decision
    {
        plan.changes.push(kept_change(field, *mirror, &outcome));
    }
    let Decision::Write { to, value, reason } = &outcome.decision else {
        new_snapshot.insert(field.notion.clone(), snap_json(outcome.decision.snapshot()));
        return;
    };
    let mut note = None;
    // The old value is what the written side held before the write: the
    // row's cell as read (none for a row being created; the archive marker
    // on a restore, not the snapshot value the merge compared with).
    let (old, written) = match to {
        Side::Airtable if field.kind == Kind::Files => {
            let notion = outcome.current_notion.as_ref().map(|p| &p["files"]);
            match files::airtable_cell(value, outcome.current_airtable.as_ref(), notion) {
                Ok(cell) => {
                    to_airtable_fields.insert(field.airtable.clone(), cell);
                    (outcome.airtable_read.clone(), Ok(()))
                }
                Err(e) => (outcome.airtable_read.clone(), Err(e)),
            }
        }
        Side::Notion if field.kind == Kind::Files => {
            let current = outcome.current_notion.as_ref().map(|p| &p["files"]);
            match files::notion_body(value, current, outcome.current_airtable.as_ref()) {
                Ok(body) => {
                    to_notion_props.insert(field.notion.clone(), body);
                    (Some(outcome.notion_value.clone()), Ok(()))
                }
                Err(e) => (Some(outcome.notion_value.clone()), Err(e)),
            }
        }
        Side::Airtable => match airtable_cell(field, value, &plan.relations) {
            Ok(cell) => {
                to_airtable_fields.insert(field.airtable.clone(), cell);
                (outcome.airtable_read.clone(), Ok(()))
            }
            Err(e) => (outcome.airtable_read.clone(), Err(e)),
        },
        Side::Notion => match notion_body_with(
            pair,
            field,
            value,
            outcome.current_notion.as_ref(),
            &plan.relations,
        ) {
            Ok(written) => {
                to_notion_props.insert(field.notion.clone(), written.body);
                note = written.note;
                (Some(outcome.notion_value.clone()), Ok(()))
            }
            Err(e) => (Some(outcome.notion_value.clone()), Err(e)),
        },
    };
    let (conflict, winner) = match reason {
        Reason::Conflict { .. } => (true, Some(other(*to))),
        _ => (false, None),
    };
    match written {
        Ok(()) => {
            new_snapshot.insert(field.notion.clone(), snap_json(value));
            plan.changes.push(Change {
                field: Some(field.notion.clone()),
                old,
                new: Some(value.clone()),
                to: Some(*to),
                conflict,
                winner,
                what: ChangeKind::Update,
                detail: join_details(reason_detail(reason, &outcome), note),
                undoes: None,
            });
        }
        Err(e) => skip_field(field, &outcome, *to, e, new_snapshot, plan),
    }
}

/// The Airtable cell for `value`, or why the field (a rating's `max`, a
/// duration's format, a list's separator) cannot store it as it is.
fn airtable_cell(
    field: &super::pair::ResolvedField,
    value: &Value,
    relations: &RelationIndex,
) -> Result<Json, ConvertError> {
    if field.kind == Kind::Relation {
        return relation::to_airtable(value, relations.field(&field.notion));
    }
    super::convert::types::check_airtable_value(
        field.kind,
        field.airtable_options.as_ref(),
        value,
    )?;
    Ok(to_airtable(value, field.kind))
}

/// The Notion write body for `value`, keeping what the page's current value
/// carries beyond the canonical one (a date range's end), checked against
/// the property's live schema (a status option must exist, lengths).
pub(super) fn notion_body(
    pair: &ResolvedPair,
    field: &super::pair::ResolvedField,
    value: &Value,
    current: Option<&Json>,
) -> Result<NotionBody, ConvertError> {
    notion_body_with(pair, field, value, current, &RelationIndex::default())
}

fn notion_body_with(
    pair: &ResolvedPair,
    field: &super::pair::ResolvedField,
    value: &Value,
    current: Option<&Json>,
    relations: &RelationIndex,
) -> Result<NotionBody, ConvertError> {
    if field.kind == Kind::Relation {
        let body = relation::to_notion(value, relations.field(&field.notion))?;
        return Ok(NotionBody { body, note: None });
    }
    let written = to_notion_with(value, field.kind, &field.notion_type, current, &pair.users)?;
    check_notion_write(&field.notion_schema, value, &written.body)
        .map_err(|refused| ConvertError::BadValue(refused.reason))?;
    Ok(written)
}

/// A files field Notion's side of which cannot be read: why, as a refusal
/// of the record (both sides keep their values until it can be read).
fn files_unreadable(field: &super::pair::ResolvedField, page: &Page, plan: &mut Plan) {
    if field.kind != Kind::Files {
        return;
    }
    let Some(property) = page.property(&field.notion) else {
        return;
    };
    if let Err(e) = from_notion(&property.raw, field.kind) {
        plan.refused.push(Refusal {
            field: field.notion.clone(),
            message: format!("the files cannot sync: {e}"),
        });
    }
}

fn join_details(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    }
}

/// A value that cannot be written: the field is left alone (its snapshot is
/// unchanged, so it is tried again next time) and the log says why.
fn skip_field(
    field: &super::pair::ResolvedField,
    outcome: &Outcome,
    to: Side,
    e: ConvertError,
    new_snapshot: &mut Snapshot,
    plan: &mut Plan,
) {
    let (source, target, from_value, kept) = match to {
        Side::Notion => (
            "Airtable",
            "Notion",
            &outcome.airtable_value,
            &outcome.notion_value,
        ),
        Side::Airtable => (
            "Notion",
            "Airtable",
            &outcome.notion_value,
            &outcome.airtable_value,
        ),
    };
    if let Some(old) = &outcome.snapshot {
        let old = serde_json::to_value(old).expect("values serialize");
        new_snapshot.insert(field.notion.clone(), old);
    }
    if let (Some(targets), Some(target_pair)) =
        (relation::waiting_for(&e), field.relation_target.as_ref())
    {
        let waits = targets.iter().map(|t| (target_pair.clone(), t.clone()));
        plan.waiting.extend(waits);
    }
    plan.changes.push(Change {
        field: Some(field.notion.clone()),
        old: Some(kept.clone()),
        new: Some(from_value.clone()),
        to: None,
        conflict: false,
        winner: None,
        what: ChangeKind::Skip,
        detail: Some(format!("not written to {target}: {e}")),
        undoes: None,
    });
    plan.refused.push(Refusal {
        field: field.notion.clone(),
        message: format!(
            "{source}'s value {} cannot be written to {target}: {e}",
            from_value.display()
        ),
    });
}

impl Plan {
    /// Notion refused the value of `field` (already sent): keep the old
    /// snapshot value, turn its logged update into a skip, report it.
    pub fn refuse_notion_field(&mut self, field: &str, why: &str) {
        self.refuse_field(field, Side::Notion, why);
    }

    /// Airtable refused the value of `field` (a collaborator who cannot be
    /// assigned in the base): as [`Plan::refuse_notion_field`].
    pub fn refuse_airtable_field(&mut self, field: &str, why: &str) {
        self.refuse_field(field, Side::Airtable, why);
    }

    /// The Notion write went out but the Airtable write did not (a fault
    /// that passes): keep only what reached Notion, so that it is stored
    /// and logged like any write made, and take back every change bound for
    /// Airtable ([`Plan::take_back`]). Returns false, changing nothing, when
    /// nothing reached Notion (the whole plan is undone) or when the
    /// Airtable half is more than field updates (an archive or a restore
    /// moves the link's state: it goes whole or not at all).
    pub fn keep_only_what_reached_notion(&mut self) -> bool {
        let wrote_notion = self
            .changes
            .iter()
            .any(|c| c.to == Some(Side::Notion) && c.what != ChangeKind::Skip);
        let only_updates = self.changes.iter().all(|c| {
            c.to != Some(Side::Airtable) || matches!(c.what, ChangeKind::Update | ChangeKind::Link)
        });
        if !wrote_notion || !only_updates || !matches!(self.airtable, AirtableWrite::Update { .. })
        {
            return false;
        }
        let unsent: Vec<String> = self
            .changes
            .iter()
            .filter(|c| c.to == Some(Side::Airtable))
            .filter_map(|c| c.field.clone())
            .collect();
        self.take_back(&unsent, Side::Airtable);
        // A row's link (its page id stamped) is made again next time too.
        self.changes.retain(|c| c.to != Some(Side::Airtable));
        self.airtable = AirtableWrite::None;
        true
    }

    /// Changes to `side` that were planned but not written (a fault that
    /// passes): each field goes back to its old snapshot value and its
    /// change is dropped, not logged, so the next run plans it again from
    /// fresh reads.
    pub fn take_back(&mut self, fields: &[String], side: Side) {
        for field in fields {
            self.keep_old_snapshot(field);
        }
        self.changes
            .retain(|c| c.to != Some(side) || c.field.as_ref().is_none_or(|f| !fields.contains(f)));
    }

    /// `field` keeps the value stored before this plan (none on first
    /// contact): not written, it is planned again next time.
    fn keep_old_snapshot(&mut self, field: &str) {
        let Some(snap) = self.snapshot.as_mut() else {
            return;
        };
        match self.previous.get(field) {
            Some(old) => snap.insert(field.to_owned(), old.clone()),
            None => snap.remove(field),
        };
    }

    fn refuse_field(&mut self, field: &str, side: Side, why: &str) {
        let vendor = match side {
            Side::Notion => "Notion",
            Side::Airtable => "Airtable",
        };
        self.keep_old_snapshot(field);
        let mut refused_value = None;
        for c in self.changes.iter_mut().filter(|c| {
            c.field.as_deref() == Some(field) && c.to == Some(side) && c.what == ChangeKind::Update
        }) {
            refused_value = c.new.clone();
            c.what = ChangeKind::Skip;
            c.to = None;
            c.detail = Some(format!("{vendor} refused the value: {why}"));
        }
        let shown = refused_value.map_or_else(|| "the value".to_owned(), |v| v.display());
        self.refused.push(Refusal {
            field: field.to_owned(),
            message: format!("{vendor} refused {shown}: {why}"),
        });
    }

    /// The Notion properties this plan writes (keys of the update body).
    pub fn notion_properties(&self) -> Vec<String> {
        match &self.notion {
            NotionWrite::Update { properties, .. } => properties.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }
}

/// A one-way field's mirror value kept at first contact (its source side
/// is empty): logged once, so an operator sees why the sides differ.
fn kept_change(field: &super::pair::ResolvedField, mirror: Side, outcome: &Outcome) -> Change {
    let (source, kept) = match mirror {
        Side::Notion => ("Airtable", &outcome.notion_value),
        Side::Airtable => ("Notion", &outcome.airtable_value),
    };
    Change {
        field: Some(field.notion.clone()),
        old: Some(kept.clone()),
        new: Some(kept.clone()),
        to: None,
        conflict: false,
        winner: None,
        what: ChangeKind::Skip,
        detail: Some(format!(
            "first contact: one-way field whose source ({source}) is empty; kept {} where a \
             person put it, until {source}'s first edit",
            kept.display()
        )),
        undoes: None,
    }
}

fn other(side: Side) -> Side {
    match side {
        Side::Notion => Side::Airtable,
        Side::Airtable => Side::Notion,
    }
}

fn reason_detail(reason: &Reason, outcome: &Outcome) -> Option<String> {
    let rule = match reason {
        Reason::Changed => return None,
        Reason::OneWay => return Some("one-way field: the source side's value restored".into()),
        Reason::Filled => {
            return Some("first contact: the empty side took the other side's value".into());
        }
        Reason::Conflict { rule, tie } => {
            let tie = if *tie {
                " could not order the edits (same minute or no Airtable time); Notion wins ties"
            } else {
                ""
            };
            format!("rule \"{rule}\"{tie}")
        }
    };
    let time =
        |t: Option<OffsetDateTime>| t.map_or("unknown".to_owned(), super::value::format_instant);
    Some(format!(
        "conflict: Notion has {} (edited {}, minute-rounded), Airtable has {} (edited {}); {rule}",
        outcome.notion_value.display(),
        time(outcome.times.0),
        outcome.airtable_value.display(),
        time(outcome.times.1),
    ))
}

/// Add the service's own fields and decide create vs update on Airtable.
fn finish_airtable(
    pair: &ResolvedPair,
    page: &Page,
    record: Option<&Record>,
    now: OffsetDateTime,
    mut fields: Map<String, Json>,
    plan: &mut Plan,
) {
    let cfg = &pair.config;
    let cell = |name: &str| {
        record
            .and_then(|r| r.fields.get(name))
            .and_then(Json::as_str)
            .unwrap_or_default()
    };
    if cell(&cfg.airtable_page_id_field) != page.id {
        fields.insert(
            cfg.airtable_page_id_field.clone(),
            Json::String(page.id.clone()),
        );
    }
    if let (Some(name), Some(url)) = (&cfg.airtable_notion_url_field, &page.url) {
        if cell(name) != url {
            fields.insert(name.clone(), Json::String(url.clone()));
        }
    }
    if fields.is_empty() {
        return;
    }
    if let Some(name) = &cfg.airtable_last_synced_field {
        fields.insert(
            name.clone(),
            Json::String(super::value::format_instant(now)),
        );
    }
    plan.airtable = match record {
        Some(r) => AirtableWrite::Update {
            record_id: r.id.clone(),
            fields,
        },
        None => {
            plan.changes.insert(
                0,
                record_change(
                    ChangeKind::Create,
                    Some(Side::Airtable),
                    "new Notion page: created its Airtable row".into(),
                ),
            );
            AirtableWrite::Upsert(fields)
        }
    };
    if record.is_some()
        && plan.changes.iter().all(|c| c.what != ChangeKind::Update)
        && cell(&cfg.airtable_page_id_field) != page.id
    {
        plan.changes.push(record_change(
            ChangeKind::Link,
            Some(Side::Airtable),
            "linked an existing Airtable row to its Notion page".into(),
        ));
    }
}

/// Add the record-id property when Notion is written anyway.
fn finish_notion(
    pair: &ResolvedPair,
    page: &Page,
    record_id: Option<&str>,
    mut props: Map<String, Json>,
    plan: &mut Plan,
) {
    if props.is_empty() {
        return;
    }
    if let (Some(name), Some(id)) = (&pair.config.notion_record_id_property, record_id) {
        let current = page
            .property(name)
            .map(|p| p.plain_text())
            .unwrap_or_default();
        if current != id {
            props.insert(name.clone(), crate::notion::write::rich_text(id));
        }
    }
    plan.notion = NotionWrite::Update {
        page_id: page.id.clone(),
        properties: props,
    };
}

#[cfg(test)]
#[path = "plan_tests.rs"]
pub(super) mod tests;

#[cfg(test)]
#[path = "plan_computed_tests.rs"]
mod computed_tests;

#[cfg(test)]
#[path = "plan_files_tests.rs"]
mod files_tests;

#[cfg(test)]
#[path = "plan_people_tests.rs"]
mod people_tests;

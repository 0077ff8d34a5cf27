//! Undo, the pure part: which logged changes can be taken back, grouped per
//! field, and what each group is put back to ([`select`]); then, for one
//! record read fresh, the writes that put it back ([`plan_revert`], in
//! `undo_plan`). The engine reads the log and both sides, and executes the
//! plan like any other (claims, budgets, fenced persist).
//!
//! A field change is taken back on both sides (the side the service wrote
//! and the side the edit came from), so that the next merge finds nothing
//! to propagate. Several changes of one field go back to the oldest old
//! value, and only if both sides still hold the newest new value: anything
//! else means someone changed it since, and it is listed, not touched.

use std::collections::BTreeMap;

use serde::Serialize;

use super::value::Value;
use crate::store::{Cause, LogAction, LogEntry, LogSelection, SyncDirection, parse_since};

pub use super::undo_plan::{FieldOutcome, plan_revert};

/// One field of one record to put back.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldGroup {
    pub pair: String,
    pub page_id: String,
    pub field: String,
    /// The entries taken back, oldest first.
    pub entries: Vec<i64>,
    /// The oldest entry's old value: what the field goes back to.
    pub target: Value,
    /// The newest entry's new value: what both sides must still hold.
    pub expected: Value,
}

impl FieldGroup {
    /// The newest entry (an undo's log line names it in `undoes`).
    pub fn newest(&self) -> i64 {
        *self.entries.last().expect("a group has an entry")
    }
}

/// A Notion page the service moved to the trash (or, by an undo, out of
/// it), to move back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageAction {
    pub pair: String,
    pub page_id: String,
    pub entry: i64,
    /// Restore it from the trash (else: trash it again).
    pub restore: bool,
}

/// An entry (or group) left as it is, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    pub entries: Vec<i64>,
    pub pair: String,
    pub page_id: Option<String>,
    pub field: Option<String>,
    pub reason: String,
    /// Both sides' values now, when someone changed the field since.
    pub notion_now: Option<Value>,
    pub airtable_now: Option<Value>,
}

impl Skipped {
    pub fn entry(e: &LogEntry, reason: impl Into<String>) -> Self {
        Skipped {
            entries: vec![e.id],
            pair: e.pair.clone(),
            page_id: e.notion_page_id.clone(),
            field: e.field.clone(),
            reason: reason.into(),
            notion_now: None,
            airtable_now: None,
        }
    }

    pub fn group(g: &FieldGroup, reason: impl Into<String>) -> Self {
        Skipped {
            entries: g.entries.clone(),
            pair: g.pair.clone(),
            page_id: Some(g.page_id.clone()),
            field: Some(g.field.clone()),
            reason: reason.into(),
            notion_now: None,
            airtable_now: None,
        }
    }
}

/// A field put back (or, in a dry run, that would be).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reverted {
    pub entries: Vec<i64>,
    pub pair: String,
    pub page_id: String,
    pub field: Option<String>,
    /// From what to what, on both sides.
    pub from: Option<Value>,
    pub to: Option<Value>,
}

/// What an undo did, or would do.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UndoReport {
    /// The undo's own run id: `undo --run` of it takes it back.
    pub run_id: Option<String>,
    pub dry_run: bool,
    /// How many log entries were selected.
    pub selected: usize,
    pub reverted: Vec<Reverted>,
    pub skipped: Vec<Skipped>,
    /// With a dry run: every request it would send.
    pub planned_writes: Vec<String>,
}

/// The selected entries sorted into field groups, page moves, and entries
/// that cannot be taken back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    pub groups: Vec<FieldGroup>,
    pub pages: Vec<PageAction>,
    pub skipped: Vec<Skipped>,
}

/// A selection that cannot be undone as asked: nothing was read or
/// written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    /// No such entry or run.
    #[error("{0}")]
    Unknown(String),
    /// More entries than one undo takes.
    #[error("{0}")]
    TooMany(String),
}

/// The selection the command line and the admin API both take: exactly one
/// of an entry id, a run id, or a time (as `log --since` reads it, relative
/// to `now`); a pair only with a time.
pub fn parse_selection(
    entry: Option<i64>,
    run: Option<&str>,
    since: Option<&str>,
    pair: Option<&str>,
    now: i64,
) -> Result<LogSelection, String> {
    let pair = pair.map(str::trim).filter(|p| !p.is_empty());
    match (entry, run.map(str::trim), since) {
        (Some(id), None, None) if pair.is_none() => Ok(LogSelection::Entry(id)),
        (None, Some(run), None) if pair.is_none() && !run.is_empty() => {
            Ok(LogSelection::Run(run.to_owned()))
        }
        (None, None, Some(since)) => Ok(LogSelection::Since {
            since: parse_since(since, now).map_err(|e| format!("--since {e}"))?,
            pair: pair.map(str::to_owned),
        }),
        (None, None, None) => {
            Err("say what to undo: an entry id, --run RUN_ID, or --since TIME".into())
        }
        _ if pair.is_some() && since.is_none() => {
            Err("--pair goes with --since (an entry or a run names its own pair)".into())
        }
        _ => Err("undo takes one of an entry id, --run RUN_ID or --since TIME".into()),
    }
}

/// Sort `entries` (oldest first). `committed_with` names the record-level
/// action (create, restore) logged in the same commit as a field change,
/// if any: such a change is part of that action, not a change of its own.
pub fn select(
    entries: &[LogEntry],
    committed_with: impl Fn(&LogEntry) -> Option<LogAction>,
) -> Selection {
    let mut out = Selection::default();
    let mut groups: BTreeMap<(String, String, String), FieldGroup> = BTreeMap::new();
    for e in entries {
        if let Err(reason) = field_change(e, &committed_with) {
            match record_action(e) {
                Ok(Some(page)) => out.pages.push(page),
                Ok(None) => {}
                Err(why) => out.skipped.push(Skipped::entry(e, why.unwrap_or(reason))),
            }
            continue;
        }
        let (Some(page), Some(field)) = (&e.notion_page_id, &e.field) else {
            continue;
        };
        let (Some(old), Some(new)) = (value(&e.old_value), value(&e.new_value)) else {
            out.skipped
                .push(Skipped::entry(e, "its logged values cannot be read"));
            continue;
        };
        let key = (e.pair.clone(), page.clone(), field.clone());
        groups
            .entry(key)
            .and_modify(|g| {
                g.entries.push(e.id);
                g.expected = new.clone();
            })
            .or_insert_with(|| FieldGroup {
                pair: e.pair.clone(),
                page_id: page.clone(),
                field: field.clone(),
                entries: vec![e.id],
                target: old,
                expected: new,
            });
    }
    out.groups = groups.into_values().collect();
    out
}

fn value(json: &Option<serde_json::Value>) -> Option<Value> {
    serde_json::from_value(json.clone()?).ok()
}

/// Whether `e` is a field change undo can take back; if not, why not.
fn field_change(
    e: &LogEntry,
    committed_with: &impl Fn(&LogEntry) -> Option<LogAction>,
) -> Result<(), String> {
    if e.action != LogAction::Update || e.field.is_none() || e.direction == SyncDirection::Neither {
        return Err("not a field change".into());
    }
    if e.old_value.is_none() {
        return Err(
            "the written side held no value before: the change filled a record the \
                    service had just created"
                .into(),
        );
    }
    if e.detail
        .as_deref()
        .is_some_and(|d| d.starts_with("first contact"))
    {
        return Err(
            "first contact copied a person's value into the empty side; taking it \
                    back would empty a value nobody asked the service to change"
                .into(),
        );
    }
    match committed_with(e) {
        Some(LogAction::Create) => Err("part of creating the record: undo never deletes \
                                        a record or empties its new copy"
            .into()),
        Some(LogAction::Restore) => Err("part of a restore after the Notion page came back \
                                         from the trash: move the page to the trash again to \
                                         archive the row"
            .into()),
        _ => Ok(()),
    }
}

/// A record-level entry: the page move to make, nothing to do, or why it
/// cannot be taken back (`None`: the field-change reason stands).
fn record_action(e: &LogEntry) -> Result<Option<PageAction>, Option<String>> {
    let page = |restore| {
        Ok(e.notion_page_id.as_ref().map(|p| PageAction {
            pair: e.pair.clone(),
            page_id: p.clone(),
            entry: e.id,
            restore,
        }))
    };
    let why: &str = match (e.action, e.direction) {
        (LogAction::Update, _) => return Err(None),
        (LogAction::Skip, _) => return Ok(None),
        // The service trashed the page (on_airtable_delete = "trash").
        (LogAction::Delete, SyncDirection::AirtableToNotion) => return page(true),
        // An undo restored a page the service had trashed.
        (LogAction::Restore, SyncDirection::AirtableToNotion) if e.cause == Cause::Undo => {
            return page(false);
        }
        (LogAction::Delete, _) => {
            "Airtable's API cannot restore a deleted row: recreate it from Airtable's \
             trash (Airtable keeps deleted rows for a while)"
        }
        (LogAction::Create, _) => {
            "undo never deletes a record: delete the row or page the service created \
             yourself if it should not exist"
        }
        (LogAction::Archive, _) => {
            "the row was archived because its Notion page left the database: restore the \
             page in Notion and the row returns to its synced values"
        }
        (LogAction::Restore, _) => {
            "the row was restored because its Notion page came back: move the page to the \
             trash again to archive the row"
        }
        (LogAction::Link, _) => "a link only paired two existing records: nothing to put back",
    };
    Err(Some(why.to_owned()))
}

#[cfg(test)]
#[path = "undo_tests.rs"]
mod tests;

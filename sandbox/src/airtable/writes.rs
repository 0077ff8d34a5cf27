//! Record writes (create, update, replace, upsert, delete) applied to one table, all or
//! nothing: every record of a request is validated before any is applied. Each write returns
//! the per-record [`Change`]s the webhook payloads are built from.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::cells;
use super::collaborators::Collaborator;
use super::errors::{AtError, AtResult};
use super::ids::new_id;
use super::schema::{Field, FieldType};
use super::table::{Record, Table};

/// Validated cells of one written record: field id → new value (`None` clears).
type Cells = BTreeMap<String, Option<Value>>;

/// What one write did to one record.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Change {
    Created {
        record_id: String,
        created: OffsetDateTime,
        cells: BTreeMap<String, Value>,
    },
    Updated {
        record_id: String,
        /// field id → (previous, current), only for cells whose value changed.
        diffs: BTreeMap<String, (Option<Value>, Option<Value>)>,
        /// Every non-empty cell after the write (for `includeCellValuesInFieldIds`).
        after: BTreeMap<String, Value>,
    },
    Destroyed {
        record_id: String,
    },
    /// A field was added to the table.
    FieldCreated {
        field_id: String,
        name: String,
        field_type: FieldType,
    },
    /// A field was renamed or changed type: only the properties that changed are set.
    FieldChanged {
        field_id: String,
        previous: FieldProps,
        current: FieldProps,
    },
    /// A field (and every cell in it) was deleted.
    FieldDestroyed {
        field_id: String,
    },
}

/// The properties of a field a webhook payload reports (`{name?, type?}`).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct FieldProps {
    pub name: Option<String>,
    pub field_type: Option<FieldType>,
}

/// One record of an update request: `id` is optional only when upserting.
#[derive(Clone, Debug, Default)]
pub(crate) struct RecordInput {
    pub id: Option<String>,
    pub fields: Map<String, Value>,
}

/// How an update request treats the records it names.
#[derive(Clone, Debug, Default)]
pub(crate) struct UpdateMode {
    /// PUT: clear every cell the request does not include.
    pub replace: bool,
    /// `performUpsert.fieldsToMergeOn`, as sent (names or ids).
    pub merge_on: Option<Vec<String>>,
    pub typecast: bool,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct WriteOutcome {
    /// The ids of the records written, in request order.
    pub record_ids: Vec<String>,
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub changes: Vec<Change>,
}

/// Validate a record's `fields` against `fields` (a working copy of the table's fields, so
/// that typecast options are only kept if the whole request succeeds).
fn resolve(
    fields: &mut [Field],
    input: &Map<String, Value>,
    typecast: bool,
    known: &[Collaborator],
) -> AtResult<Cells> {
    let mut out = Cells::new();
    for (key, value) in input {
        let index = fields
            .iter()
            .position(|f| f.id == *key)
            .or_else(|| fields.iter().position(|f| f.name == *key))
            .ok_or_else(|| AtError::unknown_field(key))?;
        let field = &mut fields[index];
        out.insert(
            field.id.clone(),
            cells::validate_in(field, value, typecast, known)?,
        );
    }
    Ok(out)
}

/// Create records (the caller has checked the 10-record limit).
pub(crate) fn create(
    table: &mut Table,
    inputs: &[Map<String, Value>],
    typecast: bool,
    now: OffsetDateTime,
) -> AtResult<WriteOutcome> {
    let mut fields = table.fields.clone();
    let resolved = inputs
        .iter()
        .map(|input| resolve(&mut fields, input, typecast, &table.collaborators))
        .collect::<AtResult<Vec<_>>>()?;
    table.fields = fields;
    let mut outcome = WriteOutcome::default();
    for cells in resolved {
        let change = apply_create(table, cells, now);
        if let Change::Created { record_id, .. } = &change {
            outcome.record_ids.push(record_id.clone());
            outcome.created.push(record_id.clone());
        }
        outcome.changes.push(change);
    }
    Ok(outcome)
}

fn apply_create(table: &mut Table, cells: Cells, now: OffsetDateTime) -> Change {
    let cells: BTreeMap<String, Value> = cells
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
    table.next_number += 1;
    let record = Record {
        number: table.next_number - 1,
        id: new_id("rec"),
        created: now,
        field_modified: cells.keys().map(|k| (k.clone(), now)).collect(),
        cells: cells.clone(),
        last_modified: now,
    };
    let change = Change::Created {
        record_id: record.id.clone(),
        created: now,
        cells,
    };
    table.records.push(record);
    change
}

/// What the validation phase decided for one record of an update request.
enum Target {
    Existing(String),
    New,
}

/// Update (PATCH), replace (PUT) or upsert records.
pub(crate) fn update(
    table: &mut Table,
    inputs: &[RecordInput],
    mode: &UpdateMode,
    now: OffsetDateTime,
) -> AtResult<WriteOutcome> {
    let merge_ids = match &mode.merge_on {
        Some(keys) => Some(merge_field_ids(table, keys)?),
        None => None,
    };
    let mut fields = table.fields.clone();
    let mut plan = Vec::with_capacity(inputs.len());
    for input in inputs {
        let cells = resolve(
            &mut fields,
            &input.fields,
            mode.typecast,
            &table.collaborators,
        )?;
        let target = target_of(table, input, &cells, merge_ids.as_deref())?;
        plan.push((target, cells));
    }
    table.fields = fields;
    let mut outcome = WriteOutcome::default();
    for (target, cells) in plan {
        apply_planned(table, target, cells, mode, now, &mut outcome);
    }
    Ok(outcome)
}

fn apply_planned(
    table: &mut Table,
    target: Target,
    cells: Cells,
    mode: &UpdateMode,
    now: OffsetDateTime,
    outcome: &mut WriteOutcome,
) {
    match target {
        Target::New => {
            let change = apply_create(table, cells, now);
            if let Change::Created { record_id, .. } = &change {
                outcome.record_ids.push(record_id.clone());
                outcome.created.push(record_id.clone());
            }
            outcome.changes.push(change);
        }
        Target::Existing(id) => {
            outcome.record_ids.push(id.clone());
            outcome.updated.push(id.clone());
            if let Some(change) = apply_update(table, &id, cells, mode.replace, now) {
                outcome.changes.push(change);
            }
        }
    }
}

/// Resolve `fieldsToMergeOn`: 1 to 3 existing, mergeable fields.
fn merge_field_ids(table: &Table, keys: &[String]) -> AtResult<Vec<String>> {
    if keys.is_empty() || keys.len() > 3 {
        return Err(AtError::invalid_request(
            "performUpsert.fieldsToMergeOn must name between 1 and 3 fields",
        ));
    }
    keys.iter()
        .map(|key| {
            let field = table
                .field(key)
                .ok_or_else(|| AtError::unknown_field(key))?;
            if !field.field_type.can_merge_on() {
                // [U] the docs list the allowed types but not the error's type name.
                return Err(AtError::invalid_request(format!(
                    "field \"{}\" of type {} cannot be used in fieldsToMergeOn",
                    field.name,
                    field.field_type.api_name()
                )));
            }
            Ok(field.id.clone())
        })
        .collect()
}

/// Which record an input updates. Records with an id must exist; without one (upsert
/// only) the merge fields pick 0 (create), 1 (update) or more (the request fails) records,
/// matched against the table as it was before this request.
fn target_of(
    table: &Table,
    input: &RecordInput,
    cells: &Cells,
    merge_ids: Option<&[String]>,
) -> AtResult<Target> {
    if let Some(id) = &input.id {
        return match table.record(id) {
            Some(_) => Ok(Target::Existing(id.clone())),
            None => Err(row_does_not_exist(id)),
        };
    }
    let Some(merge_ids) = merge_ids else {
        return Err(AtError::invalid_request("every record needs an \"id\""));
    };
    let mut key = Vec::with_capacity(merge_ids.len());
    for fid in merge_ids {
        let value = cells.get(fid).ok_or_else(|| {
            AtError::invalid_request(format!("upsert record is missing merge field {fid}"))
        })?;
        key.push((fid, value.as_ref()));
    }
    let matches: Vec<&Record> = table
        .records
        .iter()
        .filter(|r| key.iter().all(|(fid, v)| r.cells.get(*fid) == *v))
        .collect();
    match matches.as_slice() {
        [] => Ok(Target::New),
        [one] => Ok(Target::Existing(one.id.clone())),
        _ => Err(AtError::invalid_request(format!(
            "performUpsert matched {} records; fieldsToMergeOn must identify at most one",
            matches.len()
        ))),
    }
}

/// A batch update naming a record that does not exist [S: 422 `ROW_DOES_NOT_EXIST` as
/// reported against the live API in domdomegg/airtable-mcp-server#28 (2025)].
fn row_does_not_exist(id: &str) -> AtError {
    AtError::unprocessable(
        "ROW_DOES_NOT_EXIST",
        format!("Record ID {id} does not exist in this table"),
    )
}

/// Apply validated cells to an existing record. Cells whose value does not change are not
/// changes: they move no modified time and produce no payload [U].
fn apply_update(
    table: &mut Table,
    id: &str,
    cells: Cells,
    replace: bool,
    now: OffsetDateTime,
) -> Option<Change> {
    let index = table.record_index(id)?;
    let record = &mut table.records[index];
    let mut next = if replace {
        BTreeMap::new()
    } else {
        record.cells.clone()
    };
    for (fid, value) in cells {
        match value {
            Some(v) => next.insert(fid, v),
            None => next.remove(&fid),
        };
    }
    let diffs = diff(&record.cells, &next);
    if diffs.is_empty() {
        return None;
    }
    for fid in diffs.keys() {
        record.field_modified.insert(fid.clone(), now);
    }
    record.last_modified = now;
    record.cells = next;
    Some(Change::Updated {
        record_id: id.to_string(),
        diffs,
        after: record.cells.clone(),
    })
}

fn diff(
    before: &BTreeMap<String, Value>,
    after: &BTreeMap<String, Value>,
) -> BTreeMap<String, (Option<Value>, Option<Value>)> {
    let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let (b, a) = (before.get(k), after.get(k));
            (b != a).then(|| (k.clone(), (b.cloned(), a.cloned())))
        })
        .collect()
}

/// Delete records; every id must exist (checked before anything is deleted).
pub(crate) fn delete(table: &mut Table, ids: &[String]) -> AtResult<WriteOutcome> {
    if ids.iter().any(|id| table.record(id).is_none()) {
        return Err(AtError::not_found());
    }
    let mut outcome = WriteOutcome::default();
    for id in ids {
        outcome.record_ids.push(id.clone());
        if let Some(index) = table.record_index(id) {
            let record = table.records.remove(index);
            table.trash.push(record);
            outcome.changes.push(Change::Destroyed {
                record_id: id.clone(),
            });
        }
    }
    Ok(outcome)
}

/// A person restores a deleted record from the base's trash: it comes back
/// with its id and its cells (those of fields deleted since are gone), and
/// the table's webhooks see it created.
pub(crate) fn restore(table: &mut Table, id: &str) -> AtResult<WriteOutcome> {
    let index = table
        .trash
        .iter()
        .position(|r| r.id == id)
        .ok_or_else(AtError::not_found)?;
    let mut record = table.trash.remove(index);
    record
        .cells
        .retain(|field, _| table.fields.iter().any(|f| &f.id == field));
    let mut outcome = WriteOutcome::default();
    outcome.record_ids.push(record.id.clone());
    outcome.changes.push(Change::Created {
        record_id: record.id.clone(),
        created: record.created,
        cells: record.cells.clone(),
    });
    table.records.push(record);
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::airtable::schema::FieldSchema;
    use serde_json::json;

    fn table() -> Table {
        Table::new(
            "T",
            &[
                FieldSchema::new("Name", FieldType::SingleLineText),
                FieldSchema::single_select("Status", &["Draft", "Ready"]),
                FieldSchema::new("Notes", FieldType::MultilineText),
            ],
        )
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn t0() -> OffsetDateTime {
        time::macros::datetime!(2026-01-01 00:00 UTC)
    }

    #[test]
    fn a_deleted_record_is_restored_from_the_trash_with_its_id_and_cells() {
        let mut t = table();
        let out = create(&mut t, &[obj(json!({"Name": "a"}))], false, t0()).unwrap();
        let id = out.record_ids[0].clone();
        let cells = t.records[0].cells.clone();
        assert!(
            restore(&mut t, &id).is_err(),
            "not deleted: nothing to restore"
        );
        delete(&mut t, std::slice::from_ref(&id)).unwrap();
        assert!(t.record(&id).is_none());
        let out = restore(&mut t, &id).unwrap();
        assert!(
            matches!(&out.changes[..], [Change::Created { record_id, .. }] if *record_id == id)
        );
        assert_eq!(t.record(&id).unwrap().cells, cells);
        assert!(restore(&mut t, &id).is_err(), "restored once");
    }

    #[test]
    fn a_failing_record_leaves_the_table_untouched() {
        let mut t = table();
        let inputs = [
            obj(json!({"Name": "a", "Status": "New"})),
            obj(json!({"Name": "b"})),
        ];
        assert!(create(&mut t, &inputs, false, t0()).is_err());
        assert!(t.records.is_empty());
        // Typecast creates the option only when the request succeeds.
        create(&mut t, &inputs, true, t0()).unwrap();
        assert_eq!(t.records.len(), 2);
        assert!(t.field("Status").unwrap().choice("New").is_some());
    }

    #[test]
    fn put_clears_unspecified_cells_and_no_op_writes_are_not_changes() {
        let mut t = table();
        let out = create(
            &mut t,
            &[obj(json!({"Name": "a", "Notes": "n"}))],
            false,
            t0(),
        )
        .unwrap();
        let id = out.record_ids[0].clone();
        let same = RecordInput {
            id: Some(id.clone()),
            fields: obj(json!({"Name": "a"})),
        };
        let patch = update(
            &mut t,
            std::slice::from_ref(&same),
            &UpdateMode::default(),
            t0(),
        )
        .unwrap();
        assert!(patch.changes.is_empty());
        let put = UpdateMode {
            replace: true,
            ..UpdateMode::default()
        };
        let out = update(&mut t, &[same], &put, t0()).unwrap();
        let notes = t.field("Notes").unwrap().id.clone();
        match &out.changes[0] {
            Change::Updated { diffs, .. } => {
                assert_eq!(diffs[&notes], (Some(json!("n")), None));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(!t.records[0].cells.contains_key(&notes));
    }

    #[test]
    fn upsert_creates_then_updates_and_refuses_ambiguous_matches() {
        let mut t = table();
        let mode = UpdateMode {
            merge_on: Some(vec!["Name".into()]),
            ..UpdateMode::default()
        };
        let rec = RecordInput {
            id: None,
            fields: obj(json!({"Name": "a", "Notes": "1"})),
        };
        let first = update(&mut t, std::slice::from_ref(&rec), &mode, t0()).unwrap();
        assert_eq!(first.created.len(), 1);
        let second = update(&mut t, std::slice::from_ref(&rec), &mode, t0()).unwrap();
        assert_eq!(second.updated, first.created);
        assert_eq!(t.records.len(), 1);
        create(&mut t, &[obj(json!({"Name": "a"}))], false, t0()).unwrap();
        let err = update(&mut t, &[rec], &mode, t0()).unwrap_err();
        assert_eq!(err.status, 422);
    }

    #[test]
    fn unknown_ids_fail_updates_and_deletes() {
        let mut t = table();
        let missing = RecordInput {
            id: Some("recMissing000000".into()),
            fields: Map::new(),
        };
        let err = update(&mut t, &[missing], &UpdateMode::default(), t0()).unwrap_err();
        assert_eq!(err.kind(), Some("ROW_DOES_NOT_EXIST"));
        assert_eq!(
            delete(&mut t, &["recMissing000000".into()])
                .unwrap_err()
                .status,
            404
        );
    }
}

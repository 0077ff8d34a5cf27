//! Computed cells in the write path. After every write to a base the stored values of its
//! counts, lookups and rollups are refreshed (`linked.rs`), and every computed value that
//! the write changed, in any table of the base, is added to the transaction's changes so
//! that webhook payloads carry it: "By default, the payloads only contain the data that
//! changed" (api-facts §3.2), and a formula or rollup whose inputs changed has changed data.
//! A new record's payload carries its formula, count, lookup and rollup values.
//!
//! Not reported [U: the docs say nothing either way]: the cells of a field created or
//! retyped in the same transaction (the payload has the field change), and `autoNumber`,
//! `createdTime` and `lastModifiedTime` (they follow the record's own changes). A computed
//! change does not move `LAST_MODIFIED_TIME()`, which "returns the date and time of the
//! most recent modification made by a user in a non-computed field" (formula reference).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::formula::Formula;
use super::schema::{Field, FieldType};
use super::table::{Base, Record, Table};
use super::writes::Change;

/// (record id, field id) → value, for one table.
type Values = BTreeMap<(String, String), Value>;

/// The computed values of every table of a base before a write (by table index).
#[derive(Default)]
pub(crate) struct Snapshot(Vec<Values>);

fn is_derived(field: &Field) -> bool {
    field.field_type == FieldType::Formula || field.field_type.is_linked_computed()
}

/// Whether the base has any field whose value a write can change indirectly.
pub(crate) fn has_any(base: &Base) -> bool {
    base.tables.iter().any(|t| t.fields.iter().any(is_derived))
}

fn cell(table: &Table, field: &Field, record: &Record) -> Option<Value> {
    if field.field_type == FieldType::Formula {
        super::computed::value(table, field, record)
    } else {
        record.cells.get(&field.id).cloned()
    }
}

/// A field's value for each record: a formula compiled once for the table.
fn column(table: &Table, field: &Field) -> Vec<(String, Value)> {
    let formula = (field.field_type == FieldType::Formula).then(|| {
        let source = field.options.as_ref()?["formula"].as_str()?;
        Formula::compile(source, table).ok()
    });
    table
        .records
        .iter()
        .filter_map(|r| {
            let v = match &formula {
                Some(Some(f)) => f.cell(table, r),
                _ => cell(table, field, r),
            };
            v.map(|v| (r.id.clone(), v))
        })
        .collect()
}

fn values(table: &Table) -> Values {
    let mut out = Values::new();
    for field in table.fields.iter().filter(|f| is_derived(f)) {
        for (record, v) in column(table, field) {
            out.insert((record, field.id.clone()), v);
        }
    }
    out
}

pub(crate) fn snapshot(base: &Base) -> Snapshot {
    Snapshot(base.tables.iter().map(values).collect())
}

/// Recompute the stored counts, lookups and rollups of the base. A lookup of another
/// table's rollup may need that rollup first, so this runs until nothing changes (at
/// most a few rounds: cycles are the UI's to refuse).
pub(crate) fn refresh(base: &mut Base) {
    for _ in 0..4 {
        let mut updates: Vec<(usize, usize, String, Option<Value>)> = Vec::new();
        for (ti, table) in base.tables.iter().enumerate() {
            for field in table
                .fields
                .iter()
                .filter(|f| f.field_type.is_linked_computed())
            {
                for (ri, record) in table.records.iter().enumerate() {
                    let new = super::linked::value(base, table, field, record);
                    if new.as_ref() != record.cells.get(&field.id) {
                        updates.push((ti, ri, field.id.clone(), new));
                    }
                }
            }
        }
        if updates.is_empty() {
            return;
        }
        for (ti, ri, field_id, new) in updates {
            let cells = &mut base.tables[ti].records[ri].cells;
            match new {
                Some(v) => cells.insert(field_id, v),
                None => cells.remove(&field_id),
            };
        }
    }
}

/// Fields whose cells the transaction must not report one by one (added or retyped: the
/// payload has the field change; a deleted field is gone from the table).
fn schema_changed(changes: &BTreeMap<usize, Vec<Change>>) -> BTreeSet<String> {
    changes
        .values()
        .flatten()
        .filter_map(|c| match c {
            Change::FieldCreated { field_id, .. } | Change::FieldChanged { field_id, .. } => {
                Some(field_id.clone())
            }
            _ => None,
        })
        .collect()
}

type Diffs = BTreeMap<String, (Option<Value>, Option<Value>)>;

/// Add every computed value that changed since `before` to the changes of its table
/// (table index → changes; a table with none gets an entry).
pub(crate) fn report(base: &Base, before: &Snapshot, changes: &mut BTreeMap<usize, Vec<Change>>) {
    let skip = schema_changed(changes);
    for (ti, table) in base.tables.iter().enumerate() {
        let after = values(table);
        let empty = Values::new();
        let old = before.0.get(ti).unwrap_or(&empty);
        let mut per_record: BTreeMap<String, Diffs> = BTreeMap::new();
        for key in old.keys().chain(after.keys()) {
            let (was, now) = (old.get(key), after.get(key));
            let gone = table.record(&key.0).is_none() || table.field_by_id(&key.1).is_none();
            if was == now || skip.contains(&key.1) || gone {
                continue;
            }
            per_record
                .entry(key.0.clone())
                .or_default()
                .insert(key.1.clone(), (was.cloned(), now.cloned()));
        }
        if per_record.is_empty() {
            continue;
        }
        let list = changes.entry(ti).or_default();
        for (record_id, diffs) in per_record {
            merge(table, list, &record_id, diffs);
        }
    }
}

/// The record's cells with its formula values (for `includeCellValuesInFieldIds`).
fn all_cells(table: &Table, record: &Record) -> BTreeMap<String, Value> {
    let mut out = record.cells.clone();
    for field in table
        .fields
        .iter()
        .filter(|f| f.field_type == FieldType::Formula)
    {
        if let Some(v) = cell(table, field, record) {
            out.insert(field.id.clone(), v);
        }
    }
    out
}

fn merge(table: &Table, list: &mut Vec<Change>, record_id: &str, diffs: Diffs) {
    let Some(record) = table.record(record_id) else {
        return;
    };
    for change in list.iter_mut() {
        match change {
            Change::Created {
                record_id: id,
                cells,
                ..
            } if id == record_id => {
                for (field, (_, now)) in diffs {
                    if let Some(v) = now {
                        cells.insert(field, v);
                    }
                }
                return;
            }
            Change::Updated {
                record_id: id,
                diffs: existing,
                after,
            } if id == record_id => {
                *after = all_cells(table, record);
                existing.extend(diffs);
                return;
            }
            _ => {}
        }
    }
    list.push(Change::Updated {
        record_id: record_id.to_owned(),
        diffs,
        after: all_cells(table, record),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::airtable::fields;
    use crate::airtable::schema::FieldSchema;
    use crate::airtable::writes::{self, RecordInput, UpdateMode};
    use serde_json::json;

    fn base() -> Base {
        let mut b = Base::new("B");
        let formula = json!({"formula": "UPPER({Name})"});
        b.tables.push(Table::new(
            "T",
            &[
                FieldSchema::new("Name", FieldType::SingleLineText),
                FieldSchema::with_options("Shout", FieldType::Formula, formula),
            ],
        ));
        b
    }

    /// What `Shared::write` does around one write to table 0.
    fn write(b: &mut Base, f: impl FnOnce(&mut Table) -> Vec<Change>) -> Vec<Change> {
        let before = snapshot(b);
        let changes = f(&mut b.tables[0]);
        refresh(b);
        let mut by_table: BTreeMap<usize, Vec<Change>> = [(0, changes)].into();
        report(b, &before, &mut by_table);
        by_table.remove(&0).unwrap_or_default()
    }

    #[test]
    fn formulas_that_follow_a_write_are_changes_and_a_deleted_field_is_not() {
        let mut b = base();
        let at = time::macros::datetime!(2026-01-01 00:00 UTC);
        let shout = b.tables[0].field("Shout").unwrap().id.clone();
        let input = json!({"Name": "a"}).as_object().unwrap().clone();
        let created = write(&mut b, |t| {
            writes::create(t, &[input], false, at).unwrap().changes
        });
        let Change::Created {
            record_id, cells, ..
        } = &created[0]
        else {
            panic!("{created:?}")
        };
        assert_eq!(
            cells[&shout],
            json!("A"),
            "a new record carries its formula"
        );
        let update = RecordInput {
            id: Some(record_id.clone()),
            fields: json!({"Name": "b"}).as_object().unwrap().clone(),
        };
        let mode = UpdateMode::default();
        let updated = write(&mut b, |t| {
            writes::update(t, &[update], &mode, at).unwrap().changes
        });
        let Change::Updated { diffs, after, .. } = &updated[0] else {
            panic!("{updated:?}")
        };
        assert_eq!(diffs[&shout], (Some(json!("A")), Some(json!("B"))));
        assert_eq!(after[&shout], json!("B"));
        let deleted = write(&mut b, |t| fields::delete(t, 1).unwrap());
        assert!(
            deleted
                .iter()
                .all(|c| matches!(c, Change::FieldDestroyed { .. })),
            "{deleted:?}"
        );
    }
}

//! The inverse of a link field. Creating a `multipleRecordLinks` field through the API
//! also creates the field that links back from the linked table, each naming the other in
//! `options.inverseLinkFieldId` (field model; third-party clients show the reciprocal
//! field appearing, e.g. pyairtable#368); a link to the same table gets none [U]. The two
//! stay in step: linking record R to T in one puts T's cell in the other with R, and the
//! linked table's webhooks see that change as a change of T's cell.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::links::linked_table;
use super::schema::{Field, FieldSchema, FieldType};
use super::table::{Base, Table};
use super::writes::Change;

/// The reciprocal of `field` (just created in `source`) for the linked table: named after
/// the source table, with a number when that name is taken [U: the app's naming].
pub(crate) fn reciprocal(source: &Table, field: &Field, linked: &Table) -> FieldSchema {
    let taken = |n: &str| linked.fields.iter().any(|f| f.name.eq_ignore_ascii_case(n));
    let mut name = source.name.clone();
    let mut n = 2;
    while taken(&name) {
        name = format!("{} {n}", source.name);
        n += 1;
    }
    FieldSchema::with_options(
        name,
        FieldType::MultipleRecordLinks,
        json!({ "linkedTableId": source.id, "inverseLinkFieldId": field.id }),
    )
}

/// One cell of an inverse field: (table index, record id, field id).
type InverseCell = (usize, String, String);
/// The records to add to and to remove from one inverse cell.
type LinkEdits = (BTreeSet<String>, BTreeSet<String>);

/// The inverse field (table index, field id) of a link field, if it has one.
fn inverse_of(base: &Base, field: &Field) -> Option<(usize, String)> {
    let inverse = field.options.as_ref()?["inverseLinkFieldId"]
        .as_str()?
        .to_owned();
    let ti = base.table_index(linked_table(field)?)?;
    Some((ti, inverse))
}

fn ids(v: Option<&Value>) -> BTreeSet<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_owned))
        .collect()
}

/// After a write to table `ti`: put every link the write added or removed into the
/// inverse fields. Returns the changes per other table, for their webhooks.
pub(crate) fn mirror(
    base: &mut Base,
    ti: usize,
    changes: &[Change],
    now: OffsetDateTime,
) -> Vec<(usize, Vec<Change>)> {
    let mut edits: BTreeMap<InverseCell, LinkEdits> = BTreeMap::new();
    for field in base.tables[ti].fields.iter() {
        let Some((other, inverse)) = inverse_of(base, field) else {
            continue;
        };
        for change in changes {
            let (record, before, after) = match change {
                Change::Created {
                    record_id, cells, ..
                } => (record_id, BTreeSet::new(), ids(cells.get(&field.id))),
                Change::Updated {
                    record_id, diffs, ..
                } => match diffs.get(&field.id) {
                    Some((old, new)) => (record_id, ids(old.as_ref()), ids(new.as_ref())),
                    None => continue,
                },
                _ => continue,
            };
            for target in after.difference(&before) {
                let key = (other, target.clone(), inverse.clone());
                edits.entry(key).or_default().0.insert(record.clone());
            }
            for target in before.difference(&after) {
                let key = (other, target.clone(), inverse.clone());
                edits.entry(key).or_default().1.insert(record.clone());
            }
        }
    }
    let mut out: BTreeMap<usize, Vec<Change>> = BTreeMap::new();
    for ((other, target, inverse), (add, remove)) in edits {
        if let Some(change) = apply(
            &mut base.tables[other],
            &target,
            &inverse,
            &add,
            &remove,
            now,
        ) {
            out.entry(other).or_default().push(change);
        }
    }
    out.into_iter().collect()
}

fn apply(
    table: &mut Table,
    record_id: &str,
    field_id: &str,
    add: &BTreeSet<String>,
    remove: &BTreeSet<String>,
    now: OffsetDateTime,
) -> Option<Change> {
    let index = table.record_index(record_id)?;
    let record = &mut table.records[index];
    let old = record.cells.get(field_id).cloned();
    let mut list: Vec<Value> = old
        .as_ref()
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    list.retain(|v| !v.as_str().is_some_and(|s| remove.contains(s)));
    for id in add {
        if !list.iter().any(|v| v.as_str() == Some(id)) {
            list.push(json!(id));
        }
    }
    let new = (!list.is_empty()).then_some(Value::Array(list));
    if new == old {
        return None;
    }
    match &new {
        Some(v) => record.cells.insert(field_id.to_owned(), v.clone()),
        None => record.cells.remove(field_id),
    };
    record.field_modified.insert(field_id.to_owned(), now);
    record.last_modified = now;
    Some(Change::Updated {
        record_id: record_id.to_owned(),
        diffs: [(field_id.to_owned(), (old, new))].into(),
        after: record.cells.clone(),
    })
}

//! Linked-record fields (`multipleRecordLinks`), as Airtable's field model documents them:
//! the cell is an array of record ids of the linked table (`options.linkedTableId`); a
//! write replaces the whole array; `prefersSingleRecordLink` only changes the UI
//! ("whether this field prefers to only have a single linked record", the API still takes
//! and returns arrays); `inverseLinkFieldId` names the field in the linked table that shows
//! the link the other way, absent when the link is one-way ("Create a corresponding link
//! field in the linked table" turned off), which is how the sandbox creates link fields:
//! keeping an inverse field in step is not modelled [gap].
//! Sources: field model (https://airtable.com/developers/web/api/field-model,
//! "Link to another record"); cell values
//! (https://airtable.com/developers/web/api/model/multiple-record-links-field-type).
//!
//! A write naming a record that is not in the linked table is refused as a whole with 422
//! `ROW_DOES_NOT_EXIST` [U: the type third-party clients see for an unknown linked id; the
//! message is the sandbox's]. Deleting a record removes it from every cell linking to it,
//! as the app shows [U: no webhook payload is produced for those cells here].

use std::collections::HashSet;

use serde_json::Value;

use super::errors::{AtError, AtResult};
use super::schema::{Field, FieldType};
use super::table::Base;
use super::writes::Change;

/// Shape of a written link cell: an array of `rec…` strings (order kept, duplicates
/// dropped); `[]` clears the cell. Whether the ids exist is checked by [`check_targets`].
pub(crate) fn validate(field: &Field, value: &Value) -> AtResult<Option<Value>> {
    let Some(items) = value.as_array() else {
        return Err(AtError::invalid_value(&field.name));
    };
    let mut ids: Vec<Value> = Vec::new();
    for item in items {
        match item.as_str() {
            Some(id) if id.starts_with("rec") => {
                if !ids.iter().any(|v| v == item) {
                    ids.push(Value::String(id.to_string()));
                }
            }
            _ => return Err(AtError::invalid_value(&field.name)),
        }
    }
    Ok((!ids.is_empty()).then_some(Value::Array(ids)))
}

/// The linked table's id of a link field.
pub(crate) fn linked_table(field: &Field) -> Option<&str> {
    field.options.as_ref()?.get("linkedTableId")?.as_str()
}

/// The schema options: `linkedTableId`, `isReversed`, `prefersSingleRecordLink`, and
/// `inverseLinkFieldId` only when one was given.
pub(crate) fn options_json(field: &Field) -> Value {
    let given = field.options.clone().unwrap_or_default();
    let mut out = serde_json::json!({
        "linkedTableId": given.get("linkedTableId").cloned().unwrap_or(Value::Null),
        "isReversed": false,
        "prefersSingleRecordLink": given.get("prefersSingleRecordLink").cloned().unwrap_or(Value::Bool(false)),
    });
    if let Some(inverse) = given.get("inverseLinkFieldId") {
        out["inverseLinkFieldId"] = inverse.clone();
    }
    out
}

/// After a write to table `ti`: every link cell the write set names records of its linked
/// table. The caller undoes the write when this fails.
pub(crate) fn check_targets(base: &Base, ti: usize, changes: &[Change]) -> AtResult<()> {
    let table = &base.tables[ti];
    for change in changes {
        let record_id = match change {
            Change::Created { record_id, .. } | Change::Updated { record_id, .. } => record_id,
            _ => continue,
        };
        let Some(record) = table.record(record_id) else {
            continue;
        };
        for field in table.fields.iter().filter(is_link) {
            let Some(ids) = record.cells.get(&field.id).and_then(Value::as_array) else {
                continue;
            };
            let target = linked_table(field).and_then(|t| base.table(t));
            let known: HashSet<&str> = target
                .map(|t| t.records.iter().map(|r| r.id.as_str()).collect())
                .unwrap_or_default();
            if let Some(missing) = ids
                .iter()
                .filter_map(Value::as_str)
                .find(|id| !known.contains(id))
            {
                return Err(AtError::unprocessable(
                    "ROW_DOES_NOT_EXIST",
                    format!(
                        "Record ID {missing} does not exist in the table linked by field \"{}\"",
                        field.name
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Whether the table has a link field (a write to it may name other tables' records).
pub(crate) fn has_links(table: &super::table::Table) -> bool {
    table.fields.iter().any(|f| is_link(&f))
}

fn is_link(field: &&Field) -> bool {
    field.field_type == FieldType::MultipleRecordLinks
}

/// Records of table `table_id` were deleted: drop them from every link cell of the base
/// that points to that table.
pub(crate) fn forget_deleted(base: &mut Base, table_id: &str, deleted: &[String]) {
    if deleted.is_empty() {
        return;
    }
    for table in &mut base.tables {
        let fields: Vec<String> = table
            .fields
            .iter()
            .filter(|f| is_link(f) && linked_table(f) == Some(table_id))
            .map(|f| f.id.clone())
            .collect();
        for record in &mut table.records {
            for field_id in &fields {
                let Some(Value::Array(ids)) = record.cells.get_mut(field_id) else {
                    continue;
                };
                ids.retain(|id| !deleted.iter().any(|d| id.as_str() == Some(d)));
                if ids.is_empty() {
                    record.cells.remove(field_id);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::airtable::schema::FieldSchema;
    use serde_json::json;

    fn link_field() -> Field {
        Field::from_schema(&FieldSchema::with_options(
            "Epic",
            FieldType::MultipleRecordLinks,
            json!({"linkedTableId": "tblX"}),
        ))
    }

    #[test]
    fn link_cells_are_arrays_of_record_ids() {
        let f = link_field();
        assert_eq!(
            validate(&f, &json!(["recA", "recB", "recA"])).unwrap(),
            Some(json!(["recA", "recB"]))
        );
        assert_eq!(validate(&f, &json!([])).unwrap(), None);
        assert!(validate(&f, &json!("recA")).is_err());
        assert!(validate(&f, &json!(["Alpha"])).is_err());
    }

    #[test]
    fn options_name_the_linked_table_and_no_inverse_unless_given() {
        let o = options_json(&link_field());
        assert_eq!(o["linkedTableId"], "tblX");
        assert_eq!(o["prefersSingleRecordLink"], false);
        assert!(o.get("inverseLinkFieldId").is_none());
    }
}

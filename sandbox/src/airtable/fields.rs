//! Field-schema changes to one table, each returning the [`Change`]s webhook payloads are
//! built from: create a field and rename / describe one (Meta API or a person), change a
//! field's type and delete a field (a person in the app only: the public API cannot).
//!
//! Field ids never change: a rename changes the name only, so cells (stored by field id)
//! stay where they are and read back under the new name.

use time::OffsetDateTime;

use super::cells;
use super::errors::{AtError, AtResult};
use super::schema::{Field, FieldSchema, FieldType};
use super::table::Table;
use super::writes::{Change, FieldProps};

/// "max 20,000 characters" for a field description (update-field docs).
const MAX_DESCRIPTION_CHARS: usize = 20_000;

/// 422 `DUPLICATE_OR_EMPTY_FIELD_NAME` [S: the type third-party clients handle for a taken
/// or empty name on create-field and update-field; the message is the sandbox's].
pub(crate) fn duplicate_or_empty(name: &str) -> AtError {
    AtError::unprocessable(
        "DUPLICATE_OR_EMPTY_FIELD_NAME",
        format!("Field name \"{name}\" is empty or already used by another field in this table"),
    )
}

/// A new name must be non-blank and not used by another field of the table (compared
/// without regard to case [U]).
fn check_name(table: &Table, name: &str, except_id: Option<&str>) -> AtResult<()> {
    let taken = table
        .fields
        .iter()
        .filter(|f| Some(f.id.as_str()) != except_id)
        .any(|f| f.name.to_lowercase() == name.to_lowercase());
    if name.trim().is_empty() || taken {
        return Err(duplicate_or_empty(name));
    }
    Ok(())
}

pub(crate) fn check_description(description: &str) -> AtResult<()> {
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(AtError::invalid_request(
            "a field description is at most 20,000 characters",
        ));
    }
    Ok(())
}

/// The index of a field by id (Meta API paths name fields by id). An unknown id is the
/// "model not found" 403 an unknown base or table gets [U: the docs name no error for it].
pub(crate) fn index_by_id(table: &Table, id: &str) -> AtResult<usize> {
    table
        .fields
        .iter()
        .position(|f| f.id == id)
        .ok_or_else(AtError::model_not_found)
}

/// The index of a field by id or exact name (the control API accepts either).
pub(crate) fn index_by_key(table: &Table, key: &str) -> AtResult<usize> {
    index_by_id(table, key).or_else(|_| {
        table
            .fields
            .iter()
            .position(|f| f.name == key)
            .ok_or_else(AtError::model_not_found)
    })
}

/// Add a field at the end of the table.
pub(crate) fn create(
    table: &mut Table,
    schema: &FieldSchema,
    description: Option<String>,
) -> AtResult<(Field, Vec<Change>)> {
    check_name(table, &schema.name, None)?;
    if let Some(d) = &description {
        check_description(d)?;
    }
    super::computed::check_new(table, schema)?;
    let mut field = Field::from_schema(schema);
    field.description = description.filter(|d| !d.is_empty());
    table.fields.push(field.clone());
    let change = Change::FieldCreated {
        field_id: field.id.clone(),
        name: field.name.clone(),
        field_type: field.field_type,
    };
    Ok((field, vec![change]))
}

/// Rename and/or describe field `index`. An empty description clears it. Only a rename is
/// reported to webhooks: the payload's field model has a name and a type, no description.
pub(crate) fn update(
    table: &mut Table,
    index: usize,
    name: Option<&str>,
    description: Option<&str>,
) -> AtResult<(Field, Vec<Change>)> {
    let id = table.fields[index].id.clone();
    if let Some(n) = name {
        check_name(table, n, Some(&id))?;
    }
    if let Some(d) = description {
        check_description(d)?;
    }
    let field = &mut table.fields[index];
    let mut changes = Vec::new();
    if let Some(n) = name.filter(|n| *n != field.name) {
        changes.push(Change::FieldChanged {
            field_id: id,
            previous: FieldProps {
                name: Some(field.name.clone()),
                field_type: None,
            },
            current: FieldProps {
                name: Some(n.to_string()),
                field_type: None,
            },
        });
        field.name = n.to_string();
    }
    if let Some(d) = description {
        field.description = (!d.is_empty()).then(|| d.to_string());
    }
    Ok((field.clone(), changes))
}

/// Change field `index` to `new_type` as a person does in the app: every cell is converted
/// (see [`cells::convert`]) and what the new type cannot hold is dropped. `choices` are the
/// options a select type starts with (values that name other options add them). Webhooks
/// get the field change only, no per-record changes for the converted cells [U: the docs do
/// not say whether a type change also reports cell changes]; modified times move for every
/// cell whose value changed, so `LAST_MODIFIED_TIME()` filters see them.
pub(crate) fn change_type(
    table: &mut Table,
    index: usize,
    new_type: FieldType,
    choices: &[String],
    now: OffsetDateTime,
) -> AtResult<(Field, Vec<Change>)> {
    let old = table.fields[index].clone();
    if old.field_type == new_type {
        return Ok((old, Vec::new()));
    }
    // A computed field is added with its options (a formula's text), which a
    // type change here cannot carry; changing a computed field back to a
    // stored type would need the values the UI shows, which are not kept.
    if new_type.is_computed() || old.field_type.is_computed() {
        return Err(AtError::invalid_request(format!(
            "the sandbox does not change a field to or from the computed type \"{}\"",
            if new_type.is_computed() {
                new_type
            } else {
                old.field_type
            }
            .api_name()
        )));
    }
    let mut new = old.clone();
    new.field_type = new_type;
    new.choices.clear();
    if new_type.is_select() {
        for c in choices {
            new.add_choice(c);
        }
    }
    for record in &mut table.records {
        let Some(value) = record.cells.remove(&old.id) else {
            continue;
        };
        if let Some(converted) = cells::convert(&old, &mut new, &value) {
            if converted != value {
                record.field_modified.insert(old.id.clone(), now);
                record.last_modified = now;
            }
            record.cells.insert(old.id.clone(), converted);
        } else {
            record.field_modified.remove(&old.id);
            record.last_modified = now;
        }
    }
    table.fields[index] = new.clone();
    let change = Change::FieldChanged {
        field_id: old.id.clone(),
        previous: FieldProps {
            name: None,
            field_type: Some(old.field_type),
        },
        current: FieldProps {
            name: None,
            field_type: Some(new_type),
        },
    };
    Ok((new, vec![change]))
}

/// Delete field `index` and its cell in every record. The primary field cannot be deleted
/// (the app offers no way to).
pub(crate) fn delete(table: &mut Table, index: usize) -> AtResult<Vec<Change>> {
    if index == 0 {
        return Err(AtError::invalid_request(
            "the primary field cannot be deleted",
        ));
    }
    let field = table.fields.remove(index);
    for record in &mut table.records {
        record.cells.remove(&field.id);
        record.field_modified.remove(&field.id);
    }
    Ok(vec![Change::FieldDestroyed { field_id: field.id }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::airtable::writes;
    use serde_json::json;

    fn t0() -> OffsetDateTime {
        time::macros::datetime!(2026-01-01 00:00 UTC)
    }

    fn table() -> Table {
        let mut t = Table::new(
            "T",
            &[
                FieldSchema::new("Name", FieldType::SingleLineText),
                FieldSchema::new("Points", FieldType::SingleLineText),
            ],
        );
        let rows = [
            json!({"Name": "a", "Points": "3"}),
            json!({"Name": "b", "Points": "many"}),
        ];
        let inputs: Vec<_> = rows
            .iter()
            .map(|r| r.as_object().unwrap().clone())
            .collect();
        writes::create(&mut t, &inputs, false, t0()).unwrap();
        t
    }

    #[test]
    fn names_must_be_unique_and_non_blank() {
        let mut t = table();
        let err = update(&mut t, 1, Some("name"), None).unwrap_err();
        assert_eq!(err.kind(), Some("DUPLICATE_OR_EMPTY_FIELD_NAME"));
        assert!(update(&mut t, 1, Some(" "), None).is_err());
        // A case-only rename of the same field is fine.
        let (f, changes) = update(&mut t, 1, Some("points"), None).unwrap();
        assert_eq!(f.name, "points");
        assert_eq!(changes.len(), 1);
    }

    #[test]
    fn text_to_number_keeps_numbers_and_drops_the_rest() {
        let mut t = table();
        let id = t.fields[1].id.clone();
        change_type(&mut t, 1, FieldType::Number, &[], t0()).unwrap();
        assert_eq!(t.records[0].cells[&id], json!(3));
        assert!(!t.records[1].cells.contains_key(&id));
    }

    #[test]
    fn deleting_a_field_removes_its_cells_but_not_the_primary_field() {
        let mut t = table();
        let id = t.fields[1].id.clone();
        assert!(delete(&mut t, 0).is_err());
        delete(&mut t, 1).unwrap();
        assert!(t.records.iter().all(|r| !r.cells.contains_key(&id)));
        assert_eq!(t.fields.len(), 1);
    }
}

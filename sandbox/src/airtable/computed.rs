//! Airtable's computed fields, as the field model documents their cell values:
//! `autoNumber` (an integer, 1, 2, 3... in creation order, never reused),
//! `createdTime` and `lastModifiedTime` (ISO instants; `lastModifiedTime`
//! over its `referencedFieldIds`, every field when empty), and `formula`
//! (`options.formula`, evaluated with the `filterByFormula` evaluator, so only
//! the functions it knows). Values are computed when a record is read, never
//! stored, and a write to one is refused (422 `INVALID_VALUE_FOR_COLUMN`).
//! Only a person adds these fields (in the UI); the API cannot create them.
//! `rollup`, lookups and `count` are stored and refreshed after each write (`linked.rs`,
//! `derived.rs`); this module computes the others at read time.

use serde_json::{Value, json};

use super::errors::{AtError, AtResult};
use super::formula::Formula;
use super::schema::{Field, FieldSchema, FieldType};
use super::table::{Record, Table};
use crate::common::airtable_time;

/// The computed cell of `field` for `record` (`None`: not computed, or blank).
pub(crate) fn value(table: &Table, field: &Field, record: &Record) -> Option<Value> {
    match field.field_type {
        FieldType::AutoNumber => Some(json!(record.number)),
        FieldType::CreatedTime => Some(json!(airtable_time(record.created))),
        FieldType::LastModifiedTime => {
            let watched = referenced_ids(field);
            let latest = if watched.is_empty() {
                Some(record.last_modified)
            } else {
                watched
                    .iter()
                    .filter_map(|id| record.field_modified.get(id))
                    .max()
                    .copied()
            };
            latest.map(|t| json!(airtable_time(t)))
        }
        FieldType::Formula => {
            let source = formula_source(field)?;
            match Formula::compile(&source, table) {
                Ok(formula) => formula.cell(table, record),
                Err(_) => Some(json!({"error": "#ERROR!"})),
            }
        }
        _ => None,
    }
}

/// "Field \"X\" cannot accept a value because the field is computed".
pub(crate) fn refused_write(field: &Field) -> AtError {
    AtError::unprocessable(
        "INVALID_VALUE_FOR_COLUMN",
        format!(
            "Field \"{}\" cannot accept a value because the field is computed",
            field.name
        ),
    )
}

/// A new computed field as a person adds it: a formula must parse against the table.
pub(crate) fn check_new(table: &Table, schema: &FieldSchema) -> AtResult<()> {
    if schema.field_type != FieldType::Formula {
        return Ok(());
    }
    let source = schema
        .options
        .as_ref()
        .and_then(|o| o["formula"].as_str())
        .ok_or_else(|| AtError::invalid_request("options for formula: \"formula\" is required"))?;
    Formula::compile(source, table).map(|_| ())
}

/// The options the base schema shows for a computed field.
pub(crate) fn options_json(field: &Field) -> Value {
    let given = field.options.clone().unwrap_or_else(|| json!({}));
    match field.field_type {
        FieldType::Formula => json!({
            "formula": formula_source(field),
            "isValid": true,
            "referencedFieldIds": given.get("referencedFieldIds").cloned().unwrap_or(json!([])),
        }),
        FieldType::LastModifiedTime => json!({
            "isValid": true,
            "referencedFieldIds": referenced_ids(field),
            "result": {"type": "dateTime"},
        }),
        FieldType::CreatedTime => json!({"result": {"type": "dateTime"}}),
        t if t.is_linked_computed() => super::linked::options_json(field),
        _ => json!({}),
    }
}

fn formula_source(field: &Field) -> Option<String> {
    field.options.as_ref()?["formula"]
        .as_str()
        .map(str::to_owned)
}

fn referenced_ids(field: &Field) -> Vec<String> {
    let ids = field
        .options
        .as_ref()
        .and_then(|o| o["referencedFieldIds"].as_array());
    ids.into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

//! `POST /v0/meta/bases/{baseId}/tables` (create table; scope `schema.bases:write`), as
//! the Web API reference documents it: the body is `{name, description?, fields}`; "at
//! least one field must be specified"; "the first field in the fields array will be used
//! as the table's primary field and must be a supported primary field type"; "fields must
//! have case-insensitive unique names within the table"; each field is a field config as
//! create field takes it (`{name, type, description?, options?}`). The answer is the table
//! model: `{id, name, description?, primaryFieldId, fields, views}`.
//!
//! Not documented [U]: the error for a table name already used (the sandbox answers 422
//! `DUPLICATE_TABLE_NAME`, compared without case as field names are) and which types
//! cannot be primary (the sandbox refuses those the app refuses: checkbox, selects,
//! collaborators, rating).

use std::sync::Arc;

use axum::{
    Json,
    extract::{Path, State},
};
use serde_json::Value;

use super::body::JsonBody;
use super::errors::{AtError, AtResult};
use super::fields::{check_description, duplicate_or_empty};
use super::meta::{body_object, field_config, opt_string};
use super::schema::{FieldSchema, FieldType};
use super::state::Shared;
use super::table::Table;

/// Types that cannot be a table's primary field [U].
const NOT_PRIMARY: [FieldType; 6] = [
    FieldType::Checkbox,
    FieldType::SingleSelect,
    FieldType::MultipleSelects,
    FieldType::SingleCollaborator,
    FieldType::MultipleCollaborators,
    FieldType::Rating,
];

pub(crate) async fn create_table(
    State(s): State<Arc<Shared>>,
    Path(base): Path<String>,
    JsonBody(body): JsonBody,
) -> AtResult<Json<Value>> {
    let obj = body_object(&body, &["name", "description", "fields"])?;
    let name = opt_string(&obj, "name")?
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| AtError::invalid_request("name is required"))?;
    let description = opt_string(&obj, "description")?.filter(|d| !d.is_empty());
    if let Some(d) = &description {
        check_description(d)?;
    }
    let configs = match obj.get("fields") {
        Some(Value::Array(fields)) if !fields.is_empty() => fields,
        _ => {
            return Err(AtError::invalid_request(
                "fields must be an array of at least one field",
            ));
        }
    };
    let fields = configs
        .iter()
        .map(field_config)
        .collect::<AtResult<Vec<_>>>()?;
    check_fields(&fields)?;
    let mut store = s.store();
    let base = store.base_mut(&base)?;
    if base
        .tables
        .iter()
        .any(|t| t.name.to_lowercase() == name.to_lowercase())
    {
        return Err(AtError::unprocessable(
            "DUPLICATE_TABLE_NAME",
            format!("A table named \"{name}\" already exists in this base"),
        ));
    }
    let schemas: Vec<FieldSchema> = fields.iter().map(|(f, _)| f.clone()).collect();
    let mut table = Table::new(&name, &schemas);
    table.description = description;
    for (field, (_, description)) in table.fields.iter_mut().zip(&fields) {
        field.description = description.clone().filter(|d| !d.is_empty());
    }
    let answer = table.to_schema_json();
    base.tables.push(table);
    Ok(Json(answer))
}

/// Unique, non-blank names (without regard to case), descriptions within the limit, and a
/// primary field of a type that can be one.
fn check_fields(fields: &[(FieldSchema, Option<String>)]) -> AtResult<()> {
    for (i, (field, description)) in fields.iter().enumerate() {
        let name = field.name.to_lowercase();
        let taken = fields[..i]
            .iter()
            .any(|(f, _)| f.name.to_lowercase() == name);
        if field.name.trim().is_empty() || taken {
            return Err(duplicate_or_empty(&field.name));
        }
        if let Some(d) = description {
            check_description(d)?;
        }
    }
    let primary = fields[0].0.field_type;
    if NOT_PRIMARY.contains(&primary) {
        return Err(AtError::invalid_request(format!(
            "field type \"{}\" cannot be the primary field",
            primary.api_name()
        )));
    }
    Ok(())
}

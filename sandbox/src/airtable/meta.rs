//! Metadata endpoints: the base schema (api-facts §4.6), create field and update field
//! (name / description), and `whoami`.

use std::sync::Arc;

use axum::{
    Json,
    extract::{Path, State},
};
use serde_json::{Map, Value, json};

use super::body::JsonBody;
use super::errors::{AtError, AtResult};
use super::fields;
use super::schema::{FieldSchema, FieldType};
use super::state::Shared;
use super::table::Table;

/// `GET /v0/meta/bases/{base}/tables`.
pub(crate) async fn base_schema(
    State(s): State<Arc<Shared>>,
    Path(base): Path<String>,
) -> AtResult<Json<Value>> {
    let store = s.store();
    let base = store.base(&base)?;
    let tables: Vec<Value> = base.tables.iter().map(Table::to_schema_json).collect();
    Ok(Json(json!({ "tables": tables })))
}

/// `GET /v0/meta/whoami` → `{id, scopes, email}` (email because the token has
/// `user.email:read`).
pub(crate) async fn whoami(State(s): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({
        "id": s.api_actor.id,
        "scopes": s.scopes,
        "email": s.api_actor.email,
    }))
}

pub(crate) fn body_object(body: &Value, allowed: &[&str]) -> AtResult<Map<String, Value>> {
    let obj = body
        .as_object()
        .ok_or_else(|| AtError::invalid_request("the body must be a JSON object"))?;
    if let Some(k) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(AtError::invalid_request(format!(
            "unknown parameter \"{k}\""
        )));
    }
    Ok(obj.clone())
}

/// An optional string member; anything else is a 422.
pub(crate) fn opt_string(obj: &Map<String, Value>, key: &str) -> AtResult<Option<String>> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(AtError::invalid_request(format!("{key} must be a string"))),
    }
}

/// `PATCH /v0/meta/bases/{base}/tables/{tableIdOrName}/fields/{columnId}` with
/// `{name?, description?}` (at least one) → the field model. Scope `schema.bases:write`.
pub(crate) async fn update_field(
    State(s): State<Arc<Shared>>,
    Path((base, table, field)): Path<(String, String, String)>,
    JsonBody(body): JsonBody,
) -> AtResult<Json<Value>> {
    let obj = body_object(&body, &["name", "description"])?;
    let name = opt_string(&obj, "name")?;
    let description = opt_string(&obj, "description")?;
    if name.is_none() && description.is_none() {
        return Err(AtError::invalid_request(
            "at least one of name or description must be specified",
        ));
    }
    let actor = s.api_actor.clone();
    s.write(&base, &table, &actor, |t, _now| {
        let index = fields::index_by_id(t, &field)?;
        let (updated, changes) = fields::update(t, index, name.as_deref(), description.as_deref())?;
        Ok((Json(updated.to_schema_json()), changes))
    })
}

/// `POST /v0/meta/bases/{base}/tables/{tableId}/fields` with `{name, type, description?,
/// options?}` → the field model. Scope `schema.bases:write`.
pub(crate) async fn create_field(
    State(s): State<Arc<Shared>>,
    Path((base, table)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> AtResult<Json<Value>> {
    let (schema, description) = field_config(&body)?;
    if schema.field_type == FieldType::MultipleRecordLinks {
        linked_table_exists(&s, &base, schema.options.as_ref())?;
    }
    let actor = s.api_actor.clone();
    let field = s.write(&base, &table, &actor, |t, _now| {
        fields::create(t, &schema, description)
    })?;
    if field.field_type == FieldType::MultipleRecordLinks {
        return Ok(Json(
            create_inverse(&s, &base, &table, field)?.to_schema_json(),
        ));
    }
    Ok(Json(field.to_schema_json()))
}

/// The reciprocal field of a new link field, in the linked table (none for a link to the
/// same table), and the new field's `inverseLinkFieldId` pointing at it (`inverse.rs`).
fn create_inverse(
    s: &Arc<Shared>,
    base: &str,
    table: &str,
    mut field: super::schema::Field,
) -> AtResult<super::schema::Field> {
    let linked = super::links::linked_table(&field)
        .unwrap_or_default()
        .to_owned();
    let reciprocal = {
        let store = s.store();
        let b = store.base(base)?;
        let (Some(source), Some(target)) = (b.table(table), b.table(&linked)) else {
            return Ok(field);
        };
        if source.id == target.id {
            return Ok(field);
        }
        super::inverse::reciprocal(source, &field, target)
    };
    let actor = s.api_actor.clone();
    let inverse = s.write(base, &linked, &actor, |t, _now| {
        fields::create(t, &reciprocal, None)
    })?;
    let mut store = s.store();
    let (bi, ti) = store.locate(base, table)?;
    if let Some(f) = store.bases[bi].tables[ti]
        .fields
        .iter_mut()
        .find(|f| f.id == field.id)
    {
        let mut options = f.options.clone().unwrap_or_else(|| json!({}));
        options["inverseLinkFieldId"] = json!(inverse.id);
        f.options = Some(options);
        field = f.clone();
    }
    Ok(field)
}

/// A link field's `linkedTableId` must name a table of the same base (links never cross
/// bases, field model). [U] the error for an unknown table is not documented.
fn linked_table_exists(s: &Shared, base: &str, options: Option<&Value>) -> AtResult<()> {
    let id = options
        .and_then(|o| o["linkedTableId"].as_str())
        .unwrap_or("");
    let store = s.store();
    if store.base(base)?.table(id).is_none() {
        return Err(AtError::invalid_request(format!(
            "options for multipleRecordLinks: linkedTableId \"{id}\" is not a table of this base"
        )));
    }
    Ok(())
}

/// A field config `{name, type, description?, options?}` (create field, and each field of
/// create table) → the field to create and its description.
pub(crate) fn field_config(body: &Value) -> AtResult<(FieldSchema, Option<String>)> {
    let obj = body_object(body, &["name", "type", "description", "options"])?;
    let name = opt_string(&obj, "name")?.unwrap_or_default();
    let type_name =
        opt_string(&obj, "type")?.ok_or_else(|| AtError::invalid_request("type is required"))?;
    let field_type = FieldType::from_api_name(&type_name).ok_or_else(|| {
        AtError::invalid_request(format!("unsupported field type \"{type_name}\""))
    })?;
    // The field types an API cannot create (Airtable's list for scripts and
    // extensions; the Web API's field model marks them read-only): a person
    // adds them in the UI.
    if field_type.is_computed() {
        return Err(AtError::invalid_request(format!(
            "field type \"{type_name}\" cannot be created through the API"
        )));
    }
    let choices = check_options(field_type, obj.get("options"))?;
    let options = numeric_options(field_type, obj.get("options"))?;
    let schema = FieldSchema {
        name,
        field_type,
        choices,
        options,
    };
    let description = opt_string(&obj, "description")?;
    Ok((schema, description))
}

/// The option keys each type's write format requires (field model docs); text types take
/// none. Returns the select choices. [U] the error type for bad options is not documented.
fn check_options(t: FieldType, options: Option<&Value>) -> AtResult<Vec<String>> {
    let required: &[&str] = match t {
        FieldType::Number | FieldType::Percent => &["precision"],
        FieldType::Currency => &["precision", "symbol"],
        FieldType::Rating => &["max", "icon", "color"],
        FieldType::Duration => &["durationFormat"],
        FieldType::Checkbox => &["color", "icon"],
        FieldType::Date => &["dateFormat"],
        FieldType::DateTime => &["dateFormat", "timeFormat", "timeZone"],
        FieldType::SingleSelect | FieldType::MultipleSelects => &["choices"],
        FieldType::MultipleRecordLinks => &["linkedTableId"],
        _ => &[],
    };
    let bad =
        |why: String| AtError::invalid_request(format!("options for {}: {why}", t.api_name()));
    let options = match options {
        None | Some(Value::Null) if required.is_empty() => return Ok(Vec::new()),
        None | Some(Value::Null) => return Err(bad(format!("{required:?} are required"))),
        Some(_) if required.is_empty() => return Err(bad("this type takes no options".into())),
        Some(v) => v,
    };
    if let Some(missing) = required.iter().find(|k| options.get(**k).is_none()) {
        return Err(bad(format!("\"{missing}\" is required")));
    }
    if !t.is_select() {
        return Ok(Vec::new());
    }
    options["choices"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .map(|c| c["name"].as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| bad("choices must be an array of {name}".into()))
}

/// The options kept for a number-like field, checked against the field model's ranges:
/// `precision` 0 to 8 (currency 0 to 7), rating `max` 1 to 10, and one of the five
/// duration formats.
fn numeric_options(t: FieldType, options: Option<&Value>) -> AtResult<Option<Value>> {
    let Some(options) = options.filter(|_| {
        matches!(
            t,
            FieldType::Currency
                | FieldType::Percent
                | FieldType::Rating
                | FieldType::Duration
                | FieldType::MultipleRecordLinks
        )
    }) else {
        return Ok(None);
    };
    let bad = |why: &str| AtError::invalid_request(format!("options for {}: {why}", t.api_name()));
    let in_range = |key: &str, lo: u64, hi: u64| {
        options[key]
            .as_u64()
            .is_some_and(|n| (lo..=hi).contains(&n))
    };
    match t {
        FieldType::Currency if !in_range("precision", 0, 7) => Err(bad("precision is 0 to 7")),
        FieldType::Percent if !in_range("precision", 0, 8) => Err(bad("precision is 0 to 8")),
        FieldType::Rating if !in_range("max", 1, 10) => Err(bad("max is 1 to 10")),
        FieldType::Duration
            if !DURATION_FORMATS.contains(&options["durationFormat"].as_str().unwrap_or("")) =>
        {
            Err(bad(
                "durationFormat is one of h:mm, h:mm:ss, h:mm:ss.S, h:mm:ss.SS, h:mm:ss.SSS",
            ))
        }
        _ => Ok(Some(options.clone())),
    }
}

const DURATION_FORMATS: [&str; 5] = ["h:mm", "h:mm:ss", "h:mm:ss.S", "h:mm:ss.SS", "h:mm:ss.SSS"];

//! Relation properties, as Notion's API reference documents them:
//! - schema (data source object, "Relation"): `{"relation": {"data_source_id", "database_id",
//!   "type": "single_property", "single_property": {}}}`; added through the update-data-source
//!   endpoint with `{"relation": {"data_source_id": …, "single_property": {}}}`.
//!   `dual_property` (a synced property on the related data source) is not modelled [gap].
//! - page reads: `{"id", "type": "relation", "relation": [{"id"}], "has_more"}`: "relation
//!   property values feature a maximum of 25 relations" (retrieve-a-page, Limits); longer
//!   values are read through `GET /v1/pages/{page_id}/properties/{property_id}`, a paginated
//!   list of `property_item`s of one page reference each (page-property-values, "Read page
//!   property values" guide).
//! - writes: `{"relation": [{"id": page_id}]}` replaces the whole list; "relation: 100
//!   pages" per request (request-limits); a page that does not exist or is not in the
//!   related data source is refused with 400 `validation_error` [U: message is the sandbox's].

use serde_json::{Value, json};
use uuid::Uuid;

use super::errors::{NotionError, NotionResult};
use super::properties::{MAX_ARRAY, READ_TRUNCATION};
use super::schema::PropertyKind;
use super::state::{World, dashed, parse_id};

/// The data source a relation property points to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    pub data_source_id: Uuid,
    /// Filled from the world when the property is added.
    pub database_id: Uuid,
}

/// `{"data_source_id": …, "single_property": {}}` of a new relation property.
pub fn parse_config(
    kind: PropertyKind,
    config: &Value,
    path: &str,
) -> NotionResult<Option<Target>> {
    if kind != PropertyKind::Relation {
        return Ok(None);
    }
    if config.get("dual_property").is_some() || config["type"] == "dual_property" {
        return Err(NotionError::validation(format!(
            "body failed validation: {path}.relation.dual_property: two-way relations are not supported by the sandbox."
        )));
    }
    let Some(raw) = config["data_source_id"].as_str() else {
        return Err(NotionError::validation(format!(
            "body failed validation: {path}.relation.data_source_id should be defined, instead was `undefined`."
        )));
    };
    let data_source_id = parse_id(raw, "data_source_id")?;
    Ok(Some(Target {
        data_source_id,
        database_id: Uuid::nil(),
    }))
}

/// The schema entry's `relation` object.
pub fn schema_json(target: Option<&Target>) -> Value {
    let Some(t) = target else {
        return json!({});
    };
    json!({
        "data_source_id": dashed(t.data_source_id),
        "database_id": dashed(t.database_id),
        "type": "single_property",
        "single_property": {},
    })
}

/// Fill in the related database of `target`, or refuse a data source that does not exist.
pub fn resolve(world: &World, target: &mut Target) -> NotionResult<()> {
    let ds = world.data_source(target.data_source_id).map_err(|_| {
        NotionError::validation(format!(
            "Could not find data source with ID: {}.",
            dashed(target.data_source_id)
        ))
    })?;
    target.database_id = ds.database_id;
    Ok(())
}

/// A written relation: page ids (dashed, first occurrence kept), each an existing page
/// of the related data source.
pub fn validate(
    world: &World,
    target: Option<&Target>,
    path: &str,
    v: &Value,
) -> NotionResult<Value> {
    let Some(items) = v.as_array() else {
        return Err(NotionError::validation(format!(
            "body failed validation: {path} should be an array, instead was `{v}`."
        )));
    };
    if items.len() > MAX_ARRAY {
        return Err(NotionError::validation(format!(
            "body failed validation: {path}.length should be ≤ {MAX_ARRAY}, instead was {}.",
            items.len()
        )));
    }
    let mut ids: Vec<Value> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(raw) = item["id"].as_str() else {
            return Err(NotionError::validation(format!(
                "body failed validation: {path}[{i}].id should be a string, instead was `{}`.",
                item["id"]
            )));
        };
        let id = parse_id(raw, "id")?;
        let in_target = world
            .pages
            .get(&id)
            .is_some_and(|p| Some(p.data_source_id) == target.map(|t| t.data_source_id));
        if !in_target {
            return Err(NotionError::validation(format!(
                "Could not find page with ID: {raw} in the related data source of {path}."
            )));
        }
        let id = json!(dashed(id));
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(Value::Array(ids))
}

/// Every reference of a stored relation, as `{"id"}` objects.
pub fn full_items(stored: Option<&Value>) -> Vec<Value> {
    stored
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|id| json!({"id": id}))
        .collect()
}

/// The page read's `relation` (at most 25 references) and `has_more`.
pub fn read(stored: Option<&Value>) -> (Value, bool) {
    let mut items = full_items(stored);
    let has_more = items.len() > READ_TRUNCATION;
    items.truncate(READ_TRUNCATION);
    (Value::Array(items), has_more)
}

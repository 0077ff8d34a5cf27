//! `POST /v1/databases` under 2025-09-03 (reference "Create a database"): the body is
//! `{parent, title?, initial_data_source: {properties}, …}`; `parent` is the page the
//! database goes in (`{"type": "page_id", "page_id": …}`); `initial_data_source.properties`
//! is the schema of the database's first data source, each property written as for a data
//! source update (`{"<name>": {"<type>": {config}}}`), exactly one of them a `title`. The
//! answer is the database object with its `data_sources` (`[{id, name}]`).
//!
//! Errors: a parent page the integration cannot see is 404 `object_not_found`; a schema
//! without a title property, with two, with an unknown type or a name used twice is 400
//! `validation_error` (the same checks as a data source update). A workspace parent is for
//! public integrations only; the sandbox's integration is internal and is refused with 400.

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::Shared;
use super::errors::{NotionError, NotionResult};
use super::schema::{PropertyDef, PropertyKind, PropertySchema, build_defs};
use super::schema_update::{self, Editor};
use super::state::{DataSource, Database, parse_id};
use crate::common::lock;

fn invalid(message: impl Into<String>) -> NotionError {
    NotionError::validation(message)
}

/// Validate the body and create the database and its data source → the database id.
pub fn create(shared: &Shared, body: &Value) -> NotionResult<Uuid> {
    let obj = body
        .as_object()
        .ok_or_else(|| invalid("body failed validation: body should be an object."))?;
    refuse_unmodelled(obj)?;
    let parent = parent_page(obj.get("parent"))?;
    let title = title_text(obj.get("title"));
    let properties = &obj
        .get("initial_data_source")
        .and_then(|d| d.get("properties"))
        .cloned()
        .unwrap_or_else(|| json!({}));
    let now = shared.clock.now();
    let mut world = lock(&shared.world);
    if !world.page(parent).is_ok_and(|p| !p.in_trash) {
        return Err(NotionError::not_found("page", &parent.to_string()));
    }
    let creator = world.bot_id;
    let (database_id, data_source_id) = (Uuid::new_v4(), Uuid::new_v4());
    let mut defs = schema(properties, database_id, data_source_id, &title)?;
    super::computed::resolve(&world, data_source_id, &mut defs)?;
    world.databases.insert(
        database_id,
        Database {
            id: database_id,
            title: title.clone(),
            data_source_ids: vec![data_source_id],
            created_time: now,
            last_edited_time: now,
            created_by: creator,
            parent_page: Some(parent),
        },
    );
    world.data_sources.insert(
        data_source_id,
        DataSource {
            properties: defs,
            created_time: now,
            last_edited_time: now,
            created_by: creator,
            last_edited_by: creator,
            ..empty_source(database_id, data_source_id, &title)
        },
    );
    Ok(database_id)
}

/// The plain text of a rich-text array as written (`text.content` of each item).
fn title_text(title: Option<&Value>) -> String {
    title
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t["text"]["content"].as_str().or(t["plain_text"].as_str()))
        .collect()
}

fn refuse_unmodelled(obj: &Map<String, Value>) -> NotionResult<()> {
    for key in obj.keys() {
        if !matches!(
            key.as_str(),
            "parent" | "title" | "initial_data_source" | "is_inline" | "icon" | "cover"
        ) {
            return Err(invalid(format!(
                "body failed validation: body.{key} is not supported by the sandbox."
            )));
        }
    }
    Ok(())
}

fn parent_page(parent: Option<&Value>) -> NotionResult<Uuid> {
    let Some(parent) = parent.filter(|p| p.is_object()) else {
        return Err(invalid(
            "body failed validation: body.parent should be defined, instead was `undefined`.",
        ));
    };
    if parent.get("workspace").is_some() {
        return Err(invalid(
            "body failed validation: a workspace parent is only available to public integrations.",
        ));
    }
    match parent["page_id"].as_str() {
        Some(id) => parse_id(id, "parent.page_id"),
        None => Err(invalid(
            "body failed validation: body.parent.page_id should be a string.",
        )),
    }
}

fn empty_source(database_id: Uuid, id: Uuid, title: &str) -> DataSource {
    let epoch = time::OffsetDateTime::UNIX_EPOCH;
    DataSource {
        id,
        database_id,
        name: title.to_string(),
        properties: Vec::new(),
        created_time: epoch,
        last_edited_time: epoch,
        created_by: Uuid::nil(),
        last_edited_by: Uuid::nil(),
        retired_property_ids: Vec::new(),
    }
}

/// The data source's properties: the one title first, then the rest checked and added
/// as a data source update adds them.
fn schema(
    properties: &Value,
    database_id: Uuid,
    id: Uuid,
    title: &str,
) -> NotionResult<Vec<PropertyDef>> {
    let entries = properties.as_object().ok_or_else(|| {
        invalid("body failed validation: body.initial_data_source.properties should be an object.")
    })?;
    let is_title = |v: &Value| v.get("title").is_some();
    let titles: Vec<(&String, &Value)> = entries.iter().filter(|(_, v)| is_title(v)).collect();
    let [(key, value)] = titles.as_slice() else {
        return Err(invalid(format!(
            "body failed validation: a data source needs exactly one title property, {} given.",
            titles.len()
        )));
    };
    let name = value["name"].as_str().unwrap_or(key);
    let mut source = empty_source(database_id, id, title);
    source.properties = build_defs(&[PropertySchema::title(name)]);
    let rest: Map<String, Value> = entries
        .iter()
        .filter(|(_, v)| !is_title(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let plan = schema_update::plan(&source, &json!({ "properties": rest }), Editor::Api)?;
    debug_assert_eq!(plan.defs[0].kind, PropertyKind::Title);
    Ok(plan.defs)
}

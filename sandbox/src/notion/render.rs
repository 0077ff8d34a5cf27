//! JSON objects as the 2025-09-03 API returns them: page, database, data
//! source, list envelopes.

use serde_json::{Value, json};
use uuid::Uuid;

use super::properties::{page_url, plain_text, read_properties};
use super::state::{DataSource, Database, Page, World, compact, dashed};
use crate::common::notion_minute;

/// A plain rich-text array holding `s` (database / data source titles).
pub fn rich_text(s: &str) -> Value {
    json!([{
        "type": "text",
        "text": {"content": s, "link": null},
        "annotations": {"bold": false, "italic": false, "strikethrough": false,
                        "underline": false, "code": false, "color": "default"},
        "plain_text": s,
        "href": null,
    }])
}

fn user_ref(id: Uuid) -> Value {
    json!({"object": "user", "id": dashed(id)})
}

pub fn page_title(world: &World, page: &Page) -> String {
    let title_id = world
        .data_sources
        .get(&page.data_source_id)
        .and_then(|ds| ds.title_def())
        .map(|d| d.id.clone());
    title_id
        .map(|id| plain_text(page.values.get(&id)))
        .unwrap_or_default()
}

/// The page object; `only` limits `properties` (`filter_properties`).
pub fn page_json(world: &World, page: &Page, only: Option<&[String]>) -> Value {
    let ds = world.data_sources.get(&page.data_source_id);
    let properties = ds
        .map(|ds| read_properties(world, &ds.properties, page, only))
        .unwrap_or_else(|| json!({}));
    let database_id = ds.map(|ds| dashed(ds.database_id));
    json!({
        "object": "page",
        "id": dashed(page.id),
        "created_time": notion_minute(page.created_time),
        "last_edited_time": notion_minute(page.last_edited_time),
        "created_by": user_ref(page.created_by),
        "last_edited_by": user_ref(page.last_edited_by),
        "cover": page.cover,
        "icon": page.icon,
        "parent": {
            "type": "data_source_id",
            "data_source_id": dashed(page.data_source_id),
            "database_id": database_id,
        },
        "archived": page.in_trash,
        "in_trash": page.in_trash,
        "is_locked": page.is_locked,
        "properties": properties,
        "url": page_url(&page_title(world, page), page.id),
        "public_url": null,
    })
}

/// `GET /v1/databases/{id}` under 2025-09-03: no schema, `data_sources`.
pub fn database_json(world: &World, db: &Database) -> Value {
    let sources: Vec<Value> = db
        .data_source_ids
        .iter()
        .filter_map(|id| world.data_sources.get(id))
        .map(|ds| json!({"id": dashed(ds.id), "name": ds.name}))
        .collect();
    json!({
        "object": "database",
        "id": dashed(db.id),
        "created_time": notion_minute(db.created_time),
        "last_edited_time": notion_minute(db.last_edited_time),
        "created_by": user_ref(db.created_by),
        "title": rich_text(&db.title),
        "description": [],
        "icon": null,
        "cover": null,
        "parent": match db.parent_page {
            Some(page) => json!({"type": "page_id", "page_id": dashed(page)}),
            None => json!({"type": "workspace", "workspace": true}),
        },
        "is_inline": false,
        "archived": false,
        "in_trash": false,
        "is_locked": false,
        "data_sources": sources,
        "url": format!("https://www.notion.so/{}", compact(db.id)),
        "public_url": null,
    })
}

/// `GET /v1/data_sources/{id}`: the schema.
pub fn data_source_json(ds: &DataSource) -> Value {
    let properties: serde_json::Map<String, Value> = ds
        .properties
        .iter()
        .map(|d| (d.name.clone(), d.schema_json()))
        .collect();
    json!({
        "object": "data_source",
        "id": dashed(ds.id),
        "created_time": notion_minute(ds.created_time),
        "last_edited_time": notion_minute(ds.last_edited_time),
        "created_by": user_ref(ds.created_by),
        "last_edited_by": user_ref(ds.last_edited_by),
        "title": rich_text(&ds.name),
        "description": [],
        "icon": null,
        "cover": null,
        "properties": properties,
        "parent": {"type": "database_id", "database_id": dashed(ds.database_id)},
        "database_parent": {"type": "workspace", "workspace": true},
        "is_inline": false,
        "archived": false,
        "in_trash": false,
        "url": format!("https://www.notion.so/{}", compact(ds.database_id)),
        "public_url": null,
    })
}

/// `{object:"list", results, next_cursor, has_more, type, <type>:{}}`.
pub fn list_json(results: Vec<Value>, next_cursor: Option<String>, kind: &str) -> Value {
    json!({
        "object": "list",
        "results": results,
        "next_cursor": next_cursor,
        "has_more": next_cursor.is_some(),
        "type": kind,
        kind: {},
    })
}

/// API 2026-03-11 removed `archived` from every response.
pub fn strip_archived(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.get("object").and_then(Value::as_str).is_some() {
                map.remove("archived");
            }
            map.values_mut().for_each(strip_archived);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_archived),
        _ => {}
    }
}

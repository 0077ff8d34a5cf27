//! Notion objects as read from the API (version 2025-09-03).
//!
//! Deserialisation is tolerant: unknown fields are ignored, optional fields
//! may be missing, and the pre-2026 `archived` flag is read as `in_trash`,
//! so a newer API version or a partial object does not break the sync.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use time::OffsetDateTime;

use super::property::{PropertyValue, SelectOption};
use super::rich_text::{RichText, plain_text};
pub use super::user::{PersonDetails, User};

/// Where an object lives: `{type, <type>: id}`. For a page in a database
/// under 2025-09-03 that is `data_source_id` plus `database_id`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Parent {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_source_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_id: Option<String>,
}

/// A page. `created_time`/`last_edited_time` are rounded down to the
/// minute by Notion: never order two edits by them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "PageWire")]
pub struct Page {
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_time: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_edited_time: OffsetDateTime,
    pub created_by: Option<User>,
    pub last_edited_by: Option<User>,
    pub in_trash: bool,
    pub parent: Parent,
    pub url: Option<String>,
    /// Properties by name.
    pub properties: BTreeMap<String, PropertyValue>,
}

#[derive(Deserialize)]
struct PageWire {
    id: String,
    #[serde(with = "time::serde::rfc3339")]
    created_time: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    last_edited_time: OffsetDateTime,
    #[serde(default)]
    created_by: Option<User>,
    #[serde(default)]
    last_edited_by: Option<User>,
    #[serde(default)]
    in_trash: Option<bool>,
    #[serde(default)]
    archived: Option<bool>,
    #[serde(default)]
    parent: Parent,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    properties: BTreeMap<String, PropertyValue>,
}

impl From<PageWire> for Page {
    fn from(w: PageWire) -> Self {
        Page {
            id: w.id,
            created_time: w.created_time,
            last_edited_time: w.last_edited_time,
            created_by: w.created_by,
            last_edited_by: w.last_edited_by,
            // `archived` is the pre-2026-03-11 name of `in_trash`.
            in_trash: w.in_trash.or(w.archived).unwrap_or(false),
            parent: w.parent,
            url: w.url,
            properties: w.properties,
        }
    }
}

impl Page {
    /// The property with this name, if the page has it.
    pub fn property(&self, name: &str) -> Option<&PropertyValue> {
        self.properties.get(name)
    }

    /// The property with this id (ids survive renames).
    pub fn property_by_id(&self, id: &str) -> Option<(&str, &PropertyValue)> {
        self.properties
            .iter()
            .find(|(_, p)| p.id == id)
            .map(|(name, p)| (name.as_str(), p))
    }

    /// The page title (the plain text of its `title` property).
    pub fn title(&self) -> String {
        self.properties
            .values()
            .find(|p| p.kind() == "title")
            .map(PropertyValue::plain_text)
            .unwrap_or_default()
    }
}

/// A database: since 2025-09-03 only a container of data sources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Database {
    pub id: String,
    #[serde(default)]
    pub title: Vec<RichText>,
    #[serde(default)]
    pub data_sources: Vec<DataSourceRef>,
    #[serde(default)]
    pub url: Option<String>,
}

impl Database {
    pub fn title_text(&self) -> String {
        plain_text(&self.title)
    }
}

/// A data source as listed by its database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSourceRef {
    pub id: String,
    #[serde(default)]
    pub name: String,
}

/// A data source: the schema pages are created in and queried from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSource {
    pub id: String,
    #[serde(default)]
    pub title: Vec<RichText>,
    /// `{type: "database_id", database_id}`.
    #[serde(default)]
    pub parent: Parent,
    /// The schema, by property name.
    #[serde(default)]
    pub properties: BTreeMap<String, PropertySchema>,
}

impl DataSource {
    /// The id of the database holding this data source.
    pub fn database_id(&self) -> Option<&str> {
        self.parent.database_id.as_deref()
    }

    pub fn title_text(&self) -> String {
        plain_text(&self.title)
    }
}

/// One property of a data source schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PropertySchema {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The options of a select, status or multi-select property.
    pub options: Vec<SelectOption>,
    /// The property object as sent (formula expression, number format, ...).
    pub raw: Json,
}

impl<'de> Deserialize<'de> for PropertySchema {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Json::deserialize(deserializer)?;
        let text = |key: &str| raw[key].as_str().unwrap_or_default().to_owned();
        let kind = text("type");
        let options = match kind.as_str() {
            "select" | "status" | "multi_select" => {
                Vec::<SelectOption>::deserialize(&raw[kind.as_str()]["options"]).unwrap_or_default()
            }
            _ => Vec::new(),
        };
        Ok(PropertySchema {
            id: text("id"),
            name: text("name"),
            kind,
            options,
            raw,
        })
    }
}

impl PropertySchema {
    pub fn option_names(&self) -> Vec<&str> {
        self.options.iter().map(|o| o.name.as_str()).collect()
    }
}

/// One page of a paginated list (`{results, next_cursor, has_more}`).
#[derive(Debug, Clone, Deserialize)]
pub struct ListPage<T> {
    pub results: Vec<T>,
    #[serde(default)]
    pub next_cursor: Option<String>,
    #[serde(default)]
    pub has_more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn page_json() -> Json {
        json!({
            "object": "page", "id": "p1",
            "created_time": "2025-01-01T10:00:00.000Z",
            "last_edited_time": "2025-01-02T11:06:00.000Z",
            "created_by": {"object": "user", "id": "u1"},
            "last_edited_by": {"object": "user", "id": "u2"},
            "archived": true,
            "parent": {"type": "data_source_id", "data_source_id": "ds", "database_id": "db"},
            "url": "https://www.notion.so/p1", "icon": null, "future_field": 1,
            "properties": {
                "Name": {"id": "title", "type": "title", "title": [{"plain_text": "Spec"}]}
            }
        })
    }

    #[test]
    fn page_reads_archived_as_in_trash_and_ignores_unknown_fields() {
        let page: Page = serde_json::from_value(page_json()).unwrap();
        assert!(page.in_trash);
        assert_eq!(page.parent.data_source_id.as_deref(), Some("ds"));
        assert_eq!(page.title(), "Spec");
        assert_eq!(page.property_by_id("title").map(|(n, _)| n), Some("Name"));
    }

    #[test]
    fn in_trash_wins_over_archived_when_both_are_sent() {
        let mut v = page_json();
        v["in_trash"] = json!(false);
        v["archived"] = json!(false);
        let page: Page = serde_json::from_value(v).unwrap();
        assert!(!page.in_trash);
    }

    #[test]
    fn schema_reads_options_of_select_and_status() {
        let ds: DataSource = serde_json::from_value(json!({
            "object": "data_source", "id": "ds",
            "parent": {"type": "database_id", "database_id": "db"},
            "properties": {
                "Status": {"id": "s", "name": "Status", "type": "status",
                    "status": {"options": [{"id": "1", "name": "Draft", "color": "gray"}], "groups": []}},
                "Name": {"id": "title", "name": "Name", "type": "title", "title": {}}
            }
        }))
        .unwrap();
        assert_eq!(ds.database_id(), Some("db"));
        assert_eq!(ds.properties["Status"].option_names(), ["Draft"]);
        assert_eq!(ds.properties["Name"].kind, "title");
    }
}

//! Bases, tables and records as the sandbox stores them, and the REST rendering of a record.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::cells;
use super::collaborators::Collaborator;
use super::ids::new_id;
use super::schema::{Field, FieldSchema, FieldType};
use super::webhooks::Webhook;
use crate::common::airtable_time;

/// One row. `cells` holds only non-empty values, keyed by field id.
#[derive(Clone, Debug)]
pub(crate) struct Record {
    pub id: String,
    pub created: OffsetDateTime,
    pub cells: BTreeMap<String, Value>,
    /// When each field's value last changed (for `LAST_MODIFIED_TIME({F})`).
    pub field_modified: BTreeMap<String, OffsetDateTime>,
    /// When any field last changed (for `LAST_MODIFIED_TIME()`); the creation time at first.
    pub last_modified: OffsetDateTime,
    /// The record's autonumber: 1, 2, 3... in creation order, never reused.
    pub number: u64,
}

/// How a record's `fields` object is rendered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RenderOptions {
    pub by_field_id: bool,
    pub as_strings: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Table {
    pub id: String,
    pub name: String,
    /// The table's description (Meta API `description`); `None` when empty.
    pub description: Option<String>,
    /// The first field is the primary field.
    pub fields: Vec<Field>,
    pub view_id: String,
    /// Views a person added in the UI besides the grid view, each with its
    /// filter (conditions the UI builds, held here as a formula).
    pub views: Vec<View>,
    /// In creation order, the order of the views.
    pub records: Vec<Record>,
    /// Deleted records, which a person can restore from the base's trash
    /// with their id and cells (Airtable keeps them for seven days; the API
    /// cannot restore them).
    pub trash: Vec<Record>,
    /// The autonumber the next record gets.
    pub next_number: u64,
    /// The base's collaborators as of the write under way (copied from the base by
    /// `Shared::write`, the one path record writes take): who a collaborator cell may hold.
    pub collaborators: Vec<Collaborator>,
}

/// A view a person made: only the records its filter keeps are in it.
#[derive(Clone, Debug)]
pub(crate) struct View {
    pub id: String,
    pub name: String,
    pub filter: Option<String>,
}

impl Table {
    pub fn new(name: &str, fields: &[FieldSchema]) -> Self {
        Self {
            id: new_id("tbl"),
            name: name.to_string(),
            description: None,
            fields: fields.iter().map(Field::from_schema).collect(),
            view_id: new_id("viw"),
            views: Vec::new(),
            records: Vec::new(),
            trash: Vec::new(),
            next_number: 1,
            collaborators: Vec::new(),
        }
    }

    /// A field by id or by exact name.
    pub fn field(&self, key: &str) -> Option<&Field> {
        self.fields
            .iter()
            .find(|f| f.id == key)
            .or_else(|| self.fields.iter().find(|f| f.name == key))
    }

    pub fn field_by_id(&self, id: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.id == id)
    }

    pub fn record(&self, id: &str) -> Option<&Record> {
        self.records.iter().find(|r| r.id == id)
    }

    pub fn record_index(&self, id: &str) -> Option<usize> {
        self.records.iter().position(|r| r.id == id)
    }

    /// A view by id or name: `Some(None)` for the grid view every table
    /// has (all records), `Some(Some(filter))` for a filtered view.
    pub fn view_filter(&self, key: &str) -> Option<Option<&str>> {
        if key == self.view_id || key == "Grid view" {
            return Some(None);
        }
        self.views
            .iter()
            .find(|v| v.id == key || v.name == key)
            .map(|v| v.filter.as_deref())
    }

    pub fn has_view(&self, key: &str) -> bool {
        self.view_filter(key).is_some()
    }

    /// `{id, name, primaryFieldId, fields, views}` as in the base schema.
    pub fn to_schema_json(&self) -> Value {
        let mut table = json!({
            "id": self.id,
            "name": self.name,
            "primaryFieldId": self.fields.first().map(|f| f.id.clone()),
            "fields": self.fields.iter().map(Field::to_schema_json).collect::<Vec<_>>(),
            "views": std::iter::once(json!({"id": self.view_id, "name": "Grid view", "type": "grid"}))
                .chain(self.views.iter().map(|v| json!({"id": v.id, "name": v.name, "type": "grid"})))
                .collect::<Vec<_>>(),
        });
        if let Some(description) = &self.description {
            table["description"] = json!(description);
        }
        table
    }

    /// The REST shape `{id, createdTime, fields}`; empty cells are absent. `only` restricts
    /// the fields (by id) when the client passed `fields[]`.
    pub fn render(&self, record: &Record, opts: RenderOptions, only: Option<&[String]>) -> Value {
        let mut fields = Map::new();
        for field in &self.fields {
            if only.is_some_and(|ids| !ids.contains(&field.id)) {
                continue;
            }
            let computed = super::computed::value(self, field, record);
            let Some(value) = computed.as_ref().or_else(|| record.cells.get(&field.id)) else {
                continue;
            };
            let key = if opts.by_field_id {
                &field.id
            } else {
                &field.name
            };
            let value = if opts.as_strings {
                cells::to_display_string(value)
            } else if field.field_type == FieldType::MultipleAttachments {
                super::attachments::render(value)
            } else {
                value.clone()
            };
            fields.insert(key.clone(), value);
        }
        json!({"id": record.id, "createdTime": airtable_time(record.created), "fields": fields})
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Base {
    pub id: String,
    pub name: String,
    pub tables: Vec<Table>,
    /// The number the next transaction on this base gets (base-wide, starts at 1).
    pub next_transaction: u64,
    pub webhooks: Vec<Webhook>,
    /// The people with access to the base (set through the control API).
    pub collaborators: Vec<Collaborator>,
}

impl Base {
    pub fn new(name: &str) -> Self {
        Self {
            id: new_id("app"),
            name: name.to_string(),
            tables: Vec::new(),
            next_transaction: 1,
            webhooks: Vec::new(),
            collaborators: Vec::new(),
        }
    }

    /// A table by id or by exact name.
    pub fn table_index(&self, key: &str) -> Option<usize> {
        self.tables
            .iter()
            .position(|t| t.id == key)
            .or_else(|| self.tables.iter().position(|t| t.name == key))
    }

    pub fn table(&self, key: &str) -> Option<&Table> {
        self.table_index(key).map(|i| &self.tables[i])
    }
}

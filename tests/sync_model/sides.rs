//! Both sides as a person sees them: the model's values read from the
//! sandboxes (without counting API calls), and the write bodies of person
//! edits.

use notion_airtable_sync::{notion::rich_text_objects, sync::value::Value as Canonical};
use serde_json::{Value, json};

use super::model::{FIELDS, Field, Vals};

pub const PAGE_ID_FIELD: &str = "Notion Page ID";

/// A page's mapped values.
pub fn notion_vals(page: &Value) -> Vals {
    let props = &page["properties"];
    FIELDS
        .iter()
        .map(|f| (f.notion, notion_value(f.notion, &props[f.notion])))
        .collect()
}

fn notion_value(name: &str, prop: &Value) -> String {
    match name {
        "Name" => plain(&prop["title"]),
        "Sprint" | "Blockers" => plain(&prop["rich_text"]),
        "Ship Date" => prop["date"]["start"].as_str().unwrap_or_default().into(),
        "Owner" => prop["people"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|u| u["name"].as_str().unwrap_or("?").to_owned())
            .collect::<Vec<_>>()
            .join(", "),
        _ => prop["select"]["name"].as_str().unwrap_or_default().into(),
    }
}

fn plain(rich_text: &Value) -> String {
    rich_text
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| t["plain_text"].as_str().unwrap_or_default())
        .collect()
}

/// A row's mapped values (REST shape; an empty cell is absent).
pub fn airtable_vals(row: &Value) -> Vals {
    FIELDS
        .iter()
        .map(|f| {
            let cell = row["fields"][f.airtable].as_str().unwrap_or_default();
            (f.notion, cell.to_owned())
        })
        .collect()
}

/// The canonical value the engine stores in a snapshot for a model value.
pub fn canonical(field: &str, v: &str) -> Canonical {
    match (field, v) {
        (_, "") => Canonical::Empty,
        ("Ship Date", d) => Canonical::Date(d.to_owned()),
        (_, t) => Canonical::text(t),
    }
}

/// The Notion property write for a person's edit. `people` maps names to
/// user ids.
pub fn notion_edit(field: &str, v: &str, people: &[(String, String)]) -> Value {
    let body = match field {
        "Name" => json!({ "title": rich_text_objects(v) }),
        "Sprint" | "Blockers" => json!({ "rich_text": rich_text_objects(v) }),
        "Ship Date" if v.is_empty() => json!({ "date": null }),
        "Ship Date" => json!({ "date": { "start": v } }),
        "Owner" => json!({ "people": people_refs(v, people) }),
        _ if v.is_empty() => json!({ "select": null }),
        _ => json!({ "select": { "name": v } }),
    };
    json!({ field: body })
}

fn people_refs(names: &str, people: &[(String, String)]) -> Vec<Value> {
    names
        .split(", ")
        .filter(|n| !n.is_empty())
        .map(|n| {
            let id = people
                .iter()
                .find(|(name, _)| name == n)
                .map(|(_, id)| id.clone())
                .unwrap_or_else(|| panic!("{n} is not a workspace person"));
            json!({ "object": "user", "id": id })
        })
        .collect()
}

/// The Airtable cell write for a person's edit (`null` clears it).
pub fn airtable_edit(field: &Field, v: &str) -> Value {
    let cell = if v.is_empty() { Value::Null } else { json!(v) };
    json!({ field.airtable: cell })
}

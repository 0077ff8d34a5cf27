//! Both sides as a person sees them: the model's values read from the
//! sandboxes (without counting API calls), and the write bodies of person
//! edits.
//!
//! Blockers is compared as formatted text: the model holds it as Markdown
//! with `**bold**` and `*italic*` (see [`normal_markdown`]); Notion's runs
//! with their annotations and Airtable's rich-text Markdown (which the
//! sandbox returns with a trailing newline, and which may spell italic
//! `_x_`) are both read into that form.

use notion_airtable_sync::{notion::rich_text_objects, sync::value::Value as Canonical};
use serde_json::{Value, json};

use super::model::{FIELDS, Field, Vals};

pub const PAGE_ID_FIELD: &str = "Notion Page ID";

/// How the two schemas look in a run's world.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shape {
    /// Notion's Status is a `status` property: unknown options are refused.
    pub status_type: bool,
    /// Airtable's Blockers is a rich-text (Markdown) long text field.
    pub rich_blockers: bool,
}

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
        "Sprint" => plain(&prop["rich_text"]),
        "Blockers" => runs_markdown(&prop["rich_text"]),
        "Status" => {
            let ty = prop["type"].as_str().unwrap_or("select");
            prop[ty]["name"].as_str().unwrap_or_default().into()
        }
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
pub fn airtable_vals(row: &Value, shape: Shape) -> Vals {
    FIELDS
        .iter()
        .map(|f| {
            let cell = row["fields"][f.airtable].as_str().unwrap_or_default();
            let cell = match f.notion {
                "Blockers" if shape.rich_blockers => {
                    normal_markdown(cell.strip_suffix('\n').unwrap_or(cell))
                }
                _ => cell.to_owned(),
            };
            (f.notion, cell)
        })
        .collect()
}

/// Whether the snapshot value the engine stored is the model's value.
pub fn snapshot_is(field: &str, stored: Option<&Canonical>, v: &str, shape: Shape) -> bool {
    match (field, stored) {
        ("Blockers", Some(Canonical::Text(t))) if shape.rich_blockers => normal_markdown(t) == v,
        (_, stored) => stored == Some(&canonical(field, v)),
    }
}

/// The canonical value the engine stores in a snapshot for a model value.
fn canonical(field: &str, v: &str) -> Canonical {
    match (field, v) {
        (_, "") => Canonical::Empty,
        ("Ship Date", d) => Canonical::Date(d.to_owned()),
        (_, t) => Canonical::text(t),
    }
}

/// A piece of formatted text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Span {
    text: String,
    bold: bool,
    italic: bool,
}

/// Notion runs as the model's Markdown.
fn runs_markdown(runs: &Value) -> String {
    let spans = runs
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| Span {
            text: t["plain_text"].as_str().unwrap_or_default().to_owned(),
            bold: t["annotations"]["bold"] == true,
            italic: t["annotations"]["italic"] == true,
        })
        .collect();
    render(spans)
}

/// Markdown (the subset the test types: `**b**`/`__b__`, `*i*`/`_i_`, not
/// nested) in the model's spelling.
pub fn normal_markdown(md: &str) -> String {
    render(parse(md))
}

fn parse(md: &str) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut rest = md;
    while !rest.is_empty() {
        let delim = ["**", "__", "*", "_"]
            .into_iter()
            .find(|d| rest.starts_with(d) && rest[d.len()..].contains(d));
        let Some(d) = delim else {
            let first = rest.chars().next().map_or(1, char::len_utf8);
            let end = rest[first..]
                .find(['*', '_'])
                .map_or(rest.len(), |i| i + first);
            spans.push(span(&rest[..end], false, false));
            rest = &rest[end..];
            continue;
        };
        let inner = &rest[d.len()..];
        let close = inner.find(d).expect("a closing delimiter");
        spans.push(span(&inner[..close], d.len() == 2, d.len() == 1));
        rest = &inner[close + d.len()..];
    }
    spans
}

fn span(text: &str, bold: bool, italic: bool) -> Span {
    Span {
        text: text.to_owned(),
        bold,
        italic,
    }
}

/// Adjacent spans of one style merged; bold as `**`, italic as `*`.
fn render(spans: Vec<Span>) -> String {
    let mut merged: Vec<Span> = Vec::new();
    for s in spans.into_iter().filter(|s| !s.text.is_empty()) {
        match merged.last_mut() {
            Some(last) if (last.bold, last.italic) == (s.bold, s.italic) => {
                last.text.push_str(&s.text)
            }
            _ => merged.push(s),
        }
    }
    merged
        .iter()
        .map(|s| match (s.bold, s.italic) {
            (true, _) => format!("**{}**", s.text),
            (false, true) => format!("*{}*", s.text),
            _ => s.text.clone(),
        })
        .collect()
}

/// The model's Markdown as Notion runs (each cut at 2,000 UTF-16 units).
fn markdown_runs(md: &str) -> Vec<Value> {
    parse(md)
        .iter()
        .flat_map(|s| {
            rich_text_objects(&s.text).into_iter().map(|mut run| {
                run["annotations"] = json!({ "bold": s.bold, "italic": s.italic });
                run
            })
        })
        .collect()
}

/// The Notion property write for a person's edit. `people` maps names to
/// user ids.
pub fn notion_edit(field: &str, v: &str, people: &[(String, String)], shape: Shape) -> Value {
    let body = match field {
        "Name" => json!({ "title": rich_text_objects(v) }),
        "Sprint" => json!({ "rich_text": rich_text_objects(v) }),
        "Blockers" => json!({ "rich_text": markdown_runs(v) }),
        "Status" if shape.status_type => json!({ "status": { "name": v } }),
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

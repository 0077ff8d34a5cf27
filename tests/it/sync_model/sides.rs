//! Both sides as a person sees them: the model's values read from the
//! sandboxes (without counting API calls), and the write bodies of person
//! edits.
//!
//! Blockers is compared as formatted text: the model holds it as Markdown
//! with `**bold**` and `*italic*` (see [`normal_markdown`]); Notion's runs
//! with their annotations and Airtable's rich-text Markdown (which the
//! sandbox returns with a trailing newline, and which may spell italic
//! `_x_`) are both read into that form.
//!
//! The page's content (the body) is read from the page's stored Markdown and
//! from the Spec long text, both in the form the README says they are
//! compared in ([`body_form`]).

use notion_airtable_sync::{notion::rich_text_objects, sync::value::Value as Canonical};
use serde_json::{Value, json};

use super::epics::Names;
use super::files::{airtable_files, notion_files};
use super::model::{BODY, EPIC, FIELDS, Field, MOCKUP, Vals, set_of};

pub const PAGE_ID_FIELD: &str = "Notion Page ID";

/// How the two schemas look in a run's world.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shape {
    /// Notion's Status is a `status` property: unknown options are refused.
    pub status_type: bool,
    /// Airtable's Blockers is a rich-text (Markdown) long text field.
    pub rich_blockers: bool,
    /// Airtable's Spec (the page's content) is a plain `multilineText`
    /// field rather than rich text.
    pub plain_spec: bool,
}

/// A page's mapped values; `content` is the page's stored Markdown.
pub fn notion_vals(page: &Value, content: &str, names: &Names) -> Vals {
    let props = &page["properties"];
    FIELDS
        .iter()
        .map(|f| match f.notion {
            BODY => (BODY, body_form(content)),
            EPIC => {
                let ids = props[EPIC]["relation"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let ids = ids.iter().map(|r| r["id"].as_str().unwrap_or("?"));
                (EPIC, titles(ids, names))
            }
            MOCKUP => (MOCKUP, notion_files(props)),
            name => (name, notion_value(name, &props[name])),
        })
        .collect()
}

/// Page content in the form both sides are compared in (README, "Whole
/// text, compared in one canonical form"): `\n` line endings, no blank
/// lines or spaces at the very end, headings 5 and 6 as heading 4 outside
/// fenced code.
pub fn body_form(markdown: &str) -> String {
    let text = markdown.replace("\r\n", "\n");
    let mut fenced = false;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
            }
            let level = line.chars().take_while(|c| *c == '#').count();
            if !fenced && (5..=6).contains(&level) && line[level..].starts_with(' ') {
                format!("####{}", &line[level..])
            } else {
                line.to_owned()
            }
        })
        .collect();
    lines.join("\n").trim_end().to_owned()
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

/// The epics' titles, as the model holds a relation (an id of no known
/// epic shows as itself, and then differs from every model value).
fn titles<'a>(ids: impl Iterator<Item = &'a str>, names: &Names) -> String {
    set_of(ids.map(|id| {
        let key = notion_airtable_sync::sync::relation::normal_page_id(id);
        names.get(&key).cloned().unwrap_or_else(|| format!("?{id}"))
    }))
}

/// A row's mapped values (REST shape; an empty cell is absent).
pub fn airtable_vals(row: &Value, shape: Shape, names: &Names) -> Vals {
    FIELDS
        .iter()
        .map(|f| {
            if f.notion == EPIC {
                let ids = row["fields"][f.airtable]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let ids = ids.iter().map(|r| r.as_str().unwrap_or("?"));
                return (EPIC, titles(ids, names));
            }
            if f.notion == MOCKUP {
                return (MOCKUP, airtable_files(&row["fields"][MOCKUP]));
            }
            let cell = row["fields"][f.airtable].as_str().unwrap_or_default();
            let cell = match f.notion {
                BODY => body_form(cell),
                "Blockers" if shape.rich_blockers => {
                    normal_markdown(cell.strip_suffix('\n').unwrap_or(cell))
                }
                _ => cell.to_owned(),
            };
            (f.notion, cell)
        })
        .collect()
}

/// Whether the snapshot value the engine stored is the model's value (a
/// relation's ids read as the epics' titles).
pub fn snapshot_is(
    field: &str,
    stored: Option<&Canonical>,
    v: &str,
    shape: Shape,
    names: &Names,
) -> bool {
    match (field, stored) {
        (EPIC, Some(Canonical::Set(ids))) => titles(ids.iter().map(String::as_str), names) == v,
        (EPIC | MOCKUP, Some(Canonical::Empty) | None) => v.is_empty(),
        (MOCKUP, Some(Canonical::Files(files))) => {
            let ok = files
                .iter()
                .all(|f| super::files::size_of(&f.name) == Some(f.size));
            ok && set_of(files.iter().map(|f| f.name.clone())) == v
        }
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

/// The Notion property write for a person's edit (not for the body, which
/// is no property). `people` maps names to user ids.
pub fn notion_edit(field: &str, v: &str, people: &[(String, String)], shape: Shape) -> Value {
    let body = match field {
        "Name" => json!({ "title": rich_text_objects(v) }),
        "Sprint" => json!({ "rich_text": rich_text_objects(v) }),
        "Blockers" => json!({ "rich_text": markdown_runs(v) }),
        "Status" if shape.status_type => json!({ "status": { "name": v } }),
        "Ship Date" if v.is_empty() => json!({ "date": null }),
        "Ship Date" => json!({ "date": { "start": v } }),
        "Owner" => json!({ "people": people_refs(v, people) }),
        BODY => panic!("the page's content is no property"),
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

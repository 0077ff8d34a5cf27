//! Conversions between Notion property values, Airtable cell values and the
//! canonical [`Value`], in pure code (no I/O).
//!
//! A mapped field has a [`Kind`], decided once from the two sides' types by
//! [`Kind::for_types`]; unsupported pairs are refused there with a message
//! that config validation shows to the operator. Reading either side gives a
//! canonical value fitted to the kind (so both sides compare exactly), and
//! writing turns a canonical value into the vendor's write JSON.

use serde_json::{Value as Json, json};

use crate::notion::rich_text::{RICH_TEXT_ARRAY_LIMIT, RichText, span_objects, spans_of};
pub use crate::notion::rich_text_objects;

#[path = "convert_computed.rs"]
pub mod computed;
#[path = "convert_files.rs"]
pub mod files;
#[path = "markdown.rs"]
pub mod markdown;
#[path = "convert_people.rs"]
pub mod people;
#[path = "convert_types.rs"]
pub mod types;
#[path = "validate.rs"]
mod validate;
pub use validate::{Refused, check_airtable_write, check_notion_write};

use super::value::{Value, When};

/// How a mapped field's values are compared and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Plain text (title, rich text, url, email, phone ↔ text fields).
    Text,
    /// Formatted text: Notion title/rich text ↔ an Airtable long text with
    /// rich text enabled (`richText`, Markdown). The canonical value is the
    /// normalised Markdown ([`markdown::canonical`]), so making a word bold
    /// is a change and flows to the other side.
    RichText,
    /// Plain text on the Notion side (url, email, phone, select, status) ↔
    /// an Airtable `richText` field: Markdown is reduced to its text on
    /// read and the text escaped on write.
    MarkdownText,
    /// One option's name (select/status ↔ single select or text).
    Select,
    /// Option names as an order-insensitive set.
    MultiSelect,
    /// Notion multi-select ↔ an Airtable single line or long text holding
    /// the names comma-separated (an order-insensitive set).
    TextList,
    /// Notion people ↔ Airtable text holding names, comma-separated.
    People,
    /// Notion people ↔ an Airtable `singleCollaborator` (false) or
    /// `multipleCollaborators` (true) field, matched by email ([`people`]).
    Collaborators(bool),
    /// A calendar date (Airtable `date`): date-only values stay date-only.
    Date,
    /// An instant (Airtable `dateTime`).
    DateTime,
    Number,
    /// Notion number ↔ Airtable `rating`: whole stars, 1 to `options.max`.
    Rating,
    /// Notion number (seconds) ↔ Airtable `duration`.
    Duration,
    Checkbox,
    /// A Notion computed property (formula, rollup, unique id, created/edited
    /// time or person) → a writable Airtable field, one way; the canonical
    /// value fits the Airtable field ([`computed`]).
    NotionComputed(computed::Fit),
    /// An Airtable computed field (formula, rollup, lookup, count, autonumber,
    /// created/modified time) → a writable Notion property, one way.
    AirtableComputed(computed::Fit),
    /// The page's content (`[pair.body]`) ↔ an Airtable long text, as
    /// Markdown in [`super::body::canonical`] form.
    Body,
    /// Notion `files` ↔ Airtable `multipleAttachments`: files by name and
    /// size, written from both sides as read ([`files`]).
    Files,
    /// Notion relation ↔ Airtable linked records (`multipleRecordLinks`):
    /// references to another pair's records, translated through its links
    /// ([`super::relation`]).
    Relation,
}

const NOTION_TEXT: &[&str] = &["title", "rich_text", "url", "email", "phone_number"];
const AIRTABLE_TEXT: &[&str] = &[
    "singleLineText",
    "multilineText",
    "richText",
    "url",
    "email",
    "phoneNumber",
];

impl Kind {
    /// Whether the Notion side is a people property (users are listed).
    pub fn is_people(self) -> bool {
        matches!(self, Kind::People | Kind::Collaborators(_))
    }

    /// The kind for a Notion property type and an Airtable field type, or
    /// why they cannot be synced.
    pub fn for_types(notion: &str, airtable: &str) -> Result<Kind, String> {
        if let Some(computed) = computed::kind_for(notion, airtable) {
            return computed.map_err(|why| {
                format!(
                    "a Notion `{notion}` property cannot sync with an Airtable `{airtable}` field: {why}"
                )
            });
        }
        let text = |t: &str| AIRTABLE_TEXT.contains(&t);
        let kind = match (notion, airtable) {
            ("title" | "rich_text", "richText") => Some(Kind::RichText),
            ("url" | "email" | "phone_number" | "select" | "status", "richText") => {
                Some(Kind::MarkdownText)
            }
            (n, a) if NOTION_TEXT.contains(&n) && text(a) => Some(Kind::Text),
            ("select" | "status", "singleSelect") => Some(Kind::Select),
            ("select" | "status", a) if text(a) => Some(Kind::Select),
            ("multi_select", "multipleSelects") => Some(Kind::MultiSelect),
            ("multi_select", "singleLineText" | "multilineText") => Some(Kind::TextList),
            ("number", "rating") => Some(Kind::Rating),
            ("number", "duration") => Some(Kind::Duration),
            ("people", "singleLineText" | "multilineText") => Some(Kind::People),
            ("people", "singleCollaborator") => Some(Kind::Collaborators(false)),
            ("people", "multipleCollaborators") => Some(Kind::Collaborators(true)),
            ("date", "date") => Some(Kind::Date),
            ("date", "dateTime") => Some(Kind::DateTime),
            ("number", "number" | "currency" | "percent") => Some(Kind::Number),
            ("checkbox", "checkbox") => Some(Kind::Checkbox),
            ("files", "multipleAttachments") => Some(Kind::Files),
            ("relation", "multipleRecordLinks") => Some(Kind::Relation),
            _ => None,
        };
        kind.ok_or_else(|| {
            let why = types::refusal_reason(notion, airtable)
                .map_or_else(String::new, |r| format!(": {r}"));
            format!(
                "a Notion `{notion}` property cannot sync with an Airtable `{airtable}` field{why}"
            )
        })
    }
}

/// A value that cannot be written to a side; the field is left alone and
/// the reason goes to the sync log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    #[error("`{0}` cannot be a Notion option: Notion option names may not contain commas")]
    CommaInOption(String),
    #[error("no single workspace user is named or has the email `{0}`")]
    UnknownPerson(String),
    #[error("{0}")]
    BadValue(String),
    #[error(
        "the related records {} have no linked {side} counterpart yet: the field is left as it is on both sides and synced once they are linked",
        .targets.join(", ")
    )]
    NotLinkedYet {
        side: &'static str,
        targets: Vec<String>,
    },
    #[error(
        "the text needs {0} rich-text pieces (formatting runs, 2,000 characters each); Notion accepts at most 100"
    )]
    TooManyPieces(usize),
}

/// A workspace user, for people ↔ text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
}

// ---------------------------------------------------------------- Notion → canonical

/// Read a Notion page property (the `{id, type, <type>: ...}` object) as `kind`.
pub fn from_notion(property: &Json, kind: Kind) -> Result<Value, ConvertError> {
    let kind = match kind {
        Kind::NotionComputed(fit) => return computed::read_notion(property, fit),
        Kind::AirtableComputed(fit) => fit.kind(),
        plain => plain,
    };
    let ty = property["type"].as_str().unwrap_or_default();
    let inner = &property[ty];
    let value = match kind {
        Kind::Body => super::body::from_notion(inner)?,
        Kind::Text => match ty {
            "title" | "rich_text" => Value::text(plain_text(inner)),
            _ => Value::text(inner.as_str().unwrap_or_default()),
        },
        Kind::RichText => match ty {
            "title" | "rich_text" => Value::text(markdown::canonical(notion_spans(inner))),
            _ => Value::text(markdown::escape(inner.as_str().unwrap_or_default())),
        },
        Kind::MarkdownText => {
            let text = match ty {
                "title" | "rich_text" => plain_text(inner),
                "select" | "status" => inner["name"].as_str().unwrap_or_default().to_owned(),
                _ => inner.as_str().unwrap_or_default().to_owned(),
            };
            Value::text(text.trim_end_matches('\n'))
        }
        Kind::Select => option_name(inner),
        Kind::MultiSelect | Kind::TextList => Value::set(option_names(inner)),
        Kind::People => Value::text(people_names(inner).join(", ")),
        Kind::Collaborators(_) => people::read_notion(property)?,
        Kind::Date | Kind::DateTime => notion_date(inner, kind)?,
        Kind::Number | Kind::Rating | Kind::Duration => {
            inner.as_f64().map_or(Value::Empty, Value::Number)
        }
        Kind::Checkbox => Value::Bool(inner.as_bool().unwrap_or(false)),
        Kind::Files => files::read_notion(inner)?,
        Kind::Relation => super::relation::read_notion(property),
        Kind::NotionComputed(_) | Kind::AirtableComputed(_) => {
            unreachable!("computed kinds are replaced by their plain kind above")
        }
    };
    Ok(value)
}

/// The plain text of a rich-text array: every object's `plain_text`
/// (or `text.content` in a write body) joined without separators.
pub fn plain_text(rich_text: &Json) -> String {
    rich_text
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            t["plain_text"]
                .as_str()
                .or_else(|| t["text"]["content"].as_str())
        })
        .collect()
}

fn notion_spans(rich_text: &Json) -> Vec<crate::notion::rich_text::Span> {
    let pieces: Vec<RichText> = serde_json::from_value(rich_text.clone()).unwrap_or_default();
    spans_of(&pieces)
}

fn option_name(option: &Json) -> Value {
    Value::text(option["name"].as_str().unwrap_or_default())
}

fn option_names(options: &Json) -> Vec<String> {
    options
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["name"].as_str().map(str::to_owned))
        .collect()
}

/// A person's display name; falls back to the email, then the id, so a user
/// whose name the token cannot see never becomes an empty string.
fn people_names(people: &Json) -> Vec<String> {
    people
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            p["name"]
                .as_str()
                .or_else(|| p["person"]["email"].as_str())
                .or_else(|| p["id"].as_str())
                .map(str::to_owned)
        })
        .collect()
}

fn notion_date(date: &Json, kind: Kind) -> Result<Value, ConvertError> {
    let Some(start) = date["start"].as_str() else {
        return Ok(Value::Empty);
    };
    let when = When::parse(start).map_err(|e| ConvertError::BadValue(e.to_string()))?;
    Ok(fit_date(when, kind))
}

fn fit_date(when: When, kind: Kind) -> Value {
    match kind {
        Kind::Date => when.to_date_value(),
        _ => when.to_instant_value(),
    }
}

// ---------------------------------------------------------------- canonical → Notion

/// The Notion write body for one property (`{"select": {...}}` etc.).
/// `notion_type` is the property's type in the data source schema.
pub fn to_notion(value: &Value, notion_type: &str, users: &[Person]) -> Result<Json, ConvertError> {
    let body = match (notion_type, value) {
        ("title" | "rich_text", v) => json!({ notion_type: rich_text_objects(&text_of(v)) }),
        ("url" | "email" | "phone_number", v) => json!({ notion_type: non_empty(text_of(v)) }),
        ("select" | "status", Value::Empty) => json!({ notion_type: null }),
        ("select" | "status", v) => json!({ notion_type: { "name": notion_option(&text_of(v))? } }),
        ("multi_select", v) => json!({ "multi_select": notion_options(v)? }),
        ("people", v @ Value::Set(_)) => people::to_notion(v, users)?,
        ("people", v) => json!({ "people": people_ids(&text_of(v), users)? }),
        ("date", Value::Empty) => json!({ "date": null }),
        ("date", Value::Date(d) | Value::DateTime(d)) => json!({ "date": { "start": d } }),
        ("number", Value::Empty) => json!({ "number": null }),
        ("number", Value::Number(n)) => json!({ "number": n }),
        ("checkbox", Value::Bool(b)) => json!({ "checkbox": b }),
        ("checkbox", Value::Empty) => json!({ "checkbox": false }),
        ("files", _) => {
            return Err(ConvertError::BadValue(
                "files are written from both sides as read (`files::notion_body`)".into(),
            ));
        }
        (ty, v) => {
            return Err(ConvertError::BadValue(format!(
                "cannot write {} to a Notion `{ty}` property",
                v.display()
            )));
        }
    };
    Ok(body)
}

/// A Notion write body and, when the write changes more than the value
/// (a date range's end dropped), what to add to the sync log.
#[derive(Debug, Clone, PartialEq)]
pub struct NotionBody {
    pub body: Json,
    pub note: Option<String>,
}

/// The Notion write body for one property of kind `kind`, given the
/// property as the page has it now (`current`, the `{id, type, <type>}`
/// object; `None` when unknown):
/// - rich text of kind [`Kind::RichText`] is Markdown and is written with
///   its annotations and links;
/// - a date range keeps its `end` when only the start comes from Airtable
///   (Airtable dates have no end), unless the end would fall before the new
///   start: then it is dropped and `note` says so;
/// - text needing more than 100 rich-text pieces and numbers that are not
///   finite are refused.
pub fn to_notion_with(
    value: &Value,
    kind: Kind,
    notion_type: &str,
    current: Option<&Json>,
    users: &[Person],
) -> Result<NotionBody, ConvertError> {
    let plain = |body| Ok(NotionBody { body, note: None });
    if kind == Kind::Body {
        return plain(super::body::to_notion(value)?);
    }
    if let Kind::AirtableComputed(fit) = kind {
        computed::check_fits(fit, value, "Notion")?;
        return to_notion_with(value, fit.kind(), notion_type, current, users);
    }
    match (notion_type, value) {
        ("title" | "rich_text", v) => {
            let objects = match kind {
                Kind::RichText => span_objects(&markdown::parse(&text_of(v))),
                _ => rich_text_objects(&text_of(v)),
            };
            if objects.len() > RICH_TEXT_ARRAY_LIMIT {
                return Err(ConvertError::TooManyPieces(objects.len()));
            }
            plain(json!({ notion_type: objects }))
        }
        ("number", Value::Number(n)) if !n.is_finite() => Err(ConvertError::BadValue(format!(
            "{n} is not a number Notion can store"
        ))),
        ("date", Value::Date(start) | Value::DateTime(start)) => {
            let mut written = date_keeping_end(start, value, current);
            types::keep_offset(&mut written.body, current);
            Ok(written)
        }
        _ => plain(to_notion(value, notion_type, users)?),
    }
}

/// `{"date": {start, end?}}`: the page's current `end`, fitted to the new
/// start's precision, is kept unless it is before the new start.
fn date_keeping_end(start: &str, value: &Value, current: Option<&Json>) -> NotionBody {
    let only_start = NotionBody {
        body: json!({ "date": { "start": start } }),
        note: None,
    };
    let Some(end) = current.and_then(|c| c["date"]["end"].as_str()) else {
        return only_start;
    };
    let fitted = When::parse(end).ok().map(|w| match value {
        Value::Date(_) => w.to_date_value(),
        _ => w.to_instant_value(),
    });
    // Both are in the same normal form, so text order is time order.
    let note = match fitted {
        Some(Value::Date(e) | Value::DateTime(e)) if e.as_str() >= start => {
            return NotionBody {
                body: json!({ "date": { "start": start, "end": e } }),
                note: None,
            };
        }
        Some(_) => format!(
            "the Notion date range's end {end} is before the new start {start}: the end was removed"
        ),
        None => format!("the Notion date range's end {end} is not a date: the end was removed"),
    };
    NotionBody {
        note: Some(note),
        ..only_start
    }
}

fn text_of(value: &Value) -> String {
    match value {
        Value::Empty => String::new(),
        other => other.display(),
    }
}

fn non_empty(s: String) -> Json {
    // Notion rejects empty strings; null clears the property.
    if s.is_empty() {
        Json::Null
    } else {
        Json::String(s)
    }
}

fn notion_option(name: &str) -> Result<String, ConvertError> {
    if name.contains(',') {
        return Err(ConvertError::CommaInOption(name.to_owned()));
    }
    Ok(name.to_owned())
}

fn notion_options(value: &Value) -> Result<Vec<Json>, ConvertError> {
    let names = match value {
        Value::Empty => Vec::new(),
        Value::Set(names) => names.clone(),
        other => vec![text_of(other)],
    };
    names
        .iter()
        .map(|n| Ok(json!({ "name": notion_option(n)? })))
        .collect()
}

/// Names (or emails) separated by commas → user ids; every name must match
/// exactly one user, otherwise nothing is written.
fn people_ids(text: &str, users: &[Person]) -> Result<Vec<Json>, ConvertError> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|token| {
            let matches: Vec<&Person> = users
                .iter()
                .filter(|u| u.name.as_deref() == Some(token) || u.email.as_deref() == Some(token))
                .collect();
            match matches.as_slice() {
                [one] => Ok(json!({ "object": "user", "id": one.id })),
                _ => Err(ConvertError::UnknownPerson(token.to_owned())),
            }
        })
        .collect()
}

// ---------------------------------------------------------------- Airtable ↔ canonical

/// Read an Airtable cell (absent = `None`) as `kind`. Accepts both the REST
/// (V1) format and the webhook (V2) format, where options are objects.
pub fn from_airtable(cell: Option<&Json>, kind: Kind) -> Result<Value, ConvertError> {
    let kind = match kind {
        Kind::AirtableComputed(fit) => return computed::read_airtable(cell, fit),
        Kind::NotionComputed(fit) => fit.kind(),
        plain => plain,
    };
    let Some(cell) = cell.filter(|c| !c.is_null()) else {
        return Ok(match kind {
            Kind::Checkbox => Value::Bool(false),
            _ => Value::Empty,
        });
    };
    let value = match kind {
        Kind::Body => Value::text(super::body::canonical(cell.as_str().unwrap_or_default())),
        Kind::Text | Kind::People => Value::text(cell.as_str().unwrap_or_default()),
        // Airtable always ends rich text with "\n"; the normal form drops it.
        Kind::RichText => Value::text(markdown::canonical(markdown::parse(
            cell.as_str().unwrap_or_default(),
        ))),
        Kind::MarkdownText => Value::text(markdown::plain(cell.as_str().unwrap_or_default())),
        Kind::Collaborators(_) => people::read_airtable(cell)?,
        Kind::Select => Value::text(airtable_option(cell)),
        Kind::MultiSelect => Value::set(cell.as_array().into_iter().flatten().map(airtable_option)),
        Kind::TextList => types::list_from_text(cell.as_str().unwrap_or_default()),
        Kind::Date | Kind::DateTime => match cell.as_str() {
            Some(s) if !s.is_empty() => fit_date(
                When::parse(s).map_err(|e| ConvertError::BadValue(e.to_string()))?,
                kind,
            ),
            _ => Value::Empty,
        },
        Kind::Number | Kind::Rating | Kind::Duration => {
            cell.as_f64().map_or(Value::Empty, Value::Number)
        }
        Kind::Checkbox => Value::Bool(cell.as_bool().unwrap_or(false)),
        Kind::Files => files::read_airtable(cell),
        // Without the target pair's links: record ids as they are (the plan
        // translates them with [`super::relation::read_airtable`]).
        Kind::Relation => super::relation::read_airtable(Some(cell), None),
        Kind::NotionComputed(_) | Kind::AirtableComputed(_) => {
            unreachable!("computed kinds are replaced by their plain kind above")
        }
    };
    Ok(value)
}

fn airtable_option(cell: &Json) -> String {
    cell.as_str()
        .or_else(|| cell["name"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// The Airtable cell to write (`null` clears it). Select options unknown to
/// the table are created by sending the write with `typecast: true`.
pub fn to_airtable(value: &Value, kind: Kind) -> Json {
    let kind = match kind {
        Kind::NotionComputed(fit) | Kind::AirtableComputed(fit) => fit.kind(),
        plain => plain,
    };
    match (kind, value) {
        (_, Value::Empty) if kind == Kind::Checkbox => json!(false),
        (_, Value::Empty) => Json::Null,
        (Kind::Collaborators(multiple), v) => people::to_airtable(v, multiple),
        (Kind::TextList, Value::Set(names)) => json!(types::list_to_text(names)),
        // Without the sides as read there is no id to keep and no URL to
        // copy: names alone, which Airtable refuses rather than clearing.
        (_, Value::Files(files)) => json!(
            files
                .iter()
                .map(|f| json!({ "filename": f.name }))
                .collect::<Vec<_>>()
        ),
        (_, Value::Set(names)) => json!(names),
        (_, Value::Number(n)) => json!(n),
        (_, Value::Bool(b)) => json!(b),
        (Kind::Date, Value::DateTime(t)) => json!(t.get(..10).unwrap_or(t)),
        // The canonical value of rich text is already Markdown.
        (Kind::MarkdownText, v) => json!(markdown::escape(&text_of(v))),
        (_, v) => json!(text_of(v)),
    }
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;

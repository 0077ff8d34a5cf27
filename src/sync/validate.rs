//! Values checked against the live schema before they are written, so a
//! value the vendor would refuse is reported for its own field (and left
//! where a person typed it) instead of failing the record's whole write.
//!
//! Notion's limits (request-limits): `text.content` and link URLs ≤ 2,000
//! characters, ≤ 100 rich-text pieces, URL ≤ 2,000, email and phone ≤ 200,
//! ≤ 100 multi-select options and people; a `status` option cannot be
//! created through the API. Lengths are counted in UTF-16 units, as
//! Notion's JavaScript validation counts them.

use serde_json::Value as Json;

use super::{Kind, Value};
use crate::{
    airtable::FieldSchema,
    notion::{
        PropertySchema,
        rich_text::{LINK_URL_LIMIT, RICH_TEXT_ARRAY_LIMIT, TEXT_CONTENT_LIMIT},
    },
};

const URL_LIMIT: usize = 2000;
const EMAIL_LIMIT: usize = 200;
const PHONE_LIMIT: usize = 200;
const LIST_LIMIT: usize = 100;

/// Why a value would be refused, naming the field and the limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{field}\": {reason}")]
pub struct Refused {
    pub field: String,
    pub reason: String,
}

fn refused(field: &str, reason: impl Into<String>) -> Refused {
    Refused {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

fn units(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Check a Notion write body (`{"<type>": ...}`, as built by
/// [`super::to_notion_with`]) for `value` against the property's live
/// schema.
pub fn check_notion_write(
    schema: &PropertySchema,
    value: &Value,
    body: &Json,
) -> Result<(), Refused> {
    let name = schema.name.as_str();
    let ty = schema.kind.as_str();
    let Some(inner) = body.get(ty) else {
        let written = body
            .as_object()
            .and_then(|o| o.keys().next().cloned())
            .unwrap_or_default();
        return Err(refused(
            name,
            format!("the Notion property is now a `{ty}` property, not `{written}`"),
        ));
    };
    if let Value::Number(n) = value {
        if !n.is_finite() {
            return Err(refused(name, format!("{n} is not a finite number")));
        }
    }
    match ty {
        "title" | "rich_text" => check_rich_text(name, inner),
        "url" => check_length(name, inner, URL_LIMIT, "a URL"),
        "email" => check_length(name, inner, EMAIL_LIMIT, "an email"),
        "phone_number" => check_length(name, inner, PHONE_LIMIT, "a phone number"),
        "status" => check_status(schema, inner),
        "multi_select" => check_count(name, inner, "options"),
        "people" => check_count(name, inner, "people"),
        _ => Ok(()),
    }
}

fn check_rich_text(name: &str, pieces: &Json) -> Result<(), Refused> {
    let pieces = pieces.as_array().map(Vec::as_slice).unwrap_or_default();
    if pieces.len() > RICH_TEXT_ARRAY_LIMIT {
        return Err(refused(
            name,
            format!(
                "{} rich-text pieces; Notion accepts at most {RICH_TEXT_ARRAY_LIMIT}",
                pieces.len()
            ),
        ));
    }
    for piece in pieces {
        let content = piece["text"]["content"].as_str().unwrap_or_default();
        if units(content) > TEXT_CONTENT_LIMIT {
            return Err(refused(
                name,
                format!(
                    "a rich-text piece of {} characters; Notion accepts at most {TEXT_CONTENT_LIMIT}",
                    units(content)
                ),
            ));
        }
        let url = piece["text"]["link"]["url"].as_str().unwrap_or_default();
        if units(url) > LINK_URL_LIMIT {
            return Err(refused(
                name,
                format!(
                    "a link of {} characters; Notion accepts at most {LINK_URL_LIMIT}",
                    units(url)
                ),
            ));
        }
    }
    Ok(())
}

fn check_length(name: &str, inner: &Json, limit: usize, what: &str) -> Result<(), Refused> {
    let len = inner.as_str().map_or(0, units);
    if len > limit {
        return Err(refused(
            name,
            format!("{what} of {len} characters; Notion accepts at most {limit}"),
        ));
    }
    Ok(())
}

fn check_status(schema: &PropertySchema, inner: &Json) -> Result<(), Refused> {
    let Some(wanted) = inner["name"].as_str() else {
        return Ok(());
    };
    if schema.options.iter().any(|o| o.name == wanted) {
        return Ok(());
    }
    let known: Vec<String> = schema
        .options
        .iter()
        .map(|o| format!("\"{}\"", o.name))
        .collect();
    Err(refused(
        &schema.name,
        format!(
            "\"{wanted}\" is not an option of this Notion status property ({}), and Notion cannot create status options through its API",
            known.join(", ")
        ),
    ))
}

fn check_count(name: &str, inner: &Json, what: &str) -> Result<(), Refused> {
    let count = inner.as_array().map_or(0, Vec::len);
    if count > LIST_LIMIT {
        return Err(refused(
            name,
            format!("{count} {what}; Notion accepts at most {LIST_LIMIT}"),
        ));
    }
    Ok(())
}

/// Notion property types, to tell which Airtable types a kind syncs with.
const NOTION_TYPES: &[&str] = &[
    "title",
    "rich_text",
    "url",
    "email",
    "phone_number",
    "select",
    "status",
    "multi_select",
    "people",
    "date",
    "number",
    "checkbox",
    "formula",
    "rollup",
    "unique_id",
    "created_time",
    "last_edited_time",
    "created_by",
    "last_edited_by",
];

/// Check an Airtable cell (as built by [`super::to_airtable`]) for `value`
/// against the field's live schema. Select options unknown to the field are
/// fine: writes are sent with `typecast`, which creates them.
pub fn check_airtable_write(
    schema: &FieldSchema,
    kind: Kind,
    value: &Value,
    cell: &Json,
) -> Result<(), Refused> {
    let name = schema.name.as_str();
    let ty = schema.kind.as_str();
    let syncs = NOTION_TYPES
        .iter()
        .any(|n| Kind::for_types(n, ty) == Ok(kind));
    if !syncs {
        return Err(refused(
            name,
            format!("the Airtable field is now a `{ty}` field, which cannot hold these values"),
        ));
    }
    super::types::check_airtable_value(kind, schema.options.as_ref(), value)
        .map_err(|e| refused(name, e.to_string()))?;
    match value {
        Value::Number(n) if !n.is_finite() => {
            Err(refused(name, format!("{n} is not a finite number")))
        }
        Value::Number(_) if !cell.is_number() => Err(refused(
            name,
            format!("a number must be written as a number, not {cell}"),
        )),
        _ => Ok(()),
    }
}

//! `[pair.body]`: the Notion page's content ↔ an Airtable long text field, as
//! Markdown, in pure code.
//!
//! The body takes part in the plan as one more field ([`Kind::Body`]) under
//! the reserved name [`BODY_FIELD`]: the engine reads the page's content
//! (`GET /v1/pages/{id}/markdown`) into a pseudo property of that name, the
//! three-way merge works on the whole text against its snapshot like any
//! field's, and a Notion write of that name is sent as a whole-content
//! replacement (`PATCH /v1/pages/{id}/markdown`). A page read without its
//! content (a sweep's query) simply lacks the pseudo property, so the body
//! keeps its snapshot and nothing is written.
//!
//! Both sides are compared in [`canonical`] form, so that text Notion stores
//! differently from how it was typed (see the function) causes neither a
//! write nor a loop. Sizes are checked before any write and refused, never
//! truncated: Airtable's long text holds at most 100,000 characters; Notion
//! refuses request payloads over 500 KB, and a content read that Notion
//! truncated (about 20,000 blocks) is never taken for the page's content.

use serde_json::{Value as Json, json};

use super::convert::{ConvertError, Kind};
use super::pair::ResolvedField;
use super::value::Value;
use crate::{
    airtable::TableSchema,
    config::BodyMapping,
    notion::{Page, PropertySchema, PropertyValue, markdown::PageMarkdown, property::PropertyData},
};

pub use crate::config::BODY_FIELD;

/// The pseudo property type of the page's content.
pub const NOTION_TYPE: &str = "page_content";

/// The Airtable field types that can hold a body.
pub const LONG_TEXT_TYPES: &[&str] = &["multilineText", "richText"];

/// Airtable's long text limit, in characters.
pub const AIRTABLE_LIMIT: usize = 100_000;

/// Notion's request payload limit (request-limits: 500 KB).
pub const NOTION_PAYLOAD_LIMIT: usize = 500 * 1000;

/// The text both sides are compared, snapshotted and written in:
/// - line endings are `\n`;
/// - blank lines and trailing spaces at the very end are dropped (Airtable's
///   rich text always ends with `\n`; a trailing newline is no content);
/// - headings 5 and 6 are heading 4, as Notion converts them ("Headings 5
///   and 6 are converted to heading 4", enhanced markdown guide), outside
///   fenced code, which Notion keeps literal.
pub fn canonical(markdown: &str) -> String {
    let text = markdown.replace("\r\n", "\n").replace('\r', "\n");
    let mut fenced = false;
    let lines: Vec<String> = text
        .split('\n')
        .map(|line| {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                return line.to_owned();
            }
            match line
                .strip_prefix("######")
                .or_else(|| line.strip_prefix("#####"))
            {
                Some(rest) if !fenced && rest.starts_with(' ') => format!("####{rest}"),
                _ => line.to_owned(),
            }
        })
        .collect();
    lines.join("\n").trim_end().to_owned()
}

/// The page's content as the pseudo property the plan reads.
pub fn property(content: &PageMarkdown) -> PropertyValue {
    let raw = json!({
        "id": BODY_FIELD,
        "type": NOTION_TYPE,
        NOTION_TYPE: {
            "markdown": content.markdown,
            "truncated": content.truncated,
            "unknown_block_ids": content.unknown_block_ids,
        },
    });
    PropertyValue {
        id: BODY_FIELD.to_owned(),
        value: PropertyData::Other(NOTION_TYPE.to_owned()),
        raw,
    }
}

/// Add the page's content to a page as read.
pub fn attach(page: &mut Page, content: &PageMarkdown) {
    page.properties
        .insert(BODY_FIELD.to_owned(), property(content));
}

/// Mark a page's content as unreadable (`why` is reported on the record;
/// the body keeps its snapshot and nothing is written).
pub fn attach_unreadable(page: &mut Page, why: &str) {
    let raw = json!({ "id": BODY_FIELD, "type": NOTION_TYPE, NOTION_TYPE: { "error": why } });
    page.properties.insert(
        BODY_FIELD.to_owned(),
        PropertyValue {
            id: BODY_FIELD.to_owned(),
            value: PropertyData::Other(NOTION_TYPE.to_owned()),
            raw,
        },
    );
}

/// Why a page's content as read cannot be planned, if it cannot.
pub fn unreadable(page: &Page) -> Option<String> {
    let raw = &page.properties.get(BODY_FIELD)?.raw;
    from_notion(&raw[NOTION_TYPE]).err().map(|e| e.to_string())
}

/// The canonical body of the pseudo property; a truncated read is refused
/// (syncing it would replace the rest of the page, or Airtable's copy, with
/// a part).
pub fn from_notion(inner: &Json) -> Result<Value, ConvertError> {
    if let Some(why) = inner["error"].as_str() {
        return Err(ConvertError::BadValue(why.to_owned()));
    }
    if inner["truncated"].as_bool() == Some(true) {
        return Err(ConvertError::BadValue(format!(
            "Notion returned the page's content truncated (it has more than about 20,000 \
             blocks; {} not loaded): it is not synced",
            inner["unknown_block_ids"].as_array().map_or(0, Vec::len)
        )));
    }
    Ok(Value::text(canonical(
        inner["markdown"].as_str().unwrap_or_default(),
    )))
}

/// The Notion write body of a body value (`{"page_content": markdown}`),
/// refused when the request would exceed Notion's payload limit.
pub fn to_notion(value: &Value) -> Result<Json, ConvertError> {
    let text = text_of(value);
    let size = crate::notion::markdown::replace_body(&text)
        .to_string()
        .len();
    if size > NOTION_PAYLOAD_LIMIT {
        return Err(ConvertError::BadValue(format!(
            "the page content would be a {size}-byte request; Notion accepts at most \
             {NOTION_PAYLOAD_LIMIT} bytes (refused, not truncated)"
        )));
    }
    Ok(json!({ NOTION_TYPE: text }))
}

/// A body value Airtable's long text cannot hold is refused.
pub fn check_airtable(value: &Value) -> Result<(), ConvertError> {
    let chars = text_of(value).chars().count();
    if chars > AIRTABLE_LIMIT {
        return Err(ConvertError::BadValue(format!(
            "the page content has {chars} characters; an Airtable long text holds at most \
             {AIRTABLE_LIMIT} (refused, not truncated)"
        )));
    }
    Ok(())
}

fn text_of(value: &Value) -> String {
    match value {
        Value::Text(s) => s.clone(),
        Value::Empty => String::new(),
        other => other.display(),
    }
}

/// The body as a resolved field, or why the Airtable field cannot hold it.
pub fn resolve(mapping: &BodyMapping, table: &TableSchema) -> Result<ResolvedField, String> {
    let label = format!("[pair.body] airtable = \"{}\"", mapping.airtable);
    let field = table.field(&mapping.airtable).ok_or_else(|| {
        format!(
            "{label}: the Airtable table \"{}\" has no such field",
            table.name
        )
    })?;
    if !LONG_TEXT_TYPES.contains(&field.kind.as_str()) {
        return Err(format!(
            "{label}: the field is a `{}` field; the page content needs a long text field \
             (`multilineText`, or `richText` with rich text formatting on)",
            field.kind
        ));
    }
    Ok(ResolvedField {
        notion: BODY_FIELD.to_owned(),
        notion_type: NOTION_TYPE.to_owned(),
        airtable: mapping.airtable.clone(),
        airtable_id: field.id.clone(),
        airtable_type: field.kind.clone(),
        kind: Kind::Body,
        relation_target: None,
        direction: mapping.direction,
        conflict: mapping.conflict,
        notion_schema: PropertySchema {
            id: BODY_FIELD.to_owned(),
            name: BODY_FIELD.to_owned(),
            kind: NOTION_TYPE.to_owned(),
            options: Vec::new(),
            raw: Json::Null,
        },
        airtable_options: field.options.clone(),
    })
}

#[cfg(test)]
#[path = "body_tests.rs"]
mod tests;

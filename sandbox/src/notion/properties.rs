//! Property values: validating a write body (api-facts §2.4 / §2.5) into the
//! stored read shape, and rendering stored values back as the API does.
//!
//! Validation works on a copy of the schema so that select options are
//! created only when the whole request is valid.

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::dates::date;
use super::errors::{NotionError, NotionResult};
use super::schema::{PropertyDef, PropertyKind, SelectOption, new_option};
use super::state::{Page, User, UserInformation, UserKind, World, compact, dashed};

/// Documented limits (developers.notion.com/reference/request-limits).
pub const MAX_TEXT_CONTENT: usize = 2000;
pub const MAX_ARRAY: usize = 100;
pub const MAX_URL: usize = 2000;
pub const MAX_EMAIL: usize = 200;
pub const MAX_PHONE: usize = 200;
/// Page reads return at most this many items of title / rich_text / people.
pub const READ_TRUNCATION: usize = 25;

/// The outcome of validating a `properties` write body.
#[derive(Debug, Default)]
pub struct Validated {
    /// New stored values by property id.
    pub values: Vec<(String, Value)>,
    /// The schema with any newly created select options.
    pub schema: Vec<PropertyDef>,
    /// Ids of properties that gained options (a `data_source.schema_updated`).
    pub options_created: Vec<String>,
}

/// `instead was ...` rendering of a JSON value, as Notion's messages show it.
fn shown(v: Option<&Value>) -> String {
    match v {
        None => "`undefined`".to_string(),
        Some(v) => format!("`{v}`"),
    }
}

pub(super) fn fail(path: &str, expectation: &str, got: Option<&Value>) -> NotionError {
    NotionError::validation(format!(
        "body failed validation: {path} should be {expectation}, instead was {}.",
        shown(got)
    ))
}

/// JavaScript string length (UTF-16 code units): Notion validates with it.
fn js_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Validate every entry of a `properties` object against `schema`.
pub fn validate_writes(
    schema: &[PropertyDef],
    world: &World,
    input: &Value,
) -> NotionResult<Validated> {
    let Some(entries) = input.as_object() else {
        return Err(fail("body.properties", "an object", Some(input)));
    };
    let mut out = Validated {
        schema: schema.to_vec(),
        ..Validated::default()
    };
    let unknown: Vec<&String> = entries
        .keys()
        .filter(|k| super::schema::find_def(schema, k).is_none())
        .collect();
    if !unknown.is_empty() {
        let message: Vec<String> = unknown
            .iter()
            .map(|k| format!("{k} is not a property that exists."))
            .collect();
        return Err(NotionError::validation(message.join(" ")));
    }
    for (key, value) in entries {
        let not_found = || NotionError::validation(format!("{key} is not a property that exists."));
        let id = super::schema::find_def(schema, key)
            .ok_or_else(not_found)?
            .id
            .clone();
        let index = out
            .schema
            .iter()
            .position(|d| d.id == id)
            .ok_or_else(not_found)?;
        let path = format!("body.properties.{key}");
        let (stored, created) = validate_one(&mut out.schema[index], world, &path, value)?;
        if created && !out.options_created.contains(&id) {
            out.options_created.push(id.clone());
        }
        out.values.retain(|(existing, _)| *existing != id);
        out.values.push((id, stored));
    }
    Ok(out)
}

/// Returns the stored value and whether a select option was created.
fn validate_one(
    def: &mut PropertyDef,
    world: &World,
    path: &str,
    value: &Value,
) -> NotionResult<(Value, bool)> {
    let kind = def.kind;
    let type_name = kind.as_str();
    if kind.is_read_only() {
        return Err(NotionError::validation(format!(
            "{} is a {type_name} property and cannot be updated.",
            def.name
        )));
    }
    let Some(obj) = value.as_object() else {
        return Err(fail(path, "an object", Some(value)));
    };
    let inner = match obj.get(type_name) {
        Some(v) => v,
        None => {
            return Err(NotionError::validation(format!(
                "{} is expected to be {type_name}.",
                def.name
            )));
        }
    };
    let path = format!("{path}.{type_name}");
    match kind {
        PropertyKind::Title | PropertyKind::RichText => Ok((rich_text_array(&path, inner)?, false)),
        PropertyKind::Number => Ok((number(&path, inner)?, false)),
        PropertyKind::Checkbox => match inner {
            Value::Bool(b) => Ok((json!(b), false)),
            other => Err(fail(&path, "a boolean", Some(other))),
        },
        PropertyKind::Url => Ok((limited_string(&path, inner, MAX_URL)?, false)),
        PropertyKind::Email => Ok((limited_string(&path, inner, MAX_EMAIL)?, false)),
        PropertyKind::PhoneNumber => Ok((limited_string(&path, inner, MAX_PHONE)?, false)),
        PropertyKind::Date => Ok((date(&path, inner)?, false)),
        PropertyKind::People => Ok((people(world, &path, inner)?, false)),
        PropertyKind::Select | PropertyKind::Status => single_option(def, &path, inner),
        PropertyKind::MultiSelect => multi_option(def, &path, inner),
        PropertyKind::Files => Ok((super::files::validate(world, &path, inner)?, false)),
        PropertyKind::Relation => Ok((
            super::relation::validate(world, def.relation.as_ref(), &path, inner)?,
            false,
        )),
        _ => Err(NotionError::validation(format!(
            "{} is a {type_name} property and cannot be updated.",
            def.name
        ))),
    }
}

// --- rich text ------------------------------------------------------------

fn default_annotations() -> Map<String, Value> {
    let v = json!({
        "bold": false, "italic": false, "strikethrough": false,
        "underline": false, "code": false, "color": "default"
    });
    v.as_object().cloned().unwrap_or_default()
}

fn rich_text_array(path: &str, v: &Value) -> NotionResult<Value> {
    let Some(items) = v.as_array() else {
        return Err(fail(path, "an array", Some(v)));
    };
    if items.len() > MAX_ARRAY {
        return Err(NotionError::validation(format!(
            "body failed validation: {path}.length should be ≤ {MAX_ARRAY}, instead was {}.",
            items.len()
        )));
    }
    let out = items
        .iter()
        .enumerate()
        .map(|(i, item)| rich_text_item(&format!("{path}[{i}]"), item))
        .collect::<NotionResult<Vec<_>>>()?;
    Ok(Value::Array(out))
}

fn annotations(path: &str, item: &Map<String, Value>) -> NotionResult<Value> {
    let mut merged = default_annotations();
    match item.get("annotations") {
        None | Some(Value::Null) => {}
        Some(Value::Object(given)) => {
            for (k, v) in given {
                merged.insert(k.clone(), v.clone());
            }
        }
        Some(other) => {
            return Err(fail(
                &format!("{path}.annotations"),
                "an object",
                Some(other),
            ));
        }
    }
    Ok(Value::Object(merged))
}

fn rich_text_item(path: &str, item: &Value) -> NotionResult<Value> {
    let Some(obj) = item.as_object() else {
        return Err(fail(path, "an object", Some(item)));
    };
    let kind = obj
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or(if obj.contains_key("equation") {
            "equation"
        } else {
            "text"
        });
    let annotations = annotations(path, obj)?;
    match kind {
        "text" => text_item(path, obj, annotations),
        "equation" => equation_item(path, obj, annotations),
        other => Err(NotionError::validation(format!(
            "body failed validation: {path}.type `{other}` is not supported by the sandbox (only text and equation)."
        ))),
    }
}

fn text_item(path: &str, obj: &Map<String, Value>, annotations: Value) -> NotionResult<Value> {
    let text = obj.get("text");
    let Some(text) = text.and_then(Value::as_object) else {
        return Err(fail(&format!("{path}.text"), "an object", text));
    };
    let content = text.get("content");
    let Some(content) = content.and_then(Value::as_str) else {
        return Err(fail(&format!("{path}.text.content"), "a string", content));
    };
    let len = js_len(content);
    if len > MAX_TEXT_CONTENT {
        return Err(NotionError::validation(format!(
            "body failed validation: {path}.text.content.length should be ≤ {MAX_TEXT_CONTENT}, instead was {len}."
        )));
    }
    let link = link(path, text.get("link"))?;
    let href = link.get("url").cloned().unwrap_or(Value::Null);
    Ok(json!({
        "type": "text",
        "text": {"content": content, "link": link},
        "annotations": annotations,
        "plain_text": content,
        "href": href,
    }))
}

fn link(path: &str, v: Option<&Value>) -> NotionResult<Value> {
    match v {
        None | Some(Value::Null) => Ok(Value::Null),
        Some(Value::Object(o)) => match o.get("url").and_then(Value::as_str) {
            Some("") => Err(NotionError::validation(format!(
                "body failed validation: {path}.text.link.url.length should be ≥ 1, instead was 0."
            ))),
            Some(url) if js_len(url) <= MAX_URL => Ok(json!({"url": url})),
            Some(url) => Err(NotionError::validation(format!(
                "body failed validation: {path}.text.link.url.length should be ≤ {MAX_URL}, instead was {}.",
                js_len(url)
            ))),
            None => Err(fail(
                &format!("{path}.text.link.url"),
                "a string",
                o.get("url"),
            )),
        },
        Some(other) => Err(fail(
            &format!("{path}.text.link"),
            "an object or `null`",
            Some(other),
        )),
    }
}

fn equation_item(path: &str, obj: &Map<String, Value>, annotations: Value) -> NotionResult<Value> {
    let expr = obj.get("equation").and_then(|e| e.get("expression"));
    let Some(expression) = expr.and_then(Value::as_str) else {
        return Err(fail(
            &format!("{path}.equation.expression"),
            "a string",
            expr,
        ));
    };
    if js_len(expression) > 1000 {
        return Err(NotionError::validation(format!(
            "body failed validation: {path}.equation.expression.length should be ≤ 1000, instead was {}.",
            js_len(expression)
        )));
    }
    Ok(json!({
        "type": "equation",
        "equation": {"expression": expression},
        "annotations": annotations,
        "plain_text": expression,
        "href": null,
    }))
}

/// Concatenated `plain_text` of a stored rich-text array.
pub fn plain_text(stored: Option<&Value>) -> String {
    stored
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.get("plain_text").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default()
}

// --- scalars ----------------------------------------------------------------

fn number(path: &str, v: &Value) -> NotionResult<Value> {
    match v {
        Value::Null | Value::Number(_) => Ok(v.clone()),
        other => Err(fail(path, "a number or `null`", Some(other))),
    }
}

/// url / email / phone_number: a non-empty string (Notion wants `null` to
/// unset, never `""`) within `max` characters.
fn limited_string(path: &str, v: &Value, max: usize) -> NotionResult<Value> {
    match v {
        Value::Null => Ok(Value::Null),
        Value::String(s) if s.is_empty() => Err(NotionError::validation(format!(
            "body failed validation: {path}.length should be ≥ 1, instead was 0."
        ))),
        Value::String(s) if js_len(s) > max => Err(NotionError::validation(format!(
            "body failed validation: {path}.length should be ≤ {max}, instead was {}.",
            js_len(s)
        ))),
        Value::String(_) => Ok(v.clone()),
        other => Err(fail(path, "a string or `null`", Some(other))),
    }
}

// --- people -------------------------------------------------------------------

fn people(world: &World, path: &str, v: &Value) -> NotionResult<Value> {
    let Some(items) = v.as_array() else {
        return Err(fail(path, "an array", Some(v)));
    };
    if items.len() > MAX_ARRAY {
        return Err(NotionError::validation(format!(
            "body failed validation: {path}.length should be ≤ {MAX_ARRAY}, instead was {}.",
            items.len()
        )));
    }
    let mut ids: Vec<Value> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let raw = item.get("id");
        let Some(raw_id) = raw.and_then(Value::as_str) else {
            return Err(fail(&format!("{path}[{i}].id"), "a string", raw));
        };
        let id = super::state::parse_id(raw_id, "id")
            .map_err(|_| fail(&format!("{path}[{i}].id"), "a valid uuid", raw))?;
        if world.user(id).is_none() {
            return Err(NotionError::validation(format!(
                "Could not find user with ID: {raw_id}."
            )));
        }
        let id = json!(dashed(id));
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(Value::Array(ids))
}

// --- select / status / multi_select --------------------------------------------

/// Resolve `{name}` or `{id}` to an option, creating it for select /
/// multi_select (status options cannot be created through page writes).
fn resolve_option(
    def: &mut PropertyDef,
    path: &str,
    v: &Value,
) -> NotionResult<(SelectOption, bool)> {
    let Some(obj) = v.as_object() else {
        return Err(fail(path, "an object", Some(v)));
    };
    if let Some(id) = obj.get("id") {
        let found = id.as_str().and_then(|id| def.option_by_id(id)).cloned();
        if found.is_none() && def.kind == PropertyKind::Status {
            return Err(unknown_status(def, id.as_str().unwrap_or_default()));
        }
        return found.map(|o| (o, false)).ok_or_else(|| {
            NotionError::validation(format!(
                "body failed validation: {path}.id option does not exist: {id}."
            ))
        });
    }
    let name = match obj.get("name") {
        Some(Value::String(n)) if !n.trim().is_empty() => n.clone(),
        Some(Value::String(_)) => {
            return Err(NotionError::validation(format!(
                "body failed validation: {path}.name should be a non-empty string, instead was `\"\"`."
            )));
        }
        other => return Err(fail(&format!("{path}.name"), "a string", other)),
    };
    if name.contains(',') {
        return Err(NotionError::validation(format!(
            "Invalid select option, commas not allowed: {name}"
        )));
    }
    if let Some(o) = def.option_by_name(&name) {
        return Ok((o.clone(), false));
    }
    if def.kind == PropertyKind::Status {
        return Err(unknown_status(def, &name));
    }
    let option = new_option(&name, def.options.len());
    def.options.push(option.clone());
    Ok((option, true))
}

/// The API cannot create status options. The message names the property
/// and the allowed values, in the form Notion's API was reported to answer
/// ("Invalid status value for property 'Status': 'Doing'. Value must be one
/// of the following: …", makenotion/notion-mcp-server#232).
fn unknown_status(def: &PropertyDef, value: &str) -> NotionError {
    let allowed: Vec<String> = def
        .options
        .iter()
        .map(|o| format!("'{}'", o.name))
        .collect();
    NotionError::validation(format!(
        "Invalid status value for property '{}': '{value}'. Value must be one of the following: {}.",
        def.name,
        allowed.join(", ")
    ))
}

fn single_option(def: &mut PropertyDef, path: &str, v: &Value) -> NotionResult<(Value, bool)> {
    if v.is_null() {
        return Ok((Value::Null, false));
    }
    let (option, created) = resolve_option(def, path, v)?;
    Ok((option.to_json(), created))
}

fn multi_option(def: &mut PropertyDef, path: &str, v: &Value) -> NotionResult<(Value, bool)> {
    let Some(items) = v.as_array() else {
        return Err(fail(path, "an array", Some(v)));
    };
    if items.len() > MAX_ARRAY {
        return Err(NotionError::validation(format!(
            "body failed validation: {path}.length should be ≤ {MAX_ARRAY}, instead was {}.",
            items.len()
        )));
    }
    let mut created_any = false;
    let mut out: Vec<Value> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let (option, created) = resolve_option(def, &format!("{path}[{i}]"), item)?;
        created_any |= created;
        let json = option.to_json();
        if !out.contains(&json) {
            out.push(json);
        }
    }
    Ok((Value::Array(out), created_any))
}

// --- reading --------------------------------------------------------------------

/// The stored value of a property a page has never written.
pub fn default_value(kind: PropertyKind) -> Value {
    match kind {
        PropertyKind::Title
        | PropertyKind::RichText
        | PropertyKind::People
        | PropertyKind::Relation
        | PropertyKind::MultiSelect
        | PropertyKind::Files => {
            json!([])
        }
        PropertyKind::Checkbox => json!(false),
        _ => Value::Null,
    }
}

/// A user object as an integration with the `info` capability sees it:
/// with "No user information" only `{object, id}` ("User objects will not
/// include any information about the user, including name, profile image,
/// or their email address"; a bot keeps its type), without the email
/// capability `person` carries no `email`.
pub fn user_json(user: &User, info: UserInformation) -> Value {
    match (&user.kind, info) {
        (UserKind::Person { .. }, UserInformation::None) => {
            json!({"object": "user", "id": dashed(user.id)})
        }
        (UserKind::Bot, UserInformation::None) => {
            json!({"object": "user", "id": dashed(user.id), "type": "bot", "bot": {}})
        }
        (UserKind::Person { email }, _) => {
            let person = match info {
                UserInformation::WithEmail => json!({"email": email}),
                _ => json!({}),
            };
            json!({
                "object": "user", "id": dashed(user.id), "name": user.name,
                "avatar_url": null, "type": "person", "person": person,
            })
        }
        (UserKind::Bot, _) => json!({
            "object": "user", "id": dashed(user.id), "name": user.name,
            "avatar_url": null, "type": "bot",
            "bot": {"owner": {"type": "workspace", "workspace": true}, "workspace_name": "Sandbox Workspace"},
        }),
    }
}

fn user_ref_json(world: &World, id: &str) -> Value {
    let user = Uuid::parse_str(id).ok().and_then(|id| world.user(id));
    match user {
        Some(u) => user_json(u, world.user_info),
        None => json!({"object": "user", "id": id}),
    }
}

/// All items of a property (title / rich_text / people fully; no truncation).
pub fn full_items(world: &World, def: &PropertyDef, page: &Page) -> Vec<Value> {
    let stored = page
        .values
        .get(&def.id)
        .cloned()
        .unwrap_or_else(|| default_value(def.kind));
    let items = stored.as_array().cloned().unwrap_or_default();
    if def.kind == PropertyKind::People {
        return items
            .iter()
            .map(|v| user_ref_json(world, v.as_str().unwrap_or_default()))
            .collect();
    }
    items
}

/// The value part of a property as `GET /v1/pages/{id}` shows it.
pub fn read_value(world: &World, def: &PropertyDef, page: &Page) -> Value {
    use crate::common::notion_minute;
    let user = |id: Uuid| {
        world
            .user(id)
            .map(|u| user_json(u, world.user_info))
            .unwrap_or(json!({"object": "user", "id": dashed(id)}))
    };
    match def.kind {
        PropertyKind::CreatedTime => json!(notion_minute(page.created_time)),
        PropertyKind::LastEditedTime => json!(notion_minute(page.last_edited_time)),
        PropertyKind::CreatedBy => user(page.created_by),
        PropertyKind::LastEditedBy => user(page.last_edited_by),
        PropertyKind::UniqueId => {
            json!({"prefix": def.prefix, "number": unique_number(world, page)})
        }
        PropertyKind::Files => super::files::read(world, page.values.get(&def.id)),
        PropertyKind::Formula | PropertyKind::Rollup => super::computed::read(world, def, page),
        PropertyKind::Title | PropertyKind::RichText | PropertyKind::People => {
            let mut items = full_items(world, def, page);
            items.truncate(READ_TRUNCATION);
            Value::Array(items)
        }
        PropertyKind::Relation => super::relation::read(page.values.get(&def.id)).0,
        _ => page
            .values
            .get(&def.id)
            .cloned()
            .unwrap_or_else(|| default_value(def.kind)),
    }
}

/// A page's unique id number: Notion numbers a data source's pages 1, 2, 3...
/// in creation order, existing pages included when the property is added,
/// and never reuses a number. Pages are never erased here (trash keeps
/// them), so the rank by creation is that number.
fn unique_number(world: &World, page: &Page) -> u64 {
    let earlier = world
        .pages
        .values()
        .filter(|p| p.data_source_id == page.data_source_id && p.seq < page.seq)
        .count();
    earlier as u64 + 1
}

/// `{id, type, <type>: value}` for every property of the page's schema
/// (optionally only the ids in `only`), keyed by property name.
pub fn read_properties(
    world: &World,
    schema: &[PropertyDef],
    page: &Page,
    only: Option<&[String]>,
) -> Value {
    let mut out = Map::new();
    for def in schema {
        if let Some(only) = only {
            let wanted = only.iter().any(|k| {
                *k == def.id
                    || *k == def.name
                    || super::schema::decode_property_id(k)
                        == super::schema::decode_property_id(&def.id)
            });
            if !wanted {
                continue;
            }
        }
        let kind = def.kind.as_str();
        let mut property = json!({"id": def.id, "type": kind, kind: read_value(world, def, page)});
        if def.kind == PropertyKind::Relation {
            property["has_more"] = json!(super::relation::read(page.values.get(&def.id)).1);
        }
        out.insert(def.name.clone(), property);
    }
    Value::Object(out)
}

/// `https://www.notion.so/<Title-slug>-<id>`.
pub fn page_url(title: &str, id: Uuid) -> String {
    let slug: Vec<String> = title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    if slug.is_empty() {
        format!("https://www.notion.so/{}", compact(id))
    } else {
        format!("https://www.notion.so/{}-{}", slug.join("-"), compact(id))
    }
}

/// Stored values for a new page: defaults, then the validated writes.
pub fn initial_values(
    schema: &[PropertyDef],
    writes: Vec<(String, Value)>,
) -> HashMap<String, Value> {
    let mut values: HashMap<String, Value> = schema
        .iter()
        .filter(|d| !d.kind.is_read_only())
        .map(|d| (d.id.clone(), default_value(d.kind)))
        .collect();
    values.extend(writes);
    values
}

//! Updating a data source's schema: `PATCH /v1/data_sources/{id}` (the bot)
//! and the same edit made by a person in Notion's UI (control API).
//!
//! Documented behaviour (developers.notion.com/reference/update-data-source-properties):
//! - `properties: {"<name or id>": null}` removes a property;
//! - `{"<name or id>": {"name": "New"}}` renames it; its id stays;
//! - `{"<name or id>": {"<type>": {config}}}` changes its type or, for the
//!   same type, its configuration (select options: "If an existing option is
//!   omitted, it will be removed … New options will be added"; "the name and
//!   color of an existing option cannot be updated");
//! - a key that names no property and carries a type adds one;
//! - "the property type of the title cannot be changed", and "it's not
//!   possible to update the name or options values of a status property via
//!   the API" (read literally: through the API a status property can be
//!   neither renamed nor given other options, and no property can become a
//!   status; a new status property can be created). A person in the UI can
//!   do all of it.
//!
//! The whole request is validated on a copy of the schema; nothing changes
//! unless every entry is valid. Changing a type converts every page's value
//! through its text (as the UI does: "In Review" becomes an option, "42" a
//! number), creating the options the values need.

use serde_json::{Map, Value, json};

use super::dates::date_from_text;
use super::errors::{NotionError, NotionResult};
use super::properties::{default_value, plain_text};
use super::schema::{PropertyDef, PropertyKind, SelectOption, new_option, unique_property_id};
use super::state::{DataSource, User, UserKind};

/// Who edits the schema: the API refuses what only the UI can do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Editor {
    Api,
    Person,
}

/// A validated schema edit, ready to apply.
#[derive(Debug, Default)]
pub struct SchemaPlan {
    pub defs: Vec<PropertyDef>,
    /// `{id, name, action}` per changed property (`name` is null when deleted),
    /// the `data.updated_properties` of `data_source.schema_updated`.
    pub changes: Vec<Value>,
    /// Ids whose stored values go (deleted properties).
    pub removed: Vec<String>,
    /// Old definitions of properties whose type changed.
    pub retyped: Vec<PropertyDef>,
    /// New data source title (plain text).
    pub title: Option<String>,
}

const TYPE_KEYS: [&str; 21] = [
    "title",
    "files",
    "rich_text",
    "number",
    "select",
    "multi_select",
    "status",
    "date",
    "people",
    "checkbox",
    "url",
    "email",
    "phone_number",
    "created_time",
    "last_edited_time",
    "created_by",
    "last_edited_by",
    "unique_id",
    "relation",
    "formula",
    "rollup",
];

/// Documented property types the sandbox does not model.
const UNMODELLED_TYPES: [&str; 3] = ["button", "verification", "place"];

fn kind_of(name: &str) -> Option<PropertyKind> {
    serde_json::from_value(json!(name)).ok()
}

fn invalid(message: String) -> NotionError {
    NotionError::validation(message)
}

fn not_found(key: &str) -> NotionError {
    invalid(format!("Could not find property with name or id: {key}."))
}

/// Validate a data source update body against `ds`.
pub fn plan(ds: &DataSource, body: &Value, editor: Editor) -> NotionResult<SchemaPlan> {
    let Some(obj) = body.as_object() else {
        return Err(invalid(
            "body failed validation: body should be an object.".into(),
        ));
    };
    refuse_unmodelled_fields(obj)?;
    let mut plan = SchemaPlan {
        defs: ds.properties.clone(),
        title: title(obj.get("title"))?,
        ..SchemaPlan::default()
    };
    match obj.get("properties") {
        None | Some(Value::Null) => {}
        Some(Value::Object(entries)) => {
            // A rollup names a relation and a formula names properties that the same
            // request may add: those two go last.
            let rank = |v: &Value| match v {
                _ if v.get("formula").is_some() => 2,
                _ if v.get("rollup").is_some() => 1,
                _ => 0,
            };
            let mut ordered: Vec<(&String, &Value)> = entries.iter().collect();
            ordered.sort_by_key(|(_, v)| rank(v));
            for (key, value) in ordered {
                entry(ds, &mut plan, key, value, editor)?;
            }
        }
        Some(other) => {
            return Err(invalid(format!(
                "body failed validation: body.properties should be an object, instead was `{other}`."
            )));
        }
    }
    Ok(plan)
}

/// Fields of the documented body that the sandbox does not implement are
/// refused rather than silently ignored.
fn refuse_unmodelled_fields(obj: &Map<String, Value>) -> NotionResult<()> {
    for key in obj.keys() {
        if !matches!(key.as_str(), "properties" | "title") {
            return Err(invalid(format!(
                "body failed validation: body.{key} is not supported by the sandbox (only properties and title)."
            )));
        }
    }
    Ok(())
}

fn title(v: Option<&Value>) -> NotionResult<Option<String>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => {
            let stored: Vec<Value> = items
                .iter()
                .map(|i| {
                    let content = i.pointer("/text/content").and_then(Value::as_str);
                    content.map(|c| json!({"plain_text": c})).ok_or_else(|| {
                        invalid(
                            "body failed validation: body.title[].text.content should be a string."
                                .into(),
                        )
                    })
                })
                .collect::<NotionResult<_>>()?;
            Ok(Some(plain_text(Some(&Value::Array(stored)))))
        }
        Some(other) => Err(invalid(format!(
            "body failed validation: body.title should be an array, instead was `{other}`."
        ))),
    }
}

/// One `properties` entry.
fn entry(
    ds: &DataSource,
    plan: &mut SchemaPlan,
    key: &str,
    value: &Value,
    editor: Editor,
) -> NotionResult<()> {
    let path = format!("body.properties.{key}");
    // Keys resolve against the schema as it was before this request.
    let existing = ds.property(key).map(|d| d.id.clone());
    let index = existing
        .as_ref()
        .and_then(|id| plan.defs.iter().position(|d| d.id == *id));
    match (value, index) {
        (Value::Null, Some(i)) => remove(plan, i),
        (Value::Null, None) => Err(not_found(key)),
        (Value::Object(o), Some(i)) => {
            let edit = parse_edit(&path, o)?;
            update(plan, i, edit, editor, &path)
        }
        (Value::Object(o), None) => {
            let edit = parse_edit(&path, o)?;
            add(ds, plan, key, edit, &path)
        }
        (other, _) => Err(invalid(format!(
            "body failed validation: {path} should be an object or `null`, instead was `{other}`."
        ))),
    }
}

/// The parsed parts of a property schema object.
struct Edit<'a> {
    name: Option<String>,
    /// The type key and its configuration.
    kind: Option<(PropertyKind, &'a Value)>,
}

fn parse_edit<'a>(path: &str, o: &'a Map<String, Value>) -> NotionResult<Edit<'a>> {
    let name = match o.get("name") {
        None => None,
        Some(Value::String(n)) if !n.trim().is_empty() => Some(n.clone()),
        Some(other) => {
            return Err(invalid(format!(
                "body failed validation: {path}.name should be a non-empty string, instead was `{other}`."
            )));
        }
    };
    let mut kinds = Vec::new();
    for (k, v) in o {
        match k.as_str() {
            "name" | "description" | "id" | "type" => {}
            t if TYPE_KEYS.contains(&t) => kinds.push((t, v)),
            t if UNMODELLED_TYPES.contains(&t) => {
                return Err(invalid(format!(
                    "body failed validation: {path}.{t}: the `{t}` type is not supported by the sandbox."
                )));
            }
            other => {
                return Err(invalid(format!(
                    "body failed validation: {path}.{other} is not a known property schema field."
                )));
            }
        }
    }
    let declared = o.get("type").and_then(Value::as_str);
    static EMPTY: Value = Value::Null;
    let kind = match (kinds.as_slice(), declared) {
        ([], None) => None,
        ([], Some(t)) if TYPE_KEYS.contains(&t) => Some((t, &EMPTY)),
        ([(t, v)], None) => Some((*t, *v)),
        ([(t, v)], Some(d)) if d == *t => Some((*t, *v)),
        _ => {
            return Err(invalid(format!(
                "body failed validation: {path} should name exactly one property type."
            )));
        }
    };
    let kind = match kind {
        None => None,
        Some((t, config)) => {
            let parsed = kind_of(t).ok_or_else(|| not_supported(path, t))?;
            if !(config.is_null() || config.is_object()) {
                return Err(invalid(format!(
                    "body failed validation: {path}.{t} should be an object, instead was `{config}`."
                )));
            }
            Some((parsed, config))
        }
    };
    Ok(Edit { name, kind })
}

fn not_supported(path: &str, t: &str) -> NotionError {
    invalid(format!(
        "body failed validation: {path}.{t}: the `{t}` type is not supported by the sandbox."
    ))
}

fn remove(plan: &mut SchemaPlan, i: usize) -> NotionResult<()> {
    let def = &plan.defs[i];
    if def.kind == PropertyKind::Title {
        return Err(invalid(format!(
            "Cannot delete the title property {} of a data source.",
            def.name
        )));
    }
    let def = plan.defs.remove(i);
    plan.changes
        .push(json!({"id": def.id, "name": null, "action": "deleted"}));
    plan.removed.push(def.id);
    Ok(())
}

fn check_name_free(plan: &SchemaPlan, name: &str, except: Option<&str>) -> NotionResult<()> {
    let taken = plan
        .defs
        .iter()
        .any(|d| d.name == name && Some(d.id.as_str()) != except);
    if taken {
        return Err(invalid(format!(
            "Cannot create or rename a property to {name}: a property with that name already exists."
        )));
    }
    Ok(())
}

fn status_via_api(def_name: &str) -> NotionError {
    invalid(format!(
        "Cannot update the name or options of status property {def_name} via the API."
    ))
}

fn update(
    plan: &mut SchemaPlan,
    i: usize,
    edit: Edit<'_>,
    editor: Editor,
    path: &str,
) -> NotionResult<()> {
    let before = plan.defs[i].clone();
    let is_api = editor == Editor::Api;
    if let Some(name) = &edit.name {
        if *name != before.name {
            if is_api && before.kind == PropertyKind::Status {
                return Err(status_via_api(&before.name));
            }
            check_name_free(plan, name, Some(&before.id))?;
            plan.defs[i].name = name.clone();
        }
    }
    if let Some((kind, config)) = edit.kind {
        if kind == before.kind {
            if is_api && kind == PropertyKind::Status && config.get("options").is_some() {
                return Err(status_via_api(&before.name));
            }
            reconfigure(&mut plan.defs[i], config, path)?;
            // A new expression or rollup configuration replaces the old one.
            if !config.is_null() && config.as_object().is_some_and(|c| !c.is_empty()) {
                if let Some(computed) =
                    super::computed::parse_config(kind, config, path, &plan.defs)?
                {
                    plan.defs[i].computed = Some(computed);
                }
            }
        } else {
            retype(&mut plan.defs[i], kind, config, editor, path)?;
            plan.retyped.push(before.clone());
        }
    }
    let after = &plan.defs[i];
    let changed = after.name != before.name
        || after.kind != before.kind
        || after.options != before.options
        || after.groups != before.groups
        || after.computed != before.computed;
    if changed {
        plan.changes
            .push(json!({"id": after.id, "name": after.name, "action": "updated"}));
    }
    Ok(())
}

fn retype(
    def: &mut PropertyDef,
    kind: PropertyKind,
    config: &Value,
    editor: Editor,
    path: &str,
) -> NotionResult<()> {
    if def.kind == PropertyKind::Title {
        return Err(invalid(format!(
            "Cannot change the type of the title property {}.",
            def.name
        )));
    }
    if kind == PropertyKind::Title {
        return Err(invalid(format!(
            "Cannot change {} to a title property: a data source has exactly one.",
            def.name
        )));
    }
    if kind == PropertyKind::Status && editor == Editor::Api {
        return Err(invalid(format!(
            "Cannot change {} to a status property via the API.",
            def.name
        )));
    }
    if matches!(kind, PropertyKind::Formula | PropertyKind::Rollup) {
        return Err(not_supported(path, kind.as_str()));
    }
    def.kind = kind;
    def.prefix = unique_id_prefix(kind, config);
    def.options = fresh_options(config, path)?;
    def.groups = Vec::new();
    def.regroup();
    Ok(())
}

fn add(
    ds: &DataSource,
    plan: &mut SchemaPlan,
    key: &str,
    edit: Edit<'_>,
    path: &str,
) -> NotionResult<()> {
    let Some((kind, config)) = edit.kind else {
        return Err(not_found(key));
    };
    if kind == PropertyKind::Title {
        return Err(invalid(format!(
            "Cannot add title property {key}: a data source has exactly one."
        )));
    }
    let name = edit.name.unwrap_or_else(|| key.to_string());
    check_name_free(plan, &name, None)?;
    let id = new_property_id(ds, plan, &name);
    let mut def = PropertyDef {
        id: id.clone(),
        name: name.clone(),
        kind,
        options: fresh_options(config, path)?,
        groups: Vec::new(),
        prefix: unique_id_prefix(kind, config),
        relation: super::relation::parse_config(kind, config, path)?,
        computed: super::computed::parse_config(kind, config, path, &plan.defs)?,
    };
    // A status property made through the API puts every option in "To-do"
    // (groups given in the request are reported to be ignored:
    // makenotion/notion-mcp-server#347).
    def.regroup();
    plan.changes
        .push(json!({"id": id, "name": name, "action": "created"}));
    plan.defs.push(def);
    Ok(())
}

/// A unique id property's `{"prefix": "SPEC"}` (none, or an empty one: bare numbers).
fn unique_id_prefix(kind: PropertyKind, config: &Value) -> Option<String> {
    let prefix = config["prefix"].as_str().filter(|p| !p.is_empty());
    prefix
        .filter(|_| kind == PropertyKind::UniqueId)
        .map(str::to_owned)
}

/// A new id: never one this data source has used, so a property deleted
/// and re-added under the same name is a different property (as in Notion).
fn new_property_id(ds: &DataSource, plan: &SchemaPlan, name: &str) -> String {
    let mut taken = plan.defs.clone();
    let retired = ds.retired_property_ids.iter().chain(&plan.removed);
    for id in retired {
        taken.push(PropertyDef {
            id: id.clone(),
            name: String::new(),
            kind: PropertyKind::RichText,
            options: Vec::new(),
            groups: Vec::new(),
            prefix: None,
            relation: None,
            computed: None,
        });
    }
    unique_property_id(name, &taken)
}

// --- options ---------------------------------------------------------------------

fn option_items<'a>(config: &'a Value, path: &str) -> NotionResult<Option<&'a Vec<Value>>> {
    match config.get("options") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(other) => Err(invalid(format!(
            "body failed validation: {path}.options should be an array, instead was `{other}`."
        ))),
    }
}

fn option_name(item: &Value, path: &str) -> NotionResult<Option<String>> {
    match item.get("name") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(n)) if n.trim().is_empty() => Err(invalid(format!(
            "body failed validation: {path}.name should be a non-empty string."
        ))),
        Some(Value::String(n)) if n.contains(',') => Err(invalid(format!(
            "Invalid select option, commas not allowed: {n}"
        ))),
        Some(Value::String(n)) => Ok(Some(n.clone())),
        Some(other) => Err(invalid(format!(
            "body failed validation: {path}.name should be a string, instead was `{other}`."
        ))),
    }
}

fn option_color_of(item: &Value, path: &str) -> NotionResult<Option<String>> {
    const COLORS: [&str; 10] = [
        "default", "gray", "brown", "orange", "yellow", "green", "blue", "purple", "pink", "red",
    ];
    match item.get("color") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(c)) if COLORS.contains(&c.as_str()) => Ok(Some(c.clone())),
        Some(other) => Err(invalid(format!(
            "body failed validation: {path}.color should be one of {COLORS:?}, instead was `{other}`."
        ))),
    }
}

/// Options of a property that is new or changes type: every item is new.
fn fresh_options(config: &Value, path: &str) -> NotionResult<Vec<SelectOption>> {
    let mut out: Vec<SelectOption> = Vec::new();
    for (i, item) in option_items(config, path)?
        .into_iter()
        .flatten()
        .enumerate()
    {
        let item_path = format!("{path}.options[{i}]");
        let name = option_name(item, &item_path)?.ok_or_else(|| {
            invalid(format!(
                "body failed validation: {item_path}.name should be defined."
            ))
        })?;
        let color = option_color_of(item, &item_path)?;
        push_new(&mut out, name, color, i, &item_path)?;
    }
    Ok(out)
}

/// Add a new option; without a colour it gets the `n`th default colour.
fn push_new(
    out: &mut Vec<SelectOption>,
    name: String,
    color: Option<String>,
    n: usize,
    path: &str,
) -> NotionResult<()> {
    if out.iter().any(|o| o.name == name) {
        return Err(invalid(format!(
            "body failed validation: {path}: option {name} is given twice."
        )));
    }
    let mut option = new_option(&name, n);
    if let Some(color) = color {
        option.color = color;
    }
    out.push(option);
    Ok(())
}

/// Same type, new configuration: for option types the given list replaces
/// the options (existing ones matched by id or name and unchanged).
fn reconfigure(def: &mut PropertyDef, config: &Value, path: &str) -> NotionResult<()> {
    if !def.kind.has_options() {
        return Ok(());
    }
    let Some(items) = option_items(config, path)? else {
        return Ok(());
    };
    let mut out: Vec<SelectOption> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}.options[{i}]");
        let name = option_name(item, &item_path)?;
        let color = option_color_of(item, &item_path)?;
        match existing_option(def, item, name.as_deref(), &item_path)? {
            Some(option) => {
                if color.as_ref().is_some_and(|c| *c != option.color) {
                    return Err(invalid(format!(
                        "Cannot update color of select with id: {}.",
                        option.id
                    )));
                }
                if out.iter().any(|o| o.id == option.id) {
                    return Err(invalid(format!(
                        "body failed validation: {item_path}: option {} is given twice.",
                        option.name
                    )));
                }
                out.push(option);
            }
            None => {
                let name = name.ok_or_else(|| {
                    invalid(format!(
                        "body failed validation: {item_path}.name should be defined."
                    ))
                })?;
                push_new(&mut out, name, color, def.options.len() + i, &item_path)?;
            }
        }
    }
    def.options = out;
    def.regroup();
    Ok(())
}

fn existing_option(
    def: &PropertyDef,
    item: &Value,
    name: Option<&str>,
    path: &str,
) -> NotionResult<Option<SelectOption>> {
    if let Some(id) = item.get("id").and_then(Value::as_str) {
        let option = def.option_by_id(id).cloned().ok_or_else(|| {
            invalid(format!(
                "body failed validation: {path}.id option does not exist: {id}."
            ))
        })?;
        if name.is_some_and(|n| n != option.name) {
            return Err(invalid(format!(
                "Cannot update name of select with id: {id}."
            )));
        }
        return Ok(Some(option));
    }
    Ok(name.and_then(|n| def.option_by_name(n)).cloned())
}

// --- values after a type change -------------------------------------------------

/// A stored value of `old` as text pieces (one per option or person).
pub fn text_pieces(old: &PropertyDef, stored: &Value, users: &[User]) -> Vec<String> {
    let pieces: Vec<String> = match old.kind {
        PropertyKind::Title | PropertyKind::RichText => vec![plain_text(Some(stored))],
        PropertyKind::Select | PropertyKind::Status => stored
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string)
            .into_iter()
            .collect(),
        PropertyKind::MultiSelect => stored
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o.get("name").and_then(Value::as_str).map(str::to_string))
            .collect(),
        PropertyKind::People => stored
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|id| {
                users
                    .iter()
                    .find(|u| Some(u.id.to_string().as_str()) == id.as_str())
            })
            .map(|u| u.name.clone())
            .collect(),
        PropertyKind::Date => stored
            .get("start")
            .and_then(Value::as_str)
            .map(str::to_string)
            .into_iter()
            .collect(),
        PropertyKind::Checkbox => vec![if stored == &json!(true) { "Yes" } else { "No" }.into()],
        PropertyKind::Number => stored
            .as_f64()
            .map(|n| format!("{n}"))
            .into_iter()
            .collect(),
        PropertyKind::Url | PropertyKind::Email | PropertyKind::PhoneNumber => {
            stored.as_str().map(str::to_string).into_iter().collect()
        }
        _ => Vec::new(),
    };
    pieces.into_iter().filter(|p| !p.is_empty()).collect()
}

/// The stored value of `new` for text pieces, creating options as needed.
/// `None` for computed types (they store nothing).
pub fn from_pieces(new: &mut PropertyDef, pieces: &[String], users: &[User]) -> Option<Value> {
    let joined = pieces.join(", ");
    let value = match new.kind {
        PropertyKind::Title | PropertyKind::RichText => rich_text_value(&joined),
        PropertyKind::Number => number_from_text(joined.trim()),
        PropertyKind::Select | PropertyKind::Status => match pieces.first() {
            Some(p) => option_for(new, p).to_json(),
            None => Value::Null,
        },
        PropertyKind::MultiSelect => Value::Array(
            pieces
                .iter()
                .flat_map(|p| p.split(',').map(str::trim).filter(|s| !s.is_empty()))
                .map(|p| option_for(new, p).to_json())
                .collect(),
        ),
        PropertyKind::Checkbox => json!(matches!(
            joined.trim().to_ascii_lowercase().as_str(),
            "yes" | "true" | "1" | "checked"
        )),
        PropertyKind::Date => date_from_text(joined.trim()).unwrap_or(Value::Null),
        PropertyKind::People => Value::Array(
            pieces
                .iter()
                .filter_map(|p| {
                    users
                        .iter()
                        .find(|u| u.name == *p && matches!(u.kind, UserKind::Person { .. }))
                })
                .map(|u| json!(u.id.hyphenated().to_string()))
                .collect(),
        ),
        PropertyKind::Url | PropertyKind::Email | PropertyKind::PhoneNumber => {
            if joined.is_empty() {
                Value::Null
            } else {
                json!(joined)
            }
        }
        _ => return None,
    };
    Some(value)
}

/// Integers stay integers (`42`, not `42.0`), as Notion returns them.
fn number_from_text(s: &str) -> Value {
    if let Ok(n) = s.parse::<i64>() {
        return json!(n);
    }
    s.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn option_for(def: &mut PropertyDef, name: &str) -> SelectOption {
    let name = name.replace(',', " ");
    if let Some(o) = def.option_by_name(&name) {
        return o.clone();
    }
    let option = new_option(&name, def.options.len());
    def.options.push(option.clone());
    def.regroup();
    option
}

/// Rich text holding `s`, split into items of at most 2,000 characters.
fn rich_text_value(s: &str) -> Value {
    let chars: Vec<char> = s.chars().collect();
    let items: Vec<Value> = chars
        .chunks(super::properties::MAX_TEXT_CONTENT)
        .map(|chunk| {
            let content: String = chunk.iter().collect();
            json!({
                "type": "text",
                "text": {"content": content, "link": null},
                "annotations": {"bold": false, "italic": false, "strikethrough": false,
                                "underline": false, "code": false, "color": "default"},
                "plain_text": content,
                "href": null,
            })
        })
        .collect();
    Value::Array(items)
}

/// A stored value of `def` with options removed from the schema cleared.
pub fn drop_removed_options(def: &PropertyDef, stored: &Value) -> Value {
    let known = |o: &Value| {
        o.get("id")
            .and_then(Value::as_str)
            .is_some_and(|id| def.option_by_id(id).is_some())
    };
    match def.kind {
        PropertyKind::Select | PropertyKind::Status if !stored.is_null() && !known(stored) => {
            Value::Null
        }
        PropertyKind::MultiSelect => match stored.as_array() {
            Some(items) => Value::Array(items.iter().filter(|o| known(o)).cloned().collect()),
            None => default_value(def.kind),
        },
        _ => stored.clone(),
    }
}

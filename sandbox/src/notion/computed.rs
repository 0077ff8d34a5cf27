//! Formula and rollup properties: their schema configuration, and their values computed
//! whenever a page is read, so they follow their inputs (the page's own properties, and
//! for a rollup the related pages) without being stored.
//!
//! Rollups as Notion's API reference documents them: the schema is `{"rollup":
//! {"relation_property_name", "relation_property_id", "rollup_property_name",
//! "rollup_property_id", "function"}}` (created with either the name or the id of each
//! property); a page reads `{"type": "number"|"date"|"array", <type>: …, "function": …}`,
//! an array holding property values (`{"type": "title", "title": […]}`) of the related
//! pages, in relation order (page-property-values, "Rollup"). Functions modelled: `count`,
//! `count_values`, `empty`, `not_empty`, `unique`, `percent_empty`, `percent_not_empty`,
//! `sum`, `average`, `median`, `min`, `max`, `range`, `earliest_date`, `latest_date`,
//! `checked`, `unchecked`, `percent_checked`, `percent_unchecked`, `show_original`,
//! `show_unique`; `date_range`, `count_per_group` and `percent_per_group` are refused as not
//! modelled. Trashed related pages are left out [U]. Not modelled: the inaccurate page-read
//! rollups Notion warns of past 25 relations, and any webhook event for a value that changed
//! because a related page did (Notion documents none: such a page is not edited).

use std::cell::Cell;

use serde_json::{Value, json};
use uuid::Uuid;

use super::errors::{NotionError, NotionResult};
use super::formula::{self, Expr, Val};
use super::properties::read_value;
use super::schema::{PropertyDef, PropertyKind, find_def};
use super::state::{Page, World};

#[derive(Clone, Debug, PartialEq)]
pub enum Computed {
    Formula { expression: String, expr: Expr },
    Rollup(Rollup),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rollup {
    pub relation_id: String,
    pub relation_name: String,
    /// Filled when the schema edit is applied (the related data source is known then).
    pub rollup_id: String,
    pub rollup_name: String,
    /// The rollup property as given (name or id), until resolved.
    pub rollup_key: String,
    pub function: String,
}

const FUNCTIONS: [&str; 21] = [
    "count",
    "count_values",
    "empty",
    "not_empty",
    "unique",
    "percent_empty",
    "percent_not_empty",
    "sum",
    "average",
    "median",
    "min",
    "max",
    "range",
    "earliest_date",
    "latest_date",
    "checked",
    "unchecked",
    "percent_checked",
    "percent_unchecked",
    "show_original",
    "show_unique",
];

fn invalid(path: &str, m: &str) -> NotionError {
    NotionError::validation(format!("body failed validation: {path}: {m}"))
}

/// The configuration of a new formula or rollup property, against the properties the
/// data source has (`defs`).
pub fn parse_config(
    kind: PropertyKind,
    config: &Value,
    path: &str,
    defs: &[PropertyDef],
) -> NotionResult<Option<Computed>> {
    match kind {
        PropertyKind::Formula => {
            let Some(expression) = config["expression"].as_str() else {
                return Err(invalid(path, "formula.expression should be a string"));
            };
            let expr = formula::parse(expression, |p| defs.iter().any(|d| d.name == p))?;
            Ok(Some(Computed::Formula {
                expression: expression.to_string(),
                expr,
            }))
        }
        PropertyKind::Rollup => rollup_config(config, path, defs).map(Some),
        _ => Ok(None),
    }
}

fn rollup_config(config: &Value, path: &str, defs: &[PropertyDef]) -> NotionResult<Computed> {
    let key = |name: &str, id: &str| {
        config[name]
            .as_str()
            .or_else(|| config[id].as_str())
            .map(str::to_owned)
    };
    let relation = key("relation_property_name", "relation_property_id")
        .and_then(|k| find_def(defs, &k).cloned())
        .filter(|d| d.kind == PropertyKind::Relation)
        .ok_or_else(|| {
            invalid(
                path,
                "rollup.relation_property_name should name a relation property",
            )
        })?;
    let rollup_key = key("rollup_property_name", "rollup_property_id")
        .ok_or_else(|| invalid(path, "rollup.rollup_property_name should be defined"))?;
    let function = config["function"].as_str().unwrap_or_default();
    if !FUNCTIONS.contains(&function) {
        return Err(invalid(
            path,
            &format!("rollup.function `{function}` is not supported by the sandbox"),
        ));
    }
    Ok(Computed::Rollup(Rollup {
        relation_id: relation.id,
        relation_name: relation.name,
        rollup_id: String::new(),
        rollup_name: String::new(),
        rollup_key,
        function: function.to_string(),
    }))
}

/// Once the related data sources are known: find each new rollup's property there.
pub fn resolve(world: &World, ds_id: Uuid, defs: &mut [PropertyDef]) -> NotionResult<()> {
    let snapshot = defs.to_vec();
    for def in defs.iter_mut() {
        let Some(Computed::Rollup(r)) = def.computed.as_mut() else {
            continue;
        };
        if !r.rollup_id.is_empty() {
            continue;
        }
        let target = find_def(&snapshot, &r.relation_id)
            .and_then(|d| d.relation)
            .map(|t| t.data_source_id);
        let related = match target {
            Some(t) if t == ds_id => snapshot.clone(),
            Some(t) => world.data_source(t)?.properties.clone(),
            None => Vec::new(),
        };
        let found = find_def(&related, &r.rollup_key).ok_or_else(|| {
            NotionError::validation(format!(
                "Could not find rollup property {} in the related data source.",
                r.rollup_key
            ))
        })?;
        r.rollup_id = found.id.clone();
        r.rollup_name = found.name.clone();
    }
    Ok(())
}

/// The schema entry's `formula` / `rollup` object.
pub fn schema_json(computed: Option<&Computed>) -> Value {
    match computed {
        Some(Computed::Formula { expression, .. }) => json!({"expression": expression}),
        Some(Computed::Rollup(r)) => json!({
            "relation_property_name": r.relation_name,
            "relation_property_id": r.relation_id,
            "rollup_property_name": r.rollup_name,
            "rollup_property_id": r.rollup_id,
            "function": r.function,
        }),
        None => json!({}),
    }
}

thread_local! {
    /// How deep reads of computed values are nested (a formula of a rollup of a formula…):
    /// a cycle (a rollup over its own property through a self-relation) ends empty.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// A formula's or rollup's value on `page`.
pub fn read(world: &World, def: &PropertyDef, page: &Page) -> Value {
    let depth = DEPTH.with(|d| d.get());
    if depth > 6 {
        return empty(def);
    }
    DEPTH.with(|d| d.set(depth + 1));
    let out = match &def.computed {
        Some(Computed::Formula { expr, .. }) => {
            let prop = |name: &str| prop_value(world, page, name);
            formula::result_json(formula::eval(expr, &prop))
        }
        Some(Computed::Rollup(r)) => super::rollup::value(world, r, page),
        None => empty(def),
    };
    DEPTH.with(|d| d.set(depth));
    out
}

fn empty(def: &PropertyDef) -> Value {
    match def.kind {
        PropertyKind::Rollup => json!({"type": "array", "array": [], "function": "show_original"}),
        _ => json!({"type": "string", "string": null}),
    }
}

/// The property element `{type, <type>: value}` of `def` on `page`.
pub fn element(world: &World, def: &PropertyDef, page: &Page) -> Value {
    let kind = def.kind.as_str();
    json!({"type": kind, kind: read_value(world, def, page)})
}

/// `prop("Name")` of a page: its property as a formula value.
fn prop_value(world: &World, page: &Page, name: &str) -> Val {
    let Ok(ds) = world.data_source(page.data_source_id) else {
        return Val::Empty;
    };
    let Some(def) = ds.properties.iter().find(|d| d.name == name) else {
        return Val::Empty;
    };
    as_val(&element(world, def, page))
}

/// A property element as a formula value.
pub fn as_val(element: &Value) -> Val {
    let kind = element["type"].as_str().unwrap_or_default();
    let v = &element[kind];
    let date = |s: &Value| json!({"start": s, "end": null, "time_zone": null});
    match kind {
        "title" | "rich_text" => Val::Str(super::properties::plain_text(Some(v))),
        "number" => v.as_f64().map_or(Val::Empty, Val::Num),
        "checkbox" => Val::Bool(v == &json!(true)),
        "select" | "status" => v["name"]
            .as_str()
            .map_or(Val::Empty, |s| Val::Str(s.into())),
        "multi_select" => Val::Str(names(v)),
        "date" if v.is_object() => Val::Date(v.clone()),
        "created_time" | "last_edited_time" => Val::Date(date(v)),
        "url" | "email" | "phone_number" => v.as_str().map_or(Val::Empty, |s| Val::Str(s.into())),
        "unique_id" => match v["prefix"].as_str() {
            Some(p) => Val::Str(format!("{p}-{}", v["number"])),
            None => v["number"].as_f64().map_or(Val::Empty, Val::Num),
        },
        "formula" | "rollup" => {
            let inner = v["type"].as_str().unwrap_or_default();
            match inner {
                "array" => Val::Str(
                    v["array"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|e| formula_text(&as_val(e)))
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                "string" => v["string"]
                    .as_str()
                    .map_or(Val::Empty, |s| Val::Str(s.into())),
                "number" => v["number"].as_f64().map_or(Val::Empty, Val::Num),
                "boolean" => Val::Bool(v["boolean"] == json!(true)),
                "date" if v["date"].is_object() => Val::Date(v["date"].clone()),
                _ => Val::Empty,
            }
        }
        _ => Val::Empty,
    }
}

fn names(v: &Value) -> String {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["name"].as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn formula_text(v: &Val) -> String {
    match v {
        Val::Str(s) => s.clone(),
        Val::Num(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
        Val::Num(n) => n.to_string(),
        Val::Bool(b) => b.to_string(),
        Val::Date(d) => d["start"].as_str().unwrap_or_default().to_string(),
        Val::Empty => String::new(),
    }
}

/// A related page's id as stored in a relation.
pub fn related_pages<'w>(world: &'w World, page: &Page, relation_id: &str) -> Vec<&'w Page> {
    page.values
        .get(relation_id)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|id| Uuid::parse_str(id.as_str()?).ok())
        .filter_map(|id| world.pages.get(&id))
        .filter(|p| !p.in_trash)
        .collect()
}

//! A scope's Notion conditions as one filter in Notion's JSON, and that
//! filter judged locally on one page.
//!
//! The same filter goes to the data source query (a sweep reads only pages
//! in scope) and decides a single page a webhook names (a job must not ask
//! the query for one page: the query lags behind edits). Both must agree,
//! so only the property types and operators evaluated here are accepted;
//! anything else is refused when the pair is resolved (`check`, start-up).
//! Properties are rewritten to their ids, so a rename keeps the scope.

use serde_json::{Value as Json, json};

use crate::config::Shorthand;
use crate::notion::{DataSource, Page, PropertySchema, property::PropertyData};

/// Notion allows compound filters nested two levels deep.
const MAX_DEPTH: usize = 2;

const TEXT_TYPES: [&str; 5] = ["title", "rich_text", "url", "email", "phone_number"];
const TEXT_OPS: [&str; 8] = [
    "equals",
    "does_not_equal",
    "contains",
    "does_not_contain",
    "starts_with",
    "ends_with",
    "is_empty",
    "is_not_empty",
];
const SELECT_OPS: [&str; 4] = ["equals", "does_not_equal", "is_empty", "is_not_empty"];
const MULTI_OPS: [&str; 4] = ["contains", "does_not_contain", "is_empty", "is_not_empty"];
const CHECKBOX_OPS: [&str; 2] = ["equals", "does_not_equal"];
const NUMBER_OPS: [&str; 8] = [
    "equals",
    "does_not_equal",
    "greater_than",
    "less_than",
    "greater_than_or_equal_to",
    "less_than_or_equal_to",
    "is_empty",
    "is_not_empty",
];

/// The operators a scope accepts for a property type, if the type is one.
fn operators(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        k if TEXT_TYPES.contains(&k) => Some(&TEXT_OPS),
        "select" | "status" => Some(&SELECT_OPS),
        "multi_select" => Some(&MULTI_OPS),
        "checkbox" => Some(&CHECKBOX_OPS),
        "number" => Some(&NUMBER_OPS),
        _ => None,
    }
}

/// The filter, the shorthands and the gate as one filter by property id;
/// every problem found, each a sentence.
pub fn compile(
    filter: Option<&Json>,
    shorthands: &[Shorthand],
    gate: Option<&str>,
    ds: &DataSource,
) -> Result<Option<Json>, Vec<String>> {
    let mut problems = Vec::new();
    let mut items = Vec::new();
    if let Some(f) = filter {
        match f.get("and").and_then(Json::as_array) {
            // A top-level `and` is spliced, so wrapping adds no level.
            Some(list) if f.as_object().is_some_and(|o| o.len() == 1) => {
                for (i, item) in list.iter().enumerate() {
                    let path = format!("notion_filter.and[{i}]");
                    items.extend(condition(item, ds, &path, 1, &mut problems));
                }
            }
            // Depth 1: the filter may be wrapped in an `and` with the sweep's own conditions.
            _ => items.extend(condition(f, ds, "notion_filter", 1, &mut problems)),
        }
    }
    for s in shorthands {
        items.extend(shorthand(s, ds, &mut problems));
    }
    if let Some(gate) = gate {
        match ds.properties.get(gate) {
            Some(p) if p.kind == "checkbox" => {
                items.push(json!({"property": p.id, "checkbox": {"equals": true}}));
            }
            Some(p) => problems.push(format!(
                "notion_gate \"{gate}\" is a {} property; a gate must be a checkbox",
                p.kind
            )),
            None => problems.push(format!(
                "notion_gate \"{gate}\" is not a property of the Notion data source"
            )),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(match items.len() {
        0 => None,
        1 => items.pop(),
        _ => Some(json!({ "and": items })),
    })
}

/// One filter object checked and rewritten by id; `depth` counts the
/// compound levels above it.
fn condition(
    v: &Json,
    ds: &DataSource,
    path: &str,
    depth: usize,
    problems: &mut Vec<String>,
) -> Option<Json> {
    let Some(obj) = v.as_object() else {
        problems.push(format!("{path} is not a filter object: {v}"));
        return None;
    };
    for key in ["and", "or"] {
        if let Some(list) = obj.get(key) {
            if depth >= MAX_DEPTH {
                problems.push(format!(
                    "{path}.{key}: Notion nests compound filters at most two levels deep"
                ));
                return None;
            }
            let Some(list) = list.as_array() else {
                problems.push(format!("{path}.{key} must be an array"));
                return None;
            };
            let parts: Vec<Json> = list
                .iter()
                .enumerate()
                .filter_map(|(i, f)| {
                    condition(f, ds, &format!("{path}.{key}[{i}]"), depth + 1, problems)
                })
                .collect();
            return Some(json!({ key: parts }));
        }
    }
    if obj.contains_key("timestamp") {
        problems.push(format!(
            "{path}: timestamp filters are not supported in a scope (a scope is a property of \
             the record; use a property condition)"
        ));
        return None;
    }
    let Some(name) = obj.get("property").and_then(Json::as_str) else {
        problems.push(format!("{path} has no `property`, `and` or `or`"));
        return None;
    };
    let Some(prop) = find(ds, name) else {
        problems.push(format!(
            "{path}: \"{name}\" is not a property of the Notion data source"
        ));
        return None;
    };
    let Some(ops) = operators(&prop.kind) else {
        problems.push(format!(
            "{path}: \"{name}\" is a {} property; a scope filters on {}, select, status, \
             multi_select, checkbox or number properties",
            prop.kind,
            TEXT_TYPES.join(", ")
        ));
        return None;
    };
    let cond = obj
        .iter()
        .find(|(k, _)| k.as_str() != "property")
        .map(|(_, c)| c)
        .and_then(Json::as_object)
        .filter(|c| c.len() == 1);
    let Some((op, value)) = cond.and_then(|c| c.iter().next()) else {
        problems.push(format!(
            "{path}: give one condition under \"{}\" (e.g. {{\"equals\": …}})",
            prop.kind
        ));
        return None;
    };
    if !ops.contains(&op.as_str()) {
        problems.push(format!(
            "{path}: operator \"{op}\" is not supported on a {} property in a scope (supported: {})",
            prop.kind,
            ops.join(", ")
        ));
        return None;
    }
    if !value_fits(&prop.kind, op, value) {
        problems.push(format!(
            "{path}: {op} on a {} property takes {}, not {value}",
            prop.kind,
            expected(&prop.kind, op)
        ));
        return None;
    }
    Some(json!({"property": prop.id, prop.kind.clone(): { op.clone(): value }}))
}

fn find<'a>(ds: &'a DataSource, name: &str) -> Option<&'a PropertySchema> {
    ds.properties
        .get(name)
        .or_else(|| ds.properties.values().find(|p| p.id == name))
}

fn value_fits(kind: &str, op: &str, value: &Json) -> bool {
    match (kind, op) {
        (_, "is_empty" | "is_not_empty") => value == &Json::Bool(true),
        ("checkbox", _) => value.is_boolean(),
        ("number", _) => value.is_number(),
        _ => value.is_string(),
    }
}

fn expected(kind: &str, op: &str) -> &'static str {
    match (kind, op) {
        (_, "is_empty" | "is_not_empty") => "true",
        ("checkbox", _) => "true or false",
        ("number", _) => "a number",
        _ => "a string",
    }
}

/// `Property = value` as a filter on the property's type.
fn shorthand(s: &Shorthand, ds: &DataSource, problems: &mut Vec<String>) -> Option<Json> {
    let label = format!(
        "notion shorthand \"{} {} {}\"",
        s.property,
        if s.equals { "=" } else { "!=" },
        s.value
    );
    let Some(prop) = ds.properties.get(&s.property) else {
        problems.push(format!(
            "{label}: \"{}\" is not a property of the Notion data source",
            s.property
        ));
        return None;
    };
    let (op, value) = match prop.kind.as_str() {
        "multi_select" if s.value.is_empty() => (empty_op(s.equals), json!(true)),
        "multi_select" => (
            if s.equals {
                "contains"
            } else {
                "does_not_contain"
            },
            json!(s.value),
        ),
        "checkbox" => match s.value.to_ascii_lowercase().as_str() {
            "true" | "yes" => (eq_op(s.equals), json!(true)),
            "false" | "no" | "" => (eq_op(s.equals), json!(false)),
            _ => {
                problems.push(format!("{label}: a checkbox is true or false"));
                return None;
            }
        },
        "number" if s.value.is_empty() => (empty_op(s.equals), json!(true)),
        "number" => match s.value.parse::<f64>() {
            Ok(n) => (eq_op(s.equals), json!(n)),
            Err(_) => {
                problems.push(format!("{label}: \"{}\" is not a number", s.property));
                return None;
            }
        },
        k if operators(k).is_some() && s.value.is_empty() => (empty_op(s.equals), json!(true)),
        k if operators(k).is_some() => (eq_op(s.equals), json!(s.value)),
        other => {
            problems.push(format!(
                "{label}: \"{}\" is a {other} property, which a scope cannot filter on",
                s.property
            ));
            return None;
        }
    };
    Some(json!({"property": prop.id, prop.kind.clone(): { op: value }}))
}

fn eq_op(equals: bool) -> &'static str {
    if equals { "equals" } else { "does_not_equal" }
}

fn empty_op(equals: bool) -> &'static str {
    if equals { "is_empty" } else { "is_not_empty" }
}

/// Whether `page` satisfies a filter [`compile`] produced.
pub fn matches(filter: &Json, page: &Page) -> bool {
    if let Some(list) = filter.get("and").and_then(Json::as_array) {
        return list.iter().all(|f| matches(f, page));
    }
    if let Some(list) = filter.get("or").and_then(Json::as_array) {
        return list.iter().any(|f| matches(f, page));
    }
    let Some(obj) = filter.as_object() else {
        return false;
    };
    let id = obj
        .get("property")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let Some((_, cond)) = obj.iter().find(|(k, _)| k.as_str() != "property") else {
        return false;
    };
    let Some((op, want)) = cond.as_object().and_then(|c| c.iter().next()) else {
        return false;
    };
    let value = page.property_by_id(id).map(|(_, p)| &p.value);
    holds(value, op, want)
}

fn holds(value: Option<&PropertyData>, op: &str, want: &Json) -> bool {
    match value {
        Some(PropertyData::Checkbox(b)) => checkbox(*b, op, want),
        Some(PropertyData::Number(n)) => number(*n, op, want),
        Some(PropertyData::MultiSelect(options)) => {
            let has = |name: &str| options.iter().any(|o| o.name == name);
            match op {
                "contains" => want.as_str().is_some_and(has),
                "does_not_contain" => !want.as_str().is_some_and(has),
                "is_empty" => options.is_empty(),
                "is_not_empty" => !options.is_empty(),
                _ => false,
            }
        }
        Some(PropertyData::Select(o) | PropertyData::Status(o)) => {
            let have = o.as_ref().map(|o| o.name.as_str());
            match op {
                "equals" => have.is_some() && have == want.as_str(),
                "does_not_equal" => have != want.as_str(),
                "is_empty" => have.is_none(),
                "is_not_empty" => have.is_some(),
                _ => false,
            }
        }
        Some(data) => text(&text_of(data), op, want.as_str().unwrap_or_default()),
        // A property the page does not show is empty.
        None => matches!(op, "is_empty" | "does_not_equal" | "does_not_contain"),
    }
}

fn text_of(data: &PropertyData) -> String {
    match data {
        PropertyData::Title(t) | PropertyData::RichText(t) => {
            crate::notion::rich_text::plain_text(t)
        }
        PropertyData::Url(s) | PropertyData::Email(s) | PropertyData::PhoneNumber(s) => {
            s.clone().unwrap_or_default()
        }
        _ => String::new(),
    }
}

/// Notion's text conditions: `equals` exact, the others ignore case.
fn text(have: &str, op: &str, want: &str) -> bool {
    let (h, w) = (have.to_lowercase(), want.to_lowercase());
    match op {
        "equals" => have == want,
        "does_not_equal" => have != want,
        "contains" => h.contains(&w),
        "does_not_contain" => !h.contains(&w),
        "starts_with" => h.starts_with(&w),
        "ends_with" => h.ends_with(&w),
        "is_empty" => have.is_empty(),
        "is_not_empty" => !have.is_empty(),
        _ => false,
    }
}

fn checkbox(have: bool, op: &str, want: &Json) -> bool {
    let want = want.as_bool().unwrap_or(false);
    match op {
        "equals" => have == want,
        "does_not_equal" => have != want,
        _ => false,
    }
}

fn number(have: Option<f64>, op: &str, want: &Json) -> bool {
    match op {
        "is_empty" => return have.is_none(),
        "is_not_empty" => return have.is_some(),
        _ => {}
    }
    let (Some(n), Some(w)) = (have, want.as_f64()) else {
        return false;
    };
    match op {
        "equals" => n == w,
        "does_not_equal" => n != w,
        "greater_than" => n > w,
        "less_than" => n < w,
        "greater_than_or_equal_to" => n >= w,
        "less_than_or_equal_to" => n <= w,
        _ => false,
    }
}

#[cfg(test)]
#[path = "scope_filter_tests.rs"]
mod tests;

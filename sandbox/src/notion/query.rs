//! `POST /v1/data_sources/{id}/query`: filters, sorts and cursor pagination.
//!
//! Supported filters (anything else is a 400 `validation_error` that says the
//! sandbox does not support it): `timestamp` on `created_time` /
//! `last_edited_time`; property filters on title / rich_text / url / email /
//! phone_number (text conditions), select / status, multi_select, checkbox,
//! number, date, people; compound `and` / `or`. Timestamps are compared as
//! Notion stores them, rounded down to the minute.
//!
//! Cursors are the id of the next page (as Notion's are); a page that moved
//! since is located by its current sort key (keyset continuation).

use std::cmp::Ordering;

use serde_json::Value;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::errors::{NotionError, NotionResult};
use super::properties::plain_text;
use super::schema::{PropertyDef, PropertyKind};
use super::state::{DataSource, Page, dashed, parse_id};
use crate::common::{floor_minute, parse_time};

pub const MAX_PAGE_SIZE: u64 = 100;

#[derive(Debug)]
pub struct QueryRequest {
    filter: Option<Filter>,
    sorts: Vec<Sort>,
    start_cursor: Option<Uuid>,
    page_size: usize,
    in_trash: bool,
}

#[derive(Clone, Copy, Debug)]
enum Stamp {
    Created,
    LastEdited,
}

#[derive(Debug)]
enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Timestamp(Stamp, DateCond),
    Property(String, PropCond),
}

#[derive(Debug)]
enum PropCond {
    Text(TextOp, String),
    TextEmpty(bool),
    Select { equals: bool, name: String },
    SelectEmpty(bool),
    MultiContains { contains: bool, name: String },
    Checkbox(bool),
    Number(NumOp, f64),
    NumberEmpty(bool),
    Date(DateCond),
    PeopleContains { contains: bool, id: String },
    ListEmpty(bool),
}

#[derive(Clone, Copy, Debug)]
enum TextOp {
    Equals,
    DoesNotEqual,
    Contains,
    DoesNotContain,
    StartsWith,
    EndsWith,
}

#[derive(Clone, Copy, Debug)]
enum NumOp {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
}

#[derive(Clone, Copy, Debug)]
enum DateOp {
    Equals,
    Before,
    After,
    OnOrBefore,
    OnOrAfter,
}

#[derive(Clone, Copy, Debug)]
enum DateCond {
    Compare(DateOp, Bound),
    Empty(bool),
}

/// A filter value: a whole day, or an instant.
#[derive(Clone, Copy, Debug)]
enum Bound {
    Day(Date),
    Instant(OffsetDateTime),
}

#[derive(Debug)]
struct Sort {
    key: SortKey,
    descending: bool,
}

#[derive(Debug)]
enum SortKey {
    Timestamp(Stamp),
    Property(String),
}

fn invalid(message: impl Into<String>) -> NotionError {
    NotionError::validation(message)
}

fn unsupported(what: &str) -> NotionError {
    invalid(format!(
        "{what} is not supported by the sandbox's query filter."
    ))
}

// --- parsing --------------------------------------------------------------------

pub fn parse_query(body: &Value, ds: &DataSource) -> NotionResult<QueryRequest> {
    let page_size = match body.get("page_size") {
        None | Some(Value::Null) => MAX_PAGE_SIZE,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
            Some(n) if n > MAX_PAGE_SIZE => {
                return Err(invalid(format!(
                    "body failed validation: body.page_size should be ≤ {MAX_PAGE_SIZE}, instead was `{n}`."
                )));
            }
            _ => {
                return Err(invalid(format!(
                    "body failed validation: body.page_size should be a positive integer, instead was `{v}`."
                )));
            }
        },
    };
    let start_cursor = match body.get("start_cursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(parse_cursor(s)?),
        Some(v) => {
            return Err(invalid(format!(
                "body failed validation: body.start_cursor should be a string, instead was `{v}`."
            )));
        }
    };
    let filter = match body.get("filter") {
        None | Some(Value::Null) => None,
        Some(f) => Some(parse_filter(f, ds, "body.filter", 0)?),
    };
    let sorts = match body.get("sorts") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|s| parse_sort(s, ds))
            .collect::<NotionResult<_>>()?,
        Some(v) => {
            return Err(invalid(format!(
                "body failed validation: body.sorts should be an array, instead was `{v}`."
            )));
        }
    };
    let in_trash = body
        .get("in_trash")
        .or_else(|| body.get("archived"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if let Some(rt) = body.get("result_type").and_then(Value::as_str) {
        if rt != "page" && rt != "data_source" {
            return Err(invalid(format!(
                "body failed validation: body.result_type should be `\"page\"` or `\"data_source\"`, instead was `\"{rt}\"`."
            )));
        }
    }
    Ok(QueryRequest {
        filter,
        sorts,
        start_cursor,
        page_size: page_size as usize,
        in_trash,
    })
}

fn parse_cursor(s: &str) -> NotionResult<Uuid> {
    parse_id(s, "start_cursor")
        .map_err(|_| invalid(format!("body failed validation: body.start_cursor should be a valid uuid, instead was `\"{s}\"`.")))
}

fn parse_filter(v: &Value, ds: &DataSource, path: &str, depth: usize) -> NotionResult<Filter> {
    let Some(obj) = v.as_object() else {
        return Err(invalid(format!(
            "body failed validation: {path} should be an object, instead was `{v}`."
        )));
    };
    for (key, make) in [
        ("and", Filter::And as fn(Vec<Filter>) -> Filter),
        ("or", Filter::Or),
    ] {
        if let Some(list) = obj.get(key) {
            if depth >= 2 {
                return Err(invalid(format!(
                    "body failed validation: {path}.{key} compound filters may be nested at most two levels deep."
                )));
            }
            let Some(items) = list.as_array() else {
                return Err(invalid(format!(
                    "body failed validation: {path}.{key} should be an array, instead was `{list}`."
                )));
            };
            let parsed = items
                .iter()
                .enumerate()
                .map(|(i, f)| parse_filter(f, ds, &format!("{path}.{key}[{i}]"), depth + 1))
                .collect::<NotionResult<Vec<_>>>()?;
            return Ok(make(parsed));
        }
    }
    if let Some(ts) = obj.get("timestamp") {
        return parse_timestamp_filter(obj, ts, path);
    }
    if let Some(prop) = obj.get("property").and_then(Value::as_str) {
        let def = ds
            .property(prop)
            .ok_or_else(|| invalid(format!("Could not find property with name or id: {prop}")))?;
        return Ok(Filter::Property(
            def.id.clone(),
            parse_prop_cond(obj, def, path)?,
        ));
    }
    Err(invalid(format!(
        "body failed validation: {path} should have `and`, `or`, `property` or `timestamp`."
    )))
}

fn parse_timestamp_filter(
    obj: &serde_json::Map<String, Value>,
    ts: &Value,
    path: &str,
) -> NotionResult<Filter> {
    let stamp = match ts.as_str() {
        Some("created_time") => Stamp::Created,
        Some("last_edited_time") => Stamp::LastEdited,
        _ => return Err(unsupported(&format!("timestamp filter on {ts}"))),
    };
    let key = ts.as_str().unwrap_or_default();
    let cond = obj.get(key).ok_or_else(|| {
        invalid(format!(
            "body failed validation: {path}.{key} should be defined, instead was `undefined`."
        ))
    })?;
    Ok(Filter::Timestamp(
        stamp,
        parse_date_cond(cond, &format!("{path}.{key}"))?,
    ))
}

/// The single `condition: value` pair of a condition object.
fn single_condition<'a>(cond: &'a Value, path: &str) -> NotionResult<(&'a str, &'a Value)> {
    match cond.as_object().map(|o| o.iter().collect::<Vec<_>>()) {
        Some(pairs) if pairs.len() == 1 => Ok((pairs[0].0.as_str(), pairs[0].1)),
        _ => Err(invalid(format!(
            "body failed validation: {path} should have exactly one condition, instead was `{cond}`."
        ))),
    }
}

fn parse_date_cond(cond: &Value, path: &str) -> NotionResult<DateCond> {
    let (op, value) = single_condition(cond, path)?;
    let op = match op {
        "equals" => DateOp::Equals,
        "before" => DateOp::Before,
        "after" => DateOp::After,
        "on_or_before" => DateOp::OnOrBefore,
        "on_or_after" => DateOp::OnOrAfter,
        "is_empty" => return Ok(DateCond::Empty(true)),
        "is_not_empty" => return Ok(DateCond::Empty(false)),
        other => return Err(unsupported(&format!("date condition `{other}`"))),
    };
    let s = value.as_str().unwrap_or_default();
    let bound = if s.len() == 10 {
        parse_time(s).map(|t| Bound::Day(t.date()))
    } else {
        parse_time(s).map(Bound::Instant)
    };
    let bound = bound.ok_or_else(|| {
        invalid(format!("body failed validation: {path}.{} should be a valid ISO 8601 date string, instead was `{value}`.", op_name(op)))
    })?;
    Ok(DateCond::Compare(op, bound))
}

fn op_name(op: DateOp) -> &'static str {
    match op {
        DateOp::Equals => "equals",
        DateOp::Before => "before",
        DateOp::After => "after",
        DateOp::OnOrBefore => "on_or_before",
        DateOp::OnOrAfter => "on_or_after",
    }
}

/// The condition object under the filter's type key; `title` and
/// `rich_text` are interchangeable for text properties.
fn type_condition<'a>(
    obj: &'a serde_json::Map<String, Value>,
    def: &PropertyDef,
    path: &str,
) -> NotionResult<&'a Value> {
    let key = def.kind.as_str();
    let alt = match def.kind {
        PropertyKind::Title => Some("rich_text"),
        PropertyKind::RichText => Some("title"),
        _ => None,
    };
    obj.get(key)
        .or_else(|| alt.and_then(|a| obj.get(a)))
        .ok_or_else(|| {
            invalid(format!(
                "body failed validation: {path}.{key} should be defined, instead was `undefined`."
            ))
        })
}

fn parse_prop_cond(
    obj: &serde_json::Map<String, Value>,
    def: &PropertyDef,
    path: &str,
) -> NotionResult<PropCond> {
    let cond = type_condition(obj, def, path)?;
    let path = format!("{path}.{}", def.kind.as_str());
    match def.kind {
        PropertyKind::Title
        | PropertyKind::RichText
        | PropertyKind::Url
        | PropertyKind::Email
        | PropertyKind::PhoneNumber => text_cond(cond, &path),
        PropertyKind::Select | PropertyKind::Status => select_cond(cond, &path),
        PropertyKind::MultiSelect => list_cond(cond, &path, false),
        PropertyKind::People => list_cond(cond, &path, true),
        PropertyKind::Checkbox => checkbox_cond(cond, &path),
        PropertyKind::Number => number_cond(cond, &path),
        PropertyKind::Date => Ok(PropCond::Date(parse_date_cond(cond, &path)?)),
        other => Err(unsupported(&format!(
            "a property filter on a {} property",
            other.as_str()
        ))),
    }
}

fn want_str<'a>(v: &'a Value, path: &str, op: &str) -> NotionResult<&'a str> {
    v.as_str().ok_or_else(|| {
        invalid(format!(
            "body failed validation: {path}.{op} should be a string, instead was `{v}`."
        ))
    })
}

fn want_true(v: &Value, path: &str, op: &str) -> NotionResult<()> {
    if v == &Value::Bool(true) {
        Ok(())
    } else {
        Err(invalid(format!(
            "body failed validation: {path}.{op} should be `true`, instead was `{v}`."
        )))
    }
}

fn text_cond(cond: &Value, path: &str) -> NotionResult<PropCond> {
    let (op, value) = single_condition(cond, path)?;
    let text_op = match op {
        "equals" => TextOp::Equals,
        "does_not_equal" => TextOp::DoesNotEqual,
        "contains" => TextOp::Contains,
        "does_not_contain" => TextOp::DoesNotContain,
        "starts_with" => TextOp::StartsWith,
        "ends_with" => TextOp::EndsWith,
        "is_empty" => return want_true(value, path, op).map(|_| PropCond::TextEmpty(true)),
        "is_not_empty" => return want_true(value, path, op).map(|_| PropCond::TextEmpty(false)),
        other => return Err(unsupported(&format!("text condition `{other}`"))),
    };
    Ok(PropCond::Text(
        text_op,
        want_str(value, path, op)?.to_string(),
    ))
}

fn select_cond(cond: &Value, path: &str) -> NotionResult<PropCond> {
    let (op, value) = single_condition(cond, path)?;
    match op {
        "equals" | "does_not_equal" => Ok(PropCond::Select {
            equals: op == "equals",
            name: want_str(value, path, op)?.to_string(),
        }),
        "is_empty" => want_true(value, path, op).map(|_| PropCond::SelectEmpty(true)),
        "is_not_empty" => want_true(value, path, op).map(|_| PropCond::SelectEmpty(false)),
        other => Err(unsupported(&format!("select condition `{other}`"))),
    }
}

fn list_cond(cond: &Value, path: &str, people: bool) -> NotionResult<PropCond> {
    let (op, value) = single_condition(cond, path)?;
    let contains = match op {
        "contains" => true,
        "does_not_contain" => false,
        "is_empty" => return want_true(value, path, op).map(|_| PropCond::ListEmpty(true)),
        "is_not_empty" => return want_true(value, path, op).map(|_| PropCond::ListEmpty(false)),
        other => return Err(unsupported(&format!("condition `{other}`"))),
    };
    let s = want_str(value, path, op)?;
    if people {
        let id = parse_id(s, "id").map_err(|_| {
            invalid(format!(
                "body failed validation: {path}.{op} should be a valid uuid, instead was `{value}`."
            ))
        })?;
        return Ok(PropCond::PeopleContains {
            contains,
            id: dashed(id),
        });
    }
    Ok(PropCond::MultiContains {
        contains,
        name: s.to_string(),
    })
}

fn checkbox_cond(cond: &Value, path: &str) -> NotionResult<PropCond> {
    let (op, value) = single_condition(cond, path)?;
    let b = value.as_bool().ok_or_else(|| {
        invalid(format!(
            "body failed validation: {path}.{op} should be a boolean, instead was `{value}`."
        ))
    })?;
    match op {
        "equals" => Ok(PropCond::Checkbox(b)),
        "does_not_equal" => Ok(PropCond::Checkbox(!b)),
        other => Err(unsupported(&format!("checkbox condition `{other}`"))),
    }
}

fn number_cond(cond: &Value, path: &str) -> NotionResult<PropCond> {
    let (op, value) = single_condition(cond, path)?;
    let num_op = match op {
        "equals" => NumOp::Eq,
        "does_not_equal" => NumOp::Ne,
        "greater_than" => NumOp::Gt,
        "less_than" => NumOp::Lt,
        "greater_than_or_equal_to" => NumOp::Ge,
        "less_than_or_equal_to" => NumOp::Le,
        "is_empty" => return want_true(value, path, op).map(|_| PropCond::NumberEmpty(true)),
        "is_not_empty" => return want_true(value, path, op).map(|_| PropCond::NumberEmpty(false)),
        other => return Err(unsupported(&format!("number condition `{other}`"))),
    };
    let n = value.as_f64().ok_or_else(|| {
        invalid(format!(
            "body failed validation: {path}.{op} should be a number, instead was `{value}`."
        ))
    })?;
    Ok(PropCond::Number(num_op, n))
}

fn parse_sort(v: &Value, ds: &DataSource) -> NotionResult<Sort> {
    let descending = match v.get("direction").and_then(Value::as_str) {
        Some("ascending") | None => false,
        Some("descending") => true,
        Some(other) => {
            return Err(invalid(format!(
                "body failed validation: body.sorts[].direction should be `\"ascending\"` or `\"descending\"`, instead was `\"{other}\"`."
            )));
        }
    };
    let key = if let Some(ts) = v.get("timestamp").and_then(Value::as_str) {
        match ts {
            "created_time" => SortKey::Timestamp(Stamp::Created),
            "last_edited_time" => SortKey::Timestamp(Stamp::LastEdited),
            other => return Err(invalid(format!("Invalid sort timestamp: {other}"))),
        }
    } else if let Some(prop) = v.get("property").and_then(Value::as_str) {
        let def = ds.property(prop).ok_or_else(|| {
            invalid(format!(
                "Could not find sort property with name or id: {prop}"
            ))
        })?;
        SortKey::Property(def.id.clone())
    } else {
        return Err(invalid(
            "body failed validation: body.sorts[] should have `property` or `timestamp`.",
        ));
    };
    Ok(Sort { key, descending })
}

// --- evaluation -------------------------------------------------------------------

fn stamp_of(page: &Page, stamp: Stamp) -> OffsetDateTime {
    floor_minute(match stamp {
        Stamp::Created => page.created_time,
        Stamp::LastEdited => page.last_edited_time,
    })
}

fn date_matches(value: Option<OffsetDateTime>, cond: DateCond) -> bool {
    let (op, bound) = match cond {
        DateCond::Empty(empty) => return value.is_none() == empty,
        DateCond::Compare(op, bound) => (op, bound),
    };
    let Some(t) = value else { return false };
    match bound {
        Bound::Instant(b) => match op {
            DateOp::Equals => t == b,
            DateOp::Before => t < b,
            DateOp::After => t > b,
            DateOp::OnOrBefore => t <= b,
            DateOp::OnOrAfter => t >= b,
        },
        Bound::Day(d) => {
            let day = t.to_offset(time::UtcOffset::UTC).date();
            match op {
                DateOp::Equals => day == d,
                DateOp::Before => day < d,
                DateOp::After => day > d,
                DateOp::OnOrBefore => day <= d,
                DateOp::OnOrAfter => day >= d,
            }
        }
    }
}

/// The instant of a stored date value's `start`.
fn date_start(stored: Option<&Value>) -> Option<OffsetDateTime> {
    let start = stored?.get("start")?.as_str()?;
    parse_time(start).or_else(|| parse_time(&format!("{start}Z")))
}

fn text_matches(op: TextOp, have: &str, want: &str) -> bool {
    let (h, w) = (have.to_lowercase(), want.to_lowercase());
    match op {
        TextOp::Equals => have == want,
        TextOp::DoesNotEqual => have != want,
        TextOp::Contains => h.contains(&w),
        TextOp::DoesNotContain => !h.contains(&w),
        TextOp::StartsWith => h.starts_with(&w),
        TextOp::EndsWith => h.ends_with(&w),
    }
}

fn text_of(stored: Option<&Value>) -> String {
    match stored {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(_)) => plain_text(stored),
        _ => String::new(),
    }
}

fn prop_matches(page: &Page, prop_id: &str, cond: &PropCond) -> bool {
    let stored = page.values.get(prop_id).filter(|v| !v.is_null());
    let list = || {
        stored
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    match cond {
        PropCond::Text(op, want) => text_matches(*op, &text_of(stored), want),
        PropCond::TextEmpty(empty) => text_of(stored).is_empty() == *empty,
        PropCond::Select { equals, name } => {
            let have = stored.and_then(|v| v.get("name")).and_then(Value::as_str);
            (have == Some(name.as_str())) == *equals
        }
        PropCond::SelectEmpty(empty) => stored.is_none() == *empty,
        PropCond::MultiContains { contains, name } => {
            list()
                .iter()
                .any(|o| o.get("name").and_then(Value::as_str) == Some(name))
                == *contains
        }
        PropCond::PeopleContains { contains, id } => {
            list().iter().any(|u| u.as_str() == Some(id)) == *contains
        }
        PropCond::ListEmpty(empty) => list().is_empty() == *empty,
        PropCond::Checkbox(want) => stored.and_then(Value::as_bool).unwrap_or(false) == *want,
        PropCond::NumberEmpty(empty) => stored.is_none() == *empty,
        PropCond::Number(op, want) => stored.and_then(Value::as_f64).is_some_and(|n| match op {
            NumOp::Eq => n == *want,
            NumOp::Ne => n != *want,
            NumOp::Gt => n > *want,
            NumOp::Lt => n < *want,
            NumOp::Ge => n >= *want,
            NumOp::Le => n <= *want,
        }),
        PropCond::Date(cond) => date_matches(date_start(stored), *cond),
    }
}

fn matches(page: &Page, filter: &Filter) -> bool {
    match filter {
        Filter::And(items) => items.iter().all(|f| matches(page, f)),
        Filter::Or(items) => items.iter().any(|f| matches(page, f)),
        Filter::Timestamp(stamp, cond) => date_matches(Some(stamp_of(page, *stamp)), *cond),
        Filter::Property(id, cond) => prop_matches(page, id, cond),
    }
}

/// One sort value; `None` (empty) sorts last in both directions.
#[derive(Debug, PartialEq, PartialOrd)]
enum SortValue {
    Num(f64),
    Text(String),
    Time(OffsetDateTime),
}

fn sort_value(page: &Page, key: &SortKey, ds: &DataSource) -> Option<SortValue> {
    let id = match key {
        SortKey::Timestamp(stamp) => return Some(SortValue::Time(stamp_of(page, *stamp))),
        SortKey::Property(id) => id,
    };
    let def = ds.properties.iter().find(|d| d.id == *id)?;
    let stored = page.values.get(id).filter(|v| !v.is_null());
    let option_rank = |v: &Value| {
        let oid = v.get("id").and_then(Value::as_str).unwrap_or_default();
        def.options
            .iter()
            .position(|o| o.id == oid)
            .map(|i| SortValue::Num(i as f64))
    };
    match def.kind {
        PropertyKind::CreatedTime => Some(SortValue::Time(stamp_of(page, Stamp::Created))),
        PropertyKind::LastEditedTime => Some(SortValue::Time(stamp_of(page, Stamp::LastEdited))),
        PropertyKind::Number => stored.and_then(Value::as_f64).map(SortValue::Num),
        PropertyKind::Checkbox => Some(SortValue::Num(
            if stored.and_then(Value::as_bool) == Some(true) {
                1.0
            } else {
                0.0
            },
        )),
        PropertyKind::Select | PropertyKind::Status => stored.and_then(option_rank),
        PropertyKind::MultiSelect => stored.and_then(|v| v.get(0)).and_then(option_rank),
        PropertyKind::Date => date_start(stored).map(SortValue::Time),
        _ => Some(text_of(stored).to_lowercase())
            .filter(|s| !s.is_empty())
            .map(SortValue::Text),
    }
}

fn compare(a: &Page, b: &Page, sorts: &[Sort], ds: &DataSource) -> Ordering {
    for sort in sorts {
        let (va, vb) = (sort_value(a, &sort.key, ds), sort_value(b, &sort.key, ds));
        let ord = match (va, vb) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) => {
                let o = x.partial_cmp(&y).unwrap_or(Ordering::Equal);
                if sort.descending { o.reverse() } else { o }
            }
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    a.seq.cmp(&b.seq)
}

/// Run the query: one page of results and the next cursor.
pub fn run_query<'a>(
    pages: impl Iterator<Item = &'a Page>,
    all_pages: &'a std::collections::HashMap<Uuid, Page>,
    ds: &DataSource,
    q: &QueryRequest,
) -> NotionResult<(Vec<&'a Page>, Option<String>)> {
    let mut hits: Vec<&Page> = pages
        .filter(|p| p.data_source_id == ds.id && p.in_trash == q.in_trash)
        .filter(|p| q.filter.as_ref().is_none_or(|f| matches(p, f)))
        .collect();
    hits.sort_by(|a, b| compare(a, b, &q.sorts, ds));
    let start = match q.start_cursor {
        None => 0,
        Some(cursor) => {
            let anchor = all_pages.get(&cursor).ok_or_else(|| {
                invalid(format!(
                    "start_cursor provided is invalid: {}",
                    dashed(cursor)
                ))
            })?;
            hits.iter()
                .position(|p| compare(p, anchor, &q.sorts, ds) != Ordering::Less)
                .unwrap_or(hits.len())
        }
    };
    let end = (start + q.page_size).min(hits.len());
    let next = hits.get(end).map(|p| dashed(p.id));
    Ok((hits[start..end].to_vec(), next))
}

//! List records (`GET /v0/{base}/{table}` and `POST …/listRecords`): parameters, filtering,
//! sorting and offset pagination (api-facts §4.1).
//!
//! An `offset` names a server-side iterator (`itr…/rec…`): the first page fixes the matching
//! record ids in order, later pages read from that snapshot (records deleted since are
//! skipped, their current values are returned). An iterator unused for
//! [`ITERATOR_IDLE_TIMEOUT`] (sandbox clock) answers 422 `LIST_RECORDS_ITERATOR_NOT_AVAILABLE`
//! [U: the real timeout is not documented]; an offset the server never issued answers 422
//! `INVALID_OFFSET_VALUE` [S].

use std::cmp::Ordering;

use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};

use super::errors::{AtError, AtResult};
use super::formula::Formula;
use super::ids::new_id;
use super::schema::{Field, FieldType};
use super::store::Store;
use super::table::{Record, RenderOptions, Table};

pub(crate) const MAX_PAGE_SIZE: usize = 100;
pub(crate) const ITERATOR_IDLE_TIMEOUT: Duration = Duration::minutes(5);

#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ListParams {
    pub page_size: Option<usize>,
    pub max_records: Option<usize>,
    pub offset: Option<String>,
    pub view: Option<String>,
    /// (field name or id, descending)
    pub sort: Vec<(String, bool)>,
    pub formula: Option<String>,
    pub fields: Option<Vec<String>>,
    pub by_field_id: bool,
    pub cell_format: Option<String>,
    pub time_zone: Option<String>,
    pub user_locale: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct ListIterator {
    pub table_id: String,
    pub ids: Vec<String>,
    pub expires: OffsetDateTime,
}

fn positive(key: &str, v: &str) -> AtResult<usize> {
    v.parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| AtError::invalid_request(format!("{key} must be a positive integer")))
}

fn boolean(key: &str, v: &str) -> AtResult<bool> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" | "" => Ok(false),
        _ => Err(AtError::invalid_request(format!("{key} must be a boolean"))),
    }
}

impl ListParams {
    /// From query-string pairs (`fields[]=…`, `sort[0][field]=…`); unknown keys are ignored.
    pub fn from_query(pairs: &[(String, String)]) -> AtResult<Self> {
        let mut p = Self::default();
        let mut sort: std::collections::BTreeMap<usize, (Option<String>, bool)> =
            Default::default();
        for (k, v) in pairs {
            match k.as_str() {
                "pageSize" => p.page_size = Some(positive(k, v)?),
                "maxRecords" => p.max_records = Some(positive(k, v)?),
                "offset" => p.offset = Some(v.clone()),
                "view" => p.view = Some(v.clone()),
                "filterByFormula" => p.formula = Some(v.clone()),
                "fields[]" | "fields" => p.fields.get_or_insert_with(Vec::new).push(v.clone()),
                "returnFieldsByFieldId" => p.by_field_id = boolean(k, v)?,
                "cellFormat" => p.cell_format = Some(v.clone()),
                "timeZone" => p.time_zone = Some(v.clone()),
                "userLocale" => p.user_locale = Some(v.clone()),
                _ => {
                    if let Some((i, part)) = sort_key(k) {
                        let entry = sort.entry(i).or_default();
                        match part {
                            "field" => entry.0 = Some(v.clone()),
                            _ => entry.1 = descending(v)?,
                        }
                    }
                }
            }
        }
        for (_, (field, desc)) in sort {
            let field = field.ok_or_else(|| AtError::invalid_request("sort needs a field"))?;
            p.sort.push((field, desc));
        }
        Ok(p)
    }

    /// From a `listRecords` JSON body; unknown keys are refused.
    pub fn from_body(body: &Value) -> AtResult<Self> {
        let empty = Map::new();
        let obj = match body {
            Value::Null => &empty,
            Value::Object(o) => o,
            _ => return Err(AtError::invalid_request("the body must be a JSON object")),
        };
        let mut p = Self::default();
        for (k, v) in obj {
            p.set_body_key(k, v)?;
        }
        Ok(p)
    }

    fn set_body_key(&mut self, k: &str, v: &Value) -> AtResult<()> {
        let bad = || AtError::invalid_request(format!("invalid value for {k}"));
        let string = || v.as_str().map(str::to_string).ok_or_else(bad);
        let count = || {
            v.as_u64()
                .filter(|n| *n > 0)
                .map(|n| n as usize)
                .ok_or_else(bad)
        };
        match k {
            "pageSize" => self.page_size = Some(count()?),
            "maxRecords" => self.max_records = Some(count()?),
            "offset" => self.offset = Some(string()?),
            "view" => self.view = Some(string()?),
            "filterByFormula" => self.formula = Some(string()?),
            "cellFormat" => self.cell_format = Some(string()?),
            "timeZone" => self.time_zone = Some(string()?),
            "userLocale" => self.user_locale = Some(string()?),
            "returnFieldsByFieldId" => self.by_field_id = v.as_bool().ok_or_else(bad)?,
            "fields" => self.fields = Some(string_array(v).ok_or_else(bad)?),
            "recordMetadata" => {
                string_array(v).ok_or_else(bad)?;
            }
            "sort" => self.sort = body_sort(v).ok_or_else(bad)??,
            _ => {
                return Err(AtError::invalid_request(format!(
                    "unknown parameter \"{k}\""
                )));
            }
        }
        Ok(())
    }
}

fn string_array(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|i| i.as_str().map(str::to_string))
        .collect()
}

fn body_sort(v: &Value) -> Option<AtResult<Vec<(String, bool)>>> {
    let items = v.as_array()?;
    Some(
        items
            .iter()
            .map(|s| {
                let field = s["field"]
                    .as_str()
                    .ok_or_else(|| AtError::invalid_request("sort needs a field"))?;
                let desc = descending(s["direction"].as_str().unwrap_or("asc"))?;
                Ok((field.to_string(), desc))
            })
            .collect(),
    )
}

/// `sort[3][field]` → (3, "field").
fn sort_key(k: &str) -> Option<(usize, &str)> {
    let rest = k.strip_prefix("sort[")?;
    let (index, rest) = rest.split_once("][")?;
    let part = rest.strip_suffix(']')?;
    matches!(part, "field" | "direction")
        .then_some(())
        .and_then(|_| index.parse().ok().map(|i| (i, part)))
}

fn descending(direction: &str) -> AtResult<bool> {
    match direction {
        "asc" => Ok(false),
        "desc" => Ok(true),
        other => Err(AtError::invalid_request(format!(
            "sort direction must be \"asc\" or \"desc\", not \"{other}\""
        ))),
    }
}

/// Run a list request on table `ti` of base `bi`.
pub(crate) fn list(
    store: &mut Store,
    (bi, ti): (usize, usize),
    p: &ListParams,
    now: OffsetDateTime,
) -> AtResult<Value> {
    let table = &store.bases[bi].tables[ti];
    let page_size = p.page_size.unwrap_or(MAX_PAGE_SIZE);
    if page_size > MAX_PAGE_SIZE {
        return Err(AtError::invalid_request("pageSize must be at most 100"));
    }
    let opts = render_options(p)?;
    let only = selected_fields(table, p.fields.as_deref())?;
    if let Some(view) = &p.view
        && !table.has_view(view)
    {
        // [U] type name as seen in third-party error handling.
        return Err(AtError::unprocessable(
            "VIEW_NAME_NOT_FOUND",
            format!("View \"{view}\" not found"),
        ));
    }
    let tid = table.id.clone();
    let (ids, start) = match &p.offset {
        Some(offset) => resume(store, &tid, offset, now)?,
        None => (matching_ids(table, p)?, 0),
    };
    let table = &store.bases[bi].tables[ti];
    let records: Vec<Value> = ids[start..]
        .iter()
        .take(page_size)
        .filter_map(|id| table.record(id))
        .map(|r| table.render(r, opts, only.as_deref()))
        .collect();
    let mut out = json!({ "records": records });
    let next = start + page_size;
    if next < ids.len() {
        let offset = save_iterator(store, p.offset.as_deref(), &tid, ids, next, now);
        out["offset"] = json!(offset);
    }
    Ok(out)
}

/// `cellFormat=string` needs `timeZone` and `userLocale` (list-records docs).
pub(crate) fn render_options(p: &ListParams) -> AtResult<RenderOptions> {
    let as_strings = match p.cell_format.as_deref() {
        None | Some("json") => false,
        Some("string") if p.time_zone.is_some() && p.user_locale.is_some() => true,
        Some("string") => {
            return Err(AtError::invalid_request(
                "timeZone and userLocale are required when cellFormat is \"string\"",
            ));
        }
        Some(other) => {
            return Err(AtError::invalid_request(format!(
                "cellFormat must be \"json\" or \"string\", not \"{other}\""
            )));
        }
    };
    Ok(RenderOptions {
        by_field_id: p.by_field_id,
        as_strings,
    })
}

/// `fields[]` (names or ids) → field ids; an unknown one is `UNKNOWN_FIELD_NAME`.
fn selected_fields(table: &Table, keys: Option<&[String]>) -> AtResult<Option<Vec<String>>> {
    let Some(keys) = keys else {
        return Ok(None);
    };
    keys.iter()
        .map(|k| {
            table
                .field(k)
                .map(|f| f.id.clone())
                .ok_or_else(|| AtError::unknown_field(k))
        })
        .collect::<AtResult<Vec<_>>>()
        .map(Some)
}

/// Filter, sort and cap the table's records; the ids in the order they will be returned.
fn matching_ids(table: &Table, p: &ListParams) -> AtResult<Vec<String>> {
    let formula = match &p.formula {
        Some(src) if !src.trim().is_empty() => Some(Formula::compile(src, table)?),
        _ => None,
    };
    // "If combined with the view parameter, only records in that view which
    // satisfy the formula will be returned" (list-records docs).
    let view = match p
        .view
        .as_deref()
        .and_then(|v| table.view_filter(v))
        .flatten()
    {
        Some(src) => Some(Formula::compile(src, table)?),
        None => None,
    };
    let sorts = p
        .sort
        .iter()
        .map(|(key, desc)| {
            table
                .field(key)
                .map(|f| (f, *desc))
                .ok_or_else(|| AtError::unknown_field(key))
        })
        .collect::<AtResult<Vec<_>>>()?;
    let mut records: Vec<&Record> = table
        .records
        .iter()
        .filter(|r| formula.as_ref().is_none_or(|f| f.matches(table, r)))
        .filter(|r| view.as_ref().is_none_or(|f| f.matches(table, r)))
        .collect();
    records.sort_by(|a, b| compare(&sorts, a, b));
    let limit = p.max_records.unwrap_or(usize::MAX);
    Ok(records.iter().take(limit).map(|r| r.id.clone()).collect())
}

fn compare(sorts: &[(&Field, bool)], a: &Record, b: &Record) -> Ordering {
    for (field, desc) in sorts {
        let ord = cell_sort_key(field, a).partial_cmp(&cell_sort_key(field, b));
        let ord = ord.unwrap_or(Ordering::Equal);
        let ord = if *desc { ord.reverse() } else { ord };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// How a cell sorts: empty first (ascending), numbers numerically, selects by option
/// order, text case-insensitively.
#[derive(PartialEq, PartialOrd)]
enum SortKey {
    Empty,
    Num(f64),
    Rank(usize),
    Text(String),
}

fn cell_sort_key(field: &Field, r: &Record) -> SortKey {
    let Some(v) = r.cells.get(&field.id) else {
        return match field.field_type {
            FieldType::Checkbox => SortKey::Num(0.0),
            _ => SortKey::Empty,
        };
    };
    match (field.field_type, v) {
        (FieldType::Number, v) => SortKey::Num(v.as_f64().unwrap_or(0.0)),
        (FieldType::Checkbox, _) => SortKey::Num(1.0),
        (FieldType::SingleSelect, Value::String(s)) => SortKey::Rank(field.choice_rank(s)),
        (FieldType::MultipleSelects, Value::Array(items)) => SortKey::Rank(
            items
                .first()
                .and_then(Value::as_str)
                .map_or(usize::MAX, |s| field.choice_rank(s)),
        ),
        (_, Value::String(s)) => SortKey::Text(s.to_lowercase()),
        (_, other) => SortKey::Text(other.to_string()),
    }
}

/// Continue an iterator named by `offset` (`itr…/rec…`).
fn resume(
    store: &Store,
    table_id: &str,
    offset: &str,
    now: OffsetDateTime,
) -> AtResult<(Vec<String>, usize)> {
    let invalid = || {
        AtError::unprocessable(
            "INVALID_OFFSET_VALUE",
            format!("The value of offset \"{offset}\" is invalid"),
        )
    };
    let (itr, rec) = offset.split_once('/').ok_or_else(invalid)?;
    let it = store.iterators.get(itr).ok_or_else(invalid)?;
    if it.table_id != table_id {
        return Err(invalid());
    }
    if now >= it.expires {
        return Err(AtError::unprocessable(
            "LIST_RECORDS_ITERATOR_NOT_AVAILABLE",
            "The iterator has timed out; restart listing from the beginning",
        ));
    }
    let start = it.ids.iter().position(|id| id == rec).ok_or_else(invalid)?;
    Ok((it.ids.clone(), start))
}

/// Keep (or refresh) the iterator and return the offset of the page starting at `next`.
fn save_iterator(
    store: &mut Store,
    offset: Option<&str>,
    table_id: &str,
    ids: Vec<String>,
    next: usize,
    now: OffsetDateTime,
) -> String {
    store
        .iterators
        .retain(|_, it| it.expires + Duration::hours(1) > now);
    let itr = offset
        .and_then(|o| o.split_once('/'))
        .map(|(itr, _)| itr.to_string())
        .unwrap_or_else(|| new_id("itr"));
    let rec = ids[next].clone();
    store.iterators.insert(
        itr.clone(),
        ListIterator {
            table_id: table_id.to_string(),
            ids,
            expires: now + ITERATOR_IDLE_TIMEOUT,
        },
    );
    format!("{itr}/{rec}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect()
    }

    #[test]
    fn query_parameters_parse_like_airtable_js_sends_them() {
        let q = "pageSize=10&fields%5B%5D=Name&fields%5B%5D=Status&sort%5B1%5D%5Bfield%5D=B\
                 &sort%5B0%5D%5Bfield%5D=A&sort%5B0%5D%5Bdirection%5D=desc&returnFieldsByFieldId=true";
        let p = ListParams::from_query(&pairs(q)).unwrap();
        assert_eq!(p.page_size, Some(10));
        assert_eq!(p.fields, Some(vec!["Name".into(), "Status".into()]));
        assert_eq!(p.sort, vec![("A".into(), true), ("B".into(), false)]);
        assert!(p.by_field_id);
        assert!(ListParams::from_query(&pairs("pageSize=0")).is_err());
        assert!(ListParams::from_query(&pairs("sort%5B0%5D%5Bdirection%5D=up")).is_err());
    }

    #[test]
    fn body_parameters_are_strict() {
        let p =
            ListParams::from_body(&json!({"sort": [{"field": "A", "direction": "desc"}]})).unwrap();
        assert_eq!(p.sort, vec![("A".into(), true)]);
        assert!(ListParams::from_body(&json!({"pagesize": 3})).is_err());
        let s = ListParams {
            cell_format: Some("string".into()),
            ..ListParams::default()
        };
        assert!(render_options(&s).is_err());
    }
}

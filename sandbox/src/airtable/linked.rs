//! Airtable's fields computed from linked records, as the field model documents them
//! (https://airtable.com/developers/web/api/field-model): a `count` ("the number of linked
//! records", options `{isValid, recordLinkFieldId}`), a lookup (`multipleLookupValues`, "an
//! array of values of the looked up field", options `{isValid, recordLinkFieldId,
//! fieldIdInLinkedTable}`) and a `rollup` (options `{isValid, recordLinkFieldId,
//! fieldIdInLinkedTable, referencedFieldIds}`; the cell is whatever its formula returns).
//! Like every computed field, only a person adds them (the Meta API cannot) and a write to
//! one is 422 `INVALID_VALUE_FOR_COLUMN`.
//!
//! The rollup's formula (`values` standing for the linked values, e.g. `SUM(values)`) is
//! set in the UI and not shown by the API's field model [U]; the sandbox takes it as
//! `options.formula` on the person route and keeps one call of a rollup function:
//! `SUM`, `MAX`, `MIN`, `AVERAGE`, `COUNT` (numbers), `COUNTA` (non-empty values),
//! `COUNTALL` (every linked record), `ARRAYJOIN(values, sep?)` (", " by default),
//! `ARRAYUNIQUE`, `ARRAYCOMPACT` and `CONCATENATE`. Anything else is refused when the field
//! is added. `SUM`/`MAX`/`MIN`/`COUNT*` of nothing is 0; `AVERAGE` of nothing is blank [U].
//!
//! Values are stored like cells and refreshed after every write to the base (`derived.rs`),
//! so reads, `filterByFormula` and webhook payloads all see them. An empty lookup or array
//! result is absent, as empty cells are.

use serde_json::{Value, json};

use super::cells::to_display_string;
use super::errors::{AtError, AtResult};
use super::links::linked_table;
use super::schema::{Field, FieldSchema, FieldType};
use super::table::{Base, Record, Table};

/// The rollup functions the sandbox evaluates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rollup {
    Sum,
    Max,
    Min,
    Average,
    Count,
    CountA,
    CountAll,
    ArrayJoin,
    ArrayUnique,
    ArrayCompact,
    Concatenate,
}

/// `NAME(values)` or `ARRAYJOIN(values, "sep")` → the function and the separator.
fn parse_rollup(source: &str) -> Option<(Rollup, Option<String>)> {
    let s = source.trim();
    let open = s.find('(')?;
    let inner = s.strip_suffix(')')?[open + 1..].trim();
    let name = s[..open].trim().to_ascii_uppercase();
    let (first, rest) = match inner.split_once(',') {
        Some((a, b)) => (a.trim(), Some(b.trim())),
        None => (inner, None),
    };
    if !first.eq_ignore_ascii_case("values") {
        return None;
    }
    let function = match name.as_str() {
        "SUM" => Rollup::Sum,
        "MAX" => Rollup::Max,
        "MIN" => Rollup::Min,
        "AVERAGE" => Rollup::Average,
        "COUNT" => Rollup::Count,
        "COUNTA" => Rollup::CountA,
        "COUNTALL" => Rollup::CountAll,
        "ARRAYJOIN" => Rollup::ArrayJoin,
        "ARRAYUNIQUE" => Rollup::ArrayUnique,
        "ARRAYCOMPACT" => Rollup::ArrayCompact,
        "CONCATENATE" => Rollup::Concatenate,
        _ => return None,
    };
    let separator = match rest {
        None => None,
        Some(r) if function == Rollup::ArrayJoin => {
            let quoted = r
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .or_else(|| r.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))?;
            Some(quoted.to_string())
        }
        Some(_) => return None,
    };
    Some((function, separator))
}

fn option<'a>(field: &'a Field, key: &str) -> Option<&'a str> {
    field.options.as_ref()?.get(key)?.as_str()
}

/// The computed cell of a count, lookup or rollup `field` of `table` for `record`.
pub(crate) fn value(base: &Base, table: &Table, field: &Field, record: &Record) -> Option<Value> {
    let link = table.field_by_id(option(field, "recordLinkFieldId")?)?;
    let linked = base.table(linked_table(link)?)?;
    let records: Vec<&Record> = record
        .cells
        .get(&link.id)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|id| linked.record(id.as_str()?))
        .collect();
    if field.field_type == FieldType::Count {
        return Some(json!(records.len()));
    }
    let target = linked.field_by_id(option(field, "fieldIdInLinkedTable")?)?;
    let per_record: Vec<Option<Value>> = records
        .iter()
        .map(|r| {
            super::computed::value(linked, target, r).or_else(|| r.cells.get(&target.id).cloned())
        })
        .collect();
    let values: Vec<Value> = per_record
        .iter()
        .flatten()
        .flat_map(|v| match v {
            Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        })
        .collect();
    match field.field_type {
        FieldType::MultipleLookupValues => (!values.is_empty()).then_some(Value::Array(values)),
        _ => {
            let (function, separator) = parse_rollup(option(field, "formula")?)?;
            roll_up(function, separator.as_deref(), &values, per_record.len())
        }
    }
}

fn roll_up(
    function: Rollup,
    separator: Option<&str>,
    values: &[Value],
    all: usize,
) -> Option<Value> {
    let numbers: Vec<f64> = values.iter().filter_map(Value::as_f64).collect();
    let texts = || -> Vec<String> {
        values
            .iter()
            .map(|v| {
                to_display_string(v)
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .filter(|s| !s.is_empty())
            .collect()
    };
    // Whole numbers read as integers, as Airtable's JSON shows them.
    let number = |n: f64| {
        Some(if n.fract() == 0.0 && n.abs() < 1e15 {
            json!(n as i64)
        } else {
            json!(n)
        })
    };
    match function {
        Rollup::Sum => number(numbers.iter().sum()),
        Rollup::Max => number(numbers.iter().copied().reduce(f64::max).unwrap_or(0.0)),
        Rollup::Min => number(numbers.iter().copied().reduce(f64::min).unwrap_or(0.0)),
        Rollup::Average if numbers.is_empty() => None,
        Rollup::Average => number(numbers.iter().sum::<f64>() / numbers.len() as f64),
        Rollup::Count => Some(json!(numbers.len())),
        Rollup::CountA => Some(json!(texts().len())),
        Rollup::CountAll => Some(json!(all)),
        Rollup::ArrayJoin => non_empty(texts().join(separator.unwrap_or(", "))),
        Rollup::Concatenate => non_empty(texts().concat()),
        Rollup::ArrayCompact => array(texts().into_iter().map(Value::String).collect()),
        Rollup::ArrayUnique => {
            let mut out: Vec<Value> = Vec::new();
            for v in values {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
            array(out)
        }
    }
}

fn non_empty(s: String) -> Option<Value> {
    (!s.is_empty()).then_some(Value::String(s))
}

fn array(items: Vec<Value>) -> Option<Value> {
    (!items.is_empty()).then_some(Value::Array(items))
}

/// A new count, lookup or rollup as a person picks it in the UI (fields by id or name):
/// the link field must be a link field of `table`, the looked up field a field of the
/// linked table, a rollup's formula one the sandbox evaluates. Names become ids.
pub(crate) fn prepare(base: &Base, table: &Table, schema: &FieldSchema) -> AtResult<FieldSchema> {
    if !schema.field_type.is_linked_computed() {
        return Ok(schema.clone());
    }
    let what = schema.field_type.api_name();
    let bad = |m: &str| AtError::invalid_request(format!("options for {what}: {m}"));
    let mut options = schema.options.clone().unwrap_or_else(|| json!({}));
    let key = options["recordLinkFieldId"].as_str().unwrap_or_default();
    let link = table
        .field(key)
        .filter(|f| f.field_type == FieldType::MultipleRecordLinks)
        .ok_or_else(|| bad("\"recordLinkFieldId\" must name a link field of the table"))?;
    options["recordLinkFieldId"] = json!(link.id);
    if schema.field_type != FieldType::Count {
        let linked = linked_table(link)
            .and_then(|t| base.table(t))
            .ok_or_else(|| bad("the link field's table is gone"))?;
        let key = options["fieldIdInLinkedTable"].as_str().unwrap_or_default();
        let target = linked
            .field(key)
            .ok_or_else(|| bad("\"fieldIdInLinkedTable\" must name a field of the linked table"))?;
        options["fieldIdInLinkedTable"] = json!(target.id);
    }
    if schema.field_type == FieldType::Rollup {
        let formula = options["formula"].as_str().unwrap_or_default();
        if parse_rollup(formula).is_none() {
            return Err(bad(&format!(
                "\"formula\" must be one rollup function of values (e.g. SUM(values)), got {formula:?}"
            )));
        }
    }
    Ok(FieldSchema {
        options: Some(options),
        ..schema.clone()
    })
}

/// The options the base schema shows (the rollup's formula is the UI's, not shown).
pub(crate) fn options_json(field: &Field) -> Value {
    let given = |k: &str| option(field, k).map_or(Value::Null, |v| json!(v));
    let mut out = json!({"isValid": true, "recordLinkFieldId": given("recordLinkFieldId")});
    if field.field_type != FieldType::Count {
        out["fieldIdInLinkedTable"] = given("fieldIdInLinkedTable");
    }
    if field.field_type == FieldType::Rollup {
        out["referencedFieldIds"] = json!([]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollup_functions_parse_and_apply_to_the_linked_values() {
        let values = [json!(2), json!("x"), json!(3.5)];
        let run = |source: &str| {
            let (f, sep) = parse_rollup(source).unwrap();
            roll_up(f, sep.as_deref(), &values, 4)
        };
        assert_eq!(run("SUM(values)"), Some(json!(5.5)));
        assert_eq!(run(" max( values ) "), Some(json!(3.5)));
        assert_eq!(run("COUNT(values)"), Some(json!(2)));
        assert_eq!(run("COUNTA(values)"), Some(json!(3)));
        assert_eq!(run("COUNTALL(values)"), Some(json!(4)));
        assert_eq!(
            run("ARRAYJOIN(values, \" | \")"),
            Some(json!("2 | x | 3.5"))
        );
        assert_eq!(run("ARRAYJOIN(values)"), Some(json!("2, x, 3.5")));
        for bad in ["SUM(other)", "NOPE(values)", "SUM(values", "SUM(values, 2)"] {
            assert!(parse_rollup(bad).is_none(), "{bad}");
        }
        let (f, _) = parse_rollup("SUM(values)").unwrap();
        assert_eq!(roll_up(f, None, &[], 0), Some(json!(0)));
        let (f, _) = parse_rollup("AVERAGE(values)").unwrap();
        assert_eq!(roll_up(f, None, &[], 0), None);
    }
}

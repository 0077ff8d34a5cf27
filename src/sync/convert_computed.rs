//! Computed fields, one way: a Notion `formula`, `rollup`, `unique_id`,
//! `created_time`, `last_edited_time`, `created_by` or `last_edited_by`
//! property, or an Airtable `formula`, `rollup`, `multipleLookupValues`
//! (lookup), `count`, `autoNumber`, `createdTime` or `lastModifiedTime`
//! field, mirrored into a writable field on the other side.
//!
//! Neither vendor accepts writes to these (Notion answers 400
//! `validation_error`, Airtable 422 `INVALID_VALUE_FOR_COLUMN`), so such a
//! mapping is one way, from the computed side, and a computed field on
//! both sides is refused. The canonical value is chosen from the writable
//! target's type ([`Fit`]): the computed value is read as what it is (a
//! formula's string, number, boolean or date) and fitted to the target when
//! that is lossless (a number into text, an instant into a date); a value
//! that does not fit (a text formula into a number field) is left as it is
//! and [`check_fits`] refuses the write, so it is reported and never
//! written as junk or as an empty value.

use serde_json::Value as Json;

use super::{ConvertError, Kind, Value, people_names, plain_text};
use crate::config::Direction;
use crate::sync::value::When;

/// Notion property types whose values Notion computes.
pub const NOTION_COMPUTED: &[&str] = &[
    "formula",
    "rollup",
    "unique_id",
    "created_time",
    "last_edited_time",
    "created_by",
    "last_edited_by",
];

/// Airtable field types whose values Airtable computes (`multipleLookupValues`
/// is a lookup field's type in the API).
pub const AIRTABLE_COMPUTED: &[&str] = &[
    "formula",
    "rollup",
    "multipleLookupValues",
    "count",
    "autoNumber",
    "createdTime",
    "lastModifiedTime",
];

/// What the writable target holds, and so the canonical value of a
/// computed mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    Text,
    Number,
    Date,
    DateTime,
    Checkbox,
}

impl Fit {
    /// The plain kind the writable side is read and written with.
    pub fn kind(self) -> Kind {
        match self {
            Fit::Text => Kind::Text,
            Fit::Number => Kind::Number,
            Fit::Date => Kind::Date,
            Fit::DateTime => Kind::DateTime,
            Fit::Checkbox => Kind::Checkbox,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Fit::Text => "text",
            Fit::Number => "a number",
            Fit::Date => "a date",
            Fit::DateTime => "a date and time",
            Fit::Checkbox => "a checkbox",
        }
    }
}

pub fn is_computed_notion(ty: &str) -> bool {
    NOTION_COMPUTED.contains(&ty)
}

pub fn is_computed_airtable(ty: &str) -> bool {
    AIRTABLE_COMPUTED.contains(&ty)
}

/// The kind of a pairing with a computed side (`None`: neither side is
/// computed), or why it cannot sync.
pub fn kind_for(notion: &str, airtable: &str) -> Option<Result<Kind, String>> {
    let result = match (is_computed_notion(notion), is_computed_airtable(airtable)) {
        (false, false) => return None,
        (true, true) => Err(format!(
            "both sides are computed (Notion `{notion}`, Airtable `{airtable}`): neither can be \
             written, so there is nothing to sync"
        )),
        (true, false) => airtable_target(airtable)
            .filter(|fit| notion_source_fits(notion, *fit))
            .map(Kind::NotionComputed)
            .ok_or_else(|| {
                format!(
                    "Notion `{notion}` is computed by Notion: map it one way to a writable \
                     Airtable field that holds {}",
                    notion_targets(notion)
                )
            }),
        (false, true) => notion_target(notion)
            .filter(|fit| airtable_source_fits(airtable, *fit))
            .map(Kind::AirtableComputed)
            .ok_or_else(|| {
                format!(
                    "Airtable `{airtable}` is computed by Airtable: map it one way to a writable \
                     Notion property that holds {}",
                    airtable_targets(airtable)
                )
            }),
    };
    Some(result)
}

fn airtable_target(ty: &str) -> Option<Fit> {
    Some(match ty {
        "singleLineText" | "multilineText" => Fit::Text,
        "number" | "currency" | "percent" => Fit::Number,
        "date" => Fit::Date,
        "dateTime" => Fit::DateTime,
        "checkbox" => Fit::Checkbox,
        _ => return None,
    })
}

fn notion_target(ty: &str) -> Option<Fit> {
    Some(match ty {
        "title" | "rich_text" => Fit::Text,
        "number" => Fit::Number,
        // Airtable's computed dates are instants (a date-only result is
        // midnight UTC); a Notion date holds either.
        "date" => Fit::DateTime,
        "checkbox" => Fit::Checkbox,
        _ => return None,
    })
}

fn notion_source_fits(ty: &str, fit: Fit) -> bool {
    match ty {
        "created_by" | "last_edited_by" => fit == Fit::Text,
        "unique_id" => matches!(fit, Fit::Text | Fit::Number),
        "created_time" | "last_edited_time" => matches!(fit, Fit::Text | Fit::Date | Fit::DateTime),
        _ => true,
    }
}

fn airtable_source_fits(ty: &str, fit: Fit) -> bool {
    match ty {
        "count" | "autoNumber" => matches!(fit, Fit::Text | Fit::Number),
        "createdTime" | "lastModifiedTime" => matches!(fit, Fit::Text | Fit::DateTime),
        _ => true,
    }
}

fn notion_targets(ty: &str) -> &'static str {
    match ty {
        "created_by" | "last_edited_by" => "text (single line or long text: the person's name)",
        "unique_id" => "text (`PREFIX-12`) or a number",
        "created_time" | "last_edited_time" => "text, a date or a date and time",
        _ => "text, a number, a date or a checkbox",
    }
}

fn airtable_targets(ty: &str) -> &'static str {
    match ty {
        "count" | "autoNumber" => "text or a number",
        "createdTime" | "lastModifiedTime" => "text or a date",
        _ => "text (title or rich text), a number, a date or a checkbox",
    }
}

/// Why a computed mapping's `direction` cannot be used (`None`: it can).
pub fn direction_problem(
    kind: Kind,
    notion: &str,
    airtable: &str,
    direction: Direction,
) -> Option<String> {
    match kind {
        Kind::NotionComputed(_) if direction != Direction::NotionToAirtable => Some(format!(
            "Notion `{notion}` is computed by Notion and cannot be written: use direction = \
             \"notion_to_airtable\""
        )),
        Kind::AirtableComputed(_) if direction != Direction::AirtableToNotion => Some(format!(
            "Airtable `{airtable}` is computed by Airtable and cannot be written: use direction \
             = \"airtable_to_notion\""
        )),
        _ => None,
    }
}

/// The only direction a pairing of these types can have, as written in
/// `sync.toml` (`None`: not a computed pairing).
pub fn one_way_direction(notion: &str, airtable: &str) -> Option<&'static str> {
    match kind_for(notion, airtable)? {
        Ok(Kind::NotionComputed(_)) => Some("notion_to_airtable"),
        Ok(Kind::AirtableComputed(_)) => Some("airtable_to_notion"),
        _ => None,
    }
}

// ---------------------------------------------------------------- reading

/// A computed Notion property (`{id, type, <type>}`) as the canonical value
/// for `fit`.
pub fn read_notion(property: &Json, fit: Fit) -> Result<Value, ConvertError> {
    let ty = property["type"].as_str().unwrap_or_default();
    if ty == "unique_id" && fit == Fit::Number {
        let n = property["unique_id"]["number"].as_f64();
        return Ok(n.map_or(Value::Empty, Value::Number));
    }
    Ok(fit_value(notion_natural(property)?, fit))
}

/// A Notion value object (`{"type": t, t: ...}`: a property, a formula's
/// result, a rollup's result or one of its array items) as what it is.
fn notion_natural(value: &Json) -> Result<Value, ConvertError> {
    let ty = value["type"].as_str().unwrap_or_default();
    let inner = &value[ty];
    let natural = match ty {
        "formula" | "rollup" => notion_natural(inner)?,
        "string" | "url" | "email" | "phone_number" => Value::text(inner.as_str().unwrap_or("")),
        "title" | "rich_text" => Value::text(plain_text(inner)),
        "number" => inner.as_f64().map_or(Value::Empty, Value::Number),
        "boolean" | "checkbox" => inner.as_bool().map_or(Value::Empty, Value::Bool),
        "date" => match inner["start"].as_str() {
            Some(start) => parse_when(start)?.to_value(),
            None => Value::Empty,
        },
        "created_time" | "last_edited_time" => match inner.as_str() {
            Some(t) => parse_when(t)?.to_value(),
            None => Value::Empty,
        },
        "unique_id" => unique_id_text(inner),
        "created_by" | "last_edited_by" => {
            Value::text(people_names(&Json::Array(vec![inner.clone()])).join(", "))
        }
        "people" => Value::text(people_names(inner).join(", ")),
        "select" | "status" => Value::text(inner["name"].as_str().unwrap_or("")),
        "multi_select" => Value::set(
            inner
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|o| o["name"].as_str()),
        ),
        "array" => list(
            inner.as_array().map_or(&[][..], Vec::as_slice),
            notion_natural,
        )?,
        // A rollup Notion could not finish ("incomplete") or a type it does
        // not compute ("unsupported") has no value: the mirror is kept.
        _ => Value::Empty,
    };
    Ok(natural)
}

/// `SPEC-12` with a prefix, `12` without (as Notion shows the id).
fn unique_id_text(inner: &Json) -> Value {
    let Some(n) = inner["number"].as_u64() else {
        return Value::Empty;
    };
    match inner["prefix"].as_str().filter(|p| !p.is_empty()) {
        Some(prefix) => Value::text(format!("{prefix}-{n}")),
        None => Value::text(n.to_string()),
    }
}

/// A computed Airtable cell (absent = `None`) as the canonical value for
/// `fit`. Formula, rollup and lookup cells can hold any JSON; a lookup is an
/// array of the looked-up values.
pub fn read_airtable(cell: Option<&Json>, fit: Fit) -> Result<Value, ConvertError> {
    let natural = match cell {
        None => Value::Empty,
        Some(cell) => airtable_natural(cell, fit)?,
    };
    Ok(fit_value(natural, fit))
}

fn airtable_natural(cell: &Json, fit: Fit) -> Result<Value, ConvertError> {
    let natural = match cell {
        Json::Null => Value::Empty,
        Json::String(s) if s.is_empty() => Value::Empty,
        // Airtable sends computed dates as ISO strings; only a date target
        // reads them as dates, text keeps them as written.
        Json::String(s) if matches!(fit, Fit::Date | Fit::DateTime) => {
            When::parse(s).map_or_else(|_| Value::text(s.as_str()), When::to_value)
        }
        Json::String(s) => Value::text(s.as_str()),
        // Airtable formulas have no boolean result: TRUE() is 1, FALSE() 0.
        Json::Number(n) if fit == Fit::Checkbox && (n.as_f64() == Some(1.0)) => Value::Bool(true),
        Json::Number(n) if fit == Fit::Checkbox && (n.as_f64() == Some(0.0)) => Value::Bool(false),
        Json::Number(n) => n.as_f64().map_or(Value::Empty, Value::Number),
        Json::Bool(b) => Value::Bool(*b),
        Json::Array(items) => list(items, |item| airtable_natural(item, fit))?,
        // A formula error (`{"error": "#ERROR!"}`) or `{"specialValue":
        // "NaN"}` is not a value: the mirror keeps what it has.
        Json::Object(o) if o.contains_key("error") || o.contains_key("specialValue") => {
            Value::Empty
        }
        // A looked-up collaborator, attachment or linked record.
        Json::Object(o) => ["name", "email", "filename", "id"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Json::as_str))
            .map_or(Value::Empty, Value::text),
    };
    Ok(natural)
}

/// An array of values: empty items dropped; one item is that value, more are
/// text joined by ", " (as both tools show them).
fn list<F>(items: &[Json], natural: F) -> Result<Value, ConvertError>
where
    F: Fn(&Json) -> Result<Value, ConvertError>,
{
    let mut values: Vec<Value> = Vec::new();
    for item in items {
        let v = natural(item)?;
        if !v.is_empty() {
            values.push(v);
        }
    }
    Ok(match values.len() {
        0 => Value::Empty,
        1 => values.remove(0),
        _ => Value::text(
            values
                .iter()
                .map(Value::display)
                .collect::<Vec<_>>()
                .join(", "),
        ),
    })
}

fn parse_when(s: &str) -> Result<When, ConvertError> {
    When::parse(s).map_err(|e| ConvertError::BadValue(e.to_string()))
}

/// The value fitted to the target when that loses nothing; otherwise as it
/// is, for [`check_fits`] to refuse.
fn fit_value(value: Value, fit: Fit) -> Value {
    let when = |s: &str| When::parse(s).ok();
    match (fit, value) {
        (_, Value::Empty) => Value::Empty,
        (Fit::Text, Value::Text(s)) => Value::Text(s),
        (Fit::Text, v) => Value::text(v.display()),
        (Fit::Date, Value::Date(s) | Value::DateTime(s)) => {
            when(&s).map_or(Value::Text(s), When::to_date_value)
        }
        (Fit::DateTime, Value::Date(s) | Value::DateTime(s)) => {
            when(&s).map_or(Value::Text(s), When::to_instant_value)
        }
        (_, v) => v,
    }
}

/// Whether a computed value fits the target it is written to; the reason
/// otherwise (the write is refused and reported, the target left alone).
pub fn check_fits(fit: Fit, value: &Value, target: &str) -> Result<(), ConvertError> {
    let fits = matches!(
        (fit, value),
        (_, Value::Empty)
            | (Fit::Text, Value::Text(_))
            | (Fit::Number, Value::Number(_))
            | (Fit::Date, Value::Date(_))
            | (Fit::DateTime, Value::DateTime(_))
            | (Fit::Checkbox, Value::Bool(_))
    );
    if fits {
        return Ok(());
    }
    Err(ConvertError::BadValue(format!(
        "the computed value {} does not fit this {target} field, which holds {}",
        value.display(),
        fit.what()
    )))
}

#[cfg(test)]
#[path = "convert_computed_tests.rs"]
mod tests;

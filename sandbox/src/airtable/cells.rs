//! Cell values: validating what a client writes (REST, "V1" format), and rendering what is
//! stored as V1 (REST), V2 (webhook payloads) or `cellFormat=string`.
//!
//! Stored values are the V1 JSON, normalised: text as a non-empty string, numbers, `true`
//! for a checked box, `YYYY-MM-DD` dates, `...sss Z` UTC date-times, option names for
//! selects. An empty value ("", [], false, null) is not stored at all, which is why REST
//! omits it (api-facts §4.1, §4.5).

use serde_json::Value;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use super::collaborators::{self, Collaborator};
use super::errors::{AtError, AtResult};
use super::ids::millis;
use super::numbers;
use super::schema::{Field, FieldType};
use crate::common::airtable_time;

/// Validate one written cell. `Ok(None)` clears the cell. With `typecast`, strings are
/// converted best-effort and unknown select options are created on `field`.
pub(crate) fn validate(
    field: &mut Field,
    value: &Value,
    typecast: bool,
) -> AtResult<Option<Value>> {
    validate_in(field, value, typecast, &[])
}

/// [`validate`] in a base whose collaborators are `known` (who a collaborator field may
/// hold).
pub(crate) fn validate_in(
    field: &mut Field,
    value: &Value,
    typecast: bool,
    known: &[Collaborator],
) -> AtResult<Option<Value>> {
    let t = field.field_type;
    if t.is_computed() {
        return Err(super::computed::refused_write(field));
    }
    if value.is_null() {
        return Ok(None);
    }
    match t {
        _ if t.is_text() => text(field, value, typecast),
        FieldType::Number | FieldType::Currency | FieldType::Percent => {
            number(field, value, typecast)
        }
        FieldType::Rating => numbers::rating(field, value, typecast),
        FieldType::Duration => numbers::duration(field, value, typecast),
        FieldType::Checkbox => checkbox(field, value, typecast),
        FieldType::Date => date(field, value, typecast),
        FieldType::DateTime => date_time(field, value, typecast),
        FieldType::SingleSelect => single_select(field, value, typecast),
        FieldType::MultipleAttachments => super::attachments::validate(field, value),
        FieldType::SingleCollaborator | FieldType::MultipleCollaborators => {
            collaborators::validate(field, value, typecast, known)
        }
        FieldType::MultipleRecordLinks => super::links::validate(field, value),
        _ => multiple_selects(field, value, typecast),
    }
}

fn non_empty(s: &str) -> Option<Value> {
    (!s.is_empty()).then(|| Value::String(s.to_string()))
}

fn text(field: &Field, value: &Value, typecast: bool) -> AtResult<Option<Value>> {
    let s = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) if typecast => n.to_string(),
        Value::Bool(b) if typecast => b.to_string(),
        _ => return Err(AtError::invalid_value(&field.name)),
    };
    if field.field_type == FieldType::RichText {
        return Ok(rich_text(&s));
    }
    Ok(non_empty(&s))
}

/// A rich text cell as Airtable keeps it: Markdown whose document always ends with a line
/// break, so every non-empty value reads back with a trailing `"\n"` ("long text fields
/// that have rich text enabled will always include a trailing \n character when the text
/// is retrieved via API", support article "Markdown rich text output in the API"). A value
/// that already ends with one is kept as is, and one holding only line breaks is the empty
/// document [U: the article shows the newline, not what a written trailing newline does].
fn rich_text(s: &str) -> Option<Value> {
    if s.trim_end_matches('\n').is_empty() {
        return None;
    }
    let mut out = s.to_string();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Some(Value::String(out))
}

pub(super) fn number(field: &Field, value: &Value, typecast: bool) -> AtResult<Option<Value>> {
    match value {
        Value::Number(_) => Ok(Some(value.clone())),
        Value::String(s) if typecast && s.trim().is_empty() => Ok(None),
        Value::String(s) if typecast => parse_number(s.trim())
            .map(Some)
            .ok_or_else(|| AtError::invalid_value(&field.name)),
        _ => Err(AtError::invalid_value(&field.name)),
    }
}

fn parse_number(s: &str) -> Option<Value> {
    if let Ok(i) = s.parse::<i64>() {
        return Some(Value::from(i));
    }
    s.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
}

fn checkbox(field: &Field, value: &Value, typecast: bool) -> AtResult<Option<Value>> {
    let checked = match value {
        Value::Bool(b) => *b,
        Value::String(s) if typecast => matches!(s.trim(), "true" | "checked" | "yes" | "1"),
        _ => return Err(AtError::invalid_value(&field.name)),
    };
    // Writing `false` reads back as an absent cell (api-facts §4.5).
    Ok(checked.then_some(Value::Bool(true)))
}

fn parse_date(s: &str) -> Option<time::Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &format).ok()
}

fn date(field: &Field, value: &Value, typecast: bool) -> AtResult<Option<Value>> {
    let Value::String(s) = value else {
        return Err(AtError::invalid_value(&field.name));
    };
    if let Some(d) = parse_date(s) {
        return Ok(Some(Value::String(render_date(d))));
    }
    // A full timestamp is refused by a date field unless typecast converts it.
    match OffsetDateTime::parse(s, &Rfc3339) {
        Ok(t) if typecast => Ok(Some(Value::String(render_date(t.date())))),
        _ if typecast && s.trim().is_empty() => Ok(None),
        _ => Err(AtError::invalid_value(&field.name)),
    }
}

fn render_date(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn date_time(field: &Field, value: &Value, typecast: bool) -> AtResult<Option<Value>> {
    let Value::String(s) = value else {
        return Err(AtError::invalid_value(&field.name));
    };
    if typecast && s.trim().is_empty() {
        return Ok(None);
    }
    // Date-only input is read in the field's time zone (UTC here).
    let t =
        crate::common::parse_time(s.trim()).ok_or_else(|| AtError::invalid_value(&field.name))?;
    Ok(Some(Value::String(airtable_time(millis(t)))))
}

/// The 422 for an option that does not exist, with Airtable's message (quoted twice, as
/// clients report it: `Insufficient permissions to create new select option ""X""`).
fn unknown_option(name: &str) -> AtError {
    AtError::unprocessable(
        "INVALID_MULTIPLE_CHOICE_OPTIONS",
        format!("Insufficient permissions to create new select option \"\"{name}\"\""),
    )
}

fn option(field: &mut Field, name: &str, typecast: bool) -> AtResult<String> {
    if field.choice(name).is_none() {
        if !typecast {
            return Err(unknown_option(name));
        }
        field.add_choice(name);
    }
    Ok(name.to_string())
}

fn single_select(field: &mut Field, value: &Value, typecast: bool) -> AtResult<Option<Value>> {
    let name = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) if typecast => n.to_string(),
        _ => return Err(AtError::invalid_value(&field.name)),
    };
    if name.is_empty() {
        return Ok(None);
    }
    Ok(Some(Value::String(option(field, &name, typecast)?)))
}

fn multiple_selects(field: &mut Field, value: &Value, typecast: bool) -> AtResult<Option<Value>> {
    let names: Vec<String> = match value {
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| AtError::invalid_value(&field.name))?,
        // typecast splits "a, b" into options.
        Value::String(s) if typecast => s.split(',').map(|p| p.trim().to_string()).collect(),
        _ => return Err(AtError::invalid_value(&field.name)),
    };
    let mut out: Vec<Value> = Vec::new();
    for name in names.into_iter().filter(|n| !n.is_empty()) {
        let name = Value::String(option(field, &name, typecast)?);
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

/// The V2 (webhook) rendering of a stored cell: selects become `{id,name,color}` objects.
pub(crate) fn to_v2(field: &Field, stored: Option<&Value>) -> Value {
    let Some(v) = stored else {
        return Value::Null;
    };
    let choice = |name: &Value| {
        name.as_str()
            .and_then(|n| field.choice(n))
            .map(|c| c.to_json())
            .unwrap_or(Value::Null)
    };
    match field.field_type {
        FieldType::SingleSelect => choice(v),
        FieldType::MultipleAttachments => super::attachments::render(v),
        FieldType::MultipleSelects => match v {
            Value::Array(items) => Value::Array(items.iter().map(choice).collect()),
            _ => Value::Null,
        },
        _ => v.clone(),
    }
}

/// A stored cell of `from` as it reads after a person changes the field to `to`'s type in
/// the app: the old value is typed into the new field best-effort (as `typecast` does);
/// what the new type cannot hold is dropped. Text targets get the value as displayed;
/// options a select target does not have yet are created, as the app does.
/// [U] Airtable documents no conversion table; this follows what its UI shows for the
/// common cases (text -> number keeps numbers, drops the rest).
pub(crate) fn convert(from: &Field, to: &mut Field, stored: &Value) -> Option<Value> {
    let plain = match (from.field_type, stored) {
        // The rich text document's closing line break is not part of the text.
        (FieldType::RichText, Value::String(s)) => Value::String(s.trim_end_matches('\n').into()),
        _ => stored.clone(),
    };
    let input = if to.field_type.is_text() {
        to_display_string(&plain)
    } else {
        plain
    };
    validate(to, &input, true).ok().flatten()
}

/// `cellFormat=string`: user-facing strings. Airtable says not to rely on their format;
/// the sandbox renders lists joined by ", ", checkboxes as "checked", times in UTC.
pub(crate) fn to_display_string(stored: &Value) -> Value {
    if let Some(names) = collaborators::display(stored) {
        return Value::String(names);
    }
    let s = match stored {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "checked".to_string(),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    };
    Value::String(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::airtable::schema::FieldSchema;
    use serde_json::json;

    fn field(t: FieldType) -> Field {
        Field::from_schema(&FieldSchema::new("F", t))
    }

    #[test]
    fn empty_values_clear_the_cell() {
        let mut f = field(FieldType::SingleLineText);
        assert_eq!(validate(&mut f, &json!(""), false).unwrap(), None);
        assert_eq!(validate(&mut f, &Value::Null, false).unwrap(), None);
        let mut c = field(FieldType::Checkbox);
        assert_eq!(validate(&mut c, &json!(false), false).unwrap(), None);
        assert_eq!(
            validate(&mut c, &json!(true), false).unwrap(),
            Some(json!(true))
        );
    }

    #[test]
    fn wrong_types_are_refused_unless_typecast() {
        let mut n = field(FieldType::Number);
        let err = validate(&mut n, &json!("12"), false).unwrap_err();
        assert_eq!(err.kind(), Some("INVALID_VALUE_FOR_COLUMN"));
        assert_eq!(
            validate(&mut n, &json!("12"), true).unwrap(),
            Some(json!(12))
        );
        let mut t = field(FieldType::SingleLineText);
        assert!(validate(&mut t, &json!(5), false).is_err());
    }

    #[test]
    fn rich_text_ends_with_one_line_break_and_plain_long_text_does_not() {
        let mut r = field(FieldType::RichText);
        assert_eq!(
            validate(&mut r, &json!("**bold**"), false).unwrap(),
            Some(json!("**bold**\n"))
        );
        assert_eq!(
            validate(&mut r, &json!("a\n"), false).unwrap(),
            Some(json!("a\n"))
        );
        assert_eq!(validate(&mut r, &json!("\n"), false).unwrap(), None);
        let mut m = field(FieldType::MultilineText);
        assert_eq!(
            validate(&mut m, &json!("a"), false).unwrap(),
            Some(json!("a"))
        );
    }

    #[test]
    fn a_type_change_converts_what_fits_and_drops_the_rest() {
        let text = field(FieldType::SingleLineText);
        let mut number = field(FieldType::Number);
        assert_eq!(convert(&text, &mut number, &json!("42")), Some(json!(42)));
        assert_eq!(convert(&text, &mut number, &json!("n/a")), None);
        let mut long = field(FieldType::MultilineText);
        assert_eq!(convert(&number, &mut long, &json!(7)), Some(json!("7")));
        let rich = field(FieldType::RichText);
        assert_eq!(convert(&rich, &mut long, &json!("x\n")), Some(json!("x")));
        let mut select = field(FieldType::SingleSelect);
        assert_eq!(convert(&text, &mut select, &json!("A")), Some(json!("A")));
        assert!(select.choice("A").is_some());
    }

    #[test]
    fn dates_and_times_are_normalised() {
        let mut d = field(FieldType::Date);
        assert_eq!(
            validate(&mut d, &json!("2026-07-01"), false).unwrap(),
            Some(json!("2026-07-01"))
        );
        assert!(validate(&mut d, &json!("2026-07-01T10:00:00Z"), false).is_err());
        assert!(validate(&mut d, &json!("2026-13-01"), false).is_err());
        let mut dt = field(FieldType::DateTime);
        assert_eq!(
            validate(&mut dt, &json!("2026-07-01T12:00:00+02:00"), false).unwrap(),
            Some(json!("2026-07-01T10:00:00.000Z"))
        );
    }

    #[test]
    fn select_options_need_typecast_to_be_created() {
        let mut s = Field::from_schema(&FieldSchema::single_select("S", &["A"]));
        let err = validate(&mut s, &json!("B"), false).unwrap_err();
        assert_eq!(err.kind(), Some("INVALID_MULTIPLE_CHOICE_OPTIONS"));
        assert_eq!(
            validate(&mut s, &json!("B"), true).unwrap(),
            Some(json!("B"))
        );
        assert!(s.choice("B").is_some());
        let v2 = to_v2(&s, Some(&json!("B")));
        assert_eq!(v2["name"], "B");
        assert!(v2["id"].as_str().unwrap().starts_with("sel"));
    }

    #[test]
    fn multiple_selects_dedupe_and_render_as_objects() {
        let mut m = Field::from_schema(&FieldSchema::multiple_selects("M", &["x", "y"]));
        let v = validate(&mut m, &json!(["x", "y", "x"]), false)
            .unwrap()
            .unwrap();
        assert_eq!(v, json!(["x", "y"]));
        assert_eq!(to_v2(&m, Some(&v))[1]["name"], "y");
        assert_eq!(to_display_string(&v), json!("x, y"));
    }
}

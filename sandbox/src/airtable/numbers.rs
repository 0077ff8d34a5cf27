//! Rating and duration cells: number cells with what their field options allow (field
//! model, Rating and Duration; support article "Duration field type").

use serde_json::Value;

use super::cells::number;
use super::errors::{AtError, AtResult};
use super::schema::Field;

/// A rating is "a positive integer" up to the field's `max` (field model, Rating):
/// 0, fractions and values above `max` are refused, never rounded or capped.
pub(super) fn rating(field: &Field, value: &Value, typecast: bool) -> AtResult<Option<Value>> {
    let Some(n) = number(field, value, typecast)? else {
        return Ok(None);
    };
    let fits = n
        .as_f64()
        .is_some_and(|f| f.fract() == 0.0 && f >= 1.0 && f <= field.rating_max() as f64);
    if !fits {
        return Err(AtError::invalid_value(&field.name));
    }
    Ok(n.as_f64().map(|f| Value::from(f as u64)))
}

/// A duration is a number of seconds, "stored as an integer or decimal" depending on the
/// field's format (support article "Duration field type"): the value is kept to the
/// format's decimals of a second (none for `h:mm` and `h:mm:ss`).
/// [U] what the API does with finer input is not documented; the sandbox rounds it, as
/// the app does when a value is typed.
pub(super) fn duration(field: &Field, value: &Value, typecast: bool) -> AtResult<Option<Value>> {
    let Some(n) = number(field, value, typecast)? else {
        return Ok(None);
    };
    let scale = 10f64.powi(field.duration_decimals());
    let kept = n.as_f64().map(|f| (f * scale).round() / scale);
    Ok(match kept {
        Some(f) if f.fract() == 0.0 => Some(Value::from(f as i64)),
        Some(f) => serde_json::Number::from_f64(f).map(Value::Number),
        None => None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::cells::validate;
    use super::super::schema::{FieldSchema, FieldType};
    use super::*;
    use serde_json::json;

    fn field(t: FieldType) -> Field {
        Field::from_schema(&FieldSchema::new("F", t))
    }

    #[test]
    fn ratings_are_whole_stars_from_one_to_max() {
        let mut r = Field::from_schema(&FieldSchema::with_options(
            "R",
            FieldType::Rating,
            json!({"max": 5}),
        ));
        assert_eq!(validate(&mut r, &json!(5), false).unwrap(), Some(json!(5)));
        assert_eq!(
            validate(&mut r, &json!(1.0), false).unwrap(),
            Some(json!(1))
        );
        for bad in [json!(0), json!(6), json!(2.5), json!(-1), json!("3")] {
            assert!(validate(&mut r, &bad, false).is_err(), "{bad} accepted");
        }
        assert_eq!(validate(&mut r, &json!(null), false).unwrap(), None);
        assert_eq!(r.to_schema_json()["options"]["max"], 5);
    }

    #[test]
    fn durations_keep_the_decimals_their_format_shows() {
        let mut whole = field(FieldType::Duration);
        assert_eq!(
            validate(&mut whole, &json!(90), false).unwrap(),
            Some(json!(90))
        );
        assert_eq!(whole.to_schema_json()["options"]["durationFormat"], "h:mm");
        let mut tenths = Field::from_schema(&FieldSchema::with_options(
            "D",
            FieldType::Duration,
            json!({"durationFormat": "h:mm:ss.S"}),
        ));
        assert_eq!(
            validate(&mut tenths, &json!(90.5), false).unwrap(),
            Some(json!(90.5))
        );
        assert_eq!(
            validate(&mut tenths, &json!(90.25), false).unwrap(),
            Some(json!(90.3))
        );
    }

    #[test]
    fn currency_and_percent_store_the_number_written() {
        let mut pct = field(FieldType::Percent);
        assert_eq!(
            validate(&mut pct, &json!(0.125), false).unwrap(),
            Some(json!(0.125))
        );
        let mut cur = field(FieldType::Currency);
        assert_eq!(
            validate(&mut cur, &json!(19.999), false).unwrap(),
            Some(json!(19.999))
        );
        assert_eq!(cur.to_schema_json()["options"]["precision"], 2);
        assert!(validate(&mut cur, &json!("12"), false).is_err());
    }
}

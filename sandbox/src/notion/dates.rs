//! Date property values as Notion validates, stores and reads them
//! (reference "Property values: date"; changelog "Time zone support"):
//! `{start, end, time_zone}`, `start` a date or a date-time, `end` making it
//! a range. Date-times are stored as instants with an offset and read back
//! with milliseconds; a value written with a `time_zone` is read back in the
//! zone's offset with `time_zone: null`.

use serde_json::{Value, json};

use super::errors::{NotionError, NotionResult};
use super::properties::fail;

/// A date value as Notion stores and reads it. With a `time_zone` (an IANA
/// name), `start` and `end` are local date-times without an offset (a date
/// without a time, or an offset, is refused); the instant is stored, and
/// read back with the zone's UTC offset at that instant (DST aware) and
/// `time_zone: null` ("The public API will always return the time_zone
/// field as null ... time zone will be displayed as a UTC offset in the
/// start and end date fields", changelog "Time zone support").
pub fn date(path: &str, v: &Value) -> NotionResult<Value> {
    let obj = match v {
        Value::Null => return Ok(Value::Null),
        Value::Object(o) => o,
        other => return Err(fail(path, "an object or `null`", Some(other))),
    };
    let zone = match obj.get("time_zone") {
        None | Some(Value::Null) => None,
        Some(Value::String(tz)) if !tz.is_empty() => Some(time_zone(path, tz)?),
        other => {
            return Err(fail(
                &format!("{path}.time_zone"),
                "a non-empty string or `null`",
                other,
            ));
        }
    };
    let one = |key: &str, s: &str| {
        let path = format!("{path}.{key}");
        match &zone {
            Some(tz) => in_zone(&path, s, tz),
            None => normalize_date(&path, s),
        }
    };
    let start = match obj.get("start") {
        Some(Value::String(s)) => one("start", s)?,
        other => return Err(fail(&format!("{path}.start"), "a string", other)),
    };
    let end = match obj.get("end") {
        None | Some(Value::Null) => Value::Null,
        Some(Value::String(s)) => json!(one("end", s)?),
        other => return Err(fail(&format!("{path}.end"), "a string or `null`", other)),
    };
    Ok(json!({"start": start, "end": end, "time_zone": null}))
}

/// An IANA time zone by name (the bundled tz database), or a validation
/// error naming it.
fn time_zone(path: &str, name: &str) -> NotionResult<jiff::tz::TimeZone> {
    jiff::tz::TimeZone::get(name).map_err(|_| {
        NotionError::validation(format!(
            "body failed validation: {path}.time_zone should be a valid IANA time zone, instead was `\"{name}\"`."
        ))
    })
}

const WITH_OFFSET: &[time::format_description::FormatItem<'static>] = time::macros::format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3][offset_hour sign:mandatory]:[offset_minute]"
);

const LOCAL: &[time::format_description::FormatItem<'static>] = time::macros::format_description!(
    "[year]-[month]-[day]T[hour]:[minute][optional [:[second]]][optional [.[subsecond]]]"
);

fn invalid_date(path: &str, s: &str) -> NotionError {
    NotionError::validation(format!(
        "body failed validation: {path} should be a valid ISO 8601 date string, instead was `\"{s}\"`."
    ))
}

/// Accepts `YYYY-MM-DD`, an RFC 3339 datetime, or a local datetime without
/// offset (read as UTC). Datetimes come back with milliseconds.
fn normalize_date(path: &str, s: &str) -> NotionResult<String> {
    use time::format_description::well_known::Rfc3339;
    let date_only = time::macros::format_description!("[year]-[month]-[day]");
    if time::Date::parse(s, &date_only).is_ok() {
        return Ok(s.to_string());
    }
    let t = match time::OffsetDateTime::parse(s, &Rfc3339) {
        Ok(t) => t,
        // Without a time zone Notion reads a bare local time as UTC.
        Err(_) => time::PrimitiveDateTime::parse(s, LOCAL)
            .map_err(|_| invalid_date(path, s))?
            .assume_utc(),
    };
    t.format(WITH_OFFSET).map_err(|_| invalid_date(path, s))
}

/// A local date-time in `tz`, as the instant with the zone's offset then.
/// "When time zone information is provided ... start and end cannot contain
/// UTC offsets ... [and] cannot be dates without time information"
/// (changelog "Time zone support"). A local time that a DST change skips or
/// repeats is resolved as JavaScript's `Date` does (skipped: moved forward
/// by the gap; repeated: the earlier instant): Notion does not document it.
fn in_zone(path: &str, s: &str, tz: &jiff::tz::TimeZone) -> NotionResult<String> {
    let Ok(local) = time::PrimitiveDateTime::parse(s, LOCAL) else {
        let date_only = time::macros::format_description!("[year]-[month]-[day]");
        let reason = if time::Date::parse(s, &date_only).is_ok() {
            "a date and time without a UTC offset (a date without a time cannot have a time_zone)"
        } else if time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .is_ok()
        {
            "a date and time without a UTC offset when time_zone is set"
        } else {
            return Err(invalid_date(path, s));
        };
        return Err(NotionError::validation(format!(
            "body failed validation: {path} should be {reason}, instead was `\"{s}\"`."
        )));
    };
    let civil = jiff::civil::DateTime::new(
        local.year() as i16,
        local.month() as i8,
        local.day() as i8,
        local.hour() as i8,
        local.minute() as i8,
        local.second() as i8,
        local.nanosecond() as i32,
    )
    .map_err(|_| invalid_date(path, s))?;
    let zoned = civil
        .to_zoned_datetime(tz.clone())
        .map_err(|_| invalid_date(path, s))?;
    let offset = time::UtcOffset::from_whole_seconds(zoned.offset().seconds())
        .map_err(|_| invalid_date(path, s))?;
    time::OffsetDateTime::from_unix_timestamp_nanos(zoned.timestamp().as_nanosecond())
        .map_err(|_| invalid_date(path, s))?
        .to_offset(offset)
        .format(WITH_OFFSET)
        .map_err(|_| invalid_date(path, s))
}

/// A date value for text (`YYYY-MM-DD` or an ISO 8601 datetime), as a type
/// change to `date` reads the old values; `None` when it is no date.
pub fn date_from_text(s: &str) -> Option<Value> {
    date("", &json!({"start": s})).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(v: Value) -> Result<Value, String> {
        date("Due", &v).map_err(|e| format!("{e:?}"))
    }

    fn zoned(start_: &str, zone: &str) -> Result<Value, String> {
        start(json!({ "start": start_, "time_zone": zone }))
    }

    #[test]
    fn a_local_time_in_a_zone_reads_back_in_its_offset_for_that_date() {
        // Berlin: CEST (+02:00) in summer, CET (+01:00) in winter.
        let summer = zoned("2026-07-15T09:30:00", "Europe/Berlin").unwrap();
        assert_eq!(
            summer,
            json!({ "start": "2026-07-15T09:30:00.000+02:00", "end": null, "time_zone": null })
        );
        let winter = start(
            json!({ "start": "2026-01-15T09:30", "end": "2026-04-01T18:00:00.250",
                                   "time_zone": "Europe/Berlin" }),
        )
        .unwrap();
        assert_eq!(
            winter,
            json!({ "start": "2026-01-15T09:30:00.000+01:00",
                    "end": "2026-04-01T18:00:00.250+02:00", "time_zone": null })
        );
        let new_york = zoned("2026-11-20T08:00:00", "America/New_York").unwrap();
        assert_eq!(new_york["start"], json!("2026-11-20T08:00:00.000-05:00"));
    }

    #[test]
    fn a_time_a_dst_change_skips_or_repeats_takes_the_compatible_offset() {
        // 2026-03-29 02:30 does not exist in Berlin (clocks jump 02:00 →
        // 03:00): moved forward by the gap.
        let gap = zoned("2026-03-29T02:30:00", "Europe/Berlin").unwrap();
        assert_eq!(gap["start"], json!("2026-03-29T03:30:00.000+02:00"));
        // 2026-10-25 02:30 happens twice: the first (summer time) is taken.
        let fold = zoned("2026-10-25T02:30:00", "Europe/Berlin").unwrap();
        assert_eq!(fold["start"], json!("2026-10-25T02:30:00.000+02:00"));
    }

    #[test]
    fn a_zone_with_an_offset_a_bare_date_or_an_unknown_zone_is_refused() {
        for (value, zone, says) in [
            (
                "2026-07-15T09:30:00+02:00",
                "Europe/Berlin",
                "without a UTC offset",
            ),
            (
                "2026-07-15T09:30:00Z",
                "Europe/Berlin",
                "without a UTC offset",
            ),
            ("2026-07-15", "Europe/Berlin", "a date without a time"),
            (
                "2026-07-15T09:30:00",
                "Europe/Atlantis",
                "valid IANA time zone",
            ),
            ("15.07.2026 09:30", "Europe/Berlin", "valid ISO 8601"),
        ] {
            let err = zoned(value, zone).unwrap_err();
            assert!(
                err.contains("validation_error") && err.contains(says),
                "{value} in {zone}: {err}"
            );
        }
    }

    #[test]
    fn without_a_zone_dates_and_offsets_are_kept() {
        let v = start(json!({ "start": "2026-07-15" })).unwrap();
        assert_eq!(
            v,
            json!({ "start": "2026-07-15", "end": null, "time_zone": null })
        );
        let v = start(json!({ "start": "2026-07-15T09:30:00+05:30" })).unwrap();
        assert_eq!(v["start"], json!("2026-07-15T09:30:00.000+05:30"));
        let v = start(json!({ "start": "2026-07-15T09:30" })).unwrap();
        assert_eq!(v["start"], json!("2026-07-15T09:30:00.000+00:00"));
    }
}

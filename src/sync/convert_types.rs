//! The plain types beyond text, options, dates and checkboxes: a Notion
//! multi-select kept in an Airtable text field as a comma-separated list,
//! Airtable `rating` and `duration` fields ↔ Notion numbers, and a Notion
//! date-time written back in the UTC offset the page shows.
//!
//! Airtable keeps what its field options allow and refuses the rest
//! (field model): a rating is a whole number of stars from 1 to
//! `options.max`; a duration is seconds, kept to the decimals its
//! `options.durationFormat` shows (none for `h:mm` and `h:mm:ss`). A value
//! outside that is refused here, before the write, and reported for its own
//! field: never rounded, capped or dropped, so the two sides never disagree
//! about what was stored and one more sweep writes nothing.

use serde_json::Value as Json;
use time::{OffsetDateTime, format_description::well_known::Rfc3339, macros::format_description};

use super::{ConvertError, Kind, Value};

/// A comma-separated text cell as a set of names: trimmed, order and
/// duplicates ignored, empty pieces dropped.
pub fn list_from_text(text: &str) -> Value {
    Value::set(text.split(',').map(str::trim))
}

/// Names as the text Airtable holds: `"a, b"`, sorted as the canonical set is.
pub fn list_to_text(names: &[String]) -> String {
    names.join(", ")
}

/// Whether `value` can be written to an Airtable field of `kind` with these
/// field options as Airtable would store it; the reason otherwise.
pub fn check_airtable_value(
    kind: Kind,
    options: Option<&Json>,
    value: &Value,
) -> Result<(), ConvertError> {
    match (kind, value) {
        (Kind::TextList, Value::Set(names)) => match names.iter().find(|n| n.contains(',')) {
            // Read back, the name would be two names.
            Some(name) => Err(ConvertError::CommaInOption(name.clone())),
            None => Ok(()),
        },
        (Kind::Rating, Value::Number(n)) => check_rating(*n, rating_max(options)),
        (Kind::Duration, Value::Number(n)) => check_duration(*n, duration_decimals(options)),
        (Kind::NotionComputed(fit), v) => super::computed::check_fits(fit, v, "Airtable"),
        (Kind::Body, v) => crate::sync::body::check_airtable(v),
        (Kind::Collaborators(multiple), v) => super::people::check_airtable(v, multiple),
        _ => Ok(()),
    }
}

/// `options.max` of a rating field (1 to 10; Airtable's default is 5).
pub fn rating_max(options: Option<&Json>) -> u64 {
    options.and_then(|o| o["max"].as_u64()).unwrap_or(5)
}

/// The decimals of a second a duration field keeps: 0 for `h:mm` and
/// `h:mm:ss`, 1 to 3 for `h:mm:ss.S`, `.SS` and `.SSS`.
pub fn duration_decimals(options: Option<&Json>) -> usize {
    options
        .and_then(|o| o["durationFormat"].as_str())
        .and_then(|f| f.split_once('.'))
        .map_or(0, |(_, fraction)| fraction.len())
}

fn check_rating(n: f64, max: u64) -> Result<(), ConvertError> {
    if n.fract() != 0.0 || n < 1.0 || n > max as f64 {
        return Err(ConvertError::BadValue(format!(
            "{n} is not a rating Airtable can store: this rating field takes whole stars from 1 to {max}"
        )));
    }
    Ok(())
}

fn check_duration(seconds: f64, decimals: usize) -> Result<(), ConvertError> {
    let scale = 10f64.powi(decimals as i32);
    let scaled = seconds * scale;
    // A tolerance of a millionth of the last kept digit absorbs binary
    // fractions (0.1 s), never a digit the format would drop.
    if !seconds.is_finite() || (scaled - scaled.round()).abs() > 1e-6 {
        let kept = match decimals {
            0 => "whole seconds".to_owned(),
            d => format!("{d} decimal(s) of a second"),
        };
        return Err(ConvertError::BadValue(format!(
            "{seconds} seconds is not a duration this Airtable field can store: its format keeps {kept}"
        )));
    }
    Ok(())
}

/// The reason a pairing of the types this module knows is refused, more
/// precise than "cannot sync" (`None`: no specific reason).
pub fn refusal_reason(notion: &str, airtable: &str) -> Option<String> {
    let reason = match (notion, airtable) {
        ("files", _) => {
            "a Notion files property syncs only with an Airtable attachment \
             (`multipleAttachments`) field: files are copied, never turned into text or links"
        }
        (_, "multipleAttachments") => {
            "an Airtable attachment field syncs only with a Notion `files` property"
        }
        ("multi_select", "richText") => {
            "a multi-select syncs as a comma-separated list only with a plain single line or long \
             text field (rich text would escape the commas)"
        }
        ("multi_select", _) => {
            "a multi-select syncs with a multiple select, or with a single line or long text \
             field as a comma-separated list"
        }
        (_, "rating" | "duration" | "currency" | "percent") => {
            "this Airtable field holds a number: map it to a Notion `number` property"
        }
        ("number", _) => {
            "a Notion number syncs with an Airtable number, currency, percent, rating or duration \
             field"
        }
        ("people", _) => {
            "a Notion people property syncs with an Airtable single or multiple collaborator field \
             (matched by email), or with a single line or long text field holding names"
        }
        (_, "singleCollaborator" | "multipleCollaborators") => {
            "an Airtable collaborator field syncs with a Notion people property"
        }
        ("status", "multipleSelects") => {
            "a status is one option: map it to a single select or a text field"
        }
        _ => return None,
    };
    Some(reason.to_owned())
}

/// A Notion date-time start (or end) for `instant` (canonical, UTC), in the
/// UTC offset the page's current value shows. Notion reads give `time_zone`
/// as null and the zone as an offset (changelog "Time zone support"), so the
/// offset is what can be kept: the instant is the same, and the page keeps
/// showing the time in the zone a person chose.
pub fn in_current_offset(instant: &str, current: Option<&str>) -> String {
    let offset = current
        .and_then(|c| OffsetDateTime::parse(c, &Rfc3339).ok())
        .map(OffsetDateTime::offset);
    let parsed = OffsetDateTime::parse(instant, &Rfc3339).ok();
    let (Some(offset), Some(parsed)) = (offset, parsed) else {
        return instant.to_owned();
    };
    if offset.is_utc() {
        return instant.to_owned();
    }
    let format = format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3][offset_hour sign:mandatory]:[offset_minute]"
    );
    parsed
        .to_offset(offset)
        .format(&format)
        .unwrap_or_else(|_| instant.to_owned())
}

/// A `{"date": {start, end?}}` body of date-times moved into the offset of
/// the page's current start; date-only values are left as they are.
pub fn keep_offset(body: &mut Json, current: Option<&Json>) {
    let current_start = current.and_then(|c| c["date"]["start"].as_str());
    // A date-only current value has no offset to keep.
    if current_start.is_none_or(|s| s.len() <= 10) {
        return;
    }
    for key in ["start", "end"] {
        if let Some(v) = body["date"][key].as_str().filter(|v| v.len() > 10) {
            body["date"][key] = Json::String(in_current_offset(v, current_start));
        }
    }
}

#[cfg(test)]
#[path = "convert_types_tests.rs"]
mod tests;

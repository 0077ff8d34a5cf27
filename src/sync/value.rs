//! Canonical field values: the one form both sides are converted into before
//! they are compared or stored in a snapshot.
//!
//! The form is chosen so that an unchanged value never looks changed: text is
//! the plain text (empty text and a missing value are the same), a
//! multi-select is a sorted set, a date-only value stays a calendar date, and
//! an instant is normalised to UTC with millisecond precision.

use serde::{Deserialize, Serialize};
use time::{
    Date, OffsetDateTime, format_description::well_known::Rfc3339, macros::format_description,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Value {
    /// No value: empty text, no option, no date, no number.
    Empty,
    /// Text, a single option's name, people as names, a URL, an email or a phone number.
    Text(String),
    /// Multi-select option names, sorted and without duplicates.
    Set(Vec<String>),
    Number(f64),
    Bool(bool),
    /// A calendar date without a time, `YYYY-MM-DD`.
    Date(String),
    /// An instant, `YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC.
    DateTime(String),
    /// Files by name and size, sorted (a multiset: order-insensitive, two
    /// copies of one file stay two). Never a URL: both vendors' file URLs
    /// expire, so they are neither stored nor compared.
    Files(Vec<FileRef>),
}

/// One file's identity across both sides: its name and its size in bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FileRef {
    pub name: String,
    pub size: u64,
}

impl FileRef {
    pub fn new(name: impl Into<String>, size: u64) -> Self {
        FileRef {
            name: name.into(),
            size,
        }
    }
}

impl Value {
    /// Text, with the empty string meaning "no value".
    pub fn text(s: impl Into<String>) -> Self {
        let s = s.into();
        if s.is_empty() {
            Value::Empty
        } else {
            Value::Text(s)
        }
    }

    /// An order-insensitive set of names; an empty set is "no value".
    pub fn set<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut v: Vec<String> = names
            .into_iter()
            .map(Into::into)
            .filter(|s| !s.is_empty())
            .collect();
        v.sort();
        v.dedup();
        if v.is_empty() {
            Value::Empty
        } else {
            Value::Set(v)
        }
    }

    /// Files as an order-insensitive multiset; no file is "no value".
    pub fn files(files: impl IntoIterator<Item = FileRef>) -> Self {
        let mut v: Vec<FileRef> = files.into_iter().collect();
        v.sort();
        if v.is_empty() {
            Value::Empty
        } else {
            Value::Files(v)
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Value::Empty)
    }

    /// A short human-readable rendering for logs and the status page.
    pub fn display(&self) -> String {
        match self {
            Value::Empty => "(empty)".into(),
            Value::Text(s) | Value::Date(s) | Value::DateTime(s) => s.clone(),
            Value::Set(v) => v.join(", "),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Files(v) => v
                .iter()
                .map(|f| format!("{} ({} bytes)", f.name, f.size))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// Why a date or time could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is neither a date (YYYY-MM-DD) nor an RFC 3339 date-time")]
pub struct BadDate(pub String);

const DATE_FORMAT: &[time::format_description::FormatItem<'static>] =
    format_description!("[year]-[month]-[day]");

/// A parsed date or instant, before it is fitted to a field's precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Day(Date),
    Instant(OffsetDateTime),
}

impl When {
    pub fn parse(s: &str) -> Result<Self, BadDate> {
        let s = s.trim();
        if let Ok(d) = Date::parse(s, DATE_FORMAT) {
            return Ok(When::Day(d));
        }
        OffsetDateTime::parse(s, &Rfc3339)
            .map(When::Instant)
            .map_err(|_| BadDate(s.to_owned()))
    }

    /// As a calendar date: an instant keeps the day it has in its own offset,
    /// the day the person who typed it saw (never shifted through UTC).
    pub fn to_date_value(self) -> Value {
        let day = match self {
            When::Day(d) => d,
            When::Instant(t) => t.date(),
        };
        Value::Date(format_date(day))
    }

    /// As an instant: a bare date becomes midnight UTC of that day.
    pub fn to_instant_value(self) -> Value {
        let t = match self {
            When::Day(d) => d.midnight().assume_utc(),
            When::Instant(t) => t,
        };
        Value::DateTime(format_instant(t))
    }

    /// Keep whatever precision the value has.
    pub fn to_value(self) -> Value {
        match self {
            When::Day(_) => self.to_date_value(),
            When::Instant(_) => self.to_instant_value(),
        }
    }
}

fn format_date(d: Date) -> String {
    d.format(DATE_FORMAT).expect("a date always formats")
}

/// UTC, millisecond precision, `Z` suffix: the form Airtable returns.
pub fn format_instant(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let ms = t.millisecond();
    let t = t.replace_nanosecond(0).expect("0 ns is valid");
    let base = t.format(&Rfc3339).expect("an instant always formats");
    // Rfc3339 prints `...:SSZ` when nanoseconds are zero; insert the millis.
    format!("{}.{ms:03}Z", base.trim_end_matches('Z'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_text_is_no_value() {
        assert_eq!(Value::text(""), Value::Empty);
        assert_eq!(Value::text(" "), Value::Text(" ".into()));
    }

    #[test]
    fn sets_are_order_insensitive() {
        assert_eq!(Value::set(["b", "a", "b"]), Value::set(["a", "b"]));
        assert_eq!(Value::set(Vec::<String>::new()), Value::Empty);
    }

    #[test]
    fn instants_normalise_to_utc_millis() {
        let w = When::parse("2026-03-01T23:30:00+02:00").unwrap();
        assert_eq!(
            w.to_value(),
            Value::DateTime("2026-03-01T21:30:00.000Z".into())
        );
        let w = When::parse("2026-03-01T21:30:00.123456Z").unwrap();
        assert_eq!(
            w.to_value(),
            Value::DateTime("2026-03-01T21:30:00.123Z".into())
        );
    }

    #[test]
    fn dates_do_not_shift_days() {
        // 23:30 in New York on March 1st is March 2nd in UTC; the date is the 1st.
        let w = When::parse("2026-03-01T23:30:00-05:00").unwrap();
        assert_eq!(w.to_date_value(), Value::Date("2026-03-01".into()));
        assert_eq!(
            When::parse("2026-03-01").unwrap().to_value(),
            Value::Date("2026-03-01".into())
        );
        assert_eq!(
            When::parse("2026-03-01").unwrap().to_instant_value(),
            Value::DateTime("2026-03-01T00:00:00.000Z".into())
        );
        assert!(When::parse("March 1st").is_err());
    }

    #[test]
    fn snapshot_json_round_trips() {
        for v in [
            Value::Empty,
            Value::text("Ready"),
            Value::set(["x"]),
            Value::Number(1.5),
            Value::Bool(false),
            Value::Date("2026-01-02".into()),
            Value::files([FileRef::new("mock.png", 12)]),
        ] {
            let json = serde_json::to_string(&v).unwrap();
            assert_eq!(serde_json::from_str::<Value>(&json).unwrap(), v);
        }
    }
}

//! Small pieces of the status page's HTML, written with `maud`: every value
//! interpolated into its `html!` templates is escaped (every value shown on
//! the page comes from users or vendors). Times, durations, JSON values,
//! links to both sides, and tables that stack into cards on a phone.

use maud::{Markup, html};
use serde_json::Value;
use time::{OffsetDateTime, format_description::well_known::Rfc3339, macros::format_description};

/// Longest value shown in a cell; the rest is cut (the full value is in the
/// sync log and the admin API).
const MAX_VALUE_CHARS: usize = 300;

/// Text in the muted color ("never", "(empty)", "—").
pub(super) fn muted(text: &str) -> Markup {
    html! { span.muted { (text) } }
}

/// A point in time: the UTC date and time, and how long ago (or until) it is
/// relative to `now`, in a `<time>` element.
pub(super) fn when(at_ms: i64, now_ms: i64) -> Markup {
    let Some(at) = datetime(at_ms) else {
        return html! { (at_ms) };
    };
    let iso = at.format(&Rfc3339).unwrap_or_default();
    let shown = at
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
        ))
        .unwrap_or_default();
    html! { time datetime=(iso) title=(shown) { (relative(at_ms, now_ms)) } }
}

/// `when`, or "never" when there is no time.
pub(super) fn when_opt(at_ms: Option<i64>, now_ms: i64) -> Markup {
    match at_ms {
        Some(at) => when(at, now_ms),
        None => muted("never"),
    }
}

fn datetime(at_ms: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000).ok()
}

/// "3 min ago", "in 6 d 23 h", "just now".
pub(super) fn relative(at_ms: i64, now_ms: i64) -> String {
    let delta = now_ms.saturating_sub(at_ms);
    if delta.abs() < 1000 {
        return "just now".to_owned();
    }
    let span = duration(delta.unsigned_abs());
    if delta > 0 {
        format!("{span} ago")
    } else {
        format!("in {span}")
    }
}

/// A duration in milliseconds, to the two largest units.
pub(super) fn duration(ms: u64) -> String {
    let secs = ms / 1000;
    match secs {
        0 => format!("{ms} ms"),
        1..60 => format!("{secs} s"),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        3600..86400 => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
        _ => format!("{} d {} h", secs / 86400, secs % 86400 / 3600),
    }
}

/// A synced value as a person reads it: text without quotes, lists joined,
/// nothing as an empty marker; long values cut. The sync log holds the
/// engine's canonical values, `{"type": "text", "value": "P1"}`.
pub(super) fn value(value: Option<&Value>) -> Markup {
    let text = value.map(plain).unwrap_or_default();
    if text.is_empty() {
        return muted("(empty)");
    }
    html! { (cut(&text, MAX_VALUE_CHARS)) }
}

/// The text of a canonical value (lists joined, nothing as "").
pub(super) fn plain(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
        Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(", "),
        Value::Object(tagged) if tagged.contains_key("type") => {
            tagged.get("value").map(plain).unwrap_or_default()
        }
        other => other.to_string(),
    }
}

/// At most `max` characters, with an ellipsis when cut.
pub(super) fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// Ids are put in link paths only when they look like ids: anything else is
/// shown as text, so a strange value can never shape a URL.
fn id_like(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The Notion page, linked (`https://www.notion.so/<id without dashes>`).
pub(super) fn notion_link(page_id: &str) -> Markup {
    if !id_like(page_id) {
        return html! { code { (page_id) } };
    }
    let bare: String = page_id.chars().filter(|c| *c != '-').collect();
    html! {
        a href={ "https://www.notion.so/" (bare) } rel="noreferrer" target="_blank" { "Notion ↗" }
    }
}

/// The Airtable record, linked when the pair's base and table are known
/// (`https://airtable.com/<base>/<table>/<record>`).
pub(super) fn airtable_link(table: Option<(&str, &str)>, record_id: &str) -> Markup {
    match table {
        Some((base, table)) if [base, table, record_id].iter().all(|id| id_like(id)) => html! {
            a href={ "https://airtable.com/" (base) "/" (table) "/" (record_id) }
                rel="noreferrer" target="_blank" { "Airtable ↗" }
        },
        _ => html! { code { (record_id) } },
    }
}

/// A status word with its color.
pub(super) fn badge(tone: Tone, text: &str) -> Markup {
    html! { span.badge.(tone.as_str()) { (text) } }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tone {
    Good,
    Warn,
    Bad,
    Quiet,
}

impl Tone {
    fn as_str(self) -> &'static str {
        match self {
            Tone::Good => "good",
            Tone::Warn => "warn",
            Tone::Bad => "bad",
            Tone::Quiet => "quiet",
        }
    }
}

/// A table whose cells carry their column's name, so that on a narrow
/// screen each row becomes a card of labelled lines (see the CSS).
pub(super) fn table(class: &str, headers: &[&str], rows: &[Vec<Markup>]) -> Markup {
    html! {
        div.table-wrap {
            table class={ "stack " (class) } {
                thead { tr { @for h in headers { th scope="col" { (h) } } } }
                tbody { @for row in rows { (table_row(headers, row)) } }
            }
        }
    }
}

fn table_row(headers: &[&str], cells: &[Markup]) -> Markup {
    html! {
        tr {
            // One child, so that the stacked layout's grid has two items:
            // the label and the whole cell.
            @for (cell, h) in cells.iter().zip(headers) {
                td data-label=(h) { div { (cell) } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn text_and_attributes_are_escaped() {
        let hostile = r#"<script>alert("x")</script> & 'y'"#;
        assert_eq!(
            badge(Tone::Bad, hostile).into_string(),
            "<span class=\"badge bad\">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; 'y'</span>"
        );
        let cell = table(hostile, &[hostile], &[vec![html! { "v" }]]).into_string();
        assert!(!cell.contains("<script>"), "{cell}");
        assert!(
            cell.contains("data-label=\"&lt;script&gt;alert(&quot;x&quot;)"),
            "{cell}"
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(450), "450 ms");
        assert_eq!(duration(42_000), "42 s");
        assert_eq!(duration(125_000), "2 min 5 s");
        assert_eq!(duration(3 * 3_600_000 + 60_000), "3 h 1 min");
        assert_eq!(duration(6 * 86_400_000 + 23 * 3_600_000), "6 d 23 h");
        assert_eq!(relative(0, 120_000), "2 min 0 s ago");
        assert_eq!(relative(120_000, 0), "in 2 min 0 s");
    }

    #[test]
    fn times_are_time_elements() {
        assert_eq!(
            when(0, 120_000).into_string(),
            "<time datetime=\"1970-01-01T00:00:00Z\" title=\"1970-01-01 00:00:00 UTC\">2 min 0 s ago</time>"
        );
        assert!(when_opt(None, 0).into_string().contains("never"));
    }

    fn shown(v: Option<&Value>) -> String {
        value(v).into_string()
    }

    #[test]
    fn values_are_plain_escaped_and_cut() {
        assert_eq!(shown(Some(&json!("P1"))), "P1");
        assert_eq!(shown(Some(&json!({"type": "text", "value": "P1"}))), "P1");
        assert_eq!(
            shown(Some(&json!({"type": "set", "value": ["a", "b"]}))),
            "a, b"
        );
        assert_eq!(shown(Some(&json!({"type": "number", "value": 2.5}))), "2.5");
        assert_eq!(shown(Some(&json!({"type": "bool", "value": true}))), "yes");
        assert!(shown(Some(&json!({"type": "empty"}))).contains("(empty)"));
        assert_eq!(shown(Some(&json!(["a", "b<"]))), "a, b&lt;");
        assert!(shown(None).contains("(empty)"));
        assert!(shown(Some(&json!(""))).contains("(empty)"));
        let long = "x".repeat(400);
        assert_eq!(
            shown(Some(&json!(long))).chars().count(),
            MAX_VALUE_CHARS + 1
        );
    }

    #[test]
    fn links_are_built_only_from_id_like_values() {
        assert!(
            notion_link("36cc9195-760f-4fff-a67e-3a46c559b176")
                .into_string()
                .contains("https://www.notion.so/36cc9195760f4fffa67e3a46c559b176")
        );
        assert!(
            !notion_link("javascript:alert(1)")
                .into_string()
                .contains("href")
        );
        let t = Some(("appA", "tblB"));
        assert!(
            airtable_link(t, "recC")
                .into_string()
                .contains("https://airtable.com/appA/tblB/recC")
        );
        assert!(!airtable_link(None, "recC").into_string().contains("href"));
        let odd = airtable_link(t, "rec\"><x").into_string();
        assert!(
            !odd.contains("href") && odd.contains("rec&quot;&gt;&lt;x"),
            "{odd}"
        );
    }
}

//! Logging setup: human-readable text by default, one JSON object per line
//! with `LOG_FORMAT=json`. Verbosity follows `RUST_LOG` (default `info`).
//!
//! Work on one record runs inside a `job` span (see [`job_span`]) carrying
//! `job_id`, `kind`, `pair` and `page_id` / `record_id` / `webhook_id` where
//! they apply. The text format prints the span before the message
//! (`job{job_id=7 kind="reconcile_page" pair="specs" ...}: ...`); the JSON
//! format copies the fields of every enclosing span into the line itself, so
//! that `jq 'select(.page_id == "...")'` finds everything about a record.
//!
//! Secrets never reach a log line: tokens are [`crate::secret::Secret`]s,
//! whose `Debug` and `Display` are redacted.

use std::fmt;

use serde_json::{Map, Value};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use tracing::{Event, Subscriber, field::Field};
use tracing_subscriber::{
    EnvFilter,
    fmt::{
        FmtContext, FormatEvent, FormattedFields,
        format::{JsonFields, Writer},
    },
    registry::LookupSpan,
};

use crate::config::LogFormat;

/// Install the global subscriber. Logs go to stderr so that commands can
/// keep stdout for their output (e.g. the sandbox's JSON line).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal: a file or `docker logs` gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    // try_init: a second call (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson)
            .try_init(),
    };
}

/// What a job is about, for its span: the ids that apply to its kind.
#[derive(Debug, Clone, Copy, Default)]
pub struct JobFields<'a> {
    pub pair: Option<&'a str>,
    pub page_id: Option<&'a str>,
    pub record_id: Option<&'a str>,
    pub webhook_id: Option<&'a str>,
}

/// The span one job runs in. Fields that do not apply to the job's kind
/// stay empty and are left out of the lines.
pub fn job_span(job_id: i64, kind: &str, fields: JobFields<'_>) -> tracing::Span {
    let span = tracing::info_span!(
        "job",
        job_id,
        kind,
        pair = tracing::field::Empty,
        page_id = tracing::field::Empty,
        record_id = tracing::field::Empty,
        webhook_id = tracing::field::Empty,
    );
    let named = [
        ("pair", fields.pair),
        ("page_id", fields.page_id),
        ("record_id", fields.record_id),
        ("webhook_id", fields.webhook_id),
    ];
    for (name, value) in named {
        if let Some(value) = value {
            span.record(name, value);
        }
    }
    span
}

/// One flat JSON object per event: `timestamp`, `level`, `target`, the
/// fields of every enclosing span (outermost first, so an inner span's value
/// wins), `span` (the span names, `:`-joined), then the event's own fields,
/// `message` included.
struct FlatJson;

impl<S> FormatEvent<S, JsonFields> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        let now = OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_default();
        line.insert("timestamp".into(), now.into());
        line.insert("level".into(), meta.level().as_str().into());
        line.insert("target".into(), meta.target().into());
        if let Some(scope) = ctx.event_scope() {
            let mut names = Vec::new();
            for span in scope.from_root() {
                names.push(span.name());
                let extensions = span.extensions();
                let Some(fields) = extensions.get::<FormattedFields<JsonFields>>() else {
                    continue;
                };
                // JsonFields stores a span's fields as a JSON object (empty
                // when the span has none).
                if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(fields) {
                    line.extend(map);
                }
            }
            line.insert("span".into(), names.join(":").into());
        }
        event.record(&mut Fields(&mut line));
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// Collects an event's fields into the line.
struct Fields<'a>(&'a mut Map<String, Value>);

impl tracing::field::Visit for Fields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name().into(), value.to_string().into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

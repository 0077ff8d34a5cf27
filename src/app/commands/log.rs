//! `log`: the sync log, newest first, as a table or JSON lines, with the
//! same filters as `GET /api/log` (pair, record, time) and the same paging
//! (pass the smallest `id` seen as `--before`).

use std::io::Write;

use time::{OffsetDateTime, macros::format_description};

use super::open_store;
use crate::{
    config::Env,
    store::{LogEntry, LogQuery, now_ms},
};

/// Filters of the `log` command.
#[derive(Debug, Clone, Default)]
pub struct LogArgs {
    pub pair: Option<String>,
    pub record: Option<String>,
    /// See [`crate::store::parse_since`].
    pub since: Option<String>,
    /// Only the lines of one engine run.
    pub run: Option<String>,
    /// Only entries with a smaller id (the next page).
    pub before: Option<i64>,
    pub json: bool,
    pub limit: i64,
}

/// `log`: prints the entries; a table ends with the `--before` value for
/// the next page when the page is full.
pub async fn log(env: &Env, args: &LogArgs) -> anyhow::Result<()> {
    let since = args
        .since
        .as_deref()
        .map(|s| crate::store::parse_since(s, now_ms()).map_err(|e| anyhow::anyhow!("--since {e}")))
        .transpose()?;
    let store = open_store(env).await?;
    let limit = if args.limit > 0 { args.limit } else { 100 };
    let query = LogQuery {
        pair: args.pair.clone(),
        record: args.record.clone(),
        since,
        before_id: args.before,
        conflicts_only: false,
        run: args.run.clone(),
        limit,
    };
    let entries = store.query_log(&query).await?;
    let mut out = std::io::stdout().lock();
    if args.json {
        for e in &entries {
            writeln!(out, "{}", serde_json::to_string(e)?)?;
        }
        return Ok(());
    }
    if entries.is_empty() {
        writeln!(out, "(no entries)")?;
        return Ok(());
    }
    writeln!(out, "{}", table_header())?;
    for e in &entries {
        writeln!(out, "{}", table_line(e))?;
    }
    if entries.len() as i64 == limit {
        if let Some(last) = entries.last() {
            writeln!(out, "(more: add --before {})", last.id)?;
        }
    }
    Ok(())
}

fn table_header() -> String {
    format!(
        "{:<6} {:<20} {:<8} {:<16} {:<8} {:<18} {:<16} {:<38} {}",
        "ID",
        "TIME (UTC)",
        "PAIR",
        "RUN",
        "ACTION",
        "DIRECTION",
        "FIELD",
        "CHANGE",
        "RECORD / CAUSE"
    )
}

fn table_line(e: &LogEntry) -> String {
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(e.at) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second]"
            ))
            .ok()
        })
        .unwrap_or_default();
    let change = if e.field.is_some() {
        format!(
            "{} → {}",
            shown(e.old_value.as_ref()),
            shown(e.new_value.as_ref())
        )
    } else {
        "-".to_owned()
    };
    let mut why = e.cause.as_str().to_owned();
    if e.conflict {
        let winner = e.winner.map_or("?", |w| w.as_str());
        why.push_str(&format!(", conflict won by {winner}"));
    }
    if let Some(detail) = &e.detail {
        why.push_str(&format!(": {detail}"));
    }
    format!(
        "{:<6} {:<20} {:<8} {:<16} {:<8} {:<18} {:<16} {:<38} {} / {} [{why}]",
        e.id,
        at,
        e.pair,
        e.run_id.as_deref().unwrap_or("-"),
        e.action.as_str(),
        e.direction.as_str(),
        e.field.as_deref().unwrap_or("-"),
        change,
        e.notion_page_id.as_deref().unwrap_or("-"),
        e.airtable_record_id.as_deref().unwrap_or("-"),
    )
}

/// A logged value (`{"type": ..., "value": ...}`) as a short string.
fn shown(v: Option<&serde_json::Value>) -> String {
    let Some(v) = v else { return "-".to_owned() };
    let text = match &v["value"] {
        serde_json::Value::Null => "(empty)".to_owned(),
        serde_json::Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    };
    if text.chars().count() > 40 {
        let cut: String = text.chars().take(39).collect();
        return format!("{cut}…");
    }
    text
}

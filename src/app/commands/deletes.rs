//! `deletes list|approve|reject`: the delete review queue on the command
//! line, the same entries as `GET /api/deletes` and the status page. A
//! decision enqueues the record's reconcile job; a running `serve` carries
//! it out through the engine.

use std::io::Write;

use time::{OffsetDateTime, macros::format_description};

use super::open_store;
use crate::{
    config::Env,
    jobs::review::{decide, refusal},
    store::{Decided, DeleteReview, ReviewState, Verdict},
};

/// How many entries `deletes list` prints at most, newest first.
const LIST_LIMIT: i64 = 500;

/// Filters of `deletes list`.
#[derive(Debug, Clone, Default)]
pub struct DeletesListArgs {
    pub pair: Option<String>,
    /// `pending` by default; `all` for every state.
    pub state: Option<String>,
    pub json: bool,
}

/// `deletes list`: a table, or JSON lines.
pub async fn deletes_list(env: &Env, args: &DeletesListArgs) -> anyhow::Result<()> {
    let state = match args.state.as_deref().unwrap_or("pending") {
        "all" => None,
        s => Some(s.parse::<ReviewState>().map_err(|_| {
            anyhow::anyhow!("--state {s}: use pending, approved, rejected, cleared, done or all")
        })?),
    };
    let store = open_store(env).await?;
    let entries = store
        .list_delete_reviews(args.pair.as_deref(), state, LIST_LIMIT)
        .await?;
    let mut out = std::io::stdout().lock();
    if args.json {
        for e in &entries {
            writeln!(out, "{}", serde_json::to_string(e)?)?;
        }
        return Ok(());
    }
    if entries.is_empty() {
        writeln!(
            out,
            "(no {} deletes)",
            state.map_or("held", ReviewState::as_str)
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<5} {:<9} {:<20} {:<10} {:<20} {:<38} {:<18} REASON",
        "ID", "STATE", "DETECTED (UTC)", "PAIR", "WOULD", "NOTION PAGE", "AIRTABLE ROW"
    )?;
    for e in &entries {
        writeln!(out, "{}", line(e))?;
    }
    Ok(())
}

fn line(e: &DeleteReview) -> String {
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(e.detected_at) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second]"
            ))
            .ok()
        })
        .unwrap_or_default();
    let mut reason = e.reason.clone();
    if let Some(outcome) = &e.outcome {
        reason.push_str(&format!(" [{outcome}]"));
    }
    format!(
        "{:<5} {:<9} {:<20} {:<10} {:<20} {:<38} {:<18} {reason}",
        e.id,
        e.state.as_str(),
        at,
        e.pair,
        e.action.as_str(),
        e.notion_page_id,
        e.airtable_record_id.as_deref().unwrap_or("-"),
    )
}

/// `deletes approve ID` / `deletes reject ID`: decide a pending entry; an
/// unknown or already decided one is an error that changes nothing.
pub async fn deletes_decide(env: &Env, id: i64, verdict: Verdict) -> anyhow::Result<()> {
    let store = open_store(env).await?;
    let decided = decide(&store, id, verdict, "command line").await?;
    if let Some(why) = refusal(id, &decided) {
        anyhow::bail!(why);
    }
    if let Decided::Done { entry, job_id } = decided {
        let what = match verdict {
            Verdict::Approve => "approved: the delete is made by the record's reconcile",
            Verdict::Reject => "rejected: the delete is never made for this event",
        };
        println!(
            "delete review {id} ({} of page {}) {what} (job {job_id})",
            entry.action, entry.notion_page_id
        );
    }
    Ok(())
}

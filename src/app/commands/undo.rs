//! `undo ENTRY_ID | --run RUN_ID | --since TIME [--pair P] [--dry-run]`:
//! take the service's own logged changes back through the engine
//! (`Engine::undo`), and print what was put back and what was left alone.

use std::{fmt::Write as _, io::Write as _, sync::Arc};

use super::{open_store, resolve_pairs, shared_clients};
use crate::{
    config::Env,
    engine::{Engine, new_run_id},
    store::now_ms,
    sync::undo::{UndoReport, parse_selection},
};

/// The arguments of `undo`.
#[derive(Debug, Clone, Default)]
pub struct UndoArgs {
    pub entry: Option<i64>,
    pub run: Option<String>,
    pub since: Option<String>,
    pub pair: Option<String>,
    pub dry_run: bool,
    pub json: bool,
}

/// `undo`: the selection is checked before anything is opened, so a bad
/// one changes nothing.
pub async fn undo(env: &Env, args: &UndoArgs) -> anyhow::Result<UndoReport> {
    let selection = parse_selection(
        args.entry,
        args.run.as_deref(),
        args.since.as_deref(),
        args.pair.as_deref(),
        now_ms(),
    )
    .map_err(anyhow::Error::msg)?;
    let config = env.load_sync_config()?;
    let store = open_store(env).await?;
    let (notion, airtable) = shared_clients(env, &store)?;
    let pairs = resolve_pairs(&config, args.pair.as_deref(), &notion, &airtable).await?;
    let pairs: Vec<Arc<_>> = pairs.into_iter().map(Arc::new).collect();
    let engine = Engine::new(notion, airtable, store).with_run(new_run_id());
    let report = engine.undo(&pairs, &selection, args.dry_run).await?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
    } else {
        write!(out, "{}", render(&report))?;
    }
    Ok(report)
}

/// The report for people: one line per field put back or left alone.
pub fn render(report: &UndoReport) -> String {
    let mut out = String::new();
    let head = match (&report.run_id, report.dry_run) {
        (_, true) => "undo (dry run: nothing written)".to_owned(),
        (Some(run), false) => format!("undo run {run} (undo it with: undo --run {run})"),
        (None, false) => "undo".to_owned(),
    };
    let _ = writeln!(
        out,
        "{head}: {} entries selected, {} reverted, {} not reverted",
        report.selected,
        report.reverted.len(),
        report.skipped.len()
    );
    let verb = if report.dry_run {
        "would revert"
    } else {
        "reverted"
    };
    for r in &report.reverted {
        let what = match (&r.field, &r.from, &r.to) {
            (Some(field), Some(from), Some(to)) => {
                format!(
                    "{field}: {} → {} on both sides",
                    from.display(),
                    to.display()
                )
            }
            _ => "the page's move to the trash".to_owned(),
        };
        let _ = writeln!(
            out,
            "  {verb} {} · page {} · {what}",
            ids(&r.entries),
            r.page_id
        );
    }
    for s in &report.skipped {
        let field = s
            .field
            .as_deref()
            .map(|f| format!(" · {f}"))
            .unwrap_or_default();
        let page = s.page_id.as_deref().unwrap_or("-");
        let mut line = format!(
            "  not reverted {} · page {page}{field}: {}",
            ids(&s.entries),
            s.reason
        );
        if let (Some(n), Some(a)) = (&s.notion_now, &s.airtable_now) {
            let _ = write!(
                line,
                " (now: Notion {}, Airtable {})",
                n.display(),
                a.display()
            );
        }
        let _ = writeln!(out, "{line}");
    }
    for w in &report.planned_writes {
        let _ = writeln!(out, "  would write: {w}");
    }
    out
}

fn ids(entries: &[i64]) -> String {
    let list: Vec<String> = entries.iter().map(|e| format!("#{e}")).collect();
    list.join(", ")
}

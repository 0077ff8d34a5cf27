//! The initial sync of the team's 47 specs and of N specs (1,000 and
//! 50,000) with the vendors' real limits (Notion 3/s, Airtable 5/s per base
//! and its 30-second penalty), each at 250 ms API latency (what the real
//! APIs answer in) and at 0 ms; then an incremental sweep of the first N
//! records with 10 changed (5 in each tool).
//!
//! Each sync is the `reconcile` command of the release binary, timed from
//! spawn to exit (start-up, schema resolution and the sweep). For the
//! incremental sweep, the large workspace is seeded and synced with the
//! sandbox clocks an hour back, then the clocks return to now and the 10
//! edits are made: as if the last sweep ran an hour ago, as it would have
//! in production (sweeps every 15 minutes), without waiting an hour.

use std::time::Duration;

use serde_json::json;

use crate::{
    Settings,
    report::{Report, Row, Verdict, secs},
    sandboxes::{SandboxOpts, Sandboxes},
    service::{Backend, TempDir, reconcile, write_config},
};

/// Target of the 47-spec initial sync.
const TEAM_TARGET: Duration = Duration::from_secs(3);
/// Slack over the bound the large initial sync may take, at 250 ms API
/// latency and at 0 ms.
const SLACK_AT_LATENCY: f64 = 1.10;
const SLACK_AT_ZERO: f64 = 1.05;
/// API latency of the realistic runs.
const LATENCY_MS: u64 = 250;
/// Peak RSS of the largest initial sync, MiB.
const RSS_TARGET_MIB: f64 = 150.0;

pub async fn run(settings: &Settings, report: &mut Report) {
    if let Err(e) = team(settings, report).await {
        report.push(Row::skipped(
            "initial sync, 47 specs",
            "SQLite",
            format!("{e:#}"),
        ));
    }
    for (i, &n) in settings.big_ns.iter().enumerate() {
        for latency_ms in [LATENCY_MS, 0] {
            // The incremental sweep follows the first large sync.
            let then_incremental = i == 0 && latency_ms == 0;
            if let Err(e) = large(settings, n, latency_ms, then_incremental, report).await {
                report.push(Row::skipped(
                    &format!("initial sync, {n} specs"),
                    format!("SQLite, {latency_ms} ms API latency"),
                    format!("{e:#}"),
                ));
            }
        }
    }
}

/// The lower bound of an initial sync of `n` specs with the real limits:
/// reading ceil(n/100) pages of Notion at 3/s, writing ceil(n/10) batches
/// to Airtable at 5/s, whichever is longer.
pub fn bound_secs(n: usize) -> f64 {
    let notion = n.div_ceil(100) as f64 / 3.0;
    let airtable = n.div_ceil(10) as f64 / 5.0;
    notion.max(airtable)
}

async fn team(settings: &Settings, report: &mut Report) -> anyhow::Result<()> {
    let sb = Sandboxes::start(SandboxOpts::default()).await?;
    let dir = TempDir::new("sync47")?;
    write_config(&dir.0, &sb, 2000)?;
    let db = Backend::Sqlite.fresh_database(&dir.0).await?;
    let run = reconcile(&settings.serve_bin, &dir.0, &sb, &db, true).await?;
    let rows = sb.rows().len();
    let calls = sb.calls();
    let met = run.elapsed <= TEAM_TARGET && rows == 47 && calls.status(429) == 0;
    report.push(
        Row::new(
            "initial sync, 47 specs",
            "SQLite, real limits (Notion 3/s, Airtable 5/s, 30 s penalty), `reconcile --full`",
        )
        .measured(format!(
            "{} ({rows} rows; {} Notion + {} Airtable calls, {} 429s)",
            secs(run.elapsed),
            calls.notion_total(),
            calls.airtable_total(),
            calls.status(429)
        ))
        .target(format!("≤ {}", secs(TEAM_TARGET)))
        .bound(format!("{:.1} s", bound_secs(47)))
        .verdict(Verdict::of(met)),
    );
    Ok(())
}

async fn large(
    settings: &Settings,
    n: usize,
    latency_ms: u64,
    then_incremental: bool,
    report: &mut Report,
) -> anyhow::Result<()> {
    let sb = Sandboxes::start(SandboxOpts {
        clock_offset: -3600,
        latency_ms,
        ..SandboxOpts::default()
    })
    .await?;
    sb.add_specs(n.saturating_sub(sb.team_n.page_ids.len()))?;
    let dir = TempDir::new("sync-large")?;
    write_config(&dir.0, &sb, 2000)?;
    let db = Backend::Sqlite.fresh_database(&dir.0).await?;
    let run = reconcile(&settings.serve_bin, &dir.0, &sb, &db, true).await?;
    let rows = sb.rows().len();
    let calls = sb.calls();
    let bound = bound_secs(n);
    let slack = if latency_ms == 0 {
        SLACK_AT_ZERO
    } else {
        SLACK_AT_LATENCY
    };
    let limit = Duration::from_secs_f64(bound * slack);
    let rss_mib = run.peak_rss_kib as f64 / 1024.0;
    // The memory target is set for the largest sync.
    let rss_counts = n >= 50_000;
    let met = run.elapsed <= limit
        && rows == n
        && calls.status(429) == 0
        && (!rss_counts || rss_mib <= RSS_TARGET_MIB);
    let ratio = run.elapsed.as_secs_f64() / bound;
    let rss_target = if rss_counts {
        format!(", peak RSS ≤ {RSS_TARGET_MIB} MB")
    } else {
        String::new()
    };
    report.push(
        Row::new(
            &format!("initial sync, {n} specs"),
            format!("SQLite, real limits, {latency_ms} ms API latency, `reconcile --full`"),
        )
        .measured(format!(
            "{} = {ratio:.3} × the bound ({rows} rows; {} Notion + {} Airtable calls, {} 429s; peak RSS {rss_mib:.1} MiB)",
            secs(run.elapsed),
            calls.notion_total(),
            calls.airtable_total(),
            calls.status(429)
        ))
        .target(format!(
            "≤ {slack} × bound = {}, 0 429s{rss_target}",
            secs(limit)
        ))
        .bound(format!("max(ceil(N/100)/3, ceil(N/10)/5) = {bound:.1} s"))
        .raw("n", n)
        .raw("latency_ms", latency_ms)
        .raw("seconds", run.elapsed.as_secs_f64())
        .raw("bound_seconds", bound)
        .raw("ratio", ratio)
        .raw("rows", rows)
        .raw("notion_calls", calls.notion_total())
        .raw("airtable_calls", calls.airtable_total())
        .raw("status_429", calls.status(429))
        .raw("peak_rss_mib", rss_mib)
        .verdict(Verdict::of(met)),
    );
    if then_incremental {
        incremental(n, &sb, &dir, &db, settings, report).await?;
    }
    Ok(())
}

/// 5 Notion edits and 5 Airtable edits, then an incremental `reconcile`.
async fn incremental(
    n: usize,
    sb: &Sandboxes,
    dir: &TempDir,
    db: &str,
    settings: &Settings,
    report: &mut Report,
) -> anyhow::Result<()> {
    sb.set_clocks(0).await?;
    let pages = &sb.team_n.page_ids;
    // No seeded spec has P3 among the first five, so each edit is a change.
    for page in &pages[0..5] {
        sb.update_page(page, json!({ "Priority": { "select": { "name": "P3" } } }))?;
    }
    let rows = sb.rows();
    for (i, page) in pages[5..10].iter().enumerate() {
        let row = rows
            .iter()
            .find(|r| r["fields"]["Notion Page ID"] == json!(page))
            .ok_or_else(|| anyhow::anyhow!("no row for page {page}"))?;
        let id = row["id"].as_str().unwrap_or_default();
        sb.update_row(id, json!({ "Sprint": format!("Sprint {}", 40 + i) }))?;
    }
    // Sweeps are 15 minutes apart in production: let the last second of
    // the initial sync's Airtable requests leave the base's one-second
    // window, or the new process's first request could be the sixth in it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    sb.reset_calls();
    let run = reconcile(&settings.serve_bin, &dir.0, sb, db, false).await?;
    let calls = sb.calls();
    let (nl, al) = (calls.notion_lists(), calls.airtable_lists());
    let met = nl <= 2 && al <= 2;
    report.push(
        Row::new(
            &format!("incremental sweep, {n} records, 10 changed"),
            "SQLite, real limits, `reconcile` (5 edits in Notion, 5 in Airtable)",
        )
        .measured(format!(
            "{nl} Notion list calls, {al} Airtable list calls; {} writes; {} calls in all; {}",
            calls.writes(),
            calls.total(),
            secs(run.elapsed)
        ))
        .target("≤ 2 list calls per side + the writes")
        .raw("notion_lists", nl)
        .raw("airtable_lists", al)
        .raw("writes", calls.writes())
        .raw("calls", calls.total())
        .raw("seconds", run.elapsed.as_secs_f64())
        .verdict(Verdict::of(met)),
    );
    report.note(format!(
        "incremental sweep calls: {}; summary: {}",
        calls.describe(),
        run.stdout.trim()
    ));
    Ok(())
}

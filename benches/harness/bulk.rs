//! Bulk edits: a person pastes one value over N rows in Airtable (one
//! action, one webhook payload), or changes N pages in Notion (N events),
//! with the vendors' real limits and 250 ms API latency, through the real
//! `serve` with webhooks both ways and the shipped 2 s debounce. Measured
//! from the edit until every record shows the value on the other side:
//! the time, the API calls (every call of the run: payload fetches, reads,
//! writes), and whether any job died. The time is also split: when the last
//! webhook delivery about the edit was acknowledged, the shipped debounce,
//! and what the service took after both, so a miss shows where it comes from.

use std::time::{Duration, Instant};

use notion_airtable_sandbox::common::DeliveryRecord;
use serde_json::json;
use time::OffsetDateTime;

use crate::{
    Settings,
    report::{Report, Row, Verdict, secs},
    sandboxes::{SandboxOpts, Sandboxes},
    service::{Backend, Serve, ServeOpts, wait_idle},
};

const LATENCY_MS: u64 = 250;
const SLACK: f64 = 1.10;
const DEBOUNCE_MS: u64 = 2000;

pub async fn run(settings: &Settings, report: &mut Report) {
    let (airtable_n, notion_n) = settings.bulk;
    if let Err(e) = airtable_paste(settings, airtable_n, report).await {
        report.push(Row::skipped(
            &format!("bulk edit in Airtable, {airtable_n} rows"),
            "SQLite",
            format!("{e:#}"),
        ));
    }
    if let Err(e) = notion_edits(settings, notion_n, report).await {
        report.push(Row::skipped(
            &format!("bulk edit in Notion, {notion_n} pages"),
            "SQLite",
            format!("{e:#}"),
        ));
    }
}

/// N specs synced an hour ago (as if the last sweep ran then), webhooks on.
async fn synced(settings: &Settings, n: usize) -> anyhow::Result<(Sandboxes, Serve)> {
    let sb = Sandboxes::start(SandboxOpts {
        latency_ms: LATENCY_MS,
        clock_offset: -3600,
        ..SandboxOpts::default()
    })
    .await?;
    sb.add_specs(n.saturating_sub(sb.team_n.page_ids.len()))?;
    let serve = Serve::start(
        &settings.serve_bin,
        &sb,
        &Backend::Sqlite,
        ServeOpts {
            debounce_ms: DEBOUNCE_MS,
            webhooks: true,
            role: None,
        },
    )
    .await?;
    let store = serve.store().await?;
    let deadline = Instant::now() + Duration::from_secs(600 + n as u64 / 2);
    while sb.rows().len() < n {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the start-up sweep did not create the {n} rows in time"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wait_idle(&store, Duration::from_secs(3), Duration::from_secs(600)).await;
    store.close().await;
    sb.set_clocks(0).await?;
    // Let the start-up's last requests leave the vendors' windows.
    tokio::time::sleep(Duration::from_secs(2)).await;
    sb.reset_calls();
    Ok((sb, serve))
}

/// Wait until `done` holds (checked every 500 ms of the sandboxes' state,
/// no API call), at most `limit`; the time from `since`.
async fn until(since: Instant, limit: Duration, done: impl Fn() -> bool) -> Option<Duration> {
    loop {
        if done() {
            return Some(since.elapsed());
        }
        if since.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Seconds from `since` to the last acknowledged delivery at or after it
/// (the sandboxes stamp deliveries with their own clocks, at offset 0 here).
fn last_delivery(deliveries: &[DeliveryRecord], since: OffsetDateTime) -> Option<f64> {
    deliveries
        .iter()
        .filter(|d| d.at >= since && d.status.is_some_and(|s| (200..300).contains(&s)))
        .map(|d| (d.at - since).as_seconds_f64())
        .reduce(f64::max)
}

async fn airtable_paste(settings: &Settings, n: usize, report: &mut Report) -> anyhow::Result<()> {
    let (sb, serve) = synced(settings, n).await?;
    let value = "Sprint bulk";
    let paste: Vec<(String, serde_json::Value)> = sb
        .rows()
        .iter()
        .filter_map(|r| {
            r["id"]
                .as_str()
                .map(|id| (id.to_owned(), json!({ "Sprint": value })))
        })
        .collect();
    let all_pages: Vec<String> = sb
        .rows()
        .iter()
        .filter_map(|r| r["fields"]["Notion Page ID"].as_str().map(str::to_owned))
        .collect();
    let started = Instant::now();
    let wall_start = OffsetDateTime::now_utc();
    sb.airtable
        .update_records_as_person(&sb.team_a.base_id, &sb.team_a.table_id, &paste)?;
    let bound = n as f64 / 3.0;
    let limit = Duration::from_secs_f64(bound * 3.0 + 120.0);
    let shows = |page: &String| {
        sb.notion.page(page).is_some_and(|p| {
            p["properties"]["Sprint"]["rich_text"][0]["plain_text"] == json!(value)
        })
    };
    let took = until(started, limit, || all_pages.iter().all(shows)).await;
    let store = serve.store().await?;
    wait_idle(&store, Duration::from_secs(2), Duration::from_secs(60)).await;
    let dead = store.job_counts().await?.dead;
    store.close().await;
    let delivered = last_delivery(&sb.airtable.deliveries(), wall_start);
    let calls = sb.calls();
    let reads = 2 * n.div_ceil(100);
    let call_bound = n + reads;
    push(
        report,
        &format!("bulk edit in Airtable: {n} rows changed in one paste"),
        Outcome {
            n,
            took,
            calls: calls.total(),
            call_bound,
            call_bound_text: format!(
                "{n} Notion writes + ceil(N/100) reads per side = {call_bound}"
            ),
            time_bound: bound,
            time_bound_text: format!("N/3 s (Notion's write rate) = {bound:.0} s"),
            delivered,
            dead,
            detail: calls.describe(),
        },
    );
    Ok(())
}

async fn notion_edits(settings: &Settings, n: usize, report: &mut Report) -> anyhow::Result<()> {
    let (sb, serve) = synced(settings, n).await?;
    let value = "P3";
    let pages: Vec<String> = sb
        .rows()
        .iter()
        .filter_map(|r| r["fields"]["Notion Page ID"].as_str().map(str::to_owned))
        .collect();
    let started = Instant::now();
    let wall_start = OffsetDateTime::now_utc();
    for page in &pages {
        sb.update_page(page, json!({ "Priority": { "select": { "name": value } } }))?;
    }
    let writes = n.div_ceil(10);
    let bound = writes as f64 / 5.0;
    let limit = Duration::from_secs_f64(bound * 10.0 + 120.0);
    let took = until(started, limit, || {
        sb.rows()
            .iter()
            .all(|r| r["fields"]["Priority"] == json!(value))
    })
    .await;
    let store = serve.store().await?;
    wait_idle(&store, Duration::from_secs(2), Duration::from_secs(60)).await;
    let dead = store.job_counts().await?.dead;
    store.close().await;
    let delivered = last_delivery(&sb.notion.deliveries(), wall_start);
    let calls = sb.calls();
    let call_bound = 2 * n.div_ceil(100) + writes;
    push(
        report,
        &format!("bulk edit in Notion: {n} pages changed"),
        Outcome {
            n,
            took,
            calls: calls.total(),
            call_bound,
            call_bound_text: format!(
                "ceil(N/100) reads per side + ceil(N/10) Airtable writes = {call_bound}"
            ),
            time_bound: bound,
            time_bound_text: format!("ceil(N/10)/5 s (Airtable's write rate) = {bound:.0} s"),
            delivered,
            dead,
            detail: calls.describe(),
        },
    );
    Ok(())
}

struct Outcome {
    n: usize,
    took: Option<Duration>,
    calls: u64,
    call_bound: usize,
    call_bound_text: String,
    time_bound: f64,
    time_bound_text: String,
    /// Seconds from the edit to the last webhook delivery it caused.
    delivered: Option<f64>,
    dead: i64,
    detail: String,
}

fn push(report: &mut Report, figure: &str, o: Outcome) {
    let calls_ratio = o.calls as f64 / o.call_bound as f64;
    let (measured, time_ratio) = match o.took {
        Some(t) => {
            let ratio = t.as_secs_f64() / o.time_bound;
            (
                format!(
                    "{} = {ratio:.2} × the time bound ({}); {} calls = {calls_ratio:.2} × the call bound; {} dead jobs",
                    secs(t),
                    split(t, o.delivered, o.time_bound),
                    o.calls,
                    o.dead
                ),
                Some(ratio),
            )
        }
        None => (
            format!(
                "not every record showed the value in time; {} calls; {} dead jobs",
                o.calls, o.dead
            ),
            None,
        ),
    };
    let met = time_ratio.is_some_and(|r| r <= SLACK) && calls_ratio <= SLACK && o.dead == 0;
    report.push(
        Row::new(
            figure,
            format!(
                "SQLite, real limits, {LATENCY_MS} ms API latency, webhooks both ways, debounce 2 s"
            ),
        )
        .measured(measured)
        .target(format!(
            "calls ≤ {SLACK} × ({}), time ≤ {SLACK} × {}, no job dies",
            o.call_bound_text, o.time_bound_text
        ))
        .bound(format!("{} calls, {:.0} s", o.call_bound, o.time_bound))
        .raw("n", o.n)
        .raw("seconds", o.took.map(|t| t.as_secs_f64()))
        .raw("calls", o.calls)
        .raw("call_bound", o.call_bound)
        .raw("time_bound_seconds", o.time_bound)
        .raw("last_delivery_seconds", o.delivered)
        .raw(
            "seconds_after_delivery_and_debounce",
            o.took.zip(o.delivered).map(|(t, d)| after(t, d)),
        )
        .raw("dead_jobs", o.dead)
        .raw("calls_detail", o.detail)
        .verdict(Verdict::of(met)),
    );
}

/// The service's own time: after the last delivery and the debounce.
fn after(took: Duration, delivered: f64) -> f64 {
    (took.as_secs_f64() - delivered - DEBOUNCE_MS as f64 / 1000.0).max(0.0)
}

/// Where the time went: the events' delivery, the debounce, the rest.
fn split(took: Duration, delivered: Option<f64>, bound: f64) -> String {
    match delivered {
        Some(d) => {
            let rest = after(took, d);
            format!(
                "last delivery at {d:.1} s, debounce {:.0} s, then {rest:.1} s = {:.2} × the bound",
                DEBOUNCE_MS as f64 / 1000.0,
                rest / bound
            )
        }
        None => "no delivery recorded".to_owned(),
    }
}

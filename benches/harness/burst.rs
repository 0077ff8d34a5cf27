//! Figure 8: burst coalescing. 1,000 signed Notion events about 10 pages
//! within one second (open loop, 1,000/s) to the real `serve`; then, once
//! the queue is idle, the reconcile jobs the burst caused are counted in
//! the service's job table (jobs, and attempts = runs), with the Notion page
//! reads the sandbox counted as a cross-check. Measured with the shipped
//! debounce (2 s) and with debounce 0.

use std::time::Duration;

use notion_airtable_sync::store::now_ms;

use crate::{
    Settings,
    load::{self, EventSource},
    report::{Report, Row, Verdict},
    sandboxes::{SandboxOpts, Sandboxes},
    service::{Backend, Serve, ServeOpts, wait_idle},
};

const EVENTS: f64 = 1000.0;
const RECORDS: usize = 10;
const TARGET: u64 = 20;

pub async fn run(settings: &Settings, report: &mut Report) {
    for debounce_ms in [2000, 0] {
        if let Err(e) = measure(settings, debounce_ms, report).await {
            report.push(Row::skipped(
                "burst coalescing",
                format!("SQLite, debounce {debounce_ms} ms"),
                format!("{e:#}"),
            ));
        }
    }
}

async fn measure(settings: &Settings, debounce_ms: u64, report: &mut Report) -> anyhow::Result<()> {
    let sb = Sandboxes::start(SandboxOpts::default()).await?;
    let serve = Serve::start(
        &settings.serve_bin,
        &sb,
        &Backend::Sqlite,
        ServeOpts {
            debounce_ms,
            webhooks: false,
            role: None,
        },
    )
    .await?;
    let store = serve.store().await?;
    anyhow::ensure!(
        wait_idle(&store, Duration::from_secs(1), Duration::from_secs(120)).await,
        "the start-up sweep did not finish within 120 s"
    );
    let source = EventSource {
        url: format!("{}/webhooks/notion", serve.base_url),
        secret: serve.notion_secret.clone(),
        database_id: sb.team_n.database_id.clone(),
        data_source_id: sb.team_n.data_source_id.clone(),
        page_ids: sb.team_n.page_ids[..RECORDS].to_vec(),
        author_id: sb.person(),
        probe: false,
    };
    let since = now_ms();
    sb.reset_calls();
    let burst = load::run(&load::client(), &source, EVENTS, Duration::from_secs(1)).await;
    let idle = wait_idle(&store, Duration::from_secs(1), Duration::from_secs(120)).await;
    let jobs: Vec<_> = store
        .list_jobs(None, 100_000)
        .await?
        .into_iter()
        .filter(|j| j.kind == "reconcile_page" && j.created_at >= since)
        .collect();
    let runs: u64 = jobs
        .iter()
        .map(|j| u64::try_from(j.attempts).unwrap_or(0))
        .sum();
    let page_reads = sb.notion.calls().count(Some("GET"), "/v1/pages/{page_id}");
    let met = idle && burst.errors == 0 && runs <= TARGET;
    report.push(
        Row::new(
            "burst coalescing",
            format!(
                "SQLite, debounce {debounce_ms} ms, {EVENTS:.0} events over {RECORDS} records in 1 s"
            ),
        )
        .measured(format!(
            "{runs} reconciles run ({} jobs; {page_reads} Notion page reads); {} of {} events acknowledged{}",
            jobs.len(),
            burst.ok,
            burst.sent,
            if idle { "" } else { "; queue not idle after 120 s" }
        ))
        .target(format!("≤ {TARGET} reconciles"))
        .verdict(Verdict::of(met)),
    );
    store.close().await;
    Ok(())
}

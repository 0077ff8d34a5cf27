//! Figure 4: API calls for one single-field change, then quiet, each
//! direction, counted by the sandboxes (every request to either vendor API).
//!
//! - calls for the change: from the edit until the value is visible on the
//!   other side (the reads and the one write that carried it);
//! - calls per echo: after that, until the service is idle and the counters
//!   have not moved for 3 s, divided by the webhooks the service's own write
//!   caused (the echo deliveries);
//! - echo writes: writes in that second window (should be none).

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{
    Settings,
    propagation::{Direction, WebhookWorld, edit},
    report::{Report, Row, Verdict},
    sandboxes::{Calls, Sandboxes},
    service::wait_idle,
};

const QUIET: Duration = Duration::from_secs(3);

pub async fn run(settings: &Settings, report: &mut Report) {
    if let Err(e) = measure(settings, report).await {
        report.push(Row::skipped(
            "API calls per single-field change",
            "SQLite",
            format!("{e:#}"),
        ));
    }
}

async fn measure(settings: &Settings, report: &mut Report) -> anyhow::Result<()> {
    let w = WebhookWorld::start(settings, 0, 0).await?;
    for dir in [Direction::NotionToAirtable, Direction::AirtableToNotion] {
        quiet(&w).await;
        let before = w.sb.calls();
        let deliveries_before = deliveries(&w.sb).await?;
        let at = Instant::now();
        let expect = edit(&w, dir, 0, "c")?;
        anyhow::ensure!(
            expect.wait(&w.sb, at).await.is_some(),
            "the {} edit never arrived",
            dir.label()
        );
        let visible = w.sb.calls();
        quiet(&w).await;
        let after = w.sb.calls();
        // The person's edit itself caused one delivery to the service.
        let echoes = (deliveries(&w.sb).await? - deliveries_before).saturating_sub(1);
        push(
            report,
            dir,
            &visible.since(&before),
            &after.since(&visible),
            echoes,
        );
    }
    w.store.close().await;
    Ok(())
}

/// Idle queue and unchanged counters for [`QUIET`] (at most 60 s).
async fn quiet(w: &WebhookWorld) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = w.sb.calls().total();
    let mut since = Instant::now();
    while Instant::now() < deadline {
        wait_idle(
            &w.store,
            Duration::from_millis(200),
            Duration::from_secs(30),
        )
        .await;
        let now = w.sb.calls().total();
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() >= QUIET {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Webhook delivery attempts so far, both vendors (the person's edit causes
/// one; the service's own write causes the echoes).
async fn deliveries(sb: &Sandboxes) -> anyhow::Result<usize> {
    Ok(sb.notion.deliveries().len() + airtable_deliveries(sb).await?)
}

async fn airtable_deliveries(sb: &Sandboxes) -> anyhow::Result<usize> {
    let url = format!("{}/_sandbox/deliveries", sb.airtable.base_url());
    let body: Value = reqwest::get(url).await?.json().await?;
    Ok(body["deliveries"].as_array().map_or(0, Vec::len))
}

fn push(report: &mut Report, dir: Direction, change: &Calls, echo: &Calls, echoes: usize) {
    let per_echo = if echoes == 0 {
        echo.total() as f64
    } else {
        echo.total() as f64 / echoes as f64
    };
    let met = change.total() <= 3 && per_echo <= 1.0 && echo.writes() == 0;
    report.push(
        Row::new(
            &format!("API calls per single-field change, {}", dir.label()),
            "SQLite, real limits, webhooks both ways, debounce 0, one edit then quiet",
        )
        .measured(format!(
            "{} calls for the change; {} echo deliveries, {} calls after it ({per_echo:.1} per echo); {} echo writes",
            change.total(),
            echoes,
            echo.total(),
            echo.writes()
        ))
        .target("≤ 3 calls for the change, ≤ 1 call per echo, 0 echo writes")
        .verdict(Verdict::of(met)),
    );
    report.note(format!(
        "{}: change calls {}; after-change calls {}",
        dir.label(),
        change.describe(),
        echo.describe()
    ));
}

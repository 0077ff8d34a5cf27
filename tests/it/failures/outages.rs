//! The vendors misbehave: a storm of 5xx answers, and an outage (every call
//! fails) compressed from an hour into 20 seconds while a backlog of more
//! than 100 changes queues up. Afterwards everything converges, nothing is
//! dead, and the backlog drains as fast as the quota allows, no faster.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use notion_airtable_sandbox::common::Faults;
use notion_airtable_sync::clients::ratelimit::NOTION_RATE_PER_SEC;
use serde_json::json;

use super::harness::{
    Backend, Options, Sandboxes, Service, TempDir, assert_no_dead_jobs, database_url, eventually,
    plain_text, try_until_none, until_idle,
};

fn faults(error_rate: f64, seed: u64) -> Faults {
    Faults {
        error_rate,
        seed: Some(seed),
        ..Faults::default()
    }
}

fn server_errors(sb: &Sandboxes) -> u64 {
    [500, 502, 503, 504]
        .iter()
        .map(|s| sb.notion.calls().count_status(*s) + sb.airtable.calls().count_status(*s))
        .sum()
}

/// `Sprint` of a page in Notion (mirrored from Airtable).
fn notion_sprint(sb: &Sandboxes, page_id: &str) -> String {
    plain_text(&sb.notion.page(page_id).unwrap()["properties"]["Sprint"])
}

/// Half of all API calls fail with 5xx while people edit both sides; once
/// the storm ends every edit has arrived and no job is dead.
pub async fn five_xx_storm_retries_and_converges(backend: Backend) {
    let dir = TempDir::new();
    let sb = Sandboxes::start().await;
    let db_url = database_url(backend, &dir.0).await;
    let mut svc = Service::new(&sb, &dir.0, &db_url, Options::default());
    svc.start_synced(&sb).await;
    let store = svc.store().await;
    until_idle(&store, 60).await;

    sb.notion.set_faults(faults(0.5, 11));
    sb.airtable.set_faults(faults(0.5, 12));
    let pages = &sb.team_n.page_ids;
    for (i, page) in pages[..10].iter().enumerate() {
        sb.rename_page(page, &format!("Stormy spec {i}"));
    }
    for (i, page) in pages[10..20].iter().enumerate() {
        sb.edit_row(page, json!({ "Sprint": format!("Storm sprint {i}") }));
    }
    eventually(60, "the storm to hit the service", async || {
        (server_errors(&sb) >= 20).then_some(())
    })
    .await;
    sb.notion.set_faults(Faults::default());
    sb.airtable.set_faults(Faults::default());

    eventually(60, "every edit on the other side", async || {
        let names = pages[..10]
            .iter()
            .enumerate()
            .all(|(i, p)| sb.airtable_name(p).as_deref() == Some(&format!("Stormy spec {i}")));
        let sprints = pages[10..20]
            .iter()
            .enumerate()
            .all(|(i, p)| notion_sprint(&sb, p) == format!("Storm sprint {i}"));
        (names && sprints).then_some(())
    })
    .await;
    until_idle(&store, 60).await;
    assert_no_dead_jobs(&store).await;
    eprintln!("{} injected 5xx answers", server_errors(&sb));
}

/// Every call fails for 20 s (an hour-long outage, compressed) while 102
/// changes queue up: 47 renames and 40 new pages in Notion, 15 sprint edits
/// in Airtable. Afterwards the backlog drains: no 429, Notion's calls paced
/// at its budget, every change on the other side, nothing dead.
pub async fn compressed_outage_backlog_drains_at_the_quota_rate(backend: Backend) {
    let dir = TempDir::new();
    let sb = Arc::new(Sandboxes::start().await);
    let db_url = database_url(backend, &dir.0).await;
    let mut svc = Service::new(&sb, &dir.0, &db_url, Options::default());
    svc.start_synced(&sb).await;
    let store = svc.store().await;
    until_idle(&store, 60).await;

    let outage = Instant::now();
    sb.notion.set_faults(faults(1.0, 21));
    sb.airtable.set_faults(faults(1.0, 22));
    let pages = sb.team_n.page_ids.clone();
    for (i, page) in pages.iter().enumerate() {
        sb.rename_page(page, &format!("Backlog spec {i}"));
    }
    let person = sb.person();
    let new_pages: Vec<String> = (0..40)
        .map(|i| {
            sb.notion
                .insert_page_as_person(
                    &sb.team_n.data_source_id,
                    &person,
                    json!({ "Name": { "title": [{ "text": { "content": format!("New spec {i}") } }] } }),
                )
                .unwrap()
        })
        .collect();
    for (i, page) in pages[..15].iter().enumerate() {
        sb.edit_row(page, json!({ "Sprint": format!("Backlog sprint {i}") }));
    }
    let remaining = Duration::from_secs(20).saturating_sub(outage.elapsed());
    tokio::time::sleep(remaining).await;
    let failed = server_errors(&sb);
    assert!(failed > 0, "the outage was noticed");

    sb.notion.calls().reset();
    sb.airtable.calls().reset();
    sb.notion.set_faults(Faults::default());
    sb.airtable.set_faults(Faults::default());
    let recovered = Instant::now();
    let drained = try_until_none(120, async || {
        let mut left = Vec::new();
        for (i, p) in pages.iter().enumerate() {
            if sb.airtable_name(p).as_deref() != Some(&format!("Backlog spec {i}")) {
                left.push(format!("rename of {p}"));
            }
        }
        for (i, p) in new_pages.iter().enumerate() {
            if sb.airtable_name(p).as_deref() != Some(&format!("New spec {i}")) {
                left.push(format!("creation of {p}"));
            }
        }
        for (i, p) in pages[..15].iter().enumerate() {
            if notion_sprint(&sb, p) != format!("Backlog sprint {i}") {
                left.push(format!("sprint of {p}"));
            }
        }
        left
    })
    .await;
    let drain = recovered.elapsed();
    let notion_calls = sb.notion.calls().total();
    let airtable_calls = sb.airtable.calls().total();
    let notion_rate = notion_calls as f64 / drain.as_secs_f64();
    eprintln!(
        "outage: {failed} failed calls; drain: {drain:?}, {notion_calls} Notion calls \
         ({notion_rate:.2}/s, budget {NOTION_RATE_PER_SEC}/s), {airtable_calls} Airtable calls \
         ({:.2}/s)",
        airtable_calls as f64 / drain.as_secs_f64()
    );
    if let Err(left) = drained {
        panic!(
            "the backlog did not drain in {drain:?}: {} changes left, {:?} 429s (Notion, \
             Airtable), jobs {:?}",
            left.len(),
            (
                sb.notion.calls().count_status(429),
                sb.airtable.calls().count_status(429)
            ),
            store.job_counts().await.unwrap()
        );
    }
    let throttled = (
        sb.notion.calls().count_status(429),
        sb.airtable.calls().count_status(429),
    );
    assert_eq!(
        throttled,
        (0, 0),
        "the drain stays within the vendors' limits (Notion, Airtable 429s)"
    );
    assert!(
        notion_rate <= NOTION_RATE_PER_SEC * 1.1 + 3.0 / drain.as_secs_f64(),
        "Notion paced at its budget: {notion_rate:.2}/s"
    );
    // The backlog keeps the quota busy instead of idling in backoff.
    assert!(
        notion_rate >= NOTION_RATE_PER_SEC * 0.5,
        "the drain used {notion_rate:.2} Notion calls/s of {NOTION_RATE_PER_SEC}"
    );
    until_idle(&store, 60).await;
    assert_no_dead_jobs(&store).await;
    assert_eq!(sb.rows().len(), 47 + 40, "one row per page");
}

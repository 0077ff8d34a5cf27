//! Three `serve` processes on one Postgres working through a backlog (the
//! start-up sweeps creating 47 rows, a person's edits on both sides, each
//! a reconcile job, and a second full sweep from the cron): no job is ever held
//! by two workers, and together they stay within the vendors' budgets.
//!
//! A job held twice shows in the store: a claim always spends an attempt,
//! and only a rate-limit wait or a graceful release gives it back, neither
//! of which happens here; so a job claimed by a second worker while the
//! first still ran (an expired or stolen lease) ends with two attempts.
//! The budgets are measured on the sandboxes: their request counters,
//! sampled every 50 ms, give the most requests answered within any second
//! (and any five seconds), and the sandboxes' own 429 counts must stay 0.

use std::time::Duration;

use notion_airtable_sync::{
    clients::{
        ratelimit::{AIRTABLE_CALLS_PER_WINDOW, AIRTABLE_WINDOW, NOTION_RATE_PER_SEC},
        shared_budget::NOTION_BURST,
    },
    store::JobState,
};
use serde_json::json;

use super::support::{Deployment, Options, Sampler, eventually, free_port};
use crate::common::{
    TestDb,
    world::{assert_in_sync, text_of},
};

const NOTION_EDITS: std::ops::Range<usize> = 0..20;
const AIRTABLE_EDITS: std::ops::Range<usize> = 20..30;
/// A request answered a little late (scheduling on a busy machine) can
/// land in the next sampled second: one request of slack per window.
const JITTER: u64 = 1;

pub async fn three_replicas_never_run_a_job_twice_and_share_the_budgets(db: TestDb) {
    let d = Deployment::new(db, Options::default()).await;
    d.w.notion.calls().reset();
    d.w.airtable.calls().reset();
    let sampler = Sampler::start(&d.w, Duration::from_millis(50));
    let _replicas = [
        d.spawn_all(),
        d.spawn("all", free_port()),
        d.spawn("all", free_port()),
    ];
    d.ready(30).await;
    let pages = d.w.team_n.page_ids.clone();
    for i in NOTION_EDITS {
        let name = format!("Replica spec {i}");
        d.edit_page(
            &pages[i],
            json!({ "Name": { "title": [{ "text": { "content": name } }] } }),
        );
    }
    d.synced(60).await;
    for i in AIRTABLE_EDITS {
        d.edit_row(
            &pages[i],
            json!({ "Sprint": format!("Replica sprint {i}") }),
        );
    }
    d.reconcile(true).await;
    d.idle(Duration::from_secs(3), 90).await;
    eventually(10, "the edits on both sides", async || {
        let names = NOTION_EDITS.clone().all(|i| {
            d.w.row_for(&pages[i])["fields"]["Spec Name"] == json!(format!("Replica spec {i}"))
        });
        let sprints = AIRTABLE_EDITS.clone().all(|i| {
            text_of(&d.w.page(&pages[i])["properties"]["Sprint"]) == format!("Replica sprint {i}")
        });
        (names && sprints).then_some(())
    })
    .await;
    drop(_replicas);

    let done = d.jobs(JobState::Done).await;
    let twice: Vec<_> = done.iter().filter(|j| j.attempts != 1).collect();
    assert!(twice.is_empty(), "jobs claimed more than once: {twice:#?}");
    eprintln!("{} jobs, each claimed once", done.len());
    d.assert_no_dead_jobs().await;

    let (notion_1s, airtable_1s) = sampler.max_in(Duration::from_secs(1));
    let (notion_5s, airtable_5s) = sampler.max_in(Duration::from_secs(5));
    let samples = sampler.samples();
    let last = samples.last().unwrap();
    eprintln!(
        "requests: Notion {} (max {notion_1s}/1 s, {notion_5s}/5 s), Airtable {} \
         (max {airtable_1s}/1 s, {airtable_5s}/5 s); 429s: {} and {}",
        last.notion, last.airtable, last.notion_429, last.airtable_429
    );
    assert_eq!(d.w.notion.calls().count_status(429), 0, "Notion 429s");
    assert_eq!(d.w.airtable.calls().count_status(429), 0, "Airtable 429s");
    for (secs, notion, airtable) in [(1, notion_1s, airtable_1s), (5, notion_5s, airtable_5s)] {
        assert!(
            notion <= notion_allowance(secs) + JITTER,
            "{notion} Notion requests within {secs} s"
        );
        assert!(
            airtable <= airtable_allowance(secs) + JITTER,
            "{airtable} Airtable requests within {secs} s"
        );
    }
    assert_in_sync(&d.w);
    d.assert_one_row_per_page();
}

/// The Notion budget's most requests within `secs`: the burst, then one
/// per interval.
fn notion_allowance(secs: u64) -> u64 {
    u64::from(NOTION_BURST) + (NOTION_RATE_PER_SEC * secs as f64).floor() as u64
}

/// The Airtable base budget's most requests within `secs`: five per window.
fn airtable_allowance(secs: u64) -> u64 {
    let windows = (secs as f64 / AIRTABLE_WINDOW.as_secs_f64()).ceil() as u64;
    u64::from(AIRTABLE_CALLS_PER_WINDOW) * windows
}

//! 1,000 events for one record within about a second: the shipped debounce
//! and the per-key coalescing make them one or two reconciles, and the last
//! of the person's edits made in between is what both sides hold at the end.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use futures::future::join_all;
use notion_airtable_sync::{
    config::SyncConfig,
    store::{JobState, now_ms},
};
use serde_json::json;

use notion_airtable_sandbox::team::NotionStatus;

use super::support::{Deployment, Options, eventually, page_key, runs_of};
use crate::common::{TestDb, mapping::EXAMPLE, world::assert_in_sync};

const WAVES: usize = 10;
const EVENTS_PER_WAVE: usize = 100;

/// The debounce the example mapping ships with (2 s).
fn shipped_debounce() -> Duration {
    let config = SyncConfig::load(Path::new(EXAMPLE)).unwrap();
    Duration::from_millis(config.pairs[0].options.debounce_ms)
}

/// The most reconciles a burst lasting `burst` can cause for one key. The
/// first event's job is due a debounce after it; every later event joins
/// the pending job, and one that arrives while the job runs creates one
/// follow-up, itself due a debounce later. So the k-th job is claimed no
/// earlier than k debounces after the burst began, and a new job needs an
/// event after the previous claim: at most 1 + burst/debounce jobs. A burst
/// within two debounces (the 1,000 events take about 2 s here; about 1 s
/// at production speed) is at most two reconciles; on a machine so loaded
/// that the burst takes longer, the same rule gives the bound. The burst
/// runs from its first delivery to the last event the service received.
fn most_reconciles(burst: Duration, debounce: Duration) -> usize {
    1 + (burst.as_millis() / debounce.as_millis()) as usize
}

pub async fn a_thousand_events_for_one_record_are_at_most_two_reconciles(
    db: TestDb,
    status: NotionStatus,
) {
    let debounce = shipped_debounce();
    let d = Deployment::new(
        db,
        Options {
            status,
            debounce_ms: debounce.as_millis() as u64,
            ..Options::default()
        },
    )
    .await;
    let _serve = d.spawn_all();
    d.ready(30).await;
    d.synced(30).await;
    d.idle(Duration::from_secs(1), 30).await;
    let page = d.w.team_n.page_ids[0].clone();
    let key = page_key(&page);
    let earlier = runs_of(&d.jobs(JobState::Done).await, &key).len();

    // Ten waves of 100 signed deliveries with distinct event ids, each wave
    // after a real edit of the page (which the sandbox announces too). The
    // bodies are made beforehand so that the burst is only the deliveries.
    let waves: Vec<Vec<Vec<u8>>> = (0..WAVES)
        .map(|_| (0..EVENTS_PER_WAVE).map(|_| d.page_event(&page)).collect())
        .collect();
    let started = Instant::now();
    let started_ms = now_ms();
    for (wave, bodies) in waves.into_iter().enumerate() {
        d.edit_page(&page, json!({ "Name": title(wave) }));
        let statuses = join_all(bodies.into_iter().map(|b| d.deliver_notion(b))).await;
        assert!(
            statuses.iter().all(|s| *s == 200),
            "every delivery acknowledged: {statuses:?}"
        );
    }
    let delivered = started.elapsed();
    eprintln!(
        "{} events delivered in {delivered:?}",
        WAVES * EVENTS_PER_WAVE
    );

    let last = format!("Burst v{}", WAVES - 1);
    eventually(
        debounce.as_secs() + 30,
        "the last edit in Airtable",
        async || (d.w.row_for(&page)["fields"]["Spec Name"] == json!(last)).then_some(()),
    )
    .await;
    d.idle(Duration::from_secs(3), 30).await;
    // The burst lasts until the last event the service received: the
    // sandbox announces the real edits after its own delivery delay, which
    // can outlast the test's deliveries on a loaded machine.
    let last_event = d
        .store
        .last_webhook_event_at("notion")
        .await
        .unwrap()
        .unwrap_or(started_ms);
    let received = Duration::from_millis(u64::try_from(last_event - started_ms).unwrap_or(0));
    let burst = delivered.max(received);
    let most = most_reconciles(burst, debounce);
    let done = d.jobs(JobState::Done).await;
    let runs = runs_of(&done, &key).len() - earlier;
    eprintln!("reconciles of {key}: {runs}");
    assert!(
        (1..=most).contains(&runs),
        "{runs} reconciles for one record after a burst of {burst:?} \
         (debounce {debounce:?}: at most {most})"
    );
    d.assert_no_dead_jobs().await;
    d.assert_one_row_per_page();
    assert_in_sync(&d.w);
}

fn title(wave: usize) -> serde_json::Value {
    json!({ "title": [{ "text": { "content": format!("Burst v{wave}") } }] })
}

//! A 429 storm: for a few seconds both sandboxes refuse every request with
//! 429 while people edit on both sides. The service pauses each budget for
//! the vendor's wait (Notion's `Retry-After`; Airtable's 30 s, which its
//! 429 does not state), reschedules the jobs without spending attempts, and
//! completes them all once the storm is over: none dead, both sides
//! converged.

use std::time::{Duration, Instant};

use notion_airtable_sandbox::common::Faults;
use serde_json::json;

use notion_airtable_sandbox::team::NotionStatus;

use super::support::{Deployment, Options, Sample, Sampler, eventually};
use crate::common::{
    TestDb,
    world::{assert_in_sync, text_of},
};

const STORM: Duration = Duration::from_secs(4);
/// What the service waits after an Airtable 429 (no `Retry-After` given).
const AIRTABLE_PAUSE: Duration = Duration::from_secs(30);
const NOTION_EDITS: std::ops::Range<usize> = 0..8;
const AIRTABLE_EDITS: std::ops::Range<usize> = 8..16;

fn storm(on: bool) -> Faults {
    Faults {
        rate_limit_rate: if on { 1.0 } else { 0.0 },
        ..Faults::default()
    }
}

pub async fn a_429_storm_pauses_the_calls_and_every_job_completes(
    db: TestDb,
    status: NotionStatus,
) {
    let d = Deployment::new(
        db,
        Options {
            status,
            ..Options::default()
        },
    )
    .await;
    let _serve = d.spawn_all();
    d.ready(30).await;
    d.synced(30).await;
    d.idle(Duration::from_secs(1), 30).await;
    let first_job = d.store.list_jobs(None, 1).await.unwrap()[0].id;
    let sampler = Sampler::start(&d.w, Duration::from_millis(50));

    d.w.notion.set_faults(storm(true));
    d.w.airtable.set_faults(storm(true));
    let storm_start = Instant::now();
    let pages = d.w.team_n.page_ids.clone();
    for i in NOTION_EDITS {
        d.edit_page(&pages[i], json!({ "Name": title(&name(i)) }));
    }
    // The Notion jobs meet the storm before Airtable's 429 (whose 30 s
    // pause holds every job that needs Airtable) can hold them back.
    eventually(
        STORM.as_secs(),
        "a Notion request refused by the storm",
        async || (d.w.notion.calls().count_status(429) > 0).then_some(()),
    )
    .await;
    for i in AIRTABLE_EDITS {
        d.edit_row(&pages[i], json!({ "Sprint": name(i) }));
    }
    tokio::time::sleep_until((storm_start + STORM).into()).await;
    d.w.notion.set_faults(storm(false));
    d.w.airtable.set_faults(storm(false));
    let storm_end = Instant::now();

    // One pause, not two: the work resumes when the storm's last penalty
    // ends.
    let wait = AIRTABLE_PAUSE.as_secs() + 20;
    eventually(wait, "every edit on the other side", async || {
        let notion_done = NOTION_EDITS
            .clone()
            .all(|i| d.w.row_for(&pages[i])["fields"]["Spec Name"] == json!(name(i)));
        let airtable_done = AIRTABLE_EDITS
            .clone()
            .all(|i| text_of(&d.w.page(&pages[i])["properties"]["Sprint"]) == name(i));
        (notion_done && airtable_done).then_some(())
    })
    .await;
    d.idle(Duration::from_secs(2), 30).await;
    let samples = sampler.samples();
    drop(sampler);

    let storm_samples: Vec<Sample> = samples
        .iter()
        .filter(|s| s.at <= storm_end)
        .copied()
        .collect();
    let (first, last) = (samples[0], *storm_samples.last().unwrap());
    eprintln!(
        "during the storm: Notion {} requests ({} refused), Airtable {} ({} refused)",
        last.notion - first.notion,
        last.notion_429 - first.notion_429,
        last.airtable - first.airtable,
        last.airtable_429 - first.airtable_429,
    );
    assert!(
        last.notion_429 > first.notion_429 && last.airtable_429 > first.airtable_429,
        "the storm refused requests on both sides"
    );
    // Steady state again: once the storm is over (and what was in flight
    // has been answered), the service stays within both limits.
    let settled = samples
        .iter()
        .find(|s| s.at >= storm_end + Duration::from_secs(1))
        .unwrap();
    let end = samples.last().unwrap();
    assert_eq!(
        (end.notion_429, end.airtable_429),
        (settled.notion_429, settled.airtable_429),
        "429s after the storm (Notion, Airtable)"
    );
    let pause = airtable_pause(&samples).expect("Airtable was called again after the storm");
    eprintln!("Airtable paused {pause:?} after its last 429");
    // For the vendor's wait, and not much longer (a penalty applied again
    // later, from a stale 429, would stretch it).
    assert!(
        pause >= AIRTABLE_PAUSE - Duration::from_secs(1)
            && pause <= AIRTABLE_PAUSE + Duration::from_secs(2),
        "Airtable was called {pause:?} after a 429"
    );

    d.assert_no_dead_jobs().await;
    let jobs = d.store.list_jobs(None, 10_000).await.unwrap();
    let spent: Vec<_> = jobs
        .iter()
        .filter(|j| j.id > first_job && j.attempts != 1)
        .collect();
    assert!(
        spent.is_empty(),
        "rate-limit waits spent attempts: {spent:#?}"
    );
    assert_in_sync(&d.w);
    d.assert_one_row_per_page();
}

/// The quiet time between the last Airtable 429 and the next Airtable
/// request, at least (sampled: the 429 was answered by the sample that
/// counts it, the next request after the sample before the one counting it).
fn airtable_pause(samples: &[Sample]) -> Option<Duration> {
    let total = samples.last()?.airtable_429;
    if total == samples[0].airtable_429 {
        return None;
    }
    // The counters only grow: the first sample at the final count is the
    // one that saw the last 429.
    let last_429 = samples.iter().position(|s| s.airtable_429 == total)?;
    let refused = samples[last_429];
    let next = samples[last_429..]
        .iter()
        .position(|s| s.airtable > refused.airtable)?;
    let before_next = samples[last_429 + next - 1];
    Some(before_next.at.duration_since(refused.at))
}

fn name(i: usize) -> String {
    format!("Storm {i}")
}

fn title(text: &str) -> serde_json::Value {
    json!({ "title": [{ "text": { "content": text } }] })
}

//! Load that concentrates on one place: 10,000 events for one record, and
//! poison jobs that can never succeed while the rest of the queue flows.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use futures::{StreamExt, stream};
use notion_airtable_sync::store::{JobState, NewJob, Store, now_ms};
use serde_json::json;

use super::harness::{
    Backend, Options, Sandboxes, Service, TempDir, assert_no_dead_jobs, database_url, deliver,
    eventually, page_event, scalar, select_name, until_idle,
};

fn options() -> Options {
    Options {
        notion_webhooks: false,
        airtable_webhooks: false,
        ..Options::default()
    }
}

/// Pending and running jobs for `key` right now.
async fn queued_for(store: &Store, key: &str) -> (usize, usize) {
    let count = async |state| {
        store
            .list_jobs(Some(state), 10_000)
            .await
            .unwrap()
            .iter()
            .filter(|j| j.key == key)
            .count()
    };
    (
        count(JobState::Pending).await,
        count(JobState::Running).await,
    )
}

/// 10,000 signed events for one page, 16 at a time, while a person renames
/// it five times: every event is acknowledged and recorded, the record never
/// has more than one pending and one running job, the reconciles coalesce
/// (a few dozen, not thousands), and the final name is the last one.
pub async fn one_record_under_ten_thousand_events(backend: Backend) {
    const EVENTS: usize = 10_000;
    let dir = TempDir::new();
    let sb = Arc::new(Sandboxes::start().await);
    let db_url = database_url(backend, &dir.0).await;
    let mut svc = Service::new(&sb, &dir.0, &db_url, options());
    svc.start_synced(&sb).await;
    let store = svc.store().await;
    until_idle(&store, 60).await;
    let page = sb.team_n.page_ids[5].clone();
    let key = format!("record:specs:page:{page}");
    let jobs_before = scalar(
        &db_url,
        &format!("SELECT COUNT(*) FROM jobs WHERE key = '{key}'"),
    )
    .await;

    let http = reqwest::Client::new();
    let sent = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let burst = stream::iter(0..EVENTS)
        .map(|i| {
            let (sb, http, page, sent) = (&sb, &http, &page, &sent);
            let (url, secret) = (&svc.url, &svc.notion_secret);
            async move {
                if i % 2_000 == 0 {
                    sb.rename_page(page, &format!("Hot spec {}", i / 2_000));
                }
                let body = page_event(sb, &uuid::Uuid::new_v4().to_string(), page);
                let status = deliver(http, url, secret, &body).await;
                sent.fetch_add(1, Ordering::Relaxed);
                status.map(|s| s.as_u16())
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>();
    // Sample the record's queue while the burst runs.
    let sampler = async {
        let mut worst = (0, 0);
        while sent.load(Ordering::Relaxed) < EVENTS {
            let (p, r) = queued_for(&store, &key).await;
            worst = (worst.0.max(p), worst.1.max(r));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        worst
    };
    let (statuses, worst) = tokio::join!(burst, sampler);
    let took = t0.elapsed();
    let refused: Vec<_> = statuses.iter().filter(|s| **s != Some(200)).collect();
    assert!(
        refused.is_empty(),
        "{} refused: {:?}",
        refused.len(),
        &refused[..refused.len().min(5)]
    );
    assert!(
        worst.0 <= 1 && worst.1 <= 1,
        "pending/running for the record: {worst:?}"
    );
    let inbox = scalar(&db_url, "SELECT COUNT(*) FROM webhook_inbox").await;
    assert!(inbox >= EVENTS as i64, "{inbox} inbox rows");

    eventually(60, "the last name in Airtable", async || {
        (sb.airtable_name(&page)? == "Hot spec 4").then_some(())
    })
    .await;
    until_idle(&store, 60).await;
    let reconciles = scalar(
        &db_url,
        &format!("SELECT COUNT(*) FROM jobs WHERE key = '{key}'"),
    )
    .await
        - jobs_before;
    eprintln!(
        "{EVENTS} events in {took:?} ({:.0}/s), {reconciles} reconciles",
        EVENTS as f64 / took.as_secs_f64()
    );
    assert!(
        reconciles <= 200,
        "{reconciles} reconciles for {EVENTS} events: they do not coalesce"
    );
    assert_eq!(sb.notion_name(&page), "Hot spec 4");
    assert_eq!(sb.rows_for(&page).len(), 1);
    assert_no_dead_jobs(&store).await;
}

/// Jobs that can never succeed: one naming a pair that is not configured
/// (an error the runner retries), one whose payload this build cannot read
/// (fatal), and a record whose Airtable value Notion always refuses. The
/// first two go dead after their attempts with the error kept; the refused
/// value is reported without a retry loop; edits of other records keep
/// flowing meanwhile.
pub async fn poison_jobs_go_dead_and_the_rest_flow(backend: Backend) {
    let dir = TempDir::new();
    let sb = Arc::new(Sandboxes::start().await);
    let db_url = database_url(backend, &dir.0).await;
    let mut svc = Service::new(
        &sb,
        &dir.0,
        &db_url,
        Options {
            notion_webhooks: true,
            airtable_webhooks: true,
            ..Options::default()
        },
    );
    svc.start_synced(&sb).await;
    let store = svc.store().await;
    until_idle(&store, 60).await;
    let now = now_ms();
    let retried = NewJob {
        kind: "reconcile_page".into(),
        key: "record:nowhere:page:poison".into(),
        pair: Some("nowhere".into()),
        payload: json!({
            "kind": "reconcile_page", "pair": "nowhere",
            "page_id": sb.team_n.page_ids[0], "trigger": "webhook",
        }),
        run_at: now,
        max_attempts: 4,
    };
    let garbage = NewJob {
        kind: "reconcile_page".into(),
        key: "record:specs:page:garbage".into(),
        pair: Some("specs".into()),
        payload: json!({ "kind": "reconcile_page", "page": [1, 2, 3] }),
        run_at: now,
        max_attempts: 1,
    };
    let retried_id = store.enqueue(&retried, now).await.unwrap().id();
    let garbage_id = store.enqueue(&garbage, now).await.unwrap().id();
    // A value Notion cannot take (option names may not contain commas): the
    // edit is kept and reported each time, never retried in a loop.
    let refused_page = sb.team_n.page_ids[1].clone();
    let refused_key = format!("record:specs:page:{refused_page}");
    let notion_status =
        select_name(&sb.notion.page(&refused_page).unwrap()["properties"]["Status"]);
    sb.edit_row(&refused_page, json!({ "Status": "Blocked, waiting" }));

    // Other records flow meanwhile, each within seconds.
    for (i, page) in sb.team_n.page_ids[10..16].iter().enumerate() {
        let name = format!("Flowing spec {i}");
        let t0 = Instant::now();
        sb.rename_page(page, &name);
        eventually(20, "a healthy record's edit", async || {
            (sb.airtable_name(page)? == name).then_some(())
        })
        .await;
        assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    }

    eventually(60, "both poison jobs dead", async || {
        let a = store.get_job(retried_id).await.ok()??;
        let b = store.get_job(garbage_id).await.ok()??;
        (a.state == JobState::Dead && b.state == JobState::Dead).then_some((a, b))
    })
    .await;
    let dead = store.list_jobs(Some(JobState::Dead), 10).await.unwrap();
    assert_eq!(dead.len(), 2, "only the poison jobs are dead: {dead:#?}");
    for job in &dead {
        assert!(job.attempts <= job.max_attempts, "{job:?}");
        assert!(
            job.last_error.as_deref().is_some_and(|e| !e.is_empty()),
            "the error is kept: {job:?}"
        );
    }
    until_idle(&store, 30).await;
    let runs = scalar(
        &db_url,
        &format!("SELECT COUNT(*) FROM jobs WHERE key = '{refused_key}'"),
    )
    .await;
    assert!(
        (1..=3).contains(&runs),
        "{runs} reconciles of the refused record"
    );
    let (row, page) = (
        sb.row_for(&refused_page).unwrap(),
        sb.notion.page(&refused_page).unwrap(),
    );
    assert_eq!(
        row["fields"]["Status"],
        json!("Blocked, waiting"),
        "not overwritten"
    );
    assert_eq!(select_name(&page["properties"]["Status"]), notion_status);
}

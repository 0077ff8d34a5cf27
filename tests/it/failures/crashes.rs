//! The process dies under load: SIGKILL while webhooks are in flight (some
//! committed but never answered), and SIGTERM (a deploy). The sender
//! redelivers what was not acknowledged; after a restart nothing is lost,
//! nothing is duplicated, and no job is left `running`.
//!
//! The service runs with `SWEEP_AT_START=false` (the first full sweep is
//! asked for through `/reconcile`), so a restart sweeps nothing: what was
//! acknowledged before the crash reaches Airtable only through the job
//! table. Each test checks that no sweep was queued after the restart and
//! that every job waiting at the crash was done after it.

use std::{sync::Arc, time::Duration};

use notion_airtable_sandbox::common::Faults;

use notion_airtable_sync::store::now_ms;

use super::{
    harness::{
        Backend, Options, Sandboxes, Service, TempDir, assert_done_since, assert_no_dead_jobs,
        assert_no_sweep_since, database_url, eventually, inbox_ids, live_job_keys, until_idle,
    },
    traffic::{Traffic, converged},
};

/// The test is the only Notion sender (it knows what was acknowledged); no
/// sweep at start; a short lease, so that the jobs a killed worker held are
/// reclaimed soon after the restart.
fn options() -> Options {
    Options {
        notion_webhooks: false,
        airtable_webhooks: false,
        sweep_at_start: false,
        env: vec![("JOB_LEASE_SECS".into(), "5".into())],
        ..Options::default()
    }
}

async fn acked_at_least(traffic: &Traffic, n: usize, secs: u64) {
    eventually(secs, "acknowledged events", async || {
        (traffic.ledger.lock().unwrap().acked_ids().len() >= n).then_some(())
    })
    .await;
}

async fn failed_deliveries_at_least(traffic: &Traffic, n: usize) {
    eventually(30, "deliveries to a dead service", async || {
        let l = traffic.ledger.lock().unwrap();
        (l.attempts.iter().filter(|a| a.status.is_none()).count() >= n).then_some(())
    })
    .await;
}

pub async fn sigkill_with_webhooks_in_flight_loses_and_duplicates_nothing(backend: Backend) {
    let dir = TempDir::new();
    let sb = Arc::new(Sandboxes::start().await);
    let db_url = database_url(backend, &dir.0).await;
    let mut svc = Service::new(&sb, &dir.0, &db_url, options());
    svc.start_synced(&sb).await;
    // The initial sweep is over before the traffic: a sweep reclaimed after
    // the restart would heal what the jobs are meant to.
    until_idle(&svc.store().await, 60).await;

    // Slow API answers: jobs wait in the table when the process dies.
    sb.notion.set_faults(Faults {
        latency_ms: 300,
        ..Faults::default()
    });
    let mut traffic = Traffic::start(&sb, &svc.url, &svc.notion_secret, 6, 2, Duration::ZERO);
    acked_at_least(&traffic, 60, 60).await;
    svc.kill();
    let store = svc.store().await;
    let waiting = live_job_keys(&store).await;
    assert!(!waiting.is_empty(), "jobs were waiting at the kill");
    assert!(
        !waiting.iter().any(|k| k.starts_with("sweep:")),
        "{waiting:?}"
    );
    failed_deliveries_at_least(&traffic, 6).await;
    // Which unanswered events had committed anyway: the window this test
    // is about (the sender cannot know, and must retry them).
    let committed_unanswered = {
        let inbox = inbox_ids(&db_url).await;
        let l = traffic.ledger.lock().unwrap();
        l.events
            .iter()
            .filter(|e| !e.acked && inbox.contains(&e.id))
            .count()
    };
    let restarted_at = now_ms();
    svc.start();
    svc.ready(30).await;
    acked_at_least(&traffic, 90, 60).await;
    traffic.stop().await;
    traffic
        .redeliver_unacked(&svc.url, &svc.notion_secret, 30)
        .await;
    sb.notion.set_faults(Faults::default());

    assert!(traffic.unexpected_statuses().is_empty());
    let (all, pages) = {
        let l = traffic.ledger.lock().unwrap();
        (l.all_ids(), l.pages())
    };
    let inbox = inbox_ids(&db_url).await;
    assert!(all.is_subset(&inbox), "every event recorded");
    converged(&sb, &pages, 60).await;
    until_idle(&store, 30).await;
    assert_no_dead_jobs(&store).await;
    assert_done_since(&store, &waiting, restarted_at).await;
    assert_no_sweep_since(&store, restarted_at).await;
    eprintln!(
        "{} events, {} committed but unanswered at the kill",
        all.len(),
        committed_unanswered
    );
}

pub async fn sigterm_under_load_finishes_or_releases_every_job(backend: Backend) {
    let dir = TempDir::new();
    let sb = Arc::new(Sandboxes::start().await);
    let db_url = database_url(backend, &dir.0).await;
    let mut svc = Service::new(&sb, &dir.0, &db_url, options());
    svc.start_synced(&sb).await;
    // The initial sweep is over before the traffic: a sweep reclaimed after
    // the restart would heal what the jobs are meant to.
    until_idle(&svc.store().await, 60).await;
    // Slow API answers: jobs are mid-flight when the signal comes.
    sb.notion.set_faults(Faults {
        latency_ms: 300,
        ..Faults::default()
    });

    let mut traffic = Traffic::start(
        &sb,
        &svc.url,
        &svc.notion_secret,
        4,
        3,
        Duration::from_millis(20),
    );
    acked_at_least(&traffic, 40, 60).await;
    let store = svc.store().await;
    eventually(30, "jobs running at the signal", async || {
        (store.job_counts().await.ok()?.running > 0).then_some(())
    })
    .await;
    let status = svc.terminate(40);
    assert!(status.success(), "serve exits cleanly on SIGTERM: {status}");
    let counts = store.job_counts().await.unwrap();
    assert_eq!(counts.running, 0, "no job left running: {counts:?}");
    let waiting = live_job_keys(&store).await;
    assert!(!waiting.is_empty(), "jobs were released at the signal");
    assert!(
        !waiting.iter().any(|k| k.starts_with("sweep:")),
        "{waiting:?}"
    );

    failed_deliveries_at_least(&traffic, 4).await;
    let restarted_at = now_ms();
    svc.start();
    svc.ready(30).await;
    traffic.stop().await;
    traffic
        .redeliver_unacked(&svc.url, &svc.notion_secret, 30)
        .await;
    sb.notion.set_faults(Faults::default());

    assert!(traffic.unexpected_statuses().is_empty());
    let (all, pages) = {
        let l = traffic.ledger.lock().unwrap();
        (l.all_ids(), l.pages())
    };
    assert!(
        all.is_subset(&inbox_ids(&db_url).await),
        "every event recorded"
    );
    converged(&sb, &pages, 60).await;
    until_idle(&store, 30).await;
    assert_no_dead_jobs(&store).await;
    assert_done_since(&store, &waiting, restarted_at).await;
    assert_no_sweep_since(&store, restarted_at).await;
}

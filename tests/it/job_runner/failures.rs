//! What the runner does with each kind of failure.

use std::{
    sync::{
        Arc,
        atomic::{AtomicI32, Ordering},
    },
    time::Duration,
};

use notion_airtable_sync::{
    queue::{JobError, Runner},
    store::{JobState, NewJob, now_ms},
};

use super::support::{TICK, TestDb, config, enqueue_page, handler, job, page_of, until, until_due};

/// Counts calls; `n` is the call number (1-based).
fn counting<F>(
    respond: F,
) -> (
    Arc<AtomicI32>,
    Arc<impl notion_airtable_sync::queue::JobHandler>,
)
where
    F: Fn(i32) -> Result<(), JobError> + Send + Sync + 'static,
{
    let calls = Arc::new(AtomicI32::new(0));
    let counter = Arc::clone(&calls);
    let respond = Arc::new(respond);
    let handler = handler(move |_job, _spec| {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        let respond = Arc::clone(&respond);
        async move { respond(n) }
    });
    (calls, handler)
}

pub async fn rate_limited_job_waits_without_spending_an_attempt(db: TestDb) {
    let id = enqueue_page(&db.store, "p1", 3).await;
    let (calls, handler) = counting(|n| match n {
        1 => Err(JobError::RateLimited {
            retry_after: Duration::from_millis(300),
            vendor: None,
        }),
        _ => Ok(()),
    });
    let runner = Runner::new(db.store.clone(), handler, config());

    let stats = runner.run_until_idle().await.expect("drain");
    assert_eq!((stats.rate_limited, stats.completed), (1, 0), "{stats:?}");
    let waiting = job(&db.store, id).await;
    assert_eq!(waiting.state, JobState::Pending);
    assert_eq!(waiting.attempts, 0, "a rate-limit wait spends no attempt");
    assert_eq!(
        waiting.run_at - waiting.updated_at,
        300,
        "due after Retry-After"
    );
    let error = waiting.last_error.unwrap_or_default();
    assert!(error.contains("rate limited"), "{error}");

    until_due(&db.store, id).await;
    let stats = runner.run_until_idle().await.expect("drain");
    assert_eq!(stats.completed, 1, "{stats:?}");
    let done = job(&db.store, id).await;
    assert_eq!((done.state, done.attempts), (JobState::Done, 1));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// What one call of a failing handler saw.
#[derive(Debug, Clone)]
struct Call {
    attempt: i32,
    started: i64,
    ended: i64,
    run_at: i64,
    last_error: Option<String>,
}

/// Retries are observed from inside the handler (a retry drawn near zero
/// may run again within the same drain): each call sees the previous
/// failure's error and a due time within that attempt's backoff ceiling.
pub async fn retryable_failures_back_off_then_die_with_the_last_error(db: TestDb) {
    let id = enqueue_page(&db.store, "p1", 3).await;
    let calls = Arc::new(std::sync::Mutex::new(Vec::<Call>::new()));
    let (seen, store) = (Arc::clone(&calls), db.store.clone());
    let handler = handler(move |claimed, _spec| {
        let (seen, store) = (Arc::clone(&seen), store.clone());
        async move {
            let started = now_ms();
            let row = job(&store, claimed.id).await;
            let attempt = claimed.attempts;
            seen.lock().unwrap().push(Call {
                attempt,
                started,
                ended: now_ms(),
                run_at: row.run_at,
                last_error: row.last_error,
            });
            Err(JobError::retryable(format!("boom {attempt}")))
        }
    });
    let config = config();
    let backoff = config.backoff;
    let runner = Runner::new(db.store.clone(), handler, config);

    until(Duration::from_secs(10), TICK, "the job to die", || async {
        runner.run_until_idle().await.expect("drain");
        job(&db.store, id).await.state == JobState::Dead
    })
    .await;

    let dead = job(&db.store, id).await;
    assert_eq!(dead.attempts, 3);
    assert_eq!(dead.last_error.as_deref(), Some("boom 3"));
    let calls = calls.lock().unwrap().clone();
    assert_eq!(
        calls.iter().map(|c| c.attempt).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    for pair in calls.windows(2) {
        let (before, call) = (&pair[0], &pair[1]);
        let expected = format!("boom {}", before.attempt);
        assert_eq!(call.last_error.as_deref(), Some(&*expected));
        assert!(
            call.started >= call.run_at,
            "ran before its retry was due: {call:?}"
        );
        // The failure was recorded just after `before.ended`; allow for that.
        let ceiling = i64::try_from(backoff.ceiling(before.attempt).as_millis()).unwrap();
        let delay = call.run_at - before.ended;
        assert!(
            (0..=ceiling + 100).contains(&delay),
            "{delay} ms after {before:?}"
        );
    }
    let stats = runner.stats();
    assert_eq!(
        (stats.retried, stats.dead, stats.completed),
        (2, 1, 0),
        "{stats:?}"
    );
}

/// Retrying cannot fix a fatal error: the job is dead after its first
/// attempt, attempts left or not, with the error kept for the operator.
pub async fn fatal_errors_bury_the_job_after_its_first_attempt(db: TestDb) {
    let id = enqueue_page(&db.store, "fatal", 5).await;
    let (calls, handler) = counting(|_| Err(JobError::fatal("400 validation_error")));
    let runner = Runner::new(db.store.clone(), handler, config());

    let stats = runner.run_until_idle().await.expect("drain");

    assert_eq!(calls.load(Ordering::SeqCst), 1, "ran once");
    let dead = job(&db.store, id).await;
    assert_eq!((dead.state, dead.attempts), (JobState::Dead, 1));
    assert_eq!(
        dead.last_error.as_deref(),
        Some("fatal: 400 validation_error")
    );
    assert!(dead.finished_at.is_some());
    assert_eq!((stats.retried, stats.dead), (0, 1), "{stats:?}");
}

pub async fn unreadable_payload_is_fatal_without_calling_the_handler(db: TestDb) {
    let now = now_ms();
    let job_row = NewJob::new("reconcile_page", "record:specs:page:p1", now)
        .with_payload(serde_json::json!({"kind": "no_such_kind"}))
        .with_max_attempts(1);
    let id = db.store.enqueue(&job_row, now).await.expect("enqueue").id();
    let (calls, handler) = counting(|_| Ok(()));
    let runner = Runner::new(db.store.clone(), handler, config());

    runner.run_until_idle().await.expect("drain");

    assert_eq!(calls.load(Ordering::SeqCst), 0);
    let dead = job(&db.store, id).await;
    assert_eq!(dead.state, JobState::Dead);
    let error = dead.last_error.unwrap_or_default();
    assert!(error.contains("payload is not a job"), "{error}");
}

pub async fn panicking_handler_is_retried_and_the_runner_carries_on(db: TestDb) {
    let flaky = enqueue_page(&db.store, "flaky", 3).await;
    let steady = enqueue_page(&db.store, "steady", 3).await;
    let handler = handler(move |claimed, spec| async move {
        if page_of(&spec) == "flaky" && claimed.attempts == 1 {
            panic!("unexpected shape");
        }
        Ok(())
    });
    let runner = Runner::new(db.store.clone(), handler, config());

    until(Duration::from_secs(10), TICK, "both jobs done", || async {
        runner.run_until_idle().await.expect("drain");
        job(&db.store, flaky).await.state == JobState::Done
    })
    .await;

    let done = job(&db.store, flaky).await;
    assert_eq!(done.attempts, 2, "the panic spent one attempt");
    let error = done.last_error.unwrap_or_default();
    assert!(error.contains("panicked: unexpected shape"), "{error}");
    assert_eq!(job(&db.store, steady).await.state, JobState::Done);
    let stats = runner.stats();
    assert_eq!((stats.retried, stats.completed), (1, 2), "{stats:?}");
}

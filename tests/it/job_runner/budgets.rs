//! Budgets shared through the database: pacing, penalties, and how the
//! runner reschedules jobs around a 429.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicI32, Ordering},
    },
    time::{Duration, Instant},
};

use notion_airtable_sync::{
    clients::{SharedBudget, api_error::Vendor},
    queue::{Backoff, JobError, Runner, RunnerConfig},
    secret::Secret,
    store::{JobState, now_ms},
};

use super::support::{
    TICK, TestDb, config, enqueue_page, handler_with_budgets, job, page_of, until, until_due,
};

/// Two replicas' budgets at 20/s (burst 1): 20 acquisitions between them
/// are spaced as one client's would be.
pub async fn two_instances_share_one_pace(db: TestDb) {
    let name = "airtable:appPace";
    let a = Arc::new(SharedBudget::new(db.store.clone(), name, 20.0, 1));
    let b = Arc::new(SharedBudget::new(db.second_store().await, name, 20.0, 1));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for budget in [a, b] {
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            for _ in 0..10 {
                budget.acquire().await.expect("acquire");
                times.push(t0.elapsed());
            }
            times
        }));
    }
    let mut times = Vec::new();
    for task in tasks {
        times.extend(task.await.expect("join"));
    }
    times.sort();

    // The k-th call starts no earlier than k intervals after the first
    // could (a few ms for the two clocks' rounding).
    for (k, at) in times.iter().enumerate() {
        let earliest =
            Duration::from_millis(50 * k as u64).saturating_sub(Duration::from_millis(5));
        assert!(*at >= earliest, "call {k} at {at:?}, before {earliest:?}");
    }
    assert!(
        times[19] < Duration::from_secs(5),
        "no needless waiting: {times:?}"
    );
}

pub async fn a_penalty_set_by_one_instance_blocks_the_other(db: TestDb) {
    let token = Secret::new("secret_test");
    let a = SharedBudget::notion(db.store.clone(), &token);
    let b = SharedBudget::notion(db.second_store().await, &token);
    assert_eq!(a.name(), b.name());
    assert_eq!(b.blocked_for().await.expect("read"), None);

    a.penalize(Duration::from_millis(800))
        .await
        .expect("penalize");
    let until = b
        .blocked_until()
        .await
        .expect("read")
        .expect("b sees the penalty");
    let left = b.blocked_for().await.expect("read").expect("b is blocked");
    assert!(
        left > Duration::from_millis(500) && left <= Duration::from_millis(800),
        "{left:?}"
    );

    b.acquire().await.expect("acquire");
    assert!(now_ms() + 2 >= until, "b waited for the penalty to pass");
    assert_eq!(b.blocked_for().await.expect("read"), None);
}

/// A job whose budget is under a penalty is put back until it ends, without
/// running and without spending an attempt.
pub async fn runner_defers_jobs_while_their_budget_is_penalized(db: TestDb) {
    let budget = Arc::new(SharedBudget::airtable(db.store.clone(), "appDefer"));
    let calls = Arc::new(AtomicI32::new(0));
    let counter = Arc::clone(&calls);
    let handler = handler_with_budgets(vec![Arc::clone(&budget)], move |_job, _spec| {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Ok(()) }
    });
    let runner = Runner::new(db.store.clone(), handler, config());
    let id = enqueue_page(&db.store, "p1", 3).await;
    budget
        .penalize(Duration::from_millis(500))
        .await
        .expect("penalize");
    let until = budget
        .blocked_until()
        .await
        .expect("read")
        .expect("penalized");

    let stats = runner.run_until_idle().await.expect("drain");
    assert_eq!((stats.deferred, stats.completed), (1, 0), "{stats:?}");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "not run during the penalty"
    );
    let deferred = job(&db.store, id).await;
    assert_eq!((deferred.state, deferred.attempts), (JobState::Pending, 0));
    assert_eq!(deferred.run_at, until, "due when the penalty ends");

    until_due(&db.store, id).await;
    let stats = runner.run_until_idle().await.expect("drain");
    assert_eq!(stats.completed, 1, "{stats:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// A 429 reported by a job pauses that vendor's budgets for every replica,
/// and only that vendor's.
pub async fn a_vendor_429_penalizes_that_vendors_budgets(db: TestDb) {
    let airtable = Arc::new(SharedBudget::airtable(db.store.clone(), "appLimited"));
    let notion = Arc::new(SharedBudget::notion(
        db.store.clone(),
        &Secret::new("secret_x"),
    ));
    let handler = handler_with_budgets(
        vec![Arc::clone(&notion), Arc::clone(&airtable)],
        |_job, _spec| async {
            Err(JobError::RateLimited {
                retry_after: Duration::from_secs(30),
                vendor: Some(Vendor::Airtable),
            })
        },
    );
    let runner = Runner::new(db.store.clone(), handler, config());
    let id = enqueue_page(&db.store, "p1", 3).await;

    let stats = runner.run_until_idle().await.expect("drain");

    assert_eq!(stats.rate_limited, 1, "{stats:?}");
    let replica = SharedBudget::airtable(db.second_store().await, "appLimited");
    let left = replica
        .blocked_for()
        .await
        .expect("read")
        .expect("penalized");
    assert!(left > Duration::from_secs(25), "{left:?}");
    assert_eq!(notion.blocked_for().await.expect("read"), None);
    let waiting = job(&db.store, id).await;
    assert_eq!((waiting.state, waiting.attempts), (JobState::Pending, 0));
}

/// A vendor found down (5xx, no answer) trips a breaker shared through the
/// budgets: the job that trips it spends its attempt and comes back within
/// the outage retry cap (not the hour-long backoff), after the pause; a job
/// that was running meanwhile and failed the same way gets its attempt
/// back; a job started during the pause waits without running. The other
/// vendor's budgets are untouched.
pub async fn an_unavailable_vendor_pauses_its_budgets_and_the_rest_wait(db: TestDb) {
    let airtable = Arc::new(SharedBudget::airtable(db.store.clone(), "appDown"));
    let notion = Arc::new(SharedBudget::notion(
        db.store.clone(),
        &Secret::new("secret_up"),
    ));
    let calls = Arc::new(AtomicI32::new(0));
    let (counter, watched) = (Arc::clone(&calls), Arc::clone(&airtable));
    // The probe fails only once the other job runs, which fails only once
    // the probe has tripped the breaker.
    let started = Arc::new(AtomicBool::new(false));
    let handler = handler_with_budgets(
        vec![Arc::clone(&notion), Arc::clone(&airtable)],
        move |_job, spec| {
            counter.fetch_add(1, Ordering::SeqCst);
            let (page, watched) = (page_of(&spec), Arc::clone(&watched));
            let started = Arc::clone(&started);
            async move {
                let down = || JobError::Unavailable {
                    vendor: Vendor::Airtable,
                    message: "Airtable temporary failure (503 SERVICE_UNAVAILABLE)".into(),
                };
                match page.as_str() {
                    "probe" => {
                        until(
                            Duration::from_secs(10),
                            TICK,
                            "the other job to start",
                            || async { started.load(Ordering::SeqCst) },
                        )
                        .await;
                        Err(down())
                    }
                    "concurrent" => {
                        started.store(true, Ordering::SeqCst);
                        until(
                            Duration::from_secs(10),
                            TICK,
                            "the breaker to trip",
                            || async { watched.blocked_until().await.expect("read").is_some() },
                        )
                        .await;
                        Err(down())
                    }
                    _ => Ok(()),
                }
            }
        },
    );
    // An ordinary retry could wait up to an hour; an outage's must not.
    let config = RunnerConfig {
        backoff: Backoff {
            base: Duration::from_secs(3600),
            cap: Duration::from_secs(3600),
        },
        ..config()
    };
    let runner = Runner::new(db.store.clone(), handler, config);
    let probe = enqueue_page(&db.store, "probe", 3).await;
    let concurrent = enqueue_page(&db.store, "concurrent", 3).await;

    let stats = runner.run_until_idle().await.expect("drain");

    assert_eq!(stats.retried, 2, "{stats:?}");
    let paused = airtable
        .blocked_for()
        .await
        .expect("read")
        .expect("the vendor's budget is paused");
    assert!(
        paused > Duration::from_secs(3) && paused <= Duration::from_secs(5),
        "a short probe interval: {paused:?}"
    );
    assert_eq!(notion.blocked_for().await.expect("read"), None);
    let until = airtable
        .blocked_until()
        .await
        .expect("read")
        .expect("paused");
    for (id, spent) in [(probe, 1), (concurrent, 0)] {
        let failed = job(&db.store, id).await;
        assert_eq!((failed.state, failed.attempts), (JobState::Pending, spent));
        // Each failure paused the budget for 5 s from just before it was recorded.
        let wait = failed.run_at - failed.updated_at;
        assert!(
            wait >= 4_000,
            "not retried before the pause ends: {wait} ms"
        );
        assert!(
            failed.run_at <= failed.updated_at + 30_000,
            "retried within the outage cap: {} ms",
            failed.run_at - failed.updated_at
        );
        let error = failed.last_error.unwrap_or_default();
        assert!(error.contains("503"), "{error}");
    }

    let other = enqueue_page(&db.store, "other", 3).await;
    let stats = runner.run_until_idle().await.expect("drain");
    assert_eq!(stats.deferred, 1, "{stats:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 2, "the new job did not run");
    let waiting = job(&db.store, other).await;
    assert_eq!((waiting.state, waiting.attempts), (JobState::Pending, 0));
    assert_eq!(waiting.run_at, until, "due when the pause ends");
}

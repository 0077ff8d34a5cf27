//! Leases: a run that lost its lease changes nothing, and shutdown gives
//! unfinished jobs back.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicI32, Ordering},
    },
    time::{Duration, Instant},
};

use futures::FutureExt;
use notion_airtable_sync::{
    queue::{Runner, RunnerConfig},
    store::{JobState, now_ms},
};
use tokio::sync::Notify;

use super::support::{
    DropFlag, TICK, TestDb, config, enqueue_page, handler, job, page_of, start, until,
};

/// Wait until the job's lease has expired.
async fn until_lease_expired(db: &TestDb, id: i64) {
    until(
        Duration::from_secs(10),
        TICK,
        "the lease to expire",
        || async {
            job(&db.store, id)
                .await
                .locked_until
                .is_some_and(|until| now_ms() > until)
        },
    )
    .await;
}

/// Runner A's first attempt outlives its lease (no heartbeat in time);
/// runner B reclaims and completes the job; A's late completion is refused.
pub async fn late_completion_after_losing_the_lease_is_rejected(db: TestDb) {
    let id = enqueue_page(&db.store, "p1", 5).await;
    let started = Arc::new(AtomicI32::new(0));
    let second_done = Arc::new(Notify::new());
    let (s, done) = (Arc::clone(&started), Arc::clone(&second_done));
    let handler = handler(move |claimed, _spec| {
        let done = Arc::clone(&done);
        s.fetch_add(1, Ordering::SeqCst);
        async move {
            if claimed.attempts == 1 {
                // Finish only after the takeover has completed the job.
                done.notified().await;
            } else {
                done.notify_one();
            }
            Ok(())
        }
    });
    let short_lease = RunnerConfig {
        lease: Duration::from_millis(300),
        heartbeat: Duration::from_secs(60),
        ..config()
    };
    let a = Arc::new(Runner::new(
        db.store.clone(),
        Arc::clone(&handler),
        short_lease,
    ));
    let b = Runner::new(db.second_store().await, handler, config());

    let first = tokio::spawn({
        let a = Arc::clone(&a);
        async move { a.run_until_idle().await }
    });
    until(
        Duration::from_secs(10),
        TICK,
        "the first attempt to start",
        || async { started.load(Ordering::SeqCst) == 1 },
    )
    .await;
    until_lease_expired(&db, id).await;
    let stats_b = b.run_until_idle().await.expect("drain b");
    let stats_a = first.await.expect("join").expect("drain a");

    assert_eq!(
        (stats_b.completed, stats_b.lease_lost),
        (1, 0),
        "{stats_b:?}"
    );
    assert_eq!(
        (stats_a.completed, stats_a.lease_lost),
        (0, 1),
        "{stats_a:?}"
    );
    let done = job(&db.store, id).await;
    assert_eq!((done.state, done.attempts), (JobState::Done, 2));
    assert_eq!(started.load(Ordering::SeqCst), 2);
}

/// The heartbeat finds the lease taken over and stops the run at once.
pub async fn heartbeat_notices_a_lost_lease_and_abandons_the_run(db: TestDb) {
    let id = enqueue_page(&db.store, "p1", 5).await;
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&dropped);
    let handler = handler(move |_claimed, _spec| {
        let guard = DropFlag(Arc::clone(&flag));
        async move {
            let _guard = guard;
            std::future::pending::<()>().await;
            Ok(())
        }
    });
    let config = RunnerConfig {
        lease: Duration::from_millis(300),
        heartbeat: Duration::from_secs(2),
        ..config()
    };
    let runner = Arc::new(Runner::new(db.store.clone(), handler, config));
    let running = tokio::spawn({
        let runner = Arc::clone(&runner);
        async move { runner.run_until_idle().await }
    });
    until_lease_expired(&db, id).await;
    // Another worker takes the job over and finishes it.
    let other = db.second_store().await;
    let taken = other
        .claim(Duration::from_secs(30), now_ms())
        .await
        .expect("claim")
        .expect("the expired job");
    assert_eq!(taken.id, id);
    assert!(
        other
            .complete(id, &taken.lease_token, now_ms())
            .await
            .expect("complete")
    );

    let stats = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the runner gives up the job")
        .expect("join")
        .expect("drain");
    assert_eq!((stats.lease_lost, stats.completed), (1, 0), "{stats:?}");
    assert!(
        dropped.load(Ordering::SeqCst),
        "the abandoned run was stopped"
    );
    let done = job(&db.store, id).await;
    assert_eq!((done.state, done.attempts), (JobState::Done, 2));
}

/// Shutdown waits the grace period for a stuck job, then releases it:
/// pending again, due now, attempt not spent, nothing left running.
pub async fn shutdown_releases_unfinished_jobs_after_the_grace_period(db: TestDb) {
    let stuck = enqueue_page(&db.store, "stuck", 5).await;
    let quick = enqueue_page(&db.store, "quick", 5).await;
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&dropped);
    let handler = handler(move |_claimed, spec| {
        let stuck = page_of(&spec) == "stuck";
        let guard = stuck.then(|| DropFlag(Arc::clone(&flag)));
        async move {
            let _guard = guard;
            if stuck {
                std::future::pending::<()>().await;
            }
            Ok(())
        }
    });
    let grace = Duration::from_millis(400);
    let config = RunnerConfig {
        shutdown_grace: grace,
        ..config()
    };
    let runner = Arc::new(Runner::new(db.store.clone(), handler, config));
    let background = start(&runner);
    until(
        Duration::from_secs(10),
        TICK,
        "the quick job done, the stuck one running",
        || async {
            job(&db.store, quick).await.state == JobState::Done
                && job(&db.store, stuck).await.state == JobState::Running
        },
    )
    .await;

    let asked = Instant::now();
    let stats = background.stop().await;
    let took = asked.elapsed();

    assert!(took >= grace, "waited the grace period: {took:?}");
    assert!(
        took < grace + Duration::from_secs(3),
        "then released promptly: {took:?}"
    );
    assert_eq!((stats.released, stats.completed), (1, 1), "{stats:?}");
    assert!(dropped.load(Ordering::SeqCst), "the stuck run was stopped");
    let released = job(&db.store, stuck).await;
    assert_eq!(released.state, JobState::Pending);
    assert_eq!(released.attempts, 0, "a release spends no attempt");
    assert!(released.run_at <= now_ms(), "due again at once");
    assert_eq!(db.store.job_counts().await.expect("counts").running, 0);
}

/// A job that finishes within the grace period is completed, not released.
pub async fn shutdown_lets_in_flight_jobs_finish_within_the_grace_period(db: TestDb) {
    let id = enqueue_page(&db.store, "slow", 5).await;
    let started = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&started);
    let handler = handler(move |_claimed, _spec| {
        seen.store(true, Ordering::SeqCst);
        // Work that outlasts the shutdown request but not the grace period.
        tokio::time::sleep(Duration::from_millis(300)).map(Ok)
    });
    let runner = Arc::new(Runner::new(db.store.clone(), handler, config()));
    let background = start(&runner);
    until(
        Duration::from_secs(10),
        TICK,
        "the job to start",
        || async { started.load(Ordering::SeqCst) },
    )
    .await;

    let stats = background.stop().await;

    assert_eq!((stats.completed, stats.released), (1, 0), "{stats:?}");
    assert_eq!(job(&db.store, id).await.state, JobState::Done);
}

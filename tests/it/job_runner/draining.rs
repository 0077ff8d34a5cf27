//! Every job runs once, concurrently up to the slot count, and idle runners
//! wake up when told.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use notion_airtable_sync::{
    queue::{JobsNotifier, Runner, RunnerConfig},
    store::{Backend, JobState},
};

use super::support::{TICK, TestDb, config, enqueue_page, handler, job, page_of, start, until};

/// Jobs handled per page, and the most handled at once.
#[derive(Default)]
struct Tally {
    runs: Mutex<HashMap<String, usize>>,
    running: Mutex<HashSet<String>>,
    overlaps: AtomicUsize,
    now: AtomicUsize,
    most: AtomicUsize,
}

impl Tally {
    fn enter(&self, page: &str) {
        *self
            .runs
            .lock()
            .unwrap()
            .entry(page.to_owned())
            .or_default() += 1;
        if !self.running.lock().unwrap().insert(page.to_owned()) {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
    }

    fn leave(&self, page: &str) {
        self.running.lock().unwrap().remove(page);
        self.now.fetch_sub(1, Ordering::SeqCst);
    }

    fn assert_each_ran_once(&self, pages: usize) {
        let runs = self.runs.lock().unwrap();
        assert_eq!(runs.len(), pages, "every job ran");
        let twice: Vec<_> = runs.iter().filter(|(_, n)| **n != 1).collect();
        assert!(twice.is_empty(), "jobs run more than once: {twice:?}");
        assert_eq!(
            self.overlaps.load(Ordering::SeqCst),
            0,
            "a job ran twice at once"
        );
    }
}

fn tallying_handler(tally: &Arc<Tally>) -> Arc<impl notion_airtable_sync::queue::JobHandler> {
    let tally = Arc::clone(tally);
    handler(move |_job, spec| {
        let tally = Arc::clone(&tally);
        async move {
            let page = page_of(&spec);
            tally.enter(&page);
            tokio::time::sleep(Duration::from_millis(3)).await;
            tally.leave(&page);
            Ok(())
        }
    })
}

pub async fn each_job_runs_exactly_once_in_four_slots(db: TestDb) {
    for i in 0..200 {
        enqueue_page(&db.store, &format!("p{i}"), 5).await;
    }
    let tally = Arc::new(Tally::default());
    let runner = Runner::new(db.store.clone(), tallying_handler(&tally), config());

    let stats = runner.run_until_idle().await.expect("drain");

    tally.assert_each_ran_once(200);
    assert_eq!((stats.claimed, stats.completed), (200, 200), "{stats:?}");
    let most = tally.most.load(Ordering::SeqCst);
    assert!((2..=4).contains(&most), "ran up to {most} at once");
    let counts = db.store.job_counts().await.expect("counts");
    assert_eq!((counts.done, counts.pending, counts.running), (200, 0, 0));
}

pub async fn two_runners_never_run_a_job_twice(db: TestDb) {
    for i in 0..100 {
        enqueue_page(&db.store, &format!("p{i}"), 5).await;
    }
    let tally = Arc::new(Tally::default());
    let a = Runner::new(db.store.clone(), tallying_handler(&tally), config());
    let b = Runner::new(db.second_store().await, tallying_handler(&tally), config());

    let (sa, sb) = tokio::join!(a.run_until_idle(), b.run_until_idle());
    let (sa, sb) = (sa.expect("drain a"), sb.expect("drain b"));

    tally.assert_each_ran_once(100);
    assert_eq!(sa.completed + sb.completed, 100, "{sa:?} {sb:?}");
    assert!(
        sa.completed > 0 && sb.completed > 0,
        "both ran jobs: {sa:?} {sb:?}"
    );
    assert_eq!(sa.lease_lost + sb.lease_lost, 0);
}

/// With a poll interval far beyond the test's deadline, only a wake-up can
/// make an idle runner see a new job: in-process on SQLite, LISTEN/NOTIFY
/// from another "process" (its own notifier and pool) on Postgres.
pub async fn a_wake_up_beats_the_poll_interval(db: TestDb) {
    let handled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&handled);
    let handler = handler(move |_job, _spec| {
        let counter = Arc::clone(&counter);
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    });
    let postgres = db.store.backend() == Backend::Postgres;
    let config = RunnerConfig {
        poll_interval: Duration::from_secs(600),
        listen_url: postgres.then(|| db.url.clone()),
        ..config()
    };
    let runner = Arc::new(Runner::new(db.store.clone(), handler, config));
    let notifier = if postgres {
        JobsNotifier::none()
            .with_postgres(&db.url)
            .expect("a Postgres URL")
    } else {
        runner.notifier()
    };
    // The first job is found by the runner's first look; then it idles.
    let first = enqueue_page(&db.store, "first", 5).await;
    let background = start(&runner);
    until(
        Duration::from_secs(10),
        TICK,
        "the first job done",
        || async { job(&db.store, first).await.state == JobState::Done },
    )
    .await;

    let second = enqueue_page(&db.store, "second", 5).await;
    // The LISTEN connection may not be up yet: a lost hint is re-sent.
    until(
        Duration::from_secs(10),
        TICK,
        "the woken runner to run the job",
        || async {
            notifier.notify();
            tokio::time::sleep(Duration::from_millis(50)).await;
            job(&db.store, second).await.state == JobState::Done
        },
    )
    .await;
    assert_eq!(handled.load(Ordering::SeqCst), 2);
    let stats = background.stop().await;
    assert_eq!(stats.completed, 2);
}

//! Jobs: migrations, enqueue and coalescing, claiming.

use std::{collections::HashSet, time::Duration};

use notion_airtable_sync::store::{EnqueueOutcome, JobState, NewJob, Store, now_ms};

const LEASE: Duration = Duration::from_secs(30);

pub async fn migrations_are_idempotent(store: Store) {
    assert!(store.migrations_applied().await.expect("check"));
    store.migrate().await.expect("second migrate is a no-op");
    store.migrate().await.expect("third migrate is a no-op");
    assert!(store.migrations_applied().await.expect("check"));
    store.ping().await.expect("ping");
}

pub async fn enqueue_coalesces_per_key(store: Store) {
    let now = now_ms();
    let first = store
        .enqueue(&NewJob::new("reconcile", "k1", now + 2_000), now)
        .await
        .expect("enqueue");
    let EnqueueOutcome::Inserted(id) = first else {
        panic!("first enqueue should insert: {first:?}");
    };
    // A later request keeps the earlier run_at...
    let later = store
        .enqueue(&NewJob::new("reconcile", "k1", now + 5_000), now)
        .await
        .expect("enqueue");
    assert_eq!(later, EnqueueOutcome::Coalesced(id));
    assert_eq!(run_at(&store, id).await, now + 2_000);
    // ...and an earlier one pulls the job forward.
    let earlier = store
        .enqueue(&NewJob::new("reconcile", "k1", now + 1_000), now)
        .await
        .expect("enqueue");
    assert_eq!(earlier, EnqueueOutcome::Coalesced(id));
    assert_eq!(run_at(&store, id).await, now + 1_000);

    let other = store
        .enqueue(&NewJob::new("reconcile", "k2", now), now)
        .await
        .expect("enqueue");
    assert!(
        matches!(other, EnqueueOutcome::Inserted(o) if o != id),
        "{other:?}"
    );
    assert_eq!(store.job_counts().await.expect("counts").pending, 2);
}

async fn run_at(store: &Store, id: i64) -> i64 {
    store
        .get_job(id)
        .await
        .expect("get")
        .expect("exists")
        .run_at
}

pub async fn concurrent_enqueues_make_one_pending_job(store: Store) {
    let now = now_ms();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let job = NewJob::new("reconcile", "reconcile:specs:notion:p1", now + i);
                store.enqueue(&job, now).await.expect("enqueue")
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("task"));
    }
    let inserted = outcomes
        .iter()
        .filter(|o| matches!(o, EnqueueOutcome::Inserted(_)))
        .count();
    assert_eq!(inserted, 1, "{outcomes:?}");
    let ids: HashSet<i64> = outcomes.iter().map(|o| o.id()).collect();
    assert_eq!(ids.len(), 1, "all outcomes name the same job: {outcomes:?}");
    let counts = store.job_counts().await.expect("counts");
    assert_eq!((counts.pending, counts.running), (1, 0));
    // The earliest request wins.
    let id = *ids.iter().next().expect("one id");
    assert_eq!(run_at(&store, id).await, now);
}

pub async fn claim_takes_due_jobs_in_order(store: Store) {
    let now = now_ms();
    let late = store
        .enqueue(&NewJob::new("reconcile", "late", now + 10_000), now)
        .await
        .expect("enqueue")
        .id();
    let second = store
        .enqueue(&NewJob::new("reconcile", "second", now - 100), now)
        .await
        .expect("enqueue")
        .id();
    let first = store
        .enqueue(
            &NewJob::new("fetch_payloads", "first", now - 200)
                .with_pair("specs")
                .with_payload(serde_json::json!({"webhook": "ach1"})),
            now,
        )
        .await
        .expect("enqueue")
        .id();

    let a = store
        .claim(LEASE, now)
        .await
        .expect("claim")
        .expect("a due job");
    assert_eq!(a.id, first);
    assert_eq!(a.kind, "fetch_payloads");
    assert_eq!(a.pair.as_deref(), Some("specs"));
    assert_eq!(a.payload, serde_json::json!({"webhook": "ach1"}));
    assert_eq!(a.attempts, 1);
    assert_eq!(a.locked_until, now + 30_000);
    let b = store
        .claim(LEASE, now)
        .await
        .expect("claim")
        .expect("a due job");
    assert_eq!(b.id, second);
    assert_ne!(a.lease_token, b.lease_token);
    assert!(
        store.claim(LEASE, now).await.expect("claim").is_none(),
        "late is not due"
    );
    let c = store
        .claim(LEASE, now + 10_000)
        .await
        .expect("claim")
        .expect("due now");
    assert_eq!(c.id, late);
    let job = store.get_job(late).await.expect("get").expect("exists");
    assert_eq!(job.state, JobState::Running);
}

pub async fn concurrent_claimers_never_share_a_job(store: Store) {
    let now = now_ms();
    for i in 0..20 {
        store
            .enqueue(&NewJob::new("reconcile", format!("key-{i}"), now), now)
            .await
            .expect("enqueue");
    }
    let claimers: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { claim_until_empty(&store, now).await })
        })
        .collect();
    let mut claimed = Vec::new();
    for claimer in claimers {
        claimed.extend(claimer.await.expect("claimer"));
    }
    let unique: HashSet<i64> = claimed.iter().copied().collect();
    assert_eq!(
        claimed.len(),
        20,
        "each job claimed exactly once: {claimed:?}"
    );
    assert_eq!(unique.len(), 20, "no job claimed twice: {claimed:?}");
    assert_eq!(store.job_counts().await.expect("counts").running, 20);
}

/// Claim until no pending job is left; a claim may come back empty while
/// other claimers hold row locks, so an empty claim alone does not stop it.
async fn claim_until_empty(store: &Store, now: i64) -> Vec<i64> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut ids = Vec::new();
    loop {
        match store.claim(LEASE, now).await.expect("claim") {
            Some(job) => ids.push(job.id),
            None if store.job_counts().await.expect("counts").pending == 0 => return ids,
            None => {
                assert!(tokio::time::Instant::now() < deadline, "claimers got stuck");
                tokio::task::yield_now().await;
            }
        }
    }
}

pub async fn running_key_blocks_its_pending_job(store: Store) {
    let now = now_ms();
    let key = "reconcile:specs:notion:p1";
    store
        .enqueue(&NewJob::new("reconcile", key, now), now)
        .await
        .expect("enqueue");
    let running = store.claim(LEASE, now).await.expect("claim").expect("due");
    // An event while the job runs makes exactly one follow-up job...
    let follow_up = store
        .enqueue(&NewJob::new("reconcile", key, now), now)
        .await
        .expect("enqueue");
    assert!(matches!(follow_up, EnqueueOutcome::Inserted(id) if id != running.id));
    let again = store
        .enqueue(&NewJob::new("reconcile", key, now), now)
        .await
        .expect("enqueue");
    assert_eq!(again, EnqueueOutcome::Coalesced(follow_up.id()));
    // ...which waits while the key's job runs, even past the first lease.
    assert!(
        store
            .claim(LEASE, now + 1_000)
            .await
            .expect("claim")
            .is_none()
    );
    assert!(
        store
            .complete(running.id, &running.lease_token, now)
            .await
            .expect("complete")
    );
    let next = store
        .claim(LEASE, now + 1_000)
        .await
        .expect("claim")
        .expect("now free");
    assert_eq!(next.id, follow_up.id());
}

pub async fn enqueue_and_complete_commit_with_the_transaction(store: Store) {
    let now = now_ms();
    let mut tx = store.begin().await.expect("begin");
    tx.enqueue(&NewJob::new("reconcile", "k", now), now)
        .await
        .expect("enqueue");
    tx.rollback().await.expect("rollback");
    assert_eq!(store.job_counts().await.expect("counts").pending, 0);

    let mut tx = store.begin().await.expect("begin");
    let id = tx
        .enqueue(&NewJob::new("reconcile", "k", now), now)
        .await
        .expect("enqueue")
        .id();
    tx.commit().await.expect("commit");
    let job = store
        .claim(LEASE, now)
        .await
        .expect("claim")
        .expect("committed");
    assert_eq!(job.id, id);

    // Completion inside a transaction is fenced and undone by a rollback.
    let mut tx = store.begin().await.expect("begin");
    assert!(
        !tx.complete(id, "not-the-token", now)
            .await
            .expect("complete")
    );
    assert!(
        tx.complete(id, &job.lease_token, now)
            .await
            .expect("complete")
    );
    drop(tx);
    assert_eq!(
        store.get_job(id).await.expect("get").expect("exists").state,
        JobState::Running
    );
    let mut tx = store.begin().await.expect("begin");
    assert!(
        tx.complete(id, &job.lease_token, now)
            .await
            .expect("complete")
    );
    tx.commit().await.expect("commit");
    let done = store.get_job(id).await.expect("get").expect("exists");
    assert_eq!(done.state, JobState::Done);
    assert_eq!(done.finished_at, Some(now));
}

pub async fn enqueue_many_keeps_the_callers_order(store: Store) {
    let now = now_ms();
    let jobs: Vec<_> = ["rec-b", "rec-a", "rec-b"]
        .into_iter()
        .map(|key| NewJob::new("reconcile", key, now))
        .collect();
    let mut tx = store.begin().await.expect("begin");
    let outcomes = tx.enqueue_many(&jobs, now).await.expect("enqueue");
    tx.commit().await.expect("commit");
    assert!(
        matches!(outcomes[..], [
        EnqueueOutcome::Inserted(b),
        EnqueueOutcome::Inserted(a),
        EnqueueOutcome::Coalesced(b2),
    ] if b == b2 && a != b),
        "{outcomes:?}"
    );
    let b = store
        .get_job(outcomes[0].id())
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(b.key, "rec-b");
    assert_eq!(store.job_counts().await.expect("counts").pending, 2);
}

pub async fn listing_counting_and_pruning(store: Store) {
    let now = now_ms();
    for i in 0..3 {
        store
            .enqueue(
                &NewJob::new("reconcile", format!("k{i}"), now - 5_000 + i),
                now,
            )
            .await
            .expect("enqueue");
    }
    store
        .enqueue(&NewJob::new("reconcile", "future", now + 60_000), now)
        .await
        .expect("enqueue");
    let age = store.oldest_pending_age(now).await.expect("age");
    assert_eq!(age, Some(Duration::from_millis(5_000)));

    let done = store.claim(LEASE, now).await.expect("claim").expect("due");
    assert!(
        store
            .complete(done.id, &done.lease_token, now - 1_000)
            .await
            .expect("complete")
    );
    let counts = store.job_counts().await.expect("counts");
    assert_eq!(
        (counts.pending, counts.running, counts.done, counts.dead),
        (3, 0, 1, 0)
    );

    let pending = store
        .list_jobs(Some(JobState::Pending), 10)
        .await
        .expect("list");
    assert_eq!(pending.len(), 3);
    assert!(
        pending.windows(2).all(|w| w[0].id > w[1].id),
        "newest first"
    );
    assert_eq!(store.list_jobs(None, 2).await.expect("list").len(), 2);
    assert_eq!(store.list_jobs(None, 10).await.expect("list").len(), 4);

    assert_eq!(
        store.prune_jobs(now - 2_000).await.expect("prune"),
        0,
        "finished later"
    );
    assert_eq!(store.prune_jobs(now).await.expect("prune"), 1);
    assert!(store.get_job(done.id).await.expect("get").is_none());
    assert_eq!(
        store.job_counts().await.expect("counts").pending,
        3,
        "pending untouched"
    );
}

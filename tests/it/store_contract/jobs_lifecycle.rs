//! Jobs: leases, heartbeats, retries, dead jobs, release.

use std::time::Duration;

use notion_airtable_sync::store::{ClaimedJob, FailOutcome, JobState, NewJob, Store, now_ms};

const LEASE: Duration = Duration::from_secs(30);

async fn enqueue_and_claim(store: &Store, key: &str, max_attempts: i32, now: i64) -> ClaimedJob {
    store
        .enqueue(
            &NewJob::new("reconcile", key, now).with_max_attempts(max_attempts),
            now,
        )
        .await
        .expect("enqueue");
    store
        .claim(LEASE, now)
        .await
        .expect("claim")
        .expect("a due job")
}

pub async fn expired_lease_is_reclaimed_and_old_token_fenced(store: Store) {
    let now = now_ms();
    let lost = enqueue_and_claim(&store, "k", 5, now).await;
    assert!(
        store
            .claim(LEASE, now + 29_000)
            .await
            .expect("claim")
            .is_none(),
        "lease holds"
    );

    let after_expiry = now + 31_000;
    let taken = store
        .claim(LEASE, after_expiry)
        .await
        .expect("claim")
        .expect("reclaimed");
    assert_eq!(taken.id, lost.id);
    assert_eq!(taken.attempts, 2);
    assert_ne!(taken.lease_token, lost.lease_token);

    // The first worker wakes up: every fenced update is refused.
    assert!(
        !store
            .complete(lost.id, &lost.lease_token, after_expiry)
            .await
            .expect("complete")
    );
    assert!(
        !store
            .heartbeat(lost.id, &lost.lease_token, LEASE, after_expiry)
            .await
            .expect("heartbeat")
    );
    let outcome = store
        .fail(
            lost.id,
            &lost.lease_token,
            "boom",
            after_expiry,
            after_expiry,
        )
        .await
        .expect("fail");
    assert_eq!(outcome, FailOutcome::LeaseLost);
    assert!(
        !store
            .release(lost.id, &lost.lease_token, after_expiry)
            .await
            .expect("release")
    );
    assert!(
        !store
            .bury(lost.id, &lost.lease_token, "fatal", after_expiry)
            .await
            .expect("bury")
    );
    assert_eq!(state(&store, lost.id).await, JobState::Running);

    assert!(
        store
            .complete(taken.id, &taken.lease_token, after_expiry)
            .await
            .expect("complete")
    );
    assert_eq!(state(&store, lost.id).await, JobState::Done);
}

async fn state(store: &Store, id: i64) -> JobState {
    store.get_job(id).await.expect("get").expect("exists").state
}

pub async fn heartbeat_extends_the_lease(store: Store) {
    let now = now_ms();
    let job = enqueue_and_claim(&store, "k", 5, now).await;
    assert!(
        store
            .heartbeat(
                job.id,
                &job.lease_token,
                Duration::from_secs(60),
                now + 20_000
            )
            .await
            .expect("heartbeat")
    );
    // Past the first lease, within the extended one: nobody may take it.
    assert!(
        store
            .claim(LEASE, now + 70_000)
            .await
            .expect("claim")
            .is_none()
    );
    let listed = store.get_job(job.id).await.expect("get").expect("exists");
    assert_eq!(listed.locked_until, Some(now + 80_000));
    assert_eq!(listed.heartbeat_at, Some(now + 20_000));
    assert!(
        !store
            .heartbeat(job.id, "wrong", LEASE, now)
            .await
            .expect("heartbeat")
    );
    let reclaimed = store.claim(LEASE, now + 80_001).await.expect("claim");
    assert_eq!(reclaimed.map(|j| j.id), Some(job.id));
}

pub async fn retry_later_can_give_the_attempt_back(store: Store) {
    let now = now_ms();
    let job = enqueue_and_claim(&store, "k", 5, now).await;
    // A rate-limit wait: the attempt is given back.
    let wait_until = now + 30_000;
    assert!(
        store
            .retry_later(
                job.id,
                &job.lease_token,
                wait_until,
                "Airtable 429",
                false,
                now
            )
            .await
            .expect("retry_later")
    );
    let waiting = store.get_job(job.id).await.expect("get").expect("exists");
    assert_eq!(waiting.state, JobState::Pending);
    assert_eq!(waiting.attempts, 0);
    assert_eq!(waiting.run_at, wait_until);
    assert_eq!(waiting.last_error.as_deref(), Some("Airtable 429"));
    assert!(
        store
            .claim(LEASE, wait_until - 1)
            .await
            .expect("claim")
            .is_none()
    );

    let again = store
        .claim(LEASE, wait_until)
        .await
        .expect("claim")
        .expect("due again");
    assert_eq!(again.attempts, 1);
    // A counted retry keeps the attempt.
    assert!(
        store
            .retry_later(
                again.id,
                &again.lease_token,
                wait_until,
                "timeout",
                true,
                wait_until
            )
            .await
            .expect("retry_later")
    );
    let third = store
        .claim(LEASE, wait_until)
        .await
        .expect("claim")
        .expect("due");
    assert_eq!(third.attempts, 2);
    // The old token no longer holds the lease.
    assert!(
        !store
            .retry_later(again.id, &again.lease_token, now, "late", false, now)
            .await
            .expect("retry_later")
    );
}

pub async fn fail_goes_dead_after_max_attempts_and_retry_dead_revives(store: Store) {
    let now = now_ms();
    let first = enqueue_and_claim(&store, "poison", 2, now).await;
    let retry_at = now + 1_000;
    let outcome = store
        .fail(
            first.id,
            &first.lease_token,
            "400 validation_error",
            retry_at,
            now,
        )
        .await
        .expect("fail");
    assert_eq!(outcome, FailOutcome::Retrying { run_at: retry_at });
    assert!(
        store.claim(LEASE, now).await.expect("claim").is_none(),
        "backing off"
    );

    let second = store
        .claim(LEASE, retry_at)
        .await
        .expect("claim")
        .expect("due");
    assert_eq!(second.attempts, 2);
    let outcome = store
        .fail(
            second.id,
            &second.lease_token,
            "400 validation_error again",
            retry_at,
            retry_at,
        )
        .await
        .expect("fail");
    assert_eq!(outcome, FailOutcome::Dead);
    let dead = store
        .list_jobs(Some(JobState::Dead), 10)
        .await
        .expect("list");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, first.id);
    assert_eq!(
        dead[0].last_error.as_deref(),
        Some("400 validation_error again")
    );
    assert!(
        store
            .claim(LEASE, retry_at + 60_000)
            .await
            .expect("claim")
            .is_none()
    );
    assert_eq!(store.job_counts().await.expect("counts").dead, 1);

    let revived = store
        .retry_dead(first.id, retry_at)
        .await
        .expect("retry_dead");
    assert_eq!(revived, Some(first.id));
    assert_eq!(
        store
            .retry_dead(first.id, retry_at)
            .await
            .expect("retry_dead"),
        None
    );
    let again = store
        .claim(LEASE, retry_at)
        .await
        .expect("claim")
        .expect("revived");
    assert_eq!(
        (again.id, again.attempts),
        (first.id, 1),
        "a fresh attempt budget"
    );
}

/// A fatal error buries the job at once, attempts left or not, with its
/// error kept; only the lease holder can, and the operator can revive it.
pub async fn bury_is_dead_at_once_fenced_and_revivable(store: Store) {
    let now = now_ms();
    let job = enqueue_and_claim(&store, "fatal", 5, now).await;
    assert!(
        !store
            .bury(job.id, "wrong", "400 validation_error", now + 1)
            .await
            .expect("bury")
    );
    let untouched = store.get_job(job.id).await.expect("get").expect("exists");
    assert_eq!(
        (untouched.state, untouched.attempts, untouched.last_error),
        (JobState::Running, 1, None),
        "a wrong token changes nothing"
    );
    assert_eq!(untouched.finished_at, None);

    let buried_at = now + 5;
    assert!(
        store
            .bury(job.id, &job.lease_token, "400 validation_error", buried_at)
            .await
            .expect("bury")
    );
    let dead = store.get_job(job.id).await.expect("get").expect("exists");
    assert_eq!((dead.state, dead.attempts), (JobState::Dead, 1));
    assert_eq!(dead.last_error.as_deref(), Some("400 validation_error"));
    assert_eq!(dead.finished_at, Some(buried_at));
    assert_eq!(dead.locked_until, None, "the lease is cleared");
    assert!(
        !store
            .bury(job.id, &job.lease_token, "again", buried_at)
            .await
            .expect("bury"),
        "a dead job's lease is gone"
    );
    assert!(
        store
            .claim(LEASE, buried_at + 3_600_000)
            .await
            .expect("claim")
            .is_none(),
        "never claimed again by itself"
    );
    assert_eq!(store.job_counts().await.expect("counts").dead, 1);

    let revived = store
        .retry_dead(job.id, buried_at)
        .await
        .expect("retry_dead");
    assert_eq!(revived, Some(job.id));
    let again = store
        .claim(LEASE, buried_at)
        .await
        .expect("claim")
        .expect("revived");
    assert_eq!(
        (again.id, again.attempts),
        (job.id, 1),
        "a fresh attempt budget"
    );
}

pub async fn lease_lost_on_the_last_attempt_goes_dead(store: Store) {
    let now = now_ms();
    let job = enqueue_and_claim(&store, "k", 1, now).await;
    // Its worker died; the lease expires with no attempts left.
    assert!(
        store
            .claim(LEASE, now + 31_000)
            .await
            .expect("claim")
            .is_none()
    );
    let dead = store.get_job(job.id).await.expect("get").expect("exists");
    assert_eq!(dead.state, JobState::Dead);
    assert!(
        dead.last_error
            .as_deref()
            .is_some_and(|e| e.contains("lease expired")),
        "{:?}",
        dead.last_error
    );
}

pub async fn requeue_merges_into_the_keys_pending_job(store: Store) {
    let now = now_ms();
    let running = enqueue_and_claim(&store, "k", 5, now).await;
    let follow_up = store
        .enqueue(&NewJob::new("reconcile", "k", now + 2_000), now)
        .await
        .expect("enqueue")
        .id();
    let backoff = now + 10_000;
    let outcome = store
        .fail(running.id, &running.lease_token, "502", backoff, now)
        .await
        .expect("fail");
    assert_eq!(outcome, FailOutcome::Retrying { run_at: backoff });
    // One pending job for the key: the follow-up, now carrying the backoff,
    // the attempt count and the error.
    assert!(
        store.get_job(running.id).await.expect("get").is_none(),
        "merged away"
    );
    let merged = store
        .get_job(follow_up)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(merged.state, JobState::Pending);
    assert_eq!(merged.run_at, backoff);
    assert_eq!(merged.attempts, 1);
    assert_eq!(merged.last_error.as_deref(), Some("502"));
    let counts = store.job_counts().await.expect("counts");
    assert_eq!((counts.pending, counts.running), (1, 0));
}

pub async fn release_gives_the_job_back_without_an_attempt(store: Store) {
    let now = now_ms();
    let job = enqueue_and_claim(&store, "k", 5, now).await;
    assert!(
        store
            .release(job.id, &job.lease_token, now + 5)
            .await
            .expect("release")
    );
    let released = store.get_job(job.id).await.expect("get").expect("exists");
    assert_eq!(released.state, JobState::Pending);
    assert_eq!(released.attempts, 0);
    assert_eq!(released.run_at, now + 5);
    let again = store
        .claim(LEASE, now + 5)
        .await
        .expect("claim")
        .expect("due at once");
    assert_eq!((again.id, again.attempts), (job.id, 1));
}

pub async fn retry_dead_merges_into_a_pending_job(store: Store) {
    let now = now_ms();
    let job = enqueue_and_claim(&store, "k", 1, now).await;
    let outcome = store
        .fail(job.id, &job.lease_token, "fatal", now, now)
        .await
        .expect("fail");
    assert_eq!(outcome, FailOutcome::Dead);
    // A new event for the key arrived meanwhile.
    let pending = store
        .enqueue(&NewJob::new("reconcile", "k", now + 3_000), now)
        .await
        .expect("enqueue")
        .id();
    let revived = store
        .retry_dead(job.id, now + 1_000)
        .await
        .expect("retry_dead");
    assert_eq!(revived, Some(pending));
    assert!(
        store.get_job(job.id).await.expect("get").is_none(),
        "merged away"
    );
    let counts = store.job_counts().await.expect("counts");
    assert_eq!((counts.pending, counts.dead), (1, 0));
}

//! Record claims (one writer per record) and announced Notion page creates.

use std::time::Duration;

use notion_airtable_sync::store::{ClaimOutcome, Claimant, NewJob, Store};

const PAIR: &str = "specs";
const TTL: Duration = Duration::from_secs(60);

/// A claimant outside any job.
fn run(holder: &str) -> Claimant {
    Claimant {
        holder: holder.into(),
        job_id: None,
    }
}

fn keys(names: &[&str]) -> Vec<String> {
    names.iter().map(|k| (*k).to_owned()).collect()
}

/// Claim one group of keys (no read to check against).
async fn take(store: &Store, who: &Claimant, group: &[&str], now: i64) -> ClaimOutcome {
    take_after(store, who, group, None, now).await
}

async fn take_after(
    store: &Store,
    who: &Claimant,
    group: &[&str],
    read_at: Option<i64>,
    now: i64,
) -> ClaimOutcome {
    store
        .claim_records(PAIR, who, &[keys(group)], read_at, now, TTL)
        .await
        .expect("claim")[0]
}

pub async fn claims_are_exclusive_across_connections(store: Store) {
    // Eight claimants race for the same record from the pool's connections.
    let attempts = (0..8).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            let who = run(&format!("holder-{i}"));
            take(&store, &who, &["page:p1", "row:r1"], 1_000).await
        })
    });
    let outcomes: Vec<ClaimOutcome> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.expect("task"))
        .collect();
    let won = outcomes
        .iter()
        .filter(|o| **o == ClaimOutcome::Acquired)
        .count();
    assert_eq!(won, 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, ClaimOutcome::Acquired | ClaimOutcome::Held)),
        "{outcomes:?}"
    );
    let page = store.record_claim(PAIR, "page:p1").await.unwrap().unwrap();
    let row = store.record_claim(PAIR, "row:r1").await.unwrap().unwrap();
    assert_eq!(page.holder, row.holder, "one claimant holds both keys");
    // The same keys in another pair are another record.
    let other = store
        .claim_records("other", &run("x"), &[keys(&["page:p1"])], None, 1_000, TTL)
        .await
        .unwrap();
    assert_eq!(other, [ClaimOutcome::Acquired]);
}

pub async fn a_group_is_taken_whole_or_not_at_all(store: Store) {
    let (a, b) = (run("a"), run("b"));
    assert_eq!(
        take(&store, &a, &["row:r1"], 1_000).await,
        ClaimOutcome::Acquired
    );
    // Re-entrant for its holder.
    assert_eq!(
        take(&store, &a, &["row:r1", "page:p1"], 1_000).await,
        ClaimOutcome::Acquired
    );
    let outcomes = store
        .claim_records(
            PAIR,
            &b,
            &[keys(&["page:p2", "row:r1"]), keys(&["page:p3"])],
            None,
            1_000,
            TTL,
        )
        .await
        .unwrap();
    assert_eq!(outcomes, [ClaimOutcome::Held, ClaimOutcome::Acquired]);
    assert!(
        store.record_claim(PAIR, "page:p2").await.unwrap().is_none(),
        "a group that was not acquired takes none of its keys"
    );
    // Released keys can be taken by others; release is by holder only.
    assert_eq!(
        store
            .release_records(PAIR, "b", &keys(&["row:r1"]), 1_000)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .release_records(PAIR, "a", &keys(&["row:r1", "page:p1"]), 1_000)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        take(&store, &b, &["row:r1"], 1_000).await,
        ClaimOutcome::Acquired
    );
    assert_eq!(store.release_all_claims("b", 1_000).await.unwrap(), 2);
    let released = store.record_claim(PAIR, "page:p3").await.unwrap().unwrap();
    assert_eq!(released.expires_at, 0);
    assert_eq!(
        take(&store, &a, &["page:p3"], 1_000).await,
        ClaimOutcome::Acquired
    );
}

pub async fn a_claim_outside_a_job_expires(store: Store) {
    let (a, b) = (run("a"), run("b"));
    let ttl_ms = i64::try_from(TTL.as_millis()).unwrap();
    assert_eq!(
        take(&store, &a, &["row:r1"], 1_000).await,
        ClaimOutcome::Acquired
    );
    assert_eq!(
        take(&store, &b, &["row:r1"], 1_000 + ttl_ms - 1).await,
        ClaimOutcome::Held
    );
    assert_eq!(
        take(&store, &b, &["row:r1"], 1_000 + ttl_ms).await,
        ClaimOutcome::Acquired,
        "a crashed holder blocks the record only until the expiry"
    );
}

pub async fn a_jobs_claims_end_with_its_lease(store: Store) {
    let lease = Duration::from_secs(30);
    store
        .enqueue(&NewJob::new("k", "job-1", 0), 0)
        .await
        .unwrap();
    let job = store.claim(lease, 1_000).await.unwrap().expect("a due job");
    let holder = Claimant {
        holder: job.lease_token.clone(),
        job_id: Some(job.id),
    };
    let other = run("other");
    assert_eq!(
        take(&store, &holder, &["row:r1"], 1_000).await,
        ClaimOutcome::Acquired
    );
    // The heartbeat keeps the job's lease, hence its claims.
    assert!(
        store
            .heartbeat(job.id, &job.lease_token, lease, 20_000)
            .await
            .unwrap()
    );
    assert_eq!(
        take(&store, &other, &["row:r1"], 40_000).await,
        ClaimOutcome::Held
    );
    // The worker dies: its lease runs out, and so does the claim, long
    // before the claim's own expiry.
    assert_eq!(
        take(&store, &other, &["row:r1"], 50_001).await,
        ClaimOutcome::Acquired
    );

    // A job that ends (done) frees its claims at once.
    store
        .enqueue(&NewJob::new("k", "job-2", 0), 0)
        .await
        .unwrap();
    let job = store
        .claim(lease, 60_000)
        .await
        .unwrap()
        .expect("a due job");
    let holder = Claimant {
        holder: job.lease_token.clone(),
        job_id: Some(job.id),
    };
    assert_eq!(
        take(&store, &holder, &["row:r2"], 60_000).await,
        ClaimOutcome::Acquired
    );
    assert_eq!(
        take(&store, &other, &["row:r2"], 60_001).await,
        ClaimOutcome::Held
    );
    assert!(
        store
            .complete(job.id, &job.lease_token, 60_002)
            .await
            .unwrap()
    );
    assert_eq!(
        take(&store, &other, &["row:r2"], 60_003).await,
        ClaimOutcome::Acquired
    );
}

pub async fn a_read_older_than_anothers_write_is_moved(store: Store) {
    let (sweep, job) = (run("sweep"), run("job"));
    let read_at = store.claim_clock().await.unwrap();
    // Another writer takes and releases the record after the sweep's read.
    assert_eq!(
        take(&store, &job, &["page:p1"], 1_000).await,
        ClaimOutcome::Acquired
    );
    store
        .release_records(PAIR, "job", &keys(&["page:p1"]), 1_000)
        .await
        .unwrap();
    assert_eq!(
        take_after(&store, &sweep, &["page:p1", "row:r1"], Some(read_at), 1_000).await,
        ClaimOutcome::Moved
    );
    assert!(
        store.record_claim(PAIR, "row:r1").await.unwrap().is_none(),
        "nothing taken"
    );
    // A read after that write may take it; so may a reader that checks nothing.
    let fresh = store.claim_clock().await.unwrap();
    assert!(
        fresh > read_at,
        "the clock moves with every take and release"
    );
    assert_eq!(
        take_after(&store, &sweep, &["page:p1"], Some(fresh), 1_000).await,
        ClaimOutcome::Acquired
    );
    // The reader's own takes and releases never make its read stale.
    store.release_all_claims("sweep", 1_000).await.unwrap();
    assert_eq!(
        take_after(&store, &sweep, &["page:p1"], Some(fresh), 1_000).await,
        ClaimOutcome::Acquired
    );
}

pub async fn an_abandoned_claim_is_moved_once_for_readers(store: Store) {
    let (dead, reader) = (run("dead"), run("reader"));
    let ttl_ms = i64::try_from(TTL.as_millis()).unwrap();
    assert_eq!(
        take(&store, &dead, &["row:r1"], 1_000).await,
        ClaimOutcome::Acquired
    );
    // Its holder died without releasing it: what it wrote is unknown, so a
    // reader skips the record even if it read after the claim was taken.
    let read_at = store.claim_clock().await.unwrap();
    let later = 1_000 + ttl_ms + 1;
    assert_eq!(
        take_after(&store, &reader, &["row:r1"], Some(read_at), later).await,
        ClaimOutcome::Moved
    );
    // It is released now: the next read takes it.
    let next_read = store.claim_clock().await.unwrap();
    assert_eq!(
        take_after(&store, &reader, &["row:r1"], Some(next_read), later).await,
        ClaimOutcome::Acquired
    );
}

pub async fn released_claims_are_pruned(store: Store) {
    let a = run("a");
    assert_eq!(
        take(&store, &a, &["row:r1", "row:r2"], 1_000).await,
        ClaimOutcome::Acquired
    );
    store
        .release_records(PAIR, "a", &keys(&["row:r1"]), 2_000)
        .await
        .unwrap();
    assert_eq!(store.prune_record_claims(2_001).await.unwrap(), 1);
    assert!(store.record_claim(PAIR, "row:r1").await.unwrap().is_none());
    assert!(
        store.record_claim(PAIR, "row:r2").await.unwrap().is_some(),
        "a held claim is never pruned"
    );
}

pub async fn a_page_create_is_announced_once_per_row(store: Store) {
    let attempts = (0..8).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            let holder = format!("creator-{i}");
            let outcome = store
                .begin_page_create(PAIR, "rec1", &holder, 1_000 + i)
                .await
                .expect("announce");
            (holder, outcome)
        })
    });
    let results: Vec<_> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.expect("task"))
        .collect();
    let winners: Vec<&String> = results
        .iter()
        .filter(|(_, o)| o.is_none())
        .map(|(h, _)| h)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one may create: {results:?}");
    let winner = winners[0].clone();
    for (_, outcome) in results.iter().filter(|(_, o)| o.is_some()) {
        let intent = outcome.as_ref().unwrap();
        assert_eq!(intent.holder, winner, "the others see the winner's intent");
        assert_eq!(intent.notion_page_id, None);
    }
    // Only its announcer records the page.
    assert!(
        !store
            .set_intent_page(PAIR, "rec1", "someone", "pg-x")
            .await
            .unwrap()
    );
    assert!(
        store
            .set_intent_page(PAIR, "rec1", &winner, "pg-1")
            .await
            .unwrap()
    );
    let intent = store.page_intent(PAIR, "rec1").await.unwrap().unwrap();
    assert_eq!(intent.notion_page_id.as_deref(), Some("pg-1"));

    // Forgotten only with the link's transaction.
    let mut tx = store.begin().await.unwrap();
    assert!(tx.finish_page_create(PAIR, "rec1").await.unwrap());
    tx.rollback().await.unwrap();
    assert!(store.page_intent(PAIR, "rec1").await.unwrap().is_some());
    let mut tx = store.begin().await.unwrap();
    assert!(tx.finish_page_create(PAIR, "rec1").await.unwrap());
    tx.commit().await.unwrap();
    assert!(store.page_intent(PAIR, "rec1").await.unwrap().is_none());
}

pub async fn a_stale_page_create_is_restarted_by_one_run(store: Store) {
    assert!(
        store
            .begin_page_create(PAIR, "rec1", "dead", 1_000)
            .await
            .unwrap()
            .is_none()
    );
    let seen = store.page_intent(PAIR, "rec1").await.unwrap().unwrap();
    assert!(
        store
            .restart_page_create(PAIR, "rec1", "a", seen.created_at, 200_000)
            .await
            .unwrap()
    );
    // A second run that saw the same old intent does not create too.
    assert!(
        !store
            .restart_page_create(PAIR, "rec1", "b", seen.created_at, 200_001)
            .await
            .unwrap()
    );
    let intent = store.page_intent(PAIR, "rec1").await.unwrap().unwrap();
    assert_eq!((intent.holder.as_str(), intent.created_at), ("a", 200_000));
}

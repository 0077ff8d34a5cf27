//! Pruning (what `serve` deletes on its schedule), the cap on verification
//! tokens, and the plans of every query the status page, the admin API,
//! `/metrics` and pruning run: on tables of realistic size, none reads a
//! whole growing table.

use notion_airtable_sync::{
    secret::Secret,
    store::{GROWING_TABLES, InboxEvent, MAX_VERIFICATION_TOKENS, PruneBefore, Pruned},
};
use sqlx::Connection;

use crate::common::TestDb;

/// Run `sql` through a connection of its own.
async fn execute(db: &TestDb, sql: &str) {
    if db.url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap();
    } else {
        let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap();
    }
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    if db.url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
    } else {
        let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
    }
}

/// `n` rows numbered 1..=n, for `INSERT ... SELECT ... FROM n` (both
/// backends read this recursive query).
fn numbers(n: u32) -> String {
    format!("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})")
}

/// `n` inbox rows received at 1, 2, ... seconds after `start` (ms),
/// alternating sources.
pub async fn fill_inbox(db: &TestDb, n: u32, start: i64) {
    execute(
        db,
        &format!(
            "INSERT INTO webhook_inbox (source, event_id, received_at, summary) {} \
             SELECT CASE WHEN i % 2 = 0 THEN 'notion' ELSE 'airtable' END, 'evt-{start}-' || i, \
                    {start} + i * 1000, 'page.properties_updated page p' FROM n",
            numbers(n)
        ),
    )
    .await;
}

/// `n` sync log rows at 1, 2, ... seconds after `start`; one in a hundred
/// a conflict.
async fn fill_log(db: &TestDb, n: u32, start: i64) {
    execute(
        db,
        &format!(
            "INSERT INTO sync_log (at, pair, notion_page_id, airtable_record_id, action, field, \
                 direction, cause, conflict) {} \
             SELECT {start} + i * 1000, CASE WHEN i % 2 = 0 THEN 'specs' ELSE 'tasks' END, \
                    'page-' || (i % 5000), 'rec' || (i % 5000), 'update', 'Name', \
                    'notion_to_airtable', 'webhook', (i % 100 = 0) FROM n",
            numbers(n)
        ),
    )
    .await;
}

/// `n` status samples taken 1, 2, ... seconds after `start`.
async fn fill_samples(db: &TestDb, n: u32, start: i64) {
    execute(
        db,
        &format!(
            "INSERT INTO status_samples (series, at, value) {} \
             SELECT 'queue_due', {start} + i * 1000, i FROM n",
            numbers(n)
        ),
    )
    .await;
}

/// `n` jobs in `state` (`done` and `dead` ones finished at 1, 2, ... seconds
/// after `start`), keys unique per call.
async fn fill_jobs(db: &TestDb, n: u32, state: &str, start: i64) {
    let finished = if state == "pending" || state == "running" {
        "NULL".to_owned()
    } else {
        format!("{start} + i * 1000")
    };
    execute(
        db,
        &format!(
            "INSERT INTO jobs (kind, key, pair, payload, state, run_at, created_at, updated_at, \
                 finished_at) {} \
             SELECT 'reconcile_page', 'k-{state}-{start}-' || i, 'specs', '{{}}', '{state}', \
                    {start}, {start}, {start}, {finished} FROM n",
            numbers(n)
        ),
    )
    .await;
}

const DAY: i64 = 86_400_000;

pub async fn pruning_deletes_only_what_is_past_its_cutoff(db: TestDb) {
    let now = 400 * DAY;
    // More old rows than one batch, so that pruning goes batch after batch.
    fill_inbox(&db, 2_500, now - 30 * DAY).await;
    fill_inbox(&db, 300, now - DAY).await;
    fill_log(&db, 1_200, now - 200 * DAY).await;
    fill_log(&db, 100, now - DAY).await;
    fill_jobs(&db, 1_100, "done", now - 30 * DAY).await;
    fill_jobs(&db, 50, "done", now - DAY).await;
    fill_jobs(&db, 20, "dead", now - 30 * DAY).await;
    fill_jobs(&db, 10, "pending", now - 30 * DAY).await;
    fill_samples(&db, 1_050, now - 3 * DAY).await;
    fill_samples(&db, 40, now - DAY).await;
    let before = PruneBefore {
        log: now - 90 * DAY,
        jobs: now - 7 * DAY,
        inbox: now - 8 * DAY,
        samples: now - 2 * DAY,
    };
    let pruned = db.store.prune(before).await.expect("prune");
    assert_eq!(
        pruned,
        Pruned {
            log: 1_200,
            jobs: 1_100,
            inbox: 2_500,
            claims: 0,
            samples: 1_050,
        }
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM webhook_inbox").await, 300);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM sync_log").await, 100);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM status_samples").await, 40);
    let left = "SELECT COUNT(*) FROM jobs WHERE state = 'done'";
    assert_eq!(count(&db, left).await, 50);
    // Dead jobs wait for an operator, pending ones for a worker.
    let kept = "SELECT COUNT(*) FROM jobs WHERE state IN ('dead', 'pending')";
    assert_eq!(count(&db, kept).await, 30);
    // A second pass finds nothing; a redelivery of a kept event is still a
    // duplicate.
    assert_eq!(db.store.prune(before).await.unwrap(), Pruned::default());
    let kept_event = InboxEvent {
        source: "notion".into(),
        event_id: format!("evt-{}-2", now - DAY),
        received_at: now,
        summary: None,
    };
    assert!(!db.store.insert_inbox(&kept_event).await.unwrap());
}

pub async fn only_the_newest_verification_tokens_are_kept(db: TestDb) {
    let tokens: Vec<String> = (0..8).map(|i| format!("secret_flood{i:02}")).collect();
    for (i, token) in tokens.iter().enumerate() {
        let new = db
            .store
            .record_verification_token(&Secret::new(token.as_str()), 1_000 + i as i64, None)
            .await
            .expect("record");
        assert!(new, "{token}");
    }
    let pending = db.store.pending_verification_tokens().await.unwrap();
    let kept: Vec<&str> = pending.iter().map(|t| t.token.expose()).collect();
    let newest: Vec<&str> = tokens.iter().rev().take(5).map(String::as_str).collect();
    assert_eq!(kept, newest);
    assert_eq!(MAX_VERIFICATION_TOKENS, 5);
    let rows = count(&db, "SELECT COUNT(*) FROM notion_verification_tokens").await;
    assert_eq!(rows, MAX_VERIFICATION_TOKENS);
}

/// Whether `line` of a plan reads the whole of `table`: SQLite's `SCAN t`
/// (also `SCAN t USING ... INDEX`, a whole index), Postgres's `Seq Scan on t`.
fn scans_whole(line: &str, table: &str) -> bool {
    let line = line.trim_start_matches(|c: char| !c.is_ascii_alphabetic());
    let sqlite = line == format!("SCAN {table}") || line.starts_with(&format!("SCAN {table} "));
    sqlite
        || line.contains(&format!("Seq Scan on {table} "))
        || line.ends_with(&format!("Seq Scan on {table}"))
}

pub async fn status_and_api_queries_never_read_a_whole_growing_table(db: TestDb) {
    let now = 400 * DAY;
    fill_inbox(&db, 60_000, now - 30 * DAY).await;
    fill_log(&db, 60_000, now - 100 * DAY).await;
    fill_jobs(&db, 60_000, "done", now - 10 * DAY).await;
    fill_jobs(&db, 50, "dead", now - DAY).await;
    fill_jobs(&db, 200, "pending", now - DAY).await;
    fill_samples(&db, 60_000, now - 3 * DAY).await;
    execute(
        &db,
        &format!(
            "INSERT INTO record_links (pair, notion_page_id, airtable_record_id, snapshot, \
                 sync_source, state, created_at, updated_at) {} \
             SELECT 'specs', 'page-' || i, 'rec' || i, '{{}}', 'service', 'active', 0, 0 FROM n",
            numbers(5_000)
        ),
    )
    .await;
    execute(&db, "ANALYZE").await;
    // The steady state of the schedule: each pass finds the oldest few rows
    // (about a thousand here) past their retention.
    let prune = PruneBefore {
        inbox: now - 30 * DAY + 1_000_000,
        log: now - 100 * DAY + 1_000_000,
        jobs: now - 10 * DAY + 1_000_000,
        samples: now - 3 * DAY + 1_000_000,
    };
    let plans = db
        .store
        .explain_read_queries(now, prune)
        .await
        .expect("explain");
    assert!(plans.len() >= 15, "{plans:#?}");
    let mut bad = Vec::new();
    for plan in &plans {
        let sorts = plan
            .plan
            .iter()
            .any(|l| l.contains("TEMP B-TREE FOR ORDER BY"));
        for table in GROWING_TABLES {
            for line in &plan.plan {
                // A newest-first page walks the primary key (or the index of
                // conflicts) backwards and stops at its limit: SQLite calls
                // that a SCAN, and it is fine as long as nothing has to be
                // sorted first.
                let paged = plan.newest_first_page && !sorts;
                if scans_whole(line, table) && !paged {
                    bad.push(format!("{}: {line}\n  {}", plan.name, plan.sql));
                }
            }
        }
    }
    assert!(bad.is_empty(), "whole-table reads:\n{}", bad.join("\n"));
    // SQLite plans by rule, not by cost: each query the indexes of migration
    // 0004 were made for must use its index (without it, the last event
    // searched every row of the source, dead jobs were sorted, ...).
    if db.url.starts_with("sqlite:") {
        let expected = [
            (
                "status: last Notion event",
                "webhook_inbox_source_received_at",
            ),
            ("status: dead jobs", "jobs_state_id"),
            ("api: conflicts of a pair", "sync_log_pair_conflicts"),
            ("status: links per pair", "record_links_pair_state"),
            ("prune: done jobs", "jobs_state_finished_at"),
        ];
        for (name, index) in expected {
            let plan = plans.iter().find(|p| p.name == name).expect(name);
            assert!(
                plan.plan.iter().any(|l| l.contains(index)),
                "{name} does not use {index}: {plan:#?}"
            );
        }
    }
}

//! What `serve` does on its own besides syncing: pruning on its schedule
//! (the documented deployment must not grow without bound), and syncing a
//! rename that Notion announces only as `page.content_updated`, with no
//! sweep to fall back on.

use std::sync::Arc;

use notion_airtable_sync::store::now_ms;

use super::harness::{
    Backend, Options, Sandboxes, Service, TempDir, assert_no_sweep_since, database_url, eventually,
    scalar, until_idle,
};

const DAY: i64 = 86_400_000;

/// Run `sql` through a connection of its own.
async fn execute(db_url: &str, sql: &str) {
    use sqlx::Connection;
    if db_url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(db_url).await.unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap();
    } else {
        let mut c = sqlx::PgConnection::connect(db_url).await.unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap();
    }
}

/// Rows of the test's own (`evt-prune-*`, `k-prune-*`, `page-prune-*`).
async fn rows(db_url: &str) -> (i64, i64, i64, i64) {
    let inbox = "SELECT COUNT(*) FROM webhook_inbox WHERE event_id LIKE 'evt-prune-%'";
    let log = "SELECT COUNT(*) FROM sync_log WHERE notion_page_id LIKE 'page-prune-%'";
    let done = "SELECT COUNT(*) FROM jobs WHERE key LIKE 'k-prune-%' AND state = 'done'";
    let dead = "SELECT COUNT(*) FROM jobs WHERE key LIKE 'k-prune-%' AND state = 'dead'";
    (
        scalar(db_url, inbox).await,
        scalar(db_url, log).await,
        scalar(db_url, done).await,
        scalar(db_url, dead).await,
    )
}

/// Rows older than their retention, written while `serve` runs, are gone at
/// its next pruning pass (every second here); younger ones, and dead jobs,
/// stay. The job retention comes from the mapping file (`[jobs]`).
pub async fn serve_prunes_on_its_schedule(backend: Backend) {
    let dir = TempDir::new();
    let sb = Arc::new(Sandboxes::start().await);
    let db_url = database_url(backend, &dir.0).await;
    let options = Options {
        notion_webhooks: false,
        airtable_webhooks: false,
        sweep_at_start: false,
        env: vec![("PRUNE_INTERVAL_SECS".into(), "1".into())],
        config_edits: vec![(
            "[jobs]\nretention_days = 7".into(),
            "[jobs]\nretention_days = 2".into(),
        )],
        ..Options::default()
    };
    let mut svc = Service::new(&sb, &dir.0, &db_url, options);
    svc.start();
    svc.ready(30).await;
    let now = now_ms();
    let (old_inbox, young_inbox) = (now - 9 * DAY, now - DAY);
    let (old_log, young_log) = (now - 91 * DAY, now - 89 * DAY);
    let (old_job, young_job) = (now - 3 * DAY, now - DAY);
    execute(
        &db_url,
        &format!(
            "INSERT INTO webhook_inbox (source, event_id, received_at) VALUES \
             ('notion', 'evt-prune-old', {old_inbox}), ('notion', 'evt-prune-young', {young_inbox})"
        ),
    )
    .await;
    execute(
        &db_url,
        &format!(
            "INSERT INTO sync_log (at, pair, notion_page_id, action, direction, cause) VALUES \
             ({old_log}, 'specs', 'page-prune-old', 'update', 'none', 'sweep'), \
             ({young_log}, 'specs', 'page-prune-young', 'update', 'none', 'sweep')"
        ),
    )
    .await;
    let job = |key: &str, state: &str, at: i64| {
        format!("('reconcile_page', '{key}', 'specs', '{state}', {at}, {at}, {at}, {at})")
    };
    execute(
        &db_url,
        &format!(
            "INSERT INTO jobs (kind, key, pair, state, run_at, created_at, updated_at, \
                 finished_at) VALUES {}, {}, {}",
            job("k-prune-old", "done", old_job),
            job("k-prune-young", "done", young_job),
            job("k-prune-dead", "dead", now - 30 * DAY),
        ),
    )
    .await;
    eventually(30, "the pruning pass", async || {
        (rows(&db_url).await == (1, 1, 1, 1)).then_some(())
    })
    .await;
    for young in [
        "SELECT COUNT(*) FROM webhook_inbox WHERE event_id = 'evt-prune-young'",
        "SELECT COUNT(*) FROM sync_log WHERE notion_page_id = 'page-prune-young'",
        "SELECT COUNT(*) FROM jobs WHERE key = 'k-prune-young'",
    ] {
        assert_eq!(scalar(&db_url, young).await, 1, "{young}");
    }
    // And on its schedule, not only once at start: rows written now are
    // pruned by a later pass.
    execute(
        &db_url,
        &format!(
            "INSERT INTO webhook_inbox (source, event_id, received_at) VALUES \
             ('notion', 'evt-prune-later', {old_inbox})"
        ),
    )
    .await;
    eventually(30, "a later pruning pass", async || {
        let later = "SELECT COUNT(*) FROM webhook_inbox WHERE event_id = 'evt-prune-later'";
        (scalar(&db_url, later).await == 0).then_some(())
    })
    .await;
}

/// A person renames a page; the Notion sandbox announces it, as Notion
/// documents, as `page.content_updated` only. With no sweep at start and
/// the next scheduled one 15 minutes away, the name reaches Airtable through
/// that event's job alone.
pub async fn a_rename_reaches_airtable_through_content_updated_without_a_sweep(backend: Backend) {
    let dir = TempDir::new();
    let sb = Arc::new(Sandboxes::start().await);
    let db_url = database_url(backend, &dir.0).await;
    let options = Options {
        airtable_webhooks: false,
        sweep_at_start: false,
        ..Options::default()
    };
    let mut svc = Service::new(&sb, &dir.0, &db_url, options);
    svc.start_synced(&sb).await;
    let store = svc.store().await;
    until_idle(&store, 60).await;
    let renamed_at = now_ms();
    let page = sb.team_n.page_ids[3].clone();
    sb.rename_page(&page, "Renamed by a person");
    eventually(30, "the new name in Airtable", async || {
        (sb.airtable_name(&page).as_deref() == Some("Renamed by a person")).then_some(())
    })
    .await;
    assert_no_sweep_since(&store, renamed_at).await;
    let reconciled = format!(
        "SELECT COUNT(*) FROM jobs WHERE kind = 'reconcile_page' AND state = 'done' \
         AND created_at >= {renamed_at}"
    );
    // The job writes Airtable before it commits and completes: wait for it.
    eventually(30, "the reconcile job that did it done", async || {
        (scalar(&db_url, &reconciled).await >= 1).then_some(())
    })
    .await;
}

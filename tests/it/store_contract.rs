//! The store contract: every test below is written once and runs against
//! SQLite (a fresh file per test) and against Postgres (a fresh database per
//! test, created through `TEST_POSTGRES_URL`).
//!
//! The Postgres half needs a server: run
//!     scripts/with-postgres.sh cargo nextest run --test it store_contract::
//! Without `TEST_POSTGRES_URL` the Postgres tests fail (never pass silently).

use crate::common;
pub mod jobs;
pub mod jobs_lifecycle;
pub mod pruning;
pub mod record_claims;
pub mod records;
pub mod webhooks;

use std::time::Duration;

use notion_airtable_sync::store::{Backend, NewJob, Store, StoreOptions};

use common::{TestDb, unique_temp_folder};

/// Generates `sqlite::<test>` and `postgres::<test>` for each contract test
/// `module::test(store: Store)`.
macro_rules! contract {
    ($($module:ident :: $test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let db = super::TestDb::sqlite().await;
                    super::$module::$test(db.store.clone()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let db = super::TestDb::postgres().await;
                    super::$module::$test(db.store.clone()).await;
                }
            )*
        }
    };
}

contract! {
    jobs::migrations_are_idempotent,
    jobs::enqueue_coalesces_per_key,
    jobs::concurrent_enqueues_make_one_pending_job,
    jobs::claim_takes_due_jobs_in_order,
    jobs::concurrent_claimers_never_share_a_job,
    jobs::running_key_blocks_its_pending_job,
    jobs::enqueue_and_complete_commit_with_the_transaction,
    jobs::enqueue_many_keeps_the_callers_order,
    jobs::listing_counting_and_pruning,
    jobs_lifecycle::expired_lease_is_reclaimed_and_old_token_fenced,
    jobs_lifecycle::heartbeat_extends_the_lease,
    jobs_lifecycle::retry_later_can_give_the_attempt_back,
    jobs_lifecycle::fail_goes_dead_after_max_attempts_and_retry_dead_revives,
    jobs_lifecycle::bury_is_dead_at_once_fenced_and_revivable,
    jobs_lifecycle::lease_lost_on_the_last_attempt_goes_dead,
    jobs_lifecycle::requeue_merges_into_the_keys_pending_job,
    jobs_lifecycle::release_gives_the_job_back_without_an_attempt,
    jobs_lifecycle::retry_dead_merges_into_a_pending_job,
    records::inbox_dedupes_concurrent_deliveries,
    records::inbox_and_job_roll_back_together,
    records::links_roundtrip_with_snapshot,
    records::links_are_unique_per_side,
    records::sync_log_filters_and_pages,
    records::sweeps_record_start_finish_and_high_water,
    records::issues_are_raised_once_refreshed_and_cleared,
    webhooks::cursor_update_rolled_back_keeps_old_cursor,
    webhooks::webhook_registration_status_and_secret,
    webhooks::verification_tokens_stay_pending_until_acknowledged,
    webhooks::penalty_keeps_the_latest_deadline,
    webhooks::reserve_slot_spaces_calls_and_honours_penalty,
    webhooks::a_window_budget_admits_its_calls_together_across_clients,
    webhooks::concurrent_reservations_get_distinct_slots,
    record_claims::claims_are_exclusive_across_connections,
    record_claims::a_group_is_taken_whole_or_not_at_all,
    record_claims::a_claim_outside_a_job_expires,
    record_claims::a_jobs_claims_end_with_its_lease,
    record_claims::a_read_older_than_anothers_write_is_moved,
    record_claims::an_abandoned_claim_is_moved_once_for_readers,
    record_claims::released_claims_are_pruned,
    record_claims::a_page_create_is_announced_once_per_row,
    record_claims::a_stale_page_create_is_restarted_by_one_run,
}

/// [`contract!`] for tests that need the database itself (`TestDb`), not
/// only its store.
macro_rules! contract_db {
    ($($module:ident :: $test:ident),* $(,)?) => {
        mod sqlite_db {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    super::$module::$test(super::TestDb::sqlite().await).await;
                }
            )*
        }
        mod postgres_db {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    super::$module::$test(super::TestDb::postgres().await).await;
                }
            )*
        }
    };
}

contract_db! {
    pruning::pruning_deletes_only_what_is_past_its_cutoff,
    pruning::only_the_newest_verification_tokens_are_kept,
    pruning::status_and_api_queries_never_read_a_whole_growing_table,
}

// Tests of one backend or of neither.

#[tokio::test]
async fn sqlite_creates_folder_and_file_on_first_run() {
    let folder = unique_temp_folder();
    let file = folder.join("a/b/sync.db");
    assert!(!folder.exists());
    let store = Store::connect(&format!("sqlite://{}", file.display()))
        .await
        .expect("open SQLite");
    assert_eq!(store.backend(), Backend::Sqlite);
    assert!(file.is_file(), "{} was not created", file.display());
    assert!(!store.migrations_applied().await.expect("check migrations"));
    store.migrate().await.expect("migrate");
    assert!(store.migrations_applied().await.expect("check migrations"));
    store.close().await;
    std::fs::remove_dir_all(folder).expect("clean up");
}

#[tokio::test]
async fn sqlite_busy_is_transient() {
    let db = TestDb::sqlite().await;
    let url = db.url.clone();
    let impatient = StoreOptions {
        sqlite_busy_timeout: Duration::from_millis(50),
        ..StoreOptions::default()
    };
    let store = Store::connect_with(&url, &impatient).await.expect("open");
    // Another writer holds the write lock.
    let blocker = db.store.begin().await.expect("begin");
    let err = store
        .enqueue(&NewJob::new("k", "key", 0), 0)
        .await
        .expect_err("the write lock is taken");
    assert!(err.is_transient(), "{err}");
    blocker.rollback().await.expect("rollback");
    store
        .enqueue(&NewJob::new("k", "key", 0), 0)
        .await
        .expect("the lock is free again");
}

#[tokio::test]
async fn unreachable_postgres_is_transient_and_hides_the_password() {
    // Port 1 on localhost: nothing listens there.
    let options = StoreOptions {
        acquire_timeout: Duration::from_millis(300),
        ..StoreOptions::default()
    };
    let err = Store::connect_with("postgres://app:hunter2@127.0.0.1:1/sync", &options)
        .await
        .expect_err("nothing listens on port 1");
    assert!(err.is_transient(), "{err}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
}

#[tokio::test]
async fn unsupported_scheme_is_named() {
    let err = Store::connect("mysql://root:hunter2@db/app")
        .await
        .expect_err("mysql is not supported");
    let msg = err.to_string();
    assert!(msg.contains("mysql"), "{msg}");
    assert!(!msg.contains("hunter2"), "{msg}");
    assert!(!err.is_transient());
}

//! The failure suite (issue 6; reliability-notes §6): the real `serve`
//! binary against both sandbox servers while the world misbehaves. Each test
//! runs on SQLite and on Postgres.
//!
//!     scripts/with-postgres.sh cargo nextest run --test it failures::
//!
//! Without `TEST_POSTGRES_URL` the Postgres tests fail (never pass silently).
//! Set `FAILURES_RUST_LOG=info` to see the service's log.

use crate::common;
pub mod crashes;
pub mod database;
pub mod harness;
pub mod ingress;
pub mod load;
pub mod maintenance;
pub mod outages;
pub mod sync_safety;
pub mod traffic;

use common::TestDb;
use harness::Backend;

/// Generates `sqlite::<test>` and `postgres::<test>` for each
/// `module::test(backend)`.
macro_rules! on_both_backends {
    ($($module:ident :: $test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$module::$test(super::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$module::$test(super::Backend::Postgres).await;
                }
            )*
        }
    };
}

on_both_backends! {
    ingress::replays_after_processing_change_nothing,
    ingress::slow_clients_are_cut_off_and_others_still_served,
    crashes::sigkill_with_webhooks_in_flight_loses_and_duplicates_nothing,
    crashes::sigterm_under_load_finishes_or_releases_every_job,
    maintenance::serve_prunes_on_its_schedule,
    maintenance::a_rename_reaches_airtable_through_content_updated_without_a_sweep,
    load::one_record_under_ten_thousand_events,
    load::poison_jobs_go_dead_and_the_rest_flow,
    outages::five_xx_storm_retries_and_converges,
    outages::compressed_outage_backlog_drains_at_the_quota_rate,
    sync_safety::conflicting_edits_with_unruly_deliveries_resolve_by_rule,
    sync_safety::missed_events_and_an_expired_cursor_are_healed_by_the_sweep,
}

/// No database involved beyond start-up: SQLite only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_off() {
    ingress::slow_headers_are_cut_off(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_do_not_hold_up_shutdown() {
    ingress::slow_clients_do_not_hold_up_shutdown(Backend::Sqlite).await;
}

/// Its own cluster (stopped and started by the test): Postgres only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_during_traffic_is_503_and_loses_nothing() {
    database::postgres_stopped_during_traffic_is_503_and_loses_nothing().await;
}

/// In process (the engine and a real store), on both backends.
mod echoes {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_echoes_without_origin_metadata_are_stopped_by_the_snapshot() {
        let db = super::TestDb::sqlite().await;
        super::sync_safety::echoes_without_origin_metadata_are_stopped_by_the_snapshot(db).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_echoes_without_origin_metadata_are_stopped_by_the_snapshot() {
        let db = super::TestDb::postgres().await;
        super::sync_safety::echoes_without_origin_metadata_are_stopped_by_the_snapshot(db).await;
    }
}

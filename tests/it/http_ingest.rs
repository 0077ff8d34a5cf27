//! The HTTP ingest layer over real HTTP (reqwest → axum on 127.0.0.1:0), on a
//! real store: every test runs against SQLite (a fresh file) and Postgres (a
//! fresh database through `TEST_POSTGRES_URL`).
//!
//!     scripts/with-postgres.sh cargo nextest run --test it http_ingest::
//!
//! Without `TEST_POSTGRES_URL` the Postgres tests fail (never pass silently).

pub mod admin;
pub mod airtable;
pub mod notion;
pub mod support;

use support::TestDb;

/// Generates `sqlite::<test>` and `postgres::<test>` for each
/// `module::test(db: TestDb)`.
macro_rules! both_backends {
    ($($module:ident :: $test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    super::$module::$test(super::TestDb::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    super::$module::$test(super::TestDb::postgres().await).await;
                }
            )*
        }
    };
}

both_backends! {
    notion::verification_request_is_pending_and_never_the_secret,
    notion::a_configured_server_shows_a_new_token_and_keeps_its_secret,
    notion::a_flood_of_tokens_before_the_secret_is_rate_limited_and_capped,
    notion::verification_tokens_are_logged_by_fingerprint_only,
    notion::a_title_edit_arrives_as_content_updated_and_is_reconciled,
    notion::events_reach_every_pair_of_a_shared_data_source,
    notion::bad_signatures_are_refused_before_anything_is_stored,
    notion::malformed_json_with_a_valid_signature_is_400,
    notion::page_event_enqueues_one_debounced_reconcile,
    notion::same_event_delivered_100_times_concurrently_is_one_job,
    notion::fifty_events_for_one_page_coalesce_into_one_job,
    notion::events_the_service_does_not_sync_are_acknowledged_and_ignored,
    notion::an_event_without_a_parent_queues_a_job_that_locates_the_page,
    notion::a_schema_change_queues_a_resolve_of_its_pair,
    notion::bot_only_events_need_no_reconcile,
    notion::a_linked_page_moved_out_is_still_reconciled,
    notion::database_down_is_503_and_nothing_is_acknowledged,
    notion::oversized_bodies_are_413_on_both_endpoints,
    airtable::a_good_ping_enqueues_one_payload_fetch,
    airtable::bad_macs_are_refused_and_nothing_is_stored,
    airtable::an_unknown_webhook_id_is_401,
    airtable::malformed_pings_are_400_only_when_authentic,
    airtable::database_down_is_503,
    admin::admin_routes_need_the_admin_token,
    admin::reconcile_enqueues_one_sweep_per_pair_and_coalesces,
    admin::dead_jobs_are_listed_and_retried,
    admin::log_and_conflicts_are_served_as_json,
    admin::open_issues_are_served_as_json,
    admin::health_and_readiness,
    admin::readiness_needs_the_migrations,
}

//! The job runner against the real store: every test below is written once
//! and runs on SQLite (a fresh file) and on Postgres (a fresh database
//! created through `TEST_POSTGRES_URL`).
//!
//! Run with
//!     scripts/with-postgres.sh cargo nextest run --test it job_runner::
//! Without `TEST_POSTGRES_URL` the Postgres tests fail (never pass silently).

pub mod budgets;
pub mod draining;
pub mod failures;
pub mod leases;
pub mod support;

use support::TestDb;

/// Generates `sqlite::<test>` and `postgres::<test>` for each
/// `module::test(db: TestDb)`.
macro_rules! on_both_backends {
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

on_both_backends! {
    draining::each_job_runs_exactly_once_in_four_slots,
    draining::two_runners_never_run_a_job_twice,
    draining::a_wake_up_beats_the_poll_interval,
    failures::rate_limited_job_waits_without_spending_an_attempt,
    failures::retryable_failures_back_off_then_die_with_the_last_error,
    failures::fatal_errors_bury_the_job_after_its_first_attempt,
    failures::unreadable_payload_is_fatal_without_calling_the_handler,
    failures::panicking_handler_is_retried_and_the_runner_carries_on,
    leases::late_completion_after_losing_the_lease_is_rejected,
    leases::heartbeat_notices_a_lost_lease_and_abandons_the_run,
    leases::shutdown_releases_unfinished_jobs_after_the_grace_period,
    leases::shutdown_lets_in_flight_jobs_finish_within_the_grace_period,
    budgets::two_instances_share_one_pace,
    budgets::a_penalty_set_by_one_instance_blocks_the_other,
    budgets::runner_defers_jobs_while_their_budget_is_penalized,
    budgets::a_vendor_429_penalizes_that_vendors_budgets,
    budgets::an_unavailable_vendor_pauses_its_budgets_and_the_rest_wait,
}

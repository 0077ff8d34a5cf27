//! The webhook pipeline under load and failure (issue 4's required tests):
//! the real `serve` binary against both sandbox servers, on SQLite and on
//! Postgres.
//!
//!     scripts/with-postgres.sh cargo nextest run --test it pipeline::
//!
//! - `burst`: 1,000 events for one record in about a second → at most two
//!   reconciles, the last edit on both sides;
//! - `deliveries`: dropped, duplicated, delayed and reordered webhooks →
//!   converged after the next sweep, no duplicate row;
//! - `crash`: a worker process SIGKILLed mid-job → reclaimed after its
//!   lease by another worker process, completed, no duplicate row;
//! - `replicas` (Postgres): three `serve` processes with a backlog → no job
//!   held twice, requests within the budgets, no 429;
//! - `storm`: a 429 storm → calls pause for the vendor's wait, every job
//!   completes, none dead, converged;
//! - `gap`: an Airtable payload cursor gap → a full sweep, converged.
//!
//! Set `PIPELINE_RUST_LOG=info` to see the service's log.

use crate::common;
pub mod burst;
pub mod crash;
pub mod deliveries;
pub mod gap;
pub mod replicas;
pub mod storm;
pub mod support;

use self::{
    burst::a_thousand_events_for_one_record_are_at_most_two_reconciles,
    crash::a_killed_worker_s_job_is_reclaimed_and_completed_once,
    deliveries::lossy_deliveries_converge_after_the_next_sweep,
    gap::a_cursor_gap_runs_a_full_sweep_and_converges,
    storm::a_429_storm_pauses_the_calls_and_every_job_completes,
};
use common::TestDb;
use notion_airtable_sandbox::team::NotionStatus;

/// Each test on the team's seed as it is (Notion's Status a `select`) and,
/// as real databases mostly have it, with Status a `status` property whose
/// options the API cannot create.
macro_rules! on_both_seeds {
    ($($test:ident),* $(,)?) => {
        mod select_seed {
            use super::*;
            $(pub async fn $test(db: TestDb) { super::$test(db, NotionStatus::Select).await })*
            both_backends! { $($test),* }
        }
        mod status_seed {
            use super::*;
            $(pub async fn $test(db: TestDb) { super::$test(db, NotionStatus::Status).await })*
            both_backends! { $($test),* }
        }
    };
}

on_both_seeds! {
    a_thousand_events_for_one_record_are_at_most_two_reconciles,
    lossy_deliveries_converge_after_the_next_sweep,
    a_killed_worker_s_job_is_reclaimed_and_completed_once,
    a_429_storm_pauses_the_calls_and_every_job_completes,
    a_cursor_gap_runs_a_full_sweep_and_converges,
}

/// Several processes sharing one database is what Postgres is for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_three_replicas_never_run_a_job_twice_and_share_the_budgets() {
    replicas::three_replicas_never_run_a_job_twice_and_share_the_budgets(TestDb::postgres().await)
        .await;
}

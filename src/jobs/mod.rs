//! The job pipeline: what jobs exist ([`kinds`]), how they run
//! ([`runner`], dispatching to a [`handler::JobHandler`]), how workers are
//! woken ([`wakeup`]) and the API budgets every replica shares
//! ([`shared_budget`]).

mod attempt;
pub mod backoff;
pub mod fence;
pub mod handler;
pub mod kinds;
pub mod runner;
pub mod shared_budget;
mod sync_handler;
pub mod wakeup;

pub use backoff::Backoff;
pub use handler::{JobError, JobHandler};
pub use runner::{Runner, RunnerConfig, RunnerStats};
pub use shared_budget::SharedBudget;
pub use wakeup::{JOBS_READY_CHANNEL, JobsNotifier};

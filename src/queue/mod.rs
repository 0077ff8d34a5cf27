//! The durable job queue's runtime: how jobs run ([`runner`], dispatching
//! to a [`handler::JobHandler`]), how a job's failure is classified for the
//! runner ([`handler::JobError`]), backoff, and how workers
//! are woken ([`wakeup`]).

mod attempt;
pub mod backoff;
pub mod handler;
pub mod runner;
mod state;
pub mod wakeup;

pub use backoff::Backoff;
pub use handler::{JobError, JobHandler};
pub use runner::Runner;
pub use state::{RunnerConfig, RunnerStats};
pub use wakeup::{JOBS_READY_CHANNEL, JobsNotifier};

//! What the runner dispatches to, and how a job's failure is classified:
//! by what the runner does next (wait out a rate limit, retry with backoff,
//! give up).

use std::{future::Future, sync::Arc, time::Duration};

use crate::{
    clients::{
        SharedBudget,
        api_error::{ApiError, Vendor},
    },
    store::{ClaimedJob, StoreError},
    telemetry::JobFields,
};

/// Runs one job: the queue knows no job kind, the handler reads the
/// payload into its own `Spec`. The sync worker implements it; tests use
/// small closures.
pub trait JobHandler: Send + Sync + 'static {
    /// What a job's payload says to do.
    type Spec: Send + 'static;

    /// Read the claimed job's payload. An error makes the job dead: no
    /// retry reads a payload differently.
    fn parse(&self, job: &ClaimedJob) -> Result<Self::Spec, JobError>;

    /// The ids every line logged while the job runs carries.
    fn log_fields<'a>(&self, _spec: &'a Self::Spec) -> JobFields<'a> {
        JobFields::default()
    }

    /// Do the job's work. `job` carries the lease (id, token, attempt
    /// number); the runner heartbeats and completes it, so the handler never
    /// touches it.
    fn run(
        &self,
        job: &ClaimedJob,
        spec: Self::Spec,
    ) -> impl Future<Output = Result<(), JobError>> + Send;

    /// The shared budgets the job will spend. The runner checks their 429
    /// penalty before running the job (a job that would only wait is put
    /// back until the penalty ends, without spending an attempt) and, when
    /// the job ends rate limited by a vendor or finds it down, penalizes
    /// that vendor's budgets so that every replica pauses.
    fn budgets(&self, _spec: &Self::Spec) -> Vec<Arc<SharedBudget>> {
        Vec::new()
    }
}

/// Why a job did not finish, classified by what the runner does next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Not a failure: run again after `retry_after`, attempt not spent.
    #[error("rate limited{}; retry after {retry_after:?}", vendor_suffix(*.vendor))]
    RateLimited {
        retry_after: Duration,
        /// The vendor that answered 429, when known: its budgets are penalized.
        vendor: Option<Vendor>,
    },
    /// A transient fault: retry with exponential backoff, dead after the
    /// job's last attempt.
    #[error("{0}")]
    Retryable(String),
    /// The vendor could not serve the request at all (5xx, timeout,
    /// connection error): likely an outage that every job on that vendor
    /// would hit. Retried like `Retryable` (with a capped delay), and it
    /// also pauses the vendor's shared budgets briefly, a circuit breaker,
    /// so that the other jobs wait (attempt not spent) instead of each
    /// failing in turn; see `Attempt::unavailable` in `attempt.rs`.
    #[error("{message}")]
    Unavailable { vendor: Vendor, message: String },
    /// Retrying cannot help (bad request, bad payload, missing config).
    #[error("{0}")]
    Fatal(String),
}

fn vendor_suffix(vendor: Option<Vendor>) -> String {
    vendor.map(|v| format!(" by {v}")).unwrap_or_default()
}

impl JobError {
    pub fn retryable(msg: impl Into<String>) -> Self {
        JobError::Retryable(msg.into())
    }

    pub fn fatal(msg: impl Into<String>) -> Self {
        JobError::Fatal(msg.into())
    }
}

impl From<ApiError> for JobError {
    fn from(err: ApiError) -> Self {
        match err {
            ApiError::RateLimited {
                retry_after,
                vendor,
                ..
            } => JobError::RateLimited {
                retry_after,
                vendor: Some(vendor),
            },
            ApiError::Retryable { .. } => retryable(&err, err.to_string()),
            ApiError::Fatal { .. } => JobError::Fatal(err.to_string()),
        }
    }
}

/// `Unavailable` when `err` says the vendor is down, else `Retryable`.
pub(crate) fn retryable(err: &ApiError, message: String) -> JobError {
    match unavailable_vendor(err) {
        Some(vendor) => JobError::Unavailable { vendor, message },
        None => JobError::Retryable(message),
    }
}

/// The vendor, when `err` means it could not serve requests at all: a 5xx
/// or no answer (timeout, connection error). Other transient faults (a
/// Notion 409 conflict) concern one request, not the vendor.
fn unavailable_vendor(err: &ApiError) -> Option<Vendor> {
    match err {
        ApiError::Retryable { vendor, status, .. }
            if status.is_none_or(|s| (500..600).contains(&s)) =>
        {
            Some(*vendor)
        }
        _ => None,
    }
}

impl From<StoreError> for JobError {
    fn from(err: StoreError) -> Self {
        if err.is_transient() {
            JobError::Retryable(err.to_string())
        } else {
            JobError::Fatal(err.to_string())
        }
    }
}

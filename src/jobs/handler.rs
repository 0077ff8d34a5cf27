//! What the runner dispatches to, and how a job's failure is classified:
//! by what the runner does next (wait out a rate limit, retry with backoff,
//! give up).

use std::{future::Future, sync::Arc, time::Duration};

use super::{kinds::JobSpec, shared_budget::SharedBudget};
use crate::{
    api_error::{ApiError, Vendor},
    store::{ClaimedJob, StoreError},
    sync::service::{ErrorClass, classify},
};

/// Runs one job. The sync engine implements it; tests use small closures.
pub trait JobHandler: Send + Sync + 'static {
    /// Do the job's work. `job` carries the lease (id, attempt number); the
    /// runner heartbeats and completes it, so the handler never touches it.
    fn run(
        &self,
        job: &ClaimedJob,
        spec: JobSpec,
    ) -> impl Future<Output = Result<(), JobError>> + Send;

    /// The shared budgets the job will spend. The runner checks their 429
    /// penalty before running the job (a job that would only wait is put
    /// back until the penalty ends, without spending an attempt) and, when
    /// the job ends rate limited by a vendor, penalizes that vendor's
    /// budgets so that every replica pauses.
    fn budgets(&self, _spec: &JobSpec) -> Vec<Arc<SharedBudget>> {
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
            ApiError::Retryable { .. } => JobError::Retryable(err.to_string()),
            ApiError::Fatal { .. } => JobError::Fatal(err.to_string()),
        }
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

/// The engine's errors keep their cause inside `anyhow`; the engine's own
/// [`classify`] decides, and the whole context chain becomes the message.
impl From<anyhow::Error> for JobError {
    fn from(err: anyhow::Error) -> Self {
        let message = format!("{err:#}");
        match classify(&err) {
            ErrorClass::RateLimited(retry_after) => JobError::RateLimited {
                retry_after,
                vendor: err
                    .chain()
                    .find_map(|cause| cause.downcast_ref::<ApiError>())
                    .map(ApiError::vendor),
            },
            ErrorClass::Retryable => JobError::Retryable(message),
            ErrorClass::Fatal => JobError::Fatal(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_keep_their_class_and_vendor() {
        let limited = ApiError::RateLimited {
            vendor: Vendor::Airtable,
            status: 429,
            code: "RATE_LIMIT_REACHED".into(),
            message: String::new(),
            retry_after: Duration::from_secs(30),
        };
        assert_eq!(
            JobError::from(limited.clone()),
            JobError::RateLimited {
                retry_after: Duration::from_secs(30),
                vendor: Some(Vendor::Airtable)
            }
        );
        let wrapped = anyhow::Error::new(limited).context("sweeping pair \"specs\"");
        assert!(matches!(
            JobError::from(wrapped),
            JobError::RateLimited {
                vendor: Some(Vendor::Airtable),
                ..
            }
        ));
        let fatal = ApiError::Fatal {
            vendor: Vendor::Notion,
            status: 400,
            code: "validation_error".into(),
            message: "bad".into(),
        };
        let JobError::Fatal(msg) = JobError::from(anyhow::Error::new(fatal).context("page p1"))
        else {
            panic!("a 400 is fatal");
        };
        assert!(msg.starts_with("page p1: Notion rejected"), "{msg}");
    }

    #[test]
    fn store_errors_split_on_transience() {
        let busy = StoreError::Contended {
            op: "enqueue a job",
            tries: 5,
        };
        assert!(matches!(JobError::from(busy), JobError::Retryable(_)));
        let corrupt = StoreError::Corrupt {
            table: "jobs",
            column: "payload",
            problem: "not JSON".into(),
        };
        assert!(matches!(JobError::from(corrupt), JobError::Fatal(_)));
    }
}

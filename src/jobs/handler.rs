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
    /// the job ends rate limited by a vendor or finds it down, penalizes
    /// that vendor's budgets so that every replica pauses.
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
fn retryable(err: &ApiError, message: String) -> JobError {
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
            ErrorClass::Retryable => match deciding_api_error(&err) {
                Some(api) => retryable(api, message),
                None => JobError::Retryable(message),
            },
            ErrorClass::Fatal => JobError::Fatal(message),
        }
    }
}

/// The API error `classify` decided by: the first API or store error in the
/// chain (a transient store error found first means the database, not the
/// vendor, failed).
fn deciding_api_error(err: &anyhow::Error) -> Option<&ApiError> {
    err.chain()
        .find(|cause| cause.is::<ApiError>() || cause.is::<StoreError>())
        .and_then(|cause| cause.downcast_ref::<ApiError>())
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
    fn a_vendor_that_cannot_answer_is_unavailable() {
        let down = |status| ApiError::Retryable {
            vendor: Vendor::Notion,
            status,
            code: "service_unavailable".into(),
            message: "down".into(),
        };
        for status in [Some(500), Some(503), None] {
            let wrapped = anyhow::Error::new(down(status)).context("page p1");
            let JobError::Unavailable { vendor, message } = JobError::from(wrapped) else {
                panic!("{status:?} means the vendor is unavailable");
            };
            assert_eq!(vendor, Vendor::Notion);
            assert!(
                message.starts_with("page p1: Notion temporary failure"),
                "{message}"
            );
            assert!(matches!(
                JobError::from(down(status)),
                JobError::Unavailable {
                    vendor: Vendor::Notion,
                    ..
                }
            ));
        }
        // A conflict concerns one request, not the vendor.
        let conflict = anyhow::Error::new(down(Some(409)));
        assert!(matches!(JobError::from(conflict), JobError::Retryable(_)));
        // An error without a vendor behind it stays an ordinary retry.
        let unexpected = anyhow::anyhow!("unparsable answer").context("page p1");
        assert!(matches!(JobError::from(unexpected), JobError::Retryable(_)));
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

//! The one classifier from what a job's work failed with to what the queue
//! does next: wait (a rate limit, or work that must finish first), retry
//! with backoff, or give up. The engine keeps an error's cause inside
//! `anyhow`; the first cause that says what it is decides, and the whole
//! context chain becomes the message the operator reads.

use crate::{
    clients::api_error::ApiError,
    engine::NotYet,
    queue::{JobError, handler::retryable},
    store::StoreError,
};

/// What the queue does with a job that failed with `err`.
pub fn classify(err: &anyhow::Error) -> JobError {
    let message = format!("{err:#}");
    for cause in err.chain() {
        if let Some(wait) = cause.downcast_ref::<NotYet>() {
            return JobError::RateLimited {
                retry_after: wait.retry_after,
                vendor: None,
            };
        }
        if let Some(api) = cause.downcast_ref::<ApiError>() {
            return match api {
                ApiError::RateLimited { retry_after, .. } => JobError::RateLimited {
                    retry_after: *retry_after,
                    vendor: Some(api.vendor()),
                },
                ApiError::Retryable { .. } => retryable(api, message),
                ApiError::Fatal { .. } => JobError::Fatal(message),
            };
        }
        if let Some(store) = cause.downcast_ref::<StoreError>() {
            return if store.is_transient() {
                JobError::Retryable(message)
            } else {
                JobError::Fatal(message)
            };
        }
    }
    // Anything unexpected (a bug, an unparsable answer) is retried a few times
    // before the job goes dead with its error kept for the operator.
    JobError::Retryable(message)
}

/// `?` on the engine's errors inside a job.
impl From<anyhow::Error> for JobError {
    fn from(err: anyhow::Error) -> Self {
        classify(&err)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::clients::api_error::Vendor;

    #[test]
    fn work_that_must_finish_first_is_a_wait_not_a_failure() {
        let busy = anyhow::Error::new(NotYet {
            reason: "a sweep is running".into(),
            retry_after: Duration::from_secs(2),
        })
        .context("page p1");
        assert_eq!(
            classify(&busy),
            JobError::RateLimited {
                retry_after: Duration::from_secs(2),
                vendor: None
            }
        );
    }

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

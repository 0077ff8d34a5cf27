//! The retry policy both API clients apply inside one call.
//!
//! Only two kinds of failure are retried here, because only they are safe to
//! repeat without the caller's knowledge:
//! - a rate limit (429/529): the request was refused, not executed, so it is
//!   repeated after the vendor's `Retry-After` (the wait itself happens in the
//!   client's [`Budget`](crate::clients::ratelimit::Budget), which every caller shares);
//! - a transient fault on an idempotent read (GET, or Airtable's POST
//!   `listRecords`), with a short exponential backoff.
//!
//! Everything else goes back to the caller: the job layer retries writes with
//! its own backoff and fences, and it alone can decide a write is safe to redo.

use std::{future::Future, time::Duration};

use crate::clients::api_error::ApiError;

/// How often one client call repeats a request before giving up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after a rate limit (0 hands every 429 to the caller).
    pub rate_limited: u32,
    /// Retries of an idempotent read after a transient fault (5xx, 409,
    /// timeout, connection error).
    pub idempotent_transient: u32,
    /// First backoff before retrying a transient fault; doubled each time.
    pub transient_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            rate_limited: 3,
            idempotent_transient: 2,
            transient_backoff: Duration::from_millis(250),
        }
    }
}

impl RetryPolicy {
    /// Never retry: every error goes straight to the caller.
    pub fn none() -> Self {
        Self {
            rate_limited: 0,
            idempotent_transient: 0,
            transient_backoff: Duration::ZERO,
        }
    }

    /// Run `attempt` until it succeeds or the policy says stop. `idempotent`
    /// marks reads that may be repeated after a transient fault.
    pub async fn run<T, F, Fut>(&self, idempotent: bool, mut attempt: F) -> Result<T, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let mut counts = Counts::default();
        loop {
            let err = match attempt().await {
                Ok(value) => return Ok(value),
                Err(err) => err,
            };
            match self.delay_before_retry(&err, idempotent, &mut counts) {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Err(err),
            }
        }
    }

    /// The pause before the next try, or `None` to give up. A rate-limit
    /// retry needs no pause here: the budget was penalised and the next
    /// `acquire` waits out the `Retry-After`.
    fn delay_before_retry(
        &self,
        err: &ApiError,
        idempotent: bool,
        counts: &mut Counts,
    ) -> Option<Duration> {
        match err {
            ApiError::RateLimited { .. } if counts.rate_limited < self.rate_limited => {
                counts.rate_limited += 1;
                Some(Duration::ZERO)
            }
            ApiError::Retryable { .. }
                if idempotent && counts.transient < self.idempotent_transient =>
            {
                let delay = self.transient_backoff * 2u32.saturating_pow(counts.transient);
                counts.transient += 1;
                Some(delay)
            }
            _ => None,
        }
    }
}

#[derive(Default)]
struct Counts {
    rate_limited: u32,
    transient: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::api_error::Vendor;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn transient() -> ApiError {
        ApiError::Retryable {
            vendor: Vendor::Notion,
            status: Some(502),
            code: "bad_gateway".into(),
            message: String::new(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn transient_faults_are_retried_only_for_idempotent_calls() {
        let policy = RetryPolicy::default();
        for (idempotent, expected_calls) in [(true, 3), (false, 1)] {
            let calls = AtomicU32::new(0);
            let result: Result<(), _> = policy
                .run(idempotent, || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(transient())
                })
                .await;
            assert!(result.is_err());
            assert_eq!(calls.load(Ordering::SeqCst), expected_calls);
        }
    }

    #[tokio::test]
    async fn fatal_errors_are_never_retried() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = RetryPolicy::default()
            .run(true, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(ApiError::Fatal {
                    vendor: Vendor::Airtable,
                    status: 422,
                    code: "INVALID_REQUEST_UNKNOWN".into(),
                    message: String::new(),
                })
            })
            .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}

//! One attempt of one claimed job: check its budgets, run the handler next to
//! a heartbeat, and record the outcome, every store update fenced by the
//! lease token.

use std::{future::Future, sync::Arc, time::Duration};

use tokio::{sync::watch, task::JoinHandle};
use tracing::Instrument as _;

use super::{
    handler::{JobError, JobHandler},
    state::{AbortOnDrop, Outcome, Shared},
};
use crate::{
    clients::{SharedBudget, api_error::Vendor},
    store::{ClaimedJob, FailOutcome, JobId, Store, StoreError, now_ms},
};

/// How long a vendor's budgets pause after a job found the vendor down
/// (5xx, no answer), before another job probes it: short, so that the
/// backlog resumes within seconds of recovery, yet long enough that an
/// outage costs a few probing attempts per interval, not one per job.
pub(super) const OUTAGE_PROBE_INTERVAL: Duration = Duration::from_secs(5);

/// The longest retry delay after the vendor was down: the ordinary backoff
/// grows to an hour, which would leave the backlog idle long after the
/// vendor is back.
pub(super) const OUTAGE_RETRY_CAP: Duration = Duration::from_secs(30);

/// Why a handler was stopped before it finished.
enum Interrupted {
    LeaseLost,
    /// Shutdown gave up waiting.
    Abandoned,
}

/// Starts the handler on the job's spec in a task of its own (so that a
/// panic is caught as a `JoinError` and the run can be aborted).
type StartHandler = Box<dyn FnOnce(ClaimedJob) -> JoinHandle<Result<(), JobError>> + Send>;

/// Run `job` to an outcome and count it. `abandon` turns true when shutdown
/// gives up waiting: the job is stopped and its lease released. Only this
/// function knows the handler's type; the rest is not generic.
pub(super) fn run_job<H: JobHandler>(
    handler: Arc<H>,
    shared: Arc<Shared>,
    job: ClaimedJob,
    abandon: watch::Receiver<bool>,
) -> impl Future<Output = ()> + Send + 'static {
    let spec = handler.parse(&job);
    let budgets = spec
        .as_ref()
        .map(|spec| handler.budgets(spec))
        .unwrap_or_default();
    // Every line logged while the job runs carries its id, pair and record
    // (the handler runs in a task of its own, so it gets the span too).
    let fields = spec
        .as_ref()
        .map(|spec| handler.log_fields(spec))
        .unwrap_or_default();
    let span = crate::telemetry::job_span(job.id, &job.kind, fields);
    let handler_span = span.clone();
    let start = spec.map(|spec| -> StartHandler {
        Box::new(move |job| {
            tokio::spawn(async move { handler.run(&job, spec).await }.instrument(handler_span))
        })
    });
    let attempt = Attempt {
        shared,
        job,
        budgets,
    };
    attempt.run_and_count(start, abandon).instrument(span)
}

/// One claimed job and what the runner needs to see it through.
struct Attempt {
    shared: Arc<Shared>,
    job: ClaimedJob,
    budgets: Vec<Arc<SharedBudget>>,
}

impl Attempt {
    async fn run_and_count(
        self,
        start: Result<StartHandler, JobError>,
        abandon: watch::Receiver<bool>,
    ) {
        let started = std::time::Instant::now();
        let outcome = match self.run(start, abandon).await {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::error!(job = self.job.id, key = %self.job.key, error = %e,
                    "could not record the job's outcome; it runs again once its lease expires");
                Outcome::Unrecorded
            }
        };
        crate::metrics::job_finished(&self.job.kind, outcome.as_str(), started.elapsed());
        self.shared.record(outcome);
    }

    async fn run(
        &self,
        start: Result<StartHandler, JobError>,
        mut abandon: watch::Receiver<bool>,
    ) -> Result<Outcome, StoreError> {
        let start = match start {
            Ok(start) => start,
            Err(error) => return self.settle(Err(error)).await,
        };
        if let Some((budget, until)) = penalty(&self.budgets).await {
            return self.defer(budget, until).await;
        }
        let mut work = AbortOnDrop(start(self.job.clone()));
        let interrupted = tokio::select! {
            joined = &mut work.0 => {
                return self.settle(joined.unwrap_or_else(|e| Err(join_error(e)))).await;
            }
            () = self.keep_lease() => Interrupted::LeaseLost,
            () = abandoned(&mut abandon) => Interrupted::Abandoned,
        };
        // Stop the handler, and wait until it has stopped, before the job is
        // given back (or left to the worker that took it over).
        work.0.abort();
        let _ = (&mut work.0).await;
        match interrupted {
            Interrupted::LeaseLost => Ok(Outcome::LeaseLost),
            Interrupted::Abandoned => self.release().await,
        }
    }
}

/// A handler task that panicked is a transient failure: retried with
/// backoff, dead after the last attempt, never a crash.
fn join_error(e: tokio::task::JoinError) -> JobError {
    if !e.is_panic() {
        return JobError::Retryable("the handler was cancelled".into());
    }
    let panic = e.into_panic();
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into());
    JobError::Retryable(format!("the handler panicked: {message}"))
}

/// The first of `budgets` under a pause (a 429, or an outage), and until
/// when. A failed
/// look-up counts as no penalty: the check only saves a wasted run.
async fn penalty(budgets: &[Arc<SharedBudget>]) -> Option<(&SharedBudget, i64)> {
    for budget in budgets {
        match budget.blocked_until().await {
            Ok(Some(until)) => return Some((budget, until)),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(budget = budget.name(), error = %e, "could not read a budget's penalty")
            }
        }
    }
    None
}

impl Attempt {
    /// What a fenced store update needs, owned (see [`unsendable`]).
    fn fence(&self) -> (Store, JobId, String) {
        (
            self.shared.store.clone(),
            self.job.id,
            self.job.lease_token.clone(),
        )
    }

    /// Put the job back until the pause ends, attempt not spent.
    async fn defer(&self, budget: &SharedBudget, until: i64) -> Result<Outcome, StoreError> {
        let job = &self.job;
        let reason = format!(
            "waiting for budget {} (paused: rate limited or the vendor unavailable)",
            budget.name()
        );
        tracing::debug!(job = job.id, key = %job.key, %reason, "deferring a job");
        let (store, id, token) = self.fence();
        let held = unsendable(move || async move {
            store
                .retry_later(id, &token, until, &reason, false, now_ms())
                .await
        })
        .await?;
        Ok(held_or_lost(held, Outcome::Deferred))
    }

    /// Extend the lease every heartbeat; returns only once the lease is lost
    /// (taken over, or expired while the database could not be reached).
    async fn keep_lease(&self) {
        let (job, config) = (&self.job, &self.shared.config);
        let mut locked_until = job.locked_until;
        loop {
            tokio::time::sleep(config.heartbeat).await;
            let now = now_ms();
            let extended = self
                .shared
                .store
                .heartbeat(job.id, &job.lease_token, config.lease, now)
                .await;
            match extended {
                Ok(true) => locked_until = now.saturating_add(ms(config.lease)),
                Ok(false) => {
                    tracing::warn!(job = job.id, key = %job.key,
                        "lease lost (another worker took the job over): abandoning this run");
                    return;
                }
                Err(e) if now_ms() < locked_until => {
                    tracing::warn!(job = job.id, error = %e, "could not extend a lease; trying again");
                }
                Err(e) => {
                    tracing::warn!(job = job.id, error = %e,
                        "lease expired while the database was unreachable: abandoning this run");
                    return;
                }
            }
        }
    }

    async fn release(&self) -> Result<Outcome, StoreError> {
        let job = &self.job;
        let (store, id, token) = self.fence();
        let held =
            unsendable(move || async move { store.release(id, &token, now_ms()).await }).await?;
        tracing::info!(job = job.id, key = %job.key, held, "released an unfinished job at shutdown");
        Ok(held_or_lost(held, Outcome::Released))
    }

    /// Record the handler's result.
    async fn settle(&self, result: Result<(), JobError>) -> Result<Outcome, StoreError> {
        let (job, store) = (&self.job, &self.shared.store);
        let now = now_ms();
        match result {
            Ok(()) => {
                let held = store.complete(job.id, &job.lease_token, now).await?;
                tracing::debug!(job = job.id, key = %job.key, held, "job done");
                Ok(held_or_lost(held, Outcome::Completed))
            }
            Err(JobError::RateLimited {
                retry_after,
                vendor,
            }) => self.rate_limited(retry_after, vendor).await,
            Err(JobError::Retryable(message)) => {
                let backoff = &self.shared.config.backoff;
                let delay = backoff.delay(job.attempts, &mut rand::rng());
                self.fail(message, delay, None).await
            }
            Err(JobError::Unavailable { vendor, message }) => {
                self.unavailable(vendor, message).await
            }
            Err(JobError::Fatal(message)) => self.bury(format!("fatal: {message}")).await,
        }
    }

    /// Retrying cannot help: dead now, with the error kept for the operator.
    async fn bury(&self, error: String) -> Result<Outcome, StoreError> {
        let job = &self.job;
        let (store, id, token) = self.fence();
        let recorded = error.clone();
        let held =
            unsendable(move || async move { store.bury(id, &token, &recorded, now_ms()).await })
                .await?;
        if held {
            tracing::error!(job = job.id, key = %job.key, attempt = job.attempts,
                error = %error, "job failed with an error retrying cannot fix: dead");
        }
        Ok(held_or_lost(held, Outcome::Dead))
    }

    /// The vendor is down (5xx, no answer): a circuit breaker shared by every
    /// replica. Each job failing on its own would spend all its attempts
    /// during a long outage and leave the backlog scattered over long
    /// backoffs. Instead the failure pauses the vendor's shared budgets for
    /// [`OUTAGE_PROBE_INTERVAL`]: the pre-run check defers every other job
    /// on them (attempt not spent) until the pause ends, when the next jobs
    /// to run probe the vendor again. The job that trips the breaker spends
    /// its attempt, so a record that always fails goes dead in the end; a
    /// job that failed while the breaker was already tripped (it was running
    /// when another job tripped it) only confirms the same outage and gets
    /// its attempt back, so that an outage costs about one attempt per probe
    /// interval, not one per running job. The retry is capped at
    /// [`OUTAGE_RETRY_CAP`] so that the job comes back soon after recovery,
    /// and the backlog then drains at the budgets' pace.
    async fn unavailable(&self, vendor: Vendor, message: String) -> Result<Outcome, StoreError> {
        let job = &self.job;
        let vendors_budgets: Vec<_> = self
            .budgets
            .iter()
            .filter(|b| b.vendor() == Some(vendor))
            .cloned()
            .collect();
        let tripped_already = penalty(&vendors_budgets).await.is_some();
        let paused_until = pause_for_outage(&vendors_budgets).await;
        tracing::warn!(job = job.id, key = %job.key, %vendor, ?paused_until, tripped_already,
            "the vendor is unavailable: pausing its budgets before the next probe");
        let backoff = self.shared.config.backoff.with_cap(OUTAGE_RETRY_CAP);
        let delay = backoff.delay(job.attempts, &mut rand::rng());
        if !tripped_already {
            return self.fail(message, delay, paused_until).await;
        }
        let now = now_ms();
        let run_at = now.saturating_add(ms(delay)).max(paused_until.unwrap_or(0));
        let (store, id, token) = self.fence();
        let held = unsendable(move || async move {
            store
                .retry_later(id, &token, run_at, &message, false, now)
                .await
        })
        .await?;
        Ok(held_or_lost(held, Outcome::Retried))
    }

    /// Penalize the budgets of the vendor that said 429 (every replica
    /// pauses) and run the job again once the pause is over, attempt not
    /// spent.
    async fn rate_limited(
        &self,
        retry_after: Duration,
        vendor: Option<Vendor>,
    ) -> Result<Outcome, StoreError> {
        let job = &self.job;
        let now = now_ms();
        let paused_until = penalize(&self.budgets, vendor, retry_after).await;
        let message = JobError::RateLimited {
            retry_after,
            vendor,
        }
        .to_string();
        let run_at = paused_until.unwrap_or_else(|| now.saturating_add(ms(retry_after)));
        tracing::info!(job = job.id, key = %job.key, ?retry_after, "rate limited: job rescheduled");
        let (store, id, token) = self.fence();
        let held = unsendable(move || async move {
            store
                .retry_later(id, &token, run_at, &message, false, now)
                .await
        })
        .await?;
        Ok(held_or_lost(held, Outcome::RateLimited))
    }

    /// Count the attempt as failed: dead if it was the last, else due again
    /// after `wait` (and not before `not_before`, epoch ms, if given).
    async fn fail(
        &self,
        error: String,
        wait: Duration,
        not_before: Option<i64>,
    ) -> Result<Outcome, StoreError> {
        let now = now_ms();
        let retry_at = now.saturating_add(ms(wait)).max(not_before.unwrap_or(0));
        let (store, id, token) = self.fence();
        let recorded = error.clone();
        let outcome =
            unsendable(
                move || async move { store.fail(id, &token, &recorded, retry_at, now).await },
            )
            .await?;
        Ok(failed(&self.job, &error, outcome))
    }
}

fn held_or_lost(held: bool, outcome: Outcome) -> Outcome {
    if held { outcome } else { Outcome::LeaseLost }
}

/// Resolves once `abandon` turns true; never if its sender is gone.
async fn abandoned(abandon: &mut watch::Receiver<bool>) {
    if abandon.wait_for(|abandon| *abandon).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Make sure the vendor's shared budgets are paused for `retry_after` and
/// return until when (epoch ms), if any budget is known. A client that
/// paces by a shared budget has recorded the 429 already, when it arrived:
/// that pause stands as it is, since penalizing again from now (the job
/// ends later, e.g. after the other side's read) would stretch it.
async fn penalize(
    budgets: &[Arc<SharedBudget>],
    vendor: Option<Vendor>,
    retry_after: Duration,
) -> Option<i64> {
    let vendor = vendor?;
    let mut until = None;
    for budget in budgets.iter().filter(|b| b.vendor() == Some(vendor)) {
        if let Ok(Some(already)) = budget.blocked_until().await {
            until = until.max(Some(already));
            continue;
        }
        match budget.penalize(retry_after).await {
            Ok(()) => until = until.max(budget.blocked_until().await.ok().flatten()),
            Err(e) => {
                tracing::warn!(budget = budget.name(), error = %e, "could not share a rate-limit penalty")
            }
        }
    }
    until
}

/// Pause `budgets` for [`OUTAGE_PROBE_INTERVAL`] (a longer pause already
/// there, e.g. a 429's, stands: the store keeps the later end) and return
/// until when they are paused, if any.
async fn pause_for_outage(budgets: &[Arc<SharedBudget>]) -> Option<i64> {
    let mut until = None;
    for budget in budgets {
        match budget.penalize(OUTAGE_PROBE_INTERVAL).await {
            Ok(()) => until = until.max(budget.blocked_until().await.ok().flatten()),
            Err(e) => {
                tracing::warn!(budget = budget.name(), error = %e, "could not pause a budget for an outage")
            }
        }
    }
    until
}

fn failed(job: &ClaimedJob, message: &str, outcome: FailOutcome) -> Outcome {
    match outcome {
        FailOutcome::Retrying { run_at } => {
            tracing::warn!(job = job.id, key = %job.key, attempt = job.attempts,
                retry_in_ms = run_at - now_ms(), error = message, "job failed; will retry");
            Outcome::Retried
        }
        FailOutcome::Dead => {
            tracing::error!(job = job.id, key = %job.key, attempt = job.attempts,
                error = message, "job failed on its last attempt: dead");
            Outcome::Dead
        }
        FailOutcome::LeaseLost => Outcome::LeaseLost,
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Drive a store operation whose future cannot be proven `Send` on a
/// blocking thread. `retry_later`, `fail`, `bury` and `release` run a transaction
/// written as an async closure, and rustc cannot show such a future `Send`
/// ("implementation of `Send` is not general enough", rust-lang/rust#110338),
/// while a job task must be. Built and awaited inside the blocking thread,
/// it need not be. (The admin API works around it the same way.)
async fn unsendable<T, F, Fut>(op: F) -> Result<T, StoreError>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, StoreError>>,
    T: Send + 'static,
{
    let runtime = tokio::runtime::Handle::current();
    match tokio::task::spawn_blocking(move || runtime.block_on(op())).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(StoreError::Unavailable {
            op: "record a job's outcome (the runtime is shutting down)",
            source: sqlx::Error::WorkerCrashed,
        }),
    }
}

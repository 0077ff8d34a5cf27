//! The sync engine as the job runner sees it: every resolved pair, the
//! service's own identities, and one method that runs a job.
//!
//! Errors keep their cause (`ApiError`, `StoreError`) inside `anyhow`, and
//! [`classify`] tells the runner what to do with one: wait out a rate limit
//! without spending an attempt, retry a transient fault with backoff, or
//! give up on a request that cannot succeed.

use std::{collections::HashMap, time::Duration};

use super::{
    engine::{Engine, Summary, SweepOptions},
    pair::ResolvedPair,
    payloads::DrainOutcome,
};
use crate::{
    api_error::ApiError,
    jobs::kinds::{JobSpec, Trigger},
    store::{Cause, StoreError, now_ms},
};

/// What a job did, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    Reconciled(Summary),
    Drained(DrainOutcome),
}

/// What the runner should do with a failed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Wait this long, then run again; not a failure.
    RateLimited(Duration),
    /// A transient fault: retry with backoff.
    Retryable,
    /// Retrying the same job cannot succeed.
    Fatal,
}

/// Classify an error from [`SyncService::run`].
pub fn classify(err: &anyhow::Error) -> ErrorClass {
    for cause in err.chain() {
        if let Some(api) = cause.downcast_ref::<ApiError>() {
            return match api {
                ApiError::RateLimited { retry_after, .. } => ErrorClass::RateLimited(*retry_after),
                ApiError::Retryable { .. } => ErrorClass::Retryable,
                ApiError::Fatal { .. } => ErrorClass::Fatal,
            };
        }
        if let Some(store) = cause.downcast_ref::<StoreError>() {
            return if store.is_transient() {
                ErrorClass::Retryable
            } else {
                ErrorClass::Fatal
            };
        }
    }
    // Anything unexpected (a bug, an unparsable answer) is retried a few times
    // before the job goes dead with its error kept for the operator.
    ErrorClass::Retryable
}

/// Every pair, resolved, with what jobs need.
pub struct SyncService {
    pub engine: Engine,
    pairs: HashMap<String, ResolvedPair>,
    /// The Airtable user behind the token (echo detection).
    pub airtable_user_id: String,
}

impl SyncService {
    pub fn new(engine: Engine, pairs: Vec<ResolvedPair>, airtable_user_id: String) -> Self {
        let pairs = pairs
            .into_iter()
            .map(|p| (p.name().to_owned(), p))
            .collect();
        Self {
            engine,
            pairs,
            airtable_user_id,
        }
    }

    pub fn pairs(&self) -> impl Iterator<Item = &ResolvedPair> {
        self.pairs.values()
    }

    fn pair(&self, name: &str) -> anyhow::Result<&ResolvedPair> {
        self.pairs.get(name).ok_or_else(|| {
            anyhow::anyhow!("job names pair \"{name}\", which is not in the mapping file")
        })
    }

    /// Run one job.
    pub async fn run(&self, spec: &JobSpec) -> anyhow::Result<JobOutcome> {
        match spec {
            JobSpec::ReconcilePage {
                pair,
                page_id,
                trigger,
            } => {
                let summary = self
                    .engine
                    .reconcile_page(self.pair(pair)?, page_id, cause(*trigger))
                    .await?;
                Ok(JobOutcome::Reconciled(summary))
            }
            JobSpec::ReconcileRecord {
                pair,
                record_id,
                trigger,
            } => {
                let summary = self
                    .engine
                    .reconcile_record(self.pair(pair)?, record_id, cause(*trigger))
                    .await?;
                Ok(JobOutcome::Reconciled(summary))
            }
            JobSpec::Sweep { pair, full } => {
                let opts = SweepOptions {
                    full: *full,
                    dry_run: false,
                    cause: Cause::Sweep,
                };
                Ok(JobOutcome::Reconciled(
                    self.engine.sweep(self.pair(pair)?, opts).await?,
                ))
            }
            JobSpec::AirtablePayloads { webhook_id } => self.drain(webhook_id).await,
        }
    }

    async fn drain(&self, webhook_id: &str) -> anyhow::Result<JobOutcome> {
        let hook = self
            .engine
            .store
            .get_webhook(webhook_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("webhook {webhook_id} is not registered"))?;
        let pair = self.pair(&hook.pair)?;
        let run_at = now_ms() + i64::try_from(pair.config.options.debounce_ms).unwrap_or(0);
        let outcome = self
            .engine
            .drain_airtable_webhook(pair, &hook, &self.airtable_user_id, run_at)
            .await?;
        Ok(JobOutcome::Drained(outcome))
    }
}

fn cause(trigger: Trigger) -> Cause {
    match trigger {
        Trigger::Webhook => Cause::Webhook,
        Trigger::Sweep => Cause::Sweep,
        Trigger::Manual => Cause::Manual,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_error::Vendor;

    #[test]
    fn errors_are_classified_through_context() {
        let limited = anyhow::Error::new(ApiError::RateLimited {
            vendor: Vendor::Airtable,
            status: 429,
            code: "RATE_LIMIT_REACHED".into(),
            message: String::new(),
            retry_after: Duration::from_secs(30),
        })
        .context("sweeping pair \"specs\"");
        assert_eq!(
            classify(&limited),
            ErrorClass::RateLimited(Duration::from_secs(30))
        );
        let fatal = anyhow::Error::new(ApiError::Fatal {
            vendor: Vendor::Notion,
            status: 400,
            code: "validation_error".into(),
            message: String::new(),
        });
        assert_eq!(classify(&fatal), ErrorClass::Fatal);
        assert_eq!(
            classify(&anyhow::anyhow!("surprise")),
            ErrorClass::Retryable
        );
    }
}

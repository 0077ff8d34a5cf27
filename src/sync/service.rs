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

/// A job that must wait for other work to finish: not a failure, it runs
/// again after `retry_after` without spending an attempt.
#[derive(Debug, thiserror::Error)]
#[error("{reason}: running again in {retry_after:?}")]
pub struct NotYet {
    pub reason: String,
    pub retry_after: Duration,
}

/// How often a payload fetch looks again for the end of a running sweep.
const SWEEP_WAIT: Duration = Duration::from_secs(2);

/// Classify an error from [`SyncService::run`].
pub fn classify(err: &anyhow::Error) -> ErrorClass {
    for cause in err.chain() {
        if let Some(wait) = cause.downcast_ref::<NotYet>() {
            return ErrorClass::RateLimited(wait.retry_after);
        }
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
            JobSpec::LocatePage { page_id } => self.locate_page(page_id).await,
            JobSpec::AirtablePayloads { webhook_id } => self.drain(webhook_id).await,
        }
    }

    /// Read a page to learn its database, and reconcile it under that pair;
    /// a page outside every synced database (or gone) needs nothing.
    async fn locate_page(&self, page_id: &str) -> anyhow::Result<JobOutcome> {
        let page = match self.engine.notion.retrieve_page(page_id).await {
            Ok(page) => page,
            Err(e) if e.is_not_found() => return Ok(JobOutcome::Reconciled(Summary::default())),
            Err(e) => return Err(e.into()),
        };
        let parent = &page.parent;
        let pair = self.pairs().find(|p| {
            parent.data_source_id.as_deref() == Some(p.data_source_id.as_str())
                || parent.database_id.as_deref() == Some(p.database_id.as_str())
        });
        let Some(pair) = pair else {
            tracing::debug!(
                page_id,
                "the page is not in a synced database: nothing to do"
            );
            return Ok(JobOutcome::Reconciled(Summary::default()));
        };
        let summary = self
            .engine
            .reconcile_page(pair, &page.id, Cause::Webhook)
            .await?;
        Ok(JobOutcome::Reconciled(summary))
    }

    async fn drain(&self, webhook_id: &str) -> anyhow::Result<JobOutcome> {
        let hook = self
            .engine
            .store
            .get_webhook(webhook_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("webhook {webhook_id} is not registered"))?;
        let pair = self.pair(&hook.pair)?;
        // A sweep writing this pair now makes changes whose payloads arrive
        // before it commits their snapshots; read them once it has, so that
        // they are recognised as its own (echoes) instead of each costing a
        // reconcile. Changes made by people meanwhile simply wait with them.
        let sweeps = [true, false].map(|full| {
            JobSpec::Sweep {
                pair: pair.name().to_owned(),
                full,
            }
            .key()
        });
        if self.engine.store.any_running(&sweeps, now_ms()).await? {
            return Err(NotYet {
                reason: format!("a sweep of pair \"{}\" is running", pair.name()),
                retry_after: SWEEP_WAIT,
            }
            .into());
        }
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

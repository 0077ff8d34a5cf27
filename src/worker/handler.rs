//! The sync service as the queue's job handler: [`SyncService`] runs the
//! job's spec under its lease, and its errors are classified by
//! [`super::classify`] (through `From<anyhow::Error> for JobError`).

use std::{sync::Arc, time::Duration};

use super::service::{JobOutcome, SyncService};
use crate::{
    clients::SharedBudget,
    engine::Summary,
    jobs::spec::{JobSpec, Trigger},
    metrics::Side,
    queue::handler::{JobError, JobHandler},
    store::{ClaimedJob, Lease, Series, Store, now_ms},
    telemetry::JobFields,
};

impl JobHandler for SyncService {
    type Spec = JobSpec;

    fn parse(&self, job: &ClaimedJob) -> Result<JobSpec, JobError> {
        parse(job)
    }

    fn log_fields<'a>(&self, spec: &'a JobSpec) -> JobFields<'a> {
        spec.log_fields()
    }

    async fn run(&self, job: &ClaimedJob, spec: JobSpec) -> Result<(), JobError> {
        let outcome = self.run_leased(&spec, Lease::from(job)).await?;
        record_lag(&self.engine.store, job, &spec, &outcome).await;
        tracing::debug!(job = job.id, key = %job.key, ?outcome, "job ran");
        Ok(())
    }

    /// The integration's budget and the pair's base budget; a payloads job
    /// (which names a webhook, not a pair) reads from any synced base. Only
    /// budgets kept in the database count: in-process ones need no check.
    fn budgets(&self, spec: &JobSpec) -> Vec<Arc<SharedBudget>> {
        let engine = &self.engine;
        let bases: Vec<String> = self
            .pairs()
            .into_iter()
            .filter(|p| spec.pair().is_none_or(|name| name == p.name()))
            .map(|p| p.config.airtable_base_id.clone())
            .collect();
        let notion = spec.pair().map(|_| engine.notion.budget().clone());
        let airtable = bases.iter().map(|b| engine.airtable.budget_for(b));
        notion
            .into_iter()
            .chain(airtable)
            .filter_map(|b| b.shared().cloned().map(Arc::new))
            .collect()
    }
}

/// Read a claimed job's payload as a [`JobSpec`]; a payload this build does
/// not know is fatal (no retry reads it differently).
pub fn parse(job: &ClaimedJob) -> Result<JobSpec, JobError> {
    JobSpec::from_payload(&job.payload)
        .map_err(|e| JobError::Fatal(format!("the payload is not a job this build knows: {e}")))
}

/// After a webhook's reconcile job ran: the time from the job's creation
/// (when the first event of the burst was received) to now, once per side
/// the job wrote to. Sweeps and manual runs have no event to measure from.
async fn record_lag(store: &Store, job: &ClaimedJob, spec: &JobSpec, outcome: &JobOutcome) {
    let JobOutcome::Reconciled(summary) = outcome else {
        return;
    };
    let sides = sides_written(summary);
    if !from_webhook(spec) || sides.is_empty() {
        return;
    }
    // The claim does not carry `created_at`; one read by primary key, only
    // for jobs that wrote, is cheap next to the API calls they made.
    let created_at = match store.get_job(job.id).await {
        Ok(Some(row)) => row.created_at,
        Ok(None) => return,
        Err(e) => {
            tracing::debug!(job = job.id, error = %e, "no sync lag recorded: could not read the job");
            return;
        }
    };
    let now = now_ms();
    let lag_ms = (now - created_at).max(0);
    let lag = Duration::from_millis(u64::try_from(lag_ms).unwrap_or(0));
    for side in &sides {
        crate::metrics::sync_lag(*side, lag);
    }
    // The status page's day of lags; losing a sample only thins a chart.
    let samples: Vec<(Series, i64)> = sides
        .iter()
        .map(|side| match side {
            Side::Notion => (Series::LagToNotion, lag_ms),
            Side::Airtable => (Series::LagToAirtable, lag_ms),
        })
        .collect();
    if let Err(e) = store.record_samples(now, &samples).await {
        tracing::debug!(job = job.id, error = %e, "no lag sample recorded");
    }
}

/// Whether the job exists because a webhook event arrived (exhaustive, so
/// that a new kind of job is placed on one side or the other).
fn from_webhook(spec: &JobSpec) -> bool {
    match spec {
        JobSpec::ReconcilePage { trigger, .. } | JobSpec::ReconcileRecord { trigger, .. } => {
            *trigger == Trigger::Webhook
        }
        // Enqueued only for a Notion event that names no parent.
        JobSpec::LocatePage { .. } => true,
        // A schema event is a webhook too, but it syncs no record.
        JobSpec::AirtablePayloads { .. }
        | JobSpec::Sweep { .. }
        | JobSpec::ResolveSchema { .. } => false,
    }
}

fn sides_written(summary: &Summary) -> Vec<Side> {
    let notion = summary.updated_notion + summary.created_in_notion;
    let airtable = summary.created_in_airtable + summary.updated_airtable + summary.deleted;
    [(Side::Notion, notion), (Side::Airtable, airtable)]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(side, _)| side)
        .collect()
}

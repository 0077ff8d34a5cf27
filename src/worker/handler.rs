//! The sync engine as a job handler: [`SyncService`] runs the job's spec and
//! its errors are classified by the engine's own `classify` (through
//! `From<anyhow::Error> for JobError`).

use std::sync::Arc;

use super::service::SyncService;
use crate::{
    clients::SharedBudget,
    jobs::spec::JobSpec,
    queue::{
        fence::{LEASE, Lease},
        handler::{JobError, JobHandler},
    },
    store::ClaimedJob,
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
        let lease = Lease {
            job_id: job.id,
            token: job.lease_token.clone(),
        };
        let outcome = LEASE.scope(lease, SyncService::run(self, &spec)).await?;
        crate::metrics::job_synced(&self.engine.store, job, &spec, &outcome).await;
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

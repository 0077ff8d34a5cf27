//! The sync engine as a job handler: [`SyncService`] runs the job's spec and
//! its errors are classified by the engine's own `classify` (through
//! `From<anyhow::Error> for JobError`).

use super::{
    handler::{JobError, JobHandler},
    kinds::JobSpec,
};
use crate::{store::ClaimedJob, sync::service::SyncService};

impl JobHandler for SyncService {
    async fn run(&self, job: &ClaimedJob, spec: JobSpec) -> Result<(), JobError> {
        let outcome = SyncService::run(self, &spec).await?;
        tracing::debug!(job = job.id, key = %job.key, ?outcome, "job ran");
        Ok(())
    }
}

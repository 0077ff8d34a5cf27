//! Shared by the runner tests: a migrated database per test, closure
//! handlers, and waiting on conditions with a deadline.

use std::{future::Future, sync::Arc, time::Duration};

use notion_airtable_sync::{
    clients::SharedBudget,
    jobs::spec::{JobSpec, Trigger},
    queue::{Backoff, JobError, JobHandler, Runner, RunnerConfig, RunnerStats},
    store::{ClaimedJob, Job, JobId, Store, now_ms},
};
use tokio::{sync::oneshot, task::JoinHandle};

pub use crate::common::TestDb;

impl TestDb {
    /// A second, independent pool on the same database (another replica).
    pub async fn second_store(&self) -> Store {
        Store::connect(&self.url).await.expect("connect again")
    }
}

/// Quick retries and polls; a lease long enough not to expire by accident.
pub fn config() -> RunnerConfig {
    RunnerConfig {
        concurrency: 4,
        lease: Duration::from_secs(10),
        heartbeat: Duration::from_secs(3),
        poll_interval: Duration::from_millis(50),
        shutdown_grace: Duration::from_secs(5),
        backoff: Backoff {
            base: Duration::from_millis(40),
            cap: Duration::from_millis(400),
        },
        listen_url: None,
    }
}

/// A handler made of a closure (and the budgets it declares).
pub struct FnHandler<F> {
    f: F,
    budgets: Vec<Arc<SharedBudget>>,
}

pub fn handler<F, Fut>(f: F) -> Arc<FnHandler<F>>
where
    F: Fn(ClaimedJob, JobSpec) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobError>> + Send + 'static,
{
    handler_with_budgets(Vec::new(), f)
}

pub fn handler_with_budgets<F, Fut>(budgets: Vec<Arc<SharedBudget>>, f: F) -> Arc<FnHandler<F>>
where
    F: Fn(ClaimedJob, JobSpec) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobError>> + Send + 'static,
{
    Arc::new(FnHandler { f, budgets })
}

impl<F, Fut> JobHandler for FnHandler<F>
where
    F: Fn(ClaimedJob, JobSpec) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), JobError>> + Send + 'static,
{
    type Spec = JobSpec;

    fn parse(&self, job: &ClaimedJob) -> Result<JobSpec, JobError> {
        notion_airtable_sync::worker::handler::parse(job)
    }

    fn run(
        &self,
        job: &ClaimedJob,
        spec: JobSpec,
    ) -> impl Future<Output = Result<(), JobError>> + Send {
        (self.f)(job.clone(), spec)
    }

    fn budgets(&self, _spec: &JobSpec) -> Vec<Arc<SharedBudget>> {
        self.budgets.clone()
    }
}

/// The page id a test job reconciles.
pub fn page_of(spec: &JobSpec) -> String {
    match spec {
        JobSpec::ReconcilePage { page_id, .. } => page_id.clone(),
        other => panic!("tests enqueue page reconciles only, got {other:?}"),
    }
}

pub async fn enqueue_page(store: &Store, page: &str, max_attempts: i32) -> JobId {
    let now = now_ms();
    let spec = JobSpec::ReconcilePage {
        pair: "specs".into(),
        page_id: page.into(),
        trigger: Trigger::Webhook,
    };
    let job = spec.to_new_job(now).with_max_attempts(max_attempts);
    store.enqueue(&job, now).await.expect("enqueue").id()
}

pub async fn job(store: &Store, id: JobId) -> Job {
    store
        .get_job(id)
        .await
        .expect("read job")
        .expect("job exists")
}

/// How often the runner tests look again: their checks are in-process
/// and cheap, and some wait on sub-second timing.
pub const TICK: Duration = Duration::from_millis(10);

pub use crate::common::wait::until;

/// Wait until a pending job is due (its backoff or rate-limit wait passed).
pub async fn until_due(store: &Store, id: JobId) {
    let run_at = job(store, id).await.run_at;
    until(
        Duration::from_secs(10),
        TICK,
        "the job to be due",
        || async { now_ms() >= run_at },
    )
    .await;
}

/// A runner running in the background until stopped.
pub struct Background {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<RunnerStats>,
}

pub fn start<H: JobHandler>(runner: &Arc<Runner<H>>) -> Background {
    let (stop, stopped) = oneshot::channel::<()>();
    let runner = Arc::clone(runner);
    let task = tokio::spawn(async move {
        runner
            .run(async move {
                let _ = stopped.await;
            })
            .await
    });
    Background {
        stop: Some(stop),
        task,
    }
}

impl Background {
    /// Ask for a graceful shutdown and wait for `run` to return.
    pub async fn stop(mut self) -> RunnerStats {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.expect("the runner does not panic")
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Sets its flag when dropped: shows that an abandoned handler was stopped.
pub struct DropFlag(pub Arc<std::sync::atomic::AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

//! `serve`: the HTTP ingest (role `api`), the job runner and its schedules
//! (role `worker`), or both in one process (`all`, the default).
//!
//! At start: migrate, resolve every pair against the live schemas, learn the
//! service's own identities (Notion bot, Airtable user) for echo detection,
//! and register the Airtable webhooks when `PUBLIC_URL` is set. Then:
//! - api: verify, record and enqueue; wake the workers after each commit;
//! - worker: run jobs; every 15 minutes queue an incremental sweep per pair,
//!   daily a full one (and one at start unless `SWEEP_AT_START=false`),
//!   refresh the Airtable webhooks daily (they expire after 7 days; a daily
//!   refresh keeps them far from it), and prune the sync log, done jobs and
//!   the webhook inbox by their retentions every `PRUNE_INTERVAL_SECS`.
//!   A base with a monthly API budget (`[airtable.budgets]`) has its sweeps
//!   stretched as the budget runs low (`app::quota`);
//! - alerts (role worker, when `ALERT_WEBHOOK_URL` is set): their own task
//!   (`alerts::Alerts::run`);
//! - every role: the API calls counted are written every few seconds.
//!
//! SIGTERM or Ctrl-C stops claiming, lets running jobs finish within the
//! grace period (or releases them), and stops the server.

use std::{future::Future, sync::Arc, time::Duration};

use axum::{extract::Request, middleware::Next, response::Response};
use tokio::sync::watch;

use crate::{
    alerts::{AlertConfig, Alerts},
    app::commands::{open_store, resolve_pairs, shared_clients},
    app::quota::{FLUSH_CALLS_EVERY, SweepCadence, flush_calls},
    config::{Env, PairConfig, SyncConfig, shared_data_source_problems},
    engine::Engine,
    http::{self, AppState, IngestConfig, PairDirectory},
    jobs::spec::JobSpec,
    notion::RetryPolicy,
    queue::{JobsNotifier, Runner, RunnerConfig, wakeup::is_postgres_url},
    store::{PruneBefore, Series, Store, now_ms},
    sync::pair::ResolvedPair,
    worker::service::SyncService,
};

/// Which parts run in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    All,
    Api,
    Worker,
}

impl Role {
    fn api(self) -> bool {
        matches!(self, Role::All | Role::Api)
    }

    fn worker(self) -> bool {
        matches!(self, Role::All | Role::Worker)
    }
}

/// How often the worker queues an incremental sweep of every pair.
pub const INCREMENTAL_SWEEP_EVERY: Duration = Duration::from_secs(15 * 60);
/// How often the queue's depth is sampled for the status page's chart.
const QUEUE_SAMPLE_EVERY: Duration = Duration::from_secs(60);
/// How often the worker queues a full sweep (deletions, missed events).
pub const FULL_SWEEP_EVERY: Duration = Duration::from_secs(24 * 3600);
/// How often Airtable webhooks are refreshed (they expire after 7 days).
pub const WEBHOOK_REFRESH_EVERY: Duration = Duration::from_secs(24 * 3600);

/// The longest a job's API call waits for a 429 penalty (see
/// `Budget::acquire_within`); longer, and the job is put back.
pub const JOB_PENALTY_WAIT: Duration = Duration::from_secs(1);

/// How the API clients retry inside a job: never after a 429 (the runner
/// reschedules the job without spending an attempt instead of sleeping
/// while holding a lease), transient faults as usual.
fn job_retry_policy() -> RetryPolicy {
    RetryPolicy {
        rate_limited: 0,
        ..RetryPolicy::default()
    }
}

/// Run until `shutdown` resolves.
pub async fn serve(
    env: &Env,
    role: Role,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let config = env.load_sync_config()?;
    let store = open_store(env).await?;
    // Every process paces its calls by the budgets kept in the database,
    // so replicas together stay under the vendors' limits. Jobs hand every
    // 429 to the runner, which reschedules them without spending an attempt
    // instead of sleeping while holding a lease.
    // A write must go out soon after the read it was planned from, so jobs
    // do not sit out a penalty mid-run either: they are put back and read
    // again once it is over.
    let (notion, airtable) = shared_clients(env, &store)?;
    // Undo (from the API or the status page) runs outside the job runner:
    // its clients keep the usual retries.
    let undo_clients = (notion.clone(), airtable.clone());
    let notion = notion
        .with_retry_policy(job_retry_policy())
        .with_penalty_wait_limit(JOB_PENALTY_WAIT);
    let airtable = airtable
        .with_retry_policy(job_retry_policy())
        .with_penalty_wait_limit(JOB_PENALTY_WAIT);
    let pairs = resolve_pairs(&config, None, &notion, &airtable).await?;
    refuse_conflicting_shared_data_sources(&pairs)?;
    let bot_user_id = notion.me().await?.id;
    let airtable_user_id = airtable.whoami().await?.id;
    let engine = Engine::new(notion, airtable, store.clone());
    if let (Some(url), true) = (&env.public_url, role.worker()) {
        ensure_webhooks(&engine, &pairs, url).await;
    }
    let database_url = env.database_url.expose();
    let service = Arc::new(SyncService::new(engine, pairs.clone(), airtable_user_id));
    let undo = Arc::new(crate::app::undo::ServiceUndo {
        engine: Engine::new(undo_clients.0, undo_clients.1, store.clone()),
        service: service.clone(),
    });
    let runner_config = RunnerConfig {
        listen_url: is_postgres_url(database_url).then(|| database_url.to_owned()),
        ..RunnerConfig::default()
    }
    .with_lease(env.job_lease);
    let runner = Runner::new(store.clone(), service.clone(), runner_config);
    let notifier = notifier_for(&runner, role, database_url)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let alerts = alerts_task(env, role, &store, &config, &pairs)?;
    let alerts = async {
        if let Some(alerts) = alerts {
            alerts.run(stopped(stop_rx.clone())).await;
        }
    };
    let counts = flush_calls(&store, FLUSH_CALLS_EVERY, stopped(stop_rx.clone()));
    let api = async {
        if role.api() {
            run_api(
                env,
                &store,
                (&pairs, &config.api_budgets),
                undo,
                bot_user_id,
                notifier,
                stopped(stop_rx.clone()),
            )
            .await
        } else {
            Ok(())
        }
    };
    let worker = async {
        if role.worker() {
            let schedules = Schedules {
                sweep_at_start: env.sweep_at_start,
                prune_every: env.prune_interval,
                retention: Retention::of(&config),
                budgets: config.api_budgets.clone(),
            };
            let schedules = schedules.run(&service, &store, stopped(stop_rx.clone()));
            let (stats, ()) = tokio::join!(runner.run(stopped(stop_rx.clone())), schedules);
            tracing::info!(?stats, "worker stopped");
        }
        Ok::<(), anyhow::Error>(())
    };
    let signal = async {
        shutdown.await;
        tracing::info!("shutting down: no new jobs, finishing running ones");
        let _ = stop_tx.send(true);
    };
    let (api, worker, (), (), ()) = tokio::join!(api, worker, signal, alerts, counts);
    // The calls of jobs that finished during the grace period.
    crate::app::quota::flush(&store).await;
    api.and(worker)
}

/// The alerts of a worker process, when `ALERT_WEBHOOK_URL` is set.
fn alerts_task(
    env: &Env,
    role: Role,
    store: &Store,
    config: &SyncConfig,
    pairs: &[ResolvedPair],
) -> anyhow::Result<Option<Alerts>> {
    if !role.worker() {
        return Ok(None);
    }
    let budgets = config.api_budgets.clone();
    Alerts::from_env(
        env,
        store,
        AlertConfig::default(),
        budgets,
        pair_bases(pairs),
    )
}

/// (pair, Airtable base) of each pair.
fn pair_bases(pairs: &[ResolvedPair]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|p| (p.name().to_owned(), p.config.airtable_base_id.clone()))
        .collect()
}

/// Resolves once the stop flag is set.
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Wake-ups for the workers after each ingest commit: in process when the
/// worker runs here, and through Postgres NOTIFY for other processes.
fn notifier_for<H: crate::queue::JobHandler>(
    runner: &Runner<H>,
    role: Role,
    database_url: &str,
) -> anyhow::Result<JobsNotifier> {
    let notifier = if role.worker() {
        runner.notifier()
    } else {
        JobsNotifier::none()
    };
    if is_postgres_url(database_url) {
        Ok(notifier.with_postgres(database_url)?)
    } else {
        Ok(notifier)
    }
}

async fn run_api(
    env: &Env,
    store: &Store,
    (pairs, api_budgets): (&[ResolvedPair], &crate::config::ApiBudgets),
    undo: Arc<crate::app::undo::ServiceUndo>,
    bot_user_id: String,
    notifier: JobsNotifier,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state = AppState {
        store: store.clone(),
        notion_webhook_secret: env.notion_webhook_secret.clone(),
        admin_token: env.admin_token.clone(),
        bot_user_id: Some(bot_user_id),
        pairs: PairDirectory::from_resolved(pairs),
        config: IngestConfig::for_pairs(pairs),
        verification_limiter: Default::default(),
        api_budgets: api_budgets.clone(),
        undo: Some(undo),
        ingest: http::webhooks::group_commit::GroupCommit::new(store.clone()),
    };
    if state.notion_webhook_secret.is_none() {
        tracing::warn!("NOTION_WEBHOOK_SECRET is not set: Notion events are refused until it is");
    }
    let router = http::router(state).layer(axum::middleware::from_fn(
        move |req: Request, next: Next| {
            let notifier = notifier.clone();
            async move { wake_after_enqueue(notifier, req, next).await }
        },
    ));
    let listener = tokio::net::TcpListener::bind(env.listen_addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", env.listen_addr))?;
    tracing::info!(addr = %listener.local_addr()?, "listening");
    http::serve(listener, router, shutdown).await?;
    Ok(())
}

/// A successful POST (a webhook or `/reconcile`) may have queued work.
async fn wake_after_enqueue(notifier: JobsNotifier, req: Request, next: Next) -> Response {
    let is_post = req.method() == axum::http::Method::POST;
    let response = next.run(req).await;
    if is_post && response.status().is_success() {
        notifier.notify();
    }
    response
}

async fn ensure_webhooks(engine: &Engine, pairs: &[ResolvedPair], public_url: &str) {
    for pair in pairs {
        match engine.ensure_webhook(pair, public_url).await {
            Ok(ensured) => tracing::info!(pair = pair.name(), ?ensured, "Airtable webhook ready"),
            Err(e) => {
                tracing::error!(pair = pair.name(), error = %format!("{e:#}"), "could not register the Airtable webhook; changes made in Airtable arrive only with sweeps")
            }
        }
    }
}

/// Pairs that resolved to one Notion data source (possibly named by its
/// database id in one pair and by its own id in another) must be able to
/// share its pages; the mapping file's own check sees only equal ids.
fn refuse_conflicting_shared_data_sources(pairs: &[ResolvedPair]) -> anyhow::Result<()> {
    let by_source: Vec<(&str, &PairConfig)> = pairs
        .iter()
        .map(|p| (p.data_source_id.as_str(), &p.config))
        .collect();
    let problems = shared_source_problems(&by_source);
    if problems.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("the mapping cannot work: {}", problems.join("; "))
    }
}

/// [`shared_data_source_problems`] of each group of pairs with one data
/// source id.
fn shared_source_problems(pairs: &[(&str, &PairConfig)]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (source, _) in pairs {
        if seen.contains(source) {
            continue;
        }
        seen.push(source);
        let group: Vec<&PairConfig> = pairs
            .iter()
            .filter(|(s, _)| s == source)
            .map(|(_, config)| *config)
            .collect();
        problems.extend(shared_data_source_problems(&group));
    }
    problems
}

/// How long each pruned table keeps its rows.
#[derive(Debug, Clone, Copy)]
struct Retention {
    log_days: u32,
    job_days: u32,
    inbox_days: u32,
}

impl Retention {
    fn of(config: &SyncConfig) -> Self {
        Retention {
            log_days: config.log_retention_days,
            job_days: config.retention.job_days,
            inbox_days: config.retention.inbox_days,
        }
    }

    fn cutoffs(self, now: i64) -> PruneBefore {
        let days_ago = |days: u32| now.saturating_sub(i64::from(days) * 86_400_000);
        PruneBefore {
            log: days_ago(self.log_days),
            jobs: days_ago(self.job_days),
            inbox: days_ago(self.inbox_days),
            samples: now.saturating_sub(crate::store::SAMPLE_RETENTION_MS),
        }
    }
}

/// What the worker does on a clock.
struct Schedules {
    sweep_at_start: bool,
    prune_every: Duration,
    retention: Retention,
    /// Monthly API budgets: the sweeps of a base running low stretch.
    budgets: crate::config::ApiBudgets,
}

/// How often the worker looks for due sweeps (their intervals are 15
/// minutes and a day, stretched by a budget running low).
const SWEEP_CHECK_EVERY: Duration = Duration::from_secs(60);

impl Schedules {
    /// Queue sweeps, refresh webhooks and prune on their schedules until
    /// stopped.
    async fn run(self, service: &SyncService, store: &Store, shutdown: impl Future<Output = ()>) {
        let pairs: Vec<(String, String)> = service
            .pairs()
            .iter()
            .map(|p| (p.name().to_owned(), p.config.airtable_base_id.clone()))
            .collect();
        let every = (INCREMENTAL_SWEEP_EVERY, FULL_SWEEP_EVERY);
        let mut cadence =
            SweepCadence::new(self.budgets, every, &pairs, now_ms(), self.sweep_at_start);
        let mut sweeps = tokio::time::interval(SWEEP_CHECK_EVERY);
        sweeps.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut refresh = tokio::time::interval(WEBHOOK_REFRESH_EVERY);
        let mut prune = tokio::time::interval(self.prune_every);
        prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sample = tokio::time::interval(QUEUE_SAMPLE_EVERY);
        sample.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first check runs at once: a full sweep at start heals anything
        // missed while the service was down (an incremental one beside it
        // would only repeat part of its work). Without it, what was
        // acknowledged before a restart is healed from the job table alone,
        // and the first sweeps come with their schedules.
        if !self.sweep_at_start {
            tracing::info!("SWEEP_AT_START=false: no sweep at start");
        }
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                _ = sweeps.tick() => {
                    for (pair, full) in cadence.due(store, &pairs, now_ms()).await {
                        queue_sweep(store, pair, full).await;
                    }
                }
                _ = refresh.tick() => refresh_webhooks(service).await,
                _ = prune.tick() => prune_tables(store, self.retention).await,
                _ = sample.tick() => sample_queue(store).await,
            }
        }
    }
}

async fn queue_sweep(store: &Store, pair: String, full: bool) {
    let job = JobSpec::Sweep { pair, full }.to_new_job(now_ms());
    if let Err(e) = store.enqueue(&job, now_ms()).await {
        tracing::error!(pair = job.pair.as_deref(), error = %e, "could not queue a sweep");
    }
}

/// The status page's queue-depth chart: how many pending jobs are due now.
/// A failure only leaves a gap in the chart.
async fn sample_queue(store: &Store) {
    let now = now_ms();
    let due = match store.due_jobs(now).await {
        Ok(due) => due,
        Err(e) => {
            tracing::debug!(error = %e, "no queue sample taken");
            return;
        }
    };
    if let Err(e) = store.record_samples(now, &[(Series::QueueDue, due)]).await {
        tracing::debug!(error = %e, "no queue sample recorded");
    }
}

/// One pruning pass; a failure is logged and the next pass tries again.
async fn prune_tables(store: &Store, retention: Retention) {
    match store.prune(retention.cutoffs(now_ms())).await {
        Ok(pruned) if pruned.total() > 0 => tracing::info!(
            sync_log = pruned.log,
            jobs = pruned.jobs,
            webhook_inbox = pruned.inbox,
            "pruned rows past their retention"
        ),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "could not prune; trying again at the next interval"),
    }
}

async fn refresh_webhooks(service: &SyncService) {
    for pair in service.pairs() {
        match service.engine.refresh_webhooks(&pair).await {
            Ok(ids) if !ids.is_empty() => {
                tracing::info!(pair = pair.name(), webhooks = ?ids, "Airtable webhooks refreshed")
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(pair = pair.name(), error = %format!("{e:#}"), "could not refresh the Airtable webhooks")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two pairs naming one data source differently (its database id and
    /// its own id) pass the mapping file's check; once resolved, both
    /// writing `Name` is refused, naming both.
    #[test]
    fn pairs_resolved_to_one_data_source_may_not_write_one_property() {
        let pair = |name: &str, database: &str, direction: &str| {
            format!(
                "[[pair]]\nname = \"{name}\"\n[pair.notion]\ndatabase_id = \"{database}\"\n\
                 [pair.airtable]\nbase_id = \"appX\"\ntable = \"{name}\"\npage_id_field = \"Page\"\n\
                 [[pair.field]]\nnotion = \"Name\"\nairtable = \"Name\"\ndirection = \"{direction}\"\n"
            )
        };
        let text = [
            pair("specs", "db-1", "both"),
            pair("roadmap", "ds-1", "both"),
        ]
        .concat();
        let config = SyncConfig::parse(&text).expect("different ids in the file");
        let resolved = [("ds-1", &config.pairs[0]), ("ds-1", &config.pairs[1])];
        let problems = shared_source_problems(&resolved);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("\"specs\" and \"roadmap\""),
            "{problems:?}"
        );
        // Resolved to different data sources, or only one writer: fine.
        let apart = [("ds-1", &config.pairs[0]), ("ds-2", &config.pairs[1])];
        assert!(shared_source_problems(&apart).is_empty());
        let text = [
            pair("specs", "db-1", "both"),
            pair("roadmap", "ds-1", "notion_to_airtable"),
        ]
        .concat();
        let config = SyncConfig::parse(&text).unwrap();
        let resolved = [("ds-1", &config.pairs[0]), ("ds-1", &config.pairs[1])];
        assert!(shared_source_problems(&resolved).is_empty());
    }
}

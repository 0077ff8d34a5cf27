//! The sync engine as the job runner sees it: every resolved pair, the
//! service's own identities, and one method that runs a job.
//!
//! Errors keep their cause (`ApiError`, `StoreError`, `NotYet`) inside
//! `anyhow`, and [`super::classify`] tells the queue what to do with one:
//! wait without spending an attempt, retry a transient fault with backoff,
//! or give up on a request that cannot succeed.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use tokio::time::Instant;

use crate::{
    clients::api_error::ApiError,
    engine::{
        Engine, NotYet, Summary, SweepOptions, list_people, payloads::DrainOutcome, read_schemas,
        wire::UNKNOWN_FIELD, with_fresh_writes,
    },
    jobs::spec::{JobSpec, Trigger},
    store::{Cause, IssueScope, Lease, NewIssue, now_ms},
    sync::pair::{Drift, NO_USER_CAPABILITY, ResolvedPair},
};

/// What a job did, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one value per job run, moved once: boxing the summary would save nothing"
)]
pub enum JobOutcome {
    Reconciled(Summary),
    Drained(DrainOutcome),
    /// The pair's schemas were read again; the mapped fields now stopped.
    Resolved {
        stopped: Vec<String>,
    },
}

/// Pending page reconciles of one pair (due or waiting for their debounce)
/// beyond which one incremental sweep serves them all
/// (`SyncService::batched`): the sweep costs about two calls per side per
/// hundred records, the jobs two reads each.
pub const BATCH_BACKLOG: i64 = 50;
/// How long after a batched sweep failed (a transient fault on one of its
/// many calls) the pair's page jobs run on their own: a sweep makes dozens
/// of calls, so while a vendor answers some of them with 5xx it would fail
/// nearly every time, and each page job on its own still converges.
const BATCH_PAUSE_AFTER_FAILURE: Duration = Duration::from_secs(30);
/// How long after a batched sweep starts writing a write may still get its
/// rate-budget slot: enough for one batch's hundred rows to Airtable (ten
/// requests at five a second) beside the pair's other calls, half a record
/// job's limit (`engine::RECORD_FRESH_FOR`). The rest of the batch is left
/// to the pages' own jobs, or to the next batch, which reads it again
/// (`engine::with_fresh_writes`).
const BATCH_FRESH_FOR: Duration = Duration::from_secs(5);
/// The job kind of [`JobSpec::ReconcilePage`] (`JobSpec::kind`).
const RECONCILE_PAGE_KIND: &str = "reconcile_page";

/// The least time between two reads of the Notion user list.
const USERS_REFRESH_EVERY: Duration = Duration::from_secs(60);
/// How soon a job that met a schema change runs again (with the pair
/// resolved anew).
const AFTER_SCHEMA_CHANGE: Duration = Duration::from_secs(1);
/// The subject of the pair issue raised when the Notion token cannot list users.
pub const USERS_ISSUE: &str = "notion_users";
/// The subject of the pair issue raised when a field the service itself
/// writes (page id, record id, ...) is gone.
pub const SCHEMA_ISSUE: &str = "schema";

/// One pair as jobs see it: replaced whole when its schemas are resolved
/// again, so a job runs with one consistent version from start to end.
struct PairSlot {
    current: RwLock<Arc<ResolvedPair>>,
    /// One re-resolution at a time, and when the users were last listed.
    refresh: tokio::sync::Mutex<Option<Instant>>,
    /// The start-up report (stale issues cleared, capability) is done.
    reported: std::sync::atomic::AtomicBool,
    /// One batched sweep of the pair at a time in this process, and when
    /// the last one failed.
    batch: tokio::sync::Mutex<Option<Instant>>,
}

impl PairSlot {
    fn new(pair: ResolvedPair) -> Self {
        Self {
            current: RwLock::new(Arc::new(pair)),
            refresh: tokio::sync::Mutex::new(None),
            reported: std::sync::atomic::AtomicBool::new(false),
            batch: tokio::sync::Mutex::new(None),
        }
    }

    fn get(&self) -> Arc<ResolvedPair> {
        // A writer only swaps an Arc: a panic cannot leave it half-done.
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    fn set(&self, pair: ResolvedPair) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(pair);
    }
}

/// How often a payload fetch looks again for the end of a running sweep.
const SWEEP_WAIT: Duration = Duration::from_secs(2);

/// Every pair, resolved, with what jobs need.
pub struct SyncService {
    pub engine: Engine,
    pairs: HashMap<String, PairSlot>,
    /// The Airtable user behind the token (echo detection).
    pub airtable_user_id: String,
}

impl SyncService {
    pub fn new(engine: Engine, pairs: Vec<ResolvedPair>, airtable_user_id: String) -> Self {
        let pairs = pairs
            .into_iter()
            .map(|p| (p.name().to_owned(), PairSlot::new(p)))
            .collect();
        Self {
            engine,
            pairs,
            airtable_user_id,
        }
    }

    /// Every pair as resolved now.
    pub fn pairs(&self) -> Vec<Arc<ResolvedPair>> {
        self.pairs.values().map(PairSlot::get).collect()
    }

    fn slot(&self, name: &str) -> anyhow::Result<&PairSlot> {
        self.pairs.get(name).ok_or_else(|| {
            anyhow::anyhow!("job names pair \"{name}\", which is not in the mapping file")
        })
    }

    /// The pair as resolved now.
    pub fn pair(&self, name: &str) -> anyhow::Result<Arc<ResolvedPair>> {
        self.slot(name).map(PairSlot::get)
    }

    /// Run one job. A read that names a field Airtable no longer has (it
    /// was deleted since the pair was resolved) resolves the pair again and
    /// runs the job soon with the field stopped; a people name that matched
    /// no user lists the users again (at most once a minute) and, if that
    /// found someone new, runs the job once more.
    pub async fn run(&self, spec: &JobSpec) -> anyhow::Result<JobOutcome> {
        self.run_as(spec, None).await
    }

    /// [`SyncService::run`] for a claimed job: every commit is fenced by its
    /// lease.
    pub async fn run_leased(&self, spec: &JobSpec, lease: Lease) -> anyhow::Result<JobOutcome> {
        self.run_as(spec, Some(lease)).await
    }

    async fn run_as(&self, spec: &JobSpec, lease: Option<Lease>) -> anyhow::Result<JobOutcome> {
        let engine = self.engine.leased(lease);
        let pair = self.job_pair(spec).await?;
        if let Some(name) = &pair {
            self.report_start(name).await;
        }
        let outcome = match self.run_once(&engine, spec).await {
            Err(e) if names_unknown_field(&e) => {
                let Some(name) = &pair else { return Err(e) };
                tracing::warn!(pair = %name, error = %format!("{e:#}"), "Airtable no longer has a mapped field: resolving the pair again");
                self.resolve_again(name).await?;
                return Err(NotYet {
                    reason: format!("pair \"{name}\" was resolved again after a schema change"),
                    retry_after: AFTER_SCHEMA_CHANGE,
                }
                .into());
            }
            other => other?,
        };
        match &pair {
            Some(name) if self.refresh_users_if_unmatched(name).await? => {
                self.run_once(&engine, spec).await
            }
            _ => Ok(outcome),
        }
    }

    /// The pair a job works on (a payload drain's through its webhook).
    async fn job_pair(&self, spec: &JobSpec) -> anyhow::Result<Option<String>> {
        if let JobSpec::AirtablePayloads { webhook_id } = spec {
            let hook = self.engine.store.get_webhook(webhook_id).await?;
            return Ok(hook.map(|h| h.pair));
        }
        Ok(spec.pair().map(str::to_owned))
    }

    async fn run_once(&self, engine: &Engine, spec: &JobSpec) -> anyhow::Result<JobOutcome> {
        match spec {
            JobSpec::ReconcilePage {
                pair,
                page_id,
                trigger,
            } => {
                let resolved = self.pair(pair)?;
                if *trigger == Trigger::Webhook
                    && let Some(summary) = self.batched(engine, &resolved, page_id).await?
                {
                    return Ok(JobOutcome::Reconciled(summary));
                }
                let summary = engine
                    .reconcile_page(resolved.as_ref(), page_id, cause(*trigger))
                    .await?;
                Ok(JobOutcome::Reconciled(summary))
            }
            JobSpec::ReconcileRecord {
                pair,
                record_id,
                trigger,
            } => {
                let summary = engine
                    .reconcile_record(self.pair(pair)?.as_ref(), record_id, cause(*trigger))
                    .await?;
                Ok(JobOutcome::Reconciled(summary))
            }
            JobSpec::Sweep { pair, full } => {
                // Every full sweep starts from freshly resolved schemas.
                if *full {
                    self.resolve_again(pair).await?;
                }
                let opts = SweepOptions {
                    full: *full,
                    dry_run: false,
                    cause: Cause::Sweep,
                };
                Ok(JobOutcome::Reconciled(
                    engine.sweep(self.pair(pair)?.as_ref(), opts).await?,
                ))
            }
            JobSpec::LocatePage { page_id } => self.locate_page(engine, page_id).await,
            JobSpec::AirtablePayloads { webhook_id } => self.drain(engine, webhook_id).await,
            JobSpec::ResolveSchema { pair } => {
                let pair = self.resolve_again(pair).await?;
                Ok(JobOutcome::Resolved {
                    stopped: pair.wire.stopped.keys().cloned().collect(),
                })
            }
        }
    }

    /// A bulk edit in Notion (many pages changed at once) queues a reconcile
    /// job per page, each reading its page and row one by one. Past
    /// [`BATCH_BACKLOG`] pending jobs for the pair, the job runs one incremental
    /// sweep instead, which reads what changed a hundred pages and rows a
    /// call and writes Airtable ten rows a call, then completes the pending
    /// jobs it covered: those of pages it read, not asked for again since it
    /// started, and not left to another job holding the record. Pages the
    /// sweep cannot see (trashed ones: a query leaves them out) keep their
    /// jobs (a job waiting for its debounce is covered too: its edit came
    /// before the sweep read). None: no backlog, the job runs on its own.
    async fn batched(
        &self,
        engine: &Engine,
        pair: &ResolvedPair,
        page_id: &str,
    ) -> anyhow::Result<Option<Summary>> {
        let store = &self.engine.store;
        let backlog = async || store.page_backlog(pair.name(), RECONCILE_PAGE_KIND).await;
        if backlog().await? < BATCH_BACKLOG {
            return Ok(None);
        }
        // While another batch of the pair runs, wait for it rather than
        // read one record at a time beside it; then look again.
        let slot = self.slot(pair.name())?;
        let mut last_failure = slot.batch.lock().await;
        if last_failure.is_some_and(|at| at.elapsed() < BATCH_PAUSE_AFTER_FAILURE) {
            return Ok(None);
        }
        let backlog = backlog().await?;
        if backlog < BATCH_BACKLOG {
            return Ok(None);
        }
        let started = now_ms();
        tracing::info!(
            pair = pair.name(),
            backlog,
            "a backlog of page reconciles: one incremental sweep instead"
        );
        let opts = SweepOptions {
            full: false,
            dry_run: false,
            cause: Cause::Webhook,
        };
        let swept = with_fresh_writes(BATCH_FRESH_FOR, engine.sweep(pair, opts)).await;
        let mut summary = match swept {
            Ok(summary) => summary,
            // The batch is only a cheaper way to serve the backlog: a
            // transient fault on one of its calls must not spend this page's
            // attempt (a job whose every attempt met one would go dead),
            // so the page runs on its own and the backlog waits a while.
            Err(e) if is_transient(&e) => {
                tracing::warn!(pair = pair.name(), error = %format!("{e:#}"),
                    "the batched sweep failed: page jobs run on their own for a while");
                *last_failure = Some(Instant::now());
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        *last_failure = None;
        let left: std::collections::HashSet<&String> = summary.pages_left.iter().collect();
        let covered: Vec<String> = summary
            .pages_read
            .iter()
            .filter(|p| !left.contains(p))
            .map(|p| {
                JobSpec::ReconcilePage {
                    pair: pair.name().to_owned(),
                    page_id: p.clone(),
                    trigger: Trigger::Webhook,
                }
                .key()
            })
            .collect();
        let completed = store
            .complete_covered(pair.name(), &covered, started, now_ms())
            .await?;
        tracing::info!(
            pair = pair.name(),
            completed,
            "page reconciles covered by the sweep"
        );
        let own = page_id.to_owned();
        let own_covered = summary.pages_read.contains(&own) && !left.contains(&own);
        if !own_covered {
            summary.absorb(engine.reconcile_page(pair, page_id, Cause::Webhook).await?);
        }
        Ok(Some(summary))
    }

    /// Read the pair's schemas again and install the result: renames are
    /// followed, fields removed or retyped are stopped (and raised as
    /// issues), fields fixed resume. A field the service itself writes
    /// being gone is a pair issue; the pair is then kept as it was.
    pub async fn resolve_again(&self, name: &str) -> anyhow::Result<Arc<ResolvedPair>> {
        let slot = self.slot(name)?;
        let _one_at_a_time = slot.refresh.lock().await;
        let old = slot.get();
        let (ds, table) =
            read_schemas(&old.config, &self.engine.notion, &self.engine.airtable).await?;
        let (next, drift) = match old.refresh(&ds, &table) {
            Ok(resolved) => resolved,
            Err(problems) => {
                let message = problems.join("; ");
                self.raise(name, IssueKind::Pair(SCHEMA_ISSUE), &message)
                    .await;
                anyhow::bail!("pair \"{name}\" cannot sync with its live schemas: {message}");
            }
        };
        self.clear(name, IssueKind::Pair(SCHEMA_ISSUE)).await;
        for d in &drift {
            self.report_drift(name, d).await;
        }
        // Still stopped: reported again, so the issue shows it is current.
        for (field, why) in &next.wire.stopped {
            self.raise(name, IssueKind::Field(field, why.side), &why.message)
                .await;
        }
        slot.set(next);
        Ok(slot.get())
    }

    async fn report_drift(&self, pair: &str, drift: &Drift) {
        match drift {
            Drift::Stopped { field, why } => {
                tracing::warn!(pair, field = %field, side = why.side, "mapped field stopped: {}", why.message);
            }
            Drift::Resumed { field } => {
                tracing::info!(pair, field = %field, "mapped field syncs again: its schema was fixed");
                for side in ["notion", "airtable"] {
                    self.clear(pair, IssueKind::Field(field, side)).await;
                }
            }
            Drift::Renamed { side, from, to } => {
                tracing::info!(pair, side, from = %from, to = %to, "a mapped field was renamed: followed by id");
            }
        }
    }

    /// Once per pair and process: clear issues a previous run left that no
    /// longer hold, and report a Notion token that cannot list users.
    async fn report_start(&self, name: &str) {
        let Ok(slot) = self.slot(name) else { return };
        if slot
            .reported
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return;
        }
        let pair = slot.get();
        self.clear_stale_field_issues(&pair).await;
        if pair.maps_people() && !pair.wire.users_listed {
            self.raise(name, IssueKind::Pair(USERS_ISSUE), NO_USER_CAPABILITY)
                .await;
        } else {
            self.clear(name, IssueKind::Pair(USERS_ISSUE)).await;
        }
    }

    /// A name read from Airtable matched no user: list the users again (at
    /// most once a minute; from pages only when the token may not list
    /// them). True when someone new was found, so the job is worth a rerun.
    async fn refresh_users_if_unmatched(&self, name: &str) -> anyhow::Result<bool> {
        let slot = self.slot(name)?;
        let pair = slot.get();
        if !pair.wire.people.take_unmatched() {
            return Ok(false);
        }
        let mut listed_at = slot.refresh.lock().await;
        if listed_at.is_some_and(|at| at.elapsed() < USERS_REFRESH_EVERY) {
            return Ok(false);
        }
        *listed_at = Some(Instant::now());
        let pair = slot.get();
        let listed = list_people(&self.engine.notion).await?;
        let mut next = (*pair).clone();
        next.wire.users_listed = listed.is_some();
        next.users = merge_people(listed.unwrap_or_default(), pair.wire.people.seen());
        let found_new = next.users.iter().any(|u| !pair.users.contains(u));
        if found_new {
            tracing::info!(
                pair = name,
                users = next.users.len(),
                "people list refreshed: a name that matched nobody may match now"
            );
            slot.set(next);
        }
        Ok(found_new)
    }

    /// Read a page to learn its database, and reconcile it under that pair;
    /// a page outside every synced database (or gone) needs nothing.
    async fn locate_page(&self, engine: &Engine, page_id: &str) -> anyhow::Result<JobOutcome> {
        let page = match self.engine.notion.retrieve_page(page_id).await {
            Ok(page) => page,
            Err(e) if e.is_not_found() => return Ok(JobOutcome::Reconciled(Summary::default())),
            Err(e) => return Err(e.into()),
        };
        // Every pair of the page's database: several pairs may share one
        // data source (each syncs its own properties).
        let parent = &page.parent;
        let same = |a: Option<&str>, b: &str| {
            a.and_then(crate::notion::canonical_id) == crate::notion::canonical_id(b)
        };
        let pairs: Vec<_> = self
            .pairs()
            .into_iter()
            .filter(|p| {
                same(parent.data_source_id.as_deref(), &p.data_source_id)
                    || same(parent.database_id.as_deref(), &p.database_id)
            })
            .collect();
        if pairs.is_empty() {
            tracing::debug!(
                page_id,
                "the page is not in a synced database: nothing to do"
            );
        }
        let mut summary = Summary::default();
        for pair in pairs {
            let one = engine
                .reconcile_page(&pair, &page.id, Cause::Webhook)
                .await?;
            summary.absorb(one);
        }
        Ok(JobOutcome::Reconciled(summary))
    }

    async fn drain(&self, engine: &Engine, webhook_id: &str) -> anyhow::Result<JobOutcome> {
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
        let outcome = engine
            .drain_airtable_webhook(&pair, &hook, &self.airtable_user_id, run_at)
            .await?;
        if outcome.schema_changed {
            // Jobs this drain queued run after it, with the pair re-resolved.
            self.resolve_again(pair.name()).await?;
        }
        Ok(JobOutcome::Drained(outcome))
    }
}

/// What an issue of the service is about.
#[derive(Debug, Clone, Copy)]
enum IssueKind<'a> {
    /// The whole pair, with a short code.
    Pair(&'static str),
    /// A mapped field (the mapping's Notion name) and the side that changed.
    Field(&'a str, &'static str),
}

impl IssueKind<'_> {
    fn parts(self) -> (IssueScope, &'static str, String) {
        match self {
            IssueKind::Pair(code) => (IssueScope::Pair, "", code.to_owned()),
            IssueKind::Field(field, side) => (IssueScope::Field, side, field.to_owned()),
        }
    }
}

impl SyncService {
    /// Open (or refresh) an issue; a store fault is logged, never fatal to
    /// the job (the log line already says what happened).
    async fn raise(&self, pair: &str, kind: IssueKind<'_>, message: &str) {
        let (scope, field, subject) = kind.parts();
        let issue = NewIssue {
            pair,
            scope,
            subject: &subject,
            field,
            message,
        };
        if let Err(e) = self.engine.store.raise_issue(&issue, now_ms()).await {
            tracing::error!(pair, subject = %subject, error = %e, "could not record an issue");
        }
    }

    async fn clear(&self, pair: &str, kind: IssueKind<'_>) {
        let (scope, field, subject) = kind.parts();
        if let Err(e) = self
            .engine
            .store
            .clear_issue(pair, scope, &subject, field)
            .await
        {
            tracing::error!(pair, subject = %subject, error = %e, "could not clear an issue");
        }
    }

    /// Field issues a previous run raised for fields that sync now.
    async fn clear_stale_field_issues(&self, pair: &ResolvedPair) {
        let open = match self.engine.store.open_issues(Some(pair.name())).await {
            Ok(open) => open,
            Err(e) => {
                tracing::error!(pair = pair.name(), error = %e, "could not read the open issues");
                return;
            }
        };
        for issue in open {
            if issue.scope == IssueScope::Field && !pair.wire.stopped.contains_key(&issue.subject) {
                let cleared = self
                    .engine
                    .store
                    .clear_issue(pair.name(), IssueScope::Field, &issue.subject, &issue.field)
                    .await;
                if let Err(e) = cleared {
                    tracing::error!(pair = pair.name(), error = %e, "could not clear an issue");
                }
            }
        }
    }
}

/// Listed users first, then people only seen on pages (by id).
fn merge_people(
    mut listed: Vec<crate::sync::convert::Person>,
    seen: Vec<crate::sync::convert::Person>,
) -> Vec<crate::sync::convert::Person> {
    for person in seen {
        if !listed.iter().any(|u| u.id == person.id) {
            listed.push(person);
        }
    }
    listed
}

/// Airtable refused a read or write naming a field it does not have, or
/// the engine found a mapped field retyped (`SchemaMoved`).
fn names_unknown_field(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<ApiError>()
            .is_some_and(|e| e.code() == UNKNOWN_FIELD)
            || c.downcast_ref::<crate::engine::SchemaMoved>().is_some()
    })
}

/// A vendor's fault that may pass on its own: a rate limit, a 5xx, a
/// timeout or a dropped connection.
fn is_transient(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<ApiError>()
            .is_some_and(|e| matches!(e, ApiError::RateLimited { .. } | ApiError::Retryable { .. }))
    })
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

    #[test]
    fn the_backlog_counts_the_page_reconcile_kind() {
        let spec = JobSpec::ReconcilePage {
            pair: "specs".into(),
            page_id: "p".into(),
            trigger: Trigger::Webhook,
        };
        assert_eq!(spec.kind(), RECONCILE_PAGE_KIND);
    }
}

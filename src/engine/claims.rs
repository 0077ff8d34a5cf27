//! One writer per record, across every job kind and replica: the engine's
//! side of the record claims kept in the store (`store::record_claims`).
//!
//! Every entry point of the engine (a sweep, a record reconcile) runs in a
//! claim scope ([`scoped`]): who claims (the job's lease token, or a random
//! id outside a job), how a claimed record is met, and the claim clock read
//! before anything else is read. Then:
//!
//! - a record job claims its record's keys before reading it; if another
//!   job holds one, the job is put back for a moment ([`NotYet`], no attempt
//!   spent) and runs again from a fresh read;
//! - a sweep, which reads a hundred records before planning them, claims
//!   each planned record before writing it and leaves out the records
//!   another job holds (that job is syncing them) or wrote after the sweep's
//!   read (the sweep's plan may be stale; the next sweep sees them);
//! - claims are released once the writes are committed, and in any case
//!   when the scope ends. A job's claims also end with its lease, so a
//!   worker that dies blocks its records only until its jobs are reclaimed.

use std::{
    collections::HashSet,
    future::Future,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use super::{Engine, NotYet, Summary, SweepOptions};
use crate::store::{ClaimOutcome, Claimant, Lease, Store, now_ms};
use crate::sync::{pair::ResolvedPair, plan::Plan};

/// How long a claim taken outside a job lasts at most: well over the time
/// one batch of writes takes (a hundred Notion writes at three a second).
const CLAIM_TTL: Duration = Duration::from_secs(5 * 60);

/// A job's claims live by its lease; this only bounds them.
const JOB_CLAIM_TTL: Duration = Duration::from_secs(60 * 60);

/// How soon a record job whose record is claimed runs again: the holder
/// writes one batch and releases it within seconds.
pub(crate) const BUSY_RETRY: Duration = Duration::from_secs(2);

/// How a piece of work meets a record another one is writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Leave the record out: the other job syncs it.
    Sweep,
    /// Wait for it: the job runs again shortly ([`NotYet`]).
    Record,
}

/// The claim scope of one engine entry point.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    pub(crate) claimant: Claimant,
    /// The run id the scope's log lines carry.
    pub(crate) run_id: String,
    pub(crate) mode: Mode,
    /// The claim clock before anything was read.
    pub(crate) read_at: i64,
    /// When the scope began, before anything was read (how old a record
    /// job's plan is when it writes: `engine::write::RECORD_FRESH_FOR`).
    pub(crate) started: tokio::time::Instant,
    /// The keys (pair, key) taken and not yet released, so that the end of
    /// the scope costs a write only when something is left to release.
    held: Arc<Mutex<HashSet<(String, String)>>>,
}

impl Scope {
    fn note(&self, pair: &ResolvedPair, keys: &[String], held: bool) {
        let mut set = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        for key in keys {
            let entry = (pair.name().to_owned(), key.clone());
            if held {
                set.insert(entry);
            } else {
                set.remove(&entry);
            }
        }
    }

    fn holds_any(&self) -> bool {
        !self
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }
}

tokio::task_local! {
    static SCOPE: Scope;
}

/// Run `work` in a claim scope (or in the enclosing one, when an entry
/// point calls another), and release whatever it still holds at the end,
/// whatever the outcome.
pub(crate) async fn scoped<T>(
    store: &Store,
    lease: Option<&Lease>,
    run: Option<&str>,
    mode: Mode,
    work: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    // On the heap: a sweep's future is large, and the scope would otherwise
    // hold it twice over on the caller's stack.
    let work = Box::pin(work);
    if SCOPE.try_with(|_| ()).is_ok() {
        return work.await;
    }
    let claimant = match lease {
        Some(lease) => Claimant {
            holder: lease.token.clone(),
            job_id: Some(lease.job_id),
        },
        None => Claimant {
            holder: format!("run-{}", uuid::Uuid::new_v4().simple()),
            job_id: None,
        },
    };
    let run_id = run.map_or_else(super::new_run_id, str::to_owned);
    let started = tokio::time::Instant::now();
    let scope = Scope {
        claimant,
        run_id,
        mode,
        started,
        read_at: store.claim_clock().await?,
        held: Arc::default(),
    };
    let result = SCOPE.scope(scope.clone(), work).await;
    if scope.holds_any() {
        let released = store.release_all_claims(&scope.claimant.holder, now_ms());
        if let Err(e) = released.await {
            // They end with the job's lease, or expire.
            tracing::warn!(error = %e, "could not release record claims");
        }
    }
    result
}

/// The current claim scope.
pub(crate) fn current() -> anyhow::Result<Scope> {
    SCOPE.try_with(Scope::clone).map_err(|_| {
        anyhow::anyhow!("bug: a record write outside a claim scope (see engine::claims)")
    })
}

pub(crate) fn page_key(page_id: &str) -> String {
    format!("page:{page_id}")
}

pub(crate) fn row_key(record_id: &str) -> String {
    format!("row:{record_id}")
}

/// Every key a plan's record is known by.
fn plan_keys(plan: &Plan) -> Vec<String> {
    std::iter::once(page_key(&plan.page_id))
        .chain(plan.record_id.as_deref().map(row_key))
        .collect()
}

fn ttl(claimant: &Claimant) -> Duration {
    if claimant.job_id.is_some() {
        JOB_CLAIM_TTL
    } else {
        CLAIM_TTL
    }
}

/// The error that puts a record job back for a moment.
pub(crate) fn busy(pair: &ResolvedPair, what: &str, retry_after: Duration) -> anyhow::Error {
    NotYet {
        reason: format!("pair \"{}\": {what}", pair.name()),
        retry_after,
    }
    .into()
}

impl Engine {
    /// Run one entry point's `work` in a claim scope ([`scoped`]) under
    /// this engine's lease and run id.
    /// Not an `async fn`: it hands back [`scoped`]'s own future, so that
    /// `work` (a large future) is held once, not twice.
    pub(crate) fn scoped<'a, T: 'a>(
        &'a self,
        mode: Mode,
        work: impl Future<Output = anyhow::Result<T>> + 'a,
    ) -> impl Future<Output = anyhow::Result<T>> + 'a {
        scoped(
            &self.store,
            self.lease.as_ref(),
            self.run.as_deref(),
            mode,
            work,
        )
    }

    /// Claim `keys` (one record) before reading it: a record job's first
    /// step. If another job holds one, the job runs again shortly.
    pub(crate) async fn claim_before_read(
        &self,
        pair: &ResolvedPair,
        keys: Vec<String>,
    ) -> anyhow::Result<()> {
        match self.claim_record(pair, keys, false).await? {
            ClaimOutcome::Acquired => Ok(()),
            _ => Err(busy(pair, "another job is writing this record", BUSY_RETRY)),
        }
    }

    /// Claim a page's record (its page and, when linked, its row) before
    /// reading it.
    pub(crate) async fn claim_page_before_read(
        &self,
        pair: &ResolvedPair,
        page_id: &str,
    ) -> anyhow::Result<()> {
        let link = self.store.get_link_by_page(pair.name(), page_id).await?;
        let row = link.and_then(|l| l.airtable_record_id);
        let keys = std::iter::once(page_key(page_id))
            .chain(row.as_deref().map(row_key))
            .collect();
        self.claim_before_read(pair, keys).await
    }

    /// Claim one record's `keys`; with `after_read`, a key another claimant
    /// touched since the scope's read is [`ClaimOutcome::Moved`].
    pub(crate) async fn claim_record(
        &self,
        pair: &ResolvedPair,
        keys: Vec<String>,
        after_read: bool,
    ) -> anyhow::Result<ClaimOutcome> {
        let scope = current()?;
        let outcomes = self
            .store
            .claim_records(
                pair.name(),
                &scope.claimant,
                std::slice::from_ref(&keys),
                after_read.then_some(scope.read_at),
                now_ms(),
                ttl(&scope.claimant),
            )
            .await?;
        if outcomes[0] == ClaimOutcome::Acquired {
            scope.note(pair, &keys, true);
        }
        Ok(outcomes[0])
    }

    /// Claim every plan's record before its writes. A sweep leaves out the
    /// plans it cannot claim (counted as skipped); a record job waits
    /// ([`NotYet`]). Returns the plans to execute and the keys to release
    /// once they are committed.
    pub(crate) async fn claim_plans(
        &self,
        pair: &ResolvedPair,
        plans: Vec<Plan>,
        opts: SweepOptions,
        summary: &mut Summary,
    ) -> anyhow::Result<(Vec<Plan>, Vec<String>)> {
        if opts.dry_run || plans.is_empty() {
            return Ok((plans, Vec::new()));
        }
        let scope = current()?;
        let groups: Vec<Vec<String>> = plans.iter().map(plan_keys).collect();
        let outcomes = self
            .store
            .claim_records(
                pair.name(),
                &scope.claimant,
                &groups,
                Some(scope.read_at),
                now_ms(),
                ttl(&scope.claimant),
            )
            .await?;
        let keys: Vec<String> = groups
            .into_iter()
            .zip(&outcomes)
            .filter(|(_, outcome)| **outcome == ClaimOutcome::Acquired)
            .flat_map(|(group, _)| group)
            .collect();
        scope.note(pair, &keys, true);
        let mut kept = Vec::with_capacity(plans.len());
        for (plan, outcome) in plans.into_iter().zip(outcomes) {
            if outcome == ClaimOutcome::Acquired {
                kept.push(plan);
                continue;
            }
            let why = match outcome {
                ClaimOutcome::Held => "another job is writing this record",
                _ => "another job wrote this record after it was read",
            };
            if scope.mode == Mode::Record {
                return Err(busy(pair, why, BUSY_RETRY));
            }
            tracing::debug!(pair = pair.name(), page_id = %plan.page_id, "left to the other job: {why}");
            summary.skipped += 1;
            summary.pages_left.push(plan.page_id.clone());
        }
        Ok((kept, keys))
    }

    /// Release claims once their writes are committed (a failure is only
    /// logged: they are released again when the scope ends, or expire).
    pub(crate) async fn release_claims(&self, pair: &ResolvedPair, keys: &[String]) {
        if keys.is_empty() {
            return;
        }
        let Ok(scope) = current() else { return };
        let released = self
            .store
            .release_records(pair.name(), &scope.claimant.holder, keys, now_ms())
            .await;
        match released {
            Ok(_) => scope.note(pair, keys, false),
            Err(e) => tracing::warn!(error = %e, "could not release record claims"),
        }
    }
}

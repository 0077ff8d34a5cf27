//! The engine: reads both sides, plans each record ([`crate::sync::plan`]),
//! executes the plans with as few requests as the APIs allow, then stores the
//! new snapshots and the sync log in one transaction.
//!
//! Order of work for a plan: write Airtable, write Notion, then commit the
//! snapshot. A crash after an external write and before the commit is
//! harmless: the next run finds both sides equal for the written fields
//! (`n == a`), stores that, and writes nothing: no duplicate (rows are created
//! by an upsert on the page-id field) and no spurious conflict.
//!
//! Files: `reconcile` (the entry points: one record or a sweep),
//! `sweep` (what a sweep reads), `write` (executing plans), `persist` (the
//! fenced commit), `matching` (pure: which row belongs to which page),
//! `load` (a pair's live schemas), [`wire`] (the API calls keyed by id),
//! `claims` (one writer per record), `review` (the delete review queue),
//! [`adopt`] (rows without a page),
//! [`payloads`] (Airtable webhook payloads to jobs) and [`webhooks`] (the
//! Airtable webhook lifecycle).

use std::time::Duration;

pub mod adopt;
mod body;
mod claims;
mod files;
mod load;
mod matching;
pub mod payloads;
mod people;
mod persist;
mod reconcile;
mod relations;
mod review;
mod salvage;
mod scope;
mod sweep;
mod undo;
pub mod webhooks;
pub mod wire;
mod write;

pub use load::{list_people, load_pair, read_schemas};
pub use write::{RECORD_FRESH_FOR, with_fresh_writes};

use crate::sync::plan::{AirtableWrite, ChangeKind, NotionWrite, Plan};
use crate::{
    airtable::AirtableClient,
    notion::NotionClient,
    store::{Cause, Lease, LeaseLost, Store, Tx, now_ms},
};

/// How far back an incremental sweep reaches before the previous sweep's
/// start: Notion's `last_edited_time` is rounded down to the minute, so an
/// edit in the minute the last sweep started may carry an earlier stamp.
const INCREMENTAL_OVERLAP: time::Duration = time::Duration::minutes(2);

/// A job that must wait for other work to finish: not a failure, it runs
/// again after `retry_after` without spending an attempt.
#[derive(Debug, thiserror::Error)]
#[error("{reason}: running again in {retry_after:?}")]
pub struct NotYet {
    pub reason: String,
    pub retry_after: Duration,
}

/// An Airtable field changed type (or went away) since the pair was
/// resolved: its cells cannot be trusted, so nothing was written; the
/// caller resolves the pair again (the field is then stopped).
#[derive(Debug, thiserror::Error)]
#[error(
    "Airtable field \"{field}\" is now {now} (the pair was resolved with {was}): nothing written"
)]
pub struct SchemaMoved {
    pub field: String,
    pub was: String,
    pub now: String,
}

/// The clients and the store, and the lease of the job the engine works
/// for (none on the command line).
#[derive(Clone)]
pub struct Engine {
    pub notion: NotionClient,
    pub airtable: AirtableClient,
    pub store: Store,
    lease: Option<Lease>,
    /// The run id its log lines carry (`job-<id>` for a job); without one,
    /// each entry point is a run of its own (`engine::claims`).
    run: Option<String>,
}

impl Engine {
    pub fn new(notion: NotionClient, airtable: AirtableClient, store: Store) -> Self {
        Engine {
            notion,
            airtable,
            store,
            lease: None,
            run: None,
        }
    }

    /// The same engine, its log lines carrying `run` (a command that runs
    /// several entry points, e.g. a sweep of every pair, is one run).
    pub fn with_run(&self, run: impl Into<String>) -> Self {
        Engine {
            run: Some(run.into()),
            ..self.clone()
        }
    }

    /// The run id its lines carry, if fixed ([`Engine::with_run`], a job).
    pub fn run_id(&self) -> Option<&str> {
        self.run.as_deref()
    }

    /// The same engine working for a job: each commit first checks (and
    /// locks) the job's lease in its transaction, so a worker that was
    /// frozen past its lease and lost the job commits nothing.
    /// Every attempt of one job is one run, `job-<id>`.
    pub fn leased(&self, lease: Option<Lease>) -> Self {
        let run = match &lease {
            Some(lease) => Some(job_run_id(lease.job_id)),
            None => self.run.clone(),
        };
        Engine {
            lease,
            run,
            ..self.clone()
        }
    }

    /// Hold the job's lease inside `tx` until it ends, or fail with
    /// [`LeaseLost`]. Outside a job there is nothing to check.
    pub(crate) async fn fence(&self, tx: &mut Tx) -> anyhow::Result<()> {
        let Some(lease) = &self.lease else {
            return Ok(());
        };
        if tx.hold_lease(lease.job_id, &lease.token, now_ms()).await? {
            Ok(())
        } else {
            Err(LeaseLost {
                job_id: lease.job_id,
            }
            .into())
        }
    }
}

/// The run id of a job's engine work.
pub fn job_run_id(job_id: crate::store::JobId) -> String {
    format!("job-{job_id}")
}

/// A fresh run id for work outside a job (a command, an undo): short
/// enough to type, random enough never to meet another.
pub fn new_run_id() -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string();
    format!("run-{}", &hex[..12])
}

/// What a sweep (or one reconcile) did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub records_seen: usize,
    pub created_in_airtable: usize,
    pub created_in_notion: usize,
    pub updated_airtable: usize,
    pub updated_notion: usize,
    pub conflicts: usize,
    pub archived: usize,
    pub restored: usize,
    pub deleted: usize,
    pub linked: usize,
    pub unchanged: usize,
    pub skipped: usize,
    /// Deletes newly held in the delete review queue.
    pub held_for_review: usize,
    /// Records that came into the pair's scope (linked or created).
    pub entered_scope: usize,
    /// Linked records that left the pair's scope (unlinked).
    pub left_scope: usize,
    /// Problems that left a record or field alone (reported, not fatal).
    pub problems: Vec<String>,
    /// With `--dry-run`: every write the sweep would make.
    pub planned_writes: Vec<String>,
    /// With `--dry-run`: every record that would enter or leave the scope.
    pub scope_changes: Vec<String>,
    /// Pages an incremental sweep read (and so planned from a read made
    /// after it started), and those of them left to another job that held
    /// the record or not written because their plan had grown stale: what
    /// a batched sweep covers (`worker::service`).
    #[serde(skip)]
    pub pages_read: Vec<String>,
    #[serde(skip)]
    pub pages_left: Vec<String>,
    /// Pages whose writes were not sent because their plan was older than
    /// the run allows (`engine::write::with_fresh_writes`); also in
    /// `pages_left`. The sweep's high-water mark then stays, so the next
    /// sweep reads them again.
    #[serde(skip)]
    pub pages_stale: usize,
}

impl Summary {
    /// Add another part of the same run (a batch of a sweep).
    pub(crate) fn absorb(&mut self, other: Summary) {
        self.records_seen += other.records_seen;
        self.created_in_airtable += other.created_in_airtable;
        self.created_in_notion += other.created_in_notion;
        self.updated_airtable += other.updated_airtable;
        self.updated_notion += other.updated_notion;
        self.conflicts += other.conflicts;
        self.archived += other.archived;
        self.restored += other.restored;
        self.deleted += other.deleted;
        self.linked += other.linked;
        self.unchanged += other.unchanged;
        self.skipped += other.skipped;
        self.held_for_review += other.held_for_review;
        self.entered_scope += other.entered_scope;
        self.left_scope += other.left_scope;
        self.problems.extend(other.problems);
        self.planned_writes.extend(other.planned_writes);
        self.scope_changes.extend(other.scope_changes);
        self.pages_read.extend(other.pages_read);
        self.pages_left.extend(other.pages_left);
        self.pages_stale += other.pages_stale;
    }

    fn count(&mut self, plan: &Plan) {
        self.records_seen += 1;
        if plan.writes() == 0 && plan.changes.is_empty() && plan.review.is_empty() {
            self.unchanged += 1;
        }
        match &plan.airtable {
            AirtableWrite::Upsert(_) => self.created_in_airtable += 1,
            AirtableWrite::Update { .. } => self.updated_airtable += 1,
            AirtableWrite::Delete { .. } => self.deleted += 1,
            AirtableWrite::None => {}
        }
        if plan.notion != NotionWrite::None {
            self.updated_notion += 1;
        }
        self.held_for_review += plan
            .review
            .iter()
            .filter(|s| matches!(s, crate::sync::review::ReviewStep::Hold { .. }))
            .count();
        match plan.crossing {
            Some(crate::sync::scope::Crossing::Enter) => self.entered_scope += 1,
            Some(crate::sync::scope::Crossing::Leave) => self.left_scope += 1,
            None => {}
        }
        for c in &plan.changes {
            self.conflicts += usize::from(c.conflict);
            match c.what {
                ChangeKind::Archive => self.archived += 1,
                ChangeKind::Restore => self.restored += 1,
                ChangeKind::Link => self.linked += 1,
                ChangeKind::Skip => self.skipped += 1,
                _ => {}
            }
        }
    }

    /// One line for the CLI.
    pub fn line(&self) -> String {
        format!(
            "{} records: {} created in Airtable, {} created in Notion, {} updated in Airtable, \
             {} updated in Notion, {} conflicts, {} archived, {} restored, {} deleted, {} linked, \
             {} unchanged, {} skipped, {} problems, {} held for review{}",
            self.records_seen,
            self.created_in_airtable,
            self.created_in_notion,
            self.updated_airtable,
            self.updated_notion,
            self.conflicts,
            self.archived,
            self.restored,
            self.deleted,
            self.linked,
            self.unchanged,
            self.skipped,
            self.problems.len(),
            self.held_for_review,
            self.scope_line()
        )
    }
}

impl Summary {
    /// ", N entered the scope, N left it" when any did.
    fn scope_line(&self) -> String {
        if self.entered_scope + self.left_scope == 0 {
            return String::new();
        }
        format!(
            ", {} entered the scope, {} left it",
            self.entered_scope, self.left_scope
        )
    }
}

/// Options of one sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepOptions {
    pub full: bool,
    pub dry_run: bool,
    pub cause: Cause,
}

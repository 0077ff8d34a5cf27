//! The engine: reads both sides, plans each record ([`super::plan`]),
//! executes the plans with as few requests as the APIs allow, then stores the
//! new snapshots and the sync log in one transaction.
//!
//! Order of work for a plan: write Airtable, write Notion, then commit the
//! snapshot. A crash after an external write and before the commit is
//! harmless: the next run finds both sides equal for the written fields
//! (`n == a`), stores that, and writes nothing: no duplicate (rows are created
//! by an upsert on the page-id field) and no spurious conflict.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value as Json};
use time::OffsetDateTime;

use super::{
    pair::ResolvedPair,
    plan::{AirtableWrite, Change, ChangeKind, NotionWrite, Plan, plan_page},
};
use crate::{
    airtable::{AirtableClient, ListParams, Record},
    api_error::ApiError,
    notion::{NotionClient, Page},
    store::{
        Cause, IssueScope, LinkState, LinkUpsert, LogAction, NewIssue, NewLogEntry, RecordLink,
        Side as LogSide, Store, SweepKind, SyncDirection, SyncSource, now_ms,
    },
    sync::merge::Side,
};

/// How far back an incremental sweep reaches before the previous sweep's
/// start: Notion's `last_edited_time` is rounded down to the minute, so an
/// edit in the minute the last sweep started may carry an earlier stamp.
const INCREMENTAL_OVERLAP: time::Duration = time::Duration::minutes(2);

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

/// The clients and the store.
#[derive(Clone)]
pub struct Engine {
    pub notion: NotionClient,
    pub airtable: AirtableClient,
    pub store: Store,
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
    /// Problems that left a record or field alone (reported, not fatal).
    pub problems: Vec<String>,
    /// With `--dry-run`: every write the sweep would make.
    pub planned_writes: Vec<String>,
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
        self.problems.extend(other.problems);
        self.planned_writes.extend(other.planned_writes);
    }

    fn count(&mut self, plan: &Plan) {
        self.records_seen += 1;
        if plan.writes() == 0 && plan.changes.is_empty() {
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
             {} unchanged, {} skipped, {} problems",
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
            self.problems.len()
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

impl Engine {
    /// Sweep one pair: full (both sides completely, deletions detected) or
    /// incremental (only what changed since the previous sweep; a first
    /// sweep is always full).
    pub async fn sweep(&self, pair: &ResolvedPair, opts: SweepOptions) -> anyhow::Result<Summary> {
        // Record claims: the writes skip records other jobs hold or wrote
        // after this sweep's read (sync::claims).
        let work = self.sweep_in_scope(pair, opts);
        super::claims::scoped(&self.store, super::claims::Mode::Sweep, work).await
    }

    async fn sweep_in_scope(
        &self,
        pair: &ResolvedPair,
        opts: SweepOptions,
    ) -> anyhow::Result<Summary> {
        let started = OffsetDateTime::now_utc();
        let previous = self
            .store
            .get_sweep(pair.name(), SweepKind::Incremental)
            .await?;
        let since = previous.and_then(|s| s.high_water);
        let full = opts.full || since.is_none();
        let kind = if full {
            SweepKind::Full
        } else {
            SweepKind::Incremental
        };
        if !opts.dry_run {
            self.store.start_sweep(pair.name(), kind, now_ms()).await?;
        }
        let summary = match since.filter(|_| !full) {
            Some(since) => {
                let snapshot = self
                    .read_changed(pair, ms_to_time(since) - INCREMENTAL_OVERLAP)
                    .await?;
                self.sync_snapshot(pair, &snapshot, opts, started).await?
            }
            None => self.full_sweep(pair, opts, started).await?,
        };
        if !opts.dry_run {
            let result = serde_json::to_value(&summary)?;
            let high_water = Some(started.unix_timestamp() * 1000);
            self.store
                .finish_sweep(pair.name(), kind, now_ms(), &result, high_water)
                .await?;
            // Both kinds move the incremental high-water mark forward.
            if full {
                self.store
                    .finish_sweep(
                        pair.name(),
                        SweepKind::Incremental,
                        now_ms(),
                        &result,
                        high_water,
                    )
                    .await?;
            }
        }
        Ok(summary)
    }

    /// Reconcile one record known by its Notion page id.
    pub async fn reconcile_page(
        &self,
        pair: &ResolvedPair,
        page_id: &str,
        cause: Cause,
    ) -> anyhow::Result<Summary> {
        // Record claims: the record is claimed before it is read, or the
        // job runs again shortly (sync::claims).
        let work = async {
            self.claim_page_before_read(pair, page_id).await?;
            self.reconcile_page_claimed(pair, page_id, cause).await
        };
        super::claims::scoped(&self.store, super::claims::Mode::Record, work).await
    }

    async fn reconcile_page_claimed(
        &self,
        pair: &ResolvedPair,
        page_id: &str,
        cause: Cause,
    ) -> anyhow::Result<Summary> {
        // Both sides are read at once: the reads are independent, and each
        // is a round trip the change would otherwise wait for.
        let link = self.store.get_link_by_page(pair.name(), page_id).await?;
        let (page, record) = tokio::join!(
            self.read_page(pair, page_id),
            self.find_record(pair, page_id, link.as_ref())
        );
        let page = match page {
            Ok(p) => p,
            Err(e) if e.is_not_found() => {
                tracing::info!(
                    pair = pair.name(),
                    page_id,
                    "page not found (deleted or not shared): nothing to sync"
                );
                return Ok(Summary::default());
            }
            Err(e) => return Err(e.into()),
        };
        let (link, record) = if page.id == page_id {
            (link, record?)
        } else {
            // The id was spelled differently (no dashes): look again by
            // the canonical one.
            let link = self.store.get_link_by_page(pair.name(), &page.id).await?;
            let record = self.find_record(pair, &page.id, link.as_ref()).await?;
            (link, record)
        };
        let plan = plan_page(
            pair,
            &page,
            record.as_ref(),
            link.as_ref(),
            OffsetDateTime::now_utc(),
        );
        let opts = SweepOptions {
            full: false,
            dry_run: false,
            cause,
        };
        self.run_plans(pair, vec![plan], opts).await
    }

    /// Reconcile one Airtable record (a change or delete reported by a webhook).
    pub async fn reconcile_record(
        &self,
        pair: &ResolvedPair,
        record_id: &str,
        cause: Cause,
    ) -> anyhow::Result<Summary> {
        // Record claims: the row is claimed before it is read, or the job
        // runs again shortly (sync::claims).
        let work = async {
            let row = vec![super::claims::row_key(record_id)];
            self.claim_before_read(pair, row).await?;
            self.reconcile_record_claimed(pair, record_id, cause).await
        };
        super::claims::scoped(&self.store, super::claims::Mode::Record, work).await
    }

    async fn reconcile_record_claimed(
        &self,
        pair: &ResolvedPair,
        record_id: &str,
        cause: Cause,
    ) -> anyhow::Result<Summary> {
        if let Some(link) = self
            .store
            .get_link_by_record(pair.name(), record_id)
            .await?
        {
            return self.reconcile_page(pair, &link.notion_page_id, cause).await;
        }
        let record = match self.read_row(pair, record_id).await {
            Ok(r) => r,
            Err(e) if e.is_not_found() => return Ok(Summary::default()),
            Err(e) => return Err(e.into()),
        };
        if self
            .report_bad_links(pair, std::slice::from_ref(&record), false)
            .await?
            > 0
        {
            return Ok(Summary::default());
        }
        match page_id_of(pair, &record) {
            Some(page_id) => self.reconcile_page(pair, &page_id, cause).await,
            None => {
                let mut summary = Summary::default();
                let opts = SweepOptions {
                    full: false,
                    dry_run: false,
                    cause,
                };
                self.adopt_rows(pair, std::slice::from_ref(&record), opts, &mut summary)
                    .await?;
                Ok(summary)
            }
        }
    }

    /// The linked record, or a row already carrying this page's id (a crash
    /// after an upsert and before the link was stored).
    async fn find_record(
        &self,
        pair: &ResolvedPair,
        page_id: &str,
        link: Option<&RecordLink>,
    ) -> Result<Option<Record>, ApiError> {
        if let Some(id) = link.and_then(|l| l.airtable_record_id.as_deref()) {
            return match self.read_row(pair, id).await {
                Ok(r) => Ok(Some(r)),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e),
            };
        }
        let params = ListParams {
            filter_by_formula: Some(format!("{{{}}} = '{}'", pair.page_id_field_live(), page_id)),
            page_size: Some(2),
            ..ListParams::default()
        };
        let page = self.list_rows_page(pair, &params).await?;
        Ok(page.records.into_iter().next())
    }

    /// Plan and write what was read: every page, then rows no page claims.
    async fn sync_snapshot(
        &self,
        pair: &ResolvedPair,
        snap: &SideSnapshot,
        opts: SweepOptions,
        started: OffsetDateTime,
    ) -> anyhow::Result<Summary> {
        if !opts.dry_run {
            self.report_bad_links(pair, &snap.records, false).await?;
        }
        let plans = plan_all(pair, snap, started, |_| true);
        let claimed = claimed_records(snap, &plans).into_iter().collect();
        let orphans: Vec<Record> = rows_without_page(pair, snap, &claimed)
            .into_iter()
            .cloned()
            .collect();
        let mut summary = self.run_plans(pair, plans, opts).await?;
        self.adopt_rows(pair, &orphans, opts, &mut summary).await?;
        Ok(summary)
    }

    /// Read both sides completely, writing as the Notion query pages arrive:
    /// every row and link is read first, then each page of a hundred Notion
    /// pages is planned and written while the next hundred are fetched, so
    /// that the (slower) Airtable writes overlap the Notion reads. A page whose
    /// `match_key` value an unlinked row carries (first contact, where
    /// duplicate keys must be seen to be refused) waits for the end, with
    /// the pages the query did not return and the rows no page claims.
    async fn full_sweep(
        &self,
        pair: &ResolvedPair,
        opts: SweepOptions,
        started: OffsetDateTime,
    ) -> anyhow::Result<Summary> {
        let records = self.list_rows(pair, &ListParams::default()).await?;
        if !opts.dry_run {
            self.report_bad_links(pair, &records, true).await?;
        }
        let mut snap = SideSnapshot {
            pages: Vec::new(),
            records,
            links: self.all_links(pair).await?,
            full: true,
            extra_pages: Vec::new(),
        };
        let rows_naming_a_page: std::collections::HashSet<String> = snap
            .records
            .iter()
            .filter_map(|r| page_id_of(pair, r))
            .collect();
        let keys_of_unlinked_rows = unlinked_row_keys(pair, &snap.records);
        // A page can wait for first contact by key only if a row without a
        // page carries its key; every other page is decided by what is read.
        let decided_early = |page: &Page, links: &HashMap<String, RecordLink>| {
            links.contains_key(&page.id)
                || rows_naming_a_page.contains(&page.id)
                || page_key(pair, page).is_none_or(|k| !keys_of_unlinked_rows.contains(&k))
        };
        let mut summary = Summary::default();
        let mut planned = std::collections::HashSet::new();
        let mut claimed = std::collections::HashSet::new();
        let mut query = crate::notion::Query::default();
        let mut ready_plans = Vec::new();
        loop {
            // The previous hundred are written while the next are read.
            let (batch, written) = tokio::join!(
                self.query_pages(pair, &query),
                self.run_plans(pair, std::mem::take(&mut ready_plans), opts)
            );
            summary.absorb(written?);
            let batch = batch?;
            let next = batch.next();
            let first_new = snap.pages.len();
            snap.pages.extend(batch.pages);
            let ready: std::collections::HashSet<String> = snap.pages[first_new..]
                .iter()
                .filter(|p| decided_early(p, &snap.links))
                .map(|p| p.id.clone())
                .collect();
            ready_plans = plan_all(pair, &snap, started, |p| ready.contains(&p.id));
            claimed.extend(claimed_records(&snap, &ready_plans));
            planned.extend(ready);
            match next {
                Some(cursor) => query.start_cursor = Some(cursor),
                None => break,
            }
        }
        summary.absorb(self.run_plans(pair, ready_plans, opts).await?);
        self.fetch_missing_pages(pair, &mut snap).await?;
        let plans = plan_all(pair, &snap, started, |p| !planned.contains(&p.id));
        claimed.extend(claimed_records(&snap, &plans));
        let orphans: Vec<Record> = rows_without_page(pair, &snap, &claimed)
            .into_iter()
            .cloned()
            .collect();
        summary.absorb(self.run_plans(pair, plans, opts).await?);
        self.adopt_rows(pair, &orphans, opts, &mut summary).await?;
        Ok(summary)
    }

    /// Raise an issue for each row whose link cell is not a Notion id (new
    /// ones are logged once), and clear the issues of rows read here whose
    /// cell is fine now; `all_rows` (a full read) also clears the issues of
    /// rows that are gone. Returns how many of `records` are bad.
    async fn report_bad_links(
        &self,
        pair: &ResolvedPair,
        records: &[Record],
        all_rows: bool,
    ) -> anyhow::Result<usize> {
        let field = pair.page_id_field();
        let now = now_ms();
        let mut bad = std::collections::HashSet::new();
        for record in records {
            let Some(cell) = bad_link_cell(pair, record) else {
                continue;
            };
            bad.insert(record.id.as_str());
            let shown: String = cell.chars().take(80).collect();
            let message = format!(
                "the link field \"{field}\" holds \"{shown}\", which is not a Notion page id: \
                 the row is left alone; clear the cell, or paste the id of its page"
            );
            let issue = NewIssue {
                pair: pair.name(),
                scope: IssueScope::Record,
                subject: &record.id,
                field,
                message: &message,
            };
            if self.store.raise_issue(&issue, now).await? {
                tracing::warn!(pair = pair.name(), record_id = %record.id, "{message}");
            }
        }
        let read: std::collections::HashSet<&str> = records.iter().map(|r| r.id.as_str()).collect();
        for issue in self.store.open_issues(Some(pair.name())).await? {
            let fixed = issue.scope == IssueScope::Record
                && issue.field == field
                && !bad.contains(issue.subject.as_str())
                && (all_rows || read.contains(issue.subject.as_str()));
            if fixed {
                self.store
                    .clear_issue(pair.name(), IssueScope::Record, &issue.subject, field)
                    .await?;
            }
        }
        Ok(bad.len())
    }

    /// Incremental: pages and rows edited since `since`, plus the other side
    /// of each, fetched in as few calls as possible.
    async fn read_changed(
        &self,
        pair: &ResolvedPair,
        since: OffsetDateTime,
    ) -> anyhow::Result<SideSnapshot> {
        let filter = crate::notion::last_edited_on_or_after(since);
        let pages = self.query_all_pages(pair, Some(filter)).await?;
        let stamp = super::value::format_instant(since);
        let params = ListParams {
            filter_by_formula: Some(format!(
                "IS_AFTER(LAST_MODIFIED_TIME(), DATETIME_PARSE('{stamp}'))"
            )),
            ..ListParams::default()
        };
        let mut records = self.list_rows(pair, &params).await?;
        let links = self.all_links(pair).await?;
        let have: std::collections::HashSet<String> =
            records.iter().map(|r| r.id.clone()).collect();
        let wanted: Vec<String> = pages
            .iter()
            .filter_map(|p| links.get(&p.id).and_then(|l| l.airtable_record_id.clone()))
            .filter(|id| !have.contains(id))
            .collect();
        for chunk in wanted.chunks(50) {
            let ids: Vec<String> = chunk
                .iter()
                .map(|id| format!("RECORD_ID() = '{id}'"))
                .collect();
            let params = ListParams {
                filter_by_formula: Some(format!("OR({})", ids.join(", "))),
                ..ListParams::default()
            };
            records.extend(self.list_rows(pair, &params).await?);
        }
        let mut snap = SideSnapshot {
            pages,
            records,
            links,
            full: false,
            extra_pages: Vec::new(),
        };
        self.fetch_missing_pages(pair, &mut snap).await?;
        Ok(snap)
    }

    async fn all_links(&self, pair: &ResolvedPair) -> anyhow::Result<HashMap<String, RecordLink>> {
        let mut links = HashMap::new();
        let mut after: Option<String> = None;
        loop {
            let batch = self
                .store
                .list_links(pair.name(), after.as_deref(), 500)
                .await?;
            let Some(last) = batch.last() else { break };
            after = Some(last.notion_page_id.clone());
            links.extend(batch.into_iter().map(|l| (l.notion_page_id.clone(), l)));
        }
        Ok(links)
    }

    /// Pages the query did not return but a link or a changed row points at:
    /// trashed, moved, or (incremental) simply not edited. One read each.
    async fn fetch_missing_pages(
        &self,
        pair: &ResolvedPair,
        snap: &mut SideSnapshot,
    ) -> anyhow::Result<()> {
        let seen: std::collections::HashSet<&str> =
            snap.pages.iter().map(|p| p.id.as_str()).collect();
        let mut wanted: Vec<String> = Vec::new();
        if snap.full {
            for link in snap.links.values() {
                if !seen.contains(link.notion_page_id.as_str()) && link.state == LinkState::Active {
                    wanted.push(link.notion_page_id.clone());
                }
            }
        }
        let by_record: HashMap<&str, &RecordLink> = snap
            .links
            .values()
            .filter_map(|l| Some((l.airtable_record_id.as_deref()?, l)))
            .collect();
        for record in &snap.records {
            let link = by_record.get(record.id.as_str());
            // A row already archived for a page known to be gone needs no read.
            let settled = link.is_some_and(|l| {
                matches!(l.state, LinkState::NotionTrashed | LinkState::NotionMoved)
                    && super::plan::archived(pair, Some(record))
            });
            let page_id = link
                .map(|l| l.notion_page_id.clone())
                .or_else(|| page_id_of(pair, record));
            if let Some(id) = page_id.filter(|id| !settled && !seen.contains(id.as_str())) {
                wanted.push(id);
            }
        }
        wanted.sort();
        wanted.dedup();
        for id in wanted {
            match self.read_page(pair, &id).await {
                Ok(p) => snap.extra_pages.push(p),
                Err(e) if e.is_not_found() => {
                    tracing::info!(pair = pair.name(), page_id = %id, "linked page not found (deleted or unshared)");
                }
                // One page Notion refuses to read must not stop the sweep
                // (the safety net for every other record).
                Err(e @ ApiError::Fatal { .. }) => {
                    tracing::warn!(pair = pair.name(), page_id = %id, error = %e, "Notion refused to read a linked page; the sweep goes on without it");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Execute plans: Airtable writes batched ten per request, Notion writes
    /// one per page, then every snapshot and log entry in one transaction.
    async fn run_plans(
        &self,
        pair: &ResolvedPair,
        plans: Vec<Plan>,
        opts: SweepOptions,
    ) -> anyhow::Result<Summary> {
        let mut summary = Summary::default();
        if plans.is_empty() {
            return Ok(summary);
        }
        self.confirm_airtable_empties(pair, &plans).await?;
        // Record claims: only the plans whose records this run holds are
        // written; released once committed (sync::claims).
        let (mut plans, claimed) = self.claim_plans(pair, plans, opts, &mut summary).await?;
        for plan in &plans {
            summary.count(plan);
        }
        if opts.dry_run {
            summary.planned_writes = plans.iter().flat_map(describe).collect();
            return Ok(summary);
        }
        // Notion first: renaming a page changes its URL, which the Airtable
        // write then carries.
        let failed_notion = self.write_notion(pair, &mut plans, &mut summary).await?;
        for plan in plans
            .iter_mut()
            .filter(|p| failed_notion.contains(&p.page_id))
        {
            plan.airtable = AirtableWrite::None;
        }
        let failed = self.write_airtable(pair, &mut plans, &mut summary).await?;
        let done: Vec<&Plan> = plans
            .iter()
            .filter(|p| !failed.contains(&p.page_id) && !failed_notion.contains(&p.page_id))
            .collect();
        self.persist(pair, &done, opts.cause).await?;
        self.release_claims(pair, &claimed).await;
        Ok(summary)
    }

    /// Airtable omits empty cells, so a field a person retyped in Airtable's
    /// UI (its values dropped, its id kept) reads as emptied on every row.
    /// Before an empty Airtable value is written over a Notion value, check
    /// the field is still what the pair was resolved with; if not, fail with
    /// [`SchemaMoved`] (nothing written) so the pair is resolved again and
    /// the field stopped. One schema read, only when such a write is planned.
    async fn confirm_airtable_empties(
        &self,
        pair: &ResolvedPair,
        plans: &[Plan],
    ) -> anyhow::Result<()> {
        let emptied: std::collections::BTreeSet<&str> = plans
            .iter()
            .flat_map(|p| &p.changes)
            .filter(|c| {
                c.what == ChangeKind::Update
                    && c.to == Some(Side::Notion)
                    && c.new.as_ref().is_some_and(super::value::Value::is_empty)
            })
            .filter_map(|c| c.field.as_deref())
            .collect();
        if emptied.is_empty() {
            return Ok(());
        }
        let tables = self
            .airtable
            .base_schema(&pair.config.airtable_base_id)
            .await?;
        let table = tables.iter().find(|t| t.id == pair.table_id);
        for field in pair
            .fields
            .iter()
            .filter(|f| emptied.contains(f.notion.as_str()))
        {
            let live = table.and_then(|t| t.fields.iter().find(|x| x.id == field.airtable_id));
            if live.is_none_or(|x| x.kind != field.airtable_type) {
                return Err(SchemaMoved {
                    field: field.airtable.clone(),
                    was: field.airtable_type.clone(),
                    now: live.map_or_else(|| "deleted".to_owned(), |x| x.kind.clone()),
                }
                .into());
            }
        }
        Ok(())
    }

    /// Returns the page ids whose Airtable write was refused (Fatal).
    async fn write_airtable(
        &self,
        pair: &ResolvedPair,
        plans: &mut [Plan],
        summary: &mut Summary,
    ) -> anyhow::Result<Vec<String>> {
        let base = &pair.config.airtable_base_id;
        let table = &pair.table_id;
        let mut failed = Vec::new();
        let upserts: Vec<Map<String, Json>> = plans
            .iter()
            .filter_map(|p| match &p.airtable {
                AirtableWrite::Upsert(f) => Some(f.clone()),
                _ => None,
            })
            .collect();
        if !upserts.is_empty() {
            let result = self.upsert_rows(pair, upserts).await?;
            let by_page: HashMap<String, String> = result
                .records
                .iter()
                .filter_map(|r| Some((page_id_of(pair, r)?, r.id.clone())))
                .collect();
            for plan in plans
                .iter_mut()
                .filter(|p| matches!(p.airtable, AirtableWrite::Upsert(_)))
            {
                plan.record_id = by_page.get(&plan.page_id).cloned();
            }
        }
        let updates: Vec<(String, Map<String, Json>)> = plans
            .iter()
            .filter_map(|p| match &p.airtable {
                AirtableWrite::Update { record_id, fields } => {
                    Some((record_id.clone(), fields.clone()))
                }
                _ => None,
            })
            .collect();
        for chunk in updates.chunks(crate::airtable::MAX_RECORDS_PER_WRITE) {
            match self.update_rows(pair, chunk.to_vec()).await {
                Ok(_) => {}
                Err(e @ ApiError::Fatal { .. }) => {
                    // One bad row must not block the others: retry this chunk row by row.
                    tracing::warn!(error = %e, "Airtable refused a batch; writing its rows one by one");
                    for (id, fields) in chunk {
                        if let Err(e) = self
                            .update_rows(pair, vec![(id.clone(), fields.clone())])
                            .await
                        {
                            if !matches!(e, ApiError::Fatal { .. }) {
                                return Err(e.into());
                            }
                            let page = plans
                                .iter()
                                .find(|p| p.record_id.as_deref() == Some(id))
                                .map(|p| p.page_id.clone());
                            summary.problems.push(format!("Airtable row {id}: {e}"));
                            if let Some(page) = &page {
                                self.raise_row_refusal(pair, page, id, &e).await?;
                            }
                            failed.extend(page);
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        let deletes: Vec<String> = plans
            .iter()
            .filter_map(|p| match &p.airtable {
                AirtableWrite::Delete { record_id } => Some(record_id.clone()),
                _ => None,
            })
            .collect();
        if !deletes.is_empty() {
            self.airtable.delete_records(base, table, &deletes).await?;
        }
        Ok(failed)
    }

    /// Notion writes, one request per page. Returns the pages refused (Fatal).
    async fn write_notion(
        &self,
        pair: &ResolvedPair,
        plans: &mut [Plan],
        summary: &mut Summary,
    ) -> anyhow::Result<Vec<String>> {
        let mut failed = Vec::new();
        for plan in plans.iter_mut() {
            let result = match &plan.notion {
                NotionWrite::None => continue,
                NotionWrite::Update {
                    page_id,
                    properties,
                } => self.write_page(pair, page_id, properties).await,
                NotionWrite::Trash { page_id } => self.notion.trash_page(page_id).await,
            };
            match result {
                Ok(page) => carry_new_url(pair, plan, page.url),
                Err(e @ ApiError::Fatal { status: 400, .. })
                    if matches!(plan.notion, NotionWrite::Update { .. }) =>
                {
                    summary
                        .problems
                        .push(format!("Notion page {}: {e}", plan.page_id));
                    self.salvage_notion_write(pair, plan, &e).await?;
                }
                Err(e @ ApiError::Fatal { .. }) => {
                    summary
                        .problems
                        .push(format!("Notion page {}: {e}", plan.page_id));
                    failed.push(plan.page_id.clone());
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(failed)
    }

    /// Airtable refused a row's update: nothing of the record is stored (it
    /// is planned again from a fresh read next time, so no edit is lost),
    /// and the record carries an issue until a write of it succeeds (its
    /// next commit replaces its issues).
    async fn raise_row_refusal(
        &self,
        pair: &ResolvedPair,
        page_id: &str,
        record_id: &str,
        error: &ApiError,
    ) -> anyhow::Result<()> {
        let message = format!(
            "Airtable refused the update of row {record_id}: {}",
            error_message(error)
        );
        let issue = NewIssue {
            pair: pair.name(),
            scope: IssueScope::Record,
            subject: page_id,
            field: "",
            message: &message,
        };
        if self.store.raise_issue(&issue, now_ms()).await? {
            tracing::warn!(pair = pair.name(), page_id, record_id, "{message}");
        }
        Ok(())
    }

    /// Notion refused a page update (400). If its message names one of the
    /// properties sent, send the others again once without it; whatever is
    /// still refused keeps its old snapshot (so the Airtable edit is neither
    /// lost nor overwritten) and becomes a per-record issue. The record's
    /// other side and snapshot go ahead: one refused value never freezes it.
    async fn salvage_notion_write(
        &self,
        pair: &ResolvedPair,
        plan: &mut Plan,
        error: &ApiError,
    ) -> anyhow::Result<()> {
        let NotionWrite::Update {
            page_id,
            mut properties,
        } = std::mem::take(&mut plan.notion)
        else {
            return Ok(());
        };
        let why = error_message(error);
        let named = named_property(&why, properties.keys())
            .or_else(|| pair.wire.notion_named_in(&why, properties.keys()));
        if let Some(key) = named.filter(|_| properties.len() > 1) {
            properties.remove(&key);
            refuse(pair, plan, &key, &why);
            match self.write_page(pair, &page_id, &properties).await {
                Ok(page) => {
                    carry_new_url(pair, plan, page.url);
                    return Ok(());
                }
                Err(e @ ApiError::Fatal { .. }) => {
                    let why = error_message(&e);
                    for key in properties.keys() {
                        refuse(pair, plan, key, &why);
                    }
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            }
        }
        for key in properties.keys() {
            refuse(pair, plan, key, &why);
        }
        Ok(())
    }

    /// Store every plan's link, snapshot and log entries in one transaction.
    async fn persist(
        &self,
        pair: &ResolvedPair,
        plans: &[&Plan],
        cause: Cause,
    ) -> anyhow::Result<()> {
        let now = now_ms();
        // Records with open issues, read once: only they (and records with
        // a refusal now) touch the issues table in the commit below.
        let with_issues: std::collections::HashSet<String> = self
            .store
            .open_issues(Some(pair.name()))
            .await?
            .into_iter()
            .filter(|i| i.scope == IssueScope::Record)
            .map(|i| i.subject)
            .collect();
        let mut tx = self.store.begin().await?;
        for plan in plans {
            if let (Some(snapshot), Some(state)) = (&plan.snapshot, plan.state) {
                let source = if plan.writes() > 0 {
                    SyncSource::Service
                } else {
                    source_of(plan)
                };
                tx.upsert_link(
                    &LinkUpsert {
                        pair: pair.name().to_owned(),
                        notion_page_id: plan.page_id.clone(),
                        airtable_record_id: plan.record_id.clone(),
                        snapshot: snapshot.clone(),
                        sync_source: source,
                        state,
                        notion_last_edited: None,
                        airtable_modified: None,
                    },
                    now,
                )
                .await?;
            }
            let entries: Vec<NewLogEntry> = plan
                .changes
                .iter()
                .map(|c| log_entry(pair, plan, c, cause, now))
                .collect();
            if !entries.is_empty() {
                tx.append_log(&entries).await?;
            }
            if !plan.refused.is_empty() || with_issues.contains(&plan.page_id) {
                record_refusals(&mut tx, pair, plan, now).await?;
            }
        }
        crate::jobs::fence::check(&mut tx).await?;
        tx.commit().await?;
        count_committed(plans);
        Ok(())
    }
}

/// The committed plans' writes and resolved conflicts, for the metrics.
fn count_committed(plans: &[&Plan]) {
    for plan in plans {
        let notion = u64::from(plan.notion != NotionWrite::None);
        let airtable = u64::from(plan.airtable != AirtableWrite::None);
        crate::metrics::writes(crate::metrics::Side::Notion, notion);
        crate::metrics::writes(crate::metrics::Side::Airtable, airtable);
        let conflicts = plan.changes.iter().filter(|c| c.conflict).count();
        crate::metrics::conflicts(u64::try_from(conflicts).unwrap_or(u64::MAX));
    }
}

/// The record's refused values become its open issues (logged when new);
/// what it no longer refuses is cleared. Only a linked record has issues.
async fn record_refusals(
    tx: &mut crate::store::Tx,
    pair: &ResolvedPair,
    plan: &Plan,
    now: i64,
) -> anyhow::Result<()> {
    if plan.snapshot.is_none() {
        return Ok(());
    }
    let keep: Vec<&str> = plan.refused.iter().map(|r| r.field.as_str()).collect();
    tx.clear_issues_except(pair.name(), IssueScope::Record, &plan.page_id, &keep)
        .await?;
    for refusal in &plan.refused {
        let issue = NewIssue {
            pair: pair.name(),
            scope: IssueScope::Record,
            subject: &plan.page_id,
            field: &refusal.field,
            message: &refusal.message,
        };
        if tx.raise_issue(&issue, now).await? {
            tracing::warn!(
                pair = pair.name(),
                page_id = %plan.page_id,
                field = %refusal.field,
                "{}",
                refusal.message
            );
        }
    }
    Ok(())
}

/// A Notion write that renamed the page changed its URL: send the new one to
/// Airtable with the record's other changes (or on its own).
fn carry_new_url(pair: &ResolvedPair, plan: &mut Plan, url: Option<String>) {
    let (Some(field), Some(url)) = (&pair.config.airtable_notion_url_field, url) else {
        return;
    };
    if plan.notion_url.as_deref() == Some(url.as_str()) {
        return;
    }
    let stamp = |fields: &mut Map<String, Json>| {
        fields.insert(field.clone(), Json::String(url.clone()));
        if let Some(synced) = &pair.config.airtable_last_synced_field {
            let now = super::value::format_instant(OffsetDateTime::now_utc());
            fields.insert(synced.clone(), Json::String(now));
        }
    };
    match &mut plan.airtable {
        AirtableWrite::Upsert(fields) | AirtableWrite::Update { fields, .. } => stamp(fields),
        AirtableWrite::Delete { .. } => {}
        AirtableWrite::None => {
            if let Some(record_id) = plan.record_id.clone() {
                let mut fields = Map::new();
                stamp(&mut fields);
                plan.airtable = AirtableWrite::Update { record_id, fields };
            }
        }
    }
    plan.notion_url = Some(url);
}

/// The vendor's message of a refusal.
fn error_message(error: &ApiError) -> String {
    match error {
        ApiError::Fatal { code, message, .. } => format!("{code}: {message}"),
        other => other.to_string(),
    }
}

/// The sent property a Notion validation message names, e.g.
/// `body.properties.Website.url.length should be ≤ 2000` or
/// `Invalid status value for property 'Status'`; the longest match wins.
fn named_property<'a>(message: &str, keys: impl Iterator<Item = &'a String>) -> Option<String> {
    keys.filter(|k| {
        [
            format!("properties.{k}."),
            format!("'{k}'"),
            format!("\"{k}\""),
            format!("`{k}`"),
        ]
        .iter()
        .any(|form| message.contains(form.as_str()))
    })
    .max_by_key(|k| k.len())
    .cloned()
}

/// Mark one property of a Notion write as refused (a mapped field; the
/// service's own record-id property has no snapshot to keep).
fn refuse(pair: &ResolvedPair, plan: &mut Plan, key: &str, why: &str) {
    if let Some(field) = pair.fields.iter().find(|f| f.notion == key) {
        plan.refuse_notion_field(&field.notion, why);
    }
}

/// Who changed the record, when the service wrote nothing.
fn source_of(plan: &Plan) -> SyncSource {
    match plan.changes.iter().find_map(|c| c.winner) {
        Some(Side::Airtable) => SyncSource::Airtable,
        _ => SyncSource::Notion,
    }
}

fn log_entry(pair: &ResolvedPair, plan: &Plan, c: &Change, cause: Cause, now: i64) -> NewLogEntry {
    let json = |v: &Option<super::value::Value>| {
        v.as_ref()
            .map(|v| serde_json::to_value(v).expect("values serialize"))
    };
    NewLogEntry {
        at: now,
        pair: pair.name().to_owned(),
        notion_page_id: Some(plan.page_id.clone()),
        airtable_record_id: plan.record_id.clone(),
        action: match c.what {
            ChangeKind::Create => LogAction::Create,
            ChangeKind::Update => LogAction::Update,
            ChangeKind::Archive => LogAction::Archive,
            ChangeKind::Restore => LogAction::Restore,
            ChangeKind::Delete => LogAction::Delete,
            ChangeKind::Link => LogAction::Link,
            ChangeKind::Skip => LogAction::Skip,
        },
        field: c.field.clone(),
        old_value: json(&c.old),
        new_value: json(&c.new),
        direction: match c.to {
            Some(Side::Airtable) => SyncDirection::NotionToAirtable,
            Some(Side::Notion) => SyncDirection::AirtableToNotion,
            None => SyncDirection::Neither,
        },
        cause,
        conflict: c.conflict,
        winner: c.winner.map(|w| match w {
            Side::Notion => LogSide::Notion,
            Side::Airtable => LogSide::Airtable,
        }),
        detail: c.detail.clone(),
        job_id: None,
    }
}

/// A readable line per write, for `--dry-run`.
fn describe(plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    match &plan.airtable {
        AirtableWrite::None => {}
        AirtableWrite::Upsert(f) => out.push(format!(
            "Airtable: create row for page {} with {}",
            plan.page_id,
            Json::Object(f.clone())
        )),
        AirtableWrite::Update { record_id, fields } => out.push(format!(
            "Airtable: update {record_id} with {}",
            Json::Object(fields.clone())
        )),
        AirtableWrite::Delete { record_id } => out.push(format!("Airtable: delete {record_id}")),
    }
    match &plan.notion {
        NotionWrite::None => {}
        NotionWrite::Update {
            page_id,
            properties,
        } => out.push(format!(
            "Notion: update {page_id} with {}",
            Json::Object(properties.clone())
        )),
        NotionWrite::Trash { page_id } => out.push(format!("Notion: trash {page_id}")),
    }
    out
}

/// Both sides as read by a sweep.
struct SideSnapshot {
    /// Pages the data source query returned.
    pages: Vec<Page>,
    /// Pages read one by one (trashed, moved, or the other side of a changed row).
    extra_pages: Vec<Page>,
    records: Vec<Record>,
    /// Links by Notion page id.
    links: HashMap<String, RecordLink>,
    /// A full read: rows missing from `records` were deleted.
    full: bool,
}

/// The page id a row carries in its link field (canonical dashed form), if
/// the cell holds one. A cell holding something else (a pasted URL, a name)
/// counts as no id here; [`bad_link_cell`] reports it.
fn page_id_of(pair: &ResolvedPair, record: &Record) -> Option<String> {
    let cell = link_cell(pair, record)?;
    crate::notion::canonical_id(cell)
}

/// The link cell's text, if not blank.
fn link_cell<'a>(pair: &ResolvedPair, record: &'a Record) -> Option<&'a str> {
    record
        .fields
        .get(pair.page_id_field())
        .and_then(Json::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The link cell's text when it is not a Notion page id. Such a row is left
/// exactly as it is (never adopted, matched or rewritten: the cell is a
/// person's) and reported until someone fixes the cell.
fn bad_link_cell<'a>(pair: &ResolvedPair, record: &'a Record) -> Option<&'a str> {
    link_cell(pair, record).filter(|cell| crate::notion::canonical_id(cell).is_none())
}

/// The Airtable record id a page carries in its `record_id_property`.
fn record_id_of(pair: &ResolvedPair, page: &Page) -> Option<String> {
    let name = pair.config.notion_record_id_property.as_ref()?;
    let id = page.property(name)?.plain_text();
    (!id.trim().is_empty()).then(|| id.trim().to_owned())
}

/// The rows linked or planned for a page.
fn claimed_records(snap: &SideSnapshot, plans: &[Plan]) -> Vec<String> {
    snap.links
        .values()
        .filter_map(|l| l.airtable_record_id.clone())
        .chain(plans.iter().filter_map(|p| p.record_id.clone()))
        .collect()
}

/// Rows no page claims: no page id in the row, no link, no plan, no match.
fn rows_without_page<'a>(
    pair: &ResolvedPair,
    snap: &'a SideSnapshot,
    claimed: &std::collections::HashSet<String>,
) -> Vec<&'a Record> {
    snap.records
        .iter()
        .filter(|r| link_cell(pair, r).is_none() && !claimed.contains(&r.id))
        .collect()
}

/// Plan the pages of a sweep that `include` selects, matching rows to pages
/// by link, by the id in the row, and on first contact by the configured key
/// (judged against every page read so far).
fn plan_all(
    pair: &ResolvedPair,
    snap: &SideSnapshot,
    now: OffsetDateTime,
    include: impl Fn(&Page) -> bool,
) -> Vec<Plan> {
    let records_by_id: HashMap<&str, &Record> =
        snap.records.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut records_by_page: HashMap<String, &Record> = HashMap::new();
    for r in &snap.records {
        if let Some(p) = page_id_of(pair, r) {
            records_by_page.entry(p).or_insert(r);
        }
    }
    let mut matches = key_matches(pair, snap, &records_by_page);
    let mut plans = Vec::new();
    for page in snap
        .pages
        .iter()
        .chain(&snap.extra_pages)
        .filter(|p| include(p))
    {
        let link = snap.links.get(&page.id);
        let record = match link.and_then(|l| l.airtable_record_id.as_deref()) {
            Some(id) => records_by_id.get(id).copied().or_else(|| {
                // Incremental reads do not see unchanged rows: absence is not deletion.
                (!snap.full)
                    .then(|| records_by_page.get(&page.id).copied())
                    .flatten()
            }),
            None => records_by_page
                .get(&page.id)
                .copied()
                .or_else(|| {
                    // A page carrying a row's id claims it only while the row
                    // names no page (a copied page must not steal its row).
                    record_id_of(pair, page)
                        .and_then(|id| records_by_id.get(id.as_str()).copied())
                        .filter(|r| link_cell(pair, r).is_none())
                })
                .or_else(|| matches.remove(&page.id)),
        };
        if !snap.full && link.is_some_and(|l| l.airtable_record_id.is_some()) && record.is_none() {
            continue; // the row was not read this time; a full sweep decides.
        }
        if link.is_none()
            && record.is_none()
            && matches.contains_key(&format!("ambiguous:{}", page.id))
        {
            continue;
        }
        plans.push(plan_page(pair, page, record, link, now));
    }
    plans
}

/// The `match_key` values of rows that name no page (trimmed, non-empty):
/// the only rows a page can be matched to on first contact.
fn unlinked_row_keys(pair: &ResolvedPair, records: &[Record]) -> std::collections::HashSet<String> {
    let Some(key) = &pair.config.options.match_key else {
        return Default::default();
    };
    records
        .iter()
        .filter(|r| link_cell(pair, r).is_none())
        .filter_map(|r| r.fields.get(&key.airtable).and_then(Json::as_str))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A page's `match_key` value (trimmed), if a key is configured and set.
fn page_key(pair: &ResolvedPair, page: &Page) -> Option<String> {
    let key = pair.config.options.match_key.as_ref()?;
    let value = page.property(&key.notion).map(|v| v.plain_text())?;
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// First contact: pages with no link and no row carrying their id, matched to
/// rows with an empty link field by the configured key (exact after trimming).
/// Only one-to-one matches are used; ambiguous keys are marked and skipped.
fn key_matches<'a>(
    pair: &ResolvedPair,
    snap: &'a SideSnapshot,
    records_by_page: &HashMap<String, &'a Record>,
) -> HashMap<String, &'a Record> {
    let mut out = HashMap::new();
    let Some(key) = &pair.config.options.match_key else {
        return out;
    };
    let mut rows: BTreeMap<String, Vec<&Record>> = BTreeMap::new();
    for r in snap.records.iter().filter(|r| link_cell(pair, r).is_none()) {
        if let Some(k) = r
            .fields
            .get(&key.airtable)
            .and_then(Json::as_str)
            .map(str::trim)
            .filter(|k| !k.is_empty())
        {
            rows.entry(k.to_owned()).or_default().push(r);
        }
    }
    if rows.is_empty() {
        return out;
    }
    let mut pages: BTreeMap<String, Vec<&Page>> = BTreeMap::new();
    for p in snap
        .pages
        .iter()
        .filter(|p| !snap.links.contains_key(&p.id) && !records_by_page.contains_key(&p.id))
    {
        let k = p
            .property(&key.notion)
            .map(|v| v.plain_text())
            .unwrap_or_default();
        if !k.trim().is_empty() {
            pages.entry(k.trim().to_owned()).or_default().push(p);
        }
    }
    for (k, ps) in pages {
        match (ps.as_slice(), rows.get(&k).map(Vec::as_slice)) {
            ([page], Some([row])) => {
                out.insert(page.id.clone(), *row);
            }
            (_, Some(rs)) => {
                tracing::warn!(pair = pair.name(), key = %k, pages = ps.len(), rows = rs.len(), "ambiguous first-contact match: left unlinked");
                for p in ps {
                    out.insert(format!("ambiguous:{}", p.id), rs[0]);
                }
            }
            _ => {}
        }
    }
    out
}

fn ms_to_time(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

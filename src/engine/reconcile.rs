//! One record or one sweep, from a job or the command line: claim the
//! record, read both sides, plan, execute, persist.

use time::OffsetDateTime;

use crate::sync::{pair::ResolvedPair, plan::plan_page_with};
use crate::{
    airtable::{ListParams, Record},
    clients::api_error::ApiError,
    store::{Cause, RecordLink, SweepKind, now_ms},
};

use super::{
    Engine, INCREMENTAL_OVERLAP, Summary, SweepOptions, claims,
    matching::{SideSnapshot, claimed_records, ms_to_time, page_id_of, plan_all},
};

impl Engine {
    /// Sweep one pair: full (both sides completely, deletions detected) or
    /// incremental (only what changed since the previous sweep; a first
    /// sweep is always full).
    pub async fn sweep(&self, pair: &ResolvedPair, opts: SweepOptions) -> anyhow::Result<Summary> {
        // Record claims: the writes skip records other jobs hold or wrote
        // after this sweep's read (engine::claims).
        let work = self.sweep_in_scope(pair, opts);
        self.scoped(claims::Mode::Sweep, work).await
    }

    pub(super) async fn sweep_in_scope(
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
                let mut snapshot = self
                    .read_changed(pair, ms_to_time(since) - INCREMENTAL_OVERLAP)
                    .await?;
                self.sync_snapshot(pair, &mut snapshot, opts, started)
                    .await?
            }
            None => self.full_sweep(pair, opts, started).await?,
        };
        if !opts.dry_run {
            let result = serde_json::to_value(&summary)?;
            // Pages left unwritten because their plans grew stale were read
            // before this sweep started: the mark stays where it was so that
            // the next sweep reads them again.
            let high_water = if summary.pages_stale > 0 {
                since
            } else {
                Some(started.unix_timestamp() * 1000)
            };
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
        // job runs again shortly (engine::claims).
        let work = async {
            self.claim_page_before_read(pair, page_id).await?;
            self.reconcile_page_claimed(pair, page_id, cause).await
        };
        self.scoped(claims::Mode::Record, work).await
    }

    pub(super) async fn reconcile_page_claimed(
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
        let snapshot = link.as_ref().map(|l| &l.snapshot);
        let mut relations = self
            .relation_index(pair, [&page], record.as_ref(), snapshot)
            .await?;
        let row = record.as_ref().zip(snapshot);
        self.mark_deleted_targets(pair, row, &mut relations).await?;
        let plan = plan_page_with(
            pair,
            &page,
            record.as_ref(),
            link.as_ref(),
            OffsetDateTime::now_utc(),
            &relations,
        );
        let Some(plan) = self
            .scope_one(pair, &page, record, link.as_ref(), plan)
            .await?
        else {
            tracing::info!(
                pair = pair.name(),
                page_id = %page.id,
                "out of the pair's scope and never linked: nothing written"
            );
            return Ok(Summary::default());
        };
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
        // runs again shortly (engine::claims).
        let work = async {
            let row = vec![claims::row_key(record_id)];
            self.claim_before_read(pair, row).await?;
            self.reconcile_record_claimed(pair, record_id, cause).await
        };
        self.scoped(claims::Mode::Record, work).await
    }

    pub(super) async fn reconcile_record_claimed(
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
                if pair.scope.is_none() {
                    self.adopt_rows(pair, std::slice::from_ref(&record), opts, &mut summary)
                        .await?;
                    return Ok(summary);
                }
                // Under a scope: adopted only if Airtable judges it in,
                // after looking for its page out of the Notion scope.
                let vote = self.row_vote(pair, Some(&record.id)).await?;
                let mut snap = SideSnapshot {
                    pages: Vec::new(),
                    extra_pages: Vec::new(),
                    settled: Default::default(),
                    row_votes: [(record.id.clone(), vote == Some(true))].into(),
                    records: vec![record],
                    links: Default::default(),
                    full: false,
                    relations: Default::default(),
                };
                let now = OffsetDateTime::now_utc();
                self.adopt_orphans(pair, &mut snap, Default::default(), opts, now, &mut summary)
                    .await?;
                Ok(summary)
            }
        }
    }

    /// The linked record, or a row already carrying this page's id (a crash
    /// after an upsert and before the link was stored).
    pub(super) async fn find_record(
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
    pub(super) async fn sync_snapshot(
        &self,
        pair: &ResolvedPair,
        snap: &mut SideSnapshot,
        opts: SweepOptions,
        started: OffsetDateTime,
    ) -> anyhow::Result<Summary> {
        if !opts.dry_run {
            self.report_bad_links(pair, &snap.records, false).await?;
        }
        self.read_sweep_bodies(pair, snap, 0).await?;
        snap.read_relations(self, pair).await?;
        let plans = plan_all(pair, snap, started, |_| true);
        let plans = self
            .match_entering_pages(pair, snap, plans, started)
            .await?;
        let claimed = claimed_records(snap, &plans).into_iter().collect();
        let mut summary = self.run_plans(pair, plans, opts).await?;
        summary.pages_read = snap
            .pages
            .iter()
            .chain(&snap.extra_pages)
            .map(|p| p.id.clone())
            .collect();
        self.adopt_orphans(pair, snap, claimed, opts, started, &mut summary)
            .await?;
        Ok(summary)
    }
}

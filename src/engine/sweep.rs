//! What a sweep reads: every page and row (full) or only what changed since
//! the previous sweep (incremental), the links, and the rows whose link
//! cell a person filled with something that is not a page id.

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::sync::pair::ResolvedPair;
use crate::{
    airtable::{ListParams, Record},
    clients::{api_error::ApiError, pipeline::pipelined},
    notion::Page,
    store::{IssueScope, LinkState, NewIssue, RecordLink, now_ms},
};

use super::{
    Engine, Summary, SweepOptions,
    matching::{
        SideSnapshot, bad_link_cell, claimed_records, page_id_of, page_key, plan_all,
        unlinked_row_keys,
    },
    scope::{scoped_pages, scoped_rows},
};

impl Engine {
    /// Read both sides completely, writing as the Notion query pages arrive:
    /// every row and link is read first, then each page of a hundred Notion
    /// pages is planned and written while the next hundred are fetched, so
    /// that the (slower) Airtable writes overlap the Notion reads. A page whose
    /// `match_key` value an unlinked row carries (first contact, where
    /// duplicate keys must be seen to be refused) waits for the end, with
    /// the pages the query did not return and the rows no page claims.
    pub(super) async fn full_sweep(
        &self,
        pair: &ResolvedPair,
        opts: SweepOptions,
        started: OffsetDateTime,
    ) -> anyhow::Result<Summary> {
        // Under a scope only the records in it are listed (engine::scope).
        let records = self
            .list_rows(pair, &scoped_rows(pair, &ListParams::default()))
            .await?;
        if !opts.dry_run {
            let all_rows = !pair.scope.as_ref().is_some_and(|s| s.judges_airtable());
            self.report_bad_links(pair, &records, all_rows).await?;
        }
        let mut snap = SideSnapshot {
            pages: Vec::new(),
            records,
            links: self.all_links(pair).await?,
            full: true,
            extra_pages: Vec::new(),
            settled: Default::default(),
            row_votes: Default::default(),
            relations: Default::default(),
        };
        self.read_linked_rows_out_of_scope(pair, &mut snap).await?;
        // The rows' relations now, the pages' as each hundred is read.
        snap.read_relations(self, pair).await?;
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
        let mut claimed = std::collections::HashSet::new();
        let mut query = crate::notion::Query {
            filter: scoped_pages(pair, None),
            ..crate::notion::Query::default()
        };
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
            self.read_sweep_bodies(pair, &mut snap, first_new).await?;
            snap.read_relations_from(self, pair, first_new).await?;
            let ready: std::collections::HashSet<String> = snap.pages[first_new..]
                .iter()
                .filter(|p| decided_early(p, &snap.links))
                .map(|p| p.id.clone())
                .collect();
            ready_plans = plan_all(pair, &snap, started, |p| ready.contains(&p.id));
            ready_plans = self
                .match_entering_pages(pair, &mut snap, ready_plans, started)
                .await?;
            claimed.extend(claimed_records(&snap, &ready_plans));
            // Planned pages live on in their plans; the snapshot keeps their ids.
            snap.settle(pair, &ready);
            match next {
                Some(cursor) => query.start_cursor = Some(cursor),
                None => break,
            }
        }
        summary.absorb(self.run_plans(pair, ready_plans, opts).await?);
        self.fetch_missing_pages(pair, &mut snap).await?;
        snap.read_relations(self, pair).await?;
        let plans = plan_all(pair, &snap, started, |p| !snap.settled.contains_key(&p.id));
        let plans = self
            .match_entering_pages(pair, &mut snap, plans, started)
            .await?;
        claimed.extend(claimed_records(&snap, &plans));
        summary.absorb(self.run_plans(pair, plans, opts).await?);
        self.adopt_orphans(pair, &mut snap, claimed, opts, started, &mut summary)
            .await?;
        Ok(summary)
    }

    /// Raise an issue for each row whose link cell is not a Notion id (new
    /// ones are logged once), and clear the issues of rows read here whose
    /// cell is fine now; `all_rows` (a full read) also clears the issues of
    /// rows that are gone. Returns how many of `records` are bad.
    pub(super) async fn report_bad_links(
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
    pub(super) async fn read_changed(
        &self,
        pair: &ResolvedPair,
        since: OffsetDateTime,
    ) -> anyhow::Result<SideSnapshot> {
        let filter = crate::notion::last_edited_on_or_after(since);
        let pages = self
            .query_all_pages(pair, scoped_pages(pair, Some(filter)))
            .await?;
        let stamp = crate::sync::value::format_instant(since);
        let params = ListParams {
            filter_by_formula: Some(format!(
                "IS_AFTER(LAST_MODIFIED_TIME(), DATETIME_PARSE('{stamp}'))"
            )),
            ..ListParams::default()
        };
        let mut records = self.list_rows(pair, &scoped_rows(pair, &params)).await?;
        // The scoped listing's rows are in scope; rows read by id below are
        // of unknown scope (their plans run without crossing it).
        let row_votes = if pair.scope.as_ref().is_some_and(|s| s.judges_airtable()) {
            records.iter().map(|r| (r.id.clone(), true)).collect()
        } else {
            Default::default()
        };
        let links = self.all_links(pair).await?;
        let have: std::collections::HashSet<String> =
            records.iter().map(|r| r.id.clone()).collect();
        let wanted: Vec<String> = pages
            .iter()
            .filter_map(|p| links.get(&p.id).and_then(|l| l.airtable_record_id.clone()))
            .filter(|id| !have.contains(id))
            .collect();
        // A hundred ids per listing: one page of the answer.
        for chunk in wanted.chunks(crate::airtable::MAX_PAGE_SIZE) {
            records.extend(self.rows_by_id(pair, chunk).await?);
        }
        let mut snap = SideSnapshot {
            pages,
            records,
            links,
            full: false,
            extra_pages: Vec::new(),
            settled: Default::default(),
            row_votes,
            relations: Default::default(),
        };
        self.fetch_missing_pages(pair, &mut snap).await?;
        snap.read_relations(self, pair).await?;
        Ok(snap)
    }

    pub(super) async fn all_links(
        &self,
        pair: &ResolvedPair,
    ) -> anyhow::Result<HashMap<String, RecordLink>> {
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
    pub(super) async fn fetch_missing_pages(
        &self,
        pair: &ResolvedPair,
        snap: &mut SideSnapshot,
    ) -> anyhow::Result<()> {
        let seen = snap.queried_ids();
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
                    && crate::sync::plan::archived(pair, Some(record))
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
        let wanted = self.take_from_a_query(pair, snap, wanted).await?;
        let reads = pipelined(wanted, |id| async move {
            Ok::<_, ApiError>((self.read_page(pair, &id).await, id))
        })
        .await?;
        for (read, id) in reads {
            match read {
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

    /// Many linked pages the incremental query did not return (rows edited
    /// in bulk in Airtable, their pages not): one query of the database, a
    /// hundred pages a call, costs less than a read each. The pages it
    /// returns join `extra_pages`; the others (trashed, moved, out of scope)
    /// are still read one by one.
    async fn take_from_a_query(
        &self,
        pair: &ResolvedPair,
        snap: &mut SideSnapshot,
        wanted: Vec<String>,
    ) -> anyhow::Result<Vec<String>> {
        let query_calls = snap
            .links
            .len()
            .div_ceil(crate::notion::query::MAX_PAGE_SIZE as usize);
        if snap.full || wanted.len() <= query_calls.max(1) {
            return Ok(wanted);
        }
        let mut wanted: std::collections::HashSet<String> = wanted.into_iter().collect();
        let pages = self.query_all_pages(pair, scoped_pages(pair, None)).await?;
        for page in pages {
            if wanted.remove(&page.id) {
                snap.extra_pages.push(page);
            }
        }
        let mut rest: Vec<String> = wanted.into_iter().collect();
        rest.sort();
        Ok(rest)
    }
}

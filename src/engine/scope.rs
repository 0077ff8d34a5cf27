//! Selective sync's reads: a pair's scope on the wire (the Notion query's
//! `filter`, Airtable's `view` and `filterByFormula`), so records out of
//! scope cost no reads, and the one-record questions a job asks (is this
//! row in the Airtable scope?). What the scope means for a plan is pure:
//! [`crate::sync::scope`].

use std::collections::{HashMap, HashSet};

use serde_json::{Value as Json, json};

use time::OffsetDateTime;

use super::{
    Engine, Summary, SweepOptions,
    matching::{SideSnapshot, adoptable, page_key, plan_all, record_id_of, rows_without_page},
    wire::formula_string,
};
use crate::sync::{
    pair::ResolvedPair,
    plan::{AirtableWrite, Plan},
    scope::Crossing,
};
use crate::{
    airtable::{ListParams, Record},
    clients::api_error::ApiError,
    notion::Page,
    store::{LinkState, RecordLink},
};

/// `params` narrowed to the pair's Airtable scope (view and formula).
pub(super) fn scoped_rows(pair: &ResolvedPair, params: &ListParams) -> ListParams {
    let mut params = params.clone();
    let Some(scope) = pair.scope.as_ref() else {
        return params;
    };
    params.view.clone_from(&scope.airtable_view);
    params.filter_by_formula = match (params.filter_by_formula.take(), &scope.airtable_formula) {
        (Some(a), Some(b)) => Some(format!("AND({a}, {b})")),
        (a, b) => a.or_else(|| b.clone()),
    };
    params
}

/// `filter` narrowed to the pair's Notion scope. The scope's own filter is
/// at most one level deep below its top `and` (`sync::scope_filter`), so
/// joining adds no level Notion would refuse.
pub(super) fn scoped_pages(pair: &ResolvedPair, filter: Option<Json>) -> Option<Json> {
    let scope = pair.scope.as_ref().and_then(|s| s.notion_filter.clone());
    match (filter, scope) {
        (Some(f), Some(s)) => {
            let mut items = vec![f];
            match s.get("and").and_then(Json::as_array) {
                Some(list) => items.extend(list.iter().cloned()),
                None => items.push(s),
            }
            Some(json!({ "and": items }))
        }
        (f, s) => f.or(s),
    }
}

/// Airtable's vote on each row a sweep read: `true` for rows the scoped
/// listing returned; `false` for linked rows it did not return (read by id
/// in a full sweep); rows not in the map are unknown (read by id in an
/// incremental sweep). Empty when Airtable has no conditions.
pub(super) type RowVotes = HashMap<String, bool>;

impl Engine {
    /// Airtable's vote on one row (`None`: Airtable has no conditions).
    pub(super) async fn row_vote(
        &self,
        pair: &ResolvedPair,
        record_id: Option<&str>,
    ) -> Result<Option<bool>, ApiError> {
        let Some(scope) = pair.scope.as_ref().filter(|s| s.judges_airtable()) else {
            return Ok(None);
        };
        let Some(id) = record_id else {
            return Ok(Some(false));
        };
        let params = ListParams {
            filter_by_formula: Some(scope.row_formula(id)),
            view: scope.airtable_view.clone(),
            page_size: Some(1),
            ..ListParams::default()
        };
        let page = self.list_rows_page(pair, &params).await?;
        Ok(Some(page.records.iter().any(|r| r.id == id)))
    }

    /// A full sweep under an Airtable scope read only the rows in scope; a
    /// linked row it did not return is out of scope (or deleted). Read those
    /// by id, fifty per call, so that absence is never taken for a delete.
    pub(super) async fn read_linked_rows_out_of_scope(
        &self,
        pair: &ResolvedPair,
        snap: &mut SideSnapshot,
    ) -> anyhow::Result<()> {
        if !pair.scope.as_ref().is_some_and(|s| s.judges_airtable()) {
            return Ok(());
        }
        for r in &snap.records {
            snap.row_votes.insert(r.id.clone(), true);
        }
        let have: HashSet<&str> = snap.records.iter().map(|r| r.id.as_str()).collect();
        let mut wanted: Vec<String> = snap
            .links
            .values()
            .filter(|l| l.state != LinkState::AirtableDeleted)
            .filter_map(|l| l.airtable_record_id.clone())
            .filter(|id| !have.contains(id.as_str()))
            .collect();
        wanted.sort();
        for chunk in wanted.chunks(50) {
            let rows = self.rows_by_id(pair, chunk).await?;
            for r in &rows {
                snap.row_votes.insert(r.id.clone(), false);
            }
            snap.records.extend(rows);
        }
        Ok(())
    }

    /// Rows by id, whatever the scope.
    pub(super) async fn rows_by_id(
        &self,
        pair: &ResolvedPair,
        ids: &[String],
    ) -> Result<Vec<crate::airtable::Record>, ApiError> {
        let ids: Vec<String> = ids
            .iter()
            .map(|id| format!("RECORD_ID() = '{id}'"))
            .collect();
        let params = ListParams {
            filter_by_formula: Some(format!("OR({})", ids.join(", "))),
            ..ListParams::default()
        };
        self.list_rows(pair, &params).await
    }
}

impl Engine {
    /// Pages entering the scope that would create a row: their row may
    /// exist where this run did not look (out of an Airtable scope, or not
    /// read at all by a record job or an incremental sweep). Look for such rows by the page's `match_key` value and
    /// the row id in `record_id_property`, and plan those pages again
    /// with them, so an entering page is linked, never duplicated (a row
    /// carrying the page id needs no look: the create is an upsert on it).
    pub(super) async fn match_entering_pages(
        &self,
        pair: &ResolvedPair,
        snap: &mut SideSnapshot,
        plans: Vec<Plan>,
        now: OffsetDateTime,
    ) -> anyhow::Result<Vec<Plan>> {
        // A full sweep without an Airtable scope read every row already.
        let read_all = snap.full && !pair.scope.as_ref().is_some_and(|s| s.judges_airtable());
        if pair.scope.is_none() || read_all {
            return Ok(plans);
        }
        let creating: HashSet<String> = plans
            .iter()
            .filter(|p| {
                p.crossing == Some(Crossing::Enter)
                    && matches!(p.airtable, AirtableWrite::Upsert(_))
            })
            .map(|p| p.page_id.clone())
            .collect();
        let key_field = pair
            .config
            .options
            .match_key
            .as_ref()
            .map(|k| k.airtable.as_str());
        let mut terms = Vec::new();
        for page in snap.pages.iter().filter(|p| creating.contains(&p.id)) {
            if let (Some(field), Some(key)) = (key_field, page_key(pair, page)) {
                let live = pair.wire.live_name(field);
                terms.push(format!("{{{live}}} = '{}'", formula_string(&key)));
            }
            if let Some(id) = record_id_of(pair, page) {
                terms.push(format!("RECORD_ID() = '{}'", formula_string(&id)));
            }
        }
        let mut found = Vec::new();
        for chunk in terms.chunks(30) {
            let params = ListParams {
                filter_by_formula: Some(format!("OR({})", chunk.join(", "))),
                ..ListParams::default()
            };
            found.extend(self.list_rows(pair, &params).await?);
        }
        let have: HashSet<String> = snap.records.iter().map(|r| r.id.clone()).collect();
        let found: Vec<_> = found
            .into_iter()
            .filter(|r| !have.contains(&r.id))
            .collect();
        if found.is_empty() {
            return Ok(plans);
        }
        for r in &found {
            snap.row_votes.insert(r.id.clone(), false);
        }
        snap.records.extend(found);
        let mut plans: Vec<Plan> = plans
            .into_iter()
            .filter(|p| !creating.contains(&p.page_id))
            .collect();
        snap.read_relations(self, pair).await?;
        plans.extend(plan_all(pair, snap, now, |p| creating.contains(&p.id)));
        Ok(plans)
    }

    /// Rows entering the scope without a page: their page may exist where
    /// this run did not look (out of a Notion scope, or not read at all by
    /// a record job or an incremental sweep). Find
    /// such pages by the row's `match_key` value or by the row id in
    /// `record_id_property`, add them to what was read and return their
    /// plans (each row then links to its page instead of getting a new
    /// one).
    pub(super) async fn match_entering_rows(
        &self,
        pair: &ResolvedPair,
        snap: &mut SideSnapshot,
        rows: &[Record],
        now: OffsetDateTime,
    ) -> anyhow::Result<Vec<Plan>> {
        // A full sweep without a Notion scope read every page already.
        let read_all = snap.full && !pair.scope.as_ref().is_some_and(|s| s.judges_notion());
        if rows.is_empty() || pair.scope.is_none() || read_all {
            return Ok(Vec::new());
        }
        let key = pair.config.options.match_key.as_ref();
        let mut terms = Vec::new();
        for row in rows {
            let value = key
                .and_then(|k| row.fields.get(&k.airtable))
                .and_then(Json::as_str);
            if let (Some(k), Some(v)) = (key, value.map(str::trim).filter(|v| !v.is_empty())) {
                let id = pair.wire.notion_key(&k.notion);
                // The filter's type key names the property's type.
                let title = pair
                    .fields
                    .iter()
                    .any(|f| f.notion == k.notion && f.notion_type == "title");
                let kind = if title { "title" } else { "rich_text" };
                terms.push(json!({"property": id, kind: {"equals": v}}));
            }
            if let Some(name) = &pair.config.notion_record_id_property {
                let id = pair.wire.notion_key(name);
                terms.push(json!({"property": id, "rich_text": {"equals": row.id}}));
            }
        }
        let seen: HashSet<String> = snap.queried_ids().into_iter().map(str::to_owned).collect();
        let mut found: Vec<Page> = Vec::new();
        for chunk in terms.chunks(50) {
            let filter = json!({ "or": chunk });
            let pages = self.query_all_pages(pair, Some(filter)).await?;
            found.extend(pages.into_iter().filter(|p| !seen.contains(&p.id)));
        }
        found.sort_by(|a, b| a.id.cmp(&b.id));
        found.dedup_by(|a, b| a.id == b.id);
        let ids: HashSet<String> = found.iter().map(|p| p.id.clone()).collect();
        snap.pages.extend(found);
        snap.read_relations(self, pair).await?;
        Ok(plan_all(pair, snap, now, |p| ids.contains(&p.id)))
    }
}

impl Engine {
    /// Rows no page claims: those the scope lets in are first matched to a
    /// page out of the Notion scope (`match_entering_rows`), the rest
    /// adopted (`engine::adopt`); rows the scope leaves out are left alone.
    pub(super) async fn adopt_orphans(
        &self,
        pair: &ResolvedPair,
        snap: &mut SideSnapshot,
        mut claimed: HashSet<String>,
        opts: SweepOptions,
        now: OffsetDateTime,
        summary: &mut Summary,
    ) -> anyhow::Result<()> {
        let entering: Vec<Record> = rows_without_page(pair, snap, &claimed)
            .into_iter()
            .filter(|r| adoptable(pair, snap, r))
            .cloned()
            .collect();
        let plans = self.match_entering_rows(pair, snap, &entering, now).await?;
        claimed.extend(plans.iter().filter_map(|p| p.record_id.clone()));
        summary.absorb(self.run_plans(pair, plans, opts).await?);
        let orphans: Vec<Record> = entering
            .into_iter()
            .filter(|r| !claimed.contains(&r.id))
            .collect();
        self.adopt_rows(pair, &orphans, opts, summary).await
    }
}

impl Engine {
    /// One record's plan (a webhook's job) under the pair's scope: Notion's
    /// vote judged on the page read, Airtable's asked of the API (one
    /// listing by record id, view and formula). An entering page that
    /// would create a row is first matched to a row out of the scope.
    pub(super) async fn scope_one(
        &self,
        pair: &ResolvedPair,
        page: &Page,
        record: Option<Record>,
        link: Option<&RecordLink>,
        plan: Plan,
    ) -> anyhow::Result<Option<Plan>> {
        if pair.scope.is_none() {
            return Ok(Some(plan));
        }
        let row_in = self
            .row_vote(pair, record.as_ref().map(|r| r.id.as_str()))
            .await?;
        let Some(plan) = crate::sync::scope::apply(pair, page, record.as_ref(), link, row_in, plan)
        else {
            return Ok(None);
        };
        let mut snap = SideSnapshot {
            pages: vec![page.clone()],
            extra_pages: Vec::new(),
            settled: Default::default(),
            records: record.into_iter().collect(),
            links: link
                .map(|l| (l.notion_page_id.clone(), l.clone()))
                .into_iter()
                .collect(),
            full: false,
            row_votes: Default::default(),
            relations: Default::default(),
        };
        if let Some(r) = snap.records.first() {
            snap.row_votes.insert(r.id.clone(), row_in == Some(true));
        }
        let mut plans = self
            .match_entering_pages(pair, &mut snap, vec![plan], OffsetDateTime::now_utc())
            .await?;
        Ok(plans.pop())
    }
}

//! Executing plans: Airtable first (batched by 10), then Notion (one page
//! at a time); a refused value is salvaged field by field and reported,
//! never retried into a loop.

use std::collections::HashMap;

use serde_json::{Map, Value as Json};
use time::OffsetDateTime;

use crate::sync::{
    pair::ResolvedPair,
    plan::{AirtableWrite, ChangeKind, NotionWrite, Plan},
};
use crate::{
    clients::api_error::ApiError,
    store::{IssueScope, NewIssue, now_ms},
    sync::merge::Side,
};

use super::{
    Engine, SchemaMoved, Summary, SweepOptions,
    matching::page_id_of,
    persist::{crossing_line, describe},
};

impl Engine {
    /// Execute plans: Airtable writes batched ten per request, Notion writes
    /// one per page, then every snapshot and log entry in one transaction.
    pub(super) async fn run_plans(
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
        // written; released once committed (engine::claims).
        let (mut plans, claimed) = self.claim_plans(pair, plans, opts, &mut summary).await?;
        // The delete review queue: held, approved or rejected deletes.
        self.review_deletes(pair, &mut plans).await?;
        for plan in &plans {
            summary.count(plan);
        }
        if opts.dry_run {
            summary.planned_writes = plans.iter().flat_map(describe).collect();
            summary.scope_changes = plans.iter().filter_map(crossing_line).collect();
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
    pub(super) async fn confirm_airtable_empties(
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
                    && c.new
                        .as_ref()
                        .is_some_and(crate::sync::value::Value::is_empty)
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
    pub(super) async fn write_airtable(
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
    pub(super) async fn write_notion(
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
    pub(super) async fn raise_row_refusal(
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
    pub(super) async fn salvage_notion_write(
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
}

/// A Notion write that renamed the page changed its URL: send the new one to
/// Airtable with the record's other changes (or on its own).
pub(super) fn carry_new_url(pair: &ResolvedPair, plan: &mut Plan, url: Option<String>) {
    let (Some(field), Some(url)) = (&pair.config.airtable_notion_url_field, url) else {
        return;
    };
    if plan.notion_url.as_deref() == Some(url.as_str()) {
        return;
    }
    let stamp = |fields: &mut Map<String, Json>| {
        fields.insert(field.clone(), Json::String(url.clone()));
        if let Some(synced) = &pair.config.airtable_last_synced_field {
            let now = crate::sync::value::format_instant(OffsetDateTime::now_utc());
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
pub(super) fn error_message(error: &ApiError) -> String {
    match error {
        ApiError::Fatal { code, message, .. } => format!("{code}: {message}"),
        other => other.to_string(),
    }
}

/// The sent property a Notion validation message names, e.g.
/// `body.properties.Website.url.length should be ≤ 2000` or
/// `Invalid status value for property 'Status'`; the longest match wins.
pub(super) fn named_property<'a>(
    message: &str,
    keys: impl Iterator<Item = &'a String>,
) -> Option<String> {
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
pub(super) fn refuse(pair: &ResolvedPair, plan: &mut Plan, key: &str, why: &str) {
    if let Some(field) = pair.fields.iter().find(|f| f.notion == key) {
        plan.refuse_notion_field(&field.notion, why);
    }
}

//! The I/O behind relation fields ([`crate::sync::relation`]): complete
//! lists read through Notion's property-item endpoint, the target pairs'
//! links looked up before planning, and the records waiting for a related
//! record re-planned once it is linked.
//!
//! Why a wait table rather than a retry: a related record may stay unlinked
//! for a long time (its page is outside the target pair's scope, or a person
//! has not finished it), so retrying the waiting record on a timer would
//! either spin or give up. Instead the commit that refuses the write records
//! what it waits for (`relation_waits`), and the commit that links the
//! target, in the same transaction as the link, queues a reconcile of every
//! record waiting for it: nothing is lost if a process dies in between, and
//! nothing runs before it can succeed. A full sweep plans every record again
//! too, so a wait can never be the only way back.

use serde_json::{Value as Json, json};

use super::Engine;
use crate::{
    airtable::Record,
    clients::api_error::ApiError,
    jobs::spec::{JobSpec, Trigger},
    notion::Page,
    store::{LinkState, RelationWait, Snapshot, StoreError, Tx},
    sync::{
        convert::Kind,
        pair::ResolvedPair,
        plan::Plan,
        relation::{RelationIndex, airtable_ids, notion_ids},
        value::Value,
    },
};
use std::collections::BTreeSet;

impl Engine {
    /// Replace every truncated relation of `page` (more than 25 references:
    /// `has_more`) by its whole list, read through the property-item endpoint.
    pub(super) async fn complete_relations(
        &self,
        pair: &ResolvedPair,
        page: &mut Page,
    ) -> Result<(), ApiError> {
        for field in pair.fields.iter().filter(|f| f.kind == Kind::Relation) {
            let Some(property) = page.properties.get(&field.notion) else {
                continue;
            };
            if property.raw["has_more"] != Json::Bool(true) {
                continue;
            }
            let ids = self.notion.relation_ids(&page.id, &property.id).await?;
            let refs: Vec<Json> = ids.iter().map(|id| json!({ "id": id })).collect();
            if let Some(property) = page.properties.get_mut(&field.notion) {
                property.raw["relation"] = Json::Array(refs);
                property.raw["has_more"] = Json::Bool(false);
            }
        }
        Ok(())
    }

    /// The target pairs' links of every id the relation fields of these
    /// pages, rows and snapshots name (a snapshot's ids tell which related
    /// records are gone on one side: `sync::relation::keep_gone`).
    /// Public so that a test can plan a record exactly as the engine does.
    pub async fn relation_index<'a>(
        &self,
        pair: &ResolvedPair,
        pages: impl IntoIterator<Item = &'a Page>,
        records: impl IntoIterator<Item = &'a Record>,
        snapshots: impl IntoIterator<Item = &'a Snapshot>,
    ) -> Result<RelationIndex, StoreError> {
        let mut index = RelationIndex::default();
        let fields: Vec<_> = pair
            .fields
            .iter()
            .filter(|f| f.kind == Kind::Relation)
            .filter_map(|f| Some((f, f.relation_target.as_deref()?)))
            .collect();
        if fields.is_empty() {
            return Ok(index);
        }
        let pages: Vec<&Page> = pages.into_iter().collect();
        let records: Vec<&Record> = records.into_iter().collect();
        let snapshots: Vec<&Snapshot> = snapshots.into_iter().collect();
        for (field, target) in fields {
            let mut page_ids: BTreeSet<String> = pages
                .iter()
                .filter_map(|p| p.property(&field.notion))
                .flat_map(|p| notion_ids(&p.raw))
                .collect();
            page_ids.extend(
                snapshots
                    .iter()
                    .flat_map(|s| snapshot_ids(s, &field.notion)),
            );
            for id in page_ids {
                let Some(link) = self.store.get_link_by_page(target, &id).await? else {
                    continue;
                };
                let targets = index.field_mut(&field.notion);
                if let Some(rec) = &link.airtable_record_id {
                    targets.insert(&link.notion_page_id, rec);
                }
                match link.state {
                    LinkState::AirtableDeleted => targets.mark_gone(&id, true),
                    LinkState::NotionTrashed | LinkState::NotionMoved => {
                        targets.mark_gone(&id, false);
                    }
                    LinkState::Active => {}
                }
            }
            let record_ids = records
                .iter()
                .flat_map(|r| airtable_ids(r.fields.get(&field.airtable)));
            for rec in record_ids {
                if let Some(link) = self.store.get_link_by_record(target, &rec).await? {
                    index
                        .field_mut(&field.notion)
                        .insert(&link.notion_page_id, &rec);
                }
            }
        }
        Ok(index)
    }
}

impl Engine {
    /// Mark as gone in Airtable every related row a record's snapshot holds
    /// that is missing from the record's cell because it was deleted, when
    /// its own pair has not seen the delete yet (its link is still active).
    ///
    /// Why: Airtable drops a deleted record from every link cell by itself,
    /// so the cell looks as if a person had removed the reference; until the
    /// target pair's next sync records the delete, the merge would carry
    /// that "removal" to Notion and erase a reference nobody removed. Only a
    /// reference that left a cell is checked (one read of the row each,
    /// once per call), so a relation nobody touched costs nothing.
    pub async fn mark_deleted_targets<'a>(
        &self,
        pair: &ResolvedPair,
        rows: impl IntoIterator<Item = (&'a Record, &'a Snapshot)>,
        index: &mut RelationIndex,
    ) -> Result<(), ApiError> {
        let fields: Vec<_> = pair
            .fields
            .iter()
            .filter(|f| f.kind == Kind::Relation && f.relation_target.is_some())
            .filter_map(|f| {
                let table = f.airtable_options.as_ref()?["linkedTableId"].as_str()?;
                Some((f, table.to_owned()))
            })
            .collect();
        if fields.is_empty() {
            return Ok(());
        }
        let base = &pair.config.airtable_base_id;
        let mut checked: BTreeSet<String> = BTreeSet::new();
        for (record, snapshot) in rows {
            for (field, table) in &fields {
                let cell: BTreeSet<String> = airtable_ids(record.fields.get(&field.airtable))
                    .into_iter()
                    .collect();
                for page in snapshot_ids(snapshot, &field.notion) {
                    let Some(targets) = index.field(&field.notion) else {
                        break;
                    };
                    let Some(rec) = targets.record_of(&page).map(str::to_owned) else {
                        continue;
                    };
                    if cell.contains(&rec)
                        || targets.gone_in_airtable(&page)
                        || !checked.insert(rec.clone())
                    {
                        continue;
                    }
                    match self.airtable.get_record(base, table, &rec).await {
                        Err(e) if e.is_not_found() => {
                            index.field_mut(&field.notion).mark_gone(&page, true);
                        }
                        Err(e) => return Err(e),
                        Ok(_) => {}
                    }
                }
            }
        }
        Ok(())
    }
}

impl Engine {
    /// The target links of the record ids in a webhook payload's cells
    /// (keyed by field id), so that the echo of the service's own link-cell
    /// write is recognised as one.
    pub(super) async fn payload_index(
        &self,
        pair: &ResolvedPair,
        cells: Option<&serde_json::Map<String, Json>>,
    ) -> Result<RelationIndex, StoreError> {
        let mut index = RelationIndex::default();
        let Some(cells) = cells else {
            return Ok(index);
        };
        for field in pair.fields.iter().filter(|f| f.kind == Kind::Relation) {
            let Some(target) = field.relation_target.as_deref() else {
                continue;
            };
            for rec in airtable_ids(cells.get(&field.airtable_id)) {
                if let Some(link) = self.store.get_link_by_record(target, &rec).await? {
                    index
                        .field_mut(&field.notion)
                        .insert(&link.notion_page_id, &rec);
                }
            }
        }
        Ok(index)
    }
}

/// The page ids a snapshot holds for a relation field.
fn snapshot_ids(snapshot: &Snapshot, field: &str) -> Vec<String> {
    let value: Option<Value> = snapshot
        .get(field)
        .and_then(|v| serde_json::from_value(v.clone()).ok());
    match value {
        Some(Value::Set(ids)) => ids,
        _ => Vec::new(),
    }
}

/// In the commit of `plan`: store what its relations wait for, and queue a
/// reconcile of every record that waited for this one (now linked).
pub(super) async fn commit_waits(
    tx: &mut Tx,
    pair: &ResolvedPair,
    plan: &Plan,
    now: i64,
) -> Result<(), StoreError> {
    if plan.snapshot.is_none() {
        return Ok(());
    }
    let mut waits = Vec::new();
    let mut linked_meanwhile = false;
    for (target_pair, target_id) in &plan.waiting {
        // Linked since this plan read the links (by an earlier plan of the
        // same commit): nothing will announce it again, so re-plan now.
        let link = if target_id.starts_with("rec") {
            tx.get_link_by_record(target_pair, target_id).await?
        } else {
            tx.get_link_by_page(target_pair, target_id).await?
        };
        if link.is_some_and(|l| l.airtable_record_id.is_some()) {
            linked_meanwhile = true;
            continue;
        }
        waits.push(RelationWait {
            target_pair: target_pair.clone(),
            target_id: target_id.clone(),
        });
    }
    tx.set_relation_waits(pair.name(), &plan.page_id, &waits, now)
        .await?;
    if linked_meanwhile {
        enqueue_reconcile(tx, pair.name().to_owned(), plan.page_id.clone(), now).await?;
    }
    // A record already linked was never waited for; only a new (or
    // returning) link can end a wait.
    if plan.previous_state == Some(LinkState::Active) || plan.state != Some(LinkState::Active) {
        return Ok(());
    }
    linked(tx, pair, &plan.page_id, plan.record_id.as_deref(), now).await
}

/// A link of `pair` was stored in `tx` (a plan's commit, or a page created
/// for a row): queue a reconcile of every record waiting for either side.
pub(super) async fn linked(
    tx: &mut Tx,
    pair: &ResolvedPair,
    page_id: &str,
    record_id: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    let mut ids = vec![page_id];
    ids.extend(record_id);
    for waiter in tx.take_relation_waiters(pair.name(), &ids).await? {
        enqueue_reconcile(tx, waiter.pair, waiter.notion_page_id, now).await?;
    }
    Ok(())
}

async fn enqueue_reconcile(
    tx: &mut Tx,
    pair: String,
    page_id: String,
    now: i64,
) -> Result<(), StoreError> {
    // A sweep trigger: the work is a re-plan, not a reaction to an edit.
    let spec = JobSpec::ReconcilePage {
        pair,
        page_id,
        trigger: Trigger::Sweep,
    };
    tx.enqueue(&spec.to_new_job(now), now).await?;
    Ok(())
}

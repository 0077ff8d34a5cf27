//! Airtable webhook payloads → reconcile jobs.
//!
//! A ping only says "something changed". The payloads job drains the
//! webhook's payloads from the stored cursor, turns every created, changed or
//! destroyed row of the pair's table into one reconcile job (coalesced by
//! record), and saves the new cursor in the same transaction as the jobs, so
//! a crash either keeps both or neither.
//!
//! Echoes: a change made through the public API by the service's own user,
//! whose mapped values all equal the stored snapshot, is the service's own
//! write coming back and creates no job. A gap in the cursor (payloads purged
//! after 7 days, or otherwise lost) or an error payload means changes were
//! missed: a full sweep of the pair is queued instead of guessing.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use super::Engine;
use crate::sync::{
    convert::{Kind, from_airtable},
    pair::ResolvedPair,
    relation::{self, RelationIndex},
    value::Value,
};
use crate::{
    airtable::{Payload, Source, TableChanged},
    jobs::spec::{JobSpec, Trigger},
    store::{AirtableWebhook, NewJob, RecordLink, now_ms},
};

/// What one drain did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DrainOutcome {
    pub payloads: usize,
    /// Reconcile jobs queued (after coalescing).
    pub jobs: usize,
    /// Rows whose change was the service's own write.
    pub echoes: usize,
    /// A gap or an error payload: a full sweep was queued.
    pub full_sweep: bool,
    /// A payload reported a field created, changed (renamed, retyped) or
    /// destroyed in the pair's table: the pair must be resolved again.
    pub schema_changed: bool,
    pub cursor: u64,
}

impl Engine {
    /// Drain `webhook`'s payloads, queue the reconciles, store the cursor.
    /// `service_user_id` is the Airtable user behind the service's token;
    /// `run_at` is when the queued jobs become due (debounce).
    pub async fn drain_airtable_webhook(
        &self,
        pair: &ResolvedPair,
        webhook: &AirtableWebhook,
        service_user_id: &str,
        run_at: i64,
    ) -> anyhow::Result<DrainOutcome> {
        let cursor = u64::try_from(webhook.cursor).unwrap_or(1).max(1);
        let drain = self
            .airtable
            .drain_payloads(&webhook.base_id, &webhook.webhook_id, cursor)
            .await?;
        let mut outcome = DrainOutcome {
            payloads: drain.payloads.len(),
            cursor: drain.cursor,
            ..DrainOutcome::default()
        };
        let mut jobs: BTreeMap<String, NewJob> = BTreeMap::new();
        // Keys of jobs for rows destroyed (a later payload may edit it again).
        let mut destroyed = std::collections::BTreeSet::new();
        if let Some(gap) = drain.gap {
            tracing::warn!(pair = pair.name(), webhook = %webhook.webhook_id, missed = gap.missed, "Airtable payloads were missed: queueing a full sweep");
            outcome.full_sweep = true;
        }
        for payload in &drain.payloads {
            if let Some(code) = payload.error_code() {
                tracing::warn!(pair = pair.name(), webhook = %webhook.webhook_id, code, "Airtable error payload: queueing a full sweep");
                outcome.full_sweep = true;
                continue;
            }
            let Some(changes) = payload.changed_tables_by_id.get(&pair.table_id) else {
                continue;
            };
            if touches_fields(changes) {
                outcome.schema_changed = true;
            }
            for (record_id, cells) in touched_rows(changes) {
                let link = self
                    .store
                    .get_link_by_record(pair.name(), record_id)
                    .await?;
                let relations = self.payload_index(pair, cells).await?;
                let echo = is_echo(
                    pair,
                    payload,
                    service_user_id,
                    link.as_ref(),
                    cells,
                    &relations,
                );
                if echo {
                    outcome.echoes += 1;
                    continue;
                }
                if let Some(spec) = reconcile_spec(pair, record_id, link.as_ref(), cells.is_none())
                {
                    if cells.is_none() {
                        destroyed.insert(spec.key());
                    }
                    jobs.insert(spec.key(), spec.to_new_job(run_at));
                }
            }
        }
        if outcome.full_sweep {
            let sweep = JobSpec::Sweep {
                pair: pair.name().to_owned(),
                full: true,
            };
            jobs.insert(sweep.key(), sweep.to_new_job(now_ms()));
        } else {
            batch_a_bulk_edit(pair, &mut jobs, &destroyed, run_at);
        }
        let jobs: Vec<NewJob> = jobs.into_values().collect();
        outcome.jobs = jobs.len();
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        tx.enqueue_many(&jobs, now).await?;
        tx.set_webhook_cursor(&webhook.webhook_id, i64::try_from(drain.cursor)?, now)
            .await?;
        self.fence(&mut tx).await?;
        tx.commit().await?;
        Ok(outcome)
    }
}

/// Record jobs from one drain beyond which an incremental sweep is cheaper.
pub const BULK_RECORDS: usize = 100;

/// A paste or a bulk edit in Airtable touches many rows at once: one
/// reconcile job each would read every row and page one by one (two reads
/// per record). Past [`BULK_RECORDS`], one incremental sweep replaces the
/// jobs of edited and created rows: it lists what changed since the last
/// sweep, a hundred rows per call, and the pages in as few calls
/// (`engine::sweep`). Rows destroyed keep their jobs: a listing cannot see
/// what is gone.
fn batch_a_bulk_edit(
    pair: &ResolvedPair,
    jobs: &mut BTreeMap<String, NewJob>,
    destroyed: &std::collections::BTreeSet<String>,
    run_at: i64,
) {
    let edited: Vec<String> = jobs
        .keys()
        .filter(|key| !destroyed.contains(*key))
        .cloned()
        .collect();
    if edited.len() <= BULK_RECORDS {
        return;
    }
    for key in &edited {
        jobs.remove(key);
    }
    tracing::info!(
        pair = pair.name(),
        records = edited.len(),
        "a bulk edit in Airtable: one incremental sweep instead of a job per record"
    );
    let sweep = JobSpec::Sweep {
        pair: pair.name().to_owned(),
        full: false,
    };
    jobs.insert(sweep.key(), sweep.to_new_job(run_at));
}

/// The change alters the table's fields (`tableFields` payloads).
fn touches_fields(changes: &TableChanged) -> bool {
    !changes.created_fields_by_id.is_empty()
        || !changes.changed_fields_by_id.is_empty()
        || !changes.destroyed_field_ids.is_empty()
}

/// Every row the table change touches, with its current cells (`None` for a
/// destroyed row).
fn touched_rows(changes: &TableChanged) -> Vec<(&str, Option<&Map<String, Json>>)> {
    let created = changes
        .created_records_by_id
        .iter()
        .map(|(id, r)| (id.as_str(), Some(&r.cell_values_by_field_id)));
    let changed = changes
        .changed_records_by_id
        .iter()
        .map(|(id, r)| (id.as_str(), Some(&r.current.cell_values_by_field_id)));
    let destroyed = changes
        .destroyed_record_ids
        .iter()
        .map(|id| (id.as_str(), None));
    created.chain(changed).chain(destroyed).collect()
}

/// The service's own write coming back: made through the API by the
/// service's user, and every mapped value it carries equals the snapshot.
fn is_echo(
    pair: &ResolvedPair,
    payload: &Payload,
    service_user_id: &str,
    link: Option<&RecordLink>,
    cells: Option<&Map<String, Json>>,
    relations: &RelationIndex,
) -> bool {
    let by_service =
        payload.source() == Some(&Source::PublicApi) && payload.user_id() == Some(service_user_id);
    let (Some(link), Some(cells)) = (link, cells) else {
        return false;
    };
    by_service
        && pair.live_fields().all(|f| match cells.get(&f.airtable_id) {
            None => true,
            Some(cell) => {
                let stored: Option<Value> = link
                    .snapshot
                    .get(&f.notion)
                    .and_then(|v| serde_json::from_value(v.clone()).ok());
                let read = match f.kind {
                    // Record ids as the pages they are linked to.
                    Kind::Relation => Some(relation::read_airtable(
                        Some(cell),
                        relations.field(&f.notion),
                    )),
                    _ => from_airtable(Some(cell), f.kind).ok(),
                };
                read == stored
            }
        })
}

/// The job for one touched row: keyed by its page when linked, so both sides
/// of a record never run at once. A destroyed row nobody linked needs nothing.
fn reconcile_spec(
    pair: &ResolvedPair,
    record_id: &str,
    link: Option<&RecordLink>,
    destroyed: bool,
) -> Option<JobSpec> {
    match (link, destroyed) {
        (Some(l), _) => Some(JobSpec::ReconcilePage {
            pair: pair.name().to_owned(),
            page_id: l.notion_page_id.clone(),
            trigger: Trigger::Webhook,
        }),
        (None, true) => None,
        (None, false) => Some(JobSpec::ReconcileRecord {
            pair: pair.name().to_owned(),
            record_id: record_id.to_owned(),
            trigger: Trigger::Webhook,
        }),
    }
}

//! The commit after the writes: snapshots, links, the sync log and the
//! record's open issues in one transaction, fenced by the job's lease.

use serde_json::Value as Json;

use crate::sync::{
    pair::ResolvedPair,
    plan::{AirtableWrite, Change, ChangeKind, NotionWrite, Plan},
    scope::Crossing,
};
use crate::{
    store::{
        Cause, IssueScope, LinkUpsert, LogAction, NewIssue, NewLogEntry, Side as LogSide,
        SyncDirection, SyncSource, now_ms,
    },
    sync::merge::Side,
};

use super::Engine;

impl Engine {
    /// Store every plan's link, snapshot and log entries in one transaction.
    pub(super) async fn persist(
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
        let run_id = super::claims::current().ok().map(|s| s.run_id);
        let job_id = self.lease.as_ref().map(|l| l.job_id);
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
                .map(|c| NewLogEntry {
                    job_id,
                    run_id: run_id.clone(),
                    ..log_entry(pair, plan, c, cause, now)
                })
                .collect();
            if !entries.is_empty() {
                tx.append_log(&entries).await?;
            }
            if plan.unlink {
                // Left the scope: the link goes, both sides stay (sync::scope).
                tx.delete_link(pair.name(), &plan.page_id).await?;
            }
            if !plan.refused.is_empty() || with_issues.contains(&plan.page_id) {
                record_refusals(&mut tx, pair, plan, now).await?;
            }
            super::review::commit_review(&mut tx, pair, plan, cause, self.job_id(), now).await?;
            super::relations::commit_waits(&mut tx, pair, plan, now).await?;
        }
        self.fence(&mut tx).await?;
        tx.commit().await?;
        count_committed(plans);
        log_crossings(pair, plans);
        Ok(())
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

/// Who changed the record, when the service wrote nothing.
fn source_of(plan: &Plan) -> SyncSource {
    match plan.changes.iter().find_map(|c| c.winner) {
        Some(Side::Airtable) => SyncSource::Airtable,
        _ => SyncSource::Notion,
    }
}

pub(super) fn log_entry(
    pair: &ResolvedPair,
    plan: &Plan,
    c: &Change,
    cause: Cause,
    now: i64,
) -> NewLogEntry {
    let json = |v: &Option<crate::sync::value::Value>| {
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
        run_id: None,
        undoes: c.undoes,
    }
}

/// A readable line per write, for `--dry-run`.
pub(super) fn describe(plan: &Plan) -> Vec<String> {
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

/// For `--dry-run`: the record entering or leaving the scope, if it does.
pub(super) fn crossing_line(plan: &Plan) -> Option<String> {
    let row = plan.record_id.as_deref().unwrap_or("none yet");
    let what = match plan.crossing? {
        Crossing::Enter => "enter",
        Crossing::Leave if plan.airtable == AirtableWrite::None => {
            "leave (unlinked, both sides left as they are)"
        }
        Crossing::Leave => "leave (row archived, then unlinked)",
    };
    Some(format!("{what}: page {} / row {row}", plan.page_id))
}

/// One log line per record that entered or left the scope, saying why
/// (the record-level change's detail starts "entered the scope" or "left
/// the scope (why)").
fn log_crossings(pair: &ResolvedPair, plans: &[&Plan]) {
    for plan in plans.iter().filter(|p| p.crossing.is_some()) {
        let why = plan
            .changes
            .iter()
            .find(|c| c.field.is_none())
            .and_then(|c| c.detail.as_deref())
            .unwrap_or_default();
        let record_id = plan.record_id.as_deref().unwrap_or_default();
        tracing::info!(pair = pair.name(), page_id = %plan.page_id, record_id, "{why}");
    }
}

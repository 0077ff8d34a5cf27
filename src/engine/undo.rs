//! Undo: take logged changes back through the normal engine. The selection
//! and the per-record plans are pure (`sync::undo`); here the log is read,
//! each record is claimed and read fresh, and the plans go through
//! `run_plans` (budgets, Notion then Airtable, the fenced persist) with
//! cause `undo`, under one run id of their own.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use time::OffsetDateTime;

use crate::store::{
    Cause, ClaimOutcome, LogAction, LogEntry, LogSelection, MAX_SELECTED, NewLogEntry,
    SyncDirection, now_ms,
};
use crate::sync::{
    pair::ResolvedPair,
    undo::{
        FieldGroup, FieldOutcome, PageAction, Reverted, SelectionError, Skipped, UndoReport,
        plan_revert, select,
    },
};

use super::{
    Engine, SweepOptions,
    claims::{self, Mode},
};

/// Records claimed, read and written together (one batch of writes).
const RECORDS_PER_BATCH: usize = 50;

impl Engine {
    /// Take back the selected log entries (or, with `dry_run`, say what it
    /// would do and write nothing). An unknown entry or run is an error
    /// that changes nothing.
    pub async fn undo(
        &self,
        pairs: &[Arc<ResolvedPair>],
        selection: &LogSelection,
        dry_run: bool,
    ) -> anyhow::Result<UndoReport> {
        let entries = self.store.select_log(selection).await?;
        check_selected(selection, &entries)?;
        let commits = self.record_actions(&entries).await?;
        let selected = select(&entries, |e| {
            commits
                .get(&commit_key(e))
                .and_then(|actions| {
                    actions
                        .iter()
                        .find(|a| matches!(a, LogAction::Create | LogAction::Restore))
                })
                .copied()
        });
        let engine = match &self.run {
            Some(_) => self.clone(),
            None => self.with_run(super::new_run_id()),
        };
        let mut report = UndoReport {
            run_id: engine.run.clone().filter(|_| !dry_run),
            dry_run,
            selected: entries.len(),
            skipped: selected.skipped,
            ..UndoReport::default()
        };
        let work = async {
            engine
                .undo_groups(pairs, selected.groups, dry_run, &mut report)
                .await?;
            for action in &selected.pages {
                engine
                    .undo_page_move(pairs, action, dry_run, &mut report)
                    .await?;
            }
            Ok(())
        };
        engine.scoped(Mode::Sweep, work).await?;
        Ok(report)
    }

    /// The record-level actions committed with each selected field change.
    async fn record_actions(
        &self,
        entries: &[LogEntry],
    ) -> anyhow::Result<HashMap<(String, String, i64), Vec<LogAction>>> {
        let mut out = HashMap::new();
        for e in entries.iter().filter(|e| e.field.is_some()) {
            let key = commit_key(e);
            if out.contains_key(&key) || key.1.is_empty() {
                continue;
            }
            let actions = self.store.record_actions_at(&key.0, &key.1, key.2).await?;
            out.insert(key, actions);
        }
        Ok(out)
    }

    async fn undo_groups(
        &self,
        pairs: &[Arc<ResolvedPair>],
        groups: Vec<FieldGroup>,
        dry_run: bool,
        report: &mut UndoReport,
    ) -> anyhow::Result<()> {
        let mut by_pair: BTreeMap<String, BTreeMap<String, Vec<FieldGroup>>> = BTreeMap::new();
        for g in groups {
            let records = by_pair.entry(g.pair.clone()).or_default();
            records.entry(g.page_id.clone()).or_default().push(g);
        }
        for (name, records) in by_pair {
            let Some(pair) = pairs.iter().find(|p| p.name() == name) else {
                let why = format!("pair \"{name}\" is not in the mapping file");
                let all = records.values().flatten();
                report
                    .skipped
                    .extend(all.map(|g| Skipped::group(g, why.clone())));
                continue;
            };
            let records: Vec<Vec<FieldGroup>> = records.into_values().collect();
            for batch in records.chunks(RECORDS_PER_BATCH) {
                self.undo_batch(pair, batch, dry_run, report).await?;
            }
        }
        Ok(())
    }

    /// Claim, read and plan each record of the batch, then write them all.
    async fn undo_batch(
        &self,
        pair: &ResolvedPair,
        records: &[Vec<FieldGroup>],
        dry_run: bool,
        report: &mut UndoReport,
    ) -> anyhow::Result<()> {
        let mut plans = Vec::new();
        let mut reverted = Vec::new();
        for groups in records {
            let page_id = &groups[0].page_id;
            if !dry_run && !self.claim_for_undo(pair, page_id).await? {
                let why = "another job is writing this record: run the undo again in a moment";
                report
                    .skipped
                    .extend(groups.iter().map(|g| Skipped::group(g, why)));
                continue;
            }
            let link = self.store.get_link_by_page(pair.name(), page_id).await?;
            let page = match self.read_page(pair, page_id).await {
                Ok(page) => page,
                Err(e) if e.is_not_found() => {
                    let why = "the Notion page is gone (deleted or no longer shared)";
                    report
                        .skipped
                        .extend(groups.iter().map(|g| Skipped::group(g, why)));
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let record = self.find_record(pair, page_id, link.as_ref()).await?;
            let now = OffsetDateTime::now_utc();
            let (plan, outcomes) =
                plan_revert(pair, &page, record.as_ref(), link.as_ref(), groups, now);
            for outcome in outcomes {
                match outcome {
                    FieldOutcome::Revert(r) => reverted.push(r),
                    FieldOutcome::Skip(s) => report.skipped.push(s),
                }
            }
            if plan.writes() > 0 {
                plans.push(plan);
            }
        }
        let opts = SweepOptions {
            full: false,
            dry_run,
            cause: Cause::Undo,
        };
        let summary = self.run_plans(pair, plans, opts).await?;
        report.planned_writes.extend(summary.planned_writes);
        for r in reverted {
            match summary.problems.iter().find(|p| p.contains(&r.page_id)) {
                Some(problem) => report.skipped.push(not_written(&r, problem)),
                None => report.reverted.push(r),
            }
        }
        Ok(())
    }

    /// Claim a record (its page and, when linked, its row) before reading
    /// it; false if another job holds it.
    async fn claim_for_undo(&self, pair: &ResolvedPair, page_id: &str) -> anyhow::Result<bool> {
        let link = self.store.get_link_by_page(pair.name(), page_id).await?;
        let keys = std::iter::once(claims::page_key(page_id))
            .chain(
                link.and_then(|l| l.airtable_record_id)
                    .map(|r| claims::row_key(&r)),
            )
            .collect();
        Ok(self.claim_record(pair, keys, false).await? == ClaimOutcome::Acquired)
    }

    /// Move a page the service trashed back out of the trash (or, undoing
    /// such an undo, into it again), and log it.
    async fn undo_page_move(
        &self,
        pairs: &[Arc<ResolvedPair>],
        action: &PageAction,
        dry_run: bool,
        report: &mut UndoReport,
    ) -> anyhow::Result<()> {
        let skip = |why: &str| Skipped {
            entries: vec![action.entry],
            pair: action.pair.clone(),
            page_id: Some(action.page_id.clone()),
            field: None,
            reason: why.to_owned(),
            notion_now: None,
            airtable_now: None,
        };
        let Some(pair) = pairs.iter().find(|p| p.name() == action.pair) else {
            report
                .skipped
                .push(skip("the pair is not in the mapping file"));
            return Ok(());
        };
        if !dry_run && !self.claim_for_undo(pair, &action.page_id).await? {
            report.skipped.push(skip(
                "another job is writing this record: run the undo again",
            ));
            return Ok(());
        }
        let page = match self.notion.retrieve_page(&action.page_id).await {
            Ok(page) => page,
            Err(e) if e.is_not_found() => {
                report
                    .skipped
                    .push(skip("the Notion page is gone for good"));
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        if page.in_trash != action.restore {
            let why = if action.restore {
                "the page is no longer in the trash"
            } else {
                "the page is in the trash already"
            };
            report.skipped.push(skip(why));
            return Ok(());
        }
        let (verb, done) = if action.restore {
            (
                "restore",
                "restored the Notion page the service had moved to the trash (its Airtable row stays deleted: the page is not synced)",
            )
        } else {
            ("trash", "moved the Notion page back to the trash")
        };
        if dry_run {
            let line = format!("Notion: {verb} page {}", action.page_id);
            report.planned_writes.push(line);
        } else {
            if action.restore {
                self.notion.restore_page(&action.page_id).await?;
            } else {
                self.notion.trash_page(&action.page_id).await?;
            }
            self.log_page_move(pair, action, done).await?;
        }
        report.reverted.push(Reverted {
            entries: vec![action.entry],
            pair: action.pair.clone(),
            page_id: action.page_id.clone(),
            field: None,
            from: None,
            to: None,
        });
        Ok(())
    }

    async fn log_page_move(
        &self,
        pair: &ResolvedPair,
        action: &PageAction,
        done: &str,
    ) -> anyhow::Result<()> {
        let link = self
            .store
            .get_link_by_page(pair.name(), &action.page_id)
            .await?;
        let entry = NewLogEntry {
            at: now_ms(),
            pair: pair.name().to_owned(),
            notion_page_id: Some(action.page_id.clone()),
            airtable_record_id: link.and_then(|l| l.airtable_record_id),
            action: if action.restore {
                LogAction::Restore
            } else {
                LogAction::Delete
            },
            field: None,
            old_value: None,
            new_value: None,
            direction: SyncDirection::AirtableToNotion,
            cause: Cause::Undo,
            conflict: false,
            winner: None,
            detail: Some(format!("undo of entry {}: {done}", action.entry)),
            job_id: self.lease.as_ref().map(|l| l.job_id),
            run_id: self.run.clone(),
            undoes: Some(action.entry),
        };
        let mut tx = self.store.begin().await?;
        tx.append_log(&[entry]).await?;
        self.fence(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

fn commit_key(e: &LogEntry) -> (String, String, i64) {
    let page = e.notion_page_id.clone().unwrap_or_default();
    (e.pair.clone(), page, e.at)
}

/// An unknown entry or run, or too much at once, is refused before
/// anything is read or written.
fn check_selected(selection: &LogSelection, entries: &[LogEntry]) -> Result<(), SelectionError> {
    if entries.len() as i64 > MAX_SELECTED {
        return Err(SelectionError::TooMany(format!(
            "more than {MAX_SELECTED} log entries selected: narrow the undo with --pair or a later --since"
        )));
    }
    match selection {
        LogSelection::Entry(id) if entries.is_empty() => Err(SelectionError::Unknown(format!(
            "no sync log entry {id} (see the ID column of `log`)"
        ))),
        LogSelection::Run(run) if entries.is_empty() => Err(SelectionError::Unknown(format!(
            "no sync log entries of run \"{run}\" (see the RUN column of `log`)"
        ))),
        _ => Ok(()),
    }
}

/// A revert whose write the API refused.
fn not_written(r: &Reverted, problem: &str) -> Skipped {
    Skipped {
        entries: r.entries.clone(),
        pair: r.pair.clone(),
        page_id: Some(r.page_id.clone()),
        field: r.field.clone(),
        reason: format!("the write was refused: {problem}"),
        notion_now: None,
        airtable_now: None,
    }
}

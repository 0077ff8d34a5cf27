//! Executing plans: Notion first (one request per page), then Airtable
//! (batched by 10), each with several requests in flight inside its budget
//! (`clients::pipeline`); a refused value is salvaged field by field and
//! reported, never retried into a loop.

use std::collections::HashMap;

use serde_json::{Map, Value as Json};
use time::OffsetDateTime;

use crate::sync::{
    pair::ResolvedPair,
    plan::{AirtableWrite, ChangeKind, NotionWrite, Plan},
};
use std::time::Duration;

use tokio::time::Instant;

use crate::{
    clients::{api_error::ApiError, http::sent_by, pipeline::pipelined_each},
    notion::Page,
    store::{IssueScope, NewIssue, now_ms},
    sync::merge::Side,
};

use super::{
    Engine, SchemaMoved, Summary, SweepOptions,
    claims::{BUSY_RETRY, Mode, busy},
    matching::page_id_of,
    persist::{crossing_line, describe},
};

tokio::task_local! {
    /// How long after a run starts writing its plans a write may still be
    /// sent ([`with_fresh_writes`]).
    static FRESH_FOR: Duration;
}

/// Run `work` (a sweep) with its writes held to plans at most `fresh_for`
/// old when sent. Neither API has conditional writes: a plan made from a
/// read is written over whatever a person typed since that read. A record
/// job's plan is written within a moment of its read; a sweep's writes go
/// out one budget slot after another, so its last plans can be many seconds
/// old. A write past the limit is not sent: its page is left
/// (`Summary::pages_left`, not logged, not stored) for its own job or the
/// next sweep, which plan it again from a fresh read.
pub async fn with_fresh_writes<F: std::future::Future>(fresh_for: Duration, work: F) -> F::Output {
    FRESH_FOR.scope(fresh_for, work).await
}

/// How long after a record job starts (its claim, then its reads) its
/// writes may still be sent. A record job reads both sides at once and
/// writes right after, so this is only met when the rate budget queues its
/// write behind many others (several replicas on one budget): the job then
/// runs again from a fresh read ([`NotYet`](super::NotYet), no attempt spent)
/// rather than overwrite what a person typed in the meantime.
pub const RECORD_FRESH_FOR: Duration = Duration::from_secs(10);

/// The instant after which this run's writes are not sent: a batch's limit
/// counts from now (its writes start), a record job's from its start.
fn fresh_until() -> Option<Instant> {
    if let Ok(d) = FRESH_FOR.try_with(|d| *d) {
        return Some(Instant::now() + d);
    }
    let scope = super::claims::current().ok()?;
    (scope.mode == Mode::Record).then(|| scope.started + RECORD_FRESH_FOR)
}

/// Whether this run is a record job's (it waits for what holds it back).
fn record_mode() -> bool {
    super::claims::current().is_ok_and(|scope| scope.mode == Mode::Record)
}

fn stale(fresh_until: Option<Instant>) -> bool {
    fresh_until.is_some_and(|t| Instant::now() > t)
}

/// What a run's writes left undone besides refusals: pages whose write was
/// not sent (its plan had grown stale, or an earlier request failed) or met
/// a fault that passes. They are neither logged nor stored, and planned
/// again from fresh reads by their next run; what the other pages' writes
/// did is stored and logged first. A page written in part (its Notion
/// write went out, its Airtable write or its content did not) stores and
/// logs the part written and takes back the rest (`Plan::take_back`): a
/// write made is always in the log, even when the run fails.
#[derive(Default)]
pub(super) struct Undone {
    pages: std::collections::HashSet<String>,
    /// Pages written in part: stored and logged for that part, and planned
    /// again (`Summary::pages_left`) for the rest.
    partly: std::collections::HashSet<String>,
    stale: usize,
    /// The first transient fault: the run's error once the rest is stored.
    error: Option<ApiError>,
}

impl Undone {
    fn contains(&self, page_id: &str) -> bool {
        self.pages.contains(page_id)
    }

    /// One page was written in part; `error` is why the rest was not.
    fn add_partly(&mut self, page_id: &str, error: ApiError) {
        self.pages.remove(page_id);
        self.partly.insert(page_id.to_owned());
        self.error.get_or_insert(error);
    }

    /// One request's pages were not written; `answer` says why.
    fn add<'p>(
        &mut self,
        pages: impl IntoIterator<Item = &'p String>,
        answer: Option<ApiError>,
        was_stale: bool,
    ) {
        for page in pages {
            if self.pages.insert(page.clone()) && was_stale {
                self.stale += 1;
            }
        }
        if let Some(e) = answer {
            self.error.get_or_insert(e);
        }
    }
}

/// How one pipelined write request ended, besides a transient fault.
enum Sent<T> {
    Answered(Result<T, ApiError>),
    /// Not sent: the plan was older than the run allows.
    Stale,
}

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
        if opts.dry_run {
            for plan in &plans {
                summary.count(plan);
            }
            summary.planned_writes = plans.iter().flat_map(describe).collect();
            summary.scope_changes = plans.iter().filter_map(crossing_line).collect();
            return Ok(summary);
        }
        // Notion first: renaming a page changes its URL, which the Airtable
        // write then carries.
        let fresh_until = fresh_until();
        let mut undone = Undone::default();
        let failed_notion = self
            .write_notion(pair, &mut plans, fresh_until, &mut undone, &mut summary)
            .await?;
        for plan in plans
            .iter_mut()
            .filter(|p| failed_notion.contains(&p.page_id) || undone.contains(&p.page_id))
        {
            plan.airtable = AirtableWrite::None;
        }
        let before_airtable = undone.pages.clone();
        let failed = self
            .write_airtable(pair, &mut plans, fresh_until, &mut undone, &mut summary)
            .await?;
        // A page whose Notion half went out keeps it: stored and logged.
        let halves = plans
            .iter_mut()
            .filter(|p| undone.contains(&p.page_id) && !before_airtable.contains(&p.page_id));
        let kept: Vec<String> = halves
            .filter_map(|p| p.keep_only_what_reached_notion().then(|| p.page_id.clone()))
            .collect();
        for page in kept {
            undone.pages.remove(&page);
            undone.partly.insert(page);
        }
        let done: Vec<&Plan> = plans
            .iter()
            .filter(|p| {
                !failed.contains(&p.page_id)
                    && !failed_notion.contains(&p.page_id)
                    && !undone.contains(&p.page_id)
            })
            .collect();
        // A plan not carried out this time is counted by the run that does.
        for plan in plans.iter().filter(|p| !undone.contains(&p.page_id)) {
            summary.count(plan);
        }
        self.persist(pair, &done, opts.cause).await?;
        self.release_claims(pair, &claimed).await;
        summary.pages_left.extend(undone.pages);
        summary.pages_left.extend(undone.partly);
        summary.pages_stale += undone.stale;
        match undone.error {
            Some(e) => Err(e.into()),
            // A record job's stale write: run again from a fresh read.
            None if undone.stale > 0 && record_mode() => Err(busy(
                pair,
                "a write waited too long for the rate budget; reading the record again",
                BUSY_RETRY,
            )),
            None => Ok(summary),
        }
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

    /// Returns the page ids whose Airtable write was refused (Fatal); those
    /// not written for another reason go to `undone`.
    pub(super) async fn write_airtable(
        &self,
        pair: &ResolvedPair,
        plans: &mut [Plan],
        fresh_until: Option<Instant>,
        undone: &mut Undone,
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
        let result = match upserts.is_empty() {
            true => None,
            false => match self.upsert_salvaging(pair, plans, upserts).await {
                Ok(result) => Some(result),
                // What the run's other requests wrote is stored first.
                Err(e) => {
                    let pages: Vec<String> = plans
                        .iter()
                        .filter(|p| matches!(p.airtable, AirtableWrite::Upsert(_)))
                        .map(|p| p.page_id.clone())
                        .collect();
                    undone.add(&pages, Some(e), false);
                    None
                }
            },
        };
        if let Some(result) = result {
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
        // Chunks go out several at a time; a chunk Airtable refuses is
        // answered as a value, so the others still go.
        let chunks: Vec<&[(String, Map<String, Json>)]> = updates
            .chunks(crate::airtable::MAX_RECORDS_PER_WRITE)
            .collect();
        let answers = pipelined_each(chunks.iter().copied(), |chunk| async move {
            if stale(fresh_until) {
                return Ok(Sent::Stale);
            }
            match sent_by(fresh_until, self.update_rows(pair, chunk.to_vec())).await {
                Ok(_) => Ok(Sent::Answered(Ok(()))),
                Err(e) if e.is_not_sent_late() => Ok(Sent::Stale),
                Err(e @ ApiError::Fatal { .. }) => Ok(Sent::Answered(Err(e))),
                Err(e) => Err(e),
            }
        })
        .await;
        let mut refused = Vec::new();
        for (chunk, answer) in chunks.into_iter().zip(answers) {
            let pages = || pages_of(plans, chunk.iter().map(|(id, _)| id.as_str()));
            match answer {
                Some(Ok(Sent::Answered(Ok(())))) => {}
                Some(Ok(Sent::Answered(Err(e)))) => refused.push((chunk, e)),
                Some(Ok(Sent::Stale)) => undone.add(&pages(), None, true),
                Some(Err(e)) => undone.add(&pages(), Some(e), false),
                None => undone.add(&pages(), None, false),
            }
        }
        for (chunk, e) in refused {
            // One bad row must not block the others: retry this chunk row by row.
            tracing::warn!(error = %e, "Airtable refused a batch; writing its rows one by one");
            for (id, fields) in chunk {
                if let Err(e) = self
                    .update_rows(pair, vec![(id.clone(), fields.clone())])
                    .await
                {
                    if !matches!(e, ApiError::Fatal { .. }) {
                        undone.add(&pages_of(plans, [id.as_str()]), Some(e), false);
                        continue;
                    }
                    // A refused collaborator: the row goes again without it.
                    if let Some(plan) = plans
                        .iter_mut()
                        .find(|p| p.record_id.as_deref() == Some(id))
                        && self
                            .salvage_airtable_row(pair, plan, id, fields, &e)
                            .await?
                    {
                        continue;
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
        let deletes: Vec<String> = plans
            .iter()
            .filter_map(|p| match &p.airtable {
                AirtableWrite::Delete { record_id } => Some(record_id.clone()),
                _ => None,
            })
            .collect();
        if !deletes.is_empty()
            && let Err(e) = self.airtable.delete_records(base, table, &deletes).await
        {
            let pages = pages_of(plans, deletes.iter().map(String::as_str));
            undone.add(&pages, Some(e), false);
        }
        Ok(failed)
    }

    /// Notion writes, one request per page, several in flight. Returns the
    /// pages refused (Fatal); those not written for another reason go to
    /// `undone`.
    pub(super) async fn write_notion(
        &self,
        pair: &ResolvedPair,
        plans: &mut [Plan],
        fresh_until: Option<Instant>,
        undone: &mut Undone,
        summary: &mut Summary,
    ) -> anyhow::Result<Vec<String>> {
        // Files new to Notion are uploaded first: the update names them.
        // A page whose upload fails is not written this time. The time the
        // uploads take is added to the writes' limit: a file is sent once,
        // not again on every run that a large upload made late.
        let uploading = Instant::now();
        for plan in plans.iter_mut() {
            if let Err(e) = self.upload_pending_files(pair, plan).await {
                undone.add(std::slice::from_ref(&plan.page_id), Some(e), false);
            }
        }
        let fresh_until = fresh_until.map(|t| t + uploading.elapsed());
        // The page's content goes to its own endpoint, after the properties.
        let mut bodies: Vec<Option<String>> =
            plans.iter_mut().map(super::body::take_body).collect();
        // The property requests go out several at a time; a refusal is
        // answered as a value (handled below, one plan at a time); after any
        // other failure no further request starts, and the pages not
        // written are left undone.
        let writes: Vec<usize> = plans
            .iter()
            .enumerate()
            .filter(|(_, p)| !matches!(p.notion, NotionWrite::None) && !undone.contains(&p.page_id))
            .map(|(i, _)| i)
            .collect();
        let plans_read: &[Plan] = plans;
        let sent = pipelined_each(writes.iter().copied(), |i| async move {
            if stale(fresh_until) {
                return Ok(Sent::Stale);
            }
            match sent_by(
                fresh_until,
                self.send_notion_write(pair, &plans_read[i].notion),
            )
            .await
            {
                Ok(page) => Ok(Sent::Answered(Ok(page))),
                Err(e) if e.is_not_sent_late() => Ok(Sent::Stale),
                Err(e @ ApiError::Fatal { .. }) => Ok(Sent::Answered(Err(e))),
                Err(e) => Err(e),
            }
        })
        .await;
        let mut answers: HashMap<usize, Result<Page, ApiError>> = HashMap::new();
        for (i, answer) in writes.into_iter().zip(sent) {
            let page = [plans[i].page_id.clone()];
            match answer {
                Some(Ok(Sent::Answered(answer))) => {
                    answers.insert(i, answer);
                }
                Some(Ok(Sent::Stale)) => undone.add(&page, None, true),
                Some(Err(e)) => undone.add(&page, Some(e), false),
                None => undone.add(&page, None, false),
            }
        }
        let mut failed = Vec::new();
        for (i, plan) in plans.iter_mut().enumerate() {
            let body = bodies[i].take();
            if undone.contains(&plan.page_id) {
                continue;
            }
            let Some(answer) = answers.remove(&i) else {
                self.finish_body(plan, body, undone, &mut summary.problems)
                    .await;
                continue;
            };
            match answer {
                Ok(page) => {
                    carry_new_url(pair, plan, page.url);
                    self.finish_body(plan, body, undone, &mut summary.problems)
                        .await;
                }
                Err(e @ ApiError::Fatal { status: 400, .. })
                    if matches!(plan.notion, NotionWrite::Update { .. }) =>
                {
                    summary
                        .problems
                        .push(format!("Notion page {}: {e}", plan.page_id));
                    self.salvage_notion_write(pair, plan, &e).await?;
                    self.finish_body(plan, body, undone, &mut summary.problems)
                        .await;
                }
                Err(e) => {
                    summary
                        .problems
                        .push(format!("Notion page {}: {e}", plan.page_id));
                    failed.push(plan.page_id.clone());
                }
            }
        }
        Ok(failed)
    }

    /// Write a page's content after its properties. When that fails with a
    /// fault that passes, the properties written stay (stored, logged) and
    /// the content is taken back, to be planned again; a page with nothing
    /// else written is undone whole.
    async fn finish_body(
        &self,
        plan: &mut Plan,
        body: Option<String>,
        undone: &mut Undone,
        problems: &mut Vec<String>,
    ) {
        let Err(e) = self.write_body(plan, body, problems).await else {
            return;
        };
        plan.take_back(&[crate::sync::body::BODY_FIELD.to_owned()], Side::Notion);
        if plan.changes.iter().any(|c| c.to == Some(Side::Notion)) {
            undone.add_partly(&plan.page_id, e);
        } else {
            undone.add(std::slice::from_ref(&plan.page_id), Some(e), false);
        }
    }

    /// The one request of a plan's Notion write (never called for `None`).
    async fn send_notion_write(
        &self,
        pair: &ResolvedPair,
        write: &NotionWrite,
    ) -> Result<Page, ApiError> {
        match write {
            NotionWrite::Update {
                page_id,
                properties,
            } => self.write_page(pair, page_id, properties).await,
            NotionWrite::Trash { page_id } => self.notion.trash_page(page_id).await,
            NotionWrite::None => unreachable!("plans without a Notion write are filtered out"),
        }
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

/// The pages of the plans writing these Airtable rows.
fn pages_of<'r>(plans: &[Plan], record_ids: impl IntoIterator<Item = &'r str>) -> Vec<String> {
    let ids: std::collections::HashSet<&str> = record_ids.into_iter().collect();
    plans
        .iter()
        .filter(|p| p.record_id.as_deref().is_some_and(|r| ids.contains(r)))
        .map(|p| p.page_id.clone())
        .collect()
}

//! One randomized run: the world, the model, and the engine calls with the
//! checks that follow each of them.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use notion_airtable_sandbox::common::Faults;
use notion_airtable_sync::{
    engine::{Summary, SweepOptions},
    notion::RetryPolicy,
    store::{Cause, LinkState, LogQuery, Side, SyncDirection},
    sync::{
        body,
        plan::{AirtableWrite, NotionWrite, plan_page_with},
        value::Value as Canonical,
    },
};
use rand::{SeedableRng, rngs::StdRng};
use serde_json::Value;
use time::OffsetDateTime;

use super::common::world::World;
use super::epics::{Epic, EpicsWorld, Names};
use super::invariant::{self, Edits, Evidence, Sides};
use super::model::{BODY, EPIC, FIELDS, Link, Rec, Vals, members, set_of};
use super::sides::{PAGE_ID_FIELD, Shape, airtable_vals, notion_vals, snapshot_is};

/// A page's mapped values as a person sees them: its properties and its
/// content (read without counting API calls).
fn notion_side(w: &World, page_id: &str, names: &Names) -> Vals {
    let content = w.notion.content(page_id).expect("the page's content");
    notion_vals(&w.page(page_id), &content, names)
}

/// A planned page update as the engine sends it: the properties, then the
/// content (a pseudo property in the plan) through its own endpoint.
async fn write_page(
    e: &notion_airtable_sync::engine::Engine,
    page_id: &str,
    properties: &serde_json::Map<String, Value>,
) -> Result<(), notion_airtable_sync::clients::api_error::ApiError> {
    let mut properties = properties.clone();
    let content = properties.remove(body::BODY_FIELD);
    if !properties.is_empty() {
        e.notion.update_page(page_id, &properties).await?;
    }
    if let Some(content) = content {
        let markdown = content[body::NOTION_TYPE].as_str().unwrap_or_default();
        e.notion.replace_markdown(page_id, markdown).await?;
    }
    Ok(())
}

/// An engine entry point, on one record or the whole pair.
#[derive(Debug, Clone, Copy)]
pub enum Call {
    Page(usize),
    Record(usize),
    Sweep { full: bool },
}

/// Sandbox faults for one engine call: 5xx at these rates.
#[derive(Debug, Clone, Copy)]
pub struct FaultPlan {
    pub notion: f64,
    pub airtable: f64,
    pub seed: u64,
}

pub struct Run {
    pub w: World,
    pub rng: StdRng,
    pub recs: Vec<Rec>,
    /// The records person edits go to: a subset, so that edits, syncs and
    /// crashes meet on the same records often.
    pub hot: Vec<usize>,
    pub people: Vec<(String, String)>,
    pub seed: u64,
    pub step: usize,
    /// How often each kind of event happened, for the run's report.
    pub stats: BTreeMap<&'static str, usize>,
    pub shape: Shape,
    /// What people typed since each record's sides last agreed, per page.
    pub edits: BTreeMap<String, Edits>,
    /// The epics the relation Epic can name, and their pair.
    pub epics: Vec<Epic>,
    pub ew: EpicsWorld,
    /// The newest sync log entry seen.
    log_mark: i64,
    trace: Vec<String>,
    started: Instant,
}

/// Reads are retried at once (a fault then lands between a call's reads and
/// its writes, or between its writes); writes never are, so an injected
/// fault on a write fails the call like a crash would.
fn test_retry_policy() -> RetryPolicy {
    RetryPolicy {
        rate_limited: 0,
        idempotent_transient: 8,
        transient_backoff: Duration::ZERO,
    }
}

impl Run {
    pub fn new(mut w: World, ew: EpicsWorld, seed: u64, shape: Shape) -> Run {
        w.engine.notion = w
            .engine
            .notion
            .clone()
            .with_retry_policy(test_retry_policy());
        w.engine.airtable = w
            .engine
            .airtable
            .clone()
            .with_retry_policy(test_retry_policy());
        let recs: Vec<Rec> = w
            .team_n
            .page_ids
            .iter()
            .map(|id| {
                let n = notion_side(&w, id, &Names::new());
                Rec::new(id.clone(), n, shape.status_type)
            })
            .collect();
        // The seeded values were typed by people too.
        let edits = recs
            .iter()
            .map(|r| {
                let mut e = Edits::default();
                for (f, v) in &r.n {
                    e.notion(f, v);
                }
                (r.page_id.clone(), e)
            })
            .collect();
        let people = w.team_n.people.clone();
        Run {
            w,
            rng: StdRng::seed_from_u64(seed),
            recs,
            hot: Vec::new(),
            people,
            seed,
            step: 0,
            stats: BTreeMap::new(),
            shape,
            edits,
            epics: Vec::new(),
            ew,
            log_mark: 0,
            trace: Vec::new(),
            started: Instant::now(),
        }
    }

    pub fn count(&mut self, what: &'static str) {
        *self.stats.entry(what).or_default() += 1;
    }

    pub fn note(&mut self, what: String) {
        self.trace.push(format!("step {}: {what}", self.step));
    }

    /// Panic with the seed, the step and the operations that led here.
    pub fn fail(&self, msg: &str) -> ! {
        let from = self.trace.len().saturating_sub(25);
        panic!(
            "seed {} (replay: SYNC_MODEL_SEED={}), step {}, after {:?}: {msg}\n\
             operations on the records named above, and sweeps:\n  {}\n\
             last operations:\n  {}",
            self.seed,
            self.seed,
            self.step,
            self.started.elapsed(),
            self.history_of(msg).join("\n  "),
            self.trace[from..].join("\n  ")
        );
    }

    /// The trace lines that concern the records `msg` names (by page or row
    /// id), and every sweep.
    fn history_of(&self, msg: &str) -> Vec<String> {
        let ids: Vec<&str> = self
            .recs
            .iter()
            .filter(|r| msg.contains(&r.page_id))
            .flat_map(|r| std::iter::once(r.page_id.as_str()).chain(r.row_id.as_deref()))
            .collect();
        self.trace
            .iter()
            .filter(|line| line.contains("Sweep") || ids.iter().any(|id| line.contains(id)))
            .cloned()
            .collect()
    }

    pub fn base_table(&self) -> (String, String) {
        (
            self.w.team_a.base_id.clone(),
            self.w.team_a.table_id.clone(),
        )
    }

    /// Every row, grouped by the page id it carries.
    pub fn rows_by_page(&self) -> BTreeMap<String, Vec<Value>> {
        let mut by_page: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for row in self.w.rows() {
            let Some(page) = row["fields"][PAGE_ID_FIELD].as_str().map(str::to_owned) else {
                self.fail(&format!("a row carries no page id: {row}"));
            };
            by_page.entry(page).or_default().push(row);
        }
        by_page
    }

    // ------------------------------------------------------------ engine calls

    /// Run one engine call, with sandbox faults on for its duration, and
    /// bring the model along: a success reconciles every record the call
    /// covers; a failure must leave each side before or after the sync.
    pub async fn call(&mut self, call: Call, faults: Option<FaultPlan>) {
        let target = match call {
            Call::Page(i) | Call::Record(i) => self.recs[i].page_id.clone(),
            Call::Sweep { .. } => String::new(),
        };
        self.note(format!("engine {call:?} {target} with faults {faults:?}"));
        let before = self.observe();
        let predicted = self.predicted_evidence();
        if let Some(f) = faults {
            self.set_faults(f);
        }
        let result = self.invoke(call).await;
        let succeeded = result.is_ok();
        self.w.notion.set_faults(Faults::default());
        self.w.airtable.set_faults(Faults::default());
        let scope = self.scope(call);
        let incremental = matches!(call, Call::Sweep { full: false });
        match result {
            Ok(summary) => {
                self.count(if faults.is_some() {
                    "faulted calls that succeeded"
                } else {
                    "calls"
                });
                self.succeeded(&scope, incremental, &summary).await;
            }
            Err(e) if faults.is_some() => {
                self.count("faulted calls that failed");
                self.note(format!("  failed as injected: {e}"));
                self.absorb(&scope, incremental).await;
            }
            Err(e) => self.fail(&format!("{call:?} failed without faults: {e:#}")),
        }
        self.check_sides();
        self.check_links(&scope).await;
        // A failed call commits the records it finished (engine::write) and
        // no more: the rest of its decisions are the model's.
        let fallback = if succeeded { None } else { Some(&predicted) };
        let (after, committed) = self.check_nothing_lost(&before, fallback).await;
        if succeeded {
            self.settle(&scope, &after);
        } else {
            self.uncommitted(&before, &after);
            // The records it logged were committed (log lines and snapshot
            // go in one transaction): their agreeing fields are agreed.
            let done: Vec<usize> = scope
                .iter()
                .copied()
                .filter(|&i| committed.contains(&self.recs[i].page_id))
                .collect();
            self.settle(&done, &after);
        }
        self.check_issues().await;
    }

    fn set_faults(&self, f: FaultPlan) {
        let faults = |rate: f64, seed: u64| Faults {
            error_rate: rate,
            seed: Some(seed),
            ..Faults::default()
        };
        self.w.notion.set_faults(faults(f.notion, f.seed));
        self.w
            .airtable
            .set_faults(faults(f.airtable, f.seed ^ 0x5eed));
    }

    async fn invoke(&self, call: Call) -> anyhow::Result<Summary> {
        let (engine, pair) = (&self.w.engine, &self.w.pair);
        match call {
            Call::Page(i) => {
                let page = &self.recs[i].page_id;
                engine.reconcile_page(pair, page, Cause::Webhook).await
            }
            Call::Record(i) => {
                let row = self.recs[i].row_id.as_deref().expect("a row id");
                engine.reconcile_record(pair, row, Cause::Webhook).await
            }
            Call::Sweep { full } => {
                let opts = SweepOptions {
                    full,
                    dry_run: false,
                    cause: Cause::Sweep,
                };
                engine.sweep(pair, opts).await
            }
        }
    }

    fn scope(&self, call: Call) -> Vec<usize> {
        match call {
            Call::Page(i) | Call::Record(i) => vec![i],
            Call::Sweep { .. } => (0..self.recs.len()).collect(),
        }
    }

    async fn succeeded(&mut self, scope: &[usize], incremental: bool, summary: &Summary) {
        if !summary.problems.is_empty() {
            self.fail(&format!("problems reported: {:?}", summary.problems));
        }
        let mut conflicts = Vec::new();
        for &i in scope {
            let (next, fields) = self.reconcile_in(i, incremental, scope.len() > 1).await;
            if next.n != self.recs[i].n {
                self.count("Notion pages changed by syncs");
            }
            if next.a != self.recs[i].a {
                self.count("Airtable rows changed by syncs");
            }
            if fields.contains(&BODY) {
                self.count("page content conflicts");
            }
            if next.waiting {
                self.count("relation writes waiting for an epic");
            }
            conflicts.extend(fields.iter().map(|f| format!("{} {f}", next.page_id)));
            self.recs[i] = next;
        }
        self.learn_row_ids(scope);
        *self.stats.entry("conflicts").or_default() += conflicts.len();
        if summary.conflicts != conflicts.len() {
            self.fail(&format!(
                "the call reported {} conflicts; the model expects {conflicts:?}\n{summary:?}",
                summary.conflicts
            ));
        }
    }

    /// Record `i` after a successful reconcile. In a sweep, an epic whose
    /// row was deleted before the epics pair saw it may already be known
    /// as gone (the sweep's link index is shared by every record it reads:
    /// one row's snapshot that held the epic, its cell without it, tells
    /// all) or not (Airtable refuses the write, the field waits): both keep
    /// every reference, and the store says which one happened.
    async fn reconcile_in(
        &self,
        i: usize,
        incremental: bool,
        sweep: bool,
    ) -> (Rec, Vec<&'static str>) {
        let epics = self.epic_states();
        let unseen = epics.values().any(|e| e.gone_a && !e.known_deleted);
        let plain = self.recs[i].reconciled(incremental, &epics);
        if !sweep || !unseen {
            return plain;
        }
        let mut known = epics.clone();
        for e in known.values_mut() {
            e.known_deleted |= e.gone_a;
        }
        let alt = self.recs[i].reconciled(incremental, &known);
        if alt.0.s != plain.0.s && self.stored_as(&alt.0).await {
            return alt;
        }
        plain
    }

    /// Rows the engine created: their ids, for person edits and reconciles.
    fn learn_row_ids(&mut self, scope: &[usize]) {
        let rows = self.rows_by_page();
        for &i in scope {
            let r = &mut self.recs[i];
            if r.a.is_some() && r.row_id.is_none() {
                r.row_id = rows
                    .get(&r.page_id)
                    .and_then(|rs| rs[0]["id"].as_str())
                    .map(str::to_owned);
            }
        }
    }

    /// After a failed call: read what actually landed on each side. A full
    /// sweep commits record by record as it goes, so a record it committed
    /// before failing is synced: the model takes the reconcile's outcome.
    pub async fn absorb(&mut self, scope: &[usize], incremental: bool) {
        let rows = self.rows_by_page();
        let names = self.names();
        let issues = self.open_issues().await;
        let sweep = scope.len() > 1;
        for &i in scope {
            let post = self.reconcile_in(i, incremental, sweep).await.0;
            if self.stored_as(&post).await && !self.stored_as(&self.recs[i]).await {
                self.count("records committed by a sweep that then failed");
                self.recs[i] = post;
                self.learn_row_ids(&[i]);
                continue;
            }
            let row = rows.get(&self.recs[i].page_id).and_then(|r| r.first());
            let row_id = row.and_then(|r| r["id"].as_str()).map(str::to_owned);
            let (n, a) = (
                notion_side(&self.w, &self.recs[i].page_id, &names),
                row.map(|r| airtable_vals(r, self.shape, &names)),
            );
            // Committed in part (engine::write): one side's write went out,
            // the other's did not; what went out is stored, the rest keeps
            // its old snapshot.
            let part = written_in_part(&self.recs[i], &post, &n, a.as_ref());
            if let Some(part) = part.filter(|p| p.s != self.recs[i].s)
                && self.stored_as(&part).await
            {
                self.count("records committed in part by a call that then failed");
                self.issues_committed(i, &part, &issues);
                self.recs[i] = part;
                continue;
            }
            if n != self.recs[i].n || a != self.recs[i].a {
                self.count("records written without a commit");
                if n != post.n || a != post.a {
                    self.count("records left half-synced");
                }
            }
            let synced = n == post.n && a == post.a;
            let result = self.recs[i].absorb(&post, n, a, row_id);
            if let Err(e) = result {
                self.fail(&e);
            }
            if synced && self.stored_as(&post).await {
                self.issues_committed(i, &post, &issues);
            }
        }
    }

    /// A record whose sync changes nothing but its open issues (a write
    /// refused, or waiting for an epic) leaves no trace in its link: whether
    /// a failed sweep committed it shows in the issues alone, which must be
    /// the ones from before the sync or the ones after it.
    fn issues_committed(&mut self, i: usize, post: &Rec, issues: &[(String, String)]) {
        let page = self.recs[i].page_id.clone();
        let has = |f: &str| issues.iter().any(|(p, g)| *p == page && g == f);
        let (waiting, refused) = (has(EPIC), has(super::model::STATUS));
        let r = &mut self.recs[i];
        if (waiting == post.waiting || waiting == r.waiting)
            && (refused == post.refused || refused == r.refused)
        {
            r.waiting = waiting;
            r.refused = refused;
        }
    }

    async fn open_issues(&self) -> Vec<(String, String)> {
        let store = &self.w.engine.store;
        let issues = store.open_issues(Some(self.w.pair.name())).await.unwrap();
        issues.into_iter().map(|i| (i.subject, i.field)).collect()
    }

    /// A process crash between the external writes and the snapshot commit:
    /// plan the record as the engine does, make some of the plan's writes,
    /// commit nothing.
    pub async fn crash(&mut self, i: usize, notion: bool, airtable: bool) {
        self.note(format!(
            "crash on {} after writes (notion {notion}, airtable {airtable})",
            self.recs[i].page_id
        ));
        self.count("crashes");
        let before = self.observe();
        let predicted = self.predicted_evidence();
        let mut plan = self.plan(i).await;
        let (e, (base, table)) = (&self.w.engine, self.base_table());
        if notion {
            // As the engine writes a page: the files it gains uploaded first.
            let uploaded = e.upload_pending_files(&self.w.pair, &mut plan).await;
            uploaded.unwrap_or_else(|err| self.fail(&format!("crash's uploads: {err}")));
            let done = match &plan.notion {
                NotionWrite::None => Ok(()),
                NotionWrite::Update {
                    page_id,
                    properties,
                } => write_page(e, page_id, properties).await,
                NotionWrite::Trash { page_id } => e.notion.trash_page(page_id).await.map(drop),
            };
            done.unwrap_or_else(|err| self.fail(&format!("crash's Notion write: {err}")));
        }
        if airtable {
            let merge_on = [self.w.pair.page_id_field()];
            let done = match plan.airtable {
                AirtableWrite::None => Ok(()),
                AirtableWrite::Upsert(fields) => e
                    .airtable
                    .upsert_records(&base, &table, &merge_on, vec![fields], true)
                    .await
                    .map(drop),
                AirtableWrite::Update { record_id, fields } => e
                    .airtable
                    .update_records(&base, &table, vec![(record_id, fields)], true)
                    .await
                    .map(drop),
                AirtableWrite::Delete { record_id } => e
                    .airtable
                    .delete_records(&base, &table, &[record_id])
                    .await
                    .map(drop),
            };
            done.unwrap_or_else(|err| self.fail(&format!("crash's Airtable write: {err}")));
        }
        self.absorb(&[i], false).await;
        self.check_sides();
        self.check_links(&[i]).await;
        let (after, _) = self.check_nothing_lost(&before, Some(&predicted)).await;
        self.uncommitted(&before, &after);
        self.check_issues().await;
    }

    /// The engine's plan for one record, from both sides read fresh.
    async fn plan(&self, i: usize) -> notion_airtable_sync::sync::plan::Plan {
        let (e, pair) = (&self.w.engine, &self.w.pair);
        let (base, table) = self.base_table();
        let page_id = &self.recs[i].page_id;
        let mut page = e.notion.retrieve_page(page_id).await.expect("page");
        e.size_notion_files(pair, &mut page).await;
        if !page.in_trash {
            // As the engine reads a page for a record job: with its content.
            let content = e.notion.retrieve_markdown(page_id).await;
            body::attach(&mut page, &content.expect("the page's content"));
        }
        let link = e
            .store
            .get_link_by_page(pair.name(), page_id)
            .await
            .unwrap();
        let row_id = match link.as_ref().and_then(|l| l.airtable_record_id.clone()) {
            Some(id) => Some(id),
            None => self.rows_by_page().get(page_id).and_then(|rows| {
                rows.first()
                    .and_then(|r| r["id"].as_str())
                    .map(str::to_owned)
            }),
        };
        let record = match row_id {
            Some(id) => match e.airtable.get_record(&base, &table, &id).await {
                Ok(r) => Some(r),
                Err(err) if err.is_not_found() => None,
                Err(err) => self.fail(&format!("reading row {id}: {err}")),
            },
            None => None,
        };
        let now = OffsetDateTime::now_utc();
        let snapshot = link.as_ref().map(|l| &l.snapshot);
        let mut relations = e
            .relation_index(pair, [&page], record.as_ref(), snapshot)
            .await
            .expect("the relation index");
        e.mark_deleted_targets(pair, record.as_ref().zip(snapshot), &mut relations)
            .await
            .expect("the related rows");
        plan_page_with(pair, &page, record.as_ref(), link.as_ref(), now, &relations)
    }

    // ------------------------------------------------------------ checks

    /// Both sides of every record as they are now (a row found by its id
    /// when the model knows it, else by the page id it carries).
    pub fn observe(&self) -> Vec<Sides> {
        let rows = self.w.rows();
        let by_id = |id: &str| rows.iter().find(|r| r["id"] == id);
        let by_page = |p: &str| rows.iter().find(|r| r["fields"][PAGE_ID_FIELD] == p);
        let names = self.names();
        self.recs
            .iter()
            .map(|r| {
                let page = self.w.page(&r.page_id);
                let row = match &r.row_id {
                    Some(id) => by_id(id),
                    None => by_page(&r.page_id),
                };
                Sides {
                    n: notion_side(&self.w, &r.page_id, &names),
                    a: row.map(|row| airtable_vals(row, self.shape, &names)),
                    trashed: page["in_trash"] == true,
                }
            })
            .collect()
    }

    /// What the model expects a reconcile of each record to decide by rule:
    /// its conflicts, and the one-way fields whose source value returns.
    fn predicted_evidence(&self) -> BTreeMap<String, Evidence> {
        let epics = self.epic_states();
        self.recs
            .iter()
            .map(|r| {
                let (_, conflicts) = r.reconciled(false, &epics);
                let mut ev = Evidence {
                    conflicts: conflicts.iter().map(|f| (*f).to_owned()).collect(),
                    ..Evidence::default()
                };
                if let Some(a) = &r.a {
                    ev.restored = FIELDS
                        .iter()
                        .filter(|f| f.one_way && !a[f.notion].is_empty())
                        .map(|f| f.notion.to_owned())
                        .collect();
                }
                (r.page_id.clone(), ev)
            })
            .collect()
    }

    /// The invariant (see `invariant.rs`) for every record, against what
    /// both sides held before the call; the evidence is the log's, plus the
    /// model's prediction for a call that committed nothing.
    /// Returns both sides as they are now, and the pages the call logged a
    /// change of (committed).
    async fn check_nothing_lost(
        &mut self,
        before: &[Sides],
        fallback: Option<&BTreeMap<String, Evidence>>,
    ) -> (Vec<Sides>, std::collections::BTreeSet<String>) {
        let after = self.observe();
        let store = &self.w.engine.store;
        let (logged, mark) =
            invariant::logged_since(store, self.w.pair.name(), self.log_mark).await;
        self.log_mark = mark;
        let fields: Vec<(&'static str, bool)> =
            FIELDS.iter().map(|f| (f.notion, f.one_way)).collect();
        for (i, (b, a)) in before.iter().zip(&after).enumerate() {
            let page = &self.recs[i].page_id;
            let mut ev = logged.get(page).cloned().unwrap_or_default();
            if let Some(p) = fallback.and_then(|f| f.get(page)) {
                ev.extend(p);
            }
            let edits = self.edits.get(page).cloned().unwrap_or_default();
            let lost = invariant::check(&fields, b, a, &edits, &ev);
            if !lost.is_empty() {
                self.fail(&format!("a value was lost on {page}: {lost:?}"));
            }
        }
        (after, logged.into_keys().collect())
    }

    /// Values a failed call or a crash wrote without committing: the next
    /// sync cannot tell them from a person's edit on that side (known limit:
    /// a person's later edit on the other side, back to the synced value,
    /// then loses to it), so the check counts them as edits there.
    fn uncommitted(&mut self, before: &[Sides], after: &[Sides]) {
        for (i, (b, a)) in before.iter().zip(after).enumerate() {
            let edits = self.edits.entry(self.recs[i].page_id.clone()).or_default();
            for f in FIELDS.iter().map(|f| f.notion) {
                if b.n[f] != a.n[f] {
                    edits.notion(f, &a.n[f]);
                }
                if let (Some(ba), Some(aa)) = (&b.a, &a.a) {
                    if ba[f] != aa[f] {
                        edits.airtable(f, &aa[f]);
                    }
                }
            }
        }
    }

    /// After a successful call: fields whose sides agree have no pending
    /// person edit any more.
    /// The relation settles when the sides agree once each counts the
    /// epics gone on it that the snapshot holds (they stay referenced on
    /// the other side, by rule).
    fn settle(&mut self, scope: &[usize], after: &[Sides]) {
        let epics = self.epic_states();
        for &i in scope {
            let r = &self.recs[i];
            let mut sides = after[i].clone();
            sides
                .n
                .insert(EPIC, effective(r, &sides.n[EPIC], &epics, true));
            if let Some(a) = sides.a.as_mut() {
                a.insert(EPIC, effective(r, &a[EPIC], &epics, false));
            }
            let page = r.page_id.clone();
            self.edits.entry(page).or_default().settle(&sides);
        }
    }

    /// The store's open issues are exactly the model's refused values.
    async fn check_issues(&self) {
        let issues = self
            .w
            .engine
            .store
            .open_issues(Some(self.w.pair.name()))
            .await
            .unwrap();
        let found: Vec<(String, String)> = issues
            .iter()
            .map(|i| (i.subject.clone(), i.field.clone()))
            .collect();
        let mut want: Vec<(String, String)> = self
            .recs
            .iter()
            .filter(|r| r.refused)
            .map(|r| (r.page_id.clone(), super::model::STATUS.to_owned()))
            .chain(
                self.recs
                    .iter()
                    .filter(|r| r.waiting)
                    .map(|r| (r.page_id.clone(), EPIC.to_owned())),
            )
            .collect();
        let mut found_sorted = found.clone();
        found_sorted.sort();
        want.sort();
        if found_sorted != want {
            let messages: Vec<&str> = issues.iter().map(|i| i.message.as_str()).collect();
            self.fail(&format!(
                "open issues {found_sorted:?}, expected {want:?}: {messages:?}"
            ));
        }
    }

    /// Both sides equal the model, field by field, for every record; one
    /// row per page at most, and no row the model does not know.
    pub fn check_sides(&self) {
        let rows = self.rows_by_page();
        let names = self.names();
        for (page, rs) in &rows {
            if rs.len() > 1 {
                self.fail(&format!("{} rows for page {page}: {rs:?}", rs.len()));
            }
            if !self.recs.iter().any(|r| &r.page_id == page) {
                self.fail(&format!("a row for an unknown page {page}"));
            }
        }
        for r in &self.recs {
            let page = self.w.page(&r.page_id);
            if page["in_trash"] != Value::Bool(r.trashed) {
                self.fail(&format!(
                    "page {} in_trash: {}",
                    r.page_id, page["in_trash"]
                ));
            }
            let n = notion_side(&self.w, &r.page_id, &names);
            if n != r.n {
                self.fail(&diff("Notion", &r.page_id, &r.n, &n));
            }
            let a = rows
                .get(&r.page_id)
                .map(|rs| airtable_vals(&rs[0], self.shape, &names));
            match (&r.a, &a) {
                (Some(want), Some(got)) if want != got => {
                    self.fail(&diff("Airtable", &r.page_id, want, got))
                }
                (Some(_), None) | (None, Some(_)) => self.fail(&format!(
                    "row of page {}: expected {:?}, found {a:?}",
                    r.page_id, r.a
                )),
                _ => {}
            }
        }
    }

    /// The links the engine stored equal the model's: state and snapshot.
    /// Whether the store holds `r`'s link state and snapshot.
    async fn stored_as(&self, r: &Rec) -> bool {
        let names = self.names();
        let link = self
            .w
            .engine
            .store
            .get_link_by_page(self.w.pair.name(), &r.page_id)
            .await
            .unwrap();
        if link.as_ref().map(|l| l.state) != want_state(r.link) {
            return false;
        }
        match (link, &r.s) {
            (Some(link), Some(s)) => FIELDS.iter().all(|f| {
                let stored: Option<Canonical> = link
                    .snapshot
                    .get(f.notion)
                    .and_then(|v| serde_json::from_value(v.clone()).ok());
                snapshot_is(f.notion, stored.as_ref(), &s[f.notion], self.shape, &names)
            }),
            (None, None) => true,
            _ => false,
        }
    }

    pub async fn check_links(&self, scope: &[usize]) {
        let store = &self.w.engine.store;
        let names = self.names();
        for &i in scope {
            let r = &self.recs[i];
            let link = store
                .get_link_by_page(self.w.pair.name(), &r.page_id)
                .await
                .unwrap();
            let state = link.as_ref().map(|l| l.state);
            let want = want_state(r.link);
            if state != want {
                self.fail(&format!(
                    "link of {}: {state:?}, expected {want:?}",
                    r.page_id
                ));
            }
            if let (Some(link), Some(s)) = (link, &r.s) {
                for f in FIELDS {
                    let stored: Option<Canonical> = link
                        .snapshot
                        .get(f.notion)
                        .and_then(|v| serde_json::from_value(v.clone()).ok());
                    if !snapshot_is(f.notion, stored.as_ref(), &s[f.notion], self.shape, &names) {
                        self.fail(&format!(
                            "snapshot of {} {}: {stored:?}, expected {:?}",
                            r.page_id, f.notion, s[f.notion]
                        ));
                    }
                }
            }
        }
    }

    /// Every conflict in the sync log is one the model expected, decided for
    /// Notion, and no expected conflict is missing.
    pub async fn check_conflict_log(&self) {
        let mut found: BTreeMap<(String, String), usize> = BTreeMap::new();
        let mut query = LogQuery {
            pair: Some(self.w.pair.name().to_owned()),
            conflicts_only: true,
            limit: 500,
            ..LogQuery::default()
        };
        loop {
            let page = self.w.engine.store.query_log(&query).await.unwrap();
            for e in &page {
                if e.winner != Some(Side::Notion) || e.direction != SyncDirection::NotionToAirtable
                {
                    self.fail(&format!("a conflict not decided for Notion: {e:?}"));
                }
                let key = (
                    e.notion_page_id.clone().unwrap_or_default(),
                    e.field.clone().unwrap_or_default(),
                );
                *found.entry(key).or_default() += 1;
            }
            match page.last() {
                Some(last) => query.before_id = Some(last.id),
                None => break,
            }
        }
        let expected: BTreeMap<(String, String), usize> = self
            .recs
            .iter()
            .flat_map(|r| {
                r.conflicts
                    .iter()
                    .map(|(f, n)| ((r.page_id.clone(), (*f).to_owned()), *n))
            })
            .collect();
        if found != expected {
            self.fail(&format!(
                "conflict log entries {found:?}, expected {expected:?}"
            ));
        }
    }

    /// After the final sweep: every live record has equal sides, every
    /// trashed page's row is archived, deleted rows stayed deleted, and each
    /// row points at its page's current URL.
    pub fn check_converged(&self) {
        let rows = self.rows_by_page();
        let (names, epics) = (self.names(), self.epic_states());
        for r in &self.recs {
            let row = rows.get(&r.page_id).map(|rs| &rs[0]);
            let ok = match (r.row_deleted, r.trashed, row) {
                (true, _, row) => row.is_none(),
                // Both sides hold the model's values: equal, except a
                // one-way field Notion keeps while Airtable is empty.
                (false, false, Some(row)) => {
                    Some(airtable_vals(row, self.shape, &names)) == r.a
                        && r.a.as_ref().is_some_and(|a| agree(r, a, &epics))
                        && row["fields"]["Notion URL"] == self.w.page(&r.page_id)["url"]
                }
                (false, true, Some(row)) => row["fields"]["Status"] == "Archived",
                (false, true, None) => r.s.is_none(),
                (false, false, None) => false,
            };
            if !ok {
                self.fail(&format!(
                    "record {} did not converge: {r:?}\nrow: {row:?}",
                    r.page_id
                ));
            }
        }
    }

    /// A converged workspace: one more sweep of each kind writes nothing.
    pub async fn check_quiet(&mut self) {
        for full in [true, false] {
            self.w.notion.calls().reset();
            self.w.airtable.calls().reset();
            let summary = self.invoke(Call::Sweep { full }).await.unwrap();
            let writes = summary.created_in_airtable
                + summary.created_in_notion
                + summary.updated_airtable
                + summary.updated_notion
                + summary.archived
                + summary.restored
                + summary.deleted
                + summary.conflicts;
            if writes != 0 || !summary.problems.is_empty() {
                self.fail(&format!(
                    "a converged sweep (full: {full}) acted: {summary:?}"
                ));
            }
            let calls = [
                self.w.notion.calls().snapshot(),
                self.w.airtable.calls().snapshot(),
            ];
            let written: Vec<_> = calls
                .iter()
                .flatten()
                .filter(|c| is_write(&c.method, &c.route))
                .collect();
            if !written.is_empty() {
                self.fail(&format!(
                    "a converged sweep (full: {full}) wrote: {written:?}"
                ));
            }
        }
    }
}

/// A request that changes data (queries and list calls by POST do not).
/// The two sides agree on every field but a one-way field whose Airtable
/// (source) value is empty while Notion keeps a person's value, and the
/// relation, on which they agree once each side counts the epics gone on
/// it that the snapshot holds.
fn agree(r: &Rec, a: &Vals, epics: &super::model::Epics) -> bool {
    let n = &r.n;
    FIELDS.iter().all(|f| match f.notion {
        EPIC => effective(r, &n[EPIC], epics, true) == effective(r, &a[EPIC], epics, false),
        _ => n[f.notion] == a[f.notion] || (f.one_way && a[f.notion].is_empty()),
    })
}

/// A relation value of one side with the epics gone on that side that the
/// record's snapshot holds.
fn effective(r: &Rec, v: &str, epics: &super::model::Epics, notion: bool) -> String {
    let held = r.s.as_ref().map(|s| members(&s[EPIC])).unwrap_or_default();
    let gone = |e: &String| {
        epics
            .get(e)
            .is_some_and(|st| if notion { st.gone_n } else { st.gone_a })
    };
    let extra = held.into_iter().filter(gone);
    set_of(members(v).into_iter().chain(extra))
}

fn is_write(method: &str, route: &str) -> bool {
    match method {
        "GET" => false,
        "POST" => !(route.ends_with("/query") || route.ends_with("/listRecords")),
        _ => true,
    }
}

fn diff(side: &str, page: &str, want: &Vals, got: &Vals) -> String {
    let fields: Vec<String> = want
        .iter()
        .filter(|(f, v)| got.get(*f) != Some(v))
        .map(|(f, v)| format!("{f}: expected {v:?}, found {:?}", got.get(f)))
        .collect();
    format!(
        "{side} side of {page} differs from the model: {}",
        fields.join("; ")
    )
}

/// The link state the store holds for a model link.
fn want_state(link: Link) -> Option<LinkState> {
    match link {
        Link::None => None,
        Link::Active => Some(LinkState::Active),
        Link::Trashed => Some(LinkState::NotionTrashed),
        Link::Deleted => Some(LinkState::AirtableDeleted),
    }
}

/// What a failed sync of `before` that planned `post` leaves when some of
/// its writes went out (the sides as found, `n` and `a`): each field whose
/// planned writes all landed takes the sync's snapshot (and its conflict
/// log line), every other field keeps its old one. `None` when a side is
/// neither before nor after the sync, or there is no row on either.
fn written_in_part(before: &Rec, post: &Rec, n: &Vals, a: Option<&Vals>) -> Option<Rec> {
    let (Some(a), Some(post_a), Some(post_s)) = (a, post.a.as_ref(), post.s.as_ref()) else {
        return None;
    };
    let before_a = before.a.as_ref()?;
    // Each side is as it was before the sync or as the sync left it.
    let mut sides = before.clone();
    sides.absorb(post, n.clone(), Some(a.clone()), None).ok()?;
    let mut part = post.clone();
    let mut s = post_s.clone();
    for f in FIELDS.iter().map(|f| f.notion) {
        let to_notion = post.n[f] != before.n[f];
        let to_airtable = post_a[f] != before_a[f];
        let landed = (!to_notion || n[f] == post.n[f]) && (!to_airtable || a[f] == post_a[f]);
        if !landed {
            match before.s.as_ref() {
                Some(old) => s.insert(f, old[f].clone()),
                None => return None,
            };
            match before.conflicts.get(f) {
                Some(old) => part.conflicts.insert(f, *old),
                None => part.conflicts.remove(f),
            };
        }
    }
    part.s = Some(s);
    part.n = n.clone();
    part.a = Some(a.clone());
    Some(part)
}

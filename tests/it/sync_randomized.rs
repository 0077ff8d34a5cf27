//! Model-based randomized test of the sync engine, against the sandbox
//! servers, on SQLite and Postgres.
//!
//! Random sequences of person edits on both sides (different fields, the
//! same field on both sides = conflicts), new pages, trash and restore,
//! Airtable row deletes, reconciles of single records and sweeps at random
//! points, and crashes injected between the external writes and the snapshot
//! commit (a plan's Airtable write is executed and nothing is stored). A
//! model applies the mapping's rules independently. After every engine call
//! nothing was lost (`sync_model/invariant.rs`: no value replaced unless a
//! person typed the new one on the other side, or the log records the rule
//! deciding). After a final sweep both sides must equal the model field by
//! field, every page has exactly one row (none for pages whose row was
//! deleted), and one more sweep writes nothing.
//!
//! `SYNC_MODEL_SEED=<n>` replays one seed.

use crate::common;
use crate::sync_model::invariant;

use std::collections::BTreeMap;

use common::{
    TestDb,
    world::{World, select_of, text_of, world_unthrottled},
};
use invariant::{Edits, Evidence, Sides};
use notion_airtable_sync::{
    engine::SweepOptions,
    store::Cause,
    sync::plan::{AirtableWrite, plan_page},
};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use serde_json::{Value, json};
use time::OffsetDateTime;

/// The fields the test edits: (Notion name, Airtable name, one-way from Airtable).
const FIELDS: [(&str, &str, bool); 4] = [
    ("Name", "Spec Name", false),
    ("Status", "Status", false),
    ("Priority", "Priority", false),
    ("Sprint", "Sprint", true),
];
const STATUSES: [&str; 5] = ["Draft", "Ready", "In Progress", "In Review", "Shipped"];
const PRIORITIES: [&str; 4] = ["P0", "P1", "P2", "P3"];

type Vals = BTreeMap<&'static str, String>;

/// The model of one record.
#[derive(Debug, Clone)]
struct Rec {
    page_id: String,
    /// Current values on each side (`a` is `None` while there is no row).
    n: Vals,
    a: Option<Vals>,
    /// Values at the last successful sync; `None` before the first.
    s: Option<Vals>,
    trashed: bool,
    /// The row shows "Archived" because the page was trashed.
    archived: bool,
    /// The row was deleted in Airtable (`on_airtable_delete = "ignore"`).
    deleted: bool,
}

/// The rule of one field, as each side and the snapshot end up. One-way
/// fields take Airtable's value, except that an Airtable value nobody
/// emptied (first contact, or unchanged since the last sync) never erases
/// Notion's: Notion keeps it, the snapshot stays empty. The others take
/// whichever side changed; on first contact an empty side takes the other's
/// value; Notion wins a conflict (or first contact with two values).
fn merge_field(one_way: bool, n: &str, a: &str, s: Option<&str>) -> [String; 3] {
    let all = |v: &str| [v.to_owned(), v.to_owned(), v.to_owned()];
    if n == a {
        return all(a);
    }
    if one_way {
        let source_changed = s.is_some_and(|s| s != a);
        if a.is_empty() && !source_changed {
            return [n.to_owned(), String::new(), String::new()];
        }
        return all(a);
    }
    match s {
        Some(s) if a == s => all(n),
        Some(s) if n == s => all(a),
        None if n.is_empty() => all(a),
        None if a.is_empty() => all(n),
        _ => all(n),
    }
}

impl Rec {
    /// Each side's values and the snapshot after a successful merge.
    fn merged(&self) -> [Vals; 3] {
        let Some(a) = self.a.as_ref() else {
            // Creating the row: a full copy of the page.
            return [self.n.clone(), self.n.clone(), self.n.clone()];
        };
        let s = self.s.as_ref();
        let mut out = [Vals::new(), Vals::new(), Vals::new()];
        for (f, _, one_way) in FIELDS {
            let get = |v: &Vals| v.get(f).cloned().unwrap_or_default();
            let mut av = get(a);
            if self.archived && f == "Status" && av == "Archived" {
                // Restoring: the archive value is the service's own.
                av = s.map(get).unwrap_or_default();
            }
            let sides = merge_field(one_way, &get(&self.n), &av, s.map(get).as_deref());
            for (vals, v) in out.iter_mut().zip(sides) {
                vals.insert(f, v);
            }
        }
        out
    }

    /// The rule decisions a reconcile of the record would make: conflicts
    /// (both sides changed, or first contact with two values) and one-way
    /// fields whose non-empty source value returns. Used for a crashed
    /// plan, which writes no log.
    fn predicted(&self) -> Evidence {
        let mut ev = Evidence::default();
        let Some(a) = &self.a else { return ev };
        for (f, _, one_way) in FIELDS {
            let (n, av) = (&self.n[f], &a[f]);
            let s = self.s.as_ref().map(|s| &s[f]);
            if one_way && !av.is_empty() {
                ev.restored.insert(f.to_owned());
            }
            let both_changed = match s {
                Some(s) => n != s && av != s,
                None => !n.is_empty() && !av.is_empty(),
            };
            if !one_way && n != av && both_changed {
                ev.conflicts.insert(f.to_owned());
            }
        }
        ev
    }

    /// What a successful reconcile does to the model.
    fn reconcile(&mut self) {
        if self.deleted {
            return;
        }
        if self.trashed {
            if let (Some(a), Some(_), false) = (self.a.as_mut(), &self.s, self.archived) {
                self.archived = true;
                a.insert("Status", "Archived".into());
            }
            return;
        }
        let [n, a, s] = self.merged();
        self.n = n;
        self.a = Some(a);
        self.s = Some(s);
        self.archived = false;
    }
}

struct Run {
    w: World,
    rng: StdRng,
    recs: Vec<Rec>,
    person: String,
    /// What people typed since each record's sides last agreed, per page.
    edits: BTreeMap<String, Edits>,
    /// The newest sync log entry seen.
    log_mark: i64,
}

/// A page's values for the test's fields.
fn notion_of(page: &Value) -> Vals {
    let p = &page["properties"];
    let select = |f: &str| select_of(&p[f]).as_str().unwrap_or_default().to_owned();
    Vals::from([
        ("Name", text_of(&p["Name"])),
        ("Status", select("Status")),
        ("Priority", select("Priority")),
        ("Sprint", text_of(&p["Sprint"])),
    ])
}

/// A row's values for the test's fields.
fn airtable_of(row: &Value) -> Vals {
    FIELDS
        .iter()
        .map(|(f, at, _)| {
            (
                *f,
                row["fields"][*at].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

impl Run {
    fn pick(&mut self, pred: impl Fn(&Rec) -> bool) -> Option<usize> {
        let idx: Vec<usize> = (0..self.recs.len())
            .filter(|&i| pred(&self.recs[i]))
            .collect();
        idx.choose(&mut self.rng).copied()
    }

    fn random_value(&mut self, field: &str, step: usize) -> String {
        match field {
            "Name" => format!("Spec {step}"),
            "Status" => STATUSES.choose(&mut self.rng).unwrap().to_string(),
            "Priority" => PRIORITIES.choose(&mut self.rng).unwrap().to_string(),
            _ if self.rng.random_bool(0.2) => String::new(),
            _ => format!("Sprint {}", self.rng.random_range(1..40)),
        }
    }

    fn row_id(&self, page_id: &str) -> Option<String> {
        let rows = self.w.rows();
        let mine: Vec<&Value> = rows
            .iter()
            .filter(|r| r["fields"]["Notion Page ID"] == json!(page_id))
            .collect();
        mine.first().map(|r| r["id"].as_str().unwrap().to_owned())
    }

    fn edit_notion(&mut self, step: usize) {
        let Some(i) = self.pick(|r| !r.trashed) else {
            return;
        };
        let (field, _, _) = *FIELDS.choose(&mut self.rng).unwrap();
        let value = self.random_value(field, step);
        let body = match field {
            "Name" => json!({ "Name": { "title": [{ "text": { "content": value } }] } }),
            "Sprint" if value.is_empty() => json!({ "Sprint": { "rich_text": [] } }),
            "Sprint" => json!({ "Sprint": { "rich_text": [{ "text": { "content": value } }] } }),
            f => json!({ f: { "select": { "name": value } } }),
        };
        self.w
            .notion
            .update_page_as_person(&self.recs[i].page_id, &self.person, body)
            .unwrap();
        let page = self.recs[i].page_id.clone();
        self.edits.entry(page).or_default().notion(field, &value);
        self.recs[i].n.insert(field, value);
    }

    fn edit_airtable(&mut self, step: usize) {
        let Some(i) = self.pick(|r| !r.trashed && !r.deleted && r.a.is_some() && !r.archived)
        else {
            return;
        };
        let (field, at, _) = *FIELDS.choose(&mut self.rng).unwrap();
        let value = self.random_value(field, step);
        let Some(row) = self.row_id(&self.recs[i].page_id) else {
            return;
        };
        let cell = if value.is_empty() {
            Value::Null
        } else {
            json!(value)
        };
        let (base, table) = (&self.w.team_a.base_id, &self.w.team_a.table_id);
        self.w
            .airtable
            .update_record_as_person(base, table, &row, json!({ at: cell }))
            .unwrap();
        let page = self.recs[i].page_id.clone();
        self.edits.entry(page).or_default().airtable(field, &value);
        self.recs[i].a.as_mut().unwrap().insert(field, value);
    }

    fn new_page(&mut self, step: usize) {
        let name = format!("New spec {step}");
        let id = self
            .w
            .notion
            .insert_page_as_person(
                &self.w.team_n.data_source_id,
                &self.person,
                json!({
                    "Name": { "title": [{ "text": { "content": name } }] },
                    "Status": { "select": { "name": "Draft" } },
                }),
            )
            .unwrap();
        let n = Vals::from([
            ("Name", name),
            ("Status", "Draft".into()),
            ("Priority", String::new()),
            ("Sprint", String::new()),
        ]);
        self.edits.insert(id.clone(), typed(&n));
        self.recs.push(Rec {
            page_id: id,
            n,
            a: None,
            s: None,
            trashed: false,
            archived: false,
            deleted: false,
        });
    }

    fn toggle_trash(&mut self) {
        let Some(i) = self.pick(|r| !r.deleted) else {
            return;
        };
        let trash = !self.recs[i].trashed;
        self.w
            .notion
            .set_trashed_as_person(&self.recs[i].page_id, &self.person, trash)
            .unwrap();
        self.recs[i].trashed = trash;
    }

    fn delete_row(&mut self) {
        let Some(i) = self.pick(|r| !r.trashed && !r.deleted && r.s.is_some() && r.a.is_some())
        else {
            return;
        };
        let Some(row) = self.row_id(&self.recs[i].page_id) else {
            return;
        };
        let (base, table) = (&self.w.team_a.base_id, &self.w.team_a.table_id);
        self.w
            .airtable
            .delete_record_as_person(base, table, &row)
            .unwrap();
        self.recs[i].deleted = true;
        self.recs[i].a = None;
    }

    async fn reconcile_one(&mut self) {
        let Some(i) = self.pick(|_| true) else { return };
        let page_id = self.recs[i].page_id.clone();
        let before = self.observe();
        self.w
            .engine
            .reconcile_page(&self.w.pair, &page_id, Cause::Webhook)
            .await
            .unwrap();
        self.recs[i].reconcile();
        let after = self.check_nothing_lost(&before, false).await;
        self.settle(&[i], &after);
    }

    async fn sweep(&mut self) {
        let before = self.observe();
        let summary = self.w.sweep(true).await;
        assert!(summary.problems.is_empty(), "{:?}", summary.problems);
        for r in &mut self.recs {
            r.reconcile();
        }
        let after = self.check_nothing_lost(&before, false).await;
        let all: Vec<usize> = (0..self.recs.len()).collect();
        self.settle(&all, &after);
    }

    /// Both sides of every record as they are now.
    fn observe(&self) -> Vec<Sides> {
        let rows = self.w.rows();
        self.recs
            .iter()
            .map(|r| {
                let page = self.w.page(&r.page_id);
                let row = rows
                    .iter()
                    .find(|x| x["fields"]["Notion Page ID"] == json!(r.page_id));
                Sides {
                    n: notion_of(&page),
                    a: row.map(airtable_of),
                    trashed: page["in_trash"] == json!(true),
                }
            })
            .collect()
    }

    /// Nothing lost since `before`: the log's evidence, or for a crashed
    /// plan (`crashed`: nothing logged) the model's.
    async fn check_nothing_lost(&mut self, before: &[Sides], crashed: bool) -> Vec<Sides> {
        let after = self.observe();
        let store = &self.w.engine.store;
        let (logged, mark) =
            invariant::logged_since(store, self.w.pair.name(), self.log_mark).await;
        self.log_mark = mark;
        let fields: Vec<(&'static str, bool)> = FIELDS.iter().map(|(f, _, o)| (*f, *o)).collect();
        for (i, (b, a)) in before.iter().zip(&after).enumerate() {
            let r = &self.recs[i];
            let mut ev = logged.get(&r.page_id).cloned().unwrap_or_default();
            if crashed {
                ev.extend(&r.predicted());
            }
            let edits = self.edits.get(&r.page_id).cloned().unwrap_or_default();
            let lost = invariant::check(&fields, b, a, &edits, &ev);
            assert!(
                lost.is_empty(),
                "a value was lost on {}: {lost:?}",
                r.page_id
            );
        }
        after
    }

    /// After a successful sync: agreed fields have no pending edit.
    fn settle(&mut self, scope: &[usize], after: &[Sides]) {
        for &i in scope {
            let page = self.recs[i].page_id.clone();
            self.edits.entry(page).or_default().settle(&after[i]);
        }
    }

    /// Run a record's plan up to its Airtable write, then "crash": nothing
    /// is written to Notion and no snapshot is stored.
    async fn crash_after_airtable_write(&mut self) {
        let Some(i) = self.pick(|r| !r.trashed && !r.deleted && !r.archived) else {
            return;
        };
        let before = self.observe();
        let (e, pair) = (&self.w.engine, &self.w.pair);
        let page = e.notion.retrieve_page(&self.recs[i].page_id).await.unwrap();
        let link = e.store.get_link_by_page("specs", &page.id).await.unwrap();
        let record = match self.row_id(&page.id) {
            Some(id) => Some(
                e.airtable
                    .get_record(&pair.config.airtable_base_id, &pair.table_id, &id)
                    .await
                    .unwrap(),
            ),
            None => None,
        };
        let plan = plan_page(
            pair,
            &page,
            record.as_ref(),
            link.as_ref(),
            OffsetDateTime::now_utc(),
        );
        let (base, table) = (&pair.config.airtable_base_id, &pair.table_id);
        match plan.airtable {
            AirtableWrite::Upsert(fields) => {
                e.airtable
                    .upsert_records(base, table, &[pair.page_id_field()], vec![fields], true)
                    .await
                    .unwrap();
            }
            AirtableWrite::Update { record_id, fields } => {
                e.airtable
                    .update_records(base, table, vec![(record_id, fields)], true)
                    .await
                    .unwrap();
            }
            _ => return,
        }
        // The model: Airtable now holds what the merge writes there.
        // The invariant is checked against the record before the merge.
        self.check_nothing_lost(&before, true).await;
        let r = &mut self.recs[i];
        let [_, merged, _] = r.merged();
        r.a = Some(merged);
    }

    /// Both sides, read back, equal the model; one row per live page.
    fn check(&self) {
        let rows = self.w.rows();
        for r in &self.recs {
            let mine: Vec<&Value> = rows
                .iter()
                .filter(|x| x["fields"]["Notion Page ID"] == json!(r.page_id))
                .collect();
            if r.deleted || r.a.is_none() {
                // Deleted rows stay deleted; a page trashed before its first
                // sync never gets one.
                assert!(
                    mine.is_empty(),
                    "unexpected row for {}: {mine:?}",
                    r.page_id
                );
                continue;
            }
            assert_eq!(mine.len(), 1, "rows for page {}: {mine:?}", r.page_id);
            let fields = &mine[0]["fields"];
            let page = self.w.page(&r.page_id);
            let p = &page["properties"];
            let notion: Vals = Vals::from([
                ("Name", text_of(&p["Name"])),
                (
                    "Status",
                    select_of(&p["Status"])
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                ),
                (
                    "Priority",
                    select_of(&p["Priority"])
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                ),
                ("Sprint", text_of(&p["Sprint"])),
            ]);
            assert_eq!(notion, r.n, "Notion side of {}", r.page_id);
            let airtable: Vals = FIELDS
                .iter()
                .map(|(f, at, _)| (*f, fields[*at].as_str().unwrap_or_default().to_owned()))
                .collect();
            assert_eq!(
                Some(&airtable),
                r.a.as_ref(),
                "Airtable side of {}",
                r.page_id
            );
            if r.trashed {
                assert_eq!(fields["Status"], json!("Archived"));
            } else {
                // Equal, but for a one-way field whose Airtable value is
                // empty: Notion keeps a person's value until Airtable's edit.
                let agree = FIELDS.iter().all(|(f, _, one_way)| {
                    airtable[f] == notion[f] || (*one_way && airtable[f].is_empty())
                });
                assert!(
                    agree,
                    "both sides of {}: {airtable:?} vs {notion:?}",
                    r.page_id
                );
            }
        }
    }
}

async fn run_seed(db: TestDb, seed: u64, steps: usize) {
    let w = world_unthrottled(db).await;
    let person = w.person();
    let recs: Vec<Rec> = w
        .team_n
        .page_ids
        .iter()
        .take(24)
        .map(|id| {
            let p = w.page(id)["properties"].clone();
            let n = Vals::from([
                ("Name", text_of(&p["Name"])),
                (
                    "Status",
                    select_of(&p["Status"])
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                ),
                (
                    "Priority",
                    select_of(&p["Priority"])
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                ),
                ("Sprint", String::new()),
            ]);
            Rec {
                page_id: id.clone(),
                n,
                a: None,
                s: None,
                trashed: false,
                archived: false,
                deleted: false,
            }
        })
        .collect();
    // The seeded values were typed by people.
    let edits = recs
        .iter()
        .map(|r| (r.page_id.clone(), typed(&r.n)))
        .collect();
    let mut run = Run {
        w,
        rng: StdRng::seed_from_u64(seed),
        recs,
        person,
        edits,
        log_mark: 0,
    };
    // Only the first 24 pages take part; sync everything once so the others
    // are settled and stay out of the way.
    run.sweep().await;
    for step in 0..steps {
        match run.rng.random_range(0..100) {
            0..=29 => run.edit_notion(step),
            30..=59 => run.edit_airtable(step),
            60..=61 => run.new_page(step),
            62..=65 => run.toggle_trash(),
            66..=67 => run.delete_row(),
            68..=85 => run.reconcile_one().await,
            86..=91 => run.sweep().await,
            _ => run.crash_after_airtable_write().await,
        }
    }
    // Converge with one sweep; then nothing may be left to do.
    run.sweep().await;
    run.check();
    // A dry run first, so that a failure shows exactly what would be written.
    let dry = SweepOptions {
        full: true,
        dry_run: true,
        cause: Cause::Sweep,
    };
    let planned = run.w.engine.sweep(&run.w.pair, dry).await.unwrap();
    assert!(
        planned.planned_writes.is_empty(),
        "seed {seed}: {:#?}",
        planned.planned_writes
    );
    let quiet = run.w.sweep(true).await;
    assert_eq!(
        (
            quiet.created_in_airtable,
            quiet.updated_airtable,
            quiet.updated_notion,
            quiet.deleted
        ),
        (0, 0, 0, 0),
        "seed {seed}: a converged workspace must need no writes: {quiet:?}"
    );
}

/// A page's values as Notion edits (people wrote them).
fn typed(n: &Vals) -> Edits {
    let mut e = Edits::default();
    for (f, v) in n {
        e.notion(f, v);
    }
    e
}

fn seeds(default: &[u64]) -> Vec<u64> {
    match std::env::var("SYNC_MODEL_SEED") {
        Ok(s) => vec![s.parse().expect("SYNC_MODEL_SEED is a number")],
        Err(_) => default.to_vec(),
    }
}

const STEPS: usize = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_random_edits_converge_to_the_model() {
    for seed in seeds(&[1, 2, 3, 4, 5, 6]) {
        eprintln!("seed {seed}");
        run_seed(TestDb::sqlite().await, seed, STEPS).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_random_edits_converge_to_the_model() {
    for seed in seeds(&[11, 12, 13]) {
        eprintln!("seed {seed}");
        run_seed(TestDb::postgres().await, seed, STEPS).await;
    }
}

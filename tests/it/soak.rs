//! Soak: the real `serve` binary against both sandboxes while people edit
//! both sides at random and the vendors misbehave at random (latency, 5xx,
//! 429, dropped, duplicated, delayed and reordered webhooks), then a sweep.
//! Afterwards: both sides equal, zero lost edits (the last edit of every
//! field is on both sides, unless the field's conflict rule decided
//! otherwise, and then the conflict is logged), zero duplicates, zero dead
//! jobs.
//!
//! `SOAK_SECS` sets how long the edits and faults last (default 60; CI runs
//! 600). `SOAK_SEED` replays one run's choices (the seed is printed).
//!
//!     SOAK_SECS=600 scripts/with-postgres.sh cargo nextest run --test it soak::

use crate::failures::harness;

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use harness::{
    Backend, Options, Sandboxes, Service, TempDir, assert_no_dead_jobs, database_url, plain_text,
    select_name, try_until_none, until_idle,
};
use notion_airtable_sandbox::{
    common::{DeliveryKnobs, Faults},
    team,
};
use notion_airtable_sync::{
    engine::RECORD_FRESH_FOR,
    store::{JobState, LogQuery, Store, SyncDirection, now_ms},
};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use serde_json::{Value, json};

fn soak_secs() -> u64 {
    std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60)
}

/// Which side a person edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Notion,
    Airtable,
}

/// The last edit a person made to one field of one record.
#[derive(Debug, Clone)]
struct LastEdit {
    side: Side,
    value: String,
    /// The value equals the one both sides held at the last sync: by
    /// content, the same as undoing an unsynced edit of that side.
    reverts_to_synced: bool,
    /// When it was made (epoch ms).
    at: i64,
}

/// Fields each side edits (one-way fields only on their source side).
const NOTION_FIELDS: &[&str] = &["Name", "Status", "Priority", "Target Quarter"];
const AIRTABLE_FIELDS: &[&str] = &["Status", "Priority", "Target Quarter", "Sprint", "Blockers"];

fn options_of(field: &str) -> Option<&'static [&'static str]> {
    match field {
        "Status" => Some(&team::STATUSES),
        "Priority" => Some(&team::PRIORITIES),
        "Target Quarter" => Some(&team::QUARTERS),
        _ => None,
    }
}

/// A random value for `field` other than `current` (setting a field to the
/// value it has is no edit): one of its options, or a fresh text.
fn value_for(rng: &mut StdRng, field: &str, n: usize, current: &str) -> String {
    match options_of(field) {
        Some(options) => {
            let others: Vec<&str> = options.iter().copied().filter(|o| *o != current).collect();
            others.choose(rng).unwrap().to_string()
        }
        None => format!("{field} edit {n}"),
    }
}

/// The Notion property write for `field = value`.
fn notion_write(field: &str, value: &str) -> Value {
    match field {
        "Name" => json!({ "Name": { "title": [{ "text": { "content": value } }] } }),
        _ => json!({ field: { "select": { "name": value } } }),
    }
}

/// The field as Notion shows it.
fn notion_value(page: &Value, field: &str) -> String {
    let prop = &page["properties"][field];
    match field {
        "Name" | "Sprint" | "Blockers" => plain_text(prop),
        _ => select_name(prop).as_str().unwrap_or_default().to_owned(),
    }
}

/// The field as Airtable shows it.
fn airtable_value(row: &Value, field: &str) -> String {
    let name = if field == "Name" { "Spec Name" } else { field };
    row["fields"][name].as_str().unwrap_or_default().to_owned()
}

struct Soak {
    rng: StdRng,
    sb: Sandboxes,
    store: Store,
    pages: Vec<String>,
    last: BTreeMap<(String, &'static str), LastEdit>,
    /// Every edit, in order: to show a lost one's story.
    history: Vec<(String, &'static str, LastEdit)>,
    edits: usize,
}

impl Soak {
    async fn edit_notion(&mut self) {
        let page = self.pages.choose(&mut self.rng).unwrap().clone();
        let field = *NOTION_FIELDS.choose(&mut self.rng).unwrap();
        let current = notion_value(&self.sb.notion.page(&page).unwrap(), field);
        let value = value_for(&mut self.rng, field, self.edits, &current);
        self.sb
            .notion
            .update_page_as_person(&page, &self.sb.person(), notion_write(field, &value))
            .unwrap();
        self.record(page, field, Side::Notion, value).await;
    }

    async fn edit_airtable(&mut self) {
        let page = self.pages.choose(&mut self.rng).unwrap().clone();
        // A page created moments ago may have no row yet.
        let rows = self.sb.rows_for(&page);
        if rows.len() != 1 {
            return;
        }
        let field = *AIRTABLE_FIELDS.choose(&mut self.rng).unwrap();
        let current = airtable_value(&rows[0], field);
        let value = value_for(&mut self.rng, field, self.edits, &current);
        self.sb.edit_row(&page, json!({ field: value }));
        self.record(page, field, Side::Airtable, value).await;
    }

    async fn create_page(&mut self) {
        let name = format!("Soak spec {}", self.edits);
        let page = self
            .sb
            .notion
            .insert_page_as_person(
                &self.sb.team_n.data_source_id,
                &self.sb.person(),
                notion_write("Name", &name),
            )
            .unwrap();
        self.pages.push(page.clone());
        self.record(page, "Name", Side::Notion, name).await;
    }

    async fn record(&mut self, page: String, field: &'static str, side: Side, value: String) {
        self.edits += 1;
        let at = now_ms();
        let synced = self
            .store
            .get_link_by_page("specs", &page)
            .await
            .unwrap()
            .and_then(|link| link.snapshot.get(field).cloned());
        let edit = LastEdit {
            side,
            reverts_to_synced: synced == Some(json!({ "type": "text", "value": value })),
            value,
            at,
        };
        self.history.push((page.clone(), field, edit.clone()));
        self.last.insert((page, field), edit);
    }

    /// New random faults on both vendors and their webhook deliveries.
    fn shake(&mut self) {
        let rng = &mut self.rng;
        for (notion, seed) in [(true, rng.random()), (false, rng.random())] {
            let faults = Faults {
                latency_ms: rng.random_range(0..150),
                error_rate: rng.random_range(0.0..0.15),
                rate_limit_rate: rng.random_range(0.0..0.05),
                seed: Some(seed),
                only_path: None,
                only_method: None,
            };
            let delivery = DeliveryKnobs {
                drop_rate: rng.random_range(0.0..0.2),
                duplicate_rate: rng.random_range(0.0..0.3),
                delay_ms_min: 0,
                delay_ms_max: rng.random_range(0..2_000),
                reorder: rng.random_bool(0.5),
                ..DeliveryKnobs::default()
            };
            if notion {
                self.sb.notion.set_faults(faults);
                self.sb.notion.set_delivery(delivery);
            } else {
                self.sb.airtable.set_faults(faults);
                self.sb.airtable.set_delivery(delivery);
            }
        }
    }

    fn calm(&self) {
        self.sb.notion.set_faults(Faults::default());
        self.sb.airtable.set_faults(Faults::default());
        self.sb.notion.set_delivery(DeliveryKnobs::default());
        self.sb.airtable.set_delivery(DeliveryKnobs::default());
    }
}

/// Mapped fields whose two sides differ, and pages without exactly one row.
fn differences(sb: &Sandboxes, pages: &[String]) -> Vec<String> {
    let rows = sb.rows();
    let mut out = Vec::new();
    for page_id in pages {
        let mine: Vec<&Value> = rows
            .iter()
            .filter(|r| r["fields"]["Notion Page ID"] == json!(page_id))
            .collect();
        if mine.len() != 1 {
            out.push(format!("{page_id}: {} rows", mine.len()));
            continue;
        }
        let page = sb.notion.page(page_id).unwrap();
        for field in [
            "Name",
            "Status",
            "Priority",
            "Target Quarter",
            "Sprint",
            "Blockers",
        ] {
            let (n, a) = (notion_value(&page, field), airtable_value(mine[0], field));
            if n != a {
                out.push(format!("{page_id} {field}: Notion {n:?}, Airtable {a:?}"));
            }
        }
    }
    out
}

async fn soak(backend: Backend) {
    let seed = std::env::var("SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    let secs = soak_secs();
    eprintln!("SOAK_SEED={seed} SOAK_SECS={secs} ({backend:?})");
    let dir = TempDir::new();
    let sb = Sandboxes::start().await;
    let db_url = database_url(backend, &dir.0).await;
    let mut svc = Service::new(&sb, &dir.0, &db_url, Options::default());
    svc.start_synced(&sb).await;
    let store = svc.store().await;
    until_idle(&store, 60).await;
    let pages = sb.team_n.page_ids.clone();
    let mut s = Soak {
        rng: StdRng::seed_from_u64(seed),
        sb,
        store: store.clone(),
        pages,
        last: BTreeMap::new(),
        history: Vec::new(),
        edits: 0,
    };

    let started = Instant::now();
    let mut shaken = Instant::now() - Duration::from_secs(60);
    while started.elapsed() < Duration::from_secs(secs) {
        if shaken.elapsed() >= Duration::from_secs(5) {
            s.shake();
            shaken = Instant::now();
        }
        match s.rng.random_range(0..100) {
            0..45 => s.edit_notion().await,
            45..95 => s.edit_airtable().await,
            _ => s.create_page().await,
        }
        // About four edits a second, in bursts and lulls.
        let pause = s.rng.random_range(0..500);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    s.calm();
    eprintln!("{} edits, {} pages", s.edits, s.pages.len());

    // The sweep heals what the dropped webhooks left behind.
    drain(&store, seed).await;
    svc.reconcile(true).await;
    drain(&store, seed).await;
    if let Err(left) = try_until_none(60, async || differences(&s.sb, &s.pages)).await {
        panic!("seed {seed}: the sides differ after the sweep: {left:#?}");
    }

    // Zero lost edits: each field's last edit is on both sides, unless a
    // conflict was decided against it (and then it is logged as one).
    // (page, field) → the latest conflict logged for it.
    let mut conflicts: BTreeMap<(String, String), i64> = BTreeMap::new();
    for e in store.list_conflicts(None, 100_000).await.unwrap() {
        if let (Some(page), Some(field)) = (e.notion_page_id, e.field) {
            let at = conflicts.entry((page, field)).or_insert(e.at);
            *at = (*at).max(e.at);
        }
    }
    let mut lost = Vec::new();
    let (mut overruled, mut reverted, mut raced) = (0, 0, 0);
    for ((page, field), edit) in &s.last {
        let now = notion_value(&s.sb.notion.page(page).unwrap(), field);
        if now == edit.value {
            continue;
        }
        let decided = conflicts.get(&(page.clone(), field.to_string()));
        if decided.is_some_and(|at| *at >= edit.at) {
            overruled += 1;
            continue;
        }
        if raced_a_write(&store, page, field, edit).await {
            // Made while the service was writing the other side's value
            // there (between its read and its write): with no conditional
            // writes in either API, nothing can see it. Counted, reported.
            raced += 1;
            continue;
        }
        if edit.reverts_to_synced {
            // Back to the synced value while the other side changed it:
            // content-identical to no edit on this side, so the other wins.
            reverted += 1;
            continue;
        }
        lost.push((
            page.clone(),
            *field,
            format!(
                "{page} {field}: last edit {:?} in {:?}, both sides have {now:?}",
                edit.value, edit.side
            ),
        ));
    }
    eprintln!(
        "{} fields edited, {overruled} decided by a logged conflict, {reverted} reverted to the \
         synced value, {raced} overwritten by a write in flight, {} conflicts logged",
        s.last.len(),
        conflicts.len()
    );
    if !lost.is_empty() {
        let stories = stories(&s, &store, &lost).await;
        panic!("seed {seed}: lost edits: {lost:#?}\n{stories}");
    }
    assert_no_dead_jobs(&store).await;
}

/// How long the backlog of ten minutes of edits (about twice what Notion's
/// rate limit lets through) may take to drain once the edits stop.
const DRAIN_SECS: u64 = 300;

/// Wait for an empty queue; if it does not empty, fail saying what is left
/// and why (each job's attempts and last error).
async fn drain(store: &Store, seed: u64) {
    let idle = try_until_none(DRAIN_SECS, async || {
        let c = store.job_counts().await.unwrap();
        match c.pending + c.running {
            0 => Vec::new(),
            _ => vec![format!("{} pending, {} running", c.pending, c.running)],
        }
    })
    .await;
    let Err(mut left) = idle else { return };
    for state in [JobState::Running, JobState::Pending] {
        for job in store.list_jobs(Some(state), 5).await.unwrap() {
            left.push(format!(
                "{} {:?} attempts {}: {}",
                job.key,
                job.state,
                job.attempts,
                job.last_error.as_deref().unwrap_or("-")
            ));
        }
    }
    panic!("seed {seed}: the queue did not drain within {DRAIN_SECS} s: {left:#?}");
}

/// How long after a person's edit a write planned from a read made before
/// it can land: a record job sends its writes at most `RECORD_FRESH_FOR`
/// after it began (else it reads again), plus two seconds for the commit.
const RACE_WINDOW_MS: i64 = RECORD_FRESH_FOR.as_millis() as i64 + 2_000;

/// Whether the service wrote `field` into the edit's side within
/// [`RACE_WINDOW_MS`] after the edit: a write planned from a read made
/// before it.
async fn raced_a_write(store: &Store, page: &str, field: &str, edit: &LastEdit) -> bool {
    let into = match edit.side {
        Side::Notion => SyncDirection::AirtableToNotion,
        Side::Airtable => SyncDirection::NotionToAirtable,
    };
    let query = LogQuery {
        record: Some(page.to_owned()),
        since: Some(edit.at),
        limit: 1000,
        ..LogQuery::default()
    };
    store.query_log(&query).await.unwrap().iter().any(|e| {
        e.field.as_deref() == Some(field)
            && e.direction == into
            && !e.conflict
            && e.at <= edit.at + RACE_WINDOW_MS
    })
}

/// For each lost edit: the edits people made to that field and what the
/// service logged for it, in time order.
async fn stories(s: &Soak, store: &Store, lost: &[(String, &'static str, String)]) -> String {
    let mut out = String::new();
    for (page, field, what) in lost {
        out.push_str(&format!("\n{what}\n"));
        for (p, f, e) in &s.history {
            if p == page && f == field {
                out.push_str(&format!(
                    "  {} person {:?} → {:?} (reverts to synced: {})\n",
                    e.at, e.side, e.value, e.reverts_to_synced
                ));
            }
        }
        let query = LogQuery {
            record: Some(page.clone()),
            limit: 1000,
            ..LogQuery::default()
        };
        let mut entries = store.query_log(&query).await.unwrap();
        entries.reverse();
        for e in entries
            .iter()
            .filter(|e| e.field.as_deref() == Some(*field))
        {
            out.push_str(&format!(
                "  {} service {:?} {:?} → {:?} conflict={} winner={:?} cause={:?} {}\n",
                e.at,
                e.direction,
                e.old_value,
                e.new_value,
                e.conflict,
                e.winner,
                e.cause,
                e.detail.as_deref().unwrap_or("")
            ));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_random_edits_and_faults_then_a_sweep_lose_nothing() {
    soak(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_random_edits_and_faults_then_a_sweep_lose_nothing() {
    soak(Backend::Postgres).await;
}

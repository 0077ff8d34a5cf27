//! What the merge must guarantee when the signals lie or go missing: echoes
//! without their origin metadata, conflicting edits delivered late and out
//! of order, and events that never arrive (dropped webhooks, an Airtable
//! payload cursor whose payloads expired).

use notion_airtable_sandbox::{
    common::{DeliveryKnobs, DeliveryRecord},
    team,
};
use notion_airtable_sync::{
    jobs::spec::JobSpec,
    store::{Cause, JobState, now_ms},
};
use serde_json::{Value, json};

use super::harness::{
    Backend, Options, Sandboxes, Service, TempDir, assert_no_dead_jobs, database_url, eventually,
    plain_text, select_name, try_until_none, until_idle,
};
use crate::common::{
    TestDb,
    world::{World, world},
};

fn world_writes(w: &World) -> u64 {
    let n = w.notion.calls().snapshot();
    let a = w.airtable.calls().snapshot();
    n.iter()
        .chain(&a)
        .filter(|c| {
            c.method != "GET" && !c.route.contains("/query") && !c.route.contains("listRecords")
        })
        .map(|c| c.count)
        .sum()
}

/// Run every pending reconcile job the way a worker would, with the engine.
async fn run_pending_reconciles(w: &World) -> usize {
    let jobs = w
        .engine
        .store
        .list_jobs(Some(JobState::Pending), 100)
        .await
        .unwrap();
    let mut ran = 0;
    for job in jobs {
        match JobSpec::from_payload(&job.payload).unwrap() {
            JobSpec::ReconcilePage { page_id, .. } => {
                w.engine
                    .reconcile_page(&w.pair, &page_id, Cause::Webhook)
                    .await
                    .unwrap();
            }
            JobSpec::ReconcileRecord { record_id, .. } => {
                w.engine
                    .reconcile_record(&w.pair, &record_id, Cause::Webhook)
                    .await
                    .unwrap();
            }
            _ => continue,
        }
        ran += 1;
    }
    ran
}

/// The service's own writes come back as events. With the metadata that
/// identifies them stripped (no Airtable `source`/user that is ours, no
/// Notion author that is our bot) each echo becomes a reconcile, and the
/// snapshot alone stops it: both sides equal the snapshot, nothing is
/// written.
pub async fn echoes_without_origin_metadata_are_stopped_by_the_snapshot(db: TestDb) {
    let w = world(db).await;
    w.sweep(true).await;
    w.engine
        .ensure_webhook(&w.pair, "http://127.0.0.1:9")
        .await
        .unwrap();
    let hook = w.engine.store.list_webhooks(None).await.unwrap().remove(0);
    let page = w.team_n.page_ids[3].clone();

    // Notion → Airtable: a person's edit, synced by the service.
    w.notion
        .update_page_as_person(
            &page,
            &w.person(),
            json!({ "Priority": { "select": { "name": "P0" } } }),
        )
        .unwrap();
    w.engine
        .reconcile_page(&w.pair, &page, Cause::Webhook)
        .await
        .unwrap();
    assert_eq!(w.row_for(&page)["fields"]["Priority"], json!("P0"));
    let writes = world_writes(&w);
    // The Airtable echo of that write, read without the metadata that names
    // the service (its user id is not recognised): not an echo by origin...
    let drained = w
        .engine
        .drain_airtable_webhook(&w.pair, &hook, "usrNotTheService0", now_ms())
        .await
        .unwrap();
    assert_eq!(drained.echoes, 0, "{drained:?}");
    assert!(
        drained.jobs >= 1,
        "the echo queues a reconcile: {drained:?}"
    );
    // ...but the reconcile finds both sides equal to the snapshot.
    assert!(run_pending_reconciles(&w).await >= 1);
    assert_eq!(world_writes(&w), writes, "an echo wrote");

    // Airtable → Notion: a person's edit, synced; the Notion echo has no
    // author the service could recognise, so it is reconciled too.
    let record = w.row_for(&page)["id"].as_str().unwrap().to_owned();
    w.airtable
        .update_record_as_person(
            &w.team_a.base_id,
            &w.team_a.table_id,
            &record,
            json!({ "Sprint": "Sprint 77" }),
        )
        .unwrap();
    w.engine
        .reconcile_record(&w.pair, &record, Cause::Webhook)
        .await
        .unwrap();
    assert_eq!(
        plain_text(&w.page(&page)["properties"]["Sprint"]),
        "Sprint 77"
    );
    let writes = world_writes(&w);
    for _ in 0..3 {
        w.engine
            .reconcile_page(&w.pair, &page, Cause::Webhook)
            .await
            .unwrap();
        w.engine
            .reconcile_record(&w.pair, &record, Cause::Webhook)
            .await
            .unwrap();
    }
    assert_eq!(world_writes(&w), writes, "an echo wrote");
}

// ---------------------------------------------------------------- conflicts

/// Deliveries late (0.3–3 s), shuffled and sometimes twice.
fn unruly() -> DeliveryKnobs {
    DeliveryKnobs {
        duplicate_rate: 0.3,
        delay_ms_min: 300,
        delay_ms_max: 3_000,
        reorder: true,
        ..DeliveryKnobs::default()
    }
}

fn select_of(sb: &Sandboxes, page: &str, field: &str) -> Sides {
    let notion = select_name(&sb.notion.page(page).unwrap()["properties"][field]);
    let airtable = sb.row_for(page).unwrap()["fields"][field].clone();
    (notion, airtable)
}

/// A select's value in Notion and in Airtable.
type Sides = (Value, Value);

/// One record's edits in a round: the same two fields changed to different
/// values on each side (both different from the current value, so that each
/// really is an edit), plus one field edited on one side only.
struct ConflictingEdit {
    notion_status: &'static str,
    airtable_status: &'static str,
    notion_quarter: &'static str,
    airtable_quarter: &'static str,
    priority: &'static str,
    sprint: String,
}

impl ConflictingEdit {
    fn for_page(sb: &Sandboxes, page: &str, round: usize) -> Self {
        let current = |field| select_of(sb, page, field).0;
        let others = |all: &[&'static str], field| -> Vec<&'static str> {
            let now = current(field);
            all.iter().copied().filter(|v| json!(v) != now).collect()
        };
        let statuses = others(&team::STATUSES, "Status");
        let quarters = others(&team::QUARTERS, "Target Quarter");
        let priorities = others(&team::PRIORITIES, "Priority");
        ConflictingEdit {
            notion_status: statuses[round % statuses.len()],
            airtable_status: statuses[(round + 1) % statuses.len()],
            notion_quarter: quarters[0],
            airtable_quarter: quarters[1],
            priority: priorities[round % priorities.len()],
            sprint: format!("Round {round} sprint"),
        }
    }

    /// Status by rule `notion`, Target Quarter by rule `airtable`, the
    /// one-sided edits as made: (Notion, Airtable) for each select.
    fn outcome(&self) -> (Sides, Sides, Sides, String) {
        let both = |v: &str| (json!(v), json!(v));
        (
            both(self.notion_status),
            both(self.airtable_quarter),
            both(self.priority),
            self.sprint.clone(),
        )
    }
}

/// Both sides edit the same fields of six records within milliseconds,
/// while deliveries come late, shuffled and duplicated: `Status` (rule
/// `notion`) ends as Notion's value, `Target Quarter` (set to rule
/// `airtable` here) as Airtable's, on both sides; fields edited on one side
/// only (Priority in Notion, Sprint in Airtable) both survive; every
/// conflict is logged with its winner. Two rounds, same outcome.
pub async fn conflicting_edits_with_unruly_deliveries_resolve_by_rule(backend: Backend) {
    let dir = TempDir::new();
    let sb = Sandboxes::start().await;
    let db_url = database_url(backend, &dir.0).await;
    let quarter_rule = (
        "notion = \"Target Quarter\"\nairtable = \"Target Quarter\"\ndirection = \"both\"\nconflict = \"notion\"".to_owned(),
        "notion = \"Target Quarter\"\nairtable = \"Target Quarter\"\ndirection = \"both\"\nconflict = \"airtable\"".to_owned(),
    );
    let options = Options {
        config_edits: vec![quarter_rule],
        ..Options::default()
    };
    let mut svc = Service::new(&sb, &dir.0, &db_url, options);
    svc.start_synced(&sb).await;
    let store = svc.store().await;
    until_idle(&store, 60).await;
    sb.notion.set_delivery(unruly());
    sb.airtable.set_delivery(unruly());
    let person = sb.person();

    for round in 0..2 {
        let pages: Vec<String> = sb.team_n.page_ids[round * 6..round * 6 + 6].to_vec();
        let mut wanted = Vec::new();
        for page in &pages {
            let edit = ConflictingEdit::for_page(&sb, page, round);
            sb.notion
                .update_page_as_person(
                    page,
                    &person,
                    json!({
                        "Status": { "select": { "name": edit.notion_status } },
                        "Target Quarter": { "select": { "name": edit.notion_quarter } },
                        "Priority": { "select": { "name": edit.priority } },
                    }),
                )
                .unwrap();
            sb.edit_row(
                page,
                json!({
                    "Status": edit.airtable_status,
                    "Target Quarter": edit.airtable_quarter,
                    "Sprint": edit.sprint,
                }),
            );
            wanted.push(edit);
        }
        let converged = try_until_none(60, async || {
            let mut left = Vec::new();
            for (p, edit) in pages.iter().zip(&wanted) {
                let got = (
                    select_of(&sb, p, "Status"),
                    select_of(&sb, p, "Target Quarter"),
                    select_of(&sb, p, "Priority"),
                    plain_text(&sb.notion.page(p).unwrap()["properties"]["Sprint"]),
                );
                let want = edit.outcome();
                if got != want {
                    left.push(format!("{p}: {got:?}"));
                }
            }
            left
        })
        .await;
        if let Err(left) = converged {
            let log = svc.admin_get("/api/log?limit=500").await;
            let entries: Vec<&Value> = log
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| pages.iter().any(|p| e["notion_page_id"] == json!(p)))
                .collect();
            panic!("round {round} did not resolve by rule: {left:#?}\nsync log: {entries:#?}");
        }
        until_idle(&store, 60).await;
        // Late duplicates change nothing: the outcome holds once all is quiet.
        for (p, edit) in pages.iter().zip(&wanted) {
            let want = edit.outcome();
            assert_eq!(select_of(&sb, p, "Status"), want.0);
            assert_eq!(select_of(&sb, p, "Target Quarter"), want.1);
        }
        let conflicts = svc.admin_get("/api/conflicts?limit=500").await;
        for p in &pages {
            for (field, winner) in [("Status", "notion"), ("Target Quarter", "airtable")] {
                let logged = conflicts.as_array().unwrap().iter().any(|e| {
                    e["notion_page_id"] == json!(p)
                        && e["field"] == json!(field)
                        && e["winner"] == json!(winner)
                });
                assert!(
                    logged,
                    "the {field} conflict of {p} is logged, won by {winner}"
                );
            }
        }
    }
    assert_no_dead_jobs(&store).await;
}

// ------------------------------------------------------------ missed events

/// Notion's events are all dropped: the sweep (`POST /reconcile`) brings the
/// renames over. Then Airtable's pings are dropped and the payloads purged
/// (the 7-day retention): the next ping finds a cursor gap, a full sweep
/// runs, and the lost edits arrive too.
pub async fn missed_events_and_an_expired_cursor_are_healed_by_the_sweep(backend: Backend) {
    let dir = TempDir::new();
    let sb = Sandboxes::start().await;
    let db_url = database_url(backend, &dir.0).await;
    let mut svc = Service::new(&sb, &dir.0, &db_url, Options::default());
    svc.start_synced(&sb).await;
    let store = svc.store().await;
    until_idle(&store, 60).await;
    let lost = DeliveryKnobs {
        drop_rate: 1.0,
        ..DeliveryKnobs::default()
    };
    let pages = sb.team_n.page_ids.clone();

    // Phase 1: Notion events lost.
    sb.notion.set_delivery(lost.clone());
    for (i, page) in pages[..5].iter().enumerate() {
        sb.rename_page(page, &format!("Unheard spec {i}"));
    }
    let all_renamed = || {
        pages[..5]
            .iter()
            .enumerate()
            .all(|(i, p)| sb.airtable_name(p).as_deref() == Some(&format!("Unheard spec {i}")))
    };
    // (A precondition, not the assertion: the events were dropped, and
    // with them gone nothing brings the renames: the service's own earlier
    // writes produce only events it ignores.)
    eventually(30, "the five events dropped", async || {
        (dropped(&sb.notion.deliveries()) >= 5).then_some(())
    })
    .await;
    until_idle(&store, 30).await;
    assert!(!all_renamed(), "the renames were not delivered");
    svc.reconcile(false).await;
    eventually(60, "the sweep to bring the renames", async || {
        all_renamed().then_some(())
    })
    .await;
    sb.notion.set_delivery(DeliveryKnobs::default());

    // Phase 2: Airtable pings lost, then their payloads expire.
    let pings_dropped_before = dropped(&sb.airtable.deliveries());
    sb.airtable.set_delivery(lost);
    for (i, page) in pages[5..10].iter().enumerate() {
        sb.edit_row(page, json!({ "Sprint": format!("Unheard sprint {i}") }));
    }
    let sprint_of = |p: &str| plain_text(&sb.notion.page(p).unwrap()["properties"]["Sprint"]);
    // (The pings were dropped. A ping of one of the service's own earlier
    // writes may still arrive and fetch these payloads too: that is not a
    // loss. What matters is below: once the payloads are purged, the gap
    // makes a full sweep run, and every edit arrives.)
    eventually(30, "the pings dropped", async || {
        (dropped(&sb.airtable.deliveries()) > pings_dropped_before).then_some(())
    })
    .await;
    let full_sweeps_before = last_full_sweep(&store).await;
    sb.airtable
        .purge_payloads_before(&sb.team_a.base_id, u64::MAX);
    sb.airtable.set_delivery(DeliveryKnobs::default());
    sb.edit_row(&pages[10], json!({ "Sprint": "Heard sprint" }));
    eventually(60, "the gap's full sweep to bring every edit", async || {
        let lost_ones = pages[5..10]
            .iter()
            .enumerate()
            .all(|(i, p)| sprint_of(p) == format!("Unheard sprint {i}"));
        (lost_ones && sprint_of(&pages[10]) == "Heard sprint").then_some(())
    })
    .await;
    until_idle(&store, 60).await;
    assert!(
        last_full_sweep(&store).await > full_sweeps_before,
        "the cursor gap ran a full sweep"
    );
    assert_no_dead_jobs(&store).await;
    assert_eq!(sb.rows().len(), 47);
}

/// Messages the sandbox dropped on purpose (the `drop_rate` knob).
fn dropped(deliveries: &[DeliveryRecord]) -> usize {
    deliveries.iter().filter(|d| d.dropped).count()
}

/// When the pair's last full sweep finished (epoch ms; 0 if never).
async fn last_full_sweep(store: &notion_airtable_sync::store::Store) -> i64 {
    store
        .get_sweep("specs", notion_airtable_sync::store::SweepKind::Full)
        .await
        .unwrap()
        .and_then(|s| s.last_finished_at)
        .unwrap_or(0)
}

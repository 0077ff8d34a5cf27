//! One writer per record, and a Notion page create that cannot be doubled:
//! with `create_notion_pages` on, a full sweep, an incremental sweep and a
//! record job per new Airtable row all work on the same rows at once, on two
//! replicas (two job runners sharing one database) and from the command line
//! next to them, and every new row still ends with exactly one page.

#[macro_use]
mod common;

use std::{collections::HashMap, sync::Arc, time::Duration};

use common::{
    TestDb,
    world::{World, world_with},
};
use notion_airtable_sync::{
    jobs::{
        Runner, RunnerConfig,
        kinds::{JobSpec, Trigger},
    },
    sandbox::common::Faults,
    store::{Cause, JobState, now_ms},
    sync::{engine::SweepOptions, service::SyncService},
};
use serde_json::json;

/// New rows per test: the twelve.
const NEW_ROWS: usize = 12;

/// People add rows in Airtable, none of them linked yet. From then on the
/// Notion sandbox answers as slowly as the real API often does (a few
/// hundred milliseconds), so that the jobs' requests overlap as they do in
/// production.
fn add_rows(w: &World) -> Vec<String> {
    w.notion.set_faults(Faults {
        latency_ms: 300,
        ..Faults::default()
    });
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    (0..NEW_ROWS)
        .map(|i| {
            w.airtable
                .insert_record_as_person(
                    base,
                    table,
                    json!({ "Spec Name": format!("New spec {i}"), "Status": "Draft" }),
                )
                .unwrap()
        })
        .collect()
}

/// Every page of the data source, grouped by the row id it carries.
async fn pages_by_row(w: &World) -> HashMap<String, Vec<String>> {
    let pages = w
        .engine
        .notion
        .query_all(&w.team_n.data_source_id, None)
        .await
        .unwrap();
    let mut by_row: HashMap<String, Vec<String>> = HashMap::new();
    for page in pages {
        let row = page
            .property("Airtable Record ID")
            .map(|p| p.plain_text())
            .unwrap_or_default();
        if !row.is_empty() {
            by_row.entry(row).or_default().push(page.id);
        }
    }
    by_row
}

/// No row has more than one page.
async fn assert_no_row_has_two_pages(w: &World) {
    let by_row = pages_by_row(w).await;
    let doubled: Vec<(&String, &Vec<String>)> =
        by_row.iter().filter(|(_, pages)| pages.len() > 1).collect();
    assert!(doubled.is_empty(), "rows with several pages: {doubled:?}");
}

/// Exactly one page per new row, named in the row and linked in the store.
async fn assert_one_page_per_row(w: &World, rows: &[String]) {
    assert_no_row_has_two_pages(w).await;
    let by_row = pages_by_row(w).await;
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    for row in rows {
        let pages = by_row
            .get(row)
            .unwrap_or_else(|| panic!("row {row} got no page"));
        let record = w.airtable.record(base, table, row).unwrap();
        assert_eq!(record["fields"]["Notion Page ID"], json!(pages[0]), "{row}");
        let link = w
            .engine
            .store
            .get_link_by_record(w.pair.name(), row)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("row {row} is not linked"));
        assert_eq!(link.notion_page_id, pages[0]);
    }
}

/// Two replicas' runners (four workers each, as `serve` runs them) take a
/// full sweep, an incremental sweep and a record job per new row at once.
async fn every_job_kind_on_two_replicas_creates_one_page_per_row(db: TestDb) {
    let w = world_with(db, 0, "create_notion_pages = true").await;
    w.sweep(true).await;
    let rows = add_rows(&w);
    let store = w.engine.store.clone();
    let pair = w.pair.name().to_owned();
    let mut specs = vec![
        JobSpec::Sweep {
            pair: pair.clone(),
            full: true,
        },
        JobSpec::Sweep {
            pair: pair.clone(),
            full: false,
        },
    ];
    specs.extend(rows.iter().map(|row| JobSpec::ReconcileRecord {
        pair: pair.clone(),
        record_id: row.clone(),
        trigger: Trigger::Webhook,
    }));
    // The sweeps are due now; the rows' webhooks bring their record jobs
    // after the pair's debounce, while the sweeps are creating pages.
    let debounce = i64::try_from(w.pair.config.options.debounce_ms).unwrap();
    for spec in &specs {
        let run_at = match spec {
            JobSpec::Sweep { .. } => now_ms(),
            _ => now_ms() + debounce,
        };
        store
            .enqueue(&spec.to_new_job(run_at), now_ms())
            .await
            .unwrap();
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let replicas: Vec<_> = (0..2)
        .map(|_| {
            let service = SyncService::new(w.engine.clone(), vec![w.pair.clone()], String::new());
            let runner = Runner::new(store.clone(), Arc::new(service), RunnerConfig::default());
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                runner
                    .run(async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    })
                    .await
            })
        })
        .collect();
    // Wait for the queue to empty (deferred jobs come back on their own).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        let counts = store.job_counts().await.unwrap();
        if counts.pending + counts.running == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "jobs still queued: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.send(true).unwrap();
    for replica in replicas {
        replica.await.unwrap();
    }
    assert_no_row_has_two_pages(&w).await;
    let dead = store.list_jobs(Some(JobState::Dead), 100).await.unwrap();
    assert!(dead.is_empty(), "dead jobs: {dead:?}");
    assert_one_page_per_row(&w, &rows).await;
    // Converged: one more sweep creates nothing.
    let again = w.sweep(true).await;
    assert_eq!(again.created_in_notion, 0, "{again:?}");
}

/// The command line's sweeps (no job, no lease: `reconcile` run next to
/// `serve`, or by two cron entries) on the same rows at once: the claims
/// work without a job behind them too.
async fn command_line_sweeps_at_once_create_one_page_per_row(db: TestDb) {
    let w = world_with(db, 0, "create_notion_pages = true").await;
    w.sweep(true).await;
    let rows = add_rows(&w);
    let sweep = |full| {
        w.engine.sweep(
            &w.pair,
            SweepOptions {
                full,
                dry_run: false,
                cause: Cause::Manual,
            },
        )
    };
    let (full, incremental, second_full) = tokio::join!(sweep(true), sweep(false), sweep(true));
    assert_no_row_has_two_pages(&w).await;
    for summary in [full, incremental, second_full] {
        let summary = summary.unwrap();
        assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    }
    assert_one_page_per_row(&w, &rows).await;
}

both_backends! {
    every_job_kind_on_two_replicas_creates_one_page_per_row,
    command_line_sweeps_at_once_create_one_page_per_row,
}

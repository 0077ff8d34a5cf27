//! `undo` end to end against both sandboxes over HTTP, on SQLite and
//! Postgres: one change, a run, a period; a field edited in between is left
//! alone and listed; an undo is logged and can itself be undone; a dry run
//! writes nothing; bad input is an error that changes nothing; log lines
//! say what they replaced; a page the service trashed comes back.

use std::sync::Arc;

use crate::common;

use common::{
    TestDb,
    world::{World, select_of, world, world_edited},
};
use notion_airtable_sync::{
    engine::{Engine, new_run_id},
    store::{Cause, LogAction, LogEntry, LogQuery, LogSelection, now_ms},
    sync::undo::UndoReport,
};
use serde_json::{Value, json};

const STATUSES: [&str; 5] = ["Draft", "Ready", "In Progress", "In Review", "Shipped"];

async fn undo(w: &World, selection: LogSelection, dry_run: bool) -> UndoReport {
    try_undo(w, selection, dry_run).await.unwrap()
}

async fn try_undo(w: &World, selection: LogSelection, dry_run: bool) -> anyhow::Result<UndoReport> {
    let pairs = vec![Arc::new(w.pair.clone())];
    w.engine.undo(&pairs, &selection, dry_run).await
}

/// Both sides' Status of a record.
fn status(w: &World, page: &str) -> (Value, Value) {
    let notion = select_of(&w.page(page)["properties"]["Status"]);
    (notion, w.row_for(page)["fields"]["Status"].clone())
}

/// A status other than the page's.
fn other_status(w: &World, page: &str, skip: usize) -> String {
    let now = status(w, page).0;
    STATUSES
        .iter()
        .filter(|s| json!(s) != now)
        .nth(skip)
        .unwrap()
        .to_string()
}

/// A person sets Status in Notion and the engine syncs it (as `engine`).
async fn edit_and_sync(w: &World, engine: &Engine, page: &str, value: &str) {
    let props = json!({ "Status": { "select": { "name": value } } });
    w.notion
        .update_page_as_person(page, &w.person(), props)
        .unwrap();
    engine
        .reconcile_page(&w.pair, page, Cause::Webhook)
        .await
        .unwrap();
    assert_eq!(status(w, page), (json!(value), json!(value)));
}

async fn log_of(w: &World, query: LogQuery) -> Vec<LogEntry> {
    w.engine
        .store
        .query_log(&LogQuery {
            limit: 1000,
            ..query
        })
        .await
        .unwrap()
}

/// The newest logged change of a record's Status.
async fn status_entry(w: &World, page: &str) -> LogEntry {
    let record = Some(page.to_owned());
    log_of(
        w,
        LogQuery {
            record,
            ..LogQuery::default()
        },
    )
    .await
    .into_iter()
    .find(|e| e.field.as_deref() == Some("Status") && e.action == LogAction::Update)
    .expect("a Status change is logged")
}

/// Requests that change something on either side (reads and queries are
/// not counted).
fn writes(w: &World) -> u64 {
    let count = |calls: Vec<notion_airtable_sandbox::common::CallCount>| -> u64 {
        calls
            .into_iter()
            .filter(|c| match c.method.as_str() {
                "PATCH" | "PUT" | "DELETE" => true,
                "POST" => !c.route.contains("query") && !c.route.contains("listRecords"),
                _ => false,
            })
            .map(|c| c.count)
            .sum()
    };
    count(w.notion.calls().snapshot()) + count(w.airtable.calls().snapshot())
}

async fn started(db: TestDb) -> World {
    let w = world(db).await;
    w.sweep(true).await;
    w
}

async fn one_change_goes_back_on_both_sides_and_the_undo_can_be_undone(db: TestDb) {
    let w = started(db).await;
    let page = w.team_n.page_ids[0].clone();
    let before = status(&w, &page);
    let new = other_status(&w, &page, 0);
    edit_and_sync(&w, &w.engine, &page, &new).await;
    let entry = status_entry(&w, &page).await;
    assert!(entry.run_id.is_some(), "{entry:?}");

    let report = undo(&w, LogSelection::Entry(entry.id), false).await;
    assert_eq!(report.reverted.len(), 1, "{report:?}");
    assert!(report.skipped.is_empty(), "{report:?}");
    assert_eq!(status(&w, &page), before);
    // Logged under its own run, cause undo, naming what it undid, one line
    // per side, old and new as the sides held them.
    let run = report.run_id.clone().expect("an undo has a run id");
    let lines = log_of(
        &w,
        LogQuery {
            run: Some(run.clone()),
            ..LogQuery::default()
        },
    )
    .await;
    assert_eq!(lines.len(), 2, "{lines:#?}");
    for line in &lines {
        assert_eq!(line.cause, Cause::Undo);
        assert_eq!(line.undoes, Some(entry.id));
        assert_eq!(line.old_value.as_ref().unwrap()["value"], json!(new));
        assert_eq!(line.new_value.as_ref().unwrap()["value"], before.0);
    }
    // The snapshot was stored: the next reconcile writes nothing.
    w.notion.calls().reset();
    w.airtable.calls().reset();
    let again = w
        .engine
        .reconcile_page(&w.pair, &page, Cause::Webhook)
        .await
        .unwrap();
    assert_eq!((again.updated_airtable, again.updated_notion), (0, 0));
    assert_eq!(writes(&w), 0);

    // Undoing the undo puts the change back.
    let redo = undo(&w, LogSelection::Run(run), false).await;
    assert_eq!(redo.reverted.len(), 1, "{redo:?}");
    assert_eq!(status(&w, &page), (json!(new), json!(new)));
}

async fn a_run_is_undone_whole(db: TestDb) {
    let w = started(db).await;
    let run = new_run_id();
    let engine = w.engine.with_run(run.clone());
    let pages: Vec<String> = w.team_n.page_ids[1..4].to_vec();
    let before: Vec<_> = pages.iter().map(|p| status(&w, p)).collect();
    for page in &pages {
        let value = other_status(&w, page, 1);
        edit_and_sync(&w, &engine, page, &value).await;
    }
    // A change outside the run stays.
    let outside = w.team_n.page_ids[5].clone();
    let kept = other_status(&w, &outside, 0);
    edit_and_sync(&w, &w.engine, &outside, &kept).await;

    let report = undo(&w, LogSelection::Run(run), false).await;
    assert_eq!(report.reverted.len(), 3, "{report:?}");
    for (page, was) in pages.iter().zip(before) {
        assert_eq!(status(&w, page), was, "{page}");
    }
    assert_eq!(status(&w, &outside), (json!(kept), json!(kept)));
}

async fn a_period_goes_back_to_the_oldest_value(db: TestDb) {
    let w = started(db).await;
    let page = w.team_n.page_ids[6].clone();
    let before = status(&w, &page);
    let since = now_ms();
    // Two changes of one field in two runs, and one of another record.
    edit_and_sync(&w, &w.engine, &page, &other_status(&w, &page, 0)).await;
    edit_and_sync(&w, &w.engine, &page, &other_status(&w, &page, 1)).await;
    let second = w.team_n.page_ids[7].clone();
    let second_before = status(&w, &second);
    edit_and_sync(&w, &w.engine, &second, &other_status(&w, &second, 2)).await;

    let pair = Some(w.pair.name().to_owned());
    let report = undo(&w, LogSelection::Since { since, pair }, false).await;
    assert_eq!(report.selected, 3, "only the period's entries: {report:?}");
    assert_eq!(report.reverted.len(), 2, "{report:?}");
    let twice = report.reverted.iter().find(|r| r.page_id == page).unwrap();
    assert_eq!(twice.entries.len(), 2, "{report:?}");
    assert_eq!(status(&w, &page), before);
    assert_eq!(status(&w, &second), second_before);
}

async fn a_field_edited_since_is_left_alone_and_listed(db: TestDb) {
    let w = started(db).await;
    let page = w.team_n.page_ids[8].clone();
    let new = other_status(&w, &page, 0);
    edit_and_sync(&w, &w.engine, &page, &new).await;
    let entry = status_entry(&w, &page).await;
    // A person changes the row again; not synced yet.
    let row = w.row_for(&page)["id"].as_str().unwrap().to_owned();
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    let theirs = other_status(&w, &page, 1);
    w.airtable
        .update_record_as_person(base, table, &row, json!({ "Status": theirs }))
        .unwrap();
    w.notion.calls().reset();
    w.airtable.calls().reset();

    let report = undo(&w, LogSelection::Entry(entry.id), false).await;
    assert!(report.reverted.is_empty(), "{report:?}");
    let [skipped] = &report.skipped[..] else {
        panic!("{report:?}")
    };
    assert_eq!(skipped.entries, vec![entry.id]);
    assert!(skipped.reason.starts_with("changed since"), "{skipped:?}");
    let value = |v: &Option<notion_airtable_sync::sync::value::Value>| {
        serde_json::to_value(v.as_ref().unwrap()).unwrap()["value"].clone()
    };
    assert_eq!(value(&skipped.notion_now), json!(new));
    assert_eq!(value(&skipped.airtable_now), json!(theirs));
    assert_eq!(writes(&w), 0, "nothing written");
    assert_eq!(status(&w, &page), (json!(new), json!(theirs)));
}

async fn a_dry_run_writes_nothing(db: TestDb) {
    let w = started(db).await;
    let page = w.team_n.page_ids[9].clone();
    let new = other_status(&w, &page, 0);
    edit_and_sync(&w, &w.engine, &page, &new).await;
    let entry = status_entry(&w, &page).await;
    let logged = log_of(&w, LogQuery::default()).await.len();
    w.notion.calls().reset();
    w.airtable.calls().reset();

    let report = undo(&w, LogSelection::Entry(entry.id), true).await;
    assert!(report.dry_run && report.run_id.is_none(), "{report:?}");
    assert_eq!(report.reverted.len(), 1, "what it would revert: {report:?}");
    assert_eq!(report.planned_writes.len(), 2, "{report:?}");
    assert!(
        report
            .planned_writes
            .iter()
            .any(|w| w.starts_with("Notion: update")),
        "{report:?}"
    );
    assert_eq!(writes(&w), 0);
    assert_eq!(status(&w, &page), (json!(new), json!(new)));
    assert_eq!(log_of(&w, LogQuery::default()).await.len(), logged);
}

async fn bad_input_is_a_clear_error_that_changes_nothing(db: TestDb) {
    let w = started(db).await;
    let logged = log_of(&w, LogQuery::default()).await.len();
    w.notion.calls().reset();
    w.airtable.calls().reset();
    let unknown = try_undo(&w, LogSelection::Entry(987_654), false).await;
    assert!(
        unknown
            .unwrap_err()
            .to_string()
            .contains("no sync log entry 987654"),
    );
    let no_run = try_undo(&w, LogSelection::Run("run-nope".into()), false).await;
    assert!(no_run.unwrap_err().to_string().contains("run-nope"));
    let bad_time =
        notion_airtable_sync::sync::undo::parse_selection(None, None, Some("soon"), None, now_ms());
    assert!(bad_time.unwrap_err().contains("--since"));
    assert_eq!(w.notion.calls().total() + w.airtable.calls().total(), 0);
    assert_eq!(log_of(&w, LogQuery::default()).await.len(), logged);
}

async fn a_restore_logs_the_archive_value_it_replaced(db: TestDb) {
    let w = started(db).await;
    let page = w.team_n.page_ids[10].clone();
    let (was, _) = status(&w, &page);
    let was = was.as_str().unwrap().to_owned();
    let person = w.person();
    w.notion
        .set_trashed_as_person(&page, &person, true)
        .unwrap();
    w.engine
        .reconcile_page(&w.pair, &page, Cause::Webhook)
        .await
        .unwrap();
    let archive = log_of(
        &w,
        LogQuery {
            record: Some(page.clone()),
            ..LogQuery::default()
        },
    )
    .await
    .into_iter()
    .find(|e| e.action == LogAction::Archive)
    .expect("the archive is logged");
    let detail = archive.detail.unwrap_or_default();
    assert!(
        detail.contains(&format!(r#"Status: "{was}" → "Archived""#)),
        "{detail}"
    );
    w.notion
        .set_trashed_as_person(&page, &person, false)
        .unwrap();
    w.engine
        .reconcile_page(&w.pair, &page, Cause::Webhook)
        .await
        .unwrap();
    let restore = status_entry(&w, &page).await;
    assert_eq!(restore.old_value.unwrap()["value"], json!("Archived"));
    assert_eq!(restore.new_value.unwrap()["value"], json!(was));
    // It is part of the restore: undo lists it with what to do instead.
    let report = undo(&w, LogSelection::Entry(restore.id), false).await;
    assert!(report.reverted.is_empty(), "{report:?}");
    assert!(
        report.skipped[0].reason.contains("trash again"),
        "{report:?}"
    );
}

async fn a_page_the_service_trashed_comes_back(db: TestDb) {
    let policy = r#"on_airtable_delete = "ignore""#;
    // Trashed at once: no delete review in between.
    let trash = "on_airtable_delete = \"trash\"\nreview_deletes = false";
    let w = world_edited(db, &[(policy, trash)]).await;
    w.sweep(true).await;
    let page = w.team_n.page_ids[11].clone();
    let row = w.row_for(&page)["id"].as_str().unwrap().to_owned();
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    w.airtable
        .delete_record_as_person(base, table, &row)
        .unwrap();
    w.engine
        .reconcile_page(&w.pair, &page, Cause::Webhook)
        .await
        .unwrap();
    assert_eq!(w.page(&page)["in_trash"], json!(true));
    let trashed = log_of(
        &w,
        LogQuery {
            record: Some(page.clone()),
            ..LogQuery::default()
        },
    )
    .await
    .into_iter()
    .find(|e| e.action == LogAction::Delete)
    .expect("the trash is logged");

    let report = undo(&w, LogSelection::Entry(trashed.id), false).await;
    assert_eq!(report.reverted.len(), 1, "{report:?}");
    assert_eq!(w.page(&page)["in_trash"], json!(false));
    // The row stays deleted; the restored page is left alone by the sync.
    w.engine
        .reconcile_page(&w.pair, &page, Cause::Webhook)
        .await
        .unwrap();
    assert_eq!(w.page(&page)["in_trash"], json!(false));
    // An undo of that undo moves it back to the trash.
    let run = report.run_id.unwrap();
    let back = undo(&w, LogSelection::Run(run), false).await;
    assert_eq!(back.reverted.len(), 1, "{back:?}");
    assert_eq!(w.page(&page)["in_trash"], json!(true));
}

/// A job's lines carry its id and the run `job-<id>` (through the worker,
/// as `serve` runs it), and `undo --run job-<id>` takes the job back.
async fn a_job_is_a_run(db: TestDb) {
    use notion_airtable_sync::{
        jobs::spec::{JobSpec, Trigger},
        store::Lease,
        worker::service::SyncService,
    };
    let w = started(db).await;
    let page = w.team_n.page_ids[12].clone();
    let before = status(&w, &page);
    let new = other_status(&w, &page, 0);
    let props = json!({ "Status": { "select": { "name": new } } });
    w.notion
        .update_page_as_person(&page, &w.person(), props)
        .unwrap();
    let spec = JobSpec::ReconcilePage {
        pair: w.pair.name().to_owned(),
        page_id: page.clone(),
        trigger: Trigger::Webhook,
    };
    let store = &w.engine.store;
    store
        .enqueue(&spec.to_new_job(now_ms()), now_ms())
        .await
        .unwrap();
    let job = store
        .claim(std::time::Duration::from_secs(60), now_ms())
        .await
        .unwrap()
        .expect("the job is due");
    let service = SyncService::new(w.engine.clone(), vec![w.pair.clone()], "usrTest".into());
    service.run_leased(&spec, Lease::from(&job)).await.unwrap();
    assert_eq!(status(&w, &page), (json!(new), json!(new)));
    let entry = status_entry(&w, &page).await;
    let run = format!("job-{}", job.id);
    assert_eq!(
        (entry.job_id, entry.run_id.as_deref()),
        (Some(job.id), Some(run.as_str()))
    );

    let report = undo(&w, LogSelection::Run(run), false).await;
    assert_eq!(report.reverted.len(), 1, "{report:?}");
    assert_eq!(status(&w, &page), before);
}

both_backends!(
    a_job_is_a_run,
    one_change_goes_back_on_both_sides_and_the_undo_can_be_undone,
    a_run_is_undone_whole,
    a_period_goes_back_to_the_oldest_value,
    a_field_edited_since_is_left_alone_and_listed,
    a_dry_run_writes_nothing,
    bad_input_is_a_clear_error_that_changes_nothing,
    a_restore_logs_the_archive_value_it_replaced,
    a_page_the_service_trashed_comes_back,
);

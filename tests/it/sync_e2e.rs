//! End to end against the sandbox servers over HTTP, on SQLite and Postgres:
//! the team's 47 specs are created in Airtable by one full sweep with every
//! mapped value right and the fewest calls the APIs allow, then a week of
//! edits on both sides converges with one more sweep, and a further sweep
//! writes nothing.

use crate::common;

use common::{
    TestDb,
    world::{World, assert_in_sync, select_of, set_clocks, text_of, world, world_at, world_with},
};
use std::time::Duration;

use notion_airtable_sync::{
    engine::SweepOptions,
    jobs::spec::{JobSpec, Trigger},
    store::{Cause, Lease, LeaseLost, LogQuery, SyncDirection, now_ms},
    worker::service::{JobOutcome, SyncService},
};
use serde_json::{Value, json};

async fn initial_sync_creates_every_row_with_the_fewest_calls(db: TestDb) {
    let w = world(db).await;
    w.notion.calls().reset();
    w.airtable.calls().reset();
    let summary = w.sweep(true).await;
    assert_eq!(summary.created_in_airtable, 47, "{summary:?}");
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    // One query, one list, ceil(47/10) = 5 upserts, nothing else.
    assert_eq!(
        w.notion.calls().total(),
        1,
        "{:?}",
        w.notion.calls().snapshot()
    );
    assert_eq!(
        w.airtable.calls().count(Some("GET"), "/v0/{base}/{table}"),
        1,
        "{:?}",
        w.airtable.calls().snapshot()
    );
    assert_eq!(
        w.airtable
            .calls()
            .count(Some("PATCH"), "/v0/{base}/{table}"),
        5
    );
    assert_eq!(w.airtable.calls().total(), 6);
    assert_eq!(w.rows().len(), 47);
    assert_in_sync(&w);
    // Converged: the next sweep reads each side once and writes nothing.
    let before = w.calls();
    let again = w.sweep(true).await;
    assert_eq!(again.unchanged, 47, "{again:?}");
    assert_eq!(w.calls(), (before.0 + 1, before.1 + 1));
}

async fn a_week_of_edits_converges_and_stays_converged(db: TestDb) {
    let w = world(db).await;
    w.sweep(true).await;
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    let ids = &w.team_n.page_ids;
    let rec = |i: usize| w.row_for(&ids[i])["id"].as_str().unwrap().to_owned();
    let person = w.person();

    // Engineering sets sprints, ship dates and blockers in Airtable.
    for i in 0..5 {
        w.airtable
            .update_record_as_person(
                base,
                table,
                &rec(i),
                json!({
                    "Sprint": format!("Sprint {}", 14 + i),
                    "Ship Date": "2026-12-04",
                    "Blockers": "Waiting on legal\nand on the API team",
                }),
            )
            .unwrap();
    }
    // The PM raises two priorities in Notion.
    for i in [10, 11] {
        w.notion
            .update_page_as_person(
                &ids[i],
                &person,
                json!({ "Priority": { "select": { "name": "P0" } } }),
            )
            .unwrap();
    }
    // A status changed on both sides at once: Notion wins Status conflicts.
    w.notion
        .update_page_as_person(
            &ids[20],
            &person,
            json!({ "Status": { "select": { "name": "In Review" } } }),
        )
        .unwrap();
    w.airtable
        .update_record_as_person(base, table, &rec(20), json!({ "Status": "Shipped" }))
        .unwrap();
    // An owner reassigned in Airtable reaches Notion's people property.
    w.airtable
        .update_record_as_person(base, table, &rec(21), json!({ "Owner": "Jonas Berg" }))
        .unwrap();
    // A spec is trashed; a new one is written.
    let trashed_row = rec(30);
    let status_before = w.row_for(&ids[30])["fields"]["Status"].clone();
    w.notion
        .set_trashed_as_person(&ids[30], &person, true)
        .unwrap();
    let new_page = w
        .notion
        .insert_page_as_person(
            &w.team_n.data_source_id,
            &person,
            json!({
                "Name": { "title": [{ "text": { "content": "Audit export v3" } }] },
                "Status": { "select": { "name": "Draft" } },
                "Priority": { "select": { "name": "P2" } },
            }),
        )
        .unwrap();

    let summary = w.sweep(true).await;
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    assert_eq!(summary.created_in_airtable, 1, "{summary:?}");
    assert_eq!(summary.archived, 1, "{summary:?}");
    assert_eq!(summary.conflicts, 1, "{summary:?}");

    let page = |i: usize| w.page(&ids[i]);
    assert_eq!(text_of(&page(2)["properties"]["Sprint"]), "Sprint 16");
    assert_eq!(
        page(2)["properties"]["Ship Date"]["date"]["start"],
        json!("2026-12-04")
    );
    assert_eq!(w.row_for(&ids[10])["fields"]["Priority"], json!("P0"));
    assert_eq!(
        select_of(&page(20)["properties"]["Status"]),
        json!("In Review")
    );
    assert_eq!(w.row_for(&ids[20])["fields"]["Status"], json!("In Review"));
    let owner = &page(21)["properties"]["Owner"]["people"];
    assert_eq!(owner.as_array().unwrap().len(), 1);
    assert_eq!(owner[0]["id"], json!(w.user("Jonas Berg")));
    let archived = w.airtable.record(base, table, &trashed_row).unwrap();
    assert_eq!(archived["fields"]["Status"], json!("Archived"));
    assert_eq!(
        w.row_for(&new_page)["fields"]["Spec Name"],
        json!("Audit export v3")
    );
    assert_in_sync(&w);

    let log = w
        .engine
        .store
        .query_log(&LogQuery {
            pair: Some("specs".into()),
            conflicts_only: true,
            ..LogQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].field.as_deref(), Some("Status"));

    // Restoring the spec restores its row's status from the snapshot.
    w.notion
        .set_trashed_as_person(&ids[30], &person, false)
        .unwrap();
    let summary = w.sweep(true).await;
    assert_eq!(summary.restored, 1, "{summary:?}");
    assert_eq!(
        w.airtable.record(base, table, &trashed_row).unwrap()["fields"]["Status"],
        status_before
    );

    // And nothing moves any more.
    let quiet = w.sweep(true).await;
    assert_eq!(quiet.unchanged, quiet.records_seen, "{quiet:?}");
    assert_eq!(
        quiet.updated_airtable + quiet.updated_notion + quiet.created_in_airtable,
        0
    );
}

async fn an_incremental_sweep_reads_only_what_changed(db: TestDb) {
    // Seed and sync an hour ago (sandbox time), then edit now: only the edits
    // are newer than the last sweep.
    let w = world_at(db, -3600).await;
    w.sweep(true).await;
    set_clocks(&w.notion, &w.airtable, 0).await;
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    let ids = &w.team_n.page_ids;
    let person = w.person();
    w.notion
        .update_page_as_person(
            &ids[3],
            &person,
            json!({ "Priority": { "select": { "name": "P0" } } }),
        )
        .unwrap();
    let rec = w.row_for(&ids[7])["id"].as_str().unwrap().to_owned();
    w.airtable
        .update_record_as_person(base, table, &rec, json!({ "Sprint": "Sprint 22" }))
        .unwrap();
    w.notion.calls().reset();
    w.airtable.calls().reset();
    let summary = w.sweep(false).await;
    assert_eq!(
        (summary.updated_airtable, summary.updated_notion),
        (1, 1),
        "{summary:?}"
    );
    assert_eq!(
        summary.records_seen, 2,
        "only the two edited records are read: {summary:?}"
    );
    // Notion: one query for the edited pages, one read of the page behind the
    // changed row, one write. Airtable: one list of changed rows, one list for
    // the row behind the edited page, one write.
    let notion_queries = w
        .notion
        .calls()
        .count(Some("POST"), "/v1/data_sources/{data_source_id}/query");
    let airtable_lists = w.airtable.calls().count(Some("GET"), "/v0/{base}/{table}");
    assert_eq!(notion_queries, 1, "{:?}", w.notion.calls().snapshot());
    assert!(airtable_lists <= 2, "{:?}", w.airtable.calls().snapshot());
    assert_eq!(w.row_for(&ids[3])["fields"]["Priority"], json!("P0"));
    assert_eq!(
        text_of(&w.page(&ids[7])["properties"]["Sprint"]),
        "Sprint 22"
    );
    assert_in_sync(&w);
}

async fn airtable_rows_become_notion_pages_once(db: TestDb) {
    let w = world_with(db, 0, "create_notion_pages = true").await;
    w.sweep(true).await;
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    let row = w
        .airtable
        .insert_record_as_person(
            base,
            table,
            json!({
                "Spec Name": "Data retention v1", "Status": "Ready", "Priority": "P1",
                "Owner": "Priya Raman", "Sprint": "Sprint 15",
            }),
        )
        .unwrap();
    // A page left behind by a run that created it and died before linking it.
    let orphan_row = w
        .airtable
        .insert_record_as_person(
            base,
            table,
            json!({ "Spec Name": "Orphan", "Status": "Draft" }),
        )
        .unwrap();
    let orphan_page = w
        .notion
        .insert_page_as_person(
            &w.team_n.data_source_id,
            &w.person(),
            json!({
                "Name": { "title": [{ "text": { "content": "Orphan" } }] },
                "Airtable Record ID": { "rich_text": [{ "text": { "content": orphan_row } }] },
            }),
        )
        .unwrap();
    let summary = w.sweep(true).await;
    assert_eq!(summary.created_in_notion, 1, "{summary:?}");
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    let linked = w.airtable.record(base, table, &row).unwrap();
    let page_id = linked["fields"]["Notion Page ID"]
        .as_str()
        .expect("the row is linked")
        .to_owned();
    let page = w.page(&page_id);
    assert_eq!(text_of(&page["properties"]["Name"]), "Data retention v1");
    assert_eq!(select_of(&page["properties"]["Priority"]), json!("P1"));
    assert_eq!(text_of(&page["properties"]["Sprint"]), "Sprint 15");
    assert_eq!(text_of(&page["properties"]["Airtable Record ID"]), row);
    assert_eq!(
        page["properties"]["Owner"]["people"][0]["id"],
        json!(w.user("Priya Raman"))
    );
    // The orphan was linked, not duplicated.
    let orphan = w.airtable.record(base, table, &orphan_row).unwrap();
    assert_eq!(orphan["fields"]["Notion Page ID"], json!(orphan_page));
    // Converged: nothing more is created, by a sweep or a single reconcile.
    let again = w.sweep(true).await;
    assert_eq!(
        (again.created_in_notion, again.created_in_airtable),
        (0, 0),
        "{again:?}"
    );
    let one = w
        .engine
        .reconcile_record(&w.pair, &row, Cause::Webhook)
        .await
        .unwrap();
    assert_eq!(one.created_in_notion, 0);
    assert_eq!(w.rows().len(), 49);
    // A copy of a linked page carries the row id too; it must get a row of
    // its own, not steal the original's.
    let copy = w
        .notion
        .insert_page_as_person(
            &w.team_n.data_source_id,
            &w.person(),
            json!({
                "Name": { "title": [{ "text": { "content": "Data retention v1 (copy)" } }] },
                "Airtable Record ID": { "rich_text": [{ "text": { "content": row } }] },
            }),
        )
        .unwrap();
    let after = w.sweep(true).await;
    assert!(after.problems.is_empty(), "{:?}", after.problems);
    assert_eq!(after.created_in_airtable, 1, "{after:?}");
    assert_eq!(
        w.airtable.record(base, table, &row).unwrap()["fields"]["Notion Page ID"],
        json!(page_id)
    );
    assert_eq!(
        w.row_for(&copy)["fields"]["Spec Name"],
        json!("Data retention v1 (copy)")
    );
}

/// A Notion event that named no parent: the job reads the page, finds its
/// database, and reconciles it there; a page that is gone needs nothing.
async fn a_page_without_a_known_parent_is_located_and_synced(db: TestDb) {
    let w = world(db).await;
    w.sweep(true).await;
    let page = w
        .notion
        .insert_page_as_person(
            &w.team_n.data_source_id,
            &w.person(),
            json!({ "Name": { "title": [{ "text": { "content": "Located spec" } }] } }),
        )
        .unwrap();
    let service = SyncService::new(w.engine.clone(), vec![w.pair.clone()], String::new());
    let outcome = service
        .run(&JobSpec::LocatePage {
            page_id: page.clone(),
        })
        .await
        .unwrap();
    let JobOutcome::Reconciled(summary) = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(summary.created_in_airtable, 1, "{summary:?}");
    assert_eq!(
        w.row_for(&page)["fields"]["Spec Name"],
        json!("Located spec")
    );

    let gone = service
        .run(&JobSpec::LocatePage {
            page_id: "0b0b0b0b-0000-4000-8000-000000000000".into(),
        })
        .await
        .unwrap();
    assert_eq!(gone, JobOutcome::Reconciled(Default::default()));
    assert_eq!(w.rows().len(), 48);
}

/// A worker frozen past its lease lost the job to another: whatever it
/// computed, it commits nothing (no snapshot, no log), and the lease holder
/// commits as usual.
async fn a_job_that_lost_its_lease_commits_nothing(db: TestDb) {
    let w = world(db).await;
    w.sweep(true).await;
    let page = w.team_n.page_ids[3].clone();
    w.notion
        .update_page_as_person(
            &page,
            &w.person(),
            json!({ "Priority": { "select": { "name": "P0" } } }),
        )
        .unwrap();
    let store = &w.engine.store;
    let spec = JobSpec::ReconcilePage {
        pair: w.pair.name().to_owned(),
        page_id: page.clone(),
        trigger: Trigger::Webhook,
    };
    store
        .enqueue(&spec.to_new_job(now_ms()), now_ms())
        .await
        .unwrap();
    // The first worker's lease runs out at once; a second worker takes over.
    let frozen = store
        .claim(Duration::ZERO, now_ms())
        .await
        .unwrap()
        .unwrap();
    let current = store
        .claim(Duration::from_secs(30), now_ms() + 1)
        .await
        .unwrap()
        .expect("the expired lease is reclaimed");
    assert_eq!(frozen.id, current.id);
    let service = SyncService::new(w.engine.clone(), vec![w.pair.clone()], String::new());
    let log_before = w
        .engine
        .store
        .query_log(&LogQuery::default())
        .await
        .unwrap()
        .len();

    let lease = |job: &notion_airtable_sync::store::ClaimedJob| Lease {
        job_id: job.id,
        token: job.lease_token.clone(),
    };
    let late = service.run_leased(&spec, lease(&frozen)).await;
    let err = late.expect_err("the lost lease refuses the commit");
    assert!(err.downcast_ref::<LeaseLost>().is_some(), "{err:#}");
    let log_after = store.query_log(&LogQuery::default()).await.unwrap().len();
    assert_eq!(log_after, log_before, "nothing logged by the frozen worker");
    let unchanged = store
        .get_link_by_page(w.pair.name(), &page)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(
        unchanged.snapshot["Priority"]["value"],
        json!("P0"),
        "no snapshot from the frozen worker"
    );

    // The holder's run commits (the write was already made, so it finds
    // both sides equal and records that).
    service.run_leased(&spec, lease(&current)).await.unwrap();
    let priority = async || {
        let link = store.get_link_by_page(w.pair.name(), &page).await.unwrap();
        link.unwrap().snapshot["Priority"]["value"].clone()
    };
    assert_eq!(priority().await, json!("P0"));
}

/// First contact with a table that already holds rows: a row whose name
/// matches exactly one page is linked to it (no second row), a name two
/// pages share is ambiguous and left alone (reported in the log, never
/// guessed), and every other page is created, all in one full sweep.
async fn first_contact_links_by_key_and_refuses_ambiguous_keys(db: TestDb) {
    let w = world(db).await;
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    let name = |i: usize| text_of(&w.page(&w.team_n.page_ids[i])["properties"]["Name"]);
    let existing = w
        .airtable
        .insert_record_as_person(
            base,
            table,
            json!({ "Spec Name": format!("  {}  ", name(0)) }),
        )
        .unwrap();
    let twin = w
        .notion
        .insert_page_as_person(
            &w.team_n.data_source_id,
            &w.person(),
            json!({ "Name": { "title": [{ "text": { "content": name(1) } }] } }),
        )
        .unwrap();
    let contested = w
        .airtable
        .insert_record_as_person(base, table, json!({ "Spec Name": name(1) }))
        .unwrap();

    let summary = w.sweep(true).await;
    // 48 pages: one matched to its row (an update, its fields decided by
    // the conflict rule), two ambiguous, 45 created.
    assert_eq!(summary.created_in_airtable, 45, "{summary:?}");
    assert_eq!(summary.updated_airtable, 1, "{summary:?}");
    let row0 = w.row_for(&w.team_n.page_ids[0]);
    assert_eq!(
        row0["id"],
        json!(existing),
        "the existing row was linked, not duplicated"
    );
    let rows = w.rows();
    for page in [&w.team_n.page_ids[1], &twin] {
        assert!(
            !rows
                .iter()
                .any(|r| r["fields"]["Notion Page ID"] == json!(page)),
            "an ambiguous page got a row"
        );
    }
    let contested_row = rows.iter().find(|r| r["id"] == json!(contested)).unwrap();
    assert!(
        contested_row["fields"]
            .get("Notion Page ID")
            .is_none_or(|v| v == "")
    );
    assert_eq!(rows.len(), 47);
}

/// A full sweep lets go of each hundred pages once it has planned them
/// (its memory stays bounded), yet still knows every page it read: over
/// three query pages, first contact links a name one page carries to its
/// row, leaves a name two pages share ambiguous and gives every other page
/// a row; the next full sweep takes all the linked pages it let go of as
/// read (three queries, no page read one by one).
async fn first_contact_weighs_keys_across_query_pages(db: TestDb) {
    let w = world(db).await;
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    let name = |i: usize| match i {
        0 | 159 => "Shared name".to_owned(),
        80 => "Lonely name".to_owned(),
        _ => format!("Extra spec {i}"),
    };
    let extra: Vec<String> = (0..160)
        .map(|i| {
            let title = json!({ "Name": { "title": [{ "text": { "content": name(i) } }] } });
            let ds = &w.team_n.data_source_id;
            w.notion
                .insert_page_as_person(ds, &w.person(), title)
                .unwrap()
        })
        .collect();
    let shared = w
        .airtable
        .insert_record_as_person(base, table, json!({ "Spec Name": "Shared name" }))
        .unwrap();
    let lonely = w
        .airtable
        .insert_record_as_person(base, table, json!({ "Spec Name": "Lonely name" }))
        .unwrap();

    let summary = w.sweep(true).await;
    // 207 pages: two ambiguous, one matched to its row, 204 created.
    assert_eq!(summary.created_in_airtable, 204, "{summary:?}");
    let rows = w.rows();
    assert_eq!(rows.len(), 206);
    let page_of = |id: &str| {
        let row = rows.iter().find(|r| r["id"] == json!(id)).unwrap();
        row["fields"].get("Notion Page ID").cloned()
    };
    assert_eq!(page_of(&lonely), Some(json!(extra[80])));
    assert!(page_of(&shared).is_none_or(|v| v == ""), "a guessed link");
    for page in [&extra[0], &extra[159]] {
        let named = rows
            .iter()
            .filter(|r| r["fields"]["Notion Page ID"] == json!(page));
        assert_eq!(named.count(), 0, "an ambiguous page got a row");
    }

    w.notion.calls().reset();
    w.sweep(true).await;
    let calls = w.notion.calls();
    let query = "/v1/data_sources/{data_source_id}/query";
    assert_eq!(
        calls.count(Some("POST"), query),
        3,
        "{:?}",
        calls.snapshot()
    );
    let one_by_one = calls.count(Some("GET"), "/v1/pages/{page_id}");
    assert_eq!(
        one_by_one,
        0,
        "settled pages read again: {:?}",
        calls.snapshot()
    );
}

/// Under API latency a sweep's writes go out several at a time on each
/// side (within each budget), and the result is the same as one at a time.
async fn writes_under_latency_keep_several_requests_in_flight(db: TestDb) {
    let w = world(db).await;
    let slow = notion_airtable_sandbox::common::Faults {
        latency_ms: 200,
        ..Default::default()
    };
    w.notion.set_faults(slow.clone());
    w.airtable.set_faults(slow);
    w.airtable.calls().reset();
    let summary = w.sweep(true).await;
    assert_eq!(summary.created_in_airtable, 47, "{summary:?}");
    assert!(
        w.airtable.calls().peak_in_flight() >= 2,
        "Airtable upserts went out one at a time"
    );
    assert_in_sync(&w);

    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    let ids = &w.team_n.page_ids;
    for id in &ids[..8] {
        let rec = w.row_for(id)["id"].as_str().unwrap().to_owned();
        w.airtable
            .update_record_as_person(base, table, &rec, json!({ "Sprint": "Sprint 40" }))
            .unwrap();
    }
    w.notion.calls().reset();
    let summary = w.sweep(true).await;
    assert_eq!(summary.updated_notion, 8, "{summary:?}");
    assert!(
        w.notion.calls().peak_in_flight() >= 2,
        "Notion page updates went out one at a time"
    );
    assert_eq!(w.notion.calls().count_status(429), 0);
    assert_eq!(w.airtable.calls().count_status(429), 0);
    assert_in_sync(&w);
}

/// A bulk edit in Notion: 60 pages changed, 60 page jobs queued. The first
/// job to run sees the backlog and runs one incremental sweep instead,
/// which reads the pages a hundred a call and writes Airtable ten rows a
/// call, and completes the jobs it covered. A trashed page is not in a
/// query's results: its job stays, and archives its row when it runs.
async fn a_backlog_of_page_jobs_becomes_one_sweep_and_completes_what_it_covered(db: TestDb) {
    let w = world_at(db, -3600).await;
    let pages = sixty_synced(&w).await;
    rename_in_notion(&w, &pages[1..]);
    let trashed = pages[0].clone();
    w.notion
        .set_trashed_as_person(&trashed, &w.person(), true)
        .unwrap();
    enqueue_page_jobs(&w, &pages).await;

    let service = SyncService::new(w.engine.clone(), vec![w.pair.clone()], String::new());
    w.notion.calls().reset();
    w.airtable.calls().reset();
    let outcome = service.run(&page_job(&pages[5])).await.unwrap();
    let JobOutcome::Reconciled(summary) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(summary.updated_airtable, 59, "{summary:?}");
    assert_eq!(
        w.notion.calls().count(Some("GET"), "/v1/pages/{page_id}"),
        0,
        "no page read one by one: {:?}",
        w.notion.calls().snapshot()
    );
    assert!(
        w.airtable
            .calls()
            .count(Some("PATCH"), "/v0/{base}/{table}")
            <= 6,
        "59 rows written ten at a time: {:?}",
        w.airtable.calls().snapshot()
    );
    let pending: Vec<String> = w
        .engine
        .store
        .list_jobs(Some(notion_airtable_sync::store::JobState::Pending), 100)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.key)
        .collect();
    assert_eq!(
        pending,
        vec![page_job(&trashed).key()],
        "only the trashed page's job is left"
    );
    let archived = service.run(&page_job(&trashed)).await.unwrap();
    let JobOutcome::Reconciled(archived) = archived else {
        panic!("{archived:?}")
    };
    assert_eq!(archived.archived, 1, "{archived:?}");
    assert_in_sync(&w);
}

/// The batched sweep is only a cheaper way to serve a backlog: when one of
/// its many calls meets a 5xx, the job that ran it reconciles its own page
/// instead of failing (a job whose every attempt met such a fault would go
/// dead), and the pair's next page jobs run on their own for a while rather
/// than try the failing batch again.
async fn a_batched_sweep_that_meets_a_5xx_leaves_each_page_job_to_run_alone(db: TestDb) {
    let w = world_at(db, -3600).await;
    let pages = bulk_renamed(&w).await;
    // Every data source query fails; reading one page still works.
    w.notion
        .set_faults(notion_airtable_sandbox::common::Faults {
            error_rate: 1.0,
            only_path: Some("/query".into()),
            ..Default::default()
        });
    let service = SyncService::new(w.engine.clone(), vec![w.pair.clone()], String::new());
    w.notion.calls().reset();
    for page in &pages[..2] {
        let outcome = service.run(&page_job(page)).await.unwrap();
        let JobOutcome::Reconciled(summary) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(summary.updated_airtable, 1, "{summary:?}");
    }
    assert_eq!(
        w.notion
            .calls()
            .count(Some("POST"), "/v1/data_sources/{data_source_id}/query"),
        1,
        "one failed batch, then the next job does not try again: {:?}",
        w.notion.calls().snapshot()
    );
    assert_eq!(spec_name(&w, &pages[0]), json!("Bulk-renamed spec 0"));
    assert_eq!(spec_name(&w, &pages[1]), json!("Bulk-renamed spec 1"));
}

/// Sixty specs renamed in Notion, and a page job for each (a bulk edit).
async fn bulk_renamed(w: &World) -> Vec<String> {
    let pages = sixty_synced(w).await;
    rename_in_notion(w, &pages);
    enqueue_page_jobs(w, &pages).await;
    pages
}

/// Sixty specs synced an hour ago (the team's 47 and 13 more), the clocks
/// back at now; their page ids in row order.
async fn sixty_synced(w: &World) -> Vec<String> {
    for i in 0..13 {
        w.notion
            .insert_page_as_person(
                &w.team_n.data_source_id,
                &w.person(),
                json!({ "Name": { "title": [{ "text": { "content": format!("Extra spec {i}") } }] } }),
            )
            .unwrap();
    }
    assert_eq!(w.sweep(true).await.created_in_airtable, 60);
    set_clocks(&w.notion, &w.airtable, 0).await;
    w.rows()
        .iter()
        .map(|r| r["fields"]["Notion Page ID"].as_str().unwrap().to_owned())
        .collect()
}

/// A person renames each page: "Bulk-renamed spec {i}", `i` its index in `pages`.
fn rename_in_notion(w: &World, pages: &[String]) {
    let person = w.person();
    for (i, page) in pages.iter().enumerate() {
        let title = format!("Bulk-renamed spec {i}");
        w.notion
            .update_page_as_person(
                page,
                &person,
                json!({ "Name": { "title": [{ "text": { "content": title } }] } }),
            )
            .unwrap();
    }
}

/// One webhook-triggered page job per page, queued at once.
async fn enqueue_page_jobs(w: &World, pages: &[String]) {
    let jobs: Vec<_> = pages
        .iter()
        .map(|p| page_job(p).to_new_job(now_ms()))
        .collect();
    let mut tx = w.engine.store.begin().await.unwrap();
    tx.enqueue_many(&jobs, now_ms()).await.unwrap();
    tx.commit().await.unwrap();
}

fn page_job(page: &str) -> JobSpec {
    JobSpec::ReconcilePage {
        pair: "specs".into(),
        page_id: page.to_owned(),
        trigger: Trigger::Webhook,
    }
}

fn notion_status(w: &World, page: &str) -> Value {
    select_of(&w.page(page)["properties"]["Status"])
}

fn spec_name(w: &World, page: &str) -> Value {
    w.row_for(page)["fields"]["Spec Name"].clone()
}

/// Neither API has conditional writes, so a write planned from an old read
/// lands over whatever a person typed since. A batched sweep's writes go out
/// one budget slot after another; those whose plan is older than a record
/// job's would be are not sent: their pages keep their jobs, and the next
/// batch reads them again (the sweep's high-water mark stays).
async fn a_batched_sweep_sends_no_write_planned_from_a_stale_read(db: TestDb) {
    let w = world_at(db, -3600).await;
    let pages = bulk_renamed(&w).await;
    // Each Airtable answer takes 5.5 s: the first four chunks go out at
    // once, the next two would get their slots only after the batch's 5 s.
    w.airtable
        .set_faults(notion_airtable_sandbox::common::Faults {
            latency_ms: 5_500,
            ..Default::default()
        });
    let service = SyncService::new(w.engine.clone(), vec![w.pair.clone()], String::new());
    let since = now_ms();
    let first = service.run(&page_job(&pages[0])).await.unwrap();
    let JobOutcome::Reconciled(first) = first else {
        panic!("{first:?}")
    };
    assert_eq!(first.updated_airtable, 40, "{first:?}");
    let renamed: Vec<&String> = pages
        .iter()
        .enumerate()
        .filter(|(i, p)| spec_name(&w, p) == json!(format!("Bulk-renamed spec {i}")))
        .map(|(_, p)| p)
        .collect();
    assert_eq!(renamed.len(), 40, "only the fresh writes went out");
    let pending: Vec<String> = w
        .engine
        .store
        .list_jobs(Some(notion_airtable_sync::store::JobState::Pending), 100)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.key)
        .collect();
    assert_eq!(
        pending.len(),
        20,
        "the pages not written keep their jobs: {pending:?}"
    );
    assert!(
        renamed
            .iter()
            .all(|p| !pending.contains(&page_job(p).key()))
    );
    // The log holds exactly the writes made.
    let log = w
        .engine
        .store
        .query_log(&notion_airtable_sync::store::LogQuery {
            limit: 1000,
            since: Some(since),
            ..Default::default()
        })
        .await
        .unwrap();
    let logged = log
        .iter()
        .filter(|e| e.field.as_deref() == Some("Name"))
        .count();
    assert_eq!(logged, 40);

    // The next incremental sweep reads the rest again (the mark stayed)
    // and writes it.
    w.airtable.set_faults(Default::default());
    let next = w.sweep(false).await;
    assert_eq!(next.updated_airtable, 20, "{next:?}");
    for (i, p) in pages.iter().enumerate() {
        assert_eq!(spec_name(&w, p), json!(format!("Bulk-renamed spec {i}")));
    }
}

/// An incremental sweep that fails with a vendor's transient fault (the
/// fault the test injected), not with anything else.
async fn failed_incremental_sweep(w: &World) {
    let opts = SweepOptions {
        full: false,
        dry_run: false,
        cause: Cause::Sweep,
    };
    let err = w.engine.sweep(&w.pair, opts).await.unwrap_err();
    let api = err
        .chain()
        .find_map(|c| c.downcast_ref::<notion_airtable_sync::clients::api_error::ApiError>());
    // The sandbox injects what the vendors document as worth a retry: a 5xx,
    // or Notion's 409 `conflict_error`.
    assert!(
        api.is_some_and(|e| e.is_retryable() && e.status().is_some_and(|s| s == 409 || s >= 500)),
        "{err:#}"
    );
}

/// A run whose writes meet a 5xx half way stores and logs what it wrote
/// before it fails: no write goes unrecorded, and the retry writes only
/// what is left.
async fn a_run_that_fails_half_way_records_the_writes_it_made(db: TestDb) {
    let w = world_at(db, -3600).await;
    w.sweep(true).await;
    set_clocks(&w.notion, &w.airtable, 0).await;
    let pages = w.team_n.page_ids.clone();
    // Three statuses changed in Airtable: three Notion writes.
    for page in &pages[..3] {
        let row = w.row_for(page)["id"].as_str().unwrap().to_owned();
        w.airtable
            .update_record_as_person(
                &w.team_a.base_id,
                &w.team_a.table_id,
                &row,
                json!({ "Status": "Shipped" }),
            )
            .unwrap();
    }
    // The second page's write fails; reading pages by query still works.
    w.notion
        .set_faults(notion_airtable_sandbox::common::Faults {
            error_rate: 1.0,
            only_path: Some(format!("/v1/pages/{}", pages[1])),
            ..Default::default()
        });
    let since = now_ms();
    failed_incremental_sweep(&w).await;
    let log = w
        .engine
        .store
        .query_log(&notion_airtable_sync::store::LogQuery {
            limit: 1000,
            since: Some(since),
            ..Default::default()
        })
        .await
        .unwrap();
    let written: std::collections::BTreeSet<String> = log
        .iter()
        .filter(|e| e.field.as_deref() == Some("Status"))
        .filter_map(|e| e.notion_page_id.clone())
        .collect();
    let shipped: std::collections::BTreeSet<String> = pages[..3]
        .iter()
        .filter(|p| notion_status(&w, p) == "Shipped")
        .cloned()
        .collect();
    assert!(!shipped.contains(&pages[1]));
    assert_eq!(
        written, shipped,
        "every write made is logged, and only those"
    );
    w.notion.set_faults(Default::default());
    w.notion.calls().reset();
    let retry = w.sweep(false).await;
    assert_eq!(retry.updated_notion, 3 - shipped.len(), "{retry:?}");
    assert_eq!(notion_status(&w, &pages[1]), "Shipped");
}

/// A page edited on both sides whose Notion write goes out while its
/// Airtable write meets a 5xx: the Notion half is stored and logged (a write
/// made is always in the log), the Airtable half is taken back, and the
/// retry writes only that half.
async fn a_page_written_in_part_logs_the_half_that_went_out(db: TestDb) {
    let w = world_at(db, -3600).await;
    w.sweep(true).await;
    set_clocks(&w.notion, &w.airtable, 0).await;
    let page = w.team_n.page_ids[4].clone();
    assert_ne!(notion_status(&w, &page), json!("In Review"));
    let row = w.row_for(&page)["id"].as_str().unwrap().to_owned();
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    w.airtable
        .update_record_as_person(base, table, &row, json!({ "Status": "In Review" }))
        .unwrap();
    w.notion
        .update_page_as_person(
            &page,
            &w.person(),
            json!({ "Priority": { "select": { "name": "P0" } } }),
        )
        .unwrap();
    let priority_before = w.row_for(&page)["fields"]["Priority"].clone();
    assert_ne!(priority_before, json!("P0"));
    // Airtable's writes fail; its reads still answer.
    w.airtable
        .set_faults(notion_airtable_sandbox::common::Faults {
            error_rate: 1.0,
            only_method: Some("PATCH".into()),
            ..Default::default()
        });
    let since = now_ms();
    failed_incremental_sweep(&w).await;
    assert_eq!(notion_status(&w, &page), json!("In Review"));
    assert_eq!(w.row_for(&page)["fields"]["Priority"], priority_before);
    let logged = |since: i64| {
        let store = w.engine.store.clone();
        async move {
            let query = notion_airtable_sync::store::LogQuery {
                limit: 1000,
                since: Some(since),
                ..Default::default()
            };
            let log = store.query_log(&query).await.unwrap();
            log.into_iter()
                .filter_map(|e| Some((e.field?, e.direction)))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        logged(since).await,
        vec![("Status".to_owned(), SyncDirection::AirtableToNotion)],
        "the write that went out is logged, the one that did not is not"
    );
    let link = w
        .engine
        .store
        .get_link_by_page(w.pair.name(), &page)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(link.snapshot["Status"]["value"], json!("In Review"));
    assert_ne!(link.snapshot["Priority"]["value"], json!("P0"));

    w.airtable.set_faults(Default::default());
    let since = now_ms();
    let retry = w.sweep(false).await;
    assert_eq!(
        (retry.updated_notion, retry.updated_airtable),
        (0, 1),
        "{retry:?}"
    );
    assert_eq!(w.row_for(&page)["fields"]["Priority"], json!("P0"));
    assert_eq!(
        logged(since).await,
        vec![("Priority".to_owned(), SyncDirection::NotionToAirtable)]
    );
}

/// A record job's write that the rate budget would send more than
/// `RECORD_FRESH_FOR` after the job began is not sent: the job runs again
/// from a fresh read (no attempt spent) instead of writing a stale plan.
async fn a_record_job_s_write_that_waits_past_its_limit_is_not_sent(db: TestDb) {
    use notion_airtable_sync::{
        airtable::AirtableClient,
        clients::ratelimit::Budget,
        engine::{Engine, NotYet, RECORD_FRESH_FOR},
        notion::NotionClient,
        secret::Secret,
    };
    let w = world(db).await;
    w.sweep(true).await;
    let page = w.team_n.page_ids[2].clone();
    assert_ne!(notion_status(&w, &page), json!("In Review"));
    let row = w.row_for(&page)["id"].as_str().unwrap().to_owned();
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    w.airtable
        .update_record_as_person(base, table, &row, json!({ "Status": "In Review" }))
        .unwrap();
    // A Notion budget so busy that the write's slot comes well after the
    // limit: one call at a time, the next one past RECORD_FRESH_FOR.
    let interval = RECORD_FRESH_FOR + Duration::from_secs(1);
    let busy = Budget::new("busy", 1.0 / interval.as_secs_f64(), 1);
    let notion = NotionClient::new(
        &w.notion.base_url(),
        Secret::new(w.notion.token()),
        std::sync::Arc::new(busy),
    )
    .unwrap();
    let airtable =
        AirtableClient::new(&w.airtable.base_url(), Secret::new(w.airtable.token())).unwrap();
    let slow = Engine::new(notion, airtable, w.engine.store.clone());
    let since = now_ms();
    let err = slow
        .reconcile_page(&w.pair, &page, Cause::Webhook)
        .await
        .unwrap_err();
    assert!(err.downcast_ref::<NotYet>().is_some(), "{err:#}");
    assert_ne!(notion_status(&w, &page), json!("In Review"), "nothing sent");
    let query = LogQuery {
        limit: 100,
        since: Some(since),
        ..LogQuery::default()
    };
    assert!(w.engine.store.query_log(&query).await.unwrap().is_empty());
    // Run again (the budget free), the job writes it.
    w.engine
        .reconcile_page(&w.pair, &page, Cause::Webhook)
        .await
        .unwrap();
    assert_eq!(notion_status(&w, &page), json!("In Review"));
    let log = w.engine.store.query_log(&query).await.unwrap();
    assert!(
        log.iter().any(|e| e.field.as_deref() == Some("Status")
            && e.direction == SyncDirection::AirtableToNotion),
        "{log:?}"
    );
}

both_backends! {
    a_batched_sweep_sends_no_write_planned_from_a_stale_read,
    a_record_job_s_write_that_waits_past_its_limit_is_not_sent,
    a_page_written_in_part_logs_the_half_that_went_out,
    a_run_that_fails_half_way_records_the_writes_it_made,
    a_batched_sweep_that_meets_a_5xx_leaves_each_page_job_to_run_alone,
    a_backlog_of_page_jobs_becomes_one_sweep_and_completes_what_it_covered,
    writes_under_latency_keep_several_requests_in_flight,
    first_contact_links_by_key_and_refuses_ambiguous_keys,
    first_contact_weighs_keys_across_query_pages,
    a_job_that_lost_its_lease_commits_nothing,
    a_page_without_a_known_parent_is_located_and_synced,
    initial_sync_creates_every_row_with_the_fewest_calls,
    a_week_of_edits_converges_and_stays_converged,
    an_incremental_sweep_reads_only_what_changed,
    airtable_rows_become_notion_pages_once,
}

//! The Airtable webhook lifecycle and payload processing, against the sandbox,
//! on SQLite and Postgres: one webhook per pair (ensure is idempotent),
//! payloads become one reconcile job per touched record, the service's own
//! writes are echoes that queue nothing, a cursor gap queues a full sweep,
//! and refresh re-enables notifications Airtable turned off.

use crate::common;

use common::{
    TestDb,
    world::{World, set_clocks, world, world_at},
};
use std::time::Duration;

use notion_airtable_sandbox::common::DeliveryKnobs;
use notion_airtable_sync::{
    engine::webhooks::Ensured,
    jobs::spec::JobSpec,
    queue::JobError,
    store::{AirtableWebhook, Cause, JobState, now_ms},
    worker::{
        classify::classify,
        service::{JobOutcome, SyncService},
    },
};
use serde_json::json;

const PUBLIC_URL: &str = "https://sync.example.com/";

async fn setup(db: TestDb) -> (World, AirtableWebhook, String) {
    let w = world(db).await;
    // Pings go nowhere in this test: the payloads are what matters.
    w.airtable.set_delivery(DeliveryKnobs {
        drop_rate: 1.0,
        ..DeliveryKnobs::default()
    });
    let created = w.engine.ensure_webhook(&w.pair, PUBLIC_URL).await.unwrap();
    let Ensured::Created(id) = created else {
        panic!("expected a new webhook, got {created:?}")
    };
    let hook = w.engine.store.get_webhook(&id).await.unwrap().unwrap();
    let me = w.engine.airtable.whoami().await.unwrap().id;
    (w, hook, me)
}

async fn drain(
    w: &World,
    id: &str,
    me: &str,
) -> notion_airtable_sync::engine::payloads::DrainOutcome {
    let hook = w.engine.store.get_webhook(id).await.unwrap().unwrap();
    w.engine
        .drain_airtable_webhook(&w.pair, &hook, me, 0)
        .await
        .unwrap()
}

async fn pending_keys(w: &World) -> Vec<String> {
    let jobs = w
        .engine
        .store
        .list_jobs(Some(JobState::Pending), 100)
        .await
        .unwrap();
    let mut keys: Vec<String> = jobs.into_iter().map(|j| j.key).collect();
    keys.sort();
    keys
}

async fn ensure_is_idempotent_and_registers_the_mapped_fields(db: TestDb) {
    let (w, hook, _) = setup(db).await;
    assert_eq!(
        hook.notification_url.as_deref(),
        Some("https://sync.example.com/webhooks/airtable")
    );
    assert_eq!(hook.cursor, 1);
    assert!(hook.expires_at.is_some());
    let again = w.engine.ensure_webhook(&w.pair, PUBLIC_URL).await.unwrap();
    assert_eq!(again, Ensured::Existing(hook.webhook_id.clone()));
    let listed = w
        .engine
        .airtable
        .list_webhooks(&w.team_a.base_id)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    let spec = &listed[0].specification["options"];
    assert_eq!(
        spec["filters"]["recordChangeScope"],
        json!(w.team_a.table_id)
    );
    assert_eq!(
        spec["filters"]["watchDataInFieldIds"]
            .as_array()
            .unwrap()
            .len(),
        8
    );
    assert_eq!(spec["includes"]["includePreviousCellValues"], json!(true));
}

async fn payloads_queue_one_job_per_record_and_echoes_queue_none(db: TestDb) {
    let (w, hook, me) = setup(db).await;
    let id = hook.webhook_id.clone();
    // The initial sync writes 47 rows through the API: all echoes.
    w.sweep(true).await;
    let first = drain(&w, &id, &me).await;
    assert_eq!(
        (first.jobs, first.echoes, first.full_sweep),
        (0, 47, false),
        "{first:?}"
    );
    assert!(pending_keys(&w).await.is_empty());

    // Two people edit two rows (one of them twice): two reconciles.
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    let ids = &w.team_n.page_ids;
    let rec = |i: usize| w.row_for(&ids[i])["id"].as_str().unwrap().to_owned();
    w.airtable
        .update_record_as_person(base, table, &rec(0), json!({ "Sprint": "Sprint 9" }))
        .unwrap();
    w.airtable
        .update_record_as_person(base, table, &rec(0), json!({ "Sprint": "Sprint 10" }))
        .unwrap();
    w.airtable
        .update_record_as_person(base, table, &rec(1), json!({ "Status": "Shipped" }))
        .unwrap();
    let second = drain(&w, &id, &me).await;
    assert_eq!(
        (second.payloads, second.jobs, second.echoes),
        (3, 2, 0),
        "{second:?}"
    );
    let expected = vec![
        format!("record:specs:page:{}", ids[0]),
        format!("record:specs:page:{}", ids[1]),
    ];
    let mut expected = expected;
    expected.sort();
    assert_eq!(pending_keys(&w).await, expected);
    // The cursor was stored with the jobs: draining again finds nothing new.
    let third = drain(&w, &id, &me).await;
    assert_eq!((third.payloads, third.jobs), (0, 0));

    // The service's own write (a Notion edit pushed to Airtable) is an echo.
    for i in [0, 1] {
        w.engine
            .reconcile_page(&w.pair, &ids[i], Cause::Webhook)
            .await
            .unwrap();
    }
    w.notion
        .update_page_as_person(
            &ids[5],
            &w.person(),
            json!({ "Priority": { "select": { "name": "P0" } } }),
        )
        .unwrap();
    w.engine
        .reconcile_page(&w.pair, &ids[5], Cause::Webhook)
        .await
        .unwrap();
    let fourth = drain(&w, &id, &me).await;
    assert_eq!((fourth.jobs, fourth.echoes), (0, 1), "{fourth:?}");
    // A row created by a person, unlinked: a record reconcile.
    let new_row = w
        .airtable
        .insert_record_as_person(base, table, json!({ "Spec Name": "Loose row" }))
        .unwrap();
    let fifth = drain(&w, &id, &me).await;
    assert_eq!(fifth.jobs, 1);
    assert!(
        pending_keys(&w)
            .await
            .contains(&format!("record:specs:airtable:{new_row}"))
    );
}

async fn a_cursor_gap_queues_a_full_sweep(db: TestDb) {
    let (w, hook, me) = setup(db).await;
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    let row = w
        .airtable
        .insert_record_as_person(base, table, json!({ "Spec Name": "A" }))
        .unwrap();
    w.airtable
        .update_record_as_person(base, table, &row, json!({ "Spec Name": "B" }))
        .unwrap();
    // The 7-day retention removes both payloads before the service reads them.
    w.airtable.purge_payloads_before(base, u64::MAX);
    let outcome = drain(&w, &hook.webhook_id, &me).await;
    assert!(outcome.full_sweep, "{outcome:?}");
    assert_eq!(pending_keys(&w).await, vec!["sweep:specs:full".to_owned()]);
}

async fn refresh_extends_and_re_enables_notifications(db: TestDb) {
    let (w, hook, _) = setup(db).await;
    let base = &w.team_a.base_id;
    w.engine
        .airtable
        .enable_notifications(base, &hook.webhook_id, false)
        .await
        .unwrap();
    let refreshed = w.engine.refresh_webhooks(&w.pair).await.unwrap();
    assert_eq!(refreshed, vec![hook.webhook_id.clone()]);
    let lines = w.engine.list_webhooks(&w.pair).await.unwrap();
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].notifications_enabled && !lines[0].missing_in_airtable,
        "{lines:?}"
    );
    assert!(lines[0].expires_at.is_some());
    // A webhook deleted in Airtable is replaced by `ensure`.
    w.engine
        .airtable
        .delete_webhook(base, &hook.webhook_id)
        .await
        .unwrap();
    assert!(w.engine.list_webhooks(&w.pair).await.unwrap()[0].missing_in_airtable);
    let replaced = w.engine.ensure_webhook(&w.pair, PUBLIC_URL).await.unwrap();
    assert!(
        matches!(replaced, Ensured::Created(ref id) if *id != hook.webhook_id),
        "{replaced:?}"
    );
    assert_eq!(
        w.engine
            .store
            .list_webhooks(Some("specs"))
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Payloads read while a sweep of the pair runs would arrive before the
/// sweep commits its snapshots, so every row it wrote would look like a
/// person's edit: the fetch waits (attempt not spent) until the sweep ends,
/// and then finds them all to be echoes.
async fn payloads_wait_for_a_running_sweep_of_their_pair(db: TestDb) {
    let (w, hook, me) = setup(db).await;
    let store = &w.engine.store;
    let sweep = JobSpec::Sweep {
        pair: w.pair.name().to_owned(),
        full: true,
    };
    store
        .enqueue(&sweep.to_new_job(now_ms()), now_ms())
        .await
        .unwrap();
    let claimed = store
        .claim(Duration::from_secs(30), now_ms())
        .await
        .unwrap()
        .expect("the sweep");
    // The sweep job is running (here: its work done, its job not yet
    // marked done): the fetch waits without reading a payload.
    w.sweep(true).await;
    w.airtable.calls().reset();
    let service = SyncService::new(w.engine.clone(), vec![w.pair.clone()], me.clone());
    let fetch = JobSpec::AirtablePayloads {
        webhook_id: hook.webhook_id.clone(),
    };
    let err = service
        .run(&fetch)
        .await
        .expect_err("must wait for the sweep");
    assert!(
        matches!(classify(&err), JobError::RateLimited { .. }),
        "waiting is not a failure: {err:#}"
    );
    assert!(err.to_string().contains("sweep"), "{err:#}");
    assert_eq!(w.airtable.calls().total(), 0, "no payload was read");

    // Once the sweep's job has ended, the same fetch sees only echoes.
    assert!(
        store
            .complete(claimed.id, &claimed.lease_token, now_ms())
            .await
            .unwrap()
    );
    let JobOutcome::Drained(outcome) = service.run(&fetch).await.unwrap() else {
        panic!("a drain")
    };
    assert_eq!((outcome.jobs, outcome.echoes), (0, 47), "{outcome:?}");
}

/// A paste over 157 rows in Airtable: one incremental sweep instead of 157
/// reconcile jobs, and that sweep reads each side a hundred at a time (the
/// pages, unchanged in Notion, come from one query, not a read each).
async fn a_bulk_edit_becomes_one_incremental_sweep_that_reads_in_pages(db: TestDb) {
    // Seeded and synced an hour ago, as if the last sweep ran then.
    let w = world_at(db, -3600).await;
    for i in 0..110 {
        w.notion
            .insert_page_as_person(
                &w.team_n.data_source_id,
                &w.person(),
                json!({ "Name": { "title": [{ "text": { "content": format!("Bulk spec {i}") } }] } }),
            )
            .unwrap();
    }
    w.airtable.set_delivery(DeliveryKnobs {
        drop_rate: 1.0,
        ..DeliveryKnobs::default()
    });
    let Ensured::Created(id) = w.engine.ensure_webhook(&w.pair, PUBLIC_URL).await.unwrap() else {
        panic!("a new webhook")
    };
    let me = w.engine.airtable.whoami().await.unwrap().id;
    assert_eq!(w.sweep(true).await.created_in_airtable, 157);
    drain(&w, &id, &me).await; // the initial sync's echoes
    set_clocks(&w.notion, &w.airtable, 0).await;

    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    let rows = w.rows();
    assert_eq!(rows.len(), 157);
    let paste: Vec<(String, serde_json::Value)> = rows
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                json!({ "Sprint": "Sprint 50" }),
            )
        })
        .collect();
    w.airtable
        .update_records_as_person(base, table, &paste)
        .unwrap();
    let outcome = drain(&w, &id, &me).await;
    assert_eq!((outcome.payloads, outcome.jobs), (1, 1), "{outcome:?}");
    let keys = pending_keys(&w).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].starts_with("sweep"), "{keys:?}");

    w.notion.calls().reset();
    w.airtable.calls().reset();
    let summary = w.sweep(false).await;
    assert_eq!(summary.updated_notion, 157, "{summary:?}");
    let notion = w.notion.calls();
    assert_eq!(
        notion.count(Some("GET"), "/v1/pages/{page_id}"),
        0,
        "no page read one by one: {:?}",
        notion.snapshot()
    );
    // The changed pages (none) and then the whole database: 1 + 2 queries.
    assert!(
        notion.count(Some("POST"), "/v1/data_sources/{data_source_id}/query") <= 3,
        "{:?}",
        notion.snapshot()
    );
    assert_eq!(
        w.airtable.calls().count(Some("GET"), "/v0/{base}/{table}"),
        2,
        "157 changed rows, a hundred per listing: {:?}",
        w.airtable.calls().snapshot()
    );
    for row in w.rows() {
        let page = row["fields"]["Notion Page ID"].as_str().unwrap().to_owned();
        assert_eq!(
            common::world::text_of(&w.page(&page)["properties"]["Sprint"]),
            "Sprint 50"
        );
    }
}

both_backends! {
    a_bulk_edit_becomes_one_incremental_sweep_that_reads_in_pages,
    payloads_wait_for_a_running_sweep_of_their_pair,
    ensure_is_idempotent_and_registers_the_mapped_fields,
    payloads_queue_one_job_per_record_and_echoes_queue_none,
    a_cursor_gap_queues_a_full_sweep,
    refresh_extends_and_re_enables_notifications,
}

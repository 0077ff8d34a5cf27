//! A Notion date a person set with a time zone, end to end against both
//! sandboxes over HTTP, on SQLite and Postgres. Notion takes a local time
//! with `time_zone` (no offset allowed with it) and reads it back as the
//! instant in the zone's offset for that date, with `time_zone: null`
//! (changelog "Time zone support"). The sync carries the instant to an
//! Airtable `dateTime` field, and writes an Airtable edit back in the offset
//! the page shows, so a page kept in Berlin time shows Berlin time (summer
//! +02:00, winter +01:00). One more sweep writes nothing.

use crate::common;

use common::{
    TestDb,
    world::{Extra, World, world_extended},
};
use notion_airtable_sync::store::Cause;
use serde_json::{Value, json};

/// The example's section after its two-way fields; the new field goes before it.
const ANCHOR: &str = "# Operational data:";

const FIELD: &str = r#"[[pair.field]]
notion = "Due At"
airtable = "Due At"
direction = "both"
conflict = "notion"

# Operational data:"#;

fn extra() -> Extra {
    Extra {
        notion_properties: json!({ "Due At": { "date": {} } }),
        airtable_fields: vec![json!({ "name": "Due At", "type": "dateTime", "options": {
            "dateFormat": { "name": "iso" },
            "timeFormat": { "name": "24hour" },
            "timeZone": "utc" } })],
        ..Extra::default()
    }
}

fn due_at(w: &World, page: &str) -> Value {
    w.page(page)["properties"]["Due At"]["date"].clone()
}

fn cell(w: &World, page: &str) -> Value {
    w.row_for(page)["fields"]["Due At"].clone()
}

fn writes(w: &World) -> u64 {
    let (n, a) = (w.notion.calls().snapshot(), w.airtable.calls().snapshot());
    n.iter()
        .chain(&a)
        .filter(|c| {
            c.method != "GET" && !c.route.contains("query") && !c.route.contains("listRecords")
        })
        .map(|c| c.count)
        .sum()
}

/// A person sets Due At in Berlin time, as Notion's date picker with a time
/// zone does.
fn set_in_berlin(w: &World, page: &str, local: &str) {
    let value = json!({ "Due At": { "date": { "start": local, "time_zone": "Europe/Berlin" } } });
    w.notion
        .update_page_as_person(page, &w.person(), value)
        .unwrap();
}

async fn a_date_set_with_a_time_zone_syncs_as_its_instant_and_keeps_its_offset(db: TestDb) {
    let w = world_extended(db, &[(ANCHOR, FIELD)], extra()).await;
    w.sweep(true).await;
    let (summer, winter) = (w.team_n.page_ids[0].clone(), w.team_n.page_ids[1].clone());
    set_in_berlin(&w, &summer, "2026-07-15T09:30:00");
    set_in_berlin(&w, &winter, "2026-01-15T09:30");
    // Notion reads the zone back as the offset it has on that date.
    assert_eq!(
        due_at(&w, &summer),
        json!({ "start": "2026-07-15T09:30:00.000+02:00", "end": null, "time_zone": null })
    );
    assert_eq!(
        due_at(&w, &winter),
        json!({ "start": "2026-01-15T09:30:00.000+01:00", "end": null, "time_zone": null })
    );

    // Notion → Airtable: the instant (the webhook's job, and a sweep).
    w.engine
        .reconcile_page(&w.pair, &summer, Cause::Webhook)
        .await
        .unwrap();
    let summary = w.sweep(true).await;
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    assert_eq!(cell(&w, &summer), json!("2026-07-15T07:30:00.000Z"));
    assert_eq!(cell(&w, &winter), json!("2026-01-15T08:30:00.000Z"));

    // Airtable → Notion: written back in the offset each page shows.
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    for (page, instant) in [
        (&summer, "2026-07-20T16:00:00.000Z"),
        (&winter, "2026-01-20T17:00:00.000Z"),
    ] {
        let row = w.row_for(page)["id"].as_str().unwrap().to_owned();
        w.airtable
            .update_record_as_person(base, table, &row, json!({ "Due At": instant }))
            .unwrap();
        w.engine
            .reconcile_record(&w.pair, &row, Cause::Webhook)
            .await
            .unwrap();
    }
    assert_eq!(
        due_at(&w, &summer)["start"],
        json!("2026-07-20T18:00:00.000+02:00")
    );
    assert_eq!(
        due_at(&w, &winter)["start"],
        json!("2026-01-20T18:00:00.000+01:00")
    );

    // Moved across a daylight-saving change: the instant is right, in the
    // offset the page showed (the API never names the zone; README).
    let row = w.row_for(&summer)["id"].as_str().unwrap().to_owned();
    w.airtable
        .update_record_as_person(
            base,
            table,
            &row,
            json!({ "Due At": "2026-12-01T08:00:00.000Z" }),
        )
        .unwrap();
    w.engine
        .reconcile_record(&w.pair, &row, Cause::Webhook)
        .await
        .unwrap();
    assert_eq!(
        due_at(&w, &summer)["start"],
        json!("2026-12-01T10:00:00.000+02:00")
    );

    // Converged: one more sweep writes nothing.
    w.notion.calls().reset();
    w.airtable.calls().reset();
    let again = w.sweep(true).await;
    assert_eq!(
        (again.updated_airtable, again.updated_notion, writes(&w)),
        (0, 0, 0),
        "{again:?}"
    );
}

/// The API refuses what Notion refuses with a time zone (an offset, a date
/// without a time, a zone that is no IANA name) with a 400
/// `validation_error`, and the page keeps its value.
async fn the_api_refuses_an_offset_or_a_bare_date_with_a_time_zone(db: TestDb) {
    let w = world_extended(db, &[(ANCHOR, FIELD)], extra()).await;
    let page = w.team_n.page_ids[0].clone();
    set_in_berlin(&w, &page, "2026-07-15T09:30:00");
    let before = due_at(&w, &page);
    let client = reqwest::Client::new();
    for start in [
        "2026-07-15T10:00:00+02:00",
        "2026-07-16",
        "2026-07-15T10:00:00Z",
    ] {
        let body = json!({ "properties": { "Due At": { "date": {
            "start": start, "time_zone": "Europe/Berlin" } } } });
        let response = client
            .patch(format!("{}/v1/pages/{page}", w.notion.base_url()))
            .bearer_auth(w.notion.token())
            .header("Notion-Version", "2025-09-03")
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap();
        assert_eq!(
            (status, &answer["code"]),
            (400, &json!("validation_error")),
            "{start}: {answer}"
        );
        assert_eq!(
            due_at(&w, &page),
            before,
            "{start}: the page kept its value"
        );
    }
}

both_backends! {
    a_date_set_with_a_time_zone_syncs_as_its_instant_and_keeps_its_offset,
    the_api_refuses_an_offset_or_a_bare_date_with_a_time_zone,
}

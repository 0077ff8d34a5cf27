//! More plain types end to end, against both sandboxes over HTTP, on SQLite
//! and Postgres: a Notion multi-select kept in Airtable text as a
//! comma-separated list, Airtable rating, duration, currency and percent
//! fields ↔ Notion numbers, and a Notion date-time ↔ Airtable dateTime that
//! keeps the page's offset. Values a field cannot store are reported as
//! issues and left where a person put them; one more sweep writes nothing.

use crate::common;

use common::{
    TestDb,
    world::{Extra, World, world_extended},
};
use notion_airtable_sandbox::common::CallLog;
use notion_airtable_sync::store::IssueScope;
use serde_json::{Value, json};

/// The example's section after its two-way fields; the new fields go before it.
const ANCHOR: &str = "# Operational data:";

const FIELDS: &str = r#"[[pair.field]]
notion = "Tags"
airtable = "Tags"
direction = "both"
conflict = "notion"

[[pair.field]]
notion = "Stars"
airtable = "Stars"
direction = "both"
conflict = "notion"

[[pair.field]]
notion = "Seconds"
airtable = "Time Spent"
direction = "both"
conflict = "notion"

[[pair.field]]
notion = "Price"
airtable = "Price"
direction = "both"
conflict = "notion"

[[pair.field]]
notion = "Share"
airtable = "Share"
direction = "both"
conflict = "notion"

[[pair.field]]
notion = "Due At"
airtable = "Due At"
direction = "both"
conflict = "notion"

# Operational data:"#;

fn extra() -> Extra {
    Extra {
        notion_properties: json!({
            "Tags": { "multi_select": { "options": [] } },
            "Stars": { "number": { "format": "number" } },
            "Seconds": { "number": { "format": "number" } },
            "Price": { "number": { "format": "dollar" } },
            "Share": { "number": { "format": "percent" } },
            "Due At": { "date": {} },
        }),
        airtable_fields: vec![
            json!({ "name": "Tags", "type": "singleLineText" }),
            json!({ "name": "Stars", "type": "rating",
                    "options": { "max": 5, "icon": "star", "color": "yellowBright" } }),
            json!({ "name": "Time Spent", "type": "duration",
                    "options": { "durationFormat": "h:mm:ss" } }),
            json!({ "name": "Price", "type": "currency",
                    "options": { "precision": 2, "symbol": "$" } }),
            json!({ "name": "Share", "type": "percent", "options": { "precision": 1 } }),
            json!({ "name": "Due At", "type": "dateTime", "options": {
                "dateFormat": { "name": "iso" },
                "timeFormat": { "name": "24hour" },
                "timeZone": "Europe/Paris" } }),
        ],
        ..Extra::default()
    }
}

fn tags(names: &[&str]) -> Value {
    json!({ "multi_select": names.iter().map(|n| json!({ "name": n })).collect::<Vec<_>>() })
}

fn names_of(prop: &Value) -> Vec<String> {
    let mut names: Vec<String> = prop["multi_select"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

fn writes(calls: &CallLog) -> u64 {
    calls
        .snapshot()
        .iter()
        .filter(|c| {
            c.method != "GET" && !c.route.contains("query") && !c.route.contains("listRecords")
        })
        .map(|c| c.count)
        .sum()
}

fn row_fields(w: &World, page: &str) -> Value {
    w.row_for(page)["fields"].clone()
}

async fn new_plain_types_sync_both_ways_and_refused_values_stay(db: TestDb) {
    let w = world_extended(db, &[(ANCHOR, FIELDS)], extra()).await;
    let (base, table) = (w.team_a.base_id.clone(), w.team_a.table_id.clone());
    let person = w.person();
    w.sweep(true).await;
    let (a, b) = (w.team_n.page_ids[0].clone(), w.team_n.page_ids[1].clone());

    // Notion → Airtable.
    w.notion
        .update_page_as_person(
            &a,
            &person,
            json!({
                "Tags": tags(&["Web", "API"]),
                "Stars": { "number": 4 },
                "Seconds": { "number": 5400 },
                "Price": { "number": 19.999 },
                "Share": { "number": 0.125 },
                "Due At": { "date": { "start": "2026-03-01T09:00:00.000+02:00" } },
            }),
        )
        .unwrap();
    // Airtable → Notion.
    let row_b = w.row_for(&b)["id"].as_str().unwrap().to_owned();
    w.airtable
        .update_record_as_person(
            &base,
            &table,
            &row_b,
            json!({
                "Tags": " beta ,alpha,",
                "Stars": 2,
                "Time Spent": 90,
                "Price": 5.5,
                "Share": 0.5,
                "Due At": "2026-03-02T07:30:00.000Z",
            }),
        )
        .unwrap();
    let summary = w.sweep(true).await;
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    let f = row_fields(&w, &a);
    assert_eq!(f["Tags"], json!("API, Web"));
    assert_eq!(
        (&f["Stars"], &f["Time Spent"], &f["Price"], &f["Share"]),
        (&json!(4), &json!(5400), &json!(19.999), &json!(0.125))
    );
    assert_eq!(
        f["Due At"],
        json!("2026-03-01T07:00:00.000Z"),
        "same instant"
    );
    let p = &w.page(&b)["properties"];
    assert_eq!(names_of(&p["Tags"]), ["alpha", "beta"]);
    let numbers: Vec<Option<f64>> = ["Stars", "Seconds", "Price", "Share"]
        .iter()
        .map(|n| p[*n]["number"].as_f64())
        .collect();
    assert_eq!(numbers, [Some(2.0), Some(90.0), Some(5.5), Some(0.5)]);
    assert_eq!(
        p["Due At"]["date"]["start"],
        json!("2026-03-02T07:30:00.000+00:00")
    );

    // Airtable moves A's time: Notion gets it in the offset the page shows.
    let row_a = w.row_for(&a)["id"].as_str().unwrap().to_owned();
    w.airtable
        .update_record_as_person(
            &base,
            &table,
            &row_a,
            json!({ "Due At": "2026-03-05T16:00:00.000Z" }),
        )
        .unwrap();
    w.sweep(true).await;
    assert_eq!(
        w.page(&a)["properties"]["Due At"]["date"]["start"],
        json!("2026-03-05T18:00:00.000+02:00")
    );

    // Values Airtable cannot store: 7 and 2.5 stars on a 5-star field. (An
    // option name with a comma cannot occur: Notion refuses it.)
    w.notion
        .update_page_as_person(
            &a,
            &person,
            json!({ "Stars": { "number": 7 }, "Tags": tags(&["Web", "Mobile"]) }),
        )
        .unwrap();
    w.notion
        .update_page_as_person(&b, &person, json!({ "Stars": { "number": 2.5 } }))
        .unwrap();
    for _ in 0..2 {
        w.sweep(true).await;
        let f = row_fields(&w, &a);
        // The refused field stays; the rest of the record syncs.
        assert_eq!(
            (&f["Stars"], &f["Tags"]),
            (&json!(4), &json!("Mobile, Web"))
        );
        assert_eq!(row_fields(&w, &b)["Stars"], json!(2));
        let pa = &w.page(&a)["properties"];
        assert_eq!(
            pa["Stars"]["number"].as_f64(),
            Some(7.0),
            "the person's value stays"
        );
        assert_eq!(
            w.page(&b)["properties"]["Stars"]["number"].as_f64(),
            Some(2.5)
        );
        let issues = w.engine.store.open_issues(Some("specs")).await.unwrap();
        let mut seen: Vec<(String, String)> = issues
            .iter()
            .filter(|i| i.scope == IssueScope::Record)
            .map(|i| (i.subject.clone(), i.field.clone()))
            .collect();
        seen.sort();
        let mut want = vec![
            (a.clone(), "Stars".to_owned()),
            (b.clone(), "Stars".to_owned()),
        ];
        want.sort();
        assert_eq!(seen, want, "{issues:#?}");
        assert!(
            issues.iter().any(|i| i.message.contains("1 to 5")),
            "{issues:#?}"
        );
    }

    // Values that fit flow, and the issues close.
    for (page, stars) in [(&a, 3), (&b, 5)] {
        w.notion
            .update_page_as_person(page, &person, json!({ "Stars": { "number": stars } }))
            .unwrap();
    }
    w.sweep(true).await;
    assert_eq!(row_fields(&w, &a)["Stars"], json!(3));
    assert_eq!(row_fields(&w, &b)["Stars"], json!(5));
    let issues = w.engine.store.open_issues(Some("specs")).await.unwrap();
    assert!(issues.is_empty(), "{issues:#?}");

    // Converged: one more sweep writes nothing on either side.
    w.notion.calls().reset();
    w.airtable.calls().reset();
    let again = w.sweep(true).await;
    assert_eq!(
        (again.updated_airtable, again.updated_notion),
        (0, 0),
        "{again:?}"
    );
    assert_eq!(
        writes(w.notion.calls()),
        0,
        "{:?}",
        w.notion.calls().snapshot()
    );
    assert_eq!(
        writes(w.airtable.calls()),
        0,
        "{:?}",
        w.airtable.calls().snapshot()
    );
}

/// The sandbox's number-like fields over HTTP, as the field model documents
/// them: created through the Meta API with their options, a rating refuses
/// what is not a whole star from 1 to `max`, a duration keeps the seconds its
/// format shows, currency and percent keep the number written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_keeps_rating_duration_currency_and_percent_as_documented() {
    use notion_airtable_sandbox::airtable::{AirtableSandbox, AirtableSandboxConfig};
    let config = AirtableSandboxConfig {
        rate_limit: false,
        ..AirtableSandboxConfig::default()
    };
    let sb = AirtableSandbox::start_local(config).await.unwrap();
    let t = sb.seed_team();
    let http = reqwest::Client::new();
    let send = |path: String, body: Value| {
        let request = http
            .post(format!("{}{path}", sb.base_url()))
            .bearer_auth(sb.token())
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let fields = format!("/v0/meta/bases/{}/tables/{}/fields", t.base_id, t.table_id);
    let (status, body) = send(
        fields.clone(),
        json!({ "name": "Stars", "type": "rating", "options": { "max": 11, "icon": "star", "color": "yellowBright" } }),
    )
    .await;
    assert_eq!(status, 422, "max is 1 to 10: {body}");
    let (status, body) = send(fields.clone(), json!({ "name": "Stars", "type": "rating" })).await;
    assert_eq!(status, 422, "options are required: {body}");
    for field in extra().airtable_fields.into_iter().skip(1).take(4) {
        let (status, body) = send(fields.clone(), field.clone()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["options"], field["options"], "{body}");
    }
    let records = format!("/v0/{}/{}", t.base_id, t.table_id);
    for stars in [json!(0), json!(6), json!(2.5), json!("3")] {
        let (status, body) = send(
            records.clone(),
            json!({ "fields": { "Spec Name": "x", "Stars": stars } }),
        )
        .await;
        assert_eq!(status, 422, "{stars}: {body}");
        assert_eq!(body["error"]["type"], "INVALID_VALUE_FOR_COLUMN", "{body}");
    }
    let (status, body) = send(
        records,
        json!({ "fields": { "Spec Name": "x", "Stars": 5, "Time Spent": 90.4,
                            "Price": 19.999, "Share": 0.125 } }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let f = &body["fields"];
    assert_eq!(
        (&f["Stars"], &f["Time Spent"], &f["Price"], &f["Share"]),
        (&json!(5), &json!(90), &json!(19.999), &json!(0.125))
    );
}

both_backends! {
    new_plain_types_sync_both_ways_and_refused_values_stay,
}

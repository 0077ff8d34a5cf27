//! The Airtable sandbox over HTTP, with raw reqwest: every test starts its own sandbox on
//! port 0 and waits on conditions with a deadline, never on fixed sleeps.

use std::time::{Duration, Instant};

use axum::{body::Bytes, http::HeaderMap, http::StatusCode, routing::post};
use notion_airtable_sandbox::airtable::{
    AirtableSandbox, AirtableSandboxConfig, FieldSchema, FieldType, TeamAirtable,
};
use notion_airtable_sandbox::common::{DeliveryKnobs, Faults};
use notion_airtable_sync::signature::verify_airtable;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::common::wait::{answer_and_first_seen, eventually, until};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A sandbox without the rate limit (tests that exercise it turn it on).
async fn sandbox() -> AirtableSandbox {
    let config = AirtableSandboxConfig {
        rate_limit: false,
        ..AirtableSandboxConfig::default()
    };
    AirtableSandbox::start_local(config).await.unwrap()
}

struct Api {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Api {
    fn new(sb: &AirtableSandbox) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: sb.base_url(),
            token: sb.token().to_string(),
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }
    async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }
    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }
    async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::DELETE, path, None).await
    }
}

fn error_type(body: &Value) -> &str {
    body["error"]["type"].as_str().unwrap_or_default()
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn table_path(t: &TeamAirtable) -> String {
    format!("/v0/{}/{}", t.base_id, t.table_id)
}

async fn create_webhook(api: &Api, t: &TeamAirtable, url: Option<&str>, includes: Value) -> Value {
    let (status, body) = api
        .post(
            &format!("/v0/bases/{}/webhooks", t.base_id),
            json!({
                "notificationUrl": url,
                "specification": {"options": {
                    "filters": {"dataTypes": ["tableData"], "recordChangeScope": t.table_id},
                    "includes": includes,
                }},
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn payloads(api: &Api, t: &TeamAirtable, hook: &str, cursor: u64) -> Value {
    let (status, body) = api
        .get(&format!(
            "/v0/bases/{}/webhooks/{hook}/payloads?cursor={cursor}",
            t.base_id
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn webhook_listing(api: &Api, t: &TeamAirtable, hook: &str) -> Value {
    let (_, body) = api.get(&format!("/v0/bases/{}/webhooks", t.base_id)).await;
    body["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["id"] == hook)
        .cloned()
        .unwrap_or(Value::Null)
}

type Received = mpsc::UnboundedReceiver<(HeaderMap, Bytes)>;

/// A tiny notification receiver answering `status`; returns its URL and what it received.
async fn receiver(status: u16) -> (String, Received) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/ping",
        post(move |headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((headers, body));
                StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ping", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, rx)
}

// ---------------------------------------------------------------------------
// Auth and not-found forms
// ---------------------------------------------------------------------------

#[tokio::test]
async fn authentication_and_not_found_errors_use_the_documented_forms() {
    let sb = sandbox().await;
    let t = sb.seed_team();
    let api = Api::new(&sb);
    let http = reqwest::Client::new();
    let url = format!("{}{}", sb.base_url(), table_path(&t));

    let resp = http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(error_type(&body), "AUTHENTICATION_REQUIRED");
    let resp = http
        .get(&url)
        .bearer_auth("patWrong.token")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    let (status, body) = api.get("/v0/appNoSuchBase00000/Table").await;
    assert_eq!(
        (status, error_type(&body)),
        (403, "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND")
    );
    let (status, body) = api
        .get(&format!("/v0/{}/No%20Such%20Table", t.base_id))
        .await;
    assert_eq!(
        (status, error_type(&body)),
        (403, "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND")
    );
    let (status, body) = api
        .get(&format!("{}/recNoSuchRecord000", table_path(&t)))
        .await;
    assert_eq!((status, body), (404, json!({"error": "NOT_FOUND"})));
    let (status, body) = api
        .delete(&format!("{}/recNoSuchRecord000", table_path(&t)))
        .await;
    assert_eq!((status, body), (404, json!({"error": "NOT_FOUND"})));
    let (status, body) = api
        .delete(&format!(
            "/v0/bases/{}/webhooks/achNoSuchHook0000",
            t.base_id
        ))
        .await;
    assert_eq!(
        (status, body),
        (404, json!({"error": {"type": "NOT_FOUND"}}))
    );
    let (status, _) = api.get("/v0/this/route/does/not/exist").await;
    assert_eq!(status, 404);

    // The table is addressed by its URL-encoded name as well as by id.
    let (status, body) = api
        .get(&format!("/v0/{}/Delivery%20Tracker", t.base_id))
        .await;
    assert_eq!((status, body), (200, json!({"records": []})));
}

// ---------------------------------------------------------------------------
// Listing
// ---------------------------------------------------------------------------

#[tokio::test]
async fn list_paginates_250_records_in_pages_of_100() {
    let sb = sandbox().await;
    let t = sb.seed_team();
    for i in 0..260 {
        sb.insert_record_as_person(
            &t.base_id,
            &t.table_id,
            json!({"Spec Name": format!("spec {i:03}")}),
        )
        .unwrap();
    }
    let api = Api::new(&sb);
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut offset: Option<String> = None;
    loop {
        let mut path = format!("{}?pageSize=100", table_path(&t));
        if let Some(o) = &offset {
            path.push_str(&format!("&offset={}", enc(o)));
        }
        let (status, body) = api.get(&path).await;
        assert_eq!(status, 200, "{body}");
        let records = body["records"].as_array().unwrap();
        sizes.push(records.len());
        seen.extend(
            records
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_string()),
        );
        match body["offset"].as_str() {
            Some(o) => {
                assert!(o.starts_with("itr") && o.contains("/rec"), "offset {o}");
                offset = Some(o.to_string());
            }
            None => break,
        }
    }
    assert_eq!(sizes, vec![100, 100, 60]);
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), 260);

    let (status, body) = api.get(&format!("{}?pageSize=101", table_path(&t))).await;
    assert_eq!(
        (status, error_type(&body)),
        (422, "INVALID_REQUEST_UNKNOWN")
    );
    let (status, body) = api
        .get(&format!("{}?offset=itrBogus%2FrecBogus", table_path(&t)))
        .await;
    assert_eq!((status, error_type(&body)), (422, "INVALID_OFFSET_VALUE"));
    let (_, body) = api.get(&format!("{}?maxRecords=150", table_path(&t))).await;
    assert_eq!(body["records"].as_array().unwrap().len(), 100);
    let o = body["offset"].as_str().unwrap().to_string();
    let (_, body) = api
        .get(&format!(
            "{}?maxRecords=150&offset={}",
            table_path(&t),
            enc(&o)
        ))
        .await;
    assert_eq!(body["records"].as_array().unwrap().len(), 50);
    assert!(body.get("offset").is_none());

    // An iterator left idle times out (sandbox clock moved 10 minutes).
    let (_, body) = api.get(&format!("{}?pageSize=10", table_path(&t))).await;
    let o = body["offset"].as_str().unwrap().to_string();
    sb_clock(&sb, 600).await;
    let (status, body) = api
        .get(&format!(
            "{}?pageSize=10&offset={}",
            table_path(&t),
            enc(&o)
        ))
        .await;
    assert_eq!(
        (status, error_type(&body)),
        (422, "LIST_RECORDS_ITERATOR_NOT_AVAILABLE")
    );
}

async fn sb_clock(sb: &AirtableSandbox, offset_seconds: i64) {
    let resp = reqwest::Client::new()
        .post(format!("{}/_sandbox/clock", sb.base_url()))
        .json(&json!({"offset_seconds": offset_seconds}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn empty_values_are_omitted_and_fields_select_columns() {
    let sb = sandbox().await;
    let t = sb.seed_team();
    let api = Api::new(&sb);
    let (status, body) = api
        .post(
            &table_path(&t),
            json!({"fields": {"Spec Name": "Billing v2", "Owner": "", "Blockers": null, "Status": "Ready"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["fields"],
        json!({"Spec Name": "Billing v2", "Status": "Ready"})
    );
    assert!(body["id"].as_str().unwrap().starts_with("rec"));
    assert!(body["createdTime"].as_str().unwrap().ends_with('Z'));

    let path = format!("{}?fields%5B%5D=Status", table_path(&t));
    let (_, body) = api.get(&path).await;
    assert_eq!(body["records"][0]["fields"], json!({"Status": "Ready"}));
    let status_id = &t.field_ids["Status"];
    let path = format!(
        "{}?fields%5B%5D={status_id}&returnFieldsByFieldId=true",
        table_path(&t)
    );
    let (_, body) = api.get(&path).await;
    assert_eq!(
        body["records"][0]["fields"],
        json!({status_id.as_str(): "Ready"})
    );
    let (status, body) = api
        .get(&format!("{}?fields%5B%5D=Nope", table_path(&t)))
        .await;
    assert_eq!((status, error_type(&body)), (422, "UNKNOWN_FIELD_NAME"));
    let (status, _) = api
        .get(&format!("{}?cellFormat=string", table_path(&t)))
        .await;
    assert_eq!(status, 422);

    // A URL of 16,000 characters or more is refused; the body of listRecords has no limit.
    let long = format!("OR({})", vec!["{Owner} = 'nobody'"; 800].join(","));
    let (status, _) = api
        .get(&format!(
            "{}?filterByFormula={}",
            table_path(&t),
            enc(&long)
        ))
        .await;
    assert_eq!(status, 414);
    let (status, body) = api
        .post(
            &format!("{}/listRecords", table_path(&t)),
            json!({"filterByFormula": long}),
        )
        .await;
    assert_eq!((status, body), (200, json!({"records": []})));

    // The same parameters work in the body of POST …/listRecords.
    let (status, body) = api
        .post(
            &format!("{}/listRecords", table_path(&t)),
            json!({"fields": ["Spec Name"], "pageSize": 5}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["records"][0]["fields"],
        json!({"Spec Name": "Billing v2"})
    );
}

#[tokio::test]
async fn filter_by_formula_supports_the_documented_subset() {
    let sb = sandbox().await;
    let t = sb.seed_team();
    let api = Api::new(&sb);
    let (_, body) = api
        .post(
            &table_path(&t),
            json!({"records": [
                {"fields": {"Spec Name": "A", "Status": "Draft", "Owner": "Maya"}},
                {"fields": {"Spec Name": "B", "Status": "Shipped", "Owner": "Tom"}},
                {"fields": {"Spec Name": "C", "Status": "Draft"}},
            ]}),
        )
        .await;
    let ids: Vec<String> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let names = |body: &Value| -> Vec<String> {
        body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["fields"]["Spec Name"].as_str().unwrap().to_string())
            .collect()
    };
    let filter = |f: &str| {
        format!(
            "{}?filterByFormula={}&sort%5B0%5D%5Bfield%5D=Spec%20Name",
            table_path(&t),
            enc(f)
        )
    };

    let (_, body) = api
        .get(&filter("AND({Status} = 'Draft', NOT({Owner} = BLANK()))"))
        .await;
    assert_eq!(names(&body), vec!["A"]);
    let (_, body) = api
        .get(&filter(&format!(
            "OR(RECORD_ID() = '{}', LOWER({{Owner}}) = 'tom')",
            ids[2]
        )))
        .await;
    assert_eq!(names(&body), vec!["B", "C"]);

    // A later edit (the sandbox clock moved a minute on) is found by LAST_MODIFIED_TIME.
    let created = body["records"][0]["createdTime"]
        .as_str()
        .unwrap()
        .to_string();
    sb_clock(&sb, 60).await;
    let (status, _) = api
        .patch(
            &format!("{}/{}", table_path(&t), ids[0]),
            json!({"fields": {"Status": "Ready"}}),
        )
        .await;
    assert_eq!(status, 200);
    let after = format!("IS_AFTER(LAST_MODIFIED_TIME({{Status}}), DATETIME_PARSE('{created}'))");
    let (_, body) = api.get(&filter(&after)).await;
    assert_eq!(names(&body), vec!["A"]);
    let (_, body) = api
        .get(&filter(&format!(
            "IS_AFTER(LAST_MODIFIED_TIME({{Owner}}), '{created}')"
        )))
        .await;
    assert_eq!(names(&body), Vec::<String>::new());

    let (status, body) = api.get(&filter("REGEX_MATCH({Status}, 'D.*')")).await;
    assert_eq!(
        (status, error_type(&body)),
        (422, "INVALID_FILTER_BY_FORMULA")
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("REGEX_MATCH")
    );
    let (status, body) = api.get(&filter("{No Such Field} = 1")).await;
    assert_eq!(
        (status, error_type(&body)),
        (422, "INVALID_FILTER_BY_FORMULA")
    );
}

// ---------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------

#[tokio::test]
async fn create_patch_put_and_delete_records() {
    let sb = sandbox().await;
    let t = sb.seed_team();
    let api = Api::new(&sb);
    let (status, body) = api
        .post(
            &table_path(&t),
            json!({"records": [
                {"fields": {"Spec Name": "One", "Owner": "Maya", "Sprint": "S1"}},
                {"fields": {"Spec Name": "Two", "Ship Date": "2026-09-30", "Last Synced": "2026-07-01T12:00:00+02:00"}},
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let one = body["records"][0]["id"].as_str().unwrap().to_string();
    let two = body["records"][1]["id"].as_str().unwrap().to_string();
    assert_eq!(
        body["records"][1]["fields"]["Last Synced"],
        "2026-07-01T10:00:00.000Z"
    );

    let (status, body) = api
        .patch(
            &table_path(&t),
            json!({"records": [{"id": one, "fields": {"Owner": "Tom"}}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["records"][0]["fields"],
        json!({"Spec Name": "One", "Owner": "Tom", "Sprint": "S1"})
    );

    // PUT clears every cell it does not include.
    let (_, body) = api
        .put(
            &format!("{}/{one}", table_path(&t)),
            json!({"fields": {"Spec Name": "One"}}),
        )
        .await;
    assert_eq!(body["fields"], json!({"Spec Name": "One"}));
    assert_eq!(
        sb.record(&t.base_id, &t.table_id, &one).unwrap()["fields"],
        json!({"Spec Name": "One"})
    );

    let (status, body) = api
        .patch(
            &format!("{}/{one}", table_path(&t)),
            json!({"fields": {"Sprint": 3}}),
        )
        .await;
    assert_eq!(
        (status, error_type(&body)),
        (422, "INVALID_VALUE_FOR_COLUMN")
    );
    let (status, body) = api
        .patch(
            &format!("{}/{one}", table_path(&t)),
            json!({"fields": {"Nope": "x"}}),
        )
        .await;
    assert_eq!((status, error_type(&body)), (422, "UNKNOWN_FIELD_NAME"));
    let (status, body) = api
        .patch(
            &format!("{}/{one}", table_path(&t)),
            json!({"fields": {"Ship Date": "2026-09-30T10:00:00Z"}}),
        )
        .await;
    assert_eq!(
        (status, error_type(&body)),
        (422, "INVALID_VALUE_FOR_COLUMN")
    );
    let (status, body) = api
        .patch(
            &table_path(&t),
            json!({"records": [{"id": "recNoSuchRecord000", "fields": {}}]}),
        )
        .await;
    assert_eq!((status, error_type(&body)), (422, "ROW_DOES_NOT_EXIST"));

    let (status, body) = api
        .delete(&format!(
            "{}?records%5B%5D={one}&records%5B%5D={two}",
            table_path(&t)
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"records": [{"id": one, "deleted": true}, {"id": two, "deleted": true}]})
    );
    assert!(sb.records(&t.base_id, &t.table_id).is_empty());

    let id = sb
        .insert_record_as_person(&t.base_id, &t.table_id, json!({"Spec Name": "Three"}))
        .unwrap();
    let (status, body) = api.delete(&format!("{}/{id}", table_path(&t))).await;
    assert_eq!((status, body), (200, json!({"id": id, "deleted": true})));
    let (status, _) = api.get(&format!("{}/{id}", table_path(&t))).await;
    assert_eq!(status, 404);

    // Not JSON → 400.
    let resp = reqwest::Client::new()
        .post(format!("{}{}", sb.base_url(), table_path(&t)))
        .bearer_auth(sb.token())
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    // Over 5 MiB → 413.
    let huge = format!(
        "{{\"fields\": {{\"Blockers\": \"{}\"}}}}",
        "x".repeat(5 * 1024 * 1024)
    );
    let resp = reqwest::Client::new()
        .post(format!("{}{}", sb.base_url(), table_path(&t)))
        .bearer_auth(sb.token())
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
}

#[tokio::test]
async fn more_than_ten_records_is_422_invalid_records() {
    let sb = sandbox().await;
    let t = sb.seed_team();
    let api = Api::new(&sb);
    let eleven: Vec<Value> = (0..11)
        .map(|i| json!({"fields": {"Spec Name": format!("s{i}")}}))
        .collect();
    let (status, body) = api.post(&table_path(&t), json!({"records": eleven})).await;
    assert_eq!((status, error_type(&body)), (422, "INVALID_RECORDS"));
    assert!(sb.records(&t.base_id, &t.table_id).is_empty());
    let upd: Vec<Value> = (0..11)
        .map(|_| json!({"id": "recX", "fields": {}}))
        .collect();
    let (status, body) = api.patch(&table_path(&t), json!({"records": upd})).await;
    assert_eq!((status, error_type(&body)), (422, "INVALID_RECORDS"));
    let q: Vec<String> = (0..11).map(|i| format!("records%5B%5D=rec{i}")).collect();
    let (status, body) = api
        .delete(&format!("{}?{}", table_path(&t), q.join("&")))
        .await;
    assert_eq!((status, error_type(&body)), (422, "INVALID_RECORDS"));
}

#[tokio::test]
async fn unknown_select_options_need_typecast() {
    let sb = sandbox().await;
    let t = sb.seed_team();
    let api = Api::new(&sb);
    let rec = json!({"fields": {"Spec Name": "X", "Status": "Blocked"}});
    let (status, body) = api.post(&table_path(&t), rec.clone()).await;
    assert_eq!(
        (status, error_type(&body)),
        (422, "INVALID_MULTIPLE_CHOICE_OPTIONS")
    );
    let mut with_typecast = rec;
    with_typecast["typecast"] = json!(true);
    let (status, body) = api.post(&table_path(&t), with_typecast).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["fields"]["Status"], "Blocked");
    let (_, schema) = api
        .get(&format!("/v0/meta/bases/{}/tables", t.base_id))
        .await;
    let status_field = schema["tables"][0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Status")
        .unwrap()
        .clone();
    let choices: Vec<&str> = status_field["options"]["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(choices.contains(&"Blocked") && choices.contains(&"Archived"));
}

#[tokio::test]
async fn upsert_creates_then_updates_and_refuses_ambiguous_matches() {
    let sb = sandbox().await;
    let t = sb.seed_team();
    let api = Api::new(&sb);
    let body = json!({
        "performUpsert": {"fieldsToMergeOn": ["Notion Page ID"]},
        "records": [{"fields": {"Notion Page ID": "page-1", "Spec Name": "One"}}],
    });
    let (status, first) = api.patch(&table_path(&t), body.clone()).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["createdRecords"].as_array().unwrap().len(), 1);
    assert_eq!(first["updatedRecords"], json!([]));
    let (_, second) = api.patch(&table_path(&t), body.clone()).await;
    assert_eq!(second["createdRecords"], json!([]));
    assert_eq!(second["updatedRecords"], first["createdRecords"]);
    assert_eq!(sb.records(&t.base_id, &t.table_id).len(), 1);

    sb.insert_record_as_person(&t.base_id, &t.table_id, json!({"Notion Page ID": "page-1"}))
        .unwrap();
    let (status, err) = api.patch(&table_path(&t), body).await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(sb.records(&t.base_id, &t.table_id).len(), 2);
    let bad =
        json!({"performUpsert": {"fieldsToMergeOn": ["Last Synced"]}, "records": [{"fields": {}}]});
    let (status, _) = api.patch(&table_path(&t), bad).await;
    assert_eq!(status, 422);
}

// ---------------------------------------------------------------------------
// Rate limit, faults, metadata, control API
// ---------------------------------------------------------------------------

#[tokio::test]
async fn the_sixth_request_in_a_second_is_429_until_the_penalty_passes() {
    let config = AirtableSandboxConfig {
        penalty: Duration::from_secs(1),
        ..AirtableSandboxConfig::default()
    };
    let sb = AirtableSandbox::start_local(config).await.unwrap();
    let t = sb.seed_team();
    let other = sb.create_base("Other");
    sb.create_table(
        &other,
        "T",
        vec![FieldSchema::new("Name", FieldType::SingleLineText)],
    );
    let api = Api::new(&sb);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(api.get(&table_path(&t)).await.0);
    }
    assert_eq!(statuses, vec![200, 200, 200, 200, 200, 429]);
    let limited_at = Instant::now();
    let resp = reqwest::Client::new()
        .get(format!("{}{}", sb.base_url(), table_path(&t)))
        .bearer_auth(sb.token())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().get("retry-after").is_none());
    let body: Value = resp.json().await.unwrap();
    assert_eq!(error_type(&body), "RATE_LIMIT_REACHED");
    // Another base is not affected.
    assert_eq!(api.get(&format!("/v0/{other}/T")).await.0, 200);
    eventually(5, "the penalty to pass", async || {
        (api.get(&table_path(&t)).await.0 == 200).then_some(())
    })
    .await;
    assert!(limited_at.elapsed() >= Duration::from_millis(900));
    assert!(sb.calls().count_status(429) >= 2);
}

#[tokio::test]
async fn injected_faults_are_5xx_and_latency() {
    let sb = sandbox().await;
    let t = sb.seed_team();
    let api = Api::new(&sb);
    sb.set_faults(Faults {
        error_rate: 1.0,
        seed: Some(1),
        ..Faults::default()
    });
    let mut statuses = std::collections::BTreeSet::new();
    for _ in 0..30 {
        let (status, body) = api.get(&table_path(&t)).await;
        if status == 503 {
            assert_eq!(error_type(&body), "RETRIABLE_ERROR");
        }
        if status == 502 {
            assert!(body.is_string(), "a gateway error is not JSON");
        }
        statuses.insert(status);
    }
    assert_eq!(
        statuses.into_iter().collect::<Vec<_>>(),
        vec![500, 502, 503]
    );
    sb.set_faults(Faults {
        latency_ms: 150,
        ..Faults::default()
    });
    let started = Instant::now();
    assert_eq!(api.get(&table_path(&t)).await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

/// With latency, a write takes effect only as its answer leaves, never
/// before; and a caller that stops waiting does not undo it (the server
/// finishes what it received).
#[tokio::test]
async fn latency_delays_a_writes_effect_and_a_timeout_does_not_cancel_it() {
    let sb = sandbox().await;
    let t = sb.seed_team();
    let latency = Duration::from_millis(300);
    sb.set_faults(Faults {
        latency_ms: 300,
        ..Faults::default()
    });
    let record = sb
        .insert_record_as_person(&t.base_id, &t.table_id, json!({"Spec Name": "Spec"}))
        .unwrap();
    let sprint = |sb: &AirtableSandbox| {
        sb.records(&t.base_id, &t.table_id)
            .into_iter()
            .find(|r| r["id"] == json!(record))
            .unwrap()["fields"]["Sprint"]
            .clone()
    };
    let path = format!("{}/{record}", table_path(&t));
    let api = Api::new(&sb);
    // Watch the table until the answer arrives: the value must not change
    // before the latency has passed.
    let write = api.patch(&path, json!({"fields": {"Sprint": "Sprint 40"}}));
    let ((status, _), first_seen) =
        answer_and_first_seen(write, || sprint(&sb) == json!("Sprint 40")).await;
    assert_eq!(status, 200);
    if let Some(at) = first_seen {
        assert!(at >= latency, "visible after {at:?}, before the latency");
    }
    assert_eq!(sprint(&sb), json!("Sprint 40"), "in effect once answered");

    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let cut = impatient
        .patch(format!("{}{path}", sb.base_url()))
        .bearer_auth(sb.token())
        .json(&json!({"fields": {"Sprint": "Sprint 41"}}))
        .send()
        .await;
    assert!(cut.unwrap_err().is_timeout());
    until(
        Duration::from_secs(5),
        Duration::from_millis(20),
        "the write cut short to take effect",
        || std::future::ready(sprint(&sb) == json!("Sprint 41")),
    )
    .await;
}

#[tokio::test]
async fn schema_and_whoami() {
    let sb = sandbox().await;
    let t = sb.seed_team();
    let api = Api::new(&sb);
    let (status, body) = api
        .get(&format!("/v0/meta/bases/{}/tables", t.base_id))
        .await;
    assert_eq!(status, 200);
    let table = &body["tables"][0];
    assert_eq!(table["id"], t.table_id);
    assert_eq!(table["name"], "Delivery Tracker");
    assert_eq!(table["primaryFieldId"], t.field_ids["Spec Name"]);
    assert_eq!(table["fields"].as_array().unwrap().len(), 11);
    let priority = table["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Priority")
        .unwrap();
    assert_eq!(priority["type"], "singleSelect");
    assert_eq!(priority["options"]["choices"][0]["name"], "P0");
    assert!(
        priority["options"]["choices"][0]["id"]
            .as_str()
            .unwrap()
            .starts_with("sel")
    );
    assert!(priority["options"]["choices"][0]["color"].is_string());
    assert_eq!(table["views"][0]["type"], "grid");
    for id in t.field_ids.values() {
        assert!(id.starts_with("fld") && id.len() == 17, "{id}");
    }
    let (status, me) = api.get("/v0/meta/whoami").await;
    assert_eq!(status, 200);
    assert_eq!(me["id"], sb.user_id());
    assert!(
        me["scopes"]
            .as_array()
            .unwrap()
            .contains(&json!("webhook:manage"))
    );
}

#[tokio::test]
async fn the_control_api_seeds_acts_as_a_person_and_is_not_counted() {
    let sb = sandbox().await;
    let http = reqwest::Client::new();
    let ctl = |p: &str| format!("{}/_sandbox{p}", sb.base_url());
    let t: TeamAirtable = http
        .post(ctl("/seed/team"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(t, sb.seed_team(), "seeding is idempotent");
    let created: Value = http
        .post(ctl(&format!("/{}/{}", t.base_id, t.table_id)))
        .json(&json!({"fields": {"Spec Name": "By hand", "Status": "Draft"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    let resp = http
        .patch(ctl(&format!("/{}/{}/{id}", t.base_id, t.table_id)))
        .json(&json!({"fields": {"Status": "Ready"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let all: Value = http
        .get(ctl(&format!("/{}/{}", t.base_id, t.table_id)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all["records"][0]["fields"]["Status"], "Ready");
    assert_eq!(sb.calls().total(), 0);

    let api = Api::new(&sb);
    api.get(&table_path(&t)).await;
    let calls: Value = http
        .get(ctl("/calls"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(calls["total"], 1);
    assert_eq!(calls["calls"][0]["route"], "/v0/{base}/{table}");
    http.post(ctl("/calls/reset")).send().await.unwrap();
    assert_eq!(sb.calls().total(), 0);

    let faults: Value = http
        .post(ctl("/faults"))
        .json(&json!({"latency_ms": 5}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(faults["latency_ms"], 5);
    let knobs: Value = http
        .post(ctl("/delivery"))
        .json(&json!({"drop_rate": 0.5}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            knobs["drop_rate"].as_f64(),
            knobs["retry_time_scale"].as_f64()
        ),
        (Some(0.5), Some(1.0))
    );
    let resp = http
        .delete(ctl(&format!("/{}/{}/{id}", t.base_id, t.table_id)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(sb.records(&t.base_id, &t.table_id).is_empty());
}

// ---------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------

#[tokio::test]
async fn webhooks_are_created_listed_refreshed_toggled_and_deleted() {
    let sb = sandbox().await;
    let t = sb.seed_team();
    let api = Api::new(&sb);
    let hooks = format!("/v0/bases/{}/webhooks", t.base_id);

    // Tables must be named by id.
    let by_name = json!({"specification": {"options": {"filters": {"dataTypes": ["tableData"], "recordChangeScope": "Delivery Tracker"}}}});
    assert_eq!(api.post(&hooks, by_name).await.0, 422);

    let created = create_webhook(&api, &t, Some("https://example.com/hook"), json!({})).await;
    let id = created["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("ach"));
    assert!(!created["macSecretBase64"].as_str().unwrap().is_empty());
    let listed = webhook_listing(&api, &t, &id).await;
    assert_eq!(listed["areNotificationsEnabled"], true);
    assert_eq!(listed["isHookEnabled"], true);
    assert_eq!(listed["cursorForNextPayload"], 1);
    assert_eq!(listed["notificationUrl"], "https://example.com/hook");
    assert_eq!(listed["lastNotificationResult"], Value::Null);
    assert_eq!(
        listed["specification"]["options"]["filters"]["recordChangeScope"],
        t.table_id
    );
    assert!(
        listed.get("macSecretBase64").is_none(),
        "the secret is shown only once"
    );

    sb_clock(&sb, 3600).await;
    let (status, refreshed) = api
        .post(&format!("{hooks}/{id}/refresh"), json!(null))
        .await;
    assert_eq!(status, 200);
    assert!(
        refreshed["expirationTime"].as_str().unwrap() > created["expirationTime"].as_str().unwrap()
    );

    let (status, _) = api
        .post(
            &format!("{hooks}/{id}/enableNotifications"),
            json!({"enable": false}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        webhook_listing(&api, &t, &id).await["areNotificationsEnabled"],
        false
    );

    for _ in 0..9 {
        create_webhook(&api, &t, None, json!({})).await;
    }
    let eleventh = json!({"specification": {"options": {"filters": {"dataTypes": ["tableData"]}}}});
    let (status, body) = api.post(&hooks, eleventh).await;
    assert_eq!(
        (status, error_type(&body)),
        (422, "TOO_MANY_WEBHOOKS_IN_BASE")
    );

    assert_eq!(api.delete(&format!("{hooks}/{id}")).await.0, 200);
    assert_eq!(webhook_listing(&api, &t, &id).await, Value::Null);
    assert_eq!(api.delete(&format!("{hooks}/{id}")).await.0, 404);
}

#[tokio::test]
async fn the_payload_cursor_walks_more_than_50_payloads() {
    let sb = sandbox().await;
    let t = sb.seed_team();
    let api = Api::new(&sb);
    let hook = create_webhook(&api, &t, None, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let id = sb
        .insert_record_as_person(&t.base_id, &t.table_id, json!({"Spec Name": "s"}))
        .unwrap();
    for i in 0..59 {
        sb.update_record_as_person(
            &t.base_id,
            &t.table_id,
            &id,
            json!({"Sprint": format!("S{i}")}),
        )
        .unwrap();
    }
    // A write that changes nothing is not a transaction.
    sb.update_record_as_person(&t.base_id, &t.table_id, &id, json!({"Sprint": "S58"}))
        .unwrap();

    let first = payloads(&api, &t, &hook, 1).await;
    assert_eq!(first["payloads"].as_array().unwrap().len(), 50);
    assert_eq!(
        (first["cursor"].as_u64(), first["mightHaveMore"].as_bool()),
        (Some(51), Some(true))
    );
    let second = payloads(&api, &t, &hook, 51).await;
    assert_eq!(second["payloads"].as_array().unwrap().len(), 10);
    assert_eq!(
        (second["cursor"].as_u64(), second["mightHaveMore"].as_bool()),
        (Some(61), Some(false))
    );
    let third = payloads(&api, &t, &hook, 61).await;
    assert_eq!(
        (
            third["payloads"].as_array().unwrap().len(),
            third["cursor"].as_u64()
        ),
        (0, Some(61))
    );
    assert_eq!(
        webhook_listing(&api, &t, &hook).await["cursorForNextPayload"],
        61
    );

    let txns: Vec<u64> = first["payloads"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["payloads"].as_array().unwrap())
        .map(|p| p["baseTransactionNumber"].as_u64().unwrap())
        .collect();
    assert!(txns.windows(2).all(|w| w[0] < w[1]), "{txns:?}");
    assert_eq!(first["payloads"][0]["payloadFormat"], "v0");
    let (status, _) = api
        .get(&format!(
            "/v0/bases/{}/webhooks/{hook}/payloads?limit=51",
            t.base_id
        ))
        .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn payloads_carry_the_source_the_user_and_v2_cells() {
    let sb = sandbox().await;
    let t = sb.seed_team();
    let api = Api::new(&sb);
    let includes = json!({"includeCellValuesInFieldIds": [t.field_ids["Spec Name"]], "includePreviousCellValues": true});
    let hook = create_webhook(&api, &t, None, includes).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, rec) = api
        .post(
            &table_path(&t),
            json!({"fields": {"Spec Name": "A", "Status": "Draft"}}),
        )
        .await;
    let rec = rec["id"].as_str().unwrap().to_string();
    sb.update_record_as_person(&t.base_id, &t.table_id, &rec, json!({"Status": "Shipped"}))
        .unwrap();
    sb.delete_record_as_person(&t.base_id, &t.table_id, &rec)
        .unwrap();

    let page = payloads(&api, &t, &hook, 1).await;
    let p = page["payloads"].as_array().unwrap();
    assert_eq!(p.len(), 3);
    let status = &t.field_ids["Status"];
    let name = &t.field_ids["Spec Name"];

    let api_user = &p[0]["actionMetadata"];
    assert_eq!(api_user["source"], "publicApi");
    assert_eq!(api_user["sourceMetadata"]["user"]["id"], sb.user_id());
    let created = &p[0]["changedTablesById"][&t.table_id]["createdRecordsById"][&rec];
    assert_eq!(created["cellValuesByFieldId"][status]["name"], "Draft");
    assert!(
        created["cellValuesByFieldId"][status]["id"]
            .as_str()
            .unwrap()
            .starts_with("sel")
    );

    let person = &p[1]["actionMetadata"];
    assert_eq!(person["source"], "client");
    assert_ne!(person["sourceMetadata"]["user"]["id"], sb.user_id());
    assert!(person["sourceMetadata"]["user"]["email"].is_string());
    let changed = &p[1]["changedTablesById"][&t.table_id]["changedRecordsById"][&rec];
    assert_eq!(
        changed["current"]["cellValuesByFieldId"][status]["name"],
        "Shipped"
    );
    assert_eq!(
        changed["previous"]["cellValuesByFieldId"][status]["name"],
        "Draft"
    );
    assert_eq!(changed["unchanged"]["cellValuesByFieldId"][name], "A");

    assert_eq!(
        p[2]["changedTablesById"][&t.table_id]["destroyedRecordIds"],
        json!([rec])
    );
}

#[tokio::test]
async fn a_mac_signed_ping_reaches_the_receiver() {
    let sb = sandbox().await;
    let t = sb.seed_team();
    let api = Api::new(&sb);
    let (url, mut rx) = receiver(200).await;
    let created = create_webhook(&api, &t, Some(&url), json!({})).await;
    let (hook, secret) = (
        created["id"].as_str().unwrap().to_string(),
        created["macSecretBase64"].as_str().unwrap().to_string(),
    );
    sb.insert_record_as_person(&t.base_id, &t.table_id, json!({"Spec Name": "ping me"}))
        .unwrap();

    let (headers, body) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    let mac = headers
        .get("x-airtable-content-mac")
        .and_then(|v| v.to_str().ok());
    assert_eq!(verify_airtable(&secret, &body, mac), Ok(()));
    let ping: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(ping["base"]["id"], t.base_id);
    assert_eq!(ping["webhook"]["id"], hook);
    assert!(ping["timestamp"].as_str().unwrap().ends_with('Z'));
    let listed = eventually(10, "the success to be recorded", async || {
        let l = webhook_listing(&api, &t, &hook).await;
        l["lastSuccessfulNotificationTime"].is_string().then_some(l)
    })
    .await;
    assert_eq!(listed["lastNotificationResult"]["success"], true);
    let deliveries: Value = reqwest::get(format!("{}/_sandbox/deliveries", sb.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(deliveries["deliveries"][0]["status"], 200);
}

#[tokio::test]
async fn a_failing_receiver_is_retried_13_times_then_notifications_are_disabled() {
    let config = AirtableSandboxConfig {
        rate_limit: false,
        delivery: DeliveryKnobs {
            retry_time_scale: 0.00002,
            ..DeliveryKnobs::default()
        },
        ..AirtableSandboxConfig::default()
    };
    let sb = AirtableSandbox::start_local(config).await.unwrap();
    let t = sb.seed_team();
    let api = Api::new(&sb);
    let (url, mut rx) = receiver(500).await;
    let hook = create_webhook(&api, &t, Some(&url), json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    sb.insert_record_as_person(&t.base_id, &t.table_id, json!({"Spec Name": "x"}))
        .unwrap();

    let listed = eventually(20, "notifications to be disabled", async || {
        let l = webhook_listing(&api, &t, &hook).await;
        (l["areNotificationsEnabled"] == false).then_some(l)
    })
    .await;
    let result = &listed["lastNotificationResult"];
    assert_eq!(
        (
            result["success"].as_bool(),
            result["willBeRetried"].as_bool()
        ),
        (Some(false), Some(false))
    );
    assert_eq!(result["retryNumber"], 13);
    assert!(result["error"]["message"].as_str().unwrap().contains("500"));
    let mut attempts = 0;
    while rx.try_recv().is_ok() {
        attempts += 1;
    }
    assert_eq!(attempts, 14, "one attempt and 13 retries");

    // Payloads keep accumulating, but no more pings are sent.
    sb.insert_record_as_person(&t.base_id, &t.table_id, json!({"Spec Name": "y"}))
        .unwrap();
    assert_eq!(
        payloads(&api, &t, &hook, 1).await["payloads"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(rx.try_recv().is_err());
}

#[tokio::test]
async fn purged_payloads_leave_a_visible_gap() {
    let sb = sandbox().await;
    let t = sb.seed_team();
    let api = Api::new(&sb);
    let hook = create_webhook(&api, &t, None, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    for i in 0..5 {
        sb.insert_record_as_person(
            &t.base_id,
            &t.table_id,
            json!({"Spec Name": format!("s{i}")}),
        )
        .unwrap();
    }
    let all = payloads(&api, &t, &hook, 1).await;
    let third_txn = all["payloads"][2]["baseTransactionNumber"]
        .as_u64()
        .unwrap();
    sb.purge_payloads_before(&t.base_id, third_txn);

    let after = payloads(&api, &t, &hook, 1).await;
    let kept = after["payloads"].as_array().unwrap();
    assert_eq!(kept.len(), 3);
    assert_eq!(kept[0]["baseTransactionNumber"].as_u64(), Some(third_txn));
    // The cursor advanced by more than the payloads returned: two were lost.
    assert_eq!(after["cursor"], 6);
    assert!(after["cursor"].as_u64().unwrap() - 1 > kept.len() as u64);
}

#[tokio::test]
async fn an_expired_webhook_stops_producing_payloads_and_pings() {
    let sb = sandbox().await;
    let t = sb.seed_team();
    let api = Api::new(&sb);
    let (url, mut rx) = receiver(204).await;
    let hook = create_webhook(&api, &t, Some(&url), json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let quiet = create_webhook(&api, &t, None, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    sb.insert_record_as_person(&t.base_id, &t.table_id, json!({"Spec Name": "before"}))
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();

    // The control API expires a webhook now: no more payloads (so no pings), no refresh.
    let resp = reqwest::Client::new()
        .post(format!("{}/_sandbox/webhooks/{hook}/expire", sb.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        webhook_listing(&api, &t, &hook).await["isHookEnabled"],
        false
    );
    sb.insert_record_as_person(&t.base_id, &t.table_id, json!({"Spec Name": "after"}))
        .unwrap();
    assert_eq!(
        payloads(&api, &t, &hook, 1).await["payloads"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        payloads(&api, &t, &quiet, 1).await["payloads"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let (status, _) = api
        .post(
            &format!("/v0/bases/{}/webhooks/{hook}/refresh", t.base_id),
            json!(null),
        )
        .await;
    assert_eq!(status, 422);

    // Eight days on (sandbox clock) the other one has expired too, and payloads older than
    // a week are gone.
    sb_clock(&sb, 8 * 24 * 3600).await;
    let listed = webhook_listing(&api, &t, &quiet).await;
    assert_eq!(listed["isHookEnabled"], false);
    let page = payloads(&api, &t, &quiet, 1).await;
    assert_eq!(
        (
            page["payloads"].as_array().unwrap().len(),
            page["cursor"].as_u64()
        ),
        (0, Some(3))
    );
    // A week after expiry the webhook itself is gone.
    sb_clock(&sb, 15 * 24 * 3600).await;
    assert_eq!(webhook_listing(&api, &t, &quiet).await, Value::Null);
    assert!(rx.try_recv().is_err(), "no ping after expiry");
}

// ---------------------------------------------------------------------------
// Rich text, field schema changes and field ids
// ---------------------------------------------------------------------------

/// A control-API call (no token, never counted).
async fn control(
    sb: &AirtableSandbox,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req =
        reqwest::Client::new().request(method, format!("{}/_sandbox{path}", sb.base_url()));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn field_path(t: &TeamAirtable, field: &str) -> String {
    format!("/bases/{}/tables/{}/fields/{field}", t.base_id, t.table_id)
}

async fn create_hook_with(api: &Api, base_id: &str, url: Option<&str>, options: Value) -> String {
    let (status, body) = api
        .post(
            &format!("/v0/bases/{base_id}/webhooks"),
            json!({"notificationUrl": url, "specification": {"options": options}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["id"].as_str().unwrap().to_string()
}

async fn schema_fields(api: &Api, t: &TeamAirtable) -> Vec<Value> {
    let (status, body) = api
        .get(&format!("/v0/meta/bases/{}/tables", t.base_id))
        .await;
    assert_eq!(status, 200, "{body}");
    body["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|tb| tb["id"] == t.table_id)
        .unwrap()["fields"]
        .as_array()
        .unwrap()
        .clone()
}

/// A base with one table: Title (primary), Notes (rich text), Plain (long text).
fn rich_table(sb: &AirtableSandbox) -> TeamAirtable {
    let base_id = sb.create_base("Rich");
    let fields = vec![
        FieldSchema::new("Title", FieldType::SingleLineText),
        FieldSchema::new("Notes", FieldType::RichText),
        FieldSchema::new("Plain", FieldType::MultilineText),
    ];
    let table_id = sb.create_table(&base_id, "Docs", fields);
    TeamAirtable {
        base_id,
        table_id,
        field_ids: Default::default(),
    }
}

#[tokio::test]
async fn rich_text_reads_back_as_markdown_with_one_trailing_newline_everywhere() {
    let sb = sandbox().await;
    let t = rich_table(&sb);
    let api = Api::new(&sb);
    let hook = create_hook_with(
        &api,
        &t.base_id,
        None,
        json!({"filters": {"dataTypes": ["tableData"]}, "includes": {"includePreviousCellValues": true}}),
    )
    .await;
    let md = "**bold**, *italic*, ~~gone~~, `code` and [a link](https://example.com)";
    let (status, created) = api
        .post(
            &table_path(&t),
            json!({"fields": {"Title": "a", "Notes": md, "Plain": "two\nlines"}}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let with_newline = format!("{md}\n");
    assert_eq!(created["fields"]["Notes"], with_newline.as_str());
    assert_eq!(
        created["fields"]["Plain"], "two\nlines",
        "plain long text is untouched"
    );

    let (_, got) = api.get(&format!("{}/{id}", table_path(&t))).await;
    assert_eq!(got["fields"]["Notes"], with_newline.as_str());
    let (_, listed) = api.get(&table_path(&t)).await;
    assert_eq!(
        listed["records"][0]["fields"]["Notes"],
        with_newline.as_str()
    );
    assert_eq!(listed["records"][0]["fields"]["Plain"], "two\nlines");

    // Writing back what was read changes nothing; a new value gets its newline too.
    let (_, same) = api
        .patch(
            &format!("{}/{id}", table_path(&t)),
            json!({"fields": {"Notes": with_newline}}),
        )
        .await;
    assert_eq!(same["fields"]["Notes"], with_newline.as_str());
    let (_, edited) = api
        .patch(
            &table_path(&t),
            json!({"records": [{"id": id, "fields": {"Notes": "_new_"}}]}),
        )
        .await;
    assert_eq!(edited["records"][0]["fields"]["Notes"], "_new_\n");
    sb.update_record_as_person(
        &t.base_id,
        &t.table_id,
        &id,
        json!({"Notes": "by **hand**"}),
    )
    .unwrap();
    assert_eq!(
        sb.record(&t.base_id, &t.table_id, &id).unwrap()["fields"]["Notes"],
        "by **hand**\n"
    );

    let page = payloads(&api, &t, &hook, 1).await;
    let p = page["payloads"].as_array().unwrap();
    assert_eq!(p.len(), 3, "the no-op write made no payload: {page}");
    let notes_id = schema_fields(&api, &t).await[1]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let created = &p[0]["changedTablesById"][&t.table_id]["createdRecordsById"][&id];
    assert_eq!(
        created["cellValuesByFieldId"][&notes_id],
        with_newline.as_str()
    );
    let changed = &p[2]["changedTablesById"][&t.table_id]["changedRecordsById"][&id];
    assert_eq!(
        changed["current"]["cellValuesByFieldId"][&notes_id],
        "by **hand**\n"
    );
    assert_eq!(
        changed["previous"]["cellValuesByFieldId"][&notes_id],
        "_new_\n"
    );

    // Emptying the cell omits it, as for every empty value.
    let (_, cleared) = api
        .patch(
            &format!("{}/{id}", table_path(&t)),
            json!({"fields": {"Notes": ""}}),
        )
        .await;
    assert!(cleared["fields"].get("Notes").is_none(), "{cleared}");
}

#[tokio::test]
async fn the_meta_api_renames_and_describes_a_field_and_its_id_survives() {
    let sb = sandbox().await;
    let t = sb.seed_team();
    let api = Api::new(&sb);
    let sprint = t.field_ids["Sprint"].clone();
    let (_, rec) = api
        .post(
            &table_path(&t),
            json!({"fields": {"Spec Name": "A", "Sprint": "Sprint 30"}}),
        )
        .await;
    let rec = rec["id"].as_str().unwrap().to_string();

    let (status, field) = api
        .patch(
            &format!("/v0/meta{}", field_path(&t, &sprint)),
            json!({"name": "Iteration", "description": "Which sprint"}),
        )
        .await;
    assert_eq!(status, 200, "{field}");
    assert_eq!(
        field,
        json!({"id": sprint, "name": "Iteration", "type": "singleLineText", "description": "Which sprint"})
    );
    // The table may be named instead of given by id.
    let by_name = format!(
        "/v0/meta/bases/{}/tables/Delivery%20Tracker/fields/{sprint}",
        t.base_id
    );
    let (status, field) = api.patch(&by_name, json!({"description": ""})).await;
    assert_eq!(status, 200, "{field}");
    assert!(
        field.get("description").is_none(),
        "an empty description clears it"
    );

    let listed = schema_fields(&api, &t).await;
    assert!(
        listed
            .iter()
            .any(|f| f["id"] == sprint && f["name"] == "Iteration")
    );
    assert!(!listed.iter().any(|f| f["name"] == "Sprint"));
    let (_, got) = api.get(&format!("{}/{rec}", table_path(&t))).await;
    assert_eq!(got["fields"]["Iteration"], "Sprint 30");
    assert!(got["fields"].get("Sprint").is_none(), "{got}");
    let (_, by_id) = api
        .get(&format!(
            "{}/{rec}?returnFieldsByFieldId=true",
            table_path(&t)
        ))
        .await;
    assert_eq!(by_id["fields"][&sprint], "Sprint 30");

    // The old name is unknown now: the write fails and changes nothing.
    let (status, body) = api
        .patch(
            &format!("{}/{rec}", table_path(&t)),
            json!({"fields": {"Spec Name": "B", "Sprint": "Sprint 31"}}),
        )
        .await;
    assert_eq!((status, error_type(&body)), (422, "UNKNOWN_FIELD_NAME"));
    let (_, got) = api.get(&format!("{}/{rec}", table_path(&t))).await;
    assert_eq!(
        (
            got["fields"]["Spec Name"].clone(),
            got["fields"]["Iteration"].clone()
        ),
        (json!("A"), json!("Sprint 30"))
    );
}

#[tokio::test]
async fn update_field_refuses_bad_requests_and_changes_nothing() {
    let sb = sandbox().await;
    let t = sb.seed_team();
    let api = Api::new(&sb);
    let sprint = field_path(&t, &t.field_ids["Sprint"]);
    let before = schema_fields(&api, &t).await;
    let cases = [
        (
            field_path(&t, "fldNoSuchField0001"),
            json!({"name": "X"}),
            403,
            "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND",
        ),
        (
            sprint.clone(),
            json!({"name": "status"}),
            422,
            "DUPLICATE_OR_EMPTY_FIELD_NAME",
        ),
        (
            sprint.clone(),
            json!({"name": "  "}),
            422,
            "DUPLICATE_OR_EMPTY_FIELD_NAME",
        ),
        (sprint.clone(), json!({}), 422, "INVALID_REQUEST_UNKNOWN"),
        (
            sprint.clone(),
            json!({"name": 5}),
            422,
            "INVALID_REQUEST_UNKNOWN",
        ),
        (
            sprint.clone(),
            json!({"name": "Y", "type": "number"}),
            422,
            "INVALID_REQUEST_UNKNOWN",
        ),
        (
            sprint.clone(),
            json!({"description": "d".repeat(20_001)}),
            422,
            "INVALID_REQUEST_UNKNOWN",
        ),
    ];
    for (path, body, status, kind) in cases {
        let (got, err) = api.patch(&format!("/v0/meta{path}"), body.clone()).await;
        assert_eq!((got, error_type(&err)), (status, kind), "{body}");
    }
    let resp = reqwest::Client::new()
        .patch(format!("{}/v0/meta{sprint}", sb.base_url()))
        .bearer_auth(sb.token())
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(schema_fields(&api, &t).await, before);

    // A token without schema.bases:write may read the schema but not change it.
    let config = AirtableSandboxConfig {
        rate_limit: false,
        scopes: vec!["data.records:read".into(), "schema.bases:read".into()],
        ..AirtableSandboxConfig::default()
    };
    let read_only = AirtableSandbox::start_local(config).await.unwrap();
    let t2 = read_only.seed_team();
    let api2 = Api::new(&read_only);
    let (status, body) = api2
        .patch(
            &format!("/v0/meta{}", field_path(&t2, &t2.field_ids["Sprint"])),
            json!({"name": "Iteration"}),
        )
        .await;
    assert_eq!(
        (status, error_type(&body)),
        (403, "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND")
    );
    assert!(
        schema_fields(&api2, &t2)
            .await
            .iter()
            .any(|f| f["name"] == "Sprint")
    );
    let (_, me) = api2.get("/v0/meta/whoami").await;
    assert_eq!(
        me["scopes"],
        json!(["data.records:read", "schema.bases:read"])
    );
}

#[tokio::test]
async fn the_meta_api_creates_fields_with_their_documented_options() {
    let sb = sandbox().await;
    let t = sb.seed_team();
    let api = Api::new(&sb);
    let path = format!("/v0/meta/bases/{}/tables/{}/fields", t.base_id, t.table_id);
    let (status, field) = api
        .post(
            &path,
            json!({"name": "Estimate", "type": "number", "options": {"precision": 0}, "description": "days"}),
        )
        .await;
    assert_eq!(status, 200, "{field}");
    let id = field["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("fld") && id.len() == 17);
    assert_eq!(
        (field["name"].clone(), field["type"].clone()),
        (json!("Estimate"), json!("number"))
    );
    assert_eq!(field["description"], "days");
    let (status, size) = api
        .post(
            &path,
            json!({"name": "Size", "type": "singleSelect", "options": {"choices": [{"name": "S"}, {"name": "L"}]}}),
        )
        .await;
    assert_eq!(status, 200, "{size}");
    assert_eq!(size["options"]["choices"][1]["name"], "L");
    let (status, rec) = api
        .post(
            &table_path(&t),
            json!({"fields": {"Spec Name": "A", "Estimate": 3, "Size": "S"}}),
        )
        .await;
    assert_eq!(status, 200, "{rec}");
    assert_eq!(rec["fields"]["Estimate"], 3);

    let count = schema_fields(&api, &t).await.len();
    let bad = [
        json!({"name": "Estimate", "type": "singleLineText"}),
        json!({"name": "N", "type": "number"}),
        json!({"name": "T", "type": "singleLineText", "options": {"precision": 1}}),
        json!({"name": "F", "type": "formulaOfDoom"}),
        json!({"type": "singleLineText"}),
    ];
    for body in bad {
        let (status, err) = api.post(&path, body.clone()).await;
        assert_eq!(status, 422, "{body} -> {err}");
    }
    assert_eq!(schema_fields(&api, &t).await.len(), count);
}

#[tokio::test]
async fn return_fields_by_field_id_keys_cells_by_id_on_every_route() {
    let sb = sandbox().await;
    let t = sb.seed_team();
    let api = Api::new(&sb);
    let (name, sprint) = (&t.field_ids["Spec Name"], &t.field_ids["Sprint"]);
    let keyed_by_id = |fields: &Value, expect_sprint: &str| {
        assert_eq!(fields[sprint], expect_sprint, "{fields}");
        assert!(fields.get("Sprint").is_none() && fields.get("Spec Name").is_none());
    };
    let (_, created) = api
        .post(
            &table_path(&t),
            json!({"records": [{"fields": {"Spec Name": "A", "Sprint": "S1"}}], "returnFieldsByFieldId": true}),
        )
        .await;
    keyed_by_id(&created["records"][0]["fields"], "S1");
    let id = created["records"][0]["id"].as_str().unwrap().to_string();
    let (_, single) = api
        .post(
            &table_path(&t),
            json!({"fields": {name: "B"}, "returnFieldsByFieldId": true}),
        )
        .await;
    assert_eq!(single["fields"][name], "B");

    let (_, listed) = api
        .get(&format!("{}?returnFieldsByFieldId=true", table_path(&t)))
        .await;
    keyed_by_id(&listed["records"][0]["fields"], "S1");
    let (_, posted) = api
        .post(
            &format!("{}/listRecords", table_path(&t)),
            json!({"returnFieldsByFieldId": true}),
        )
        .await;
    keyed_by_id(&posted["records"][0]["fields"], "S1");
    let (_, got) = api
        .get(&format!(
            "{}/{id}?returnFieldsByFieldId=true",
            table_path(&t)
        ))
        .await;
    keyed_by_id(&got["fields"], "S1");

    let (_, patched) = api
        .patch(
            &table_path(&t),
            json!({"records": [{"id": id, "fields": {sprint: "S2"}}], "returnFieldsByFieldId": true}),
        )
        .await;
    keyed_by_id(&patched["records"][0]["fields"], "S2");
    let (_, one) = api
        .patch(
            &format!("{}/{id}", table_path(&t)),
            json!({"fields": {sprint: "S3"}, "returnFieldsByFieldId": true}),
        )
        .await;
    keyed_by_id(&one["fields"], "S3");
    let (_, put) = api
        .put(
            &format!("{}/{id}", table_path(&t)),
            json!({"fields": {name: "A", sprint: "S4"}, "returnFieldsByFieldId": true}),
        )
        .await;
    keyed_by_id(&put["fields"], "S4");
    let (status, upserted) = api
        .patch(
            &table_path(&t),
            json!({
                "records": [{"fields": {name: "A", sprint: "S5"}}, {"fields": {name: "C", sprint: "S6"}}],
                "performUpsert": {"fieldsToMergeOn": [name]},
                "returnFieldsByFieldId": true,
            }),
        )
        .await;
    assert_eq!(status, 200, "{upserted}");
    keyed_by_id(&upserted["records"][0]["fields"], "S5");
    keyed_by_id(&upserted["records"][1]["fields"], "S6");
    assert_eq!(upserted["updatedRecords"], json!([id]));
    // Without the flag the same record reads by name.
    let (_, by_name) = api.get(&format!("{}/{id}", table_path(&t))).await;
    assert_eq!(by_name["fields"]["Sprint"], "S5");
}

#[tokio::test]
async fn writing_an_unknown_field_name_or_id_is_422_and_changes_nothing() {
    let sb = sandbox().await;
    let t = sb.seed_team();
    let api = Api::new(&sb);
    let (_, rec) = api
        .post(&table_path(&t), json!({"fields": {"Spec Name": "A"}}))
        .await;
    let id = rec["id"].as_str().unwrap().to_string();
    let sprint = &t.field_ids["Sprint"];
    let attempts = [
        (
            reqwest::Method::POST,
            table_path(&t),
            json!({"records": [{"fields": {"Spec Name": "B"}}, {"fields": {"Nope": "x"}}]}),
        ),
        (
            reqwest::Method::PATCH,
            table_path(&t),
            json!({"records": [{"id": id, "fields": {sprint: "S1", "fldNoSuchField0001": "x"}}]}),
        ),
        (
            reqwest::Method::PATCH,
            format!("{}/{id}", table_path(&t)),
            json!({"fields": {"Spec Name": "Z", "sprint": "S1"}}),
        ),
        (
            reqwest::Method::PUT,
            format!("{}/{id}", table_path(&t)),
            json!({"fields": {"Spec Name": "Z", "Nope": 1}}),
        ),
    ];
    for (method, path, body) in attempts {
        let (status, err) = api.send(method, &path, Some(body.clone())).await;
        assert_eq!(
            (status, error_type(&err)),
            (422, "UNKNOWN_FIELD_NAME"),
            "{body}"
        );
        assert!(err["error"]["message"].is_string());
    }
    let (_, listed) = api.get(&table_path(&t)).await;
    assert_eq!(listed["records"].as_array().unwrap().len(), 1);
    assert_eq!(listed["records"][0]["fields"], json!({"Spec Name": "A"}));
}

#[tokio::test]
async fn a_person_deletes_a_field_and_its_cells_disappear_from_every_record() {
    let sb = sandbox().await;
    let t = sb.seed_team();
    let api = Api::new(&sb);
    let sprint = t.field_ids["Sprint"].clone();
    for n in ["A", "B"] {
        api.post(
            &table_path(&t),
            json!({"fields": {"Spec Name": n, "Sprint": "S1", "Owner": "o"}}),
        )
        .await;
    }
    let (status, body) =
        control(&sb, reqwest::Method::DELETE, &field_path(&t, &sprint), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"id": sprint, "deleted": true}));

    let (_, by_id) = api
        .get(&format!("{}?returnFieldsByFieldId=true", table_path(&t)))
        .await;
    for r in by_id["records"].as_array().unwrap() {
        assert!(r["fields"].get(&sprint).is_none(), "{r}");
        assert_eq!(r["fields"][&t.field_ids["Owner"]], "o");
    }
    assert!(
        !schema_fields(&api, &t)
            .await
            .iter()
            .any(|f| f["id"] == sprint)
    );
    let (status, err) = api
        .post(&table_path(&t), json!({"fields": {sprint.as_str(): "S2"}}))
        .await;
    assert_eq!((status, error_type(&err)), (422, "UNKNOWN_FIELD_NAME"));
    // The primary field cannot be deleted, nor can a field that is not there.
    let primary = field_path(&t, &t.field_ids["Spec Name"]);
    let (status, _) = control(&sb, reqwest::Method::DELETE, &primary, None).await;
    assert_eq!(status, 422);
    let (status, _) = control(&sb, reqwest::Method::DELETE, &field_path(&t, &sprint), None).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_person_changes_a_field_type_and_values_convert_or_drop() {
    let sb = sandbox().await;
    let t = sb.seed_team();
    let api = Api::new(&sb);
    let mut ids = Vec::new();
    for (n, sprint) in [("A", "12"), ("B", "Sprint 30")] {
        let (_, r) = api
            .post(
                &table_path(&t),
                json!({"fields": {"Spec Name": n, "Sprint": sprint}}),
            )
            .await;
        ids.push(r["id"].as_str().unwrap().to_string());
    }
    let (status, field) = control(
        &sb,
        reqwest::Method::PATCH,
        &field_path(&t, "Sprint"),
        Some(json!({"type": "number"})),
    )
    .await;
    assert_eq!(status, 200, "{field}");
    assert_eq!(
        (field["id"].clone(), field["type"].clone()),
        (json!(t.field_ids["Sprint"]), json!("number"))
    );
    let (_, a) = api.get(&format!("{}/{}", table_path(&t), ids[0])).await;
    assert_eq!(a["fields"]["Sprint"], 12);
    let (_, b) = api.get(&format!("{}/{}", table_path(&t), ids[1])).await;
    assert!(b["fields"].get("Sprint").is_none(), "{b}");
    // Number back to text: the numbers come back as their text.
    control(
        &sb,
        reqwest::Method::PATCH,
        &field_path(&t, "Sprint"),
        Some(json!({"type": "richText"})),
    )
    .await;
    let (_, a) = api.get(&format!("{}/{}", table_path(&t), ids[0])).await;
    assert_eq!(a["fields"]["Sprint"], "12\n");
    let (status, _) = control(
        &sb,
        reqwest::Method::PATCH,
        &field_path(&t, "Sprint"),
        Some(json!({"type": "formula"})),
    )
    .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn a_person_renames_a_field_and_records_carry_the_new_name() {
    let sb = sandbox().await;
    let t = sb.seed_team();
    let api = Api::new(&sb);
    let (_, r) = api
        .post(
            &table_path(&t),
            json!({"fields": {"Spec Name": "A", "Blockers": "legal"}}),
        )
        .await;
    let id = r["id"].as_str().unwrap().to_string();
    let (status, field) = control(
        &sb,
        reqwest::Method::PATCH,
        &field_path(&t, &t.field_ids["Blockers"]),
        Some(json!({"name": "Risks"})),
    )
    .await;
    assert_eq!(status, 200, "{field}");
    assert_eq!(field["name"], "Risks");
    let (_, got) = api.get(&format!("{}/{id}", table_path(&t))).await;
    assert_eq!(got["fields"]["Risks"], "legal");
    assert!(got["fields"].get("Blockers").is_none());
    let (status, _) = control(
        &sb,
        reqwest::Method::PATCH,
        &field_path(&t, "Risks"),
        Some(json!({"name": "Status"})),
    )
    .await;
    assert_eq!(status, 422, "a taken name is refused");
}

#[tokio::test]
async fn field_schema_changes_reach_only_webhooks_that_ask_for_table_fields() {
    let sb = sandbox().await;
    let t = sb.seed_team();
    let api = Api::new(&sb);
    let (url, mut rx) = receiver(200).await;
    let fields_hook = create_hook_with(
        &api,
        &t.base_id,
        Some(&url),
        json!({
            "filters": {"dataTypes": ["tableFields", "tableData"], "recordChangeScope": t.table_id},
            "includes": {"includePreviousFieldDefinitions": true},
        }),
    )
    .await;
    let no_previous = create_hook_with(
        &api,
        &t.base_id,
        None,
        json!({"filters": {"dataTypes": ["tableFields"]}}),
    )
    .await;
    let data_only = create_hook_with(
        &api,
        &t.base_id,
        None,
        json!({"filters": {"dataTypes": ["tableData"]}}),
    )
    .await;
    let sprint = t.field_ids["Sprint"].clone();
    let sprint_only = create_hook_with(
        &api,
        &t.base_id,
        None,
        json!({"filters": {"dataTypes": ["tableFields"], "watchSchemasOfFieldIds": [sprint]}}),
    )
    .await;

    // 1. Meta API rename (publicApi), 2. a person adds a field, 3. changes a type,
    // 4. deletes a field (all client).
    let (status, _) = api
        .patch(
            &format!("/v0/meta{}", field_path(&t, &sprint)),
            json!({"name": "Iteration"}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, est) = control(
        &sb,
        reqwest::Method::POST,
        &format!("/bases/{}/tables/{}/fields", t.base_id, t.table_id),
        Some(json!({"name": "Estimate", "type": "singleLineText"})),
    )
    .await;
    let est = est["id"].as_str().unwrap().to_string();
    control(
        &sb,
        reqwest::Method::PATCH,
        &field_path(&t, &est),
        Some(json!({"type": "number"})),
    )
    .await;
    control(&sb, reqwest::Method::DELETE, &field_path(&t, &est), None).await;

    let (headers, body) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(headers.contains_key("x-airtable-content-mac"));
    let ping: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(ping["webhook"]["id"], fields_hook);

    let page = payloads(&api, &t, &fields_hook, 1).await;
    let p = page["payloads"].as_array().unwrap();
    assert_eq!(p.len(), 4, "{page}");
    let table = |i: usize| p[i]["changedTablesById"][&t.table_id].clone();
    assert_eq!(p[0]["actionMetadata"]["source"], "publicApi");
    assert_eq!(
        table(0)["changedFieldsById"],
        json!({sprint.as_str(): {"current": {"name": "Iteration"}, "previous": {"name": "Sprint"}}})
    );
    assert_eq!(p[1]["actionMetadata"]["source"], "client");
    assert_eq!(
        table(1)["createdFieldsById"],
        json!({est.as_str(): {"name": "Estimate", "type": "singleLineText"}})
    );
    assert_eq!(
        table(2)["changedFieldsById"],
        json!({est.as_str(): {"current": {"type": "number"}, "previous": {"type": "singleLineText"}}})
    );
    assert_eq!(table(3)["destroyedFieldIds"], json!([est]));
    assert!(p.iter().all(|x| x["baseTransactionNumber"].is_u64()));

    let plain = payloads(&api, &t, &no_previous, 1).await;
    assert_eq!(
        plain["payloads"][0]["changedTablesById"][&t.table_id]["changedFieldsById"][&sprint],
        json!({"current": {"name": "Iteration"}}),
        "previous needs includePreviousFieldDefinitions"
    );
    let watched = payloads(&api, &t, &sprint_only, 1).await;
    assert_eq!(
        watched["payloads"].as_array().unwrap().len(),
        1,
        "{watched}"
    );
    let none = payloads(&api, &t, &data_only, 1).await;
    assert_eq!(none["payloads"], json!([]), "{none}");
    assert_eq!(none["cursor"], 1);
}

#[tokio::test]
async fn webhooks_need_the_read_scope_of_their_data_types() {
    let config = AirtableSandboxConfig {
        rate_limit: false,
        scopes: vec!["data.records:read".into(), "webhook:manage".into()],
        ..AirtableSandboxConfig::default()
    };
    let sb = AirtableSandbox::start_local(config).await.unwrap();
    let t = sb.seed_team();
    let api = Api::new(&sb);
    let path = format!("/v0/bases/{}/webhooks", t.base_id);
    let spec =
        |types: Value| json!({"specification": {"options": {"filters": {"dataTypes": types}}}});
    let (status, body) = api
        .post(&path, spec(json!(["tableData", "tableFields"])))
        .await;
    assert_eq!(
        (status, error_type(&body)),
        (403, "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND")
    );
    let (status, body) = api.post(&path, spec(json!(["tableData"]))).await;
    assert_eq!(status, 200, "{body}");
    let (_, listed) = api.get(&path).await;
    assert_eq!(listed["webhooks"].as_array().unwrap().len(), 1);
    // The schema itself needs schema.bases:read too.
    let (status, _) = api
        .get(&format!("/v0/meta/bases/{}/tables", t.base_id))
        .await;
    assert_eq!(status, 403);
}

/// A view a person filtered in the UI: the base schema lists it, a listing
/// naming it (by name or id) returns only its records, and `filterByFormula`
/// narrows it further ("only records in that view which satisfy the formula
/// will be returned"); an unknown view is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_lists_only_its_records_and_a_formula_narrows_it() {
    let sb = sandbox().await;
    let t = sb.seed_team();
    let api = Api::new(&sb);
    let (_, _) = api
        .post(
            &table_path(&t),
            json!({"records": [
                {"fields": {"Spec Name": "A", "Status": "Ready", "Owner": "Maya"}},
                {"fields": {"Spec Name": "B", "Status": "Ready", "Owner": "Tom"}},
                {"fields": {"Spec Name": "C", "Status": "Draft", "Owner": "Tom"}},
            ]}),
        )
        .await;
    let view = sb
        .create_view_as_person(&t.base_id, &t.table_id, "Ready", Some("{Status} = 'Ready'"))
        .unwrap();
    let (_, schema) = api
        .get(&format!("/v0/meta/bases/{}/tables", t.base_id))
        .await;
    let views = &schema["tables"][0]["views"];
    assert!(
        views
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["id"] == json!(view) && v["name"] == json!("Ready")),
        "{views}"
    );
    let names = |body: &Value| -> Vec<String> {
        let mut n: Vec<String> = body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["fields"]["Spec Name"].as_str().unwrap().to_string())
            .collect();
        n.sort();
        n
    };
    for key in ["Ready", view.as_str()] {
        let (status, body) = api
            .get(&format!("{}?view={}", table_path(&t), enc(key)))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(names(&body), vec!["A", "B"]);
    }
    let path = format!(
        "{}?view=Ready&filterByFormula={}",
        table_path(&t),
        enc("{Owner} = 'Tom'")
    );
    assert_eq!(names(&api.get(&path).await.1), vec!["B"]);
    let (_, body) = api
        .get(&format!("{}?view=Grid%20view", table_path(&t)))
        .await;
    assert_eq!(names(&body), vec!["A", "B", "C"]);
    let (status, body) = api.get(&format!("{}?view=Nope", table_path(&t))).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        sb.create_view_as_person(&t.base_id, &t.table_id, "Bad", Some("{Nope} = 1"))
            .is_err()
    );
}

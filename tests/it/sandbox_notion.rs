//! The Notion sandbox over HTTP, with raw reqwest: each test starts its own
//! sandbox on port 0 and waits on conditions with a deadline.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use notion_airtable_sandbox::{
    common::{DeliveryKnobs, Faults},
    launch::{self, SandboxArgs, Seed},
    notion::{
        NotionSandbox, NotionSandboxConfig, PropertyKind, PropertySchema, TeamNotion,
        UserInformation,
    },
    team::{NotionStatus, TeamOptions},
};
use notion_airtable_sync::signature::verify_notion;
use serde_json::{Value, json};

use crate::common::wait::{answer_and_first_seen, until};

const VERSION: &str = "2025-09-03";
const DEADLINE: Duration = Duration::from_secs(10);

// --- helpers ------------------------------------------------------------------------

fn unlimited() -> NotionSandboxConfig {
    NotionSandboxConfig {
        rate_limit: false,
        ..NotionSandboxConfig::default()
    }
}

async fn sandbox(config: NotionSandboxConfig) -> NotionSandbox {
    NotionSandbox::start_local(config)
        .await
        .expect("sandbox starts")
}

struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Api {
    fn new(sb: &NotionSandbox) -> Self {
        Self {
            client: reqwest::Client::new(),
            base: sb.base_url(),
            token: sb.token().to_string(),
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("Notion-Version", VERSION);
        if let Some(body) = body {
            req = req.json(&body);
        }
        reply(req.send().await.expect("request sent")).await
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }
}

async fn reply(resp: reqwest::Response) -> Reply {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

fn assert_error(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status, status, "body: {}", r.body);
    assert_eq!(r.body["object"], "error");
    assert_eq!(r.body["status"], status);
    assert_eq!(r.body["code"], code, "body: {}", r.body);
    assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(r.body["request_id"].is_string());
}

async fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn text(content: &str) -> Value {
    json!({"rich_text": [{"type": "text", "text": {"content": content}}]})
}

fn title(content: &str) -> Value {
    json!({"title": [{"type": "text", "text": {"content": content}}]})
}

fn maya(team: &TeamNotion) -> String {
    team.people[0].1.clone()
}

/// A small data source: Name (title) and Sprint (rich_text).
fn small_db(sb: &NotionSandbox) -> (String, String) {
    sb.create_database(
        "Scratch",
        vec![
            PropertySchema::title("Name"),
            PropertySchema::rich_text("Sprint"),
        ],
    )
}

async fn schema_property_id(api: &Api, ds: &str, name: &str) -> String {
    let r = api.get(&format!("/v1/data_sources/{ds}")).await;
    r.body["properties"][name]["id"]
        .as_str()
        .expect("property exists")
        .to_string()
}

// --- webhook receiver ---------------------------------------------------------------

#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("json body")
    }
}

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    /// Answer 500 to this many requests first.
    fail_first: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start() -> (Self, String) {
        let receiver = Receiver::default();
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (receiver, url)
    }

    fn all(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Received events (everything but the verification request).
    fn events(&self) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|r| r.json().get("verification_token").is_none())
            .collect()
    }

    async fn wait_events(&self, n: usize) -> Vec<Received> {
        wait_for(&format!("{n} events"), || {
            let events = self.events();
            (events.len() >= n).then_some(events)
        })
        .await
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.got.lock().unwrap().push(Received { headers, body });
    let failing = r
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

/// A verified subscription to a seeded sandbox; returns its token.
async fn verified_subscription(sb: &NotionSandbox, url: &str, receiver: &Receiver) -> String {
    let sub = sb.subscribe(url);
    wait_for("the verification request", || {
        (!receiver.all().is_empty()).then_some(())
    })
    .await;
    sb.verify_subscription(&sub.id, &sub.verification_token)
        .unwrap();
    sub.verification_token
}

fn signature_of(r: &Received) -> Option<&str> {
    r.headers
        .get("x-notion-signature")
        .and_then(|v| v.to_str().ok())
}

// --- REST basics ------------------------------------------------------------------------

#[tokio::test]
async fn auth_version_and_request_errors_use_notions_envelope() {
    let sb = sandbox(unlimited()).await;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/users/me", sb.base_url());

    let r = reply(
        client
            .get(&url)
            .header("Notion-Version", VERSION)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&r, 401, "unauthorized");
    let r = reply(
        client
            .get(&url)
            .bearer_auth("secret_wrong")
            .header("Notion-Version", VERSION)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&r, 401, "unauthorized");
    let r = reply(
        client
            .get(&url)
            .bearer_auth(sb.token())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&r, 400, "missing_version");

    let api = Api::new(&sb);
    let me = api.get("/v1/users/me").await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["object"], "user");
    assert_eq!(me.body["type"], "bot");
    assert_eq!(me.body["id"], sb.bot_user_id());
    assert!(me.body["bot"].is_object());

    assert_error(
        &api.get("/v1/nothing/here").await,
        400,
        "invalid_request_url",
    );
    let raw = client
        .post(format!("{}/v1/pages", sb.base_url()))
        .bearer_auth(sb.token())
        .header("Notion-Version", VERSION)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_error(&reply(raw).await, 400, "invalid_json");
    assert_error(
        &api.get("/v1/pages/not-a-uuid").await,
        400,
        "validation_error",
    );

    // The call log counts API requests by route template, not the control API.
    assert!(sb.calls().count(Some("GET"), "/v1/users/me") >= 4);
    assert_eq!(
        sb.calls().count(None, "unmatched"),
        1,
        "unknown routes are counted as unmatched"
    );
    assert!(sb.calls().count(Some("GET"), "/v1/nothing/here") == 0);
}

#[tokio::test]
async fn users_are_the_team_and_the_bot_with_pagination() {
    let sb = sandbox(unlimited()).await;
    let api = Api::new(&sb);
    let first = api.get("/v1/users?page_size=4").await;
    assert_eq!(first.body["object"], "list");
    assert_eq!(first.body["results"].as_array().unwrap().len(), 4);
    assert_eq!(first.body["has_more"], true);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let rest = api
        .get(&format!("/v1/users?page_size=4&start_cursor={cursor}"))
        .await;
    let rest = rest.body["results"].as_array().unwrap().clone();
    assert_eq!(rest.len(), 3);
    let person = &first.body["results"][0];
    assert_eq!(person["type"], "person");
    assert_eq!(person["person"]["email"], "maya@example.com");
    assert!(rest.iter().any(|u| u["type"] == "bot"));
}

#[tokio::test]
async fn a_database_resolves_to_its_data_source_which_holds_the_schema() {
    let sb = sandbox(unlimited()).await;
    let team = sb.seed_team();
    assert_eq!(team.page_ids.len(), 47);
    assert_eq!(sb.seed_team(), team, "seeding is idempotent");
    let api = Api::new(&sb);

    let db = api
        .get(&format!("/v1/databases/{}", team.database_id))
        .await;
    assert_eq!(db.status, 200);
    assert_eq!(db.body["object"], "database");
    assert_eq!(db.body["data_sources"][0]["id"], team.data_source_id);
    assert_eq!(db.body["data_sources"][0]["name"], "Product Specs");
    assert!(
        db.body.get("properties").is_none(),
        "2025-09-03 databases carry no schema"
    );

    let compact = team.data_source_id.replace('-', "");
    let ds = api.get(&format!("/v1/data_sources/{compact}")).await;
    assert_eq!(ds.status, 200);
    assert_eq!(ds.body["object"], "data_source");
    assert_eq!(ds.body["id"], team.data_source_id, "ids come back dashed");
    assert_eq!(ds.body["parent"]["type"], "database_id");
    assert_eq!(ds.body["parent"]["database_id"], team.database_id);
    let props = &ds.body["properties"];
    assert_eq!(props["Name"]["id"], "title");
    assert_eq!(props["Name"]["type"], "title");
    assert_eq!(props["Owner"]["type"], "people");
    assert_eq!(props["Ship Date"]["type"], "date");
    let statuses: Vec<&str> = props["Status"]["select"]["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["Draft", "Ready", "In Progress", "In Review", "Shipped"]
    );
    let sprint_id = props["Sprint"]["id"].as_str().unwrap();
    assert!(sprint_id.len() <= 12 && sprint_id != "title");

    let wrong = api
        .get(&format!("/v1/data_sources/{}", team.database_id))
        .await;
    assert_error(&wrong, 404, "object_not_found");
    let wrong = api
        .get(&format!("/v1/databases/{}", team.data_source_id))
        .await;
    assert_error(&wrong, 404, "object_not_found");
}

#[tokio::test]
async fn seeded_pages_are_written_by_people_with_full_page_objects() {
    let sb = sandbox(unlimited()).await;
    let team = sb.seed_team();
    let api = Api::new(&sb);
    let page = api
        .get(&format!("/v1/pages/{}", team.page_ids[0]))
        .await
        .body;
    assert_eq!(page["object"], "page");
    assert_eq!(page["parent"]["type"], "data_source_id");
    assert_eq!(page["parent"]["data_source_id"], team.data_source_id);
    assert_eq!(page["parent"]["database_id"], team.database_id);
    assert_eq!(page["created_by"]["id"], maya(&team));
    assert_ne!(page["last_edited_by"]["id"], sb.bot_user_id());
    assert_eq!(page["in_trash"], false);
    assert_eq!(page["is_locked"], false);
    assert!(page["public_url"].is_null());
    let name = &page["properties"]["Name"]["title"][0];
    assert_eq!(name["plain_text"], "Onboarding revamp");
    assert_eq!(name["annotations"]["bold"], false);
    assert!(name["href"].is_null());
    assert_eq!(page["properties"]["Status"]["select"]["name"], "Draft");
    assert!(page["properties"]["Status"]["select"]["color"].is_string());
    assert_eq!(
        page["properties"]["Owner"]["people"][0]["person"]["email"],
        "maya@example.com"
    );
    let url = page["url"].as_str().unwrap();
    let compact = team.page_ids[0].replace('-', "");
    assert_eq!(
        url,
        format!("https://www.notion.so/Onboarding-revamp-{compact}")
    );
    assert!(
        page["last_edited_time"]
            .as_str()
            .unwrap()
            .ends_with(":00.000Z")
    );
    assert_eq!(sb.page(&team.page_ids[0]).unwrap()["id"], page["id"]);
}

// --- queries ------------------------------------------------------------------------------

/// Clock offset putting the sandbox at `minutes` from now, 30 s into a minute.
fn offset_to_mid_minute(minutes: i64) -> i64 {
    let now = time::OffsetDateTime::now_utc();
    let target = now + time::Duration::minutes(minutes);
    let target = target
        .replace_second(30)
        .unwrap()
        .replace_nanosecond(0)
        .unwrap();
    (target - now).whole_seconds()
}

fn minute_string(offset_seconds: i64, second: u8) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(offset_seconds);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        second
    )
}

async fn query_all(api: &Api, ds: &str, mut body: Value) -> (Vec<Value>, usize) {
    let (mut results, mut calls) = (Vec::new(), 0);
    loop {
        let r = api
            .post(&format!("/v1/data_sources/{ds}/query"), body.clone())
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        calls += 1;
        assert_eq!(r.body["type"], "page_or_data_source");
        results.extend(r.body["results"].as_array().unwrap().iter().cloned());
        if r.body["has_more"] == false {
            assert!(r.body["next_cursor"].is_null());
            return (results, calls);
        }
        body["start_cursor"] = r.body["next_cursor"].clone();
    }
}

#[tokio::test]
async fn queries_paginate_and_filter_on_minute_rounded_last_edited_time() {
    let sb = sandbox(unlimited()).await;
    let team = sb.seed_team();
    let person = maya(&team);
    let (_, ds) = small_db(&sb);
    let api = Api::new(&sb);

    // 260 pages written "a day from now", 30 s into a minute.
    let offset = offset_to_mid_minute(24 * 60);
    sb.set_clock_offset_seconds(offset);
    for i in 0..260 {
        sb.insert_page_as_person(&ds, &person, json!({"Name": title(&format!("Page {i}"))}))
            .unwrap();
    }
    let minute_start = minute_string(offset, 0);
    let filter =
        json!({"timestamp": "last_edited_time", "last_edited_time": {"on_or_after": minute_start}});
    let (all, calls) = query_all(&api, &ds, json!({"page_size": 100, "filter": filter})).await;
    assert_eq!(calls, 3);
    assert_eq!(all.len(), 260);
    let mut ids: Vec<&str> = all.iter().map(|p| p["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 260, "no page twice");
    assert_eq!(
        all[0]["last_edited_time"], minute_start,
        "rounded down to the minute"
    );

    // Edited at :30, stored as :00: a filter at :15 misses the edit.
    let edited = all[7]["id"].as_str().unwrap().to_string();
    sb.set_clock_offset_seconds(offset + 120);
    sb.update_page_as_person(&edited, &person, json!({"Sprint": text("S1")}))
        .unwrap();
    let later = |second| {
        json!({"filter": {"timestamp": "last_edited_time",
                          "last_edited_time": {"on_or_after": minute_string(offset + 120, second)}}})
    };
    let (hits, _) = query_all(&api, &ds, later(0)).await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["id"], edited.as_str());
    let (missed, _) = query_all(&api, &ds, later(15)).await;
    assert!(
        missed.is_empty(),
        "a same-minute edit is invisible after :00"
    );

    let r = api
        .post(
            &format!("/v1/data_sources/{ds}/query"),
            json!({"page_size": 101}),
        )
        .await;
    assert_error(&r, 400, "validation_error");
}

#[tokio::test]
async fn queries_filter_by_properties_sort_and_reject_unsupported_filters() {
    let sb = sandbox(unlimited()).await;
    let team = sb.seed_team();
    let api = Api::new(&sb);
    let ds = &team.data_source_id;
    let shipped = json!({"filter": {"property": "Status", "select": {"equals": "Shipped"}}});
    let (hits, _) = query_all(&api, ds, shipped).await;
    assert!(!hits.is_empty());
    assert!(
        hits.iter()
            .all(|p| p["properties"]["Status"]["select"]["name"] == "Shipped")
    );

    let compound = json!({"filter": {"and": [
        {"property": "Name", "title": {"contains": "billing"}},
        {"or": [{"property": "Priority", "select": {"equals": "P0"}},
                {"property": "Priority", "select": {"equals": "P1"}}]},
    ]}, "sorts": [{"property": "Name", "direction": "descending"}]});
    let (hits, _) = query_all(&api, ds, compound).await;
    let names: Vec<&str> = hits
        .iter()
        .map(|p| {
            p["properties"]["Name"]["title"][0]["plain_text"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert!(!names.is_empty());
    assert!(names.iter().all(|n| n.starts_with("Billing")));
    let mut sorted = names.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(names, sorted);

    let empty = json!({"filter": {"property": "Sprint", "rich_text": {"is_empty": true}}});
    assert_eq!(query_all(&api, ds, empty).await.0.len(), 47);

    let unsupported =
        json!({"filter": {"timestamp": "last_edited_time", "last_edited_time": {"past_week": {}}}});
    let r = api
        .post(&format!("/v1/data_sources/{ds}/query"), unsupported)
        .await;
    assert_error(&r, 400, "validation_error");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("not supported")
    );
    let unknown = json!({"filter": {"property": "Nope", "select": {"equals": "x"}}});
    let r = api
        .post(&format!("/v1/data_sources/{ds}/query"), unknown)
        .await;
    assert_error(&r, 400, "validation_error");
}

// --- pages ----------------------------------------------------------------------------------

#[tokio::test]
async fn pages_are_created_updated_trashed_and_restored_by_the_bot() {
    let sb = sandbox(unlimited()).await;
    let team = sb.seed_team();
    let api = Api::new(&sb);
    let created = api
        .post(
            "/v1/pages",
            json!({"parent": {"type": "data_source_id", "data_source_id": team.data_source_id},
                   "properties": {"Name": title("Via API"), "Status": {"select": {"name": "Ready"}}}}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(created.body["created_by"]["id"], sb.bot_user_id());
    assert_eq!(created.body["last_edited_by"]["id"], sb.bot_user_id());
    assert!(
        created.body["properties"]["Sprint"]["rich_text"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(created.body["properties"]["Ship Date"]["date"].is_null());

    let by_database = api
        .post(
            "/v1/pages",
            json!({"parent": {"database_id": team.database_id}, "properties": {"Name": title("Via database id")}}),
        )
        .await;
    assert_eq!(by_database.status, 200);
    assert_eq!(
        by_database.body["parent"]["data_source_id"],
        team.data_source_id
    );

    let updated = api
        .patch(
            &format!("/v1/pages/{id}"),
            json!({"properties": {"Sprint": text("Sprint 14"),
                   "Ship Date": {"date": {"start": "2026-09-30"}}}}),
        )
        .await;
    assert_eq!(updated.status, 200);
    let props = &updated.body["properties"];
    assert_eq!(props["Sprint"]["rich_text"][0]["plain_text"], "Sprint 14");
    assert_eq!(
        props["Ship Date"]["date"],
        json!({"start": "2026-09-30", "end": null, "time_zone": null})
    );
    assert_eq!(
        props["Status"]["select"]["name"], "Ready",
        "unsent properties keep their value"
    );
    assert_eq!(props["Name"]["title"][0]["plain_text"], "Via API");

    // Properties by id too.
    let sprint_id = schema_property_id(&api, &team.data_source_id, "Sprint").await;
    let by_id = api
        .patch(
            &format!("/v1/pages/{id}"),
            json!({"properties": {sprint_id: text("Sprint 15")}}),
        )
        .await;
    assert_eq!(
        by_id.body["properties"]["Sprint"]["rich_text"][0]["plain_text"],
        "Sprint 15"
    );

    let query = json!({"filter": {"property": "Name", "title": {"equals": "Via API"}}});
    let trashed = api
        .patch(&format!("/v1/pages/{id}"), json!({"in_trash": true}))
        .await;
    assert_eq!(trashed.body["in_trash"], true);
    assert_eq!(trashed.body["archived"], true);
    assert!(
        query_all(&api, &team.data_source_id, query.clone())
            .await
            .0
            .is_empty()
    );
    let still_readable = api.get(&format!("/v1/pages/{id}")).await;
    assert_eq!(still_readable.status, 200);
    assert_eq!(still_readable.body["in_trash"], true);
    let edit_in_trash = api
        .patch(
            &format!("/v1/pages/{id}"),
            json!({"properties": {"Sprint": text("x")}}),
        )
        .await;
    assert_error(&edit_in_trash, 400, "validation_error");

    let restored = api
        .patch(&format!("/v1/pages/{id}"), json!({"in_trash": false}))
        .await;
    assert_eq!(restored.body["in_trash"], false);
    assert_eq!(
        query_all(&api, &team.data_source_id, query).await.0.len(),
        1
    );
}

#[tokio::test]
async fn text_limits_are_enforced_and_long_text_can_be_split() {
    let sb = sandbox(unlimited()).await;
    let team = sb.seed_team();
    let api = Api::new(&sb);
    let path = format!("/v1/pages/{}", team.page_ids[0]);

    let too_long = api
        .patch(
            &path,
            json!({"properties": {"Blockers": text(&"x".repeat(2001))}}),
        )
        .await;
    assert_error(&too_long, 400, "validation_error");
    let message = too_long.body["message"].as_str().unwrap();
    assert!(
        message.contains("text.content.length should be ≤ 2000, instead was 2001"),
        "{message}"
    );

    let item = |s: String| json!({"type": "text", "text": {"content": s}});
    let two_halves = json!({"rich_text": [item("a".repeat(1000)), item("b".repeat(1000))]});
    let ok = api
        .patch(&path, json!({"properties": {"Blockers": two_halves}}))
        .await;
    assert_eq!(ok.status, 200);
    let split = json!({"rich_text": [item("c".repeat(2000)), item("d".repeat(1000))]});
    let ok = api
        .patch(&path, json!({"properties": {"Blockers": split}}))
        .await;
    assert_eq!(ok.status, 200);
    let items = ok.body["properties"]["Blockers"]["rich_text"]
        .as_array()
        .unwrap();
    let joined: String = items
        .iter()
        .map(|i| i["plain_text"].as_str().unwrap())
        .collect();
    assert_eq!(joined.len(), 3000);

    let too_many: Vec<Value> = (0..101).map(|i| item(i.to_string())).collect();
    let r = api
        .patch(
            &path,
            json!({"properties": {"Blockers": {"rich_text": too_many}}}),
        )
        .await;
    assert_error(&r, 400, "validation_error");

    // Reads stop at 25 items; the property endpoint pages through all 30.
    let thirty: Vec<Value> = (0..30).map(|i| item(format!("{i},"))).collect();
    let r = api
        .patch(
            &path,
            json!({"properties": {"Blockers": {"rich_text": thirty}}}),
        )
        .await;
    assert_eq!(
        r.body["properties"]["Blockers"]["rich_text"]
            .as_array()
            .unwrap()
            .len(),
        25
    );
    let prop_id = r.body["properties"]["Blockers"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let encoded = prop_id.replace('%', "%25");
    let mut cursor: Option<String> = None;
    let mut collected = 0;
    loop {
        let q = cursor
            .as_ref()
            .map(|c| format!("&start_cursor={c}"))
            .unwrap_or_default();
        let r = api
            .get(&format!("{path}/properties/{encoded}?page_size=10{q}"))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["type"], "property_item");
        collected += r.body["results"].as_array().unwrap().len();
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(collected, 30);
}

#[tokio::test]
async fn select_options_are_created_and_bad_values_are_rejected() {
    let sb = sandbox(unlimited()).await;
    let team = sb.seed_team();
    let api = Api::new(&sb);
    let path = format!("/v1/pages/{}", team.page_ids[0]);

    let r = api
        .patch(
            &path,
            json!({"properties": {"Status": {"select": {"name": "Archived"}}}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["properties"]["Status"]["select"]["name"], "Archived");
    let ds = api
        .get(&format!("/v1/data_sources/{}", team.data_source_id))
        .await;
    let options = ds.body["properties"]["Status"]["select"]["options"]
        .as_array()
        .unwrap();
    assert!(options.iter().any(|o| o["name"] == "Archived"));

    let cases = [
        json!({"Status": {"select": {"name": "A, B"}}}),
        json!({"Nonexistent": text("x")}),
        json!({"Sprint": {"select": {"name": "x"}}}),
        json!({"Owner": {"people": [{"object": "user", "id": "00000000-0000-4000-8000-000000000000"}]}}),
        json!({"Ship Date": {"date": {"start": "next tuesday"}}}),
        json!({"Status": {"select": {"name": ""}}}),
    ];
    for props in cases {
        let r = api.patch(&path, json!({"properties": props.clone()})).await;
        assert_error(&r, 400, "validation_error");
    }
    let r = api
        .patch(&path, json!({"properties": {"Nonexistent": text("x")}}))
        .await;
    assert_eq!(
        r.body["message"],
        "Nonexistent is not a property that exists."
    );
    let missing = api
        .post(
            "/v1/pages",
            json!({"parent": {"data_source_id": team.data_source_id}}),
        )
        .await;
    assert_error(&missing, 400, "validation_error");
}

// --- rate limit and faults ----------------------------------------------------------------

#[tokio::test]
async fn bursts_beyond_the_rate_limit_get_429_with_retry_after() {
    let sb = sandbox(NotionSandboxConfig::default()).await;
    let api = Api::new(&sb);
    let mut limited = None;
    for _ in 0..30 {
        let r = api.get("/v1/users/me").await;
        if r.status == 429 {
            limited = Some(r);
            break;
        }
    }
    let limited = limited.expect("a burst of 30 is rate limited");
    assert_error(&limited, 429, "rate_limited");
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);

    let start = Instant::now();
    loop {
        let r = api.get("/v1/users/me").await;
        if r.status == 200 {
            break;
        }
        assert!(start.elapsed() < DEADLINE, "never recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(sb.calls().count_status(429) >= 1);
}

#[tokio::test]
async fn injected_faults_use_the_documented_codes_and_latency() {
    let sb = sandbox(unlimited()).await;
    let api = Api::new(&sb);
    sb.set_faults(Faults {
        error_rate: 1.0,
        seed: Some(3),
        ..Faults::default()
    });
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let r = api.get("/v1/users/me").await;
        let code = r.body["code"].as_str().unwrap().to_string();
        let expected = match r.status {
            500 => "internal_server_error",
            502 => "bad_gateway",
            503 => "service_unavailable",
            409 => "conflict_error",
            other => panic!("unexpected status {other}"),
        };
        assert_eq!(code, expected);
        seen.insert(r.status);
    }
    assert!(seen.len() >= 3, "several fault kinds: {seen:?}");

    sb.set_faults(Faults {
        rate_limit_rate: 1.0,
        ..Faults::default()
    });
    let r = api.get("/v1/users/me").await;
    assert_error(&r, 429, "rate_limited");
    assert!(r.headers.contains_key("retry-after"));

    sb.set_faults(Faults {
        latency_ms: 150,
        ..Faults::default()
    });
    let start = Instant::now();
    assert_eq!(api.get("/v1/users/me").await.status, 200);
    assert!(start.elapsed() >= Duration::from_millis(150));

    // The control API can change the knobs partially.
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{}/_sandbox/faults", sb.base_url()))
        .json(&json!({"latency_ms": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(sb.faults(), Faults::default());
}

/// With latency, a write takes effect only as its answer leaves, never
/// before; and a caller that stops waiting does not undo it.
#[tokio::test]
async fn latency_delays_a_writes_effect_and_a_timeout_does_not_cancel_it() {
    let sb = sandbox(unlimited()).await;
    let team = sb.seed_team();
    let page = team.page_ids[0].clone();
    let latency = Duration::from_millis(300);
    sb.set_faults(Faults {
        latency_ms: 300,
        ..Faults::default()
    });
    let sprint = |sb: &NotionSandbox| {
        sb.page(&page).unwrap()["properties"]["Sprint"]["rich_text"][0]["plain_text"].clone()
    };
    let body = |text: &str| json!({"properties": {"Sprint": {"rich_text": [{"text": {"content": text}}]}}});
    let api = Api::new(&sb);
    let path = format!("/v1/pages/{page}");
    let write = api.patch(&path, body("Sprint 40"));
    let (reply, first_seen) =
        answer_and_first_seen(write, || sprint(&sb) == json!("Sprint 40")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
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
        .header("Notion-Version", VERSION)
        .json(&body("Sprint 41"))
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

// --- webhooks ---------------------------------------------------------------------------------

#[tokio::test]
async fn verification_is_unsigned_and_events_wait_for_it() {
    let sb = sandbox(unlimited()).await;
    let team = sb.seed_team();
    let (receiver, url) = Receiver::start().await;
    let sub = sb.subscribe(&url);
    let first = wait_for("verification", || receiver.all().first().cloned()).await;
    assert!(signature_of(&first).is_none(), "the handshake is unsigned");
    assert_eq!(
        first.json(),
        json!({"verification_token": sub.verification_token})
    );
    assert!(sub.verification_token.starts_with("secret_"));

    wait_for("the handshake record", || {
        (sb.deliveries().len() == 1).then_some(())
    })
    .await;
    // Not verified yet: a change produces no delivery.
    sb.update_page_as_person(
        &team.page_ids[0],
        &maya(&team),
        json!({"Sprint": text("S1")}),
    )
    .unwrap();
    assert_eq!(sb.deliveries().len(), 1, "only the verification request");
    assert!(sb.verify_subscription(&sub.id, "secret_wrong").is_err());
    sb.verify_subscription(&sub.id, &sub.verification_token)
        .unwrap();
    sb.update_page_as_person(
        &team.page_ids[0],
        &maya(&team),
        json!({"Sprint": text("S2")}),
    )
    .unwrap();
    receiver.wait_events(1).await;
}

#[tokio::test]
async fn a_persons_edit_produces_a_signed_properties_updated_event() {
    let sb = sandbox(unlimited()).await;
    let team = sb.seed_team();
    let (receiver, url) = Receiver::start().await;
    let token = verified_subscription(&sb, &url, &receiver).await;
    let api = Api::new(&sb);
    let sprint_id = schema_property_id(&api, &team.data_source_id, "Sprint").await;
    let jonas = team.people[1].1.clone();

    sb.update_page_as_person(
        &team.page_ids[3],
        &jonas,
        json!({"Sprint": text("Sprint 9")}),
    )
    .unwrap();
    let event = receiver.wait_events(1).await.remove(0);
    verify_notion(&token, &event.body, signature_of(&event)).expect("valid signature");
    let body = event.json();
    assert_eq!(body["type"], "page.properties_updated");
    assert_eq!(
        body["entity"],
        json!({"id": team.page_ids[3], "type": "page"})
    );
    assert_eq!(body["data"]["updated_properties"], json!([sprint_id]));
    assert_eq!(body["authors"], json!([{"id": jonas, "type": "person"}]));
    assert_eq!(
        body["data"]["parent"],
        json!({"id": team.database_id, "type": "database", "data_source_id": team.data_source_id})
    );
    assert_eq!(body["attempt_number"], 1);
    for key in [
        "id",
        "timestamp",
        "workspace_id",
        "workspace_name",
        "subscription_id",
        "integration_id",
    ] {
        assert!(body[key].is_string(), "{key} in {body}");
    }
    assert!(
        body.get("accessible_by").is_none(),
        "internal integrations get no accessible_by"
    );

    // The same edit through the API is authored by the bot.
    api.patch(
        &format!("/v1/pages/{}", team.page_ids[3]),
        json!({"properties": {"Sprint": text("Sprint 10")}}),
    )
    .await;
    let events = receiver.wait_events(2).await;
    let body = events[1].json();
    assert_eq!(
        body["authors"],
        json!([{"id": sb.bot_user_id(), "type": "bot"}])
    );
    assert_ne!(body["id"], events[0].json()["id"]);
}

#[tokio::test]
async fn lifecycle_and_schema_events_are_sent() {
    let sb = sandbox(unlimited()).await;
    let team = sb.seed_team();
    let (receiver, url) = Receiver::start().await;
    verified_subscription(&sb, &url, &receiver).await;
    let person = maya(&team);

    let page = sb
        .insert_page_as_person(
            &team.data_source_id,
            &person,
            json!({"Name": title("New spec")}),
        )
        .unwrap();
    sb.set_trashed_as_person(&page, &person, true).unwrap();
    sb.set_trashed_as_person(&page, &person, false).unwrap();
    sb.update_page_as_person(
        &page,
        &person,
        json!({"Priority": {"select": {"name": "P4"}}}),
    )
    .unwrap();
    let events = receiver.wait_events(5).await;
    let kinds: Vec<String> = events
        .iter()
        .map(|e| e.json()["type"].as_str().unwrap().to_string())
        .collect();
    for kind in [
        "page.created",
        "page.deleted",
        "page.undeleted",
        "page.properties_updated",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    let schema = events
        .iter()
        .map(Received::json)
        .find(|e| e["type"] == "data_source.schema_updated")
        .expect("a new option updates the schema");
    assert_eq!(
        schema["entity"],
        json!({"id": team.data_source_id, "type": "data_source"})
    );
    assert_eq!(schema["data"]["updated_properties"][0]["name"], "Priority");
}

#[tokio::test]
async fn events_in_the_aggregation_window_merge() {
    let sb = sandbox(unlimited()).await;
    let team = sb.seed_team();
    let (receiver, url) = Receiver::start().await;
    verified_subscription(&sb, &url, &receiver).await;
    sb.set_delivery(DeliveryKnobs {
        aggregation_window_ms: 300,
        ..DeliveryKnobs::default()
    });
    let (maya_id, jonas) = (maya(&team), team.people[1].1.clone());
    let page = &team.page_ids[5];

    // A page created and trashed inside one window yields nothing.
    let fleeting = sb
        .insert_page_as_person(
            &team.data_source_id,
            &maya_id,
            json!({"Name": title("Oops")}),
        )
        .unwrap();
    sb.set_trashed_as_person(&fleeting, &maya_id, true).unwrap();

    sb.update_page_as_person(page, &maya_id, json!({"Sprint": text("S1")}))
        .unwrap();
    sb.update_page_as_person(page, &jonas, json!({"Blockers": text("none")}))
        .unwrap();
    let events = receiver.wait_events(1).await;
    let merged = events
        .iter()
        .map(Received::json)
        .find(|e| e["entity"]["id"] == page.as_str())
        .expect("the merged event");
    assert_eq!(
        merged["data"]["updated_properties"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(merged["authors"].as_array().unwrap().len(), 2);
    assert!(
        receiver
            .events()
            .iter()
            .all(|e| e.json()["entity"]["id"] != fleeting.as_str()),
        "create + trash in one window is not delivered"
    );
    assert_eq!(receiver.events().len(), 1);
}

#[tokio::test]
async fn drop_and_duplicate_knobs() {
    let sb = sandbox(unlimited()).await;
    let team = sb.seed_team();
    let (receiver, url) = Receiver::start().await;
    verified_subscription(&sb, &url, &receiver).await;
    let person = maya(&team);

    sb.set_delivery(DeliveryKnobs {
        drop_rate: 1.0,
        ..DeliveryKnobs::default()
    });
    sb.update_page_as_person(
        &team.page_ids[0],
        &person,
        json!({"Sprint": text("dropped")}),
    )
    .unwrap();
    let dropped: Vec<_> = sb.deliveries().into_iter().filter(|d| d.dropped).collect();
    assert_eq!(dropped.len(), 1);

    sb.set_delivery(DeliveryKnobs {
        duplicate_rate: 1.0,
        ..DeliveryKnobs::default()
    });
    sb.update_page_as_person(&team.page_ids[0], &person, json!({"Sprint": text("twice")}))
        .unwrap();
    let events = receiver.wait_events(2).await;
    assert_eq!(events.len(), 2, "the dropped event never arrived");
    assert_eq!(events[0].json()["id"], events[1].json()["id"]);
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_a_rising_attempt_number() {
    let sb = sandbox(unlimited()).await;
    let team = sb.seed_team();
    let (receiver, url) = Receiver::start().await;
    let token = verified_subscription(&sb, &url, &receiver).await;
    // Notion's schedule starts at 1 minute: scaled to 6 ms.
    sb.set_delivery(DeliveryKnobs {
        retry_time_scale: 0.0001,
        ..DeliveryKnobs::default()
    });
    receiver.fail_first.store(2, Ordering::SeqCst);
    sb.update_page_as_person(
        &team.page_ids[0],
        &maya(&team),
        json!({"Sprint": text("S1")}),
    )
    .unwrap();
    let events = receiver.wait_events(3).await;
    let attempts: Vec<u64> = events
        .iter()
        .map(|e| e.json()["attempt_number"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts, [1, 2, 3]);
    let ids: Vec<Value> = events.iter().map(|e| e.json()["id"].clone()).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "one event, redelivered");
    for e in &events {
        verify_notion(&token, &e.body, signature_of(e)).expect("each attempt is signed");
    }
    let records = wait_for("three recorded attempts", || {
        let r: Vec<_> = sb
            .deliveries()
            .into_iter()
            .filter(|d| d.attempt > 0 && !d.label.starts_with("verification"))
            .collect();
        (r.len() == 3).then_some(r)
    })
    .await;
    assert_eq!(records[0].status, Some(500));
    assert_eq!(records[2].status, Some(200));
}

#[tokio::test]
async fn the_control_api_drives_the_sandbox_from_another_process() {
    let sb = sandbox(unlimited()).await;
    let client = reqwest::Client::new();
    let base = sb.base_url();
    let team: TeamNotion = client
        .post(format!("{base}/_sandbox/seed/team"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(team.page_ids.len(), 47);
    let page: Value = client
        .post(format!("{base}/_sandbox/pages"))
        .json(
            &json!({"data_source_id": team.data_source_id, "user_id": team.people[2].1,
                      "properties": {"Name": title("From control")}}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["created_by"]["id"], team.people[2].1);
    let id = page["id"].as_str().unwrap();
    let edited: Value = client
        .patch(format!("{base}/_sandbox/pages/{id}"))
        .json(&json!({"properties": {"Sprint": text("S3")}, "in_trash": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(edited["in_trash"], true);
    let all: Value = client
        .get(format!(
            "{base}/_sandbox/data_sources/{}/pages",
            team.data_source_id
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        all["results"].as_array().unwrap().len(),
        48,
        "trashed pages included"
    );
    let calls: Value = client
        .get(format!("{base}/_sandbox/calls"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(calls["total"], 0, "control calls are not counted");
    let delivery: Value = client
        .post(format!("{base}/_sandbox/delivery"))
        .json(&json!({"reorder": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(delivery["reorder"], true);
    assert_eq!(delivery["retry_time_scale"], 1.0);
    let clock: Value = client
        .post(format!("{base}/_sandbox/clock"))
        .json(&json!({"offset_seconds": 3600}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(clock["offset_seconds"], 3600);
}

#[tokio::test]
async fn every_property_type_round_trips_in_the_documented_shapes() {
    let sb = sandbox(unlimited()).await;
    let team = sb.seed_team();
    let schema = vec![
        PropertySchema::title("Title"),
        PropertySchema::rich_text("Description"),
        PropertySchema::select("Department", &["Sales"]),
        PropertySchema::with_options("Status", PropertyKind::Status, &["Not started", "Done"]),
        PropertySchema::with_options("Languages", PropertyKind::MultiSelect, &["Rust"]),
        PropertySchema::people("Stakeholders"),
        PropertySchema::date("Due date"),
        PropertySchema::new("Website", PropertyKind::Url),
        PropertySchema::new("Mail", PropertyKind::Email),
        PropertySchema::new("Phone", PropertyKind::PhoneNumber),
        PropertySchema::new("Subscribers", PropertyKind::Number),
        PropertySchema::new("Done?", PropertyKind::Checkbox),
        PropertySchema::new("Edited", PropertyKind::LastEditedTime),
    ];
    let (_, ds) = sb.create_database("All types", schema);
    let api = Api::new(&sb);
    let person = maya(&team);
    let r = api
        .post(
            "/v1/pages",
            json!({"parent": {"data_source_id": ds}, "properties": {
                "Title": title("A better title"),
                "Description": text("There is some "),
                "Department": {"select": {"name": "Marketing"}},
                "Status": {"status": {"name": "Done"}},
                "Languages": {"multi_select": [{"name": "TypeScript"}, {"name": "Rust"}]},
                "Stakeholders": {"people": [{"object": "user", "id": person}]},
                "Due date": {"date": {"start": "2023-02-23T10:00:00Z", "end": null}},
                "Website": {"url": "https://developers.notion.com/"},
                "Mail": {"email": "a@example.com"},
                "Phone": {"phone_number": "+1 555"},
                "Subscribers": {"number": 42},
                "Done?": {"checkbox": true},
            }}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let p = &r.body["properties"];
    assert_eq!(p["Department"]["select"]["name"], "Marketing");
    assert_eq!(p["Status"]["status"]["name"], "Done");
    let langs: Vec<&str> = p["Languages"]["multi_select"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(langs, ["TypeScript", "Rust"]);
    assert_eq!(p["Stakeholders"]["people"][0]["id"], person.as_str());
    assert_eq!(
        p["Due date"]["date"]["start"],
        "2023-02-23T10:00:00.000+00:00"
    );
    assert_eq!(p["Website"]["url"], "https://developers.notion.com/");
    assert_eq!(p["Mail"]["email"], "a@example.com");
    assert_eq!(p["Phone"]["phone_number"], "+1 555");
    assert_eq!(p["Subscribers"]["number"], 42);
    assert_eq!(p["Done?"]["checkbox"], true);
    assert_eq!(p["Edited"]["last_edited_time"], r.body["last_edited_time"]);
    assert_eq!(p["Edited"]["type"], "last_edited_time");

    let id = r.body["id"].as_str().unwrap();
    let rejected = [
        json!({"Status": {"status": {"name": "Blocked"}}}),
        json!({"Website": {"url": ""}}),
        json!({"Subscribers": {"number": "42"}}),
        json!({"Done?": {"checkbox": null}}),
        json!({"Edited": {"last_edited_time": "2023-01-01T00:00:00Z"}}),
    ];
    for props in rejected {
        let r = api
            .patch(&format!("/v1/pages/{id}"), json!({"properties": props}))
            .await;
        assert_error(&r, 400, "validation_error");
    }
    let cleared = api
        .patch(
            &format!("/v1/pages/{id}"),
            json!({"properties": {"Website": {"url": null}, "Subscribers": {"number": null}}}),
        )
        .await;
    assert!(cleared.body["properties"]["Website"]["url"].is_null());
    assert!(cleared.body["properties"]["Subscribers"]["number"].is_null());
}

#[tokio::test]
async fn the_delay_knob_holds_events_back() {
    let sb = sandbox(unlimited()).await;
    let team = sb.seed_team();
    let (receiver, url) = Receiver::start().await;
    verified_subscription(&sb, &url, &receiver).await;
    sb.set_delivery(DeliveryKnobs {
        delay_ms_min: 250,
        delay_ms_max: 300,
        ..DeliveryKnobs::default()
    });
    let start = Instant::now();
    sb.update_page_as_person(
        &team.page_ids[0],
        &maya(&team),
        json!({"Sprint": text("late")}),
    )
    .unwrap();
    receiver.wait_events(1).await;
    assert!(start.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn dropping_the_sandbox_stops_the_server() {
    let sb = sandbox(unlimited()).await;
    let url = format!("{}/v1/users/me", sb.base_url());
    let client = reqwest::Client::new();
    assert!(client.get(&url).send().await.is_ok());
    drop(sb);
    let start = Instant::now();
    loop {
        let fresh = reqwest::Client::new();
        if fresh.get(&url).send().await.is_err() {
            break;
        }
        assert!(start.elapsed() < DEADLINE, "the server still answers");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// --- schema updates, status, limits, title events, user capabilities -------------------

/// A call to the control API (no token, no version).
async fn control(sb: &NotionSandbox, method: reqwest::Method, path: &str, body: Value) -> Reply {
    let req = reqwest::Client::new()
        .request(method, format!("{}{path}", sb.base_url()))
        .json(&body);
    reply(req.send().await.expect("control call sent")).await
}

/// The schema's `properties` object.
async fn schema(api: &Api, ds: &str) -> Value {
    let r = api.get(&format!("/v1/data_sources/{ds}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["properties"].clone()
}

fn plain(prop: &Value) -> String {
    let kind = prop["type"].as_str().unwrap();
    prop[kind]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["plain_text"].as_str().unwrap())
        .collect()
}

/// The events of one type received so far, as JSON.
fn events_of(receiver: &Receiver, kind: &str) -> Vec<Value> {
    receiver
        .events()
        .iter()
        .map(Received::json)
        .filter(|e| e["type"] == kind)
        .collect()
}

#[tokio::test]
async fn updating_a_data_source_renames_removes_and_adds_properties_with_stable_ids() {
    let sb = sandbox(unlimited()).await;
    let team = sb.seed_team();
    let api = Api::new(&sb);
    let ds = &team.data_source_id;
    let page = format!("/v1/pages/{}", team.page_ids[0]);
    let r = api
        .patch(
            &page,
            json!({"properties": {"Sprint": text("Sprint 30"), "Blockers": text("legal review")}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let before = schema(&api, ds).await;
    let sprint_id = before["Sprint"]["id"].as_str().unwrap().to_string();
    let blockers_id = before["Blockers"]["id"].as_str().unwrap().to_string();

    // Rename by name, remove by id, add a new property.
    let r = api
        .patch(
            &format!("/v1/data_sources/{ds}"),
            json!({"properties": {
                "Sprint": {"name": "Iteration"},
                blockers_id.clone(): null,
                "Risk": {"rich_text": {}},
            }}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["object"], "data_source");
    let after = &r.body["properties"];
    assert_eq!(
        after["Iteration"]["id"],
        sprint_id.as_str(),
        "ids survive renames"
    );
    assert!(after.get("Sprint").is_none());
    assert!(after.get("Blockers").is_none());
    let risk_id = after["Risk"]["id"].as_str().unwrap();
    assert_eq!(after["Risk"]["type"], "rich_text");
    assert!(![sprint_id.as_str(), blockers_id.as_str(), "title"].contains(&risk_id));
    assert_eq!(schema(&api, ds).await, *after);

    // Pages follow: the renamed value stays, the removed one is gone, the new one is empty.
    let p = api.get(&page).await.body;
    assert_eq!(plain(&p["properties"]["Iteration"]), "Sprint 30");
    assert_eq!(p["properties"]["Iteration"]["id"], sprint_id.as_str());
    assert!(p["properties"].get("Blockers").is_none());
    assert_eq!(p["properties"]["Risk"]["rich_text"], json!([]));
    let by_id = api
        .patch(
            &page,
            json!({"properties": {sprint_id.clone(): text("Sprint 31")}}),
        )
        .await;
    assert_eq!(plain(&by_id.body["properties"]["Iteration"]), "Sprint 31");
    let old_name = api
        .patch(&page, json!({"properties": {"Sprint": text("x")}}))
        .await;
    assert_error(&old_name, 400, "validation_error");
    assert_eq!(
        old_name.body["message"],
        "Sprint is not a property that exists."
    );

    // A property added again under a removed name is a new property.
    let r = api
        .patch(
            &format!("/v1/data_sources/{ds}"),
            json!({"properties": {"Blockers": {"rich_text": {}}}}),
        )
        .await;
    assert_ne!(r.body["properties"]["Blockers"]["id"], blockers_id.as_str());
    assert_eq!(
        plain(&api.get(&page).await.body["properties"]["Blockers"]),
        "",
        "the old value does not come back"
    );
}

#[tokio::test]
async fn updating_a_data_source_changes_types_and_select_options() {
    let sb = sandbox(unlimited()).await;
    let team = sb.seed_team();
    let api = Api::new(&sb);
    let ds = format!("/v1/data_sources/{}", team.data_source_id);
    let (p0, p1) = (
        format!("/v1/pages/{}", team.page_ids[0]),
        format!("/v1/pages/{}", team.page_ids[1]),
    );
    api.patch(&p0, json!({"properties": {"Sprint": text("Sprint 30")}}))
        .await;
    let sprint_id = schema(&api, &team.data_source_id).await["Sprint"]["id"].clone();

    // rich_text -> select: the values become options.
    let r = api
        .patch(&ds, json!({"properties": {"Sprint": {"select": {}}}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let sprint = &r.body["properties"]["Sprint"];
    assert_eq!(sprint["type"], "select");
    assert_eq!(sprint["id"], sprint_id);
    assert_eq!(sprint["select"]["options"][0]["name"], "Sprint 30");
    let p = api.get(&p0).await.body;
    assert_eq!(p["properties"]["Sprint"]["select"]["name"], "Sprint 30");
    assert!(api.get(&p1).await.body["properties"]["Sprint"]["select"].is_null());

    // Options: the list replaces them; an omitted option goes, values holding it are cleared.
    let priority = &schema(&api, &team.data_source_id).await["Priority"];
    let page_priority = api.get(&p1).await.body["properties"]["Priority"]["select"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let kept: Vec<Value> = priority["select"]["options"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["name"] != page_priority.as_str())
        .map(|o| json!({"id": o["id"]}))
        .chain([json!({"name": "P4", "color": "red"})])
        .collect();
    let r = api
        .patch(
            &ds,
            json!({"properties": {"Priority": {"select": {"options": kept}}}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let names: Vec<&str> = r.body["properties"]["Priority"]["select"]["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 4);
    assert!(names.contains(&"P4") && !names.contains(&page_priority.as_str()));
    assert!(api.get(&p1).await.body["properties"]["Priority"]["select"].is_null());

    // "The name and color of an existing option cannot be updated."
    let p4 = r.body["properties"]["Priority"]["select"]["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "P4")
        .unwrap()
        .clone();
    let recolor = api
        .patch(
            &ds,
            json!({"properties": {"Priority": {"select": {"options": [{"id": p4["id"], "color": "blue"}]}}}}),
        )
        .await;
    assert_error(&recolor, 400, "validation_error");
    assert!(
        recolor.body["message"]
            .as_str()
            .unwrap()
            .contains("Cannot update color")
    );

    // A status property made through the API: every option starts in "To-do".
    let r = api
        .patch(
            &ds,
            json!({"properties": {"Stage": {"status": {"options": [{"name": "Open"}, {"name": "Closed"}]}}}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let groups = &r.body["properties"]["Stage"]["status"]["groups"];
    assert_eq!(groups[0]["name"], "To-do");
    assert_eq!(groups[0]["option_ids"].as_array().unwrap().len(), 2);
    assert_eq!(groups[2]["option_ids"], json!([]));
    let staged = api
        .patch(
            &p0,
            json!({"properties": {"Stage": {"status": {"name": "Closed"}}}}),
        )
        .await;
    assert_eq!(
        staged.body["properties"]["Stage"]["status"]["name"],
        "Closed"
    );

    // rich_text -> number: numbers parse, other text empties.
    api.patch(&p0, json!({"properties": {"Blockers": text("42")}}))
        .await;
    api.patch(&p1, json!({"properties": {"Blockers": text("n/a")}}))
        .await;
    api.patch(
        &ds,
        json!({"properties": {"Blockers": {"number": {"format": "number"}}}}),
    )
    .await;
    let p = api.get(&p0).await.body;
    assert_eq!(p["properties"]["Blockers"]["type"], "number");
    assert_eq!(p["properties"]["Blockers"]["number"], 42);
    assert!(api.get(&p1).await.body["properties"]["Blockers"]["number"].is_null());
}

#[tokio::test]
async fn invalid_data_source_updates_are_refused_and_change_nothing() {
    let sb = sandbox(unlimited()).await;
    let team = sb.seed_team_with(TeamOptions {
        status: NotionStatus::Status,
    });
    let api = Api::new(&sb);
    let ds = format!("/v1/data_sources/{}", team.data_source_id);
    let before = schema(&api, &team.data_source_id).await;
    let cases = [
        // The title cannot be removed or change type; there is only one.
        (json!({"properties": {"Name": null}}), "title"),
        (json!({"properties": {"Name": {"rich_text": {}}}}), "title"),
        (
            json!({"properties": {"Second title": {"title": {}}}}),
            "title",
        ),
        (json!({"properties": {"Sprint": {"title": {}}}}), "title"),
        // Unknown keys, duplicate names, malformed entries.
        (json!({"properties": {"Nope": null}}), "Nope"),
        (
            json!({"properties": {"Nope": {"name": "Still nope"}}}),
            "Nope",
        ),
        (
            json!({"properties": {"Sprint": {"name": "Blockers"}}}),
            "Blockers",
        ),
        (json!({"properties": {"Sprint": {"name": ""}}}), "name"),
        (json!({"properties": {"Sprint": 5}}), "Sprint"),
        (
            json!({"properties": {"Sprint": {"select": {}, "number": {}}}}),
            "one property type",
        ),
        (
            json!({"properties": {"Sprint": {"formula": {"expression": "1"}}}}),
            "formula",
        ),
        (json!({"properties": "Sprint"}), "properties"),
        (json!({"in_trash": true}), "in_trash"),
        // Status: "not possible to update the name or options values … via the API".
        (
            json!({"properties": {"Status": {"name": "State"}}}),
            "Status",
        ),
        (
            json!({"properties": {"Status": {"status": {"options": [{"name": "Blocked"}]}}}}),
            "Status",
        ),
        (json!({"properties": {"Sprint": {"status": {}}}}), "status"),
        // A valid entry does not go through when another one is invalid.
        (
            json!({"properties": {"Sprint": {"name": "Iteration"}, "Name": null}}),
            "title",
        ),
    ];
    for (body, mentions) in cases {
        let r = api.patch(&ds, body.clone()).await;
        assert_error(&r, 400, "validation_error");
        let message = r.body["message"].as_str().unwrap();
        assert!(message.contains(mentions), "{body}: {message}");
    }
    assert_eq!(schema(&api, &team.data_source_id).await, before);
}

#[tokio::test]
async fn a_person_changes_the_schema_through_the_control_api() {
    let sb = sandbox(unlimited()).await;
    let team = sb.seed_team_with(TeamOptions {
        status: NotionStatus::Status,
    });
    let (receiver, url) = Receiver::start().await;
    verified_subscription(&sb, &url, &receiver).await;
    let jonas = team.people[1].1.clone();
    let path = format!("/_sandbox/data_sources/{}", team.data_source_id);
    let statuses: Vec<Value> = [
        "Draft",
        "Ready",
        "In Progress",
        "In Review",
        "Shipped",
        "Blocked",
    ]
    .iter()
    .map(|n| json!({"name": n}))
    .collect();
    let r = control(
        &sb,
        reqwest::Method::PATCH,
        &path,
        json!({"user_id": jonas, "properties": {
            "Status": {"name": "State", "status": {"options": statuses}},
            "Blockers": null,
        }}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let state = &r.body["properties"]["State"];
    assert_eq!(state["type"], "status");
    let blocked = state["status"]["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "Blocked")
        .expect("a person can add status options")
        .clone();
    let todo = &state["status"]["groups"][0];
    assert_eq!(todo["name"], "To-do");
    assert!(
        todo["option_ids"]
            .as_array()
            .unwrap()
            .contains(&blocked["id"])
    );
    assert!(r.body["properties"].get("Blockers").is_none());

    let event = wait_for("the schema event", || {
        events_of(&receiver, "data_source.schema_updated").pop()
    })
    .await;
    assert_eq!(event["authors"], json!([{"id": jonas, "type": "person"}]));

    // The same from Rust; a bad edit is refused with the API's error.
    sb.update_data_source_as_person(
        &team.data_source_id,
        &jonas,
        json!({"properties": {"State": {"name": "Status"}}}),
    )
    .unwrap();
    let err = sb
        .update_data_source_as_person(
            &team.data_source_id,
            &jonas,
            json!({"properties": {"Name": null}}),
        )
        .unwrap_err();
    assert!(err.to_string().contains("validation_error"), "{err}");
    let bad_user = control(
        &sb,
        reqwest::Method::PATCH,
        &path,
        json!({"user_id": sb.bot_user_id()}),
    )
    .await;
    assert_error(&bad_user, 400, "validation_error");
}

#[tokio::test]
async fn schema_updates_send_data_source_schema_updated_events() {
    let sb = sandbox(unlimited()).await;
    let team = sb.seed_team();
    let (receiver, url) = Receiver::start().await;
    let token = verified_subscription(&sb, &url, &receiver).await;
    let api = Api::new(&sb);
    let ds = &team.data_source_id;
    let before = schema(&api, ds).await;
    let r = api
        .patch(
            &format!("/v1/data_sources/{ds}"),
            json!({"properties": {"Sprint": {"name": "Iteration"}, "Blockers": null, "Risk": {"url": {}}}}),
        )
        .await;
    let risk_id = r.body["properties"]["Risk"]["id"].clone();
    let event = wait_for("the schema event", || {
        events_of(&receiver, "data_source.schema_updated").pop()
    })
    .await;
    let raw = receiver
        .events()
        .into_iter()
        .find(|e| e.json()["id"] == event["id"])
        .unwrap();
    verify_notion(&token, &raw.body, signature_of(&raw)).expect("signed");
    assert_eq!(event["entity"], json!({"id": ds, "type": "data_source"}));
    assert_eq!(
        event["data"]["parent"],
        json!({"id": team.database_id, "type": "database"})
    );
    assert_eq!(
        event["authors"],
        json!([{"id": sb.bot_user_id(), "type": "bot"}])
    );
    assert_eq!(event["api_version"], "2025-09-03");
    let mut changes = event["data"]["updated_properties"]
        .as_array()
        .unwrap()
        .clone();
    changes.sort_by_key(|c| c["action"].as_str().unwrap().to_string());
    assert_eq!(
        changes,
        vec![
            json!({"id": risk_id, "name": "Risk", "action": "created"}),
            json!({"id": before["Blockers"]["id"], "name": null, "action": "deleted"}),
            json!({"id": before["Sprint"]["id"], "name": "Iteration", "action": "updated"}),
        ]
    );

    // Within an aggregation window, edits merge into one event per data source.
    sb.set_delivery(DeliveryKnobs {
        aggregation_window_ms: 300,
        ..DeliveryKnobs::default()
    });
    let person = maya(&team);
    for body in [
        json!({"properties": {"Iteration": {"name": "Cycle"}}}),
        json!({"properties": {"Cycle": {"name": "Sprint"}}}),
        json!({"properties": {"Scratch": {"checkbox": {}}}}),
        json!({"properties": {"Scratch": null}}),
    ] {
        sb.update_data_source_as_person(ds, &person, body).unwrap();
    }
    let merged = wait_for("the merged schema event", || {
        let all = events_of(&receiver, "data_source.schema_updated");
        (all.len() == 2).then(|| all[1].clone())
    })
    .await;
    assert_eq!(
        merged["data"]["updated_properties"],
        json!([{"id": before["Sprint"]["id"], "name": "Sprint", "action": "updated"}]),
        "created then deleted in one window leaves nothing"
    );
    assert_eq!(merged["authors"], json!([{"id": person, "type": "person"}]));
}

#[tokio::test]
async fn the_status_seed_has_groups_and_refuses_status_names_it_lacks() {
    let sb = sandbox(unlimited()).await;
    let seeded = control(
        &sb,
        reqwest::Method::POST,
        "/_sandbox/seed/team",
        json!({"status": "status"}),
    )
    .await;
    let team: TeamNotion = serde_json::from_value(seeded.body).unwrap();
    assert_eq!(team.status, NotionStatus::Status);
    assert_eq!(sb.seed_team(), team, "seeding is idempotent");
    let other = control(
        &sb,
        reqwest::Method::POST,
        "/_sandbox/seed/team",
        json!({"status": "select"}),
    )
    .await;
    assert_error(&other, 400, "validation_error");

    let api = Api::new(&sb);
    let status = schema(&api, &team.data_source_id).await["Status"].clone();
    assert_eq!(status["type"], "status");
    let options = status["status"]["options"].as_array().unwrap();
    let id_of = |name: &str| options.iter().find(|o| o["name"] == name).unwrap()["id"].clone();
    let groups: Vec<(String, Vec<Value>)> = status["status"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap().to_string(),
                g["option_ids"].as_array().unwrap().clone(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        vec![
            ("To-do".to_string(), vec![id_of("Draft"), id_of("Ready")]),
            (
                "In progress".to_string(),
                vec![id_of("In Progress"), id_of("In Review")]
            ),
            ("Complete".to_string(), vec![id_of("Shipped")]),
        ]
    );

    let path = format!("/v1/pages/{}", team.page_ids[0]);
    let page = api.get(&path).await.body;
    assert_eq!(page["properties"]["Status"]["type"], "status");
    assert_eq!(page["properties"]["Status"]["status"]["name"], "Draft");
    assert!(page["properties"]["Status"]["status"]["color"].is_string());
    let by_name = api
        .patch(
            &path,
            json!({"properties": {"Status": {"status": {"name": "In Review"}}}}),
        )
        .await;
    assert_eq!(
        by_name.body["properties"]["Status"]["status"]["id"],
        id_of("In Review")
    );
    let by_id = api
        .patch(
            &path,
            json!({"properties": {"Status": {"status": {"id": id_of("Shipped")}}}}),
        )
        .await;
    assert_eq!(
        by_id.body["properties"]["Status"]["status"]["name"],
        "Shipped"
    );

    // The API cannot create status options: 400 naming the property; nothing changes.
    let refused = api
        .patch(
            &path,
            json!({"properties": {"Status": {"status": {"name": "Blocked"}}, "Sprint": text("S9")}}),
        )
        .await;
    assert_error(&refused, 400, "validation_error");
    let message = refused.body["message"].as_str().unwrap();
    assert!(
        message.contains("'Status'") && message.contains("'Blocked'"),
        "{message}"
    );
    let page = api.get(&path).await.body;
    assert_eq!(page["properties"]["Status"]["status"]["name"], "Shipped");
    assert_eq!(plain(&page["properties"]["Sprint"]), "");
    assert_eq!(schema(&api, &team.data_source_id).await["Status"], {
        let mut s = status.clone();
        s["status"]["options"] = json!(options);
        s
    });
    let wrong_type = api
        .patch(
            &path,
            json!({"properties": {"Status": {"select": {"name": "Draft"}}}}),
        )
        .await;
    assert_error(&wrong_type, 400, "validation_error");
    // select still creates options on write.
    let p4 = api
        .patch(
            &path,
            json!({"properties": {"Priority": {"select": {"name": "P4"}}}}),
        )
        .await;
    assert_eq!(p4.body["properties"]["Priority"]["select"]["name"], "P4");
}

#[tokio::test]
async fn request_limits_refuse_long_values_and_name_the_property_path() {
    let sb = sandbox(unlimited()).await;
    let (_, ds) = sb.create_database(
        "Limits",
        vec![
            PropertySchema::title("Name"),
            PropertySchema::rich_text("Notes"),
            PropertySchema::new("Website", PropertyKind::Url),
            PropertySchema::new("Mail", PropertyKind::Email),
            PropertySchema::new("Phone", PropertyKind::PhoneNumber),
        ],
    );
    let api = Api::new(&sb);
    let at_limits = json!({
        "Name": title(&"n".repeat(2000)),
        "Notes": {"rich_text": (0..100).map(|_| json!({"text": {"content": "x"}})).collect::<Vec<_>>()},
        "Website": {"url": format!("https://e.com/{}", "u".repeat(2000 - 14))},
        "Mail": {"email": format!("{}@e.com", "m".repeat(200 - 6))},
        "Phone": {"phone_number": "1".repeat(200)},
    });
    let created = api
        .post(
            "/v1/pages",
            json!({"parent": {"data_source_id": ds}, "properties": at_limits}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let path = format!("/v1/pages/{}", created.body["id"].as_str().unwrap());
    let cases = [
        (
            json!({"Website": {"url": format!("https://e.com/{}", "u".repeat(2000 - 13))}}),
            "body.properties.Website.url.length should be ≤ 2000, instead was 2001.",
        ),
        (
            json!({"Mail": {"email": format!("{}@e.com", "m".repeat(200 - 5))}}),
            "body.properties.Mail.email.length should be ≤ 200, instead was 201.",
        ),
        (
            json!({"Phone": {"phone_number": "1".repeat(201)}}),
            "body.properties.Phone.phone_number.length should be ≤ 200, instead was 201.",
        ),
        (
            json!({"Notes": text(&"é".repeat(2001))}),
            "body.properties.Notes.rich_text[0].text.content.length should be ≤ 2000, instead was 2001.",
        ),
        (
            json!({"Notes": {"rich_text": (0..101).map(|_| json!({"text": {"content": "x"}})).collect::<Vec<_>>()}}),
            "body.properties.Notes.rich_text.length should be ≤ 100, instead was 101.",
        ),
        (
            json!({"Name": {"title": [{"text": {"content": "a", "link": {"url": format!("https://{}", "l".repeat(1993))}}}]}}),
            "body.properties.Name.title[0].text.link.url.length should be ≤ 2000, instead was 2001.",
        ),
    ];
    for (props, expected) in cases {
        let r = api.patch(&path, json!({"properties": props.clone()})).await;
        assert_error(&r, 400, "validation_error");
        assert_eq!(
            r.body["message"],
            format!("body failed validation: {expected}"),
            "{props}"
        );
    }
    let page = api.get(&path).await.body;
    assert_eq!(
        page["properties"], created.body["properties"],
        "nothing changed"
    );
}

#[tokio::test]
async fn a_title_edit_sends_page_content_updated_and_other_edits_properties_updated() {
    let sb = sandbox(unlimited()).await;
    let team = sb.seed_team();
    let (receiver, url) = Receiver::start().await;
    verified_subscription(&sb, &url, &receiver).await;
    let api = Api::new(&sb);
    let sprint_id = schema_property_id(&api, &team.data_source_id, "Sprint").await;
    let page = &team.page_ids[2];
    let person = maya(&team);

    let r = control(
        &sb,
        reqwest::Method::PATCH,
        &format!("/_sandbox/pages/{page}"),
        json!({"user_id": person, "properties": {"Name": title("Renamed spec")}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let event = receiver.wait_events(1).await.remove(0).json();
    assert_eq!(event["type"], "page.content_updated");
    assert_eq!(event["entity"], json!({"id": page, "type": "page"}));
    assert_eq!(
        event["data"]["updated_blocks"],
        json!([{"id": page, "type": "page"}])
    );
    assert_eq!(
        event["data"]["parent"],
        json!({"id": team.database_id, "type": "database", "data_source_id": team.data_source_id})
    );
    assert_eq!(event["authors"], json!([{"id": person, "type": "person"}]));

    // Title and another property in one edit: one event of each kind, the
    // title not listed among the updated properties.
    sb.update_page_as_person(
        page,
        &person,
        json!({"Name": title("Renamed again"), "Sprint": text("S4")}),
    )
    .unwrap();
    let events = receiver.wait_events(3).await;
    let kinds: Vec<Value> = events.iter().map(|e| e.json()["type"].clone()).collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == "page.content_updated")
            .count(),
        2
    );
    let props = events_of(&receiver, "page.properties_updated");
    assert_eq!(props.len(), 1, "{kinds:?}");
    assert_eq!(props[0]["data"]["updated_properties"], json!([sprint_id]));
    assert!(
        events_of(&receiver, "page.properties_updated")
            .iter()
            .all(|e| !e["data"]["updated_properties"]
                .as_array()
                .unwrap()
                .contains(&json!("title")))
    );
}

#[tokio::test]
async fn without_user_information_listing_users_is_forbidden_and_people_carry_ids() {
    let sb = sandbox(NotionSandboxConfig {
        user_information: UserInformation::None,
        ..unlimited()
    })
    .await;
    let team = sb.seed_team();
    let api = Api::new(&sb);
    let owner = team.people[0].1.clone();
    assert_error(&api.get("/v1/users").await, 403, "restricted_resource");
    assert_error(
        &api.get(&format!("/v1/users/{owner}")).await,
        403,
        "restricted_resource",
    );
    let me = api.get("/v1/users/me").await;
    assert_eq!(me.status, 200, "any capability may call users/me");
    assert_eq!(me.body["id"], sb.bot_user_id());
    assert!(me.body.get("name").is_none());
    let path = format!("/v1/pages/{}", team.page_ids[0]);
    let people = api.get(&path).await.body["properties"]["Owner"]["people"].clone();
    assert_eq!(people, json!([{"object": "user", "id": owner}]));

    // Without email: users list again, names but no emails.
    let set = control(
        &sb,
        reqwest::Method::POST,
        "/_sandbox/capabilities",
        json!({"user_information": "without_email"}),
    )
    .await;
    assert_eq!(set.body, json!({"user_information": "without_email"}));
    let users = api.get("/v1/users").await;
    assert_eq!(users.status, 200);
    let first = &users.body["results"][0];
    assert_eq!(first["name"], team.people[0].0.as_str());
    assert_eq!(first["person"], json!({}));
    let person = &api.get(&path).await.body["properties"]["Owner"]["people"][0];
    assert_eq!(person["name"], team.people[0].0.as_str());
    assert!(person["person"].get("email").is_none());

    // With email (the default).
    sb.set_user_information(UserInformation::WithEmail);
    let person = &api.get(&path).await.body["properties"]["Owner"]["people"][0];
    assert_eq!(person["person"]["email"], "maya@example.com");
    let got = control(
        &sb,
        reqwest::Method::GET,
        "/_sandbox/capabilities",
        Value::Null,
    )
    .await;
    assert_eq!(got.body["user_information"], "with_email");
    let bad = control(
        &sb,
        reqwest::Method::POST,
        "/_sandbox/capabilities",
        json!({"user_information": "some"}),
    )
    .await;
    assert_error(&bad, 400, "validation_error");
}

#[tokio::test]
async fn the_sandbox_command_seeds_status_and_sets_the_user_capability_by_flag() {
    let args = SandboxArgs {
        host: "127.0.0.1".parse().unwrap(),
        notion_port: 0,
        airtable_port: 0,
        seed: Some(Seed::Team),
        no_rate_limit: true,
        airtable_penalty_secs: 1.0,
        latency_ms: 0,
        notion_status: NotionStatus::Status,
        notion_user_info: UserInformation::None,
    };
    let running = launch::start(&args).await.unwrap();
    let sb = &running.notion;
    let api = Api::new(sb);
    let ds = running.info.notion_data_source_id.clone().unwrap();
    assert_eq!(schema(&api, &ds).await["Status"]["type"], "status");
    assert_error(&api.get("/v1/users").await, 403, "restricted_resource");
    assert_eq!(sb.user_information(), UserInformation::None);
}

//! Property tests of everything that parses bytes from outside: the two
//! webhook endpoints (the real router over HTTP, on a real store, with
//! valid signatures over arbitrary bodies so that the parsers behind the
//! signature check are reached), and the Airtable payload, Notion page and
//! job payload parsers.
//!
//! Properties: no panic, no 5xx; every rejection is a clean 4xx with a JSON
//! error; nothing is stored when a request is rejected.
//!
//! Inputs come from a seeded generator (arbitrary bytes, arbitrary JSON,
//! mutations of valid documents, deep nesting). The seed is printed; rerun
//! one with `FUZZ_SEED=<n>`, and more cases with `FUZZ_CASES=<n>`.
//!
//!     scripts/with-postgres.sh cargo nextest run --test it parsers_fuzz::

use crate::common;

use notion_airtable_sync::{
    airtable::{PayloadPage, gap_in},
    http::{AppState, PairDirectory, router, serve},
    jobs::spec::JobSpec,
    notion::Page,
    secret::Secret,
    signature::{airtable_mac, notion_signature},
    store::NewAirtableWebhook,
};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use serde_json::{Map, Value, json};
use sqlx::Connection;

use common::TestDb;

const NOTION_SECRET: &str = "secret_fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz";
const WEBHOOK_ID: &str = "achFUZZ0000000000";
const BASE_ID: &str = "appFUZZ0000000000";
const MAC_SECRET: &str = "c2VjcmV0LWtleQ==";
const DATABASE_ID: &str = "36cc9195-760f-4fff-a67e-3a46c559b176";
const DATA_SOURCE_ID: &str = "98024f3c-b1d3-4aec-a301-f01e0dacf023";

fn seed() -> u64 {
    std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random())
}

fn cases(default: usize) -> usize {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

// --------------------------------------------------------------- generators

const WORDS: &[&str] = &[
    "id",
    "type",
    "entity",
    "page",
    "data",
    "parent",
    "authors",
    "webhook",
    "base",
    "timestamp",
    "payloads",
    "cursor",
    "mightHaveMore",
    "changedTablesById",
    "baseTransactionNumber",
    "actionMetadata",
    "source",
    "error",
    "code",
    "verification_token",
    "properties",
    "in_trash",
    "tbl",
    "rec",
    "fld",
    "\u{0}",
    "é",
    "🦀",
    "",
    "database",
    "data_source_id",
    "publicApi",
];

fn arbitrary_string(rng: &mut StdRng) -> String {
    match rng.random_range(0..4) {
        0 => WORDS.choose(rng).unwrap().to_string(),
        1 => (0..rng.random_range(0..40))
            .map(|_| char::from_u32(rng.random_range(0..0x11_0000)).unwrap_or('\u{fffd}'))
            .collect(),
        2 => "x".repeat(rng.random_range(0..5_000)),
        _ => uuid::Uuid::new_v4().to_string(),
    }
}

fn arbitrary_number(rng: &mut StdRng) -> Value {
    match rng.random_range(0..4) {
        0 => json!(rng.random::<i64>()),
        1 => json!(rng.random::<u64>()),
        2 => json!(rng.random::<f64>() * 1e300),
        _ => json!(rng.random_range(-2..3)),
    }
}

/// Arbitrary JSON, at most `depth` levels deep.
fn arbitrary_json(rng: &mut StdRng, depth: u32) -> Value {
    let leaf = depth == 0 || rng.random_bool(0.4);
    match (leaf, rng.random_range(0..6)) {
        (_, 0) => Value::Null,
        (_, 1) => json!(rng.random::<bool>()),
        (_, 2) => arbitrary_number(rng),
        (true, _) | (_, 3) => json!(arbitrary_string(rng)),
        (false, 4) => Value::Array(
            (0..rng.random_range(0..5))
                .map(|_| arbitrary_json(rng, depth - 1))
                .collect(),
        ),
        (false, _) => Value::Object(
            (0..rng.random_range(0..6))
                .map(|_| (arbitrary_string(rng), arbitrary_json(rng, depth - 1)))
                .collect::<Map<_, _>>(),
        ),
    }
}

/// Replace, remove or add one value somewhere in `doc`.
fn mutate(rng: &mut StdRng, doc: &mut Value) {
    match doc {
        Value::Object(map) if !map.is_empty() && rng.random_bool(0.7) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = keys.choose(rng).unwrap().clone();
            match rng.random_range(0..3) {
                0 => {
                    map.remove(&key);
                }
                1 => {
                    map.insert(key, arbitrary_json(rng, 3));
                }
                _ => mutate(rng, map.get_mut(&key).unwrap()),
            }
        }
        Value::Array(items) if !items.is_empty() && rng.random_bool(0.7) => {
            let i = rng.random_range(0..items.len());
            mutate(rng, &mut items[i]);
        }
        Value::Object(map) => {
            map.insert(arbitrary_string(rng), arbitrary_json(rng, 2));
        }
        other => *other = arbitrary_json(rng, 2),
    }
}

fn nested(depth: usize) -> Vec<u8> {
    let mut s = "[".repeat(depth);
    s.push_str(&"]".repeat(depth));
    s.into_bytes()
}

/// One body: bytes, JSON, a mutated valid document, or deep nesting.
fn arbitrary_body(rng: &mut StdRng, valid: &Value) -> Vec<u8> {
    match rng.random_range(0..10) {
        0 => (0..rng.random_range(0..2048))
            .map(|_| rng.random())
            .collect(),
        1 => serde_json::to_vec(&arbitrary_json(rng, 5)).unwrap(),
        2 => nested(rng.random_range(100..3_000)),
        3 => {
            // Valid JSON cut short, or with bytes flipped.
            let mut bytes = serde_json::to_vec(valid).unwrap();
            let at = rng.random_range(0..bytes.len());
            if rng.random_bool(0.5) {
                bytes.truncate(at);
            } else {
                bytes[at] = rng.random();
            }
            bytes
        }
        _ => {
            let mut doc = valid.clone();
            for _ in 0..rng.random_range(1..4) {
                mutate(rng, &mut doc);
            }
            serde_json::to_vec(&doc).unwrap()
        }
    }
}

fn notion_event() -> Value {
    json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "timestamp": "2026-06-01T10:00:00.000Z",
        "workspace_id": "13950b26-c203-4f3b-b97d-93ec06319565",
        "type": "page.properties_updated",
        "authors": [{ "id": "c7c11cca-1d73-471d-9b6e-bdef51470190", "type": "person" }],
        "attempt_number": 1,
        "entity": { "id": uuid::Uuid::new_v4().to_string(), "type": "page" },
        "data": { "parent": { "id": DATABASE_ID, "type": "database", "data_source_id": DATA_SOURCE_ID } },
    })
}

fn airtable_ping() -> Value {
    json!({
        "base": { "id": BASE_ID },
        "webhook": { "id": WEBHOOK_ID },
        "timestamp": "2026-06-01T10:00:00.000Z",
    })
}

fn payload_page() -> Value {
    json!({
        "payloads": [{
            "timestamp": "2026-06-01T10:00:00.000Z",
            "baseTransactionNumber": 4,
            "payloadFormat": "v0",
            "actionMetadata": { "source": "client", "sourceMetadata": { "user": { "id": "usr1", "email": "a@b.c" } } },
            "changedTablesById": { "tbl1": {
                "changedRecordsById": { "rec1": { "current": { "cellValuesByFieldId": { "fld1": "x" } } } },
                "createdRecordsById": { "rec2": { "createdTime": "2026-06-01T10:00:00.000Z", "cellValuesByFieldId": {} } },
                "destroyedRecordIds": ["rec3"],
            } },
        }, { "error": true, "code": "INVALID_HOOK", "baseTransactionNumber": 5 }],
        "cursor": 6,
        "mightHaveMore": false,
    })
}

fn notion_page() -> Value {
    json!({
        "object": "page",
        "id": uuid::Uuid::new_v4().to_string(),
        "created_time": "2026-06-01T10:00:00.000Z",
        "last_edited_time": "2026-06-01T10:00:00.000Z",
        "in_trash": false,
        "url": "https://www.notion.so/x",
        "parent": { "type": "data_source_id", "data_source_id": DATA_SOURCE_ID, "database_id": DATABASE_ID },
        "properties": {
            "Name": { "id": "title", "type": "title", "title": [{ "type": "text", "plain_text": "A", "text": { "content": "A" } }] },
            "Status": { "id": "a", "type": "select", "select": { "id": "s", "name": "Ready", "color": "blue" } },
            "Owner": { "id": "b", "type": "people", "people": [{ "object": "user", "id": "u1" }] },
            "Ship Date": { "id": "c", "type": "date", "date": { "start": "2026-07-01", "end": null } },
        },
    })
}

// ------------------------------------------------------------------- server

struct Server {
    url: String,
    http: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(db: &TestDb) -> Server {
    let pairs = PairDirectory::new(vec![(
        "specs".into(),
        DATABASE_ID.into(),
        DATA_SOURCE_ID.into(),
    )]);
    let mut state = AppState::new(db.store.clone(), pairs);
    state.notion_webhook_secret = Some(Secret::new(NOTION_SECRET));
    let webhook = NewAirtableWebhook {
        webhook_id: WEBHOOK_ID.into(),
        pair: "specs".into(),
        base_id: BASE_ID.into(),
        table_id: "tbl00000000000000".into(),
        mac_secret_base64: Secret::new(MAC_SECRET),
        expires_at: None,
        notification_url: None,
    };
    db.store.upsert_webhook(&webhook, 0).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, router(state), async move {
        let _ = stopped.await;
    }));
    Server {
        url,
        http: reqwest::Client::new(),
        _stop: stop,
    }
}

/// Everything the ingest can store, read through a connection of its own.
async fn stored(db: &TestDb) -> Vec<i64> {
    // One query, one connection: this runs around every request.
    let sql = "SELECT (SELECT COUNT(*) FROM webhook_inbox), (SELECT COUNT(*) FROM jobs), \
               (SELECT COUNT(*) FROM notion_verification_tokens), \
               (SELECT COALESCE(MAX(last_ping_at), 0) FROM airtable_webhooks)";
    let row: (i64, i64, i64, i64) = if db.url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query_as(sql).fetch_one(&mut c).await.unwrap()
    } else {
        let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query_as(sql).fetch_one(&mut c).await.unwrap()
    };
    vec![row.0, row.1, row.2, row.3]
}

enum Signing {
    Notion,
    Airtable,
    /// A signature over other bytes.
    Wrong,
}

/// POST `body` to `path`, signed as asked; the status and JSON body.
async fn post(server: &Server, path: &str, body: &[u8], signing: Signing) -> (u16, Value) {
    let mut request = server
        .http
        .post(format!("{}{path}", server.url))
        .header("content-type", "application/json")
        .body(body.to_vec());
    request = match signing {
        Signing::Notion => {
            request.header("x-notion-signature", notion_signature(NOTION_SECRET, body))
        }
        Signing::Airtable => request.header(
            "x-airtable-content-mac",
            airtable_mac(MAC_SECRET, body).unwrap(),
        ),
        Signing::Wrong => request
            .header(
                "x-notion-signature",
                notion_signature(NOTION_SECRET, b"other"),
            )
            .header(
                "x-airtable-content-mac",
                airtable_mac(MAC_SECRET, b"other").unwrap(),
            ),
    };
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The properties for one request: a known status, a JSON error on 4xx,
/// nothing stored on rejection.
async fn check(db: &TestDb, server: &Server, path: &str, body: &[u8], signing: Signing, seed: u64) {
    let before = stored(db).await;
    let (status, answer) = post(server, path, body, signing).await;
    let shown = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    assert!(
        status < 500,
        "seed {seed}: {path} answered {status} {answer} to {shown:?}"
    );
    if (400..500).contains(&status) {
        assert!(
            answer["error"].is_string(),
            "seed {seed}: a {status} without a JSON error for {shown:?}"
        );
        assert_eq!(
            stored(db).await,
            before,
            "seed {seed}: a rejected request stored something: {shown:?}"
        );
    } else {
        assert!(
            (200..300).contains(&status),
            "seed {seed}: {path} answered {status} to {shown:?}"
        );
    }
}

async fn webhook_endpoints_refuse_junk_cleanly(db: TestDb) {
    let seed = seed();
    eprintln!("FUZZ_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let server = start(&db).await;
    let n = cases(300);
    for _ in 0..n {
        let body = arbitrary_body(&mut rng, &notion_event());
        check(
            &db,
            &server,
            "/webhooks/notion",
            &body,
            Signing::Notion,
            seed,
        )
        .await;
        let body = arbitrary_body(&mut rng, &airtable_ping());
        check(
            &db,
            &server,
            "/webhooks/airtable",
            &body,
            Signing::Airtable,
            seed,
        )
        .await;
    }
    // Unauthenticated junk: refused whatever it is, and nothing stored,
    // except Notion's bare verification request, which is only ever shown to
    // the operator as pending (200, or 429 beyond 5 a minute). A JSON array is not that request, even though serde reads a struct
    // from a sequence too.
    for body in [&b"[\"token-in-an-array\"]"[..], b"[\"a\", 1]", b"[]"] {
        let before = stored(&db).await;
        let (status, answer) = post(&server, "/webhooks/notion", body, Signing::Wrong).await;
        assert_eq!(
            status,
            401,
            "unsigned {:?}: {answer}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(
            stored(&db).await,
            before,
            "stored {:?}",
            String::from_utf8_lossy(body)
        );
    }
    for _ in 0..n / 3 {
        let body = arbitrary_body(&mut rng, &notion_event());
        let before = stored(&db).await;
        let (status, answer) = post(&server, "/webhooks/notion", &body, Signing::Wrong).await;
        let shown = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        let after = stored(&db).await;
        if is_verification_request(&body) {
            assert!(
                status == 200 || status == 429,
                "seed {seed}: {status} {answer} for {shown:?}"
            );
            // Only the pending-token table may change.
            assert_eq!(
                (after[0], after[1], after[3]),
                (before[0], before[1], before[3]),
                "seed {seed}: stored {shown:?}"
            );
        } else {
            assert!(
                (400..500).contains(&status),
                "seed {seed}: {status} {answer} for {shown:?}"
            );
            assert_eq!(after, before, "seed {seed}: stored {shown:?}");
        }
        let body = arbitrary_body(&mut rng, &airtable_ping());
        let before = stored(&db).await;
        let (status, _) = post(&server, "/webhooks/airtable", &body, Signing::Wrong).await;
        assert!((400..500).contains(&status), "seed {seed}: {status}");
        assert_eq!(stored(&db).await, before, "seed {seed}");
    }
}

/// Exactly `{"verification_token": "<a plausible token>"}` (non-blank, at
/// most 200 bytes, as the handler accepts).
fn is_verification_request(body: &[u8]) -> bool {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    let token = map.get("verification_token").and_then(Value::as_str);
    map.len() == 1 && token.is_some_and(|t| !t.trim().is_empty() && t.len() <= 200)
}

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn webhook_endpoints_refuse_junk_cleanly() {
        super::webhook_endpoints_refuse_junk_cleanly(super::TestDb::sqlite().await).await;
    }
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn webhook_endpoints_refuse_junk_cleanly() {
        super::webhook_endpoints_refuse_junk_cleanly(super::TestDb::postgres().await).await;
    }
}

// ---------------------------------------------------------------- parsers

/// Arbitrary input to the Airtable payload page parser, and to everything
/// the drain then asks of a parsed page: no panic.
#[test]
fn airtable_payload_pages_never_panic() {
    let seed = seed();
    eprintln!("FUZZ_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let valid = payload_page();
    let parsed: PayloadPage = serde_json::from_value(valid.clone()).unwrap();
    assert_eq!(parsed.payloads.len(), 2, "the valid page parses");
    let mut accepted = 0;
    for _ in 0..cases(3_000) {
        let body = arbitrary_body(&mut rng, &valid);
        let Ok(page) = serde_json::from_slice::<PayloadPage>(&body) else {
            continue;
        };
        accepted += 1;
        for payload in &page.payloads {
            let _ = (payload.error_code(), payload.source(), payload.user_id());
            for table in payload.changed_tables_by_id.values() {
                let _ = table.touched_record_ids();
            }
        }
        // Any cursor the store may hold, against any page the API returns
        // (one whose cursor moved less than its payload count included).
        let _ = gap_in(rng.random_range(0..page.cursor.saturating_add(3)), &page);
    }
    eprintln!("{accepted} arbitrary payload pages parsed");
}

/// Arbitrary input to the Notion page parser: no panic, and what parses
/// can be asked for its title and properties.
#[test]
fn notion_pages_never_panic() {
    let seed = seed();
    eprintln!("FUZZ_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let valid = notion_page();
    let parsed: Page = serde_json::from_value(valid.clone()).unwrap();
    assert_eq!(parsed.title(), "A", "the valid page parses");
    for _ in 0..cases(3_000) {
        let body = arbitrary_body(&mut rng, &valid);
        if let Ok(page) = serde_json::from_slice::<Page>(&body) {
            let _ = (
                page.title(),
                page.property("Status"),
                page.property("Owner"),
            );
        }
    }
}

/// A job row's payload is read back by every worker: junk is an error, not
/// a panic.
#[test]
fn job_payloads_never_panic() {
    let seed = seed();
    eprintln!("FUZZ_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let valid =
        json!({ "kind": "reconcile_page", "pair": "specs", "page_id": "p", "trigger": "webhook" });
    assert!(JobSpec::from_payload(&valid).is_ok());
    for _ in 0..cases(3_000) {
        let mut doc = valid.clone();
        mutate(&mut rng, &mut doc);
        let _ = JobSpec::from_payload(&doc);
        let _ = JobSpec::from_payload(&arbitrary_json(&mut rng, 4));
    }
}

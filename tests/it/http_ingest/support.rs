//! The test harness: a migrated store on a database of its own (SQLite file
//! or fresh Postgres database), the ingest router served on 127.0.0.1:0, and
//! helpers to sign, send and count.
#![allow(dead_code)]

use std::time::Duration;

use notion_airtable_sync::{
    http::{AppState, IngestConfig, PairDirectory, router, serve},
    secret::Secret,
    signature::{airtable_mac, notion_signature},
    store::{Job, JobState, NewAirtableWebhook, Store},
};
use serde_json::{Value, json};
use sqlx::Connection;
use tokio::{sync::oneshot, task::JoinHandle};

pub const NOTION_SECRET: &str = "secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl";
pub const ADMIN_TOKEN: &str = "admin-token-for-tests";
pub const BOT_ID: &str = "1edc05f6-2702-81b5-8408-00279347f034";
pub const PERSON_ID: &str = "c7c11cca-1d73-471d-9b6e-bdef51470190";

/// Two pairs: `specs` (as in the docs' 2025-09-03 example) and `tasks`.
pub const SPECS_DB: &str = "36cc9195-760f-4fff-a67e-3a46c559b176";
pub const SPECS_DS: &str = "98024f3c-b1d3-4aec-a301-f01e0dacf023";
pub const TASKS_DB: &str = "4b2c7a10-0000-4000-8000-00000000aaaa";
pub const TASKS_DS: &str = "4b2c7a10-0000-4000-8000-00000000bbbb";
pub const SPECS_DEBOUNCE: Duration = Duration::from_secs(2);

pub const WEBHOOK_ID: &str = "ach00000000000000";
pub const BASE_ID: &str = "app00000000000000";
/// base64 of `secret-key` (the pyairtable vector).
pub const MAC_SECRET: &str = "c2VjcmV0LWtleQ==";

// ---------------------------------------------------------------- databases

pub use crate::common::TestDb;

impl TestDb {
    /// A fresh, empty (unmigrated) Postgres database's URL.
    pub async fn postgres_url() -> String {
        crate::common::fresh_postgres_database().await
    }

    /// Rows in `table`, read through a connection of its own.
    pub async fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        if self.url.starts_with("sqlite:") {
            let mut c = sqlx::SqliteConnection::connect(&self.url)
                .await
                .expect("open SQLite");
            sqlx::query_scalar(&sql)
                .fetch_one(&mut c)
                .await
                .expect("count")
        } else {
            let mut c = sqlx::PgConnection::connect(&self.url)
                .await
                .expect("connect to Postgres");
            sqlx::query_scalar(&sql)
                .fetch_one(&mut c)
                .await
                .expect("count")
        }
    }

    /// Run `sql` through a connection of its own.
    pub async fn execute(&self, sql: &str) {
        if self.url.starts_with("sqlite:") {
            let mut c = sqlx::SqliteConnection::connect(&self.url)
                .await
                .expect("open SQLite");
            sqlx::query(sql).execute(&mut c).await.expect("execute");
        } else {
            let mut c = sqlx::PgConnection::connect(&self.url)
                .await
                .expect("connect to Postgres");
            sqlx::query(sql).execute(&mut c).await.expect("execute");
        }
    }

    /// Nothing recorded by the ingest: no inbox row, no job, no token.
    pub async fn assert_nothing_stored(&self) {
        assert_eq!(self.count("webhook_inbox").await, 0, "inbox rows");
        assert_eq!(self.count("jobs").await, 0, "jobs");
        assert_eq!(
            self.count("notion_verification_tokens").await,
            0,
            "verification tokens"
        );
    }

    pub async fn jobs(&self, state: JobState) -> Vec<Job> {
        self.store
            .list_jobs(Some(state), 1000)
            .await
            .expect("list jobs")
    }
}

// ------------------------------------------------------------------- server

/// The router served on a free port of 127.0.0.1, stopped on drop.
pub struct Server {
    pub url: String,
    pub http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    _task: JoinHandle<std::io::Result<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn directory() -> PairDirectory {
    PairDirectory::new(vec![
        ("specs".into(), SPECS_DB.into(), SPECS_DS.into()),
        ("tasks".into(), TASKS_DB.into(), TASKS_DS.into()),
    ])
}

/// The state the tests use unless they say otherwise: both secrets set, the
/// bot id known, `specs` debounced.
pub fn state(store: &Store) -> AppState {
    let mut state = AppState::new(store.clone(), directory());
    state.notion_webhook_secret = Some(Secret::new(NOTION_SECRET));
    state.admin_token = Some(Secret::new(ADMIN_TOKEN));
    state.bot_user_id = Some(BOT_ID.into());
    state.config = IngestConfig::default().with_debounce("specs", SPECS_DEBOUNCE);
    state
}

pub async fn start(db: &TestDb) -> Server {
    start_with(state(&db.store)).await
}

pub async fn start_with(state: AppState) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, router(state), async move {
        let _ = rx.await;
    }));
    Server {
        url: format!("http://{addr}"),
        http: reqwest::Client::new(),
        shutdown: Some(tx),
        _task: task,
    }
}

impl Server {
    pub async fn post_raw(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("send the request")
    }

    /// A Notion delivery signed with `NOTION_SECRET`.
    pub async fn notion(&self, body: &[u8]) -> reqwest::Response {
        let signature = notion_signature(NOTION_SECRET, body);
        self.post_raw(
            "/webhooks/notion",
            &[("x-notion-signature", &signature)],
            body.to_vec(),
        )
        .await
    }

    /// An Airtable ping signed with `MAC_SECRET`.
    pub async fn airtable(&self, body: &[u8]) -> reqwest::Response {
        let mac = airtable_mac(MAC_SECRET, body).expect("valid secret");
        self.post_raw(
            "/webhooks/airtable",
            &[("x-airtable-content-mac", &mac)],
            body.to_vec(),
        )
        .await
    }

    pub async fn admin_get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("send the request")
    }

    pub async fn admin_post(&self, path: &str, body: &str) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.url))
            .bearer_auth(ADMIN_TOKEN)
            .body(body.to_owned())
            .send()
            .await
            .expect("send the request")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("send the request")
    }
}

/// The status, and the body as JSON (Null when empty or not JSON).
pub async fn status_and_json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("read the body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The `error` message of a JSON error body.
pub async fn error_of(response: reqwest::Response, expected_status: u16) -> String {
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, expected_status, "{body}");
    body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {body}"))
        .to_owned()
}

// ------------------------------------------------------------------- bodies

/// A Notion page event (2025-09-03 shape), authored by a person, with a
/// fresh event id.
pub fn page_event(kind: &str, page_id: &str, parent: Value) -> Value {
    json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "timestamp": "2025-06-01T10:00:00.000Z",
        "workspace_id": "13950b26-c203-4f3b-b97d-93ec06319565",
        "workspace_name": "Team",
        "subscription_id": "29d75c0d-5546-4414-8459-7b7a92f1fc4b",
        "integration_id": "0ef2e755-4912-8096-91c1-00376a88a5ca",
        "type": kind,
        "authors": [{"id": PERSON_ID, "type": "person"}],
        "attempt_number": 1,
        "entity": {"id": page_id, "type": "page"},
        "data": {"parent": parent},
    })
}

pub fn parent_of_specs() -> Value {
    json!({"id": SPECS_DB, "type": "database", "data_source_id": SPECS_DS})
}

pub fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("serialize")
}

pub fn new_page_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An Airtable ping for `webhook_id` (the pyairtable vector's shape).
pub fn ping(webhook_id: &str) -> Vec<u8> {
    bytes(&json!({
        "base": {"id": BASE_ID},
        "webhook": {"id": webhook_id},
        "timestamp": "2022-02-01T21:25:05.663Z",
    }))
}

/// Register `WEBHOOK_ID` with `MAC_SECRET`, as `webhooks ensure` would.
pub async fn register_webhook(store: &Store) {
    let webhook = NewAirtableWebhook {
        webhook_id: WEBHOOK_ID.into(),
        pair: "specs".into(),
        base_id: BASE_ID.into(),
        table_id: "tbl00000000000000".into(),
        mac_secret_base64: Secret::new(MAC_SECRET),
        expires_at: None,
        notification_url: None,
    };
    store.upsert_webhook(&webhook, 0).await.expect("register");
}

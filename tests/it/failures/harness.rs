//! What the failure tests share: both sandbox servers seeded with the team's
//! workspace, the real `serve` binary run against them (started, killed,
//! terminated and restarted on the same database and port), a test-side
//! webhook sender that signs Notion events and retries what was not
//! acknowledged, store inspection, and polling with deadlines.
#![allow(dead_code)]

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use notion_airtable_sync::{
    sandbox::{
        airtable::{AirtableSandbox, AirtableSandboxConfig, TeamAirtable},
        notion::{NotionSandbox, NotionSandboxConfig, TeamNotion},
    },
    signature::notion_signature,
    store::{JobState, Store},
};
use serde_json::{Value, json};
use sqlx::Connection;

pub const ADMIN_TOKEN: &str = "failure-suite-admin";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh database of `backend` for a test whose files live in `dir`.
pub async fn database_url(backend: Backend, dir: &Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.join("sync.db").display()),
        Backend::Postgres => crate::common::fresh_postgres_database().await,
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A temporary folder, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let dir = crate::common::unique_temp_folder();
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Poll `check` until it returns `Some`, or fail after `secs` seconds.
pub async fn eventually<T>(secs: u64, what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Poll `mismatches` until it returns none, or fail after `secs` seconds
/// showing the last ones.
pub async fn until_none(secs: u64, what: &str, mismatches: impl AsyncFnMut() -> Vec<String>) {
    if let Err(left) = try_until_none(secs, mismatches).await {
        panic!("timed out waiting for {what}; still: {left:#?}");
    }
}

/// Poll `mismatches` until it returns none; after `secs` seconds, the last
/// ones (so the caller can show more before failing).
pub async fn try_until_none(
    secs: u64,
    mut mismatches: impl AsyncFnMut() -> Vec<String>,
) -> Result<(), Vec<String>> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let left = mismatches().await;
        if left.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(left);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ----------------------------------------------------------------- sandboxes

/// Both vendors' sandboxes with the team's 47 specs, real rate limits on.
pub struct Sandboxes {
    pub notion: NotionSandbox,
    pub airtable: AirtableSandbox,
    pub team_n: TeamNotion,
    pub team_a: TeamAirtable,
}

impl Sandboxes {
    pub async fn start() -> Self {
        let notion = NotionSandbox::start_local(NotionSandboxConfig::default())
            .await
            .unwrap();
        let airtable = AirtableSandbox::start_local(AirtableSandboxConfig {
            penalty: Duration::from_secs(1),
            ..AirtableSandboxConfig::default()
        })
        .await
        .unwrap();
        let team_n = notion.seed_team();
        let team_a = airtable.seed_team();
        Sandboxes {
            notion,
            airtable,
            team_n,
            team_a,
        }
    }

    pub fn person(&self) -> String {
        self.team_n.people[0].1.clone()
    }

    pub fn rows(&self) -> Vec<Value> {
        self.airtable
            .records(&self.team_a.base_id, &self.team_a.table_id)
    }

    /// Rows whose link field names `page_id` (exactly one when in sync).
    pub fn rows_for(&self, page_id: &str) -> Vec<Value> {
        self.rows()
            .into_iter()
            .filter(|r| r["fields"]["Notion Page ID"] == json!(page_id))
            .collect()
    }

    pub fn row_for(&self, page_id: &str) -> Option<Value> {
        self.rows_for(page_id).into_iter().next()
    }

    pub fn record_id(&self, page_id: &str) -> String {
        self.row_for(page_id).expect("a linked row")["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A person renames a page (the `Name` title, synced both ways).
    pub fn rename_page(&self, page_id: &str, name: &str) {
        self.notion
            .update_page_as_person(
                page_id,
                &self.person(),
                json!({ "Name": { "title": [{ "text": { "content": name } }] } }),
            )
            .unwrap();
    }

    /// A person edits a row's cells.
    pub fn edit_row(&self, page_id: &str, fields: Value) {
        let record = self.record_id(page_id);
        self.airtable
            .update_record_as_person(&self.team_a.base_id, &self.team_a.table_id, &record, fields)
            .unwrap();
    }

    pub fn notion_name(&self, page_id: &str) -> String {
        plain_text(&self.notion.page(page_id).unwrap()["properties"]["Name"])
    }

    /// `Spec Name` of the page's row, if it has exactly one.
    pub fn airtable_name(&self, page_id: &str) -> Option<String> {
        let rows = self.rows_for(page_id);
        (rows.len() == 1).then(|| {
            rows[0]["fields"]["Spec Name"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
    }

    /// Write requests both sandboxes have answered (reads and queries aside).
    pub fn writes(&self) -> u64 {
        let n = self.notion.calls().snapshot();
        let a = self.airtable.calls().snapshot();
        n.iter()
            .chain(&a)
            .filter(|c| {
                c.method != "GET" && !c.route.contains("/query") && !c.route.contains("listRecords")
            })
            .map(|c| c.count)
            .sum()
    }
}

/// The text of a title or rich text property.
pub fn plain_text(prop: &Value) -> String {
    let ty = prop["type"].as_str().unwrap_or("rich_text");
    prop[ty]
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .filter_map(|t| t["plain_text"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

/// The name of a select or status property.
pub fn select_name(prop: &Value) -> Value {
    let ty = prop["type"].as_str().unwrap_or("select");
    prop[ty]["name"].clone()
}

// ------------------------------------------------------------------ service

/// The `serve` binary against the sandboxes, on a fixed port and database
/// so that it can be killed and started again as the same service.
pub struct Service {
    pub db_url: String,
    pub url: String,
    /// The Notion webhook secret the service verifies with (the
    /// subscription's token, or one the test signs with itself).
    pub notion_secret: String,
    port: u16,
    dir: PathBuf,
    /// Register an Airtable webhook at start (`PUBLIC_URL` set).
    public_url: bool,
    notion_url: String,
    airtable_url: String,
    notion_token: String,
    airtable_token: String,
    sweep_at_start: bool,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

/// How the service is set up.
pub struct Options {
    /// Subscribe the service to the Notion sandbox's webhooks; otherwise the
    /// test is the only sender of Notion events.
    pub notion_webhooks: bool,
    /// Register an Airtable webhook at start (`PUBLIC_URL`).
    pub airtable_webhooks: bool,
    /// Text replacements applied to `sync.example.toml` (after ids and
    /// `debounce_ms = 0`).
    pub config_edits: Vec<(String, String)>,
    /// `SWEEP_AT_START`: off, `start_synced` asks for the first full sweep
    /// through `POST /reconcile`, and a restart sweeps nothing.
    pub sweep_at_start: bool,
    /// More environment for `serve` (e.g. `PRUNE_INTERVAL_SECS`).
    pub env: Vec<(String, String)>,
    /// Event types of the Notion subscription (None: all of them).
    pub notion_event_types: Option<Vec<&'static str>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            notion_webhooks: true,
            airtable_webhooks: true,
            config_edits: Vec::new(),
            sweep_at_start: true,
            env: Vec::new(),
            notion_event_types: None,
        }
    }
}

impl Service {
    pub fn new(sb: &Sandboxes, dir: &Path, db_url: &str, options: Options) -> Self {
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let notion_secret = if options.notion_webhooks {
            let endpoint = format!("{url}/webhooks/notion");
            let sub = match &options.notion_event_types {
                Some(types) => sb.notion.subscribe_to(&endpoint, types),
                None => sb.notion.subscribe(&endpoint),
            };
            sb.notion
                .verify_subscription(&sub.id, &sub.verification_token)
                .unwrap();
            sub.verification_token
        } else {
            format!("secret_{}", uuid::Uuid::new_v4().simple())
        };
        let mut config = std::fs::read_to_string("sync.example.toml")
            .unwrap()
            .replace(
                "00000000-0000-0000-0000-000000000000",
                &sb.team_n.database_id,
            )
            .replace("appXXXXXXXXXXXXXX", &sb.team_a.base_id)
            .replace("debounce_ms = 2000", "debounce_ms = 0");
        for (from, to) in &options.config_edits {
            assert!(config.contains(from.as_str()), "config has {from}");
            config = config.replace(from.as_str(), to);
        }
        std::fs::write(dir.join("sync.toml"), config).unwrap();
        Service {
            db_url: db_url.to_owned(),
            url,
            notion_secret,
            port,
            dir: dir.to_owned(),
            public_url: options.airtable_webhooks,
            notion_url: sb.notion.base_url(),
            airtable_url: sb.airtable.base_url(),
            notion_token: sb.notion.token().to_owned(),
            airtable_token: sb.airtable.token().to_owned(),
            sweep_at_start: options.sweep_at_start,
            env: options.env,
            child: None,
        }
    }

    /// Start the process (again).
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        // An empty PUBLIC_URL counts as unset: no Airtable webhook.
        let public_url = if self.public_url {
            self.url.clone()
        } else {
            String::new()
        };
        let mut command = Command::new(env!("CARGO_BIN_EXE_notion-airtable-sync"));
        command
            .arg("serve")
            .current_dir(&self.dir)
            .env("DATABASE_URL", &self.db_url)
            .env("LISTEN_ADDR", format!("127.0.0.1:{}", self.port))
            .env("NOTION_TOKEN", &self.notion_token)
            .env("AIRTABLE_TOKEN", &self.airtable_token)
            .env("NOTION_API_URL", &self.notion_url)
            .env("AIRTABLE_API_URL", &self.airtable_url)
            .env("NOTION_WEBHOOK_SECRET", &self.notion_secret)
            .env("PUBLIC_URL", public_url)
            .env("ADMIN_TOKEN", ADMIN_TOKEN)
            .env(
                "RUST_LOG",
                std::env::var("FAILURES_RUST_LOG").unwrap_or_else(|_| "error".into()),
            )
            .env("SWEEP_AT_START", self.sweep_at_start.to_string())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        self.child = Some(command.spawn().unwrap());
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then wait for the exit (failing after `secs`).
    pub fn terminate(&mut self, secs: u64) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM");
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("serve did not exit within {secs} s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait until `/readyz` answers 200.
    pub async fn ready(&self, secs: u64) {
        let http = reqwest::Client::new();
        let url = format!("{}/readyz", self.url);
        eventually(secs, "serve to be ready", async || {
            let r = http.get(&url).send().await.ok()?;
            (r.status() == 200).then_some(())
        })
        .await;
    }

    /// Start and wait until the initial sweep (at start, or asked for
    /// when `SWEEP_AT_START` is off) has linked all 47 specs.
    pub async fn start_synced(&mut self, sb: &Sandboxes) {
        self.start();
        self.ready(30).await;
        if !self.sweep_at_start {
            self.reconcile(true).await;
        }
        eventually(60, "the initial sync", async || {
            (sb.rows().len() == 47).then_some(())
        })
        .await;
    }

    pub async fn store(&self) -> Store {
        Store::connect(&self.db_url).await.unwrap()
    }

    /// `POST /reconcile` (a sweep of every pair).
    pub async fn reconcile(&self, full: bool) {
        let r = reqwest::Client::new()
            .post(format!("{}/reconcile", self.url))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({ "full": full }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "POST /reconcile: {}", r.status());
    }

    pub async fn admin_get(&self, path: &str) -> Value {
        let r = reqwest::Client::new()
            .get(format!("{}{path}", self.url))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

// ------------------------------------------------------------------ sender

/// A signed Notion `page.properties_updated` event for a page of the team's
/// data source, as Notion sends it (authored by a person).
pub fn page_event(sb: &Sandboxes, event_id: &str, page_id: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": event_id,
        "timestamp": "2026-06-01T10:00:00.000Z",
        "workspace_id": "13950b26-c203-4f3b-b97d-93ec06319565",
        "subscription_id": "29d75c0d-5546-4414-8459-7b7a92f1fc4b",
        "integration_id": "0ef2e755-4912-8096-91c1-00376a88a5ca",
        "type": "page.properties_updated",
        "authors": [{ "id": sb.person(), "type": "person" }],
        "attempt_number": 1,
        "entity": { "id": page_id, "type": "page" },
        "data": { "parent": {
            "id": sb.team_n.database_id,
            "type": "database",
            "data_source_id": sb.team_n.data_source_id,
        } },
    }))
    .unwrap()
}

/// POST a Notion delivery signed with `secret`; `None` when no answer came
/// (connection refused or reset: the service is down or was killed).
pub async fn deliver(
    http: &reqwest::Client,
    url: &str,
    secret: &str,
    body: &[u8],
) -> Option<reqwest::StatusCode> {
    http.post(format!("{url}/webhooks/notion"))
        .header("content-type", "application/json")
        .header("x-notion-signature", notion_signature(secret, body))
        .body(body.to_vec())
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()
        .map(|r| r.status())
}

// ------------------------------------------------------------------ store

/// A number from `sql` (one row, one BIGINT column), through a connection
/// of its own.
pub async fn scalar(db_url: &str, sql: &str) -> i64 {
    if db_url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(db_url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
    } else {
        let mut c = sqlx::PgConnection::connect(db_url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
    }
}

/// Event ids present in the Notion inbox.
pub async fn inbox_ids(db_url: &str) -> std::collections::HashSet<String> {
    let sql = "SELECT event_id FROM webhook_inbox WHERE source = 'notion'";
    let ids: Vec<String> = if db_url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(db_url).await.unwrap();
        sqlx::query_scalar(sql).fetch_all(&mut c).await.unwrap()
    } else {
        let mut c = sqlx::PgConnection::connect(db_url).await.unwrap();
        sqlx::query_scalar(sql).fetch_all(&mut c).await.unwrap()
    };
    ids.into_iter().collect()
}

/// No dead job (listing them when there are).
pub async fn assert_no_dead_jobs(store: &Store) {
    let dead = store.list_jobs(Some(JobState::Dead), 20).await.unwrap();
    assert!(dead.is_empty(), "dead jobs: {dead:#?}");
}

/// Wait until no job is pending or running.
pub async fn until_idle(store: &Store, secs: u64) {
    eventually(secs, "an empty queue", async || {
        let c = store.job_counts().await.ok()?;
        (c.pending + c.running == 0).then_some(())
    })
    .await;
}

/// Keys of the jobs pending or running now.
pub async fn live_job_keys(store: &Store) -> std::collections::BTreeSet<String> {
    let mut keys = std::collections::BTreeSet::new();
    for state in [JobState::Pending, JobState::Running] {
        for job in store.list_jobs(Some(state), 10_000).await.unwrap() {
            keys.insert(job.key);
        }
    }
    keys
}

/// Every key in `keys` has a job that finished (done) at or after `since`:
/// the work the job table held was done from it.
pub async fn assert_done_since(
    store: &Store,
    keys: &std::collections::BTreeSet<String>,
    since: i64,
) {
    let done = store
        .list_jobs(Some(JobState::Done), 100_000)
        .await
        .unwrap();
    let missing: Vec<&String> = keys
        .iter()
        .filter(|k| {
            !done
                .iter()
                .any(|j| &j.key == *k && j.finished_at.is_some_and(|at| at >= since))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "live at the restart, never done after it: {missing:?}"
    );
}

/// No sweep was queued at or after `since` (so nothing but the job table and
/// the deliveries could bring the two sides together).
pub async fn assert_no_sweep_since(store: &Store, since: i64) {
    let jobs = store.list_jobs(None, 100_000).await.unwrap();
    let sweeps: Vec<_> = jobs
        .iter()
        .filter(|j| j.kind == "sweep" && j.created_at >= since)
        .collect();
    assert!(sweeps.is_empty(), "sweeps after the restart: {sweeps:#?}");
}

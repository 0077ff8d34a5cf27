//! What the failure tests share: both sandbox servers seeded with the team's
//! workspace, the real `serve` binary run against them (started, killed,
//! terminated and restarted on the same database and port), a test-side
//! webhook sender that signs Notion events and retries what was not
//! acknowledged, store inspection, and polling with deadlines.
#![allow(dead_code)]

use std::{path::Path, process::ExitStatus, time::Duration};

use notion_airtable_sync::{
    signature::notion_signature,
    store::{JobState, Store},
};
use serde_json::{Value, json};
use sqlx::Connection;

// The shared harness, as the failure tests have always named it here.
pub use crate::common::{
    Backend, TempDir, database_url,
    sandboxes::{Sandboxes, plain_text, select_name},
    wait::{eventually, free_port, try_until_none},
};
use crate::common::{
    mapping::Mapping,
    serve::{Serve, ServeConfig},
};

pub const ADMIN_TOKEN: &str = "failure-suite-admin";

// ------------------------------------------------------------------ service

/// The `serve` binary against the sandboxes, on a fixed port and database
/// so that it can be killed and started again as the same service.
pub struct Service {
    pub db_url: String,
    pub url: String,
    /// The Notion webhook secret the service verifies with (the
    /// subscription's token, or one the test signs with itself).
    pub notion_secret: String,
    config: ServeConfig,
    sweep_at_start: bool,
    serve: Option<Serve>,
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
        let mut config = ServeConfig::new(&sb.notion, &sb.airtable, dir, db_url);
        if options.notion_webhooks {
            match &options.notion_event_types {
                Some(types) => config.subscribe_notion_to(&sb.notion, types),
                None => config.subscribe_notion(&sb.notion),
            }
        }
        if !options.airtable_webhooks {
            config.public_url = None;
        }
        config.admin_token = ADMIN_TOKEN.to_owned();
        config.rust_log = std::env::var("FAILURES_RUST_LOG").unwrap_or_else(|_| "error".into());
        config.env("SWEEP_AT_START", options.sweep_at_start.to_string());
        config.env.extend(options.env);
        let mut mapping =
            Mapping::example(&sb.team_n.database_id, &sb.team_a.base_id).debounce_ms(0);
        for (from, to) in &options.config_edits {
            mapping = mapping.edit(from, to);
        }
        mapping.write_to(dir);
        Service {
            db_url: db_url.to_owned(),
            url: config.url(),
            notion_secret: config.notion_secret.clone(),
            config,
            sweep_at_start: options.sweep_at_start,
            serve: None,
        }
    }

    /// Start the process (again).
    pub fn start(&mut self) {
        assert!(self.serve.is_none(), "already running");
        self.serve = Some(self.config.spawn());
    }

    pub fn pid(&self) -> u32 {
        self.serve.as_ref().expect("running").pid()
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        if let Some(mut serve) = self.serve.take() {
            serve.kill();
        }
    }

    /// SIGTERM, then wait for the exit (failing after `secs`).
    pub fn terminate(&mut self, secs: u64) -> ExitStatus {
        self.serve.take().expect("running").terminate(secs)
    }

    /// Wait until `/readyz` answers 200.
    pub async fn ready(&self, secs: u64) {
        self.serve.as_ref().expect("running").ready(secs).await;
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

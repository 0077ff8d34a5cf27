//! What the pipeline tests share: a seeded [`World`] (both sandbox servers
//! and the team's workspace) with the real `serve` binary run against it on
//! the test's database, in any number of processes and roles; signed Notion
//! events; the sandboxes' counters sampled over time; and store checks.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use notion_airtable_sandbox::{common::CallLog, team::NotionStatus};
use notion_airtable_sync::{
    signature::notion_signature,
    store::{Job, JobState, Store},
};
use serde_json::{Value, json};

use crate::common::{
    TestDb,
    mapping::Mapping,
    serve::ServeConfig,
    world::{World, world_seeded},
};
pub use crate::common::{
    serve::Serve,
    wait::{eventually, free_port},
};

pub const ADMIN_TOKEN: &str = "pipeline-admin";

/// How the deployment is configured (default: no debounce).
#[derive(Default)]
pub struct Options {
    /// `debounce_ms` of the pair.
    pub debounce_ms: u64,
    /// `JOB_LEASE_SECS` of every process (None: the default, 30 s).
    pub lease_secs: Option<u64>,
    /// The type of Notion's Status column (`select` by default; `status`,
    /// whose options the API cannot create, as real databases mostly have).
    pub status: NotionStatus,
}

/// A seeded world, a database and a folder with `sync.toml`; `serve`
/// processes are started on it with [`Deployment::spawn`].
pub struct Deployment {
    pub w: World,
    pub store: Store,
    /// The port of the first process with an HTTP server (the one the
    /// sandboxes deliver webhooks to).
    pub port: u16,
    /// The Notion subscription's verification token (the webhook secret).
    pub secret: String,
    pub http: reqwest::Client,
    /// How every process is started (port and role set per spawn).
    serve: ServeConfig,
    dir: PathBuf,
}

impl Deployment {
    pub async fn new(db: TestDb, options: Options) -> Deployment {
        let db_url = db.url.clone();
        let store = db.store.clone();
        let w = world_seeded(db, options.status).await;
        let dir = crate::common::unique_temp_folder();
        std::fs::create_dir_all(&dir).unwrap();
        let mut serve = ServeConfig::new(&w.notion, &w.airtable, &dir, &db_url);
        serve.subscribe_notion(&w.notion);
        serve.admin_token = ADMIN_TOKEN.to_owned();
        serve.rust_log = std::env::var("PIPELINE_RUST_LOG").unwrap_or_else(|_| "warn".into());
        if let Some(secs) = options.lease_secs {
            serve.env("JOB_LEASE_SECS", secs.to_string());
        }
        Mapping::example(&w.team_n.database_id, &w.team_a.base_id)
            .debounce_ms(options.debounce_ms)
            .write_to(&dir);
        // Building the world read both schemas through the API; Airtable
        // counts those calls against the base's per-second limit, which the
        // service's budget knows nothing of. Let that second pass.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        Deployment {
            port: serve.port,
            secret: serve.notion_secret.clone(),
            w,
            store,
            http: reqwest::Client::new(),
            serve,
            dir,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Start `serve --role <role>`. `port`: where its HTTP server listens
    /// (ignored by workers, which serve none). Every process registers the
    /// Airtable webhook at [`Deployment::url`] (idempotent).
    pub fn spawn(&self, role: &str, port: u16) -> Serve {
        let mut serve = self.serve.clone();
        serve.role = Some(role.to_owned());
        serve.port = port;
        serve.spawn()
    }

    /// `serve` (role all) on [`Deployment::port`].
    pub fn spawn_all(&self) -> Serve {
        self.spawn("all", self.port)
    }

    /// Wait until the HTTP server on [`Deployment::port`] answers `/readyz`.
    pub async fn ready(&self, secs: u64) {
        let url = format!("{}/readyz", self.url());
        eventually(secs, "the service to be ready", async || {
            let r = self.http.get(&url).send().await.ok()?;
            (r.status() == 200).then_some(())
        })
        .await;
    }

    /// The first sync: one row per page.
    pub async fn synced(&self, secs: u64) {
        eventually(secs, "a row for every page", async || {
            (self.w.rows().len() == self.w.team_n.page_ids.len()).then_some(())
        })
        .await;
    }

    /// `POST /reconcile`, as the cron calls it.
    pub async fn reconcile(&self, full: bool) {
        let response = self
            .http
            .post(format!("{}/reconcile", self.url()))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({ "full": full }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202, "POST /reconcile");
    }

    /// POST a Notion delivery signed with the subscription's secret.
    pub async fn deliver_notion(&self, body: Vec<u8>) -> u16 {
        self.http
            .post(format!("{}/webhooks/notion", self.url()))
            .header("content-type", "application/json")
            .header("x-notion-signature", notion_signature(&self.secret, &body))
            .body(body)
            .send()
            .await
            .expect("deliver a Notion event")
            .status()
            .as_u16()
    }

    /// A person's `page.properties_updated` event with a fresh id.
    pub fn page_event(&self, page_id: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "id": uuid::Uuid::new_v4().to_string(),
            "timestamp": "2026-06-01T10:00:00.000Z",
            "workspace_id": "13950b26-c203-4f3b-b97d-93ec06319565",
            "workspace_name": "Team",
            "subscription_id": "29d75c0d-5546-4414-8459-7b7a92f1fc4b",
            "integration_id": "0ef2e755-4912-8096-91c1-00376a88a5ca",
            "type": "page.properties_updated",
            "authors": [{ "id": self.w.person(), "type": "person" }],
            "attempt_number": 1,
            "entity": { "id": page_id, "type": "page" },
            "data": {
                "parent": {
                    "id": self.w.team_n.database_id,
                    "type": "database",
                    "data_source_id": self.w.team_n.data_source_id,
                },
                "updated_properties": ["Priority"],
            },
        }))
        .unwrap()
    }

    /// The Airtable record id of a page's row.
    pub fn record_id(&self, page_id: &str) -> String {
        self.w.row_for(page_id)["id"].as_str().unwrap().to_owned()
    }

    /// A person edits a page's properties in Notion.
    pub fn edit_page(&self, page_id: &str, properties: Value) {
        self.w
            .notion
            .update_page_as_person(page_id, &self.w.person(), properties)
            .unwrap();
    }

    /// A person edits a page's row in Airtable.
    pub fn edit_row(&self, page_id: &str, fields: Value) {
        let (base, table) = (&self.w.team_a.base_id, &self.w.team_a.table_id);
        self.w
            .airtable
            .update_record_as_person(base, table, &self.record_id(page_id), fields)
            .unwrap();
    }

    /// Wait until no job is pending or running for `quiet` in a row (echo
    /// webhooks and debounced jobs arrive a little after the writes).
    pub async fn idle(&self, quiet: Duration, secs: u64) {
        let mut since: Option<Instant> = None;
        eventually(secs, "an idle queue", async || {
            let c = self.store.job_counts().await.ok()?;
            if c.pending + c.running > 0 {
                since = None;
                return None;
            }
            let at = *since.get_or_insert_with(Instant::now);
            (at.elapsed() >= quiet).then_some(())
        })
        .await;
    }

    pub async fn jobs(&self, state: JobState) -> Vec<Job> {
        self.store.list_jobs(Some(state), 100_000).await.unwrap()
    }

    pub async fn assert_no_dead_jobs(&self) {
        let dead = self.jobs(JobState::Dead).await;
        assert!(dead.is_empty(), "dead jobs: {dead:#?}");
    }

    /// Exactly one row per page, and no row without a page.
    pub fn assert_one_row_per_page(&self) {
        let rows = self.w.rows();
        let mut per_page: HashMap<String, usize> = HashMap::new();
        for row in &rows {
            let page = row["fields"]["Notion Page ID"].as_str().unwrap_or("");
            *per_page.entry(page.to_owned()).or_default() += 1;
        }
        let doubles: Vec<_> = per_page.iter().filter(|(_, n)| **n > 1).collect();
        assert!(doubles.is_empty(), "duplicate rows: {doubles:?}");
        assert_eq!(rows.len(), self.w.team_n.page_ids.len(), "rows");
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The done jobs of one key.
pub fn runs_of<'a>(jobs: &'a [Job], key: &str) -> Vec<&'a Job> {
    jobs.iter().filter(|j| j.key == key).collect()
}

/// The Notion page's reconcile key (as the ingest names it).
pub fn page_key(page_id: &str) -> String {
    format!("record:specs:page:{page_id}")
}

// ------------------------------------------------------------ call sampling

/// A counter's value at an instant.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at: Instant,
    pub notion: u64,
    pub airtable: u64,
    /// Requests answered 429 so far.
    pub notion_429: u64,
    pub airtable_429: u64,
}

/// Samples both sandboxes' request counters every `tick` in a background
/// task, so that request rates can be computed afterwards: the counters
/// have no timestamps, and a count difference between two samples at most
/// a second apart is the number of requests answered within that second.
pub struct Sampler {
    samples: Arc<Mutex<Vec<Sample>>>,
    task: tokio::task::JoinHandle<()>,
}

/// Requests that count against the Notion integration's budget.
pub fn notion_requests(calls: &CallLog) -> u64 {
    calls.total()
}

/// Requests that count against the Airtable base's budget: every route
/// naming a base (all but `whoami`).
pub fn airtable_base_requests(calls: &CallLog) -> u64 {
    calls
        .snapshot()
        .iter()
        .filter(|c| !c.route.contains("whoami"))
        .map(|c| c.count)
        .sum()
}

impl Sampler {
    pub fn start(w: &World, tick: Duration) -> Sampler {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (notion, airtable) = (w.notion.clone(), w.airtable.clone());
        let into = samples.clone();
        let task = tokio::spawn(async move {
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let sample = Sample {
                    at: Instant::now(),
                    notion: notion_requests(notion.calls()),
                    airtable: airtable_base_requests(airtable.calls()),
                    notion_429: notion.calls().count_status(429),
                    airtable_429: airtable.calls().count_status(429),
                };
                into.lock().unwrap().push(sample);
            }
        });
        Sampler { samples, task }
    }

    pub fn samples(&self) -> Vec<Sample> {
        self.samples.lock().unwrap().clone()
    }

    /// The most requests seen within any `window` (by pairs of samples at
    /// most `window` apart), for Notion and for Airtable.
    pub fn max_in(&self, window: Duration) -> (u64, u64) {
        max_in(&self.samples(), window)
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn max_in(samples: &[Sample], window: Duration) -> (u64, u64) {
    let (mut notion, mut airtable) = (0, 0);
    let mut start = 0;
    for last in samples {
        while last.at.duration_since(samples[start].at) > window {
            start += 1;
        }
        let first = &samples[start];
        notion = notion.max(last.notion - first.notion);
        airtable = airtable.max(last.airtable - first.airtable);
    }
    (notion, airtable)
}

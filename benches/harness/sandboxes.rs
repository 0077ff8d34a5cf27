//! Both sandbox servers, in this process, seeded with the team's workspace.
//! The benchmarks act as people through the sandboxes' own person API and
//! read state and call counters through the handles (neither is counted as
//! an API call); nothing here changes how the sandboxes behave.

use std::time::Duration;

use anyhow::Context as _;
use notion_airtable_sandbox::{
    airtable::{AirtableSandbox, AirtableSandboxConfig, TeamAirtable},
    common::{CallCount, Faults},
    notion::{NotionSandbox, NotionSandboxConfig, TeamNotion},
    team,
};
use serde_json::{Value, json};

/// How the servers are configured for one scenario.
#[derive(Clone, Copy, Debug)]
pub struct SandboxOpts {
    /// Latency added to every API response.
    pub latency_ms: u64,
    /// Airtable's penalty after a 429 (30 s in production).
    pub penalty: Duration,
    /// Sandbox clocks run this many seconds from now while seeding.
    pub clock_offset: i64,
}

impl Default for SandboxOpts {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            penalty: Duration::from_secs(30),
            clock_offset: 0,
        }
    }
}

pub struct Sandboxes {
    pub notion: NotionSandbox,
    pub airtable: AirtableSandbox,
    pub team_n: TeamNotion,
    pub team_a: TeamAirtable,
    http: reqwest::Client,
}

/// The runtime the sandbox servers run on: their own, with threads to
/// spare. They stand for two vendors' server fleets, where the moment a
/// request arrives (what Airtable's per-second window counts) never waits
/// for another request's handler. On the harness's two worker threads, a
/// 50,000-row table's writes (answered a median 130 ms and a p99 600 ms
/// after the 250 ms latency: the sandbox's own work under its store lock)
/// held the next requests back by up to 330 ms, and the sandbox's window
/// then counted them as bunched arrivals: 429s the vendor's network would
/// not cause (traced in the 50,000-spec sync).
fn sandbox_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(8)
            .thread_name("sandbox")
            .enable_all()
            .build()
            .expect("the sandboxes' runtime")
    })
}

/// Start a server on [`sandbox_runtime`] (its listener and tasks live there).
async fn on_sandbox_runtime<T: Send + 'static>(
    start: impl std::future::Future<Output = anyhow::Result<T>> + Send + 'static,
) -> anyhow::Result<T> {
    sandbox_runtime().spawn(start).await?
}

impl Sandboxes {
    /// Both servers with the vendors' real rate limits (Notion 3/s, Airtable
    /// 5/s per base), seeded with the team's 47 specs and an empty table.
    pub async fn start(opts: SandboxOpts) -> anyhow::Result<Self> {
        let faults = Faults {
            latency_ms: opts.latency_ms,
            ..Faults::default()
        };
        let notion_config = NotionSandboxConfig {
            faults: faults.clone(),
            ..NotionSandboxConfig::default()
        };
        let notion = on_sandbox_runtime(NotionSandbox::start_local(notion_config)).await?;
        let airtable_config = AirtableSandboxConfig {
            penalty: opts.penalty,
            faults,
            ..AirtableSandboxConfig::default()
        };
        let airtable = on_sandbox_runtime(AirtableSandbox::start_local(airtable_config)).await?;
        let http = reqwest::Client::new();
        // The clocks move before anything is seeded, so every page and row
        // is stamped at the offset.
        set_clocks(&http, &notion, &airtable, opts.clock_offset).await?;
        Ok(Self {
            team_n: notion.seed_team(),
            team_a: airtable.seed_team(),
            notion,
            airtable,
            http,
        })
    }

    /// Move both sandbox clocks (timestamps of edits, pages and rows).
    pub async fn set_clocks(&self, offset: i64) -> anyhow::Result<()> {
        set_clocks(&self.http, &self.notion, &self.airtable, offset).await
    }

    /// Add `n` synthetic specs to the Notion database, written by the team's
    /// people through the sandbox's person API (as someone typing them in).
    pub fn add_specs(&self, n: usize) -> anyhow::Result<Vec<String>> {
        let people = &self.team_n.people;
        (0..n)
            .map(|i| {
                let person = &people[i % people.len()].1;
                let props = json!({
                    "Name": { "title": [{ "text": { "content": format!("Synthetic spec {i:05}") } }] },
                    "Status": { "select": { "name": team::STATUSES[i % team::STATUSES.len()] } },
                    "Priority": { "select": { "name": team::PRIORITIES[i % team::PRIORITIES.len()] } },
                    "Owner": { "people": [{ "object": "user", "id": person }] },
                    "Target Quarter": { "select": { "name": team::QUARTERS[i % team::QUARTERS.len()] } },
                });
                self.notion
                    .insert_page_as_person(&self.team_n.data_source_id, person, props)
                    .with_context(|| format!("adding synthetic spec {i}"))
            })
            .collect()
    }

    pub fn person(&self) -> String {
        self.team_n.people[0].1.clone()
    }

    pub fn rows(&self) -> Vec<Value> {
        self.airtable
            .records(&self.team_a.base_id, &self.team_a.table_id)
    }

    /// The Airtable row linked to `page_id`, if any.
    pub fn row_for(&self, page_id: &str) -> Option<Value> {
        self.rows()
            .into_iter()
            .find(|r| r["fields"]["Notion Page ID"] == json!(page_id))
    }

    pub fn update_row(&self, record_id: &str, fields: Value) -> anyhow::Result<()> {
        self.airtable.update_record_as_person(
            &self.team_a.base_id,
            &self.team_a.table_id,
            record_id,
            fields,
        )
    }

    pub fn update_page(&self, page_id: &str, properties: Value) -> anyhow::Result<()> {
        self.notion
            .update_page_as_person(page_id, &self.person(), properties)
    }

    /// Both servers' counters.
    pub fn calls(&self) -> Calls {
        Calls {
            notion: self.notion.calls().snapshot(),
            airtable: self.airtable.calls().snapshot(),
        }
    }

    pub fn reset_calls(&self) {
        self.notion.calls().reset();
        self.airtable.calls().reset();
    }
}

async fn set_clocks(
    http: &reqwest::Client,
    notion: &NotionSandbox,
    airtable: &AirtableSandbox,
    offset: i64,
) -> anyhow::Result<()> {
    notion.set_clock_offset_seconds(offset);
    let url = format!("{}/_sandbox/clock", airtable.base_url());
    let response = http
        .post(url)
        .json(&json!({ "offset_seconds": offset }))
        .send()
        .await?;
    anyhow::ensure!(
        response.status().is_success(),
        "setting the Airtable clock: {}",
        response.status()
    );
    Ok(())
}

/// A snapshot of both servers' call counters.
#[derive(Clone, Debug, Default)]
pub struct Calls {
    pub notion: Vec<CallCount>,
    pub airtable: Vec<CallCount>,
}

impl Calls {
    pub fn notion_total(&self) -> u64 {
        self.notion.iter().map(|c| c.count).sum()
    }

    pub fn airtable_total(&self) -> u64 {
        self.airtable.iter().map(|c| c.count).sum()
    }

    pub fn total(&self) -> u64 {
        self.notion_total() + self.airtable_total()
    }

    /// Requests that change data on either side (reads, listings, queries
    /// and payload fetches excluded).
    pub fn writes(&self) -> u64 {
        self.notion
            .iter()
            .chain(&self.airtable)
            .filter(|c| is_write(c))
            .map(|c| c.count)
            .sum()
    }

    pub fn status(&self, status: u16) -> u64 {
        self.notion
            .iter()
            .chain(&self.airtable)
            .filter(|c| c.status == status)
            .map(|c| c.count)
            .sum()
    }

    /// Notion data source queries (list calls).
    pub fn notion_lists(&self) -> u64 {
        self.notion
            .iter()
            .filter(|c| c.route.ends_with("/query"))
            .map(|c| c.count)
            .sum()
    }

    /// Airtable list-records calls (GET on the table or POST listRecords).
    pub fn airtable_lists(&self) -> u64 {
        self.airtable
            .iter()
            .filter(|c| {
                (c.method == "GET" && c.route == "/v0/{base}/{table}")
                    || c.route.ends_with("/listRecords")
            })
            .map(|c| c.count)
            .sum()
    }

    /// `self - earlier`, per counter.
    pub fn since(&self, earlier: &Calls) -> Calls {
        Calls {
            notion: diff(&self.notion, &earlier.notion),
            airtable: diff(&self.airtable, &earlier.airtable),
        }
    }

    /// `METHOD route status ×n`, for the notes.
    pub fn describe(&self) -> String {
        let side = |name: &str, calls: &[CallCount]| {
            let parts: Vec<String> = calls
                .iter()
                .filter(|c| c.count > 0)
                .map(|c| format!("{} {} {} ×{}", c.method, c.route, c.status, c.count))
                .collect();
            format!("{name}: [{}]", parts.join(", "))
        };
        format!(
            "{}; {}",
            side("Notion", &self.notion),
            side("Airtable", &self.airtable)
        )
    }
}

fn is_write(c: &CallCount) -> bool {
    c.method != "GET" && !c.route.ends_with("/query") && !c.route.ends_with("/listRecords")
}

fn diff(now: &[CallCount], before: &[CallCount]) -> Vec<CallCount> {
    now.iter()
        .map(|c| {
            let earlier = before
                .iter()
                .find(|b| b.method == c.method && b.route == c.route && b.status == c.status)
                .map_or(0, |b| b.count);
            CallCount {
                count: c.count.saturating_sub(earlier),
                ..c.clone()
            }
        })
        .filter(|c| c.count > 0)
        .collect()
}

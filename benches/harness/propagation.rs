//! Figure 3: propagation latency each direction, through the real `serve`
//! with both vendors' webhooks flowing (Notion subscription verified,
//! Airtable webhook registered by the service), 50 ms added to every API
//! response, no webhook delay, debounce 0, the vendors' real rate limits.
//!
//! A person edits a Notion page's title (→ Airtable's "Spec Name") or an
//! Airtable row's Sprint (→ Notion's "Sprint"), each with a value never used
//! before; the latency is from the edit to the value being visible on the
//! other side (read from the sandbox's state every 5 ms, not counted as an
//! API call). Edits alternate direction at a fixed interval (open loop)
//! and rotate over the 47 specs, so no record is edited twice in a row.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use notion_airtable_sync::store::Store;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::{
    Settings,
    report::{Report, Row, Verdict, ms},
    sandboxes::{SandboxOpts, Sandboxes},
    service::{Backend, Serve, ServeOpts, wait_idle},
    stats::Percentiles,
};

/// Time between two edits (directions alternate): each direction gets an
/// edit every 1.5 s, well inside both vendors' budgets for the calls one
/// change costs.
const EDIT_INTERVAL: Duration = Duration::from_millis(750);
/// An edit not visible after this long counts as not propagated.
const GIVE_UP: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(5);

/// The service with webhooks flowing both ways, after its start-up sweep.
pub struct WebhookWorld {
    pub sb: Arc<Sandboxes>,
    pub serve: Serve,
    pub store: Store,
    /// Airtable record id of each team page, in page order.
    pub records: Vec<String>,
    /// From spawning `serve` to the 47 rows existing in Airtable.
    pub initial_sync: Duration,
}

impl WebhookWorld {
    pub async fn start(
        settings: &Settings,
        latency_ms: u64,
        debounce_ms: u64,
    ) -> anyhow::Result<Self> {
        let sb = Sandboxes::start(SandboxOpts {
            latency_ms,
            ..SandboxOpts::default()
        })
        .await?;
        let spawned = Instant::now();
        let serve = Serve::start(
            &settings.serve_bin,
            &sb,
            &Backend::Sqlite,
            ServeOpts {
                debounce_ms,
                webhooks: true,
                role: None,
            },
        )
        .await?;
        let store = serve.store().await?;
        let deadline = Instant::now() + Duration::from_secs(120);
        while sb.rows().len() < sb.team_n.page_ids.len() {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the start-up sweep did not create the 47 rows within 120 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let initial_sync = spawned.elapsed();
        wait_idle(&store, Duration::from_secs(2), Duration::from_secs(60)).await;
        let records = sb
            .team_n
            .page_ids
            .iter()
            .map(|p| {
                sb.row_for(p)
                    .and_then(|r| r["id"].as_str().map(str::to_owned))
                    .ok_or_else(|| anyhow::anyhow!("no row for page {p}"))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            sb: Arc::new(sb),
            serve,
            store,
            records,
            initial_sync,
        })
    }
}

/// One way an edit can travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    NotionToAirtable,
    AirtableToNotion,
}

impl Direction {
    pub fn label(self) -> &'static str {
        match self {
            Self::NotionToAirtable => "Notion → Airtable",
            Self::AirtableToNotion => "Airtable → Notion",
        }
    }
}

/// A person's edit with a fresh value; returns what to wait for.
pub fn edit(w: &WebhookWorld, dir: Direction, index: usize, tag: &str) -> anyhow::Result<Expect> {
    let pages = &w.sb.team_n.page_ids;
    match dir {
        Direction::NotionToAirtable => {
            // The first half of the specs.
            let k = index % (pages.len() / 2);
            let title = format!("Bench spec {tag} {index}");
            w.sb.update_page(
                &pages[k],
                json!({ "Name": { "title": [{ "text": { "content": title } }] } }),
            )?;
            Ok(Expect::Row {
                record: w.records[k].clone(),
                field: "Spec Name",
                value: title,
            })
        }
        Direction::AirtableToNotion => {
            let half = pages.len() / 2;
            let k = half + index % (pages.len() - half);
            let sprint = format!("Sprint {tag} {index}");
            w.sb.update_row(&w.records[k], json!({ "Sprint": sprint }))?;
            Ok(Expect::Page {
                page: pages[k].clone(),
                property: "Sprint",
                value: sprint,
            })
        }
    }
}

/// A value expected on one side.
pub enum Expect {
    Row {
        record: String,
        field: &'static str,
        value: String,
    },
    Page {
        page: String,
        property: &'static str,
        value: String,
    },
}

impl Expect {
    pub fn visible(&self, sb: &Sandboxes) -> bool {
        match self {
            Self::Row {
                record,
                field,
                value,
            } => sb
                .airtable
                .record(&sb.team_a.base_id, &sb.team_a.table_id, record)
                .is_some_and(|r| r["fields"][*field] == json!(value)),
            Self::Page {
                page,
                property,
                value,
            } => sb
                .notion
                .page(page)
                .is_some_and(|p| plain_text(&p["properties"][*property]) == *value),
        }
    }

    /// Wait until visible; the time from `since`, or None after [`GIVE_UP`].
    pub async fn wait(&self, sb: &Sandboxes, since: Instant) -> Option<Duration> {
        loop {
            if self.visible(sb) {
                return Some(since.elapsed());
            }
            if since.elapsed() > GIVE_UP {
                return None;
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// The text of a title or rich-text property.
fn plain_text(prop: &Value) -> String {
    let parts = prop["title"]
        .as_array()
        .or_else(|| prop["rich_text"].as_array());
    parts
        .map(|ps| {
            ps.iter()
                .filter_map(|p| p["plain_text"].as_str())
                .collect::<String>()
        })
        .unwrap_or_default()
}

pub async fn run(settings: &Settings, report: &mut Report) {
    if let Err(e) = measure(settings, report).await {
        for dir in [Direction::NotionToAirtable, Direction::AirtableToNotion] {
            report.push(Row::skipped(
                &format!("propagation latency, {}", dir.label()),
                "SQLite",
                format!("{e:#}"),
            ));
        }
    }
}

type Sample = (Direction, Option<Duration>);

async fn measure(settings: &Settings, report: &mut Report) -> anyhow::Result<()> {
    let w = WebhookWorld::start(settings, 50, 0).await?;
    w.sb.reset_calls();
    let total = settings.edits * 2;
    let start = Instant::now();
    let mut watchers: JoinSet<Sample> = JoinSet::new();
    for i in 0..total {
        tokio::time::sleep_until((start + EDIT_INTERVAL * i as u32).into()).await;
        let dir = if i % 2 == 0 {
            Direction::NotionToAirtable
        } else {
            Direction::AirtableToNotion
        };
        let at = Instant::now();
        let expect = edit(&w, dir, i / 2, "p")?;
        let sb = w.sb.clone();
        watchers.spawn(async move { (dir, expect.wait(&sb, at).await) });
    }
    let samples: Vec<Sample> = watchers.join_all().await;
    let calls = w.sb.calls();
    for dir in [Direction::NotionToAirtable, Direction::AirtableToNotion] {
        push(report, settings, dir, &samples);
    }
    report.note(format!(
        "propagation run: {} API calls ({} Notion, {} Airtable), {} of them 429",
        calls.total(),
        calls.notion_total(),
        calls.airtable_total(),
        calls.status(429)
    ));
    w.store.close().await;
    Ok(())
}

fn push(report: &mut Report, settings: &Settings, dir: Direction, samples: &[Sample]) {
    let mine: Vec<Option<Duration>> = samples
        .iter()
        .filter(|(d, _)| *d == dir)
        .map(|(_, l)| *l)
        .collect();
    let seen: Vec<Duration> = mine.iter().flatten().copied().collect();
    let lost = mine.len() - seen.len();
    let p = Percentiles::of(&seen);
    let met = lost == 0
        && p.is_some_and(|p| {
            p.p50 <= Duration::from_millis(300) && p.p99 <= Duration::from_secs(1)
        });
    let measured = match p {
        Some(p) => format!(
            "p50 {}, p99 {}, max {} ({} edits, {lost} not visible within {} s)",
            ms(p.p50),
            ms(p.p99),
            ms(p.max),
            mine.len(),
            GIVE_UP.as_secs()
        ),
        None => format!("no edit became visible ({} edits)", mine.len()),
    };
    report.push(
        Row::new(
            &format!("propagation latency, {}", dir.label()),
            format!(
                "SQLite, 50 ms API latency, real limits, webhooks without delay, debounce 0, {} edits each way, one every {} ms",
                settings.edits,
                (EDIT_INTERVAL * 2).as_millis()
            ),
        )
        .measured(measured)
        .target("p50 ≤ 300 ms, p99 ≤ 1 s")
        .verdict(Verdict::of(met)),
    );
}

//! Propagation latency each direction, through the real `serve` with both
//! vendors' webhooks flowing (Notion subscription verified, Airtable webhook
//! registered by the service) and the vendors' real rate limits, measured
//! twice: the service alone (50 ms added to every API response, no webhook
//! delay, debounce 0), and what a user sees (Notion's aggregated, delayed
//! delivery, the shipped debounce, 250 ms API latency).
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

/// How a run delivers events and answers calls.
struct Conditions {
    label: &'static str,
    latency_ms: u64,
    debounce_ms: u64,
    /// Notion's delivery: events about one page within this window are one
    /// event, and each delivery waits a random delay in `notion_delay_ms`.
    notion_aggregation_ms: u64,
    notion_delay_ms: (u64, u64),
    /// The service-only run has targets; the user's view is reported.
    targets: bool,
    edits: usize,
}

/// The service alone: no webhook delay, debounce 0, 50 ms API latency.
fn service_only(settings: &Settings) -> Conditions {
    Conditions {
        label: "service only: SQLite, 50 ms API latency, real limits, webhooks without delay, debounce 0",
        latency_ms: 50,
        debounce_ms: 0,
        notion_aggregation_ms: 0,
        notion_delay_ms: (0, 0),
        targets: true,
        edits: settings.edits,
    }
}

/// What a user sees: Notion delivers aggregated, delayed events (its docs:
/// "most within a minute", aggregated per entity over a short window; we
/// take a 5 s window and 1-5 s of delivery delay), the shipped 2 s
/// debounce, and 250 ms API latency.
fn users_view(settings: &Settings) -> Conditions {
    Conditions {
        label: "what a user sees: SQLite, 250 ms API latency, real limits, Notion events aggregated over 5 s and delivered 1-5 s later, shipped debounce 2 s",
        latency_ms: 250,
        debounce_ms: 2000,
        notion_aggregation_ms: 5000,
        notion_delay_ms: (1000, 5000),
        targets: false,
        edits: settings.edits.div_ceil(2),
    }
}

pub async fn run(settings: &Settings, report: &mut Report) {
    for conditions in [service_only(settings), users_view(settings)] {
        if let Err(e) = measure(settings, &conditions, report).await {
            for dir in [Direction::NotionToAirtable, Direction::AirtableToNotion] {
                report.push(Row::skipped(
                    &format!("propagation latency, {}", dir.label()),
                    conditions.label,
                    format!("{e:#}"),
                ));
            }
        }
    }
}

type Sample = (Direction, Option<Duration>);

async fn measure(
    settings: &Settings,
    conditions: &Conditions,
    report: &mut Report,
) -> anyhow::Result<()> {
    let w = WebhookWorld::start(settings, conditions.latency_ms, conditions.debounce_ms).await?;
    let mut delivery = w.sb.notion.delivery();
    delivery.aggregation_window_ms = conditions.notion_aggregation_ms;
    (delivery.delay_ms_min, delivery.delay_ms_max) = conditions.notion_delay_ms;
    w.sb.notion.set_delivery(delivery);
    w.sb.reset_calls();
    let total = conditions.edits * 2;
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
        push(report, conditions, dir, &samples);
    }
    report.note(format!(
        "propagation run ({}): {} API calls ({} Notion, {} Airtable), {} of them 429",
        if conditions.targets {
            "service only"
        } else {
            "what a user sees"
        },
        calls.total(),
        calls.notion_total(),
        calls.airtable_total(),
        calls.status(429)
    ));
    w.store.close().await;
    Ok(())
}

fn push(report: &mut Report, conditions: &Conditions, dir: Direction, samples: &[Sample]) {
    let mine: Vec<Option<Duration>> = samples
        .iter()
        .filter(|(d, _)| *d == dir)
        .map(|(_, l)| *l)
        .collect();
    let seen: Vec<Duration> = mine.iter().flatten().copied().collect();
    let lost = mine.len() - seen.len();
    let p = Percentiles::of(&seen);
    let fast =
        p.is_some_and(|p| p.p50 <= Duration::from_millis(300) && p.p99 <= Duration::from_secs(1));
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
    let (target, verdict) = if conditions.targets {
        ("p50 ≤ 300 ms, p99 ≤ 1 s", Verdict::of(lost == 0 && fast))
    } else if lost == 0 {
        (
            "reported beside the service-only figure; none lost",
            Verdict::Reported,
        )
    } else {
        ("none lost", Verdict::Missed)
    };
    let mut row = Row::new(
        &format!("propagation latency, {}", dir.label()),
        format!(
            "{}, {} edits each way, one every {} ms",
            conditions.label,
            conditions.edits,
            (EDIT_INTERVAL * 2).as_millis()
        ),
    )
    .measured(measured)
    .target(target)
    .raw("edits", mine.len())
    .raw("lost", lost)
    .verdict(verdict);
    if let Some(p) = p {
        row = row
            .raw("p50_ms", p.p50.as_secs_f64() * 1000.0)
            .raw("p99_ms", p.p99.as_secs_f64() * 1000.0)
            .raw("max_ms", p.max.as_secs_f64() * 1000.0);
    }
    report.push(row);
}

//! `notion-airtable-sync demo`: the whole product in one process, nothing
//! to install or configure.
//!
//! Both vendors' APIs run here as sandboxes (real rate limits), seeded with
//! the team's 47 specs; the real `serve` runs on a temporary SQLite database
//! with webhooks flowing both ways; a scripted week of edits is made through
//! the sandboxes as people would make them; each step's line says how long
//! the other side took to show it; and a final field-by-field comparison of
//! every linked record decides the exit status.
//!
//! - [`stage`]: sandboxes, seed, config, environment;
//! - [`week`]: the scripted edits and the waits for them;
//! - [`timeline`]: the printed story and the polling helper;
//! - [`mod@compare`]: the verdict, through the engine's conversions.

pub mod compare;
pub mod stage;
pub mod timeline;
pub mod week;

use std::{
    collections::BTreeMap,
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use tokio::sync::oneshot;

use crate::{
    airtable::{AirtableClient, ListParams},
    app::{
        commands::clients,
        serve::{self, Role},
    },
    notion::{NotionClient, Page},
    store::{LinkState, Store},
    sync::{
        body::{self, BODY_FIELD},
        pair::ResolvedPair,
        relation::Targets,
        relation_target::link_targets,
    },
};
use compare::{Comparison, Link, RelationTargets, compare};
use notion_airtable_sandbox::launch::shutdown_signal;
use stage::Stage;
use timeline::{Origin, Timeline, until};

/// The initial sync copies 47 specs; it may take this long at most.
const INITIAL_SYNC_DEADLINE: Duration = Duration::from_secs(60);
/// How long the job queue must stay empty before the final check, so that
/// webhooks for the service's own last writes have been received and found
/// to be echoes.
const QUIET_FOR: Duration = Duration::from_secs(1);

/// Run the demo; exit status 0 only if both sides agree at the end.
pub async fn run(keep_running: bool) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let stage = Stage::start().await?;
    print_setup(&stage);
    let (stop, stopped) = oneshot::channel::<()>();
    let service = serve::serve(&stage.env, Role::All, async {
        let _ = stopped.await;
    });
    tokio::pin!(service);
    let agree = tokio::select! {
        result = &mut service => return Err(service_ended(result)),
        agree = script(&stage, started, keep_running) => agree?,
        // Stop the service and remove the scratch directory on Ctrl-C too.
        () = shutdown_signal() => {
            println!("interrupted: stopping the service (jobs in progress finish first)");
            false
        }
    };
    if keep_running {
        print_running(&stage);
        tokio::select! {
            result = &mut service => return Err(service_ended(result)),
            () = shutdown_signal() => println!("stopping"),
        }
    }
    let _ = stop.send(());
    service.await.context("the service did not stop cleanly")?;
    Ok(if agree {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn service_ended(result: anyhow::Result<()>) -> anyhow::Error {
    match result {
        Ok(()) => anyhow::anyhow!("the service stopped before the demo finished"),
        Err(e) => e.context("the service stopped before the demo finished"),
    }
}

/// Initial sync, the week, the final check. `Ok(true)` when every step
/// arrived and both sides agree.
async fn script(stage: &Stage, started: Instant, keep_running: bool) -> anyhow::Result<bool> {
    let mut timeline = Timeline::new(started);
    let pages = stage.team_notion.page_ids.len();
    let epics = stage.epics.page_ids.len();
    let (specs_table, epics_table) = (&stage.team_airtable.table_id, &stage.epics.table_id);
    let synced = until(INITIAL_SYNC_DEADLINE, async || {
        linked_rows(stage, specs_table) == pages && linked_rows(stage, epics_table) == epics
    })
    .await;
    println!(
        "\nTimeline: seconds since start, where the change was made, how long until the other side showed it"
    );
    let what = format!(
        "initial sync: {pages} specs and {epics} epics copied into the empty Airtable tables"
    );
    timeline.step(Origin::Notion, &what, synced);
    if synced.is_none() {
        return Ok(false);
    }
    let store = Store::connect(stage.env.database_url.expose()).await?;
    // The creations come back as Airtable webhook payloads, which the
    // service checks like any other change; the week starts once it is idle,
    // so that each step's time is that step's alone.
    let settle_started = Instant::now();
    let settled = wait_quiet(&store, INITIAL_SYNC_DEADLINE).await;
    timeline.note(&format!(
        "Airtable's webhook then reported the new rows; the service re-checked each and was idle after {:.1} s{}",
        settle_started.elapsed().as_secs_f64(),
        if settled { "" } else { " (still busy: going on)" }
    ));
    let observer = Observer::new(stage, &store).await?;
    let mut week = week::Week::new(stage, observer.specs(), &store, timeline)?;
    week.play().await?;
    let timeline = week.timeline;
    let quiet = wait_quiet(&store, timeline::STEP_DEADLINE).await;
    let comparisons = observer.compare(stage, &store).await?;
    print_verdict(&comparisons, &timeline, quiet, keep_running);
    let agree = comparisons.iter().all(|(_, c)| c.agree());
    Ok(agree && timeline.missed().is_empty())
}

/// Rows of `table` that carry a Notion page id (the service created them).
fn linked_rows(stage: &Stage, table: &str) -> usize {
    stage
        .airtable
        .records(&stage.team_airtable.base_id, table)
        .iter()
        .filter(|r| r["fields"]["Notion Page ID"].is_string())
        .count()
}

/// Wait until no job is pending or running for [`QUIET_FOR`]; false if the
/// service is still busy after `limit`.
async fn wait_quiet(store: &Store, limit: Duration) -> bool {
    let mut idle_since: Option<Instant> = None;
    until(limit, async || {
        let idle = store
            .job_counts()
            .await
            .is_ok_and(|c| c.pending + c.running == 0);
        match (idle, idle_since) {
            (false, _) => {
                idle_since = None;
                false
            }
            (true, None) => {
                idle_since = Some(Instant::now());
                false
            }
            (true, Some(since)) => since.elapsed() >= QUIET_FOR,
        }
    })
    .await
    .is_some()
}

/// The demo's own API clients, pacing on the service's shared budgets (as a
/// second replica would), and the pairs resolved against the live schemas
/// (the specs first, as the config lists them).
struct Observer {
    notion: NotionClient,
    airtable: AirtableClient,
    pairs: Vec<ResolvedPair>,
}

impl Observer {
    async fn new(stage: &Stage, store: &Store) -> anyhow::Result<Self> {
        let config = stage.env.load_sync_config()?;
        let (notion, airtable) = clients(&stage.env)?;
        let notion = notion.with_shared_budget(store.clone());
        let airtable = airtable.with_shared_budgets(store.clone());
        let mut pairs = Vec::new();
        for pair_config in &config.pairs {
            pairs.push(crate::engine::load_pair(pair_config, &notion, &airtable).await?);
        }
        let problems = link_targets(&mut pairs);
        anyhow::ensure!(problems.is_empty(), "{}", problems.join("; "));
        anyhow::ensure!(!pairs.is_empty(), "the demo config has no pair");
        Ok(Self {
            notion,
            airtable,
            pairs,
        })
    }

    /// The specs pair, which the week edits.
    fn specs(&self) -> &ResolvedPair {
        &self.pairs[0]
    }

    /// Read both sides of every pair through their APIs and every link
    /// from the store; one comparison per pair, in config order.
    async fn compare(
        &self,
        stage: &Stage,
        store: &Store,
    ) -> anyhow::Result<Vec<(String, Comparison)>> {
        let mut out = Vec::new();
        for pair in &self.pairs {
            let mut pages = self.notion.query_all(&pair.data_source_id, None).await?;
            self.read_contents(pair, &mut pages).await?;
            let base = &stage.team_airtable.base_id;
            let records = self
                .airtable
                .list_all(base, &pair.table_id, &ListParams::default())
                .await?;
            let links = links(store, pair.name()).await?;
            let targets = relation_targets(pair, store).await?;
            let comparison = compare(pair, &pages, &records, &links, &targets);
            out.push((pair.name().to_owned(), comparison));
        }
        Ok(out)
    }
}

impl Observer {
    /// Each page's content, read through the markdown endpoint, when the
    /// pair syncs it (`[pair.body]`): compared like any field.
    async fn read_contents(&self, pair: &ResolvedPair, pages: &mut [Page]) -> anyhow::Result<()> {
        if !pair.fields.iter().any(|f| f.notion == BODY_FIELD) {
            return Ok(());
        }
        for page in pages.iter_mut() {
            let content = self.notion.retrieve_markdown(&page.id).await?;
            body::attach(page, &content);
        }
        Ok(())
    }
}

/// For each relation field of `pair`, its target pair's live links.
async fn relation_targets(pair: &ResolvedPair, store: &Store) -> anyhow::Result<RelationTargets> {
    let mut out = RelationTargets::new();
    for field in &pair.fields {
        let Some(target) = &field.relation_target else {
            continue;
        };
        let mut targets = Targets::default();
        for link in links(store, target).await? {
            if let Some(record) = &link.record_id {
                targets.insert(&link.page_id, record);
            }
        }
        out.insert(field.notion.clone(), targets);
    }
    Ok(out)
}

async fn links(store: &Store, pair: &str) -> anyhow::Result<Vec<Link>> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let batch = store.list_links(pair, after.as_deref(), 500).await?;
        let Some(last) = batch.last() else {
            return Ok(out);
        };
        after = Some(last.notion_page_id.clone());
        out.extend(batch.into_iter().map(|l| Link {
            page_id: l.notion_page_id,
            record_id: l.airtable_record_id,
            state: if l.state == LinkState::Active {
                "active".to_owned()
            } else {
                l.state.to_string()
            },
        }));
    }
}

fn print_setup(stage: &Stage) {
    println!(
        "notion-airtable-sync demo: Notion and Airtable run here as sandboxes with their real \
         rate limits\n(Notion ~3 requests/s; Airtable 5/s per base and 30 s of refusals after a 429)."
    );
    println!(
        "  Notion    \"Product Specs\": {} specs by {} people, target quarters {}",
        stage.team_notion.page_ids.len(),
        stage.team_notion.people.len(),
        quarters(stage)
    );
    println!(
        "  Notion    \"Epics\": {} epics; each spec's Epic relation points there, and its page holds the spec",
        stage.epics.page_ids.len()
    );
    println!(
        "  Airtable  \"Delivery Tracker\" and \"Epics\": empty tables with the same fields, \
         Epic linking the two, Spec a rich text field"
    );
    println!(
        "  service   `serve` on {} with a new SQLite database; sync.toml = sync.example.toml \
         with these ids, plus the Epic relation, the page content ↔ Spec and an epics pair",
        stage.service_url()
    );
    println!(
        "  webhooks  Notion subscription verified; the service registers its Airtable webhook at start"
    );
}

/// How many seeded pages target each quarter, read from the pages.
fn quarters(stage: &Stage) -> String {
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for id in &stage.team_notion.page_ids {
        let page = stage.notion.page(id).unwrap_or_default();
        let quarter = page["properties"]["Target Quarter"]["select"]["name"]
            .as_str()
            .unwrap_or("none")
            .to_owned();
        *count.entry(quarter).or_default() += 1;
    }
    count
        .iter()
        .map(|(q, n)| format!("{q} ({n})"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_verdict(
    comparisons: &[(String, Comparison)],
    timeline: &Timeline,
    quiet: bool,
    keep_running: bool,
) {
    println!("\nFinal check: every linked record, field by field, read through both APIs");
    if !quiet {
        println!("  (the service was still busy after the step deadline; comparing anyway)");
    }
    for (pair, comparison) in comparisons {
        let values = comparison.fields;
        if comparison.agree() {
            println!(
                "  {pair}: {} records × {} fields ({values} values): Notion and Airtable agree.",
                comparison.records,
                values / comparison.records.max(1)
            );
        } else {
            println!(
                "  {pair}: {} records compared: {} difference(s):",
                comparison.records,
                comparison.differences.len()
            );
            for d in &comparison.differences {
                println!("    {d}");
            }
        }
    }
    for step in timeline.missed() {
        println!("  step not seen on the other side in time: {step}");
    }
    let ok = comparisons.iter().all(|(_, c)| c.agree()) && timeline.missed().is_empty();
    let hint = if keep_running {
        ""
    } else {
        " Run `notion-airtable-sync demo --keep-running` to explore the result."
    };
    println!(
        "\nDemo {} in {:.1} s.{hint}",
        if ok { "passed" } else { "FAILED" },
        timeline.elapsed().as_secs_f64(),
    );
}

fn print_running(stage: &Stage) {
    let (n, a) = (&stage.team_notion, &stage.team_airtable);
    println!("\nStill running; Ctrl-C stops everything.");
    println!(
        "  status page   {}/  (user: any name, password: {})",
        stage.service_url(),
        stage.admin_token
    );
    println!(
        "  Notion API    {}  token {}  database {}",
        stage.notion.base_url(),
        stage.notion.token(),
        n.database_id
    );
    println!(
        "  Airtable API  {}  token {}  base {}, table {}",
        stage.airtable.base_url(),
        stage.airtable.token(),
        a.base_id,
        a.table_id
    );
    println!(
        "  files         {} (sync.toml, sync.db; removed at exit)",
        stage.dir.path().display()
    );
}

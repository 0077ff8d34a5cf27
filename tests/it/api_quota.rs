//! The monthly API quota: calls through the sandboxes are counted per base
//! (and per Notion integration) without a database write per call, and the
//! counts survive a restart; the sweep cadence stretches with the month's
//! calls; `serve` with a used-up budget queues no sweep, alerts, still
//! syncs what webhooks bring, and shows the month's calls on `/metrics` and
//! the status page (both backends); and what an idle pair costs a month,
//! measured against the sandboxes (the README's figure).

mod idle_cost;

use std::{collections::HashMap, time::Duration};

use notion_airtable_sync::{
    app::{commands::shared_clients, quota::SweepCadence},
    config::{ApiBudgets, Env},
    store::{HOUR_MS, Store, now_ms, quota::Month},
};

use crate::{
    alerts::receiver::Receiver,
    common::{
        Backend, TempDir, TestDb, database_url,
        mapping::Mapping,
        sandboxes::Sandboxes,
        serve::{ADMIN_TOKEN, ServeConfig},
        wait::eventually,
    },
};

both_backends!(
    calls_are_counted_per_base_and_survive_a_restart,
    the_sweep_cadence_stretches_with_the_month_s_calls,
);

/// The environment `serve` would read, pointed at the sandboxes.
pub fn sandbox_env(sandboxes: &Sandboxes, db_url: &str) -> Env {
    let vars: HashMap<&str, String> = HashMap::from([
        ("DATABASE_URL", db_url.to_owned()),
        ("NOTION_TOKEN", sandboxes.notion.token().to_owned()),
        ("AIRTABLE_TOKEN", sandboxes.airtable.token().to_owned()),
        ("NOTION_API_URL", sandboxes.notion.base_url()),
        ("AIRTABLE_API_URL", sandboxes.airtable.base_url()),
    ]);
    Env::from_lookup(|name| vars.get(name).cloned()).unwrap()
}

/// Calls of `vendor` (on `scope`, or any) this month, as stored.
async fn stored(store: &Store, vendor: &str, scope: Option<&str>) -> i64 {
    let month = Month::containing(now_ms());
    store
        .api_calls_since(month.start)
        .await
        .unwrap()
        .iter()
        .filter(|t| t.vendor == vendor && scope.is_none_or(|s| t.scope == s))
        .map(|t| t.calls)
        .sum()
}

async fn calls_are_counted_per_base_and_survive_a_restart(db: TestDb) {
    let sandboxes = Sandboxes::start().await;
    let team_base = sandboxes.team_a.base_id.clone();
    let other_base = sandboxes.airtable.create_base("Other");
    let env = sandbox_env(&sandboxes, &db.url);
    let (notion, airtable) = shared_clients(&env, &db.store).unwrap();
    let (notion_before, airtable_before) = (
        sandboxes.notion.calls().total(),
        sandboxes.airtable.calls().total(),
    );
    for _ in 0..3 {
        airtable.base_schema(&team_base).await.unwrap();
    }
    airtable.base_schema(&other_base).await.unwrap();
    notion.me().await.unwrap();
    notion.me().await.unwrap();
    // Counted in the process only: no call wrote to the database.
    assert_eq!(stored(&db.store, "airtable", None).await, 0);
    assert_eq!(db.store.flush_api_calls().await.unwrap(), 6);
    assert_eq!(db.store.flush_api_calls().await.unwrap(), 0, "flushed once");
    db.store.close().await;

    // A fresh connection (a restarted process) reads what was counted.
    let store = Store::connect(&db.url).await.unwrap();
    assert_eq!(stored(&store, "airtable", Some(&team_base)).await, 3);
    assert_eq!(stored(&store, "airtable", Some(&other_base)).await, 1);
    assert_eq!(stored(&store, "notion", None).await, 2);
    // The same as the vendors counted.
    let airtable_calls = sandboxes.airtable.calls().total() - airtable_before;
    let notion_calls = sandboxes.notion.calls().total() - notion_before;
    assert_eq!((airtable_calls, notion_calls), (4, 2));
    // The Notion scope is the integration's fingerprint, never its token.
    let totals = store.api_calls_since(0).await.unwrap();
    let scope = &totals.iter().find(|t| t.vendor == "notion").unwrap().scope;
    assert!(
        !sandboxes.notion.token().contains(scope.as_str()),
        "{scope}"
    );
    // Per hour, for the charts of the last 24 hours.
    let hours = store
        .api_calls_per_hour(now_ms() - 24 * HOUR_MS)
        .await
        .unwrap();
    let this_hour = now_ms() - now_ms().rem_euclid(HOUR_MS);
    let team: Vec<_> = hours.iter().filter(|h| h.scope == team_base).collect();
    assert_eq!(team.len(), 1, "{hours:?}");
    assert!(team[0].hour == this_hour || team[0].hour == this_hour - HOUR_MS);
    assert_eq!((team[0].calls, team[0].refused), (3, 0));
    // More calls after the restart add to the month.
    let (_, airtable) = shared_clients(&env, &store).unwrap();
    airtable.base_schema(&team_base).await.unwrap();
    store.flush_api_calls().await.unwrap();
    assert_eq!(stored(&store, "airtable", Some(&team_base)).await, 4);
}

async fn the_sweep_cadence_stretches_with_the_month_s_calls(db: TestDb) {
    const MIN: i64 = 60_000;
    let store = &db.store;
    let month = Month::containing(now_ms());
    let half = month.start + month.length() / 2;
    // Three quarters of a 1,000-call budget used halfway through the month.
    for _ in 0..750 {
        store.count_api_call("airtable", "appBudgeted00001", 200, month.start + 1);
    }
    store.flush_api_calls().await.unwrap();
    let budgets = ApiBudgets::from_pairs([("appBudgeted00001", 1_000)]);
    let pairs = [
        ("specs".to_owned(), "appBudgeted00001".to_owned()),
        ("other".to_owned(), "appNoBudget00001".to_owned()),
    ];
    let every = (Duration::from_secs(15 * 60), Duration::from_secs(86_400));
    let mut cadence = SweepCadence::new(budgets, every, &pairs, half, false);
    let inc = |pair: &str| (pair.to_owned(), false);
    assert_eq!(cadence.due(store, &pairs, half + 14 * MIN).await, []);
    // The budget-free pair sweeps every 15 minutes, the other every 30.
    assert_eq!(
        cadence.due(store, &pairs, half + 15 * MIN).await,
        [inc("other")]
    );
    assert_eq!(
        cadence.due(store, &pairs, half + 30 * MIN).await,
        [inc("specs"), inc("other")]
    );
    // The budget used up: no more scheduled sweep on its base.
    for _ in 0..250 {
        store.count_api_call("airtable", "appBudgeted00001", 200, half);
    }
    store.flush_api_calls().await.unwrap();
    assert_eq!(
        cadence.due(store, &pairs, half + 60 * MIN).await,
        [inc("other")]
    );
    assert_eq!(
        cadence.due(store, &pairs, half + 24 * 60 * MIN).await,
        [("other".to_owned(), true), inc("other")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_used_up_budget_stops_the_sweeps_and_alerts_while_webhooks_sync() {
    used_up_budget(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_used_up_budget_stops_the_sweeps_and_alerts_while_webhooks_sync() {
    used_up_budget(Backend::Postgres).await;
}

async fn used_up_budget(backend: Backend) {
    let dir = TempDir::new();
    let db_url = database_url(backend, &dir.0).await;
    let sandboxes = Sandboxes::start().await;
    let base = sandboxes.team_a.base_id.clone();
    // This month's calls so far: past the 500 the mapping allows.
    let store = Store::connect(&db_url).await.unwrap();
    store.migrate().await.unwrap();
    for _ in 0..600 {
        store.count_api_call("airtable", &base, 200, now_ms());
    }
    store.flush_api_calls().await.unwrap();
    let receiver = Receiver::start().await;
    let mapping = Mapping::example(&sandboxes.team_n.database_id, &base).debounce_ms(0);
    let text = format!("{}\n[airtable.budgets]\n\"{base}\" = 500\n", mapping.text());
    std::fs::write(dir.0.join("sync.toml"), text).unwrap();
    let mut config = ServeConfig::new(&sandboxes.notion, &sandboxes.airtable, &dir.0, &db_url);
    config.subscribe_notion(&sandboxes.notion);
    config.env("ALERT_WEBHOOK_URL", receiver.url());
    let serve = config.spawn();
    serve.ready(60).await;

    let alert = eventually(60, "the budget alert", async || {
        receiver
            .bodies()
            .into_iter()
            .find(|b| b["kind"] == "api_budget")
    })
    .await;
    assert_eq!(alert["state"], "started");
    assert_eq!(alert["pair"], "specs");
    let detail = alert["detail"].as_str().unwrap();
    assert!(
        detail.contains("is used up") && detail.contains("of 500 calls"),
        "{detail}"
    );
    // A person's edit still syncs through the webhooks.
    let page = sandboxes.team_n.page_ids[0].clone();
    sandboxes.rename_page(&page, "Synced while over budget");
    eventually(60, "the webhook-driven edit in Airtable", async || {
        (sandboxes.airtable_name(&page)? == "Synced while over budget").then_some(())
    })
    .await;
    // No sweep was queued (not even the one at start): only that row exists.
    let jobs = store.list_jobs(None, 1000).await.unwrap();
    assert!(jobs.iter().all(|j| j.kind != "sweep"), "{jobs:?}");
    assert_eq!(sandboxes.rows().len(), 1);

    // The month's calls per base, beside the budget.
    let http = reqwest::Client::new();
    let metrics = http
        .get(format!("{}/metrics", serve.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let calls_line =
        format!("notion_airtable_sync_api_calls_month{{vendor=\"airtable\",scope=\"{base}\"}} ");
    let calls: i64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix(calls_line.as_str()))
        .unwrap_or_else(|| panic!("{calls_line} in\n{metrics}"))
        .parse()
        .unwrap();
    assert!(calls > 600, "{calls}: the seeded calls and serve's own");
    let budget_line = format!("notion_airtable_sync_api_budget_month{{base=\"{base}\"}} 500");
    assert!(metrics.contains(&budget_line), "{metrics}");
    let page = http
        .get(&serve.url)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("API usage") && page.contains(&base),
        "status page"
    );
    assert!(page.contains("api_budget:"), "the alert on the status page");
    assert!(!page.contains(&receiver.url()));
}

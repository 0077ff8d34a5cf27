//! What an idle pair costs a month: the team's 47 specs in sync, nobody
//! editing, `serve`'s shipped schedules (an incremental sweep every 15
//! minutes, a full one and a webhook refresh daily). Each scheduled job is
//! run once as `serve` runs it, against the sandboxes, counting the calls
//! the vendors answered (and the service's own count, which must agree);
//! the month is 30 days of them. The README states the result, and this
//! test fails when it no longer matches:
//!
//!     cargo nextest run --test it api_quota::idle_cost --no-capture

use notion_airtable_sync::{
    app::{
        commands::{resolve_pairs, shared_clients},
        serve::{FULL_SWEEP_EVERY, INCREMENTAL_SWEEP_EVERY, WEBHOOK_REFRESH_EVERY},
    },
    config::SyncConfig,
    engine::Engine,
    jobs::spec::JobSpec,
    worker::service::SyncService,
};

use super::{sandbox_env, stored};
use crate::common::{TestDb, mapping::Mapping, sandboxes::Sandboxes, world::set_clocks};

const DAY_SECS: u64 = 86_400;
const MONTH_DAYS: u64 = 30;

/// Calls (Notion, Airtable) the vendors answered during `work`.
async fn calls_of(sandboxes: &Sandboxes, work: impl AsyncFnOnce()) -> (u64, u64) {
    let before = (
        sandboxes.notion.calls().total(),
        sandboxes.airtable.calls().total(),
    );
    work().await;
    (
        sandboxes.notion.calls().total() - before.0,
        sandboxes.airtable.calls().total() - before.1,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_pair_costs_what_the_readme_says() {
    let db = TestDb::sqlite().await;
    let sandboxes = Sandboxes::start().await;
    let env = sandbox_env(&sandboxes, &db.url);
    let mapping = Mapping::example(&sandboxes.team_n.database_id, &sandboxes.team_a.base_id);
    let config = SyncConfig::parse(mapping.text()).unwrap();
    let (notion, airtable) = shared_clients(&env, &db.store).unwrap();
    let pairs = resolve_pairs(&config, None, &notion, &airtable)
        .await
        .unwrap();
    let pair = pairs[0].clone();
    let airtable_user = airtable.whoami().await.unwrap().id;
    let service = SyncService::new(
        Engine::new(notion, airtable, db.store.clone()),
        pairs,
        airtable_user,
    );
    let sweep = |full| JobSpec::Sweep {
        pair: "specs".into(),
        full,
    };
    // The first sync, an hour ago on the vendors' clocks: the sweeps
    // measured below find nothing new, as on an idle day.
    set_clocks(&sandboxes.notion, &sandboxes.airtable, -3600).await;
    service.run(&sweep(true)).await.unwrap();
    set_clocks(&sandboxes.notion, &sandboxes.airtable, 0).await;
    assert_eq!(sandboxes.rows().len(), 47);
    service
        .engine
        .ensure_webhook(&pair, "http://127.0.0.1:9")
        .await
        .unwrap();
    db.store.flush_api_calls().await.unwrap();
    let counted_before = stored(&db.store, "airtable", Some(&sandboxes.team_a.base_id)).await;

    let writes_before = sandboxes.writes();
    let incremental = calls_of(&sandboxes, async || {
        service.run(&sweep(false)).await.unwrap();
    })
    .await;
    let full = calls_of(&sandboxes, async || {
        service.run(&sweep(true)).await.unwrap();
    })
    .await;
    // Nothing was written: the pair was idle.
    assert_eq!(sandboxes.writes(), writes_before);
    let refresh = calls_of(&sandboxes, async || {
        let refreshed = service.engine.refresh_webhooks(&pair).await.unwrap();
        assert_eq!(refreshed.len(), 1);
    })
    .await;
    // The service counted what the vendor answered on the base.
    db.store.flush_api_calls().await.unwrap();
    let counted = stored(&db.store, "airtable", Some(&sandboxes.team_a.base_id)).await;
    assert_eq!(
        u64::try_from(counted - counted_before).unwrap(),
        incremental.1 + full.1 + refresh.1
    );

    let per_day = |every: std::time::Duration| DAY_SECS / every.as_secs();
    let (incrementals, fulls, refreshes) = (
        per_day(INCREMENTAL_SWEEP_EVERY),
        per_day(FULL_SWEEP_EVERY),
        per_day(WEBHOOK_REFRESH_EVERY),
    );
    let daily = |(n, a): (u64, u64), times: u64| (n * times, a * times);
    let day = [
        daily(incremental, incrementals),
        daily(full, fulls),
        daily(refresh, refreshes),
    ]
    .into_iter()
    .fold((0, 0), |t, (n, a)| (t.0 + n, t.1 + a));
    let month = (day.0 * MONTH_DAYS, day.1 * MONTH_DAYS);
    println!(
        "idle pair, calls (Notion, Airtable): incremental sweep {incremental:?} × {incrementals}/day, \
         full sweep {full:?} × {fulls}/day, webhook refresh {refresh:?} × {refreshes}/day \
         = {day:?} a day; × {MONTH_DAYS} days = {month:?} a month"
    );
    let readme = std::fs::read_to_string("README.md").unwrap();
    let stated = format!(
        "**{} Airtable calls and {} Notion calls a month**",
        thousands(month.1),
        thousands(month.0)
    );
    assert!(readme.contains(&stated), "the README should state {stated}");
}

/// 12345 → "12,345".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

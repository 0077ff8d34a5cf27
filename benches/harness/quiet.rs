//! A quiet pair: the team's 47 specs in sync and nobody editing, with
//! `serve`'s shipped schedules (an incremental sweep every 15 minutes, a
//! full sweep and a webhook refresh daily). Each scheduled job runs once,
//! in process as `serve`'s worker runs it, against the sandboxes with
//! their real limits; a day is those calls times the schedule (24 h
//! simulated, not waited for).

use std::collections::HashMap;

use notion_airtable_sync::{
    app::{
        commands::{resolve_pairs, shared_clients},
        serve::{FULL_SWEEP_EVERY, INCREMENTAL_SWEEP_EVERY, WEBHOOK_REFRESH_EVERY},
    },
    config::{Env, SyncConfig},
    engine::Engine,
    jobs::spec::JobSpec,
    store::Store,
    worker::service::SyncService,
};

use crate::{
    Settings,
    common::mapping::Mapping,
    report::{Report, Row, Verdict},
    sandboxes::{Calls, SandboxOpts, Sandboxes},
    service::{Backend, TempDir},
};

/// Calls per sweep per side an idle pair may cost.
const PER_SWEEP_TARGET: u64 = 2;
const DAY_SECS: u64 = 86_400;

pub async fn run(_settings: &Settings, report: &mut Report) {
    if let Err(e) = measure(report).await {
        report.push(Row::skipped(
            "quiet pair, API calls per day",
            "SQLite",
            format!("{e:#}"),
        ));
    }
}

async fn measure(report: &mut Report) -> anyhow::Result<()> {
    let sb = Sandboxes::start(SandboxOpts {
        clock_offset: -3600,
        ..SandboxOpts::default()
    })
    .await?;
    let dir = TempDir::new("quiet")?;
    let db_url = Backend::Sqlite.fresh_database(&dir.0).await?;
    let store = Store::connect(&db_url).await?;
    store.migrate().await?;
    let vars: HashMap<&str, String> = HashMap::from([
        ("DATABASE_URL", db_url.clone()),
        ("NOTION_TOKEN", sb.notion.token().to_owned()),
        ("AIRTABLE_TOKEN", sb.airtable.token().to_owned()),
        ("NOTION_API_URL", sb.notion.base_url()),
        ("AIRTABLE_API_URL", sb.airtable.base_url()),
    ]);
    let env = Env::from_lookup(|name| vars.get(name).cloned())?;
    let mapping = Mapping::example(&sb.team_n.database_id, &sb.team_a.base_id);
    let config = SyncConfig::parse(mapping.text()).map_err(anyhow::Error::msg)?;
    let (notion, airtable) = shared_clients(&env, &store)?;
    let pairs = resolve_pairs(&config, None, &notion, &airtable).await?;
    let pair = pairs[0].clone();
    let airtable_user = airtable.whoami().await?.id;
    let service = SyncService::new(
        Engine::new(notion, airtable, store.clone()),
        pairs,
        airtable_user,
    );
    let sweep = |full| JobSpec::Sweep {
        pair: pair.name().to_owned(),
        full,
    };
    // The first sync an hour ago on the vendors' clocks: what follows finds
    // nothing new, as on a quiet day.
    service.run(&sweep(true)).await?;
    service
        .engine
        .ensure_webhook(&pair, "http://127.0.0.1:9")
        .await?;
    sb.set_clocks(0).await?;
    let incremental = calls_of(&sb, service.run(&sweep(false))).await?;
    let full = calls_of(&sb, service.run(&sweep(true))).await?;
    let refresh = calls_of(&sb, async {
        service.engine.refresh_webhooks(&pair).await.map(|_| ())
    })
    .await?;
    let per_day = |every: std::time::Duration| DAY_SECS / every.as_secs();
    let times = [
        (&incremental, per_day(INCREMENTAL_SWEEP_EVERY)),
        (&full, per_day(FULL_SWEEP_EVERY)),
        (&refresh, per_day(WEBHOOK_REFRESH_EVERY)),
    ];
    let notion_day: u64 = times.iter().map(|(c, n)| c.notion_total() * n).sum();
    let airtable_day: u64 = times.iter().map(|(c, n)| c.airtable_total() * n).sum();
    // A full sweep job first reads both schemas again (the daily safety
    // net for schema changes whose events were missed): those calls are
    // counted in the day, the target is on what a sweep reads.
    let worst = [&incremental, &full]
        .iter()
        .map(|c| {
            let (n, a) = sweep_reads(c);
            n.max(a)
        })
        .max()
        .unwrap_or_default();
    let (full_n, full_a) = sweep_reads(&full);
    let writes = incremental.writes() + full.writes();
    report.push(
        Row::new(
            "quiet pair, API calls per day",
            "SQLite, 47 specs in sync, nobody editing, shipped schedules (incremental sweep every 15 min, full sweep and webhook refresh daily), 24 h simulated",
        )
        .measured(format!(
            "{notion_day} Notion + {airtable_day} Airtable calls a day; per incremental sweep {} Notion + {} Airtable, per full sweep {} + {} ({full_n} + {full_a} of them the sweep's reads, the rest the daily schema re-read), per refresh {} + {}; {writes} writes",
            incremental.notion_total(),
            incremental.airtable_total(),
            full.notion_total(),
            full.airtable_total(),
            refresh.notion_total(),
            refresh.airtable_total(),
        ))
        .target(format!("≤ {PER_SWEEP_TARGET} calls per sweep per side (the sweep's reads), no writes"))
        .raw("notion_per_day", notion_day)
        .raw("airtable_per_day", airtable_day)
        .raw("incremental", [incremental.notion_total(), incremental.airtable_total()].to_vec())
        .raw("full", [full.notion_total(), full.airtable_total()].to_vec())
        .raw("refresh", [refresh.notion_total(), refresh.airtable_total()].to_vec())
        .verdict(Verdict::of(worst <= PER_SWEEP_TARGET && writes == 0)),
    );
    store.close().await;
    Ok(())
}

/// The data reads of a sweep, per side: Notion queries and page reads,
/// Airtable listings and record reads (not the schema, users or webhook
/// calls around them).
fn sweep_reads(calls: &Calls) -> (u64, u64) {
    let notion = calls
        .notion
        .iter()
        .filter(|c| c.route.ends_with("/query") || c.route == "/v1/pages/{page_id}")
        .map(|c| c.count)
        .sum();
    let airtable = calls
        .airtable
        .iter()
        .filter(|c| c.route.starts_with("/v0/{base}/{table}"))
        .map(|c| c.count)
        .sum();
    (notion, airtable)
}

/// The calls the sandboxes answered during `work`.
async fn calls_of<T, E: Into<anyhow::Error>>(
    sb: &Sandboxes,
    work: impl Future<Output = Result<T, E>>,
) -> anyhow::Result<Calls> {
    sb.reset_calls();
    work.await.map_err(Into::into)?;
    Ok(sb.calls())
}

//! The work behind the CLI commands that talk to the APIs or read the log:
//! wiring the environment into clients, store and resolved pairs.

mod check;
mod deletes;
mod init;
mod log;
mod undo;

use std::{io::Write, sync::Arc};

use anyhow::Context as _;

use crate::{
    airtable::AirtableClient,
    clients::ratelimit::{Budget, NOTION_BURST, NOTION_RATE_PER_SEC},
    config::{Env, SyncConfig},
    engine::{Engine, SweepOptions, webhooks::Ensured},
    notion::NotionClient,
    store::{Cause, Store, now_ms},
    sync::pair::ResolvedPair,
};

pub use check::{Finding, Report, check, check_schemas};
pub use deletes::{DeletesListArgs, deletes_decide, deletes_list};
pub use init::{InitArgs, Proposal, init, propose};
pub use log::{LogArgs, log};
pub use undo::{UndoArgs, render as render_undo, undo};

/// The API clients built from the environment.
pub fn clients(env: &Env) -> anyhow::Result<(NotionClient, AirtableClient)> {
    let budget = Arc::new(Budget::new("notion", NOTION_RATE_PER_SEC, NOTION_BURST));
    let notion = NotionClient::new(
        &env.notion_api_url,
        env.require_notion_token()?.clone(),
        budget,
    )?;
    let airtable =
        AirtableClient::new(&env.airtable_api_url, env.require_airtable_token()?.clone())?;
    Ok((notion, airtable))
}

/// [`clients`] pacing their calls by the budgets kept in `store`, shared
/// with a running `serve` and its replicas, so that a command run beside
/// the service does not push the two together over the vendors' limits.
pub fn shared_clients(env: &Env, store: &Store) -> anyhow::Result<(NotionClient, AirtableClient)> {
    let (notion, airtable) = clients(env)?;
    Ok((
        notion.with_shared_budget(store.clone()),
        airtable.with_shared_budgets(store.clone()),
    ))
}

/// Open the database and bring its schema up to date.
pub async fn open_store(env: &Env) -> anyhow::Result<Store> {
    let store = Store::connect(env.database_url.expose()).await?;
    store.migrate().await?;
    Ok(store)
}

/// Resolve the named pair (or every pair) against the live schemas.
pub async fn resolve_pairs(
    config: &SyncConfig,
    only: Option<&str>,
    notion: &NotionClient,
    airtable: &AirtableClient,
) -> anyhow::Result<Vec<ResolvedPair>> {
    if let Some(name) = only {
        if config.pair(name).is_none() {
            let names: Vec<&str> = config.pairs.iter().map(|p| p.name.as_str()).collect();
            anyhow::bail!(
                "no pair named \"{name}\" in the mapping file (pairs: {})",
                names.join(", ")
            );
        }
    }
    let mut pairs = Vec::new();
    for p in config
        .pairs
        .iter()
        .filter(|p| only.is_none_or(|n| n == p.name))
    {
        pairs.push(crate::engine::load_pair(p, notion, airtable).await?);
    }
    link_relations(config, pairs, notion, airtable).await
}

/// Point every relation field at its target pair. With `--pair`, the other
/// pairs are read too (a relation's ids are translated through its target's
/// links); one that does not load is simply not a target.
async fn link_relations(
    config: &SyncConfig,
    mut pairs: Vec<ResolvedPair>,
    notion: &NotionClient,
    airtable: &AirtableClient,
) -> anyhow::Result<Vec<ResolvedPair>> {
    use crate::sync::{convert::Kind, relation_target::link_targets};
    let relates = |p: &ResolvedPair| p.fields.iter().any(|f| f.kind == Kind::Relation);
    if !pairs.iter().any(relates) {
        return Ok(pairs);
    }
    let selected = pairs.len();
    for p in &config.pairs {
        if pairs.iter().all(|r| r.name() != p.name) {
            if let Ok(other) = crate::engine::load_pair(p, notion, airtable).await {
                pairs.push(other);
            }
        }
    }
    let problems = link_targets(&mut pairs);
    if !problems.is_empty() {
        anyhow::bail!(
            "relation fields without a target pair:\n  - {}",
            problems.join("\n  - ")
        );
    }
    pairs.truncate(selected);
    Ok(pairs)
}

/// `reconcile [--pair P] [--full] [--dry-run]`: one sweep per pair, in process.
pub async fn reconcile(
    env: &Env,
    only: Option<&str>,
    full: bool,
    dry_run: bool,
) -> anyhow::Result<()> {
    let config = env.load_sync_config()?;
    let store = open_store(env).await?;
    let (notion, airtable) = shared_clients(env, &store)?;
    let pairs = resolve_pairs(&config, only, &notion, &airtable).await?;
    // One run id for every pair's sweep: `undo --run` takes the whole
    // command back.
    let engine = Engine::new(notion, airtable, store).with_run(crate::engine::new_run_id());
    let opts = SweepOptions {
        full,
        dry_run,
        cause: Cause::Manual,
    };
    let mut out = std::io::stdout().lock();
    if !dry_run {
        writeln!(out, "run {}", engine.run_id().unwrap_or_default())?;
    }
    for pair in &pairs {
        let summary = engine
            .sweep(pair, opts)
            .await
            .with_context(|| format!("sweeping pair \"{}\"", pair.name()))?;
        let mode = if dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        };
        writeln!(out, "{}: {}{mode}", pair.name(), summary.line())?;
        for c in &summary.scope_changes {
            writeln!(out, "  would {c}")?;
        }
        for w in &summary.planned_writes {
            writeln!(out, "  would write: {w}")?;
        }
        for p in &summary.problems {
            writeln!(out, "  problem: {p}")?;
        }
    }
    if !dry_run {
        let days = i64::from(config.log_retention_days);
        let pruned = engine.store.prune_log(now_ms() - days * 86_400_000).await?;
        if pruned > 0 {
            writeln!(
                out,
                "pruned {pruned} sync log entries older than {days} days"
            )?;
        }
    }
    // The calls this run made count towards the month's quota.
    crate::app::quota::flush(&engine.store).await;
    Ok(())
}

/// The `webhooks` subcommands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhooksAction {
    Ensure,
    List,
    Refresh,
}

/// `webhooks ensure|list|refresh`: the Airtable webhooks of every pair.
pub async fn webhooks(env: &Env, action: WebhooksAction) -> anyhow::Result<()> {
    let config = env.load_sync_config()?;
    let store = open_store(env).await?;
    let (notion, airtable) = shared_clients(env, &store)?;
    let pairs = resolve_pairs(&config, None, &notion, &airtable).await?;
    let engine = Engine::new(notion, airtable, store);
    for pair in &pairs {
        match action {
            WebhooksAction::Ensure => {
                let public_url = env.public_url.as_deref().ok_or_else(|| {
                    anyhow::anyhow!("PUBLIC_URL is required: the https address at which Airtable reaches this service")
                })?;
                match engine.ensure_webhook(pair, public_url).await? {
                    Ensured::Created(id) => println!("{}: registered webhook {id}", pair.name()),
                    Ensured::Existing(id) => {
                        println!("{}: webhook {id} already registered", pair.name())
                    }
                }
            }
            WebhooksAction::Refresh => {
                for id in engine.refresh_webhooks(pair).await? {
                    println!("{}: refreshed webhook {id} (7 more days)", pair.name());
                }
            }
            WebhooksAction::List => {
                let lines = engine.list_webhooks(pair).await?;
                if lines.is_empty() {
                    println!(
                        "{}: no webhook registered (run `webhooks ensure`)",
                        pair.name()
                    );
                }
                for l in lines {
                    println!(
                        "{}: {} expires {} notifications {} hook {} cursor {}{} last result {}",
                        l.pair,
                        l.webhook_id,
                        l.expires_at.as_deref().unwrap_or("never"),
                        if l.notifications_enabled { "on" } else { "OFF" },
                        if l.hook_enabled { "on" } else { "OFF" },
                        l.cursor,
                        if l.missing_in_airtable {
                            " MISSING IN AIRTABLE"
                        } else {
                            ""
                        },
                        l.last_result.map_or("none".to_owned(), |r| r.to_string()),
                    );
                }
            }
        }
    }
    crate::app::quota::flush(&engine.store).await;
    Ok(())
}

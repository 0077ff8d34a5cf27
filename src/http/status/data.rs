//! Everything the status page shows, read from the store in one go.

use std::collections::HashMap;

use super::html::plain;
use crate::{
    config::ApiBudgets,
    http::{AppState, HttpError, PairLabel, auth::tokens_equal},
    store::{
        AirtableWebhook, AlertMessage, ApiCallHour, ApiCallTotal, DeleteReview, HourlyChanges,
        Issue, IssueGauge, Job, JobState, LogEntry, LogQuery, PairLinks, PairQueue, ReviewState,
        Series, Sweep, SweepKind, VerificationToken, quota::Month,
    },
};

/// The charts' window.
const DAY_MS: i64 = 24 * 3_600_000;

/// Rows shown per list; the admin API and `log` have the rest.
const DEAD_JOBS_SHOWN: i64 = 50;
const CONFLICTS_SHOWN: i64 = 20;
const CHANGES_SHOWN: i64 = 30;
/// Sync issues listed (newest first); every one is counted, and all are in
/// `/api/issues`.
pub(super) const ISSUES_SHOWN: i64 = 200;

pub(super) struct StatusData {
    pub now: i64,
    pub pairs: Vec<PairStatus>,
    /// Jobs that belong to no pair (e.g. fetching Airtable payloads).
    pub unpaired_queue: Option<PairQueue>,
    pub airtable_webhooks: Vec<AirtableWebhook>,
    pub notion_last_event: Option<i64>,
    /// The newest ping of any registered Airtable webhook.
    pub airtable_last_ping: Option<i64>,
    pub verification_tokens: Vec<VerificationToken>,
    pub dead_jobs: Vec<Job>,
    pub conflicts: Vec<LogEntry>,
    pub changes: Vec<LogEntry>,
    /// The newest open sync issues (at most [`ISSUES_SHOWN`]).
    pub issues: Vec<Issue>,
    /// Open sync issues per pair and scope, all of them.
    pub issue_counts: Vec<IssueGauge>,
    /// Records' titles by (pair, Notion page id), for the records the page
    /// lists.
    pub titles: HashMap<(String, String), String>,
    /// The last day, for the charts.
    pub activity: Activity,
    /// API calls this month per vendor scope, and the budgets.
    pub api_calls_month: Vec<ApiCallTotal>,
    pub api_budgets: ApiBudgets,
    /// The newest alert messages.
    pub alert_messages: Vec<AlertMessage>,
    /// The delete review queue: pending entries (newest first, at most
    /// [`super::deletes::SHOWN`]) and how many there are in all.
    pub pending_deletes: Vec<DeleteReview>,
    pub pending_delete_count: i64,
}

/// What the charts draw, as stored: they group it by hour.
#[derive(Default)]
pub(super) struct Activity {
    pub changes: Vec<HourlyChanges>,
    /// `(at, ms)` per sample.
    pub lag_to_notion: Vec<(i64, i64)>,
    pub lag_to_airtable: Vec<(i64, i64)>,
    /// `(at, due jobs)` per sample.
    pub queue_due: Vec<(i64, i64)>,
    /// API calls per vendor scope and hour.
    pub api_calls: Vec<ApiCallHour>,
    /// Hours in the current month: a monthly budget spread evenly.
    pub hours_in_month: i64,
}

impl Activity {
    async fn read(state: &AppState, now: i64) -> Result<Activity, HttpError> {
        let store = &state.store;
        let since = now - DAY_MS;
        Ok(Activity {
            changes: store.changes_per_hour(since).await?,
            lag_to_notion: store.samples_since(Series::LagToNotion, since).await?,
            lag_to_airtable: store.samples_since(Series::LagToAirtable, since).await?,
            queue_due: store.samples_since(Series::QueueDue, since).await?,
            api_calls: store.api_calls_per_hour(since).await?,
            hours_in_month: {
                let month = Month::containing(now);
                (month.end - month.start) / 3_600_000
            },
        })
    }
}

pub(super) struct PairStatus {
    pub name: String,
    /// False for a pair found in the database but not in the mapping file
    /// (renamed or removed).
    pub configured: bool,
    /// What people call its two sides, when it was resolved at start.
    pub label: Option<PairLabel>,
    pub links: PairLinks,
    pub queue: PairQueue,
    pub incremental: Option<Sweep>,
    pub full: Option<Sweep>,
    /// `(base id, table id)`, for links to records.
    pub airtable_table: Option<(String, String)>,
}

impl StatusData {
    pub(super) async fn read(state: &AppState, now: i64) -> Result<StatusData, HttpError> {
        let store = &state.store;
        let queues = store.queue_by_pair(now).await?;
        let links = store.links_by_pair().await?;
        let sweeps = store.list_sweeps().await?;
        let airtable_webhooks = store.list_webhooks(None).await?;
        let pairs = pair_names(state, &queues, &links)
            .into_iter()
            .map(|(name, configured)| PairStatus {
                links: links
                    .iter()
                    .find(|l| l.pair == name)
                    .cloned()
                    .unwrap_or_else(|| PairLinks {
                        pair: name.clone(),
                        ..PairLinks::default()
                    }),
                queue: queues
                    .iter()
                    .find(|q| q.pair.as_deref() == Some(name.as_str()))
                    .cloned()
                    .unwrap_or_default(),
                incremental: sweep_of(&sweeps, &name, SweepKind::Incremental),
                full: sweep_of(&sweeps, &name, SweepKind::Full),
                airtable_table: airtable_table(state, &airtable_webhooks, &name),
                label: state.pairs.label(&name).cloned(),
                configured,
                name,
            })
            .collect();
        let conflicts = store.list_conflicts(None, CONFLICTS_SHOWN).await?;
        let changes = store
            .query_log(&LogQuery {
                limit: CHANGES_SHOWN,
                ..LogQuery::default()
            })
            .await?;
        let titles = titles(state, conflicts.iter().chain(&changes)).await?;
        Ok(StatusData {
            now,
            pairs,
            unpaired_queue: queues.into_iter().find(|q| q.pair.is_none()),
            airtable_last_ping: airtable_webhooks
                .iter()
                .filter_map(|w| w.last_ping_at)
                .max(),
            airtable_webhooks,
            notion_last_event: store.last_webhook_event_at("notion").await?,
            verification_tokens: unapplied(state, store.pending_verification_tokens().await?),
            dead_jobs: store
                .list_jobs(Some(JobState::Dead), DEAD_JOBS_SHOWN)
                .await?,
            conflicts,
            changes,
            issues: store.newest_issues(ISSUES_SHOWN).await?,
            issue_counts: store.open_issues_by_scope().await?,
            titles,
            activity: Activity::read(state, now).await?,
            api_calls_month: store.api_calls_since(Month::containing(now).start).await?,
            api_budgets: state.api_budgets.clone(),
            alert_messages: store.alert_messages(super::usage::ALERTS_SHOWN).await?,
            pending_deletes: store
                .list_delete_reviews(None, Some(ReviewState::Pending), super::deletes::SHOWN)
                .await?,
            pending_delete_count: store
                .pending_deletes_by_pair()
                .await?
                .iter()
                .map(|(_, n)| n)
                .sum(),
        })
    }

    /// The record's title, when its pair maps the title and it was synced.
    pub(super) fn title_of(&self, pair: &str, page_id: &str) -> Option<&str> {
        self.titles
            .get(&(pair.to_owned(), page_id.to_owned()))
            .map(String::as_str)
    }

    /// Open sync issues of `pair`, all scopes.
    pub(super) fn issue_count(&self, pair: &str) -> i64 {
        self.issue_counts
            .iter()
            .filter(|c| c.pair == pair)
            .map(|c| c.count)
            .sum()
    }

    pub(super) fn airtable_table_of(&self, pair: &str) -> Option<(&str, &str)> {
        self.pairs
            .iter()
            .find(|p| p.name == pair)
            .and_then(|p| p.airtable_table.as_ref())
            .map(|(base, table)| (base.as_str(), table.as_str()))
    }
}

/// The titles of the entries' records: the title field's value in each
/// record's snapshot (one read per pair), or, when the entry itself wrote the
/// title, the value it wrote.
async fn titles<'a>(
    state: &AppState,
    entries: impl Iterator<Item = &'a LogEntry>,
) -> Result<HashMap<(String, String), String>, HttpError> {
    let mut pages: HashMap<String, Vec<String>> = HashMap::new();
    let mut titles = HashMap::new();
    for e in entries {
        let (Some(page), Some(field)) = (&e.notion_page_id, title_field(state, &e.pair)) else {
            continue;
        };
        let written = e
            .new_value
            .as_ref()
            .filter(|_| e.field.as_deref() == Some(field));
        if let Some(title) = written.map(plain).filter(|t| !t.is_empty()) {
            titles
                .entry((e.pair.clone(), page.clone()))
                .or_insert(title);
        }
        let ids = pages.entry(e.pair.clone()).or_default();
        if !ids.contains(page) {
            ids.push(page.clone());
        }
    }
    for (pair, ids) in pages {
        let Some(field) = title_field(state, &pair) else {
            continue;
        };
        for (page, snapshot) in state.store.link_snapshots(&pair, &ids).await? {
            let title = snapshot.get(field).map(plain).unwrap_or_default();
            if !title.is_empty() {
                // The snapshot is the newest title; it wins over a logged one.
                titles.insert((pair.clone(), page), title);
            }
        }
    }
    Ok(titles)
}

fn title_field<'a>(state: &'a AppState, pair: &str) -> Option<&'a str> {
    state.pairs.label(pair)?.title_field.as_deref()
}

/// The configured pairs in configuration order, then any other pair the
/// database knows (its links or jobs outlived a rename).
fn pair_names(state: &AppState, queues: &[PairQueue], links: &[PairLinks]) -> Vec<(String, bool)> {
    let mut names: Vec<(String, bool)> = state
        .pairs
        .names()
        .iter()
        .map(|n| (n.clone(), true))
        .collect();
    let stored = links
        .iter()
        .map(|l| l.pair.as_str())
        .chain(queues.iter().filter_map(|q| q.pair.as_deref()));
    for name in stored {
        if !names.iter().any(|(n, _)| n == name) {
            names.push((name.to_owned(), false));
        }
    }
    names
}

/// Tokens still to act on: the one `NOTION_WEBHOOK_SECRET` already holds
/// has been applied.
fn unapplied(state: &AppState, tokens: Vec<VerificationToken>) -> Vec<VerificationToken> {
    let Some(secret) = &state.notion_webhook_secret else {
        return tokens;
    };
    tokens
        .into_iter()
        .filter(|t| !tokens_equal(t.token.expose(), secret.expose()))
        .collect()
}

fn sweep_of(sweeps: &[Sweep], pair: &str, kind: SweepKind) -> Option<Sweep> {
    sweeps
        .iter()
        .find(|s| s.pair == pair && s.kind == kind)
        .cloned()
}

/// From the mapping (resolved at start), else from the pair's registered
/// Airtable webhook, which names the same table.
fn airtable_table(
    state: &AppState,
    webhooks: &[AirtableWebhook],
    pair: &str,
) -> Option<(String, String)> {
    if let Some((base, table)) = state.pairs.airtable_table(pair) {
        return Some((base.to_owned(), table.to_owned()));
    }
    webhooks
        .iter()
        .find(|w| w.pair == pair)
        .map(|w| (w.base_id.clone(), w.table_id.clone()))
}

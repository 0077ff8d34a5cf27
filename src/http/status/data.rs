//! Everything the status page shows, read from the store in one go.

use crate::{
    http::{AppState, HttpError, auth::tokens_equal},
    store::{
        AirtableWebhook, DeleteReview, Issue, IssueGauge, Job, JobState, LogEntry, LogQuery,
        PairLinks, PairQueue, ReviewState, Sweep, SweepKind, VerificationToken,
    },
};

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
    /// The delete review queue: pending entries (newest first, at most
    /// [`super::deletes::SHOWN`]) and how many there are in all.
    pub pending_deletes: Vec<DeleteReview>,
    pub pending_delete_count: i64,
}

pub(super) struct PairStatus {
    pub name: String,
    /// False for a pair found in the database but not in the mapping file
    /// (renamed or removed).
    pub configured: bool,
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
                configured,
                name,
            })
            .collect();
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
            conflicts: store.list_conflicts(None, CONFLICTS_SHOWN).await?,
            changes: store
                .query_log(&LogQuery {
                    limit: CHANGES_SHOWN,
                    ..LogQuery::default()
                })
                .await?,
            issues: store.newest_issues(ISSUES_SHOWN).await?,
            issue_counts: store.open_issues_by_scope().await?,
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

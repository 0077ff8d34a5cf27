//! `GET /metrics` and the webhook counting middleware: the HTTP side of the
//! `metrics` leaf. The handler reads the gauges from the store (so every
//! replica reports the same queue) and the leaf renders them with this
//! process's counters; the middleware names each webhook delivery's source
//! and, for an error answer, its reason.

use std::cell::Cell;

use axum::{
    extract::{Request, State},
    http::{Method, header::CONTENT_TYPE},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::Shared;
use crate::{
    config::ApiBudgets,
    metrics::{
        self, ApiBudget, ApiCallsMonth, Gauges, IssueCount, JobCount, QueueGauges, Rejection,
        WebhookSource,
    },
    store::{Store, StoreError, now_ms},
};

/// The job kinds of `jobs::spec` reported at 0 when the queue has none (a
/// kind the table holds and this list lacks is reported too).
const JOB_KINDS: &[&str] = &[
    "reconcile_page",
    "reconcile_record",
    "locate_page",
    "airtable_payloads",
    "sweep",
];
const LIVE_STATES: &[&str] = &["pending", "running", "dead"];
/// The scopes of a sync issue, reported at 0 for every configured pair.
const ISSUE_SCOPES: &[&str] = &["pair", "field", "record"];

// -------------------------------------------------------------------- scrape

/// `GET /metrics` (no authentication, as Prometheus expects; nothing in it
/// is secret).
pub(crate) async fn scrape(State(state): State<Shared>) -> Response {
    let budgets = budget_gauges(&state.api_budgets);
    let body = render_with(&state.store, state.pairs.names(), budgets).await;
    ([(CONTENT_TYPE, metrics::TEXT_FORMAT)], body).into_response()
}

/// Every metric in the text exposition format.
pub async fn render(store: &Store) -> String {
    render_for(store, &[]).await
}

/// [`render`], with the issue gauges of `pairs` present at 0 when they have
/// none (so that an alert on them has a series to compare).
pub async fn render_for(store: &Store, pairs: &[String]) -> String {
    render_with(store, pairs, Vec::new()).await
}

/// [`render_for`], with the monthly API budgets of the mapping file.
async fn render_with(store: &Store, pairs: &[String], api_budgets: Vec<ApiBudget>) -> String {
    let gauges = Gauges {
        queue: read_queue(store).await,
        issues: read_issues(store, pairs).await,
        api_calls_month: read_api_calls(store).await,
        api_budgets,
        pending_deletes: read_pending_deletes(store, pairs).await,
    };
    metrics::render(&gauges)
}

/// This month's API calls per scope (every replica's, as last flushed).
async fn read_api_calls(store: &Store) -> Option<Vec<ApiCallsMonth>> {
    let since = crate::store::quota::Month::containing(now_ms()).start;
    match store.api_calls_since(since).await {
        Ok(totals) => Some(
            totals
                .into_iter()
                .map(|t| ApiCallsMonth {
                    vendor: t.vendor,
                    scope: t.scope,
                    calls: t.calls,
                })
                .collect(),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "/metrics: could not count the API calls");
            None
        }
    }
}

fn budget_gauges(budgets: &ApiBudgets) -> Vec<ApiBudget> {
    budgets
        .iter()
        .map(|(base, calls)| ApiBudget {
            base: base.to_owned(),
            calls,
        })
        .collect()
}

async fn read_queue(store: &Store) -> Option<QueueGauges> {
    let now = now_ms();
    let read = async {
        let jobs = store.live_jobs_by_kind().await?;
        let oldest = store.oldest_pending_age(now).await?;
        Ok::<_, StoreError>((jobs, oldest))
    };
    let (jobs, oldest_pending) = match read.await {
        Ok(read) => read,
        Err(e) => {
            tracing::warn!(error = %e, "/metrics: could not read the job queue");
            return None;
        }
    };
    let zeros = JOB_KINDS
        .iter()
        .flat_map(|kind| LIVE_STATES.iter().map(move |state| (*kind, *state)));
    let read = jobs.into_iter().map(|j| (j.kind, j.state, j.count));
    let jobs = with_zeros(zeros, read)
        .into_iter()
        .map(|(kind, state, count)| JobCount { kind, state, count })
        .collect();
    Some(QueueGauges {
        jobs,
        oldest_pending,
    })
}

async fn read_issues(store: &Store, pairs: &[String]) -> Option<Vec<IssueCount>> {
    let counts = match store.open_issues_by_scope().await {
        Ok(counts) => counts,
        Err(e) => {
            tracing::warn!(error = %e, "/metrics: could not count the sync issues");
            return None;
        }
    };
    let zeros = pairs.iter().flat_map(|pair| {
        ISSUE_SCOPES
            .iter()
            .map(move |scope| (pair.as_str(), *scope))
    });
    let read = counts.into_iter().map(|c| (c.pair, c.scope, c.count));
    let issues = with_zeros(zeros, read)
        .into_iter()
        .map(|(pair, scope, count)| IssueCount { pair, scope, count })
        .collect();
    Some(issues)
}

/// Pending deletes per pair, the configured pairs at 0 when they have none.
async fn read_pending_deletes(store: &Store, pairs: &[String]) -> Option<Vec<(String, i64)>> {
    let mut counts = match store.pending_deletes_by_pair().await {
        Ok(counts) => counts,
        Err(e) => {
            tracing::warn!(error = %e, "/metrics: could not count the pending deletes");
            return None;
        }
    };
    for pair in pairs {
        if !counts.iter().any(|(p, _)| p == pair) {
            counts.push((pair.clone(), 0));
        }
    }
    Some(counts)
}

/// The counts read, plus every key of `zeros` the read lacks at 0.
fn with_zeros<'a>(
    zeros: impl Iterator<Item = (&'a str, &'a str)>,
    read: impl Iterator<Item = (String, String, i64)>,
) -> Vec<(String, String, i64)> {
    let mut series: Vec<(String, String, i64)> = zeros
        .map(|(a, b)| (a.to_owned(), b.to_owned(), 0))
        .collect();
    for (a, b, count) in read {
        match series.iter_mut().find(|(x, y, _)| *x == a && *y == b) {
            Some((_, _, value)) => *value = count,
            None => series.push((a, b, count)),
        }
    }
    series
}

// ------------------------------------------------------------------ webhooks

tokio::task_local! {
    /// The reason a webhook handler gave for refusing the request in flight.
    static REJECTION: Cell<Option<Rejection>>;
}

/// Name the reason of the error the webhook handler is about to return,
/// where its status alone does not say it (several 401s).
pub fn reject_as(reason: Rejection) {
    // Outside `track_webhooks` (a handler driven directly) there is no slot.
    let _ = REJECTION.try_with(|slot| slot.set(Some(reason)));
}

/// Middleware (outside the body limit and timeout layers, so it sees their
/// 413 and 408): counts every webhook delivery and every refusal, once.
pub async fn track_webhooks(request: Request, next: Next) -> Response {
    let Some(source) = webhook_source(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    metrics::webhook_received(source);
    let (response, named) = REJECTION
        .scope(Cell::new(None), async {
            let response = next.run(request).await;
            (response, REJECTION.with(Cell::get))
        })
        .await;
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        let reason = named.unwrap_or_else(|| Rejection::of_status(status.as_u16()));
        metrics::webhook_rejected(source, reason);
    }
    response
}

/// Which webhook endpoint a request is a delivery to, if any.
fn webhook_source(method: &Method, path: &str) -> Option<WebhookSource> {
    match (method, path) {
        (&Method::POST, "/webhooks/notion") => Some(WebhookSource::Notion),
        (&Method::POST, "/webhooks/airtable") => Some(WebhookSource::Airtable),
        _ => None,
    }
}

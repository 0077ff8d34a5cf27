//! `GET /metrics`: the service's metrics in the Prometheus text format.
//!
//! One process-wide registry of `static` families, so that instrumenting a
//! call site is one line. Counters and histograms count what this process
//! did since it started; the job gauges are read from the store at scrape
//! time, so every replica reports the same queue.
//!
//! | metric | type | labels | counted where |
//! |---|---|---|---|
//! | `notion_airtable_sync_webhooks_received_total` | counter | `source` | every POST to a webhook endpoint ([`track_webhooks`]) |
//! | `notion_airtable_sync_webhooks_rejected_total` | counter | `source`, `reason` | every non-2xx answer to one ([`Rejection`]) |
//! | `notion_airtable_sync_jobs` | gauge | `kind`, `state` | the `jobs` table, at scrape time |
//! | `notion_airtable_sync_oldest_pending_job_age_seconds` | gauge | | the `jobs` table, at scrape time |
//! | `notion_airtable_sync_store_up` | gauge | | whether the scrape could read the store |
//! | `notion_airtable_sync_issues` | gauge | `pair`, `scope` | open sync issues (`pair`, `field`, `record`): the `sync_issues` table, at scrape time |
//! | `notion_airtable_sync_job_duration_seconds` | histogram | `kind`, `outcome` | each job attempt |
//! | `notion_airtable_sync_api_requests_total` | counter | `vendor`, `method`, `endpoint`, `status` | each API response (or transport failure) |
//! | `notion_airtable_sync_api_rate_limited_total` | counter | `vendor` | each 429 |
//! | `notion_airtable_sync_rate_limit_wait_seconds` | histogram | `vendor` | the wait for the request budget before each API call |
//! | `notion_airtable_sync_conflicts_total` | counter | | conflicting fields resolved and committed |
//! | `notion_airtable_sync_writes_total` | counter | `side` | records written on a side and committed |
//! | `notion_airtable_sync_sync_lag_seconds` | histogram | `side` | webhook job created → its write committed |
//!
//! Labels never carry ids, names or secrets: API paths become route
//! templates ([`endpoint::template`]), `pair` is a pair's name from the
//! mapping file, and every other label is one of a fixed set of words.

pub mod endpoint;
pub mod registry;

use std::{cell::Cell, future::Future, time::Duration};

use axum::{
    extract::{Request, State},
    http::{Method, StatusCode, header::CONTENT_TYPE},
    middleware::Next,
    response::{IntoResponse, Response},
};
use registry::{CounterVec, HistogramVec, render_gauge};
use tokio::time::Instant;

use crate::{
    clients::api_error::Vendor,
    engine::Summary,
    http::Shared,
    jobs::spec::{JobSpec, Trigger},
    store::{ClaimedJob, Store, now_ms},
    sync::plan::{AirtableWrite, NotionWrite, Plan},
    worker::service::JobOutcome,
};

pub use registry::CONTENT_TYPE as TEXT_FORMAT;

/// Seconds, from 5 ms to 5 min: job runs and rate-limit waits.
const SECONDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];
/// Seconds, from 250 ms to 1 h: an edit reaching the other side.
const LAG_SECONDS: &[f64] = &[
    0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];

pub static WEBHOOKS_RECEIVED: CounterVec = CounterVec::new(
    "notion_airtable_sync_webhooks_received_total",
    "Webhook deliveries received (POST /webhooks/notion or /webhooks/airtable), whatever the answer.",
    &["source"],
);
pub static WEBHOOKS_REJECTED: CounterVec = CounterVec::new(
    "notion_airtable_sync_webhooks_rejected_total",
    "Webhook deliveries answered with an error status, by reason.",
    &["source", "reason"],
);
pub static JOB_DURATION: HistogramVec = HistogramVec::new(
    "notion_airtable_sync_job_duration_seconds",
    "Time from claiming a job to recording its outcome, per attempt.",
    &["kind", "outcome"],
    SECONDS,
);
pub static API_REQUESTS: CounterVec = CounterVec::new(
    "notion_airtable_sync_api_requests_total",
    "Requests sent to the Notion and Airtable APIs, by route template and status (\"error\": no response).",
    &["vendor", "method", "endpoint", "status"],
);
pub static API_RATE_LIMITED: CounterVec = CounterVec::new(
    "notion_airtable_sync_api_rate_limited_total",
    "API responses with status 429.",
    &["vendor"],
);
pub static RATE_LIMIT_WAIT: HistogramVec = HistogramVec::new(
    "notion_airtable_sync_rate_limit_wait_seconds",
    "Time an API call waited for its request budget (pacing, or a 429 penalty) before it was sent.",
    &["vendor"],
    SECONDS,
);
pub static CONFLICTS: CounterVec = CounterVec::new(
    "notion_airtable_sync_conflicts_total",
    "Fields changed on both sides since the last sync, resolved by the field's rule and committed.",
    &[],
);
pub static WRITES: CounterVec = CounterVec::new(
    "notion_airtable_sync_writes_total",
    "Records the service created, updated, archived or deleted on a side, counted once committed.",
    &["side"],
);
pub static SYNC_LAG: HistogramVec = HistogramVec::new(
    "notion_airtable_sync_sync_lag_seconds",
    "From a webhook's reconcile job being created (the event's receipt) to its write on `side` being committed.",
    &["side"],
    LAG_SECONDS,
);

/// The job kinds of `jobs::spec`, reported at 0 when the queue has none
/// (a kind the table holds and this list lacks is reported too).
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

// ------------------------------------------------------------------ webhooks

/// Which webhook endpoint a delivery came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookSource {
    Notion,
    Airtable,
}

impl WebhookSource {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookSource::Notion => "notion",
            WebhookSource::Airtable => "airtable",
        }
    }

    fn of_request(method: &Method, path: &str) -> Option<Self> {
        match (method, path) {
            (&Method::POST, "/webhooks/notion") => Some(WebhookSource::Notion),
            (&Method::POST, "/webhooks/airtable") => Some(WebhookSource::Airtable),
            _ => None,
        }
    }
}

/// Why a webhook delivery got an error status (the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// 401: the signature (or MAC) is missing or wrong.
    BadSignature,
    /// 401: a Notion event while `NOTION_WEBHOOK_SECRET` is unset.
    SecretUnset,
    /// 401: an Airtable ping naming a webhook the service did not register.
    UnknownWebhook,
    /// 400: authentic (or unsigned handshake) but not a valid body.
    Malformed,
    /// 429: more verification tokens than the service records per minute.
    RateLimited,
    /// 413: over the body limit.
    TooLarge,
    /// 408: the request took longer than the request timeout.
    Timeout,
    /// 503: the database was unavailable; the sender retries.
    StoreUnavailable,
    /// 500.
    Internal,
    /// Any other error status.
    Other,
}

impl Rejection {
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::BadSignature => "bad_signature",
            Rejection::SecretUnset => "secret_unset",
            Rejection::UnknownWebhook => "unknown_webhook",
            Rejection::Malformed => "malformed",
            Rejection::RateLimited => "rate_limited",
            Rejection::TooLarge => "too_large",
            Rejection::Timeout => "timeout",
            Rejection::StoreUnavailable => "store_unavailable",
            Rejection::Internal => "internal",
            Rejection::Other => "other",
        }
    }

    /// The reason an error status means when the handler did not name one.
    fn of_status(status: StatusCode) -> Self {
        match status.as_u16() {
            400 => Rejection::Malformed,
            401 => Rejection::BadSignature,
            408 => Rejection::Timeout,
            413 => Rejection::TooLarge,
            429 => Rejection::RateLimited,
            503 => Rejection::StoreUnavailable,
            500..=599 => Rejection::Internal,
            _ => Rejection::Other,
        }
    }
}

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
    let Some(source) = WebhookSource::of_request(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    WEBHOOKS_RECEIVED.inc(&[source.as_str()]);
    let (response, named) = REJECTION
        .scope(Cell::new(None), async {
            let response = next.run(request).await;
            (response, REJECTION.with(Cell::get))
        })
        .await;
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        let reason = named.unwrap_or_else(|| Rejection::of_status(status));
        WEBHOOKS_REJECTED.inc(&[source.as_str(), reason.as_str()]);
    }
    response
}

// ----------------------------------------------------------------- API calls

fn vendor_label(vendor: Vendor) -> &'static str {
    match vendor {
        Vendor::Notion => "notion",
        Vendor::Airtable => "airtable",
    }
}

/// One API request answered with `status` (None: no response arrived).
pub fn api_call(vendor: Vendor, method: &reqwest::Method, url: &url::Url, status: Option<u16>) {
    let endpoint = endpoint::template(vendor, url.path());
    let status_label = status.map_or_else(|| "error".to_owned(), |s| s.to_string());
    let vendor = vendor_label(vendor);
    API_REQUESTS.inc(&[vendor, method.as_str(), &endpoint, &status_label]);
    if status == Some(429) {
        API_RATE_LIMITED.inc(&[vendor]);
    }
}

/// Await `wait` (a request budget's `acquire`) and record how long it took.
pub async fn budget_wait<F: Future>(vendor: Vendor, wait: F) -> F::Output {
    let started = Instant::now();
    let output = wait.await;
    RATE_LIMIT_WAIT.observe(&[vendor_label(vendor)], started.elapsed().as_secs_f64());
    output
}

// ---------------------------------------------------------------------- jobs

/// One job attempt ended with `outcome` after `elapsed`.
pub fn job_finished(kind: &str, outcome: &str, elapsed: Duration) {
    JOB_DURATION.observe(&[kind, outcome], elapsed.as_secs_f64());
}

// ---------------------------------------------------------------------- sync

/// The engine committed these plans' links and log: their writes happened.
pub fn plans_committed(plans: &[&Plan]) {
    for plan in plans {
        if plan.notion != NotionWrite::None {
            WRITES.inc(&["notion"]);
        }
        if plan.airtable != AirtableWrite::None {
            WRITES.inc(&["airtable"]);
        }
        let conflicts = plan.changes.iter().filter(|c| c.conflict).count();
        CONFLICTS.add(&[], u64::try_from(conflicts).unwrap_or(u64::MAX));
    }
}

/// An Airtable row adopted: its Notion page created and the page id written
/// back into the row, both committed.
pub fn row_adopted() {
    WRITES.inc(&["notion"]);
    WRITES.inc(&["airtable"]);
}

/// After a webhook's reconcile job ran: the time from the job's creation
/// (when the first event of the burst was received; see [`SYNC_LAG`]) to
/// now, once per side the job wrote to. Sweeps and manual runs have no
/// event to measure from.
pub async fn job_synced(store: &Store, job: &ClaimedJob, spec: &JobSpec, outcome: &JobOutcome) {
    let JobOutcome::Reconciled(summary) = outcome else {
        return;
    };
    let sides = sides_written(summary);
    if !from_webhook(spec) || sides.is_empty() {
        return;
    }
    // The claim does not carry `created_at`; one read by primary key, only
    // for jobs that wrote, is cheap next to the API calls they made.
    let created_at = match store.get_job(job.id).await {
        Ok(Some(row)) => row.created_at,
        Ok(None) => return,
        Err(e) => {
            tracing::debug!(job = job.id, error = %e, "no sync lag recorded: could not read the job");
            return;
        }
    };
    let lag = Duration::from_millis(u64::try_from(now_ms() - created_at).unwrap_or(0));
    for side in sides {
        SYNC_LAG.observe(&[side], lag.as_secs_f64());
    }
}

/// Whether the job exists because a webhook event arrived (exhaustive, so
/// that a new kind of job is placed on one side or the other).
fn from_webhook(spec: &JobSpec) -> bool {
    match spec {
        JobSpec::ReconcilePage { trigger, .. } | JobSpec::ReconcileRecord { trigger, .. } => {
            *trigger == Trigger::Webhook
        }
        // Enqueued only for a Notion event that names no parent.
        JobSpec::LocatePage { .. } => true,
        // A schema event is a webhook too, but it syncs no record.
        JobSpec::AirtablePayloads { .. }
        | JobSpec::Sweep { .. }
        | JobSpec::ResolveSchema { .. } => false,
    }
}

fn sides_written(summary: &Summary) -> Vec<&'static str> {
    let notion = summary.updated_notion + summary.created_in_notion;
    let airtable = summary.created_in_airtable + summary.updated_airtable + summary.deleted;
    [("notion", notion), ("airtable", airtable)]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(side, _)| side)
        .collect()
}

// -------------------------------------------------------------------- scrape

/// `GET /metrics` (no authentication, as Prometheus expects; nothing in it
/// is secret).
pub(crate) async fn scrape(State(state): State<Shared>) -> Response {
    let body = render_for(&state.store, state.pairs.names()).await;
    ([(CONTENT_TYPE, TEXT_FORMAT)], body).into_response()
}

/// Every metric in the text exposition format.
pub async fn render(store: &Store) -> String {
    render_for(store, &[]).await
}

/// [`render`], with the issue gauges of `pairs` present at 0 when they have
/// none (so that an alert on them has a series to compare).
pub async fn render_for(store: &Store, pairs: &[String]) -> String {
    let mut out = String::new();
    render_store_gauges(store, &mut out).await;
    render_issue_gauges(store, pairs, &mut out).await;
    ensure_series();
    for counter in [&WEBHOOKS_RECEIVED, &WEBHOOKS_REJECTED, &API_REQUESTS] {
        counter.render(&mut out);
    }
    API_RATE_LIMITED.render(&mut out);
    for counter in [&CONFLICTS, &WRITES] {
        counter.render(&mut out);
    }
    for histogram in [&JOB_DURATION, &RATE_LIMIT_WAIT, &SYNC_LAG] {
        histogram.render(&mut out);
    }
    out
}

/// Series an alert compares against exist from the first scrape, at 0.
fn ensure_series() {
    for side in ["notion", "airtable"] {
        WEBHOOKS_RECEIVED.add(&[side], 0);
        API_RATE_LIMITED.add(&[side], 0);
        WRITES.add(&[side], 0);
    }
    CONFLICTS.add(&[], 0);
}

async fn render_store_gauges(store: &Store, out: &mut String) {
    let now = now_ms();
    let read = async {
        let jobs = store.live_jobs_by_kind().await?;
        let oldest = store.oldest_pending_age(now).await?;
        Ok::<_, crate::store::StoreError>((jobs, oldest))
    };
    let (jobs, oldest) = match read.await {
        Ok(read) => read,
        Err(e) => {
            tracing::warn!(error = %e, "/metrics: could not read the job queue");
            store_up(out, false);
            return;
        }
    };
    store_up(out, true);
    let mut series: Vec<(Vec<String>, f64)> = Vec::new();
    for kind in JOB_KINDS {
        for state in LIVE_STATES {
            series.push((vec![(*kind).to_owned(), (*state).to_owned()], 0.0));
        }
    }
    for gauge in jobs {
        let key = vec![gauge.kind, gauge.state];
        let count = gauge.count as f64;
        match series.iter_mut().find(|(k, _)| *k == key) {
            Some((_, value)) => *value = count,
            None => series.push((key, count)),
        }
    }
    render_gauge(
        out,
        "notion_airtable_sync_jobs",
        "Jobs in the queue by kind and state (pending, running, dead), read from the store at scrape time.",
        &["kind", "state"],
        &series,
    );
    let age = oldest.map_or(0.0, |d| d.as_secs_f64());
    render_gauge(
        out,
        "notion_airtable_sync_oldest_pending_job_age_seconds",
        "How long the longest-waiting due pending job has been due (0: none is due).",
        &[],
        &[(Vec::new(), age)],
    );
}

async fn render_issue_gauges(store: &Store, pairs: &[String], out: &mut String) {
    let counts = match store.open_issues_by_scope().await {
        Ok(counts) => counts,
        Err(e) => {
            tracing::warn!(error = %e, "/metrics: could not count the sync issues");
            return;
        }
    };
    let mut series: Vec<(Vec<String>, f64)> = Vec::new();
    for pair in pairs {
        for scope in ISSUE_SCOPES {
            series.push((vec![pair.clone(), (*scope).to_owned()], 0.0));
        }
    }
    for gauge in counts {
        let key = vec![gauge.pair, gauge.scope];
        let count = gauge.count as f64;
        match series.iter_mut().find(|(k, _)| *k == key) {
            Some((_, value)) => *value = count,
            None => series.push((key, count)),
        }
    }
    render_gauge(
        out,
        "notion_airtable_sync_issues",
        "Open sync issues (what the service cannot sync until someone acts: a field stopped by \
         schema drift, a refused value, a missing capability) by pair and scope, read from the \
         store at scrape time.",
        &["pair", "scope"],
        &series,
    );
}

fn store_up(out: &mut String, up: bool) {
    let value = if up { 1.0 } else { 0.0 };
    render_gauge(
        out,
        "notion_airtable_sync_store_up",
        "1 when this scrape could read the job queue from the database, else 0 (the job gauges are then absent).",
        &[],
        &[(Vec::new(), value)],
    );
}

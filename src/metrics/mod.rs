//! The service's Prometheus metrics: recorders that take plain labels and
//! numbers, and the text exposition format they render to.
//!
//! A leaf: it imports nothing from the rest of the crate. Callers translate
//! their own types into the labels of [`labels`] (a word from a fixed set)
//! and call one recorder; the `GET /metrics` handler (`http::metrics`)
//! reads the gauges from the store and hands them to [`render`].
//!
//! One process-wide set of `static` families (on `prometheus-client`), so
//! that instrumenting a call site is one line. Counters and histograms count
//! what this process did since it started; the gauges are read at scrape
//! time, so every replica reports the same queue.
//!
//! | metric | type | labels | counted where |
//! |---|---|---|---|
//! | `notion_airtable_sync_webhooks_received_total` | counter | `source` | every POST to a webhook endpoint ([`webhook_received`]) |
//! | `notion_airtable_sync_webhooks_rejected_total` | counter | `source`, `reason` | every non-2xx answer to one ([`webhook_rejected`]) |
//! | `notion_airtable_sync_jobs` | gauge | `kind`, `state` | the `jobs` table, at scrape time |
//! | `notion_airtable_sync_oldest_pending_job_age_seconds` | gauge | | the `jobs` table, at scrape time |
//! | `notion_airtable_sync_store_up` | gauge | | whether the scrape could read the store |
//! | `notion_airtable_sync_issues` | gauge | `pair`, `scope` | open sync issues (`pair`, `field`, `record`): the `sync_issues` table, at scrape time |
//! | `notion_airtable_sync_api_calls_month` | gauge | `vendor`, `scope` | API calls this UTC month, every replica's: the `api_calls` table, at scrape time |
//! | `notion_airtable_sync_api_budget_month` | gauge | `base` | `[airtable.budgets]` of the mapping file |
//! | `notion_airtable_sync_pending_deletes` | gauge | `pair` | deletes held for review: the `delete_reviews` table, at scrape time |
//! | `notion_airtable_sync_job_duration_seconds` | histogram | `kind`, `outcome` | each job attempt ([`job_finished`]) |
//! | `notion_airtable_sync_api_requests_total` | counter | `vendor`, `method`, `endpoint`, `status` | each API response or transport failure ([`api_call`]) |
//! | `notion_airtable_sync_api_rate_limited_total` | counter | `vendor` | each 429 ([`api_call`]) |
//! | `notion_airtable_sync_rate_limit_wait_seconds` | histogram | `vendor` | the wait for the request budget before each API call ([`budget_wait`]) |
//! | `notion_airtable_sync_conflicts_total` | counter | | conflicting fields resolved and committed ([`conflicts`]) |
//! | `notion_airtable_sync_writes_total` | counter | `side` | records written on a side and committed ([`writes`]) |
//! | `notion_airtable_sync_sync_lag_seconds` | histogram | `side` | webhook job created → its write committed ([`sync_lag`]) |
//!
//! Labels never carry ids, names or secrets: API paths become route
//! templates ([`endpoint::template`], applied by [`api_call`] itself), `pair`
//! is a pair's name from the mapping file, `scope` and `base` name an
//! Airtable base of the mapping file (or the Notion integration's token
//! fingerprint: a few configured values, never a record), and every other
//! label is one of a fixed set of words.

pub mod endpoint;
mod families;
pub mod labels;
mod render;

use std::{future::Future, time::Duration};

use tokio::time::Instant;

use families::{
    API_RATE_LIMITED, API_REQUESTS, ApiLabels, CONFLICTS, JOB_DURATION, JobLabels, RATE_LIMIT_WAIT,
    RejectedLabels, SYNC_LAG, SideLabels, SourceLabels, VendorLabels, WEBHOOKS_RECEIVED,
    WEBHOOKS_REJECTED, WRITES,
};
use labels::ApiStatus;
pub use labels::{Rejection, Side, Vendor, WebhookSource};
pub use render::{
    ApiBudget, ApiCallsMonth, Gauges, IssueCount, JobCount, QueueGauges, TEXT_FORMAT, render,
};

/// A delivery to a webhook endpoint, whatever the answer.
pub fn webhook_received(source: WebhookSource) {
    WEBHOOKS_RECEIVED
        .get_or_create(&SourceLabels { source })
        .inc();
}

/// A delivery to a webhook endpoint answered with an error status.
pub fn webhook_rejected(source: WebhookSource, reason: Rejection) {
    let labels = RejectedLabels { source, reason };
    WEBHOOKS_REJECTED.get_or_create(&labels).inc();
}

/// One API request to `path` (no query string) answered with `status`
/// (None: no response arrived). The path is reduced to its route template
/// here, so no caller can put an id in the label.
pub fn api_call(vendor: Vendor, method: &str, path: &str, status: Option<u16>) {
    let labels = ApiLabels {
        vendor,
        method: method.to_owned(),
        endpoint: endpoint::template(vendor, path),
        status: ApiStatus(status),
    };
    API_REQUESTS.get_or_create(&labels).inc();
    if status == Some(429) {
        API_RATE_LIMITED
            .get_or_create(&VendorLabels { vendor })
            .inc();
    }
}

/// Await `wait` (a request budget's `acquire`) and record how long it took.
pub async fn budget_wait<F: Future>(vendor: Vendor, wait: F) -> F::Output {
    let started = Instant::now();
    let output = wait.await;
    let waited = started.elapsed().as_secs_f64();
    RATE_LIMIT_WAIT
        .get_or_create(&VendorLabels { vendor })
        .observe(waited);
    output
}

/// One job attempt of `kind` (the `jobs.kind` column) ended with `outcome`
/// after `elapsed`.
pub fn job_finished(kind: &str, outcome: &'static str, elapsed: Duration) {
    let labels = JobLabels {
        kind: kind.to_owned(),
        outcome,
    };
    JOB_DURATION
        .get_or_create(&labels)
        .observe(elapsed.as_secs_f64());
}

/// `records` writes on `side` were committed.
pub fn writes(side: Side, records: u64) {
    WRITES.get_or_create(&SideLabels { side }).inc_by(records);
}

/// `fields` conflicting fields were resolved and committed.
pub fn conflicts(fields: u64) {
    CONFLICTS.inc_by(fields);
}

/// A webhook's job wrote to `side`, `lag` after the job was created.
pub fn sync_lag(side: Side, lag: Duration) {
    SYNC_LAG
        .get_or_create(&SideLabels { side })
        .observe(lag.as_secs_f64());
}

#[cfg(test)]
mod tests;

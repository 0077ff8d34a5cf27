//! The process-wide counter and histogram families, their label sets, and
//! their names and help texts.

use std::sync::LazyLock;

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, histogram::Histogram},
    registry::Registry,
};

use super::labels::{ApiStatus, Rejection, Side, Vendor, WebhookSource};

/// Seconds, from 5 ms to 5 min: job runs and rate-limit waits.
const SECONDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];
/// Seconds, from 250 ms to 1 h: an edit reaching the other side.
const LAG_SECONDS: &[f64] = &[
    0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct SourceLabels {
    pub source: WebhookSource,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct RejectedLabels {
    pub source: WebhookSource,
    pub reason: Rejection,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct JobLabels {
    pub kind: String,
    pub outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct ApiLabels {
    pub vendor: Vendor,
    pub method: String,
    pub endpoint: String,
    pub status: ApiStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct VendorLabels {
    pub vendor: Vendor,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct SideLabels {
    pub side: Side,
}

type Counters<L> = Family<L, Counter>;
type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

pub(super) static WEBHOOKS_RECEIVED: LazyLock<Counters<SourceLabels>> =
    LazyLock::new(Family::default);
pub(super) static WEBHOOKS_REJECTED: LazyLock<Counters<RejectedLabels>> =
    LazyLock::new(Family::default);
pub(super) static JOB_DURATION: LazyLock<Histograms<JobLabels>> =
    LazyLock::new(|| Family::new_with_constructor(seconds));
pub(super) static API_REQUESTS: LazyLock<Counters<ApiLabels>> = LazyLock::new(Family::default);
pub(super) static API_RATE_LIMITED: LazyLock<Counters<VendorLabels>> =
    LazyLock::new(Family::default);
pub(super) static RATE_LIMIT_WAIT: LazyLock<Histograms<VendorLabels>> =
    LazyLock::new(|| Family::new_with_constructor(seconds));
pub(super) static CONFLICTS: LazyLock<Counter> = LazyLock::new(Counter::default);
pub(super) static WRITES: LazyLock<Counters<SideLabels>> = LazyLock::new(Family::default);
pub(super) static SYNC_LAG: LazyLock<Histograms<SideLabels>> =
    LazyLock::new(|| Family::new_with_constructor(lag_seconds));

fn seconds() -> Histogram {
    Histogram::new(SECONDS.iter().copied())
}

fn lag_seconds() -> Histogram {
    Histogram::new(LAG_SECONDS.iter().copied())
}

/// Series an alert compares against exist from the first scrape, at 0.
fn ensure_series() {
    for source in WebhookSource::ALL {
        let _ = WEBHOOKS_RECEIVED.get_or_create(&SourceLabels { source });
    }
    for vendor in Vendor::ALL {
        let _ = API_RATE_LIMITED.get_or_create(&VendorLabels { vendor });
    }
    for side in Side::ALL {
        let _ = WRITES.get_or_create(&SideLabels { side });
    }
}

/// Add every counter and histogram family to a scrape's `registry` (the
/// families are shared handles: the registry reads the process-wide values).
///
/// Counter names lack their `_total`, and help texts their final period:
/// the encoder adds both.
pub(super) fn register(registry: &mut Registry) {
    ensure_series();
    registry.register(
        "notion_airtable_sync_webhooks_received",
        "Webhook deliveries received (POST /webhooks/notion or /webhooks/airtable), whatever the answer",
        WEBHOOKS_RECEIVED.clone(),
    );
    registry.register(
        "notion_airtable_sync_webhooks_rejected",
        "Webhook deliveries answered with an error status, by reason",
        WEBHOOKS_REJECTED.clone(),
    );
    registry.register(
        "notion_airtable_sync_api_requests",
        "Requests sent to the Notion and Airtable APIs, by route template and status (\"error\": no response)",
        API_REQUESTS.clone(),
    );
    registry.register(
        "notion_airtable_sync_api_rate_limited",
        "API responses with status 429",
        API_RATE_LIMITED.clone(),
    );
    registry.register(
        "notion_airtable_sync_conflicts",
        "Fields changed on both sides since the last sync, resolved by the field's rule and committed",
        CONFLICTS.clone(),
    );
    registry.register(
        "notion_airtable_sync_writes",
        "Records the service created, updated, archived or deleted on a side, counted once committed",
        WRITES.clone(),
    );
    register_histograms(registry);
}

fn register_histograms(registry: &mut Registry) {
    registry.register(
        "notion_airtable_sync_job_duration_seconds",
        "Time from claiming a job to recording its outcome, per attempt",
        JOB_DURATION.clone(),
    );
    registry.register(
        "notion_airtable_sync_rate_limit_wait_seconds",
        "Time an API call waited for its request budget (pacing, or a 429 penalty) before it was sent",
        RATE_LIMIT_WAIT.clone(),
    );
    registry.register(
        "notion_airtable_sync_sync_lag_seconds",
        "From a webhook's reconcile job being created (the event's receipt) to its write on `side` being committed",
        SYNC_LAG.clone(),
    );
}

//! Every metric in the Prometheus text exposition format (version 0.0.4):
//! the gauges the scrape read, then the process-wide families.

use std::{sync::atomic::AtomicU64, time::Duration};

use prometheus_client::{
    encoding::{EncodeLabelSet, prometheus_text},
    metrics::{family::Family, gauge::Gauge},
    registry::Registry,
};

/// The `Content-Type` of the text exposition format.
pub const TEXT_FORMAT: &str = prometheus_text::CONTENT_TYPE;

/// What a scrape read from the store; `None` where the read failed.
#[derive(Debug, Clone, Default)]
pub struct Gauges {
    /// The job queue. `None`: the store could not be read, so `store_up`
    /// is 0 and the two queue gauges are absent.
    pub queue: Option<QueueGauges>,
    /// Open sync issues per pair and scope. `None`: they could not be
    /// counted, so the gauge is absent.
    pub issues: Option<Vec<IssueCount>>,
    /// API calls this calendar month per vendor scope. `None`: they could
    /// not be read, so the gauge is absent.
    pub api_calls_month: Option<Vec<ApiCallsMonth>>,
    /// The monthly budget of each Airtable base that has one.
    pub api_budgets: Vec<ApiBudget>,
    /// Deletes waiting in the delete review queue per pair. `None`: they
    /// could not be counted, so the gauge is absent.
    pub pending_deletes: Option<Vec<(String, i64)>>,
}

/// API calls of one vendor scope this month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCallsMonth {
    pub vendor: String,
    /// The Airtable base id, or the Notion integration's fingerprint.
    pub scope: String,
    pub calls: i64,
}

/// The monthly call budget of one Airtable base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiBudget {
    pub base: String,
    pub calls: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ScopeLabels {
    vendor: String,
    scope: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct BaseLabels {
    base: String,
}

#[derive(Debug, Clone, Default)]
pub struct QueueGauges {
    /// One per kind and state, including the ones at 0 that should exist.
    pub jobs: Vec<JobCount>,
    /// How long the longest-waiting due pending job has been due (`None`:
    /// none is due).
    pub oldest_pending: Option<Duration>,
}

/// Jobs of one kind in one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCount {
    pub kind: String,
    pub state: String,
    pub count: i64,
}

/// Open sync issues of one pair in one scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueCount {
    pub pair: String,
    pub scope: String,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct JobStateLabels {
    kind: String,
    state: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct IssueLabels {
    pair: String,
    scope: String,
}

/// Every metric: `gauges` as read by the scrape, then every counter and
/// histogram of this process.
pub fn render(gauges: &Gauges) -> String {
    let mut registry = Registry::default();
    register_queue(&mut registry, gauges.queue.as_ref());
    if let Some(issues) = &gauges.issues {
        register_issues(&mut registry, issues);
    }
    if let Some(calls) = &gauges.api_calls_month {
        register_api_calls(&mut registry, calls, &gauges.api_budgets);
    }
    if let Some(pending) = &gauges.pending_deletes {
        register_pending_deletes(&mut registry, pending);
    }
    super::families::register(&mut registry);
    encode(&registry)
}

pub(super) fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing to a `String` cannot fail, and no label value's encoding does.
    let _ = prometheus_text::encode(&mut out, registry);
    out
}

// Help texts lack their final period: the registry adds it.

fn register_queue(registry: &mut Registry, queue: Option<&QueueGauges>) {
    let up: Gauge = Gauge::default();
    up.set(i64::from(queue.is_some()));
    registry.register(
        "notion_airtable_sync_store_up",
        "1 when this scrape could read the job queue from the database, else 0 (the job gauges are then absent)",
        up,
    );
    let Some(queue) = queue else {
        return;
    };
    let jobs: Family<JobStateLabels, Gauge> = Family::default();
    for job in &queue.jobs {
        let labels = JobStateLabels {
            kind: job.kind.clone(),
            state: job.state.clone(),
        };
        jobs.get_or_create(&labels).set(job.count);
    }
    registry.register(
        "notion_airtable_sync_jobs",
        "Jobs in the queue by kind and state (pending, running, dead), read from the store at scrape time",
        jobs,
    );
    let age: Gauge<f64, AtomicU64> = Gauge::default();
    age.set(queue.oldest_pending.map_or(0.0, |d| d.as_secs_f64()));
    registry.register(
        "notion_airtable_sync_oldest_pending_job_age_seconds",
        "How long the longest-waiting due pending job has been due (0: none is due)",
        age,
    );
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PairLabel {
    pair: String,
}

fn register_pending_deletes(registry: &mut Registry, pending: &[(String, i64)]) {
    let family: Family<PairLabel, Gauge> = Family::default();
    for (pair, count) in pending {
        family
            .get_or_create(&PairLabel { pair: pair.clone() })
            .set(*count);
    }
    registry.register(
        "notion_airtable_sync_pending_deletes",
        "Deletes held in the delete review queue until someone approves or rejects them, by \
         pair, read from the store at scrape time",
        family,
    );
}

fn register_issues(registry: &mut Registry, issues: &[IssueCount]) {
    let family: Family<IssueLabels, Gauge> = Family::default();
    for issue in issues {
        let labels = IssueLabels {
            pair: issue.pair.clone(),
            scope: issue.scope.clone(),
        };
        family.get_or_create(&labels).set(issue.count);
    }
    registry.register(
        "notion_airtable_sync_issues",
        "Open sync issues (what the service cannot sync until someone acts: a field stopped by \
         schema drift, a refused value, a missing capability) by pair and scope, read from the \
         store at scrape time",
        family,
    );
}

fn register_api_calls(registry: &mut Registry, calls: &[ApiCallsMonth], budgets: &[ApiBudget]) {
    let family: Family<ScopeLabels, Gauge> = Family::default();
    for call in calls {
        let labels = ScopeLabels {
            vendor: call.vendor.clone(),
            scope: call.scope.clone(),
        };
        family.get_or_create(&labels).set(call.calls);
    }
    registry.register(
        "notion_airtable_sync_api_calls_month",
        "API calls answered this calendar month (UTC) by every replica, per vendor and scope (the \
         Airtable base id, or the Notion integration's token fingerprint), read from the store at \
         scrape time",
        family,
    );
    let family: Family<BaseLabels, Gauge> = Family::default();
    for budget in budgets {
        let labels = BaseLabels {
            base: budget.base.clone(),
        };
        family.get_or_create(&labels).set(budget.calls);
    }
    registry.register(
        "notion_airtable_sync_api_budget_month",
        "The monthly API call budget of each Airtable base that has one ([airtable.budgets] in sync.toml)",
        family,
    );
}

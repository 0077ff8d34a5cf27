//! The kinds of job the service runs, their coalescing keys and payloads.
//! Shared by the HTTP ingest (which enqueues), the runner (which dispatches)
//! and the sync engine (which does the work), so they all agree on names.
//!
//! Keys name the work, so that the queue coalesces duplicates: at most one
//! pending and one running job per key. A record is keyed by its Notion page
//! id whenever the page is known (an Airtable change to a linked row uses the
//! link's page id), so the two sides of one record never run concurrently.

use serde::{Deserialize, Serialize};

use crate::{store::NewJob, telemetry::JobFields};

/// Why a reconcile runs; copied into the sync log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Webhook,
    Sweep,
    Manual,
}

/// One unit of work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobSpec {
    /// Reconcile one record known by its Notion page id.
    ReconcilePage {
        pair: String,
        page_id: String,
        trigger: Trigger,
    },
    /// Reconcile one Airtable record that has no known link yet (or was deleted).
    ReconcileRecord {
        pair: String,
        record_id: String,
        trigger: Trigger,
    },
    /// Find which pair a page belongs to by reading it (a Notion event that
    /// named no parent), then reconcile it there.
    LocatePage { page_id: String },
    /// Drain an Airtable webhook's payloads from the stored cursor.
    AirtablePayloads { webhook_id: String },
    /// Sweep a pair: incremental, or full when `full`.
    Sweep { pair: String, full: bool },
    /// Read a pair's schemas again (a Notion `schema_updated` event):
    /// follow renames, stop fields that were removed or retyped.
    ResolveSchema { pair: String },
}

impl JobSpec {
    /// The `jobs.kind` column value.
    pub fn kind(&self) -> &'static str {
        match self {
            JobSpec::ReconcilePage { .. } => "reconcile_page",
            JobSpec::ReconcileRecord { .. } => "reconcile_record",
            JobSpec::LocatePage { .. } => "locate_page",
            JobSpec::AirtablePayloads { .. } => "airtable_payloads",
            JobSpec::Sweep { .. } => "sweep",
            JobSpec::ResolveSchema { .. } => "resolve_schema",
        }
    }

    /// The coalescing key.
    pub fn key(&self) -> String {
        match self {
            JobSpec::ReconcilePage { pair, page_id, .. } => format!("record:{pair}:page:{page_id}"),
            JobSpec::ReconcileRecord {
                pair, record_id, ..
            } => format!("record:{pair}:airtable:{record_id}"),
            JobSpec::LocatePage { page_id } => format!("locate_page:{page_id}"),
            JobSpec::AirtablePayloads { webhook_id } => format!("airtable_payloads:{webhook_id}"),
            JobSpec::Sweep { pair, full } => {
                format!(
                    "sweep:{pair}:{}",
                    if *full { "full" } else { "incremental" }
                )
            }
            JobSpec::ResolveSchema { pair } => format!("resolve_schema:{pair}"),
        }
    }

    pub fn pair(&self) -> Option<&str> {
        match self {
            JobSpec::ReconcilePage { pair, .. }
            | JobSpec::ReconcileRecord { pair, .. }
            | JobSpec::Sweep { pair, .. }
            | JobSpec::ResolveSchema { pair } => Some(pair),
            JobSpec::LocatePage { .. } | JobSpec::AirtablePayloads { .. } => None,
        }
    }

    /// The row to enqueue, due at `run_at` (epoch ms).
    pub fn to_new_job(&self, run_at: i64) -> NewJob {
        let payload = serde_json::to_value(self).expect("a JobSpec always serializes");
        let job = NewJob::new(self.kind(), self.key(), run_at).with_payload(payload);
        match self.pair() {
            Some(pair) => job.with_pair(pair),
            None => job,
        }
    }

    /// The ids the job's log lines carry.
    pub fn log_fields(&self) -> JobFields<'_> {
        let mut fields = JobFields {
            pair: self.pair(),
            ..JobFields::default()
        };
        match self {
            JobSpec::ReconcilePage { page_id, .. } | JobSpec::LocatePage { page_id } => {
                fields.page_id = Some(page_id);
            }
            JobSpec::ReconcileRecord { record_id, .. } => fields.record_id = Some(record_id),
            JobSpec::AirtablePayloads { webhook_id } => fields.webhook_id = Some(webhook_id),
            JobSpec::Sweep { .. } | JobSpec::ResolveSchema { .. } => {}
        }
        fields
    }

    /// Read a claimed job's payload back.
    pub fn from_payload(payload: &serde_json::Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(payload.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips_and_keys_coalesce_per_record() {
        let spec = JobSpec::ReconcilePage {
            pair: "specs".into(),
            page_id: "p1".into(),
            trigger: Trigger::Webhook,
        };
        let job = spec.to_new_job(5);
        assert_eq!(job.kind, "reconcile_page");
        assert_eq!(job.key, "record:specs:page:p1");
        assert_eq!(job.pair.as_deref(), Some("specs"));
        assert_eq!(JobSpec::from_payload(&job.payload).unwrap(), spec);
        // The trigger does not change the key: a webhook and a sweep coalesce.
        let swept = JobSpec::ReconcilePage {
            pair: "specs".into(),
            page_id: "p1".into(),
            trigger: Trigger::Sweep,
        };
        assert_eq!(swept.key(), spec.key());
    }
}

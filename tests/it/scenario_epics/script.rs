//! The scenario's workspace and how each step reaches the service: the
//! specs and epics pairs (`relations::setup`) with the spec body, the
//! engineers and the mock-up mapped on the specs pair; a person's edit in
//! Notion becomes the reconcile job its webhook event would queue, one in
//! Airtable the payloads job its webhook ping would queue; the queue is
//! then run through `SyncService` (as the worker runs it) until empty, and
//! the API calls the step cost are kept as a figure.

use std::time::Duration;

use notion_airtable_sandbox::{
    common::{CallLog, DeliveryKnobs},
    team::PEOPLE,
};
use notion_airtable_sync::{
    engine::{Summary, webhooks::Ensured},
    jobs::spec::{JobSpec, Trigger},
    store::{Lease, now_ms},
    worker::service::{JobOutcome, SyncService},
};
use serde_json::json;

use crate::common::{TestDb, world::Extra};
use crate::relations::setup::{Two, two_pairs_with};

const ANCHOR: &str = "# Operational data:";

/// The specs pair's new mappings, before the example's one-way fields.
const SPEC_FIELDS: &str = r#"[[pair.field]]
notion = "Engineers"
airtable = "Engineers"
direction = "both"
conflict = "notion"

[[pair.field]]
notion = "Mockup"
airtable = "Mockup"
direction = "both"
conflict = "latest"

[pair.body]
airtable = "Spec"
direction = "both"
conflict = "notion"

# Operational data:"#;

fn extra() -> Extra {
    Extra {
        notion_properties: json!({
            "Engineers": { "people": {} },
            "Mockup": { "files": {} },
        }),
        airtable_fields: vec![
            json!({ "name": "Engineers", "type": "multipleCollaborators" }),
            json!({ "name": "Mockup", "type": "multipleAttachments" }),
            json!({ "name": "Spec", "type": "richText" }),
        ],
        // Everyone on the team is a collaborator of the base.
        airtable_collaborators: Some(PEOPLE.iter().map(|p| (p.email, p.name)).collect()),
        ..Extra::default()
    }
}

/// What one step cost: API calls per side and how many of them wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figure {
    pub step: String,
    pub notion: u64,
    pub notion_writes: u64,
    pub airtable: u64,
    pub airtable_writes: u64,
    /// Of the Airtable calls: webhook payload reads (the harness drains
    /// every table's webhook after the service wrote, where Airtable would
    /// ping only those whose table changed).
    pub payload_reads: u64,
    /// Jobs the step ran (events, payload drains, the reconciles they queued).
    pub jobs: usize,
    /// Of them, record reconciles (the service's own writes coming back as
    /// payloads are echoes: they queue none).
    pub reconciles: usize,
}

impl Figure {
    /// `(Notion calls, Notion writes, Airtable calls but payload reads,
    /// Airtable writes, record reconciles)`.
    pub fn calls(&self) -> (u64, u64, u64, u64, usize) {
        let airtable = self.airtable - self.payload_reads;
        let (n, nw, aw) = (self.notion, self.notion_writes, self.airtable_writes);
        (n, nw, airtable, aw, self.reconciles)
    }
}

pub struct Scenario {
    pub w: Two,
    pub service: SyncService,
    /// `(pair, webhook id)` of each table's Airtable webhook.
    hooks: Vec<(String, String)>,
    pub figures: Vec<Figure>,
    /// The summaries of the reconciles and sweeps the last step ran.
    pub summaries: Vec<Summary>,
}

pub const EPICS: [&str; 2] = ["Checkout revamp", "Search relevance"];

impl Scenario {
    /// The workspace synced once (epics, then specs), with a webhook on
    /// each table whose pings go nowhere: the steps queue the drains.
    pub async fn start(db: TestDb) -> Scenario {
        let titles: Vec<String> = EPICS.iter().map(|t| (*t).to_owned()).collect();
        Self::start_with(db, &titles).await
    }

    /// [`Scenario::start`] with these epics.
    pub async fn start_with(db: TestDb, titles: &[String]) -> Scenario {
        let w = Box::pin(two_pairs_with(
            db,
            titles,
            &[(ANCHOR, SPEC_FIELDS)],
            &extra(),
        ))
        .await;
        w.airtable.set_delivery(DeliveryKnobs {
            drop_rate: 1.0,
            ..DeliveryKnobs::default()
        });
        let me = w.engine.airtable.whoami().await.unwrap().id;
        let pairs = vec![w.specs.clone(), w.epics.clone()];
        let service = SyncService::new(w.engine.clone(), pairs, me);
        let mut s = Scenario {
            w,
            service,
            hooks: Vec::new(),
            figures: Vec::new(),
            summaries: Vec::new(),
        };
        for pair in ["epics", "specs"] {
            s.sweep(pair).await;
        }
        s.settle("initial sync: both pairs, full sweeps").await;
        for pair in [&s.w.specs, &s.w.epics] {
            let made =
                s.w.engine
                    .ensure_webhook(pair, "https://sync.example.com/")
                    .await
                    .unwrap();
            let Ensured::Created(id) = made else {
                panic!("a new webhook: {made:?}")
            };
            s.hooks.push((pair.name().to_owned(), id));
        }
        s.w.notion.calls().reset();
        s.w.airtable.calls().reset();
        s
    }

    /// A person changed `page` in Notion: its webhook event queues this.
    pub async fn notion_event(&self, pair: &str, page: &str) {
        self.queue(JobSpec::ReconcilePage {
            pair: pair.to_owned(),
            page_id: page.to_owned(),
            trigger: Trigger::Webhook,
        })
        .await;
    }

    /// A person changed `pair`'s table in Airtable: the webhook's ping queues
    /// the drain of its payloads.
    pub async fn airtable_ping(&self, pair: &str) {
        let (_, id) = self.hooks.iter().find(|(p, _)| p == pair).unwrap();
        self.queue(JobSpec::AirtablePayloads {
            webhook_id: id.clone(),
        })
        .await;
    }

    /// Queue a full sweep of `pair` (the schedule's).
    pub async fn sweep(&self, pair: &str) {
        self.queue(JobSpec::Sweep {
            pair: pair.to_owned(),
            full: true,
        })
        .await;
    }

    async fn queue(&self, spec: JobSpec) {
        let now = now_ms();
        self.w
            .db
            .store
            .enqueue(&spec.to_new_job(now), now)
            .await
            .unwrap();
    }

    /// Run every queued job (and the jobs they queue) as the worker does,
    /// debounces elapsed; keep and print what the step cost.
    pub async fn settle(&mut self, step: &str) -> &Figure {
        self.summaries.clear();
        let (mut jobs, mut reconciles) = (0, 0);
        let mut drained_after = 0;
        loop {
            let (all, records) = self.run_queue(step).await;
            jobs += all;
            reconciles += records;
            // Airtable pings every webhook of the base after a write: the
            // service's own writes come back as payloads to drain.
            let written = writes(self.w.airtable.calls());
            if written == drained_after {
                break;
            }
            drained_after = written;
            for (pair, _) in self.hooks.clone() {
                self.airtable_ping(&pair).await;
            }
        }
        let (n, a) = (self.w.notion.calls(), self.w.airtable.calls());
        let figure = Figure {
            step: step.to_owned(),
            notion: total(n),
            notion_writes: writes(n),
            airtable: total(a),
            airtable_writes: writes(a),
            payload_reads: payload_reads(a),
            jobs,
            reconciles,
        };
        println!(
            "step {:>2} {:<62} jobs {:>2} ({} reconciles)  Notion {:>3} calls ({:>2} writes)  Airtable {:>3} calls ({:>2} writes, {} payload reads)",
            self.figures.len(),
            figure.step,
            figure.jobs,
            figure.reconciles,
            figure.notion,
            figure.notion_writes,
            figure.airtable,
            figure.airtable_writes,
            figure.payload_reads
        );
        n.reset();
        a.reset();
        self.figures.push(figure);
        self.figures.last().unwrap()
    }
}

impl Scenario {
    /// Run the queue until it is empty → the number of jobs run, and of
    /// record reconciles among them.
    async fn run_queue(&mut self, step: &str) -> (usize, usize) {
        let store = self.w.db.store.clone();
        let (mut jobs, mut reconciles) = (0, 0);
        // The debounce (2 s) and retries are waited out, not slept through.
        let later = || now_ms() + 3_600_000;
        while let Some(job) = store.claim(Duration::from_secs(60), later()).await.unwrap() {
            jobs += 1;
            assert!(jobs < 200, "{step}: the queue does not empty");
            let spec = JobSpec::from_payload(&job.payload).unwrap();
            if matches!(
                spec,
                JobSpec::ReconcilePage { .. } | JobSpec::ReconcileRecord { .. }
            ) {
                reconciles += 1;
            }
            let lease = Lease {
                job_id: job.id,
                token: job.lease_token.clone(),
            };
            // Boxed: the service's future is too large for a test thread's stack.
            let outcome = Box::pin(self.service.run_leased(&spec, lease)).await;
            let outcome = outcome.unwrap_or_else(|e| panic!("{step}: {spec:?}: {e:#}"));
            if let JobOutcome::Reconciled(summary) = outcome {
                self.summaries.push(summary);
            }
            let done = store.complete(job.id, &job.lease_token, later()).await;
            assert!(done.unwrap(), "{step}: {spec:?} completes");
        }
        (jobs, reconciles)
    }
}

/// Calls that change something (everything but reads and queries).
pub fn writes(calls: &CallLog) -> u64 {
    calls
        .snapshot()
        .iter()
        .filter(|c| {
            c.method != "GET" && !c.route.contains("query") && !c.route.contains("listRecords")
        })
        .map(|c| c.count)
        .sum()
}

/// Reads of a webhook's payloads.
pub fn payload_reads(calls: &CallLog) -> u64 {
    calls
        .snapshot()
        .iter()
        .filter(|c| c.method == "GET" && c.route.ends_with("/payloads"))
        .map(|c| c.count)
        .sum()
}

pub fn total(calls: &CallLog) -> u64 {
    calls.snapshot().iter().map(|c| c.count).sum()
}

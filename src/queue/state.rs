//! What a runner and its job tasks share, apart from the handler (so that
//! the code recording outcomes is not generic): the configuration, the
//! store, the counters of how attempts ended.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use tokio::task::JoinHandle;

use super::backoff::Backoff;
use crate::store::Store;

/// How a runner works. The defaults suit the service.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Jobs run at once by this runner.
    pub concurrency: usize,
    /// How long a claim (and each heartbeat) holds a job: a worker that dies
    /// loses its jobs to others this long after its last heartbeat.
    pub lease: Duration,
    /// How often a running job's lease is extended; well under `lease`.
    pub heartbeat: Duration,
    /// Longest wait between looks for due jobs when nothing wakes the runner.
    pub poll_interval: Duration,
    /// How long shutdown waits for in-flight jobs before releasing them.
    pub shutdown_grace: Duration,
    /// Delays between attempts of a failing job.
    pub backoff: Backoff,
    /// The Postgres URL to `LISTEN jobs_ready` on (the store does not share
    /// its pool, so the runner opens its own connection). None: wake-ups
    /// come only from [`Runner::waker`], and the poll loop.
    pub listen_url: Option<String>,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        let lease = Duration::from_secs(30);
        Self {
            concurrency: 4,
            lease,
            heartbeat: lease / 3,
            poll_interval: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(20),
            backoff: Backoff::default(),
            listen_url: None,
        }
    }
}

impl RunnerConfig {
    /// A lease of `lease`, heartbeated every third of it.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self.heartbeat = lease / 3;
        self
    }
}

/// What a runner did so far (since it was created).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunnerStats {
    pub claimed: u64,
    pub completed: u64,
    /// Failed and scheduled for another attempt.
    pub retried: u64,
    /// Rate limited while running: rescheduled, attempt not spent.
    pub rate_limited: u64,
    /// Not run because a budget was under a 429 penalty: rescheduled to its
    /// end, attempt not spent.
    pub deferred: u64,
    /// Failed on their last attempt.
    pub dead: u64,
    /// Given back at shutdown, attempt not spent.
    pub released: u64,
    /// Another worker held the lease when this one tried to extend it or
    /// record the outcome: nothing recorded.
    pub lease_lost: u64,
    /// The outcome could not be recorded (database unavailable): the job runs
    /// again once its lease expires.
    pub unrecorded: u64,
}

#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) claimed: AtomicU64,
    completed: AtomicU64,
    retried: AtomicU64,
    rate_limited: AtomicU64,
    deferred: AtomicU64,
    dead: AtomicU64,
    released: AtomicU64,
    lease_lost: AtomicU64,
    unrecorded: AtomicU64,
}

impl Counters {
    pub(super) fn record(&self, outcome: Outcome) {
        let counter = match outcome {
            Outcome::Completed => &self.completed,
            Outcome::Retried => &self.retried,
            Outcome::RateLimited => &self.rate_limited,
            Outcome::Deferred => &self.deferred,
            Outcome::Dead => &self.dead,
            Outcome::Released => &self.released,
            Outcome::LeaseLost => &self.lease_lost,
            Outcome::Unrecorded => &self.unrecorded,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn snapshot(&self) -> RunnerStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RunnerStats {
            claimed: get(&self.claimed),
            completed: get(&self.completed),
            retried: get(&self.retried),
            rate_limited: get(&self.rate_limited),
            deferred: get(&self.deferred),
            dead: get(&self.dead),
            released: get(&self.released),
            lease_lost: get(&self.lease_lost),
            unrecorded: get(&self.unrecorded),
        }
    }
}

/// The part of a runner that does not depend on the handler's type (kept
/// apart so that the code recording outcomes is not generic).
pub(super) struct Shared {
    pub(super) store: Store,
    pub(super) config: RunnerConfig,
    pub(super) counters: Counters,
}

impl Shared {
    pub(super) fn record(&self, outcome: Outcome) {
        self.counters.record(outcome);
    }
}

/// How an attempt ended, for the runner's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Completed,
    Retried,
    RateLimited,
    Deferred,
    Dead,
    Released,
    LeaseLost,
    Unrecorded,
}

impl Outcome {
    /// The `outcome` label of the job duration histogram.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Retried => "retried",
            Outcome::RateLimited => "rate_limited",
            Outcome::Deferred => "deferred",
            Outcome::Dead => "dead",
            Outcome::Released => "released",
            Outcome::LeaseLost => "lease_lost",
            Outcome::Unrecorded => "unrecorded",
        }
    }
}

/// A task that is aborted when its handle is dropped.
pub(super) struct AbortOnDrop<T = ()>(pub(super) JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

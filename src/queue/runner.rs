//! The job runner: claims due jobs from the store and runs them on a
//! [`JobHandler`], a few at a time.
//!
//! - **Claiming** is one committed statement; no transaction stays open
//!   while a handler calls the APIs. After a successful claim the runner
//!   claims again at once; when nothing is due it waits for a wake-up
//!   ([`Runner::waker`], `LISTEN jobs_ready` on Postgres) or the poll
//!   interval, whichever comes first: wake-ups are only hints.
//! - **Each job** runs in a task of its own, next to a heartbeat that extends
//!   its lease; when the lease is lost (another worker reclaimed the job
//!   after it expired) the run is abandoned. Completion is fenced by the
//!   lease token, so a late finisher changes nothing. See [`super::attempt`].
//! - **Shutdown**: stop claiming, give in-flight jobs the grace period, then
//!   abandon the rest and release their leases (pending again, attempt not
//!   spent) before returning.

use std::{
    future::Future,
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use futures::FutureExt;
use tokio::{
    sync::{Notify, watch},
    task::JoinSet,
};

use super::{
    attempt,
    handler::JobHandler,
    state::{AbortOnDrop, Counters, RunnerConfig, RunnerStats, Shared},
    wakeup::{self, JobsNotifier},
};
use crate::store::{Backend, Store, StoreError, now_ms};

/// Runs jobs from `store` on `handler`. One runner per process is enough;
/// several (in one process or many) may share a database.
pub struct Runner<H> {
    inner: Arc<Inner<H>>,
}

/// What every job task of a runner shares.
pub(super) struct Inner<H> {
    pub(super) handler: Arc<H>,
    pub(super) shared: Arc<Shared>,
    waker: Arc<Notify>,
}

impl<H: JobHandler> Runner<H> {
    pub fn new(store: Store, handler: Arc<H>, config: RunnerConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                handler,
                shared: Arc::new(Shared {
                    store,
                    config,
                    counters: Counters::default(),
                }),
                waker: Arc::new(Notify::new()),
            }),
        }
    }

    /// Wakes the runner to look for due jobs now (e.g. the HTTP layer of
    /// the same process after enqueueing).
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.inner.waker)
    }

    /// A notifier that wakes this runner; add Postgres with
    /// [`JobsNotifier::with_postgres`] to wake other processes too.
    pub fn notifier(&self) -> JobsNotifier {
        JobsNotifier::local(self.waker())
    }

    pub fn handler(&self) -> &Arc<H> {
        &self.inner.handler
    }

    pub fn stats(&self) -> RunnerStats {
        self.inner.shared.counters.snapshot()
    }

    /// Run jobs until `shutdown` resolves, then shut down gracefully (see the
    /// module doc). Database errors are logged and retried at the poll
    /// interval, never fatal: the runner outlives an outage. Drive it to the
    /// end: dropping the future instead stops the jobs without releasing
    /// them (they run again once their leases expire).
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> RunnerStats {
        let _listener = self.start_listener();
        let mut slots = Slots::new(Arc::clone(&self.inner));
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            if shutdown.as_mut().now_or_never().is_some() {
                break;
            }
            slots.reap();
            match slots.claim_if_room().await {
                // Probably more due: claim again at once.
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(error = %e, "could not claim a job; trying again at the next poll")
                }
            }
            let idle = self.idle_wait(slots.has_room()).await;
            tokio::select! {
                biased;
                () = shutdown.as_mut() => break,
                // A slot is free (and the finished job's key may have a
                // follow-up job that can run now).
                Some(()) = slots.join_next() => {}
                () = self.inner.waker.notified(), if slots.has_room() => {}
                () = tokio::time::sleep(idle) => {}
            }
        }
        slots.shut_down().await;
        self.stats()
    }

    /// Run every job that is due now (and those that become due while
    /// running, e.g. a retry without delay), `concurrency` at a time, and
    /// return once none is due or running: deterministic draining for
    /// tests, the demo and one-shot CLI commands. Stats are cumulative.
    pub async fn run_until_idle(&self) -> Result<RunnerStats, StoreError> {
        let mut slots = Slots::new(Arc::clone(&self.inner));
        loop {
            loop {
                match slots.claim_if_room().await {
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err(e) => {
                        slots.drain().await;
                        return Err(e);
                    }
                }
            }
            if slots.join_next().await.is_none() {
                return Ok(self.stats());
            }
        }
    }

    /// How long to wait for a wake-up before looking again: the poll
    /// interval, or less when a scheduled job (a debounced reconcile, a
    /// retry) becomes due sooner, so it runs on time rather than up to a
    /// poll interval late.
    async fn idle_wait(&self, has_room: bool) -> Duration {
        let poll = self.inner.shared.config.poll_interval;
        if !has_room {
            return poll;
        }
        let now = now_ms();
        match self.inner.shared.store.next_run_at(now).await {
            Ok(Some(at)) => poll.min(Duration::from_millis(u64::try_from(at - now).unwrap_or(0))),
            Ok(None) => poll,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the job schedule; polling");
                poll
            }
        }
    }

    fn start_listener(&self) -> Option<AbortOnDrop> {
        if self.inner.shared.store.backend() != Backend::Postgres {
            return None;
        }
        let Some(url) = self.inner.shared.config.listen_url.clone() else {
            tracing::info!("no LISTEN URL configured: the runner polls for jobs");
            return None;
        };
        let waker = self.waker();
        Some(AbortOnDrop(tokio::spawn(wakeup::listen(url, waker))))
    }
}

/// The jobs in flight of one `run`/`run_until_idle` call.
struct Slots<H> {
    inner: Arc<Inner<H>>,
    tasks: JoinSet<()>,
    /// Set at the end of the shutdown grace: in-flight jobs release their
    /// leases and stop.
    abandon: watch::Sender<bool>,
}

impl<H: JobHandler> Slots<H> {
    fn new(inner: Arc<Inner<H>>) -> Self {
        Self {
            inner,
            tasks: JoinSet::new(),
            abandon: watch::channel(false).0,
        }
    }

    fn has_room(&self) -> bool {
        self.tasks.len() < self.inner.shared.config.concurrency.max(1)
    }

    /// Claim a due job and start it, if a slot is free; whether one started.
    async fn claim_if_room(&mut self) -> Result<bool, StoreError> {
        if !self.has_room() {
            return Ok(false);
        }
        let shared = &self.inner.shared;
        let Some(job) = shared.store.claim(shared.config.lease, now_ms()).await? else {
            return Ok(false);
        };
        shared.counters.claimed.fetch_add(1, Ordering::Relaxed);
        let abandon = self.abandon.subscribe();
        self.tasks.spawn(attempt::run_job(
            Arc::clone(&self.inner.handler),
            Arc::clone(&self.inner.shared),
            job,
            abandon,
        ));
        Ok(true)
    }

    /// Forget finished tasks without waiting.
    fn reap(&mut self) {
        while let Some(joined) = self.tasks.try_join_next() {
            log_task_end(joined);
        }
    }

    /// Wait for one task to end; None if none runs.
    async fn join_next(&mut self) -> Option<()> {
        self.tasks.join_next().await.map(log_task_end)
    }

    async fn drain(&mut self) {
        while self.join_next().await.is_some() {}
    }

    /// Wait up to the grace period, then make the rest release their leases.
    async fn shut_down(mut self) {
        if self.tasks.is_empty() {
            return;
        }
        let grace = self.inner.shared.config.shutdown_grace;
        tracing::info!(
            in_flight = self.tasks.len(),
            ?grace,
            "stopping: waiting for in-flight jobs"
        );
        if tokio::time::timeout(grace, self.drain()).await.is_ok() {
            return;
        }
        tracing::warn!(
            in_flight = self.tasks.len(),
            "grace period over: releasing the leases of unfinished jobs"
        );
        self.abandon.send_replace(true);
        self.drain().await;
    }
}

/// A job task never panics on purpose (handler panics are caught inside
/// it); log it if one does rather than take the runner down.
fn log_task_end(joined: Result<(), tokio::task::JoinError>) {
    if let Err(e) = joined {
        tracing::error!(error = %e, "a job task ended abnormally; its lease will expire");
    }
}

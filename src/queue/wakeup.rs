//! Waking workers when jobs are enqueued. Always a hint: the runner's poll
//! loop finds every due job anyway, a wake-up only makes it sooner.
//!
//! - In one process (any backend) the runner's [`Notify`] is triggered
//!   directly (`Runner::waker`).
//! - Across processes on Postgres, enqueuers send `NOTIFY jobs_ready` after
//!   their commit and every runner `LISTEN`s. The [`Store`](crate::store::Store)
//!   keeps its pool to itself, so both sides open their own connection from
//!   the database URL: one listening connection per runner, and a
//!   one-connection pool per [`JobsNotifier`].
//!
//! A NOTIFY takes a global lock at commit, so the notifier sends them from a
//! background task that folds every request made while one is being sent
//! into a single next one: a burst of webhooks costs one or two NOTIFYs.

use std::{sync::Arc, time::Duration};

use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use tokio::sync::{Notify, mpsc};

/// The Postgres channel runners listen on.
pub const JOBS_READY_CHANNEL: &str = "jobs_ready";

/// Longest pause between attempts to re-establish the LISTEN connection.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(30);

/// Tells runners that jobs are ready. Cheap to clone; never fails (a lost
/// wake-up only delays a job until the next poll).
#[derive(Debug, Clone, Default)]
pub struct JobsNotifier {
    local: Option<Arc<Notify>>,
    postgres: Option<mpsc::Sender<()>>,
}

impl JobsNotifier {
    /// Wakes nothing (enqueuers that have no runner to tell).
    pub fn none() -> Self {
        Self::default()
    }

    /// Wakes a runner of this process (`Runner::waker`).
    pub fn local(waker: Arc<Notify>) -> Self {
        Self {
            local: Some(waker),
            postgres: None,
        }
    }

    /// Also sends `NOTIFY jobs_ready` to the Postgres database at
    /// `database_url` (a no-op for any other URL). Connects lazily; call it
    /// inside a Tokio runtime (it starts the sending task).
    pub fn with_postgres(mut self, database_url: &str) -> Result<Self, sqlx::Error> {
        if !is_postgres_url(database_url) {
            return Ok(self);
        }
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(2))
            .connect_lazy(database_url)?;
        // Capacity 1: a request made while one is queued is the same request.
        let (tx, rx) = mpsc::channel(1);
        tokio::spawn(send_notifies(pool, rx));
        self.postgres = Some(tx);
        Ok(self)
    }

    /// Jobs were committed: wake the runners. Call after the commit.
    pub fn notify(&self) {
        if let Some(local) = &self.local {
            local.notify_one();
        }
        if let Some(tx) = &self.postgres {
            // Full means a NOTIFY is already due to go out: nothing to add.
            let _ = tx.try_send(());
        }
    }
}

/// Whether a database URL names Postgres.
pub fn is_postgres_url(url: &str) -> bool {
    let scheme = url.split_once(':').map_or("", |(s, _)| s);
    scheme.eq_ignore_ascii_case("postgres") || scheme.eq_ignore_ascii_case("postgresql")
}

/// Until every notifier clone is dropped: one NOTIFY per batch of requests.
async fn send_notifies(pool: PgPool, mut requests: mpsc::Receiver<()>) {
    while requests.recv().await.is_some() {
        let sent = sqlx::query("SELECT pg_notify($1, '')")
            .bind(JOBS_READY_CHANNEL)
            .execute(&pool)
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "could not send NOTIFY {JOBS_READY_CHANNEL}; workers will poll");
        }
    }
    pool.close().await;
}

/// Forever (until aborted): LISTEN on `jobs_ready` and wake `waker` on each
/// notification, reconnecting with a growing pause when the connection
/// fails. Every (re)connection also wakes it: notifications sent while the
/// connection was down are lost.
pub(crate) async fn listen(database_url: String, waker: Arc<Notify>) {
    const FIRST_DELAY: Duration = Duration::from_millis(250);
    let mut delay = FIRST_DELAY;
    loop {
        let error = match subscribe(&database_url).await {
            Ok(listener) => {
                delay = FIRST_DELAY;
                waker.notify_one();
                relay(listener, &waker).await
            }
            Err(e) => e,
        };
        tracing::warn!(error = %error, ?delay, "LISTEN {JOBS_READY_CHANNEL} failed; polling meanwhile, reconnecting");
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(MAX_RECONNECT_DELAY);
    }
}

async fn subscribe(database_url: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect(database_url).await?;
    listener.listen(JOBS_READY_CHANNEL).await?;
    tracing::debug!("listening on {JOBS_READY_CHANNEL}");
    Ok(listener)
}

/// Wake on every notification until the connection fails for good.
async fn relay(mut listener: PgListener, waker: &Notify) -> sqlx::Error {
    loop {
        match listener.try_recv().await {
            // `None`: the connection dropped and sqlx re-established it (and
            // the LISTEN); whatever was sent meanwhile is lost, so wake too.
            Ok(_) => waker.notify_one(),
            Err(e) => return e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_are_told_apart() {
        assert!(is_postgres_url("postgres://u@h/db"));
        assert!(is_postgres_url("PostgreSQL://u@h/db"));
        assert!(!is_postgres_url("sqlite://data/sync.db"));
        assert!(!is_postgres_url("nonsense"));
    }
}

//! Alerts to `ALERT_WEBHOOK_URL`: one message when a condition starts and
//! one when it clears (dead jobs, a pair stopped by schema drift, a token
//! refused, an Airtable webhook failing or about to expire, a long
//! rate-limit pause, the queue falling behind, a monthly API budget running
//! out).
//!
//! [`Alerts::run`] is its own task under `serve`: every `evaluate_every` it
//! reads the conditions from the store ([`conditions`]) and claims the
//! messages they call for in the store (so that several replicas send each
//! once, and a condition that flaps starts at most once per
//! `repeat_after`; its clear always follows); every `deliver_every` it posts
//! what is owed ([`deliver`]), retrying failures with exponential backoff.
//! Nothing here blocks the sync: a receiver that is down only delays its
//! own messages, and each failure is logged.

pub mod conditions;
pub mod deliver;
pub mod message;

use std::{future::Future, sync::Arc, time::Duration};

use crate::{
    config::{ApiBudgets, Env},
    secret::Secret,
    store::{Store, StoreError, duration_ms, now_ms},
};
use conditions::{Sources, kind_of};
use deliver::{Receiver, backoff};
use message::Message;

/// The clock the alerts read (epoch ms); tests move it instead of waiting.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Delivered messages are kept this long (the status page lists the newest).
const KEEP_DELIVERED: Duration = Duration::from_secs(30 * 86_400);
/// Messages looked at per delivery round.
const DELIVERY_BATCH: i64 = 20;
/// Delivery rounds at most per call of [`Alerts::deliver`].
const DELIVERY_ROUNDS: usize = 5;

/// Thresholds and schedules of the alerts.
#[derive(Clone)]
pub struct AlertConfig {
    pub evaluate_every: Duration,
    pub deliver_every: Duration,
    /// At most one `started` message per condition in this long.
    pub repeat_after: Duration,
    /// The oldest due job waiting longer: the queue is falling behind.
    pub queue_behind: Duration,
    /// A rate budget paused (429) longer than this.
    pub rate_limit_pause: Duration,
    /// An Airtable webhook expiring sooner than this.
    pub webhook_expiry_warning: Duration,
    /// The first retry of a failed delivery; each next one waits twice as
    /// long, at most `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// How long a replica holds a message while it delivers it.
    pub delivery_lease: Duration,
    /// Values no message may contain (tokens, the URL itself...).
    pub secrets: Vec<Secret>,
    pub clock: Clock,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            evaluate_every: Duration::from_secs(30),
            deliver_every: Duration::from_secs(2),
            repeat_after: Duration::from_secs(3600),
            queue_behind: Duration::from_secs(10 * 60),
            rate_limit_pause: Duration::from_secs(5 * 60),
            webhook_expiry_warning: Duration::from_secs(48 * 3600),
            backoff_base: Duration::from_secs(5),
            backoff_max: Duration::from_secs(30 * 60),
            delivery_lease: Duration::from_secs(60),
            secrets: Vec::new(),
            clock: Arc::new(now_ms),
        }
    }
}

impl std::fmt::Debug for AlertConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertConfig")
            .field("evaluate_every", &self.evaluate_every)
            .field("repeat_after", &self.repeat_after)
            .finish_non_exhaustive()
    }
}

/// What one evaluation decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evaluation {
    /// Conditions whose `started` message this evaluation queued.
    pub started: Vec<String>,
    /// Conditions whose `cleared` message this evaluation queued.
    pub cleared: Vec<String>,
}

/// The alerts of one deployment.
pub struct Alerts {
    store: Store,
    config: AlertConfig,
    budgets: ApiBudgets,
    /// (pair, Airtable base) of every configured pair.
    pairs: Vec<(String, String)>,
    receiver: Receiver,
}

impl Alerts {
    /// Alerts posted to `url`; the URL joins the secrets no message shows.
    pub fn new(
        store: Store,
        url: Secret,
        mut config: AlertConfig,
        budgets: ApiBudgets,
        pairs: Vec<(String, String)>,
    ) -> anyhow::Result<Self> {
        config.secrets.push(url.clone());
        Ok(Alerts {
            store,
            config,
            budgets,
            pairs,
            receiver: Receiver::new(url)?,
        })
    }

    /// The alerts `env` asks for (`ALERT_WEBHOOK_URL`; None when unset),
    /// with every secret of `env` kept out of the messages.
    pub fn from_env(
        env: &Env,
        store: &Store,
        mut config: AlertConfig,
        budgets: ApiBudgets,
        pairs: Vec<(String, String)>,
    ) -> anyhow::Result<Option<Self>> {
        let Some(url) = env.alert_webhook_url.clone() else {
            tracing::info!("ALERT_WEBHOOK_URL is not set: no alerts are sent");
            return Ok(None);
        };
        config.secrets.extend(
            [
                &env.notion_token,
                &env.airtable_token,
                &env.admin_token,
                &env.notion_webhook_secret,
            ]
            .into_iter()
            .flatten()
            .cloned()
            .chain([env.database_url.clone()]),
        );
        Self::new(store.clone(), url, config, budgets, pairs).map(Some)
    }

    /// Read every condition and queue the messages they call for.
    pub async fn evaluate(&self, now: i64) -> Result<Evaluation, StoreError> {
        let sources = Sources {
            store: &self.store,
            config: &self.config,
            budgets: &self.budgets,
            pairs: &self.pairs,
        };
        let seen = sources.observe(now).await?;
        let states = self.store.alert_states().await?;
        let repeat = duration_ms(self.config.repeat_after);
        let mut evaluation = Evaluation::default();
        for o in &seen {
            let since = self
                .store
                .observe_alert(&o.key, o.pair.as_deref(), &o.detail, now)
                .await?;
            if now - since < duration_ms(o.hold) {
                continue;
            }
            let body = self.body(&o.key, "started", o.pair.as_deref(), &o.detail, now);
            if self
                .store
                .claim_alert_start(&o.key, &body, now, repeat)
                .await?
            {
                tracing::warn!(condition = %o.key, detail = %o.detail, "alert started");
                evaluation.started.push(o.key.clone());
            }
        }
        for state in states
            .iter()
            .filter(|s| !seen.iter().any(|o| o.key == s.condition))
        {
            if state.observed_since.is_some() {
                self.store.unobserve_alert(&state.condition, now).await?;
            }
            if state.announced != "started" {
                continue;
            }
            let body = self.body(
                &state.condition,
                "cleared",
                state.pair.as_deref(),
                &state.detail,
                now,
            );
            if self
                .store
                .claim_alert_clear(&state.condition, &body, now)
                .await?
            {
                tracing::info!(condition = %state.condition, "alert cleared");
                evaluation.cleared.push(state.condition.clone());
            }
        }
        Ok(evaluation)
    }

    fn body(
        &self,
        condition: &str,
        state: &str,
        pair: Option<&str>,
        detail: &str,
        at: i64,
    ) -> String {
        Message {
            condition,
            kind: kind_of(condition),
            state,
            pair,
            detail,
            at,
        }
        .body(&self.config.secrets)
    }

    /// Post the messages owed at `now`; returns how many were delivered.
    /// A failure is logged and retried later with backoff. A message
    /// delivered makes the next of its condition (a clear after its start)
    /// owed at once, so rounds repeat while they deliver.
    pub async fn deliver(&self, now: i64) -> Result<usize, StoreError> {
        let mut delivered = 0;
        for _ in 0..DELIVERY_ROUNDS {
            let round = self.deliver_round(now).await?;
            delivered += round;
            if round == 0 {
                break;
            }
        }
        Ok(delivered)
    }

    async fn deliver_round(&self, now: i64) -> Result<usize, StoreError> {
        let mut delivered = 0;
        for message in self.store.owed_alerts(now, DELIVERY_BATCH).await? {
            let lease_until = now + duration_ms(self.config.delivery_lease);
            if !self.store.lease_alert(message.id, now, lease_until).await? {
                continue;
            }
            match self.receiver.post(&message.body).await {
                Ok(()) => {
                    let at = (self.config.clock)();
                    self.store.alert_delivered(message.id, at).await?;
                    tracing::info!(condition = %message.condition, state = %message.state, "alert delivered");
                    delivered += 1;
                }
                Err(error) => {
                    let attempts = u32::try_from(message.attempts).unwrap_or(0);
                    let wait = backoff(attempts, self.config.backoff_base, self.config.backoff_max);
                    let retry_at = (self.config.clock)() + duration_ms(wait);
                    self.store
                        .alert_failed(message.id, &error, retry_at)
                        .await?;
                    tracing::error!(
                        condition = %message.condition,
                        state = %message.state,
                        attempt = attempts + 1,
                        retry_in_secs = wait.as_secs(),
                        %error,
                        "could not deliver an alert to ALERT_WEBHOOK_URL; retrying"
                    );
                }
            }
        }
        Ok(delivered)
    }

    /// Evaluate and deliver on their schedules until `shutdown`. Store
    /// errors are logged and the next round tries again.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut next_evaluation = i64::MIN;
        loop {
            let now = (self.config.clock)();
            if now >= next_evaluation {
                if let Err(e) = self.evaluate(now).await {
                    tracing::warn!(error = %e, "could not evaluate the alert conditions");
                }
                let before = now - duration_ms(KEEP_DELIVERED);
                if let Err(e) = self.store.prune_alerts(before).await {
                    tracing::warn!(error = %e, "could not prune delivered alerts");
                }
                next_evaluation = now + duration_ms(self.config.evaluate_every);
            }
            if let Err(e) = self.deliver((self.config.clock)()).await {
                tracing::warn!(error = %e, "could not read the alerts owed");
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(self.config.deliver_every) => {}
            }
        }
    }
}

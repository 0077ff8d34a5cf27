//! The Airtable client: the HTTP client, the token and one request budget
//! per base; endpoint methods live in `records` and `webhook_api`.
//!
//! Airtable limits each base to 5 requests/s and answers a 429 with "wait
//! 30 seconds", so a 429 penalises that base's budget for the penalty (or a
//! `Retry-After`, when given) and every task on that base pauses; the call
//! is then repeated per the [`RetryPolicy`]. A `PUBLIC_API_BILLING_LIMIT_EXCEEDED`
//! 429 is fatal and never retried. Transient faults are repeated only for
//! reads. Each call is logged at debug level without the token or the body.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use reqwest::{Method, header::RETRY_AFTER};
use serde::de::DeserializeOwned;
use serde_json::Value as Json;
use url::Url;

use super::error::classify;
use crate::clients::api_error::{ApiError, Vendor, parse_retry_after};
use crate::clients::http::{
    api_root, build_http_client, join_path, read_error_body, read_json, send,
};
use crate::clients::retry::RetryPolicy;
use crate::secret::Secret;
use crate::{
    clients::{SharedBudget, ratelimit::Budget, shared_budget::airtable_name},
    store::Pace,
    store::Store,
};

/// What Airtable asks for after a 429 without `Retry-After`.
pub const DEFAULT_PENALTY: Duration = Duration::from_secs(30);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Budget key of calls not tied to a base (`whoami`).
const USER_BUDGET: &str = "user";

/// A client for one Airtable token.
#[derive(Debug, Clone)]
pub struct AirtableClient {
    http: reqwest::Client,
    /// `https://api.airtable.com/v0`.
    pub(super) root: Url,
    token: Secret,
    budgets: Arc<Mutex<HashMap<String, Arc<Budget>>>>,
    /// Where base budgets created from now on keep their shared schedule.
    shared_budgets: Option<Store>,
    pace: Pace,
    penalty: Duration,
    timeout: Duration,
    retry: RetryPolicy,
    /// The longest a call waits for a 429 penalty before giving up with a
    /// rate-limit error instead (None: it waits the penalty out).
    penalty_wait_limit: Option<Duration>,
}

/// Whether a call may be repeated after a transient fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Idempotent {
    Yes,
    No,
}

impl AirtableClient {
    /// `base_url` is the API origin, e.g. `https://api.airtable.com` or a
    /// sandbox's `http://127.0.0.1:PORT`; requests go under `/v0`.
    pub fn new(base_url: &str, token: Secret) -> anyhow::Result<Self> {
        Ok(Self {
            http: build_http_client()?,
            root: api_root(base_url, "v0")?,
            token,
            budgets: Arc::default(),
            shared_budgets: None,
            pace: crate::clients::ratelimit::airtable_pace(),
            penalty: DEFAULT_PENALTY,
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
            penalty_wait_limit: None,
        })
    }

    /// The wait after a 429 that carries no `Retry-After`.
    pub fn with_penalty(mut self, penalty: Duration) -> Self {
        self.penalty = penalty;
        self
    }

    /// The pace of budgets created from now on: `per_second` requests per
    /// second per base, evenly spaced, instead of Airtable's own window.
    pub fn with_rate(mut self, per_second: f64) -> Self {
        self.pace = Pace::spaced(per_second, 1);
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Give up on a call, with a rate-limit error, rather than wait more
    /// than `limit` for a 429 penalty: jobs re-plan from a fresh read after
    /// the pause instead of sending a write planned before it.
    pub fn with_penalty_wait_limit(mut self, limit: Duration) -> Self {
        self.penalty_wait_limit = Some(limit);
        self
    }

    /// Use `budget` for every call on `base_id` (so the job layer can share
    /// one budget between clients).
    pub fn with_budget(self, base_id: &str, budget: Arc<Budget>) -> Self {
        self.lock_budgets().insert(base_id.to_owned(), budget);
        self
    }

    /// Pace each base by its budget in `store`, shared with every replica:
    /// Airtable's limit is per base, whoever calls. (Calls outside a base,
    /// such as `whoami`, fall under the far larger per-user limit and keep
    /// an in-process budget.)
    pub fn with_shared_budgets(mut self, store: Store) -> Self {
        self.shared_budgets = Some(store);
        self
    }

    /// The budget of a base, created at the configured rate on first use.
    pub fn budget_for(&self, base_id: &str) -> Arc<Budget> {
        let mut budgets = self.lock_budgets();
        let budget = budgets
            .entry(base_id.to_owned())
            .or_insert_with(|| Arc::new(self.new_budget(base_id)));
        Arc::clone(budget)
    }

    fn new_budget(&self, base_id: &str) -> Budget {
        let budget = Budget::with_pace(airtable_name(base_id), self.pace);
        match &self.shared_budgets {
            Some(store) if base_id != USER_BUDGET => {
                let shared =
                    SharedBudget::with_pace(store.clone(), airtable_name(base_id), self.pace)
                        .with_vendor(Vendor::Airtable);
                budget.with_shared(shared)
            }
            _ => budget,
        }
    }

    fn lock_budgets(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Budget>>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.budgets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// GET a URL built from the API root; reads are always idempotent.
    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        base_id: Option<&str>,
        url: Url,
    ) -> Result<T, ApiError> {
        self.call(base_id, Method::GET, url, None, Idempotent::Yes)
            .await
    }

    /// Send `method` with an optional JSON body.
    pub(super) async fn send<T: DeserializeOwned>(
        &self,
        base_id: Option<&str>,
        method: Method,
        url: Url,
        body: Option<&Json>,
        idempotent: Idempotent,
    ) -> Result<T, ApiError> {
        self.call(base_id, method, url, body, idempotent).await
    }

    /// `/v0/<segments>`.
    pub(super) fn url(&self, segments: &[&str]) -> Url {
        join_path(&self.root, segments)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        base_id: Option<&str>,
        method: Method,
        url: Url,
        body: Option<&Json>,
        idempotent: Idempotent,
    ) -> Result<T, ApiError> {
        let budget = self.budget_for(base_id.unwrap_or(USER_BUDGET));
        let attempt = || self.call_once(&budget, &method, &url, body);
        self.retry.run(idempotent == Idempotent::Yes, attempt).await
    }

    /// One attempt: wait for the base's budget, send, classify.
    async fn call_once<T: DeserializeOwned>(
        &self,
        budget: &Budget,
        method: &Method,
        url: &Url,
        body: Option<&Json>,
    ) -> Result<T, ApiError> {
        let request = self
            .http
            .request(method.clone(), url.clone())
            .bearer_auth(self.token.expose())
            .timeout(self.timeout);
        let request = match body {
            Some(body) => request.json(body),
            None => request,
        };
        let wait_limit = self.penalty_wait_limit;
        let response = send(Vendor::Airtable, budget, wait_limit, request, (method, url)).await?;
        if response.status().is_success() {
            return read_json(Vendor::Airtable, response).await;
        }
        Err(self.error_from(budget, response).await)
    }

    /// Classify an error response. A rate limit, or a 503 that names a
    /// `Retry-After`, pauses every call on the base.
    async fn error_from(&self, budget: &Budget, response: reqwest::Response) -> ApiError {
        let status = response.status().as_u16();
        let retry_after = parse_retry_after(response.headers().get(RETRY_AFTER));
        let err = classify(
            status,
            retry_after,
            self.penalty,
            &read_error_body(response).await,
        );
        match (&err, retry_after) {
            (ApiError::RateLimited { retry_after, .. }, _) => {
                budget.rate_limited(*retry_after).await
            }
            (ApiError::Retryable { .. }, Some(wait)) if status == 503 => {
                budget.penalize(wait).await
            }
            _ => {}
        }
        err
    }
}

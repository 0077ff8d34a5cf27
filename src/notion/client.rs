//! The Notion client: one struct holding the HTTP client, the token and the
//! integration's request budget; one method per endpoint (in `endpoints`).
//!
//! Every call waits on the shared [`Budget`] first. A 429/529 penalises the
//! budget for `Retry-After` (so every task on this integration pauses), then
//! the call is repeated per the [`RetryPolicy`]; transient faults are
//! repeated only for GETs. Each call is logged at debug level without the
//! token or the body.

use std::{sync::Arc, time::Duration};

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
    clients::{
        SharedBudget,
        ratelimit::{Budget, NOTION_BURST, NOTION_RATE_PER_SEC},
    },
    store::Store,
};

/// The API version this client speaks (database ≠ data source).
pub const NOTION_VERSION: &str = "2025-09-03";
/// Notion itself answers 503 after 60 s, so waiting less would abandon
/// writes that may still succeed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A client for one Notion integration (one token, one budget).
#[derive(Debug, Clone)]
pub struct NotionClient {
    pub(super) http: reqwest::Client,
    /// `https://api.notion.com/v1`.
    pub(super) root: Url,
    token: Secret,
    pub(super) budget: Arc<Budget>,
    timeout: Duration,
    retry: RetryPolicy,
    /// The longest a call waits for a 429 penalty before giving up with a
    /// rate-limit error instead (None: it waits the penalty out).
    pub(super) penalty_wait_limit: Option<Duration>,
}

impl NotionClient {
    /// `base_url` is the API origin, e.g. `https://api.notion.com` or a
    /// sandbox's `http://127.0.0.1:PORT`; requests go under `/v1`.
    pub fn new(base_url: &str, token: Secret, budget: Arc<Budget>) -> anyhow::Result<Self> {
        Ok(Self {
            http: build_http_client()?,
            root: api_root(base_url, "v1")?,
            token,
            budget,
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
            penalty_wait_limit: None,
        })
    }

    /// The time one request may take, from connect to the end of the body.
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

    pub fn budget(&self) -> &Arc<Budget> {
        &self.budget
    }

    /// Pace calls by the integration's budget in `store`, shared with every
    /// replica (and every other client of the same token), keeping the
    /// current budget's rate as the fallback when the database is down.
    pub fn with_shared_budget(mut self, store: Store) -> Self {
        let shared = SharedBudget::notion(store, &self.token);
        let budget = Budget::new(shared.name(), NOTION_RATE_PER_SEC, NOTION_BURST);
        self.budget = Arc::new(budget.with_shared(shared));
        self
    }

    /// GET `segments`, then `raw_tail` appended as it is (already
    /// URL-encoded: a property id is passed "as returned, including any URL
    /// encoding", Notion's guide to reading property values).
    pub(super) async fn get_encoded<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        raw_tail: &str,
        query: &[(&str, &str)],
    ) -> Result<T, ApiError> {
        let mut url = join_path(&self.root, segments);
        let path = format!("{}/{raw_tail}", url.path().trim_end_matches('/'));
        url.set_path(&path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        self.call(Method::GET, url, None).await
    }

    /// GET `segments` with query parameters.
    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<T, ApiError> {
        let mut url = join_path(&self.root, segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        self.call(Method::GET, url, None).await
    }

    /// POST or PATCH a JSON body to `segments`.
    pub(super) async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: &Json,
    ) -> Result<T, ApiError> {
        let url = join_path(&self.root, segments);
        self.call(method, url, Some(body)).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<&Json>,
    ) -> Result<T, ApiError> {
        let idempotent = method == Method::GET;
        self.retry
            .run(idempotent, || self.call_once(&method, &url, body))
            .await
    }

    /// A request with the token, the API version and the call timeout.
    pub(super) fn authorized(&self, method: Method, url: Url) -> reqwest::RequestBuilder {
        self.http
            .request(method, url)
            .bearer_auth(self.token.expose())
            .header("Notion-Version", NOTION_VERSION)
            .timeout(self.timeout)
    }

    /// One attempt: wait for the budget, send, classify.
    async fn call_once<T: DeserializeOwned>(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&Json>,
    ) -> Result<T, ApiError> {
        let request = self.authorized(method.clone(), url.clone());
        let request = match body {
            Some(body) => request.json(body),
            None => request,
        };
        let wait_limit = self.penalty_wait_limit;
        let response = send(
            Vendor::Notion,
            &self.budget,
            wait_limit,
            request,
            (method, url),
        )
        .await?;
        if response.status().is_success() {
            return read_json(Vendor::Notion, response).await;
        }
        Err(self.error_from(response).await)
    }

    /// Classify an error response; a rate limit pauses the whole budget.
    pub(super) async fn error_from(&self, response: reqwest::Response) -> ApiError {
        let status = response.status().as_u16();
        let retry_after = parse_retry_after(response.headers().get(RETRY_AFTER));
        let err = classify(status, retry_after, &read_error_body(response).await);
        if let ApiError::RateLimited { retry_after, .. } = &err {
            self.budget.penalize(*retry_after).await;
        }
        err
    }
}

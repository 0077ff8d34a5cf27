//! The HTTP ingest layer: webhook endpoints, the admin API and health probes.
//!
//! Handlers only verify, record and enqueue: they never call Notion or
//! Airtable and never run a job. A webhook is acknowledged with 2xx only
//! after its inbox row and job have committed; when the database is down the
//! answer is 503 so that the sender retries (reliability-notes §2).
//!
//! | route | module | auth |
//! |---|---|---|
//! | `POST /webhooks/notion` | [`webhooks::notion`] | `X-Notion-Signature` (the verification request is unsigned) |
//! | `POST /webhooks/airtable` | [`webhooks::airtable`] | `X-Airtable-Content-MAC` with the webhook's MAC secret |
//! | `POST /reconcile`, `GET /api/jobs`, `POST /api/jobs/{id}/retry`, `GET /api/log`, `GET /api/conflicts` | [`admin`] | `Authorization: Bearer ADMIN_TOKEN`, or Basic with the password `ADMIN_TOKEN` (same-origin only for POST) |
//! | `GET /` (status page), `POST /jobs/{id}/retry`, `POST /notion/verification-tokens/dismiss` (its forms) | `status` | Basic (password `ADMIN_TOKEN`) or Bearer; the forms also need their CSRF token |
//! | `GET /healthz`, `GET /readyz` | [`health`] | none |

pub mod admin;
mod auth;
pub mod error;
pub mod health;
mod pairs;
mod status;
pub mod webhooks;

use std::{collections::HashMap, future::Future, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::StatusCode,
    routing::{get, post},
};
use tower_http::{limit::RequestBodyLimitLayer, timeout::TimeoutLayer, trace::TraceLayer};

pub use error::HttpError;
pub use pairs::PairDirectory;

use crate::{secret::Secret, store::Store, sync::pair::ResolvedPair};

/// Largest request body accepted: Notion events and Airtable pings are a few
/// KiB, so anything near this is not a real delivery.
pub const DEFAULT_BODY_LIMIT: usize = 256 * 1024;

/// Longest a request may take, body included (slow clients get 408). Below
/// Airtable's 25 s delivery timeout, so that a stuck request is answered.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Tunables of the ingest layer.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// Per pair: how long after an event its reconcile job becomes due, so
    /// that a burst of edits (or half-typed values) is synced once.
    pub debounce: HashMap<String, Duration>,
    /// For a pair missing from `debounce`.
    pub default_debounce: Duration,
    pub body_limit: usize,
    pub request_timeout: Duration,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            debounce: HashMap::new(),
            default_debounce: Duration::ZERO,
            body_limit: DEFAULT_BODY_LIMIT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

impl IngestConfig {
    /// Defaults, with each pair's `debounce_ms` from the mapping file.
    pub fn for_pairs(pairs: &[ResolvedPair]) -> Self {
        let debounce = pairs
            .iter()
            .map(|p| {
                let ms = p.config.options.debounce_ms;
                (p.name().to_owned(), Duration::from_millis(ms))
            })
            .collect();
        Self {
            debounce,
            ..Self::default()
        }
    }

    pub fn with_debounce(mut self, pair: impl Into<String>, debounce: Duration) -> Self {
        self.debounce.insert(pair.into(), debounce);
        self
    }

    /// The pair's debounce in the store's unit (ms).
    pub(crate) fn debounce_ms(&self, pair: &str) -> i64 {
        let d = self.debounce.get(pair).unwrap_or(&self.default_debounce);
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
    }
}

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    /// `NOTION_WEBHOOK_SECRET`: unset, Notion events are refused with 401.
    pub notion_webhook_secret: Option<Secret>,
    /// `ADMIN_TOKEN`: unset, every admin route refuses.
    pub admin_token: Option<Secret>,
    /// The integration's own bot user (`GET /v1/users/me`): events authored
    /// only by it are the service's own writes and need no reconcile.
    pub bot_user_id: Option<String>,
    pub pairs: PairDirectory,
    pub config: IngestConfig,
}

impl AppState {
    /// A state with no secrets, no bot id and default tunables.
    pub fn new(store: Store, pairs: PairDirectory) -> Self {
        Self {
            store,
            notion_webhook_secret: None,
            admin_token: None,
            bot_user_id: None,
            pairs,
            config: IngestConfig::default(),
        }
    }
}

pub(crate) type Shared = Arc<AppState>;

/// Every route, with body limit, timeout and request tracing.
pub fn router(state: AppState) -> Router {
    let body_limit = state.config.body_limit;
    let timeout = state.config.request_timeout;
    Router::new()
        .route("/webhooks/notion", post(webhooks::notion::receive))
        .route("/webhooks/airtable", post(webhooks::airtable::receive))
        .merge(admin::routes())
        .merge(status::routes())
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(crate::metrics::scrape))
        .with_state(Arc::new(state))
        // The limit layer refuses a declared oversize body at once (413) and
        // caps a streamed one; axum's own default (2 MB) is aligned with it.
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        // Outside the limit and the timeout, to count their 413 and 408 too.
        .layer(axum::middleware::from_fn(crate::metrics::track_webhooks))
        .layer(TraceLayer::new_for_http())
}

/// Serve `router` on `listener` until `shutdown` resolves, then finish the
/// requests in flight. Handlers see the peer address.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await
}

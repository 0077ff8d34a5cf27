//! A Notion-Version adapter in front of the Notion sandbox, for the polling
//! script only.
//!
//! The script sends `Notion-Version: 2022-06-28` and queries
//! `/v1/databases/{id}/query`. The real API still serves that version for a
//! database with a single data source (the 2025-09-03 upgrade guide); the
//! sandbox implements 2025-09-03 and later only and answers 400, so the
//! script would fail on its first request and do nothing. This adapter
//! does what Notion does for the old version: the query goes to the
//! database's one data source, and the version header is the sandbox's.
//! Every other request passes through untouched; the sandbox still counts
//! each request once, so the call counts are the script's own.

use std::sync::Arc;

use axum::{
    Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use notion_airtable_sandbox::common::ShutdownGuard;

const OLD_VERSION: &str = "2022-06-28";
const SANDBOX_VERSION: &str = "2025-09-03";

struct Target {
    base_url: String,
    database_id: String,
    data_source_id: String,
    http: reqwest::Client,
}

/// A running adapter; it stops when dropped.
pub struct NotionCompat {
    pub base_url: String,
    _guard: ShutdownGuard,
}

impl NotionCompat {
    pub async fn start(
        notion_url: &str,
        database_id: &str,
        data_source_id: &str,
    ) -> anyhow::Result<Self> {
        let target = Arc::new(Target {
            base_url: notion_url.trim_end_matches('/').to_owned(),
            database_id: database_id.to_owned(),
            data_source_id: data_source_id.to_owned(),
            http: reqwest::Client::new(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let (guard, signal) = ShutdownGuard::new();
        let router = Router::new().fallback(forward).with_state(target);
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move { signal.wait().await })
                .await;
        });
        Ok(Self {
            base_url,
            _guard: guard,
        })
    }
}

async fn forward(
    State(t): State<Arc<Target>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let old = headers
        .get("notion-version")
        .is_some_and(|v| v.as_bytes() == OLD_VERSION.as_bytes());
    let mut path = uri.path().to_owned();
    if old {
        let legacy_query = format!("/v1/databases/{}/query", t.database_id);
        if path == legacy_query {
            path = format!("/v1/data_sources/{}/query", t.data_source_id);
        }
    }
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    let mut request = t
        .http
        .request(method, format!("{}{path}{query}", t.base_url))
        .body(body);
    for (name, value) in &headers {
        if name == "host" || name == "content-length" {
            continue;
        }
        if name == "notion-version" && old {
            request = request.header(name, SANDBOX_VERSION);
        } else {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(r) => {
            let status = r.status();
            let content_type = r.headers().get("content-type").cloned();
            let bytes = r.bytes().await.unwrap_or_default();
            let mut response = Response::new(Body::from(bytes));
            *response.status_mut() = status;
            if let Some(ct) = content_type {
                response.headers_mut().insert("content-type", ct);
            }
            response
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

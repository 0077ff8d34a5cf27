//! Notion's error envelope: `{"object":"error","status","code","message","request_id"}`
//! with the status/code pairs of developers.notion.com/reference/status-codes.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header::RETRY_AFTER},
    response::{IntoResponse, Response},
};
use serde_json::json;

/// An error answer of the Notion API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotionError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// Whole seconds, sent as `Retry-After` (429 only).
    pub retry_after: Option<u64>,
}

impl std::fmt::Display for NotionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for NotionError {}

impl NotionError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(400, "validation_error", message)
    }

    pub fn invalid_json() -> Self {
        Self::new(400, "invalid_json", "Error parsing JSON body.")
    }

    pub fn invalid_request_url() -> Self {
        Self::new(400, "invalid_request_url", "Invalid request URL.")
    }

    pub fn missing_version() -> Self {
        Self::new(
            400,
            "missing_version",
            "Notion-Version header failed validation: Notion-Version header should be defined, instead was undefined.",
        )
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "unauthorized", "API token is invalid.")
    }

    /// 403 `restricted_resource`: the integration lacks a capability (the
    /// message Notion is reported to send for it).
    pub fn restricted_resource() -> Self {
        Self::new(
            403,
            "restricted_resource",
            "Insufficient permissions for this endpoint.",
        )
    }

    /// `kind` is "page", "database", "data source", "user", "block".
    pub fn not_found(kind: &str, id: &str) -> Self {
        Self::new(
            404,
            "object_not_found",
            format!(
                "Could not find {kind} with ID: {id}. Make sure the relevant pages and databases are shared with your integration."
            ),
        )
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs.max(1)),
            ..Self::new(
                429,
                "rate_limited",
                "You have been rate limited. Please try again in a few minutes.",
            )
        }
    }

    /// The injected faults: 500, 502, 503 and 409 with their documented codes.
    pub fn injected(pick: u32) -> Self {
        match pick % 4 {
            0 => Self::new(500, "internal_server_error", "Unexpected error occurred."),
            1 => Self::new(502, "bad_gateway", "Bad Gateway."),
            2 => Self::new(
                503,
                "service_unavailable",
                "Notion is unavailable, please try again later.",
            ),
            _ => Self::new(
                409,
                "conflict_error",
                "Conflict occurred while saving. Please try again.",
            ),
        }
    }
}

impl IntoResponse for NotionError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({
            "object": "error",
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "request_id": uuid::Uuid::new_v4().to_string(),
        });
        let mut response = (status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

pub type NotionResult<T> = Result<T, NotionError>;

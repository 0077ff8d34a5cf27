//! Errors a handler returns, classified by what the client should do:
//! fix the request (400/404/409/413), authenticate (401), stop (403), or
//! retry later (429, 503: the database is unavailable). Bodies are `{"error": "..."}`;
//! internals are logged, never sent.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::store::StoreError;

/// Seconds a client is asked to wait after a 503.
const RETRY_AFTER_SECS: &str = "5";

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{0}")]
    BadRequest(String),
    /// `bearer`: add `WWW-Authenticate: Bearer` (admin routes).
    #[error("{message}")]
    Unauthorized { message: String, bearer: bool },
    /// Understood, and refused whatever the credentials.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// Too many requests of this kind: try again after `retry_after_secs`.
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bug; the message is logged, not sent.
    #[error("{0}")]
    Internal(String),
}

impl HttpError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        HttpError::BadRequest(message.into())
    }

    /// A webhook that could not be authenticated.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        HttpError::Unauthorized {
            message: message.into(),
            bearer: false,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            HttpError::BadRequest(_) => StatusCode::BAD_REQUEST,
            HttpError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            HttpError::Forbidden(_) => StatusCode::FORBIDDEN,
            HttpError::NotFound(_) => StatusCode::NOT_FOUND,
            HttpError::Conflict(_) => StatusCode::CONFLICT,
            HttpError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            HttpError::Store(e) if e.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
            HttpError::Store(_) | HttpError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the client may read: store errors are summarised (they can name
    /// tables, hosts or values), everything else is already meant for it.
    fn public_message(&self) -> String {
        match self {
            HttpError::Store(e) if e.is_transient() => {
                "the database is unavailable; nothing was recorded, retry later".to_owned()
            }
            HttpError::Store(_) | HttpError::Internal(_) => {
                "internal error; see the service's log".to_owned()
            }
            other => other.to_string(),
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            HttpError::Store(e) if e.is_transient() => {
                tracing::warn!(error = %e, "database unavailable, answering 503")
            }
            HttpError::Store(e) => tracing::error!(error = %e, "store error, answering 500"),
            HttpError::Internal(e) => tracing::error!(error = %e, "internal error, answering 500"),
            other => tracing::debug!(%status, error = %other, "request refused"),
        }
        let mut response = (status, Json(json!({"error": self.public_message()}))).into_response();
        let headers = response.headers_mut();
        match self {
            HttpError::Unauthorized { bearer: true, .. } => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            HttpError::TooManyRequests {
                retry_after_secs, ..
            } => {
                if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    headers.insert(header::RETRY_AFTER, value);
                }
            }
            HttpError::Store(_) if status == StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(RETRY_AFTER_SECS),
                );
            }
            _ => {}
        }
        response
    }
}

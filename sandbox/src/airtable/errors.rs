//! Airtable's error responses, in the shapes its documentation shows.
//!
//! Sources (see api-facts §4.4 and `fixtures/airtable-docs/error_bodies.docs.json`):
//! `{"error":{"type","message"}}` for most errors, the bare `{"error":"NOT_FOUND"}` for a
//! missing record or route, 403 `INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND` for a base or table
//! the token cannot see. Type names not in the official docs carry their source where they
//! are built.

use axum::{
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

pub(crate) type AtResult<T> = Result<T, AtError>;

/// One error response: a status and its body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AtError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ErrorBody {
    Json(Value),
    /// A non-JSON body (a gateway page): clients must not assume JSON.
    Text(&'static str),
}

const MODEL_NOT_FOUND_MESSAGE: &str = "Invalid permissions, or the requested model was not found. \
Check that both your user and your token have the required permissions, and that the model names \
and/or ids are correct.";

impl AtError {
    /// `{"error":{"type":kind,"message":message}}`.
    pub fn typed(status: u16, kind: &str, message: impl Into<String>) -> Self {
        Self::json(
            status,
            json!({"error": {"type": kind, "message": message.into()}}),
        )
    }

    fn json(status: u16, body: Value) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body: ErrorBody::Json(body),
        }
    }

    /// 422 with a specific type.
    pub fn unprocessable(kind: &str, message: impl Into<String>) -> Self {
        Self::typed(422, kind, message)
    }

    /// 422 `INVALID_REQUEST_UNKNOWN`, the docs' generic parameter-validation error.
    pub fn invalid_request(detail: impl Into<String>) -> Self {
        Self::unprocessable(
            "INVALID_REQUEST_UNKNOWN",
            format!("Invalid request: {}", detail.into()),
        )
    }

    /// 404 `{"error":"NOT_FOUND"}`: a missing record or an undefined route (docs, errors page).
    pub fn not_found() -> Self {
        Self::json(404, json!({"error": "NOT_FOUND"}))
    }

    /// 404 `{"error":{"type":"NOT_FOUND"}}`, the docs' second 404 form (used for webhooks).
    pub fn not_found_typed() -> Self {
        Self::json(404, json!({"error": {"type": "NOT_FOUND"}}))
    }

    /// 403 for a base or table the token cannot see (the docs: "also means not found").
    pub fn model_not_found() -> Self {
        Self::typed(
            403,
            "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND",
            MODEL_NOT_FOUND_MESSAGE,
        )
    }

    pub fn authentication_required() -> Self {
        Self::typed(401, "AUTHENTICATION_REQUIRED", "Authentication required")
    }

    /// The documented 429 body; Airtable sends no `Retry-After` (wait 30 s).
    pub fn rate_limited() -> Self {
        Self::typed(
            429,
            "RATE_LIMIT_REACHED",
            "Rate limit exceeded. Please try again later",
        )
    }

    /// `UNKNOWN_FIELD_NAME` [S: third-party clients; message format as they quote it].
    pub fn unknown_field(name: &str) -> Self {
        Self::unprocessable(
            "UNKNOWN_FIELD_NAME",
            format!("Unknown field name: \"{name}\""),
        )
    }

    /// `INVALID_VALUE_FOR_COLUMN` [U: not in the current docs; type and message as third-party
    /// clients quote them, e.g. `Field "Email" cannot accept the provided value`].
    pub fn invalid_value(field_name: &str) -> Self {
        Self::unprocessable(
            "INVALID_VALUE_FOR_COLUMN",
            format!("Field \"{field_name}\" cannot accept the provided value"),
        )
    }

    /// `INVALID_FILTER_BY_FORMULA`, with Airtable's message prefix.
    pub fn invalid_formula(detail: &str) -> Self {
        Self::unprocessable(
            "INVALID_FILTER_BY_FORMULA",
            format!("The formula for filtering records is invalid: {detail}"),
        )
    }

    /// A gateway error with a plain-text body, as a load balancer would send it.
    pub fn bad_gateway() -> Self {
        Self {
            status: StatusCode::BAD_GATEWAY,
            body: ErrorBody::Text("502 Bad Gateway"),
        }
    }

    #[cfg(test)]
    pub fn kind(&self) -> Option<&str> {
        match &self.body {
            ErrorBody::Json(v) => v["error"]["type"].as_str().or(v["error"].as_str()),
            ErrorBody::Text(_) => None,
        }
    }
}

impl IntoResponse for AtError {
    fn into_response(self) -> Response {
        match self.body {
            ErrorBody::Json(v) => (self.status, axum::Json(v)).into_response(),
            ErrorBody::Text(t) => {
                (self.status, [(header::CONTENT_TYPE, "text/html")], t).into_response()
            }
        }
    }
}

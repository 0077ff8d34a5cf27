//! Airtable's error bodies and their classification into [`ApiError`].
//!
//! Three body forms exist: `{"error":{"type","message"}}`, the bare
//! `{"error":"NOT_FOUND"}` (404), and `{"errors":[{"error","message"}]}`.
//! A 429 is a rate limit (wait the penalty: Airtable refuses everything for
//! 30 s), except `PUBLIC_API_BILLING_LIMIT_EXCEEDED`, the monthly call cap,
//! which no wait will fix. 5xx are transient; other 4xx are the request's fault.

use std::time::Duration;

use serde_json::Value as Json;

use crate::clients::api_error::{ApiError, Vendor};
use crate::clients::http::body_excerpt;

/// The 429 type that must never be retried.
pub const BILLING_LIMIT_EXCEEDED: &str = "PUBLIC_API_BILLING_LIMIT_EXCEEDED";

/// Classify an error response. `penalty` is the wait after a 429 that
/// carries no `Retry-After`.
pub fn classify(
    status: u16,
    retry_after: Option<Duration>,
    penalty: Duration,
    body: &[u8],
) -> ApiError {
    let (code, message) = code_and_message(status, body);
    let vendor = Vendor::Airtable;
    match status {
        429 if code != BILLING_LIMIT_EXCEEDED => ApiError::RateLimited {
            vendor,
            status,
            code,
            message,
            retry_after: retry_after.unwrap_or(penalty),
        },
        500..=599 => ApiError::Retryable {
            vendor,
            status: Some(status),
            code,
            message,
        },
        _ => ApiError::Fatal {
            vendor,
            status,
            code,
            message,
        },
    }
}

fn code_and_message(status: u16, body: &[u8]) -> (String, String) {
    let parsed = serde_json::from_slice::<Json>(body)
        .ok()
        .and_then(|json| error_fields(&json));
    parsed.unwrap_or_else(|| (format!("HTTP_{status}"), body_excerpt(body)))
}

/// `(type, message)` from any of the three body forms.
fn error_fields(json: &Json) -> Option<(String, String)> {
    let text = |v: &Json| v.as_str().unwrap_or_default().to_owned();
    match (&json["error"], &json["errors"]) {
        (Json::String(code), _) => Some((code.clone(), text(&json["message"]))),
        (Json::Object(_), _) => Some((
            text(&json["error"]["type"]),
            text(&json["error"]["message"]),
        )),
        (_, Json::Array(errors)) => {
            let first = errors.first()?;
            let code = first["error"].as_str().or_else(|| first["type"].as_str());
            let messages: Vec<String> = errors.iter().map(|e| text(&e["message"])).collect();
            Some((code?.to_owned(), messages.join("; ")))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PENALTY: Duration = Duration::from_secs(30);

    fn classify_json(status: u16, body: Json) -> ApiError {
        classify(status, None, PENALTY, &serde_json::to_vec(&body).unwrap())
    }

    #[test]
    fn both_not_found_forms_are_fatal_and_not_found() {
        for body in [
            json!({"error": "NOT_FOUND"}),
            json!({"error": {"type": "NOT_FOUND"}}),
        ] {
            let err = classify_json(404, body);
            assert_eq!(err.code(), "NOT_FOUND");
            assert!(err.is_not_found() && !err.is_retryable());
        }
        let err = classify_json(
            403,
            json!({"error": {"type": "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND", "message": "m"}}),
        );
        assert!(err.is_not_found());
    }

    #[test]
    fn rate_limit_waits_the_penalty_unless_told_otherwise() {
        let body = json!({"error": {"type": "RATE_LIMIT_REACHED", "message": "slow down"}});
        let err = classify_json(429, body.clone());
        assert!(matches!(err, ApiError::RateLimited { retry_after, .. } if retry_after == PENALTY));
        assert_eq!(err.message(), "slow down");
        let bytes = serde_json::to_vec(&body).unwrap();
        let err = classify(429, Some(Duration::from_secs(2)), PENALTY, &bytes);
        assert!(
            matches!(err, ApiError::RateLimited { retry_after, .. } if retry_after.as_secs() == 2)
        );
    }

    #[test]
    fn billing_limit_is_fatal() {
        let err = classify_json(
            429,
            json!({"error": {"type": BILLING_LIMIT_EXCEEDED, "message": "cap"}}),
        );
        assert!(matches!(err, ApiError::Fatal { status: 429, .. }));
    }

    #[test]
    fn server_errors_are_retryable_and_others_fatal() {
        let err = classify_json(
            503,
            json!({"error": {"type": "RETRIABLE_ERROR", "message": "m"}}),
        );
        assert!(matches!(
            err,
            ApiError::Retryable {
                status: Some(503),
                ..
            }
        ));
        let err = classify_json(
            422,
            json!({"error": {"type": "INVALID_REQUEST_UNKNOWN", "message": "m"}}),
        );
        assert!(matches!(err, ApiError::Fatal { status: 422, .. }));
    }

    #[test]
    fn errors_array_and_non_json_bodies_are_read() {
        let err = classify_json(
            422,
            json!({"errors": [{"error": "UNKNOWN_FIELD_NAME", "message": "a"}, {"error": "X", "message": "b"}]}),
        );
        assert_eq!(err.code(), "UNKNOWN_FIELD_NAME");
        assert_eq!(err.message(), "a; b");
        let err = classify(502, None, PENALTY, b"upstream down");
        assert_eq!(err.code(), "HTTP_502");
        assert!(err.is_retryable());
    }
}

//! Notion's error envelope and its classification into [`ApiError`].
//!
//! `{"object":"error","status":404,"code":"object_not_found","message":"…",
//! "request_id":"…","additional_data":{…}}`. 429 and 529 are rate limits;
//! 5xx and 409 `conflict_error` are transient; everything else is the
//! request's fault.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value as Json;

use crate::clients::api_error::{ApiError, Vendor};

use crate::clients::http::body_excerpt;

/// Wait this long after a 429/529 that carries no `Retry-After`.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

#[derive(Debug, Default, Deserialize)]
struct Envelope {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    additional_data: Option<Json>,
}

/// Classify an error response from its status, `Retry-After` and body.
pub fn classify(status: u16, retry_after: Option<Duration>, body: &[u8]) -> ApiError {
    let (code, message) = code_and_message(status, body);
    let vendor = Vendor::Notion;
    match status {
        429 | 529 => ApiError::RateLimited {
            vendor,
            status,
            code,
            message,
            retry_after: retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
        },
        409 | 500..=599 => ApiError::Retryable {
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

/// The vendor's code and a message that also names the request id and the
/// rate-limit reason, which Notion support asks for.
fn code_and_message(status: u16, body: &[u8]) -> (String, String) {
    let Ok(envelope) = serde_json::from_slice::<Envelope>(body) else {
        return (format!("http_{status}"), body_excerpt(body));
    };
    let code = envelope.code.unwrap_or_else(|| format!("http_{status}"));
    let mut message = envelope.message.unwrap_or_default();
    let reason = envelope
        .additional_data
        .as_ref()
        .and_then(|d| d["rate_limit_reason"].as_str());
    if let Some(reason) = reason {
        message.push_str(&format!(" (rate_limit_reason {reason})"));
    }
    if let Some(id) = envelope.request_id {
        message.push_str(&format!(" (request_id {id})"));
    }
    (code, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Json) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn documented_error_bodies_are_classified() {
        // (status, code) pairs from Notion's status-code reference.
        let cases = [
            (400, "validation_error"),
            (400, "missing_version"),
            (401, "unauthorized"),
            (403, "restricted_resource"),
            (404, "object_not_found"),
            (409, "conflict_error"),
            (429, "rate_limited"),
            (500, "internal_server_error"),
            (503, "service_unavailable"),
        ];
        for (status, code) in cases {
            let b =
                body(json!({"object": "error", "status": status, "code": code, "message": "m"}));
            let err = classify(status, None, &b);
            assert_eq!(err.code(), code);
            assert_eq!(err.status(), Some(status));
            match status {
                429 => assert!(matches!(err, ApiError::RateLimited { .. })),
                409 | 500.. => assert!(matches!(err, ApiError::Retryable { .. })),
                _ => assert!(matches!(err, ApiError::Fatal { .. })),
            }
        }
    }

    #[test]
    fn rate_limits_default_to_one_second_and_keep_the_reason() {
        let b = body(
            json!({"object": "error", "status": 529, "code": "service_overload",
            "message": "busy", "request_id": "r1",
            "additional_data": {"rate_limit_reason": "public_api_request_rate_limit"}}),
        );
        let err = classify(529, None, &b);
        let ApiError::RateLimited { retry_after, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(*retry_after, Duration::from_secs(1));
        assert!(err.message().contains("public_api_request_rate_limit"));
        assert!(err.message().contains("r1"));
        let err = classify(429, Some(Duration::from_secs(7)), &b);
        assert!(
            matches!(err, ApiError::RateLimited { retry_after, .. } if retry_after.as_secs() == 7)
        );
    }

    #[test]
    fn a_404_is_fatal_and_not_found() {
        let b = body(
            json!({"object": "error", "status": 404, "code": "object_not_found", "message": "x"}),
        );
        let err = classify(404, None, &b);
        assert!(err.is_not_found() && !err.is_retryable());
    }

    #[test]
    fn non_json_bodies_get_an_http_code() {
        let err = classify(502, None, b"<html>Bad Gateway</html>");
        assert_eq!(err.code(), "http_502");
        assert!(err.message().contains("Bad Gateway"));
        assert!(err.is_retryable());
    }
}

//! The error both API clients return, classified by what the caller will do.
//!
//! - [`ApiError::RateLimited`]: wait `retry_after`, then try again; not a failure.
//! - [`ApiError::Retryable`]: a transient fault (5xx, 409 conflict, timeout,
//!   connection error); retry with backoff.
//! - [`ApiError::Fatal`]: the request itself is wrong or not allowed (400, 401,
//!   403, 404, 422, ...); retrying the same request cannot succeed.
//!
//! Every variant carries the vendor's own error code and message so that the
//! operator sees exactly what the API said.

use std::{fmt, time::Duration};

/// Which vendor an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Vendor {
    Notion,
    Airtable,
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Vendor::Notion => "Notion",
            Vendor::Airtable => "Airtable",
        })
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("{vendor} rate limited the request ({code}): {message}; retry after {retry_after:?}")]
    RateLimited {
        vendor: Vendor,
        status: u16,
        code: String,
        message: String,
        retry_after: Duration,
    },
    #[error("{vendor} temporary failure ({}{code}): {message}", status_prefix(*.status))]
    Retryable {
        vendor: Vendor,
        /// `None` for transport errors (timeout, connection refused, ...).
        status: Option<u16>,
        code: String,
        message: String,
    },
    #[error("{vendor} rejected the request ({status} {code}): {message}")]
    Fatal {
        vendor: Vendor,
        status: u16,
        code: String,
        message: String,
    },
}

const NOT_SENT_LATE: &str = "not_sent_late";

fn status_prefix(status: Option<u16>) -> String {
    status.map(|s| format!("{s} ")).unwrap_or_default()
}

impl ApiError {
    /// Not sent: the budget is paused by an earlier 429 for `left`, longer
    /// than the caller will wait (see `Budget::acquire_within`).
    pub fn budget_paused(vendor: Vendor, left: Duration) -> Self {
        ApiError::RateLimited {
            vendor,
            status: 429,
            code: "budget_paused".into(),
            message: format!(
                "not sent: the rate budget is paused for another {left:?} after a 429"
            ),
            retry_after: left,
        }
    }

    /// Not sent: the budget's slot came after the caller's deadline
    /// ([`crate::clients::http::sent_by`]), so the write would carry a plan
    /// older than its run allows. The caller plans it again from a fresh
    /// read; nothing reached the vendor.
    pub fn not_sent_late(vendor: Vendor) -> Self {
        ApiError::Retryable {
            vendor,
            status: None,
            code: NOT_SENT_LATE.into(),
            message: "not sent: its rate-budget slot came after the plan's deadline".into(),
        }
    }

    /// [`ApiError::not_sent_late`].
    pub fn is_not_sent_late(&self) -> bool {
        matches!(self, ApiError::Retryable { status: None, code, .. } if code == NOT_SENT_LATE)
    }

    pub fn vendor(&self) -> Vendor {
        match self {
            ApiError::RateLimited { vendor, .. }
            | ApiError::Retryable { vendor, .. }
            | ApiError::Fatal { vendor, .. } => *vendor,
        }
    }

    /// The HTTP status, when the API answered at all.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::RateLimited { status, .. } | ApiError::Fatal { status, .. } => Some(*status),
            ApiError::Retryable { status, .. } => *status,
        }
    }

    /// The vendor's error code (`object_not_found`, `NOT_FOUND`, `timeout`, ...).
    pub fn code(&self) -> &str {
        match self {
            ApiError::RateLimited { code, .. }
            | ApiError::Retryable { code, .. }
            | ApiError::Fatal { code, .. } => code,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            ApiError::RateLimited { message, .. }
            | ApiError::Retryable { message, .. }
            | ApiError::Fatal { message, .. } => message,
        }
    }

    /// True when the object does not exist (or is not shared with the token):
    /// Notion 404 `object_not_found`, Airtable 404 or 403 `..._NOT_FOUND`.
    pub fn is_not_found(&self) -> bool {
        match self {
            ApiError::Fatal { status: 404, .. } => true,
            ApiError::Fatal {
                status: 403, code, ..
            } => code.contains("NOT_FOUND"),
            _ => false,
        }
    }

    pub fn is_retryable(&self) -> bool {
        !matches!(self, ApiError::Fatal { .. })
    }

    /// Classify a transport-level failure (no HTTP response).
    pub fn transport(vendor: Vendor, err: &reqwest::Error) -> Self {
        let code = if err.is_timeout() {
            "timeout"
        } else if err.is_connect() {
            "connection_error"
        } else {
            "transport_error"
        };
        ApiError::Retryable {
            vendor,
            status: None,
            code: code.to_owned(),
            message: err.to_string(),
        }
    }
}

/// Parse a `Retry-After` header given in whole seconds (both vendors use
/// seconds; the HTTP-date form is not used by either).
pub fn parse_retry_after(value: Option<&reqwest::header::HeaderValue>) -> Option<Duration> {
    let secs: f64 = value?.to_str().ok()?.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_covers_airtable_403_form() {
        let e = ApiError::Fatal {
            vendor: Vendor::Airtable,
            status: 403,
            code: "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND".into(),
            message: String::new(),
        };
        assert!(e.is_not_found());
        assert!(!e.is_retryable());
    }

    #[test]
    fn display_names_vendor_code_and_message() {
        let e = ApiError::Retryable {
            vendor: Vendor::Notion,
            status: Some(409),
            code: "conflict_error".into(),
            message: "try again".into(),
        };
        assert_eq!(
            e.to_string(),
            "Notion temporary failure (409 conflict_error): try again"
        );
    }
}

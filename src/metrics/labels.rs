//! The label values the recorders take: each a fixed set of words, so no
//! id, name or secret can reach a label through them.

use std::fmt::Write as _;

use prometheus_client::encoding::{EncodeLabelValue, LabelValueEncoder};

/// Which webhook endpoint a delivery came to (`source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WebhookSource {
    Notion,
    Airtable,
}

impl WebhookSource {
    pub const ALL: [WebhookSource; 2] = [WebhookSource::Notion, WebhookSource::Airtable];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookSource::Notion => "notion",
            WebhookSource::Airtable => "airtable",
        }
    }
}

/// Why a webhook delivery got an error status (`reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// 401: the signature (or MAC) is missing or wrong.
    BadSignature,
    /// 401: a Notion event while `NOTION_WEBHOOK_SECRET` is unset.
    SecretUnset,
    /// 401: an Airtable ping naming a webhook the service did not register.
    UnknownWebhook,
    /// 400: authentic (or unsigned handshake) but not a valid body.
    Malformed,
    /// 429: more verification tokens than the service records per minute.
    RateLimited,
    /// 413: over the body limit.
    TooLarge,
    /// 408: the request took longer than the request timeout.
    Timeout,
    /// 503: the database was unavailable; the sender retries.
    StoreUnavailable,
    /// 500.
    Internal,
    /// Any other error status.
    Other,
}

impl Rejection {
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::BadSignature => "bad_signature",
            Rejection::SecretUnset => "secret_unset",
            Rejection::UnknownWebhook => "unknown_webhook",
            Rejection::Malformed => "malformed",
            Rejection::RateLimited => "rate_limited",
            Rejection::TooLarge => "too_large",
            Rejection::Timeout => "timeout",
            Rejection::StoreUnavailable => "store_unavailable",
            Rejection::Internal => "internal",
            Rejection::Other => "other",
        }
    }

    /// The reason an error status means when the handler did not name one.
    pub fn of_status(status: u16) -> Self {
        match status {
            400 => Rejection::Malformed,
            401 => Rejection::BadSignature,
            408 => Rejection::Timeout,
            413 => Rejection::TooLarge,
            429 => Rejection::RateLimited,
            503 => Rejection::StoreUnavailable,
            500..=599 => Rejection::Internal,
            _ => Rejection::Other,
        }
    }
}

/// Which API a call went to (`vendor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Vendor {
    Notion,
    Airtable,
}

impl Vendor {
    pub const ALL: [Vendor; 2] = [Vendor::Notion, Vendor::Airtable];

    pub fn as_str(self) -> &'static str {
        match self {
            Vendor::Notion => "notion",
            Vendor::Airtable => "airtable",
        }
    }
}

/// Which side a record was written on (`side`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Notion,
    Airtable,
}

impl Side {
    pub const ALL: [Side; 2] = [Side::Notion, Side::Airtable];

    pub fn as_str(self) -> &'static str {
        match self {
            Side::Notion => "notion",
            Side::Airtable => "airtable",
        }
    }
}

/// A label value is the enum's word (the derive would write the variant's
/// Rust name, `BadSignature`, where the label is `bad_signature`).
macro_rules! label_value {
    ($($label:ty),*) => {$(
        impl EncodeLabelValue for $label {
            fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
                encoder.write_str(self.as_str())
            }
        }
    )*};
}

label_value!(WebhookSource, Rejection, Vendor, Side);

/// The `status` of an API call: the HTTP status, or `error` when no
/// response arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApiStatus(pub Option<u16>);

impl EncodeLabelValue for ApiStatus {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        match self.0 {
            Some(status) => write!(encoder, "{status}"),
            None => encoder.write_str("error"),
        }
    }
}

//! The JSON body extractor for API routes, answering in Airtable's error shapes: a body
//! over [`MAX_BODY_BYTES`] is 413, one that is not JSON is 400 (errors docs: "the request
//! can't be parsed as a valid JSON"). An empty body reads as `null`.

use axum::extract::{FromRequest, Request};
use serde_json::Value;

use super::errors::AtError;

/// [U] Airtable documents 413 but not its limit; 5 MiB leaves room for ten records of
/// long text.
pub(crate) const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;

pub(crate) struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = AtError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, AtError> {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|_| {
                AtError::typed(
                    413,
                    "REQUEST_ENTITY_TOO_LARGE",
                    "The request exceeded the maximum allowed payload size",
                )
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(Value::Null));
        }
        serde_json::from_slice(&bytes).map(Self).map_err(|_| {
            // [U] the docs give the status (400) but not the type name.
            AtError::typed(
                400,
                "INVALID_REQUEST_BODY",
                "The request body could not be parsed as JSON",
            )
        })
    }
}

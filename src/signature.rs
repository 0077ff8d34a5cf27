//! Webhook signatures, verified (by the service) and computed (by the tests,
//! which sign requests as a vendor would), over the raw request body exactly
//! as it crossed the wire. The sandbox crate signs with its own code.
//!
//! - Notion: `X-Notion-Signature: sha256=<64 hex>`, HMAC-SHA256 keyed with the
//!   subscription's `verification_token` string as UTF-8 bytes.
//! - Airtable: `X-Airtable-Content-MAC: hmac-sha256=<64 hex>`, HMAC-SHA256
//!   keyed with the base64-*decoded* `macSecretBase64` of the webhook.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

pub const NOTION_SIGNATURE_HEADER: &str = "x-notion-signature";
pub const AIRTABLE_MAC_HEADER: &str = "x-airtable-content-mac";

const NOTION_PREFIX: &str = "sha256=";
const AIRTABLE_PREFIX: &str = "hmac-sha256=";

/// Why a signature was refused. Each maps to 401 at the HTTP edge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature header is missing")]
    Missing,
    #[error("signature header does not start with `{0}`")]
    WrongScheme(&'static str),
    #[error("signature is not 64 hexadecimal characters")]
    Malformed,
    #[error("signature does not match the body")]
    Mismatch,
    #[error("the webhook secret is not valid base64")]
    BadSecret,
}

fn hmac_hex(key: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The `X-Notion-Signature` value for `body`.
pub fn notion_signature(verification_token: &str, body: &[u8]) -> String {
    format!(
        "{NOTION_PREFIX}{}",
        hmac_hex(verification_token.as_bytes(), body)
    )
}

/// The `X-Airtable-Content-MAC` value for `body`.
pub fn airtable_mac(mac_secret_base64: &str, body: &[u8]) -> Result<String, SignatureError> {
    let key = decode_secret(mac_secret_base64)?;
    Ok(format!("{AIRTABLE_PREFIX}{}", hmac_hex(&key, body)))
}

/// Check a Notion event's signature header against the raw body.
pub fn verify_notion(
    verification_token: &str,
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let digest = parse_header(header, NOTION_PREFIX)?;
    verify_digest(verification_token.as_bytes(), body, &digest)
}

/// Check an Airtable ping's MAC header against the raw body.
pub fn verify_airtable(
    mac_secret_base64: &str,
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let digest = parse_header(header, AIRTABLE_PREFIX)?;
    verify_digest(&decode_secret(mac_secret_base64)?, body, &digest)
}

fn decode_secret(mac_secret_base64: &str) -> Result<Vec<u8>, SignatureError> {
    base64::engine::general_purpose::STANDARD
        .decode(mac_secret_base64.trim())
        .map_err(|_| SignatureError::BadSecret)
}

fn parse_header(header: Option<&str>, prefix: &'static str) -> Result<Vec<u8>, SignatureError> {
    let value = header.ok_or(SignatureError::Missing)?.trim();
    let hex_part = value
        .strip_prefix(prefix)
        .ok_or(SignatureError::WrongScheme(prefix))?;
    if hex_part.len() != 64 {
        return Err(SignatureError::Malformed);
    }
    hex::decode(hex_part).map_err(|_| SignatureError::Malformed)
}

/// Constant-time comparison (`Mac::verify_slice` uses `subtle` internally).
fn verify_digest(key: &[u8], body: &[u8], digest: &[u8]) -> Result<(), SignatureError> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(body);
    mac.verify_slice(digest)
        .map_err(|_| SignatureError::Mismatch)
}

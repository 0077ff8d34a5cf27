//! Webhook signing as the vendors do it, over the exact bytes sent.
//!
//! The sandbox is the vendor's side, so it signs on its own and shares no
//! code with the service, which verifies: a mistake in one is not mirrored
//! in the other.
//!
//! - Notion: `X-Notion-Signature: sha256=<64 hex>`, HMAC-SHA256 keyed with the
//!   subscription's `verification_token` string as UTF-8 bytes.
//! - Airtable: `X-Airtable-Content-MAC: hmac-sha256=<64 hex>`, HMAC-SHA256
//!   keyed with the base64-*decoded* `macSecretBase64` of the webhook.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const NOTION_SIGNATURE_HEADER: &str = "x-notion-signature";
pub const AIRTABLE_MAC_HEADER: &str = "x-airtable-content-mac";

/// A webhook's `macSecretBase64` that does not decode, so nothing can be signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadSecret;

impl std::fmt::Display for BadSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the webhook secret is not valid base64")
    }
}

impl std::error::Error for BadSecret {}

fn hmac_hex(key: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The `X-Notion-Signature` value for `body`.
pub fn notion_signature(verification_token: &str, body: &[u8]) -> String {
    format!("sha256={}", hmac_hex(verification_token.as_bytes(), body))
}

/// The `X-Airtable-Content-MAC` value for `body`.
pub fn airtable_mac(mac_secret_base64: &str, body: &[u8]) -> Result<String, BadSecret> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(mac_secret_base64.trim())
        .map_err(|_| BadSecret)?;
    Ok(format!("hmac-sha256={}", hmac_hex(&key, body)))
}

#[cfg(test)]
mod tests {
    //! The two published vectors: Notion's docs example and pyairtable's
    //! test vector (the same ones the service's verification is tested on).
    use super::*;

    #[test]
    fn notion_signs_the_documented_example() {
        let token = "secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl";
        let body = format!(r#"{{"verification_token":"{token}"}}"#);
        assert_eq!(
            notion_signature(token, body.as_bytes()),
            "sha256=461e8cbcba8a75c3edd866f0e71280f5a85cbf21eff040ebd10fe266df38a735"
        );
    }

    #[test]
    fn airtable_signs_pyairtables_vector_with_the_decoded_secret() {
        let body = r#"{"base": {"id": "app00000000000000"}, "webhook": {"id": "ach00000000000000"}, "timestamp": "2022-02-01T21:25:05.663Z"}"#;
        assert_eq!(
            airtable_mac("c2VjcmV0LWtleQ==", body.as_bytes()).unwrap(),
            "hmac-sha256=e26da696a90933647bddc83995c3e1e3bb1c3d8ce1ff61cb7469767d50b2b2d4"
        );
    }

    #[test]
    fn airtable_refuses_a_secret_that_is_not_base64() {
        assert_eq!(airtable_mac("not base64!", b"{}"), Err(BadSecret));
    }
}

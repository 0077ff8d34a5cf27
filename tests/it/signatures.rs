//! Signature computation and verification against the two verified vectors
//! (Notion's docs example and pyairtable's test vector), copied here so the
//! project never reads `../shared` at run time.

use notion_airtable_sync::signature::{
    SignatureError, airtable_mac, notion_signature, verify_airtable, verify_notion,
};

const NOTION_TOKEN: &str = "secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl";
const NOTION_BODY: &str =
    r#"{"verification_token":"secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl"}"#;
const NOTION_SIG: &str = "sha256=461e8cbcba8a75c3edd866f0e71280f5a85cbf21eff040ebd10fe266df38a735";

const AIRTABLE_SECRET: &str = "c2VjcmV0LWtleQ==";
const AIRTABLE_BODY: &str = r#"{"base": {"id": "app00000000000000"}, "webhook": {"id": "ach00000000000000"}, "timestamp": "2022-02-01T21:25:05.663Z"}"#;
const AIRTABLE_MAC: &str =
    "hmac-sha256=e26da696a90933647bddc83995c3e1e3bb1c3d8ce1ff61cb7469767d50b2b2d4";

#[test]
fn notion_vector_computes() {
    assert_eq!(
        notion_signature(NOTION_TOKEN, NOTION_BODY.as_bytes()),
        NOTION_SIG
    );
}

#[test]
fn notion_vector_verifies() {
    assert_eq!(
        verify_notion(NOTION_TOKEN, NOTION_BODY.as_bytes(), Some(NOTION_SIG)),
        Ok(())
    );
}

#[test]
fn airtable_vector_computes() {
    assert_eq!(
        airtable_mac(AIRTABLE_SECRET, AIRTABLE_BODY.as_bytes()).unwrap(),
        AIRTABLE_MAC
    );
}

#[test]
fn airtable_vector_verifies() {
    assert_eq!(
        verify_airtable(
            AIRTABLE_SECRET,
            AIRTABLE_BODY.as_bytes(),
            Some(AIRTABLE_MAC)
        ),
        Ok(())
    );
}

#[test]
fn a_reserialised_body_does_not_verify() {
    // The same JSON minified differs in bytes, so the signature must not match.
    let minified = r#"{"base":{"id":"app00000000000000"},"webhook":{"id":"ach00000000000000"},"timestamp":"2022-02-01T21:25:05.663Z"}"#;
    assert_eq!(
        verify_airtable(AIRTABLE_SECRET, minified.as_bytes(), Some(AIRTABLE_MAC)),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn notion_rejects_missing_wrong_scheme_truncated_and_forged() {
    let body = NOTION_BODY.as_bytes();
    assert_eq!(
        verify_notion(NOTION_TOKEN, body, None),
        Err(SignatureError::Missing)
    );
    let wrong_scheme = NOTION_SIG.replace("sha256=", "sha1=");
    assert!(matches!(
        verify_notion(NOTION_TOKEN, body, Some(&wrong_scheme)),
        Err(SignatureError::WrongScheme(_))
    ));
    assert_eq!(
        verify_notion(NOTION_TOKEN, body, Some(&NOTION_SIG[..40])),
        Err(SignatureError::Malformed)
    );
    let forged = format!("sha256={}", "0".repeat(64));
    assert_eq!(
        verify_notion(NOTION_TOKEN, body, Some(&forged)),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify_notion("secret_other", body, Some(NOTION_SIG)),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn airtable_rejects_notion_scheme_and_bad_secret() {
    let body = AIRTABLE_BODY.as_bytes();
    let as_notion = AIRTABLE_MAC.replace("hmac-sha256=", "sha256=");
    assert!(matches!(
        verify_airtable(AIRTABLE_SECRET, body, Some(&as_notion)),
        Err(SignatureError::WrongScheme(_))
    ));
    assert_eq!(
        verify_airtable("not base64!!", body, Some(AIRTABLE_MAC)),
        Err(SignatureError::BadSecret)
    );
    // Keying with the undecoded secret text is the classic mistake: it must fail.
    let wrong_key = notion_signature(AIRTABLE_SECRET, body).replace("sha256=", "hmac-sha256=");
    assert_eq!(
        verify_airtable(AIRTABLE_SECRET, body, Some(&wrong_key)),
        Err(SignatureError::Mismatch)
    );
}

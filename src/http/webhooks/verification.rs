//! Notion's one-time verification request, `{"verification_token": "..."}`:
//! the only body the service accepts unsigned (the token is the key, so it
//! cannot be signed with it), and so the one anyone can post.
//!
//! - Before `NOTION_WEBHOOK_SECRET` is set, the token is kept as *pending*
//!   for the operator to paste into Notion; it never becomes the secret by
//!   itself. The store keeps only the newest few (a flood cannot grow the
//!   table or bury the page), and this process records at most a few per
//!   minute (a flood cannot keep the database busy): beyond that, 429.
//!   Newest rather than first kept: Notion's "Resend token" then always
//!   brings the real token back to the top, where a full table of junk kept
//!   first would refuse it until the operator cleared it by hand.
//! - Once the secret is set, a token body signed with it (Notion re-sending
//!   the verified subscription's own token) is acknowledged and nothing is
//!   stored. Any other token is recorded as pending under the same limits:
//!   it is how a second subscription, or one recreated for a new URL, shows
//!   its token to the operator, and it changes nothing the service trusts
//!   (the secret stays the configured one until the operator changes it).
//!
//! A token is never logged: the log shows a fingerprint (the first hex
//! digits of its SHA-256), which the status page shows beside the token.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Json,
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::header_str;
use crate::{
    http::{HttpError, Shared, metrics::reject_as},
    metrics::Rejection,
    secret::Secret,
    signature::{NOTION_SIGNATURE_HEADER, verify_notion},
    store::now_ms,
};

/// Longest verification token stored (real ones are ~50 chars).
const MAX_TOKEN_LEN: usize = 200;

/// Tokens this process records per [`WINDOW`]; more are refused with 429.
pub const TOKENS_PER_WINDOW: usize = 5;
const WINDOW: Duration = Duration::from_secs(60);

/// The process-wide budget of recorded tokens: a sliding window of the
/// times of the last [`TOKENS_PER_WINDOW`] recordings.
#[derive(Debug, Clone, Default)]
pub struct VerificationLimiter {
    inner: Arc<Mutex<LimiterState>>,
}

#[derive(Debug, Default)]
struct LimiterState {
    recorded: VecDeque<Instant>,
}

impl VerificationLimiter {
    /// Take a slot now, or say how long until one frees.
    fn try_take(&self, now: Instant) -> Result<(), Duration> {
        let mut state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        while state
            .recorded
            .front()
            .is_some_and(|at| now.duration_since(*at) >= WINDOW)
        {
            state.recorded.pop_front();
        }
        if state.recorded.len() >= TOKENS_PER_WINDOW {
            let oldest = state.recorded.front().copied().unwrap_or(now);
            return Err(WINDOW.saturating_sub(now.duration_since(oldest)));
        }
        state.recorded.push_back(now);
        Ok(())
    }
}

/// A token's fingerprint: the first 8 hex digits of its SHA-256. Safe to
/// log; it tells tokens apart without revealing them.
pub fn fingerprint(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

/// `POST /webhooks/notion` with a verification body.
pub(super) async fn receive(
    state: &Shared,
    headers: &HeaderMap,
    body: &[u8],
    token: String,
    remote: Option<String>,
) -> Result<Response, HttpError> {
    if token.trim().is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(HttpError::bad_request(
            "verification_token must be a non-empty string",
        ));
    }
    if let Some(secret) = &state.notion_webhook_secret
        && signed_with(secret, headers, body)
    {
        tracing::info!(
            token_fingerprint = %fingerprint(&token),
            "Notion re-sent the verification token of the verified subscription; nothing to do"
        );
        return Ok(Json(json!({"status": "already verified"})).into_response());
    }
    if let Err(wait) = state.verification_limiter.try_take(Instant::now()) {
        reject_as(Rejection::RateLimited);
        return Err(HttpError::TooManyRequests {
            message: format!(
                "at most {TOKENS_PER_WINDOW} verification tokens a minute are recorded; \
                 press \"Resend token\" in Notion again shortly"
            ),
            retry_after_secs: wait.as_secs().max(1),
        });
    }
    record(state, Secret::new(token), remote).await
}

/// Whether the body carries a valid signature made with the configured
/// secret: only Notion re-sending the verified subscription's token does.
fn signed_with(secret: &Secret, headers: &HeaderMap, body: &[u8]) -> bool {
    let signature = header_str(headers, NOTION_SIGNATURE_HEADER);
    verify_notion(secret.expose(), body, signature).is_ok()
}

/// Store the token as pending and tell the operator what to do.
async fn record(
    state: &Shared,
    token: Secret,
    remote: Option<String>,
) -> Result<Response, HttpError> {
    let new = state
        .store
        .record_verification_token(&token, now_ms(), remote.as_deref())
        .await?;
    let fingerprint = fingerprint(token.expose());
    let meanwhile = if state.notion_webhook_secret.is_some() {
        "until then events keep being checked against the current NOTION_WEBHOOK_SECRET"
    } else {
        "until then Notion events are rejected"
    };
    tracing::warn!(
        token_fingerprint = %fingerprint,
        new,
        ?remote,
        "Notion sent a subscription verification token (fingerprint {fingerprint}; the token is \
         on the status page): paste it into the integration's Webhooks tab (Verify subscription) \
         and set NOTION_WEBHOOK_SECRET to it; {meanwhile}"
    );
    Ok(Json(json!({"status": "verification token recorded as pending"})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_allows_a_few_a_minute_and_says_how_long_to_wait() {
        let limiter = VerificationLimiter::default();
        let start = Instant::now();
        for i in 0..TOKENS_PER_WINDOW {
            let at = start + Duration::from_secs(i as u64);
            assert!(limiter.try_take(at).is_ok(), "token {i}");
        }
        let wait = limiter
            .try_take(start + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        // A minute after the first, its slot is free again (one only).
        assert!(limiter.try_take(start + WINDOW).is_ok());
        assert!(limiter.try_take(start + WINDOW).is_err());
    }

    #[test]
    fn fingerprints_are_short_and_do_not_contain_the_token() {
        let token = "secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl";
        let print = fingerprint(token);
        assert_eq!(print.len(), 8);
        assert!(print.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(!token.contains(&print));
        assert_ne!(print, fingerprint("secret_other"));
    }
}

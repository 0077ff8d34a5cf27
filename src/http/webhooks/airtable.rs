//! `POST /webhooks/airtable`.
//!
//! A ping carries no data, only `{"base":{"id"},"webhook":{"id"},"timestamp"}`:
//! it says "payloads are waiting". Its `X-Airtable-Content-MAC` is keyed with
//! the MAC secret of *that* webhook, so the webhook id is read first (leniently,
//! nothing else is trusted), its secret looked up, and the raw bytes verified
//! before the ping is parsed or anything stored. An authentic ping enqueues
//! the webhook's "fetch payloads" job, coalesced per webhook: ten pings while
//! it waits are one fetch. Airtable wants 200 or 204 with an empty body.
//!
//! An unknown webhook id gets 401, not 404: without its secret the request
//! cannot be authenticated, and an unauthenticated caller must not learn
//! which webhook ids exist.

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::header_str;
use crate::{
    http::{HttpError, Shared},
    jobs::spec::JobSpec,
    signature::{AIRTABLE_MAC_HEADER, SignatureError, verify_airtable},
    store::{AirtableWebhook, Store, now_ms},
};

/// Longest webhook id looked up (real ones are 17 characters).
const MAX_WEBHOOK_ID_LEN: usize = 64;

/// The notification ping (api-facts §3.3), parsed only once authenticated.
#[derive(Deserialize)]
struct Ping {
    base: IdRef,
    webhook: IdRef,
    timestamp: String,
}

#[derive(Deserialize)]
struct IdRef {
    id: String,
}

pub(crate) async fn receive(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, HttpError> {
    let mac = header_str(&headers, AIRTABLE_MAC_HEADER);
    let webhook = authenticate(&state.store, &body, mac).await?;
    let ping: Ping = serde_json::from_slice(&body).map_err(|e| {
        HttpError::bad_request(format!(
            "the body is not an Airtable notification ping: {e}"
        ))
    })?;
    if ping.webhook.id != webhook.webhook_id {
        return Err(HttpError::bad_request("the ping names two webhook ids"));
    }
    if ping.base.id != webhook.base_id {
        tracing::warn!(
            webhook_id = %webhook.webhook_id,
            ping_base = %ping.base.id,
            registered_base = %webhook.base_id,
            "Airtable ping names another base than the webhook's registration"
        );
    }
    let now = now_ms();
    // Due now: the debounce applies to the reconciles the fetch produces.
    let job = JobSpec::AirtablePayloads {
        webhook_id: webhook.webhook_id.clone(),
    }
    .to_new_job(now);
    let outcome = state.store.enqueue(&job, now).await?;
    // After the job: the ping time is for operators, the job is what matters.
    state
        .store
        .record_webhook_ping(&webhook.webhook_id, now)
        .await?;
    tracing::debug!(
        webhook_id = %webhook.webhook_id,
        ping_timestamp = %ping.timestamp,
        job_id = outcome.id(),
        "Airtable ping queued a payload fetch"
    );
    Ok(StatusCode::OK.into_response())
}

/// The registered webhook whose MAC secret signed `body`.
async fn authenticate(
    store: &Store,
    body: &[u8],
    mac: Option<&str>,
) -> Result<AirtableWebhook, HttpError> {
    let Some(webhook_id) = webhook_id_of(body) else {
        return Err(unreadable_ping(store, body, mac).await);
    };
    let Some(webhook) = store.get_webhook(&webhook_id).await? else {
        crate::http::metrics::reject_as(crate::metrics::Rejection::UnknownWebhook);
        return Err(HttpError::unauthenticated(
            "unknown Airtable webhook id: there is no MAC secret to authenticate this ping with",
        ));
    };
    verify_airtable(webhook.mac_secret_base64.expose(), body, mac)
        .map_err(|e| refused(&webhook.webhook_id, e))?;
    Ok(webhook)
}

/// `webhook.id` of a body that may be anything; nothing else is read.
fn webhook_id_of(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let id = value.pointer("/webhook/id")?.as_str()?;
    // Airtable's ids are letters and digits (`ach` + 14); anything else
    // (a NUL, which Postgres refuses in text) is no webhook of ours.
    let plausible = !id.is_empty()
        && id.len() <= MAX_WEBHOOK_ID_LEN
        && id.chars().all(|c| c.is_ascii_alphanumeric());
    plausible.then(|| id.to_owned())
}

/// A body with no readable webhook id: 400 if one of the registered secrets
/// signed it (a genuine but malformed ping), else 401. A service registers
/// one webhook per pair, so trying each is cheap.
async fn unreadable_ping(store: &Store, body: &[u8], mac: Option<&str>) -> HttpError {
    let webhooks = match store.list_webhooks(None).await {
        Ok(webhooks) => webhooks,
        Err(e) => return e.into(),
    };
    let signed_by_us = webhooks
        .iter()
        .any(|w| verify_airtable(w.mac_secret_base64.expose(), body, mac).is_ok());
    if signed_by_us {
        HttpError::bad_request("the ping is not JSON with a webhook.id")
    } else {
        HttpError::unauthenticated(
            "X-Airtable-Content-MAC refused: the body names no known webhook",
        )
    }
}

fn refused(webhook_id: &str, e: SignatureError) -> HttpError {
    if e == SignatureError::BadSecret {
        // Our registration is broken, not the request: say so loudly.
        tracing::error!(
            webhook_id,
            "the stored MAC secret of this Airtable webhook is not base64: re-run `webhooks ensure`"
        );
    }
    HttpError::unauthenticated(format!("X-Airtable-Content-MAC refused: {e}"))
}

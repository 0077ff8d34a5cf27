//! `POST /webhooks/notion`.
//!
//! 1. The one-time verification request `{"verification_token": "..."}` is
//!    accepted unsigned (its token is the key, so it cannot be signed with
//!    it) and stored as *pending*: the operator pastes it into Notion and sets
//!    `NOTION_WEBHOOK_SECRET`. It never becomes the secret by itself.
//! 2. Anything else is an event: `X-Notion-Signature` is checked over the raw
//!    bytes, in constant time, before the body is parsed or anything stored.
//! 3. A page change in a synced database becomes one reconcile job for the
//!    page (coalesced per page, due after the pair's debounce), enqueued in
//!    the transaction that records the event id in the inbox. Other events
//!    are recorded (so a redelivery is cheap) and ignored.

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;

use super::{Recorded, RemoteAddr, header_str, record_and_enqueue};
use crate::{
    http::{HttpError, Shared, pairs::normalize_id},
    jobs::kinds::{JobSpec, Trigger},
    secret::Secret,
    signature::{NOTION_SIGNATURE_HEADER, verify_notion},
    store::{InboxEvent, now_ms},
};

/// Event types that can change what the service syncs. `page.content_updated`
/// (blocks, not properties) and lock changes are not among them.
const PAGE_CHANGES: &[&str] = &[
    "page.created",
    "page.properties_updated",
    // Notion sends a title edit as a content update ("let's say a user
    // updates the title of a page. You'll receive a page.content_updated").
    "page.content_updated",
    "page.deleted",
    "page.undeleted",
    "page.moved",
];

/// Longest event id or verification token stored (real ones are ~50 chars).
const MAX_ID_LEN: usize = 200;

/// Characters of a verification token shown in the log; the whole token is
/// on the status page, behind the admin token.
const TOKEN_PREFIX_SHOWN: usize = 12;

/// Exactly the handshake body: any other field makes it an event.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerificationRequest {
    verification_token: String,
}

/// The unsigned handshake, recognised only in its exact shape: a JSON
/// object with that one field (serde would also read a struct from an
/// array such as `["token"]`).
fn verification_request(body: &[u8]) -> Option<VerificationRequest> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    if !value.is_object() {
        return None;
    }
    serde_json::from_value(value).ok()
}

/// The parts of the event envelope the ingest needs (api-facts §1.3).
#[derive(Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    entity: Entity,
    #[serde(default)]
    authors: Vec<Author>,
    #[serde(default)]
    data: EventData,
}

#[derive(Deserialize)]
struct Entity {
    id: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct Author {
    id: String,
}

#[derive(Deserialize, Default)]
struct EventData {
    parent: Option<Parent>,
}

/// `data.parent`; since API version 2025-09-03 a page's parent carries the
/// data source id next to the database id.
#[derive(Deserialize)]
struct Parent {
    id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    data_source_id: Option<String>,
}

/// What to do with an authenticated event.
enum Decision {
    Reconcile(JobSpec),
    Ignore(&'static str),
}

pub(crate) async fn receive(
    State(state): State<Shared>,
    RemoteAddr(remote): RemoteAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, HttpError> {
    if let Some(request) = verification_request(&body) {
        let remote = remote.map(|a| a.ip().to_string());
        return record_verification(&state, request.verification_token, remote).await;
    }
    authenticate(&state, &headers, &body)?;
    let event: Event = serde_json::from_slice(&body)
        .map_err(|e| HttpError::bad_request(format!("the body is not a Notion event: {e}")))?;
    check_ids(&event)?;
    let now = now_ms();
    let decision = decide(&state, &event).await?;
    let job = match &decision {
        Decision::Reconcile(spec) => {
            let debounce = spec.pair().map_or(0, |p| state.config.debounce_ms(p));
            Some(spec.to_new_job(now.saturating_add(debounce)))
        }
        Decision::Ignore(_) => None,
    };
    let recorded =
        record_and_enqueue(&state.store, &inbox_row(&event, now), job.as_ref(), now).await?;
    Ok(acknowledge(&event, &decision, recorded))
}

/// Store the handshake's token as pending and tell the operator what to do.
async fn record_verification(
    state: &Shared,
    token: String,
    remote: Option<String>,
) -> Result<Response, HttpError> {
    if token.trim().is_empty() || token.len() > MAX_ID_LEN {
        return Err(HttpError::bad_request(
            "verification_token must be a non-empty string",
        ));
    }
    let token = Secret::new(token);
    let new = state
        .store
        .record_verification_token(&token, now_ms(), remote.as_deref())
        .await?;
    let prefix: String = token.expose().chars().take(TOKEN_PREFIX_SHOWN).collect();
    if state.notion_webhook_secret.as_ref() == Some(&token) {
        tracing::info!(token_prefix = %prefix, "Notion verification token received again; it is the configured NOTION_WEBHOOK_SECRET");
    } else {
        tracing::warn!(
            token_prefix = %prefix,
            new,
            ?remote,
            "Notion sent a subscription verification token ({prefix}…, full value on the status page): \
             paste it into the integration's Webhooks tab (Verify subscription) and set \
             NOTION_WEBHOOK_SECRET to it; until then Notion events are rejected"
        );
    }
    Ok(Json(json!({"status": "verification token recorded as pending"})).into_response())
}

/// The signature over the raw bytes, before anything is parsed or stored.
fn authenticate(state: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<(), HttpError> {
    let Some(secret) = &state.notion_webhook_secret else {
        crate::metrics::reject_as(crate::metrics::Rejection::SecretUnset);
        return Err(HttpError::unauthenticated(
            "Notion events are rejected until NOTION_WEBHOOK_SECRET is set to the \
             subscription's verification token",
        ));
    };
    let header = header_str(headers, NOTION_SIGNATURE_HEADER);
    verify_notion(secret.expose(), body, header)
        .map_err(|e| HttpError::unauthenticated(format!("X-Notion-Signature refused: {e}")))
}

fn check_ids(event: &Event) -> Result<(), HttpError> {
    for (name, value) in [("id", &event.id), ("entity.id", &event.entity.id)] {
        if value.trim().is_empty() || value.len() > MAX_ID_LEN {
            return Err(HttpError::bad_request(format!(
                "event {name} must be a non-empty id"
            )));
        }
    }
    Ok(())
}

async fn decide(state: &Shared, event: &Event) -> Result<Decision, HttpError> {
    if !PAGE_CHANGES.contains(&event.kind.as_str()) {
        warn_on_schema_change(state, event);
        return Ok(Decision::Ignore("not a page change the service syncs"));
    }
    if event.entity.kind != "page" {
        return Ok(Decision::Ignore("the entity is not a page"));
    }
    if authored_only_by_bot(event, state.bot_user_id.as_deref()) {
        return Ok(Decision::Ignore(
            "authored only by the service's own integration",
        ));
    }
    let page_id = &event.entity.id;
    let pair = match parent_pair(state, event) {
        Some(pair) => Some(pair.to_owned()),
        None => linked_pair(state, page_id).await?,
    };
    Ok(match pair {
        Some(pair) => Decision::Reconcile(JobSpec::ReconcilePage {
            pair,
            page_id: page_id.clone(),
            trigger: Trigger::Webhook,
        }),
        // No parent named and no link: only the page itself can say where
        // it lives, and reading it is a worker's job, not the ingest's.
        None if event.data.parent.is_none() => Decision::Reconcile(JobSpec::LocatePage {
            page_id: page_id.clone(),
        }),
        None => Decision::Ignore("the page is not in a synced database"),
    })
}

/// The pair of `data.parent`: its data source id first, else the id of a
/// database (or data source) parent.
fn parent_pair<'s>(state: &'s Shared, event: &Event) -> Option<&'s str> {
    let parent = event.data.parent.as_ref()?;
    if let Some(pair) = parent
        .data_source_id
        .as_deref()
        .and_then(|id| state.pairs.pair_for(id))
    {
        return Some(pair);
    }
    match parent.kind.as_deref() {
        Some("database" | "data_source") => state.pairs.pair_for(parent.id.as_deref()?),
        _ => None,
    }
}

/// A page the service already links, whose event does not name a synced
/// parent: it moved out of the database, or the event has no parent. The
/// reconcile decides what that means; the handler only reads the store.
async fn linked_pair(state: &Shared, page_id: &str) -> Result<Option<String>, HttpError> {
    for pair in state.pairs.names() {
        if state.store.get_link_by_page(pair, page_id).await?.is_some() {
            return Ok(Some(pair.clone()));
        }
    }
    Ok(None)
}

/// True when every author is the service's bot: the change is the service's
/// own write. With no bot id, or no authors, nothing is assumed.
fn authored_only_by_bot(event: &Event, bot_user_id: Option<&str>) -> bool {
    let Some(bot) = bot_user_id.map(normalize_id) else {
        return false;
    };
    !event.authors.is_empty() && event.authors.iter().all(|a| normalize_id(&a.id) == bot)
}

/// A schema change of a synced data source can break the mapping; say so.
fn warn_on_schema_change(state: &Shared, event: &Event) {
    if !event.kind.ends_with(".schema_updated") {
        return;
    }
    if let Some(pair) = state.pairs.pair_for(&event.entity.id) {
        tracing::warn!(
            pair,
            event_type = %event.kind,
            "the schema of a synced Notion database changed: run `notion-airtable-sync check`"
        );
    }
}

fn inbox_row(event: &Event, now: i64) -> InboxEvent {
    InboxEvent {
        source: "notion".to_owned(),
        event_id: event.id.clone(),
        received_at: now,
        summary: Some(format!(
            "{} {} {}",
            event.kind, event.entity.kind, event.entity.id
        )),
    }
}

fn acknowledge(event: &Event, decision: &Decision, recorded: Recorded) -> Response {
    let body = match (recorded, decision) {
        (Recorded::Duplicate, _) => json!({"status": "duplicate"}),
        (Recorded::New(Some(outcome)), _) => json!({"status": "queued", "job_id": outcome.id()}),
        (Recorded::New(None), Decision::Ignore(reason)) => {
            json!({"status": "ignored", "reason": reason})
        }
        (Recorded::New(None), Decision::Reconcile(_)) => json!({"status": "recorded"}),
    };
    tracing::debug!(event_id = %event.id, event_type = %event.kind, %body, "Notion event acknowledged");
    Json(body).into_response()
}

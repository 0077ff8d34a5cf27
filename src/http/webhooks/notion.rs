//! `POST /webhooks/notion`.
//!
//! 1. The one-time verification request `{"verification_token": "..."}` is
//!    handled by [`super::verification`]: kept as *pending* (a few, newest
//!    first) for the operator, never trusted by itself.
//! 2. Anything else is an event: `X-Notion-Signature` is checked over the raw
//!    bytes, in constant time, before the body is parsed or anything stored.
//! 3. A page change in a synced database becomes one reconcile job for the
//!    page per pair that syncs that database (coalesced per page, due after
//!    the pair's debounce), enqueued in the transaction that records the
//!    event id in the inbox. Other events are recorded (so a redelivery is
//!    cheap) and ignored.

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;

use super::{Recorded, RemoteAddr, header_str};
use crate::{
    http::{HttpError, Shared, pairs::normalize_id},
    jobs::spec::{JobSpec, Trigger},
    signature::{NOTION_SIGNATURE_HEADER, verify_notion},
    store::{InboxEvent, now_ms},
};

/// Event types that can change what the service syncs. A title edit arrives
/// as `page.content_updated` ("let's say a user updates the title of a page.
/// You'll receive a `page.content_updated` webhook event", Notion's webhook
/// docs), so that event reconciles the page too, although it mostly means
/// the page's blocks changed: a reconcile that finds nothing to write costs
/// a read of each side. Lock changes are not among them.
const PAGE_CHANGES: &[&str] = &[
    "page.created",
    "page.properties_updated",
    "page.content_updated",
    "page.deleted",
    "page.undeleted",
    "page.moved",
];

/// Longest event id stored (real ones are 36 chars).
const MAX_ID_LEN: usize = 200;

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
    /// One job per pair concerned (at least one).
    Reconcile(Vec<JobSpec>),
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
        let token = request.verification_token;
        return super::verification::receive(&state, &headers, &body, token, remote).await;
    }
    authenticate(&state, &headers, &body)?;
    let event: Event = serde_json::from_slice(&body)
        .map_err(|e| HttpError::bad_request(format!("the body is not a Notion event: {e}")))?;
    check_ids(&event)?;
    let now = now_ms();
    let decision = decide(&state, &event).await?;
    let jobs: Vec<_> = match &decision {
        Decision::Reconcile(specs) => specs
            .iter()
            .map(|spec| {
                let debounce = spec.pair().map_or(0, |p| state.config.debounce_ms(p));
                spec.to_new_job(now.saturating_add(debounce))
            })
            .collect(),
        Decision::Ignore(_) => Vec::new(),
    };
    let recorded = state
        .ingest
        .record(inbox_row(&event, now), jobs, now)
        .await?;
    Ok(acknowledge(&event, &decision, recorded))
}

/// The signature over the raw bytes, before anything is parsed or stored.
fn authenticate(state: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<(), HttpError> {
    let Some(secret) = &state.notion_webhook_secret else {
        crate::http::metrics::reject_as(crate::metrics::Rejection::SecretUnset);
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
    // These are stored (inbox key and summary); control characters such as
    // NUL are never in Notion's ids or type names, and Postgres refuses NUL
    // in text.
    for (name, value) in [
        ("id", &event.id),
        ("entity.id", &event.entity.id),
        ("type", &event.kind),
        ("entity.type", &event.entity.kind),
    ] {
        if value.chars().any(char::is_control) {
            return Err(HttpError::bad_request(format!(
                "event {name} contains control characters"
            )));
        }
    }
    Ok(())
}

async fn decide(state: &Shared, event: &Event) -> Result<Decision, HttpError> {
    if !PAGE_CHANGES.contains(&event.kind.as_str()) {
        return Ok(match schema_change(state, event) {
            Some(jobs) => Decision::Reconcile(jobs),
            None => Decision::Ignore("not a page change the service syncs"),
        });
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
    let mut pairs = parent_pairs(state, event).to_vec();
    if pairs.is_empty() {
        pairs = linked_pairs(state, page_id).await?;
    }
    let reconcile = |pair: String| JobSpec::ReconcilePage {
        pair,
        page_id: page_id.clone(),
        trigger: Trigger::Webhook,
    };
    Ok(if !pairs.is_empty() {
        Decision::Reconcile(pairs.into_iter().map(reconcile).collect())
    } else if event.data.parent.is_none() {
        // No parent named and no link: only the page itself can say where
        // it lives, and reading it is a worker's job, not the ingest's.
        Decision::Reconcile(vec![JobSpec::LocatePage {
            page_id: page_id.clone(),
        }])
    } else {
        Decision::Ignore("the page is not in a synced database")
    })
}

/// The pairs of `data.parent`: those of its data source id first, else of
/// the id of a database (or data source) parent. Every pair that syncs the
/// data source gets the event (each with its own Airtable table).
fn parent_pairs<'s>(state: &'s Shared, event: &Event) -> &'s [String] {
    let Some(parent) = event.data.parent.as_ref() else {
        return &[];
    };
    let by_data_source = parent
        .data_source_id
        .as_deref()
        .map_or(&[][..], |id| state.pairs.pairs_for(id));
    if !by_data_source.is_empty() {
        return by_data_source;
    }
    match (parent.kind.as_deref(), parent.id.as_deref()) {
        (Some("database" | "data_source"), Some(id)) => state.pairs.pairs_for(id),
        _ => &[],
    }
}

/// The pairs that already link a page whose event does not name a synced
/// parent: it moved out of the database, or the event has no parent. The
/// reconcile decides what that means; the handler only reads the store.
async fn linked_pairs(state: &Shared, page_id: &str) -> Result<Vec<String>, HttpError> {
    let mut linked = Vec::new();
    for pair in state.pairs.names() {
        if state.store.get_link_by_page(pair, page_id).await?.is_some() {
            linked.push(pair.clone());
        }
    }
    Ok(linked)
}

/// True when every author is the service's bot: the change is the service's
/// own write. With no bot id, or no authors, nothing is assumed.
fn authored_only_by_bot(event: &Event, bot_user_id: Option<&str>) -> bool {
    let Some(bot) = bot_user_id.map(normalize_id) else {
        return false;
    };
    !event.authors.is_empty() && event.authors.iter().all(|a| normalize_id(&a.id) == bot)
}

/// A schema change of a synced data source: resolve its pairs again, so a
/// renamed property is followed and a removed or retyped one is stopped.
fn schema_change(state: &Shared, event: &Event) -> Option<Vec<JobSpec>> {
    if !event.kind.ends_with(".schema_updated") {
        return None;
    }
    let pairs = state.pairs.pairs_for(&event.entity.id);
    for pair in pairs {
        tracing::info!(
            pair,
            event_type = %event.kind,
            "the schema of a synced Notion database changed: resolving the pair again"
        );
    }
    let jobs: Vec<JobSpec> = pairs
        .iter()
        .map(|pair| JobSpec::ResolveSchema { pair: pair.clone() })
        .collect();
    (!jobs.is_empty()).then_some(jobs)
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
        (Recorded::New(outcomes), _) if !outcomes.is_empty() => {
            let ids: Vec<_> = outcomes.iter().map(|o| o.id()).collect();
            // `job_id`: the first pair's job; `job_ids`: one per pair.
            json!({"status": "queued", "job_id": ids[0], "job_ids": ids})
        }
        (Recorded::New(_), Decision::Ignore(reason)) => {
            json!({"status": "ignored", "reason": reason})
        }
        (Recorded::New(_), Decision::Reconcile(_)) => json!({"status": "recorded"}),
    };
    tracing::debug!(event_id = %event.id, event_type = %event.kind, %body, "Notion event acknowledged");
    Json(body).into_response()
}

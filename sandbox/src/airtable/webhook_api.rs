//! The webhook endpoints (api-facts §3.1): create, list, delete, refresh, enable
//! notifications, list payloads.

use std::{collections::VecDeque, sync::Arc};

use axum::{
    Json,
    extract::{Path, RawQuery, State},
};
use base64::Engine as _;
use rand::RngCore;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::body::JsonBody;
use super::errors::{AtError, AtResult};
use super::ids::new_id;
use super::state::Shared;
use super::webhooks::{self, LIFETIME, MAX_PAYLOADS_PER_PAGE, MAX_WEBHOOKS_PER_BASE, Webhook};
use crate::common::airtable_time;

type St = State<Arc<Shared>>;

fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `POST /v0/bases/{base}/webhooks` → `{id, macSecretBase64, expirationTime}`; the secret is
/// never shown again.
pub(crate) async fn create(
    State(s): St,
    Path(base): Path<String>,
    JsonBody(body): JsonBody,
) -> AtResult<Json<Value>> {
    let now = s.now();
    let mut store = s.store();
    let base = store.base_mut(&base)?;
    base.webhooks.retain(|h| !h.is_gone(now));
    if base.webhooks.len() >= MAX_WEBHOOKS_PER_BASE {
        // [S] type name as handled by third-party code; the limit is documented.
        return Err(AtError::unprocessable(
            "TOO_MANY_WEBHOOKS_IN_BASE",
            "A base can have at most 10 webhooks",
        ));
    }
    let (notification_url, spec, spec_json) = webhooks::parse_create(base, &body)?;
    check_data_scopes(&s, &spec)?;
    let hook = Webhook {
        id: new_id("ach"),
        mac_secret: new_secret(),
        notification_url,
        spec,
        spec_json,
        expiration: now + LIFETIME,
        notifications_enabled: true,
        payloads: VecDeque::new(),
        next_cursor: 1,
        last_success: None,
        last_result: None,
        ping_pending: false,
    };
    let response = json!({
        "id": hook.id,
        "macSecretBase64": hook.mac_secret,
        "expirationTime": airtable_time(hook.expiration),
    });
    base.webhooks.push(hook);
    Ok(Json(response))
}

/// Creating a webhook and listing its payloads also need the read scope of each data type
/// it watches: `data.records:read` for `tableData`, `schema.bases:read` for `tableFields`
/// and `tableMetadata` (create-a-webhook and list-webhook-payloads docs). A missing one is
/// the permissions 403.
fn check_data_scopes(s: &Shared, spec: &webhooks::Spec) -> AtResult<()> {
    let needs = |data_type: &str| match data_type {
        "tableData" => "data.records:read",
        _ => "schema.bases:read",
    };
    let missing = spec
        .data_types
        .iter()
        .any(|d| !s.scopes.iter().any(|have| have == needs(d)));
    if missing {
        return Err(AtError::model_not_found());
    }
    Ok(())
}

/// `GET /v0/bases/{base}/webhooks`.
pub(crate) async fn list(State(s): St, Path(base): Path<String>) -> AtResult<Json<Value>> {
    let now = s.now();
    let mut store = s.store();
    let base = store.base_mut(&base)?;
    base.webhooks.retain(|h| !h.is_gone(now));
    let hooks: Vec<Value> = base.webhooks.iter().map(|h| h.to_list_json(now)).collect();
    Ok(Json(json!({ "webhooks": hooks })))
}

/// Apply `f` to one webhook of one base; an unknown webhook is 404.
fn with_hook<R>(
    s: &Shared,
    base: &str,
    id: &str,
    f: impl FnOnce(&mut Webhook, OffsetDateTime) -> AtResult<R>,
) -> AtResult<R> {
    let now = s.now();
    let mut store = s.store();
    let base = store.base_mut(base)?;
    base.webhooks.retain(|h| !h.is_gone(now));
    let hook = base
        .webhooks
        .iter_mut()
        .find(|h| h.id == id)
        .ok_or_else(AtError::not_found_typed)?;
    f(hook, now)
}

/// `DELETE /v0/bases/{base}/webhooks/{id}`.
pub(crate) async fn delete(
    State(s): St,
    Path((base, id)): Path<(String, String)>,
) -> AtResult<Json<Value>> {
    let now = s.now();
    let mut store = s.store();
    let base = store.base_mut(&base)?;
    base.webhooks.retain(|h| !h.is_gone(now));
    let before = base.webhooks.len();
    base.webhooks.retain(|h| h.id != id);
    if base.webhooks.len() == before {
        return Err(AtError::not_found_typed());
    }
    Ok(Json(json!({})))
}

/// `POST …/webhooks/{id}/refresh` → `{expirationTime}`: 7 more days from now. An expired
/// webhook stays disabled [U: the docs only say it "expires and is disabled"].
pub(crate) async fn refresh(
    State(s): St,
    Path((base, id)): Path<(String, String)>,
) -> AtResult<Json<Value>> {
    with_hook(&s, &base, &id, |hook, now| {
        if hook.is_expired(now) {
            return Err(AtError::invalid_request(
                "the webhook has expired; create a new one",
            ));
        }
        hook.expiration = now + LIFETIME;
        Ok(Json(
            json!({"expirationTime": airtable_time(hook.expiration)}),
        ))
    })
}

/// `POST …/webhooks/{id}/enableNotifications` with `{"enable": bool}`.
pub(crate) async fn enable_notifications(
    State(s): St,
    Path((base, id)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> AtResult<Json<Value>> {
    let enable = body["enable"]
        .as_bool()
        .ok_or_else(|| AtError::invalid_request("\"enable\" must be a boolean"))?;
    with_hook(&s, &base, &id, |hook, _now| {
        hook.notifications_enabled = enable;
        Ok(Json(json!({})))
    })
}

fn query_number(pairs: &[(String, String)], key: &str) -> AtResult<Option<u64>> {
    match pairs.iter().find(|(k, _)| k == key) {
        None => Ok(None),
        Some((_, v)) => v
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= 1)
            .map(Some)
            .ok_or_else(|| AtError::invalid_request(format!("{key} must be a positive integer"))),
    }
}

/// `GET …/webhooks/{id}/payloads?cursor=&limit=` → `{payloads, cursor, mightHaveMore}`.
pub(crate) async fn payloads(
    State(s): St,
    Path((base, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> AtResult<Json<Value>> {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let cursor = query_number(&pairs, "cursor")?.unwrap_or(1);
    let limit = query_number(&pairs, "limit")?.unwrap_or(MAX_PAYLOADS_PER_PAGE as u64);
    if limit > MAX_PAYLOADS_PER_PAGE as u64 {
        return Err(AtError::invalid_request("limit must be at most 50"));
    }
    with_hook(&s, &base, &id, |hook, now| {
        check_data_scopes(&s, &hook.spec)?;
        Ok(Json(hook.list_payloads(cursor, limit as usize, now)))
    })
}

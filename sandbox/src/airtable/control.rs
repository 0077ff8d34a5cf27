//! The control API under `/_sandbox/` for tests, the demo and benchmarks in other processes:
//! no bearer token, never counted, never rate limited.
//!
//! | route | effect |
//! |---|---|
//! | `POST /_sandbox/seed/team` | seed the team base → `TeamAirtable` |
//! | `POST /_sandbox/bases` `{name}` | → `{id}` |
//! | `GET\|POST /_sandbox/bases/{base}/collaborators` `{collaborators:[{email, name}]}` | the people with access to the base (POST replaces the list; a known email keeps its id) → `{collaborators:[{id, email, name}]}` |
//! | `POST /_sandbox/bases/{base}/tables` `{name, fields:[FieldSchema]}` | → `{id, field_ids}` |
//! | `POST /_sandbox/bases/{base}/tables/{table}/fields` `{name, type, choices?, description?}` | a person adds a field → field model |
//! | `PATCH /_sandbox/bases/{base}/tables/{table}/fields/{field}` `{name?, description?, type?, choices?}` | a person renames / describes / changes the type of a field (id or name) → field model |
//! | `DELETE /_sandbox/bases/{base}/tables/{table}/fields/{field}` | a person deletes a field → `{id, deleted}` |
//! | `POST /_sandbox/bases/{base}/tables/{table}/views` `{name, filter?}` | a person adds a grid view whose filter (a formula) keeps some records → `{id}` |
//! | `POST /_sandbox/{base}/{table}` `{fields}` | a person creates a record → `{id}` |
//! | `PATCH /_sandbox/{base}/{table}/{rec}` `{fields}` | a person edits it |
//! | `DELETE /_sandbox/{base}/{table}/{rec}` | a person deletes it |
//! | `GET /_sandbox/{base}/{table}` | `{records}` (all, REST shape) |
//! | `GET /_sandbox/calls`, `POST /_sandbox/calls/reset` | the call log |
//! | `GET\|POST /_sandbox/faults`, `GET\|POST /_sandbox/delivery` | knobs (partial updates) |
//! | `POST /_sandbox/webhooks/{id}/expire` | expire a webhook now |
//! | `POST /_sandbox/bases/{base}/purge_payloads` `{before}` | drop older payloads |
//! | `GET /_sandbox/deliveries` | every ping attempt |
//! | `POST /_sandbox/clock` `{offset_seconds}` | move the sandbox clock |

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{Path, State},
    routing::{get, patch, post},
};
use serde_json::{Value, json};

use super::errors::{AtError, AtResult};
use super::person::{self, FieldEdit};
use super::schema::FieldSchema;
use super::state::Shared;
use crate::common::{airtable_time, merge_json};

type St = State<Arc<Shared>>;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sandbox/seed/team", post(seed_team))
        .route("/_sandbox/bases", post(create_base))
        .route(
            "/_sandbox/bases/{base}/collaborators",
            get(get_collaborators).post(set_collaborators),
        )
        .route("/_sandbox/bases/{base}/tables", post(create_table))
        .route(
            "/_sandbox/bases/{base}/tables/{table}/fields",
            post(create_field),
        )
        .route(
            "/_sandbox/bases/{base}/tables/{table}/fields/{field}",
            patch(edit_field).delete(delete_field),
        )
        .route(
            "/_sandbox/bases/{base}/purge_payloads",
            post(purge_payloads),
        )
        .route(
            "/_sandbox/bases/{base}/tables/{table}/views",
            post(create_view),
        )
        .route("/_sandbox/calls", get(calls))
        .route("/_sandbox/calls/reset", post(reset_calls))
        .route("/_sandbox/faults", get(get_faults).post(set_faults))
        .route("/_sandbox/delivery", get(get_delivery).post(set_delivery))
        .route("/_sandbox/deliveries", get(deliveries))
        .route("/_sandbox/clock", post(set_clock))
        .route("/_sandbox/webhooks/{id}/expire", post(expire_webhook))
        .route(
            "/_sandbox/{base}/{table}",
            post(create_record).get(list_records),
        )
        .route(
            "/_sandbox/{base}/{table}/{record}",
            patch(update_record).delete(delete_record),
        )
        .route(
            "/_sandbox/{base}/{table}/{record}/restore",
            post(restore_record),
        )
}

async fn seed_team(State(s): St) -> Json<Value> {
    Json(json!(person::seed_team(&s)))
}

fn string_field(body: &Value, key: &str) -> AtResult<String> {
    body[key]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| AtError::invalid_request(format!("\"{key}\" must be a string")))
}

async fn create_base(State(s): St, Json(body): Json<Value>) -> AtResult<Json<Value>> {
    let name = string_field(&body, "name")?;
    Ok(Json(json!({"id": person::create_base(&s, &name)})))
}

async fn get_collaborators(State(s): St, Path(base): Path<String>) -> AtResult<Json<Value>> {
    let list = person::collaborators(&s, &base)?;
    Ok(Json(json!({ "collaborators": list })))
}

async fn set_collaborators(
    State(s): St,
    Path(base): Path<String>,
    Json(body): Json<Value>,
) -> AtResult<Json<Value>> {
    let people = body["collaborators"]
        .as_array()
        .ok_or_else(|| AtError::invalid_request("\"collaborators\" must be an array"))?
        .iter()
        .map(|c| Ok((string_field(c, "email")?, string_field(c, "name")?)))
        .collect::<AtResult<Vec<_>>>()?;
    let list = person::set_collaborators(&s, &base, &people)?;
    Ok(Json(json!({ "collaborators": list })))
}

async fn create_table(
    State(s): St,
    Path(base): Path<String>,
    Json(body): Json<Value>,
) -> AtResult<Json<Value>> {
    let name = string_field(&body, "name")?;
    let fields: Vec<FieldSchema> = serde_json::from_value(body["fields"].clone())
        .map_err(|e| AtError::invalid_request(format!("fields: {e}")))?;
    let (id, field_ids) = person::create_table(&s, &base, &name, &fields)?;
    Ok(Json(json!({"id": id, "field_ids": field_ids})))
}

async fn create_field(
    State(s): St,
    Path((base, table)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> AtResult<Json<Value>> {
    let mut body = body;
    let description = match body.as_object_mut().and_then(|o| o.remove("description")) {
        None | Some(Value::Null) => None,
        Some(Value::String(d)) => Some(d),
        Some(_) => return Err(AtError::invalid_request("description must be a string")),
    };
    let schema: FieldSchema = serde_json::from_value(body)
        .map_err(|e| AtError::invalid_request(format!("field: {e}")))?;
    Ok(Json(person::create_field(
        &s,
        &base,
        &table,
        &schema,
        description,
    )?))
}

async fn edit_field(
    State(s): St,
    Path((base, table, field)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> AtResult<Json<Value>> {
    let edit: FieldEdit = serde_json::from_value(body)
        .map_err(|e| AtError::invalid_request(format!("field edit: {e}")))?;
    Ok(Json(person::edit_field(&s, &base, &table, &field, &edit)?))
}

async fn delete_field(
    State(s): St,
    Path((base, table, field)): Path<(String, String, String)>,
) -> AtResult<Json<Value>> {
    let id = person::delete_field(&s, &base, &table, &field)?;
    Ok(Json(json!({"id": id, "deleted": true})))
}

async fn create_view(
    State(s): St,
    Path((base, table)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> AtResult<Json<Value>> {
    let name = string_field(&body, "name")?;
    let filter = body["filter"].as_str().map(str::to_owned);
    let id = person::create_view(&s, &base, &table, &name, filter)?;
    Ok(Json(json!({"id": id})))
}

/// `{fields:{…}}`, or the fields object itself when there is no `fields` key.
fn fields_of(body: &Value) -> &Value {
    body.get("fields").unwrap_or(body)
}

async fn create_record(
    State(s): St,
    Path((base, table)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> AtResult<Json<Value>> {
    let id = person::create_record(&s, &base, &table, fields_of(&body))?;
    Ok(Json(json!({"id": id})))
}

async fn update_record(
    State(s): St,
    Path((base, table, record)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> AtResult<Json<Value>> {
    person::update_record(&s, &base, &table, &record, fields_of(&body))?;
    Ok(Json(
        person::one_record(&s, &base, &table, &record).unwrap_or(Value::Null),
    ))
}

async fn delete_record(
    State(s): St,
    Path((base, table, record)): Path<(String, String, String)>,
) -> AtResult<Json<Value>> {
    person::delete_record(&s, &base, &table, &record)?;
    Ok(Json(json!({"id": record, "deleted": true})))
}

/// A person restores a deleted record from the base's trash.
async fn restore_record(
    State(s): St,
    Path((base, table, record)): Path<(String, String, String)>,
) -> AtResult<Json<Value>> {
    person::restore_record(&s, &base, &table, &record)?;
    Ok(Json(json!({"id": record, "restored": true})))
}

async fn list_records(
    State(s): St,
    Path((base, table)): Path<(String, String)>,
) -> AtResult<Json<Value>> {
    Ok(Json(
        json!({"records": person::all_records(&s, &base, &table)?}),
    ))
}

async fn calls(State(s): St) -> Json<Value> {
    Json(json!({
        "calls": s.calls.snapshot(),
        "total": s.calls.total(),
        "peak_in_flight": s.calls.peak_in_flight(),
    }))
}

async fn reset_calls(State(s): St) -> Json<Value> {
    s.calls.reset();
    Json(json!({}))
}

async fn get_faults(State(s): St) -> Json<Value> {
    Json(json!(s.faults.get()))
}

async fn set_faults(State(s): St, Json(patch): Json<Value>) -> AtResult<Json<Value>> {
    let faults = merge_json(&s.faults.get(), &patch)
        .map_err(|e| AtError::invalid_request(format!("faults: {e}")))?;
    s.faults.set(faults.clone());
    Ok(Json(json!(faults)))
}

async fn get_delivery(State(s): St) -> Json<Value> {
    Json(json!(s.deliverer.knobs()))
}

async fn set_delivery(State(s): St, Json(patch): Json<Value>) -> AtResult<Json<Value>> {
    let knobs = merge_json(&s.deliverer.knobs(), &patch)
        .map_err(|e| AtError::invalid_request(format!("delivery: {e}")))?;
    s.deliverer.set_knobs(knobs.clone());
    Ok(Json(json!(knobs)))
}

async fn deliveries(State(s): St) -> Json<Value> {
    Json(json!({"deliveries": s.deliverer.deliveries()}))
}

async fn set_clock(State(s): St, Json(body): Json<Value>) -> AtResult<Json<Value>> {
    let offset = body["offset_seconds"]
        .as_i64()
        .ok_or_else(|| AtError::invalid_request("\"offset_seconds\" must be an integer"))?;
    s.clock.set_offset_seconds(offset);
    Ok(Json(
        json!({"offset_seconds": offset, "now": airtable_time(s.clock.now())}),
    ))
}

/// Move the webhook's expiration time to now: it stops producing payloads and pings.
async fn expire_webhook(State(s): St, Path(id): Path<String>) -> AtResult<Json<Value>> {
    let now = s.now();
    let mut store = s.store();
    let hook = store
        .bases
        .iter_mut()
        .flat_map(|b| b.webhooks.iter_mut())
        .find(|h| h.id == id)
        .ok_or_else(AtError::not_found_typed)?;
    hook.expiration = now;
    Ok(Json(hook.to_list_json(now)))
}

async fn purge_payloads(
    State(s): St,
    Path(base): Path<String>,
    Json(body): Json<Value>,
) -> AtResult<Json<Value>> {
    let before = body["before"]
        .as_u64()
        .ok_or_else(|| AtError::invalid_request("\"before\" must be a transaction number"))?;
    let mut store = s.store();
    let base = store.base_mut(&base)?;
    let purged: usize = base
        .webhooks
        .iter_mut()
        .map(|h| h.purge_before(before))
        .sum();
    Ok(Json(json!({"purged": purged})))
}

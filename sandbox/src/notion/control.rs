//! The control API under `/_sandbox/` for tests, the demo and benchmarks in
//! other processes: no bearer token, no rate limit, never counted in the
//! call log. Person edits made here are what a user does in the Notion UI.
//!
//! | route | what |
//! |---|---|
//! | `POST /_sandbox/seed/team` `{"status"?: "select"\|"status"}` | seed the team's workspace → `TeamNotion` |
//! | `PATCH /_sandbox/data_sources/{id}` `{"user_id"?, "properties"?, "title"?}` | change the schema as a person → the data source |
//! | `GET\|POST /_sandbox/capabilities` `{"user_information": "with_email"\|"without_email"\|"none", "read_content"?: bool}` | the integration's user and content capabilities |
//! | `GET\|PATCH /_sandbox/pages/{id}/markdown` `{"user_id"?, "markdown"}` | read or replace the page's content as a person (`page.content_updated`) |

use std::sync::Arc;

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, State},
    response::{IntoResponse, Response},
    routing::{get, patch, post},
};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::Shared;
use super::errors::{NotionError, NotionResult};
use super::limits::RateLimitSettings;
use super::ops::{self, PagePatch, ParentRef};
use super::render::{data_source_json, page_json};
use super::schema::PropertySchema;
use super::schema_update::Editor;
use super::state::{Actor, UserInformation, dashed, parse_id};
use crate::common::{lock, merge_json};
use crate::team::TeamOptions;

pub fn control_router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_sandbox/seed/team", post(seed_team))
        .route("/_sandbox/databases", post(create_database))
        .route("/_sandbox/pages", post(create_page))
        .route(
            "/_sandbox/pages/{page_id}",
            patch(update_page).get(get_page),
        )
        .route(
            "/_sandbox/pages/{page_id}/markdown",
            patch(update_markdown).get(get_markdown),
        )
        .route(
            "/_sandbox/data_sources/{data_source_id}/pages",
            get(list_pages),
        )
        .route(
            "/_sandbox/data_sources/{data_source_id}",
            patch(update_data_source),
        )
        .route(
            "/_sandbox/capabilities",
            get(get_capabilities).post(set_capabilities),
        )
        .route("/_sandbox/users", get(list_people))
        .route("/_sandbox/calls", get(calls))
        .route("/_sandbox/calls/reset", post(reset_calls))
        .route("/_sandbox/faults", get(get_faults).post(set_faults))
        .route("/_sandbox/delivery", get(get_delivery).post(set_delivery))
        .route(
            "/_sandbox/rate_limit",
            get(get_rate_limit).post(set_rate_limit),
        )
        .route(
            "/_sandbox/subscriptions",
            get(list_subscriptions).post(subscribe),
        )
        .route("/_sandbox/subscriptions/{id}/verify", post(verify))
        .route("/_sandbox/deliveries", get(deliveries))
        .route("/_sandbox/clock", get(get_clock).post(set_clock))
        .with_state(shared)
}

type S = State<Arc<Shared>>;

fn body_json<T: for<'de> Deserialize<'de>>(bytes: &Bytes) -> NotionResult<T> {
    let text = if bytes.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        &bytes[..]
    };
    serde_json::from_slice(text).map_err(|e| NotionError::validation(format!("control body: {e}")))
}

/// The acting person: `user_id`, or the first person of the workspace.
fn person(shared: &Shared, user_id: Option<&str>) -> NotionResult<Actor> {
    let world = lock(&shared.world);
    let id = match user_id {
        Some(raw) => parse_id(raw, "user_id")?,
        None => world
            .users
            .iter()
            .find(|u| !u.is_bot())
            .map(|u| u.id)
            .unwrap_or(Uuid::nil()),
    };
    world.person_actor(id)
}

fn page_response(shared: &Shared, id: Uuid) -> NotionResult<Response> {
    let world = lock(&shared.world);
    Ok(Json(page_json(&world, world.page(id)?, None)).into_response())
}

/// Seeds once; asking again for the other Status type is refused, so a
/// caller never works on a workspace unlike the one it asked for.
async fn seed_team(State(sb): S, body: Bytes) -> NotionResult<Response> {
    let options: TeamOptions = body_json(&body)?;
    let team = sb.seed_team(options);
    if team.status != options.status {
        return Err(NotionError::validation(format!(
            "the team workspace is already seeded with Status as {:?}",
            team.status
        )));
    }
    Ok(Json(team).into_response())
}

#[derive(Deserialize)]
struct SchemaEdit {
    user_id: Option<String>,
    #[serde(default)]
    properties: Value,
    #[serde(default)]
    title: Value,
}

/// A person changes the schema in Notion's UI (same body as the API's
/// update-a-data-source, plus what only the UI can do).
async fn update_data_source(
    State(sb): S,
    Path(ds_id): Path<String>,
    body: Bytes,
) -> NotionResult<Response> {
    let id = parse_id(&ds_id, "data_source_id")?;
    let req: SchemaEdit = body_json(&body)?;
    let actor = person(&sb, req.user_id.as_deref())?;
    let body = json!({"properties": req.properties, "title": req.title});
    ops::update_data_source(&sb, id, &body, actor, Editor::Person)?;
    let world = lock(&sb.world);
    Ok(Json(data_source_json(world.data_source(id)?)).into_response())
}

#[derive(serde::Serialize, Deserialize)]
struct Capabilities {
    user_information: UserInformation,
    /// Unchanged when absent (and then not echoed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    read_content: Option<bool>,
}

async fn get_capabilities(State(sb): S) -> Response {
    let world = lock(&sb.world);
    Json(Capabilities {
        user_information: world.user_info,
        read_content: Some(world.read_content),
    })
    .into_response()
}

async fn set_capabilities(State(sb): S, body: Bytes) -> NotionResult<Response> {
    let req: Capabilities = body_json(&body)?;
    let mut world = lock(&sb.world);
    world.user_info = req.user_information;
    if let Some(read) = req.read_content {
        world.read_content = read;
    }
    Ok(Json(req).into_response())
}

#[derive(Deserialize)]
struct ContentEdit {
    user_id: Option<String>,
    markdown: String,
}

/// A person replaces the page's content (as typing in Notion would).
async fn update_markdown(
    State(sb): S,
    Path(page_id): Path<String>,
    body: Bytes,
) -> NotionResult<Response> {
    let id = parse_id(&page_id, "page_id")?;
    let req: ContentEdit = body_json(&body)?;
    let actor = person(&sb, req.user_id.as_deref())?;
    let command = super::markdown::Command::Replace(req.markdown);
    Ok(Json(super::markdown::update(&sb, id, command, actor)?).into_response())
}

/// The page's content, whatever the integration's capabilities.
async fn get_markdown(State(sb): S, Path(page_id): Path<String>) -> NotionResult<Response> {
    let id = parse_id(&page_id, "page_id")?;
    let world = lock(&sb.world);
    let content = world.page(id)?.content.clone();
    Ok(Json(json!({"markdown": content})).into_response())
}

#[derive(Deserialize)]
struct NewDatabase {
    title: String,
    properties: Vec<PropertySchema>,
}

async fn create_database(State(sb): S, body: Bytes) -> NotionResult<Response> {
    let req: NewDatabase = body_json(&body)?;
    let (database_id, data_source_id) = sb.create_database(&req.title, &req.properties);
    Ok(Json(json!({"database_id": database_id, "data_source_id": data_source_id})).into_response())
}

#[derive(Deserialize)]
struct NewPage {
    data_source_id: String,
    user_id: Option<String>,
    #[serde(default)]
    properties: Value,
}

async fn create_page(State(sb): S, body: Bytes) -> NotionResult<Response> {
    let req: NewPage = body_json(&body)?;
    let ds = parse_id(&req.data_source_id, "data_source_id")?;
    let actor = person(&sb, req.user_id.as_deref())?;
    let props = if req.properties.is_null() {
        json!({})
    } else {
        req.properties
    };
    let id = ops::create_page(
        &sb,
        ParentRef::DataSource(ds),
        &props,
        actor,
        Value::Null,
        Value::Null,
    )?;
    page_response(&sb, id)
}

#[derive(Deserialize)]
struct PageEdit {
    user_id: Option<String>,
    properties: Option<Value>,
    in_trash: Option<bool>,
}

async fn update_page(
    State(sb): S,
    Path(page_id): Path<String>,
    body: Bytes,
) -> NotionResult<Response> {
    let id = parse_id(&page_id, "page_id")?;
    let req: PageEdit = body_json(&body)?;
    let actor = person(&sb, req.user_id.as_deref())?;
    let patch = PagePatch {
        properties: req.properties,
        in_trash: req.in_trash,
        ..PagePatch::default()
    };
    ops::update_page(&sb, id, patch, actor)?;
    page_response(&sb, id)
}

async fn get_page(State(sb): S, Path(page_id): Path<String>) -> NotionResult<Response> {
    page_response(&sb, parse_id(&page_id, "page_id")?)
}

/// Every page of a data source, trashed ones included, in creation order.
async fn list_pages(State(sb): S, Path(ds_id): Path<String>) -> NotionResult<Response> {
    let id = parse_id(&ds_id, "data_source_id")?;
    let world = lock(&sb.world);
    world.data_source(id)?;
    let mut pages: Vec<_> = world
        .pages
        .values()
        .filter(|p| p.data_source_id == id)
        .collect();
    pages.sort_by_key(|p| p.seq);
    let results: Vec<Value> = pages.iter().map(|p| page_json(&world, p, None)).collect();
    Ok(Json(json!({"results": results})).into_response())
}

async fn list_people(State(sb): S) -> Response {
    let world = lock(&sb.world);
    let users: Vec<Value> = world
        .users
        .iter()
        .map(|u| super::properties::user_json(u, super::state::UserInformation::WithEmail))
        .collect();
    Json(json!({"results": users})).into_response()
}

async fn calls(State(sb): S) -> Response {
    Json(json!({
        "total": sb.calls.total(),
        "calls": sb.calls.snapshot(),
        "peak_in_flight": sb.calls.peak_in_flight(),
    }))
    .into_response()
}

async fn reset_calls(State(sb): S) -> Response {
    sb.calls.reset();
    Json(json!({"total": 0})).into_response()
}

async fn get_faults(State(sb): S) -> Response {
    Json(sb.faults.get()).into_response()
}

async fn set_faults(State(sb): S, body: Bytes) -> NotionResult<Response> {
    let patch: Value = body_json(&body)?;
    let merged =
        merge_json(&sb.faults.get(), &patch).map_err(|e| NotionError::validation(e.to_string()))?;
    sb.faults.set(merged.clone());
    Ok(Json(merged).into_response())
}

async fn get_delivery(State(sb): S) -> Response {
    Json(sb.webhooks.deliverer().knobs()).into_response()
}

async fn set_delivery(State(sb): S, body: Bytes) -> NotionResult<Response> {
    let patch: Value = body_json(&body)?;
    let current = sb.webhooks.deliverer().knobs();
    let merged =
        merge_json(&current, &patch).map_err(|e| NotionError::validation(e.to_string()))?;
    sb.webhooks.deliverer().set_knobs(merged.clone());
    Ok(Json(merged).into_response())
}

async fn get_rate_limit(State(sb): S) -> Response {
    Json(sb.rate.settings()).into_response()
}

async fn set_rate_limit(State(sb): S, body: Bytes) -> NotionResult<Response> {
    let patch: Value = body_json(&body)?;
    let merged: RateLimitSettings = merge_json(&sb.rate.settings(), &patch)
        .map_err(|e| NotionError::validation(e.to_string()))?;
    sb.rate.set(merged.clone());
    Ok(Json(merged).into_response())
}

#[derive(Deserialize)]
struct NewSubscription {
    url: String,
    event_types: Option<Vec<String>>,
}

async fn subscribe(State(sb): S, body: Bytes) -> NotionResult<Response> {
    let req: NewSubscription = body_json(&body)?;
    let sub = sb.webhooks.subscribe(&req.url, req.event_types);
    Ok(Json(sub).into_response())
}

async fn list_subscriptions(State(sb): S) -> Response {
    let subs: Vec<Value> = sb
        .webhooks
        .subscriptions()
        .iter()
        .map(|s| json!({"id": dashed(s.id), "url": s.url, "verified": s.verified, "event_types": s.event_types}))
        .collect();
    Json(json!({"results": subs})).into_response()
}

#[derive(Deserialize)]
struct Verify {
    verification_token: String,
}

async fn verify(State(sb): S, Path(id): Path<String>, body: Bytes) -> NotionResult<Response> {
    let req: Verify = body_json(&body)?;
    sb.webhooks
        .verify(&id, &req.verification_token)
        .map_err(NotionError::validation)?;
    Ok(Json(json!({"id": id, "verified": true})).into_response())
}

async fn deliveries(State(sb): S) -> Response {
    Json(json!({"results": sb.webhooks.deliverer().deliveries()})).into_response()
}

fn clock_json(sb: &Shared) -> Value {
    json!({
        "offset_seconds": sb.clock.offset_seconds(),
        "now": crate::common::notion_time(sb.clock.now()),
    })
}

async fn get_clock(State(sb): S) -> Response {
    Json(clock_json(&sb)).into_response()
}

#[derive(Deserialize)]
struct ClockSet {
    offset_seconds: i64,
}

async fn set_clock(State(sb): S, body: Bytes) -> NotionResult<Response> {
    let req: ClockSet = body_json(&body)?;
    sb.clock.set_offset_seconds(req.offset_seconds);
    Ok(Json(clock_json(&sb)).into_response())
}

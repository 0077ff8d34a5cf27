//! The REST API under `/v1/`: the gate (auth, version, rate limit, faults,
//! latency) and the handlers.

use std::sync::Arc;

use axum::{
    Extension, Json, Router,
    body::Bytes,
    extract::{Path, RawQuery, Request, State},
    http::{HeaderMap, header::AUTHORIZATION},
    middleware::{Next, from_fn_with_state},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};

use super::Shared;
use super::errors::{NotionError, NotionResult};
use super::ops::{self, PagePatch, ParentRef};
use super::properties::{full_items, read_value, user_json};
use super::query::{parse_query, run_query};
use super::render::{data_source_json, database_json, list_json, page_json, strip_archived};
use super::schema::PropertyKind;
use super::schema_update::Editor;
use super::state::{UserInformation, World, dashed, parse_id};
use crate::common::{FaultRoll, lock, record_calls};

/// Notion-Version values the sandbox answers (both with 2025-09-03
/// behaviour; 2026-03-11 additionally drops `archived`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiVersion {
    V2025_09_03,
    V2026_03_11,
}

/// Payloads over 500 KB are refused (request limits).
const MAX_PAYLOAD: usize = 500 * 1024;

pub fn api_router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/users/me", get(users_me))
        .route("/v1/users", get(list_users))
        .route("/v1/users/{user_id}", get(get_user))
        .route("/v1/databases", post(create_database))
        .route("/v1/databases/{database_id}", get(get_database))
        .route(
            "/v1/data_sources/{data_source_id}",
            get(get_data_source).patch(update_data_source),
        )
        .route(
            "/v1/data_sources/{data_source_id}/query",
            post(query_data_source),
        )
        .route("/v1/pages", post(create_page))
        .route("/v1/pages/{page_id}", get(get_page).patch(update_page))
        .route(
            "/v1/pages/{page_id}/markdown",
            get(get_page_markdown).patch(update_page_markdown),
        )
        .route(
            "/v1/pages/{page_id}/properties/{property_id}",
            get(get_property_item),
        )
        .route("/v1/file_uploads", post(super::files::create))
        .route("/v1/file_uploads/{id}", get(super::files::retrieve))
        .route(
            "/v1/file_uploads/{id}/send",
            post(super::files::send).layer(axum::extract::DefaultBodyLimit::max(
                super::files::SINGLE_PART_MAX as usize + 64 * 1024,
            )),
        )
        .route(
            "/v1/file_uploads/{id}/complete",
            post(super::file_parts::complete),
        )
        .fallback(unknown_route)
        .method_not_allowed_fallback(unknown_route)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_PAYLOAD * 4))
        .layer(from_fn_with_state(shared.clone(), api_gate))
        .layer(from_fn_with_state(shared.calls.clone(), record_calls))
        .with_state(shared)
}

async fn unknown_route() -> NotionError {
    NotionError::invalid_request_url()
}

// --- gate -----------------------------------------------------------------------

async fn api_gate(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let latency = shared.faults.latency();
    match admit(
        &shared,
        req.method().as_str(),
        req.headers(),
        req.uri().path(),
    ) {
        Ok(version) => {
            let mut req = req;
            req.extensions_mut().insert(version);
            crate::common::handle_after(latency, next.run(req)).await
        }
        Err(e) => {
            crate::common::answer_after(latency).await;
            e.into_response()
        }
    }
}

/// Auth, then version, then the rate limit, then injected faults.
fn admit(
    shared: &Shared,
    method: &str,
    headers: &HeaderMap,
    path: &str,
) -> NotionResult<ApiVersion> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(shared.token.as_str()) {
        return Err(NotionError::unauthorized());
    }
    let version = match headers
        .get("notion-version")
        .map(|v| v.to_str().unwrap_or(""))
    {
        None => return Err(NotionError::missing_version()),
        Some("2025-09-03") => ApiVersion::V2025_09_03,
        Some("2026-03-11") => ApiVersion::V2026_03_11,
        Some(other) => {
            return Err(NotionError::validation(format!(
                "Notion-Version header failed validation: the sandbox implements `2025-09-03` and `2026-03-11`, instead was `\"{other}\"`."
            )));
        }
    };
    shared.rate.check()?;
    match shared.faults.roll(method, path) {
        FaultRoll::Pass => Ok(version),
        FaultRoll::ServerError { pick } => Err(NotionError::injected(pick)),
        FaultRoll::RateLimited => Err(NotionError::rate_limited(1)),
    }
}

// --- helpers ----------------------------------------------------------------------

fn respond(version: ApiVersion, mut body: Value) -> Response {
    if version == ApiVersion::V2026_03_11 {
        strip_archived(&mut body);
    }
    Json(body).into_response()
}

/// Parse a JSON body; an empty body is `{}`.
pub(super) fn parse_body(bytes: &Bytes) -> NotionResult<Value> {
    if bytes.len() > MAX_PAYLOAD {
        return Err(NotionError::validation(format!(
            "Request body too large: {} bytes exceeds the 500KB limit.",
            bytes.len()
        )));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(NotionError::validation(
            "body failed validation: body should be an object.",
        )),
        Err(_) => Err(NotionError::invalid_json()),
    }
}

/// Repeated `filter_properties` values from the query string.
fn filter_properties(query: Option<&str>) -> Option<Vec<String>> {
    let wanted: Vec<String> = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == "filter_properties" || k == "filter_properties[]")
        .map(|(_, v)| v.into_owned())
        .collect();
    (!wanted.is_empty()).then_some(wanted)
}

fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn page_size(query: Option<&str>) -> NotionResult<usize> {
    match query_param(query, "page_size") {
        None => Ok(100),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => Ok(n),
            _ => Err(NotionError::validation(format!(
                "query failed validation: query.page_size should be a number between 1 and 100, instead was `\"{s}\"`."
            ))),
        },
    }
}

// --- users ------------------------------------------------------------------------

async fn users_me(
    State(shared): State<Arc<Shared>>,
    Extension(v): Extension<ApiVersion>,
) -> NotionResult<Response> {
    let world = lock(&shared.world);
    let bot = world
        .user(world.bot_id)
        .ok_or_else(|| NotionError::not_found("user", &dashed(world.bot_id)))?;
    let mut me = user_json(bot, world.user_info);
    // The bot's own user says what its workspace accepts (SDK 3.1.2 added
    // `max_file_upload_size_in_bytes` to the user response).
    if me["bot"].is_object() {
        me["bot"]["workspace_limits"] =
            json!({ "max_file_upload_size_in_bytes": world.files.max_upload_bytes() });
    }
    Ok(respond(v, me))
}

/// "This endpoint requires an integration to have user information
/// capabilities … without … will return an HTTP response with a 403 status
/// code" (get-users, get-user).
fn require_user_information(world: &World) -> NotionResult<()> {
    if world.user_info == UserInformation::None {
        return Err(NotionError::restricted_resource());
    }
    Ok(())
}

async fn get_user(
    State(shared): State<Arc<Shared>>,
    Extension(v): Extension<ApiVersion>,
    Path(user_id): Path<String>,
) -> NotionResult<Response> {
    let id = parse_id(&user_id, "user_id")?;
    let world = lock(&shared.world);
    require_user_information(&world)?;
    let user = world
        .user(id)
        .ok_or_else(|| NotionError::not_found("user", &dashed(id)))?;
    Ok(respond(v, user_json(user, world.user_info)))
}

async fn list_users(
    State(shared): State<Arc<Shared>>,
    Extension(v): Extension<ApiVersion>,
    RawQuery(query): RawQuery,
) -> NotionResult<Response> {
    let size = page_size(query.as_deref())?;
    let world = lock(&shared.world);
    require_user_information(&world)?;
    let start = match query_param(query.as_deref(), "start_cursor") {
        None => 0,
        Some(c) => {
            let id = parse_id(&c, "start_cursor")?;
            world.users.iter().position(|u| u.id == id).ok_or_else(|| {
                NotionError::validation(format!("start_cursor provided is invalid: {c}"))
            })?
        }
    };
    let end = (start + size).min(world.users.len());
    let results = world.users[start..end]
        .iter()
        .map(|u| user_json(u, world.user_info))
        .collect();
    let next = world.users.get(end).map(|u| dashed(u.id));
    Ok(respond(v, list_json(results, next, "user")))
}

// --- databases and data sources ------------------------------------------------------

/// `POST /v1/databases` (`create_database`).
async fn create_database(
    State(shared): State<Arc<Shared>>,
    Extension(v): Extension<ApiVersion>,
    body: Bytes,
) -> NotionResult<Response> {
    let body = parse_body(&body)?;
    let id = super::create_database::create(&shared, &body)?;
    let world = lock(&shared.world);
    Ok(respond(v, database_json(&world, world.database(id)?)))
}

async fn get_database(
    State(shared): State<Arc<Shared>>,
    Extension(v): Extension<ApiVersion>,
    Path(database_id): Path<String>,
) -> NotionResult<Response> {
    let id = parse_id(&database_id, "database_id")?;
    let world = lock(&shared.world);
    let db = world.database(id)?;
    Ok(respond(v, database_json(&world, db)))
}

async fn get_data_source(
    State(shared): State<Arc<Shared>>,
    Extension(v): Extension<ApiVersion>,
    Path(data_source_id): Path<String>,
) -> NotionResult<Response> {
    let id = parse_id(&data_source_id, "data_source_id")?;
    let world = lock(&shared.world);
    Ok(respond(v, data_source_json(world.data_source(id)?)))
}

/// `PATCH /v1/data_sources/{id}`: rename, remove, add or retype properties
/// (see [`super::schema_update`]), authored by the bot.
async fn update_data_source(
    State(shared): State<Arc<Shared>>,
    Extension(v): Extension<ApiVersion>,
    Path(data_source_id): Path<String>,
    body: Bytes,
) -> NotionResult<Response> {
    let id = parse_id(&data_source_id, "data_source_id")?;
    let body = parse_body(&body)?;
    let actor = lock(&shared.world).bot_actor();
    ops::update_data_source(&shared, id, &body, actor, Editor::Api)?;
    let world = lock(&shared.world);
    Ok(respond(v, data_source_json(world.data_source(id)?)))
}

async fn query_data_source(
    State(shared): State<Arc<Shared>>,
    Extension(v): Extension<ApiVersion>,
    Path(data_source_id): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> NotionResult<Response> {
    let id = parse_id(&data_source_id, "data_source_id")?;
    let body = parse_body(&body)?;
    let only = filter_properties(query.as_deref());
    let world = lock(&shared.world);
    let ds = world.data_source(id)?;
    let request = parse_query(&body, ds)?;
    let (pages, next) = run_query(world.pages.values(), &world.pages, ds, &request)?;
    let results = pages
        .iter()
        .map(|p| page_json(&world, p, only.as_deref()))
        .collect();
    Ok(respond(v, list_json(results, next, "page_or_data_source")))
}

// --- pages ----------------------------------------------------------------------------

async fn get_page(
    State(shared): State<Arc<Shared>>,
    Extension(v): Extension<ApiVersion>,
    Path(page_id): Path<String>,
    RawQuery(query): RawQuery,
) -> NotionResult<Response> {
    let id = parse_id(&page_id, "page_id")?;
    let only = filter_properties(query.as_deref());
    let world = lock(&shared.world);
    Ok(respond(
        v,
        page_json(&world, world.page(id)?, only.as_deref()),
    ))
}

fn parse_parent(body: &Value) -> NotionResult<ParentRef> {
    let parent = body.get("parent").ok_or_else(|| {
        NotionError::validation(
            "body failed validation: body.parent should be defined, instead was `undefined`.",
        )
    })?;
    if let Some(id) = parent.get("data_source_id").and_then(Value::as_str) {
        return Ok(ParentRef::DataSource(parse_id(
            id,
            "parent.data_source_id",
        )?));
    }
    if let Some(id) = parent.get("database_id").and_then(Value::as_str) {
        return Ok(ParentRef::Database(parse_id(id, "parent.database_id")?));
    }
    Err(NotionError::validation(
        "body failed validation: body.parent.data_source_id should be defined, instead was `undefined`. (The sandbox only holds pages in data sources.)",
    ))
}

fn read_only_fields(body: &Value) -> NotionResult<()> {
    for key in [
        "created_time",
        "last_edited_time",
        "created_by",
        "last_edited_by",
    ] {
        if body.get(key).is_some() {
            return Err(NotionError::validation(format!(
                "body failed validation: body.{key} is read-only and cannot be set."
            )));
        }
    }
    Ok(())
}

async fn create_page(
    State(shared): State<Arc<Shared>>,
    Extension(v): Extension<ApiVersion>,
    body: Bytes,
) -> NotionResult<Response> {
    let body = parse_body(&body)?;
    read_only_fields(&body)?;
    let parent = parse_parent(&body)?;
    let properties = body.get("properties").ok_or_else(|| {
        NotionError::validation(
            "body failed validation: body.properties should be defined, instead was undefined.",
        )
    })?;
    let actor = lock(&shared.world).bot_actor();
    let icon = body.get("icon").cloned().unwrap_or(Value::Null);
    let cover = body.get("cover").cloned().unwrap_or(Value::Null);
    let markdown = create_markdown(&body)?;
    let id = ops::create_page(&shared, parent, properties, actor, icon, cover)?;
    let mut world = lock(&shared.world);
    if let (Some(md), Some(page)) = (markdown, world.pages.get_mut(&id)) {
        // The content is part of the creation (page.created covers it).
        page.content = super::markdown::normalise(&md);
    }
    Ok(respond(v, page_json(&world, world.page(id)?, None)))
}

/// `POST /v1/pages`' `markdown` parameter (exclusive with `children`).
fn create_markdown(body: &Value) -> NotionResult<Option<String>> {
    match body.get("markdown") {
        None | Some(Value::Null) => Ok(None),
        Some(_) if body.get("children").is_some() => Err(NotionError::validation(
            "body failed validation: body.markdown and body.children cannot both be provided.",
        )),
        Some(Value::String(md)) => Ok(Some(md.clone())),
        Some(other) => Err(NotionError::validation(format!(
            "body failed validation: body.markdown should be a string, instead was `{other}`."
        ))),
    }
}

/// `GET /v1/pages/{page_id}/markdown`.
async fn get_page_markdown(
    State(shared): State<Arc<Shared>>,
    Path(page_id): Path<String>,
) -> NotionResult<Response> {
    let id = parse_id(&page_id, "page_id")?;
    let world = lock(&shared.world);
    Ok(Json(super::markdown::read(&world, id)?).into_response())
}

/// `PATCH /v1/pages/{page_id}/markdown`, as the integration.
async fn update_page_markdown(
    State(shared): State<Arc<Shared>>,
    Path(page_id): Path<String>,
    body: Bytes,
) -> NotionResult<Response> {
    let id = parse_id(&page_id, "page_id")?;
    let body = parse_body(&body)?;
    let command = super::markdown::parse_command(&body)?;
    let actor = lock(&shared.world).bot_actor();
    Ok(Json(super::markdown::update(&shared, id, command, actor)?).into_response())
}

fn parse_patch(body: &Value, version: ApiVersion) -> NotionResult<PagePatch> {
    let flag = |key: &str| -> NotionResult<Option<bool>> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(NotionError::validation(format!(
                "body failed validation: body.{key} should be a boolean, instead was `{other}`."
            ))),
        }
    };
    if version == ApiVersion::V2026_03_11 && body.get("archived").is_some() {
        return Err(NotionError::validation(
            "body failed validation: body.archived is not supported in this API version; use in_trash.",
        ));
    }
    let in_trash = flag("in_trash")?.or(flag("archived")?);
    Ok(PagePatch {
        properties: body.get("properties").filter(|p| !p.is_null()).cloned(),
        in_trash,
        icon: body.get("icon").cloned(),
        cover: body.get("cover").cloned(),
        is_locked: flag("is_locked")?,
    })
}

async fn update_page(
    State(shared): State<Arc<Shared>>,
    Extension(v): Extension<ApiVersion>,
    Path(page_id): Path<String>,
    body: Bytes,
) -> NotionResult<Response> {
    let id = parse_id(&page_id, "page_id")?;
    let body = parse_body(&body)?;
    read_only_fields(&body)?;
    if body.get("parent").is_some() {
        return Err(NotionError::validation(
            "body failed validation: body.parent cannot be changed by updating a page.",
        ));
    }
    let patch = parse_patch(&body, v)?;
    let actor = lock(&shared.world).bot_actor();
    ops::update_page(&shared, id, patch, actor)?;
    let world = lock(&shared.world);
    Ok(respond(v, page_json(&world, world.page(id)?, None)))
}

/// `GET /v1/pages/{page_id}/properties/{property_id}`: paginated
/// `property_item` lists for title / rich_text / people / relation, a single item
/// otherwise.
async fn get_property_item(
    State(shared): State<Arc<Shared>>,
    Extension(v): Extension<ApiVersion>,
    Path((page_id, property_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> NotionResult<Response> {
    let id = parse_id(&page_id, "page_id")?;
    let size = page_size(query.as_deref())?;
    let world = lock(&shared.world);
    let page = world.page(id)?;
    let ds = world.data_source(page.data_source_id)?;
    let def = ds.property(&property_id).ok_or_else(|| {
        NotionError::validation(format!("{property_id} is not a property that exists."))
    })?;
    let kind = def.kind.as_str();
    if !matches!(
        def.kind,
        PropertyKind::Title
            | PropertyKind::RichText
            | PropertyKind::People
            | PropertyKind::Relation
    ) {
        let item = json!({"object": "property_item", "id": def.id, "type": kind, kind: read_value(&world, def, page)});
        return Ok(respond(v, item));
    }
    let items = match def.kind {
        PropertyKind::Relation => super::relation::full_items(page.values.get(&def.id)),
        _ => full_items(&world, def, page),
    };
    let start = match query_param(query.as_deref(), "start_cursor") {
        None => 0,
        Some(c) => c
            .strip_prefix("pi_")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| {
                NotionError::validation(format!("start_cursor provided is invalid: {c}"))
            })?,
    };
    let end = (start + size).min(items.len());
    let results: Vec<Value> = items[start..end]
        .iter()
        .map(|item| json!({"object": "property_item", "id": def.id, "type": kind, kind: item}))
        .collect();
    let next = (end < items.len()).then(|| format!("pi_{end}"));
    // "If present, the url the user can request to get the next page of results."
    let next_url = next.as_ref().map(|c| {
        format!(
            "{}/v1/pages/{}/properties/{}?start_cursor={c}&page_size={size}",
            shared.base_url, page_id, def.id
        )
    });
    let mut body = list_json(results, next, "property_item");
    body["property_item"] = json!({"id": def.id, "next_url": next_url, "type": kind, kind: {}});
    Ok(respond(v, body))
}
